//! XMPP sessions: the two directions of one connection and the feedback between them.
//!
//! Input: reassembled deliveries tagged with their direction; output: events with
//! positions. Feedback crosses directions here and only here: the client's
//! `<starttls/>` and the server's `<proceed/>` switch both directions to TLS
//! (RFC 6120 §5.4.3.3; like Zeek's analyzer, a `<proceed/>` without a request is
//! flagged). Stream restarts (RFC 6120 §4.3.3, §6.4.6) are found by the framer itself.
//!
//! Once a direction is TLS its bytes go to the connection's [`tls::Connection`]; what
//! it decrypts is fed to a second, fresh XMPP stream per direction (the stream
//! restart after TLS, RFC 6120 §5.4.3.3), whose events are marked decrypted.

pub mod classify;
pub mod error;
pub mod sasl;
pub mod sm;
pub mod stream;

use crate::limits::Limits;
use crate::model::{Anomaly, At, Direction, DirectionBytes, EventKind, Position};
use crate::transport::layer;
use crate::transport::sniff::Sniff;
use crate::transport::stack::Stack;
use crate::transport::tls::{self, KeyStore};
use crate::transport::{bosh, websocket};
use std::sync::Arc;
pub use stream::{Report, Stream};

/// What carries the XMPP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The TCP bytes themselves (STARTTLS may follow).
    Tcp,
    /// TLS from the first byte (XEP-0368).
    DirectTls,
    /// WebSocket after an HTTP upgrade (RFC 7395).
    Websocket,
    /// HTTP requests and responses with BOSH bodies (XEP-0124, XEP-0206).
    Bosh,
}

/// How a session reports what it sees.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub show_secrets: bool,
    /// Compute each presence's digest (see [`classify::Settings::digests`]).
    pub digests: bool,
    /// Also report each element's bytes ([`EventKind::Xml`]) for transcripts.
    pub keep_xml: bool,
    pub keys: Option<Arc<KeyStore>>,
}

/// Where a session's reports go, each with its direction.
pub trait Reports {
    fn report(&mut self, dir: Direction, report: Report);
}

/// Both directions of one XMPP connection.
#[derive(Debug)]
pub struct Session {
    /// The XMPP streams on the TCP bytes (until a direction switches to TLS).
    streams: [Stream; 2],
    /// The XMPP streams above the transport stack: from decrypted bytes, or inside
    /// WebSocket messages or BOSH bodies.
    inner: [Option<Stream>; 2],
    /// The layers below `inner`, bottom first: a carrier from the first byte
    /// (WebSocket, BOSH), or TLS and what it carries once a direction switches to it.
    stack: Stack,
    /// The stack takes every TCP byte (WebSocket, BOSH): `streams` only count them.
    carried: bool,
    /// `<open/>` elements seen per direction inside WebSocket (a second is a restart).
    opens: [u32; 2],
    keys: Option<Arc<KeyStore>>,
    /// Content namespace assumed when the stream header was not captured.
    assumed_ns: &'static str,
    starttls_requested: bool,
    settings: classify::Settings,
    keep_xml: bool,
}

impl Session {
    pub fn new(
        limits: &Limits,
        options: &Options,
        transport: Transport,
        assumed_ns: &'static str,
    ) -> Session {
        let keep_xml = options.keep_xml;
        let settings = classify::Settings {
            show_secrets: options.show_secrets,
            digests: options.digests,
        };
        let mut streams = [
            Stream::new(limits, keep_xml, settings),
            Stream::new(limits, keep_xml, settings),
        ];
        if transport == Transport::DirectTls {
            for s in &mut streams {
                s.start_tls();
            }
        }
        let mut stack = Stack::default();
        match transport {
            Transport::Websocket => stack.push(Box::<websocket::Connection>::default()),
            Transport::Bosh => stack.push(Box::<bosh::Connection>::default()),
            Transport::Tcp | Transport::DirectTls => {}
        }
        Session {
            streams,
            inner: [None, None],
            carried: !stack.is_empty(),
            stack,
            opens: [0, 0],
            keys: options.keys.clone(),
            assumed_ns,
            starttls_requested: false,
            settings,
            keep_xml,
        }
    }

    fn stream(&mut self, dir: Direction) -> &mut Stream {
        dir.of_mut(&mut self.streams)
    }

    /// The capture started inside this direction of the connection.
    pub fn start_midstream(&mut self, dir: Direction, offset: u64) {
        let ns = self.assumed_ns;
        self.stream(dir).start_midstream(offset, ns);
    }

    pub fn data(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut dyn Reports,
    ) {
        if self.carried {
            self.stream(dir).bytes.payload += bytes.len() as u64;
            self.stacked(dir, offset, bytes, at, limits, out);
            return;
        }
        if self.stream(dir).is_tls() {
            self.stream(dir).bytes.payload += bytes.len() as u64;
            self.tls_data(dir, offset, bytes, at, limits, out);
            return;
        }
        self.routed(dir, out, |stream, route| {
            stream.feed(offset, bytes, at, limits, route);
        });
        if let Some((tail_offset, tail)) = self.stream(dir).take_tls_tail() {
            // Direct TLS found by content: the other side answers in TLS too.
            let other = self.stream(dir.reverse());
            if !other.started() {
                other.start_tls();
            }
            self.tls_data(dir, tail_offset, &tail, at, limits, out);
        }
    }

    /// TLS bytes of one direction (after `<proceed/>`, RFC 6120 §5.4.3.3, or from the
    /// first byte, XEP-0368): the first builds the stack, TLS and what it carries.
    fn tls_data(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut dyn Reports,
    ) {
        self.stream(dir).bytes.tls += bytes.len() as u64;
        if self.stack.is_empty() {
            self.stack
                .push(Box::new(tls::Connection::new(self.keys.clone())));
            self.stack.push(Box::<Sniff>::default());
        }
        self.stacked(dir, offset, bytes, at, limits, out);
    }

    /// Bytes of `dir` through the stack into the inner stream of their direction.
    fn stacked(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut dyn Reports,
    ) {
        let mut top = Top {
            streams: &mut self.inner,
            opens: &mut self.opens,
            decrypted: self.stack.decrypts(),
            limits,
            settings: self.settings,
            keep_xml: self.keep_xml,
            out,
        };
        self.stack.feed(dir, offset, bytes, at, limits, &mut top);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn gap(
        &mut self,
        dir: Direction,
        offset: u64,
        len: u64,
        at: At,
        limits: &Limits,
        out: &mut dyn Reports,
    ) {
        self.routed(dir, out, |stream, route| stream.gap(offset, len, at, route));
        if self.stack.is_empty() || !(self.carried || self.stream(dir).is_tls()) {
            return;
        }
        let mut top = Top {
            streams: &mut self.inner,
            opens: &mut self.opens,
            decrypted: self.stack.decrypts(),
            limits,
            settings: self.settings,
            keep_xml: self.keep_xml,
            out,
        };
        self.stack.gap(dir, len, limits, &mut top);
    }

    /// Runs `f` on the stream of `dir` with its reports routed to `out`; after a
    /// server's `<proceed/>` the client's next bytes are TLS (RFC 6120 §5.4.3.3).
    fn routed(
        &mut self,
        dir: Direction,
        out: &mut dyn Reports,
        f: impl FnOnce(&mut Stream, &mut dyn stream::Out),
    ) {
        let stream = dir.of_mut(&mut self.streams);
        let mut route = Route::new(dir, &mut self.starttls_requested, out);
        f(stream, &mut route);
        if route.proceed {
            self.stream(Direction::ToServer).start_tls();
        }
        let [client, server] = &mut self.streams;
        follow_compression(client, server);
    }

    /// Bytes of memory the session's boxes take (inner streams, the stack's layers),
    /// besides the session itself and its buffers for data to come: the flow table's
    /// estimate of it.
    pub fn resident_bytes(&self) -> usize {
        let inner = self.inner.iter().flatten().count() * std::mem::size_of::<Stream>();
        let compressed = self
            .streams
            .iter()
            .chain(self.inner.iter().flatten())
            .map(Stream::resident_bytes)
            .sum::<usize>();
        inner + self.stack.resident_bytes() + compressed
    }

    /// Bytes of memory held for data still to come: unfinished elements (outside and
    /// inside the stack) and what the stack's layers hold.
    pub fn held_bytes(&self) -> usize {
        let streams = self.streams.iter().map(Stream::held_bytes).sum::<usize>();
        let inner = self
            .inner
            .iter()
            .flatten()
            .map(Stream::held_bytes)
            .sum::<usize>();
        streams + inner + self.stack.held_bytes()
    }

    /// The bytes held for all connections exceeded their budget
    /// (`Limits::max_buffered_bytes`): every buffer of this session is freed, and each
    /// unfinished element, TLS record or handshake message dropped is reported
    /// (`buffer_limit`). A dropped element is skipped when its end arrives; a dropped
    /// record ends that direction's decryption (its records are then only counted).
    pub fn let_go(&mut self, at: At, limits: &Limits, out: &mut dyn Reports) {
        for dir in [Direction::ToServer, Direction::ToClient] {
            self.routed(dir, out, |stream, route| stream.let_go(at, limits, route));
        }
        let decrypted = self.stack.decrypts();
        let [c, s] = &mut self.inner;
        for (dir, inner) in [(Direction::ToServer, c), (Direction::ToClient, s)] {
            if let Some(stream) = inner {
                let mut marked = Marked {
                    dir,
                    decrypted,
                    opens: None,
                    out: &mut *out,
                };
                stream.let_go(at, limits, &mut marked);
            }
        }
        let mut top = Top {
            streams: &mut self.inner,
            opens: &mut self.opens,
            decrypted,
            limits,
            settings: self.settings,
            keep_xml: self.keep_xml,
            out,
        };
        self.stack.let_go(at, &mut top);
    }

    /// Byte counters per direction: the TCP stream's, plus what the stack carried.
    pub fn bytes(&self) -> (DirectionBytes, DirectionBytes) {
        let [outer_c, outer_s] = &self.streams;
        let [inner_c, inner_s] = &self.inner;
        (
            self.merged(Direction::ToServer, outer_c, inner_c.as_ref()),
            self.merged(Direction::ToClient, outer_s, inner_s.as_ref()),
        )
    }

    fn merged(&self, dir: Direction, outer: &Stream, inner: Option<&Stream>) -> DirectionBytes {
        let mut b = outer.totals();
        if let Some(inner) = inner.map(Stream::totals) {
            b.xml += inner.xml;
            b.whitespace += inner.whitespace;
            b.skipped += inner.skipped;
            b.unfinished += inner.unfinished;
            b.compressed += inner.compressed;
            b.inflated += inner.inflated;
        }
        self.stack.count(dir, &mut b);
        b
    }

    /// What of `dir` is unfinished, in words (the element's name when known), for
    /// the anomaly at the end of a connection's analysis: the streams', then each
    /// layer's ([`Stack::finish`]).
    pub fn unfinished_parts(&self, dir: Direction) -> Vec<String> {
        let mut parts = Vec::new();
        let stream = |s: &Stream, inside: &str, parts: &mut Vec<String>| {
            let n = s.unfinished();
            let dropped = s.unfinished_dropped();
            if dropped > 0 {
                parts.push(format!(
                    "an unfinished element{inside} whose first {dropped} bytes were dropped (counted as skipped)"
                ));
            } else if n > 0 {
                parts.push(match s.unfinished_name() {
                    Some(name) => format!("{n} bytes of an unfinished <{name}>{inside}"),
                    None => format!("{n} bytes of unfinished XML{inside}"),
                });
            }
        };
        let outer = dir.of(&self.streams);
        stream(outer, "", &mut parts);
        if let Some(inflated) = outer.inflated_stream() {
            stream(inflated, " (inflated)", &mut parts);
        }
        if let Some(inner) = dir.of(&self.inner) {
            stream(inner, " (decrypted)", &mut parts);
            if let Some(inflated) = inner.inflated_stream() {
                stream(inflated, " (decrypted, inflated)", &mut parts);
            }
        }
        self.stack.finish(dir, &mut parts);
        parts
    }
}

/// One direction's reports on their way out, with the feedback between directions:
/// the client's `<starttls/>` is noted, and a server's `<proceed/>` without one is
/// flagged; the caller switches the client's stream once the server's bytes are read.
struct Route<'a> {
    dir: Direction,
    starttls_requested: &'a mut bool,
    /// A `<proceed/>` came from the server.
    proceed: bool,
    out: &'a mut dyn Reports,
}

impl<'a> Route<'a> {
    fn new(dir: Direction, starttls_requested: &'a mut bool, out: &'a mut dyn Reports) -> Self {
        Route {
            dir,
            starttls_requested,
            proceed: false,
            out,
        }
    }
}

impl stream::Out for Route<'_> {
    fn push(&mut self, (pos, kind): Report) {
        match (&kind, self.dir) {
            (EventKind::StartTls, Direction::ToServer) => *self.starttls_requested = true,
            (EventKind::TlsProceed, Direction::ToClient) => {
                if !*self.starttls_requested {
                    self.out.report(self.dir, (pos, unexpected_proceed()));
                }
                self.proceed = true;
            }
            _ => {}
        }
        self.out.report(self.dir, (pos, kind));
    }
}

/// The top of the stack: its layers' events as they are, and what the highest layer
/// unwraps into the inner stream of its direction.
struct Top<'a> {
    streams: &'a mut [Option<Stream>; 2],
    opens: &'a mut [u32; 2],
    /// A layer decrypts: the inner streams' reports are marked decrypted.
    decrypted: bool,
    limits: &'a Limits,
    settings: classify::Settings,
    keep_xml: bool,
    out: &'a mut dyn Reports,
}

impl layer::Out for Top<'_> {
    fn event(&mut self, dir: Direction, pos: Position, kind: EventKind) {
        self.out.report(dir, (pos, kind));
    }

    /// Decrypted bytes: a fresh stream (the restart after TLS, RFC 6120 §5.4.3.3).
    fn bytes(&mut self, dir: Direction, bytes: &[u8], at: At) {
        let (limits, keep_xml, settings) = (self.limits, self.keep_xml, self.settings);
        let decrypted = self.decrypted;
        let stream = dir
            .of_mut(self.streams)
            .get_or_insert_with(|| Stream::new(limits, keep_xml, settings));
        let offset = stream.bytes.payload;
        let mut marked = Marked {
            dir,
            decrypted,
            opens: None,
            out: &mut *self.out,
        };
        stream.feed(offset, bytes, at, limits, &mut marked);
        // A `<starttls/>` inside TLS is not followed: the inner stream never hands off.
        let _ = stream.take_tls_tail();
        // Compression inside TLS (XEP-0138 after STARTTLS).
        if let [Some(client), Some(server)] = &mut *self.streams {
            follow_compression(client, server);
        }
    }

    /// Elements of a stream without header (WebSocket, BOSH), whose `<open/>` after
    /// the first is a restart (RFC 7395 §3.5, after TLS or SASL).
    fn elements(&mut self, dir: Direction, bytes: &[u8], at: At) {
        let (limits, keep_xml, settings) = (self.limits, self.keep_xml, self.settings);
        let decrypted = self.decrypted;
        let stream = dir.of_mut(self.streams).get_or_insert_with(|| {
            let mut stream = Stream::new(limits, keep_xml, settings);
            stream.start_framed();
            stream
        });
        let offset = stream.bytes.payload;
        let mut marked = Marked {
            dir,
            decrypted,
            opens: Some(dir.of_mut(self.opens)),
            out: &mut *self.out,
        };
        stream.feed(offset, bytes, at, limits, &mut marked);
    }

    fn lost(&mut self, dir: Direction) {
        if let Some(stream) = dir.of_mut(self.streams) {
            stream.discard_partial();
        }
    }
}

/// Reports of an inner stream: marked decrypted above TLS; inside WebSocket, an
/// `<open/>` after the first in a direction is a restart.
struct Marked<'a> {
    dir: Direction,
    decrypted: bool,
    opens: Option<&'a mut u32>,
    out: &'a mut dyn Reports,
}

impl stream::Out for Marked<'_> {
    fn push(&mut self, (mut pos, mut kind): Report) {
        pos.decrypted |= self.decrypted;
        if let (EventKind::StreamHeader { restart, .. }, Some(opens)) = (&mut kind, &mut self.opens)
        {
            *restart = **opens > 0;
            **opens += 1;
        }
        self.out.report(self.dir, (pos, kind));
    }
}

/// The server's `<compressed/>` switched its direction: the client's is compressed
/// from its next byte too (XEP-0138 §6; the client waits for the answer).
fn follow_compression(client: &mut Stream, server: &Stream) {
    if server.is_compressed() && !client.is_compressed() {
        client.start_compression();
    }
}

fn unexpected_proceed() -> EventKind {
    EventKind::Anomaly {
        anomaly: Anomaly::UnexpectedProceed,
        detail: "<proceed/> without a <starttls/> from the client".into(),
    }
}
