//! The only module that knows every stage: capture → decode → flow → session → sink.
//!
//! Input: a capture reader and a [`Config`]; output: events to a [`Sink`] in capture
//! order, then a [`Summary`]. Flows are reported when they are recognised as XMPP
//! (by port, or by content on other ports) and end with a `flow_end` event.

use crate::capture::{CaptureError, Packet, Reader};
use crate::decode::decode;
use crate::flow::{Bounds, Class, Flags, Found, Table};
use crate::limits::{Limits, EMERGENCY_ENTER, EMERGENCY_LEAVE, EMERGENCY_SWEEP_SECS};
use crate::model::At;
use crate::model::{Anomaly, Direction, EndReason, Event, EventKind, FlowId, FrameNo, Timestamp};
use crate::sink::{Sink, Summary};
use crate::transport::tls::KeyStore;
use std::io;
use std::sync::Arc;

mod connection;
pub mod parallel;

use connection::{classify_new, end, flow_level, held_bytes, let_go, App};

/// Ports on which a flow is XMPP without looking at its bytes: c2s, s2s, their direct
/// TLS ports, components, and the HTTPS ports where prosody (5281) and ejabberd (5443)
/// serve XMPP over WebSocket and BOSH (read when a key log decrypts them).
pub const DEFAULT_PORTS: &[u16] = &[5222, 5269, 5223, 5270, 5347, 5281, 5443];
/// Ports where TLS starts with the first byte (XEP-0368, and HTTPS).
pub const DIRECT_TLS_PORTS: &[u16] = &[5223, 5270, 5281, 5443];
/// Events gathered at the end of the capture before they are handed on.
const FINISH_EMIT_EVENTS: usize = 4096;
/// How often, in capture seconds, idle flows are looked for.
const SWEEP_INTERVAL_SECS: i64 = 60;

/// What the analysis needs to know; built by the CLI.
#[derive(Debug, Clone)]
pub struct Config {
    pub ports: Vec<u16>,
    pub direct_tls_ports: Vec<u16>,
    pub limits: Limits,
    pub show_secrets: bool,
    /// TLS secrets from an NSS key log (`--keylog`, `SSLKEYLOGFILE`).
    pub keys: Option<Arc<KeyStore>>,
    /// Report each element's bytes as an `xml` event (transcripts, diagrams).
    pub keep_xml: bool,
    /// Threads for [`parallel::run`] (`-j`); 1 runs everything on the caller's.
    pub jobs: usize,
    /// Compute each presence's digest (`Stanza::digest`), which statistics, checks
    /// and NDJSON use; the text listing alone turns it off.
    pub presence_digests: bool,
    /// Each stanza's census detail (caps, software, binary payloads, nested
    /// namespaces), which statistics, NDJSON, Parquet and display filters use; the
    /// text listing alone turns it off.
    pub stanza_details: bool,
    /// How the element parser finds names, values and text: 16 bytes at a time
    /// (the default) or byte by byte, the reference the differential tests
    /// (`tests/blocks.rs`) compare it with.
    pub xml_scan: crate::xml::ScanMode,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ports: DEFAULT_PORTS.to_vec(),
            direct_tls_ports: DIRECT_TLS_PORTS.to_vec(),
            limits: Limits::default(),
            show_secrets: false,
            keys: None,
            keep_xml: false,
            jobs: 1,
            presence_digests: true,
            stanza_details: true,
            xml_scan: crate::xml::ScanMode::Blocks,
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

/// The analysis state across packets.
pub struct Pipeline {
    config: Config,
    table: Table<App>,
    summary: Summary,
    events: Vec<Event>,
    flow_limit_reported: bool,
    last: At,
    next_sweep: i64,
    /// One shard of a parallel run: idle sweeps come from the dispatcher, and new
    /// flows are recorded so flow numbers can be made global.
    shard: bool,
    created: Vec<FlowId>,
    /// Bytes held by all flows together (the sum of their `held`), kept within
    /// `Limits::max_buffered_bytes`.
    held: usize,
    /// Held bytes above which flows are made to let go: the budget, or, when the
    /// last pass could not get below it, a quarter of the budget more than what was
    /// left (so passes stay that many new bytes apart whatever the traffic).
    let_go_above: usize,
    /// The flow table is near its bounds: short idle timeouts, frequent sweeps.
    emergency: bool,
}

impl Pipeline {
    pub fn new(config: Config) -> Pipeline {
        let budget = config.limits.buffer_budget();
        let bounds = Bounds {
            max_entries: config.limits.max_flows,
            max_bytes: config.limits.max_flow_table_bytes,
        };
        Pipeline {
            config,
            table: Table::new(bounds),
            summary: Summary::default(),
            events: Vec::new(),
            flow_limit_reported: false,
            last: At {
                frame: FrameNo(0),
                time: Timestamp(0),
            },
            next_sweep: i64::MIN,
            shard: false,
            created: Vec::new(),
            held: 0,
            let_go_above: budget,
            emergency: false,
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
        self.finish_with(&mut |p| p.flush(sink))?;
        sink.summary(&self.summary)?;
        result?;
        Ok(self.summary)
    }

    /// Ends every flow, sends the remaining events and the summary to `sink`.
    pub fn finish_into(&mut self, sink: &mut dyn Sink) -> io::Result<Summary> {
        self.finish_with(&mut |p| p.flush(sink))?;
        sink.summary(&self.summary)?;
        Ok(self.summary.clone())
    }

    /// Sends the events produced so far (by [`Pipeline::packet`] and
    /// [`Pipeline::finish`]) to `sink`; for callers that feed packets themselves.
    pub fn drain_into(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        self.flush(sink)
    }

    fn flush(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        for event in self.events.drain(..) {
            Counts::of(&event.kind).add_to(&mut self.summary);
            sink.event(&event)?;
        }
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
        if !self.shard {
            self.sweep_idle(at);
        }
        let segment = match decode(packet.linktype, packet.data) {
            Ok(Some(segment)) => segment,
            Ok(None) => return,
            Err(_) => {
                self.summary.undecoded_packets += 1;
                return;
            }
        };
        let flags = Flags {
            syn: segment.syn,
            ack: segment.ack.is_some(),
            fin: segment.fin,
            rst: segment.rst,
        };
        let i = match self.table.find(segment.src, segment.dst, at.time, flags) {
            // Not XMPP, or reported ended: the lookup was all it costs.
            Found::Passed => return,
            Found::Tracked(i) => i,
            // A connection is tracked from its SYN or its first payload; bare ACKs and
            // resets of unknown connections create nothing.
            Found::Absent | Found::Reopened => {
                if !segment.syn && segment.payload.is_empty() && segment.missing == 0 {
                    return;
                }
                match self.create(&segment, at) {
                    Some(i) => i,
                    None => return,
                }
            }
        };
        let config = &self.config;
        let Some(flow) = self.table.flow_mut(i) else {
            return;
        };
        flow.last_seen = at.time;
        connection::segment(flow, &segment, config, at, &mut self.events);
        if flow.is_closed() && (flow.rst || flow.sent.iter().all(|r| r.is_finished())) {
            let reason = if flow.rst {
                EndReason::Rst
            } else {
                EndReason::Fin
            };
            end(flow, reason, config, at, &mut self.events);
            flow.app = App::Closed;
        }
        self.settle(i);
        if self.held > self.let_go_above {
            self.let_go_largest(at);
        }
    }

    /// After a flow's packet: a flow now known to be of no interest (not XMPP, or
    /// ended) becomes a passed entry and frees everything; any other has what it
    /// holds counted again.
    fn settle(&mut self, i: u32) {
        let Some(flow) = self.table.flow_mut(i) else {
            return;
        };
        match flow.app {
            App::Ignored | App::Closed => {
                self.held = self.held.saturating_sub(flow.held);
                let ended = matches!(flow.app, App::Closed);
                self.table.pass(i, ended);
            }
            _ => {
                recount(&mut self.held, flow);
                let resident = flow.app.resident_bytes();
                let class = flow.app.class();
                self.table.recount(i, resident);
                self.table.set_class(i, class);
            }
        }
    }

    /// A new connection in the table, room made by evicting what matters least
    /// (`flow::Class`): a connection on an XMPP port may evict XMPP connections
    /// (the longest idle), any other only what is not XMPP or has sent nothing.
    /// `None` when nothing can go.
    fn create(&mut self, segment: &crate::decode::Segment<'_>, at: At) -> Option<u32> {
        let on_port = self.config.ports.contains(&segment.src.port())
            || self.config.ports.contains(&segment.dst.port());
        let up_to = if on_port { Class::Active } else { Class::Quiet };
        let cost = std::mem::size_of::<crate::flow::Flow<App>>();
        while !self.table.has_room(cost) {
            let (removed, evicted) = self.table.evict(up_to);
            self.summary.evicted_flows += removed as u64;
            for flow in evicted {
                self.evicted(flow, at);
            }
            if removed == 0 {
                self.refuse(at);
                return None;
            }
        }
        self.update_emergency(at);
        let app = App::undecided();
        let i = self
            .table
            .insert(segment.src, segment.dst, at.time, app.class(), app);
        self.summary.tcp_flows += 1;
        let config = &self.config;
        let flow = self.table.flow_mut(i)?;
        if self.shard {
            self.created.push(flow.id);
        }
        classify_new(flow, segment, config, at, &mut self.events);
        let class = flow.app.class();
        self.table.set_class(i, class);
        Some(i)
    }

    /// The table is full of connections that matter more than a new one.
    fn refuse(&mut self, at: At) {
        if self.flow_limit_reported {
            return;
        }
        self.flow_limit_reported = true;
        let detail = format!(
            "flow table full ({} entries, {} bytes, bounds {} entries and {} bytes) of connections that matter more; new connections are ignored",
            self.table.len(),
            self.table.bytes(),
            self.config.limits.max_flows,
            self.config.limits.max_flow_table_bytes
        );
        self.events.push(flow_level(
            FlowId(0),
            at,
            Direction::ToServer,
            EventKind::Anomaly {
                anomaly: Anomaly::FlowLimit,
                detail,
            },
        ));
    }

    /// A connection evicted to make room: an XMPP one says so and ends its report.
    fn evicted(&mut self, mut flow: Box<crate::flow::Flow<App>>, at: At) {
        self.held = self.held.saturating_sub(flow.held);
        if !flow.app.is_reported() {
            return;
        }
        let detail = format!(
            "{} <-> {} evicted from the full flow table ({} entries, {} bytes); it held {} bytes",
            flow.endpoints[0],
            flow.endpoints[1],
            self.table.len(),
            self.table.bytes(),
            flow.held
        );
        self.events.push(flow_level(
            flow.id,
            at,
            Direction::ToServer,
            EventKind::Anomaly {
                anomaly: Anomaly::FlowEvicted,
                detail,
            },
        ));
        end(
            &mut flow,
            EndReason::Evicted,
            &self.config,
            at,
            &mut self.events,
        );
    }

    /// Emergency mode follows the table's usage: on at [`EMERGENCY_ENTER`], off
    /// below [`EMERGENCY_LEAVE`].
    fn update_emergency(&mut self, at: At) {
        let usage = self.table.usage();
        if !self.emergency && usage >= EMERGENCY_ENTER {
            self.emergency = true;
            self.summary.emergencies += 1;
            // Sweep soon with the short timeouts.
            self.next_sweep = self.next_sweep.min(at.time.secs());
        } else if self.emergency && usage < EMERGENCY_LEAVE {
            self.emergency = false;
        }
    }

    /// Bytes held by all flows for data still to come (out-of-order segments,
    /// unfinished elements, TLS records, sniffed bytes), as counted after the last
    /// packet: at most the budget ([`Limits::buffer_budget`]) but for the few bytes a flow cannot let go of (those
    /// not yet framed while it resynchronises).
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// Over the budget for all connections: the flows holding the most let go of it,
    /// largest first (ties in flow order, so the output does not depend on the
    /// table's order), until at most three quarters of the budget is held. The next
    /// pass is at least a quarter of the budget of new bytes away (`let_go_above`),
    /// so sorting the flows each time costs little per byte.
    fn let_go_largest(&mut self, at: At) {
        let budget = self.config.limits.buffer_budget();
        let target = budget - budget / 4;
        let mut holders: Vec<(usize, FlowId, u32)> = self
            .table
            .positions()
            .filter(|(_, f)| f.held > 0)
            .map(|(i, f)| (f.held, f.id, i))
            .collect();
        holders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, _, i) in holders {
            if self.held <= target {
                break;
            }
            let Some(flow) = self.table.flow_mut(i) else {
                continue;
            };
            let_go(flow, &self.config, at, &mut self.events);
            self.settle(i);
        }
        self.let_go_above = budget.max(self.held.saturating_add(budget / 4));
    }

    /// Whether an idle sweep is due at `at` (every minute of capture time, every few
    /// seconds in emergency mode); moves the next one on.
    fn sweep_due(&mut self, at: At) -> bool {
        let now = at.time.secs();
        if now < self.next_sweep {
            return false;
        }
        let interval = if self.emergency {
            EMERGENCY_SWEEP_SECS
        } else {
            SWEEP_INTERVAL_SECS
        };
        self.next_sweep = now.saturating_add(interval);
        true
    }

    fn sweep_idle(&mut self, at: At) {
        if self.sweep_due(at) {
            self.sweep_expired(at);
        }
    }

    /// Ends the flows idle for longer than their timeout: the configured one, or in
    /// emergency mode the short ones (`Limits::emergency_*`).
    fn sweep_expired(&mut self, at: At) {
        let limits = &self.config.limits;
        let normal = limits.flow_idle_timeout_secs;
        let (short, xmpp) = if self.emergency {
            (
                limits.emergency_idle_timeout_secs.min(normal),
                limits.emergency_xmpp_idle_timeout_secs.min(normal),
            )
        } else {
            (normal, normal)
        };
        let expired = self.table.expire(at.time, |class| {
            Some(if class == Class::Active { xmpp } else { short })
        });
        for mut flow in expired {
            self.held = self.held.saturating_sub(flow.held);
            end(
                &mut flow,
                EndReason::Idle,
                &self.config,
                at,
                &mut self.events,
            );
        }
        self.update_emergency(at);
    }

    /// End of capture: every open flow is flushed and ended, in flow order.
    pub fn finish(&mut self) {
        let _ = self.finish_with(&mut |_| Ok(()));
    }

    /// [`Pipeline::finish`], handing the events to `emit` every few thousand
    /// connections: a capture that ends with a million connections open does not
    /// hold a million `flow_end` events at once.
    fn finish_with(
        &mut self,
        emit: &mut dyn FnMut(&mut Pipeline) -> io::Result<()>,
    ) -> io::Result<()> {
        let at = self.last;
        for mut flow in self.table.drain() {
            self.held = self.held.saturating_sub(flow.held);
            end(
                &mut flow,
                EndReason::CaptureEnd,
                &self.config,
                at,
                &mut self.events,
            );
            if self.events.len() >= FINISH_EMIT_EVENTS {
                emit(self)?;
            }
        }
        emit(self)
    }
}

/// Counts again what `flow` holds, keeping `total` (the sum over all flows) in step.
fn recount(total: &mut usize, flow: &mut crate::flow::Flow<App>) {
    let held = held_bytes(flow);
    *total = total.saturating_sub(flow.held) + held;
    flow.held = held;
}

/// Extraction (`-r FILE -Y EXPR -w OUT`): the packets of the connections where
/// `filter` keeps at least one event, copied unchanged into a pcapng file Wireshark
/// opens. Two passes: the analysis names the connections and their address pairs,
/// then every TCP packet between one of those pairs (either way) is copied. A later
/// connection that reuses the same addresses and ports is copied too.
pub fn extract<W: io::Write>(
    mut open: impl FnMut() -> Result<Reader, CaptureError>,
    config: Config,
    filter: &crate::filter::Filter,
    out: W,
) -> Result<(Summary, u64), RunError> {
    let mut ends = Endpoints::default();
    let (summary, flows) = matching_flows(&mut open()?, config, filter, &mut ends)?;
    let pairs: std::collections::BTreeSet<(String, String)> = flows
        .iter()
        .filter_map(|f| ends.by_flow.get(f).cloned())
        .collect();
    let mut reader = open()?;
    let mut writer = crate::capture::write::PcapngWriter::new(out)?;
    let mut written = 0;
    while let Some(p) = reader.next_packet()? {
        let Ok(Some(segment)) = decode(p.linktype, p.data) else {
            continue;
        };
        let (a, b) = (segment.src.to_string(), segment.dst.to_string());
        if pairs.contains(&(a.clone(), b.clone())) || pairs.contains(&(b, a)) {
            writer.packet(p.linktype, p.time, p.data, p.original_len, None)?;
            written += 1;
        }
    }
    writer.flush()?;
    Ok((summary, written))
}

/// A first pass: the connections where `filter` keeps at least one event, every event
/// also given to `inner`.
pub fn matching_flows(
    reader: &mut Reader,
    config: Config,
    filter: &crate::filter::Filter,
    inner: &mut dyn Sink,
) -> Result<(Summary, std::collections::BTreeSet<u32>), RunError> {
    let mut matching = crate::output::filtered::MatchingFlows::new(filter, inner);
    let summary = Pipeline::new(config).run(reader, &mut matching)?;
    Ok((summary, matching.flows))
}

/// The client and server address of every connection, from its `flow_start`.
#[derive(Default)]
pub struct Endpoints {
    by_flow: std::collections::BTreeMap<u32, (String, String)>,
}

impl Sink for Endpoints {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if let EventKind::FlowStart { client, server, .. } = &event.kind {
            self.by_flow
                .insert(event.flow.0, (client.clone(), server.clone()));
        }
        Ok(())
    }

    fn summary(&mut self, _: &Summary) -> io::Result<()> {
        Ok(())
    }
}

/// Writes a pcapng copy of a capture whose packet comments name the XMPP events each
/// packet carries (two passes: analyse, then copy). `open` opens the input afresh.
pub fn annotate<W: io::Write>(
    mut open: impl FnMut() -> Result<Reader, CaptureError>,
    config: Config,
    out: W,
) -> Result<Summary, RunError> {
    let mut notes = crate::output::annotate::Annotations::default();
    let summary = Pipeline::new(config).run(&mut open()?, &mut notes)?;
    let mut reader = open()?;
    let mut writer = crate::capture::write::PcapngWriter::new(out)?;
    while let Some(p) = reader.next_packet()? {
        let comment = notes.by_frame.get(&p.frame.0).map(String::as_str);
        writer.packet(p.linktype, p.time, p.data, p.original_len, comment)?;
    }
    writer.flush()?;
    Ok(summary)
}

/// What an event adds to the [`Summary`], and whether it ends its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counts {
    Stream,
    Message,
    Presence,
    Iq,
    Anomaly,
    FlowStart,
    FlowEnd,
    Nothing,
}

impl Counts {
    pub(crate) fn of(kind: &EventKind) -> Counts {
        match kind {
            EventKind::StreamHeader { .. } => Counts::Stream,
            EventKind::Message(_) => Counts::Message,
            EventKind::Presence(_) => Counts::Presence,
            EventKind::Iq(_) => Counts::Iq,
            EventKind::Anomaly { .. } => Counts::Anomaly,
            EventKind::FlowStart { .. } => Counts::FlowStart,
            EventKind::FlowEnd { .. } => Counts::FlowEnd,
            _ => Counts::Nothing,
        }
    }

    pub(crate) fn add_to(self, summary: &mut Summary) {
        match self {
            Counts::Stream => summary.streams += 1,
            Counts::Message => {
                summary.messages += 1;
                summary.stanzas += 1;
            }
            Counts::Presence => {
                summary.presences += 1;
                summary.stanzas += 1;
            }
            Counts::Iq => {
                summary.iqs += 1;
                summary.stanzas += 1;
            }
            Counts::Anomaly => summary.anomalies += 1,
            Counts::FlowStart => summary.xmpp_flows += 1,
            Counts::FlowEnd | Counts::Nothing => {}
        }
    }
}
