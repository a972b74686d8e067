//! Rules: built-in checks (`name` or `name(number)`) and expectations
//! (`metric[scope] op value`), parsed from TOML files or the command line.
//!
//! Input: rule text; output: a [`Rule`] or a [`RuleError`] with the 1-based column of
//! the mistake. Every rule and metric is listed in `docs/checks.md`.

use std::fmt;

/// The built-in rules, with stable names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Builtin {
    RequireTlsBeforeSasl,
    NoPlainWithoutTls,
    IqAnswered,
    NoStreamErrors,
    NoAnomalies,
    StreamClosedCleanly,
    BoundResource,
    PresenceOverheadBelow,
    RedundantPresenceBelow,
    ValidJids,
}

/// (rule, name, takes a number, explanation)
pub const BUILTINS: &[(Builtin, &str, Arg, &str)] = &[
    (Builtin::RequireTlsBeforeSasl, "require_tls_before_sasl", Arg::None, "no SASL <auth> before TLS is negotiated (RFC 6120 §5.3.1)"),
    (Builtin::NoPlainWithoutTls, "no_plain_without_tls", Arg::None, "no SASL PLAIN in the clear: it sends the password (RFC 4616 §4)"),
    (Builtin::IqAnswered, "iq_answered", Arg::Optional, "every iq get/set gets a result or error (RFC 6120 §8.2.3), within N ms if given"),
    (Builtin::NoStreamErrors, "no_stream_errors", Arg::None, "no <stream:error> (RFC 6120 §4.9)"),
    (Builtin::NoAnomalies, "no_anomalies", Arg::None, "no reassembly gaps, malformed XML or other traffic anomalies"),
    (Builtin::StreamClosedCleanly, "stream_closed_cleanly", Arg::None, "each clear stream ends with </stream:stream> from both sides, not a reset or cut (RFC 6120 §4.4)"),
    (Builtin::BoundResource, "bound_resource", Arg::None, "each authenticated c2s session binds a resource (RFC 6120 §7, XEP-0386) or resumes a session (XEP-0198)"),
    (Builtin::PresenceOverheadBelow, "presence_overhead_below", Arg::Required, "presence bytes are less than this share of stanza bytes"),
    (Builtin::RedundantPresenceBelow, "redundant_presence_below", Arg::Required, "redundant presences are less than this share of presences"),
    (Builtin::ValidJids, "valid_jids", Arg::None, "every from/to address is a valid JID (RFC 7622)"),
];

/// Whether a built-in takes a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    None,
    Optional,
    Required,
}

impl Builtin {
    pub fn name(self) -> &'static str {
        BUILTINS.iter().find(|b| b.0 == self).map_or("?", |b| b.1)
    }

    pub fn explanation(self) -> &'static str {
        BUILTINS.iter().find(|b| b.0 == self).map_or("", |b| b.3)
    }
}

/// Rules run when none are given: those that need no number.
pub const DEFAULT_RULES: &[&str] = &[
    "require_tls_before_sasl",
    "no_plain_without_tls",
    "iq_answered",
    "no_stream_errors",
    "no_anomalies",
    "stream_closed_cleanly",
    "bound_resource",
    "valid_jids",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Whether an ordering of a value against the expected one satisfies the operator
    /// (display filters compare strings as well as numbers).
    pub fn accepts(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Op::Eq => ordering == Equal,
            Op::Ne => ordering != Equal,
            Op::Lt => ordering == Less,
            Op::Le => ordering != Greater,
            Op::Gt => ordering == Greater,
            Op::Ge => ordering != Less,
        }
    }

    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Eq => (a - b).abs() < 1e-12,
            Op::Ne => (a - b).abs() >= 1e-12,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(s) => write!(f, "{s:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Builtin {
        rule: Builtin,
        arg: Option<f64>,
    },
    Expect {
        metric: String,
        scope: Option<String>,
        op: Op,
        value: Value,
    },
}

/// A mistake in a rule, at a 1-based column of its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct RuleError {
    pub column: usize,
    pub message: String,
}

fn err(column: usize, message: impl Into<String>) -> RuleError {
    RuleError {
        column,
        message: message.into(),
    }
}

/// Parses one rule.
pub fn parse(text: &str) -> Result<Rule, RuleError> {
    let chars: Vec<char> = text.chars().collect();
    let mut p = Parser {
        chars: &chars,
        pos: 0,
    };
    p.skip_space();
    let start = p.pos;
    let name = p.ident();
    if name.is_empty() {
        return Err(err(p.pos + 1, "expected a rule name or a metric"));
    }
    p.skip_space();
    if let Some(&(rule, _, arg_kind, _)) = BUILTINS.iter().find(|b| b.1 == name) {
        let arg = if p.peek() == Some('(') {
            p.pos += 1;
            p.skip_space();
            let at = p.pos;
            let n = p.number().ok_or_else(|| err(at + 1, "expected a number"))?;
            p.skip_space();
            if p.peek() != Some(')') {
                return Err(err(p.pos + 1, "expected ')'"));
            }
            p.pos += 1;
            Some(n)
        } else {
            None
        };
        match (arg_kind, arg) {
            (Arg::None, Some(_)) => {
                return Err(err(
                    start + name.chars().count() + 1,
                    format!("{name} takes no number"),
                ))
            }
            (Arg::Required, None) => {
                return Err(err(
                    p.pos + 1,
                    format!("{name} needs a number, e.g. {name}(0.5)"),
                ))
            }
            _ => {}
        }
        p.skip_space();
        if p.pos < chars.len() {
            return Err(err(p.pos + 1, "unexpected text after the rule"));
        }
        return Ok(Rule::Builtin { rule, arg });
    }
    if !super::metrics::is_known(&name) {
        return Err(err(
            start + 1,
            format!("unknown rule or metric '{name}' (see docs/checks.md)"),
        ));
    }
    let scope = if p.peek() == Some('[') {
        p.pos += 1;
        let begin = p.pos;
        while p.peek().is_some_and(|c| c != ']') {
            p.pos += 1;
        }
        if p.peek() != Some(']') {
            return Err(err(begin, "unclosed '['"));
        }
        let scope: String = chars.get(begin..p.pos).unwrap_or_default().iter().collect();
        p.pos += 1;
        Some(scope.trim().to_owned())
    } else {
        None
    };
    p.skip_space();
    let op_at = p.pos;
    let op = p
        .op()
        .ok_or_else(|| err(op_at + 1, "expected one of == != < <= > >="))?;
    p.skip_space();
    let value_at = p.pos;
    let value = if p.peek() == Some('"') {
        Value::Text(
            p.string()
                .ok_or_else(|| err(value_at + 1, "unterminated string"))?,
        )
    } else {
        Value::Number(
            p.number()
                .ok_or_else(|| err(value_at + 1, "expected a number or a \"string\""))?,
        )
    };
    p.skip_space();
    if p.pos < chars.len() {
        return Err(err(p.pos + 1, "unexpected text after the value"));
    }
    let textual = super::metrics::is_textual(&name);
    match (&value, textual) {
        (Value::Text(_), false) => return Err(err(value_at + 1, format!("{name} is a number"))),
        (Value::Number(_), true) => {
            return Err(err(
                value_at + 1,
                format!("{name} is text: compare with a \"string\""),
            ))
        }
        (Value::Text(_), true)
            if !matches!(op, Op::Eq | Op::Ne) && !super::metrics::is_ordered_text(&name) =>
        {
            return Err(err(op_at + 1, "text compares only with == or !="))
        }
        _ => {}
    }
    Ok(Rule::Expect {
        metric: name,
        scope,
        op,
        value,
    })
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn ident(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        {
            out.push(c);
            self.pos += 1;
        }
        out
    }

    fn op(&mut self) -> Option<Op> {
        let two: String = self
            .chars
            .get(self.pos..self.pos + 2)
            .unwrap_or_default()
            .iter()
            .collect();
        let (op, len) = match two.as_str() {
            "==" => (Op::Eq, 2),
            "!=" => (Op::Ne, 2),
            "<=" => (Op::Le, 2),
            ">=" => (Op::Ge, 2),
            _ => match self.peek()? {
                '<' => (Op::Lt, 1),
                '>' => (Op::Gt, 1),
                _ => return None,
            },
        };
        self.pos += len;
        Some(op)
    }

    fn number(&mut self) -> Option<f64> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        {
            self.pos += 1;
        }
        let text: String = self
            .chars
            .get(start..self.pos)
            .unwrap_or_default()
            .iter()
            .collect();
        let n = text.parse::<f64>().ok().filter(|n| n.is_finite());
        if n.is_none() {
            self.pos = start;
        }
        n
    }

    fn string(&mut self) -> Option<String> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            match self.peek()? {
                '"' => {
                    self.pos += 1;
                    return Some(out);
                }
                '\\' => {
                    self.pos += 1;
                    out.push(self.peek()?);
                }
                c => out.push(c),
            }
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_builtins_and_expectations() {
        assert_eq!(
            parse("no_anomalies").unwrap(),
            Rule::Builtin {
                rule: Builtin::NoAnomalies,
                arg: None
            }
        );
        assert_eq!(
            parse(" iq_answered( 5000 ) ").unwrap(),
            Rule::Builtin {
                rule: Builtin::IqAnswered,
                arg: Some(5000.0)
            }
        );
        assert_eq!(
            parse("presence.overhead_ratio[s2s] < 0.5").unwrap(),
            Rule::Expect {
                metric: "presence.overhead_ratio".into(),
                scope: Some("s2s".into()),
                op: Op::Lt,
                value: Value::Number(0.5)
            }
        );
        assert_eq!(
            parse("sasl.mechanism == \"SCRAM-SHA-1\"").unwrap(),
            Rule::Expect {
                metric: "sasl.mechanism".into(),
                scope: None,
                op: Op::Eq,
                value: Value::Text("SCRAM-SHA-1".into())
            }
        );
    }

    #[test]
    fn errors_point_at_the_mistake() {
        let e = |s: &str| parse(s).unwrap_err();
        assert_eq!(e("message.chat >> 3").column, 15);
        assert_eq!(e("mesage.chat >= 3").column, 1);
        assert_eq!(e("message.chat >= \"x\"").column, 17);
        assert_eq!(
            e("presence_overhead_below").message,
            "presence_overhead_below needs a number, e.g. presence_overhead_below(0.5)"
        );
        assert_eq!(e("no_anomalies(3)").column, 13);
        assert_eq!(e("iq.unanswered == 0 and more").column, 20);
        assert_eq!(e("sasl.mechanism < \"PLAIN\"").column, 16);
        assert_eq!(e("iq[x == 1").column, 3, "at the unclosed [");
    }
}
