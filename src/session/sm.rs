//! Stream management (XEP-0198): acknowledgements and resumption.
//!
//! Input: an element in the `urn:xmpp:sm:3` (or `:2`) namespace; output: its event.
//! `<enable/>`, `<enabled/>` (§3), `<r/>` and `<a h=…/>` (§4), `<resume/>`,
//! `<resumed/>` (§5) and `<failed/>` are stream-level elements, not stanzas: they do
//! not count towards `h` themselves.

use crate::model::EventKind;
use crate::xml::{ns, Element};

pub fn classify(el: Element<'_>) -> EventKind {
    let action = el.name();
    if !matches!(
        action,
        "enable" | "enabled" | "resume" | "resumed" | "failed" | "r" | "a"
    ) {
        return EventKind::Element {
            name: action.to_owned(),
            namespace: el.ns().map(str::to_owned),
        };
    }
    // §3: `id` names the stream on <enabled/>; §5: `previd` names it on resumption.
    let id = el.attr("id").or_else(|| el.attr("previd"));
    EventKind::Sm {
        action: action.to_owned(),
        h: el.attr("h").and_then(|h| h.trim().parse().ok()),
        id: id.map(str::to_owned),
        resume: matches!(el.attr("resume"), Some("true" | "1")),
        max: el.attr("max").and_then(|m| m.trim().parse().ok()),
        condition: (action == "failed")
            .then(|| {
                el.children()
                    .find(|c| c.ns() == Some(ns::STANZA_ERRORS))
                    .map(|c| c.name().to_owned())
            })
            .flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse_element, NsScope};

    fn event(xml: &str) -> EventKind {
        let scope = NsScope::default();
        let tree = parse_element(xml.as_bytes(), &scope, 64).unwrap();
        classify(tree.root().unwrap())
    }

    #[test]
    fn acks_requests_and_resumption_keep_their_numbers() {
        let EventKind::Sm { action, h, .. } = event("<a xmlns='urn:xmpp:sm:3' h='42'/>") else {
            panic!("not sm")
        };
        assert_eq!((action.as_str(), h), ("a", Some(42)));
        let resumed = event("<resumed xmlns='urn:xmpp:sm:3' previd='abc' h='7'/>");
        assert!(matches!(
            resumed,
            EventKind::Sm { ref action, h: Some(7), ref id, .. }
                if action == "resumed" && id.as_deref() == Some("abc")
        ));
        let enabled = event("<enabled xmlns='urn:xmpp:sm:3' id='s1' resume='true' max='600'/>");
        assert!(matches!(
            enabled,
            EventKind::Sm {
                resume: true,
                max: Some(600),
                ..
            }
        ));
        let failed = event(
            "<failed xmlns='urn:xmpp:sm:3' h='3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>",
        );
        assert!(matches!(
            failed,
            EventKind::Sm { ref condition, .. } if condition.as_deref() == Some("item-not-found")
        ));
    }

    #[test]
    fn a_bad_count_is_absent_and_unknown_elements_stay_elements() {
        assert!(matches!(
            event("<a xmlns='urn:xmpp:sm:3' h='-1'/>"),
            EventKind::Sm { h: None, .. }
        ));
        assert!(matches!(
            event("<x xmlns='urn:xmpp:sm:3'/>"),
            EventKind::Element { .. }
        ));
    }
}
