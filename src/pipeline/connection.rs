//! What happens to one connection's segments: reassembly, content detection, the
//! XMPP session, and the flow's start and end events.
//!
//! Input: a decoded segment and its flow; output: events appended to a list. The
//! reassemblers hand their bytes straight to the session (no copy) through [`Conn`],
//! a view of the rest of the flow taken while the reassemblers are borrowed.

use super::Config;
use crate::decode::Segment;
use crate::flow::{Arrival, Class, Delivery, Flow, Reassembler};
use crate::model::At;
use crate::model::{
    Anomaly, DetectedBy, Direction, EndReason, Event, EventKind, FlowId, Position, RoleSource,
};
use crate::session::{Report, Reports, Session, Transport};
use crate::status::Status;
use crate::transport::detect::{Held, Verdict};
use crate::transport::layer::flow_position;
use std::net::SocketAddr;

/// What a flow's bytes are, as far as we know.
pub(super) enum App {
    /// Unknown port: first bytes of each side, kept until we can tell.
    Undecided(Held),
    /// XMPP (reported with `flow_start`) that has sent no payload yet: the session
    /// and its parsers are made from this on the first byte or gap, so a SYN flood
    /// costs no parser state.
    Pending(Pending),
    Xmpp(Box<Session>),
    /// Not XMPP: the table turns the flow into a passed entry after this packet.
    Ignored,
    /// Reported as ended: the table keeps a passed entry so late packets (final
    /// ACKs, TLS alerts after FIN) do not open a new flow. A new SYN replaces it.
    Closed,
}

/// How the session of a [`App::Pending`] flow will start.
pub(super) struct Pending {
    transport: Transport,
    assumed_ns: &'static str,
}

impl App {
    pub(super) fn undecided() -> App {
        App::Undecided(Held::default())
    }

    /// The flow's place in the table's eviction order.
    pub(super) fn class(&self) -> Class {
        match self {
            App::Undecided(_) => Class::Undecided,
            App::Pending(_) => Class::Quiet,
            App::Xmpp(_) => Class::Active,
            App::Ignored | App::Closed => Class::Passed,
        }
    }

    /// Whether the flow was reported (`flow_start`), so its end must be too.
    pub(super) fn is_reported(&self) -> bool {
        matches!(self, App::Pending(_) | App::Xmpp(_))
    }

    /// Bytes the state owns besides buffers for data to come (counted apart, in
    /// `held_bytes`): the session and the boxes it made.
    pub(super) fn resident_bytes(&self) -> usize {
        match self {
            App::Xmpp(session) => std::mem::size_of::<Session>() + session.resident_bytes(),
            _ => 0,
        }
    }
}

/// The flow minus its reassemblers.
struct Conn<'a> {
    id: FlowId,
    endpoints: [SocketAddr; 2],
    client: &'a mut Option<(usize, RoleSource)>,
    app: &'a mut App,
    /// Whether each side's SYN was seen; without it the capture joined mid-stream.
    syn_seen: [bool; 2],
}

pub(super) fn flow_level(flow: FlowId, at: At, direction: Direction, kind: EventKind) -> Event {
    to_event(flow, direction, (flow_position(at), kind))
}

/// A session's reports as the connection's events.
struct ToEvents<'a> {
    id: FlowId,
    events: &'a mut Vec<Event>,
}

impl Reports for ToEvents<'_> {
    fn report(&mut self, dir: Direction, report: Report) {
        self.events.push(to_event(self.id, dir, report));
    }
}

fn to_event(flow: FlowId, direction: Direction, (pos, kind): Report) -> Event {
    let Position {
        time,
        frame,
        offset,
        size,
        decrypted,
    } = pos;
    Event {
        time,
        flow,
        direction,
        frame,
        offset,
        size,
        decrypted,
        kind,
    }
}

fn side_of<T>(pair: &[T; 2], side: usize) -> &T {
    let [a, b] = pair;
    if side == 0 {
        a
    } else {
        b
    }
}

/// Roles from the SYN, else from a well-known port; XMPP by port, else undecided.
pub(super) fn classify_new(
    flow: &mut Flow<App>,
    seg: &Segment<'_>,
    config: &Config,
    at: At,
    events: &mut Vec<Event>,
) {
    let is_port = |p: u16| config.ports.contains(&p);
    if seg.syn {
        flow.client = Some((usize::from(seg.ack.is_some()), RoleSource::Syn));
    } else if is_port(seg.dst.port()) {
        flow.client = Some((0, RoleSource::Port));
    } else if is_port(seg.src.port()) {
        flow.client = Some((1, RoleSource::Port));
    }
    if is_port(seg.src.port()) || is_port(seg.dst.port()) {
        let mut conn = conn(flow, [seg.syn; 2]);
        conn.start_session(DetectedBy::Port, !seg.syn, config, at, events);
    }
}

fn conn(flow: &mut Flow<App>, syn_seen: [bool; 2]) -> Conn<'_> {
    split(flow, syn_seen).1
}

/// The reassemblers, and the rest of the flow as a [`Conn`], borrowed apart.
fn split(flow: &mut Flow<App>, syn_seen: [bool; 2]) -> (&mut [Reassembler; 2], Conn<'_>) {
    let Flow {
        id,
        endpoints,
        client,
        sent,
        app,
        ..
    } = flow;
    (
        sent,
        Conn {
            id: *id,
            endpoints: *endpoints,
            client,
            app,
            syn_seen,
        },
    )
}

/// Feeds one segment to the sender's reassembler, the peer's ACK to the other's.
pub(super) fn segment(
    flow: &mut Flow<App>,
    seg: &Segment<'_>,
    config: &Config,
    at: At,
    events: &mut Vec<Event>,
) {
    if matches!(flow.app, App::Ignored | App::Closed) {
        flow.rst |= seg.rst;
        return;
    }
    let sender = flow.sender_index(seg.src);
    if seg.syn && flow.client.is_none() {
        let client = if seg.ack.is_none() {
            sender
        } else {
            1 - sender
        };
        flow.client = Some((client, RoleSource::Syn));
    }
    let mut syn_seen = [flow.sent[0].saw_syn, flow.sent[1].saw_syn];
    if seg.syn {
        syn_seen = if sender == 0 {
            [true, syn_seen[1]]
        } else {
            [syn_seen[0], true]
        };
    }
    let arrival = Arrival {
        seq: seg.seq,
        syn: seg.syn,
        fin: seg.fin,
        payload: seg.payload,
        missing: seg.missing,
        frame: at.frame,
        time: at.time,
    };
    let (sent, mut conn) = split(flow, syn_seen);
    let [a, b] = sent;
    let (mine, theirs) = if sender == 0 { (a, b) } else { (b, a) };
    mine.feed(arrival, &config.limits, &mut |d| {
        conn.delivery(sender, d, config, events)
    });
    if let Some(ack) = seg.ack {
        let other = 1 - sender;
        theirs.peer_acked(ack, at.frame, at.time, &mut |d| {
            conn.delivery(other, d, config, events)
        });
    }
    if seg.fin {
        flow.mark_fin(sender);
    }
    flow.rst |= seg.rst;
}

/// Bytes of memory the flow holds for data still to come (out-of-order segments,
/// sniffed bytes, the session's buffers): what counts against
/// `Limits::max_buffered_bytes`.
pub(super) fn held_bytes(flow: &Flow<App>) -> usize {
    let waiting = flow
        .sent
        .iter()
        .map(Reassembler::waiting_bytes)
        .sum::<usize>();
    waiting
        + match &flow.app {
            App::Undecided(held) => held.capacity(),
            App::Xmpp(session) => session.held_bytes(),
            App::Pending(_) | App::Ignored | App::Closed => 0,
        }
}

/// The bytes held for all connections exceeded their budget: this flow lets go of
/// what it holds. Holes in reassembly become gaps (what waited behind them is
/// delivered), then the session frees its buffers; a flow still being sniffed on an
/// unknown port is given up (not XMPP as far as we can tell).
pub(super) fn let_go(flow: &mut Flow<App>, config: &Config, at: At, events: &mut Vec<Event>) {
    let syn_seen = [flow.sent[0].saw_syn, flow.sent[1].saw_syn];
    let (sent, mut conn) = split(flow, syn_seen);
    for (side, reassembler) in sent.iter_mut().enumerate() {
        reassembler.give_up_holes(at.frame, at.time, &mut |d| {
            conn.delivery(side, d, config, events)
        });
    }
    match &mut flow.app {
        App::Undecided(_) => flow.app = App::Ignored,
        App::Xmpp(session) => {
            let mut reports = ToEvents {
                id: flow.id,
                events,
            };
            session.let_go(at, &config.limits, &mut reports);
        }
        App::Pending(_) | App::Ignored | App::Closed => {}
    }
}

/// Flushes what waits in reassembly and reports the flow's end with its counters.
pub(super) fn end(
    flow: &mut Flow<App>,
    reason: EndReason,
    config: &Config,
    at: At,
    events: &mut Vec<Event>,
) {
    let syn_seen = [flow.sent[0].saw_syn, flow.sent[1].saw_syn];
    let (sent, mut conn) = split(flow, syn_seen);
    for (side, reassembler) in sent.iter_mut().enumerate() {
        reassembler.flush(at.frame, at.time, &mut |d| {
            conn.delivery(side, d, config, events)
        });
    }
    if let App::Xmpp(session) = &flow.app {
        unfinished_anomalies(flow.id, session, reason, at, events);
    }
    let bytes = match &flow.app {
        App::Xmpp(session) => Some(session.bytes()),
        App::Pending(_) => Some(Default::default()),
        _ => None,
    };
    if let Some((to_server, to_client)) = bytes {
        let kind = EventKind::FlowEnd {
            reason,
            to_server,
            to_client,
        };
        events.push(flow_level(flow.id, at, Direction::ToServer, kind));
    }
}

/// Every byte is parsed, skipped, lost or unfinished: what is unfinished when the
/// analysis of a connection ends is said, per direction, before its `flow_end`.
fn unfinished_anomalies(
    id: FlowId,
    session: &Session,
    reason: EndReason,
    at: At,
    events: &mut Vec<Event>,
) {
    let when = match reason {
        EndReason::CaptureEnd => "at the end of the capture",
        EndReason::Fin => "when the connection closed",
        EndReason::Rst => "when the connection was reset",
        EndReason::Idle => "when the connection timed out",
        EndReason::Evicted => "when the connection was evicted",
    };
    let (to_server, to_client) = session.bytes();
    for (dir, bytes) in [
        (Direction::ToServer, to_server),
        (Direction::ToClient, to_client),
    ] {
        let parts = session.unfinished_parts(dir);
        if parts.is_empty() && bytes.unfinished == 0 {
            continue;
        }
        let parts = parts.join(", ");
        let mut event = flow_level(
            id,
            at,
            dir,
            EventKind::Anomaly {
                anomaly: Anomaly::UnfinishedAtEnd,
                detail: format!("{parts}: never completed {when}"),
            },
        );
        event.size = bytes.unfinished;
        events.push(event);
    }
}

impl Conn<'_> {
    fn direction(&self, side: usize) -> Direction {
        match *self.client {
            Some((client, _)) if client != side => Direction::ToClient,
            _ => Direction::ToServer,
        }
    }

    fn delivery(&mut self, side: usize, d: Delivery<'_>, config: &Config, events: &mut Vec<Event>) {
        match self.app {
            App::Undecided(_) => self.sniff(side, d, config, events),
            App::Pending(_) | App::Xmpp(_) => self.deliver(side, d, config, events),
            App::Ignored | App::Closed => {}
        }
    }

    fn start_session(
        &mut self,
        by: DetectedBy,
        midstream: bool,
        config: &Config,
        at: At,
        events: &mut Vec<Event>,
    ) {
        let Some((client, roles_by)) = *self.client else {
            return;
        };
        let server = *side_of(&self.endpoints, 1 - client);
        let assumed_ns = match server.port() {
            5269 | 5270 => crate::xml::ns::SERVER,
            5347 => crate::xml::ns::COMPONENT_ACCEPT,
            _ => crate::xml::ns::CLIENT,
        };
        let transport = if by == DetectedBy::Websocket {
            Transport::Websocket
        } else if by == DetectedBy::Bosh {
            Transport::Bosh
        } else if by == DetectedBy::Port && config.direct_tls_ports.contains(&server.port()) {
            Transport::DirectTls
        } else {
            Transport::Tcp
        };
        *self.app = App::Pending(Pending {
            transport,
            assumed_ns,
        });
        let kind = EventKind::FlowStart {
            client: side_of(&self.endpoints, client).to_string(),
            server: server.to_string(),
            detected_by: by,
            roles_by,
            midstream,
        };
        events.push(flow_level(self.id, at, Direction::ToServer, kind));
    }

    fn deliver(&mut self, side: usize, d: Delivery<'_>, config: &Config, events: &mut Vec<Event>) {
        let dir = self.direction(side);
        let joined_midstream = !*side_of(&self.syn_seen, side);
        if let App::Pending(Pending {
            transport,
            assumed_ns,
        }) = *self.app
        {
            let options = crate::session::Options {
                show_secrets: config.show_secrets,
                digests: config.presence_digests,
                keep_xml: config.keep_xml,
                keys: config.keys.clone(),
                details: config.stanza_details,
                scan: config.xml_scan,
            };
            let session = Session::new(&config.limits, &options, transport, assumed_ns);
            *self.app = App::Xmpp(Box::new(session));
        }
        let App::Xmpp(session) = &mut *self.app else {
            return;
        };
        let mut reports = ToEvents {
            id: self.id,
            events,
        };
        match d {
            Delivery::Data {
                offset,
                bytes,
                frame,
                time,
            } => {
                if joined_midstream {
                    session.start_midstream(dir, offset.0);
                }
                session.data(
                    dir,
                    offset.0,
                    bytes,
                    At { frame, time },
                    &config.limits,
                    &mut reports,
                );
            }
            Delivery::Gap {
                offset,
                len,
                frame,
                time,
            } => session.gap(
                dir,
                offset.0,
                len,
                At { frame, time },
                &config.limits,
                &mut reports,
            ),
            Delivery::Anomaly {
                anomaly,
                detail,
                frame,
                time,
            } => {
                let pos = flow_position(At { frame, time });
                reports.report(dir, (pos, EventKind::Anomaly { anomaly, detail }));
            }
        }
    }

    /// Content detection on an unknown port; on success the held bytes are replayed.
    fn sniff(&mut self, side: usize, d: Delivery<'_>, config: &Config, events: &mut Vec<Event>) {
        let App::Undecided(held) = &mut *self.app else {
            return;
        };
        let Delivery::Data {
            bytes, frame, time, ..
        } = d
        else {
            *self.app = App::Ignored; // a gap or fault before we could tell
            return;
        };
        let at = At { frame, time };
        let (verdict, added) = held.push(side, bytes, config.limits.max_detect_bytes);
        match verdict {
            Status::Partial => {}
            Status::Complete(Verdict::NotXmpp) => *self.app = App::Ignored,
            Status::Complete(
                verdict @ (Verdict::Xmpp | Verdict::Websocket | Verdict::Bosh | Verdict::DirectTls),
            ) => {
                let held = held.take();
                let (by, roles) = match verdict {
                    Verdict::Websocket => (DetectedBy::Websocket, RoleSource::HttpRequest),
                    Verdict::Bosh => (DetectedBy::Bosh, RoleSource::HttpRequest),
                    Verdict::DirectTls => (DetectedBy::Alpn, RoleSource::ClientHello),
                    _ => (DetectedBy::Content, RoleSource::StreamHeader),
                };
                if self.client.is_none() {
                    *self.client = Some((side, roles));
                }
                let midstream = !self.syn_seen.iter().any(|s| *s);
                self.start_session(by, midstream, config, at, events);
                // Replay what was held from the start of each direction (offset 0).
                for (s, mut data) in held.into_iter().enumerate() {
                    if s == side {
                        data.extend_from_slice(bytes.get(added..).unwrap_or_default());
                    }
                    if !data.is_empty() {
                        let replay = Delivery::Data {
                            offset: crate::model::StreamOffset(0),
                            bytes: &data,
                            frame,
                            time,
                        };
                        self.deliver(s, replay, config, events);
                    }
                }
            }
        }
    }
}
