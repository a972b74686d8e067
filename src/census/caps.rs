//! The entity capabilities verification string (XEP-0115 §5): recomputed from a
//! disco#info answer and compared with the `ver` a presence announced, so a census
//! can say a client is what its caps claim.
//!
//! Input: the identities, features and extended-information forms of one answer;
//! output: the string `S` of §5.1 (or why it cannot be built, §5.4) and its hash
//! under every function XEP-0115 §5.1 lets `hash` name that we can compute. The
//! same answer also gives the hash input of Entity Capabilities 2.0 (XEP-0390 §4.1),
//! checked against the hash its node `urn:xmpp:caps#algo.value` names (§4.3).

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
    /// A child other than an identity, a feature or a form with a hidden FORM_TYPE
    /// (XEP-0115 §5.4 ignores it; XEP-0390 §4.1 steps 1 and 3 refuse the answer).
    pub foreign: bool,
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

/// The separators of XEP-0390 §4.1: unit (after every string), record (after an
/// identity, a field), group (after a form) and file (after each section).
const UNIT: u8 = 0x1f;
const RECORD: u8 = 0x1e;
const GROUP: u8 = 0x1d;
const FILE: u8 = 0x1c;

/// The hash function input of XEP-0390 §4.1: the features string, the identities
/// string and the extensions string, each of octet strings sorted by octets and
/// closed by the file separator; `None` when §4.1 aborts (a foreign child). The
/// `xml:lang` of an identity is its own attribute only (one inherited from the
/// query or the iq is not seen here).
pub fn caps2_input(answer: &DiscoAnswer) -> Option<Vec<u8>> {
    if answer.foreign {
        return None;
    }
    let unit = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        v.push(UNIT);
        v
    };
    let sorted_joined = |mut parts: Vec<Vec<u8>>| {
        parts.sort();
        parts.concat()
    };
    let mut out = sorted_joined(answer.features.iter().map(|f| unit(f)).collect());
    out.push(FILE);
    let identities = answer
        .identities
        .iter()
        .map(|(category, kind, lang, name)| {
            let mut v = [category, kind, lang, name].map(|s| unit(s)).concat();
            v.push(RECORD);
            v
        })
        .collect();
    out.extend(sorted_joined(identities));
    out.push(FILE);
    let forms = answer
        .forms
        .iter()
        .map(|form| {
            let form_type = ("FORM_TYPE".to_owned(), vec![form.form_type.clone()]);
            let fields = std::iter::once(&form_type)
                .chain(&form.fields)
                .map(|(var, values)| {
                    let mut v = unit(var);
                    v.extend(sorted_joined(values.iter().map(|x| unit(x)).collect()));
                    v.push(RECORD);
                    v
                })
                .collect();
            let mut v = sorted_joined(fields);
            v.push(GROUP);
            v
        })
        .collect();
    out.extend(sorted_joined(forms));
    out.push(FILE);
    Some(out)
}

/// Checks an answer to a query on the XEP-0390 node `urn:xmpp:caps#algo.value`
/// (`name`: the part after `#`; §4.3 splits it at its last `.`): `verified:<algo>`,
/// `mismatch`, `ill-formed` (§4.1 aborts, or no `.`), or `unverified:<algo>` for a
/// function we do not compute (SHA-3, BLAKE2).
pub fn verify2(answer: &DiscoAnswer, name: &str) -> String {
    let Some((algorithm, value)) = name.rsplit_once('.') else {
        return "ill-formed".to_owned();
    };
    let function = match algorithm {
        "sha-256" => &ring::digest::SHA256,
        "sha-384" => &ring::digest::SHA384,
        "sha-512" => &ring::digest::SHA512,
        _ => return format!("unverified:{algorithm}"),
    };
    let Some(input) = caps2_input(answer) else {
        return "ill-formed".to_owned();
    };
    let digest = ring::digest::digest(function, &input);
    if base64::engine::general_purpose::STANDARD.encode(digest.as_ref()) == value {
        format!("verified:{algorithm}")
    } else {
        "mismatch".to_owned()
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
            ..DiscoAnswer::default()
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
            foreign: false,
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
            ..DiscoAnswer::default()
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
            ..DiscoAnswer::default()
        };
        let s = verification_string(&answer).unwrap();
        let ver = hash("sha-256", &s).unwrap();
        assert_eq!(verify(&answer, &ver), "verified:sha-256");
        assert_eq!(hash("md5", &s), None);
    }

    /// XEP-0390 §4.5.1, the simple example (BombusMod): the hash input ends with
    /// the identities string and an empty extensions string.
    #[test]
    fn simple_example_of_xep_0390() {
        let answer = DiscoAnswer {
            identities: vec![identity("client", "mobile", "", "BombusMod")],
            features: strings(&[
                "http://jabber.org/protocol/si",
                "http://jabber.org/protocol/bytestreams",
                "http://jabber.org/protocol/chatstates",
                "http://jabber.org/protocol/disco#info",
                "http://jabber.org/protocol/disco#items",
                "urn:xmpp:ping",
                "jabber:iq:time",
                "jabber:iq:privacy",
                "jabber:iq:version",
                "http://jabber.org/protocol/rosterx",
                "urn:xmpp:time",
                "jabber:x:oob",
                "http://jabber.org/protocol/ibb",
                "http://jabber.org/protocol/si/profile/file-transfer",
                "urn:xmpp:receipts",
                "jabber:iq:roster",
                "jabber:iq:last",
            ]),
            ..DiscoAnswer::default()
        };
        let input = caps2_input(&answer).unwrap();
        assert_eq!(input.len(), 0x1d9);
        assert!(input
            .ends_with(b"urn:xmpp:time\x1f\x1cclient\x1fmobile\x1f\x1fBombusMod\x1f\x1e\x1c\x1c"));
        let ver = "kzBZbkqJ3ADrj7v08reD1qcWUwNGHaidNUgD7nHpiw8=";
        assert_eq!(
            verify2(&answer, &format!("sha-256.{ver}")),
            "verified:sha-256"
        );
        assert_eq!(verify2(&answer, "sha-256.AAAA"), "mismatch");
        assert_eq!(
            verify2(
                &answer,
                "sha3-256.79mdYAfU9rEdTOcWDO7UEAt6E56SUzk/g6TnqUeuD9Q="
            ),
            "unverified:sha3-256"
        );
        let foreign = DiscoAnswer {
            foreign: true,
            ..answer
        };
        assert_eq!(verify2(&foreign, &format!("sha-256.{ver}")), "ill-formed");
    }

    /// XEP-0390 §4.5.2, the complex example (Tkabber in two languages, with a
    /// software information form whose FORM_TYPE sorts among its fields).
    #[test]
    fn complex_example_of_xep_0390() {
        let answer = DiscoAnswer {
            identities: vec![
                identity("client", "pc", "en", "Tkabber"),
                identity("client", "pc", "ru", "Ткаббер"),
            ],
            features: strings(&[
                "games:board",
                "http://jabber.org/protocol/activity",
                "http://jabber.org/protocol/activity+notify",
                "http://jabber.org/protocol/bytestreams",
                "http://jabber.org/protocol/chatstates",
                "http://jabber.org/protocol/commands",
                "http://jabber.org/protocol/disco#info",
                "http://jabber.org/protocol/disco#items",
                "http://jabber.org/protocol/evil",
                "http://jabber.org/protocol/feature-neg",
                "http://jabber.org/protocol/geoloc",
                "http://jabber.org/protocol/geoloc+notify",
                "http://jabber.org/protocol/ibb",
                "http://jabber.org/protocol/iqibb",
                "http://jabber.org/protocol/mood",
                "http://jabber.org/protocol/mood+notify",
                "http://jabber.org/protocol/rosterx",
                "http://jabber.org/protocol/si",
                "http://jabber.org/protocol/si/profile/file-transfer",
                "http://jabber.org/protocol/tune",
                "http://www.facebook.com/xmpp/messages",
                "http://www.xmpp.org/extensions/xep-0084.html#ns-metadata+notify",
                "jabber:iq:avatar",
                "jabber:iq:browse",
                "jabber:iq:dtcp",
                "jabber:iq:filexfer",
                "jabber:iq:ibb",
                "jabber:iq:inband",
                "jabber:iq:jidlink",
                "jabber:iq:last",
                "jabber:iq:oob",
                "jabber:iq:privacy",
                "jabber:iq:roster",
                "jabber:iq:time",
                "jabber:iq:version",
                "jabber:x:data",
                "jabber:x:event",
                "jabber:x:oob",
                "urn:xmpp:avatar:metadata+notify",
                "urn:xmpp:ping",
                "urn:xmpp:receipts",
                "urn:xmpp:time",
            ]),
            forms: vec![Form {
                form_type: "urn:xmpp:dataforms:softwareinfo".into(),
                fields: vec![
                    ("software".into(), strings(&["Tkabber"])),
                    (
                        "software_version".into(),
                        strings(&["0.11.1-svn-20111216-mod (Tcl/Tk 8.6b2)"]),
                    ),
                    ("os".into(), strings(&["Windows"])),
                    ("os_version".into(), strings(&["XP"])),
                ],
            }],
            foreign: false,
        };
        let input = caps2_input(&answer).unwrap();
        assert_eq!(input.len(), 0x543);
        assert!(input.ends_with(b"8.6b2)\x1f\x1e\x1d\x1c"));
        assert_eq!(
            verify2(
                &answer,
                "sha-256.u79ZroNJbdSWhdSp311mddz44oHHPsEBntQ5b1jqBSY="
            ),
            "verified:sha-256"
        );
    }
}
