//! `xmppdump diagram`: sequence diagrams of one or more connections, one arrow per
//! element, phases as groups, time since the first arrow on the side.
//!
//! Input: dialogues; output: Mermaid or PlantUML text to paste into a report, or an SVG
//! drawn here (no external renderer), readable at A4 width for up to four lifelines.

use super::Dialogue;
use crate::model::{Direction, EventKind, FlowId, Stanza, Timestamp};
use std::fmt::Write as _;

/// One arrow.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrow {
    pub time: Timestamp,
    pub flow: FlowId,
    pub from: usize,
    pub to: usize,
    pub label: String,
    pub phase: String,
}

/// Lifelines and arrows in capture order.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagram {
    pub participants: Vec<String>,
    pub arrows: Vec<Arrow>,
    pub start: Timestamp,
}

/// A run of arrows of one flow in one phase.
struct Group<'a> {
    phase: &'a str,
    lo: usize,
    hi: usize,
    arrows: &'a [Arrow],
}

impl Diagram {
    /// Lifelines from every dialogue (merged by name), arrows ordered by capture time.
    pub fn build(dialogues: &[Dialogue]) -> Diagram {
        let mut participants: Vec<String> = Vec::new();
        let index = |name: String, participants: &mut Vec<String>| match participants
            .iter()
            .position(|p| *p == name)
        {
            Some(i) => i,
            None => {
                participants.push(name);
                participants.len() - 1
            }
        };
        let mut arrows = Vec::new();
        for d in dialogues {
            let (client, server) = d.parties();
            let c = index(client, &mut participants);
            let s = index(server, &mut participants);
            for (entry, phase) in d.entries.iter().zip(d.phases()) {
                let Some(label) = entry.kinds.first().and_then(label) else {
                    continue;
                };
                let (from, to) = match entry.dir {
                    Direction::ToServer => (c, s),
                    Direction::ToClient => (s, c),
                };
                arrows.push(Arrow {
                    time: entry.time,
                    flow: d.flow,
                    from,
                    to,
                    label,
                    phase: phase.short(),
                });
            }
        }
        arrows.sort_by_key(|a| (a.time, a.flow));
        let start = arrows.first().map(|a| a.time).unwrap_or_default();
        Diagram {
            participants,
            arrows,
            start,
        }
    }

    fn groups(&self) -> Vec<Group<'_>> {
        let mut groups: Vec<Group<'_>> = Vec::new();
        let mut begin = 0;
        for i in 1..=self.arrows.len() {
            let (Some(first), next) = (self.arrows.get(begin), self.arrows.get(i)) else {
                break;
            };
            if next.is_some_and(|n| n.flow == first.flow && n.phase == first.phase) {
                continue;
            }
            let arrows = self.arrows.get(begin..i).unwrap_or_default();
            let lo = arrows.iter().map(|a| a.from.min(a.to)).min().unwrap_or(0);
            let hi = arrows.iter().map(|a| a.from.max(a.to)).max().unwrap_or(0);
            groups.push(Group {
                phase: &first.phase,
                lo,
                hi,
                arrows,
            });
            begin = i;
        }
        groups
    }

    fn offset(&self, a: &Arrow) -> String {
        format!("+{:.3}s", (a.time.0 - self.start.0) as f64 / 1e9)
    }

    /// Mermaid `sequenceDiagram` text.
    pub fn mermaid(&self) -> String {
        let mut s = String::from("sequenceDiagram\n");
        for (i, p) in self.participants.iter().enumerate() {
            let _ = writeln!(s, "    participant P{i} as {}", mermaid_text(p));
        }
        for g in self.groups() {
            let _ = writeln!(s, "    rect rgba(128, 128, 128, 0.1)");
            let _ = writeln!(
                s,
                "    note over P{},P{}: {}",
                g.lo,
                g.hi,
                mermaid_text(g.phase)
            );
            for a in g.arrows {
                let _ = writeln!(
                    s,
                    "    P{}->>P{}: {} {}",
                    a.from,
                    a.to,
                    self.offset(a),
                    mermaid_text(&a.label)
                );
            }
            let _ = writeln!(s, "    end");
        }
        s
    }

    /// PlantUML text.
    pub fn plantuml(&self) -> String {
        let mut s = String::from("@startuml\n");
        for (i, p) in self.participants.iter().enumerate() {
            let _ = writeln!(s, "participant \"{}\" as P{i}", plantuml_text(p));
        }
        for g in self.groups() {
            let _ = writeln!(s, "group {}", plantuml_text(g.phase));
            for a in g.arrows {
                let _ = writeln!(
                    s,
                    "P{} -> P{} : {} {}",
                    a.from,
                    a.to,
                    self.offset(a),
                    plantuml_text(&a.label)
                );
            }
            let _ = writeln!(s, "end");
        }
        s.push_str("@enduml\n");
        s
    }

    /// A self-contained SVG drawing.
    pub fn svg(&self) -> String {
        const LEFT: usize = 80;
        const COLUMN: usize = 200;
        const TOP: usize = 60;
        const ROW: usize = 24;
        const GROUP_HEAD: usize = 20;
        let columns = self.participants.len().max(1);
        let width = LEFT + columns * COLUMN;
        let x = |i: usize| LEFT + i * COLUMN + COLUMN / 2;
        let groups = self.groups();
        let height = TOP + groups.len() * (GROUP_HEAD + 8) + self.arrows.len() * ROW + 40;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">"
        );
        s.push_str("<defs><marker id=\"head\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" refY=\"4\" orient=\"auto\"><polygon points=\"0 0, 10 4, 0 8\" fill=\"#333\"/></marker></defs>\n");
        let _ = writeln!(
            s,
            "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"white\"/>"
        );
        for (i, p) in self.participants.iter().enumerate() {
            let cx = x(i);
            let _ = writeln!(
                s,
                "<line x1=\"{cx}\" y1=\"{}\" x2=\"{cx}\" y2=\"{}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
                TOP - 16,
                height - 10
            );
            let _ = writeln!(
                s,
                "<rect x=\"{}\" y=\"10\" width=\"{}\" height=\"30\" rx=\"4\" fill=\"#eef3fb\" stroke=\"#456\"/>",
                cx - COLUMN / 2 + 8,
                COLUMN - 16
            );
            let _ = writeln!(
                s,
                "<text x=\"{cx}\" y=\"30\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
                xml_text(&shorten(p, 28))
            );
        }
        let _ = writeln!(s, "<text x=\"8\" y=\"30\" fill=\"#666\">time</text>");
        let mut y = TOP;
        for g in &groups {
            let gx = x(g.lo) - COLUMN / 2 + 4;
            let gw = (g.hi - g.lo + 1) * COLUMN - 8;
            let gh = GROUP_HEAD + g.arrows.len() * ROW + 4;
            let _ = writeln!(
                s,
                "<rect class=\"phase\" x=\"{gx}\" y=\"{y}\" width=\"{gw}\" height=\"{gh}\" fill=\"#f0f0f0\" fill-opacity=\"0.6\" stroke=\"#bbb\"/>"
            );
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" font-style=\"italic\" fill=\"#555\">{}</text>",
                gx + 6,
                y + 14,
                xml_text(g.phase)
            );
            y += GROUP_HEAD;
            for a in g.arrows {
                y += ROW;
                let (x1, x2) = (x(a.from), x(a.to));
                let _ = writeln!(
                    s,
                    "<text x=\"8\" y=\"{}\" fill=\"#666\">{}</text>",
                    y - 2,
                    self.offset(a)
                );
                let _ = writeln!(
                    s,
                    "<line class=\"arrow\" x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#333\" marker-end=\"url(#head)\"/>"
                );
                let _ = writeln!(
                    s,
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                    (x1 + x2) / 2,
                    y - 5,
                    xml_text(&shorten(&a.label, 30))
                );
            }
            y += 8;
        }
        s.push_str("</svg>\n");
        s
    }
}

/// The short label of an element's arrow; `None` for what is not drawn.
pub fn label(kind: &EventKind) -> Option<String> {
    Some(match kind {
        EventKind::StreamHeader { restart, .. } => {
            if *restart {
                "<stream:stream> (restart)".into()
            } else {
                "<stream:stream>".into()
            }
        }
        EventKind::Features(f) => {
            let mut parts = Vec::new();
            if let Some(t) = &f.starttls {
                parts.push(format!("STARTTLS {t}"));
            }
            if !f.mechanisms.is_empty() {
                parts.push(format!("SASL {}", f.mechanisms.join(",")));
            }
            if f.bind {
                parts.push("bind".into());
            }
            if f.dialback {
                parts.push("dialback".into());
            }
            if parts.is_empty() {
                "<stream:features>".into()
            } else {
                format!("features: {}", parts.join(", "))
            }
        }
        EventKind::WebsocketUpgrade { path, .. } => format!("GET {path} (Upgrade: websocket)"),
        EventKind::WebsocketAccept { status: 101, .. } => "101 Switching Protocols".into(),
        EventKind::WebsocketAccept { status, .. } => format!("HTTP {status} (upgrade refused)"),
        EventKind::WebsocketClose { code, .. } => match code {
            Some(code) => format!("WebSocket close {code}"),
            None => "WebSocket close".into(),
        },
        EventKind::StartTls => "<starttls/>".into(),
        EventKind::TlsProceed => "<proceed/>".into(),
        EventKind::TlsFailure => "<failure/> (TLS)".into(),
        EventKind::Compress { method } => match method {
            Some(method) => format!("<compress/> {method}"),
            None => "<compress/>".into(),
        },
        EventKind::Compressed => "<compressed/>".into(),
        EventKind::CompressFailure { condition } => match condition {
            Some(condition) => format!("<failure/> (compression) {condition}"),
            None => "<failure/> (compression)".into(),
        },
        EventKind::TlsClientHello { sni, .. } => match sni {
            Some(sni) => format!("ClientHello sni={sni}"),
            None => "ClientHello".into(),
        },
        EventKind::TlsServerHello {
            version,
            hello_retry,
            ..
        } => {
            if *hello_retry {
                "HelloRetryRequest".into()
            } else {
                format!("ServerHello {version}")
            }
        }
        EventKind::TlsEncryptedExtensions { .. } => "EncryptedExtensions".into(),
        EventKind::TlsCertificate { .. } => "Certificate".into(),
        EventKind::TlsFinished => "Finished".into(),
        EventKind::TlsAlert { description, .. } => format!("alert {description}"),
        EventKind::SaslAuth {
            mechanism,
            sasl2: true,
            ..
        } => format!("authenticate {mechanism}"),
        EventKind::SaslAuth { mechanism, .. } => format!("auth {mechanism}"),
        EventKind::SaslChallenge { .. } => "challenge".into(),
        EventKind::SaslResponse { .. } => "response".into(),
        EventKind::SaslSuccess { bound: true, .. } => "success (bound)".into(),
        EventKind::SaslSuccess { .. } => "success".into(),
        EventKind::SaslFailure { condition, .. } => {
            format!("failure {}", condition.as_deref().unwrap_or_default())
                .trim_end()
                .to_string()
        }
        EventKind::SaslAbort => "abort".into(),
        EventKind::Dialback { verify, r#type, .. } => {
            let name = if *verify { "db:verify" } else { "db:result" };
            match r#type {
                Some(t) => format!("{name} {t}"),
                None => name.into(),
            }
        }
        EventKind::ComponentHandshake { digest_len: 0 } => "handshake (accepted)".into(),
        EventKind::ComponentHandshake { .. } => "handshake".into(),
        EventKind::Message(s) => format!("message {}", s.r#type().unwrap_or("normal")),
        EventKind::Presence(s) => presence_label(s),
        EventKind::Iq(s) => iq_label(s),
        EventKind::StreamError { condition, .. } => {
            format!("stream error {}", condition.as_deref().unwrap_or_default())
                .trim_end()
                .to_string()
        }
        EventKind::StreamClose => "</stream:stream>".into(),
        EventKind::Sm {
            action, h: Some(h), ..
        } => format!("sm {action} h={h}"),
        EventKind::Sm { action, .. } => format!("sm {action}"),
        EventKind::Element { name, .. } => format!("<{name}/>"),
        _ => return None,
    })
}

fn presence_label(s: &Stanza) -> String {
    let mut label = String::from("presence");
    if let Some(t) = s.r#type() {
        let _ = write!(label, " {t}");
    }
    if let Some(show) = s.show() {
        let _ = write!(label, " {show}");
    }
    label
}

fn iq_label(s: &Stanza) -> String {
    let mut label = format!("iq {}", s.r#type().unwrap_or("?"));
    if let Some(p) = s.payload() {
        let short = p
            .rsplit([':', '/'])
            .next()
            .filter(|x| !x.is_empty())
            .unwrap_or(p);
        let short = short.strip_prefix("xmpp-").unwrap_or(short);
        let _ = write!(label, " {short}");
    }
    label
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let head: String = text.chars().take(max - 1).collect();
        format!("{head}…")
    }
}

/// Mermaid message text: `;` ends a statement, `#` starts an entity code, and `<`,
/// `>` would be taken for HTML.
fn mermaid_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ';' => ",".to_string(),
            '#' => "#35;".to_string(),
            '<' => "#lt;".to_string(),
            '>' => "#gt;".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn plantuml_text(text: &str) -> String {
    text.replace('"', "'")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
