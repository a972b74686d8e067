//! [`Stats`] laid out as named tables, the one shape every text format renders.
//!
//! Input: stats; output: [`Table`]s with string cells. Tables keep every row; the
//! terminal and Markdown renderers shorten long ones, CSV writes them whole.

use super::{ratio, Class, Stats};
use crate::model::{Direction, StreamKind};
use std::collections::BTreeMap;

/// A titled table of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Stable identifier (`--table NAME`, CSV file name).
    pub name: &'static str,
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Columns shown on an 80-column terminal, when not all fit.
    pub terminal_columns: Option<Vec<usize>>,
}

/// Names of all tables, in output order.
pub const TABLE_NAMES: &[&str] = &[
    "overview",
    "traffic",
    "presence",
    "iq",
    "iq_unmatched",
    "messages",
    "conversations",
    "messages_per_minute",
    "sessions",
    "talkers",
    "software",
    "extensions",
    "binary",
    "stream_compression",
    "compression",
];

fn table(name: &'static str, title: &str, headers: &[&str], rows: Vec<Vec<String>>) -> Table {
    Table {
        name,
        title: title.to_owned(),
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        rows,
        terminal_columns: None,
    }
}

fn pct(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

fn ms(us: Option<u64>) -> String {
    us.map_or_else(|| "-".to_owned(), |us| format!("{:.1}", us as f64 / 1000.0))
}

fn dir(d: Direction) -> &'static str {
    d.arrow()
}

pub fn tables(s: &Stats) -> Vec<Table> {
    let mut all = vec![
        overview(s),
        traffic(s),
        presence(s),
        iq(s),
        iq_unmatched(s),
        messages(s),
        conversations(s),
        per_minute(s),
        sessions(s),
        talkers(s),
        software(s),
        extensions(s),
        binary(s),
    ];
    // Only when a session compressed its streams (XEP-0138, RFC 7692).
    if s.sessions.iter().any(|r| r.compression.is_some()) {
        all.push(stream_compression(s));
    }
    // Only measured on request (`stats --what-if zlib`).
    if s.census.compression.measured {
        all.push(compression(s));
    }
    all
}

fn overview(s: &Stats) -> Table {
    let stanzas = s.traffic_where(|k| k.class.is_stanza());
    let all = s.presence_overhead(None);
    let red = s.redundancy.values().fold((0, 0), |(p, r), x| {
        (p + x.presences.count, r + x.redundant.count)
    });
    let mut fan = if s.fan_out.logical > 0 {
        format!(
            "{:.2}",
            s.fan_out.deliveries as f64 / s.fan_out.logical as f64
        )
    } else {
        "-".into()
    };
    if s.fan_out.ungrouped > 0 {
        fan.push_str(&format!(
            " ({} deliveries not grouped: {} groups open at once)",
            s.fan_out.ungrouped,
            super::MAX_FAN_OUT_GROUPS
        ));
    }
    let rows = vec![
        vec!["files".into(), s.files.len().to_string()],
        vec!["packets".into(), s.packets.to_string()],
        vec!["XMPP flows".into(), s.xmpp_flows.to_string()],
        vec!["stanzas".into(), stanzas.count.to_string()],
        vec!["stanza bytes".into(), stanzas.bytes.to_string()],
        vec![
            "presence share of stanza bytes".into(),
            pct(all.of_stanza_bytes()),
        ],
        vec![
            "presence share of XMPP bytes".into(),
            pct(all.of_xml_bytes()),
        ],
        vec![
            "redundant presences".into(),
            format!("{} of {} ({})", red.1, red.0, pct(ratio(red.1, red.0))),
        ],
        vec!["presence fan-out (deliveries per presence)".into(), fan],
        vec!["anomalies".into(), s.anomalies.to_string()],
    ];
    table("overview", "Overview", &["measure", "value"], rows)
}

fn traffic(s: &Stats) -> Table {
    let total = s.traffic_where(|k| k.class != Class::Tls).bytes;
    let rows = s
        .traffic
        .iter()
        .map(|(k, c)| {
            let share = if k.class == Class::Tls {
                "-".into()
            } else {
                pct(ratio(c.bytes, total))
            };
            vec![
                k.stream.as_str().into(),
                dir(k.dir).into(),
                k.class.as_str().into(),
                k.detail.clone(),
                c.count.to_string(),
                c.bytes.to_string(),
                share,
            ]
        })
        .collect();
    table(
        "traffic",
        "Traffic by kind",
        &[
            "stream", "dir", "class", "detail", "count", "bytes", "share",
        ],
        rows,
    )
}

fn presence(s: &Stats) -> Table {
    let mut scopes: Vec<Option<StreamKind>> = s.redundancy.keys().map(|k| Some(*k)).collect();
    scopes.push(None);
    let mut rows = Vec::new();
    for scope in scopes {
        let o = s.presence_overhead(scope);
        for (measure, c) in s.presence_measures(scope) {
            rows.push(vec![
                scope.map_or("all", StreamKind::as_str).into(),
                measure.into(),
                c.count.to_string(),
                c.bytes.to_string(),
                pct(ratio(c.bytes, o.presence.bytes)),
                pct(ratio(c.bytes, o.stanzas.bytes)),
                pct(ratio(c.bytes, o.xml.bytes)),
            ]);
        }
    }
    table(
        "presence",
        "Presence overhead and redundancy, by definition (shares of bytes)",
        &[
            "stream",
            "measure",
            "stanzas",
            "bytes",
            "%presence",
            "%stanza",
            "%xmpp",
        ],
        rows,
    )
}

fn iq(s: &Stats) -> Table {
    let rows =
        s.iq.iter()
            .map(|(ns, q)| {
                let h = &q.response_time;
                vec![
                    ns.clone(),
                    q.requests.to_string(),
                    (q.results + q.errors).to_string(),
                    q.errors.to_string(),
                    q.unanswered.to_string(),
                    ms(h.min_us),
                    ms(h.quantile(0.5)),
                    ms(h.quantile(0.95)),
                    ms(h.max_us),
                ]
            })
            .collect();
    table(
        "iq",
        "iq round trips (ms)",
        &[
            "payload", "req", "ans", "err", "unans", "min", "median", "p95", "max",
        ],
        rows,
    )
}

fn iq_unmatched(s: &Stats) -> Table {
    let row = |what: &str, r: &super::IqRef| {
        vec![
            what.into(),
            r.file.clone(),
            r.flow.to_string(),
            r.frame.to_string(),
            r.id.clone(),
            r.r#type.clone(),
            r.payload.clone(),
        ]
    };
    let rows = s
        .unanswered_list
        .iter()
        .map(|r| row("unanswered", r))
        .chain(s.orphan_list.iter().map(|r| row("orphan", r)))
        .collect();
    table(
        "iq_unmatched",
        "Unanswered requests and orphan responses",
        &["kind", "file", "flow", "frame", "id", "type", "payload"],
        rows,
    )
}

fn messages(s: &Stats) -> Table {
    let mut by_type = BTreeMap::new();
    for (k, c) in &s.traffic {
        if k.class == Class::Message {
            by_type
                .entry(k.detail.clone())
                .or_insert_with(super::Counter::default)
                .merge(c);
        }
    }
    let mut rows: Vec<Vec<String>> = by_type
        .into_iter()
        .map(|(t, c)| vec![t, c.count.to_string(), c.bytes.to_string()])
        .collect();
    rows.push(vec![
        "body bytes (all types)".into(),
        "-".into(),
        s.message_body_bytes.to_string(),
    ]);
    table(
        "messages",
        "Messages by type",
        &["type", "messages", "bytes"],
        rows,
    )
}

fn conversations(s: &Stats) -> Table {
    let mut pairs: Vec<(&String, &u64)> = s.conversations.iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let rows = pairs
        .into_iter()
        .map(|(pair, n)| {
            let (a, b) = pair.split_once(' ').unwrap_or((pair.as_str(), ""));
            vec![a.to_owned(), b.to_owned(), n.to_string()]
        })
        .collect();
    table(
        "conversations",
        "Conversations (bare JID pairs)",
        &["jid", "jid", "messages"],
        rows,
    )
}

fn per_minute(s: &Stats) -> Table {
    let rows = s
        .messages_per_minute
        .iter()
        .map(|(m, n)| vec![m.clone(), n.to_string()])
        .collect();
    table(
        "messages_per_minute",
        "Messages per minute",
        &["minute (UTC)", "messages"],
        rows,
    )
}

fn sessions(s: &Stats) -> Table {
    let rows = s
        .sessions
        .iter()
        .map(|r| {
            let tls = match (&r.starttls, r.tls_taken) {
                (_, true) => "taken".to_owned(),
                (Some(offer), false) => offer.clone(),
                (None, false) => "-".to_owned(),
            };
            let sasl = match (&r.mechanism, &r.sasl_outcome) {
                (Some(m), Some(o)) => format!("{m} {o}"),
                (Some(m), None) => m.clone(),
                (None, _) => "-".into(),
            };
            let flow = if s.files.len() > 1 {
                format!("{}#{}", r.file, r.flow)
            } else {
                format!("#{}", r.flow)
            };
            vec![
                flow,
                r.stream.map_or("-", StreamKind::as_str).into(),
                format!("{} > {}", r.client, r.server),
                r.bound_jid
                    .clone()
                    .or_else(|| r.to.clone())
                    .unwrap_or_else(|| "-".into()),
                format!("{:.1}", r.duration_ms as f64 / 1000.0),
                tls,
                sasl,
                r.stanzas.to_string(),
                pct(ratio(r.presence_bytes, r.stanza_bytes)),
                r.ended.clone(),
                match (&r.tls, r.decrypted) {
                    (Some(t), true) => format!("{t}, decrypted"),
                    (Some(t), false) => t.clone(),
                    (None, _) => "-".into(),
                },
            ]
        })
        .collect();
    let mut t = table(
        "sessions",
        "Sessions",
        &[
            "flow",
            "stream",
            "endpoints",
            "jid",
            "secs",
            "starttls",
            "sasl",
            "stanzas",
            "presence",
            "ended",
            "tls",
        ],
        rows,
    );
    t.terminal_columns = Some(vec![0, 3, 5, 6, 7, 8, 9]);
    t
}

fn talkers(s: &Stats) -> Table {
    let mut list: Vec<(&String, &super::Counter)> = s.talkers.iter().collect();
    list.sort_by(|a, b| {
        b.1.bytes
            .cmp(&a.1.bytes)
            .then(b.1.count.cmp(&a.1.count))
            .then(a.0.cmp(b.0))
    });
    let rows = list
        .into_iter()
        .map(|(j, c)| vec![j.clone(), c.count.to_string(), c.bytes.to_string()])
        .collect();
    table(
        "talkers",
        "Top talkers (senders)",
        &["jid", "stanzas", "bytes"],
        rows,
    )
}

/// The census order of confidence.
fn confidence_rank(c: &str) -> u8 {
    match c {
        "high" => 0,
        "medium" => 1,
        _ => 2,
    }
}

/// Software identified, by role, product and evidence (`docs/census.md`).
fn software(s: &Stats) -> Table {
    let mut list: Vec<_> = s.census.software.values().collect();
    list.sort_by(|a, b| {
        (
            &a.role,
            &a.product,
            &a.version,
            confidence_rank(&a.confidence),
            &a.evidence,
        )
            .cmp(&(
                &b.role,
                &b.product,
                &b.version,
                confidence_rank(&b.confidence),
                &b.evidence,
            ))
    });
    let rows = list
        .into_iter()
        .map(|r| {
            vec![
                r.role.clone(),
                r.product.clone(),
                r.version.clone(),
                r.confidence.clone(),
                r.evidence.clone(),
                r.connections.to_string(),
                r.sightings.to_string(),
                r.first.clone(),
                r.entity.clone(),
            ]
        })
        .collect();
    let mut t = table(
        "software",
        "Software (clients, servers, libraries) and the evidence for each",
        &[
            "role",
            "product",
            "version",
            "confidence",
            "evidence",
            "connections",
            "sightings",
            "first",
            "entity",
        ],
        rows,
    );
    t.terminal_columns = Some(vec![0, 1, 2, 3, 4, 5]);
    t
}

/// Every namespace seen, with the XEP (or RFC) that defines it, by category.
fn extensions(s: &Stats) -> Table {
    let mut list: Vec<_> = s
        .census
        .extensions
        .iter()
        .map(|(namespace, row)| (crate::census::namespaces::lookup(namespace), namespace, row))
        .collect();
    let category =
        |spec: &Option<crate::census::namespaces::Spec>| spec.map_or("unknown", |s| s.category);
    list.sort_by(|a, b| {
        (category(&a.0), a.0.map(|s| s.name()), a.1).cmp(&(
            category(&b.0),
            b.0.map(|s| s.name()),
            b.1,
        ))
    });
    let rows = list
        .into_iter()
        .map(|(spec, namespace, row)| {
            vec![
                category(&spec).to_owned(),
                spec.map_or_else(|| "unknown".to_owned(), |s| s.name()),
                spec.map_or("", |s| s.title).to_owned(),
                spec.map_or("", |s| s.status).to_owned(),
                namespace.clone(),
                row.elements.to_string(),
                row.bytes.to_string(),
                row.connections.to_string(),
                row.first.clone(),
            ]
        })
        .collect();
    let mut t = table(
        "extensions",
        "Extensions: namespaces and the XEPs that define them",
        &[
            "category",
            "spec",
            "title",
            "status",
            "namespace",
            "elements",
            "bytes",
            "connections",
            "first",
        ],
        rows,
    );
    t.terminal_columns = Some(vec![0, 1, 4, 5, 7]);
    t
}

/// Base64 payloads: encoded and decoded bytes, the overhead and its share.
fn binary(s: &Stats) -> Table {
    let stanza_bytes = s.traffic_where(|k| k.class.is_stanza()).bytes;
    let rows = s
        .census
        .binary
        .iter()
        .map(|(kind, r)| {
            let overhead = r.encoded.saturating_sub(r.decoded);
            // SASL payloads travel outside stanzas.
            let share = if kind == "sasl" {
                "-".to_owned()
            } else {
                pct(ratio(r.encoded, stanza_bytes))
            };
            vec![
                kind.clone(),
                r.payloads.to_string(),
                r.encoded.to_string(),
                r.decoded.to_string(),
                overhead.to_string(),
                share,
            ]
        })
        .collect();
    table(
        "binary",
        "Binary data carried as base64 (encoded share of stanza bytes)",
        &[
            "kind", "payloads", "encoded", "decoded", "overhead", "share",
        ],
        rows,
    )
}

/// The compression sessions used (XEP-0138 zlib, WebSocket permessage-deflate): per
/// session and direction the bytes compressed, what they inflated to, and the
/// ratio achieved. Listed only when a session compressed; `--table
/// stream_compression` gives its header alone otherwise.
pub fn stream_compression(s: &Stats) -> Table {
    let mut rows = Vec::new();
    for r in &s.sessions {
        let Some(c) = &r.compression else { continue };
        let flow = if s.files.len() > 1 {
            format!("{}#{}", r.file, r.flow)
        } else {
            format!("#{}", r.flow)
        };
        for (d, (compressed, inflated)) in [
            (Direction::ToServer, c.to_server),
            (Direction::ToClient, c.to_client),
        ] {
            let times = if compressed > 0 {
                format!("{:.2}", inflated as f64 / compressed as f64)
            } else {
                "-".into()
            };
            // Negative when compression made the bytes grow.
            let saved = pct(ratio(compressed, inflated).map(|r| 1.0 - r));
            rows.push(vec![
                flow.clone(),
                r.stream.map_or("-", StreamKind::as_str).into(),
                c.method.clone(),
                dir(d).into(),
                compressed.to_string(),
                inflated.to_string(),
                times,
                saved,
            ]);
        }
    }
    table(
        "stream_compression",
        "Stream compression used (XEP-0138 zlib, RFC 7692 permessage-deflate)",
        &[
            "flow",
            "stream",
            "method",
            "dir",
            "compressed bytes",
            "inflated bytes",
            "ratio",
            "saved",
        ],
        rows,
    )
}

/// The XEP-0138 what-if: each kind of traffic's bytes as carried and under zlib,
/// with its share of its direction's bytes before and after.
fn compression(s: &Stats) -> Table {
    let what_if = &s.census.compression;
    let mut totals: BTreeMap<(StreamKind, Direction), (u64, u64, u64)> = BTreeMap::new();
    for r in &what_if.rows {
        let t = totals.entry((r.stream, r.dir)).or_default();
        t.0 += r.elements;
        t.1 += r.xml_bytes;
        t.2 += r.zlib_bytes;
    }
    let row = |stream: StreamKind, d: Direction, class: &str, n: (u64, u64, u64)| {
        let whole = totals.get(&(stream, d)).copied().unwrap_or_default();
        vec![
            stream.as_str().to_owned(),
            dir(d).to_owned(),
            class.to_owned(),
            n.0.to_string(),
            n.1.to_string(),
            n.2.to_string(),
            pct(ratio(n.2, n.1)),
            pct(ratio(n.1, whole.1)),
            pct(ratio(n.2, whole.2)),
        ]
    };
    let mut rows = Vec::new();
    for (&(stream, d), &total) in &totals {
        for r in what_if
            .rows
            .iter()
            .filter(|r| (r.stream, r.dir) == (stream, d))
        {
            let n = (r.elements, r.xml_bytes, r.zlib_bytes);
            rows.push(row(stream, d, r.class.as_str(), n));
        }
        rows.push(row(stream, d, "all", total));
    }
    if what_if.unmeasured.count > 0 {
        let u = &what_if.unmeasured;
        rows.push(vec![
            "-".into(),
            "-".into(),
            "unmeasured".into(),
            u.count.to_string(),
            u.bytes.to_string(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
    }
    let mut t = table(
        "compression",
        "What XEP-0138 zlib would make of the streams (level 6, flushed per element)",
        &[
            "stream",
            "dir",
            "class",
            "elements",
            "xml bytes",
            "zlib bytes",
            "zlib/xml",
            "xml share",
            "zlib share",
        ],
        rows,
    );
    t.terminal_columns = Some(vec![0, 1, 2, 4, 5, 6, 8]);
    t
}
