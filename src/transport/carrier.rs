//! What a protocol that carries XMPP inside another (WebSocket, BOSH) hands on.
//!
//! Input: nothing; the layers in `websocket` and `bosh` call a [`Receiver`], which
//! the session implements: their own events as they are, and the XMPP bytes they
//! unwrapped, in order, for a stream whose elements arrive without a stream header.

use crate::model::At;
use crate::model::{Anomaly, Direction, EventKind, Position, StreamOffset};

pub trait Receiver {
    fn event(&mut self, dir: Direction, pos: Position, kind: EventKind);
    /// XMPP bytes of this direction, in order (unmasked message text, or the content of
    /// a BOSH `<body>`).
    fn text(&mut self, dir: Direction, bytes: &[u8], at: At);
    /// Bytes of this direction were lost: an unfinished element will not be completed.
    fn lost(&mut self, dir: Direction);
}

/// Where a carrier's own event lies: `size` bytes from `offset` of the direction's TCP
/// bytes, completed in the frame of `at`.
pub fn position(offset: u64, size: u64, at: At) -> Position {
    Position {
        time: at.time,
        frame: at.frame,
        offset: StreamOffset(offset),
        size,
        decrypted: false,
    }
}

/// An anomaly of kind `anomaly` with `detail`.
pub fn anomaly(anomaly: Anomaly, detail: String) -> EventKind {
    EventKind::Anomaly { anomaly, detail }
}
