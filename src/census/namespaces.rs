//! Namespace → XEP: the XSF's registry as data (`data/xep-namespaces.tsv`, made
//! from the XEPs and the XMPP Registrar; sources, date and licence in
//! `data/README.md`), compiled into the binary and indexed on first use.
//!
//! Input: a namespace as seen on the wire; output: the XEP (or RFC) that defines
//! it, its title, status and census category.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../../data/xep-namespaces.tsv");

/// One row of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The XEP's number (`0045`); empty for the RFCs' namespaces.
    pub xep: &'static str,
    /// The RFC for core namespaces (`RFC 6120`); empty for XEPs.
    pub rfc: &'static str,
    pub title: &'static str,
    pub status: &'static str,
    /// core, im, muc, pubsub, jingle-filetransfer, media, gateways, iot, security,
    /// mobile, service-discovery or other (data/README.md).
    pub category: &'static str,
    /// How sure the row is (the `evidence` column; `examples-xmlns…` and the
    /// last-resort rules are weaker).
    pub evidence: &'static str,
}

fn index() -> &'static HashMap<&'static str, Spec> {
    static INDEX: OnceLock<HashMap<&'static str, Spec>> = OnceLock::new();
    INDEX.get_or_init(|| {
        TABLE
            .lines()
            .skip(1)
            .filter_map(|line| {
                let cols: Vec<&'static str> = line.split('\t').collect();
                let col = |i: usize| cols.get(i).copied().unwrap_or_default();
                let (namespace, xep) = (col(0), col(1));
                // RFC rows: the source names the RFC ("RFC 6120,registrar").
                let rfc = if xep.is_empty() {
                    col(6).split(',').next().unwrap_or_default()
                } else {
                    ""
                };
                (!namespace.is_empty()).then_some((
                    namespace,
                    Spec {
                        xep,
                        rfc,
                        title: col(2),
                        status: col(3),
                        category: col(5),
                        evidence: col(9),
                    },
                ))
            })
            .collect()
    })
}

impl Spec {
    /// `XEP-0045` or `RFC 6120`.
    pub fn name(&self) -> String {
        if self.xep.is_empty() {
            self.rfc.to_owned()
        } else {
            format!("XEP-{}", self.xep)
        }
    }
}

/// The specification of `namespace`: the row itself, else the row of its base
/// (the part before `#`: `…/muc#user` of `…/muc`).
pub fn lookup(namespace: &str) -> Option<Spec> {
    let index = index();
    index.get(namespace).copied().or_else(|| {
        let (base, _) = namespace.split_once('#')?;
        index.get(base).copied()
    })
}

/// How many namespaces the registry knows.
pub fn known() -> usize {
    index().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_names_the_common_extensions() {
        assert!(known() >= 500, "{}", known());
        let muc = lookup("http://jabber.org/protocol/muc").unwrap();
        assert_eq!((muc.name().as_str(), muc.category), ("XEP-0045", "muc"));
        assert_eq!(lookup("urn:xmpp:sm:3").unwrap().xep, "0198");
        assert_eq!(lookup("jabber:client").unwrap().name(), "RFC 6120");
        assert_eq!(
            lookup("eu.siacs.conversations.axolotl").unwrap().category,
            "security"
        );
        assert_eq!(lookup("jabber:iq:gateway").unwrap().category, "gateways");
        assert_eq!(
            lookup("urn:xmpp:iot:sensordata").map(|s| s.xep),
            Some("0323")
        );
        // A fragment falls back to its base.
        assert_eq!(
            lookup("http://jabber.org/protocol/caps#nothing")
                .unwrap()
                .xep,
            "0115"
        );
        assert_eq!(lookup("urn:example:unknown"), None);
    }
}
