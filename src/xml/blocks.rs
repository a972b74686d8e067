//! Block-wise structural scanning, the idea of simdjson's first stage applied to the
//! scans of the XML element parser: 16 bytes are classified at once, with vector
//! comparisons, into a bit mask (one bit per byte) of the class the parser is looking
//! for — name bytes, white space, `<`, the bytes that end a plain attribute value
//! quoted either way, the bytes character data must decode — and the position it
//! wants is found by counting zero bits instead of looking at bytes one by one.
//! Attribute values and character data are so skipped 16 bytes per step (the parser
//! walks names and white space byte by byte: they are mostly shorter than a vector).
//!
//! Input: a text and a position; output: the positions [`class::skip_while`] and
//! [`class::find`] give, which remain the reference: [`skip`] and [`find`] equal them
//! for every class, text and position (tests below, `tests/blocks.rs`,
//! `fuzz/fuzz_targets/blocks.rs`).
//!
//! SIMD through the `wide` crate's safe 16-lane vectors (SSE2 on x86-64, NEON on
//! aarch64, plain arrays elsewhere); this crate stays free of `unsafe`. A whole-text
//! index of 64-byte blocks (classified once, walked by position) was tried first and
//! measured slower on XMPP, whose names and values are mostly shorter than a block:
//! docs/performance.md.

use super::class::{self, LT, NAME, SPACE, STOP_IN_APOS, STOP_IN_QUOT, TEXT_SPECIAL, TEXT_STOP};
use crate::lanes::{eq, within, LANES};
use wide::u8x16;

/// The masks of 16 bytes: bit `i` is byte `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Block {
    name: u64,
    space: u64,
    lt: u64,
    stop_in_apos: u64,
    stop_in_quot: u64,
    text_special: u64,
    text_stop: u64,
}

impl Block {
    /// The mask of one class; `None` for classes the index does not keep.
    #[inline(always)]
    fn of(&self, classes: u8) -> Option<u64> {
        match classes {
            NAME => Some(self.name),
            SPACE => Some(self.space),
            LT => Some(self.lt),
            STOP_IN_APOS => Some(self.stop_in_apos),
            STOP_IN_QUOT => Some(self.stop_in_quot),
            TEXT_SPECIAL => Some(self.text_special),
            TEXT_STOP => Some(self.text_stop),
            _ => None,
        }
    }
}

/// True when [`skip`] and [`find`] have a vector mask for `classes` (one class of
/// [`class`] the parser walks by); other combinations are scanned byte by byte.
pub fn kept(classes: u8) -> bool {
    Block::default().of(classes).is_some()
}

/// The masks of 16 bytes (unused ones are optimised away once `classes` is a
/// constant, as it is at every call of the parser). The definitions are those
/// of [`class`] (XML 1.0 §2.3 names, §2.3 S, §3.3.3 and §2.11 replaced bytes), which
/// `classify_equals_the_table` checks for every byte value.
#[inline(always)]
fn classify16(bytes: [u8; LANES]) -> Block {
    let v = u8x16::from(bytes);
    let (cr, lf, tab) = (eq(v, b'\r'), eq(v, b'\n'), eq(v, b'\t'));
    let (amp, lt) = (eq(v, b'&'), eq(v, b'<'));
    let space = eq(v, b' ') | tab | lf | cr;
    // Letters (either case), digits and `:`, `-` and `.`, `_`; bytes ≥ 0x80 from the
    // sign bits of the bytes themselves.
    let name = within(v | u8x16::splat(0x20), b'a', 25)
        | within(v, b'0', 10)
        | within(v, b'-', 1)
        | eq(v, b'_');
    let stop = lt | amp | cr | lf | tab;
    let bits = |m: u8x16| u64::from(m.to_bitmask());
    Block {
        name: bits(name) | u64::from(v.to_bitmask()),
        space: bits(space),
        lt: bits(lt),
        stop_in_apos: bits(stop | eq(v, b'\'')),
        stop_in_quot: bits(stop | eq(v, b'"')),
        text_special: bits(amp | cr),
        text_stop: bits(lt | amp | cr),
    }
}

/// The mask of `classes` over 16 bytes; `None` for classes not kept.
#[inline(always)]
fn mask16(bytes: &[u8; LANES], classes: u8) -> Option<u32> {
    classify16(*bytes).of(classes).map(|m| m as u32)
}

/// [`class::skip_while`] 16 bytes at a time: the first position from `at` whose byte
/// is not in `classes`, or the length (`at` when it is past the end).
#[inline(always)]
pub fn skip(bytes: &[u8], at: usize, classes: u8) -> usize {
    first(bytes, at, classes, false)
}

/// [`class::find`] 16 bytes at a time: the first position from `at` whose byte is in
/// `classes`, or the length (`at` when it is past the end).
#[inline(always)]
pub fn find(bytes: &[u8], at: usize, classes: u8) -> usize {
    first(bytes, at, classes, true)
}

/// The first position from `at` whose byte is in `classes` (`inside`) or not.
#[inline(always)]
fn first(bytes: &[u8], at: usize, classes: u8, inside: bool) -> usize {
    let mut i = at;
    while let Some(chunk) = bytes.get(i..).and_then(<[u8]>::first_chunk::<LANES>) {
        let Some(mask) = mask16(chunk, classes) else {
            break;
        };
        let wanted = if inside { mask } else { !mask & 0xFFFF };
        if wanted != 0 {
            return i + wanted.trailing_zeros() as usize;
        }
        i += LANES;
    }
    // The last 15 bytes or fewer, and classes without a vector mask: byte by byte.
    if inside {
        class::find(bytes, i, classes)
    } else {
        class::skip_while(bytes, i, classes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSES: [u8; 7] = [
        NAME,
        SPACE,
        LT,
        STOP_IN_APOS,
        STOP_IN_QUOT,
        TEXT_SPECIAL,
        TEXT_STOP,
    ];

    /// Every byte value, in every lane: the vector classification equals the table.
    #[test]
    fn classify_equals_the_table() {
        for b in 0..=255u8 {
            for lane in 0..LANES {
                let mut bytes = [b'x'; LANES];
                bytes[lane] = b;
                let block = classify16(bytes);
                for classes in CLASSES {
                    let mask = block.of(classes).unwrap();
                    assert_eq!(
                        mask >> lane & 1 == 1,
                        class::is(b, classes),
                        "byte {b:#x} lane {lane} class {classes:#x}"
                    );
                }
            }
        }
    }

    /// Every position of texts longer and shorter than a vector, every class: the
    /// vector scans answer what the byte scans answer.
    #[test]
    fn scans_equal_the_byte_scans_at_every_position() {
        let stanza = "<message from='a@b.example/r' to=\"c@d\" type='chat'>\r\n<body>x &amp; y\t\
                      ü</body><x xmlns='urn:x'/></message>  <presence/>";
        let mut texts = vec![stanza.repeat(3).into_bytes(), Vec::new(), b"a".to_vec()];
        texts.extend((0..=40).map(|n| vec![b'a'; n]));
        texts.extend((0..=40).map(|n| vec![b' '; n]));
        for text in &texts {
            for at in 0..text.len() + 3 {
                for classes in CLASSES {
                    assert_eq!(
                        skip(text, at, classes),
                        class::skip_while(text, at, classes),
                        "skip {classes:#x} at {at} of {} bytes",
                        text.len()
                    );
                    assert_eq!(
                        find(text, at, classes),
                        class::find(text, at, classes),
                        "find {classes:#x} at {at} of {} bytes",
                        text.len()
                    );
                }
            }
        }
    }

    #[test]
    fn classes_without_a_mask_are_scanned_byte_by_byte() {
        let text = b"ab \tc&d0123456789abcdefghij";
        assert!(!kept(class::ATTR_SPECIAL) && !kept(NAME | SPACE) && kept(NAME));
        assert_eq!(find(text, 0, class::ATTR_SPECIAL), 3);
        assert_eq!(skip(text, 0, NAME | SPACE), 5);
    }
}
