//! Gives a parsed top-level element its XMPP meaning.
//!
//! Input: a [`Tree`] for one depth-1 element (or a stream header start tag) and the
//! redaction setting; output: the [`EventKind`] for it plus anomalies for invalid JIDs.
//! Matching is by (namespace, local name) only (RFC 6120 §4.8).

use super::sasl;
use crate::jid::Jid;
use crate::model::{Anomaly, EventKind, Features, Stanza, StreamKind};
use crate::xml::{ns, Element, NsScope, Tree};

/// Classifies a stream header start tag (RFC 6120 §4.7).
pub fn stream_header(el: &Element, scope: &NsScope, restart: bool, out: &mut Vec<EventKind>) {
    if !el.is(ns::STREAMS, "stream") {
        out.push(EventKind::Anomaly {
            anomaly: Anomaly::MissingStreamHeader,
            detail: format!(
                "stream starts with <{}> in {}",
                el.name,
                el.ns.as_deref().unwrap_or("no namespace")
            ),
        });
    }
    let namespace = scope.default_ns().map(str::to_owned);
    let from = el.attr("from").map(str::to_owned);
    let to = el.attr("to").map(str::to_owned);
    out.push(EventKind::StreamHeader {
        stream_kind: namespace
            .as_deref()
            .map_or(StreamKind::Unknown, StreamKind::from_namespace),
        from: from.clone(),
        to: to.clone(),
        id: el.attr("id").map(str::to_owned),
        version: el.attr("version").map(str::to_owned),
        lang: el.attr("xml:lang").map(str::to_owned),
        namespace,
        dialback: scope.declares(ns::DIALBACK),
        restart,
    });
    check_jids(&[("from", from.as_deref()), ("to", to.as_deref())], out);
}

/// Classifies one complete depth-1 element.
pub fn element(tree: &Tree, show_secrets: bool, out: &mut Vec<EventKind>) {
    let Some(root) = tree.root() else { return };
    let ns = root.ns.as_deref().unwrap_or_default();
    let kind = match (ns, root.name.as_str()) {
        (ns::STREAMS, "features") => EventKind::Features(features(tree, root)),
        (ns::STREAMS, "error") => {
            let (condition, text) = condition_and_text(tree, root, ns::STREAM_ERRORS);
            EventKind::StreamError { condition, text }
        }
        (ns::TLS, "starttls") => EventKind::StartTls,
        (ns::TLS, "proceed") => EventKind::TlsProceed,
        (ns::TLS, "failure") => EventKind::TlsFailure,
        (ns::SASL, _) => sasl::classify(tree, root, show_secrets),
        (ns::DIALBACK, "result" | "verify") => EventKind::Dialback {
            verify: root.name == "verify",
            r#type: root.attr("type").map(str::to_owned),
            from: root.attr("from").map(str::to_owned),
            to: root.attr("to").map(str::to_owned),
            id: root.attr("id").map(str::to_owned),
            key_len: root.text.trim().len(),
        },
        // XEP-0114 §3; some routers send it in the jabber:client namespace.
        (content_ns, "handshake") if ns::is_stanza_namespace(content_ns) => {
            EventKind::ComponentHandshake {
                digest_len: root.text.trim().len(),
            }
        }
        (stanza_ns, "message" | "presence" | "iq") if ns::is_stanza_namespace(stanza_ns) => {
            stanza_event(tree, root, None, out);
            return;
        }
        // Router wrappers (jabberd/XCP `<route>`) carry one stanza: report the stanza,
        // so traffic statistics see the presence inside.
        (_, "route") => {
            let inner = tree.children(root).next().filter(|c| {
                matches!(c.name.as_str(), "message" | "presence" | "iq")
                    && c.ns.as_deref().is_some_and(ns::is_stanza_namespace)
            });
            match inner {
                Some(inner) => stanza_event(tree, inner, Some("route"), out),
                None => out.push(EventKind::Element {
                    name: root.name.clone(),
                    namespace: root.ns.as_deref().map(str::to_owned),
                }),
            }
            return;
        }
        _ => EventKind::Element {
            name: root.name.clone(),
            namespace: root.ns.as_deref().map(str::to_owned),
        },
    };
    out.push(kind);
}

/// A message, presence or iq event for `el`, then anomalies for invalid JIDs.
fn stanza_event(tree: &Tree, el: &Element, wrapper: Option<&str>, out: &mut Vec<EventKind>) {
    let mut stanza = stanza(tree, el, el.ns.as_deref().unwrap_or_default());
    stanza.wrapper = wrapper.map(str::to_owned);
    if el.name == "presence" {
        stanza.digest = Some(content_digest(tree, el));
    }
    let mut invalid = Vec::new();
    check_jids(
        &[
            ("from", stanza.from.as_deref()),
            ("to", stanza.to.as_deref()),
        ],
        &mut invalid,
    );
    out.push(match el.name.as_str() {
        "message" => EventKind::Message(Box::new(stanza)),
        "presence" => EventKind::Presence(Box::new(stanza)),
        _ => EventKind::Iq(Box::new(stanza)),
    });
    out.extend(invalid);
}

/// Hash of what a stanza means, for spotting repeats: its attributes except `id`,
/// `from` and `to`, and its children (namespaces, names, attributes and children in
/// sorted order, trimmed text), so ids, attribute order and child order do not
/// matter. FNV-1a over the parts, 64 bits; children combine in sorted hash order.
pub fn content_digest(tree: &Tree, root: &Element) -> u64 {
    element_digest(tree, root, true)
}

fn fnv(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Recursion is bounded by the framer's depth limit.
fn element_digest(tree: &Tree, el: &Element, is_root: bool) -> u64 {
    let mut h = fnv(
        0xcbf2_9ce4_8422_2325,
        el.ns.as_deref().unwrap_or_default().as_bytes(),
    );
    h = fnv(h, b"}");
    h = fnv(h, el.name.as_bytes());
    // Attributes in sorted order: combine their hashes commutatively (sum), which is
    // order-independent without sorting or allocating.
    let mut attrs: u64 = 0;
    for (k, v) in &el.attrs {
        if is_root && matches!(k.as_str(), "id" | "from" | "to") {
            continue;
        }
        let a = fnv(
            fnv(fnv(0xcbf2_9ce4_8422_2325, k.as_bytes()), b"="),
            v.as_bytes(),
        );
        attrs = attrs.wrapping_add(a.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    }
    h = fnv(h, &attrs.to_le_bytes());
    h = fnv(h, b">");
    h = fnv(h, el.text.trim().as_bytes());
    let mut children: Vec<u64> = tree
        .children(el)
        .map(|c| element_digest(tree, c, false))
        .collect();
    children.sort_unstable();
    for c in children {
        h = fnv(h, &c.to_le_bytes());
    }
    h
}

/// RFC 6120 §4.3.2: each child of `<stream:features>` is one feature.
fn features(tree: &Tree, root: &Element) -> Features {
    let mut f = Features::default();
    for child in tree.children(root) {
        let child_ns = child.ns.as_deref().unwrap_or_default();
        match (child_ns, child.name.as_str()) {
            (ns::TLS, "starttls") => {
                let required = tree.child(child, ns::TLS, "required").is_some();
                f.starttls = Some(if required { "required" } else { "offered" }.to_owned());
            }
            (ns::SASL, "mechanisms") => {
                f.mechanisms = tree
                    .children(child)
                    .filter(|m| m.is(ns::SASL, "mechanism"))
                    .map(|m| m.text.trim().to_owned())
                    .collect();
            }
            (ns::BIND, "bind") => f.bind = true,
            (ns::SESSION, "session") => f.session = true,
            (ns::SM | "urn:xmpp:sm:2", "sm") => f.sm = true,
            (ns::COMPRESS_FEATURE, "compression") => {
                f.compression = tree
                    .children(child)
                    .map(|m| m.text.trim().to_owned())
                    .collect();
            }
            (ns::CAPS, "c") => f.caps = child.attr("node").map(str::to_owned),
            (ns::DIALBACK_FEATURE, "dialback") => f.dialback = true,
            (other, name) => f.other.push(if other.is_empty() {
                name.to_owned()
            } else {
                other.to_owned()
            }),
        }
    }
    f
}

/// RFC 6120 §8.2 common attributes, RFC 6121 §4.7 / §5.2 children.
fn stanza(tree: &Tree, root: &Element, stanza_ns: &str) -> Stanza {
    let mut s = Stanza {
        r#type: root.attr("type").map(str::to_owned),
        id: root.attr("id").map(str::to_owned),
        from: root.attr("from").map(str::to_owned),
        to: root.attr("to").map(str::to_owned),
        ..Stanza::default()
    };
    for child in tree.children(root) {
        let child_ns = child.ns.as_deref().unwrap_or_default();
        if child_ns == stanza_ns {
            match child.name.as_str() {
                "body" => s.body_len = Some(s.body_len.unwrap_or(0) + child.text.len()),
                "subject" => s.subject = Some(child.text.clone()),
                "thread" => s.thread = Some(child.text.trim().to_owned()),
                "show" => s.show = Some(child.text.trim().to_owned()),
                "status" => s.status = Some(child.text.clone()),
                "priority" => s.priority = child.text.trim().parse().ok(),
                "error" => s.error = condition_and_text(tree, child, ns::STANZA_ERRORS).0,
                _ => {}
            }
            continue;
        }
        if root.name == "iq" && s.payload.is_none() {
            s.payload = child.ns.as_deref().map(str::to_owned);
            s.payload_name = Some(child.name.clone());
            if child.is(ns::BIND, "bind") {
                s.bind_resource = tree
                    .child_text(child, ns::BIND, "resource")
                    .map(|t| t.trim().to_owned());
                s.bound_jid = tree
                    .child_text(child, ns::BIND, "jid")
                    .map(|t| t.trim().to_owned());
            }
        }
        if let Some(ext) = child.ns.as_deref() {
            if !s.extensions.iter().any(|e| e == ext) {
                s.extensions.push(ext.to_owned());
            }
        }
    }
    s.extensions.sort();
    s
}

/// The defined-condition child (any child in `cond_ns` but `text`) and the text.
pub fn condition_and_text(
    tree: &Tree,
    el: &Element,
    cond_ns: &str,
) -> (Option<String>, Option<String>) {
    let condition = tree
        .children(el)
        .find(|c| c.ns.as_deref() == Some(cond_ns) && c.name != "text")
        .map(|c| c.name.clone());
    let text = tree.child_text(el, cond_ns, "text").map(str::to_owned);
    (condition, text)
}

fn check_jids(jids: &[(&str, Option<&str>)], out: &mut Vec<EventKind>) {
    for (field, value) in jids {
        if let Some(value) = value {
            if let Err(e) = Jid::validate(value) {
                out.push(EventKind::Anomaly {
                    anomaly: Anomaly::InvalidJid,
                    detail: format!("{field}={value:?}: {e}"),
                });
            }
        }
    }
}
