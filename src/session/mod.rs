//! XMPP sessions: the two directions of one connection and the feedback between them.
//!
//! Input: reassembled deliveries tagged with their direction; output: events with
//! positions. Feedback crosses directions here and only here: the client's
//! `<starttls/>` and the server's `<proceed/>` switch both directions to TLS
//! (RFC 6120 §5.4.3.3; like Zeek's analyzer, a `<proceed/>` without a request is
//! flagged). Stream restarts (RFC 6120 §4.3.3, §6.4.6) are found by the framer itself.
//!
//! A stream that stops reading its bytes hands them off ([`stream::Handoff`]): after
//! `<proceed/>` (or a TLS record as first byte) to TLS, after `<compressed/>` to
//! zlib, and on a WebSocket or BOSH connection to that carrier from the first byte.
//! The session then stacks that layer ([`Stack`]) one level up, with a fresh XMPP
//! stream per direction above it (the stream restart after TLS, RFC 6120 §5.4.3.3,
//! or compression, XEP-0138 §6); events above a decrypting layer are marked
//! decrypted. Three levels at most: TCP, then TLS or a carrier or compression, then
//! compression inside TLS.

pub mod classify;
pub mod error;
pub mod fsm;
pub mod sasl;
pub mod sm;
pub mod stream;

use crate::limits::Limits;
use crate::model::{Anomaly, At, Direction, DirectionBytes, EventKind, Position};
use crate::transport::layer::{self, Layer};
use crate::transport::sniff::Sniff;
use crate::transport::stack::Stack;
use crate::transport::tls::{self, KeyStore};
use crate::transport::{bosh, websocket, zlib};
use std::sync::Arc;
use stream::Handoff;
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
    /// Each stanza's census detail ([`classify::Settings::details`]).
    pub details: bool,
    /// How the element parser scans ([`classify::Settings::scan`]).
    pub scan: crate::xml::ScanMode,
}

/// Where a session's reports go, each with its direction.
pub trait Reports {
    fn report(&mut self, dir: Direction, report: Report);
}

/// Both directions of one XMPP connection.
#[derive(Debug)]
pub struct Session {
    /// The XMPP streams on the TCP bytes.
    streams: [Stream; 2],
    /// The levels above, each a stack of layers with XMPP streams on top: the first
    /// above TLS, a carrier or compression, the second above compression inside TLS.
    /// Made at the first hand-off: a session on plain TCP carries none.
    levels: Option<Box<[Level; 2]>>,
    keys: Option<Arc<KeyStore>>,
    /// Content namespace assumed when the stream header was not captured.
    assumed_ns: &'static str,
    /// The negotiation across directions ([`fsm`]).
    negotiation: fsm::State,
    settings: classify::Settings,
    keep_xml: bool,
}

/// One level above the TCP bytes: the layers a stream below handed its bytes to, and
/// the fresh streams their output feeds.
#[derive(Debug, Default)]
struct Level {
    /// What the stack was built for; `None` while it is empty.
    handoff: Option<Handoff>,
    stack: Stack,
    streams: [Option<Stream>; 2],
    /// `<open/>` elements seen per direction inside WebSocket (a second is a restart).
    opens: [u32; 2],
}

/// The layers a hand-off stacks: one line per kind.
fn layers_for(handoff: Handoff, keys: &Option<Arc<KeyStore>>) -> Vec<Box<dyn Layer>> {
    match handoff {
        Handoff::Tls => vec![
            Box::new(tls::Connection::new(keys.clone())),
            Box::<Sniff>::default(),
        ],
        Handoff::Compressed => vec![Box::<zlib::Connection>::default()],
        // Built with the session, from the connection's detection verdict.
        Handoff::Carried => Vec::new(),
    }
}

/// What every level's work needs besides its own state.
struct Cx<'a> {
    limits: &'a Limits,
    settings: classify::Settings,
    keep_xml: bool,
    keys: &'a Option<Arc<KeyStore>>,
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
            details: options.details,
            scan: options.scan,
        };
        let mut streams = [
            Stream::new(limits, keep_xml, settings),
            Stream::new(limits, keep_xml, settings),
        ];
        let mut levels = None;
        let carrier: Option<Box<dyn Layer>> = match transport {
            Transport::Websocket => Some(Box::<websocket::Connection>::default()),
            Transport::Bosh => Some(Box::<bosh::Connection>::default()),
            Transport::Tcp | Transport::DirectTls => None,
        };
        for s in &mut streams {
            match (transport, &carrier) {
                (Transport::DirectTls, _) => s.start_tls(),
                (_, Some(_)) => s.start_carried(),
                (_, None) => {}
            }
        }
        if let Some(carrier) = carrier {
            let [first, _] = &mut **levels.get_or_insert_with(Box::<[Level; 2]>::default);
            first.stack.push(carrier);
            first.handoff = Some(Handoff::Carried);
        }
        Session {
            streams,
            levels,
            keys: options.keys.clone(),
            assumed_ns,
            negotiation: fsm::State::default(),
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

    /// In-order bytes of `dir`, the first at TCP offset `offset`: to the TCP-level
    /// stream, or once it handed off, up to the levels above.
    pub fn data(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut dyn Reports,
    ) {
        let handoff = self.stream(dir).handoff();
        if let Some(handoff) = handoff {
            self.stream(dir).hand_on(bytes.len());
            return self.up(handoff, dir, offset, bytes, at, limits, out);
        }
        self.routed(dir, out, |stream, route| {
            stream.feed(offset, bytes, at, limits, route);
        });
        let Some((tail_offset, tail)) = self.stream(dir).take_tail() else {
            return;
        };
        let Some(handoff) = self.stream(dir).handoff() else {
            return;
        };
        if handoff == Handoff::Tls {
            // Direct TLS found by content: the other side answers in TLS too.
            let other = self.stream(dir.reverse());
            if !other.started() {
                other.start_tls();
            }
        }
        self.up(handoff, dir, tail_offset, &tail, at, limits, out);
    }

    /// Bytes a TCP-level stream handed off, to the first level.
    #[allow(clippy::too_many_arguments)]
    fn up(
        &mut self,
        handoff: Handoff,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut dyn Reports,
    ) {
        let (streams, levels, cx) = self.split(limits);
        let up = Up {
            dir,
            offset,
            bytes,
            at,
            below_decrypts: false,
        };
        hand_up(handoff, dir.of_mut(streams), levels, up, &cx, out);
    }

    /// The TCP streams, the levels above (made if need be) and what their work needs.
    fn split<'a>(
        &'a mut self,
        limits: &'a Limits,
    ) -> (&'a mut [Stream; 2], &'a mut [Level; 2], Cx<'a>) {
        let Session {
            streams,
            levels,
            keys,
            settings,
            keep_xml,
            ..
        } = self;
        let cx = Cx {
            limits,
            settings: *settings,
            keep_xml: *keep_xml,
            keys,
        };
        (streams, levels.get_or_insert_with(Box::default), cx)
    }

    /// The levels above TCP, none before the first hand-off.
    fn levels(&self) -> &[Level] {
        self.levels.as_deref().map_or(&[], |l| l.as_slice())
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
        if self.stream(dir).handoff().is_none() || self.levels.is_none() {
            return;
        }
        let (_, [level, above @ ..], cx) = self.split(limits);
        if level.stack.is_empty() {
            return;
        }
        let (stack, mut top) = parts(level, above, false, &cx, out);
        stack.gap(dir, len, limits, false, &mut top);
    }

    /// Runs `f` on the stream of `dir` with its reports routed to `out` through the
    /// negotiation ([`fsm::next`]), then makes the switch it asked for: after a
    /// server's `<proceed/>` the client's next bytes are TLS (RFC 6120 §5.4.3.3),
    /// after its `<compressed/>` compressed (XEP-0138 §6).
    fn routed(
        &mut self,
        dir: Direction,
        out: &mut dyn Reports,
        f: impl FnOnce(&mut Stream, &mut dyn stream::Out),
    ) {
        let stream = dir.of_mut(&mut self.streams);
        let mut route = Route {
            dir,
            state: &mut self.negotiation,
            switches: Vec::new(),
            out,
        };
        f(stream, &mut route);
        let [client, server] = &mut self.streams;
        for switch in route.switches {
            match switch {
                fsm::Switch::ClientToTls => client.start_tls(),
                fsm::Switch::ClientToCompressed => follow_compression(client, server),
            }
        }
    }

    /// The streams above the TCP level.
    fn upper_streams(&self) -> impl Iterator<Item = &Stream> {
        self.levels()
            .iter()
            .flat_map(|level| level.streams.iter().flatten())
    }

    /// Bytes of memory the session's boxes take (the levels above TCP with their
    /// streams, the stacks' layers), besides the session itself and its buffers for
    /// data to come: the flow table's estimate of it.
    pub fn resident_bytes(&self) -> usize {
        let levels = self
            .levels
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<[Level; 2]>());
        let layers = self
            .levels()
            .iter()
            .map(|l| l.stack.resident_bytes())
            .sum::<usize>();
        levels + layers
    }

    /// Bytes of memory held for data still to come: unfinished elements (at every
    /// level) and what the stacks' layers hold.
    pub fn held_bytes(&self) -> usize {
        let streams = self.streams.iter().map(Stream::held_bytes).sum::<usize>();
        let upper = self.upper_streams().map(Stream::held_bytes).sum::<usize>();
        let layers = self
            .levels()
            .iter()
            .map(|l| l.stack.held_bytes())
            .sum::<usize>();
        streams + upper + layers
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
        if self.levels.is_none() {
            return;
        }
        let (_, levels, cx) = self.split(limits);
        let mut decrypted = false;
        for level in levels.iter_mut() {
            decrypted |= level.stack.decrypts();
            let [c, s] = &mut level.streams;
            for (dir, stream) in [(Direction::ToServer, c), (Direction::ToClient, s)] {
                if let Some(stream) = stream {
                    let mut marked = Marked {
                        dir,
                        decrypted,
                        opens: None,
                        out: &mut *out,
                    };
                    stream.let_go(at, limits, &mut marked);
                }
            }
        }
        // The highest layers first.
        for k in (0..levels.len()).rev() {
            let (lower, above) = levels.split_at_mut(k + 1);
            let below = lower.iter().take(k).any(|l| l.stack.decrypts());
            if let Some(level) = lower.last_mut() {
                let (stack, mut top) = parts(level, above, below, &cx, &mut *out);
                stack.let_go(at, &mut top);
            }
        }
    }

    /// Byte counters per direction: the TCP stream's, what the streams above read,
    /// and what each layer counted.
    pub fn bytes(&self) -> (DirectionBytes, DirectionBytes) {
        (
            self.merged(Direction::ToServer),
            self.merged(Direction::ToClient),
        )
    }

    fn merged(&self, dir: Direction) -> DirectionBytes {
        let mut b = dir.of(&self.streams).totals();
        for level in self.levels() {
            if let Some(upper) = dir.of(&level.streams).as_ref().map(Stream::totals) {
                b.xml += upper.xml;
                b.whitespace += upper.whitespace;
                b.skipped += upper.skipped;
                b.unfinished += upper.unfinished;
            }
            level.stack.count(dir, &mut b);
        }
        b
    }

    /// What of `dir` is unfinished, in words (the element's name when known), for
    /// the anomaly at the end of a connection's analysis: the streams' from the
    /// bottom up, then each layer's ([`Stack::finish`]).
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
        stream(dir.of(&self.streams), "", &mut parts);
        let mut inside = Vec::new();
        for level in self.levels() {
            inside.push(match level.handoff {
                Some(Handoff::Compressed) => "inflated",
                _ => "decrypted",
            });
            if let Some(s) = dir.of(&level.streams) {
                stream(s, &format!(" ({})", inside.join(", ")), &mut parts);
            }
        }
        for level in self.levels() {
            level.stack.finish(dir, &mut parts);
        }
        parts
    }
}

/// Bytes a stream handed off: of `dir`, the first at `offset` of what it handed
/// off, arrived in the frame of `at`.
struct Up<'a> {
    dir: Direction,
    offset: u64,
    bytes: &'a [u8],
    at: At,
    /// A layer below decrypts.
    below_decrypts: bool,
}

/// Bytes that `stream` (on the level below `levels`) handed off, to the first of
/// `levels`: its stack is built for `handoff` at the first bytes. What cannot be
/// followed (no level left, a level built for another layer, TLS inside TLS) is
/// counted as skipped.
fn hand_up(
    handoff: Handoff,
    stream: &mut Stream,
    levels: &mut [Level],
    up: Up<'_>,
    cx: &Cx<'_>,
    out: &mut dyn Reports,
) {
    let Some((level, above)) = levels.split_first_mut() else {
        stream.bytes.skipped += up.bytes.len() as u64;
        return;
    };
    let followed = match level.handoff {
        None => !(handoff == Handoff::Tls && up.below_decrypts),
        Some(built) => built == handoff,
    };
    if !followed {
        stream.bytes.skipped += up.bytes.len() as u64;
        return;
    }
    if level.handoff.is_none() {
        level.handoff = Some(handoff);
        for layer in layers_for(handoff, cx.keys) {
            level.stack.push(layer);
        }
    }
    let (stack, mut top) = parts(level, above, up.below_decrypts, cx, out);
    let Up {
        dir,
        offset,
        bytes,
        at,
        below_decrypts,
    } = up;
    stack.feed(dir, offset, bytes, at, cx.limits, below_decrypts, &mut top);
}

/// The top of one level's stack: its layers' events as they are, and what the
/// highest layer unwraps into the level's stream of its direction.
struct Top<'a, 'b> {
    handoff: Option<Handoff>,
    streams: &'a mut [Option<Stream>; 2],
    opens: &'a mut [u32; 2],
    /// The levels above this one.
    above: &'a mut [Level],
    /// This level's streams are decrypted.
    decrypted: bool,
    cx: &'a Cx<'b>,
    out: &'a mut dyn Reports,
}

/// A level's stack, and the top its output goes to; `below_decrypts` if a layer
/// on a lower level decrypts.
fn parts<'a, 'b>(
    level: &'a mut Level,
    above: &'a mut [Level],
    below_decrypts: bool,
    cx: &'a Cx<'b>,
    out: &'a mut dyn Reports,
) -> (&'a mut Stack, Top<'a, 'b>) {
    let Level {
        handoff,
        stack,
        streams,
        opens,
    } = level;
    let top = Top {
        handoff: *handoff,
        streams,
        opens,
        above,
        decrypted: below_decrypts || stack.decrypts(),
        cx,
        out,
    };
    (stack, top)
}

impl Top<'_, '_> {
    /// Bytes or elements for this level's stream of `dir`, made at its first bytes;
    /// what it hands off goes a level up.
    fn read_up(&mut self, dir: Direction, bytes: &[u8], at: At, framed: bool) {
        let cx = self.cx;
        let inflated = self.handoff == Some(Handoff::Compressed);
        let stream = dir.of_mut(self.streams).get_or_insert_with(|| {
            let mut stream = Stream::new(cx.limits, cx.keep_xml, cx.settings);
            if framed {
                stream.start_framed();
            }
            if inflated {
                stream.forbid_compression();
            }
            stream
        });
        if let Some(handoff) = stream.handoff() {
            let offset = stream.hand_on(bytes.len());
            let below = self.decrypted;
            let up = Up {
                dir,
                offset,
                bytes,
                at,
                below_decrypts: below,
            };
            return hand_up(handoff, stream, self.above, up, cx, self.out);
        }
        let offset = stream.bytes.payload;
        let mut marked = Marked {
            dir,
            decrypted: self.decrypted,
            opens: framed.then(|| dir.of_mut(self.opens)),
            out: &mut *self.out,
        };
        stream.feed(offset, bytes, at, cx.limits, &mut marked);
        let tail = stream.take_tail();
        let handoff = stream.handoff();
        if let [Some(client), Some(server)] = &mut *self.streams {
            follow_compression(client, server);
        }
        if let (Some((offset, tail)), Some(handoff), Some(stream)) =
            (tail, handoff, dir.of_mut(self.streams))
        {
            let below = self.decrypted;
            let up = Up {
                dir,
                offset,
                bytes: &tail,
                at,
                below_decrypts: below,
            };
            hand_up(handoff, stream, self.above, up, cx, self.out);
        }
    }
}

impl layer::Out for Top<'_, '_> {
    fn event(&mut self, dir: Direction, pos: Position, kind: EventKind) {
        self.out.report(dir, (pos, kind));
    }

    /// A byte stream with its own stream header: TLS plaintext, inflated bytes.
    fn bytes(&mut self, dir: Direction, bytes: &[u8], at: At) {
        self.read_up(dir, bytes, at, false);
    }

    /// Elements of a stream without header (WebSocket, BOSH), whose `<open/>` after
    /// the first is a restart (RFC 7395 §3.5, after TLS or SASL).
    fn elements(&mut self, dir: Direction, bytes: &[u8], at: At) {
        self.read_up(dir, bytes, at, true);
    }

    fn lost(&mut self, dir: Direction) {
        if let Some(stream) = dir.of_mut(self.streams) {
            stream.discard_partial();
        }
    }
}
/// One direction's reports on their way out through the negotiation: its
/// anomalies reported, its switches kept for the caller to make once the bytes at
/// hand are read.
struct Route<'a> {
    dir: Direction,
    state: &'a mut fsm::State,
    switches: Vec<fsm::Switch>,
    out: &'a mut dyn Reports,
}

impl stream::Out for Route<'_> {
    fn push(&mut self, (pos, kind): Report) {
        let step = fsm::next(*self.state, self.dir, &kind);
        *self.state = step.state;
        if let Some(anomaly) = step.anomaly {
            self.out.report(self.dir, (pos, flagged(anomaly)));
        }
        self.switches.extend(step.switch);
        self.out.report(self.dir, (pos, kind));
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

/// The words for an anomaly the negotiation flags.
fn flagged(anomaly: Anomaly) -> EventKind {
    let detail = match anomaly {
        Anomaly::UnexpectedProceed => "<proceed/> without a <starttls/> from the client",
        _ => "out of order in the negotiation",
    };
    EventKind::Anomaly {
        anomaly,
        detail: detail.into(),
    }
}
