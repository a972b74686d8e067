//! Metrics that expectations compare: values read from [`Stats`], so checks and
//! `xmppdump stats` always agree.
//!
//! Input: a metric name, an optional scope and the stats; output: the value(s).

use crate::analysis::histogram::Histogram;
use crate::analysis::{ratio, Class, Stats};
use crate::model::StreamKind;

const MESSAGE_TYPES: &[&str] = &["normal", "chat", "groupchat", "headline", "error"];
const PRESENCE_TYPES: &[&str] = &[
    "available",
    "unavailable",
    "subscribe",
    "subscribed",
    "unsubscribe",
    "unsubscribed",
    "probe",
    "error",
];
const IQ_TYPES: &[&str] = &["get", "set", "result", "error"];

/// Metrics with a fixed name, their scope, and what they mean (for docs/checks.md).
pub const METRICS: &[(&str, &str, &str)] = &[
    ("stanzas", "stream kind or JID", "stanzas (message + presence + iq); with a JID, those it sent"),
    ("stanza_bytes", "stream kind or JID", "bytes of those stanzas"),
    ("message", "stream kind", "messages; also message.<type> for normal, chat, groupchat, headline, error"),
    ("presence", "stream kind", "presences; also presence.<type> for available, unavailable, subscribe, …, probe, error"),
    ("iq", "stream kind", "iq stanzas; also iq.<type> for get, set, result, error"),
    ("iq.requests", "payload namespace", "iq get/set requests"),
    ("iq.unanswered", "payload namespace", "requests without a result or error"),
    ("iq.orphans", "-", "responses without a request"),
    ("iq.response_ms.min", "payload namespace", "fastest response time (ms)"),
    ("iq.response_ms.median", "payload namespace", "median response time (ms, within 1.6 %)"),
    ("iq.response_ms.p95", "payload namespace", "95th percentile response time (ms, within 1.6 %)"),
    ("iq.response_ms.max", "payload namespace", "slowest response time (ms)"),
    ("presence.overhead_ratio", "stream kind", "presence bytes / stanza bytes (0..1)"),
    ("presence.xmpp_ratio", "stream kind", "presence bytes / all parsed XMPP bytes (0..1)"),
    ("presence.redundant", "stream kind", "redundant presences"),
    ("presence.redundant_ratio", "stream kind", "redundant presences / presences (0..1)"),
    ("presence.fan_out", "-", "presence deliveries per logical presence"),
    ("presence.fan_out_ungrouped", "-", "presence deliveries not grouped (100,000 groups open at once)"),
    ("anomalies", "anomaly kind", "anomaly events (e.g. anomalies[gap])"),
    ("stream_errors", "stream kind", "<stream:error> elements"),
    ("flows", "-", "XMPP connections"),
    ("sessions", "stream kind", "connections with a stream header"),
    ("sasl.success", "-", "SASL negotiations that succeeded"),
    ("sasl.failure", "-", "SASL negotiations that failed"),
    ("tls.sessions", "-", "connections that negotiated STARTTLS"),
    ("sasl.mechanism", "-", "text: the SASL mechanisms chosen; == holds when every session that authenticated chose it, != when none did"),
    ("extension", "namespace or XEP (XEP-0384)", "elements carrying the namespace, or any namespace of the XEP (e.g. extension[XEP-0384] > 0: OMEMO is used)"),
    ("extension.connections", "namespace or XEP", "connections where it appears (for a XEP, the most of any one of its namespaces)"),
    ("software.product", "role (client, server, contact, remote)", "text: the products identified (docs/census.md); == holds when every one is it, != when none is"),
    ("software.version", "product (Profanity, ejabberd, …; any case)", "version: the versions of the product identified; every one must compare as asked, number by number (software.version[Pidgin] >= \"2.14\": no older Pidgin)"),
    ("binary.encoded", "payload kind (ibb, vcard_photo, omemo_payload, …)", "bytes of base64 text carried"),
    ("binary.overhead_ratio", "payload kind", "(encoded − decoded) / stanza bytes (0..1)"),
];

pub fn is_textual(name: &str) -> bool {
    matches!(
        name,
        "sasl.mechanism" | "software.product" | "software.version"
    )
}

/// Text metrics that also compare with <, <=, > and >= (as versions).
pub fn is_ordered_text(name: &str) -> bool {
    name == "software.version"
}

/// Compares two version strings number by number (`0.13.1` > `0.13` > `0.9`):
/// split at every character that is not a letter or a digit, numeric parts
/// compare as numbers (leading zeros ignored), others as text, and a number sorts
/// before text; a version that runs out first is the smaller.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let parts = |v: &str| {
        v.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|p| !p.is_empty())
            .map(|p| p.to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    let (a, b) = (parts(a), parts(b));
    for (x, y) in a.iter().zip(&b) {
        let numeric = |p: &str| p.bytes().all(|c| c.is_ascii_digit());
        let order = match (numeric(x), numeric(y)) {
            (true, true) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// The census rows of a namespace, or of every namespace of a XEP (`XEP-0384`).
fn extension_rows<'a>(
    stats: &'a Stats,
    scope: Option<&'a str>,
) -> Result<impl Iterator<Item = &'a crate::analysis::census::ExtensionRow> + 'a, String> {
    let scope = scope.ok_or("extension needs a namespace or XEP in [ ]")?;
    let xep = scope
        .strip_prefix("XEP-")
        .or_else(|| scope.strip_prefix("xep-"));
    Ok(stats
        .census
        .extensions
        .iter()
        .filter_map(move |(namespace, row)| {
            let hit = match xep {
                Some(number) => {
                    crate::census::namespaces::lookup(namespace).is_some_and(|s| s.xep == number)
                }
                None => namespace == scope,
            };
            hit.then_some(row)
        }))
}

pub fn is_known(name: &str) -> bool {
    if METRICS.iter().any(|m| m.0 == name) {
        return true;
    }
    match name.split_once('.') {
        Some(("message", t)) => MESSAGE_TYPES.contains(&t),
        Some(("presence", t)) => PRESENCE_TYPES.contains(&t),
        Some(("iq", t)) => IQ_TYPES.contains(&t),
        _ => false,
    }
}

/// A metric's value: a number, or the set of texts seen.
#[derive(Debug, Clone, PartialEq)]
pub enum Measured {
    Number(f64),
    Texts(Vec<String>),
    /// The set of versions seen, which also compare with <, <=, > and >=
    /// ([`compare_versions`]).
    Versions(Vec<String>),
    /// Nothing to measure (no presences for a ratio, no responses for a time).
    Missing,
}

fn stream_scope(scope: Option<&str>) -> Result<Option<StreamKind>, String> {
    match scope {
        None => Ok(None),
        Some("c2s") => Ok(Some(StreamKind::C2s)),
        Some("s2s") => Ok(Some(StreamKind::S2s)),
        Some("component") => Ok(Some(StreamKind::Component)),
        Some(other) => Err(format!(
            "scope must be c2s, s2s or component, not {other:?}"
        )),
    }
}

fn num(n: u64) -> Measured {
    Measured::Number(n as f64)
}

fn maybe(r: Option<f64>) -> Measured {
    r.map_or(Measured::Missing, Measured::Number)
}

/// Evaluates a metric over stats.
pub fn measure(stats: &Stats, name: &str, scope: Option<&str>) -> Result<Measured, String> {
    let kind_ok = |k: StreamKind, want: Option<StreamKind>| want.is_none_or(|w| w == k);
    let is_jid = scope.is_some_and(|s| s.contains('@') || s.contains('.'));
    Ok(match name {
        "stanzas" | "stanza_bytes" if is_jid => {
            let jid = scope.unwrap_or_default();
            let c = stats.talkers.get(jid).copied().unwrap_or_default();
            num(if name == "stanzas" { c.count } else { c.bytes })
        }
        "stanzas" | "stanza_bytes" => {
            let want = stream_scope(scope)?;
            let c = stats.traffic_where(|k| k.class.is_stanza() && kind_ok(k.stream, want));
            num(if name == "stanzas" { c.count } else { c.bytes })
        }
        "iq.requests" | "iq.unanswered" => {
            let pick = |q: &crate::analysis::IqNamespace| {
                if name == "iq.requests" {
                    q.requests
                } else {
                    q.unanswered
                }
            };
            num(stats
                .iq
                .iter()
                .filter(|(ns, _)| scope.is_none_or(|s| s == ns.as_str()))
                .map(|(_, q)| pick(q))
                .sum())
        }
        "iq.orphans" => num(stats.orphan_responses),
        n if n.starts_with("iq.response_ms.") => {
            let mut h = Histogram::default();
            for (_, q) in stats
                .iq
                .iter()
                .filter(|(ns, _)| scope.is_none_or(|s| s == ns.as_str()))
            {
                h.merge(&q.response_time);
            }
            let us = match n {
                "iq.response_ms.min" => h.min_us,
                "iq.response_ms.max" => h.max_us,
                "iq.response_ms.median" => h.quantile(0.5),
                _ => h.quantile(0.95),
            };
            maybe(us.map(|us| us as f64 / 1000.0))
        }
        "presence.overhead_ratio" => maybe(
            stats
                .presence_overhead(stream_scope(scope)?)
                .of_stanza_bytes(),
        ),
        "presence.xmpp_ratio" => {
            maybe(stats.presence_overhead(stream_scope(scope)?).of_xml_bytes())
        }
        "presence.redundant" | "presence.redundant_ratio" => {
            let want = stream_scope(scope)?;
            let (p, r) = stats
                .redundancy
                .iter()
                .filter(|(k, _)| kind_ok(**k, want))
                .fold((0, 0), |(p, r), (_, x)| {
                    (p + x.presences.count, r + x.redundant.count)
                });
            if name == "presence.redundant" {
                num(r)
            } else {
                maybe(ratio(r, p))
            }
        }
        "presence.fan_out" => maybe(ratio(stats.fan_out.deliveries, stats.fan_out.logical)),
        "presence.fan_out_ungrouped" => num(stats.fan_out.ungrouped),
        "anomalies" => match scope {
            None => num(stats.anomalies),
            Some(kind) => num(stats.anomaly_kinds.get(kind).copied().unwrap_or(0)),
        },
        "stream_errors" => {
            let want = stream_scope(scope)?;
            num(stats
                .traffic_where(|k| k.class == Class::StreamError && kind_ok(k.stream, want))
                .count)
        }
        "flows" => num(stats.xmpp_flows),
        "sessions" => {
            let want = stream_scope(scope)?;
            num(stats
                .sessions
                .iter()
                .filter(|s| s.stream.is_some_and(|k| kind_ok(k, want)))
                .count() as u64)
        }
        "sasl.success" => num(stats
            .sessions
            .iter()
            .filter(|s| s.sasl_outcome.as_deref() == Some("success"))
            .count() as u64),
        "sasl.failure" => num(stats
            .sessions
            .iter()
            .filter(|s| {
                s.sasl_outcome
                    .as_deref()
                    .is_some_and(|o| o.starts_with("failure"))
            })
            .count() as u64),
        "tls.sessions" => num(stats.sessions.iter().filter(|s| s.tls_taken).count() as u64),
        "extension" => num(extension_rows(stats, scope)?.map(|r| r.elements).sum()),
        "extension.connections" => num(extension_rows(stats, scope)?
            .map(|r| r.connections)
            .max()
            .unwrap_or(0)),
        "software.product" => Measured::Texts(
            stats
                .census
                .software
                .values()
                .filter(|r| scope.is_none_or(|role| r.role == role))
                .map(|r| r.product.clone())
                .collect(),
        ),
        "software.version" => {
            let product = scope.ok_or("software.version needs a product in [ ]")?;
            let mut versions: Vec<String> = stats
                .census
                .software
                .values()
                .filter(|r| r.product.eq_ignore_ascii_case(product) && !r.version.is_empty())
                .map(|r| r.version.clone())
                .collect();
            versions.sort();
            versions.dedup();
            Measured::Versions(versions)
        }
        "binary.encoded" | "binary.overhead_ratio" => {
            let rows = stats
                .census
                .binary
                .iter()
                .filter(|(kind, _)| scope.is_none_or(|s| s == kind.as_str()));
            let (encoded, decoded) =
                rows.fold((0, 0), |(e, d), (_, r)| (e + r.encoded, d + r.decoded));
            if name == "binary.encoded" {
                num(encoded)
            } else {
                let stanza_bytes = stats.traffic_where(|k| k.class.is_stanza()).bytes;
                maybe(ratio(encoded.saturating_sub(decoded), stanza_bytes))
            }
        }
        "sasl.mechanism" => Measured::Texts(
            stats
                .sessions
                .iter()
                .filter_map(|s| s.mechanism.clone())
                .collect(),
        ),
        typed => {
            let (class, t) = match typed.split_once('.') {
                Some(("message", t)) => (Class::Message, Some(t)),
                Some(("presence", t)) => (Class::Presence, Some(t)),
                Some(("iq", t)) => (Class::Iq, Some(t)),
                None if typed == "message" => (Class::Message, None),
                None if typed == "presence" => (Class::Presence, None),
                None if typed == "iq" => (Class::Iq, None),
                _ => return Err(format!("unknown metric {typed}")),
            };
            let want = stream_scope(scope)?;
            let c = stats.traffic_where(|k| {
                let detail_type = k.detail.split(['/', ' ']).next().unwrap_or_default();
                k.class == class && kind_ok(k.stream, want) && t.is_none_or(|t| t == detail_type)
            });
            num(c.count)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_number_by_number() {
        use std::cmp::Ordering::*;
        for (a, b, want) in [
            ("0.13.1", "0.13", Greater),
            ("0.13", "0.9", Greater),
            ("23.01-1", "23.10", Less),
            ("2.14.0", "2.14", Greater),
            ("1.17.0", "1.17.0", Equal),
            ("0.12.4", "0.12.10", Less),
            ("1.0rc1", "1.0", Greater),
            ("1.0", "1.0.rc1", Less),
            ("007", "7", Equal),
        ] {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
