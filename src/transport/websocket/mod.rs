//! XMPP over WebSocket (RFC 7395): an HTTP/1.1 upgrade, then WebSocket frames
//! (RFC 6455) whose text messages each carry one whole XML element.
//!
//! Input: one direction's TCP bytes in order, and its gaps; output, to an [`Out`]:
//! events (the upgrade request, the server's answer, close frames, anomalies) and the
//! text of the messages, unmasked, as it arrives, for an XMPP stream without a stream
//! header. Messages compressed with permessage-deflate (RFC 7692), when the server's
//! answer accepted it, are inflated first ([`deflate`]). Held per direction: an
//! unfinished HTTP head (at most [`http::MAX_HEAD_BYTES`]), an unfinished frame header
//! (14 bytes), a control frame's payload (125 bytes), and with permessage-deflate a
//! decompressor (about 44 KiB, bounded output). After a gap or an undecodable frame the direction looks for the
//! next plausible frame start and goes on from there.

pub mod frame;

use crate::limits::Limits;
use crate::model::At;
use crate::model::{Anomaly, Direction, DirectionBytes, EventKind, Position};
use crate::status::Status;
use crate::transport::deflate::{self, MessageInflater};
use crate::transport::http;
use crate::transport::inflate::{Inflated, Tally};
use crate::transport::layer::{self, position, Layer, Out, Through};
use frame::{Header, Invalid};

impl Layer for Connection {
    fn feed(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        _: &Limits,
        out: &mut dyn Out,
    ) {
        self.read(dir, offset, bytes, at, out);
    }

    fn gap(&mut self, dir: Direction, len: u64, out: &mut dyn Out) {
        self.lose(dir, len, out);
    }

    fn let_go(&mut self, dir: Direction, at: At, out: &mut dyn Out) {
        layer::http_let_go(self.drop_head(dir), dir, at, out);
    }

    fn held_bytes(&self) -> usize {
        self.held()
    }

    fn resident_bytes(&self) -> usize {
        self.resident()
    }

    fn count(&self, dir: Direction, through: Through, b: &mut DirectionBytes) {
        let (skipped, unfinished) = (self.skipped(dir), self.unfinished(dir));
        layer::count_carried(through, skipped, unfinished, self.compression(dir), b);
    }

    fn finish(&self, dir: Direction) -> Option<String> {
        layer::http_unfinished(self.unfinished(dir))
    }
}

/// Both directions of one XMPP-over-WebSocket connection.
#[derive(Debug, Default)]
pub struct Connection {
    sides: [Side; 2],
    /// permessage-deflate as the server accepted it.
    deflate: Option<deflate::Params>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the HTTP head (request or answer).
    #[default]
    Http,
    Frames,
    /// Refused, or not WebSocket: the rest is counted, not read.
    Done,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Message {
    #[default]
    None,
    /// A text message, passed on.
    Text,
    /// A text message compressed with permessage-deflate, inflated and passed on.
    Compressed,
    /// A message not passed on (binary, compressed, or its start was lost).
    Skipped,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    header: Header,
    /// Payload bytes seen so far.
    done: u64,
    /// Offset of the frame's first byte.
    start: u64,
}

#[derive(Debug, Default)]
struct Side {
    phase: Phase,
    /// The HTTP head while it arrives.
    head: http::HeadReader,
    /// An unfinished frame header, or bytes being searched for a frame start;
    /// `held_at` is the offset of its first byte.
    held: Vec<u8>,
    held_at: u64,
    frame: Option<Current>,
    message: Message,
    /// A control frame's payload.
    control: Vec<u8>,
    /// Frame boundaries were lost: looking for the next frame start.
    lost: bool,
    /// The first byte held is known not to start a frame.
    skip_first: bool,
    /// Masking was wrong once in this direction (reported once).
    mask_reported: bool,
    /// Unmasked text of the current frame piece (reused).
    scratch: Vec<u8>,
    /// This direction's messages inflated, once permessage-deflate is accepted.
    inflate: Option<MessageInflater>,
    /// Bytes not read: skipped while looking for a frame, in skipped messages, or
    /// after a refusal.
    skipped: u64,
}

fn malformed(detail: String) -> EventKind {
    layer::anomaly(Anomaly::WebsocketMalformed, detail)
}

impl Connection {
    fn side(&mut self, dir: Direction) -> &mut Side {
        dir.of_mut(&mut self.sides)
    }

    /// Bytes of this direction not read as XMPP (see [`Side::skipped`]).
    fn skipped(&self, dir: Direction) -> u64 {
        dir.of(&self.sides).skipped
    }

    /// Compressed message bytes of this direction and what they inflated to.
    fn compression(&self, dir: Direction) -> Tally {
        dir.of(&self.sides)
            .inflate
            .as_ref()
            .map_or_else(Tally::default, |i| i.tally)
    }

    /// Bytes of memory the connection takes besides its buffers for data to come:
    /// itself and its decompressors.
    fn resident(&self) -> usize {
        std::mem::size_of::<Connection>()
            + self
                .sides
                .iter()
                .filter_map(|s| s.inflate.as_ref())
                .map(MessageInflater::resident_bytes)
                .sum::<usize>()
    }

    /// The permessage-deflate parameters the server accepted, if it did.
    pub fn deflate(&self) -> Option<deflate::Params> {
        self.deflate
    }

    /// Bytes of this direction held unfinished: an HTTP head, a frame header or a
    /// control frame's payload still arriving (text payload is passed on as it comes).
    fn unfinished(&self, dir: Direction) -> u64 {
        let s = dir.of(&self.sides);
        let head = if s.phase == Phase::Http {
            s.head.len()
        } else {
            0
        };
        // The last control payload is kept after its frame ends (cleared at the
        // next control frame's start): unfinished only inside a control frame.
        let control = match s.frame {
            Some(f) if f.header.is_control() => s.control.len(),
            _ => 0,
        };
        (head + s.held.len() + control) as u64
    }

    /// Bytes of memory held for data still to come.
    fn held(&self) -> usize {
        self.sides
            .iter()
            .map(|s| {
                s.head.capacity()
                    + s.held.capacity()
                    + s.control.capacity()
                    + s.scratch.capacity()
                    + s.inflate.as_ref().map_or(0, MessageInflater::held_bytes)
            })
            .sum()
    }

    /// The buffer budget is spent: an unfinished HTTP head is dropped (that direction
    /// is not read further); returns the bytes dropped.
    fn drop_head(&mut self, dir: Direction) -> usize {
        let side = self.side(dir);
        side.scratch = Vec::new();
        if side.phase != Phase::Http || side.head.is_empty() {
            return 0;
        }
        let n = side.head.clear();
        side.skipped += n as u64;
        side.phase = Phase::Done;
        n
    }

    /// Bytes of this direction were lost.
    fn lose(&mut self, dir: Direction, len: u64, rx: &mut dyn Out) {
        let side = self.side(dir);
        match side.phase {
            // The head cannot be completed.
            Phase::Http => {
                side.skipped += side.head.clear() as u64;
                side.phase = Phase::Done;
            }
            Phase::Frames => {
                let in_payload = side
                    .frame
                    .is_some_and(|f| !f.header.is_control() && f.header.len - f.done > len);
                match (side.frame.as_mut(), in_payload) {
                    // Lost inside a data frame whose end is still ahead: skip to it.
                    (Some(f), true) => {
                        f.done += len;
                        side.lose_message();
                    }
                    _ => {
                        side.lose_message();
                        side.skipped += side.held.len() as u64;
                        side.held.clear();
                        side.frame = None;
                        side.control.clear();
                        side.message = Message::None;
                        side.lost = true;
                        side.skip_first = false;
                    }
                }
                rx.lost(dir);
            }
            Phase::Done => {}
        }
    }

    /// Takes in-order bytes of one direction starting at `offset`.
    fn read(&mut self, dir: Direction, offset: u64, bytes: &[u8], at: At, rx: &mut dyn Out) {
        let mut pos = offset;
        let mut rest = bytes;
        while !rest.is_empty() {
            let (phase, lost) = {
                let side = self.side(dir);
                (side.phase, side.lost)
            };
            let used = match phase {
                Phase::Http => self.http(dir, pos, rest, at, rx),
                Phase::Frames if lost => self.search(dir, pos, rest),
                Phase::Frames => self.frames(dir, pos, rest, at, rx),
                Phase::Done => {
                    self.side(dir).skipped += rest.len() as u64;
                    rest.len()
                }
            };
            let used = used.min(rest.len());
            pos += used as u64;
            rest = rest.get(used..).unwrap_or_default();
        }
    }

    /// Collects the HTTP head; returns the bytes of `rest` used.
    fn http(&mut self, dir: Direction, pos: u64, rest: &[u8], at: At, rx: &mut dyn Out) -> usize {
        let side = self.side(dir);
        match side.head.push(pos, rest) {
            Ok(Status::Partial) => rest.len(),
            Err(http::TooLong { dropped, at: from }) => {
                side.skipped += dropped as u64;
                side.phase = Phase::Done;
                let detail = format!("HTTP head longer than {} bytes", http::MAX_HEAD_BYTES);
                rx.event(dir, position(from, dropped as u64, at), malformed(detail));
                rest.len()
            }
            Ok(Status::Complete(http::Done {
                head,
                at: from,
                used,
            })) => {
                let pos = position(from, head.len() as u64, at);
                self.head(dir, &head, pos, rx);
                // The head ended inside `rest`: what follows it is frames.
                used
            }
        }
    }

    /// The upgrade request (RFC 6455 §4.1) or the server's answer (§4.2.2).
    fn head(&mut self, dir: Direction, head: &[u8], pos: Position, rx: &mut dyn Out) {
        let parsed = http::Head::parse(head);
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|h| h.field(name))
                .map(str::to_owned)
        };
        let kind = match (dir, parsed.as_ref()) {
            (Direction::ToServer, Some(h)) if h.get_target().is_some() => {
                self.side(dir).phase = Phase::Frames;
                EventKind::WebsocketUpgrade {
                    path: h.get_target().unwrap_or_default().to_owned(),
                    host: field("host"),
                    protocol: field("sec-websocket-protocol"),
                    extensions: field("sec-websocket-extensions"),
                }
            }
            (Direction::ToClient, Some(h)) if h.status().is_some() => {
                let status = h.status().unwrap_or_default();
                if status == 101 {
                    self.side(dir).phase = Phase::Frames;
                    // RFC 7692 §5: the server's answer settles the extension.
                    let accepted = field("sec-websocket-extensions");
                    self.deflate = accepted.as_deref().and_then(deflate::Params::from_header);
                    if let Some(params) = self.deflate {
                        for (side, to_server) in self.sides.iter_mut().zip([true, false]) {
                            side.inflate = Some(MessageInflater::new(params.takeover(to_server)));
                        }
                    }
                } else {
                    // Refused (RFC 6455 §4.2.2): no frames follow on either side.
                    for side in &mut self.sides {
                        side.phase = Phase::Done;
                    }
                }
                EventKind::WebsocketAccept {
                    status,
                    protocol: field("sec-websocket-protocol"),
                    extensions: field("sec-websocket-extensions"),
                    deflate: self.deflate.is_some(),
                }
            }
            _ => {
                self.side(dir).phase = Phase::Done;
                self.side(dir).skipped += head.len() as u64;
                let what = if dir == Direction::ToServer {
                    "an HTTP GET request"
                } else {
                    "an HTTP status line"
                };
                malformed(format!("expected {what} upgrading to WebSocket"))
            }
        };
        rx.event(dir, pos, kind);
    }

    /// Reads frames; returns the bytes of `rest` used.
    fn frames(&mut self, dir: Direction, pos: u64, rest: &[u8], at: At, rx: &mut dyn Out) -> usize {
        let side = self.side(dir);
        if let Some(current) = side.frame {
            let left = current.header.len - current.done;
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
            let piece = rest.get(..n).unwrap_or_default();
            self.payload(dir, current, piece, at, rx);
            let side = self.side(dir);
            if let Some(f) = side.frame.as_mut() {
                f.done += n as u64;
                if f.done >= f.header.len {
                    self.end_frame(dir, at, rx);
                }
            }
            return n;
        }
        // A frame header: from `rest` directly, or completing the bytes held.
        let before = side.held.len();
        let (parsed, start) = if before == 0 {
            (frame::parse(rest), pos)
        } else {
            let add = rest.len().min(frame::MAX_HEADER.saturating_sub(before));
            side.held
                .extend_from_slice(rest.get(..add).unwrap_or_default());
            (frame::parse(&side.held), side.held_at)
        };
        match parsed {
            Ok(Status::Complete(header)) => {
                // After a search the bytes held may run past the header.
                let past = (before > header.header_len)
                    .then(|| side.held.get(header.header_len..before).map(<[u8]>::to_vec))
                    .flatten();
                side.held.clear();
                self.start_frame(dir, header, start, at, rx);
                if header.len == 0 {
                    self.end_frame(dir, at, rx);
                }
                if let Some(past) = past {
                    // At most 13 bytes, fewer at each level.
                    self.read(dir, start + header.header_len as u64, &past, at, rx);
                    return 0;
                }
                header.header_len.saturating_sub(before)
            }
            Ok(Status::Partial) => {
                if before == 0 {
                    side.held_at = pos;
                    side.held.extend_from_slice(rest);
                }
                rest.len()
            }
            Err(Invalid(why)) => {
                if before == 0 {
                    side.held_at = pos;
                }
                side.held.truncate(before);
                side.lost = true;
                side.skip_first = true;
                let pos = position(start, 0, at);
                rx.event(
                    dir,
                    pos,
                    malformed(format!(
                        "undecodable frame: {why}; looking for the next frame"
                    )),
                );
                rx.lost(dir);
                0
            }
        }
    }

    fn start_frame(
        &mut self,
        dir: Direction,
        header: Header,
        start: u64,
        at: At,
        rx: &mut dyn Out,
    ) {
        let side = self.side(dir);
        let mut report = |detail: String| rx.event(dir, position(start, 0, at), malformed(detail));
        // RFC 6455 §5.1: clients mask every frame, servers none.
        let must_mask = dir == Direction::ToServer;
        if header.mask.is_some() != must_mask && !side.mask_reported {
            side.mask_reported = true;
            report(if must_mask {
                "unmasked frame from the client (RFC 6455 §5.1)".into()
            } else {
                "masked frame from the server (RFC 6455 §5.1)".into()
            });
        }
        // RFC 7692 §6.1: only a message's first frame says it is compressed.
        if header.compressed && (header.is_control() || header.opcode == frame::CONTINUATION) {
            report("RSV1 set on a control or continuation frame (RFC 7692 §6.1)".into());
        }
        if !header.is_control() {
            let starts = header.opcode != frame::CONTINUATION;
            if starts && side.message != Message::None {
                report("a new message before the last one ended (RFC 6455 §5.4)".into());
                side.lose_message();
            }
            side.message = match header.opcode {
                frame::TEXT if header.compressed => match &side.inflate {
                    None => {
                        report("compressed message, but permessage-deflate was not accepted (RFC 7692 §6); not read".into());
                        Message::Skipped
                    }
                    // Reported when it broke.
                    Some(i) if i.broken().is_some() => Message::Skipped,
                    Some(_) => Message::Compressed,
                },
                frame::TEXT => Message::Text,
                frame::BINARY => {
                    report("binary message: XMPP is sent as text (RFC 7395 §3.2)".into());
                    Message::Skipped
                }
                _ if side.message == Message::None => {
                    report("continuation frame without a message (RFC 6455 §5.4)".into());
                    Message::Skipped
                }
                _ => side.message,
            };
        }
        side.control.clear();
        side.frame = Some(Current {
            header,
            done: 0,
            start,
        });
    }

    fn payload(
        &mut self,
        dir: Direction,
        current: Current,
        piece: &[u8],
        at: At,
        rx: &mut dyn Out,
    ) {
        let side = self.side(dir);
        let header = current.header;
        if header.is_control() {
            side.control.extend_from_slice(piece);
            if let Some(mask) = header.mask {
                let from = side.control.len() - piece.len();
                if let Some(tail) = side.control.get_mut(from..) {
                    frame::unmask(tail, mask, current.done);
                }
            }
            return;
        }
        if !matches!(side.message, Message::Text | Message::Compressed) {
            side.skipped += piece.len() as u64;
            return;
        }
        let mut scratch = std::mem::take(&mut side.scratch);
        let text = match header.mask {
            Some(mask) => {
                scratch.clear();
                scratch.extend_from_slice(piece);
                frame::unmask(&mut scratch, mask, current.done);
                &scratch[..]
            }
            None => piece,
        };
        if side.message == Message::Text {
            rx.elements(dir, text, at);
        } else {
            let pos = position(current.start, 0, at);
            side.inflated(dir, |i| i.feed(text), pos, at, rx);
        }
        self.side(dir).scratch = scratch;
    }

    fn end_frame(&mut self, dir: Direction, at: At, rx: &mut dyn Out) {
        let side = self.side(dir);
        let Some(current) = side.frame.take() else {
            return;
        };
        let header = current.header;
        if !header.is_control() {
            if header.fin {
                if side.message == Message::Compressed {
                    let pos = position(current.start, 0, at);
                    side.inflated(dir, MessageInflater::end_message, pos, at, rx);
                }
                side.message = Message::None;
            }
            return;
        }
        if header.opcode == frame::CLOSE {
            // RFC 6455 §5.5.1: an optional status code, then a UTF-8 reason.
            let control = std::mem::take(&mut side.control);
            let code = match (control.first(), control.get(1)) {
                (Some(&a), Some(&b)) => Some(u16::from_be_bytes([a, b])),
                _ => None,
            };
            let reason = control
                .get(2..)
                .filter(|r| !r.is_empty())
                .map(|r| String::from_utf8_lossy(r).into_owned());
            side.control = control;
            let size = header.header_len as u64 + header.len;
            rx.event(
                dir,
                position(current.start, size, at),
                EventKind::WebsocketClose { code, reason },
            );
        }
    }

    /// Looks for a frame start after lost bytes, in the bytes held and `rest`; returns
    /// the bytes of `rest` used. A frame start is a header a sender would write here:
    /// a final or first frame of a known kind, masked as this direction must be, and a
    /// text frame's payload starting like XML.
    fn search(&mut self, dir: Direction, pos: u64, rest: &[u8]) -> usize {
        let side = self.side(dir);
        let afresh = side
            .inflate
            .as_ref()
            .is_some_and(MessageInflater::starts_afresh);
        if side.held.is_empty() {
            side.held_at = pos;
        }
        let held_bytes = std::mem::take(&mut side.held);
        let held = held_bytes.len();
        let total = held + rest.len();
        let byte = |i: usize| {
            if i < held {
                held_bytes.get(i).copied()
            } else {
                rest.get(i - held).copied()
            }
        };
        let first = usize::from(std::mem::take(&mut side.skip_first));
        let mut window = [0u8; frame::MAX_HEADER + 1];
        let mut kept_from = total;
        let mut found = None;
        for i in first..total {
            let n = window.len().min(total - i);
            for (k, slot) in window.iter_mut().enumerate().take(n) {
                *slot = byte(i + k).unwrap_or(0);
            }
            match plausible_start(window.get(..n).unwrap_or_default(), dir, afresh) {
                Plausible::No => continue,
                Plausible::NeedMore => {
                    kept_from = i;
                    break;
                }
                Plausible::Yes => {
                    found = Some(i);
                    break;
                }
            }
        }
        if let Some(i) = found {
            side.lost = false;
            side.skipped += i as u64;
            if i < held {
                // The frame starts in the bytes held: read on from there.
                side.held = held_bytes.get(i..).unwrap_or_default().to_vec();
                side.held_at += i as u64;
                return 0;
            }
            return i - held;
        }
        // Nothing yet: keep the bytes that may still start a frame.
        let keep_from = kept_from.max(total.saturating_sub(frame::MAX_HEADER));
        side.skipped += keep_from as u64;
        side.held = (keep_from..total).filter_map(byte).collect();
        side.held_at = (pos + keep_from as u64).saturating_sub(held as u64);
        rest.len()
    }
}

impl Side {
    /// The current message cannot be completed: a compressed one ends its
    /// decompressor's message (and with context takeover its direction).
    fn lose_message(&mut self) {
        if self.message == Message::Compressed {
            if let Some(i) = self.inflate.as_mut() {
                i.lose();
            }
        }
        if matches!(self.message, Message::Text | Message::Compressed) {
            self.message = Message::Skipped;
        }
    }

    /// Runs `step` on this direction's decompressor and passes on what it
    /// inflated; an error is an anomaly at `pos` and the message is skipped.
    fn inflated(
        &mut self,
        dir: Direction,
        step: impl FnOnce(&mut MessageInflater) -> Inflated<'_>,
        pos: Position,
        at: At,
        rx: &mut dyn Out,
    ) {
        let Some(inflater) = self.inflate.as_mut() else {
            return;
        };
        let inflated = step(inflater);
        if !inflated.text.is_empty() {
            rx.elements(dir, inflated.text, at);
        }
        match inflated.error {
            None => {}
            Some(e) => {
                let then = match inflater.broken() {
                    Some(_) => "compressed messages of this direction are not read further",
                    None => "the rest of this message is skipped",
                };
                let detail = format!("permessage-deflate (RFC 7692): {e}; {then}");
                rx.event(dir, pos, layer::anomaly(Anomaly::CompressionError, detail));
                self.message = Message::Skipped;
            }
        }
    }
}

enum Plausible {
    Yes,
    No,
    NeedMore,
}

/// With `afresh`, a compressed message may start as well (its sender keeps no
/// context between messages, RFC 7692 §7.1.1).
fn plausible_start(bytes: &[u8], dir: Direction, afresh: bool) -> Plausible {
    let header = match frame::parse(bytes) {
        Ok(Status::Complete(h)) => h,
        Ok(Status::Partial) => return Plausible::NeedMore,
        Err(_) => return Plausible::No,
    };
    let masked_right = header.mask.is_some() == (dir == Direction::ToServer);
    let kind_ok = matches!(
        header.opcode,
        frame::TEXT | frame::CLOSE | frame::PING | frame::PONG
    );
    let compressed_ok = !header.compressed || (afresh && header.opcode == frame::TEXT);
    if !masked_right || !kind_ok || !compressed_ok || header.len > 1 << 24 {
        return Plausible::No;
    }
    if header.opcode != frame::TEXT {
        return Plausible::Yes;
    }
    let Some(&first) = bytes.get(header.header_len) else {
        return Plausible::NeedMore;
    };
    let first = first ^ header.mask.map_or(0, |m| m[0]);
    // A DEFLATE block's type (RFC 1951 §3.2.3, bits 1-2) is never 3.
    let start_ok = if header.compressed {
        (first >> 1) & 3 != 3
    } else {
        first == b'<'
    };
    if start_ok {
        Plausible::Yes
    } else {
        Plausible::No
    }
}
