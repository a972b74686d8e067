//! Gives a parsed top-level element its XMPP meaning.
//!
//! Input: a [`Tree`] for one depth-1 element (or a stream header start tag) and the
//! redaction setting; output: the [`EventKind`] for it plus anomalies for invalid JIDs.
//! Matching is by (namespace, local name) only (RFC 6120 §4.8).

use super::error::condition_and_text;
use super::{sasl, sm};
use crate::fnv;
use crate::jid::Jid;
use crate::model::{Anomaly, EventKind, Features, Field, Stanza, StanzaBox, StreamKind};
use crate::xml::{ns, Element, NsScope, Tree};

/// Classifies a stream header start tag (RFC 6120 §4.7).
pub fn stream_header(el: Element<'_>, scope: &NsScope, restart: bool, out: &mut Vec<EventKind>) {
    if !el.is(ns::STREAMS, "stream") {
        out.push(EventKind::Anomaly {
            anomaly: Anomaly::MissingStreamHeader,
            detail: format!(
                "stream starts with <{}> in {}",
                el.name(),
                el.ns().unwrap_or("no namespace")
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

/// What classification includes, set per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// SASL payloads as sent instead of `REDACTED`.
    pub show_secrets: bool,
    /// Each presence's [`content_digest`] (statistics and NDJSON use it; the text
    /// listing does not, and skips the work).
    pub digests: bool,
    /// Each stanza's census detail (caps, software, binary payloads, nested
    /// namespaces; statistics, NDJSON, Parquet and filters use it; the text listing
    /// does not, and skips the work).
    pub details: bool,
    /// How the element parser scans: 16 bytes at a time, or byte by byte (the
    /// reference, for the differential tests).
    pub scan: crate::xml::ScanMode,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            show_secrets: false,
            digests: true,
            details: true,
            scan: crate::xml::ScanMode::Blocks,
        }
    }
}

/// Classifies one complete depth-1 element.
pub fn element(tree: &Tree<'_>, settings: Settings, out: &mut Vec<EventKind>) {
    let Some(root) = tree.root() else { return };
    let ns = root.ns().unwrap_or_default();
    let kind = match (ns, root.name()) {
        (ns::STREAMS, "features") => EventKind::Features(features(root)),
        (ns::STREAMS, "error") => {
            let (condition, text) = condition_and_text(root, ns::STREAM_ERRORS);
            EventKind::StreamError { condition, text }
        }
        // XMPP over WebSocket (RFC 7395 §3.3.2, §3.6): the stream's open and close are
        // elements of their own, for c2s only; restarts are marked by the caller.
        (ns::FRAMING, "open") => {
            let from = root.attr("from").map(str::to_owned);
            let to = root.attr("to").map(str::to_owned);
            out.push(EventKind::StreamHeader {
                stream_kind: StreamKind::C2s,
                from: from.clone(),
                to: to.clone(),
                id: root.attr("id").map(str::to_owned),
                version: root.attr("version").map(str::to_owned),
                lang: root.attr("xml:lang").map(str::to_owned),
                namespace: Some(ns::CLIENT.to_owned()),
                dialback: false,
                restart: false,
            });
            check_jids(&[("from", from.as_deref()), ("to", to.as_deref())], out);
            return;
        }
        (ns::FRAMING, "close") => EventKind::StreamClose,
        (ns::TLS, "starttls") => EventKind::StartTls,
        (ns::TLS, "proceed") => EventKind::TlsProceed,
        (ns::TLS, "failure") => EventKind::TlsFailure,
        // XEP-0138 §5-§6.
        (ns::COMPRESS, "compress") => EventKind::Compress {
            method: root
                .child_text(ns::COMPRESS, "method")
                .map(|m| m.trim().to_owned()),
        },
        (ns::COMPRESS, "compressed") => EventKind::Compressed,
        (ns::COMPRESS, "failure") => EventKind::CompressFailure {
            condition: condition_and_text(root, ns::COMPRESS).0,
        },
        (ns::SASL, _) => sasl::classify(root, sasl::Profile::Rfc6120, settings.show_secrets),
        (ns::SASL2, _) => sasl::classify(root, sasl::Profile::Sasl2, settings.show_secrets),
        (ns::SM | ns::SM2, _) => sm::classify(root),
        (ns::DIALBACK, "result" | "verify") => EventKind::Dialback {
            verify: root.name() == "verify",
            r#type: root.attr("type").map(str::to_owned),
            from: root.attr("from").map(str::to_owned),
            to: root.attr("to").map(str::to_owned),
            id: root.attr("id").map(str::to_owned),
            key_len: root.text().trim().len(),
        },
        // XEP-0114 §3; some routers send it in the jabber:client namespace.
        (content_ns, "handshake") if ns::is_stanza_namespace(content_ns) => {
            EventKind::ComponentHandshake {
                digest_len: root.text().trim().len(),
            }
        }
        (stanza_ns, "message" | "presence" | "iq") if ns::is_stanza_namespace(stanza_ns) => {
            stanza_event(root, None, settings, out);
            return;
        }
        // Router wrappers (jabberd/XCP `<route>`) carry one stanza: report the stanza,
        // so traffic statistics see the presence inside.
        (_, "route") => {
            let inner = root.children().next().filter(|c| {
                matches!(c.name(), "message" | "presence" | "iq")
                    && c.ns().is_some_and(ns::is_stanza_namespace)
            });
            match inner {
                Some(inner) => stanza_event(inner, Some("route"), settings, out),
                None => out.push(EventKind::Element {
                    name: root.name().to_owned(),
                    namespace: root.ns().map(str::to_owned),
                }),
            }
            return;
        }
        _ => EventKind::Element {
            name: root.name().to_owned(),
            namespace: root.ns().map(str::to_owned),
        },
    };
    out.push(kind);
}

/// A message, presence or iq event for `el`, then anomalies for invalid JIDs.
fn stanza_event(
    el: Element<'_>,
    wrapper: Option<&str>,
    settings: Settings,
    out: &mut Vec<EventKind>,
) {
    let mut stanza = StanzaBox::new();
    fill_stanza(&mut stanza, el, el.ns().unwrap_or_default());
    stanza.set_opt(Field::Wrapper, wrapper);
    if settings.digests && el.name() == "presence" {
        stanza.digest = Some(content_digest(el));
    }
    if settings.details {
        stanza.detail = crate::census::extract::detail(el);
    }
    // An address the stanza's common-case check vouched for as it was set is valid;
    // only the others take the full checks.
    let mut invalid = Vec::new();
    check_jids(
        &[
            ("from", unvouched(stanza.from(), stanza.plain_bare_from())),
            ("to", unvouched(stanza.to(), stanza.plain_bare_to())),
        ],
        &mut invalid,
    );
    out.push(match el.name() {
        "message" => EventKind::Message(stanza),
        "presence" => EventKind::Presence(stanza),
        _ => EventKind::Iq(stanza),
    });
    out.extend(invalid);
}

/// Hash of what a stanza means, for spotting repeats: its attributes except `id`,
/// `from` and `to`, and its children (namespaces, names, attributes and children in
/// sorted order, trimmed text), so ids, attribute order and child order do not
/// matter. FNV-1a over the parts, 64 bits; children combine in sorted hash order.
pub fn content_digest(root: Element<'_>) -> u64 {
    element_digest(root, true)
}

/// Recursion is bounded by the framer's depth limit.
fn element_digest(el: Element<'_>, is_root: bool) -> u64 {
    let mut h = fnv::add(fnv::OFFSET, el.ns().unwrap_or_default().as_bytes());
    h = fnv::add(h, b"}");
    h = fnv::add(h, el.name().as_bytes());
    // Attributes in sorted order: combine their hashes commutatively (sum), which is
    // order-independent without sorting or allocating.
    let mut attrs: u64 = 0;
    for attr in el.attrs() {
        if is_root && matches!(attr.name, "id" | "from" | "to") {
            continue;
        }
        let a = fnv::add(
            fnv::add(fnv::add(fnv::OFFSET, attr.name.as_bytes()), b"="),
            attr.value.as_bytes(),
        );
        attrs = attrs.wrapping_add(a.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    }
    h = fnv::add(h, &attrs.to_le_bytes());
    h = fnv::add(h, b">");
    h = fnv::add(h, el.text().trim().as_bytes());
    // Children in sorted hash order; up to 16 are sorted on the stack.
    let mut few = [0u64; 16];
    let mut count = 0;
    let mut many = Vec::new();
    for child in el.children() {
        let d = element_digest(child, false);
        match few.get_mut(count) {
            Some(slot) if many.is_empty() => {
                *slot = d;
                count += 1;
            }
            _ => {
                if many.is_empty() {
                    many.extend_from_slice(few.get(..count).unwrap_or_default());
                }
                many.push(d);
            }
        }
    }
    let children = if many.is_empty() {
        few.get_mut(..count).unwrap_or_default()
    } else {
        many.as_mut_slice()
    };
    children.sort_unstable();
    for c in children.iter() {
        h = fnv::add(h, &c.to_le_bytes());
    }
    h
}

/// RFC 6120 §4.3.2: each child of `<stream:features>` is one feature.
fn features(root: Element<'_>) -> Features {
    let mut f = Features::default();
    for child in root.children() {
        let child_ns = child.ns().unwrap_or_default();
        match (child_ns, child.name()) {
            (ns::TLS, "starttls") => {
                let required = child.child(ns::TLS, "required").is_some();
                f.starttls = Some(if required { "required" } else { "offered" }.to_owned());
            }
            (ns::SASL, "mechanisms") => {
                f.mechanisms = child
                    .children()
                    .filter(|m| m.is(ns::SASL, "mechanism"))
                    .map(|m| m.text().trim().to_owned())
                    .collect();
            }
            // XEP-0388 §2.1, with Bind 2 offered inline (XEP-0386 §2).
            (ns::SASL2, "authentication") => {
                f.sasl2 = child
                    .children()
                    .filter(|m| m.is(ns::SASL2, "mechanism"))
                    .map(|m| m.text().trim().to_owned())
                    .collect();
                f.bind2 = child
                    .child(ns::SASL2, "inline")
                    .is_some_and(|i| i.child(ns::BIND2, "bind").is_some());
            }
            (ns::BIND, "bind") => f.bind = true,
            (ns::SESSION, "session") => f.session = true,
            (ns::SM | ns::SM2, "sm") => f.sm = true,
            (ns::COMPRESS_FEATURE, "compression") => {
                f.compression = child
                    .children()
                    .map(|m| m.text().trim().to_owned())
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
fn fill_stanza(s: &mut Stanza, root: Element<'_>, stanza_ns: &str) {
    s.set_opt(Field::Type, root.attr("type"));
    s.set_opt(Field::Id, root.attr("id"));
    s.set_opt(Field::From, root.attr("from"));
    s.set_opt(Field::To, root.attr("to"));
    let is_iq = root.name() == "iq";
    for child in root.children() {
        let child_ns = child.ns().unwrap_or_default();
        if child_ns == stanza_ns {
            let text = child.text();
            match child.name() {
                "body" => s.body_len = Some(s.body_len.unwrap_or(0) + text.len()),
                "subject" => s.set(Field::Subject, text),
                "thread" => s.set(Field::Thread, text.trim()),
                "show" => s.set(Field::Show, text.trim()),
                "status" => s.set(Field::Status, text),
                "priority" => s.priority = text.trim().parse().ok(),
                "error" => {
                    let condition = condition_and_text(child, ns::STANZA_ERRORS).0;
                    s.set_opt(Field::Error, condition.as_deref());
                }
                _ => {}
            }
            continue;
        }
        if is_iq && s.payload().is_none() {
            s.set_opt(Field::Payload, child.ns());
            s.set(Field::PayloadName, child.name());
            if child.is(ns::BIND, "bind") {
                let resource = child.child_text(ns::BIND, "resource").map(str::trim);
                s.set_opt(Field::BindResource, resource);
                let jid = child.child_text(ns::BIND, "jid").map(str::trim);
                s.set_opt(Field::BoundJid, jid);
            }
        }
        if let Some(ext) = child.ns() {
            s.add_extension(ext);
        }
    }
}

/// `address` unless the stanza's common-case check vouched for it (found `bare`).
fn unvouched<'a>(address: Option<&'a str>, bare: Option<&str>) -> Option<&'a str> {
    address.filter(|_| bare.is_none())
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
