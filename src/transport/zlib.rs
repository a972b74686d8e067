//! XEP-0138 stream compression, the `zlib` method: the layer a session stacks above
//! a stream that answered `<compressed/>`.
//!
//! Input: the bytes of each direction after `<compressed/>` (XEP-0138 §6), in order,
//! cut anywhere; output: the bytes they inflate to, for a fresh XMPP stream (the
//! client restarts the stream inside compression), and a `compression_error` anomaly
//! for a direction that does not inflate. The sender flushes after each
//! element (XEP-0138 §6.1 asks for a sync or full flush), so what has arrived can
//! be read at once.
//!
//! Bounded: one piece, and the direction as a whole, may inflate to at most
//! [`Inflater::max_output`] bytes of its compressed size. A
//! stream that does not inflate, or a compression bomb, makes the direction
//! opaque: its bytes are then only counted, never unbounded memory.

use super::inflate::{self, inflate_counted, reset_scratch, Format, Inflated, Inflater, Tally};
use super::layer::{anomaly, position, Layer, Out, Through};
use crate::limits::Limits;
use crate::model::{Anomaly, At, Direction, DirectionBytes};

/// Both directions of a compressed stream; a direction's decompressor is made when
/// its first compressed byte arrives.
#[derive(Debug, Default)]
pub struct Connection {
    sides: [Option<Zlib>; 2],
}

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
        let zlib = dir
            .of_mut(&mut self.sides)
            .get_or_insert_with(Zlib::default);
        let inflated = zlib.feed(bytes);
        if !inflated.text.is_empty() {
            out.bytes(dir, inflated.text, at);
        }
        if let Some(e) = inflated.error {
            let detail =
                format!("{e}; this direction's compressed bytes are only counted from here");
            let pos = position(offset, bytes.len() as u64, at);
            out.event(dir, pos, anomaly(Anomaly::CompressionError, detail));
        }
    }

    /// The inflater's window lost bytes: nothing after can be decoded.
    fn gap(&mut self, dir: Direction, _: u64, _: &mut dyn Out) {
        if let Some(zlib) = dir.of_mut(&mut self.sides) {
            zlib.lose();
        }
    }

    fn held_bytes(&self) -> usize {
        self.sides.iter().flatten().map(Zlib::held_bytes).sum()
    }

    fn resident_bytes(&self) -> usize {
        let sides = self.sides.iter().flatten().count();
        std::mem::size_of::<Connection>() + sides * inflate::STATE_BYTES
    }

    /// Every byte that came in was compressed; what came out was inflated.
    fn count(&self, dir: Direction, through: Through, b: &mut DirectionBytes) {
        b.compressed += through.input;
        b.inflated += dir.of(&self.sides).as_ref().map_or(0, |z| z.tally.inflated);
    }
}

/// One compressed direction.
#[derive(Debug)]
pub struct Zlib {
    inflater: Inflater,
    /// Inflation failed: the rest is counted, not read.
    opaque: bool,
    /// The last piece's output.
    scratch: Vec<u8>,
    /// Compressed bytes taken and what they inflated to.
    pub tally: Tally,
}

impl Default for Zlib {
    fn default() -> Zlib {
        Zlib {
            inflater: Inflater::new(Format::Zlib),
            opaque: false,
            scratch: Vec::new(),
            tally: Tally::default(),
        }
    }
}

impl Zlib {
    /// Inflates the next piece: what it decoded (possibly nothing: a code cut by
    /// the piece's end waits for the next), and the error, if it met one, which
    /// makes the direction opaque; later pieces give nothing.
    pub fn feed(&mut self, bytes: &[u8]) -> Inflated<'_> {
        self.tally.wire += bytes.len() as u64;
        if self.opaque {
            reset_scratch(&mut self.scratch);
            return Inflated {
                text: &[],
                error: None,
            };
        }
        let error = inflate_counted(
            &mut self.inflater,
            bytes,
            &mut self.scratch,
            &mut self.tally,
        );
        self.opaque = error.is_some();
        Inflated {
            text: &self.scratch,
            error,
        }
    }

    /// Bytes of the compressed stream were lost: the rest cannot be decoded.
    pub fn lose(&mut self) {
        self.opaque = true;
    }

    pub fn is_opaque(&self) -> bool {
        self.opaque
    }

    /// Bytes of memory held besides the decompressor's fixed state.
    pub fn held_bytes(&self) -> usize {
        self.scratch.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::ZlibEncoder;
    use flate2::Compression;
    use std::io::Write;

    /// What a sender writes: each element flushed (XEP-0138 §6.1).
    fn compressed(elements: &[&str]) -> Vec<u8> {
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
        for e in elements {
            enc.write_all(e.as_bytes()).unwrap();
            enc.flush().unwrap();
        }
        enc.get_ref().clone()
    }

    #[test]
    fn pieces_cut_anywhere_inflate_to_the_same_bytes() {
        let text = [
            "<stream:stream>",
            "<message><body>hi</body></message>",
            "<presence/>",
        ];
        let wire = compressed(&text);
        let whole = text.concat();
        for cut in 0..=wire.len() {
            let mut z = Zlib::default();
            let mut out = z.feed(&wire[..cut]).text.to_vec();
            out.extend_from_slice(z.feed(&wire[cut..]).text);
            assert_eq!(String::from_utf8(out).unwrap(), whole, "cut at {cut}");
            assert_eq!(
                (z.tally.wire, z.tally.inflated),
                (wire.len() as u64, whole.len() as u64)
            );
        }
    }

    #[test]
    fn garbage_makes_the_direction_opaque_and_counted() {
        let mut z = Zlib::default();
        assert!(z.feed(b"<presence/>").error.is_some());
        assert!(z.is_opaque());
        assert_eq!(
            z.feed(b"more"),
            Inflated {
                text: b"",
                error: None
            }
        );
        assert_eq!((z.tally.wire, z.tally.inflated), (15, 0));
    }
}
