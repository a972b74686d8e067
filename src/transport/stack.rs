//! One connection's transport stack: the layers below its XMPP streams, bottom
//! first, each feeding the next.
//!
//! Input: the connection's bytes per direction (TCP, or what follows a STARTTLS),
//! gaps, "let go", end of input; output, to the top's [`Out`] (the session): every
//! layer's events, marked decrypted above a layer that decrypts, and the XMPP bytes
//! or elements the highest layer unwraps. The session builds the stack from the
//! connection's detection verdict (WebSocket, BOSH, direct TLS) and from its own
//! requests (`<proceed/>`: TLS); what TLS carries is told by [`super::sniff`].
//! Each layer's input and output are counted here, so a layer knows its overhead.

use crate::limits::Limits;
use crate::model::{At, Direction, DirectionBytes, EventKind, Position};
use crate::transport::layer::{Layer, Out, Through};

/// The layers of one connection, bottom first.
#[derive(Debug, Default)]
pub struct Stack {
    slots: Vec<Slot>,
}

#[derive(Debug)]
struct Slot {
    layer: Box<dyn Layer>,
    /// Bytes fed in and handed on, per direction.
    input: [u64; 2],
    output: [u64; 2],
}

impl Stack {
    /// Puts `layer` on top.
    pub fn push(&mut self, layer: Box<dyn Layer>) {
        self.slots.push(Slot {
            layer,
            input: [0, 0],
            output: [0, 0],
        });
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Some layer decrypts: what reaches the top is decrypted.
    pub fn decrypts(&self) -> bool {
        self.slots.iter().any(|s| s.layer.decrypts())
    }

    /// In-order bytes of `dir` for the bottom layer, the first at `offset`.
    pub fn feed(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        top: &mut dyn Out,
    ) {
        feed_from(&mut self.slots, false, dir, offset, bytes, at, limits, top);
    }

    /// `len` bytes of `dir` were lost below the bottom layer.
    pub fn gap(&mut self, dir: Direction, len: u64, limits: &Limits, top: &mut dyn Out) {
        gap_from(&mut self.slots, false, dir, len, limits, top);
    }

    /// The buffer budget is spent: every layer frees its buffers, top first, each
    /// direction in turn; what they drop is reported to `top`.
    pub fn let_go(&mut self, at: At, top: &mut dyn Out) {
        for slot in self.slots.iter_mut().rev() {
            for dir in [Direction::ToServer, Direction::ToClient] {
                slot.layer.let_go(dir, at, top);
            }
        }
    }

    pub fn held_bytes(&self) -> usize {
        self.slots.iter().map(|s| s.layer.held_bytes()).sum()
    }

    pub fn resident_bytes(&self) -> usize {
        self.slots.iter().map(|s| s.layer.resident_bytes()).sum()
    }

    /// Adds every layer's counters for `dir` to its byte table, bottom first.
    pub fn count(&self, dir: Direction, bytes: &mut DirectionBytes) {
        for slot in &self.slots {
            let through = Through {
                input: *dir.of(&slot.input),
                output: *dir.of(&slot.output),
            };
            slot.layer.count(dir, through, bytes);
        }
    }

    /// End of input: what each layer holds unfinished in `dir`, bottom first.
    pub fn finish(&self, dir: Direction, parts: &mut Vec<String>) {
        parts.extend(self.slots.iter().filter_map(|s| s.layer.finish(dir)));
    }
}

/// Feeds the lowest of `slots`, or the top when none is left.
#[allow(clippy::too_many_arguments)]
fn feed_from(
    slots: &mut [Slot],
    decrypted: bool,
    dir: Direction,
    offset: u64,
    bytes: &[u8],
    at: At,
    limits: &Limits,
    top: &mut dyn Out,
) {
    let Some((slot, above)) = slots.split_first_mut() else {
        return top.bytes(dir, bytes, at);
    };
    *dir.of_mut(&mut slot.input) += bytes.len() as u64;
    let mut next = Next {
        above,
        output: &mut slot.output,
        decrypted,
        decrypts: decrypted || slot.layer.decrypts(),
        limits,
        top,
    };
    slot.layer.feed(dir, offset, bytes, at, limits, &mut next);
}

fn gap_from(
    slots: &mut [Slot],
    decrypted: bool,
    dir: Direction,
    len: u64,
    limits: &Limits,
    top: &mut dyn Out,
) {
    let Some((slot, above)) = slots.split_first_mut() else {
        return top.lost(dir);
    };
    let mut next = Next {
        above,
        output: &mut slot.output,
        decrypted,
        decrypts: decrypted || slot.layer.decrypts(),
        limits,
        top,
    };
    slot.layer.gap(dir, len, &mut next);
}

/// One layer's output on its way up: to the layer above, or to the top.
struct Next<'a> {
    above: &'a mut [Slot],
    output: &'a mut [u64; 2],
    /// The layer's own events are decrypted (a layer below it decrypts).
    decrypted: bool,
    /// What it hands on is decrypted.
    decrypts: bool,
    limits: &'a Limits,
    top: &'a mut dyn Out,
}

impl Next<'_> {
    fn up(&mut self, dir: Direction, bytes: &[u8], at: At, elements: bool) {
        *dir.of_mut(self.output) += bytes.len() as u64;
        match self.above.first() {
            Some(slot) => {
                let offset = *dir.of(&slot.input);
                feed_from(
                    self.above,
                    self.decrypts,
                    dir,
                    offset,
                    bytes,
                    at,
                    self.limits,
                    self.top,
                );
            }
            None if elements => self.top.elements(dir, bytes, at),
            None => self.top.bytes(dir, bytes, at),
        }
    }
}

impl Out for Next<'_> {
    fn event(&mut self, dir: Direction, mut pos: Position, kind: EventKind) {
        pos.decrypted |= self.decrypted;
        self.top.event(dir, pos, kind);
    }

    fn bytes(&mut self, dir: Direction, bytes: &[u8], at: At) {
        self.up(dir, bytes, at, false);
    }

    fn elements(&mut self, dir: Direction, bytes: &[u8], at: At) {
        self.up(dir, bytes, at, true);
    }

    fn lost(&mut self, dir: Direction) {
        gap_from(self.above, self.decrypts, dir, 0, self.limits, self.top);
    }
}
