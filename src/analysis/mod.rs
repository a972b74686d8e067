//! Statistics over events: traffic by kind, presence overhead and redundancy, iq
//! round trips, messages, sessions and top talkers.
//!
//! Input: the same [`Event`](crate::model::Event)s the printers get (the collector is
//! a `Sink`); output: a [`Stats`] value that serializes to a stable JSON document and
//! merges exactly with the stats of other files (sums, unions, histogram buckets), so
//! an archive can be processed file by file and combined. Rules: `docs/statistics.md`.

pub mod census;
pub mod collect;
pub mod compression;
pub mod histogram;
pub mod tables;

use crate::model::{Direction, StreamKind};
pub use histogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use census::Census;
pub use collect::{Collector, Fact};

/// Version of the stats JSON document.
pub const SCHEMA_VERSION: u32 = 1;
/// Most rows kept in the open-ended lists and maps; the rest are counted only.
pub const MAX_LISTED: usize = 10_000;
/// Presence fan-out groups (and one-copy-per-domain groups, and pending probes) open
/// at once; a delivery that finds the table full is counted as not grouped
/// ([`FanOut::ungrouped`]).
pub const MAX_FAN_OUT_GROUPS: usize = 100_000;
/// Most minutes in `messages_per_minute` (about 69 days of minutes).
pub const MAX_MINUTES: usize = 100_000;
/// Most unanswered/orphan iqs listed by id.
pub const MAX_IQ_LISTED: usize = 100;

/// A count of stanzas (or elements) and their bytes on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub count: u64,
    pub bytes: u64,
}

impl Counter {
    pub fn add(&mut self, bytes: u64) {
        self.count += 1;
        self.bytes += bytes;
    }

    pub fn merge(&mut self, other: &Counter) {
        self.count += other.count;
        self.bytes += other.bytes;
    }
}

/// What a unit of traffic is: stanza kinds, and the stream-level elements around them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Message,
    Presence,
    Iq,
    /// Stream headers and XML declarations.
    Header,
    Features,
    /// `<starttls/>`, `<proceed/>`, TLS `<failure/>`.
    TlsNegotiation,
    Sasl,
    Dialback,
    Handshake,
    StreamError,
    Close,
    /// Stream management (XEP-0198): enable, resume, acks and their requests.
    #[serde(rename = "sm")]
    StreamManagement,
    /// Other top-level elements (compression, wrappers, extensions).
    Other,
    /// Whitespace between elements (keepalives).
    Whitespace,
    /// Bytes after the TLS hand-off, not decrypted.
    Tls,
    /// HTTP, WebSocket and BOSH framing around XMPP (RFC 7395, XEP-0206).
    Framing,
}

impl Class {
    pub fn is_stanza(self) -> bool {
        matches!(self, Class::Message | Class::Presence | Class::Iq)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Message => "message",
            Class::Presence => "presence",
            Class::Iq => "iq",
            Class::Header => "header",
            Class::Features => "features",
            Class::TlsNegotiation => "tls_negotiation",
            Class::Sasl => "sasl",
            Class::Dialback => "dialback",
            Class::Handshake => "handshake",
            Class::StreamError => "stream_error",
            Class::Close => "close",
            Class::StreamManagement => "sm",
            Class::Other => "other",
            Class::Whitespace => "whitespace",
            Class::Tls => "tls",
            Class::Framing => "framing",
        }
    }
}

/// One row of the traffic table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TrafficKey {
    pub stream: StreamKind,
    pub dir: Direction,
    pub class: Class,
    /// Type and sub-kind: `chat`, `available/away`, `get jabber:iq:roster`, ….
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficRow {
    #[serde(flatten)]
    pub key: TrafficKey,
    #[serde(flatten)]
    pub counter: Counter,
}

/// Presence repeats per stream kind, under the definitions of `docs/statistics.md`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redundancy {
    pub presences: Counter,
    /// `resent`: the same sender to the same recipient with the same meaning as the
    /// last one.
    pub redundant: Counter,
    /// Presences not judged because the tracking limit was reached.
    #[serde(default)]
    pub untracked: u64,
    /// `per_domain` (s2s): copies of one broadcast presence (same sender and meaning
    /// within the fan-out window) to a remote domain beyond the first: what sending
    /// one copy per domain would save.
    #[serde(default)]
    pub per_domain: Counter,
    /// Presence probes (RFC 6121 §4.3).
    #[serde(default)]
    pub probes: Counter,
    /// Presences answering a probe: from the probed account to the prober within
    /// the probe window (RFC 6121 §4.3.2).
    #[serde(default)]
    pub probe_answers: Counter,
    /// Presences of a multi-user chat room (XEP-0045 `muc#user`): the room's
    /// fan-out, not a server's broadcast, so outside `per_domain`.
    #[serde(default)]
    pub muc: Counter,
    /// s2s broadcast candidates and probes that found [`MAX_FAN_OUT_GROUPS`] groups
    /// (or probes) open: not grouped, so neither `per_domain` copies nor answered
    /// probes can be counted for them. Written only when not zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ungrouped: u64,
}

impl Redundancy {
    fn merge(&mut self, other: &Redundancy) {
        self.presences.merge(&other.presences);
        self.redundant.merge(&other.redundant);
        self.untracked += other.untracked;
        self.ungrouped += other.ungrouped;
        self.per_domain.merge(&other.per_domain);
        self.probes.merge(&other.probes);
        self.probe_answers.merge(&other.probe_answers);
        self.muc.merge(&other.muc);
    }
}

/// One logical presence delivered to several recipients (server or MUC fan-out).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanOut {
    /// Distinct presences (same sender and meaning within one second).
    pub logical: u64,
    /// Presence stanzas that carried them.
    pub deliveries: u64,
    /// Largest number of deliveries of one logical presence.
    pub max: u64,
    /// Deliveries left out of the groups because [`MAX_FAN_OUT_GROUPS`] groups were
    /// open (only where presences of that many senders or meanings arrive within the
    /// one-second window); shown so a table that filled up is never silent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ungrouped: u64,
}

/// Round trips of one iq payload namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IqNamespace {
    pub requests: u64,
    pub results: u64,
    pub errors: u64,
    pub unanswered: u64,
    pub response_time: Histogram,
}

/// An iq listed by where it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IqRef {
    pub file: String,
    pub flow: u32,
    pub frame: u64,
    /// Capture time of the request (or of the orphan response), RFC 3339.
    pub time: String,
    pub id: String,
    pub r#type: String,
    pub payload: String,
    /// Response time, for slow responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_us: Option<u64>,
}

/// One XMPP connection as a session row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub file: String,
    pub flow: u32,
    pub stream: Option<StreamKind>,
    pub client: String,
    pub server: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub start: String,
    pub duration_ms: u64,
    /// `offered`, `required`, or absent.
    pub starttls: Option<String>,
    /// TLS was used: STARTTLS taken, or direct TLS.
    pub tls_taken: bool,
    /// The negotiated TLS version and cipher suite (ServerHello).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    /// The server name the client asked for (ClientHello SNI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// The XMPP inside TLS was decrypted with a key log.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub decrypted: bool,
    pub mechanisms_offered: Vec<String>,
    pub mechanism: Option<String>,
    /// `success`, `failure:<condition>`, `abort`, or absent.
    pub sasl_outcome: Option<String>,
    pub bound_jid: Option<String>,
    /// `close`, `error:<condition>`, `rst`, `fin`, `capture_end`, `idle`.
    pub ended: String,
    pub stanzas: u64,
    pub stanza_bytes: u64,
    pub presence_bytes: u64,
    /// Bytes of parsed XML (elements, headers, whitespace) in both directions.
    pub xml_bytes: u64,
    /// Stream compression, when the session used it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<CompressionRow>,
}

/// A session's compression: its method and, per direction, the compressed bytes
/// and what they inflated to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompressionRow {
    /// `zlib` (XEP-0138) or `permessage-deflate` (RFC 7692).
    pub method: String,
    /// Client to server: (compressed, inflated).
    pub to_server: (u64, u64),
    /// Server to client: (compressed, inflated).
    pub to_client: (u64, u64),
}

/// Everything `xmppdump stats` reports; mergeable across files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub schema: u32,
    pub files: Vec<String>,
    pub packets: u64,
    pub xmpp_flows: u64,
    pub anomalies: u64,
    /// Anomaly kind → events.
    pub anomaly_kinds: BTreeMap<String, u64>,
    #[serde(with = "traffic_rows")]
    pub traffic: BTreeMap<TrafficKey, Counter>,
    pub redundancy: BTreeMap<StreamKind, Redundancy>,
    pub fan_out: FanOut,
    pub iq: BTreeMap<String, IqNamespace>,
    pub orphan_responses: u64,
    pub unanswered_list: Vec<IqRef>,
    pub orphan_list: Vec<IqRef>,
    /// Responses slower than the collector's threshold (only when one is set).
    pub slow_list: Vec<IqRef>,
    pub message_body_bytes: u64,
    /// `a b` (bare JIDs, sorted) → messages.
    pub conversations: BTreeMap<String, u64>,
    pub conversations_dropped: u64,
    /// Minute (`YYYY-MM-DDTHH:MMZ`) → messages.
    pub messages_per_minute: BTreeMap<String, u64>,
    /// Messages of minutes beyond the first [`MAX_MINUTES`] (a capture spanning more
    /// than about 69 days of minutes with messages).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub messages_per_minute_dropped: u64,
    pub sessions: Vec<SessionRow>,
    pub sessions_dropped: u64,
    /// Bare JID → stanzas sent and their bytes.
    pub talkers: BTreeMap<String, Counter>,
    pub talkers_dropped: Counter,
    /// Software, extensions and base64 payloads (the traffic census).
    #[serde(default)]
    pub census: Census,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            schema: SCHEMA_VERSION,
            files: Vec::new(),
            packets: 0,
            xmpp_flows: 0,
            anomalies: 0,
            anomaly_kinds: BTreeMap::new(),
            traffic: BTreeMap::new(),
            redundancy: BTreeMap::new(),
            fan_out: FanOut::default(),
            iq: BTreeMap::new(),
            orphan_responses: 0,
            unanswered_list: Vec::new(),
            orphan_list: Vec::new(),
            slow_list: Vec::new(),
            message_body_bytes: 0,
            conversations: BTreeMap::new(),
            conversations_dropped: 0,
            messages_per_minute: BTreeMap::new(),
            messages_per_minute_dropped: 0,
            sessions: Vec::new(),
            sessions_dropped: 0,
            talkers: BTreeMap::new(),
            talkers_dropped: Counter::default(),
            census: Census::default(),
        }
    }
}

/// Adds `n` to a bounded map entry; a new key beyond `MAX_LISTED` goes to `dropped`.
fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K, n: u64, dropped: &mut u64) {
    bump_within(map, key, n, MAX_LISTED, dropped);
}

/// Adds `n` to a map entry; a new key beyond `max` keys goes to `dropped`.
fn bump_within<K: Ord>(map: &mut BTreeMap<K, u64>, key: K, n: u64, max: usize, dropped: &mut u64) {
    if let Some(v) = map.get_mut(&key) {
        *v += n;
    } else if map.len() < max {
        map.insert(key, n);
    } else {
        *dropped += n;
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Stats {
    /// Adds another file's (or run's) stats to these. Sums, unions and histogram
    /// buckets: merging per-file stats equals processing the files together, except
    /// that a fan-out group split across two files counts in each.
    pub fn merge(&mut self, other: &Stats) {
        self.files.extend(other.files.iter().cloned());
        self.packets += other.packets;
        self.xmpp_flows += other.xmpp_flows;
        self.anomalies += other.anomalies;
        for (k, n) in &other.anomaly_kinds {
            *self.anomaly_kinds.entry(k.clone()).or_insert(0) += n;
        }
        for (k, c) in &other.traffic {
            self.traffic.entry(k.clone()).or_default().merge(c);
        }
        for (k, r) in &other.redundancy {
            self.redundancy.entry(*k).or_default().merge(r);
        }
        self.fan_out.logical += other.fan_out.logical;
        self.fan_out.deliveries += other.fan_out.deliveries;
        self.fan_out.max = self.fan_out.max.max(other.fan_out.max);
        self.fan_out.ungrouped += other.fan_out.ungrouped;
        for (ns, q) in &other.iq {
            let mine = self.iq.entry(ns.clone()).or_default();
            mine.requests += q.requests;
            mine.results += q.results;
            mine.errors += q.errors;
            mine.unanswered += q.unanswered;
            mine.response_time.merge(&q.response_time);
        }
        self.orphan_responses += other.orphan_responses;
        merge_list(
            &mut self.unanswered_list,
            &other.unanswered_list,
            MAX_IQ_LISTED,
        );
        merge_list(&mut self.orphan_list, &other.orphan_list, MAX_IQ_LISTED);
        merge_list(&mut self.slow_list, &other.slow_list, MAX_IQ_LISTED);
        self.message_body_bytes += other.message_body_bytes;
        let mut dropped = other.conversations_dropped;
        for (k, n) in &other.conversations {
            bump(&mut self.conversations, k.clone(), *n, &mut dropped);
        }
        self.conversations_dropped += dropped;
        let mut dropped = other.messages_per_minute_dropped;
        for (k, n) in &other.messages_per_minute {
            bump_within(
                &mut self.messages_per_minute,
                k.clone(),
                *n,
                MAX_MINUTES,
                &mut dropped,
            );
        }
        self.messages_per_minute_dropped += dropped;
        let room = MAX_LISTED.saturating_sub(self.sessions.len());
        self.sessions
            .extend(other.sessions.iter().take(room).cloned());
        self.sessions_dropped +=
            other.sessions_dropped + other.sessions.len().saturating_sub(room) as u64;
        self.sessions
            .sort_by(|a, b| (&a.file, a.flow).cmp(&(&b.file, b.flow)));
        for (jid, c) in &other.talkers {
            if let Some(mine) = self.talkers.get_mut(jid) {
                mine.merge(c);
            } else if self.talkers.len() < MAX_LISTED {
                self.talkers.insert(jid.clone(), *c);
            } else {
                self.talkers_dropped.merge(c);
            }
        }
        self.talkers_dropped.merge(&other.talkers_dropped);
        self.census.merge(&other.census);
    }

    /// Sum of the traffic rows matching `pred`.
    pub fn traffic_where(&self, pred: impl Fn(&TrafficKey) -> bool) -> Counter {
        let mut total = Counter::default();
        for (k, c) in &self.traffic {
            if pred(k) {
                total.merge(c);
            }
        }
        total
    }

    /// The presence repeats of one stream kind, or of all together (`None`).
    pub fn redundancy_of(&self, stream: Option<StreamKind>) -> Redundancy {
        let mut sum = Redundancy::default();
        for (k, r) in &self.redundancy {
            if stream.is_none_or(|s| s == *k) {
                sum.merge(r);
            }
        }
        sum
    }

    /// The headline presence ratios per stream kind and for all (`all`), computed
    /// from the counts (so exact after a merge): numbers in [0, 1], `None` when the
    /// denominator is 0.
    pub fn presence_ratios(&self) -> BTreeMap<String, PresenceRatios> {
        let mut scopes: Vec<Option<StreamKind>> =
            self.redundancy.keys().map(|k| Some(*k)).collect();
        scopes.push(None);
        scopes
            .into_iter()
            .map(|scope| {
                let o = self.presence_overhead(scope);
                let r = self.redundancy_of(scope);
                let name = scope.map_or("all", StreamKind::as_str).to_owned();
                let ratios = PresenceRatios {
                    of_stanza_bytes: o.of_stanza_bytes(),
                    of_stanzas: ratio(o.presence.count, o.stanzas.count),
                    of_xmpp_bytes: o.of_xml_bytes(),
                    resent: ratio(r.redundant.count, r.presences.count),
                    per_domain: ratio(r.per_domain.count, r.presences.count),
                    per_domain_saving_of_stanza_bytes: ratio(r.per_domain.bytes, o.stanzas.bytes),
                    probes_and_answers: ratio(
                        r.probes.count + r.probe_answers.count,
                        r.presences.count,
                    ),
                    by_definition: self
                        .presence_measures(scope)
                        .into_iter()
                        .skip(1)
                        .map(|(name, c)| {
                            let share = MeasureShare {
                                stanzas: c.count,
                                bytes: c.bytes,
                                of_presences: ratio(c.count, o.presence.count),
                                of_presence_bytes: ratio(c.bytes, o.presence.bytes),
                                of_stanza_bytes: ratio(c.bytes, o.stanzas.bytes),
                            };
                            (name, share)
                        })
                        .collect(),
                };
                (name, ratios)
            })
            .collect()
    }

    /// Share of iq stanzas of type `error` among all iq stanzas (RFC 6120 §8.2.3), per
    /// stream kind and for all (`all`), from the traffic counts (exact after a
    /// merge); `None` without iqs.
    pub fn iq_error_shares(&self) -> BTreeMap<String, Option<f64>> {
        let mut scopes: Vec<Option<StreamKind>> = self
            .traffic
            .keys()
            .filter(|k| k.class == Class::Iq)
            .map(|k| Some(k.stream))
            .collect();
        scopes.dedup();
        scopes.push(None);
        scopes
            .into_iter()
            .map(|scope| {
                let in_scope =
                    |k: &TrafficKey| k.class == Class::Iq && scope.is_none_or(|s| k.stream == s);
                let all = self.traffic_where(in_scope).count;
                let errors = self
                    .traffic_where(|k| in_scope(k) && k.detail.split(' ').next() == Some("error"))
                    .count;
                (
                    scope.map_or("all", StreamKind::as_str).to_owned(),
                    ratio(errors, all),
                )
            })
            .collect()
    }

    /// The presence of one stream kind or all (`None`) under each named definition
    /// (`docs/statistics.md`), first all presence, then `resent`, `per_domain`,
    /// `probe+answer` (probes and the presences answering them, RFC 6121 §4.3) and
    /// `muc` (room presence, XEP-0045): stanzas and bytes each.
    pub fn presence_measures(&self, stream: Option<StreamKind>) -> [(&'static str, Counter); 5] {
        let r = self.redundancy_of(stream);
        let mut probing = r.probes;
        probing.merge(&r.probe_answers);
        [
            ("presence", self.presence_overhead(stream).presence),
            ("resent", r.redundant),
            ("per_domain", r.per_domain),
            ("probe+answer", probing),
            ("muc", r.muc),
        ]
    }

    pub fn presence_overhead(&self, stream: Option<StreamKind>) -> Overhead {
        let in_scope = |k: &TrafficKey| stream.is_none_or(|s| k.stream == s);
        Overhead {
            presence: self.traffic_where(|k| in_scope(k) && k.class == Class::Presence),
            stanzas: self.traffic_where(|k| in_scope(k) && k.class.is_stanza()),
            // XMPP bytes: neither encrypted nor the HTTP around XMPP.
            xml: self
                .traffic_where(|k| in_scope(k) && !matches!(k.class, Class::Tls | Class::Framing)),
        }
    }
}

/// The presence ratios a report quotes (`docs/statistics.md`), per stream kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresenceRatios {
    /// Presence bytes / stanza bytes.
    pub of_stanza_bytes: Option<f64>,
    /// Presence stanzas / stanzas.
    pub of_stanzas: Option<f64>,
    /// Presence bytes / parsed XMPP bytes.
    pub of_xmpp_bytes: Option<f64>,
    /// `resent` presences / presences.
    pub resent: Option<f64>,
    /// `per_domain` copies / presences.
    pub per_domain: Option<f64>,
    /// Bytes of `per_domain` copies / stanza bytes: the share of stanza traffic that
    /// one copy per remote domain would save.
    pub per_domain_saving_of_stanza_bytes: Option<f64>,
    /// (probes + answers) / presences.
    pub probes_and_answers: Option<f64>,
    /// Every definition of [`Stats::presence_measures`] but all presence, with its
    /// counts and its shares of presence stanzas, presence bytes and stanza bytes.
    pub by_definition: BTreeMap<&'static str, MeasureShare>,
}

/// One presence definition's counts and shares (`docs/statistics.md`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeasureShare {
    pub stanzas: u64,
    pub bytes: u64,
    /// Stanzas / presence stanzas.
    pub of_presences: Option<f64>,
    /// Bytes / presence bytes.
    pub of_presence_bytes: Option<f64>,
    /// Bytes / stanza bytes: the share of stanza traffic this definition covers (for
    /// `resent` and `per_domain`, what their removal would save).
    pub of_stanza_bytes: Option<f64>,
}

/// Numbers behind the presence overhead ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overhead {
    pub presence: Counter,
    pub stanzas: Counter,
    pub xml: Counter,
}

impl Overhead {
    /// Presence bytes / stanza bytes.
    pub fn of_stanza_bytes(&self) -> Option<f64> {
        ratio(self.presence.bytes, self.stanzas.bytes)
    }

    /// Presence bytes / all parsed XMPP bytes.
    pub fn of_xml_bytes(&self) -> Option<f64> {
        ratio(self.presence.bytes, self.xml.bytes)
    }
}

pub fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn merge_list(mine: &mut Vec<IqRef>, other: &[IqRef], max: usize) {
    mine.extend(other.iter().cloned());
    mine.sort();
    mine.truncate(max);
}

/// The traffic map as a JSON list of rows (objects cannot have struct keys).
mod traffic_rows {
    use super::{Counter, TrafficKey, TrafficRow};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<TrafficKey, Counter>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let rows: Vec<TrafficRow> = map
            .iter()
            .map(|(k, c)| TrafficRow {
                key: k.clone(),
                counter: *c,
            })
            .collect();
        rows.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<TrafficKey, Counter>, D::Error> {
        let rows = Vec::<TrafficRow>::deserialize(d)?;
        let mut map = BTreeMap::new();
        for row in rows {
            map.entry(row.key)
                .or_insert_with(Counter::default)
                .merge(&row.counter);
        }
        Ok(map)
    }
}
