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
use crate::transport::carrier;
use crate::transport::inflate::Tally;
use crate::transport::tls::{self, KeyStore};
use crate::transport::{bosh, detect, http, websocket};
use detect::Verdict;
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

/// A protocol carrying XMPP over HTTP.
#[derive(Debug)]
enum Carrier {
    Websocket(Box<websocket::Connection>),
    Bosh(Box<bosh::Connection>),
    /// HTTP that carries no XMPP (inside TLS on an XMPP server's HTTPS port): its
    /// bytes per direction are counted as skipped.
    NotXmpp([u64; 2]),
}

impl Carrier {
    fn feed(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        rx: &mut dyn carrier::Receiver,
    ) {
        match self {
            Carrier::Websocket(ws) => ws.feed(dir, offset, bytes, at, rx),
            Carrier::Bosh(bosh) => bosh.feed(dir, offset, bytes, at, limits, rx),
            Carrier::NotXmpp(skipped) => *dir.of_mut(skipped) += bytes.len() as u64,
        }
    }

    fn gap(&mut self, dir: Direction, len: u64, rx: &mut dyn carrier::Receiver) {
        match self {
            Carrier::Websocket(ws) => ws.gap(dir, len, rx),
            Carrier::Bosh(bosh) => bosh.gap(dir, len, rx),
            Carrier::NotXmpp(_) => {}
        }
    }

    fn held_bytes(&self) -> usize {
        match self {
            Carrier::Websocket(ws) => ws.held_bytes(),
            Carrier::Bosh(bosh) => bosh.held_bytes(),
            Carrier::NotXmpp(_) => 0,
        }
    }

    fn let_go(&mut self, dir: Direction) -> usize {
        match self {
            Carrier::Websocket(ws) => ws.let_go(dir),
            Carrier::Bosh(bosh) => bosh.let_go(dir),
            Carrier::NotXmpp(_) => 0,
        }
    }

    fn unfinished(&self, dir: Direction) -> u64 {
        match self {
            Carrier::Websocket(ws) => ws.unfinished(dir),
            Carrier::Bosh(bosh) => bosh.unfinished(dir),
            Carrier::NotXmpp(_) => 0,
        }
    }

    /// Compressed message bytes and what they inflated to (permessage-deflate).
    fn compression(&self, dir: Direction) -> Tally {
        match self {
            Carrier::Websocket(ws) => ws.compression(dir),
            Carrier::Bosh(_) | Carrier::NotXmpp(_) => Tally::default(),
        }
    }

    fn resident_bytes(&self) -> usize {
        match self {
            Carrier::Websocket(ws) => ws.resident_bytes(),
            Carrier::Bosh(_) => std::mem::size_of::<bosh::Connection>(),
            Carrier::NotXmpp(_) => 0,
        }
    }

    fn skipped(&self, dir: Direction) -> u64 {
        match self {
            Carrier::Websocket(ws) => ws.skipped(dir),
            Carrier::Bosh(bosh) => bosh.skipped(dir),
            Carrier::NotXmpp(skipped) => *dir.of(skipped),
        }
    }
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
    streams: [Stream; 2],
    /// The XMPP streams inside TLS, from decrypted bytes, or inside WebSocket
    /// messages or BOSH bodies.
    inner: [Option<Stream>; 2],
    tls: Option<Box<tls::Connection>>,
    /// XMPP carried over HTTP: the TCP bytes are not XMPP themselves.
    carrier: Option<Carrier>,
    /// XMPP carried over HTTP inside TLS (wss://, https://), found in the client's
    /// first decrypted bytes.
    tls_carrier: Option<Carrier>,
    /// The client's first decrypted bytes while they do not yet tell what they carry.
    tls_sniff: Sniff,
    /// Decrypted bytes so far per direction (offsets for a carrier inside TLS).
    plain: [u64; 2],
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
        Session {
            streams,
            inner: [None, None],
            tls: None,
            carrier: match transport {
                Transport::Websocket => Some(Carrier::Websocket(Box::default())),
                Transport::Bosh => Some(Carrier::Bosh(Box::default())),
                Transport::Tcp | Transport::DirectTls => None,
            },
            opens: [0, 0],
            tls_carrier: None,
            tls_sniff: Sniff::Waiting(detect::Held::default()),
            plain: [0, 0],
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
        if let Some(carrier) = &mut self.carrier {
            dir.of_mut(&mut self.streams).bytes.payload += bytes.len() as u64;
            let mut unwrapped = Unwrapped {
                streams: &mut self.inner,
                opens: &mut self.opens,
                limits,
                settings: self.settings,
                keep_xml: self.keep_xml,
                decrypted: false,
                out,
            };
            carrier.feed(dir, offset, bytes, at, limits, &mut unwrapped);
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

    /// TLS bytes of one direction: to the TLS layer, plaintext to the inner stream.
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
        let keys = self.keys.clone();
        let tls = self
            .tls
            .get_or_insert_with(|| Box::new(tls::Connection::new(keys)));
        let mut inner = Inner {
            streams: &mut self.inner,
            carrier: &mut self.tls_carrier,
            sniff: &mut self.tls_sniff,
            opens: &mut self.opens,
            plain: &mut self.plain,
            limits,
            settings: self.settings,
            keep_xml: self.keep_xml,
            out,
        };
        tls.feed(dir, offset, bytes, at, limits, &mut inner);
    }

    pub fn gap(&mut self, dir: Direction, offset: u64, len: u64, at: At, out: &mut dyn Reports) {
        self.routed(dir, out, |stream, route| stream.gap(offset, len, at, route));
        if let Some(carrier) = &mut self.carrier {
            let mut unwrapped = Unwrapped {
                streams: &mut self.inner,
                opens: &mut self.opens,
                limits: &Limits::default(),
                settings: self.settings,
                keep_xml: self.keep_xml,
                decrypted: false,
                out,
            };
            carrier.gap(dir, len, &mut unwrapped);
            return;
        }
        if self.stream(dir).is_tls() {
            if let Some(tls) = &mut self.tls {
                tls.gap(dir);
            }
        }
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

    /// Bytes of memory the session's boxes take (inner streams, TLS, carriers),
    /// besides the session itself and its buffers for data to come: the flow
    /// table's estimate of it.
    pub fn resident_bytes(&self) -> usize {
        let inner = self.inner.iter().flatten().count() * std::mem::size_of::<Stream>();
        let tls = self
            .tls
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<tls::Connection>());
        let carrier = |c: &Option<Carrier>| c.as_ref().map_or(0, Carrier::resident_bytes);
        let compressed = self
            .streams
            .iter()
            .chain(self.inner.iter().flatten())
            .map(Stream::resident_bytes)
            .sum::<usize>();
        inner + tls + carrier(&self.carrier) + carrier(&self.tls_carrier) + compressed
    }

    /// Bytes of memory held for data still to come: unfinished elements (outside and
    /// inside TLS), TLS records and handshake messages.
    pub fn held_bytes(&self) -> usize {
        let streams = self.streams.iter().map(Stream::held_bytes).sum::<usize>();
        let inner = self
            .inner
            .iter()
            .flatten()
            .map(Stream::held_bytes)
            .sum::<usize>();
        streams
            + inner
            + self.tls.as_ref().map_or(0, |tls| tls.held_bytes())
            + self.carrier.as_ref().map_or(0, Carrier::held_bytes)
            + self.tls_carrier.as_ref().map_or(0, Carrier::held_bytes)
            + match &self.tls_sniff {
                Sniff::Waiting(held) => held.capacity(),
                Sniff::Done => 0,
            }
    }

    /// The bytes held for all connections exceeded their budget
    /// (`Limits::max_buffered_bytes`): every buffer of this session is freed, and each
    /// unfinished element, TLS record or handshake message dropped is reported
    /// (`buffer_limit`). A dropped element is skipped when its end arrives; a dropped
    /// record ends that direction's decryption (its records are then only counted).
    pub fn let_go(&mut self, at: At, limits: &Limits, out: &mut dyn Reports) {
        // At most the detection limit, and only until the client's request is whole.
        if matches!(&self.tls_sniff, Sniff::Waiting(held) if !held.is_empty()) {
            self.tls_sniff = Sniff::Done;
        }
        for dir in [Direction::ToServer, Direction::ToClient] {
            self.routed(dir, out, |stream, route| stream.let_go(at, limits, route));
        }
        let [c, s] = &mut self.inner;
        for (dir, inner) in [(Direction::ToServer, c), (Direction::ToClient, s)] {
            if let Some(stream) = inner {
                let mut decrypted = Decrypted {
                    dir,
                    out: &mut *out,
                };
                stream.let_go(at, limits, &mut decrypted);
            }
        }
        for carrier in [&mut self.carrier, &mut self.tls_carrier]
            .into_iter()
            .flatten()
        {
            for dir in [Direction::ToServer, Direction::ToClient] {
                let n = carrier.let_go(dir);
                if n > 0 {
                    let kind = EventKind::Anomaly {
                        anomaly: Anomaly::BufferLimit,
                        detail: format!("{n} bytes of an unfinished HTTP message dropped (buffer budget for all connections spent)"),
                    };
                    out.report(dir, (flow_position(at), kind));
                }
            }
        }
        let Some(tls) = &mut self.tls else { return };
        for dir in [Direction::ToServer, Direction::ToClient] {
            let (record, handshake) = tls.let_go(dir);
            let detail = match (record, handshake) {
                (0, 0) => continue,
                (0, n) => format!("{n} bytes of an unfinished TLS handshake message dropped (buffer budget for all connections spent); handshake not parsed further in this direction"),
                (n, _) => format!("{n} bytes of an unfinished TLS record dropped (buffer budget for all connections spent); TLS of this direction is only counted from here"),
            };
            let kind = EventKind::Anomaly {
                anomaly: Anomaly::BufferLimit,
                detail,
            };
            out.report(dir, (flow_position(at), kind));
        }
    }

    /// Byte counters per direction: the TCP stream's, plus what TLS carried.
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
        if let Some(tls) = &self.tls {
            let counts = tls.counts(dir);
            b.tls_records = counts.records;
            b.decrypted = counts.plaintext;
            // An unfinished record is unfinished, not TLS carried.
            let partial = tls.unfinished(dir);
            b.tls = b.tls.saturating_sub(partial);
            b.unfinished += partial;
        }
        if let (Sniff::Waiting(held), Direction::ToServer) = (&self.tls_sniff, dir) {
            b.unfinished += held.of(0).len() as u64;
        }
        if let Some(inner) = inner.map(Stream::totals) {
            b.xml += inner.xml;
            b.whitespace += inner.whitespace;
            b.skipped += inner.skipped;
            b.unfinished += inner.unfinished;
            b.compressed += inner.compressed;
            b.inflated += inner.inflated;
        }
        // What reached neither the XMPP stream nor `skipped` was the carrier's own:
        // of the TCP bytes, or inside TLS of the decrypted ones.
        let carried = match (&self.carrier, &self.tls_carrier) {
            (Some(carrier), _) => Some((carrier, b.payload)),
            (None, Some(carrier)) => Some((carrier, b.decrypted)),
            (None, None) => None,
        };
        if let Some((carrier, bytes)) = carried {
            let skipped = carrier.skipped(dir);
            let unfinished = carrier.unfinished(dir);
            let deflate = carrier.compression(dir);
            b.skipped += skipped;
            b.unfinished += unfinished;
            b.compressed += deflate.wire;
            b.inflated += deflate.inflated;
            // Of the bytes handed to the stream, the inflated came from `compressed`.
            let unwrapped = inner
                .map_or(0, |s| s.bytes.payload)
                .saturating_sub(deflate.inflated)
                + deflate.wire;
            b.framing = bytes.saturating_sub(unwrapped + skipped + unfinished);
        }
        b
    }

    /// What of `dir` is unfinished, in words (the element's name when known), for
    /// the anomaly at the end of a connection's analysis.
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
        if let Some(tls) = &self.tls {
            let n = tls.unfinished(dir);
            if n > 0 {
                parts.push(format!("{n} bytes of an unfinished TLS record"));
            }
        }
        if let (Sniff::Waiting(held), Direction::ToServer) = (&self.tls_sniff, dir) {
            if !held.is_empty() {
                parts.push(format!(
                    "{} decrypted bytes too few to tell what they carry",
                    held.of(0).len()
                ));
            }
        }
        for carrier in [&self.carrier, &self.tls_carrier].into_iter().flatten() {
            let n = carrier.unfinished(dir);
            if n > 0 {
                parts.push(format!(
                    "{n} bytes of an unfinished HTTP or WebSocket message"
                ));
            }
        }
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

/// Reports of a stream inside TLS: marked decrypted.
struct Decrypted<'a> {
    dir: Direction,
    out: &'a mut dyn Reports,
}

impl stream::Out for Decrypted<'_> {
    fn push(&mut self, (pos, kind): Report) {
        let pos = Position {
            decrypted: true,
            ..pos
        };
        self.out.report(self.dir, (pos, kind));
    }
}

/// What the client's first decrypted bytes carry is told by [`detect::sniff`]; an
/// HTTP request's head and body may come in separate TLS records (Python's
/// `http.client` writes them apart), so the bytes are held until it can tell, at most
/// `Limits::max_detect_bytes`, or until the server speaks.
#[derive(Debug)]
enum Sniff {
    /// The client's first decrypted bytes (side 0).
    Waiting(detect::Held),
    Done,
}

/// Receives the TLS layer's output: events as they are, plaintext into the inner
/// stream of its direction.
struct Inner<'a> {
    streams: &'a mut [Option<Stream>; 2],
    carrier: &'a mut Option<Carrier>,
    sniff: &'a mut Sniff,
    opens: &'a mut [u32; 2],
    plain: &'a mut [u64; 2],
    limits: &'a Limits,
    settings: classify::Settings,
    keep_xml: bool,
    out: &'a mut dyn Reports,
}

impl tls::Receiver for Inner<'_> {
    fn event(&mut self, dir: Direction, pos: Position, kind: EventKind) {
        self.out.report(dir, (pos, kind));
    }

    fn plaintext(&mut self, dir: Direction, bytes: &[u8], at: At) {
        let Sniff::Waiting(held) = &mut *self.sniff else {
            return self.deliver(dir, bytes, at);
        };
        let max = self.limits.max_detect_bytes;
        if dir == Direction::ToServer {
            let (verdict, taken) = held.push(0, bytes, max);
            if verdict == Verdict::NeedMore && taken == bytes.len() {
                return; // wait for the rest of the request
            }
            let [mut data, _] = held.take();
            data.extend_from_slice(bytes.get(taken..).unwrap_or_default());
            *self.sniff = Sniff::Done;
            *self.carrier = carrier_for(verdict, &data);
            self.deliver(dir, &data, at);
        } else {
            // The server speaks: what the client sent is all it will send first.
            let [data, _] = held.take();
            *self.sniff = Sniff::Done;
            *self.carrier = carrier_for(detect::sniff(&data, max), &data);
            if !data.is_empty() {
                self.deliver(Direction::ToServer, &data, at);
            }
            self.deliver(dir, bytes, at);
        }
    }
}

/// wss:// and https:// (RFC 7395 §3.1, XEP-0206): the client's first decrypted bytes
/// are an HTTP request for WebSocket or BOSH, other HTTP (file uploads, pages), or
/// XMPP itself (direct TLS).
fn carrier_for(verdict: Verdict, first: &[u8]) -> Option<Carrier> {
    match verdict {
        Verdict::Websocket => Some(Carrier::Websocket(Box::default())),
        Verdict::Bosh => Some(Carrier::Bosh(Box::default())),
        Verdict::NotXmpp if http::is_request(first) => Some(Carrier::NotXmpp([0, 0])),
        Verdict::Xmpp | Verdict::DirectTls | Verdict::NotXmpp | Verdict::NeedMore => None,
    }
}

impl Inner<'_> {
    /// Decrypted bytes in order, to the carrier found or the inner XMPP stream.
    fn deliver(&mut self, dir: Direction, bytes: &[u8], at: At) {
        let offset = *dir.of(self.plain);
        *dir.of_mut(self.plain) += bytes.len() as u64;
        if let Some(carrier) = self.carrier {
            let mut unwrapped = Unwrapped {
                streams: &mut *self.streams,
                opens: &mut *self.opens,
                limits: self.limits,
                settings: self.settings,
                keep_xml: self.keep_xml,
                decrypted: true,
                out: &mut *self.out,
            };
            carrier.feed(dir, offset, bytes, at, self.limits, &mut unwrapped);
            return;
        }
        let slot = dir.of_mut(self.streams);
        let (keep_xml, settings) = (self.keep_xml, self.settings);
        let stream = slot.get_or_insert_with(|| Stream::new(self.limits, keep_xml, settings));
        let offset = stream.bytes.payload;
        let mut decrypted = Decrypted {
            dir,
            out: &mut *self.out,
        };
        stream.feed(offset, bytes, at, self.limits, &mut decrypted);
        // A `<starttls/>` inside TLS is not followed: the inner stream never hands off.
        let _ = stream.take_tls_tail();
        // Compression inside TLS (XEP-0138 after STARTTLS).
        if let [Some(client), Some(server)] = &mut *self.streams {
            follow_compression(client, server);
        }
    }
}

/// Receives the WebSocket layer's output: events as they are, message text into the
/// inner stream of its direction, whose `<open/>` after the first is a restart.
struct Unwrapped<'a> {
    streams: &'a mut [Option<Stream>; 2],
    opens: &'a mut [u32; 2],
    limits: &'a Limits,
    settings: classify::Settings,
    keep_xml: bool,
    /// The carrier runs inside TLS: its reports are marked decrypted.
    decrypted: bool,
    out: &'a mut dyn Reports,
}

impl Unwrapped<'_> {
    fn slot(&mut self, dir: Direction) -> &mut Option<Stream> {
        dir.of_mut(self.streams)
    }
}

impl carrier::Receiver for Unwrapped<'_> {
    fn event(&mut self, dir: Direction, mut pos: Position, kind: EventKind) {
        pos.decrypted |= self.decrypted;
        self.out.report(dir, (pos, kind));
    }

    fn text(&mut self, dir: Direction, bytes: &[u8], at: At) {
        let (limits, keep_xml, settings) = (self.limits, self.keep_xml, self.settings);
        let stream = dir.of_mut(self.streams).get_or_insert_with(|| {
            let mut stream = Stream::new(limits, keep_xml, settings);
            stream.start_framed();
            stream
        });
        let offset = stream.bytes.payload;
        let opens = dir.of_mut(self.opens);
        let mut framed = Framed {
            dir,
            opens,
            decrypted: self.decrypted,
            out: &mut *self.out,
        };
        stream.feed(offset, bytes, at, limits, &mut framed);
    }

    fn lost(&mut self, dir: Direction) {
        if let Some(stream) = self.slot(dir) {
            stream.discard_partial();
        }
    }
}

/// Reports of a stream inside WebSocket messages: `<open/>` after the first in a
/// direction is a restart (RFC 7395 §3.5, after TLS or SASL).
struct Framed<'a> {
    dir: Direction,
    opens: &'a mut u32,
    decrypted: bool,
    out: &'a mut dyn Reports,
}

impl stream::Out for Framed<'_> {
    fn push(&mut self, (mut pos, mut kind): Report) {
        pos.decrypted |= self.decrypted;
        if let EventKind::StreamHeader { restart, .. } = &mut kind {
            *restart = *self.opens > 0;
            *self.opens += 1;
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

/// Position helper for flow-level events.
pub fn flow_position(at: At) -> Position {
    Position {
        time: at.time,
        frame: at.frame,
        ..Position::default()
    }
}
