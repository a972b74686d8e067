//! One direction of an XMPP stream: bytes in, events out.
//!
//! Input: reassembled data and gaps of one direction; output: `(Position, EventKind)`
//! reports. Holds the framer, the bytes of the one unfinished frame (bounded by the
//! stanza limit), the namespace scope of the current stream header, and the mode:
//! XML, waiting for TLS after `<starttls/>`, broken, or handed off: after `<proceed/>`
//! or `<compressed/>` (or on a WebSocket or BOSH connection from the first byte) the
//! bytes are for the layer the session stacks above ([`Handoff`]); those that came
//! in the same feed wait as the tail ([`Stream::take_tail`]).
//!
//! An element that lies whole in the bytes at hand is parsed in one pass, the parser
//! finding its end; the framer handles everything else (elements cut by segment
//! boundaries, stream headers, whitespace, anything not well-formed), with the same
//! frames (`tests/split.rs` cuts the same bytes both ways).

use super::classify;
use crate::limits::Limits;
use crate::model::{Anomaly, At, DirectionBytes, EventKind, Position, StreamOffset};
use crate::transport::tls::wire;
use crate::xml::{self, FrameKind, Framer, NsScope, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Xml,
    /// After `<starttls/>`: TLS if the next byte starts a TLS record.
    TlsPending,
    /// Everything from here on is TLS (RFC 6120 §5.4.3.3), for the TLS layer.
    Tls,
    /// Restricted XML or data after close: nothing more is parsed.
    Broken,
    /// Everything from here on is compressed (XEP-0138 §6), for the zlib layer.
    Compressed,
    /// The connection's bytes are WebSocket or BOSH from the first: the stream only
    /// counts them, for the carrier's layer.
    Carried,
}

/// What a stream hands its bytes to once it stops reading them: the layer the
/// session stacks above it, under a fresh stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    /// TLS after `<proceed/>` (RFC 6120 §5.4.3.3) or from the first byte (XEP-0368).
    Tls,
    /// Compression after `<compressed/>` (XEP-0138 §6).
    Compressed,
    /// WebSocket or BOSH (RFC 7395, XEP-0206).
    Carried,
}

/// Parser state of one direction.
#[derive(Debug)]
pub struct Stream {
    framer: Framer,
    pending: Vec<u8>,
    /// Stream offset of the current frame's first byte.
    frame_offset: u64,
    mode: Mode,
    scope: NsScope,
    headers: u32,
    /// Skipping to the next element start (after a gap or garbage).
    resync: bool,
    closed: bool,
    started: bool,
    /// Bytes after the switch to TLS or compression, with their offset, for the
    /// layer above.
    tail: Option<(u64, Vec<u8>)>,
    /// Report each element's bytes too (transcripts).
    keep_xml: bool,
    settings: classify::Settings,
    /// Events of the element being classified (kept to reuse its allocation).
    kinds: Vec<EventKind>,
    /// The element parser's vectors, reused from element to element.
    scratch: xml::Scratch,
    /// The current frame's first tag was over the stanza limit and its start was
    /// dropped; it is named like a stream header (decided before dropping it).
    dropped_tag_named_stream: bool,
    /// The current frame's bytes were let go for the buffer budget
    /// ([`Stream::let_go`]), not for its size.
    let_go: bool,
    /// `<compressed/>` may switch this stream to compression (not one already
    /// inflated from a compressed one: XEP-0138 compresses once).
    may_compress: bool,
    pub bytes: DirectionBytes,
}

/// Output of a direction: where and what.
pub type Report = (Position, EventKind);

/// Where a direction's reports go, in order.
pub trait Out {
    fn push(&mut self, report: Report);
}

impl Stream {
    pub fn new(limits: &Limits, keep_xml: bool, settings: classify::Settings) -> Stream {
        Stream {
            keep_xml,
            settings,
            framer: Framer::new(limits.max_depth),
            pending: Vec::new(),
            frame_offset: 0,
            mode: Mode::Xml,
            scope: NsScope::default(),
            headers: 0,
            resync: false,
            closed: false,
            started: false,
            tail: None,
            kinds: Vec::new(),
            scratch: xml::Scratch::scanning(settings.scan),
            dropped_tag_named_stream: false,
            let_go: false,
            may_compress: true,
            bytes: DirectionBytes::default(),
        }
    }

    /// The peer's `<compressed/>` switched the other direction: this one is
    /// compressed from its next byte too (XEP-0138 §6). Only from plain XML.
    pub fn start_compression(&mut self) {
        if self.may_compress && matches!(self.mode, Mode::Xml) {
            self.mode = Mode::Compressed;
            self.bytes.skipped += self.pending.len() as u64;
            self.pending.clear();
            self.framer.reset_frame();
            self.let_go = false;
        }
    }

    /// This direction is compressed (XEP-0138).
    pub fn is_compressed(&self) -> bool {
        matches!(self.mode, Mode::Compressed)
    }

    /// A stream inflated from a compressed one may not compress again.
    pub fn forbid_compression(&mut self) {
        self.may_compress = false;
    }

    /// This direction's byte counters, `unfinished` set.
    pub fn totals(&self) -> DirectionBytes {
        let mut b = self.bytes;
        b.unfinished = self.unfinished();
        b
    }

    /// WebSocket or BOSH from the first byte: the carrier's layer reads them.
    pub fn start_carried(&mut self) {
        self.mode = Mode::Carried;
    }

    /// Direct TLS (XEP-0368): TLS from the first byte.
    pub fn start_tls(&mut self) {
        if !matches!(self.mode, Mode::Tls) {
            self.mode = Mode::Tls;
            self.bytes.skipped += self.pending.len() as u64;
            self.pending.clear();
            self.framer.reset_frame();
            self.let_go = false;
        }
    }

    /// Bytes that followed the switch to TLS or compression inside the last feed,
    /// with the offset of the first.
    pub fn take_tail(&mut self) -> Option<(u64, Vec<u8>)> {
        self.tail.take()
    }

    /// What this stream hands its bytes to, once it does.
    pub fn handoff(&self) -> Option<Handoff> {
        match self.mode {
            Mode::Tls => Some(Handoff::Tls),
            Mode::Compressed => Some(Handoff::Compressed),
            Mode::Carried => Some(Handoff::Carried),
            Mode::Xml | Mode::TlsPending | Mode::Broken => None,
        }
    }

    /// Bytes of a direction handed off: counted, and their offset returned (the
    /// layer above positions its events by it).
    pub fn hand_on(&mut self, len: usize) -> u64 {
        let offset = self.frame_offset;
        self.bytes.payload += len as u64;
        self.frame_offset += len as u64;
        offset
    }

    pub fn started(&self) -> bool {
        self.started
    }

    /// Nothing of this direction has been parsed or skipped yet.
    fn untouched(&self) -> bool {
        self.headers == 0 && self.bytes.xml == 0 && self.bytes.skipped == 0 && !self.resync
    }

    /// The capture began inside this direction: assume an open stream and look for
    /// the next element start.
    /// The stream header was not captured, so its namespaces are assumed from the port
    /// (`content_ns`, with the conventional `stream` prefix).
    pub fn start_midstream(&mut self, offset: u64, content_ns: &str) {
        if !self.started {
            self.started = true;
            self.frame_offset = offset;
            self.framer.assume_in_stream();
            self.resync = true;
            self.scope.bind("", content_ns);
            self.scope.bind("stream", xml::ns::STREAMS);
        }
    }

    /// Elements arrive whole, without a stream header (XMPP over WebSocket, RFC 7395
    /// §3.3): each is top-level, and stanzas are in `jabber:client` unless they say
    /// otherwise (§3.3.3 has them say it).
    pub fn start_framed(&mut self) {
        if !self.started {
            self.started = true;
            self.frame_offset = 0;
            self.framer.assume_in_stream();
            self.scope.bind("", xml::ns::CLIENT);
            self.scope.bind("stream", xml::ns::STREAMS);
        }
    }

    /// The layer below lost bytes (and reported it): the unfinished element is
    /// dropped, and parsing resumes at the next element start.
    pub fn discard_partial(&mut self) {
        self.bytes.skipped += self.pending.len() as u64;
        self.pending.clear();
        self.framer.reset_frame();
        self.let_go = false;
        self.frame_offset = self.bytes.payload;
        if matches!(self.mode, Mode::Xml) {
            self.resync = true;
        }
    }

    /// Bytes from the capture were lost: report, drop the partial frame, resync.
    pub fn gap(&mut self, offset: u64, len: u64, at: At, out: &mut dyn Out) {
        self.started = true;
        self.bytes.missing += len;
        let partial = self.pending.len() as u64;
        self.bytes.skipped += partial;
        out.push((
            Position {
                time: at.time,
                frame: at.frame,
                offset: StreamOffset(offset),
                size: len,
                decrypted: false,
            },
            EventKind::Anomaly {
                anomaly: Anomaly::Gap,
                detail: format!("{len} bytes missing from the capture"),
            },
        ));
        self.pending.clear();
        self.framer.reset_frame();
        self.let_go = false;
        self.frame_offset = offset + len;
        if matches!(self.mode, Mode::Xml | Mode::TlsPending) {
            self.resync = true;
        }
    }

    /// Takes in-order bytes starting at stream offset `offset`.
    pub fn feed(&mut self, offset: u64, data: &[u8], at: At, limits: &Limits, out: &mut dyn Out) {
        if !self.started {
            self.started = true;
            self.frame_offset = offset;
        }
        self.bytes.payload += data.len() as u64;
        // An unfinished frame gets the new bytes one tag at a time (up to each `>`),
        // so only the bytes that complete it are copied; the rest is framed in place.
        // Feeding in pieces gives the same frames as feeding at once.
        let mut rest = data;
        while !self.pending.is_empty() && !rest.is_empty() {
            let cut = memchr::memchr(b'>', rest).map_or(rest.len(), |i| i + 1);
            let (head, tail) = rest.split_at(cut);
            self.feed_piece(head, at, limits, out);
            rest = tail;
        }
        if !rest.is_empty() {
            self.feed_piece(rest, at, limits, out);
        }
    }

    fn feed_piece(&mut self, data: &[u8], at: At, limits: &Limits, out: &mut dyn Out) {
        if self.pending.is_empty() {
            let used = self.run(data, at, limits, out);
            self.stash(data.get(used..).unwrap_or_default(), limits);
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(data);
            let used = self.run(&buf, at, limits, out);
            buf.drain(..used.min(buf.len()));
            self.pending = buf;
            self.bound_pending(limits);
        }
    }

    fn stash(&mut self, rest: &[u8], limits: &Limits) {
        self.pending.extend_from_slice(rest);
        self.bound_pending(limits);
    }

    /// RFC 6120 §13.12: stanza size is bounded; an oversized frame is scanned to its
    /// end without keeping its bytes. Once its start is dropped, every byte of it is
    /// dropped as it is scanned, so what is dropped and what is held at the end of
    /// the input does not depend on where the pieces were cut.
    fn bound_pending(&mut self, limits: &Limits) {
        let oversized = self.framer.has_dropped() && !self.pending.is_empty();
        if oversized || self.pending.len() > limits.max_stanza_bytes {
            self.drop_pending(limits);
        }
    }

    /// Drops the unfinished frame's bytes; the framer still finds its end.
    fn drop_pending(&mut self, limits: &Limits) {
        if !self.framer.has_dropped() {
            // The tag's name is about to go: whether it names a restart header is
            // decided now, by the rule applied to a whole oversized tag.
            self.dropped_tag_named_stream =
                self.framer.in_first_tag() && stream_named(&self.pending, limits.max_stanza_bytes);
        }
        let n = self.pending.len();
        self.framer.drop_scanned(n);
        self.bytes.skipped += n as u64;
        self.pending.clear();
    }

    /// Bytes of an element (or header, or text) that has begun and not ended, kept
    /// until it does.
    pub fn unfinished(&self) -> u64 {
        self.pending.len() as u64
    }

    /// Bytes of the unfinished element already dropped (over the stanza limit, or
    /// let go for the buffer budget) and counted as skipped.
    pub fn unfinished_dropped(&self) -> u64 {
        self.framer.dropped()
    }

    /// The name of the unfinished element, when its start tag got that far.
    pub fn unfinished_name(&self) -> Option<String> {
        let text = self.pending.trim_ascii_start();
        let rest = text.strip_prefix(b"<")?;
        let end = rest
            .iter()
            .position(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))?;
        let name = rest.get(..end).filter(|n| !n.is_empty())?;
        std::str::from_utf8(name).ok().map(str::to_owned)
    }

    /// Bytes of memory this direction holds for data still to come.
    pub fn held_bytes(&self) -> usize {
        self.pending.capacity()
    }

    /// The bytes held for all connections exceeded their budget
    /// (`Limits::max_buffered_bytes`): the unfinished frame's bytes are dropped and
    /// reported (`buffer_limit`), the frame is skipped when its end is found (as an
    /// oversized one is), and the buffer's memory is freed.
    pub fn let_go(&mut self, at: At, limits: &Limits, out: &mut dyn Out) {
        let n = self.pending.len();
        // While resynchronising, the few bytes held were not framed yet: kept.
        if n > 0 && !self.resync {
            out.push((
                self.here(at, n as u64),
                anomaly(
                    Anomaly::BufferLimit,
                    format!(
                        "{n} bytes of an unfinished element dropped: the {}-byte buffer budget for all connections was spent; the element is skipped",
                        limits.buffer_budget()
                    ),
                ),
            ));
            self.drop_pending(limits);
            self.let_go = true;
            self.pending = Vec::new();
        } else if self.pending.is_empty() {
            self.pending = Vec::new();
        }
    }

    fn run(&mut self, buf: &[u8], at: At, limits: &Limits, out: &mut dyn Out) -> usize {
        let mut pos = 0;
        // The valid UTF-8 text of `buf` from some position on, found once per call for
        // the one-pass parse of complete elements.
        let mut valid: Option<(usize, &str)> = None;
        while let Some(rest) = buf.get(pos..).filter(|r| !r.is_empty()) {
            match self.mode {
                // The layer above takes it from here (RFC 6120 §5.4.3.3, XEP-0138 §6).
                Mode::Tls | Mode::Compressed | Mode::Carried => {
                    match &mut self.tail {
                        Some((_, tail)) => tail.extend_from_slice(rest),
                        None => self.tail = Some((self.frame_offset, rest.to_vec())),
                    }
                    self.frame_offset += rest.len() as u64;
                    return buf.len();
                }
                Mode::Broken => {
                    self.bytes.skipped += rest.len() as u64;
                    self.frame_offset += rest.len() as u64;
                    return buf.len();
                }
                // At a frame's start only: bytes skipped while resynchronising are
                // not looked at one by one, so a handshake byte among them would
                // switch to TLS or not depending on where a segment happens to end.
                Mode::TlsPending if !self.resync && rest.first() == Some(&wire::HANDSHAKE) => {
                    self.mode = Mode::Tls;
                    continue;
                }
                // XEP-0368 on any port: a direction that opens with a TLS handshake
                // record is direct TLS.
                Mode::Xml if self.untouched() && rest.first() == Some(&wire::HANDSHAKE) => {
                    self.mode = Mode::Tls;
                    continue;
                }
                Mode::TlsPending | Mode::Xml => {}
            }
            if self.resync {
                let skip = resync_point(rest);
                if skip > 0 {
                    self.bytes.skipped += skip as u64;
                    self.frame_offset += skip as u64;
                    pos += skip;
                    continue;
                }
                if rest.len() < 2 || (rest.get(1) == Some(&b'/') && rest.len() < 16) {
                    return pos; // too few bytes to tell: wait for more
                }
                self.resync = false;
            }
            if self.at_element_start(rest) {
                // One pass: an element that is complete in `buf` is parsed where it
                // lies, and the parser finds its end; anything else (incomplete, not
                // well-formed, too deep, a restart) goes to the framer as before.
                let (from, text) = *valid.get_or_insert_with(|| (pos, valid_prefix(rest)));
                let text = text.get(pos - from..).unwrap_or_default();
                // At most the stanza limit: an element that does not end within it is
                // over the limit, and the framer path reports it (RFC 6120 §13.12).
                let text = text
                    .get(..text.floor_char_boundary(limits.max_stanza_bytes))
                    .unwrap_or_default();
                let parsed = xml::parse_element_prefix(
                    text,
                    &self.scope,
                    limits.max_attributes,
                    limits.max_depth as usize,
                    &mut self.scratch,
                );
                if let Some((tree, len)) = parsed {
                    classify::element(&tree, self.settings, &mut self.kinds);
                    self.scratch.keep(tree);
                    let size = len as u64;
                    let at_element = self.here(at, size);
                    self.frame_offset += size;
                    self.bytes.xml += size;
                    self.push_kinds(at_element, out);
                    pos += len;
                    continue;
                }
            }
            let scope = &self.scope;
            let dropped_named = self
                .framer
                .has_dropped()
                .then_some(self.dropped_tag_named_stream);
            let status = self.framer.advance(rest, |tag| match dropped_named {
                Some(named) => named,
                None => is_stream_header(tag, scope, limits),
            });
            let Status::Complete(frame) = status else {
                return pos;
            };
            let bytes = rest.get(..frame.len).unwrap_or_default();
            self.handle(frame, bytes, at, limits, out);
            pos += frame.len;
        }
        pos
    }

    /// At a frame's first byte (not inside an oversized frame whose start was dropped),
    /// which opens a start tag inside the stream, and nothing asks for the element's
    /// bytes: the one-pass parse may try.
    fn at_element_start(&self, rest: &[u8]) -> bool {
        self.framer.at_frame_start()
            && self.framer.in_stream()
            && !self.closed
            && !self.keep_xml
            && rest.first() == Some(&b'<')
            && rest.get(1).is_some_and(|&b| xml::framer::is_name_start(b))
    }

    /// Reports the classified element's events; `<starttls/>` and `<proceed/>` change
    /// the mode (RFC 6120 §5.4.3.3).
    fn push_kinds(&mut self, pos: Position, out: &mut dyn Out) {
        for kind in self.kinds.drain(..) {
            match kind {
                EventKind::TlsProceed => self.mode = Mode::Tls,
                EventKind::StartTls => self.mode = Mode::TlsPending,
                // XEP-0138 §6: the server compresses from the byte after it.
                EventKind::Compressed if self.may_compress && self.mode == Mode::Xml => {
                    self.mode = Mode::Compressed;
                }
                _ => {}
            }
            out.push((pos, kind));
        }
    }

    fn here(&self, at: At, size: u64) -> Position {
        Position {
            time: at.time,
            frame: at.frame,
            offset: StreamOffset(self.frame_offset),
            size,
            decrypted: false,
        }
    }

    fn handle(
        &mut self,
        frame: xml::Frame,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut dyn Out,
    ) {
        let size = frame.len as u64 + frame.dropped;
        // RFC 6120 §13.12: the same bound whether the frame came whole or in pieces
        // (pieces beyond it were dropped already).
        let oversized = if frame.dropped > 0 && std::mem::take(&mut self.let_go) {
            Some(Anomaly::BufferLimit)
        } else if frame.dropped > 0 || size > limits.max_stanza_bytes as u64 {
            Some(Anomaly::StanzaTooLarge)
        } else {
            None
        };
        let pos = self.here(at, size);
        self.frame_offset += size;
        if self.closed && !matches!(frame.kind, FrameKind::Whitespace) {
            out.push((
                pos,
                anomaly(
                    Anomaly::DataAfterClose,
                    "bytes after </stream:stream>".into(),
                ),
            ));
            self.mode = Mode::Broken;
            self.bytes.skipped += size;
            return;
        }
        if self.keep_xml
            && frame.dropped == 0
            && matches!(
                frame.kind,
                FrameKind::StreamOpen | FrameKind::StreamClose | FrameKind::Element
            )
        {
            let xml = String::from_utf8_lossy(bytes).into_owned();
            out.push((pos, EventKind::Xml { xml }));
        }
        match frame.kind {
            FrameKind::Whitespace => self.bytes.whitespace += size,
            FrameKind::XmlDecl => self.bytes.xml += size,
            FrameKind::StreamOpen => {
                self.bytes.xml += size;
                self.stream_open(bytes, oversized, pos, limits, out);
            }
            FrameKind::StreamClose => {
                self.bytes.xml += size;
                self.closed = true;
                out.push((pos, EventKind::StreamClose));
            }
            FrameKind::Element => {
                self.bytes.xml += size;
                self.element(frame, oversized, bytes, pos, limits, out);
            }
            FrameKind::Text => {
                self.bytes.skipped += size;
                self.resync = true;
                out.push((
                    pos,
                    anomaly(
                        Anomaly::TextAtTopLevel,
                        format!("{size} bytes of character data between elements"),
                    ),
                ));
            }
            FrameKind::Malformed => {
                self.bytes.skipped += size;
                self.resync = true;
                out.push((
                    pos,
                    anomaly(Anomaly::MalformedXml, "'<' that starts no tag".into()),
                ));
            }
            FrameKind::Restricted => {
                self.bytes.skipped += size;
                self.mode = Mode::Broken;
                out.push((
                    pos,
                    anomaly(Anomaly::RestrictedXml, "comment, processing instruction or DTD (RFC 6120 §11.1); stream not parsed further".into()),
                ));
            }
        }
    }

    fn stream_open(
        &mut self,
        bytes: &[u8],
        oversized: Option<Anomaly>,
        pos: Position,
        limits: &Limits,
        out: &mut dyn Out,
    ) {
        if let Some(kind) = oversized {
            // One let go for the buffer budget was reported when it was dropped.
            if kind == Anomaly::StanzaTooLarge {
                let detail = format!("stream header of {} bytes", pos.size);
                out.push((pos, anomaly(kind, detail)));
            }
            return;
        }
        match xml::parse_start_tag(bytes, &self.scope, limits.max_attributes) {
            Ok((tree, scope)) => {
                let mut kinds = Vec::new();
                if let Some(el) = tree.root() {
                    classify::stream_header(el, &scope, self.headers > 0, &mut kinds);
                }
                drop(tree);
                self.scope = scope;
                self.headers += 1;
                for kind in kinds {
                    out.push((pos, kind));
                }
            }
            Err(e) => out.push((
                pos,
                anomaly(Anomaly::MalformedXml, format!("stream header: {e}")),
            )),
        }
    }

    fn element(
        &mut self,
        frame: xml::Frame,
        oversized: Option<Anomaly>,
        bytes: &[u8],
        pos: Position,
        limits: &Limits,
        out: &mut dyn Out,
    ) {
        if frame.too_deep {
            out.push((
                pos,
                anomaly(
                    Anomaly::TooDeep,
                    format!("element nested deeper than {}", limits.max_depth),
                ),
            ));
            return;
        }
        if let Some(kind) = oversized {
            // One let go for the buffer budget was reported when it was dropped.
            if kind == Anomaly::StanzaTooLarge {
                let detail = format!(
                    "element of {} bytes exceeds the {}-byte limit",
                    pos.size, limits.max_stanza_bytes
                );
                out.push((pos, anomaly(kind, detail)));
            }
            return;
        }
        match xml::parse_element_with(bytes, &self.scope, limits.max_attributes, &mut self.scratch)
        {
            Ok(tree) => {
                classify::element(&tree, self.settings, &mut self.kinds);
                self.scratch.keep(tree);
                self.push_kinds(pos, out);
            }
            Err(xml::ElementError::Restricted) => {
                self.mode = Mode::Broken;
                out.push((
                    pos,
                    anomaly(
                        Anomaly::RestrictedXml,
                        "comment, processing instruction or DTD (RFC 6120 §11.1)".into(),
                    ),
                ));
            }
            Err(xml::ElementError::TooManyAttributes(n)) => {
                out.push((
                    pos,
                    anomaly(
                        Anomaly::TooManyAttributes,
                        format!("more than {n} attributes"),
                    ),
                ));
            }
            Err(e) => out.push((pos, anomaly(Anomaly::MalformedXml, e.to_string()))),
        }
    }
}

/// The longest prefix of `bytes` that is valid UTF-8, as text.
fn valid_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
            .unwrap_or_default(),
    }
}

fn anomaly(anomaly: Anomaly, detail: String) -> EventKind {
    EventKind::Anomaly { anomaly, detail }
}

/// Bytes to skip before the next plausible top-level start: `<` followed by a name
/// character or `?` (an XML declaration before a restart), or the conventional stream
/// close `</stream:stream>` (a heuristic: the real prefix is unknown after a gap).
fn resync_point(buf: &[u8]) -> usize {
    const CLOSE: &[u8] = b"</stream:stream>";
    let mut from = 0;
    while let Some(at) = buf.get(from..).and_then(|r| memchr::memchr(b'<', r)) {
        let lt = from + at;
        let rest = buf.get(lt..).unwrap_or_default();
        match rest.get(1) {
            None => return lt,
            Some(&b) if xml::framer::is_name_start(b) || b == b'?' => return lt,
            Some(b'/') if rest.len() < CLOSE.len() && CLOSE.starts_with(rest) => return lt,
            Some(b'/') if rest.starts_with(CLOSE) => return lt,
            Some(_) => from = lt + 1,
        }
    }
    buf.len()
}

/// True if a start tag inside the stream is a new stream header (a restart,
/// RFC 6120 §4.3.3): its name resolves to `{http://etherx.jabber.org/streams}stream`.
///
/// A tag over the stanza limit (RFC 6120 §13.12) is not parsed: its name decides, as
/// it must when the tag arrives in pieces and its start is dropped before its end.
fn is_stream_header(tag: &[u8], scope: &NsScope, limits: &Limits) -> bool {
    if !stream_named(tag, limits.max_stanza_bytes) {
        return false;
    }
    if tag.len() > limits.max_stanza_bytes {
        return true;
    }
    match xml::parse_start_tag(tag, scope, limits.max_attributes) {
        Ok((tree, _)) => tree
            .root()
            .is_some_and(|el| el.is(xml::ns::STREAMS, "stream")),
        Err(_) => false,
    }
}

/// True if `tag` starts with a start tag named `stream` or `prefix:stream`, the name
/// ending (at a byte that cannot be in a name) before index `limit`. The bound makes the
/// answer the same for a tag cut after `limit` bytes and for the whole tag: a name
/// that long is never a stream header's.
fn stream_named(tag: &[u8], limit: usize) -> bool {
    let name_end = xml::class::skip_while(tag, 1, xml::class::NAME);
    let name = tag.get(1..name_end).unwrap_or_default();
    tag.first() == Some(&b'<')
        && name_end < tag.len()
        && name_end <= limit
        && xml::is_stream_name(name)
}
