//! Incremental framer: finds the top-level units of one XMPP stream direction.
//!
//! Input: a buffer that always starts at the beginning of the current unfinished frame
//! (the caller keeps unconsumed bytes and appends new ones); output:
//! [`Status::Partial`] (need more bytes, everything given was scanned) or
//! [`Status::Complete`] with the frame's kind and its exact length, so bytes after a
//! `<proceed/>` can go to TLS. Scanning resumes where it stopped, so each byte is
//! looked at once however the bytes are split (inside a tag, an attribute value that
//! holds `>` or quotes, a multi-byte UTF-8 character, or CDATA). `<`, `>` and quotes
//! are ASCII and never occur inside a multi-byte UTF-8 sequence, so bytes suffice.
//!
//! Frames (RFC 6120 §4.1–§4.4): the XML declaration, the stream header (the root start
//! tag, which stays open), each depth-1 element, whitespace between them, and the
//! stream close. Comments, processing instructions and DTDs are reported as
//! restricted XML (RFC 6120 §11.1).

use memchr::{memchr, memchr3};

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// `<?xml …?>`.
    XmlDecl,
    /// The root start tag `<stream:stream …>` (also a restart header inside a stream).
    StreamOpen,
    /// A complete depth-1 element.
    Element,
    /// The end tag of the root.
    StreamClose,
    /// Whitespace between top-level units (keepalives).
    Whitespace,
    /// Non-whitespace character data at the top level.
    Text,
    /// A comment, processing instruction, DTD or CDATA where RFC 6120 §11.1 forbids it.
    Restricted,
    /// A `<` that does not start a tag, or an end tag outside any element.
    Malformed,
}

/// A finished frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    /// Bytes of this frame in the current buffer (not counting dropped bytes).
    pub len: usize,
    /// Bytes of this frame the caller dropped (oversized frame).
    pub dropped: u64,
    /// The element nested deeper than the framer's depth limit.
    pub too_deep: bool,
}

pub use crate::status::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// At the first byte of a frame.
    Start,
    /// In a run of top-level whitespace.
    Whitespace,
    /// In top-level character data.
    Text,
    /// Just after a `<`.
    Lt,
    /// Inside a start or end tag; `quote` is the open quote byte, if any.
    Tag {
        quote: Option<u8>,
        end: bool,
        slash: bool,
    },
    /// Inside a processing instruction; `question` means the last byte was `?`.
    Pi { question: bool },
    /// Character content inside an element.
    Content,
    /// `<!` inside content: `matched` bytes of `[CDATA[` seen so far.
    Bang { matched: u8 },
    /// Inside CDATA; `brackets` counts trailing `]` bytes (max 2).
    CData { brackets: u8 },
}

const CDATA_OPEN: &[u8] = b"[CDATA[";

/// Scanner state for one direction of a stream.
#[derive(Debug, Clone)]
pub struct Framer {
    scan: Scan,
    /// Bytes of the current frame already scanned.
    pos: usize,
    /// Element nesting inside the current frame.
    depth: u32,
    max_depth: u32,
    too_deep: bool,
    dropped: u64,
    /// The root start tag has been seen and not closed.
    in_stream: bool,
    /// The current frame began with a start tag (an element or the root).
    first_tag_done: bool,
    /// The current processing instruction starts like an XML declaration.
    xml_decl: bool,
}

impl Framer {
    pub fn new(max_depth: u32) -> Framer {
        Framer {
            scan: Scan::Start,
            pos: 0,
            depth: 0,
            max_depth,
            too_deep: false,
            dropped: 0,
            in_stream: false,
            first_tag_done: false,
            xml_decl: false,
        }
    }

    /// True between the stream header and the stream close.
    pub fn in_stream(&self) -> bool {
        self.in_stream
    }

    /// Treats the stream as open (a capture that starts mid-stream).
    pub fn assume_in_stream(&mut self) {
        self.in_stream = true;
    }

    /// Forgets the current partial frame (after a gap); the stream stays open.
    pub fn reset_frame(&mut self) {
        self.scan = Scan::Start;
        self.pos = 0;
        self.depth = 0;
        self.too_deep = false;
        self.dropped = 0;
        self.first_tag_done = false;
        self.xml_decl = false;
    }

    /// Nothing of the next frame has been seen yet (not even bytes the caller dropped
    /// from an oversized frame).
    pub fn at_frame_start(&self) -> bool {
        matches!(self.scan, Scan::Start) && self.pos == 0 && self.dropped == 0
    }

    /// Still inside the current frame's first tag (the one `advance` asks about),
    /// which is a start tag.
    pub fn in_first_tag(&self) -> bool {
        !self.first_tag_done && matches!(self.scan, Scan::Tag { end: false, .. })
    }

    /// Some bytes of the current frame were dropped by the caller.
    pub fn has_dropped(&self) -> bool {
        self.dropped > 0
    }

    /// Bytes of the current frame the caller dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The caller dropped the first `n` scanned bytes of the current frame.
    pub fn drop_scanned(&mut self, n: usize) {
        let n = n.min(self.pos);
        self.pos -= n;
        self.dropped = self.dropped.saturating_add(n as u64);
    }

    /// Scans `buf`, which starts at the current frame's first byte. `is_stream_header`
    /// is asked about the first start tag of a depth-1 element (its bytes from `<` to
    /// `>`, or only its last bytes when the caller dropped the start): a stream restart
    /// (RFC 6120 §4.3.3) opens a new root, not an element.
    pub fn advance(
        &mut self,
        buf: &[u8],
        is_stream_header: impl Fn(&[u8]) -> bool,
    ) -> Status<Frame> {
        while let Some(&byte) = buf.get(self.pos) {
            if let Some(kind) = self.step(buf, byte, &is_stream_header) {
                return Status::Complete(self.finish_frame(kind));
            }
        }
        match self.scan {
            // Whitespace and text end where the buffer ends; the rest is a new frame.
            Scan::Whitespace if self.pos > 0 => {
                Status::Complete(self.finish_frame(FrameKind::Whitespace))
            }
            Scan::Text if self.pos > 0 => Status::Complete(self.finish_frame(FrameKind::Text)),
            _ => Status::Partial,
        }
    }

    fn finish_frame(&mut self, kind: FrameKind) -> Frame {
        let frame = Frame {
            kind,
            len: self.pos,
            dropped: self.dropped,
            too_deep: self.too_deep,
        };
        match kind {
            FrameKind::StreamOpen => self.in_stream = true,
            FrameKind::StreamClose => self.in_stream = false,
            _ => {}
        }
        self.reset_frame();
        frame
    }

    /// Handles one byte (or a run of bytes via memchr); returns a kind when the frame
    /// ends after the bytes consumed so far.
    fn step(
        &mut self,
        buf: &[u8],
        byte: u8,
        is_header: &impl Fn(&[u8]) -> bool,
    ) -> Option<FrameKind> {
        match self.scan {
            Scan::Start => {
                self.pos += 1;
                self.scan = match byte {
                    b'<' => Scan::Lt,
                    b' ' | b'\t' | b'\r' | b'\n' => Scan::Whitespace,
                    _ => Scan::Text,
                };
                None
            }
            Scan::Whitespace => {
                if matches!(byte, b' ' | b'\t' | b'\r' | b'\n') {
                    self.pos += 1;
                    None
                } else {
                    Some(FrameKind::Whitespace)
                }
            }
            Scan::Text => {
                let rest = buf.get(self.pos..).unwrap_or_default();
                match memchr(b'<', rest) {
                    Some(at) => {
                        self.pos += at;
                        Some(FrameKind::Text)
                    }
                    None => {
                        self.pos = buf.len();
                        None
                    }
                }
            }
            Scan::Lt => self.after_lt(byte),
            Scan::Tag { quote, end, slash } => self.in_tag(buf, quote, end, slash, is_header),
            Scan::Pi { question } => {
                self.pos += 1;
                if self.pos == XML_DECL_START && self.dropped == 0 {
                    // Decided while the start is still in `buf` (an oversized one is
                    // dropped later): the same answer however the bytes were cut.
                    self.xml_decl = is_xml_decl(buf.get(..self.pos).unwrap_or_default());
                }
                if question && byte == b'>' {
                    let start_seen = self.pos >= XML_DECL_START || self.dropped > 0;
                    let is_decl = self.depth == 0
                        && if start_seen {
                            self.xml_decl
                        } else {
                            is_xml_decl(buf.get(..self.pos).unwrap_or_default())
                        };
                    return Some(if is_decl {
                        FrameKind::XmlDecl
                    } else {
                        FrameKind::Restricted
                    });
                }
                self.scan = Scan::Pi {
                    question: byte == b'?',
                };
                None
            }
            Scan::Content => {
                let rest = buf.get(self.pos..).unwrap_or_default();
                match memchr(b'<', rest) {
                    Some(at) => {
                        self.pos += at + 1;
                        self.scan = Scan::Lt;
                    }
                    None => self.pos = buf.len(),
                }
                None
            }
            Scan::Bang { matched } => {
                self.pos += 1;
                let expected = CDATA_OPEN.get(usize::from(matched)).copied();
                if expected != Some(byte) {
                    // `<!--` or `<!DOCTYPE` inside an element (RFC 6120 §11.1).
                    return Some(FrameKind::Restricted);
                }
                let matched = matched + 1;
                self.scan = if usize::from(matched) == CDATA_OPEN.len() {
                    Scan::CData { brackets: 0 }
                } else {
                    Scan::Bang { matched }
                };
                None
            }
            Scan::CData { brackets } => {
                self.pos += 1;
                self.scan = match byte {
                    b'>' if brackets >= 2 => Scan::Content,
                    b']' => Scan::CData {
                        brackets: (brackets + 1).min(2),
                    },
                    _ => Scan::CData { brackets: 0 },
                };
                None
            }
        }
    }

    fn after_lt(&mut self, byte: u8) -> Option<FrameKind> {
        self.pos += 1;
        let top_level = self.depth == 0;
        match byte {
            b'?' => {
                self.scan = Scan::Pi { question: false };
                None
            }
            b'!' if top_level => Some(FrameKind::Restricted),
            b'!' => {
                self.scan = Scan::Bang { matched: 0 };
                None
            }
            b'/' if top_level && !self.in_stream => Some(FrameKind::Malformed),
            b'/' => {
                self.scan = Scan::Tag {
                    quote: None,
                    end: true,
                    slash: false,
                };
                None
            }
            b if is_name_start(b) => {
                self.scan = Scan::Tag {
                    quote: None,
                    end: false,
                    slash: false,
                };
                None
            }
            _ => Some(FrameKind::Malformed),
        }
    }

    fn in_tag(
        &mut self,
        buf: &[u8],
        quote: Option<u8>,
        end: bool,
        slash: bool,
        is_header: &impl Fn(&[u8]) -> bool,
    ) -> Option<FrameKind> {
        let rest = buf.get(self.pos..).unwrap_or_default();
        if let Some(q) = quote {
            match memchr(q, rest) {
                Some(at) => {
                    self.pos += at + 1;
                    self.scan = Scan::Tag {
                        quote: None,
                        end,
                        slash: false,
                    };
                }
                None => self.pos = buf.len(),
            }
            return None;
        }
        let Some(at) = memchr3(b'>', b'"', b'\'', rest) else {
            let slash = rest
                .iter()
                .rev()
                .find(|b| !b.is_ascii_whitespace())
                .map_or(slash, |b| *b == b'/');
            self.pos = buf.len();
            self.scan = Scan::Tag {
                quote: None,
                end,
                slash,
            };
            return None;
        };
        let before = rest.get(..at).unwrap_or_default();
        let slash = before
            .iter()
            .rev()
            .find(|b| !b.is_ascii_whitespace())
            .map_or(slash, |b| *b == b'/');
        self.pos += at + 1;
        match rest.get(at) {
            Some(b'>') => self.tag_closed(buf, end, slash, is_header),
            Some(&q) => {
                self.scan = Scan::Tag {
                    quote: Some(q),
                    end,
                    slash: false,
                };
                None
            }
            None => None,
        }
    }

    fn tag_closed(
        &mut self,
        buf: &[u8],
        end: bool,
        slash: bool,
        is_header: &impl Fn(&[u8]) -> bool,
    ) -> Option<FrameKind> {
        self.scan = Scan::Content;
        if end {
            if self.depth == 0 {
                return Some(FrameKind::StreamClose);
            }
            self.depth -= 1;
            return (self.depth == 0).then_some(FrameKind::Element);
        }
        let first = !self.first_tag_done;
        self.first_tag_done = true;
        if first && !self.in_stream && !slash {
            return Some(FrameKind::StreamOpen);
        }
        // With dropped bytes, `buf` holds only the tag's end: the caller decided from
        // its start before dropping it (see `in_first_tag`).
        if first && !slash && is_header(buf.get(..self.pos).unwrap_or_default()) {
            return Some(FrameKind::StreamOpen);
        }
        if slash {
            return (self.depth == 0).then_some(FrameKind::Element);
        }
        self.depth += 1;
        if self.depth > self.max_depth {
            self.too_deep = true;
        }
        None
    }
}

/// Bytes that tell an XML declaration from another processing instruction.
const XML_DECL_START: usize = 6;

/// `<?xml` followed by whitespace: the XML declaration, allowed before a stream header.
fn is_xml_decl(pi: &[u8]) -> bool {
    matches!(
        pi.get(..6),
        Some([
            b'<',
            b'?',
            b'x',
            b'm',
            b'l',
            b' ' | b'\t' | b'\r' | b'\n' | b'?'
        ])
    )
}

/// XML 1.0 NameStartChar, approximated for bytes: ASCII letters, `_`, `:` and any
/// non-ASCII byte (the start of a multi-byte character).
pub fn is_name_start(b: u8) -> bool {
    super::class::is(b, super::class::NAME_START)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of `step` bytes the way the session does (keeping the
    /// unfinished frame) and returns (kind, text) of each frame.
    fn frames(input: &[u8], step: usize) -> Vec<(FrameKind, String)> {
        let mut framer = Framer::new(64);
        let mut pending: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        for chunk in input.chunks(step.max(1)) {
            pending.extend_from_slice(chunk);
            while let Status::Complete(frame) =
                framer.advance(&pending, |tag| tag.starts_with(b"<stream:stream"))
            {
                let text = String::from_utf8_lossy(&pending[..frame.len]).into_owned();
                out.push((frame.kind, text));
                pending.drain(..frame.len);
            }
        }
        // Whitespace frames may be split by chunking: merge neighbours for comparison.
        let mut merged: Vec<(FrameKind, String)> = Vec::new();
        for (kind, text) in out {
            match merged.last_mut() {
                Some((FrameKind::Whitespace, prev)) if kind == FrameKind::Whitespace => {
                    prev.push_str(&text)
                }
                _ => merged.push((kind, text)),
            }
        }
        merged
    }

    const STREAM: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' to='a>b'>\n \
<message to='x@y' type=\"chat\"><body>a > b &amp; \xc3\xa9t\xc3\xa9</body></message>\
<iq id='1' type='get'><query xmlns='jabber:iq:roster'/></iq>  \
<presence/><message><body><![CDATA[</message> <a> ]] ]]></body></message>\
<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\
<iq a='/>' b=\"'\"/></stream:stream>";

    #[test]
    fn finds_every_boundary_however_the_bytes_are_split() {
        let whole = frames(STREAM, STREAM.len());
        let kinds: Vec<FrameKind> = whole.iter().map(|(k, _)| *k).collect();
        use FrameKind::*;
        assert_eq!(
            kinds,
            vec![
                XmlDecl,
                StreamOpen,
                Whitespace,
                Element,
                Element,
                Whitespace,
                Element,
                Element,
                StreamOpen,
                Element,
                StreamClose
            ]
        );
        assert_eq!(whole[1].1, "<stream:stream xmlns='jabber:client' to='a>b'>");
        assert_eq!(whole[9].1, "<iq a='/>' b=\"'\"/>");
        for step in 1..40 {
            assert_eq!(frames(STREAM, step), whole, "split every {step} bytes");
        }
    }

    #[test]
    fn restricted_xml_is_reported() {
        let kinds = |s: &[u8]| {
            frames(s, s.len())
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(b"<s><!-- hi -->").get(1),
            Some(&FrameKind::Restricted)
        );
        assert_eq!(
            kinds(b"<!DOCTYPE x [<!ENTITY a 'b'>]><s>").first(),
            Some(&FrameKind::Restricted)
        );
        assert_eq!(
            kinds(b"<s><a><?pi x?></a>").get(1),
            Some(&FrameKind::Restricted)
        );
        assert_eq!(
            kinds(b"<s><a><!-- x --></a>").get(1),
            Some(&FrameKind::Restricted)
        );
        assert_eq!(
            kinds(b"<s>text<a/>"),
            vec![FrameKind::StreamOpen, FrameKind::Text, FrameKind::Element]
        );
    }

    #[test]
    fn depth_beyond_the_limit_is_flagged_not_buffered_forever() {
        let mut framer = Framer::new(3);
        let deep = format!("{}{}", "<a>".repeat(10), "</a>".repeat(10));
        let input = format!("<s>{deep}");
        let mut buf = input.as_bytes();
        let Status::Complete(open) = framer.advance(buf, |_| false) else {
            panic!()
        };
        buf = &buf[open.len..];
        let Status::Complete(el) = framer.advance(buf, |_| false) else {
            panic!()
        };
        assert!(el.too_deep);
        assert_eq!(el.len, deep.len());
    }
}
