//! The common-case JID check 16 bytes at a time: every address of every stanza passes
//! it (the classifier validates `from` and `to`, statistics take the bare JID), and
//! a byte-at-a-time walk cost about 290 instructions per JID.
//!
//! Input: a JID's bytes; output: what [`super::plain_bare_end_bytes`] answers, which
//! stays the reference (tests below, `tests/blocks.rs`, the `blocks` fuzz target).
//! Each 16 bytes are classified at once, with vector comparisons through the `wide`
//! crate's safe `u8x16`, into a mask of the bytes that are not `PLAIN`; the walk
//! visits only those (the separators `.`, `@`, `/`, or a byte that refuses), since
//! a `PLAIN` byte changes nothing in [`Walk`]. The resourcepart is checked 16 bytes
//! at a time for printable ASCII.

use super::{Step, Walk, MAX_PART_BYTES};
use crate::lanes::{eq, within, LANES};
use wide::u8x16;

/// What pads the last block: `PLAIN`, and printable, so it adds no bit to a mask.
const PAD: u8 = b'a';

/// The two masks of 16 bytes: bit `i` of `not_plain` is set when byte `i` is not
/// `PLAIN` in `JID_BYTES` (outside `!`..`~`, or one of `"`, `&`, `'`, `.`, `/`, `:`,
/// `<`, `>`, `@`, `[`, `\`, `]`), bit `i` of `not_printable` when it is not printable
/// ASCII (space to `~`, what a resourcepart of the fast path may hold).
/// `masks_equal_the_table` checks every byte value in every lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Masks {
    not_plain: u32,
    not_printable: u32,
}

#[inline(always)]
fn classify(bytes: [u8; LANES]) -> Masks {
    let v = u8x16::from(bytes);
    let printable = within(v, b' ', 0x7e - b' ').to_bitmask();
    let separator_or_excluded = within(v, b'&', 1)
        | within(v, b'.', 1)
        | within(v, b'[', 2)
        | eq(v, b' ')
        | eq(v, b'"')
        | eq(v, b':')
        | eq(v, b'<')
        | eq(v, b'>')
        | eq(v, b'@');
    Masks {
        not_plain: !(printable & !separator_or_excluded.to_bitmask()) & 0xFFFF,
        not_printable: !printable & 0xFFFF,
    }
}

/// The masks of the 16 bytes from `base` (bits past the end clear). A block that
/// would run past the end is read as the input's last 16 bytes, shifted; only an
/// input shorter than a vector is copied into a padded block.
#[inline(always)]
fn masks_at(input: &[u8], base: usize) -> Masks {
    if let Some(chunk) = input.get(base..).and_then(<[u8]>::first_chunk::<LANES>) {
        return classify(*chunk);
    }
    if let Some(last) = input.last_chunk::<LANES>() {
        // `base` is within the last 16 bytes: drop the lanes before it.
        let skip = base + LANES - input.len();
        let m = classify(*last);
        return Masks {
            not_plain: m.not_plain >> skip,
            not_printable: m.not_printable >> skip,
        };
    }
    let mut block = [PAD; LANES];
    let rest = input.get(base..).unwrap_or_default();
    if let Some(head) = block.get_mut(..rest.len()) {
        head.copy_from_slice(rest);
    }
    classify(block)
}

/// [`super::plain_bare_end_bytes`], visiting only the bytes that are not `PLAIN`.
pub(super) fn plain_bare_end(input: &[u8]) -> Option<(usize, bool)> {
    if input.len() > MAX_PART_BYTES {
        return None;
    }
    let mut walk = Walk::new();
    let mut base = 0;
    while base < input.len() {
        let masks = masks_at(input, base);
        let mut not_plain = masks.not_plain;
        while not_plain != 0 {
            let lane = not_plain.trailing_zeros();
            not_plain &= not_plain - 1;
            let i = base + lane as usize;
            match walk.step(i, input.get(i).copied()?) {
                Step::On => {}
                Step::Slash => {
                    walk.end(i)?;
                    // RFC 7622 §3.4: a resourcepart is not empty; here, printable.
                    let resource_ok = i + 1 < input.len()
                        && (masks.not_printable >> lane) == 0
                        && printable_from(input, base + LANES);
                    return resource_ok.then_some((i, i == walk.label_start));
                }
                Step::Refused => return None,
            }
        }
        base += LANES;
    }
    walk.end(input.len())?;
    Some((input.len(), input.len() == walk.label_start))
}

/// True when every byte from `base` is printable ASCII (space to `~`).
#[inline(always)]
fn printable_from(bytes: &[u8], base: usize) -> bool {
    (base..bytes.len())
        .step_by(LANES)
        .all(|at| masks_at(bytes, at).not_printable == 0)
}

#[cfg(test)]
mod tests {
    use super::super::{plain_bare_end_bytes, JID_BYTES, PLAIN};
    use super::*;
    use proptest::prelude::*;

    /// Every byte value, in every lane: the vector classes equal the table's.
    #[test]
    fn masks_equal_the_table() {
        for b in 0..=255u8 {
            for lane in 0..LANES {
                let mut bytes = [PAD; LANES];
                bytes[lane] = b;
                let masks = classify(bytes);
                assert_eq!(
                    masks.not_plain,
                    u32::from(JID_BYTES[usize::from(b)] != PLAIN) << lane,
                    "byte {b:#x} lane {lane}"
                );
                assert_eq!(
                    masks.not_printable,
                    u32::from(!(b' '..0x7f).contains(&b)) << lane,
                    "byte {b:#x} lane {lane}"
                );
            }
        }
    }

    /// Lengths around every block edge, labels around 63 bytes, separators at every
    /// position.
    #[test]
    fn equals_the_byte_walk_around_block_edges() {
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for n in 0..70 {
            let x = "x".repeat(n);
            for s in [
                x.clone(),
                format!("{x}@b.c"),
                format!("u@{x}.com"),
                format!("u@{x}./r"),
                format!("u@b/{x}"),
                format!("u@b/{x}\t"),
                format!("u@b.{x}.."),
                format!("@{x}"),
                format!("{x}@@b"),
                format!("u@b/{x} y\u{7f}"),
            ] {
                inputs.push(s.into_bytes());
            }
        }
        inputs.push(vec![b'a'; MAX_PART_BYTES]);
        inputs.push(vec![b'a'; MAX_PART_BYTES + 1]);
        let base = b"juliet@capulet.example/balcony".to_vec();
        for i in 0..base.len() {
            for b in [b'.', b'@', b'/', b' ', b':', 0xc3, 0x7f, b'"'] {
                let mut s = base.clone();
                s[i] = b;
                inputs.push(s);
            }
        }
        for s in &inputs {
            assert_eq!(
                plain_bare_end(s),
                plain_bare_end_bytes(s),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    proptest! {
        /// Arbitrary bytes, and strings over an alphabet rich in separators.
        #[test]
        fn equals_the_byte_walk(
            bytes in proptest::collection::vec(any::<u8>(), 0..100),
            jid in "[a-z.@/ :\"\\[\\]\t\u{7f}é-]{0,90}",
        ) {
            prop_assert_eq!(plain_bare_end(&bytes), plain_bare_end_bytes(&bytes));
            prop_assert_eq!(
                plain_bare_end(jid.as_bytes()),
                plain_bare_end_bytes(jid.as_bytes())
            );
        }
    }
}
