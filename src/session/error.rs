//! The error elements XMPP shares between its layers: a defined condition in a
//! namespace plus optional `<text/>` (stream errors RFC 6120 §4.9.2, SASL failures
//! §6.4.5, stanza errors §8.3.2, and XEP-0138's compression failures).
//!
//! Input: one parsed element; output: its condition's name and its text.

use crate::xml::Element;

/// The defined-condition child (any child in `cond_ns` but `text`) and the text.
pub fn condition_and_text(el: Element<'_>, cond_ns: &str) -> (Option<String>, Option<String>) {
    let condition = el
        .children()
        .find(|c| c.ns() == Some(cond_ns) && c.name() != "text")
        .map(|c| c.name().to_owned());
    let text = el.child_text(cond_ns, "text").map(str::to_owned);
    (condition, text)
}
