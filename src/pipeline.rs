//! The only module that knows every stage: capture → decode → flow → session → sink.
//!
//! Input: a capture reader and a [`Config`]; output: events to a [`Sink`] in capture
//! order, then a [`Summary`]. Flows are reported when they are recognised as XMPP
//! (by port, or by content on other ports) and end with a `flow_end` event.

use crate::capture::{CaptureError, Packet, Reader};
use crate::decode::{decode, Segment};
use crate::flow::{Arrival, Delivery, Flow, Lookup, Table};
use crate::limits::Limits;
use crate::model::{
    Anomaly, DetectedBy, Direction, EndReason, Event, EventKind, FlowId, FrameNo, Position,
    RoleSource, Timestamp,
};
use crate::output::{Sink, Summary};
use crate::session::detect::{sniff, Verdict};
use crate::session::{flow_position, At, Report, Session};
use std::io;

/// Ports on which a flow is XMPP without looking at its bytes.
pub const DEFAULT_PORTS: &[u16] = &[5222, 5269, 5223, 5270, 5347];
/// Ports where TLS starts with the first byte (XEP-0368).
pub const DIRECT_TLS_PORTS: &[u16] = &[5223, 5270];
/// How often, in capture seconds, idle flows are looked for.
const SWEEP_INTERVAL_SECS: i64 = 60;

/// What the analysis needs to know; built by the CLI.
#[derive(Debug, Clone)]
pub struct Config {
    pub ports: Vec<u16>,
    pub direct_tls_ports: Vec<u16>,
    pub limits: Limits,
    pub show_secrets: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ports: DEFAULT_PORTS.to_vec(),
            direct_tls_ports: DIRECT_TLS_PORTS.to_vec(),
            limits: Limits::default(),
            show_secrets: false,
        }
    }
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
}

/// What a flow's bytes are, as far as we know.
enum App {
    /// Unknown port: first bytes of each side, kept until we can tell.
    Undecided([Vec<u8>; 2]),
    Xmpp(Box<Session>),
    Ignored,
    /// Reported as ended; kept so late packets (final ACKs, TLS alerts after FIN) do
    /// not open a new flow. A new SYN replaces it.
    Closed,
}

/// The analysis state across packets.
pub struct Pipeline {
    config: Config,
    table: Table<App>,
    summary: Summary,
    events: Vec<Event>,
    flow_limit_reported: bool,
    last: At,
    next_sweep: i64,
}

impl Pipeline {
    pub fn new(config: Config) -> Pipeline {
        Pipeline {
            config,
            table: Table::default(),
            summary: Summary::default(),
            events: Vec::new(),
            flow_limit_reported: false,
            last: At {
                frame: FrameNo(0),
                time: Timestamp(0),
            },
            next_sweep: i64::MIN,
        }
    }

    /// Reads every packet, sends events to `sink`, and returns the totals. A capture
    /// error after some packets still reports the flows seen so far.
    pub fn run(mut self, reader: &mut Reader, sink: &mut dyn Sink) -> Result<Summary, RunError> {
        let result = loop {
            match reader.next_packet() {
                Ok(Some(packet)) => {
                    self.packet(&packet);
                    self.flush(sink)?;
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.finish();
        self.flush(sink)?;
        sink.summary(&self.summary)?;
        result?;
        Ok(self.summary)
    }

    /// Sends the events produced so far (by [`Pipeline::packet`] and
    /// [`Pipeline::finish`]) to `sink`; for callers that feed packets themselves.
    pub fn drain_into(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        self.flush(sink)
    }

    fn flush(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        for event in self.events.drain(..) {
            match &event.kind {
                EventKind::StreamHeader { .. } => self.summary.streams += 1,
                EventKind::Message(_) => self.summary.messages += 1,
                EventKind::Presence(_) => self.summary.presences += 1,
                EventKind::Iq(_) => self.summary.iqs += 1,
                EventKind::Anomaly { .. } => self.summary.anomalies += 1,
                EventKind::FlowStart { .. } => self.summary.xmpp_flows += 1,
                _ => {}
            }
            sink.event(&event)?;
        }
        self.summary.stanzas = self.summary.messages + self.summary.presences + self.summary.iqs;
        Ok(())
    }

    /// One packet through decode and the flow table.
    pub fn packet(&mut self, packet: &Packet<'_>) {
        self.summary.packets += 1;
        let at = At {
            frame: packet.frame,
            time: packet.time,
        };
        self.last = at;
        self.sweep_idle(at);
        let segment = match decode(packet.linktype, packet.data) {
            Ok(Some(segment)) => segment,
            Ok(None) => return,
            Err(_) => {
                self.summary.undecoded_packets += 1;
                return;
            }
        };
        // A connection is tracked from its SYN or its first payload; bare ACKs and
        // resets of unknown connections create nothing.
        if !segment.syn
            && segment.payload.is_empty()
            && segment.missing == 0
            && !self.has_flow(&segment)
        {
            return;
        }
        let config = &self.config;
        let lookup = self.table.lookup(
            segment.src,
            segment.dst,
            at.time,
            config.limits.max_flows,
            || App::Undecided([Vec::new(), Vec::new()]),
        );
        let flow = match lookup {
            Lookup::Existing(flow) if matches!(flow.app, App::Closed) => {
                if segment.syn && segment.ack.is_none() {
                    self.table.remove(segment.src, segment.dst);
                    self.summary.packets -= 1; // counted again below
                    return self.packet(packet);
                }
                flow.last_seen = at.time;
                return;
            }
            Lookup::Existing(flow) => flow,
            Lookup::Created(flow) => {
                self.summary.tcp_flows += 1;
                classify_new_flow(flow, &segment, config, at, &mut self.events);
                flow
            }
            Lookup::Full => {
                if !self.flow_limit_reported {
                    self.flow_limit_reported = true;
                    self.events.push(flow_level(
                        FlowId(0),
                        at,
                        Direction::ToServer,
                        EventKind::Anomaly {
                            anomaly: Anomaly::FlowLimit,
                            detail: format!(
                                "{} flows tracked; new connections are ignored",
                                config.limits.max_flows
                            ),
                        },
                    ));
                }
                return;
            }
        };
        flow.last_seen = at.time;
        segment_into_flow(flow, &segment, config, at, &mut self.events);
        if flow.is_closed() && (flow.rst || flow.sent.iter().all(|r| r.is_finished())) {
            let reason = if flow.rst {
                EndReason::Rst
            } else {
                EndReason::Fin
            };
            end_flow(flow, reason, config, at, &mut self.events);
            flow.app = App::Closed;
        }
    }

    fn has_flow(&mut self, segment: &Segment<'_>) -> bool {
        matches!(
            self.table
                .lookup(segment.src, segment.dst, Timestamp(0), 0, || App::Ignored),
            Lookup::Existing(_)
        )
    }

    fn sweep_idle(&mut self, at: At) {
        let now = at.time.secs();
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(SWEEP_INTERVAL_SECS);
        let timeout = i64::try_from(self.config.limits.flow_idle_timeout_secs).unwrap_or(i64::MAX);
        let expired = self
            .table
            .drain_where(|f| now.saturating_sub(f.last_seen.secs()) > timeout);
        for mut flow in expired {
            end_flow(
                &mut flow,
                EndReason::Idle,
                &self.config,
                at,
                &mut self.events,
            );
        }
    }

    /// End of capture: every open flow is flushed and ended, in flow order.
    pub fn finish(&mut self) {
        let at = self.last;
        for mut flow in self.table.drain_where(|_| true) {
            end_flow(
                &mut flow,
                EndReason::CaptureEnd,
                &self.config,
                at,
                &mut self.events,
            );
        }
    }
}

fn flow_level(flow: FlowId, at: At, direction: Direction, kind: EventKind) -> Event {
    let pos = flow_position(at);
    Event {
        time: pos.time,
        flow,
        direction,
        frame: pos.frame,
        offset: pos.offset,
        size: 0,
        decrypted: false,
        kind,
    }
}

/// Roles from the SYN, else from a well-known port; XMPP by port, else undecided.
fn classify_new_flow(
    flow: &mut Flow<App>,
    seg: &Segment<'_>,
    config: &Config,
    at: At,
    events: &mut Vec<Event>,
) {
    let is_port = |p: u16| config.ports.contains(&p);
    if seg.syn {
        let sender_is_client = seg.ack.is_none();
        flow.client = Some((if sender_is_client { 0 } else { 1 }, RoleSource::Syn));
    } else if is_port(seg.dst.port()) {
        flow.client = Some((0, RoleSource::Port));
    } else if is_port(seg.src.port()) {
        flow.client = Some((1, RoleSource::Port));
    }
    if is_port(seg.src.port()) || is_port(seg.dst.port()) {
        let Some((client, _)) = flow.client else {
            return;
        };
        let server_port = flow.endpoint(1 - client).port();
        let direct_tls = config.direct_tls_ports.contains(&server_port);
        start_session(
            flow,
            DetectedBy::Port,
            direct_tls,
            !seg.syn,
            config,
            at,
            events,
        );
    }
}

fn start_session(
    flow: &mut Flow<App>,
    by: DetectedBy,
    direct_tls: bool,
    midstream: bool,
    config: &Config,
    at: At,
    events: &mut Vec<Event>,
) {
    let Some((client, roles_by)) = flow.client else {
        return;
    };
    let assumed_ns = match flow.endpoint(1 - client).port() {
        5269 | 5270 => crate::xml::ns::SERVER,
        5347 => crate::xml::ns::COMPONENT_ACCEPT,
        _ => crate::xml::ns::CLIENT,
    };
    flow.app = App::Xmpp(Box::new(Session::new(
        &config.limits,
        config.show_secrets,
        direct_tls,
        assumed_ns,
    )));
    events.push(flow_level(
        flow.id,
        at,
        Direction::ToServer,
        EventKind::FlowStart {
            client: flow.endpoint(client).to_string(),
            server: flow.endpoint(1 - client).to_string(),
            detected_by: by,
            roles_by,
            midstream,
        },
    ));
}

fn direction_of(flow: &Flow<App>, sender: usize) -> Direction {
    match flow.client {
        Some((client, _)) if client != sender => Direction::ToClient,
        _ => Direction::ToServer,
    }
}

/// Feeds one segment to the sender's reassembler, the peer's ACK to the other's.
fn segment_into_flow(
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
        flow.client = Some((
            if seg.ack.is_none() {
                sender
            } else {
                1 - sender
            },
            RoleSource::Syn,
        ));
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
    let mut deliveries = Deliveries::default();
    flow.reassembler(sender)
        .feed(arrival, &config.limits, &mut |d| deliveries.push(d));
    if let Some(ack) = seg.ack {
        let other = 1 - sender;
        flow.reassembler(other)
            .peer_acked(ack, at.frame, at.time, &mut |d| {
                deliveries.push_from(other, d)
            });
    }
    deliveries.sender = sender;
    apply(flow, deliveries, config, events);
    if seg.fin {
        flow.mark_fin(sender);
    }
    flow.rst |= seg.rst;
}

/// Deliveries copied out of the reassembler so the session can be borrowed.
#[derive(Default)]
struct Deliveries {
    sender: usize,
    items: Vec<(Option<usize>, Owned)>,
}

enum Owned {
    Data(u64, Vec<u8>, At),
    Gap(u64, u64, At),
    Anomaly(Anomaly, String, At),
}

impl Deliveries {
    fn push(&mut self, d: Delivery<'_>) {
        self.items.push((None, owned(d)));
    }

    fn push_from(&mut self, side: usize, d: Delivery<'_>) {
        self.items.push((Some(side), owned(d)));
    }
}

fn owned(d: Delivery<'_>) -> Owned {
    match d {
        Delivery::Data {
            offset,
            bytes,
            frame,
            time,
        } => Owned::Data(offset.0, bytes.to_vec(), At { frame, time }),
        Delivery::Gap {
            offset,
            len,
            frame,
            time,
        } => Owned::Gap(offset.0, len, At { frame, time }),
        Delivery::Anomaly {
            anomaly,
            detail,
            frame,
            time,
        } => Owned::Anomaly(anomaly, detail, At { frame, time }),
    }
}

fn apply(flow: &mut Flow<App>, deliveries: Deliveries, config: &Config, events: &mut Vec<Event>) {
    for (side, item) in deliveries.items {
        let side = side.unwrap_or(deliveries.sender);
        if let App::Undecided(_) = flow.app {
            sniff_flow(flow, side, &item, config, events);
            continue;
        }
        deliver(flow, side, item, config, events);
    }
}

fn deliver(
    flow: &mut Flow<App>,
    side: usize,
    item: Owned,
    config: &Config,
    events: &mut Vec<Event>,
) {
    let dir = direction_of(flow, side);
    let midstream = flow.reassembler(side).midstream;
    let id = flow.id;
    let App::Xmpp(session) = &mut flow.app else {
        return;
    };
    let mut reports = Vec::new();
    match item {
        Owned::Data(offset, bytes, at) => {
            if midstream {
                session.start_midstream(dir, offset);
            }
            session.data(dir, offset, &bytes, at, &config.limits, &mut reports);
        }
        Owned::Gap(offset, len, at) => session.gap(dir, offset, len, at, &mut reports),
        Owned::Anomaly(anomaly, detail, at) => {
            reports.push((
                dir,
                (flow_position(at), EventKind::Anomaly { anomaly, detail }),
            ));
        }
    }
    events.extend(
        reports
            .into_iter()
            .map(|(dir, report)| to_event(id, dir, report)),
    );
}

fn to_event(flow: FlowId, direction: Direction, (pos, kind): Report) -> Event {
    let Position {
        time,
        frame,
        offset,
        size,
    } = pos;
    Event {
        time,
        flow,
        direction,
        frame,
        offset,
        size,
        decrypted: false,
        kind,
    }
}

/// Content detection on an unknown port; on success the buffered bytes are replayed.
fn sniff_flow(
    flow: &mut Flow<App>,
    side: usize,
    item: &Owned,
    config: &Config,
    events: &mut Vec<Event>,
) {
    let App::Undecided(buffers) = &mut flow.app else {
        return;
    };
    let Owned::Data(_, bytes, at) = item else {
        flow.app = App::Ignored; // a gap before we could tell
        return;
    };
    let Some(buffer) = buffers.get_mut(side) else {
        return;
    };
    let added = config
        .limits
        .max_detect_bytes
        .saturating_sub(buffer.len())
        .min(bytes.len());
    buffer.extend_from_slice(bytes.get(..added).unwrap_or_default());
    match sniff(buffer, config.limits.max_detect_bytes) {
        Verdict::NeedMore => {}
        Verdict::NotXmpp => flow.app = App::Ignored,
        Verdict::Xmpp => {
            let held = std::mem::take(buffers);
            if flow.client.is_none() {
                flow.client = Some((side, RoleSource::StreamHeader));
            }
            let midstream = flow.sent.iter().all(|r| !r.saw_syn);
            start_session(
                flow,
                DetectedBy::Content,
                false,
                midstream,
                config,
                *at,
                events,
            );
            // Replay what was held from the start of each direction (offset 0).
            for (s, mut data) in held.into_iter().enumerate() {
                if s == side {
                    data.extend_from_slice(bytes.get(added..).unwrap_or_default());
                }
                if !data.is_empty() {
                    deliver(flow, s, Owned::Data(0, data, *at), config, events);
                }
            }
        }
    }
}

fn end_flow(
    flow: &mut Flow<App>,
    reason: EndReason,
    config: &Config,
    at: At,
    events: &mut Vec<Event>,
) {
    for side in 0..2 {
        let mut deliveries = Deliveries {
            sender: side,
            items: Vec::new(),
        };
        flow.reassembler(side)
            .flush(at.frame, at.time, &mut |d| deliveries.push(d));
        apply(flow, deliveries, config, events);
    }
    if let App::Xmpp(session) = &flow.app {
        let (to_server, to_client) = session.bytes();
        events.push(flow_level(
            flow.id,
            at,
            Direction::ToServer,
            EventKind::FlowEnd {
                reason,
                to_server,
                to_client,
            },
        ));
    }
}
