//! Base64 inside XML: which elements carry binary data, and what it costs.
//!
//! XMPP has no binary framing (RFC 6120 §11: XML 1.0 character data only), so files,
//! images and ciphertext travel as base64 text (RFC 4648 §4), four characters for
//! every three bytes. Input: an element's namespace, name and text; output: the kind
//! of payload, its encoded length (the text's bytes as carried, white space too)
//! and the bytes it decodes to.

/// The payload kind of `(namespace, local name)`, for the elements that carry
/// base64 by their specification.
pub fn kind(namespace: &str, name: &str) -> Option<&'static str> {
    // Most elements are none of these: their names rule them out first.
    if !matches!(
        name.as_bytes().first(),
        Some(b'd' | b'B' | b'p' | b'k' | b'i' | b's' | b'o' | b'x')
    ) {
        return None;
    }
    Some(match (namespace, name) {
        // XEP-0047 §2.2: `<data seq sid>` in an iq or message.
        ("http://jabber.org/protocol/ibb", "data") => "ibb",
        // XEP-0231 §2.
        ("urn:xmpp:bob", "data") => "bob",
        // XEP-0054 §5 (and XEP-0153's avatars, which live in it): PHOTO, LOGO and
        // SOUND values.
        ("vcard-temp", "BINVAL") => "vcard_photo",
        // XEP-0084 §4.1.
        ("urn:xmpp:avatar:data", "data") => "avatar",
        // XEP-0384 (0.3: eu.siacs.conversations.axolotl; 0.8: urn:xmpp:omemo:2).
        ("eu.siacs.conversations.axolotl" | "urn:xmpp:omemo:2", "payload") => "omemo_payload",
        ("eu.siacs.conversations.axolotl" | "urn:xmpp:omemo:2", "key" | "iv") => "omemo_key",
        (
            "eu.siacs.conversations.axolotl",
            "signedPreKeyPublic" | "signedPreKeySignature" | "identityKey" | "preKeyPublic",
        )
        | ("urn:xmpp:omemo:2", "spk" | "spks" | "ik" | "pk") => "omemo_bundle",
        // XEP-0373 §3.
        ("urn:xmpp:openpgp:0", "openpgp") => "openpgp",
        // XEP-0027 §3-4 (obsolete): the armored body without its headers.
        ("jabber:x:encrypted" | "jabber:x:signed", "x") => "pgp_legacy",
        _ => return None,
    })
}

/// `(encoded, decoded)`: the text's bytes, and the bytes its base64 alphabet
/// characters decode to (`=` padding and white space do not count; RFC 4648 §4).
pub fn lengths(text: &str) -> (u64, u64) {
    let encoded = text.trim().len() as u64;
    let data = text
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
        .count() as u64;
    (encoded, data * 3 / 4)
}

/// The bytes a SASL payload of `encoded` base64 characters decodes to, when its
/// padding is not known (redacted): the most it can be.
pub fn decoded_at_most(encoded: u64) -> u64 {
    encoded / 4 * 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_rfc_4648() {
        assert_eq!(lengths(""), (0, 0));
        assert_eq!(lengths("QQ=="), (4, 1));
        assert_eq!(lengths("QUI="), (4, 2));
        assert_eq!(lengths("QUJD"), (4, 3));
        // Line breaks are carried (and cost), but decode to nothing.
        assert_eq!(lengths("QUJD\nQUJD"), (9, 6));
        assert_eq!(lengths("  QUJD  "), (4, 3));
    }

    #[test]
    fn kinds_by_namespace_and_name() {
        assert_eq!(kind("http://jabber.org/protocol/ibb", "data"), Some("ibb"));
        assert_eq!(kind("http://jabber.org/protocol/ibb", "open"), None);
        assert_eq!(kind("vcard-temp", "BINVAL"), Some("vcard_photo"));
        assert_eq!(kind("urn:xmpp:omemo:2", "ik"), Some("omemo_bundle"));
        assert_eq!(kind("jabber:client", "body"), None);
    }
}
