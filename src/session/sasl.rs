//! SASL negotiation elements (RFC 6120 §6.4) and what of them may be shown.
//!
//! Input: a SASL-namespace element; output: its event. Passwords, proofs and
//! responses are secrets: their payload is replaced by `REDACTED` unless the user asked
//! for secrets. The username is not secret and is shown where the mechanism carries it
//! (PLAIN: RFC 4616 §2; SCRAM: RFC 5802 §5.1; DIGEST-MD5: RFC 2831 §2.1.2).

use super::classify::condition_and_text;
use crate::model::EventKind;
use crate::xml::{ns, Element};

/// Text put in place of a secret payload.
pub const REDACTED: &str = "REDACTED";

pub fn classify(el: Element<'_>, show_secrets: bool) -> EventKind {
    let payload = el.text().trim();
    let secret = |data: &str| -> Option<String> {
        if data.is_empty() || data == "=" {
            None
        } else if show_secrets {
            Some(data.to_owned())
        } else {
            Some(REDACTED.to_owned())
        }
    };
    match el.name() {
        "auth" => {
            let mechanism = el.attr("mechanism").unwrap_or_default().to_owned();
            EventKind::SaslAuth {
                username: username(&mechanism, payload),
                mechanism,
                data_len: payload.len(),
                data: secret(payload),
            }
        }
        // Challenges come from the server and carry nonces, not secrets.
        "challenge" => EventKind::SaslChallenge {
            data_len: payload.len(),
            data: (!payload.is_empty()).then(|| payload.to_owned()),
        },
        "response" => EventKind::SaslResponse {
            data_len: payload.len(),
            data: secret(payload),
        },
        "success" => EventKind::SaslSuccess {
            data_len: payload.len(),
        },
        "failure" => {
            let (condition, text) = condition_and_text(el, ns::SASL);
            EventKind::SaslFailure { condition, text }
        }
        "abort" => EventKind::SaslAbort,
        other => EventKind::Element {
            name: other.to_owned(),
            namespace: Some(ns::SASL.to_owned()),
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
    }
}
