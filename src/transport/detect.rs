//! Content detection for flows on ports we do not know as XMPP.
//!
//! Input: the first bytes of one direction; output: a [`Verdict`], or
//! [`Status::Partial`] while they cannot tell yet. A direction is XMPP
//! when it starts (after optional whitespace) with `<?xml` or a start tag and, within
//! the first bytes, names the streams namespace or a `jabber:` namespace; it is XMPP
//! over WebSocket when it is an HTTP GET upgrading to WebSocket with the `xmpp`
//! subprotocol (RFC 7395 §3.1), its head complete within the first bytes; it is XMPP
//! over direct TLS when it is a TLS ClientHello that offers the ALPN protocol
//! `xmpp-client` or `xmpp-server` (XEP-0368 §4), its record complete within them.

use crate::status::Status;
use crate::transport::http;
use crate::transport::tls::wire;

/// Whether a direction's first bytes are XMPP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Xmpp,
    /// XMPP over WebSocket: the client's upgrade request.
    Websocket,
    /// XMPP over BOSH: an HTTP POST whose body is a `<body/>` in the httpbind
    /// namespace (XEP-0124 §4).
    Bosh,
    /// XMPP over direct TLS: the client's ClientHello names XMPP in ALPN.
    DirectTls,
    NotXmpp,
}

/// The first bytes of a connection, per direction, held while [`sniff`] cannot yet
/// tell what they carry (at most `max_detect_bytes` each), then handed back to be
/// replayed from the start: the one sniffer of a flow on an unknown port
/// (`pipeline`) and of the first decrypted bytes (`session`). Side 0 and side 1 are
/// the caller's two directions.
#[derive(Debug, Default)]
pub struct Held([Vec<u8>; 2]);

impl Held {
    fn side(&mut self, side: usize) -> &mut Vec<u8> {
        let [a, b] = &mut self.0;
        if side == 0 {
            a
        } else {
            b
        }
    }

    /// Holds as much of `bytes` as fits for `side`; returns the verdict on all that is
    /// held of it, and how many of `bytes` were taken (the rest follows the held
    /// bytes when they are replayed).
    pub fn push(
        &mut self,
        side: usize,
        bytes: &[u8],
        max_detect_bytes: usize,
    ) -> (Status<Verdict>, usize) {
        let held = self.side(side);
        let taken = max_detect_bytes.saturating_sub(held.len()).min(bytes.len());
        held.extend_from_slice(bytes.get(..taken).unwrap_or_default());
        (sniff(held, max_detect_bytes), taken)
    }

    /// The bytes held of `side`.
    pub fn of(&self, side: usize) -> &[u8] {
        let [a, b] = &self.0;
        if side == 0 {
            a
        } else {
            b
        }
    }

    /// Hands back what is held of both sides, holding nothing from then on.
    pub fn take(&mut self) -> [Vec<u8>; 2] {
        std::mem::take(&mut self.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Vec::is_empty)
    }

    /// Bytes of memory held.
    pub fn capacity(&self) -> usize {
        self.0.iter().map(Vec::capacity).sum()
    }
}

pub fn sniff(bytes: &[u8], max_detect_bytes: usize) -> Status<Verdict> {
    if bytes.first() == Some(&wire::HANDSHAKE) {
        return sniff_client_hello(bytes, max_detect_bytes);
    }
    if bytes.len() < 5 && (b"GET ".starts_with(bytes) || b"POST ".starts_with(bytes)) {
        return Status::Partial;
    }
    if bytes.starts_with(b"POST ") {
        return match http::head_end(bytes) {
            // The namespace is in the body's first tag (XEP-0124 §4).
            Some(end) if bytes.len() > end => {
                let body = bytes.get(end..).unwrap_or_default();
                if contains(body, crate::transport::bosh::HTTPBIND.as_bytes()) {
                    Status::Complete(Verdict::Bosh)
                } else if body.contains(&b'>') || bytes.len() >= max_detect_bytes {
                    Status::Complete(Verdict::NotXmpp)
                } else {
                    Status::Partial
                }
            }
            _ if bytes.len() >= max_detect_bytes => Status::Complete(Verdict::NotXmpp),
            _ => Status::Partial,
        };
    }
    if bytes.starts_with(b"GET ") {
        return match http::head_end(bytes) {
            Some(end) => match http::Head::parse(bytes.get(..end).unwrap_or_default()) {
                Some(head) if head.asks_for_xmpp() => Status::Complete(Verdict::Websocket),
                _ => Status::Complete(Verdict::NotXmpp),
            },
            None if bytes.len() >= max_detect_bytes => Status::Complete(Verdict::NotXmpp),
            None => Status::Partial,
        };
    }
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return if bytes.len() >= max_detect_bytes {
            Status::Complete(Verdict::NotXmpp)
        } else {
            Status::Partial
        };
    };
    let text = bytes.get(start..).unwrap_or_default();
    match text.get(1) {
        _ if text.first() != Some(&b'<') => return Status::Complete(Verdict::NotXmpp),
        Some(&b) if !(b == b'?' || crate::xml::framer::is_name_start(b)) => {
            return Status::Complete(Verdict::NotXmpp)
        }
        _ => {}
    }
    let window = bytes
        .get(..max_detect_bytes.min(bytes.len()))
        .unwrap_or_default();
    if contains(window, b"http://etherx.jabber.org/streams") || contains(window, b"jabber:") {
        return Status::Complete(Verdict::Xmpp);
    }
    // The declaration and the root start tag have been seen without an XMPP namespace.
    let closes = window.iter().filter(|&&b| b == b'>').count();
    if closes >= 2 || window.len() >= max_detect_bytes {
        Status::Complete(Verdict::NotXmpp)
    } else {
        Status::Partial
    }
}

/// XEP-0368 §4: a client of direct TLS offers the ALPN protocol `xmpp-client` (or
/// `xmpp-server` between servers, RFC 7301 §3.1), which is how one port can serve
/// XMPP beside HTTPS (443). The ClientHello must be whole in the first record.
fn sniff_client_hello(bytes: &[u8], max_detect_bytes: usize) -> Status<Verdict> {
    // Record header (RFC 8446 §5.1): type, legacy version, length.
    let Some(&[_, major, _, hi, lo]) = bytes.first_chunk::<5>() else {
        return Status::Partial;
    };
    if major != 3 {
        return Status::Complete(Verdict::NotXmpp);
    }
    let end = 5 + usize::from(u16::from_be_bytes([hi, lo]));
    let Some(record) = bytes.get(5..end) else {
        return if end > max_detect_bytes {
            Status::Complete(Verdict::NotXmpp)
        } else {
            Status::Partial
        };
    };
    let hello = match wire::handshake_header(record) {
        Status::Complete((wire::CLIENT_HELLO, len)) => record
            .get(wire::HANDSHAKE_HEADER..wire::HANDSHAKE_HEADER + len)
            .and_then(wire::client_hello),
        _ => None,
    };
    match hello {
        Some(h)
            if h.alpn
                .iter()
                .any(|p| p == "xmpp-client" || p == "xmpp-server") =>
        {
            Status::Complete(Verdict::DirectTls)
        }
        _ => Status::Complete(Verdict::NotXmpp),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes past the limit are not held but counted as taken or not, for the
    /// replay; each side keeps its own; taking empties both.
    #[test]
    fn held_bytes_are_bounded_per_side_and_handed_back() {
        let mut held = Held::default();
        assert_eq!(held.push(0, b"GET", 8), (Status::Partial, 3));
        assert_eq!(held.push(1, b"<?xml", 8).1, 5);
        assert_eq!(
            held.push(0, b" /xmpp HTTP/1.1", 8),
            (Status::Complete(Verdict::NotXmpp), 5)
        );
        assert_eq!((held.of(0), held.of(1)), (&b"GET /xmp"[..], &b"<?xml"[..]));
        let [a, b] = held.take();
        assert_eq!((a.len(), b.len()), (8, 5));
        assert!(held.is_empty());
    }

    #[test]
    fn verdicts() {
        let header = b"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='c.example'>";
        assert_eq!(sniff(header, 1024), Status::Complete(Verdict::Xmpp));
        assert_eq!(sniff(b"<?xml version='1.0'?>", 1024), Status::Partial);
        assert_eq!(sniff(b"GET / HTTP/1.1\r\n", 1024), Status::Partial);
        assert_eq!(
            sniff(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1024),
            Status::Complete(Verdict::NotXmpp)
        );
        let upgrade =
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n";
        assert_eq!(sniff(upgrade, 1024), Status::Complete(Verdict::Websocket));
        assert_eq!(sniff(&upgrade[..40], 1024), Status::Partial);
        assert_eq!(
            sniff(&upgrade[..40], 40),
            Status::Complete(Verdict::NotXmpp)
        );
        assert_eq!(sniff(b"G", 1024), Status::Partial);
        assert_eq!(sniff(b"GE", 1024), Status::Partial);
        let post = b"POST /http-bind HTTP/1.1\r\nContent-Length: 99\r\n\r\n<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='a'/>";
        assert_eq!(sniff(post, 1024), Status::Complete(Verdict::Bosh));
        assert_eq!(sniff(&post[..60], 1024), Status::Partial);
        assert_eq!(
            sniff(b"POST /form HTTP/1.1\r\n\r\nname=value&x=<y>", 1024),
            Status::Complete(Verdict::NotXmpp)
        );
        assert_eq!(sniff(b"\x16\x03\x01", 1024), Status::Partial);
        assert_eq!(
            sniff(b"\x16\x01\x01\x00\x01\x00", 1024),
            Status::Complete(Verdict::NotXmpp)
        );
        assert_eq!(
            sniff(b"<html><body>", 1024),
            Status::Complete(Verdict::NotXmpp)
        );
        assert_eq!(sniff(b"  ", 1024), Status::Partial);
    }

    /// A TLS record holding a ClientHello that offers `protocols` in ALPN.
    fn client_hello(protocols: &[&str]) -> Vec<u8> {
        let mut names = Vec::new();
        for p in protocols {
            names.push(p.len() as u8);
            names.extend_from_slice(p.as_bytes());
        }
        let mut alpn = vec![0, 16];
        alpn.extend_from_slice(&((names.len() + 2) as u16).to_be_bytes());
        alpn.extend_from_slice(&(names.len() as u16).to_be_bytes());
        alpn.extend_from_slice(&names);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]); // random
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
        body.extend_from_slice(&[1, 0]); // null compression
        body.extend_from_slice(&(alpn.len() as u16).to_be_bytes());
        body.extend_from_slice(&alpn);
        let mut handshake = vec![1, 0];
        handshake.extend_from_slice(&(body.len() as u16).to_be_bytes());
        handshake.extend_from_slice(&body);
        let mut record = vec![22, 3, 1];
        record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
        record.extend_from_slice(&handshake);
        record
    }

    /// XEP-0368 §4: ALPN `xmpp-client` or `xmpp-server` makes direct TLS XMPP on any
    /// port; other protocols, or none, do not.
    #[test]
    fn client_hello_with_xmpp_alpn_is_direct_tls() {
        for protocols in [&["xmpp-client"][..], &["h2", "xmpp-server"]] {
            let hello = client_hello(protocols);
            assert_eq!(
                sniff(&hello, 1024),
                Status::Complete(Verdict::DirectTls),
                "{protocols:?}"
            );
            // The record arrives in pieces: wait for it, unless it cannot fit.
            assert_eq!(sniff(&hello[..hello.len() - 1], 1024), Status::Partial);
            assert_eq!(sniff(&hello[..20], 20), Status::Complete(Verdict::NotXmpp));
        }
        assert_eq!(
            sniff(&client_hello(&["h2", "http/1.1"]), 1024),
            Status::Complete(Verdict::NotXmpp)
        );
        assert_eq!(
            sniff(&client_hello(&[]), 1024),
            Status::Complete(Verdict::NotXmpp)
        );
        let mut not_hello = client_hello(&["xmpp-client"]);
        not_hello[5] = 2; // a ServerHello's type
        assert_eq!(sniff(&not_hello, 1024), Status::Complete(Verdict::NotXmpp));
    }
}
