//! The one contract between the layers that carry XMPP: a [`Layer`] takes one
//! direction's bytes in order and hands what it unwraps, its own events, and what it
//! lost to an [`Out`]: the layer above it or, at the top, the session's XMPP streams.
//!
//! Input: in-order bytes per direction, gaps, the buffer budget's "let go", and the
//! end of input; output, through [`Out`]: events, unwrapped bytes, lost ranges.
//! [`super::stack::Stack`] runs the layers of one connection bottom to top; a layer
//! never knows what lies above or below it (Suricata's app layers and the engine that
//! swaps them, pcap-analyzer's `Plugin` with its no-op hooks).
//!
//! Adding a layer is one file implementing [`Layer`] plus one line where the stack is
//! built (`session::Session` for TLS, [`super::sniff`] for what TLS carries).

use crate::limits::Limits;
use crate::model::{Anomaly, At, Direction, DirectionBytes, EventKind, Position, StreamOffset};
use crate::transport::inflate::Tally;

/// Where a layer's output goes.
pub trait Out {
    /// An event of the layer itself (a TLS handshake message, a WebSocket upgrade, an
    /// anomaly), positioned in the layer's own input.
    fn event(&mut self, dir: Direction, pos: Position, kind: EventKind);
    /// Bytes unwrapped for what lies above, in order: a byte stream that opens with
    /// its own stream header (TLS plaintext).
    fn bytes(&mut self, dir: Direction, bytes: &[u8], at: At);
    /// XMPP elements without a stream header, in order: a WebSocket message's text
    /// (RFC 7395 §3.3) or a BOSH body's content (XEP-0124 §4).
    fn elements(&mut self, dir: Direction, bytes: &[u8], at: At);
    /// Bytes of `dir` were lost: what lies above holds an unfinished piece that will
    /// not be completed.
    fn lost(&mut self, dir: Direction);
}

/// What went into a layer and what came out of it, per direction (counted by the
/// stack), from which a layer works out its framing overhead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Through {
    pub input: u64,
    pub output: u64,
}

/// One layer of a connection's transport stack, both directions. Every hook but
/// `feed` has a default for a layer that holds nothing.
pub trait Layer: std::fmt::Debug + Send {
    /// Takes in-order bytes of `dir`, the first at `offset` of this layer's input.
    fn feed(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut dyn Out,
    );

    /// `len` bytes of `dir` were lost before what comes next.
    fn gap(&mut self, _dir: Direction, _len: u64, _out: &mut dyn Out) {}

    /// The bytes held for all connections exceeded their budget: frees the buffers
    /// of `dir`, reporting what was dropped (`buffer_limit`) through `out.event`.
    fn let_go(&mut self, _dir: Direction, _at: At, _out: &mut dyn Out) {}

    /// Bytes of memory held for data still to come.
    fn held_bytes(&self) -> usize {
        0
    }

    /// Bytes of memory the layer takes besides those buffers (for the flow table's
    /// estimate).
    fn resident_bytes(&self) -> usize {
        0
    }

    /// Adds this layer's counters for `dir` to the direction's byte table;
    /// `through` is what the stack passed in and out of it.
    fn count(&self, _dir: Direction, _through: Through, _bytes: &mut DirectionBytes) {}

    /// End of input: what of `dir` this layer still holds unfinished, in words, for
    /// the `unfinished_at_end` anomaly.
    fn finish(&self, _dir: Direction) -> Option<String> {
        None
    }

    /// What this layer hands on is decrypted: events above it are marked so.
    fn decrypts(&self) -> bool {
        false
    }
}

/// The counters of a layer that unwraps XMPP from messages (WebSocket, BOSH, HTTP
/// that is not XMPP): what it `skipped` and holds `unfinished`, the compressed
/// message bytes and what they inflated to, and as framing whatever else went in.
pub fn count_carried(
    through: Through,
    skipped: u64,
    unfinished: u64,
    deflate: Tally,
    b: &mut DirectionBytes,
) {
    b.skipped += skipped;
    b.unfinished += unfinished;
    b.compressed += deflate.wire;
    b.inflated += deflate.inflated;
    // Of the bytes handed on, the inflated came from `compressed`.
    let unwrapped = through.output.saturating_sub(deflate.inflated) + deflate.wire;
    b.framing += through
        .input
        .saturating_sub(unwrapped + skipped + unfinished);
}

/// Where a layer's own event lies: `size` bytes from `offset` of the layer's input,
/// completed in the frame of `at`.
pub fn position(offset: u64, size: u64, at: At) -> Position {
    Position {
        time: at.time,
        frame: at.frame,
        offset: StreamOffset(offset),
        size,
        decrypted: false,
    }
}

/// Where an event of the whole connection lies: no byte range, only the frame.
pub fn flow_position(at: At) -> Position {
    Position {
        time: at.time,
        frame: at.frame,
        ..Position::default()
    }
}

/// An anomaly of kind `anomaly` with `detail`.
pub fn anomaly(anomaly: Anomaly, detail: String) -> EventKind {
    EventKind::Anomaly { anomaly, detail }
}

/// `n` bytes of an unfinished HTTP message of `dir` were dropped for the buffer
/// budget (a carrier's `let_go`).
pub fn http_let_go(n: usize, dir: Direction, at: At, out: &mut dyn Out) {
    if n > 0 {
        let detail = format!("{n} bytes of an unfinished HTTP message dropped (buffer budget for all connections spent)");
        out.event(
            dir,
            flow_position(at),
            anomaly(Anomaly::BufferLimit, detail),
        );
    }
}

/// The words for `n` unfinished bytes of a carrier at the end of input.
pub fn http_unfinished(n: u64) -> Option<String> {
    (n > 0).then(|| format!("{n} bytes of an unfinished HTTP or WebSocket message"))
}
