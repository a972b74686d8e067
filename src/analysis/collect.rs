//! Builds [`Stats`] from events as they stream past (a [`Sink`]).
//!
//! Per-flow state (stream kind, bound JID, pending iqs, last presence per sender and
//! recipient) lives only until the flow ends, and every map in it is bounded, so
//! memory follows the number of open flows, not the size of the capture.

use super::{bump, Class, IqRef, SessionRow, Stats, TrafficKey, MAX_IQ_LISTED, MAX_LISTED};
use crate::jid::Jid;
use crate::model::{Direction, EndReason, Event, EventKind, FlowId, Stanza, StreamKind, Timestamp};
use crate::output::time::rfc3339;
use crate::output::{Sink, Summary};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::io;

/// Presences of one sender with the same meaning within this window are one logical
/// presence fanned out (nanoseconds).
const FAN_OUT_WINDOW_NS: i64 = 1_000_000_000;
/// Most pending iqs tracked per flow.
const MAX_PER_FLOW: usize = 10_000;
/// Most (sender, recipient) presence pairs tracked at once, over all flows.
pub const MAX_PRESENCE_KEYS: usize = 200_000;
/// Most fan-out groups open at once.
const MAX_FAN_OUT_GROUPS: usize = 100_000;

#[derive(Debug, Default)]
struct FlowState {
    row: SessionRow,
    kind: Option<StreamKind>,
    kind_from_header: bool,
    started: Timestamp,
    last: Timestamp,
    /// Stream headers seen per direction: a restart starts a new stream.
    stream_no: [u32; 2],
    /// (direction, id) → (time, frame, type, payload) of requests awaiting a response.
    pending: HashMap<(Direction, String), (Timestamp, u64, String, String)>,
    /// (direction, stream, from, to) → digest of the last presence.
    last_presence: HashMap<u64, u64>,
}

/// Consumes events, produces [`Stats`].
pub struct Collector {
    file: String,
    stats: Stats,
    flows: BTreeMap<FlowId, FlowState>,
    /// (sender, digest) → (first time, deliveries) of recent presences.
    fan_out: HashMap<(String, u64), (Timestamp, u64)>,
    /// Presence pairs tracked now, over all flows.
    presence_keys: usize,
    /// Capture time (ns) of the next sweep of ended fan-out groups.
    next_fan_out_sweep: i64,
    /// Responses slower than this (µs) are listed in `slow_list`.
    slow_threshold_us: Option<u64>,
}

impl Collector {
    pub fn new(file: &str) -> Collector {
        let mut stats = Stats::default();
        stats.files.push(file.to_owned());
        Collector {
            file: file.to_owned(),
            stats,
            flows: BTreeMap::new(),
            fan_out: HashMap::new(),
            next_fan_out_sweep: i64::MIN,
            presence_keys: 0,
            slow_threshold_us: None,
        }
    }

    /// Also lists iq responses slower than `us` microseconds.
    pub fn with_slow_threshold(mut self, us: u64) -> Collector {
        self.slow_threshold_us = Some(us);
        self
    }

    /// The statistics so far (after `summary`, everything).
    pub fn into_stats(mut self) -> Stats {
        let flows: Vec<FlowId> = self.flows.keys().copied().collect();
        for id in flows {
            self.end_flow(id, "capture_end");
        }
        self.flush_fan_out(None);
        self.stats
            .sessions
            .sort_by(|a, b| (&a.file, a.flow).cmp(&(&b.file, b.flow)));
        self.stats.unanswered_list.sort();
        self.stats.orphan_list.sort();
        self.stats.slow_list.sort();
        self.stats
    }

    fn add(&mut self, e: &Event) {
        let flow = self.flows.entry(e.flow).or_default();
        if flow.row.flow == 0 {
            flow.row.flow = e.flow.0;
            flow.row.file.clone_from(&self.file);
            flow.started = e.time;
            flow.row.start = rfc3339(e.time);
        }
        flow.last = e.time;
        if let EventKind::StreamHeader { stream_kind, .. } = &e.kind {
            if !flow.kind_from_header {
                flow.kind_from_header = true;
                flow.kind = Some(*stream_kind);
            }
        }
        if let EventKind::FlowStart { server, .. } = &e.kind {
            // Until a stream header says otherwise (a capture joined mid-stream has
            // none), the server's well-known port tells the stream kind.
            flow.kind = kind_by_port(server);
        }
        let stream = flow.kind.unwrap_or(StreamKind::Unknown);
        if let Some((class, detail)) = classify(&e.kind) {
            let key = TrafficKey {
                stream,
                dir: e.direction,
                class,
                detail,
            };
            self.stats.traffic.entry(key).or_default().add(e.size);
            if class.is_stanza() {
                flow.row.stanzas += 1;
                flow.row.stanza_bytes += e.size;
            }
            if class == Class::Presence {
                flow.row.presence_bytes += e.size;
            }
            flow.row.xml_bytes += e.size;
        }
        self.session_facts(e);
        match &e.kind {
            EventKind::Message(s) => self.message(e, s),
            EventKind::Presence(s) => self.presence(e, s, stream),
            EventKind::Iq(s) => self.iq(e, s),
            EventKind::Anomaly { anomaly, .. } => {
                self.stats.anomalies += 1;
                *self
                    .stats
                    .anomaly_kinds
                    .entry(anomaly.to_string())
                    .or_insert(0) += 1;
            }
            EventKind::FlowStart { .. } => self.stats.xmpp_flows += 1,
            EventKind::FlowEnd {
                reason,
                to_server,
                to_client,
            } => {
                for (dir, b) in [
                    (Direction::ToServer, to_server),
                    (Direction::ToClient, to_client),
                ] {
                    self.direction_bytes(e.flow, dir, b.whitespace, b.tls);
                }
                let how = match reason {
                    EndReason::Fin => "fin",
                    EndReason::Rst => "rst",
                    EndReason::CaptureEnd => "capture_end",
                    EndReason::Idle => "idle",
                };
                self.end_flow(e.flow, how);
            }
            _ => {}
        }
        self.flush_fan_out(Some(e.time));
    }

    /// Whitespace and TLS bytes are known per direction only at flow end.
    fn direction_bytes(&mut self, id: FlowId, dir: Direction, whitespace: u64, tls: u64) {
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        let stream = flow.kind.unwrap_or(StreamKind::Unknown);
        flow.row.xml_bytes += whitespace;
        for (class, bytes) in [(Class::Whitespace, whitespace), (Class::Tls, tls)] {
            if bytes > 0 {
                let key = TrafficKey {
                    stream,
                    dir,
                    class,
                    detail: String::new(),
                };
                let c = self.stats.traffic.entry(key).or_default();
                c.bytes += bytes;
            }
        }
    }

    fn session_facts(&mut self, e: &Event) {
        let Some(flow) = self.flows.get_mut(&e.flow) else {
            return;
        };
        if let EventKind::StreamHeader { .. } = e.kind {
            if let Some(n) = flow.stream_no.get_mut(e.direction.index()) {
                *n += 1;
            }
        }
        let row = &mut flow.row;
        row.decrypted |= e.decrypted;
        match &e.kind {
            EventKind::FlowStart { client, server, .. } => {
                row.client.clone_from(client);
                row.server.clone_from(server);
            }
            EventKind::StreamHeader { from, to, .. } if e.direction == Direction::ToServer => {
                if row.to.is_none() {
                    row.to.clone_from(to);
                }
                if row.from.is_none() {
                    row.from.clone_from(from);
                }
            }
            EventKind::Features(f) => {
                if f.starttls.is_some() {
                    row.starttls.clone_from(&f.starttls);
                }
                if !f.mechanisms.is_empty() {
                    row.mechanisms_offered.clone_from(&f.mechanisms);
                }
            }
            EventKind::TlsProceed => row.tls_taken = true,
            EventKind::TlsClientHello { sni, .. } => {
                row.tls_taken = true;
                if row.sni.is_none() {
                    row.sni.clone_from(sni);
                }
            }
            EventKind::TlsServerHello {
                version,
                cipher_suite,
                hello_retry: false,
                ..
            } => row.tls = Some(format!("{version} {cipher_suite}")),
            EventKind::SaslAuth { mechanism, .. } => row.mechanism = Some(mechanism.clone()),
            EventKind::SaslSuccess { .. } => row.sasl_outcome = Some("success".into()),
            EventKind::SaslFailure { condition, .. } => {
                row.sasl_outcome = Some(format!("failure:{}", condition.as_deref().unwrap_or("?")));
            }
            EventKind::SaslAbort => row.sasl_outcome = Some("abort".into()),
            EventKind::Iq(s) if s.bound_jid.is_some() => row.bound_jid.clone_from(&s.bound_jid),
            EventKind::StreamError { condition, .. } => {
                row.ended = format!("error:{}", condition.as_deref().unwrap_or("?"));
            }
            EventKind::StreamClose if !row.ended.starts_with("error") => row.ended = "close".into(),
            _ => {}
        }
    }

    /// Sender and recipient as bare JIDs, filling what c2s leaves implicit with the
    /// bound JID (RFC 6120 §8.1.2.1: no `from` on stanzas a client sends).
    fn parties(&self, e: &Event, s: &Stanza) -> (Option<String>, Option<String>) {
        let bound = self
            .flows
            .get(&e.flow)
            .and_then(|f| f.row.bound_jid.clone());
        let from = s.from.clone().or(match e.direction {
            Direction::ToServer => bound.clone(),
            Direction::ToClient => None,
        });
        let to = s.to.clone().or(match e.direction {
            Direction::ToClient => bound,
            Direction::ToServer => None,
        });
        (from, to)
    }

    fn talker(&mut self, from: Option<&str>, bytes: u64) {
        let Some(from) = from else { return };
        let bare = Jid::parse(from).map_or_else(|_| from.to_owned(), |j| j.bare().to_owned());
        if let Some(c) = self.stats.talkers.get_mut(&bare) {
            c.add(bytes);
        } else if self.stats.talkers.len() < MAX_LISTED {
            self.stats.talkers.entry(bare).or_default().add(bytes);
        } else {
            self.stats.talkers_dropped.add(bytes);
        }
    }

    fn message(&mut self, e: &Event, s: &Stanza) {
        let (from, to) = self.parties(e, s);
        self.talker(from.as_deref(), e.size);
        self.stats.message_body_bytes += s.body_len.unwrap_or(0) as u64;
        let minute = rfc3339(Timestamp(e.time.secs().div_euclid(60) * 60 * 1_000_000_000));
        let minute = format!("{}Z", minute.get(..16).unwrap_or_default());
        *self.stats.messages_per_minute.entry(minute).or_insert(0) += 1;
        if let (Some(a), Some(b)) = (from, to) {
            let bare =
                |j: &str| Jid::parse(j).map_or_else(|_| j.to_owned(), |j| j.bare().to_owned());
            let (a, b) = (bare(&a), bare(&b));
            let pair = if a <= b {
                format!("{a} {b}")
            } else {
                format!("{b} {a}")
            };
            bump(
                &mut self.stats.conversations,
                pair,
                1,
                &mut self.stats.conversations_dropped,
            );
        }
    }

    /// Redundancy (RFC 6121 §4 semantics, rule in docs/statistics.md): a presence is
    /// redundant when the last presence from the same sender to the same recipient in
    /// the same stream and direction had the same digest.
    fn presence(&mut self, e: &Event, s: &Stanza, stream: StreamKind) {
        let (from, to) = self.parties(e, s);
        self.talker(from.as_deref(), e.size);
        let digest = s.digest.unwrap_or_default();
        let sender = from.clone().unwrap_or_default();
        let red = self.stats.redundancy.entry(stream).or_default();
        red.presences.add(e.size);
        if let Some(flow) = self.flows.get_mut(&e.flow) {
            let stream_no = flow
                .stream_no
                .get(e.direction.index())
                .copied()
                .unwrap_or(0);
            // The pair is kept as a 64-bit hash: 16 bytes an entry, whatever the JIDs.
            let key = pair_key(
                e.direction,
                stream_no,
                &sender,
                to.as_deref().unwrap_or_default(),
            );
            match flow.last_presence.entry(key) {
                Entry::Occupied(last) if *last.get() == digest => red.redundant.add(e.size),
                Entry::Occupied(mut last) => {
                    last.insert(digest);
                }
                Entry::Vacant(slot) if self.presence_keys < MAX_PRESENCE_KEYS => {
                    self.presence_keys += 1;
                    slot.insert(digest);
                }
                Entry::Vacant(_) => red.untracked += 1,
            }
        }
        if self.fan_out.len() >= MAX_FAN_OUT_GROUPS
            && !self.fan_out.contains_key(&(sender.clone(), digest))
        {
            return; // too many open groups: this delivery is not grouped
        }
        let fan = &mut self.stats.fan_out;
        let group = self.fan_out.entry((sender, digest)).or_insert((e.time, 0));
        if e.time.0 - group.0 .0 > FAN_OUT_WINDOW_NS {
            // The earlier group is over: count it, start a new logical presence.
            fan.logical += 1;
            fan.deliveries += group.1;
            fan.max = fan.max.max(group.1);
            *group = (e.time, 0);
        }
        group.1 += 1;
    }

    /// Ends fan-out groups older than the window (all with `None`).
    fn flush_fan_out(&mut self, now: Option<Timestamp>) {
        // Sweep once per window of capture time: groups are counted when they end,
        // and the map holds at most the groups of the last two windows.
        if let Some(t) = now {
            if t.0 < self.next_fan_out_sweep {
                return;
            }
            self.next_fan_out_sweep = t.0.saturating_add(FAN_OUT_WINDOW_NS);
        }
        let fan = &mut self.stats.fan_out;
        self.fan_out.retain(|_, (first, n)| {
            let expired = now.is_none_or(|t| t.0 - first.0 > FAN_OUT_WINDOW_NS);
            if expired {
                fan.logical += 1;
                fan.deliveries += *n;
                fan.max = fan.max.max(*n);
            }
            !expired
        });
    }

    /// Pairs requests and responses by (flow, id), responses in the other direction
    /// (RFC 6120 §8.2.3); addresses are not compared (an absent `to` means the
    /// account or server itself).
    fn iq(&mut self, e: &Event, s: &Stanza) {
        let (from, _) = self.parties(e, s);
        self.talker(from.as_deref(), e.size);
        let kind = s.r#type.as_deref().unwrap_or("");
        let id = s.id.clone().unwrap_or_default();
        let file = self.file.clone();
        let Some(flow) = self.flows.get_mut(&e.flow) else {
            return;
        };
        match kind {
            "get" | "set" => {
                let payload = s.payload.clone().unwrap_or_else(|| "(none)".into());
                self.stats.iq.entry(payload.clone()).or_default().requests += 1;
                if flow.pending.len() < MAX_PER_FLOW {
                    flow.pending.insert(
                        (e.direction, id),
                        (e.time, e.frame.0, kind.to_owned(), payload),
                    );
                }
            }
            "result" | "error" => match flow.pending.remove(&(e.direction.reverse(), id.clone())) {
                Some((asked, frame, asked_kind, payload)) => {
                    let q = self.stats.iq.entry(payload.clone()).or_default();
                    if kind == "result" {
                        q.results += 1;
                    } else {
                        q.errors += 1;
                    }
                    let us = u64::try_from((e.time.0 - asked.0) / 1000).unwrap_or(0);
                    q.response_time.record(us);
                    if self.slow_threshold_us.is_some_and(|t| us > t) {
                        let time = rfc3339(asked);
                        let r = IqRef {
                            file,
                            flow: e.flow.0,
                            frame,
                            time,
                            id,
                            r#type: asked_kind,
                            payload,
                            response_us: Some(us),
                        };
                        push_bounded(&mut self.stats.slow_list, r);
                    }
                }
                None => {
                    self.stats.orphan_responses += 1;
                    let payload = s.payload.clone().unwrap_or_default();
                    let time = rfc3339(e.time);
                    let r = IqRef {
                        file,
                        flow: e.flow.0,
                        frame: e.frame.0,
                        time,
                        id,
                        r#type: kind.to_owned(),
                        payload,
                        response_us: None,
                    };
                    push_bounded(&mut self.stats.orphan_list, r);
                }
            },
            _ => {}
        }
    }

    fn end_flow(&mut self, id: FlowId, how: &str) {
        let Some(mut flow) = self.flows.remove(&id) else {
            return;
        };
        self.presence_keys = self.presence_keys.saturating_sub(flow.last_presence.len());
        let mut pending: Vec<_> = flow.pending.drain().collect();
        pending.sort_by_key(|(_, (_, frame, _, _))| *frame);
        for ((_, iq_id), (asked, frame, kind, payload)) in pending {
            self.stats.iq.entry(payload.clone()).or_default().unanswered += 1;
            let time = rfc3339(asked);
            let r = IqRef {
                file: self.file.clone(),
                flow: id.0,
                frame,
                time,
                id: iq_id,
                r#type: kind,
                payload,
                response_us: None,
            };
            push_bounded(&mut self.stats.unanswered_list, r);
        }
        let row = &mut flow.row;
        if row.ended.is_empty() || (row.ended == "close" && how == "rst") {
            row.ended = how.to_owned();
        }
        row.stream = flow.kind;
        row.duration_ms = u64::try_from((flow.last.0 - flow.started.0) / 1_000_000).unwrap_or(0);
        if self.stats.sessions.len() < MAX_LISTED {
            self.stats.sessions.push(flow.row);
        } else {
            self.stats.sessions_dropped += 1;
        }
    }
}

/// (direction, stream, sender, recipient) as one 64-bit FNV-1a hash.
fn pair_key(dir: Direction, stream_no: u32, from: &str, to: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let parts: [&[u8]; 5] = [
        &[dir.index() as u8],
        &stream_no.to_le_bytes(),
        from.as_bytes(),
        b"\0",
        to.as_bytes(),
    ];
    for part in parts {
        for &b in part {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn kind_by_port(server: &str) -> Option<StreamKind> {
    let port = server.rsplit(':').next()?.parse::<u16>().ok()?;
    match port {
        5222 | 5223 => Some(StreamKind::C2s),
        5269 | 5270 => Some(StreamKind::S2s),
        5347 => Some(StreamKind::Component),
        _ => None,
    }
}

fn push_bounded(list: &mut Vec<IqRef>, r: IqRef) {
    if list.len() < MAX_IQ_LISTED {
        list.push(r);
    }
}

/// Traffic class and detail of an event; `None` for flow-level events and anomalies.
fn classify(kind: &EventKind) -> Option<(Class, String)> {
    Some(match kind {
        EventKind::Message(s) => (
            Class::Message,
            s.r#type.clone().unwrap_or_else(|| "normal".into()),
        ),
        EventKind::Presence(s) => {
            let t = s.r#type.clone().unwrap_or_else(|| "available".into());
            match &s.show {
                Some(show) => (Class::Presence, format!("{t}/{show}")),
                None => (Class::Presence, t),
            }
        }
        EventKind::Iq(s) => {
            let t = s.r#type.clone().unwrap_or_default();
            match &s.payload {
                Some(p) => (Class::Iq, format!("{t} {p}")),
                None => (Class::Iq, t),
            }
        }
        EventKind::StreamHeader { .. } => (Class::Header, String::new()),
        EventKind::Features(_) => (Class::Features, String::new()),
        EventKind::StartTls => (Class::TlsNegotiation, "starttls".into()),
        EventKind::TlsProceed => (Class::TlsNegotiation, "proceed".into()),
        EventKind::TlsFailure => (Class::TlsNegotiation, "failure".into()),
        EventKind::SaslAuth { .. } => (Class::Sasl, "auth".into()),
        EventKind::SaslChallenge { .. } => (Class::Sasl, "challenge".into()),
        EventKind::SaslResponse { .. } => (Class::Sasl, "response".into()),
        EventKind::SaslSuccess { .. } => (Class::Sasl, "success".into()),
        EventKind::SaslFailure { .. } => (Class::Sasl, "failure".into()),
        EventKind::SaslAbort => (Class::Sasl, "abort".into()),
        EventKind::Dialback { verify, .. } => (
            Class::Dialback,
            if *verify { "verify" } else { "result" }.into(),
        ),
        EventKind::ComponentHandshake { .. } => (Class::Handshake, String::new()),
        EventKind::StreamError { condition, .. } => {
            (Class::StreamError, condition.clone().unwrap_or_default())
        }
        EventKind::StreamClose => (Class::Close, String::new()),
        EventKind::Element { name, .. } => (Class::Other, name.clone()),
        EventKind::FlowStart { .. }
        | EventKind::FlowEnd { .. }
        | EventKind::Anomaly { .. }
        | EventKind::TlsClientHello { .. }
        | EventKind::TlsServerHello { .. }
        | EventKind::TlsEncryptedExtensions { .. }
        | EventKind::TlsCertificate { .. }
        | EventKind::TlsFinished
        | EventKind::TlsAlert { .. }
        | EventKind::Xml { .. } => return None,
    })
}

impl Sink for Collector {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.add(event);
        Ok(())
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.stats.packets += summary.packets;
        Ok(())
    }
}
