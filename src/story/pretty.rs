//! Elements as a reader wants them: indented one child per line, long text and
//! base64 payloads elided with their size, secrets redacted.
//!
//! Input: an element's bytes as received; output: lines. Start tags are printed as
//! they appeared (attribute order and quotes kept); a fragment that does not parse is
//! shown as one line.

use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;

/// Longest text shown in full without `--full`.
const MAX_TEXT: usize = 72;
/// Longest single line for an unparsable fragment.
const MAX_RAW: usize = 200;

/// What to show of element content.
#[derive(Debug, Clone, Copy, Default)]
pub struct Show {
    /// Long text and base64 payloads in full.
    pub full: bool,
    /// Credentials in SASL, dialback keys, component digests, passwords.
    pub secrets: bool,
}

/// Elements whose text is a credential (RFC 6120 §6.4.2–6.4.3 SASL data, XEP-0388
/// §2.3 SASL2 initial responses, XEP-0220 keys, XEP-0114 digests, XEP-0078 passwords
/// and digests, XEP-0077 passwords).
fn is_secret(qname: &str) -> bool {
    let local = qname.rsplit(':').next().unwrap_or(qname);
    matches!(
        local,
        "auth" | "response" | "initial-response" | "handshake" | "password" | "digest"
    ) || qname == "db:result"
        || qname == "db:verify"
}

/// Attributes whose value is a credential: the token a server hands out for fast
/// reconnection (XEP-0484 §3, `<token token=…/>`).
fn is_secret_attribute(element: &str, attribute: &str) -> bool {
    element.rsplit(':').next() == Some("token") && attribute == "token"
}

/// Elements whose text is base64 (RFC 6120 §6.4, XEP-0388 §2).
fn is_base64(qname: &str) -> bool {
    matches!(
        qname,
        "challenge" | "success" | "auth" | "response" | "initial-response" | "additional-data"
    )
}

/// A start tag as received, or rebuilt with secret attribute values redacted.
fn shown_tag(tag: &quick_xml::events::BytesStart<'_>, show: Show) -> String {
    let raw = tag[..].trim_end();
    let name = tag.name().into_inner();
    let secret = |key: &str| !show.secrets && is_secret_attribute(name, key);
    let attributes: Vec<_> = tag.attributes().with_checks(false).flatten().collect();
    if !attributes.iter().any(|a| secret(a.key.into_inner())) {
        return raw.to_owned();
    }
    let mut out = name.to_owned();
    for a in attributes {
        let key = a.key.into_inner();
        if secret(key) {
            out.push_str(&format!(" {key}='[redacted, {} bytes]'", a.value.len()));
        } else {
            out.push_str(&format!(" {key}='{}'", &a.value[..]));
        }
    }
    out
}

/// An unparsable fragment as one line, unless it may hold a credential.
fn raw_line(xml: &str, show: Show) -> String {
    let names = xml.split('<').skip(1).map(|tag| {
        let end = tag
            .find(|c: char| c.is_whitespace() || matches!(c, '>' | '/'))
            .unwrap_or(tag.len());
        tag.get(..end).unwrap_or_default()
    });
    let mut names = names;
    if !show.secrets && names.any(|n| is_secret(n) || n.rsplit(':').next() == Some("token")) {
        let first = xml
            .get(1..)
            .and_then(|t| t.split(|c: char| c.is_whitespace() || c == '>').next())
            .unwrap_or_default();
        return format!("<{first} …>[unparsed, redacted, {} bytes]", xml.len());
    }
    one_line(xml)
}

/// The element as indented lines.
pub fn lines(xml: &str, show: Show) -> Vec<String> {
    let trimmed = xml.trim();
    if trimmed.starts_with("</") || trimmed.starts_with("<stream:stream") || is_open_tag(trimmed) {
        return vec![one_line(trimmed)];
    }
    match parse(trimmed, show) {
        Some(lines) => lines,
        None => vec![raw_line(trimmed, show)],
    }
}

/// A stream header or other start tag that is never closed in this fragment.
fn is_open_tag(xml: &str) -> bool {
    let name_end = xml
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(xml.len());
    let name = xml.get(1..name_end).unwrap_or_default();
    crate::xml::is_stream_name(name.as_bytes())
}

fn one_line(xml: &str) -> String {
    let flat: String = xml
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > MAX_RAW {
        let head: String = flat.chars().take(MAX_RAW).collect();
        format!("{head}… [{} bytes]", xml.len())
    } else {
        flat
    }
}

struct Open {
    /// The start tag as received.
    tag: String,
    qname: String,
    /// Text seen directly inside, before any child.
    text: String,
    has_children: bool,
    line: usize,
}

fn parse(xml: &str, show: Show) -> Option<Vec<String>> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = false;
    let mut out: Vec<String> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    loop {
        match reader.read_event().ok()? {
            XmlEvent::Start(e) => {
                if let Some(parent) = stack.last_mut() {
                    flush_text(parent, &mut out, show);
                    parent.has_children = true;
                }
                let tag = format!("<{}>", shown_tag(&e, show));
                let qname = e.name().into_inner().to_owned();
                out.push(format!("{}{tag}", indent(stack.len())));
                stack.push(Open {
                    tag,
                    qname,
                    text: String::new(),
                    has_children: false,
                    line: out.len() - 1,
                });
            }
            XmlEvent::Empty(e) => {
                if let Some(parent) = stack.last_mut() {
                    flush_text(parent, &mut out, show);
                    parent.has_children = true;
                }
                out.push(format!("{}<{}/>", indent(stack.len()), shown_tag(&e, show)));
            }
            XmlEvent::Text(t) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&t[..]);
                }
            }
            XmlEvent::GeneralRef(r) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push('&');
                    open.text.push_str(&r[..]);
                    open.text.push(';');
                }
            }
            XmlEvent::CData(c) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&c[..]);
                }
            }
            XmlEvent::End(e) => {
                let open = stack.pop()?;
                let close = format!("</{}>", e.name().into_inner());
                let text = shown_text(&open.qname, open.text.trim(), show);
                if !open.has_children {
                    // `<body>text</body>` on one line.
                    let line = out.get_mut(open.line)?;
                    *line = format!("{}{}{text}{close}", indent(stack.len()), open.tag);
                } else {
                    if !text.is_empty() {
                        out.push(format!("{}{text}", indent(stack.len() + 1)));
                    }
                    out.push(format!("{}{close}", indent(stack.len())));
                }
                if stack.is_empty() {
                    return Some(out);
                }
            }
            XmlEvent::Eof => {
                return if stack.is_empty() && !out.is_empty() {
                    Some(out)
                } else {
                    None
                }
            }
            _ => {}
        }
    }
}

/// Text before a child element is printed on its own line.
fn flush_text(open: &mut Open, out: &mut Vec<String>, show: Show) {
    let text = std::mem::take(&mut open.text);
    let text = text.trim();
    if !text.is_empty() {
        let depth = out
            .get(open.line)
            .map(|l| l.len() - l.trim_start().len())
            .unwrap_or(0);
        out.push(format!(
            "{}{}",
            " ".repeat(depth + 2),
            shown_text(&open.qname, text, show)
        ));
    }
}

/// Text as shown: secrets redacted, base64 and long text elided with their size.
fn shown_text(qname: &str, text: &str, show: Show) -> String {
    if text.is_empty() || text == "=" {
        return text.to_string();
    }
    if is_secret(qname) && !show.secrets {
        return format!("[redacted, {} bytes]", text.len());
    }
    if show.full {
        return text.to_string();
    }
    let local = qname.rsplit(':').next().unwrap_or(qname);
    if is_base64(local) && text.len() > 16 {
        return format!("[base64, {} bytes]", text.len());
    }
    if text.chars().count() > MAX_TEXT {
        let head: String = text.chars().take(MAX_TEXT - 12).collect();
        return format!("{head}… [{} bytes]", text.len());
    }
    text.replace(['\n', '\r', '\t'], " ")
}

fn indent(depth: usize) -> String {
    "  ".repeat(depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_elements_are_indented_and_short_text_inline() {
        let xml = "<message to='romeo@example.net' type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>";
        assert_eq!(
            lines(xml, Show::default()),
            [
                "<message to='romeo@example.net' type='chat'>",
                "  <body>hi</body>",
                "  <active xmlns='http://jabber.org/protocol/chatstates'/>",
                "</message>",
            ]
        );
    }

    #[test]
    fn sasl2_credentials_and_fast_tokens_are_redacted() {
        let auth = "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>AGp1bGlldABzZWNyZXQ=</initial-response><user-agent id='x'><software>t</software></user-agent></authenticate>";
        let shown = lines(auth, Show::default()).join("\n");
        assert!(shown.contains("<initial-response>[redacted, 20 bytes]</initial-response>"));
        assert!(!shown.contains("AGp1bGlldABzZWNyZXQ="), "{shown}");
        assert!(shown.contains("<software>t</software>"));
        let success = "<success xmlns='urn:xmpp:sasl:2'><authorization-identifier>juliet@localhost/x</authorization-identifier><token xmlns='urn:xmpp:fast:0' expiry='2026-12-01T00:00:00Z' token='s3cr3t-t0ken'/></success>";
        let shown = lines(success, Show::default()).join("\n");
        assert!(!shown.contains("s3cr3t-t0ken"), "{shown}");
        assert!(shown.contains("token='[redacted, 12 bytes]'"), "{shown}");
        assert!(shown.contains("expiry='2026-12-01T00:00:00Z'"), "{shown}");
        let secrets = Show {
            secrets: true,
            ..Show::default()
        };
        assert!(lines(success, secrets)
            .join("\n")
            .contains("token='s3cr3t-t0ken'"));
        assert!(lines(auth, secrets)
            .join("\n")
            .contains("[base64, 20 bytes]"));
    }

    #[test]
    fn an_unparsable_fragment_with_a_credential_is_not_shown_raw() {
        let broken = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABzZWNyZXQ=</wrong>";
        let shown = lines(broken, Show::default()).join("\n");
        assert!(!shown.contains("AGp1bGlldABzZWNyZXQ="), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
        let other = "<message><body>hi</wrong>";
        assert_eq!(lines(other, Show::default()), [other]);
    }

    #[test]
    fn credentials_are_redacted_and_long_text_elided() {
        let auth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABzZWNyZXQ=</auth>";
        assert_eq!(
            lines(auth, Show::default()),
            ["<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>[redacted, 20 bytes]</auth>"]
        );
        let secrets = Show {
            secrets: true,
            ..Show::default()
        };
        assert!(lines(auth, secrets)[0].contains("[base64, 20 bytes]"));
        let long = format!("<message><body>{}</body></message>", "x".repeat(500));
        assert!(lines(&long, Show::default())[1].ends_with("… [500 bytes]</body>"));
        let full = Show {
            full: true,
            ..Show::default()
        };
        assert!(lines(&long, full)[1].contains(&"x".repeat(500)));
    }

    #[test]
    fn stream_headers_and_broken_fragments_are_one_line() {
        let header = "<stream:stream xmlns='jabber:client' to='example.org'>";
        assert_eq!(lines(header, Show::default()), [header]);
        assert_eq!(lines("<a><b></a", Show::default()).len(), 1);
    }
}
