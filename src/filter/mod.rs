//! Display filters (`-Y EXPR`): which events a listing, `--json` or `stats` keeps.
//!
//! The syntax is modeled on Wireshark's display filters (`docs/filters.md`): field
//! names are the NDJSON keys of `docs/events.md` (`event`, `type`, `from`, `flow`,
//! `dir`, `anomaly`, …) plus the parts of an address (`from.local`, `from.domain`,
//! `from.resource`, `from.bare`, the same for `to`); comparisons `==`, `!=`, `<`, `<=`,
//! `>`, `>=`, `contains`, `matches` (a regular expression), `in {…}`; a bare field means
//! "present"; `and`/`&&`, `or`/`||`, `not`/`!` and parentheses combine them.
//!
//! Input: the filter text ([`parse`]) and events; output: yes or no per event
//! ([`Filter::matches`]), judged on the event's NDJSON form, so a filter means what
//! the `--json` line shows.

mod parse;

use crate::check::rule::Op;
use serde_json::Value as Json;
use std::fmt;

pub use parse::parse;

/// A parsed display filter.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: Expr,
    /// The event names it can keep, when it constrains them ([`Filter::may_keep`]).
    events: Option<Vec<String>>,
}

/// A malformed filter: what was expected, and where (a byte offset in the text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    pub offset: usize,
    pub message: String,
}

impl FilterError {
    /// The filter text with a caret under the error, as tshark shows it.
    pub fn pointed(&self, text: &str) -> String {
        let column = text
            .get(..self.offset)
            .map_or(self.offset, |s| s.chars().count());
        format!("{text}\n{}^ {}", " ".repeat(column), self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Present(String),
    Compare(String, Op, Literal),
    In(String, Vec<Literal>),
    Contains(String, String),
    Matches(String, Pattern),
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Number(f64),
}

/// A regular expression with the text it was compiled from.
#[derive(Debug, Clone)]
struct Pattern(regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl PartialEq for Filter {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

impl Filter {
    /// Whether one event, as its NDJSON object, passes the filter.
    pub fn matches(&self, event: &Json) -> bool {
        self.expr.eval(event)
    }

    /// Whether an event named `name` (its `event` key) can pass at all: false when
    /// the filter demands other names (`event == "presence" and …`), so the event
    /// need not be turned into JSON. Never false for an event [`Filter::matches`]
    /// keeps.
    pub fn may_keep(&self, name: &str) -> bool {
        self.events
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    }

    fn new(expr: Expr) -> Filter {
        let events = expr
            .event_names()
            .map(|names| names.into_iter().map(str::to_owned).collect());
        Filter { expr, events }
    }
}

impl Expr {
    /// The event names this expression can keep, when it constrains them: an
    /// `event ==` or `event in` test, or an `and` with one, or an `or` of two that
    /// do; `None` when any name may pass.
    fn event_names(&self) -> Option<Vec<&str>> {
        fn text(l: &Literal) -> Option<&str> {
            match l {
                Literal::Text(t) => Some(t.as_str()),
                Literal::Number(_) => None,
            }
        }
        match self {
            Expr::Compare(field, Op::Eq, literal) if field == "event" => {
                Some(text(literal).into_iter().collect())
            }
            Expr::In(field, set) if field == "event" => Some(set.iter().filter_map(text).collect()),
            Expr::And(a, b) => match (a.event_names(), b.event_names()) {
                (Some(x), Some(y)) => Some(x.into_iter().filter(|n| y.contains(n)).collect()),
                (x, None) => x,
                (None, y) => y,
            },
            Expr::Or(a, b) => {
                let (mut x, y) = (a.event_names()?, b.event_names()?);
                x.extend(y);
                Some(x)
            }
            _ => None,
        }
    }

    fn eval(&self, event: &Json) -> bool {
        match self {
            Expr::Or(a, b) => a.eval(event) || b.eval(event),
            Expr::And(a, b) => a.eval(event) && b.eval(event),
            Expr::Not(a) => !a.eval(event),
            Expr::Present(field) => !values(event, field).is_empty(),
            Expr::Compare(field, Op::Ne, literal) => {
                // Wireshark's `!=`: present, and no occurrence equal.
                let found = values(event, field);
                !found.is_empty() && !found.iter().any(|v| compare(v, Op::Eq, literal))
            }
            Expr::Compare(field, op, literal) => values(event, field)
                .iter()
                .any(|v| compare(v, *op, literal)),
            Expr::In(field, set) => values(event, field)
                .iter()
                .any(|v| set.iter().any(|l| compare(v, Op::Eq, l))),
            Expr::Contains(field, needle) => values(event, field)
                .iter()
                .any(|v| text_of(v).is_some_and(|t| t.contains(needle.as_str()))),
            Expr::Matches(field, pattern) => values(event, field)
                .iter()
                .any(|v| text_of(v).is_some_and(|t| pattern.0.is_match(&t))),
        }
    }
}

/// Every value of a field in an event: the key's value (each element of an array),
/// or a part of the address under the key before the last dot, split as RFC 7622
/// §3.1 writes an address (`local@domain/resource`), unnormalized: a filter compares
/// what the wire carried.
fn values(event: &Json, field: &str) -> Vec<Json> {
    let flatten = |v: &Json| match v {
        Json::Null => Vec::new(),
        Json::Array(items) => items.iter().filter(|i| !i.is_null()).cloned().collect(),
        other => vec![other.clone()],
    };
    if let Some(v) = event.get(field) {
        return flatten(v);
    }
    let Some((key, part)) = field.rsplit_once('.') else {
        return Vec::new();
    };
    let Some(Json::String(address)) = event.get(key) else {
        return Vec::new();
    };
    let (local, domain, resource) = crate::jid::parts(address);
    let value = match part {
        "local" => local.unwrap_or_default(),
        "domain" => domain,
        "resource" => resource.unwrap_or_default(),
        "bare" => address.split('/').next().unwrap_or_default(),
        _ => return Vec::new(),
    };
    if value.is_empty() {
        Vec::new()
    } else {
        vec![Json::String(value.to_owned())]
    }
}

/// A value as text: strings as they are, numbers and booleans as JSON writes them.
fn text_of(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(_) | Json::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

fn compare(v: &Json, op: Op, literal: &Literal) -> bool {
    let ordering = match (v, literal) {
        (Json::Number(n), Literal::Number(l)) => n.as_f64().and_then(|n| n.partial_cmp(l)),
        (Json::String(s), Literal::Number(l)) => {
            s.parse::<f64>().ok().and_then(|n| n.partial_cmp(l))
        }
        (_, Literal::Text(l)) => text_of(v).map(|t| t.as_str().cmp(l.as_str())),
        _ => None,
    };
    ordering.is_some_and(|o| op.accepts(o))
}

impl fmt::Display for Filter {
    /// The canonical text of the filter: every combination in parentheses, strings
    /// quoted; parsing it gives the same filter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or(a, b) => write!(f, "({a} or {b})"),
            Expr::And(a, b) => write!(f, "({a} and {b})"),
            Expr::Not(a) => write!(f, "not {a}"),
            Expr::Present(field) => write!(f, "{field}"),
            Expr::Compare(field, op, literal) => write!(f, "{field} {} {literal}", op.as_str()),
            Expr::In(field, set) => {
                write!(f, "{field} in {{")?;
                for (i, l) in set.iter().enumerate() {
                    write!(f, "{}{l}", if i == 0 { "" } else { " " })?;
                }
                write!(f, "}}")
            }
            Expr::Contains(field, needle) => write!(f, "{field} contains {}", quoted(needle)),
            Expr::Matches(field, pattern) => {
                write!(f, "{field} matches {}", quoted(pattern.0.as_str()))
            }
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Text(s) => f.write_str(&quoted(s)),
            Literal::Number(n) => write!(f, "{n}"),
        }
    }
}

/// A string literal: in double quotes, `"` and `\` escaped.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn event() -> Json {
        json!({
            "event": "presence", "flow": 3, "dir": "to_client", "size": 128,
            "from": "juliet@capulet.example/balcony", "to": "romeo@montague.example",
            "show": "away", "extensions": ["urn:xmpp:delay", "vcard-temp:x:update"],
            "decrypted": true, "type": null
        })
    }

    fn keeps(text: &str) -> bool {
        parse(text).unwrap().matches(&event())
    }

    #[test]
    fn event_names_narrow_only_through_and_or_in() {
        let may = |text: &str, name: &str| parse(text).unwrap().may_keep(name);
        assert!(may("event == presence", "presence") && !may("event == presence", "iq"));
        assert!(may("event in {iq message}", "iq") && !may("event in {iq message}", "sm"));
        assert!(!may("event == presence and from.domain == x", "iq"));
        assert!(may("from.domain == x and event == iq", "iq"));
        assert!(
            !may("event == presence and event == iq", "iq"),
            "empty intersection"
        );
        assert!(may("event == presence or event == iq", "iq"));
        assert!(!may("event == presence or event == iq", "message"));
        // Anything not narrowing keeps every name possible.
        assert!(may("event == presence or anomaly", "flow_end"));
        assert!(may("not event == presence", "presence"));
        assert!(may("event != presence", "message"));
        assert!(!may("event == 3", "message"));
        assert!(may("size > 3", "sm"));
    }

    #[test]
    fn each_operator() {
        assert!(keeps("event == \"presence\""));
        assert!(keeps("event == presence"));
        assert!(!keeps("event == message"));
        assert!(keeps("event != message"));
        assert!(!keeps("event != presence"));
        assert!(!keeps("nothing != presence"), "!= needs the field");
        assert!(keeps("size > 100") && keeps("size >= 128") && keeps("size <= 128"));
        assert!(!keeps("size < 128") && !keeps("size > 128"));
        assert!(keeps("flow == 3") && keeps("flow == 3.0") && !keeps("flow == 4"));
        assert!(keeps("from contains \"@capulet\"") && !keeps("from contains \"x@\""));
        assert!(keeps("from matches \"^juliet@.*/bal\"") && !keeps("to matches \"/\""));
        assert!(keeps("show in {away dnd}") && !keeps("show in {\"xa\" chat}"));
        assert!(keeps("decrypted == true"));
    }

    #[test]
    fn presence_of_fields_and_address_parts() {
        assert!(keeps("from") && keeps("extensions") && !keeps("anomaly"));
        assert!(!keeps("type"), "null is absent");
        assert!(keeps("from.local == juliet") && keeps("from.domain == \"capulet.example\""));
        assert!(
            keeps("from.resource == balcony") && keeps("from.bare == \"juliet@capulet.example\"")
        );
        assert!(!keeps("to.resource") && keeps("to.domain == \"montague.example\""));
        assert!(
            keeps("extensions == \"urn:xmpp:delay\""),
            "any element of a list"
        );
        assert!(keeps("extensions contains \"vcard\""));
    }

    #[test]
    fn combinations_and_precedence() {
        assert!(keeps("event == presence and show == away"));
        assert!(keeps("event == presence && show == away"));
        assert!(keeps("event == message or show == away"));
        assert!(keeps("event == message || show == away"));
        assert!(keeps("not event == message") && keeps("!event == message"));
        // `and` binds tighter than `or`, as in Wireshark.
        assert!(keeps("event == message and flow == 9 or show == away"));
        assert!(!keeps("event == message and (flow == 9 or show == away)"));
        assert!(keeps("  ( event == presence )  "));
        assert!(
            keeps("order") == keeps("order"),
            "a field may start with a keyword"
        );
        assert!(!keeps("order"));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let at = |text: &str| parse(text).unwrap_err().offset;
        assert_eq!(at("event =="), 8);
        assert_eq!(at("event == presence and"), 21);
        assert_eq!(at("(event == presence"), 18);
        assert_eq!(at("event == presence extra"), 18);
        assert_eq!(at("event matches \"[\""), 14);
        assert_eq!(at("event == \"open"), 14);
        assert_eq!(at("== presence"), 0);
        assert_eq!(at("show in {}"), 9, "an empty set");
        let e = parse("event ==").unwrap_err();
        assert_eq!(
            e.pointed("event =="),
            "event ==\n        ^ expected a value (a \"string\", a number or a word)"
        );
        assert!(parse("").unwrap_err().message.contains("a field name"));
    }

    fn field() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "event",
            "from.domain",
            "size",
            "extensions",
            "order",
            "not_a",
        ])
        .prop_map(str::to_owned)
    }

    fn literal() -> impl Strategy<Value = Literal> {
        prop_oneof![
            any::<String>().prop_map(Literal::Text),
            (-1_000_000i64..1_000_000, 0u32..1000)
                .prop_map(|(i, f)| Literal::Number(i as f64 + f64::from(f) / 1000.0)),
        ]
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let op = prop::sample::select(vec![Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge]);
        let leaf = prop_oneof![
            field().prop_map(Expr::Present),
            (field(), op, literal()).prop_map(|(f, o, l)| Expr::Compare(f, o, l)),
            (field(), prop::collection::vec(literal(), 1..4)).prop_map(|(f, s)| Expr::In(f, s)),
            (field(), any::<String>()).prop_map(|(f, s)| Expr::Contains(f, s)),
            (field(), "[a-z]{0,4}(\\.\\*)?")
                .prop_map(|(f, p)| Expr::Matches(f, Pattern(regex::Regex::new(&p).unwrap()))),
        ];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
                inner.prop_map(|a| Expr::Not(Box::new(a))),
            ]
        })
    }

    proptest! {
        #[test]
        fn printing_a_filter_and_parsing_it_again_gives_the_same_filter(expr in expr()) {
            let filter = Filter::new(expr);
            let text = filter.to_string();
            let again = parse(&text).map_err(|e| TestCaseError::fail(e.pointed(&text)))?;
            prop_assert_eq!(&again, &filter, "{}", text);
        }

        #[test]
        fn any_text_parses_or_fails_without_panicking(text in ".{0,40}") {
            let _ = parse(&text);
        }
    }
}
