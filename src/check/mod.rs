//! `xmppdump check`: rules over the events and statistics of captures, for CI.
//!
//! Input: rules (TOML file or command line) and, per capture, the same events the
//! printers get; output: a [`Report`] (each rule passed or failed, with where it
//! failed). Event-level rules are judged by [`Checker`] (a `Sink`); expectations read
//! the [`Stats`] that `xmppdump stats` prints. Rules: `docs/checks.md`.

pub mod metrics;
pub mod rule;

use crate::analysis::Stats;
use crate::model::time::rfc3339;
use crate::model::{Direction, EndReason, Event, EventKind, FlowId, StreamKind, Timestamp};
use crate::sink::{Sink, Summary};
use metrics::Measured;
use rule::{Builtin, Op, Rule, RuleError, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io;

/// Most places listed per failed rule; the rest are counted.
pub const MAX_VIOLATIONS_LISTED: usize = 50;

/// A rule as written, where it was written, and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    /// The text of the rule (the name of a built-in, or the expression).
    pub text: String,
    pub rule: Rule,
}

/// A mistake in a rules file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct RulesFileError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses a rule given on the command line.
pub fn parse_rule(text: &str) -> Result<RuleSpec, RuleError> {
    Ok(RuleSpec {
        text: text.trim().to_owned(),
        rule: rule::parse(text)?,
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<toml::Spanned<String>>,
}

/// Parses a TOML rules file: `rules = ["no_anomalies", "message.chat >= 10", …]`.
pub fn parse_rules_file(text: &str) -> Result<Vec<RuleSpec>, RulesFileError> {
    let file: RulesFile = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let (line, column) = line_column(text, at);
        RulesFileError {
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    file.rules
        .into_iter()
        .map(|spanned| {
            let start = spanned.span().start;
            let text_rule = spanned.into_inner();
            parse_rule(&text_rule).map_err(|e| {
                // The string starts after its opening quote; columns inside it follow.
                let (line, column) = line_column(text, start);
                RulesFileError {
                    line,
                    column: column + e.column,
                    message: e.message,
                }
            })
        })
        .collect()
}

fn line_column(text: &str, byte: usize) -> (usize, usize) {
    let before = text.get(..byte.min(text.len())).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// One place where a rule failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub file: String,
    pub flow: u32,
    pub frame: u64,
    pub time: String,
    pub detail: String,
}

/// Event-level facts per connection.
#[derive(Debug, Default)]
struct FlowFacts {
    tls: bool,
    stream_kind: Option<StreamKind>,
    headers: [bool; 2],
    closed: [bool; 2],
    stream_error: bool,
    authenticated: Option<(u64, Timestamp)>,
    bound: bool,
}

/// Watches events for the built-in rules.
pub struct Checker {
    file: String,
    flows: BTreeMap<FlowId, FlowFacts>,
    found: BTreeMap<Builtin, (Vec<Violation>, u64)>,
}

impl Checker {
    pub fn new(file: &str) -> Checker {
        Checker {
            file: file.to_owned(),
            flows: BTreeMap::new(),
            found: BTreeMap::new(),
        }
    }

    fn flag(&mut self, rule: Builtin, e: &Event, detail: String) {
        let entry = self.found.entry(rule).or_default();
        entry.1 += 1;
        if entry.0.len() < MAX_VIOLATIONS_LISTED {
            entry.0.push(Violation {
                file: self.file.clone(),
                flow: e.flow.0,
                frame: e.frame.0,
                time: rfc3339(e.time),
                detail,
            });
        }
    }

    fn event_facts(&mut self, e: &Event) {
        let f = self.flows.entry(e.flow).or_default();
        let side = e.direction.index();
        // What was decrypted came inside TLS: direct TLS (XEP-0368), wss:// or
        // https://, not only STARTTLS's `<proceed/>`.
        f.tls |= e.decrypted;
        let mut flags: Vec<(Builtin, String)> = Vec::new();
        match &e.kind {
            EventKind::StreamHeader { stream_kind, .. } => {
                if let Some(h) = f.headers.get_mut(side) {
                    *h = true;
                }
                f.stream_kind.get_or_insert(*stream_kind);
            }
            EventKind::TlsProceed => f.tls = true,
            // SASL2's <authenticate> (XEP-0388 §4) carries the same credentials.
            EventKind::SaslAuth {
                mechanism, sasl2, ..
            } if !f.tls => {
                let element = if *sasl2 { "authenticate" } else { "auth" };
                flags.push((
                    Builtin::RequireTlsBeforeSasl,
                    format!("<{element} mechanism='{mechanism}'> sent without TLS"),
                ));
                if mechanism == "PLAIN" {
                    flags.push((
                        Builtin::NoPlainWithoutTls,
                        "SASL PLAIN sent the password in the clear".into(),
                    ));
                }
            }
            EventKind::SaslSuccess { bound, .. } => {
                f.authenticated = Some((e.frame.0, e.time));
                // Bind 2 binds inside SASL2's success (XEP-0386).
                f.bound |= *bound;
            }
            EventKind::Iq(s) if s.bound_jid().is_some() => f.bound = true,
            // A resumed session keeps the resource it had bound (XEP-0198 §5).
            EventKind::Sm { action, .. } if action == "resumed" => f.bound = true,
            EventKind::StreamError { condition, text } => {
                f.stream_error = true;
                let text = text
                    .as_deref()
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default();
                flags.push((
                    Builtin::NoStreamErrors,
                    format!(
                        "<stream:error> {}{text}",
                        condition.as_deref().unwrap_or("?")
                    ),
                ));
            }
            EventKind::StreamClose => {
                if let Some(c) = f.closed.get_mut(side) {
                    *c = true;
                }
            }
            EventKind::Anomaly { anomaly, detail } => {
                flags.push((Builtin::NoAnomalies, format!("{anomaly}: {detail}")));
                if *anomaly == crate::model::Anomaly::InvalidJid {
                    flags.push((Builtin::ValidJids, detail.clone()));
                }
            }
            EventKind::FlowEnd { reason, .. } => flags.extend(end_of_flow(f, *reason)),
            _ => {}
        }
        for (rule, detail) in flags {
            self.flag(rule, e, detail);
        }
    }

    /// The violations found, by rule.
    pub fn into_found(self) -> BTreeMap<Builtin, (Vec<Violation>, u64)> {
        self.found
    }
}

/// Judges a connection when it ends: clean close, bound resource.
fn end_of_flow(f: &FlowFacts, reason: EndReason) -> Vec<(Builtin, String)> {
    let mut out = Vec::new();
    // After STARTTLS the close is encrypted; direct-TLS streams show no header at all.
    let clear = !f.tls;
    let opened = f.headers.iter().any(|h| *h);
    if clear && opened && !f.stream_error {
        let missing: Vec<&str> = [
            (Direction::ToServer, "client"),
            (Direction::ToClient, "server"),
        ]
        .iter()
        .filter(|(d, _)| {
            f.headers.get(d.index()).copied().unwrap_or(false)
                && !f.closed.get(d.index()).copied().unwrap_or(false)
        })
        .map(|(_, who)| *who)
        .collect();
        if !missing.is_empty() {
            let how = match reason {
                EndReason::Rst => "reset",
                EndReason::Fin => "closed by TCP",
                EndReason::CaptureEnd => "still open at the end of the capture",
                EndReason::Idle => "idle",
                EndReason::Evicted => "evicted from a full flow table",
            };
            out.push((
                Builtin::StreamClosedCleanly,
                format!(
                    "no </stream:stream> from the {}; connection {how}",
                    missing.join(" or ")
                ),
            ));
        }
    }
    if f.stream_kind == Some(StreamKind::C2s) && f.authenticated.is_some() && !f.bound && clear {
        out.push((
            Builtin::BoundResource,
            "authenticated but no resource bound".into(),
        ));
    }
    out
}

impl Sink for Checker {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.event_facts(event);
        Ok(())
    }

    fn summary(&mut self, _: &Summary) -> io::Result<()> {
        Ok(())
    }
}

/// The verdict on one rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub rule: String,
    /// Built-in name, or `expect` for expectations.
    pub kind: String,
    pub explanation: String,
    pub passed: bool,
    /// What was measured, for expectations and thresholds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<String>,
    pub violations: Vec<Violation>,
    pub violations_total: u64,
}

/// The verdict on every rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub passed: bool,
    pub files: Vec<String>,
    pub rules: Vec<Outcome>,
}

/// Judges every rule on the violations found in events and on the statistics.
pub fn evaluate(
    rules: &[RuleSpec],
    found: &BTreeMap<Builtin, (Vec<Violation>, u64)>,
    stats: &Stats,
) -> Report {
    let outcomes: Vec<Outcome> = rules.iter().map(|spec| judge(spec, found, stats)).collect();
    Report {
        passed: outcomes.iter().all(|o| o.passed),
        files: stats.files.clone(),
        rules: outcomes,
    }
}

fn judge(
    spec: &RuleSpec,
    found: &BTreeMap<Builtin, (Vec<Violation>, u64)>,
    stats: &Stats,
) -> Outcome {
    match &spec.rule {
        Rule::Builtin { rule, arg } => {
            let mut outcome = Outcome {
                rule: spec.text.clone(),
                kind: rule.name().to_owned(),
                explanation: rule.explanation().to_owned(),
                passed: true,
                measured: None,
                violations: Vec::new(),
                violations_total: 0,
            };
            match rule {
                Builtin::IqAnswered => iq_answered(&mut outcome, stats, *arg),
                Builtin::PresenceOverheadBelow | Builtin::RedundantPresenceBelow => {
                    let metric = if *rule == Builtin::PresenceOverheadBelow {
                        "presence.overhead_ratio"
                    } else {
                        "presence.redundant_ratio"
                    };
                    let limit = arg.unwrap_or(1.0);
                    match metrics::measure(stats, metric, None) {
                        Ok(Measured::Number(v)) => {
                            outcome.passed = v < limit;
                            outcome.measured = Some(format!("{v:.4} (limit {limit})"));
                        }
                        _ => outcome.measured = Some("no presences".into()),
                    }
                }
                other => {
                    if let Some((list, total)) = found.get(other) {
                        outcome.passed = *total == 0;
                        outcome.violations.clone_from(list);
                        outcome.violations_total = *total;
                    }
                }
            }
            outcome
        }
        Rule::Expect {
            metric,
            scope,
            op,
            value,
        } => expectation(spec, metric, scope.as_deref(), *op, value, stats),
    }
}

/// Unanswered requests, and with a limit, responses slower than it (from the stats'
/// pairing, so `stats` and `check` agree).
fn iq_answered(outcome: &mut Outcome, stats: &Stats, limit_ms: Option<f64>) {
    let mut list: Vec<Violation> = stats
        .unanswered_list
        .iter()
        .map(|r| Violation {
            file: r.file.clone(),
            flow: r.flow,
            frame: r.frame,
            time: r.time.clone(),
            detail: format!(
                "iq {} id={:?} ({}) never answered",
                r.r#type, r.id, r.payload
            ),
        })
        .collect();
    let mut total: u64 = stats.iq.values().map(|q| q.unanswered).sum();
    if let Some(limit) = limit_ms {
        for r in &stats.slow_list {
            let ms = r.response_us.unwrap_or(0) as f64 / 1000.0;
            if ms > limit {
                total += 1;
                list.push(Violation {
                    file: r.file.clone(),
                    flow: r.flow,
                    frame: r.frame,
                    time: r.time.clone(),
                    detail: format!(
                        "iq {} id={:?} ({}) answered after {ms:.1} ms (limit {limit} ms)",
                        r.r#type, r.id, r.payload
                    ),
                });
            }
        }
    }
    list.truncate(MAX_VIOLATIONS_LISTED);
    outcome.passed = total == 0;
    outcome.violations = list;
    outcome.violations_total = total;
}

fn expectation(
    spec: &RuleSpec,
    metric: &str,
    scope: Option<&str>,
    op: Op,
    value: &Value,
    stats: &Stats,
) -> Outcome {
    let (passed, measured) = match metrics::measure(stats, metric, scope) {
        Err(e) => (false, e),
        Ok(Measured::Missing) => (false, "nothing to measure".into()),
        Ok(Measured::Number(v)) => match value {
            Value::Number(want) => (op.holds(v, *want), format_number(v)),
            Value::Text(_) => (false, format_number(v)),
        },
        Ok(Measured::Texts(seen)) => {
            let want = text_of(value);
            let passed = match op {
                Op::Eq => !seen.is_empty() && seen.iter().all(|s| s == want),
                _ => seen.iter().all(|s| s != want),
            };
            (passed, shown(&seen))
        }
        Ok(Measured::Versions(seen)) => {
            // Every version seen compares as asked; none seen passes (no older one
            // is there), except for ==.
            let order = |s: &String| metrics::compare_versions(s, text_of(value));
            let passed = match op {
                Op::Eq => !seen.is_empty() && seen.iter().all(|s| order(s).is_eq()),
                Op::Ne => seen.iter().all(|s| order(s).is_ne()),
                Op::Lt => seen.iter().all(|s| order(s).is_lt()),
                Op::Le => seen.iter().all(|s| order(s).is_le()),
                Op::Gt => seen.iter().all(|s| order(s).is_gt()),
                Op::Ge => seen.iter().all(|s| order(s).is_ge()),
            };
            (passed, shown(&seen))
        }
    };
    Outcome {
        rule: spec.text.clone(),
        kind: "expect".into(),
        explanation: format!(
            "{metric}{} {} {value}",
            scope.map(|s| format!("[{s}]")).unwrap_or_default(),
            op.as_str()
        ),
        passed,
        measured: Some(measured),
        violations: Vec::new(),
        violations_total: u64::from(!passed),
    }
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// The text a rule compares with (a number compares with no text).
fn text_of(value: &Value) -> &str {
    match value {
        Value::Text(t) => t.as_str(),
        Value::Number(_) => "",
    }
}

/// The distinct texts seen, quoted, or `none`.
fn shown(seen: &[String]) -> String {
    let mut distinct: Vec<&String> = seen.iter().collect();
    distinct.sort();
    distinct.dedup();
    if distinct.is_empty() {
        "none".to_owned()
    } else {
        distinct
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
