//! XMPP over BOSH (XEP-0124, XEP-0206): stanzas inside the `<body/>` wrapper of HTTP
//! POST requests and of their responses.
//!
//! Input: one direction's TCP bytes in order, HTTP/1.1 messages one after another
//! (keep-alive); output, to an [`Out`]: what a wrapper means for the XMPP stream
//! (a session request or creation as a stream header, `xmpp:restart` as a restart,
//! `type='terminate'` as a stream close or error) and the wrapper's content, whose
//! elements are read as a stream without header. Held per direction: an unfinished
//! HTTP head (at most [`http::MAX_HEAD_BYTES`]), an unfinished body (at most four times
//! the stanza limit; beyond, it is skipped), a chunk-size line.

use crate::limits::Limits;
use crate::model::At;
use crate::model::{Anomaly, Direction, DirectionBytes, EventKind, Position, StreamKind};
use crate::status::Status;
use crate::transport::http::{self, Body, Head};
use crate::transport::layer::{self, position, Layer, Out, Through};
use crate::xml::{self, ns, NsScope};

/// XEP-0124's namespace of `<body/>`.
pub const HTTPBIND: &str = "http://jabber.org/protocol/httpbind";
/// XEP-0206's attributes (`xmpp:version`, `xmpp:restart`).
const XBOSH: &str = "urn:xmpp:xbosh";
/// Longest chunk-size line (RFC 9112 §7.1) kept while waiting for its end.
const MAX_CHUNK_LINE: usize = 1024;

/// Requests remembered while their responses are due (HTTP/1.1 pipelining).
const MAX_PENDING: usize = 64;

impl Layer for Connection {
    fn feed(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut dyn Out,
    ) {
        self.read(dir, offset, bytes, at, limits, out);
    }

    fn gap(&mut self, dir: Direction, len: u64, out: &mut dyn Out) {
        self.lose(dir, len, out);
    }

    fn let_go(&mut self, dir: Direction, at: At, out: &mut dyn Out) {
        layer::http_let_go(self.drop_held(dir), dir, at, out);
    }

    fn held_bytes(&self) -> usize {
        self.held()
    }

    fn resident_bytes(&self) -> usize {
        std::mem::size_of::<Connection>()
    }

    fn count(&self, dir: Direction, through: Through, b: &mut DirectionBytes) {
        let (skipped, unfinished) = (self.skipped(dir), self.unfinished(dir));
        layer::count_carried(through, skipped, unfinished, Default::default(), b);
    }

    fn finish(&self, dir: Direction) -> Option<String> {
        layer::http_unfinished(self.unfinished(dir))
    }
}

#[derive(Debug, Default)]
pub struct Connection {
    sides: [Side; 2],
    /// For each request not yet answered, whether it was a BOSH POST: the response to
    /// a GET for a file is not a `<body/>`.
    requests: std::collections::VecDeque<bool>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a message head.
    #[default]
    Head,
    /// Body bytes still to come (`Content-Length`).
    Body {
        left: u64,
    },
    /// A chunk-size line (RFC 9112 §7.1).
    ChunkSize,
    ChunkData {
        left: u64,
    },
    /// The CRLF after a chunk's data.
    ChunkEnd {
        left: u8,
    },
    /// Trailer lines up to the empty one that ends the message.
    Trailers,
    /// Not read any further (counted as skipped).
    Done,
}

#[derive(Debug, Default)]
struct Side {
    state: State,
    /// The head while it arrives.
    head: http::HeadReader,
    /// An unfinished chunk-size or trailer line.
    line: Vec<u8>,
    /// The message body so far, and the offset of its first byte.
    body: Vec<u8>,
    body_at: u64,
    /// This message's body is not kept: too large, part of it lost, or not BOSH.
    skip_body: bool,
    /// The body is XML for BOSH (a POST, or a 200 response).
    bosh_message: bool,
    /// A session was announced (request sent, or creation answered) on this side.
    announced: bool,
    skipped: u64,
}

fn malformed(detail: String) -> EventKind {
    layer::anomaly(Anomaly::BoshMalformed, detail)
}

impl Connection {
    fn side(&mut self, dir: Direction) -> &mut Side {
        dir.of_mut(&mut self.sides)
    }

    /// Bytes of this direction not read as XMPP: bodies skipped, and everything after
    /// the HTTP could not be followed.
    fn skipped(&self, dir: Direction) -> u64 {
        dir.of(&self.sides).skipped
    }

    /// Bytes of this direction held unfinished: an HTTP head, a chunk line or a
    /// body still arriving.
    fn unfinished(&self, dir: Direction) -> u64 {
        let s = dir.of(&self.sides);
        (s.head.len() + s.line.len() + s.body.len()) as u64
    }

    fn held(&self) -> usize {
        self.sides
            .iter()
            .map(|s| s.head.capacity() + s.line.capacity() + s.body.capacity())
            .sum()
    }

    /// The buffer budget is spent: an unfinished body or head is dropped (a head ends
    /// the reading of this direction); returns the bytes dropped.
    fn drop_held(&mut self, dir: Direction) -> usize {
        let side = self.side(dir);
        if side.state == State::Head && !side.head.is_empty() {
            side.state = State::Done;
        }
        let n = side.body.len() + side.line.len() + side.head.clear();
        side.skipped += n as u64;
        side.body = Vec::new();
        side.skip_body = true;
        side.line = Vec::new();
        n
    }

    /// Bytes of this direction were lost: the message they fell in is not read; a
    /// loss outside a body ends the reading of this direction (HTTP has no markers
    /// to find the next message by).
    fn lose(&mut self, dir: Direction, len: u64, rx: &mut dyn Out) {
        let side = self.side(dir);
        side.skipped += (side.body.len() + side.head.clear()) as u64;
        side.body.clear();
        side.skip_body = true;
        match side.state {
            State::Body { left } if left > len => side.state = State::Body { left: left - len },
            State::ChunkData { left } if left > len => {
                side.state = State::ChunkData { left: left - len }
            }
            _ => side.state = State::Done,
        }
        rx.lost(dir);
    }

    fn read(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        rx: &mut dyn Out,
    ) {
        let mut pos = offset;
        let mut rest = bytes;
        while !rest.is_empty() {
            // Every step takes at least one byte.
            let used = self
                .step(dir, pos, rest, at, limits, rx)
                .clamp(1, rest.len());
            pos += used as u64;
            rest = rest.get(used..).unwrap_or_default();
        }
    }

    /// One step of the message reader; returns the bytes of `rest` used (at least one
    /// is taken by the caller, so every step moves on).
    fn step(
        &mut self,
        dir: Direction,
        pos: u64,
        rest: &[u8],
        at: At,
        limits: &Limits,
        rx: &mut dyn Out,
    ) -> usize {
        let side = self.side(dir);
        match side.state {
            State::Done => {
                side.skipped += rest.len() as u64;
                rest.len()
            }
            State::Head => {
                if side.head.is_empty() {
                    // RFC 9112 §2.2: empty lines before a request line are ignored.
                    let blank = rest
                        .iter()
                        .take_while(|b| matches!(b, b'\r' | b'\n'))
                        .count();
                    if blank > 0 {
                        return blank;
                    }
                }
                match side.head.push(pos, rest) {
                    Ok(Status::Partial) => rest.len(),
                    Err(http::TooLong { dropped, at: from }) => {
                        side.skipped += dropped as u64;
                        side.state = State::Done;
                        let detail =
                            format!("HTTP head longer than {} bytes", http::MAX_HEAD_BYTES);
                        rx.event(dir, position(from, dropped as u64, at), malformed(detail));
                        rest.len()
                    }
                    Ok(Status::Complete(http::Done {
                        head,
                        at: head_at,
                        used,
                    })) => {
                        let body_at = pos + used as u64;
                        self.head(dir, &head, head_at, body_at, at, rx);
                        if self.side(dir).state == (State::Body { left: 0 }) {
                            self.end_of_message(dir, at, limits, rx);
                        }
                        used
                    }
                }
            }
            State::Body { left } => {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                self.body_bytes(dir, pos, rest.get(..n).unwrap_or_default(), limits);
                let left = left - n as u64;
                self.side(dir).state = State::Body { left };
                if left == 0 {
                    self.end_of_message(dir, at, limits, rx);
                }
                n
            }
            State::ChunkSize | State::Trailers => {
                let newline = memchr::memchr(b'\n', rest);
                let take = newline.map_or(rest.len(), |i| i + 1);
                side.line
                    .extend_from_slice(rest.get(..take).unwrap_or_default());
                if newline.is_none() {
                    if side.line.len() > MAX_CHUNK_LINE {
                        side.state = State::Done;
                        side.skipped += side.line.len() as u64;
                        side.line = Vec::new();
                        let detail = "chunk-size or trailer line too long".to_owned();
                        rx.event(dir, position(pos, 0, at), malformed(detail));
                    }
                    return take;
                }
                let line = std::mem::take(&mut side.line);
                let text = String::from_utf8_lossy(&line);
                let text = text.trim();
                if side.state == State::Trailers {
                    if text.is_empty() {
                        self.end_of_message(dir, at, limits, rx);
                    }
                    return take;
                }
                // RFC 9112 §7.1: hex size, then optional extensions after ';'.
                let size = text.split(';').next().unwrap_or_default().trim();
                match u64::from_str_radix(size, 16) {
                    Ok(0) => side.state = State::Trailers,
                    Ok(n) => side.state = State::ChunkData { left: n },
                    Err(_) => {
                        side.state = State::Done;
                        let detail = format!("bad chunk size {size:?}");
                        rx.event(dir, position(pos, 0, at), malformed(detail));
                    }
                }
                take
            }
            State::ChunkData { left } => {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                self.body_bytes(dir, pos, rest.get(..n).unwrap_or_default(), limits);
                let left = left - n as u64;
                self.side(dir).state = if left == 0 {
                    State::ChunkEnd { left: 2 }
                } else {
                    State::ChunkData { left }
                };
                n
            }
            State::ChunkEnd { left } => match rest.first() {
                // The CRLF after the data; a lone LF is tolerated, and a missing one
                // (the next size line already) too.
                Some(b'\r') if left == 2 => {
                    side.state = State::ChunkEnd { left: 1 };
                    1
                }
                Some(b'\n') => {
                    side.state = State::ChunkSize;
                    1
                }
                first => {
                    side.state = State::ChunkSize;
                    side.line.extend(first);
                    1
                }
            },
        }
    }

    /// A message head: a POST (or any request) from the client, a status from the
    /// server; sets how the body is read.
    fn head(
        &mut self,
        dir: Direction,
        head: &[u8],
        head_at: u64,
        body_at: u64,
        at: At,
        rx: &mut dyn Out,
    ) {
        let parsed = Head::parse(head);
        let side = self.side(dir);
        side.body.clear();
        side.skip_body = false;
        side.body_at = body_at;
        let Some(parsed) = parsed else {
            side.state = State::Done;
            let detail = "HTTP head is not text".to_owned();
            rx.event(
                dir,
                position(head_at, head.len() as u64, at),
                malformed(detail),
            );
            return;
        };
        let (bosh, note) = match (dir, parsed.request(), parsed.status()) {
            (Direction::ToServer, Some((method, _)), _) => {
                let post = method == "POST";
                if self.requests.len() < MAX_PENDING {
                    self.requests.push_back(post);
                }
                (post, None)
            }
            (Direction::ToClient, _, Some(status)) => {
                // A request the capture missed is taken for a POST.
                let to_post = self.requests.pop_front().unwrap_or(true);
                match status {
                    200 => (to_post, None),
                    // XEP-0124 §17.1: errors are HTTP status codes (400, 403, 404).
                    _ if to_post => (
                        false,
                        Some(format!("HTTP status {status}: the BOSH request failed")),
                    ),
                    _ => (false, None),
                }
            }
            _ => (
                false,
                Some("expected an HTTP request or status line".to_owned()),
            ),
        };
        let side = self.side(dir);
        side.bosh_message = bosh;
        side.state = match parsed.body() {
            Body::Length(n) => State::Body { left: n },
            Body::Chunked => State::ChunkSize,
            Body::UntilClose | Body::Invalid => State::Done,
        };
        if side.state == State::Done && note.is_none() {
            rx.event(
                dir,
                position(head_at, head.len() as u64, at),
                malformed("HTTP message without a usable Content-Length".to_owned()),
            );
        }
        if let Some(note) = note {
            rx.event(
                dir,
                position(head_at, head.len() as u64, at),
                malformed(note),
            );
        }
    }

    fn body_bytes(&mut self, dir: Direction, pos: u64, bytes: &[u8], limits: &Limits) {
        let side = self.side(dir);
        if side.body.is_empty() && !side.skip_body {
            side.body_at = pos;
        }
        let limit = limits.max_stanza_bytes.saturating_mul(4);
        if side.skip_body || !side.bosh_message || side.body.len() + bytes.len() > limit {
            side.skipped += (side.body.len() + bytes.len()) as u64;
            side.body = Vec::new();
            side.skip_body = true;
            return;
        }
        side.body.extend_from_slice(bytes);
    }

    /// A whole message: its `<body/>` wrapper read, its content handed on.
    fn end_of_message(&mut self, dir: Direction, at: At, limits: &Limits, rx: &mut dyn Out) {
        let side = self.side(dir);
        side.state = State::Head;
        let body = std::mem::take(&mut side.body);
        let skipped = std::mem::take(&mut side.skip_body);
        if skipped || !side.bosh_message {
            if skipped && side.bosh_message && !body.is_empty() {
                side.skipped += body.len() as u64;
            }
            return;
        }
        let pos = position(side.body_at, body.len() as u64, at);
        match wrapper(&body, limits) {
            Some(w) => self.unwrap(dir, &body, w, pos, at, rx),
            None if body.iter().all(u8::is_ascii_whitespace) => {}
            None => {
                self.side(dir).skipped += body.len() as u64;
                let detail = "HTTP body is not a BOSH <body/> (XEP-0124 §4)".to_owned();
                rx.event(dir, pos, malformed(detail));
            }
        }
        let side = self.side(dir);
        if side.body.capacity() == 0 {
            side.body = body;
            side.body.clear();
        }
    }

    fn unwrap(
        &mut self,
        dir: Direction,
        body: &[u8],
        w: Wrapper,
        pos: Position,
        at: At,
        rx: &mut dyn Out,
    ) {
        let side = self.side(dir);
        let header = |from: Option<String>, to: Option<String>, id: Option<String>, restart| {
            EventKind::StreamHeader {
                stream_kind: StreamKind::C2s,
                from,
                to,
                id,
                version: w.version.clone(),
                lang: w.lang.clone(),
                namespace: Some(ns::CLIENT.to_owned()),
                dialback: false,
                restart,
            }
        };
        if dir == Direction::ToServer {
            if w.restart {
                // XEP-0206 §5: the restart after SASL.
                rx.event(dir, pos, header(w.from.clone(), w.to.clone(), None, true));
            } else if w.sid.is_none() && w.to.is_some() && !side.announced {
                // XEP-0124 §7.1: the session creation request.
                side.announced = true;
                rx.event(dir, pos, header(w.from.clone(), w.to.clone(), None, false));
            }
        } else if w.sid.is_some() && !side.announced {
            // XEP-0124 §7.2, XEP-0206 §3: the session creation response.
            side.announced = true;
            let id = w.authid.clone().or_else(|| w.sid.clone());
            rx.event(dir, pos, header(w.from.clone(), w.to.clone(), id, false));
        }
        if let Some(content) = body.get(w.content.0..w.content.1) {
            if content.iter().any(|b| !b.is_ascii_whitespace()) {
                rx.elements(dir, content, at);
            }
        }
        if w.terminate {
            // XEP-0124 §14 and §17.2: a condition means an error ended the session.
            let kind = match w.condition {
                Some(condition) => EventKind::StreamError {
                    condition: Some(condition),
                    text: None,
                },
                None => EventKind::StreamClose,
            };
            rx.event(dir, pos, kind);
        }
    }
}

/// What a `<body/>` wrapper says, and where its content lies in the body.
#[derive(Debug)]
struct Wrapper {
    sid: Option<String>,
    authid: Option<String>,
    from: Option<String>,
    to: Option<String>,
    version: Option<String>,
    lang: Option<String>,
    restart: bool,
    terminate: bool,
    condition: Option<String>,
    content: (usize, usize),
}

/// The `<body/>` wrapper of an HTTP body: its attributes and the range of its content;
/// `None` if the body is not one.
fn wrapper(body: &[u8], limits: &Limits) -> Option<Wrapper> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let tag_end = start + start_tag_len(body.get(start..)?)?;
    let tag = body.get(start..tag_end)?;
    let empty = tag.ends_with(b"/>");
    let scope = NsScope::default();
    let (tree, own) = xml::parse_start_tag(tag, &scope, limits.max_attributes).ok()?;
    let root = tree.root()?;
    if !root.is(HTTPBIND, "body") {
        return None;
    }
    let content = if empty {
        (tag_end, tag_end)
    } else {
        // The content runs to the last end tag, which closes the wrapper.
        let end = memchr::memmem::rfind(body, b"</")?;
        (tag_end, end.max(tag_end))
    };
    // XEP-0206 attributes are in urn:xmpp:xbosh, usually with the prefix `xmpp`.
    let xbosh = |local: &str| {
        root.attrs()
            .iter()
            .find(|a| {
                a.name.split_once(':').is_some_and(|(prefix, name)| {
                    name == local && own.resolve(prefix) == Some(XBOSH)
                })
            })
            .map(|a| a.value.to_string())
    };
    let attr = |name: &str| root.attr(name).map(str::to_owned);
    Some(Wrapper {
        sid: attr("sid"),
        authid: attr("authid"),
        from: attr("from"),
        to: attr("to"),
        version: xbosh("version").or_else(|| attr("ver")),
        lang: attr("xml:lang"),
        restart: matches!(xbosh("restart").as_deref(), Some("true" | "1")),
        terminate: root.attr("type") == Some("terminate"),
        condition: attr("condition"),
        content,
    })
}

/// Length of the start tag at the start of `bytes` (quotes respected); `None` if it
/// does not end.
fn start_tag_len(bytes: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if b == q => quote = None,
            (None, b'>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}
