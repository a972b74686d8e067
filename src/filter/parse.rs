//! The display filter grammar, on winnow:
//!
//! ```text
//! or      = and (("or" | "||") and)*
//! and     = unary (("and" | "&&") unary)*
//! unary   = ("not" | "!") unary | "(" or ")" | test
//! test    = field [ op literal | "in" "{" literal* "}" | "contains" string
//!                 | "matches" string ]
//! field   = [A-Za-z_][A-Za-z0-9_.]*
//! literal = string | number | word        (a word is a string without quotes)
//! string  = '"' ( [^"\\] | '\' any )* '"'
//! ```

use super::{Expr, FilterError, Literal, Op, Pattern};
use winnow::ascii::multispace0;
use winnow::combinator::{alt, cut_err, delimited, opt, preceded, repeat, terminated};
use winnow::error::{ContextError, ErrMode, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::token::{any, none_of, one_of, take_while};

type In<'a> = &'a str;

/// Parses filter text; a malformed filter is an error with its byte offset.
pub fn parse(text: &str) -> Result<super::Filter, FilterError> {
    let mut parser = delimited(multispace0, or, multispace0);
    parser.parse(text).map(super::Filter::new).map_err(|e| {
        let inner = e.inner();
        // The innermost expectation is the useful one; a regular expression's own
        // error keeps only its last line (the reason).
        let message = inner
            .cause()
            .map(|c| {
                let text = c.to_string();
                let reason = text.lines().last().unwrap_or_default();
                format!(
                    "not a regular expression: {}",
                    reason.trim_start_matches("error: ")
                )
            })
            .or_else(|| {
                inner.context().find_map(|c| match c {
                    StrContext::Expected(v) => Some(format!("expected {v}")),
                    _ => None,
                })
            })
            .unwrap_or_else(|| "unexpected text".to_owned());
        FilterError {
            offset: e.offset(),
            message,
        }
    })
}

fn expected(what: &'static str) -> StrContext {
    StrContext::Expected(StrContextValue::Description(what))
}

/// A keyword: the word, not the start of a longer one (`order` is no `or`).
fn keyword<'a>(word: &'static str) -> impl Parser<In<'a>, &'a str, ErrMode<ContextError>> {
    terminated(
        word,
        winnow::combinator::not(one_of(|c: char| {
            c.is_alphanumeric() || c == '_' || c == '.'
        })),
    )
}

fn ws<'a, O>(
    inner: impl Parser<In<'a>, O, ErrMode<ContextError>>,
) -> impl Parser<In<'a>, O, ErrMode<ContextError>> {
    preceded(multispace0, inner)
}

fn or(input: &mut In<'_>) -> ModalResult<Expr> {
    chain(input, ("or", "||"), and, "a test after `or`", Expr::Or)
}

fn and(input: &mut In<'_>) -> ModalResult<Expr> {
    chain(input, ("and", "&&"), unary, "a test after `and`", Expr::And)
}

/// `next (op next)*`, folded to the left with `join`; `op` is a keyword or its symbol.
fn chain(
    input: &mut In<'_>,
    (word, symbol): (&'static str, &'static str),
    mut next: impl FnMut(&mut In<'_>) -> ModalResult<Expr>,
    after: &'static str,
    join: fn(Box<Expr>, Box<Expr>) -> Expr,
) -> ModalResult<Expr> {
    let first = next.parse_next(input)?;
    let rest: Vec<Expr> = repeat(
        0..,
        preceded(
            ws(alt((keyword(word), symbol))),
            cut_err(|i: &mut In<'_>| next(i)).context(expected(after)),
        ),
    )
    .parse_next(input)?;
    Ok(rest
        .into_iter()
        .fold(first, |a, b| join(Box::new(a), Box::new(b))))
}

fn unary(input: &mut In<'_>) -> ModalResult<Expr> {
    multispace0.parse_next(input)?;
    alt((
        preceded(
            alt((keyword("not"), "!")),
            cut_err(unary).context(expected("a test after `not`")),
        )
        .map(|e| Expr::Not(Box::new(e))),
        delimited(
            '(',
            cut_err(or).context(expected("a test")),
            cut_err(ws(')')).context(expected("`)`")),
        ),
        test,
    ))
    .context(expected("a field name, `not` or `(`"))
    .parse_next(input)
}

fn field<'a>(input: &mut In<'a>) -> ModalResult<&'a str> {
    (
        one_of(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(0.., |c: char| {
            c.is_ascii_alphanumeric() || c == '_' || c == '.'
        }),
    )
        .take()
        .parse_next(input)
}

fn test(input: &mut In<'_>) -> ModalResult<Expr> {
    let name = field.parse_next(input)?.to_owned();
    let checkpoint = *input;
    multispace0.parse_next(input)?;
    let op = opt(alt((
        "==".value(Op::Eq),
        "!=".value(Op::Ne),
        "<=".value(Op::Le),
        ">=".value(Op::Ge),
        "<".value(Op::Lt),
        ">".value(Op::Gt),
    )))
    .parse_next(input)?;
    if let Some(op) = op {
        let value = cut_err(ws(literal))
            .context(expected("a value (a \"string\", a number or a word)"))
            .parse_next(input)?;
        return Ok(Expr::Compare(name, op, value));
    }
    if opt(keyword("in")).parse_next(input)?.is_some() {
        let set = cut_err(delimited(ws('{'), repeat(1.., ws(literal)), ws('}')))
            .context(expected("a set of values in braces, `{\"a\" \"b\"}`"))
            .parse_next(input)?;
        return Ok(Expr::In(name, set));
    }
    if opt(keyword("contains")).parse_next(input)?.is_some() {
        let needle = cut_err(ws(string))
            .context(expected("a \"string\""))
            .parse_next(input)?;
        return Ok(Expr::Contains(name, needle));
    }
    if opt(keyword("matches")).parse_next(input)?.is_some() {
        // A pattern that does not compile is reported at the pattern, with regex's
        // own message.
        let pattern = cut_err(ws(string.try_map(|t| regex::Regex::new(&t))))
            .context(expected("a \"regular expression\""))
            .parse_next(input)?;
        return Ok(Expr::Matches(name, Pattern(pattern)));
    }
    *input = checkpoint;
    Ok(Expr::Present(name))
}

fn literal(input: &mut In<'_>) -> ModalResult<Literal> {
    alt((
        string.map(Literal::Text),
        number.map(Literal::Number),
        field.map(|w| Literal::Text(w.to_owned())),
    ))
    .parse_next(input)
}

fn number(input: &mut In<'_>) -> ModalResult<f64> {
    (
        opt('-'),
        take_while(1.., |c: char| c.is_ascii_digit()),
        opt(('.', take_while(1.., |c: char| c.is_ascii_digit()))),
    )
        .take()
        .try_map(str::parse::<f64>)
        .parse_next(input)
}

fn string(input: &mut In<'_>) -> ModalResult<String> {
    let chars: Vec<char> = preceded(
        '"',
        cut_err(terminated(
            repeat(0.., alt((preceded('\\', any), none_of(['"', '\\'])))),
            '"',
        ))
        .context(expected("a closing `\"`")),
    )
    .parse_next(input)?;
    Ok(chars.into_iter().collect())
}
