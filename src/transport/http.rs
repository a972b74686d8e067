//! HTTP/1.1 message heads (RFC 9112 §2–§5), for the protocols that carry XMPP over
//! HTTP: the WebSocket upgrade (RFC 6455 §4, RFC 7395 §3.1) and BOSH (XEP-0124,
//! XEP-0206).
//!
//! Input: the bytes of one head (start line and header fields, up to the empty line);
//! output: its parts. Header names are matched without regard to case (RFC 9110 §5.1).

use crate::status::Status;

/// Longest head kept while waiting for its end (browsers send about 1 KiB, more with
/// cookies).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Where the head ends: the index after its empty line, if it is complete.
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = memchr::memmem::find(bytes, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr::memmem::find(bytes, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether `bytes` start like an HTTP/1.1 request line (a method, then a space).
pub fn is_request(bytes: &[u8]) -> bool {
    const METHODS: [&[u8]; 7] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"OPTIONS ",
        b"DELETE ",
        b"PATCH ",
    ];
    METHODS.iter().any(|m| bytes.starts_with(m))
}

/// A head arriving in pieces, kept up to its empty line (at most [`MAX_HEAD_BYTES`]).
#[derive(Debug, Default)]
pub struct HeadReader {
    bytes: Vec<u8>,
    /// Offset of the head's first byte in its direction.
    at: u64,
}

/// A head put together: its bytes and offset, and how much of the last piece it took.
#[derive(Debug, PartialEq, Eq)]
pub struct Done {
    pub head: Vec<u8>,
    pub at: u64,
    pub used: usize,
}

/// No empty line within [`MAX_HEAD_BYTES`]: the bytes dropped, from offset `at`.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLong {
    pub dropped: usize,
    pub at: u64,
}

impl HeadReader {
    /// Takes the start of `piece`, which begins at offset `pos`: [`Status::Partial`]
    /// when it took the whole piece and the head goes on.
    pub fn push(&mut self, pos: u64, piece: &[u8]) -> Result<Status<Done>, TooLong> {
        if self.bytes.is_empty() {
            self.at = pos;
        }
        let before = self.bytes.len();
        let take = piece.len().min(MAX_HEAD_BYTES.saturating_sub(before));
        self.bytes
            .extend_from_slice(piece.get(..take).unwrap_or_default());
        match head_end(&self.bytes) {
            Some(end) => {
                let mut head = std::mem::take(&mut self.bytes);
                head.truncate(end);
                // The end lies in the new bytes: earlier pieces had none.
                let used = end.saturating_sub(before).clamp(1, take.max(1));
                Ok(Status::Complete(Done {
                    head,
                    at: self.at,
                    used,
                }))
            }
            None if self.bytes.len() >= MAX_HEAD_BYTES => {
                let dropped = self.bytes.len();
                self.bytes = Vec::new();
                Err(TooLong {
                    dropped,
                    at: self.at,
                })
            }
            None => Ok(Status::Partial),
        }
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Drops what is held; returns how many bytes.
    pub fn clear(&mut self) -> usize {
        let n = self.bytes.len();
        self.bytes = Vec::new();
        n
    }
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Length(u64),
    Chunked,
    UntilClose,
    /// A `Content-Length` that is not a number.
    Invalid,
}

/// A parsed head: its start line and header fields.
#[derive(Debug)]
pub struct Head<'a> {
    pub start: &'a str,
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Head<'a> {
    /// `None` when the head is not text.
    pub fn parse(bytes: &'a [u8]) -> Option<Head<'a>> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        let start = lines.next()?.trim();
        let fields = lines
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                Some((name.trim(), value.trim()))
            })
            .collect();
        Some(Head { start, fields })
    }

    /// The first field of that name.
    pub fn field(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// Whether the field of that name lists `token` (comma-separated, any case).
    pub fn lists(&self, name: &str, token: &str) -> bool {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The method and target of a request line, `GET /path HTTP/1.1`.
    pub fn request(&self) -> Option<(&'a str, &'a str)> {
        let mut parts = self.start.split_ascii_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(method), Some(target), Some(version)) if version.starts_with("HTTP/") => {
                Some((method, target))
            }
            _ => None,
        }
    }

    /// The request target of `GET target HTTP/1.1`.
    pub fn get_target(&self) -> Option<&'a str> {
        self.request()
            .filter(|(method, _)| *method == "GET")
            .map(|(_, target)| target)
    }

    /// How the body's end is found (RFC 9112 §6.3): chunked, a length, or none.
    pub fn body(&self) -> Body {
        if self.lists("transfer-encoding", "chunked") {
            return Body::Chunked;
        }
        match self
            .field("content-length")
            .map(|v| v.trim().parse::<u64>())
        {
            Some(Ok(n)) => Body::Length(n),
            Some(Err(_)) => Body::Invalid,
            // A request without either has no body; a response reads to the close.
            None if self.request().is_some() => Body::Length(0),
            None => Body::UntilClose,
        }
    }

    /// The status code of `HTTP/1.1 101 Switching Protocols`.
    pub fn status(&self) -> Option<u16> {
        let mut parts = self.start.split_ascii_whitespace();
        match (parts.next(), parts.next()) {
            (Some(version), Some(code)) if version.starts_with("HTTP/") => code.parse().ok(),
            _ => None,
        }
    }

    /// An upgrade to WebSocket for XMPP (RFC 7395 §3.1: subprotocol `xmpp`).
    pub fn asks_for_xmpp(&self) -> bool {
        self.get_target().is_some()
            && self.lists("upgrade", "websocket")
            && self.lists("sec-websocket-protocol", "xmpp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /xmpp-websocket HTTP/1.1\r\nHost: example.org\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: xmpp\r\nSec-WebSocket-Version: 13\r\n\r\n<open/>";

    #[test]
    fn an_xmpp_upgrade_request_is_recognised() {
        let end = head_end(REQUEST).unwrap();
        assert_eq!(&REQUEST[end..], b"<open/>");
        let head = Head::parse(&REQUEST[..end]).unwrap();
        assert!(head.asks_for_xmpp());
        assert_eq!(head.get_target(), Some("/xmpp-websocket"));
        assert_eq!(head.field("HOST"), Some("example.org"));
        let chat = b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n";
        assert!(!Head::parse(chat).unwrap().asks_for_xmpp());
        let plain = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert!(!Head::parse(plain).unwrap().asks_for_xmpp());
    }

    #[test]
    fn bodies_are_delimited_by_length_chunks_or_the_close() {
        let post = b"POST /http-bind HTTP/1.1\r\nContent-Length: 42\r\n\r\n";
        assert_eq!(Head::parse(post).unwrap().body(), Body::Length(42));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(Head::parse(chunked).unwrap().body(), Body::Chunked);
        assert_eq!(
            Head::parse(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().body(),
            Body::UntilClose
        );
        assert_eq!(
            Head::parse(b"GET / HTTP/1.1\r\n\r\n").unwrap().body(),
            Body::Length(0)
        );
        let bad = b"POST / HTTP/1.1\r\nContent-Length: many\r\n\r\n";
        assert_eq!(Head::parse(bad).unwrap().body(), Body::Invalid);
    }

    #[test]
    fn a_head_in_pieces_is_put_together_and_a_long_one_dropped() {
        let mut reader = HeadReader::default();
        assert_eq!(
            reader.push(100, b"GET / HTTP/1.1\r\nHost: a\r"),
            Ok(Status::Partial)
        );
        assert_eq!(
            reader.push(124, b"\n\r\nbody"),
            Ok(Status::Complete(Done {
                head: b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
                at: 100,
                used: 3
            }))
        );
        assert!(reader.is_empty());
        let long = vec![b'x'; MAX_HEAD_BYTES + 10];
        assert_eq!(
            reader.push(0, &long),
            Err(TooLong {
                dropped: MAX_HEAD_BYTES,
                at: 0
            })
        );
    }

    #[test]
    fn status_lines_and_incomplete_heads() {
        let answer = b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n";
        assert_eq!(Head::parse(answer).unwrap().status(), Some(101));
        assert_eq!(
            head_end(b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n"),
            None
        );
        assert_eq!(Head::parse(b"\xff\xfe").map(|h| h.start.len()), None);
    }
}
