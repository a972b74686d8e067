//! Parses one complete top-level element (or a stream header start tag) into a small
//! tree with namespaces resolved.
//!
//! Input: the element's bytes and the namespace scope inherited from the stream header
//! (a stanza does not repeat `xmlns:stream` or the default namespace); output: a
//! [`Tree`] of [`Element`]s, or an [`ElementError`]. quick-xml tokenizes; we resolve
//! prefixes ourselves because the declarations live on the unclosed stream header.
//! Bounds: the input is already limited by the stanza size; attributes per element are
//! limited here.

use super::ns;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::borrow::Cow;

/// Prefix → namespace bindings in scope, innermost last. The empty prefix is the
/// default namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NsScope {
    bindings: Vec<(String, String)>,
}

impl NsScope {
    pub fn bind(&mut self, prefix: &str, uri: &str) {
        self.bindings.push((prefix.to_owned(), uri.to_owned()));
    }

    pub fn resolve(&self, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(ns::XML);
        }
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| uri.as_str())
            .filter(|uri| !uri.is_empty())
    }

    /// The default namespace (`xmlns='…'`).
    pub fn default_ns(&self) -> Option<&str> {
        self.resolve("")
    }

    /// True when `prefix` is bound to `uri` (used to spot `xmlns:db`).
    pub fn declares(&self, uri: &str) -> bool {
        self.bindings.iter().any(|(_, u)| u == uri)
    }
}

/// The stream header's bindings (borrowed, never copied per stanza) with the
/// declarations made inside the element being parsed on top.
struct Scope<'s> {
    base: &'s NsScope,
    local: Vec<(String, String)>,
}

impl Scope<'_> {
    fn resolve(&self, prefix: &str) -> Option<&str> {
        match self.local.iter().rev().find(|(p, _)| p == prefix) {
            Some((_, uri)) => Some(uri.as_str()).filter(|uri| !uri.is_empty()),
            None => self.base.resolve(prefix),
        }
    }

    fn bind(&mut self, prefix: &str, uri: &str) {
        self.local.push((prefix.to_owned(), uri.to_owned()));
    }
}

/// One element: resolved name, attributes as written, text, children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Well-known namespaces are shared, not copied per element.
    pub ns: Option<Cow<'static, str>>,
    pub name: String,
    /// Attributes other than namespace declarations, qualified name as written.
    pub attrs: Vec<(String, String)>,
    /// Concatenated character data directly inside this element.
    pub text: String,
    pub children: Vec<usize>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }
}

/// A parsed element and its descendants; node 0 is the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    pub nodes: Vec<Element>,
}

impl Tree {
    pub fn root(&self) -> Option<&Element> {
        self.nodes.first()
    }

    pub fn children<'a>(&'a self, el: &'a Element) -> impl Iterator<Item = &'a Element> + 'a {
        el.children.iter().filter_map(|&i| self.nodes.get(i))
    }

    pub fn child<'a>(&'a self, el: &'a Element, ns: &str, name: &str) -> Option<&'a Element> {
        self.children(el).find(|c| c.is(ns, name))
    }

    /// Text of the named child, if present.
    pub fn child_text<'a>(&'a self, el: &'a Element, ns: &str, name: &str) -> Option<&'a str> {
        self.child(el, ns, name).map(|c| c.text.as_str())
    }
}

/// Why an element could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElementError {
    #[error("invalid UTF-8 at byte {0}")]
    Utf8(usize),
    #[error("not well-formed: {0}")]
    Syntax(String),
    #[error("undeclared namespace prefix '{0}'")]
    UnboundPrefix(String),
    #[error("more than {0} attributes on one element")]
    TooManyAttributes(usize),
    #[error("undefined entity '&{0};' (RFC 6120 §11.1 allows only the predefined five)")]
    UndefinedEntity(String),
    #[error("comment, processing instruction or DTD (RFC 6120 §11.1)")]
    Restricted,
}

/// Parses a complete element. `scope` holds the bindings of the stream header.
pub fn parse_element(
    bytes: &[u8],
    scope: &NsScope,
    max_attrs: usize,
) -> Result<Tree, ElementError> {
    std::str::from_utf8(bytes).map_err(|e| ElementError::Utf8(e.valid_up_to()))?;
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut scope = Scope {
        base: scope,
        local: Vec::new(),
    };
    let mut tree = Tree::default();
    // Open elements: (node index, scope length before its declarations).
    let mut open: Vec<(usize, usize)> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| ElementError::Syntax(e.to_string()))?;
        match event {
            Event::Start(start) => {
                open_element(&start, false, &mut tree, &mut open, &mut scope, max_attrs)?
            }
            Event::Empty(start) => {
                open_element(&start, true, &mut tree, &mut open, &mut scope, max_attrs)?
            }
            Event::End(_) => {
                if let Some((_, mark)) = open.pop() {
                    scope.local.truncate(mark);
                }
            }
            Event::Text(text) => push_text(&mut tree, &open, &text.xml10_content()),
            Event::CData(cdata) => {
                let raw: String = cdata[..].to_owned();
                push_text(&mut tree, &open, &raw);
            }
            Event::GeneralRef(reference) => {
                let text = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => predefined_entity(&reference)?.to_owned(),
                    Err(e) => return Err(ElementError::Syntax(e.to_string())),
                };
                push_text(&mut tree, &open, &text);
            }
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) | Event::Decl(_) => {
                return Err(ElementError::Restricted)
            }
            Event::Eof => break,
        }
    }
    if !open.is_empty() || tree.nodes.is_empty() {
        return Err(ElementError::Syntax("element not closed".into()));
    }
    Ok(tree)
}

/// Parses a start tag on its own (the stream header, which never closes): its element
/// and the scope it declares, for resolving the stanzas that follow.
/// Prefixes the tag does not declare are resolved in `fallback` (the previous stream
/// header, for a restart); the returned scope holds only the tag's own declarations.
pub fn parse_start_tag(
    bytes: &[u8],
    fallback: &NsScope,
    max_attrs: usize,
) -> Result<(Element, NsScope), ElementError> {
    std::str::from_utf8(bytes).map_err(|e| ElementError::Utf8(e.valid_up_to()))?;
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = false;
    loop {
        match reader
            .read_event()
            .map_err(|e| ElementError::Syntax(e.to_string()))?
        {
            Event::Start(start) | Event::Empty(start) => {
                let mut scope = Scope {
                    base: fallback,
                    local: Vec::new(),
                };
                let el = element_from(&start, &mut scope, max_attrs)?;
                let own = NsScope {
                    bindings: scope.local,
                };
                return Ok((el, own));
            }
            Event::Eof => return Err(ElementError::Syntax("no start tag".into())),
            _ => {}
        }
    }
}

/// Adds a start tag to the tree; a second root is an error (one element per frame).
fn open_element(
    start: &BytesStart<'_>,
    is_empty: bool,
    tree: &mut Tree,
    open: &mut Vec<(usize, usize)>,
    scope: &mut Scope<'_>,
    max_attrs: usize,
) -> Result<(), ElementError> {
    if !tree.nodes.is_empty() && open.is_empty() {
        return Err(ElementError::Syntax("content after the element".into()));
    }
    let mark = scope.local.len();
    let el = element_from(start, scope, max_attrs)?;
    let index = tree.nodes.len();
    if let Some(parent) = open.last().and_then(|&(p, _)| tree.nodes.get_mut(p)) {
        parent.children.push(index);
    }
    tree.nodes.push(el);
    if is_empty {
        scope.local.truncate(mark);
    } else {
        open.push((index, mark));
    }
    Ok(())
}

fn element_from(
    start: &BytesStart<'_>,
    scope: &mut Scope<'_>,
    max_attrs: usize,
) -> Result<Element, ElementError> {
    let mut attrs = Vec::new();
    for (count, attr) in start.attributes().with_checks(true).enumerate() {
        if count >= max_attrs {
            return Err(ElementError::TooManyAttributes(max_attrs));
        }
        let attr = attr.map_err(|e| ElementError::Syntax(e.to_string()))?;
        let key: &str = attr.key.into_inner();
        let value =
            attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| match e {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                    ) => ElementError::UndefinedEntity(name),
                    other => ElementError::Syntax(other.to_string()),
                })?;
        if key == "xmlns" {
            scope.bind("", &value);
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            scope.bind(prefix, &value);
        } else {
            attrs.push((key.to_owned(), value.into_owned()));
        }
    }
    let qname: String = start.name().into_inner().to_owned();
    let (prefix, local) = match qname.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("", qname.as_str()),
    };
    let ns = scope.resolve(prefix).map(ns::shared);
    if ns.is_none() && !prefix.is_empty() {
        return Err(ElementError::UnboundPrefix(prefix.to_owned()));
    }
    Ok(Element {
        ns,
        name: local.to_owned(),
        attrs,
        text: String::new(),
        children: Vec::new(),
    })
}

fn predefined_entity(
    reference: &quick_xml::events::BytesRef<'_>,
) -> Result<&'static str, ElementError> {
    let name: &str = &reference[..];
    match name {
        "amp" => Ok("&"),
        "lt" => Ok("<"),
        "gt" => Ok(">"),
        "quot" => Ok("\""),
        "apos" => Ok("'"),
        other => Err(ElementError::UndefinedEntity(other.to_owned())),
    }
}

fn push_text(tree: &mut Tree, open: &[(usize, usize)], text: &str) {
    if let Some(el) = open.last().and_then(|&(i, _)| tree.nodes.get_mut(i)) {
        el.text.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_scope() -> NsScope {
        let mut scope = NsScope::default();
        scope.bind("", ns::CLIENT);
        scope.bind("stream", ns::STREAMS);
        scope
    }

    #[test]
    fn resolves_inherited_and_local_namespaces() {
        let tree = parse_element(
            b"<message to='a@b' type='chat'><body>hi &amp; &#x263A;</body><x:y xmlns:x='urn:x'/></message>",
            &client_scope(),
            16,
        )
        .unwrap();
        let root = tree.root().unwrap();
        assert!(root.is(ns::CLIENT, "message"));
        assert_eq!(root.attr("type"), Some("chat"));
        assert_eq!(
            tree.child_text(root, ns::CLIENT, "body"),
            Some("hi & \u{263A}")
        );
        assert!(tree.child(root, "urn:x", "y").is_some());
    }

    #[test]
    fn stream_prefix_comes_from_the_header() {
        let tree = parse_element(
            b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
            &client_scope(),
            16,
        )
        .unwrap();
        let root = tree.root().unwrap();
        assert!(root.is(ns::STREAMS, "features"));
        assert!(tree.child(root, ns::BIND, "bind").is_some());
        // The same element with another prefix bound to the same namespace matches too.
        let tree = parse_element(
            b"<s:features xmlns:s='http://etherx.jabber.org/streams'/>",
            &NsScope::default(),
            16,
        )
        .unwrap();
        assert!(tree.root().unwrap().is(ns::STREAMS, "features"));
    }

    #[test]
    fn rejects_what_rfc6120_forbids() {
        let scope = client_scope();
        assert_eq!(
            parse_element(b"<a>&foo;</a>", &scope, 16),
            Err(ElementError::UndefinedEntity("foo".into()))
        );
        assert_eq!(
            parse_element(b"<a><!-- c --></a>", &scope, 16),
            Err(ElementError::Restricted)
        );
        assert!(matches!(
            parse_element(b"<a>\xff</a>", &scope, 16),
            Err(ElementError::Utf8(3))
        ));
        assert!(matches!(
            parse_element(b"<a></b>", &scope, 16),
            Err(ElementError::Syntax(_))
        ));
        assert!(matches!(
            parse_element(b"<p:a/>", &scope, 16),
            Err(ElementError::UnboundPrefix(_))
        ));
        assert_eq!(
            parse_element(b"<a x='1' y='2' z='3'/>", &scope, 2),
            Err(ElementError::TooManyAttributes(2))
        );
    }

    #[test]
    fn start_tag_declares_scope() {
        let (el, scope) = parse_start_tag(
            b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='example.org' version='1.0'>",
            &NsScope::default(),
            16,
        )
        .unwrap();
        assert!(el.is(ns::STREAMS, "stream"));
        assert_eq!(el.attr("to"), Some("example.org"));
        assert_eq!(scope.default_ns(), Some(ns::SERVER));
        assert!(scope.declares(ns::DIALBACK));
    }
}
