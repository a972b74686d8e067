//! The entity capabilities verification string (XEP-0115 §5): recomputed from a
//! disco#info answer and compared with the `ver` a presence announced, so a census
//! can say a client is what its caps claim.
//!
//! Input: the identities, features and extended-information forms of one answer;
//! output: the string `S` of §5.1 (or why it cannot be built, §5.4) and its hash
//! under every function XEP-0115 §5.1 lets `hash` name that we can compute.

use base64::Engine as _;

/// One extended service discovery form (XEP-0128): its FORM_TYPE and fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pub form_type: String,
    /// `(var, values)` of every field but FORM_TYPE.
    pub fields: Vec<(String, Vec<String>)>,
}

/// What §5.1 hashes, from one disco#info answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoAnswer {
    /// `(category, type, xml:lang, name)`.
    pub identities: Vec<(String, String, String, String)>,
    pub features: Vec<String>,
    pub forms: Vec<Form>,
}

/// Why an answer cannot be verified (XEP-0115 §5.4, step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IllFormed {
    DuplicateIdentity,
    DuplicateFeature,
    DuplicateFormType,
}

/// The verification string `S` of XEP-0115 §5.1: identities sorted by category,
/// type, xml:lang and name, each `category/type/lang/name<`; features sorted, each
/// `var<`; forms sorted by FORM_TYPE, each `FORM_TYPE<` then its fields sorted by
/// var, each `var<` followed by its sorted values, each `value<`. Sorting is by
/// octets ("i;octet", RFC 4790 §9.3), which is Rust's string order.
pub fn verification_string(answer: &DiscoAnswer) -> Result<String, IllFormed> {
    let mut identities: Vec<_> = answer.identities.iter().collect();
    identities.sort();
    if repeats(&identities) {
        return Err(IllFormed::DuplicateIdentity);
    }
    let mut features: Vec<_> = answer.features.iter().collect();
    features.sort();
    if repeats(&features) {
        return Err(IllFormed::DuplicateFeature);
    }
    let mut forms: Vec<_> = answer.forms.iter().collect();
    forms.sort_by(|a, b| a.form_type.cmp(&b.form_type));
    if repeats(&forms.iter().map(|f| &f.form_type).collect::<Vec<_>>()) {
        return Err(IllFormed::DuplicateFormType);
    }
    let mut s = String::new();
    for (category, kind, lang, name) in identities {
        for part in [category, "/", kind, "/", lang, "/", name, "<"] {
            s.push_str(part);
        }
    }
    for var in features {
        s.push_str(var);
        s.push('<');
    }
    for form in forms {
        s.push_str(&form.form_type);
        s.push('<');
        let mut fields: Vec<_> = form.fields.iter().collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        for (var, values) in fields {
            s.push_str(var);
            s.push('<');
            let mut values: Vec<_> = values.iter().collect();
            values.sort();
            for value in values {
                s.push_str(value);
                s.push('<');
            }
        }
    }
    Ok(s)
}

/// Whether a sorted list holds one item twice.
fn repeats<T: PartialEq>(sorted: &[T]) -> bool {
    sorted
        .iter()
        .zip(sorted.iter().skip(1))
        .any(|(a, b)| a == b)
}

/// The hash functions of the IANA registry XEP-0115 §5.1 refers to that we compute
/// (MD2, MD5 and SHA-224 are not; the XEP requires SHA-1 and clients use it).
pub const HASHES: [&str; 4] = ["sha-1", "sha-256", "sha-384", "sha-512"];

/// `base64(hash(S))` for one of [`HASHES`].
pub fn hash(algorithm: &str, s: &str) -> Option<String> {
    let function = match algorithm {
        "sha-1" => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        "sha-256" => &ring::digest::SHA256,
        "sha-384" => &ring::digest::SHA384,
        "sha-512" => &ring::digest::SHA512,
        _ => return None,
    };
    let digest = ring::digest::digest(function, s.as_bytes());
    Some(base64::engine::general_purpose::STANDARD.encode(digest.as_ref()))
}

/// Checks an answer against the `ver` it answers: `verified:<hash>` with the
/// function that reproduces it, `mismatch`, or `ill-formed`.
pub fn verify(answer: &DiscoAnswer, ver: &str) -> String {
    match verification_string(answer) {
        Err(_) => "ill-formed".to_owned(),
        Ok(s) => HASHES
            .iter()
            .find(|a| hash(a, &s).as_deref() == Some(ver))
            .map_or_else(|| "mismatch".to_owned(), |a| format!("verified:{a}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(c: &str, t: &str, l: &str, n: &str) -> (String, String, String, String) {
        (c.into(), t.into(), l.into(), n.into())
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// XEP-0115 §5.2, the simple example (Exodus 0.9.1).
    #[test]
    fn simple_example_of_xep_0115() {
        let answer = DiscoAnswer {
            identities: vec![identity("client", "pc", "", "Exodus 0.9.1")],
            features: strings(&[
                "http://jabber.org/protocol/disco#info",
                "http://jabber.org/protocol/disco#items",
                "http://jabber.org/protocol/muc",
                "http://jabber.org/protocol/caps",
            ]),
            forms: Vec::new(),
        };
        let s = verification_string(&answer).unwrap();
        assert_eq!(
            s,
            "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<\
             http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<\
             http://jabber.org/protocol/muc<"
        );
        assert_eq!(hash("sha-1", &s).unwrap(), "QgayPKawpkPSDYmwT/WM94uAlu0=");
        assert_eq!(
            verify(&answer, "QgayPKawpkPSDYmwT/WM94uAlu0="),
            "verified:sha-1"
        );
        assert_eq!(verify(&answer, "QgayPKawpkPSDYmwT/WM94uAlu1="), "mismatch");
    }

    /// XEP-0115 §5.3, the complex example (Psi 0.11 in two languages, with a
    /// software information form).
    #[test]
    fn complex_example_of_xep_0115() {
        let answer = DiscoAnswer {
            identities: vec![
                identity("client", "pc", "en", "Psi 0.11"),
                identity("client", "pc", "el", "Ψ 0.11"),
            ],
            features: strings(&[
                "http://jabber.org/protocol/caps",
                "http://jabber.org/protocol/disco#info",
                "http://jabber.org/protocol/disco#items",
                "http://jabber.org/protocol/muc",
            ]),
            forms: vec![Form {
                form_type: "urn:xmpp:dataforms:softwareinfo".into(),
                fields: vec![
                    ("ip_version".into(), strings(&["ipv6", "ipv4"])),
                    ("os".into(), strings(&["Mac"])),
                    ("os_version".into(), strings(&["10.5.1"])),
                    ("software".into(), strings(&["Psi"])),
                    ("software_version".into(), strings(&["0.11"])),
                ],
            }],
        };
        let s = verification_string(&answer).unwrap();
        assert_eq!(
            s,
            "client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<\
             http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<\
             http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<\
             ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<\
             software_version<0.11<"
        );
        assert_eq!(
            verify(&answer, "q07IKJEyjvHSyhy//CH0CxmKi8w="),
            "verified:sha-1"
        );
    }

    #[test]
    fn duplicates_make_an_answer_ill_formed() {
        let mut answer = DiscoAnswer {
            identities: vec![identity("client", "pc", "", "X")],
            features: strings(&["a", "b", "a"]),
            forms: Vec::new(),
        };
        assert_eq!(
            verification_string(&answer),
            Err(IllFormed::DuplicateFeature)
        );
        assert_eq!(verify(&answer, "x"), "ill-formed");
        answer.features = strings(&["a"]);
        answer.identities.push(identity("client", "pc", "", "X"));
        assert_eq!(
            verification_string(&answer),
            Err(IllFormed::DuplicateIdentity)
        );
    }

    #[test]
    fn other_hash_functions_are_recognised() {
        let answer = DiscoAnswer {
            identities: vec![identity("client", "bot", "", "b")],
            features: strings(&["urn:xmpp:ping"]),
            forms: Vec::new(),
        };
        let s = verification_string(&answer).unwrap();
        let ver = hash("sha-256", &s).unwrap();
        assert_eq!(verify(&answer, &ver), "verified:sha-256");
        assert_eq!(hash("md5", &s), None);
    }
}
