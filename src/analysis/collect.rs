//! Builds [`Stats`] from events as they stream past (a [`Sink`]).
//!
//! Per-flow state (stream kind, bound JID, pending iqs, last presence per sender and
//! recipient) lives only until the flow ends, and every map in it is bounded, so
//! memory follows the number of open flows, not the size of the capture.
//!
//! With `-j N` each shard runs a collector of its own ([`Collector::for_shard`]) over
//! its connections' events. What is a sum or belongs to one connection is counted
//! there and merged at the end ([`Collector::absorb`]); what spans connections or
//! depends on the order of all events — presence fan-out groups, one-copy-per-domain
//! copies and probe answers, and the bounded lists of sessions and iqs, which carry
//! connection numbers only the merging thread knows — leaves the shard as a small
//! [`Fact`] that the merging thread applies in capture order ([`Collector::apply`]),
//! exactly as one thread applies it at once.

use super::census::CensusCounter;
use super::compression::ZlibWhatIf;
use super::{
    Class, CompressionRow, Counter, IqNamespace, IqRef, SessionRow, Stats, TrafficKey,
    MAX_FAN_OUT_GROUPS, MAX_IQ_LISTED, MAX_LISTED, MAX_MINUTES,
};
use crate::fnv;
use crate::jid::Jid;
use crate::model::time::rfc3339;
use crate::model::{
    DetectedBy, Direction, DirectionBytes, EndReason, Event, EventKind, FlowId, Stanza, StreamKind,
    Timestamp,
};
use crate::sink::{Sink, Summary};
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The collector's maps: foldhash, seeded per process (keys come from the wire).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Presences of one sender with the same meaning within this window are one logical
/// presence fanned out (nanoseconds).
const FAN_OUT_WINDOW_NS: i64 = 1_000_000_000;
/// Most pending iqs tracked per flow.
const MAX_PER_FLOW: usize = 10_000;
/// Most (sender, recipient) presence pairs tracked at once, over all flows.
pub const MAX_PRESENCE_KEYS: usize = 200_000;
/// A presence from the probed account to the prober within this window after a
/// probe answers it (RFC 6121 §4.3.2: the server answers at once; the window allows
/// for a federated round trip).
const PROBE_WINDOW_NS: i64 = 10_000_000_000;
/// Namespace of a room's presence to its occupants (XEP-0045 §7.2.3).
const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
/// Most keys a shard's collector remembers having named to the merging thread.
const MAX_NAMED: usize = 1 << 16;
/// Most rows of the traffic table with a detail from the wire; details beyond it are
/// counted as [`OTHER_DETAIL`].
const MAX_TRAFFIC_ROWS: usize = MAX_LISTED;
pub const OTHER_DETAIL: &str = "(other)";

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
    pending: Map<(Direction, String), (Timestamp, u64, String, String)>,
}

/// What a collector hands on to be applied in capture order over all connections
/// (at once with one thread; by the merging thread with `-j`).
#[derive(Debug)]
pub enum Fact {
    Presence(PresenceFact),
    /// A connection ended: its row (connection numbers are the shard's until
    /// [`Fact::renumber`]).
    Session(Box<SessionRow>),
    Unanswered(Box<IqRef>),
    Orphan(Box<IqRef>),
    Slow(Box<IqRef>),
    /// A stanza's bytes for its sender's row of the talkers (a bounded table whose
    /// rows are the first senders in capture order).
    Talker(Named),
    /// A message for its pair's row of the conversations (bounded the same way).
    Conversation(Named),
}

/// A row of a bounded table by the hash of its key; the key itself travels the
/// first time a shard names it (the merging thread needs it only for a new row).
#[derive(Debug)]
pub struct Named {
    hash: u64,
    name: Option<Box<str>>,
    bytes: u64,
}

impl Fact {
    /// Gives the connection number a fact carries its global value.
    pub fn renumber(&mut self, flow: FlowId) {
        match self {
            Fact::Presence(p) => p.flow = flow,
            Fact::Session(row) => row.flow = flow.0,
            Fact::Unanswered(r) | Fact::Orphan(r) | Fact::Slow(r) => r.flow = flow.0,
            Fact::Talker(_) | Fact::Conversation(_) => {}
        }
    }

    /// The connection a fact names, if any.
    pub fn flow(&self) -> Option<FlowId> {
        match self {
            Fact::Presence(_) | Fact::Talker(_) | Fact::Conversation(_) => None,
            Fact::Session(row) => Some(FlowId(row.flow)),
            Fact::Unanswered(r) | Fact::Orphan(r) | Fact::Slow(r) => Some(FlowId(r.flow)),
        }
    }
}

/// One presence as the measures that span connections or share a limit need it:
/// hashes of its pair and groups.
#[derive(Debug, Clone, Copy)]
pub struct PresenceFact {
    flow: FlowId,
    /// (direction, stream, sender, recipient) in its connection.
    pair: u64,
    digest: u64,
    time: Timestamp,
    size: u64,
    stream: StreamKind,
    /// (sender, digest): its fan-out group.
    fan_out: u64,
    /// (sender, digest, recipient domain) of an s2s broadcast candidate.
    per_domain: Option<u64>,
    /// (probed, prober) of a probe.
    probe: Option<u64>,
    /// (sender, recipient) a pending probe would be keyed by, for other presences.
    answer: Option<u64>,
}

/// Consumes events, produces [`Stats`].
pub struct Collector {
    file: String,
    stats: Stats,
    /// Per-connection state, looked up several times per event (hashed; ended in
    /// connection order at the end).
    flows: Map<FlowId, FlowState>,
    /// Hash of (sender, digest) → (first time, deliveries) of recent presences.
    fan_out: Map<u64, (Timestamp, u64)>,
    /// Hash of (sender, digest, recipient domain) → first time, of recent s2s
    /// broadcasts (`per_domain`).
    per_domain: Map<u64, Timestamp>,
    /// Hash of (probed bare JID, prober bare JID) → time of the probe.
    probes: Map<u64, Timestamp>,
    /// Per connection: (direction, stream, from, to) → digest of the last presence.
    /// Kept apart from the connection's state because the limit on pairs is shared
    /// by all connections (with `-j`, on the merging thread, in capture order).
    last_presence: Map<FlowId, Map<u64, u64>>,
    /// Presence pairs tracked now, over all flows.
    presence_keys: usize,
    /// Capture time (ns) of the next sweep of ended fan-out groups.
    next_fan_out_sweep: i64,
    /// Responses slower than this (µs) are listed in `slow_list`.
    slow_threshold_us: Option<u64>,
    /// Talkers, conversations and traffic rows while counting (hashed: looked up per
    /// stanza), moved into the sorted maps of [`Stats`] at the end.
    talkers: Map<String, Counter>,
    conversations: Map<String, u64>,
    traffic: Map<TrafficKey, Counter>,
    /// Reused keys, so counting an event allocates only for a new row.
    traffic_key: TrafficKey,
    pair: String,
    /// The minute of the last message and its `messages_per_minute` key.
    minute: Option<(i64, String)>,
    census: CensusCounter,
    /// The XEP-0138 what-if, when asked for.
    zlib_what_if: Option<ZlibWhatIf>,
    /// A shard's collector keeps its facts here for the merging thread; otherwise
    /// they are applied at once.
    facts: Option<Vec<Fact>>,
    /// A shard's collector: hashes of the talkers and pairs it has named to the
    /// merging thread (at most [`MAX_NAMED`]; beyond, names travel every time).
    named: HashSet<u64, foldhash::fast::RandomState>,
    /// Whether the merging thread's talkers and conversations tables are full, shared
    /// with its shards: a full table takes no new rows, so from then on the shards
    /// stop sending names (set only once a table is full, never cleared, so when a
    /// shard sees it changes no result).
    full: Arc<TablesFull>,
    /// The merging thread's talkers and conversations, by the hash of their key.
    talkers_by_hash: Map<u64, (Box<str>, Counter)>,
    conversations_by_hash: Map<u64, (Box<str>, u64)>,
    /// The shards' statistics, merged in by [`Collector::into_stats`].
    absorbed: Option<Stats>,
}

impl Collector {
    pub fn new(file: &str) -> Collector {
        let mut stats = Stats::default();
        stats.files.push(file.to_owned());
        Collector {
            file: file.to_owned(),
            stats,
            flows: Map::default(),
            fan_out: Map::default(),
            per_domain: Map::default(),
            probes: Map::default(),
            next_fan_out_sweep: i64::MIN,
            presence_keys: 0,
            last_presence: Map::default(),
            slow_threshold_us: None,
            traffic_key: TrafficKey {
                stream: StreamKind::Unknown,
                dir: Direction::ToServer,
                class: Class::Other,
                detail: String::new(),
            },
            pair: String::new(),
            minute: None,
            census: CensusCounter::new(file),
            zlib_what_if: None,
            talkers: Map::default(),
            conversations: Map::default(),
            traffic: Map::default(),
            facts: None,
            absorbed: None,
            named: HashSet::default(),
            full: Arc::default(),
            talkers_by_hash: Map::default(),
            conversations_by_hash: Map::default(),
        }
    }

    /// A collector for one shard of `-j`: the same settings, its facts kept for the
    /// merging thread ([`Collector::take_facts`]).
    pub fn for_shard(&self) -> Collector {
        let mut shard = Collector::new(&self.file);
        shard.stats.files.clear();
        shard.slow_threshold_us = self.slow_threshold_us;
        shard.zlib_what_if = self.zlib_what_if.as_ref().map(ZlibWhatIf::like);
        shard.facts = Some(Vec::new());
        shard.full = Arc::clone(&self.full);
        shard
    }

    /// The facts of the events seen since the last call (a shard's collector).
    pub fn take_facts(&mut self) -> impl Iterator<Item = Fact> + '_ {
        self.facts.iter_mut().flat_map(|facts| facts.drain(..))
    }

    /// A shard's collector at the end of the capture: its connections still open
    /// end (their facts to take), and what it counted, without the files.
    pub fn finish_shard(mut self) -> (Stats, Vec<Fact>) {
        let stats = self.finish();
        (stats, self.facts.take().unwrap_or_default())
    }

    /// Adds a shard's statistics ([`Collector::finish_shard`]).
    pub fn absorb(&mut self, shard: &Stats) {
        match &mut self.absorbed {
            Some(all) => all.merge(shard),
            None => self.absorbed = Some(shard.clone()),
        }
    }

    fn emit(&mut self, fact: Fact) {
        match &mut self.facts {
            Some(facts) => facts.push(fact),
            None => self.apply(fact),
        }
    }

    /// Forgets the presence pairs of a connection that ended (on the merging thread of
    /// `-j`, when the connection's end passes in capture order).
    pub fn connection_ended(&mut self, id: FlowId) {
        if let Some(pairs) = self.last_presence.remove(&id) {
            self.presence_keys = self.presence_keys.saturating_sub(pairs.len());
        }
    }

    /// Applies a fact in capture order (a shard's, renumbered, on the merging
    /// thread).
    pub fn apply(&mut self, fact: Fact) {
        match fact {
            Fact::Presence(p) => self.across_connections(&p),
            Fact::Session(row) => {
                if self.stats.sessions.len() < MAX_LISTED {
                    self.stats.sessions.push(*row);
                } else {
                    self.stats.sessions_dropped += 1;
                }
            }
            Fact::Unanswered(r) => push_bounded(&mut self.stats.unanswered_list, *r),
            Fact::Orphan(r) => push_bounded(&mut self.stats.orphan_list, *r),
            Fact::Slow(r) => push_bounded(&mut self.stats.slow_list, *r),
            Fact::Talker(t) => {
                if let Some((_, c)) = self.talkers_by_hash.get_mut(&t.hash) {
                    c.add(t.bytes);
                } else if let Some(name) =
                    t.name.filter(|_| self.talkers_by_hash.len() < MAX_LISTED)
                {
                    let mut c = Counter::default();
                    c.add(t.bytes);
                    self.talkers_by_hash.insert(t.hash, (name, c));
                    if self.talkers_by_hash.len() >= MAX_LISTED {
                        self.full.talkers.store(true, Ordering::Relaxed);
                    }
                } else {
                    self.stats.talkers_dropped.add(t.bytes);
                }
            }
            Fact::Conversation(c) => {
                if let Some((_, n)) = self.conversations_by_hash.get_mut(&c.hash) {
                    *n += 1;
                } else if let Some(name) = c
                    .name
                    .filter(|_| self.conversations_by_hash.len() < MAX_LISTED)
                {
                    self.conversations_by_hash.insert(c.hash, (name, 1));
                    if self.conversations_by_hash.len() >= MAX_LISTED {
                        self.full.conversations.store(true, Ordering::Relaxed);
                    }
                } else {
                    self.stats.conversations_dropped += 1;
                }
            }
        }
    }

    /// Also lists iq responses slower than `us` microseconds.
    pub fn with_slow_threshold(mut self, us: u64) -> Collector {
        self.slow_threshold_us = Some(us);
        self
    }

    /// Also measures what XEP-0138 zlib compression would make of each stream,
    /// at most `max_live` directions at once; the pipeline must then report
    /// elements' bytes (`Config::keep_xml`).
    pub fn with_zlib_what_if(mut self, max_live: usize) -> Collector {
        self.zlib_what_if = Some(ZlibWhatIf::new(max_live));
        self
    }

    /// The statistics so far (after `summary`, everything).
    pub fn into_stats(mut self) -> Stats {
        let mut stats = self.finish();
        if let Some(shards) = self.absorbed.take() {
            let files = std::mem::take(&mut stats.files);
            stats.merge(&shards);
            stats.files = files;
        }
        stats
    }

    /// Ends the open connections and groups and sorts what is listed.
    fn finish(&mut self) -> Stats {
        let mut flows: Vec<FlowId> = self.flows.keys().copied().collect();
        flows.sort_unstable();
        for id in flows {
            self.end_flow(id, "capture_end");
        }
        self.flush_fan_out(None);
        self.stats.census = std::mem::take(&mut self.census).finish();
        if let Some(what_if) = self.zlib_what_if.take() {
            self.stats.census.compression = what_if.finish();
        }
        self.stats.talkers.extend(self.talkers.drain());
        self.stats.talkers.extend(
            self.talkers_by_hash
                .drain()
                .map(|(_, (name, c))| (String::from(name), c)),
        );
        self.stats.conversations.extend(
            self.conversations_by_hash
                .drain()
                .map(|(_, (name, n))| (String::from(name), n)),
        );
        self.stats.traffic.extend(self.traffic.drain());
        self.stats.conversations.extend(self.conversations.drain());
        self.stats
            .sessions
            .sort_by(|a, b| (&a.file, a.flow).cmp(&(&b.file, b.flow)));
        self.stats.unanswered_list.sort();
        self.stats.orphan_list.sort();
        self.stats.slow_list.sort();
        std::mem::take(&mut self.stats)
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
        if let EventKind::FlowStart {
            server,
            detected_by,
            ..
        } = &e.kind
        {
            // Until a stream header says otherwise (a capture joined mid-stream has
            // none), the server's well-known port tells the stream kind; XMPP over
            // HTTP is c2s (RFC 7395 §1, XEP-0206 §1), also on a BOSH connection that
            // carries only the later requests of a session.
            flow.kind = match detected_by {
                DetectedBy::Websocket | DetectedBy::Bosh => Some(StreamKind::C2s),
                DetectedBy::Port | DetectedBy::Content | DetectedBy::Alpn => kind_by_port(server),
            };
        }
        // XEP-0368 §4: the ALPN protocol tells the stream kind of direct TLS that is
        // not decrypted (no stream header will say) on a port that does not.
        if let EventKind::TlsClientHello { alpn, .. } = &e.kind {
            if !flow.kind_from_header && flow.kind.is_none() {
                flow.kind = StreamKind::from_alpn(alpn);
            }
        }
        let stream = flow.kind.unwrap_or(StreamKind::Unknown);
        self.census.event(e, stream, flow.row.bound_jid.as_deref());
        let key = &mut self.traffic_key;
        key.detail.clear();
        let class = classify(&e.kind, &mut key.detail);
        if let Some(what_if) = &mut self.zlib_what_if {
            what_if.event(e, stream, class);
        }
        if let Some(class) = class {
            key.stream = stream;
            key.dir = e.direction;
            key.class = class;
            match self.traffic.get_mut(key) {
                Some(counter) => counter.add(e.size),
                None => {
                    // Details come from the wire: beyond the limit they share a row.
                    // Rows without a detail are finite (stream × direction × class).
                    if self.traffic.len() >= MAX_TRAFFIC_ROWS && !key.detail.is_empty() {
                        key.detail.clear();
                        key.detail.push_str(OTHER_DETAIL);
                    }
                    self.traffic.entry(key.clone()).or_default().add(e.size);
                }
            }
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
                    self.direction_bytes(e.flow, dir, b);
                }
                let how = match reason {
                    EndReason::Fin => "fin",
                    EndReason::Rst => "rst",
                    EndReason::CaptureEnd => "capture_end",
                    EndReason::Idle => "idle",
                    EndReason::Evicted => "evicted",
                };
                self.end_flow(e.flow, how);
            }
            _ => {}
        }
    }

    /// Whitespace, TLS and framing bytes are known per direction only at flow end.
    fn direction_bytes(&mut self, id: FlowId, dir: Direction, b: &DirectionBytes) {
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        let stream = flow.kind.unwrap_or(StreamKind::Unknown);
        flow.row.xml_bytes += b.whitespace;
        if let Some(c) = flow.row.compression.as_mut() {
            let side = match dir {
                Direction::ToServer => &mut c.to_server,
                Direction::ToClient => &mut c.to_client,
            };
            *side = (b.compressed, b.inflated);
        }
        let rows = [
            (Class::Whitespace, b.whitespace),
            (Class::Tls, b.tls),
            (Class::Framing, b.framing),
        ];
        for (class, bytes) in rows {
            if bytes > 0 {
                let key = TrafficKey {
                    stream,
                    dir,
                    class,
                    detail: String::new(),
                };
                let c = self.traffic.entry(key).or_default();
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
            // XEP-0138 §5, RFC 7692 §5: the compression the session goes on with.
            EventKind::Compressed => {
                row.compression = Some(CompressionRow {
                    method: "zlib".into(),
                    ..CompressionRow::default()
                });
            }
            EventKind::WebsocketAccept {
                status: 101,
                deflate: true,
                ..
            } => {
                row.compression = Some(CompressionRow {
                    method: "permessage-deflate".into(),
                    ..CompressionRow::default()
                });
            }
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
            EventKind::SaslSuccess { jid, bound, .. } => {
                row.sasl_outcome = Some("success".into());
                // SASL2 with Bind 2 (XEP-0386): the resource is bound in the success.
                if *bound {
                    row.bound_jid.clone_from(jid);
                }
            }
            EventKind::SaslFailure { condition, .. } => {
                row.sasl_outcome = Some(format!("failure:{}", condition.as_deref().unwrap_or("?")));
            }
            EventKind::SaslAbort => row.sasl_outcome = Some("abort".into()),
            EventKind::Iq(s) if s.bound_jid().is_some() => {
                row.bound_jid = s.bound_jid().map(str::to_owned);
            }
            EventKind::StreamError { condition, .. } => {
                row.ended = format!("error:{}", condition.as_deref().unwrap_or("?"));
            }
            EventKind::StreamClose if !row.ended.starts_with("error") => row.ended = "close".into(),
            _ => {}
        }
    }

    /// Sender and recipient, filling what c2s leaves implicit with the bound JID
    /// (RFC 6120 §8.1.2.1: no `from` on stanzas a client sends).
    fn parties<'s>(&self, e: &Event, s: &'s Stanza) -> (Option<Party<'s>>, Option<Party<'s>>) {
        let bound = || {
            self.flows
                .get(&e.flow)
                .and_then(|f| f.row.bound_jid.clone())
                .map(|jid| {
                    let plain_bare_len = crate::jid::plain_bare_len(&jid);
                    Party::new(Cow::Owned(jid), plain_bare_len)
                })
        };
        let from = match (s.from(), e.direction) {
            (Some(from), _) => Some(Party::new(
                Cow::Borrowed(from),
                s.plain_bare_from().map(str::len),
            )),
            (None, Direction::ToServer) => bound(),
            (None, Direction::ToClient) => None,
        };
        let to = match (s.to(), e.direction) {
            (Some(to), _) => Some(Party::new(
                Cow::Borrowed(to),
                s.plain_bare_to().map(str::len),
            )),
            (None, Direction::ToClient) => bound(),
            (None, Direction::ToServer) => None,
        };
        (from, to)
    }

    /// Bytes per sender, by bare JID.
    fn talker(&mut self, e: &Event, from: Option<&Party<'_>>) {
        let Some(from) = from else { return };
        let bytes = e.size;
        let bare = from.bare();
        if self.facts.is_some() {
            let full = self.full.talkers.load(Ordering::Relaxed);
            let named = name_row(&mut self.named, full, b't', &bare, bytes);
            self.emit(Fact::Talker(named));
            return;
        }
        if let Some(c) = self.talkers.get_mut(bare.as_ref()) {
            c.add(bytes);
        } else if self.talkers.len() < MAX_LISTED {
            self.talkers
                .entry(bare.into_owned())
                .or_default()
                .add(bytes);
        } else {
            self.stats.talkers_dropped.add(bytes);
        }
    }

    fn message(&mut self, e: &Event, s: &Stanza) {
        let (from, to) = self.parties(e, s);
        self.talker(e, from.as_ref());
        self.stats.message_body_bytes += s.body_len.unwrap_or(0) as u64;
        let minute_no = e.time.secs().div_euclid(60);
        let minute = match &mut self.minute {
            Some((no, key)) if *no == minute_no => key,
            slot => {
                let start = rfc3339(Timestamp(minute_no * 60 * 1_000_000_000));
                let key = format!("{}Z", start.get(..16).unwrap_or_default());
                &mut slot.insert((minute_no, key)).1
            }
        };
        let per_minute = &mut self.stats.messages_per_minute;
        if let Some(n) = per_minute.get_mut(minute.as_str()) {
            *n += 1;
        } else if per_minute.len() < MAX_MINUTES {
            per_minute.insert(minute.clone(), 1);
        } else {
            // Minutes come from capture times: a hostile file may spread them out.
            self.stats.messages_per_minute_dropped += 1;
        }
        if let (Some(a), Some(b)) = (from, to) {
            let (a, b) = (a.bare(), b.bare());
            let (first, second) = if a <= b { (a, b) } else { (b, a) };
            let pair = &mut self.pair;
            pair.clear();
            pair.push_str(&first);
            pair.push(' ');
            pair.push_str(&second);
            if self.facts.is_some() {
                let full = self.full.conversations.load(Ordering::Relaxed);
                let named = name_row(&mut self.named, full, b'c', pair, 1);
                self.emit(Fact::Conversation(named));
            } else if let Some(n) = self.conversations.get_mut(pair.as_str()) {
                *n += 1;
            } else if self.conversations.len() < MAX_LISTED {
                self.conversations.insert(pair.clone(), 1);
            } else {
                self.stats.conversations_dropped += 1;
            }
        }
    }

    /// Redundancy (RFC 6121 §4 semantics, rule in docs/statistics.md): a presence is
    /// redundant when the last presence from the same sender to the same recipient in
    /// the same stream and direction had the same digest.
    fn presence(&mut self, e: &Event, s: &Stanza, stream: StreamKind) {
        let (from, to) = self.parties(e, s);
        self.talker(e, from.as_ref());
        let digest = s.digest.unwrap_or_default();
        let sender = from.as_ref().map_or("", |p| p.full.as_ref());
        let red = self.stats.redundancy.entry(stream).or_default();
        red.presences.add(e.size);
        let to_bare = to.as_ref().map(Party::bare);
        let from_bare = from.as_ref().map_or(Cow::Borrowed(""), Party::bare);
        let kind = s.r#type().unwrap_or("");
        let is_muc = s.extensions().any(|ns| ns == MUC_USER);
        if is_muc {
            red.muc.add(e.size);
        }
        // RFC 6121 §4.2.2, §4.4.2: a broadcast (available or unavailable, no probe, no
        // subscription, no MUC) is sent once per contact; copies to one remote domain
        // beyond the first are what one-copy-per-domain delivery would save
        // (`across_connections`).
        let per_domain = match to_bare.as_deref() {
            Some(to)
                if stream == StreamKind::S2s && matches!(kind, "" | "unavailable") && !is_muc =>
            {
                let domain = to.rsplit_once('@').map_or(to, |(_, d)| d);
                Some(fnv::of(&[
                    sender.as_bytes(),
                    &digest.to_le_bytes(),
                    domain.as_bytes(),
                ]))
            }
            _ => None,
        };
        let (probe, answer) = if kind == "probe" {
            red.probes.add(e.size);
            // Answers come from the probed account to the prober.
            let key = fnv::of(&[
                to_bare.as_deref().unwrap_or_default().as_bytes(),
                b" ",
                from_bare.as_bytes(),
            ]);
            (Some(key), None)
        } else if self.facts.is_some() || !self.probes.is_empty() {
            // Hashed only while probes may be pending (most presences come long after).
            let key = fnv::of(&[
                from_bare.as_bytes(),
                b" ",
                to_bare.as_deref().unwrap_or_default().as_bytes(),
            ]);
            (None, Some(key))
        } else {
            (None, None)
        };
        let stream_no = self
            .flows
            .get(&e.flow)
            .and_then(|flow| flow.stream_no.get(e.direction.index()).copied())
            .unwrap_or(0);
        // The pair is kept as a 64-bit hash: 16 bytes an entry, whatever the JIDs.
        let pair = pair_key(
            e.direction,
            stream_no,
            sender,
            to.as_ref().map_or("", |p| p.full.as_ref()),
        );
        let fact = PresenceFact {
            flow: e.flow,
            pair,
            digest,
            time: e.time,
            size: e.size,
            stream,
            fan_out: fan_out_key(sender, digest),
            per_domain,
            probe,
            answer,
        };
        self.emit(Fact::Presence(fact));
    }

    /// The measures of one presence that span connections, in capture order:
    /// one-copy-per-domain copies, probe answers and fan-out groups.
    fn across_connections(&mut self, p: &PresenceFact) {
        // Groups the presence's time has closed end first (swept once per window, at
        // presences: so the merging thread of `-j`, which sees only them, sweeps at
        // the same moments as one thread).
        self.flush_fan_out(Some(p.time));
        let red = self.stats.redundancy.entry(p.stream).or_default();
        match self.last_presence.entry(p.flow).or_default().entry(p.pair) {
            Entry::Occupied(last) if *last.get() == p.digest => red.redundant.add(p.size),
            Entry::Occupied(mut last) => {
                last.insert(p.digest);
            }
            Entry::Vacant(slot) if self.presence_keys < MAX_PRESENCE_KEYS => {
                self.presence_keys += 1;
                slot.insert(p.digest);
            }
            Entry::Vacant(_) => red.untracked += 1,
        }
        // Decided first, so the definitions stay disjoint: a copy is never also an
        // answer.
        let mut copy = false;
        if let Some(key) = p.per_domain {
            let room = self.per_domain.len() < MAX_FAN_OUT_GROUPS;
            match self.per_domain.entry(key) {
                Entry::Occupied(first) if p.time.0 - first.get().0 <= FAN_OUT_WINDOW_NS => {
                    red.per_domain.add(p.size);
                    copy = true;
                }
                Entry::Occupied(mut first) => {
                    first.insert(p.time);
                }
                Entry::Vacant(slot) if room => {
                    slot.insert(p.time);
                }
                Entry::Vacant(_) => red.ungrouped += 1,
            }
        }
        if let Some(key) = p.probe {
            if self.probes.len() < MAX_FAN_OUT_GROUPS || self.probes.contains_key(&key) {
                self.probes.insert(key, p.time);
            } else {
                red.ungrouped += 1;
            }
        } else if let Some(key) = p.answer.filter(|_| !copy) {
            if self
                .probes
                .get(&key)
                .is_some_and(|t| p.time.0 - t.0 <= PROBE_WINDOW_NS)
            {
                red.probe_answers.add(p.size);
            }
        }
        let group_key = p.fan_out;
        if self.fan_out.len() >= MAX_FAN_OUT_GROUPS && !self.fan_out.contains_key(&group_key) {
            // Too many open groups: this delivery is not grouped, and says so.
            self.stats.fan_out.ungrouped += 1;
            return;
        }
        let fan = &mut self.stats.fan_out;
        let group = self.fan_out.entry(group_key).or_insert((p.time, 0));
        if p.time.0 - group.0 .0 > FAN_OUT_WINDOW_NS {
            // The earlier group is over: count it, start a new logical presence.
            fan.logical += 1;
            fan.deliveries += group.1;
            fan.max = fan.max.max(group.1);
            *group = (p.time, 0);
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
        let window_over =
            |first: &Timestamp, window: i64| now.is_none_or(|t| t.0 - first.0 > window);
        self.per_domain
            .retain(|_, first| !window_over(first, FAN_OUT_WINDOW_NS));
        self.probes
            .retain(|_, at| !window_over(at, PROBE_WINDOW_NS));
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
        self.talker(e, from.as_ref());
        let kind = s.r#type().unwrap_or("");
        let id = s.id().map(str::to_owned).unwrap_or_default();
        let file = &self.file;
        let Some(flow) = self.flows.get_mut(&e.flow) else {
            return;
        };
        match kind {
            "get" | "set" => {
                let mut payload = s
                    .payload()
                    .map(str::to_owned)
                    .unwrap_or_else(|| "(none)".into());
                if !self.stats.iq.contains_key(payload.as_str()) {
                    // Namespaces come from the wire: beyond the limit they share a row.
                    if self.stats.iq.len() >= MAX_LISTED {
                        OTHER_DETAIL.clone_into(&mut payload);
                    }
                    self.stats.iq.entry(payload.clone()).or_default();
                }
                if let Some(q) = self.stats.iq.get_mut(payload.as_str()) {
                    q.requests += 1;
                }
                if flow.pending.len() < MAX_PER_FLOW {
                    flow.pending.insert(
                        (e.direction, id),
                        (e.time, e.frame.0, kind.to_owned(), payload),
                    );
                }
            }
            "result" | "error" => match flow.pending.remove(&(e.direction.reverse(), id.clone())) {
                Some((asked, frame, asked_kind, payload)) => {
                    if !self.stats.iq.contains_key(payload.as_str()) {
                        self.stats
                            .iq
                            .insert(payload.clone(), IqNamespace::default());
                    }
                    let Some(q) = self.stats.iq.get_mut(payload.as_str()) else {
                        return;
                    };
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
                            file: file.clone(),
                            flow: e.flow.0,
                            frame,
                            time,
                            id,
                            r#type: asked_kind,
                            payload,
                            response_us: Some(us),
                        };
                        self.emit(Fact::Slow(Box::new(r)));
                    }
                }
                None => {
                    self.stats.orphan_responses += 1;
                    let payload = s.payload().map(str::to_owned).unwrap_or_default();
                    let time = rfc3339(e.time);
                    let r = IqRef {
                        file: file.clone(),
                        flow: e.flow.0,
                        frame: e.frame.0,
                        time,
                        id,
                        r#type: kind.to_owned(),
                        payload,
                        response_us: None,
                    };
                    self.emit(Fact::Orphan(Box::new(r)));
                }
            },
            _ => {}
        }
    }

    fn end_flow(&mut self, id: FlowId, how: &str) {
        self.census.end_flow(id);
        let Some(mut flow) = self.flows.remove(&id) else {
            return;
        };
        self.connection_ended(id);
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
            self.emit(Fact::Unanswered(Box::new(r)));
        }
        let row = &mut flow.row;
        if row.ended.is_empty() || (row.ended == "close" && how == "rst") {
            row.ended = how.to_owned();
        }
        row.stream = flow.kind;
        row.duration_ms = u64::try_from((flow.last.0 - flow.started.0) / 1_000_000).unwrap_or(0);
        self.emit(Fact::Session(Box::new(flow.row)));
    }
}

/// A row of a bounded table for the merging thread: its hash, and its key the first
/// time this shard names it (`named` remembers which, up to [`MAX_NAMED`]), unless
/// the table is `full` (a key would not be kept).
fn name_row(
    named: &mut HashSet<u64, foldhash::fast::RandomState>,
    full: bool,
    tag: u8,
    key: &str,
    bytes: u64,
) -> Named {
    let hash = fnv::of(&[&[tag], key.as_bytes()]);
    // One lookup for a key already named (most rows); a new one is remembered while
    // there is room, and named either way.
    let name = if full || named.contains(&hash) {
        None
    } else {
        if named.len() < MAX_NAMED {
            named.insert(hash);
        }
        Some(key.into())
    };
    Named { hash, name, bytes }
}

/// Whether the merging thread's bounded tables by hash are full ([`Collector`]'s
/// `full`).
#[derive(Debug, Default)]
struct TablesFull {
    talkers: AtomicBool,
    conversations: AtomicBool,
}

/// (direction, stream, sender, recipient) as one 64-bit FNV-1a hash.
fn pair_key(dir: Direction, stream_no: u32, from: &str, to: &str) -> u64 {
    fnv::of(&[
        &[dir.index() as u8],
        &stream_no.to_le_bytes(),
        from.as_bytes(),
        b"\0",
        to.as_bytes(),
    ])
}

fn kind_by_port(server: &str) -> Option<StreamKind> {
    let port = server.rsplit(':').next()?.parse::<u16>().ok()?;
    match port {
        // 5281 and 5443: XMPP over HTTPS (WebSocket, BOSH) is c2s.
        5222 | 5223 | 5281 | 5443 => Some(StreamKind::C2s),
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

/// Traffic class of an event, its detail written to `detail`; `None` for flow-level
/// events and anomalies.
fn classify(kind: &EventKind, detail: &mut String) -> Option<Class> {
    let (class, text): (Class, &str) = match kind {
        EventKind::Message(s) => (Class::Message, s.r#type().unwrap_or("normal")),
        EventKind::Presence(s) => {
            detail.push_str(s.r#type().unwrap_or("available"));
            if let Some(show) = s.show() {
                detail.push('/');
                detail.push_str(show);
            }
            return Some(Class::Presence);
        }
        EventKind::Iq(s) => {
            detail.push_str(s.r#type().unwrap_or_default());
            if let Some(p) = s.payload() {
                detail.push(' ');
                detail.push_str(p);
            }
            return Some(Class::Iq);
        }
        EventKind::StreamHeader { .. } => (Class::Header, ""),
        EventKind::Features(_) => (Class::Features, ""),
        EventKind::StartTls => (Class::TlsNegotiation, "starttls"),
        EventKind::TlsProceed => (Class::TlsNegotiation, "proceed"),
        EventKind::TlsFailure => (Class::TlsNegotiation, "failure"),
        // Counted as other top-level elements, as before XEP-0138 was read.
        EventKind::Compress { .. } => (Class::Other, "compress"),
        EventKind::Compressed => (Class::Other, "compressed"),
        EventKind::CompressFailure { .. } => (Class::Other, "failure"),
        EventKind::SaslAuth { .. } => (Class::Sasl, "auth"),
        EventKind::SaslChallenge { .. } => (Class::Sasl, "challenge"),
        EventKind::SaslResponse { .. } => (Class::Sasl, "response"),
        EventKind::SaslSuccess { .. } => (Class::Sasl, "success"),
        EventKind::SaslFailure { .. } => (Class::Sasl, "failure"),
        EventKind::SaslAbort => (Class::Sasl, "abort"),
        EventKind::Dialback { verify, .. } => {
            (Class::Dialback, if *verify { "verify" } else { "result" })
        }
        EventKind::ComponentHandshake { .. } => (Class::Handshake, ""),
        EventKind::StreamError { condition, .. } => {
            (Class::StreamError, condition.as_deref().unwrap_or_default())
        }
        EventKind::StreamClose => (Class::Close, ""),
        EventKind::Sm { action, .. } => (Class::StreamManagement, action.as_str()),
        EventKind::Element { name, .. } => (Class::Other, name.as_str()),
        EventKind::FlowStart { .. }
        | EventKind::FlowEnd { .. }
        | EventKind::Anomaly { .. }
        | EventKind::TlsClientHello { .. }
        | EventKind::TlsServerHello { .. }
        | EventKind::TlsEncryptedExtensions { .. }
        | EventKind::TlsCertificate { .. }
        | EventKind::TlsFinished
        | EventKind::TlsAlert { .. }
        | EventKind::WebsocketUpgrade { .. }
        | EventKind::WebsocketAccept { .. }
        | EventKind::WebsocketClose { .. }
        | EventKind::Xml { .. } => return None,
    };
    detail.push_str(text);
    Some(class)
}

/// A stanza's sender or recipient: the address as written (or the bound JID), and
/// the length of its bare JID when the common-case JID check vouched for it.
struct Party<'s> {
    full: Cow<'s, str>,
    plain_bare_len: Option<usize>,
}

impl<'s> Party<'s> {
    /// `plain_bare_len`: the bare JID's length when the common-case JID check
    /// vouched for `full` (found as the stanza's address was set, or for the bound
    /// JID); otherwise [`Party::bare`] runs the full checks.
    fn new(full: Cow<'s, str>, plain_bare_len: Option<usize>) -> Party<'s> {
        Party {
            full,
            plain_bare_len,
        }
    }

    /// The bare JID, or the address itself when it is not a valid JID.
    fn bare(&self) -> Cow<'_, str> {
        match self.plain_bare_len.and_then(|len| self.full.get(..len)) {
            Some(bare) => Cow::Borrowed(bare),
            None => Jid::bare_of(&self.full).unwrap_or(Cow::Borrowed(&self.full)),
        }
    }
}

/// (sender, digest) of a fan-out group as one 64-bit FNV-1a hash.
fn fan_out_key(sender: &str, digest: u64) -> u64 {
    fnv::of(&[sender.as_bytes(), &digest.to_le_bytes()])
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
