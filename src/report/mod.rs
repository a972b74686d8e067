//! `xmppdump report`: one self-contained HTML file for a course or incident report —
//! capture summary, sessions, the statistics of `stats` with charts, and per session
//! its sequence diagram and transcript, collapsed (`<details>`, no script).
//!
//! Input: statistics, dialogues and the run summary; output: HTML text and the charts
//! as standalone SVG files. Nothing is loaded from the network: styles and drawings are
//! inline.

pub mod charts;

use crate::analysis::{tables, Class, Histogram, Stats};
use crate::sink::Summary;
use crate::story::diagram::Diagram;
use crate::story::transcript::{render, Style};
use crate::story::Dialogue;
use charts::escape;
use std::fmt::Write as _;

/// Most sessions drawn and transcribed in the report.
const MAX_SESSIONS: usize = 100;
/// Most transcript lines per session.
const MAX_TRANSCRIPT_LINES: usize = 3000;
/// Most rows per statistics table.
const MAX_ROWS: usize = 100;
/// Most bars in the messages-over-time chart.
const MAX_TIME_BARS: usize = 48;

/// A chart with the file name `--charts DIR` writes it to.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub file: &'static str,
    pub title: String,
    pub svg: String,
}

/// The charts of a report.
pub fn charts(stats: &Stats) -> Vec<Chart> {
    let mix: Vec<(String, f64)> = [Class::Message, Class::Presence, Class::Iq]
        .iter()
        .map(|c| {
            let n = stats.traffic_where(|k| k.class == *c).count;
            (c.as_str().to_string(), n as f64)
        })
        .collect();
    let bytes = |c: Class| stats.traffic_where(|k| k.class == c).bytes as f64;
    // One bar for the stanza mix, then one per presence definition
    // (docs/statistics.md): its share of all presence bytes.
    let mut overhead = vec![(
        "stanza bytes".to_string(),
        vec![
            ("presence".to_string(), bytes(Class::Presence)),
            ("message".to_string(), bytes(Class::Message)),
            ("iq".to_string(), bytes(Class::Iq)),
        ],
    )];
    let measures = stats.presence_measures(None);
    let all_presence = measures.first().map_or(0, |(_, c)| c.bytes);
    for (name, c) in measures.iter().skip(1) {
        overhead.push((
            format!("presence: {name}"),
            vec![
                ("in the definition".to_string(), c.bytes as f64),
                (
                    "other presence".to_string(),
                    all_presence.saturating_sub(c.bytes) as f64,
                ),
            ],
        ));
    }
    let mut latency = Histogram::default();
    for ns in stats.iq.values() {
        latency.merge(&ns.response_time);
    }
    let edges = [0, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];
    let names = [
        "< 1 ms",
        "1–10 ms",
        "10–100 ms",
        "0.1–1 s",
        "1–10 s",
        "≥ 10 s",
    ];
    let latency_bars: Vec<(String, f64)> = names
        .iter()
        .zip(latency.binned(&edges))
        .map(|(n, c)| (n.to_string(), c as f64))
        .collect();
    vec![
        Chart {
            file: "stanza-mix.svg",
            title: "Stanza mix".into(),
            svg: charts::bars(
                "stanza-mix",
                "Stanza mix (all connections)",
                "stanzas",
                &mix,
            ),
        },
        Chart {
            file: "presence-overhead.svg",
            title: "Presence overhead and redundancy".into(),
            svg: charts::stacked(
                "presence-overhead",
                "Presence overhead, and redundancy by definition (bytes)",
                &overhead,
            ),
        },
        Chart {
            file: "messages-over-time.svg",
            title: "Messages over time".into(),
            svg: charts::bars(
                "messages-over-time",
                "Messages per minute (UTC)",
                "messages",
                &messages_over_time(stats),
            ),
        },
        Chart {
            file: "extensions.svg",
            title: "Extensions by category (census)".into(),
            svg: charts::bars(
                "extensions",
                "Elements carrying each category's namespaces (docs/census.md)",
                "elements",
                &extension_categories(stats),
            ),
        },
        Chart {
            file: "iq-latency.svg",
            title: "iq response times".into(),
            svg: charts::bars(
                "iq-latency",
                "iq round trips (request to result or error)",
                "responses",
                &latency_bars,
            ),
        },
    ]
}

/// Elements per census category of the namespaces they carry (an element with two
/// namespaces of one category counts twice).
fn extension_categories(stats: &Stats) -> Vec<(String, f64)> {
    let mut by_category: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for (namespace, row) in &stats.census.extensions {
        let category =
            crate::census::namespaces::lookup(namespace).map_or("unknown", |s| s.category);
        *by_category.entry(category).or_insert(0) += row.elements;
    }
    by_category
        .into_iter()
        .map(|(c, n)| (c.to_owned(), n as f64))
        .collect()
}

/// Messages per minute; longer captures are grouped into at most 48 bars.
fn messages_over_time(stats: &Stats) -> Vec<(String, f64)> {
    let minutes: Vec<(&String, &u64)> = stats.messages_per_minute.iter().collect();
    let group = minutes.len().div_ceil(MAX_TIME_BARS).max(1);
    minutes
        .chunks(group)
        .filter_map(|chunk| {
            let (first, _) = chunk.first()?;
            let label = first.get(11..16).unwrap_or(first).to_string();
            let total: u64 = chunk.iter().map(|(_, n)| **n).sum();
            Some((label, total as f64))
        })
        .collect()
}

/// The whole report as one HTML document.
pub fn html(title: &str, summary: &Summary, stats: &Stats, dialogues: &[Dialogue]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>xmppdump report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    );
    let _ = writeln!(
        s,
        "<h1>XMPP capture report</h1>\n<p class=\"sub\">{} — made by xmppdump {}</p>",
        escape(title),
        env!("CARGO_PKG_VERSION")
    );
    summary_section(&mut s, summary, stats);
    sessions_section(&mut s, stats);
    s.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    for chart in charts(stats) {
        let _ = writeln!(
            s,
            "<figure>{}<figcaption>{}</figcaption></figure>",
            chart.svg,
            escape(&chart.title)
        );
    }
    s.push_str("</section>\n");
    statistics_section(&mut s, stats);
    details_section(&mut s, dialogues);
    s.push_str("</body>\n</html>\n");
    s
}

fn summary_section(s: &mut String, summary: &Summary, stats: &Stats) {
    let overhead = stats.presence_overhead(None);
    let pct = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{:.1} %", r * 100.0));
    let rows = [
        ("packets", summary.packets.to_string()),
        ("TCP connections", summary.tcp_flows.to_string()),
        ("XMPP connections", summary.xmpp_flows.to_string()),
        ("XML streams", summary.streams.to_string()),
        (
            "stanzas (message / presence / iq)",
            format!(
                "{} ({} / {} / {})",
                summary.stanzas, summary.messages, summary.presences, summary.iqs
            ),
        ),
        (
            "presence share of stanza bytes",
            pct(overhead.of_stanza_bytes()),
        ),
        ("anomalies", summary.anomalies.to_string()),
    ];
    s.push_str("<section id=\"summary\">\n<h2>Capture</h2>\n<table class=\"facts\">\n");
    for (k, v) in rows {
        let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
    }
    s.push_str("</table>\n</section>\n");
}

fn sessions_section(s: &mut String, stats: &Stats) {
    s.push_str("<section id=\"sessions\">\n<h2>Sessions</h2>\n<table>\n<tr><th>flow</th><th>kind</th><th>client</th><th>server</th><th>JID</th><th>TLS</th><th>SASL</th><th>stanzas</th><th>ended</th></tr>\n");
    for row in &stats.sessions {
        let tls = match (&row.tls, row.decrypted, row.tls_taken) {
            (Some(t), true, _) => format!("{t}, decrypted"),
            (Some(t), false, _) => t.clone(),
            (None, _, true) => "yes".to_string(),
            (None, _, false) if row.starttls.is_some() => "offered, not taken".to_string(),
            _ => "no".to_string(),
        };
        let tls = escape(&tls);
        let sasl = match (&row.mechanism, &row.sasl_outcome) {
            (Some(m), Some(o)) => format!("{m}: {o}"),
            (Some(m), None) => m.clone(),
            _ => "-".into(),
        };
        let _ = writeln!(
            s,
            "<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{tls}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            row.flow,
            row.stream.map_or("?", |k| k.as_str()),
            escape(&row.client),
            escape(&row.server),
            escape(row.bound_jid.as_deref().unwrap_or("-")),
            escape(&sasl),
            row.stanzas,
            escape(&row.ended)
        );
    }
    s.push_str("</table>\n</section>\n");
}

fn statistics_section(s: &mut String, stats: &Stats) {
    s.push_str("<section id=\"statistics\">\n<h2>Statistics</h2>\n<p>The tables of <code>xmppdump stats</code>; rules in docs/statistics.md.</p>\n");
    for table in tables::tables(stats) {
        let _ = writeln!(s, "<h3>{}</h3>\n<table>\n<tr>", escape(&table.title));
        for h in &table.headers {
            let _ = write!(s, "<th>{}</th>", escape(h));
        }
        s.push_str("</tr>\n");
        for row in table.rows.iter().take(MAX_ROWS) {
            s.push_str("<tr>");
            for cell in row {
                let _ = write!(s, "<td>{}</td>", escape(cell));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
        if table.rows.len() > MAX_ROWS {
            let _ = writeln!(
                s,
                "<p class=\"note\">{} more rows: see <code>xmppdump stats --format csv</code>.</p>",
                table.rows.len() - MAX_ROWS
            );
        }
    }
    s.push_str("</section>\n");
}

fn details_section(s: &mut String, dialogues: &[Dialogue]) {
    s.push_str("<section id=\"details\">\n<h2>Each session</h2>\n<p>Click a session to open its sequence diagram and transcript.</p>\n");
    let style = Style {
        explain: true,
        ..Style::default()
    };
    for d in dialogues.iter().take(MAX_SESSIONS) {
        let (client, server) = d.parties();
        let _ = writeln!(
            s,
            "<details class=\"session\" id=\"flow-{}\">\n<summary>Flow #{} — {} — {} ⇄ {} ({} elements)</summary>",
            d.flow.0,
            d.flow.0,
            d.stream_kind().as_str(),
            escape(&client),
            escape(&server),
            d.entries.len()
        );
        let diagram = Diagram::build(std::slice::from_ref(d));
        let _ = writeln!(s, "<div class=\"diagram\">{}</div>", diagram.svg());
        let text = render(d, style);
        let total = text.lines().count();
        let shown: Vec<&str> = text.lines().take(MAX_TRANSCRIPT_LINES).collect();
        let _ = writeln!(
            s,
            "<pre class=\"transcript\">{}</pre>",
            escape(&shown.join("\n"))
        );
        if total > MAX_TRANSCRIPT_LINES {
            let _ = writeln!(
                s,
                "<p class=\"note\">{} more lines: run <code>xmppdump show --flow {}</code>.</p>",
                total - MAX_TRANSCRIPT_LINES,
                d.flow.0
            );
        }
        s.push_str("</details>\n");
    }
    if dialogues.len() > MAX_SESSIONS {
        let _ = writeln!(
            s,
            "<p class=\"note\">{} more sessions: use <code>--flow</code> or <code>--jid</code>.</p>",
            dialogues.len() - MAX_SESSIONS
        );
    }
    s.push_str("</section>\n");
}

const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;margin:2em auto;max-width:60em;color:#222;padding:0 1em}h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f2f2f2}table.facts th{width:18em}figure{margin:1em 0}figcaption{color:#555;font-size:.9em}details.session{border:1px solid #ccc;border-radius:4px;margin:.5em 0;padding:.3em .6em}details.session summary{cursor:pointer;font-weight:bold}.diagram{overflow-x:auto;margin:.5em 0}pre.transcript{background:#fafafa;border:1px solid #eee;padding:.6em;overflow-x:auto;font-size:.8em;line-height:1.35}.note{color:#666;font-size:.9em}";
