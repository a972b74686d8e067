//! Parses one complete top-level element (or a stream header start tag) into a small
//! tree with namespaces resolved, borrowing from the element's bytes.
//!
//! Input: the element's bytes and the namespace scope inherited from the stream header
//! (a stanza does not repeat `xmlns:stream` or the default namespace); output: a
//! [`Tree`] whose names, attribute values and text borrow the input (copied only where
//! an entity or a line end had to be replaced), or an [`ElementError`].
//!
//! Our own scanner, not a general XML library: the framer has already found where the
//! element ends, so this is one forward pass with `memchr` between tags, no per-element
//! allocation, and a well-formedness check of what XMPP allows (RFC 6120 §11: XML 1.0
//! without comments, processing instructions, DTDs or entities other than the five
//! predefined ones and character references). Bounds: the input is already limited by
//! the stanza size; attributes per element are limited here; depth by the framer.

use super::{blocks, class, ns};
use std::borrow::Cow;

/// How the parser finds the next byte of a class: 16 bytes at a time ([`blocks`],
/// the default) or one byte at a time ([`class`], the reference the block scan is
/// proven equal to, kept for the differential tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScanMode {
    #[default]
    Blocks,
    Bytes,
}

/// The scans the parser walks by: the first position from `at` outside (`skip`) or
/// inside (`find`) `classes`, or the length.
trait Scan {
    fn skip(&mut self, bytes: &[u8], at: usize, classes: u8) -> usize;
    fn find(&mut self, bytes: &[u8], at: usize, classes: u8) -> usize;
}

/// One byte at a time: table lookups, `memchr` for `<`, eight bytes at a time inside
/// attribute values (each proven equal to the table's plain scan in `class`).
struct ByteScan;

impl Scan for ByteScan {
    #[inline]
    fn skip(&mut self, bytes: &[u8], at: usize, classes: u8) -> usize {
        class::skip_while(bytes, at, classes)
    }

    #[inline]
    fn find(&mut self, bytes: &[u8], at: usize, classes: u8) -> usize {
        match classes {
            class::LT => bytes
                .get(at..)
                .and_then(|rest| memchr::memchr(b'<', rest))
                .map_or(bytes.len().max(at), |i| at + i),
            class::STOP_IN_APOS | class::STOP_IN_QUOT => class::find_value_stop(bytes, at, classes),
            _ => class::find(bytes, at, classes),
        }
    }
}

/// 16 bytes at a time ([`blocks`]) where runs are long — attribute values, character
/// data, the way to the next `<` — and byte by byte over names and white space, which
/// are mostly shorter than a vector: classifying 16 bytes for a 4-byte name cost more
/// than the byte loop (measured: 5 % more time for the event listing,
/// docs/performance.md).
struct BlockScan;

impl Scan for BlockScan {
    #[inline(always)]
    fn skip(&mut self, bytes: &[u8], at: usize, classes: u8) -> usize {
        class::skip_while(bytes, at, classes)
    }

    #[inline(always)]
    fn find(&mut self, bytes: &[u8], at: usize, classes: u8) -> usize {
        blocks::find(bytes, at, classes)
    }
}

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
            .find(|(p, _)| same(p, prefix))
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

/// One attribute other than a namespace declaration: qualified name as written, value
/// with entities replaced and white space normalised (XML 1.0 §3.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr<'a> {
    pub name: &'a str,
    pub value: Cow<'a, str>,
}

/// One element as stored: nodes are in document order, so the children of node `i`
/// are `i + 1` and then each next sibling at the previous child's `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node<'a> {
    ns: Option<Cow<'a, str>>,
    /// Local name.
    name: &'a str,
    /// This element's attributes: `Tree::attrs[attrs.0..attrs.1]`.
    attrs: (usize, usize),
    /// Concatenated character data directly inside this element.
    text: Cow<'a, str>,
    /// Index after this element's last descendant.
    end: usize,
}

/// A parsed element and its descendants; node 0 is the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree<'a> {
    nodes: Vec<Node<'a>>,
    attrs: Vec<Attr<'a>>,
}

impl<'a> Tree<'a> {
    pub fn root(&self) -> Option<Element<'_>> {
        (!self.nodes.is_empty()).then_some(Element {
            tree: self,
            index: 0,
        })
    }

    /// Number of elements, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// A handle on one element of a [`Tree`].
#[derive(Debug, Clone, Copy)]
pub struct Element<'t> {
    tree: &'t Tree<'t>,
    index: usize,
}

impl<'t> Element<'t> {
    fn node(&self) -> Option<&'t Node<'t>> {
        self.tree.nodes.get(self.index)
    }

    /// The resolved namespace, if any.
    pub fn ns(&self) -> Option<&'t str> {
        self.node().and_then(|n| n.ns.as_deref())
    }

    /// The local name.
    pub fn name(&self) -> &'t str {
        self.node().map_or("", |n| n.name)
    }

    /// Attributes other than namespace declarations, in document order.
    pub fn attrs(&self) -> &'t [Attr<'t>] {
        self.node()
            .and_then(|n| self.tree.attrs.get(n.attrs.0..n.attrs.1))
            .unwrap_or_default()
    }

    pub fn attr(&self, name: &str) -> Option<&'t str> {
        self.attrs()
            .iter()
            .find(|a| same(a.name, name))
            .map(|a| a.value.as_ref())
    }

    /// Character data directly inside this element.
    pub fn text(&self) -> &'t str {
        self.node().map_or("", |n| n.text.as_ref())
    }

    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name() == name && self.ns() == Some(ns)
    }

    pub fn children(&self) -> Children<'t> {
        let end = self.node().map_or(0, |n| n.end);
        Children {
            tree: self.tree,
            next: self.index + 1,
            end,
        }
    }

    pub fn child(&self, ns: &str, name: &str) -> Option<Element<'t>> {
        self.children().find(|c| c.is(ns, name))
    }

    /// Text of the named child, if present.
    pub fn child_text(&self, ns: &str, name: &str) -> Option<&'t str> {
        self.child(ns, name).map(|c| c.text())
    }
}

/// The direct children of an element, in document order.
#[derive(Debug, Clone)]
pub struct Children<'t> {
    tree: &'t Tree<'t>,
    next: usize,
    end: usize,
}

impl<'t> Iterator for Children<'t> {
    type Item = Element<'t>;

    fn next(&mut self) -> Option<Element<'t>> {
        if self.next >= self.end {
            return None;
        }
        let node = self.tree.nodes.get(self.next)?;
        let child = Element {
            tree: self.tree,
            index: self.next,
        };
        // `end` always lies past the node itself, so this moves forward.
        self.next = node.end.max(self.next + 1);
        Some(child)
    }
}

/// Why an element could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElementError {
    #[error("invalid UTF-8 at byte {0}")]
    Utf8(usize),
    /// Static text where it can be: a failed attempt on an element cut by the
    /// segment's end (tried first, then framed) costs no allocation.
    #[error("not well-formed: {0}")]
    Syntax(Cow<'static, str>),
    #[error("undeclared namespace prefix '{0}'")]
    UnboundPrefix(String),
    #[error("more than {0} attributes on one element")]
    TooManyAttributes(usize),
    #[error("undefined entity '&{0};' (RFC 6120 §11.1 allows only the predefined five)")]
    UndefinedEntity(String),
    #[error("comment, processing instruction or DTD (RFC 6120 §11.1)")]
    Restricted,
}

fn syntax(what: &'static str) -> ElementError {
    ElementError::Syntax(Cow::Borrowed(what))
}

fn syntax_owned(what: String) -> ElementError {
    ElementError::Syntax(Cow::Owned(what))
}

/// The parser's vectors, kept from one element to the next so parsing a stanza does
/// not allocate (hand the tree back with [`Scratch::keep`]).
#[derive(Debug, Default)]
pub struct Scratch {
    nodes: Vec<Node<'static>>,
    attrs: Vec<Attr<'static>>,
    local: Vec<Declared>,
    open: Vec<Open>,
    /// How to scan ([`ScanMode::Blocks`] unless a differential test asks).
    mode: ScanMode,
}

/// Most entries a kept vector may hold room for: a huge element's vectors are freed,
/// so what each stream direction keeps stays small (a few KiB).
const KEEP_AT_MOST: usize = 64;

impl Scratch {
    /// Empty vectors, scanning as `mode` says.
    pub fn scanning(mode: ScanMode) -> Scratch {
        Scratch {
            mode,
            ..Scratch::default()
        }
    }

    /// Takes back the vectors of a tree that is no longer needed.
    pub fn keep(&mut self, tree: Tree<'_>) {
        self.nodes = recycle(tree.nodes);
        self.attrs = recycle(tree.attrs);
    }
}

/// Empties `v` and hands its buffer to a vector of the same type with another
/// lifetime: collecting an emptied `vec::IntoIter` into a vector of a type with the
/// same layout reuses the buffer (the standard library's in-place collection; were it
/// not to, this would only allocate again). Buffers beyond [`KEEP_AT_MOST`] are freed.
fn recycle<T, U>(v: Vec<T>) -> Vec<U> {
    keep_small(v).into_iter().filter_map(|_| None).collect()
}

/// Parses a complete element. `scope` holds the bindings of the stream header.
pub fn parse_element<'a>(
    bytes: &'a [u8],
    scope: &'a NsScope,
    max_attrs: usize,
) -> Result<Tree<'a>, ElementError> {
    parse_element_with(bytes, scope, max_attrs, &mut Scratch::default())
}

/// [`parse_element`] with the vectors of `scratch`.
pub fn parse_element_with<'a>(
    bytes: &'a [u8],
    scope: &'a NsScope,
    max_attrs: usize,
    scratch: &mut Scratch,
) -> Result<Tree<'a>, ElementError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ElementError::Utf8(e.valid_up_to()))?;
    parse_in(text, scope, max_attrs, None, scratch).map(|(tree, _)| tree)
}

/// Runs the parser in the vectors of `scratch` (given back, but for the tree's, which
/// the caller returns with [`Scratch::keep`]); `prefix` as in [`Parser::prefix`].
fn parse_in<'a>(
    text: &'a str,
    scope: &'a NsScope,
    max_attrs: usize,
    prefix: Option<usize>,
    scratch: &mut Scratch,
) -> Result<(Tree<'a>, usize), ElementError> {
    match scratch.mode {
        ScanMode::Blocks => parse_with(text, scope, max_attrs, prefix, scratch, BlockScan),
        ScanMode::Bytes => parse_with(text, scope, max_attrs, prefix, scratch, ByteScan),
    }
}

/// [`parse_in`] with one way of scanning.
fn parse_with<'a, S: Scan>(
    text: &'a str,
    scope: &'a NsScope,
    max_attrs: usize,
    prefix: Option<usize>,
    scratch: &mut Scratch,
    scan: S,
) -> Result<(Tree<'a>, usize), ElementError> {
    let mut parser = Parser::new(text, scope, max_attrs, scan);
    parser.prefix = prefix;
    parser.tree.nodes = recycle(std::mem::take(&mut scratch.nodes));
    parser.tree.attrs = recycle(std::mem::take(&mut scratch.attrs));
    parser.local = std::mem::take(&mut scratch.local);
    parser.local.clear();
    parser.open = std::mem::take(&mut scratch.open);
    parser.open.clear();
    let result = parser.element();
    scratch.local = keep_small(parser.local);
    scratch.open = keep_small(parser.open);
    match result {
        Ok(()) => Ok((parser.tree, parser.pos)),
        Err(e) => {
            scratch.keep(parser.tree);
            Err(e)
        }
    }
}

/// Parses the element that starts `text`, which may go on after it: its tree and
/// length, or `None` when it is not a complete, well-formed element nested at most
/// `max_depth` deep (or is a stream header). The framer's boundary is the same for every
/// element this accepts (the end of the root's end tag, or of an empty root tag), so a
/// caller may use this first and fall back to the framer for anything else.
pub fn parse_element_prefix<'a>(
    text: &'a str,
    scope: &'a NsScope,
    max_attrs: usize,
    max_depth: usize,
    scratch: &mut Scratch,
) -> Option<(Tree<'a>, usize)> {
    parse_in(text, scope, max_attrs, Some(max_depth), scratch).ok()
}

/// `stream` or `prefix:stream`: the qualified name of a stream header (RFC 6120 §4.2),
/// before its prefix is resolved. The one test for it: the parser, the session's
/// restart check and the transcript printer use this.
pub fn is_stream_name(qname: &[u8]) -> bool {
    qname == b"stream" || qname.ends_with(b":stream")
}

/// Parses a start tag on its own (the stream header, which never closes): a tree of
/// that one element and the scope it declares, for resolving the stanzas that follow.
/// Prefixes the tag does not declare are resolved in `fallback` (the previous stream
/// header, for a restart); the returned scope holds only the tag's own declarations.
pub fn parse_start_tag<'a>(
    bytes: &'a [u8],
    fallback: &'a NsScope,
    max_attrs: usize,
) -> Result<(Tree<'a>, NsScope), ElementError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ElementError::Utf8(e.valid_up_to()))?;
    let mut parser = Parser::new(text, fallback, max_attrs, ByteScan);
    let start = text
        .as_bytes()
        .windows(2)
        .position(|w| matches!(w, [b'<', b] if super::framer::is_name_start(*b)))
        .ok_or_else(|| syntax("no start tag"))?;
    parser.start_tag(start)?;
    let own = NsScope {
        bindings: parser
            .local
            .iter()
            .map(|d| {
                let prefix = parser.slice(d.prefix.0, d.prefix.1).to_owned();
                (prefix, parser.uri(&d.uri).into_owned())
            })
            .collect(),
    };
    Ok((parser.tree, own))
}

/// A namespace declared inside the element being parsed (`xmlns` or `xmlns:p`), by
/// position in the text like [`Open`].
#[derive(Debug)]
struct Declared {
    /// The prefix (empty for the default namespace): `text[prefix.0..prefix.1]`.
    prefix: (usize, usize),
    uri: Uri,
}

/// Where a declared URI lies: in the text, or decoded (it held a reference).
#[derive(Debug)]
enum Uri {
    At(usize, usize),
    Owned(String),
}

/// Empties `v` for the next element, or frees it when it grew large, so what each
/// stream direction keeps stays small.
fn keep_small<T>(mut v: Vec<T>) -> Vec<T> {
    if v.capacity() > KEEP_AT_MOST {
        return Vec::new();
    }
    v.clear();
    v
}

/// The scanner: a position in the element's text and the tree built so far.
struct Parser<'a, S> {
    text: &'a str,
    scan: S,
    pos: usize,
    max_attrs: usize,
    /// The stream header's bindings, borrowed, never copied per stanza.
    base: &'a NsScope,
    /// Declarations made inside the element being parsed, innermost last.
    local: Vec<Declared>,
    /// Elements whose end tag has not been seen yet, innermost last.
    open: Vec<Open>,
    /// Parsing the element at the start of a longer text, at most this deep: stop
    /// after its end tag ([`parse_element_prefix`]).
    prefix: Option<usize>,
    tree: Tree<'a>,
}

/// An element whose end tag has not been seen yet. Positions, not borrowed strings,
/// so the vector passes from one element to the next as it is (no [`recycle`]).
#[derive(Debug)]
struct Open {
    index: usize,
    /// The qualified name: `text[qname.0..qname.1]`.
    qname: (usize, usize),
    /// `Parser::local` length before its declarations.
    mark: usize,
}

impl<'a, S: Scan> Parser<'a, S> {
    fn new(text: &'a str, base: &'a NsScope, max_attrs: usize, scan: S) -> Parser<'a, S> {
        Parser {
            text,
            scan,
            pos: 0,
            max_attrs,
            base,
            local: Vec::new(),
            open: Vec::new(),
            prefix: None,
            tree: Tree::default(),
        }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.text.as_bytes().get(at).copied()
    }

    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.text.get(from..to).unwrap_or_default()
    }

    fn rest(&self, from: usize) -> &'a [u8] {
        self.text.as_bytes().get(from..).unwrap_or_default()
    }

    fn skip_space(&mut self, at: usize) -> usize {
        self.scan.skip(self.text.as_bytes(), at, class::SPACE)
    }

    fn name_end(&mut self, at: usize) -> usize {
        self.scan.skip(self.text.as_bytes(), at, class::NAME)
    }

    /// One element from its start tag to its end tag (XML 1.0 §3), character data
    /// between tags going to the innermost open element.
    fn element(&mut self) -> Result<(), ElementError> {
        loop {
            // Tags often follow each other directly: look at the next byte first.
            let bytes = self.text.as_bytes();
            // One scan finds the end of the character data and whether it holds
            // anything to replace; only then is the rest searched for `<` alone.
            let (lt, special) = if self.byte(self.pos) == Some(b'<') {
                (Some(self.pos), false)
            } else {
                let stop = self.scan.find(bytes, self.pos, class::TEXT_STOP);
                match self.byte(stop) {
                    Some(b'<') => (Some(stop), false),
                    None => (None, false),
                    Some(_) => {
                        let lt = self.scan.find(bytes, stop, class::LT);
                        (Some(lt).filter(|&i| i < bytes.len()), true)
                    }
                }
            };
            let text_end = lt.unwrap_or(self.text.len());
            if let Some(top) = self.open.last().map(|o| o.index) {
                if text_end > self.pos {
                    let raw = self.slice(self.pos, text_end);
                    let text = if special {
                        decode(raw, Normalise::Text)?
                    } else {
                        Cow::Borrowed(raw)
                    };
                    self.push_text(top, text);
                }
            }
            let Some(lt) = lt else { break };
            match self.byte(lt + 1) {
                Some(b'/') => {
                    let (qname, after) = self.end_tag(lt + 2)?;
                    let top = self
                        .open
                        .pop()
                        .ok_or_else(|| syntax("end tag without a start tag"))?;
                    let expected = self.slice(top.qname.0, top.qname.1);
                    if expected != qname {
                        return Err(syntax_owned(format!(
                            "expected '</{expected}>', found '</{qname}>'"
                        )));
                    }
                    self.local.truncate(top.mark);
                    let end = self.tree.nodes.len();
                    if let Some(node) = self.tree.nodes.get_mut(top.index) {
                        node.end = end;
                    }
                    self.pos = after;
                    if self.prefix.is_some() && self.open.is_empty() {
                        return Ok(());
                    }
                }
                Some(b'?') => return Err(ElementError::Restricted),
                Some(b'!') => self.pos = self.markup(lt, self.open.last().map(|o| o.index))?,
                _ => {
                    if self.open.is_empty() && !self.tree.nodes.is_empty() {
                        return Err(syntax("content after the element"));
                    }
                    let mark = self.local.len();
                    let (qname, empty, after) = self.start_tag(lt)?;
                    if empty {
                        self.local.truncate(mark);
                    } else {
                        let index = self.tree.nodes.len().saturating_sub(1);
                        let qname = (lt + 1, lt + 1 + qname.len());
                        self.open.push(Open { index, qname, mark });
                    }
                    self.pos = after;
                    if let Some(max_depth) = self.prefix {
                        if self.tree.nodes.len() == 1 && is_stream_name(qname.as_bytes()) {
                            return Err(syntax("a stream header, not an element"));
                        }
                        if self.open.len() > max_depth {
                            return Err(syntax("nested too deep"));
                        }
                        if self.open.is_empty() {
                            return Ok(());
                        }
                    }
                }
            }
        }
        if !self.open.is_empty() || self.tree.nodes.is_empty() {
            return Err(syntax("element not closed"));
        }
        Ok(())
    }

    fn push_text(&mut self, index: usize, text: Cow<'a, str>) {
        if let Some(node) = self.tree.nodes.get_mut(index) {
            if node.text.is_empty() {
                node.text = text;
            } else {
                node.text.to_mut().push_str(&text);
            }
        }
    }

    /// `<!…`: a CDATA section (its text, raw) or something RFC 6120 §11.1 forbids.
    fn markup(&mut self, lt: usize, top: Option<usize>) -> Result<usize, ElementError> {
        const CDATA: &[u8] = b"<![CDATA[";
        let rest = self.rest(lt);
        if rest.starts_with(CDATA) {
            let body = lt + CDATA.len();
            let len = memchr::memmem::find(self.rest(body), b"]]>")
                .ok_or_else(|| syntax("CDATA section not closed"))?;
            if let Some(index) = top {
                self.push_text(index, Cow::Borrowed(self.slice(body, body + len)));
            }
            Ok(body + len + 3)
        } else if rest.starts_with(b"<!--") || rest.starts_with(b"<!DOCTYPE") {
            Err(ElementError::Restricted)
        } else {
            Err(syntax("'<!' that starts no CDATA section"))
        }
    }

    /// `</name S?>` from just after `</`: the name and the position after `>`.
    fn end_tag(&mut self, from: usize) -> Result<(&'a str, usize), ElementError> {
        let name_end = self.name_end(from);
        let close = self.skip_space(name_end);
        if name_end == from || self.byte(close) != Some(b'>') {
            return Err(syntax("malformed end tag"));
        }
        Ok((self.slice(from, name_end), close + 1))
    }

    /// A start tag at `lt` (XML 1.0 §3.1): adds its node; returns its qualified name,
    /// whether it was empty (`/>`) and the position after it. Declarations go to
    /// `self.local`.
    fn start_tag(&mut self, lt: usize) -> Result<(&'a str, bool, usize), ElementError> {
        let name_start = lt + 1;
        if !self
            .byte(name_start)
            .is_some_and(super::framer::is_name_start)
        {
            return Err(syntax("'<' not followed by a name"));
        }
        let name_end = self.name_end(name_start);
        let qname = self.slice(name_start, name_end);
        let attrs_start = self.tree.attrs.len();
        let mark = self.local.len();
        let mut at = name_end;
        let mut count = 0;
        let empty = loop {
            let next = self.skip_space(at);
            match self.byte(next) {
                None => return Err(syntax("start tag not closed")),
                Some(b'>') => {
                    at = next + 1;
                    break false;
                }
                Some(b'/') if self.byte(next + 1) == Some(b'>') => {
                    at = next + 2;
                    break true;
                }
                Some(_) if next == at => {
                    return Err(syntax("attributes must follow white space"));
                }
                Some(_) => {
                    count += 1;
                    if count > self.max_attrs {
                        return Err(ElementError::TooManyAttributes(self.max_attrs));
                    }
                    at = self.attribute(next, attrs_start, mark)?;
                }
            }
        };
        // Names are short: a plain loop beats `split_once`'s searcher set-up.
        let (prefix, local) = match qname.bytes().position(|b| b == b':') {
            Some(colon) => (
                qname.get(..colon).unwrap_or_default(),
                qname.get(colon + 1..).unwrap_or_default(),
            ),
            None => ("", qname),
        };
        let ns = self.resolve(prefix);
        if ns.is_none() && !prefix.is_empty() {
            return Err(ElementError::UnboundPrefix(prefix.to_owned()));
        }
        let index = self.tree.nodes.len();
        self.tree.nodes.push(Node {
            ns,
            name: local,
            attrs: (attrs_start, self.tree.attrs.len()),
            text: Cow::Borrowed(""),
            end: index + 1,
        });
        Ok((qname, empty, at))
    }

    /// `name S? = S? "value"` at `from` (XML 1.0 §3.1 Attribute); returns the
    /// position after the closing quote. Duplicates are errors (§3.1 WFC: Unique Att
    /// Spec).
    fn attribute(
        &mut self,
        from: usize,
        attrs_start: usize,
        mark: usize,
    ) -> Result<usize, ElementError> {
        if !self.byte(from).is_some_and(super::framer::is_name_start) {
            return Err(syntax("attribute name expected"));
        }
        let key_end = self.name_end(from);
        let key = self.slice(from, key_end);
        let eq = self.skip_space(key_end);
        if self.byte(eq) != Some(b'=') {
            return Err(syntax_owned(format!("attribute '{key}' has no value")));
        }
        let open_quote = self.skip_space(eq + 1);
        let quote = match self.byte(open_quote) {
            Some(q @ (b'"' | b'\'')) => q,
            _ => return Err(syntax_owned(format!("value of '{key}' not quoted"))),
        };
        // One pass to the closing quote (values are short: a loop beats searching
        // three times), noting whether anything must be replaced.
        let start = open_quote + 1;
        let mut end = start;
        let mut replace = false;
        let stop = if quote == b'"' {
            class::STOP_IN_QUOT
        } else {
            class::STOP_IN_APOS
        };
        loop {
            end = self.scan.find(self.text.as_bytes(), end, stop);
            match self.byte(end) {
                None => return Err(syntax("attribute value not closed")),
                Some(b) if b == quote => break,
                Some(b'<') => return Err(syntax_owned(format!("'<' in the value of '{key}'"))),
                Some(_) => replace = true,
            }
            end += 1;
        }
        let raw = self.slice(start, end);
        let value = if replace {
            decode(raw, Normalise::Attribute)?
        } else {
            Cow::Borrowed(raw)
        };
        let len = end - start;
        let declared = if key == "xmlns" {
            Some(key_end..key_end)
        } else {
            key.starts_with("xmlns:").then_some(from + 6..key_end)
        };
        let duplicate = match &declared {
            Some(prefix) => {
                let prefix = self.slice(prefix.start, prefix.end);
                self.local
                    .get(mark..)
                    .unwrap_or_default()
                    .iter()
                    .any(|d| same(self.slice(d.prefix.0, d.prefix.1), prefix))
            }
            None => self
                .tree
                .attrs
                .get(attrs_start..)
                .unwrap_or_default()
                .iter()
                .any(|a| same(a.name, key)),
        };
        if duplicate {
            return Err(syntax_owned(format!("duplicate attribute '{key}'")));
        }
        match declared {
            Some(prefix) => self.local.push(Declared {
                prefix: (prefix.start, prefix.end),
                uri: match value {
                    Cow::Borrowed(_) => Uri::At(start, end),
                    Cow::Owned(uri) => Uri::Owned(uri),
                },
            }),
            None => self.tree.attrs.push(Attr { name: key, value }),
        }
        Ok(start + len + 1)
    }

    /// Namespaces in XML §6: the innermost declaration of `prefix` (an empty value
    /// undeclares), else the stream header's.
    fn resolve(&self, prefix: &str) -> Option<Cow<'a, str>> {
        let declared = self
            .local
            .iter()
            .rev()
            .find(|d| same(self.slice(d.prefix.0, d.prefix.1), prefix));
        match declared {
            Some(d) => Some(self.uri(&d.uri)).filter(|uri| !uri.is_empty()),
            None => self.base.resolve(prefix).map(Cow::Borrowed),
        }
    }

    /// A declared namespace's URI: borrowed from the text unless it was decoded.
    fn uri(&self, uri: &Uri) -> Cow<'a, str> {
        match uri {
            Uri::At(start, end) => Cow::Borrowed(self.slice(*start, *end)),
            Uri::Owned(uri) => Cow::Owned(uri.clone()),
        }
    }
}

/// String equality for the short names of XML: length and first byte decide most
/// comparisons without a `memcmp` call.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || (a.as_bytes().first() == b.as_bytes().first() && a == b))
}

/// What a replaced line end (and, in attributes, tab) becomes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Normalise {
    /// XML 1.0 §2.11: `\r\n` and `\r` become `\n`.
    Text,
    /// XML 1.0 §3.3.3: after §2.11, `\n` and `\t` become a space.
    Attribute,
}

/// Replaces entity and character references (XML 1.0 §4.1, only the predefined five
/// per RFC 6120 §11.1) and normalises line ends; borrows when nothing changes.
fn decode(raw: &str, mode: Normalise) -> Result<Cow<'_, str>, ElementError> {
    let classes = match mode {
        Normalise::Text => class::TEXT_SPECIAL,
        Normalise::Attribute => class::ATTR_SPECIAL,
    };
    let special = |b: &u8| class::is(*b, classes);
    let bytes = raw.as_bytes();
    let Some(first) = bytes.iter().position(special) else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = String::with_capacity(raw.len());
    let mut copied = 0;
    let mut at = first;
    while let Some(&b) = bytes.get(at) {
        if !special(&b) {
            at += 1;
            continue;
        }
        out.push_str(raw.get(copied..at).unwrap_or_default());
        at += 1;
        match b {
            b'&' => {
                let semi = memchr::memchr(b';', bytes.get(at..).unwrap_or_default())
                    .ok_or_else(|| syntax("'&' without ';'"))?;
                let name = raw.get(at..at + semi).unwrap_or_default();
                push_reference(name, &mut out)?;
                at += semi + 1;
            }
            b'\r' => {
                if bytes.get(at) == Some(&b'\n') {
                    at += 1;
                }
                out.push(if mode == Normalise::Text { '\n' } else { ' ' });
            }
            _ => out.push(' '),
        }
        copied = at;
    }
    out.push_str(raw.get(copied..).unwrap_or_default());
    Ok(Cow::Owned(out))
}

/// Appends the text of `&name;`: a predefined entity or a character reference (XML 1.0
/// §4.1) to a character XML allows (§2.2 Char).
fn push_reference(name: &str, out: &mut String) -> Result<(), ElementError> {
    let predefined = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => '\0',
    };
    if predefined != '\0' {
        out.push(predefined);
        return Ok(());
    }
    let Some(number) = name.strip_prefix('#') else {
        return if !name.is_empty() && name.bytes().all(|b| class::is(b, class::NAME)) {
            Err(ElementError::UndefinedEntity(name.to_owned()))
        } else {
            Err(syntax("'&' that starts no reference"))
        };
    };
    let (digits, radix) = match number.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (number, 10),
    };
    let well_formed = !digits.is_empty()
        && digits.len() <= 8
        && digits.bytes().all(|b| char::from(b).is_digit(radix));
    let c = well_formed
        .then(|| u32::from_str_radix(digits, radix).ok())
        .flatten()
        .filter(|&c| {
            matches!(c, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x1_0000..=0x10_FFFF)
        })
        .and_then(char::from_u32)
        .ok_or_else(|| syntax_owned(format!("invalid character reference '&{name};'")))?;
    out.push(c);
    Ok(())
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

    fn parse(xml: &str) -> Result<Tree<'_>, ElementError> {
        // Leaked so the tree may borrow the scope in a helper; tests only.
        let scope: &'static NsScope = Box::leak(Box::new(client_scope()));
        parse_element(xml.as_bytes(), scope, 16)
    }

    #[test]
    fn resolves_inherited_and_local_namespaces() {
        let tree = parse(
            "<message to='a@b' type='chat'><body>hi &amp; &#x263A;</body><x:y xmlns:x='urn:x'/></message>",
        )
        .unwrap();
        let root = tree.root().unwrap();
        assert!(root.is(ns::CLIENT, "message"));
        assert_eq!(root.attr("type"), Some("chat"));
        assert_eq!(root.child_text(ns::CLIENT, "body"), Some("hi & \u{263A}"));
        assert!(root.child("urn:x", "y").is_some());
        assert_eq!(tree.len(), 3);
    }

    #[test]
    fn children_are_direct_children_in_order() {
        let tree =
            parse("<iq><a><a1/><a2><deep/></a2></a><b/>text<c xmlns='urn:c'>c-text</c></iq>")
                .unwrap();
        let root = tree.root().unwrap();
        let names: Vec<&str> = root.children().map(|c| c.name()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let a = root.child(ns::CLIENT, "a").unwrap();
        let names: Vec<&str> = a.children().map(|c| c.name()).collect();
        assert_eq!(names, ["a1", "a2"]);
        assert_eq!(root.text(), "text");
        assert_eq!(root.child_text("urn:c", "c"), Some("c-text"));
        // The declaration on <c> does not leak to later siblings or the parent.
        assert_eq!(root.ns(), Some(ns::CLIENT));
    }

    #[test]
    fn text_is_concatenated_and_normalised() {
        let tree = parse("<body>a\r\nb<x/>c\rd<![CDATA[<raw&>]]>&lt;&#65;&#x42;</body>").unwrap();
        assert_eq!(tree.root().unwrap().text(), "a\nbc\nd<raw&><AB");
        let tree = parse("<a v='x\ty\r\nz&#10;&quot;'/>").unwrap();
        assert_eq!(tree.root().unwrap().attr("v"), Some("x y z\n\""));
        // Borrowed when nothing needs replacing.
        let tree = parse("<a v='plain'>plain</a>").unwrap();
        let node = tree.nodes.first().unwrap();
        assert!(matches!(node.text, Cow::Borrowed(_)));
        assert!(matches!(
            tree.attrs.first().unwrap().value,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn stream_prefix_comes_from_the_header() {
        let tree = parse(
            "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
        )
        .unwrap();
        let root = tree.root().unwrap();
        assert!(root.is(ns::STREAMS, "features"));
        assert!(root.child(ns::BIND, "bind").is_some());
        // The same element with another prefix bound to the same namespace matches too.
        let empty = NsScope::default();
        let tree = parse_element(
            b"<s:features xmlns:s='http://etherx.jabber.org/streams'/>",
            &empty,
            16,
        )
        .unwrap();
        assert!(tree.root().unwrap().is(ns::STREAMS, "features"));
        // An empty declaration undeclares the default namespace.
        let tree = parse("<a><b xmlns=''/></a>").unwrap();
        let b = tree.root().unwrap().children().next().unwrap();
        assert_eq!(b.ns(), None);
    }

    #[test]
    fn rejects_what_rfc6120_forbids() {
        assert_eq!(
            parse("<a>&foo;</a>").unwrap_err(),
            ElementError::UndefinedEntity("foo".into())
        );
        assert_eq!(
            parse("<a><!-- c --></a>").unwrap_err(),
            ElementError::Restricted
        );
        assert_eq!(
            parse("<a><?pi x?></a>").unwrap_err(),
            ElementError::Restricted
        );
        assert_eq!(
            parse("<a><!DOCTYPE a></a>").unwrap_err(),
            ElementError::Restricted
        );
        let scope = client_scope();
        assert!(matches!(
            parse_element(b"<a>\xff</a>", &scope, 16),
            Err(ElementError::Utf8(3))
        ));
        assert!(matches!(
            parse_element(b"<a x='1' y='2' z='3'/>", &scope, 2),
            Err(ElementError::TooManyAttributes(2))
        ));
        assert!(matches!(
            parse("<p:a/>"),
            Err(ElementError::UnboundPrefix(_))
        ));
        for bad in [
            "<a></b>",
            "<a>",
            "<a/><b/>",
            "<a x='1' x='2'/>",
            "<a xmlns:p='u' xmlns:p='v'/>",
            "<a x='1'y='2'/>",
            "<a x/>",
            "<a x=1/>",
            "<a x='<'/>",
            "<a x='1/>",
            "<a>AT&T</a>",
            "<a>&#0;</a>",
            "<a>&#xD800;</a>",
            "<a>&#x+41;</a>",
            "<a>&;</a>",
            "<a><![CDATA[x</a>",
            "<a><!x></a>",
            "<a></a >x</a>",
            "< a/>",
            "<a></ a>",
        ] {
            assert!(
                matches!(parse(bad), Err(ElementError::Syntax(_))),
                "{bad}: {:?}",
                parse(bad)
            );
        }
        assert!(parse("<a></a >").is_ok());
        assert!(parse("<a x = \"1\" y='\"'/>").is_ok());
    }

    #[test]
    fn scratch_vectors_are_reused_but_not_when_huge() {
        let scope = client_scope();
        let mut scratch = Scratch::default();
        let xml = b"<message><body xmlns='urn:a'>hi</body><x xmlns='urn:x' a='1'/></message>";
        let tree = parse_element_with(xml, &scope, 16, &mut scratch).unwrap();
        assert_eq!(tree.len(), 3);
        scratch.keep(tree);
        let room = (scratch.nodes.capacity(), scratch.attrs.capacity());
        assert!(room.0 >= 3 && room.1 >= 1, "{room:?}");
        // The same element again: parsed the same, in the same buffers.
        let tree = parse_element_with(xml, &scope, 16, &mut scratch).unwrap();
        assert_eq!(tree.root().unwrap().child_text("urn:a", "body"), Some("hi"));
        scratch.keep(tree);
        assert_eq!((scratch.nodes.capacity(), scratch.attrs.capacity()), room);
        // An element of a thousand children: its vectors are not kept.
        let big = format!("<a>{}</a>", "<b/>".repeat(1000));
        let tree = parse_element_with(big.as_bytes(), &scope, 16, &mut scratch).unwrap();
        assert_eq!(tree.len(), 1001);
        scratch.keep(tree);
        assert!(scratch.nodes.capacity() <= KEEP_AT_MOST);
    }

    #[test]
    fn start_tag_declares_scope() {
        let empty = NsScope::default();
        let (tree, scope) = parse_start_tag(
            b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='example.org' version='1.0'>",
            &empty,
            16,
        )
        .unwrap();
        let el = tree.root().unwrap();
        assert!(el.is(ns::STREAMS, "stream"));
        assert_eq!(el.attr("to"), Some("example.org"));
        assert_eq!(el.attrs().len(), 2);
        assert_eq!(scope.default_ns(), Some(ns::SERVER));
        assert!(scope.declares(ns::DIALBACK));
    }
}
