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

    /// In-order bytes of `dir` for the bottom layer, the first at `offset`;
    /// `decrypted` if they were decrypted below this stack.
    #[allow(clippy::too_many_arguments)]
    pub fn feed(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        decrypted: bool,
        top: &mut dyn Out,
    ) {
        feed_from(
            &mut self.slots,
            decrypted,
            dir,
            offset,
            bytes,
            at,
            limits,
            top,
        );
    }

    /// `len` bytes of `dir` were lost below the bottom layer.
    pub fn gap(
        &mut self,
        dir: Direction,
        len: u64,
        limits: &Limits,
        decrypted: bool,
        top: &mut dyn Out,
    ) {
        gap_from(&mut self.slots, decrypted, dir, len, limits, top);
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
    let (layer, mut next) = Next::of(slot, above, decrypted, limits, top);
    layer.feed(dir, offset, bytes, at, limits, &mut next);
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
    let (layer, mut next) = Next::of(slot, above, decrypted, limits, top);
    layer.gap(dir, len, &mut next);
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

impl<'a> Next<'a> {
    /// The layer of `slot`, and where its output goes.
    fn of(
        slot: &'a mut Slot,
        above: &'a mut [Slot],
        decrypted: bool,
        limits: &'a Limits,
        top: &'a mut dyn Out,
    ) -> (&'a mut dyn Layer, Next<'a>) {
        let decrypts = decrypted || slot.layer.decrypts();
        let next = Next {
            above,
            output: &mut slot.output,
            decrypted,
            decrypts,
            limits,
            top,
        };
        (slot.layer.as_mut(), next)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Anomaly, FrameNo, Timestamp};
    use crate::transport::layer::{anomaly, position};

    /// Hands on every other byte, and reports one event per piece at its offset;
    /// decrypts if told to.
    #[derive(Debug)]
    struct Halve(bool);

    impl Layer for Halve {
        fn feed(
            &mut self,
            dir: Direction,
            offset: u64,
            bytes: &[u8],
            at: At,
            _: &Limits,
            out: &mut dyn Out,
        ) {
            let kept: Vec<u8> = bytes.iter().step_by(2).copied().collect();
            let pos = position(offset, bytes.len() as u64, at);
            out.event(dir, pos, anomaly(Anomaly::Gap, String::new()));
            out.bytes(dir, &kept, at);
        }

        fn gap(&mut self, dir: Direction, _: u64, out: &mut dyn Out) {
            out.lost(dir);
        }

        fn decrypts(&self) -> bool {
            self.0
        }
    }

    #[derive(Default)]
    struct Top {
        bytes: Vec<u8>,
        events: Vec<(u64, bool)>,
        lost: usize,
    }

    impl Out for Top {
        fn event(&mut self, _: Direction, pos: Position, _: EventKind) {
            self.events.push((pos.offset.0, pos.decrypted));
        }
        fn bytes(&mut self, _: Direction, bytes: &[u8], _: At) {
            self.bytes.extend_from_slice(bytes);
        }
        fn elements(&mut self, _: Direction, _: &[u8], _: At) {}
        fn lost(&mut self, _: Direction) {
            self.lost += 1;
        }
    }

    #[test]
    fn bytes_climb_the_layers_with_offsets_counts_and_marks() {
        let mut stack = Stack::default();
        stack.push(Box::new(Halve(true)));
        stack.push(Box::new(Halve(false)));
        let (mut top, limits) = (Top::default(), Limits::default());
        let at = At {
            frame: FrameNo(1),
            time: Timestamp(0),
        };
        let dir = Direction::ToServer;
        stack.feed(dir, 100, b"abcdefgh", at, &limits, false, &mut top);
        stack.feed(dir, 108, b"ijkl", at, &limits, false, &mut top);
        assert_eq!(top.bytes, b"aei", "each layer halves each piece");
        // The bottom layer's events lie in the input's offsets and are not
        // decrypted; the upper layer's lie in what the bottom handed on, decrypted.
        assert_eq!(
            top.events,
            [(100, false), (0, true), (108, false), (4, true)]
        );
        stack.gap(dir, 5, &limits, false, &mut top);
        assert_eq!(top.lost, 1, "a loss is passed up to the top");
        let through: Vec<_> = stack
            .slots
            .iter()
            .map(|s| (s.input[0], s.output[0]))
            .collect();
        assert_eq!(through, [(12, 6), (6, 3)]);
        assert!(stack.decrypts());
    }
}
