//! What a stanza says about the software behind it and the binary data it carries,
//! for the traffic census (`stats --table software|extensions|binary`): entity
//! capabilities (XEP-0115, XEP-0390), software version answers (XEP-0092),
//! service discovery answers (XEP-0030) with their verification against the caps
//! they answer, namespaces below the first level, and base64 payloads.
//!
//! Input: nothing; output: plain data, filled by `crate::census::extract` and
//! written as extra NDJSON keys (`caps`, `software`, `disco`, `nested`, `binary`).

use serde::Serialize;

/// The census details of one stanza; only stanzas with at least one carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Detail {
    /// Entity capabilities announced in a presence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caps: Option<Caps>,
    /// A software version answer (XEP-0092 §2, iq result).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software: Option<SoftwareVersion>,
    /// A service discovery information answer (XEP-0030 §3.1, iq result).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disco: Option<DiscoInfo>,
    /// Namespaces of elements deeper than the stanza's children (a PEP item's
    /// payload, an OMEMO header), sorted and unique.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nested: Vec<String>,
    /// Base64 payloads carried in the stanza.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub binary: Vec<Binary>,
}

impl Detail {
    pub fn is_empty(&self) -> bool {
        self.caps.is_none()
            && self.software.is_none()
            && self.disco.is_none()
            && self.nested.is_empty()
            && self.binary.is_empty()
    }
}

/// `<c xmlns='http://jabber.org/protocol/caps' node ver hash ext/>` (XEP-0115 §4)
/// or `<c xmlns='urn:xmpp:caps'>` with `<hash algo>` children (XEP-0390 §3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Caps {
    /// The software's URI (XEP-0115); empty for XEP-0390, which has none.
    pub node: String,
    /// The verification string (XEP-0115) or the first hash (XEP-0390, base64).
    pub ver: String,
    /// The hash function (`sha-1`, `sha-256`, …); absent for legacy caps (before
    /// XEP-0115 v1.5), whose `ver` is the software version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Legacy extension names (XEP-0115 §6.3, deprecated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext: Option<String>,
    /// XEP-0390 (`urn:xmpp:caps`) rather than XEP-0115.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub v2: bool,
}

/// `<query xmlns='jabber:iq:version'>` with name, version and os (XEP-0092 §2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SoftwareVersion {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os: String,
}

/// One `<identity category type name xml:lang/>` (XEP-0030 §3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Identity {
    pub category: String,
    pub r#type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// A disco#info answer: who answers, and whether it matches the caps it answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiscoInfo {
    /// The `node` queried: `caps-node#ver` when it answers a caps announcement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub identities: Vec<Identity>,
    /// How many features it lists.
    pub features: usize,
    /// Recomputed from the answer (XEP-0115 §5.1, XEP-0390 §4) against the `ver` in
    /// its node: `verified` with the hash that matched, `mismatch`, or
    /// `ill-formed` (XEP-0115 §5.4: duplicate identities, features or FORM_TYPEs);
    /// absent when the node names no verification string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
}

/// Base64 data inside an element: what it is and what it costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binary {
    /// `ibb`, `bob`, `vcard_photo`, `avatar`, `omemo_payload`, `omemo_key`,
    /// `omemo_bundle`, `openpgp`, `pgp_legacy`.
    pub kind: &'static str,
    /// Characters of base64 text, white space left out.
    pub encoded: u64,
    /// Bytes it decodes to.
    pub decoded: u64,
}
