//! The census part of the statistics: which software speaks (per connection, with
//! evidence and confidence), which namespaces (and so which XEPs) are used, and how
//! many bytes base64 payloads take.
//!
//! Input: events (with their stanzas' census details, `crate::census::extract`);
//! output: [`Census`], mergeable like the rest of [`super::Stats`]. Per-connection
//! state is a short list of what was already counted for the connection, dropped
//! when it ends; every map is bounded.

use super::compression::Compression;
use super::MAX_LISTED;
use crate::census::{binary, software};
use crate::model::detail::{Caps, Detail};
use crate::model::{Direction, Event, EventKind, Features, FlowId, Stanza, StreamKind};
use crate::xml::ns;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Most census rows kept per table; more are counted as dropped.
const MAX_ROWS: usize = MAX_LISTED;
/// Most distinct rows remembered per connection (for its connection count).
const MAX_SEEN_PER_FLOW: usize = 256;

/// One way a piece of software was identified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareRow {
    /// client (of the connection), server, contact (another client seen through
    /// it), remote (across s2s), gateway, component, service.
    pub role: String,
    pub product: String,
    pub version: String,
    /// What says so, e.g. `caps node`, `XEP-0092 version answer`, `disco#info
    /// verifies caps (sha-1)`.
    pub evidence: String,
    /// high (a version answer, verified caps), medium (a known caps node, a disco
    /// identity), low (a resource name, caps that do not verify).
    pub confidence: String,
    pub connections: u64,
    /// Elements that said so.
    pub sightings: u64,
    /// `file#frame` of the first.
    pub first: String,
    /// The first entity it was said of (a JID, or the connection's domain).
    pub entity: String,
}

/// One namespace's use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionRow {
    /// Stanzas (and stream features) carrying it at any depth the parser visits.
    pub elements: u64,
    /// Their bytes.
    pub bytes: u64,
    pub connections: u64,
    /// `file#frame` of the first.
    pub first: String,
}

/// One kind of base64 payload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryRow {
    pub payloads: u64,
    /// Base64 text bytes as carried.
    pub encoded: u64,
    /// Bytes they decode to.
    pub decoded: u64,
}

/// The census of one capture (or of several, merged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Census {
    /// Keyed by role, product, version, evidence and confidence.
    pub software: BTreeMap<String, SoftwareRow>,
    pub software_dropped: u64,
    /// Keyed by namespace.
    pub extensions: BTreeMap<String, ExtensionRow>,
    pub extensions_dropped: u64,
    /// Keyed by payload kind (`ibb`, `vcard_photo`, `sasl`, …).
    pub binary: BTreeMap<String, BinaryRow>,
    /// The XEP-0138 what-if, when asked for (`stats --what-if zlib`); absent from
    /// the JSON document otherwise.
    #[serde(default, skip_serializing_if = "Compression::is_unmeasured")]
    pub compression: Compression,
}

impl Census {
    /// Adds another run's census: counts add up, the first sighting stays the
    /// earlier file's (of one file, as the shards of `-j` see it, the earlier frame's).
    pub fn merge(&mut self, other: &Census) {
        let software = merge_bounded(
            &mut self.software,
            &other.software,
            |mine, row| {
                mine.connections += row.connections;
                mine.sightings += row.sightings;
                if earlier_in_file(&row.first, &mine.first) {
                    mine.first.clone_from(&row.first);
                    mine.entity.clone_from(&row.entity);
                }
            },
            |row| row.sightings,
        );
        self.software_dropped += software + other.software_dropped;
        let extensions = merge_bounded(
            &mut self.extensions,
            &other.extensions,
            |mine, row| {
                mine.elements += row.elements;
                mine.bytes += row.bytes;
                mine.connections += row.connections;
                if earlier_in_file(&row.first, &mine.first) {
                    mine.first.clone_from(&row.first);
                }
            },
            |row| row.elements,
        );
        self.extensions_dropped += extensions + other.extensions_dropped;
        for (k, row) in &other.binary {
            let mine = self.binary.entry(k.clone()).or_default();
            mine.payloads += row.payloads;
            mine.encoded += row.encoded;
            mine.decoded += row.decoded;
        }
        self.compression.merge(&other.compression);
    }
}

/// The file and frame of a sighting written `file#frame`.
fn file_and_frame(s: &str) -> Option<(&str, u64)> {
    let (file, n) = s.rsplit_once('#')?;
    Some((file, n.parse().ok()?))
}

/// True when sighting `a` (`file#frame`) comes before `b` in the same file.
fn earlier_in_file(a: &str, b: &str) -> bool {
    match (file_and_frame(a), file_and_frame(b)) {
        (Some((fa, na)), Some((fb, nb))) => fa == fb && na < nb,
        _ => false,
    }
}

/// True when `e` comes from an earlier frame than the row's first sighting: events
/// held back (behind a gap, or until the capture ends) come after later frames'. The
/// first sighting is the earliest frame, as `-j` merges the shards' (which see the
/// events in different orders).
fn before_first(e: &Event, first: &str) -> bool {
    file_and_frame(first).is_some_and(|(_, frame)| e.frame.0 < frame)
}

/// Adds `other`'s rows to `mine` with `add`; a new row beyond [`MAX_ROWS`] is
/// dropped. Returns the `weight` of the rows dropped.
fn merge_bounded<V: Clone>(
    mine: &mut BTreeMap<String, V>,
    other: &BTreeMap<String, V>,
    add: impl Fn(&mut V, &V),
    weight: impl Fn(&V) -> u64,
) -> u64 {
    let mut dropped = 0;
    for (k, row) in other {
        let room = mine.len() < MAX_ROWS;
        if let Some(m) = mine.get_mut(k) {
            add(m, row);
        } else if room {
            mine.insert(k.clone(), row.clone());
        } else {
            dropped += weight(row);
        }
    }
    dropped
}

/// A software identification from one element.
#[derive(Debug)]
struct Sighting {
    role: &'static str,
    product: String,
    version: String,
    evidence: String,
    confidence: &'static str,
    entity: String,
}

/// Hashed maps (foldhash), for lookups per stanza.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Most caps nodes whose product is remembered.
const MAX_NODES_REMEMBERED: usize = 4096;

/// Counts the census while events stream past.
#[derive(Debug, Default)]
pub struct CensusCounter {
    census: Census,
    file: String,
    /// Per connection: hashes of the rows already counted for it.
    seen: Map<FlowId, Vec<u64>>,
    /// While counting: rows by the hash of their key (moved into the sorted maps of
    /// [`Census`] at the end).
    software: Map<u64, (String, SoftwareRow)>,
    extensions: Map<u64, (String, ExtensionRow)>,
    /// The row a caps announcement counts in (by its hash, or none), by the hash of
    /// (role, node, ver, hash): most presences repeat one of a few.
    caps_memo: Map<u64, Option<u64>>,
}

impl CensusCounter {
    pub fn new(file: &str) -> CensusCounter {
        CensusCounter {
            file: file.to_owned(),
            ..CensusCounter::default()
        }
    }

    /// Counts one event of a connection of `stream` kind whose client is bound to
    /// `bound` (if known).
    pub fn event(&mut self, e: &Event, stream: StreamKind, bound: Option<&str>) {
        match &e.kind {
            EventKind::Message(s) | EventKind::Presence(s) | EventKind::Iq(s) => {
                self.extensions_of(e, namespaces_of(s));
                if let Some(d) = &s.detail {
                    self.payloads(d);
                    if let Some(caps) = &d.caps {
                        self.caps(e, s, caps, stream, bound);
                    }
                    for sighting in sightings(e, s, d, stream, bound) {
                        self.software(e, sighting);
                    }
                }
                if let Some(sighting) = resource_hint(s) {
                    self.software(e, sighting);
                }
            }
            EventKind::Features(f) => {
                self.extensions_of(e, feature_namespaces(f).into_iter());
                if let Some(node) = &f.caps {
                    let caps = Caps {
                        node: node.clone(),
                        ..Caps::default()
                    };
                    let entity = String::new();
                    if let Some(s) = by_caps(&caps, "server", "stream features caps", entity) {
                        self.software(e, s);
                    }
                }
            }
            EventKind::SaslAuth { data_len, .. }
            | EventKind::SaslChallenge { data_len, .. }
            | EventKind::SaslResponse { data_len, .. } => {
                self.payload(
                    "sasl",
                    *data_len as u64,
                    binary::decoded_at_most(*data_len as u64),
                );
            }
            EventKind::SaslSuccess { data_len, .. } => {
                self.payload(
                    "sasl",
                    *data_len as u64,
                    binary::decoded_at_most(*data_len as u64),
                );
            }
            _ => {}
        }
    }

    /// Counts a caps announcement in its row, found through the announcements
    /// remembered by role, node, ver and hash (the row's entity is the first one's).
    fn caps(
        &mut self,
        e: &Event,
        s: &Stanza,
        caps: &Caps,
        stream: StreamKind,
        bound: Option<&str>,
    ) {
        let role = role_of(e, s, stream);
        let key = crate::fnv::of(&[
            role.as_bytes(),
            caps.node.as_bytes(),
            caps.ver.as_bytes(),
            caps.hash.as_deref().unwrap_or("\u{0}").as_bytes(),
            &[u8::from(caps.v2)],
        ]);
        let row = match self.caps_memo.get(&key) {
            Some(&row) => row,
            None => {
                let row = by_caps(caps, role, "caps node", entity_of(s, role, bound))
                    .map(|sighting| self.software(e, sighting));
                if self.caps_memo.len() < MAX_NODES_REMEMBERED {
                    self.caps_memo.insert(key, row);
                }
                return;
            }
        };
        if let Some(hash) = row {
            self.count_software(e, hash, None);
        }
    }

    /// Forgets a connection that ended.
    pub fn end_flow(&mut self, flow: FlowId) {
        self.seen.remove(&flow);
    }

    pub fn finish(mut self) -> Census {
        self.census.software.extend(self.software.into_values());
        self.census.extensions.extend(self.extensions.into_values());
        self.census
    }

    /// Whether the row hashed `hash` is new for the connection (and remembers it).
    fn first_in_flow(&mut self, flow: FlowId, hash: u64) -> bool {
        let seen = self.seen.entry(flow).or_default();
        if seen.contains(&hash) {
            return false;
        }
        if seen.len() < MAX_SEEN_PER_FLOW {
            seen.push(hash);
        }
        true
    }

    /// Counts one element in the row of each of its namespaces.
    fn extensions_of<'a>(&mut self, e: &Event, namespaces: impl Iterator<Item = &'a str>) {
        let seen = self.seen.entry(e.flow).or_default();
        for namespace in namespaces {
            let hash = crate::fnv::of(&[b"ns\x1f", namespace.as_bytes()]);
            let new_in_flow = !seen.contains(&hash);
            if new_in_flow && seen.len() < MAX_SEEN_PER_FLOW {
                seen.push(hash);
            }
            let rows = &mut self.extensions;
            if !rows.contains_key(&hash) {
                if rows.len() >= MAX_ROWS {
                    self.census.extensions_dropped += 1;
                    continue;
                }
                let row = ExtensionRow {
                    first: format!("{}#{}", self.file, e.frame.0),
                    ..ExtensionRow::default()
                };
                rows.insert(hash, (namespace.to_owned(), row));
            }
            if let Some((_, row)) = rows.get_mut(&hash) {
                if before_first(e, &row.first) {
                    row.first = format!("{}#{}", self.file, e.frame.0);
                }
                row.elements += 1;
                row.bytes += e.size;
                if new_in_flow {
                    row.connections += 1;
                }
            }
        }
    }

    fn payloads(&mut self, d: &Detail) {
        for b in &d.binary {
            self.payload(b.kind, b.encoded, b.decoded);
        }
    }

    fn payload(&mut self, kind: &str, encoded: u64, decoded: u64) {
        if encoded == 0 {
            return;
        }
        let row = self.census.binary.entry(kind.to_owned()).or_default();
        row.payloads += 1;
        row.encoded += encoded;
        row.decoded += decoded;
    }

    /// Counts a sighting in its row; returns the row's hash.
    fn software(&mut self, e: &Event, s: Sighting) -> u64 {
        let parts = [
            s.role.as_bytes(),
            s.product.as_bytes(),
            s.version.as_bytes(),
            s.evidence.as_bytes(),
            s.confidence.as_bytes(),
        ];
        let hash = crate::fnv::of(&parts);
        let rows = &mut self.software;
        if rows.contains_key(&hash) {
            self.count_software(e, hash, Some(&s.entity));
        } else {
            if rows.len() >= MAX_ROWS {
                self.census.software_dropped += 1;
                return hash;
            }
            let key = [s.role, &s.product, &s.version, &s.evidence, s.confidence].join("\u{1f}");
            let row = SoftwareRow {
                role: s.role.to_owned(),
                product: s.product,
                version: s.version,
                evidence: s.evidence,
                confidence: s.confidence.to_owned(),
                first: format!("{}#{}", self.file, e.frame.0),
                entity: s.entity,
                ..SoftwareRow::default()
            };
            rows.insert(hash, (key, row));
            self.count_software(e, hash, None);
        }
        hash
    }

    /// One more sighting in the row hashed `hash`, said of `entity` when known.
    fn count_software(&mut self, e: &Event, hash: u64, entity: Option<&str>) {
        let new_in_flow = self.first_in_flow(e.flow, hash);
        let Some((_, row)) = self.software.get_mut(&hash) else {
            self.census.software_dropped += 1;
            return;
        };
        if before_first(e, &row.first) {
            row.first = format!("{}#{}", self.file, e.frame.0);
            if let Some(entity) = entity {
                entity.clone_into(&mut row.entity);
            }
        }
        row.sightings += 1;
        if new_in_flow {
            row.connections += 1;
        }
    }
}

/// The namespaces a stanza carries: its children's and those below.
fn namespaces_of(s: &Stanza) -> impl Iterator<Item = &str> {
    s.extensions().chain(
        s.detail
            .iter()
            .flat_map(|d| d.nested.iter().map(String::as_str)),
    )
}

/// The namespaces of the features a server offers (RFC 6120 §4.3.2).
fn feature_namespaces(f: &Features) -> Vec<&str> {
    let mut out = Vec::new();
    let mut add = |on: bool, namespace: &'static str| {
        if on {
            out.push(namespace);
        }
    };
    add(f.starttls.is_some(), ns::TLS);
    add(!f.mechanisms.is_empty(), ns::SASL);
    add(!f.sasl2.is_empty(), ns::SASL2);
    add(f.bind2, ns::BIND2);
    add(f.bind, ns::BIND);
    add(f.session, ns::SESSION);
    add(f.sm, ns::SM);
    add(!f.compression.is_empty(), ns::COMPRESS_FEATURE);
    add(f.caps.is_some(), ns::CAPS);
    add(f.dialback, ns::DIALBACK_FEATURE);
    out.extend(f.other.iter().map(String::as_str));
    out
}

/// Who a stanza speaks for, by the stream and direction it travels: the
/// connection's client or server, or a third party seen through it.
fn role_of(e: &Event, s: &Stanza, stream: StreamKind) -> &'static str {
    match (stream, e.direction) {
        (StreamKind::C2s, Direction::ToServer) => "client",
        (StreamKind::C2s, Direction::ToClient) => match s.from() {
            // Answers from the account's own domain (no local part) are the server's.
            None => "server",
            Some(from) if !from.contains('@') && !from.contains('/') => "server",
            Some(_) => "contact",
        },
        (StreamKind::S2s, _) => "remote",
        (StreamKind::Component, _) => "component",
        _ => "unknown",
    }
}

fn entity_of(s: &Stanza, role: &str, bound: Option<&str>) -> String {
    match (s.from(), role) {
        (Some(from), _) => from.to_owned(),
        (None, "client") => bound.unwrap_or_default().to_owned(),
        (None, _) => s.to().map(domain_of).unwrap_or_default().to_owned(),
    }
}

fn domain_of(jid: &str) -> &str {
    let bare = jid.split('/').next().unwrap_or(jid);
    bare.rsplit('@').next().unwrap_or(bare)
}

/// A sighting from caps: the product its node names (with the version a legacy
/// `ver` or a versioned node gives), or the node itself when unknown.
fn by_caps(caps: &Caps, role: &'static str, evidence: &str, entity: String) -> Option<Sighting> {
    if caps.v2 {
        return Some(Sighting {
            role,
            product: "(caps 2.0: no node)".to_owned(),
            version: String::new(),
            evidence: format!("XEP-0390 caps ({})", caps.hash.as_deref().unwrap_or("?")),
            confidence: "low",
            entity,
        });
    }
    if caps.node.is_empty() {
        return None;
    }
    let legacy = caps.hash.is_none() && !caps.ver.is_empty();
    let (product, version) = match software::by_node(&caps.node) {
        Some((p, v)) => (p.name.to_owned(), v.unwrap_or_default()),
        None if software::is_not_software(&caps.node) => return None,
        None => (format!("unknown: {}", caps.node), String::new()),
    };
    let version = if legacy && version.is_empty() {
        caps.ver.clone()
    } else {
        version
    };
    let evidence = if legacy {
        format!("{evidence} (legacy XEP-0115)")
    } else {
        evidence.to_owned()
    };
    Some(Sighting {
        role,
        product,
        version,
        evidence,
        confidence: "medium",
        entity,
    })
}

/// What a stanza's census details say about software.
fn sightings(
    e: &Event,
    s: &Stanza,
    d: &Detail,
    stream: StreamKind,
    bound: Option<&str>,
) -> Vec<Sighting> {
    if d.software.is_none() && d.disco.is_none() {
        return Vec::new();
    }
    let role = role_of(e, s, stream);
    let entity = entity_of(s, role, bound);
    let mut out = Vec::new();
    if let Some(v) = &d.software {
        // XEP-0092 §2: the answerer is the iq's sender.
        let product =
            software::by_name(&v.name).map_or_else(|| v.name.clone(), |(p, _)| p.name.to_owned());
        let evidence = if v.os.is_empty() {
            "XEP-0092 version answer".to_owned()
        } else {
            format!("XEP-0092 version answer (os: {})", v.os)
        };
        out.push(Sighting {
            role,
            product,
            version: v.version.clone(),
            evidence,
            confidence: "high",
            entity: entity.clone(),
        });
    }
    if let Some(disco) = &d.disco {
        let base = disco
            .node
            .as_deref()
            .and_then(|n| n.rsplit_once('#'))
            .map(|(b, _)| b);
        match (disco.verification.as_deref(), base) {
            (Some(v), Some(base)) if v.starts_with("verified:") => {
                let hash = v.trim_start_matches("verified:");
                // XEP-0390 has no product node: the verified answer's own identity
                // names the product.
                let (product, version, evidence) = if base == crate::census::extract::CAPS2 {
                    let (p, v) = named_by_identity(disco);
                    (p, v, format!("disco#info verifies caps 2.0 ({hash})"))
                } else {
                    let (p, v) = software::by_node(base).map_or_else(
                        || (format!("unknown: {base}"), String::new()),
                        |(p, v)| (p.name.to_owned(), v.unwrap_or_default()),
                    );
                    (p, v, format!("disco#info verifies caps ({hash})"))
                };
                out.push(Sighting {
                    role,
                    product,
                    version,
                    evidence,
                    confidence: "high",
                    entity: entity.clone(),
                });
            }
            (Some(v @ ("mismatch" | "ill-formed")), Some(base)) => out.push(Sighting {
                role,
                product: if base == crate::census::extract::CAPS2 {
                    named_by_identity(disco).0
                } else {
                    software::by_node(base)
                        .map_or_else(|| format!("unknown: {base}"), |(p, _)| p.name.to_owned())
                },
                version: String::new(),
                evidence: format!("disco#info does not verify caps ({v})"),
                confidence: "low",
                entity: entity.clone(),
            }),
            _ => {}
        }
        for identity in &disco.identities {
            let identity_role = match identity.category.as_str() {
                "server" => "server",
                "gateway" => "gateway",
                "component" => "component",
                "client" => role,
                _ => continue,
            };
            if identity.name.is_empty() && identity.category != "gateway" {
                continue;
            }
            let (product, version) = match software::by_name(&identity.name) {
                Some((p, v)) => (p.name.to_owned(), v.unwrap_or_default()),
                None if identity.category == "gateway" => {
                    (format!("gateway to {}", identity.r#type), String::new())
                }
                None => (identity.name.clone(), String::new()),
            };
            out.push(Sighting {
                role: identity_role,
                product,
                version,
                evidence: format!("disco identity {}/{}", identity.category, identity.r#type),
                confidence: "medium",
                entity: entity.clone(),
            });
        }
    }
    out
}

/// The product a disco#info answer's first named identity names (by the software
/// table, or the name itself), with the version in the name if any.
fn named_by_identity(disco: &crate::model::detail::DiscoInfo) -> (String, String) {
    disco
        .identities
        .iter()
        .find(|i| !i.name.is_empty())
        .map_or_else(
            || ("unknown (caps 2.0)".to_owned(), String::new()),
            |i| match software::by_name(&i.name) {
                Some((p, v)) => (p.name.to_owned(), v.unwrap_or_default()),
                None => (i.name.clone(), String::new()),
            },
        )
}

/// A bound resource named after a known client (`Conversations.x1Yz`,
/// `gajim.ABCD`): a weak hint, since users choose resources.
fn resource_hint(s: &Stanza) -> Option<Sighting> {
    let jid = s.bound_jid()?;
    let resource = jid.split_once('/')?.1;
    let word = resource
        .split(['.', '-', '_', ' ', '/'])
        .next()
        .filter(|w| w.len() >= 3)?;
    let (product, _) = software::by_name(word)?;
    Some(Sighting {
        role: "client",
        product: product.name.to_owned(),
        version: String::new(),
        evidence: "resource name".to_owned(),
        confidence: "low",
        entity: jid.to_owned(),
    })
}
