//! The 16-lane byte comparisons the block scanners share (`xml::blocks` for XML,
//! `jid::blocks` for addresses): lanes equal to a byte, and lanes in a range, each
//! as a vector of `0xFF` / `0x00` lanes whose `to_bitmask` gives one bit per byte.
//!
//! Through the `wide` crate's safe `u8x16` (SSE2 on x86-64, NEON on aarch64, plain
//! arrays elsewhere); this crate stays free of `unsafe`. Each scanner proves its
//! masks equal to its byte table for every byte value in every lane.

use wide::u8x16;

/// Bytes per vector.
pub const LANES: usize = 16;

/// Lanes equal to `b`.
#[inline(always)]
pub fn eq(v: u8x16, b: u8) -> u8x16 {
    v.simd_eq(u8x16::splat(b))
}

/// Lanes in `lo ..= lo + span` (wrapping subtraction, then an unsigned `≤` by `min`).
#[inline(always)]
pub fn within(v: u8x16, lo: u8, span: u8) -> u8x16 {
    let d = v - u8x16::splat(lo);
    d.min(u8x16::splat(span)).simd_eq(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value in every lane, for every `lo` and `span`: the range test is
    /// the plain one.
    #[test]
    fn within_is_the_range_test() {
        for lo in 0..=255u8 {
            for span in [0u8, 1, 2, 25, 94, 255] {
                for b in 0..=255u8 {
                    let mut bytes = [0u8; LANES];
                    bytes[usize::from(b) % LANES] = b;
                    let lane = usize::from(b) % LANES;
                    let got = within(u8x16::from(bytes), lo, span).to_bitmask() >> lane & 1;
                    let inside = b.wrapping_sub(lo) <= span;
                    assert_eq!(got == 1, inside, "b {b} lo {lo} span {span}");
                    assert_eq!(eq(u8x16::from(bytes), b).to_bitmask() >> lane & 1, 1);
                }
            }
        }
    }
}
