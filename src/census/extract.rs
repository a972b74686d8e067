//! Reads the census details out of one parsed stanza: caps (XEP-0115 §4,
//! XEP-0390 §3), a software version answer (XEP-0092 §2), a disco#info answer
//! (XEP-0030 §3.1) checked against the caps node it answers (XEP-0115 §6.2),
//! namespaces below the stanza's children, and base64 payloads.
//!
//! Input: the stanza element of the classifier's tree; output: a [`Detail`], or
//! `None` when there is nothing to report (most stanzas). The walk visits every
//! element once; depth is bounded by the framer's limit.

use super::{binary, caps};
use crate::model::detail::{Binary, Caps, Detail, DiscoInfo, Identity, SoftwareVersion};
use crate::xml::{ns, Element};

/// The Entity Capabilities 2.0 namespace (XEP-0390 §3), also the prefix of its
/// disco#info nodes (§4.3).
pub const CAPS2: &str = "urn:xmpp:caps";
const HASHES2: &str = "urn:xmpp:hashes:2";
const VERSION: &str = "jabber:iq:version";
const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
const DATA_FORMS: &str = "jabber:x:data";

/// The census details of `stanza`, if any.
pub fn detail(stanza: Element<'_>) -> Option<Box<Detail>> {
    let mut d = Detail::default();
    let result = stanza.name() == "iq" && stanza.attr("type") == Some("result");
    for child in stanza.children() {
        match (child.ns().unwrap_or_default(), child.name()) {
            (ns::CAPS, "c") if stanza.name() == "presence" => d.caps = Some(caps_of(child)),
            (CAPS2, "c") if stanza.name() == "presence" => d.caps = Some(caps2_of(child)),
            (VERSION, "query") if result => d.software = Some(version_of(child)),
            (DISCO_INFO, "query") if result => d.disco = Some(disco_of(child)),
            _ => {}
        }
        walk(child, child.ns(), 1, &mut d);
    }
    d.nested.sort_unstable();
    d.nested.dedup();
    (!d.is_empty()).then(|| Box::new(d))
}

/// Notes base64 payloads at any depth and namespaces below the first level.
fn walk(el: Element<'_>, parent_ns: Option<&str>, depth: u32, d: &mut Detail) {
    let here = el.ns();
    if depth >= 2 && here != parent_ns {
        if let Some(n) = here {
            if !d.nested.iter().any(|x| x == n) {
                d.nested.push(n.to_owned());
            }
        }
    }
    if let Some(kind) = binary::kind(here.unwrap_or_default(), el.name()) {
        let (encoded, decoded) = binary::lengths(el.text());
        if encoded > 0 {
            d.binary.push(Binary {
                kind,
                encoded,
                decoded,
            });
        }
    }
    for child in el.children() {
        walk(child, here, depth + 1, d);
    }
}

fn caps_of(c: Element<'_>) -> Caps {
    Caps {
        node: c.attr("node").unwrap_or_default().to_owned(),
        ver: c.attr("ver").unwrap_or_default().to_owned(),
        hash: c.attr("hash").map(str::to_owned),
        ext: c.attr("ext").map(str::to_owned),
        v2: false,
    }
}

/// XEP-0390 §3: the first `<hash algo>` (XEP-0300) child.
fn caps2_of(c: Element<'_>) -> Caps {
    let first = c.children().find(|h| h.is(HASHES2, "hash"));
    Caps {
        node: String::new(),
        ver: first
            .map(|h| h.text().trim().to_owned())
            .unwrap_or_default(),
        hash: first.and_then(|h| h.attr("algo")).map(str::to_owned),
        ext: None,
        v2: true,
    }
}

fn version_of(query: Element<'_>) -> SoftwareVersion {
    let text = |name: &str| {
        query
            .child_text(VERSION, name)
            .map(|t| t.trim().to_owned())
            .unwrap_or_default()
    };
    SoftwareVersion {
        name: text("name"),
        version: text("version"),
        os: text("os"),
    }
}

/// The answer's identities and features, verified against `node#ver` when the
/// query's node names a verification string.
fn disco_of(query: Element<'_>) -> DiscoInfo {
    let answer = answer_of(query);
    let node = query.attr("node").map(str::to_owned);
    let verification = node.as_deref().and_then(|n| {
        let (base, ver) = n.rsplit_once('#')?;
        if base == CAPS2 {
            return Some(caps::verify2(&answer, ver));
        }
        (!ver.is_empty()).then(|| caps::verify(&answer, ver))
    });
    let mut identities: Vec<Identity> = answer
        .identities
        .iter()
        .map(|(category, kind, lang, name)| Identity {
            category: category.clone(),
            r#type: kind.clone(),
            lang: lang.clone(),
            name: name.clone(),
        })
        .collect();
    identities.sort();
    DiscoInfo {
        node,
        identities,
        features: answer.features.len(),
        verification,
    }
}

/// XEP-0030 §3.1 and XEP-0128 §2: identities, features and the forms with a hidden
/// FORM_TYPE (XEP-0115 §5.4 ignores the others).
fn answer_of(query: Element<'_>) -> caps::DiscoAnswer {
    let mut answer = caps::DiscoAnswer::default();
    for child in query.children() {
        if child.is(DISCO_INFO, "identity") {
            let attr = |n: &str| child.attr(n).unwrap_or_default().to_owned();
            answer.identities.push((
                attr("category"),
                attr("type"),
                attr("xml:lang"),
                attr("name"),
            ));
        } else if child.is(DISCO_INFO, "feature") {
            answer
                .features
                .push(child.attr("var").unwrap_or_default().to_owned());
        } else if child.is(DATA_FORMS, "x") {
            match form_of(child) {
                Some(form) => answer.forms.push(form),
                None => answer.foreign = true,
            }
        } else {
            answer.foreign = true;
        }
    }
    answer
}

fn form_of(x: Element<'_>) -> Option<caps::Form> {
    let mut form = caps::Form::default();
    let mut form_type = None;
    for field in x.children().filter(|f| f.is(DATA_FORMS, "field")) {
        let var = field.attr("var").unwrap_or_default();
        let values: Vec<String> = field
            .children()
            .filter(|v| v.is(DATA_FORMS, "value"))
            .map(|v| v.text().to_owned())
            .collect();
        if var == "FORM_TYPE" {
            if field.attr("type") != Some("hidden") {
                return None;
            }
            form_type = values.into_iter().next();
        } else {
            form.fields.push((var.to_owned(), values));
        }
    }
    form.form_type = form_type?;
    Some(form)
}
