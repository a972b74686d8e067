//! SASL negotiation elements (RFC 6120 §6.4, and the Extensible SASL Profile of
//! XEP-0388) and what of them may be shown.
//!
//! Input: an element in the SASL or SASL2 namespace; output: its event. Passwords,
//! proofs and responses are secrets: their payload is replaced by `REDACTED` unless the
//! user asked for secrets. The username is not secret and is shown where the mechanism
//! carries it (PLAIN: RFC 4616 §2; SCRAM: RFC 5802 §5.1; HT-*: XEP-0484 §4).

use super::error::condition_and_text;
use crate::model::EventKind;
use crate::xml::{ns, Element};

/// Text put in place of a secret payload.
pub const REDACTED: &str = "REDACTED";

/// Which SASL profile an element belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// RFC 6120 §6, `urn:ietf:params:xml:ns:xmpp-sasl`.
    Rfc6120,
    /// XEP-0388, `urn:xmpp:sasl:2`: the payloads sit in child elements, and success
    /// carries the authorization identifier and inline results (no stream restart).
    Sasl2,
}

pub fn classify(el: Element<'_>, profile: Profile, show_secrets: bool) -> EventKind {
    let sasl2 = profile == Profile::Sasl2;
    let secret = |data: &str| -> Option<String> {
        if data.is_empty() || data == "=" {
            None
        } else if show_secrets {
            Some(data.to_owned())
        } else {
            Some(REDACTED.to_owned())
        }
    };
    let payload = el.text().trim();
    match el.name() {
        "auth" | "authenticate" if (el.name() == "authenticate") == sasl2 => {
            let mechanism = el.attr("mechanism").unwrap_or_default().to_owned();
            // XEP-0388 §2.3: the initial response is a child, not the text.
            let initial = match profile {
                Profile::Rfc6120 => payload,
                Profile::Sasl2 => el
                    .child(ns::SASL2, "initial-response")
                    .map_or("", |c| c.text().trim()),
            };
            EventKind::SaslAuth {
                username: username(&mechanism, initial),
                mechanism,
                data_len: initial.len(),
                data: secret(initial),
                sasl2,
            }
        }
        // Challenges come from the server and carry nonces, not secrets.
        "challenge" => EventKind::SaslChallenge {
            data_len: payload.len(),
            data: (!payload.is_empty()).then(|| payload.to_owned()),
            sasl2,
        },
        "response" => EventKind::SaslResponse {
            data_len: payload.len(),
            data: secret(payload),
            sasl2,
        },
        "success" => match profile {
            Profile::Rfc6120 => EventKind::SaslSuccess {
                data_len: payload.len(),
                sasl2,
                jid: None,
                bound: false,
            },
            // XEP-0388 §2.6.1; Bind 2 adds <bound/> (XEP-0386 §3).
            Profile::Sasl2 => EventKind::SaslSuccess {
                data_len: el
                    .child_text(ns::SASL2, "additional-data")
                    .map_or(0, |t| t.trim().len()),
                sasl2,
                jid: el
                    .child_text(ns::SASL2, "authorization-identifier")
                    .map(|t| t.trim().to_owned()),
                bound: el.child(ns::BIND2, "bound").is_some(),
            },
        },
        "failure" => {
            // SASL2 failures carry the RFC 6120 conditions; their <text> is SASL2's.
            let (condition, text) = condition_and_text(el, ns::SASL);
            let text = match profile {
                Profile::Rfc6120 => text,
                Profile::Sasl2 => el.child_text(ns::SASL2, "text").map(str::to_owned),
            };
            EventKind::SaslFailure {
                condition,
                text,
                sasl2,
            }
        }
        "abort" => EventKind::SaslAbort,
        other => EventKind::Element {
            name: other.to_owned(),
            namespace: el.ns().map(str::to_owned),
        },
    }
}

/// The authentication identity in an initial response, where the mechanism has one.
fn username(mechanism: &str, payload: &str) -> Option<String> {
    let decoded = decode_base64(payload)?;
    match mechanism {
        // authzid NUL authcid NUL passwd
        "PLAIN" => decoded
            .split(|&b| b == 0)
            .nth(1)
            .and_then(|u| std::str::from_utf8(u).ok())
            .map(str::to_owned),
        // XEP-0484 §4: username NUL HMAC.
        m if m.starts_with("HT-") => decoded
            .split(|&b| b == 0)
            .next()
            .filter(|u| decoded.len() > u.len())
            .and_then(|u| std::str::from_utf8(u).ok())
            .map(str::to_owned),
        m if m.starts_with("SCRAM-") => {
            let text = std::str::from_utf8(&decoded).ok()?;
            text.split(',')
                .find_map(|part| part.strip_prefix("n="))
                .map(str::to_owned)
        }
        _ => None,
    }
}

/// Standard base64 (RFC 4648 §4), ignoring whitespace; `None` if malformed.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_of_rfc4648_vectors() {
        for (enc, dec) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(decode_base64(enc).unwrap(), dec.as_bytes());
        }
        assert_eq!(decode_base64("Zm9v!"), None);
    }

    #[test]
    fn usernames_from_plain_and_scram() {
        // "\0juliet\0r0m30myr0m30"
        assert_eq!(
            username("PLAIN", "AGp1bGlldAByMG0zMG15cjBtMzA="),
            Some("juliet".into())
        );
        // "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        assert_eq!(
            username(
                "SCRAM-SHA-1",
                "biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM"
            ),
            Some("user".into())
        );
        assert_eq!(username("DIGEST-MD5", ""), None);
        // XEP-0484 §4: "juliet" NUL then the HMAC (here four bytes 01 02 03 04).
        assert_eq!(
            username("HT-SHA-256-NONE", "anVsaWV0AAECAwQ="),
            Some("juliet".into())
        );
        // Without the NUL it is not an HT-* response.
        assert_eq!(username("HT-SHA-256-NONE", "anVsaWV0"), None);
    }
}
