//! FNV-1a, 64 bits (Fowler, Noll, Vo; draft-eastlake-fnv): the stable hash behind the
//! presence digest and the statistics keys. Stable across runs and machines, unlike
//! the seeded hashes of the maps, so digests printed in NDJSON can be compared.

/// The offset basis: the hash of no bytes.
pub const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

/// The hash `h` extended by `bytes`.
pub fn add(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The hash of `parts` one after another (the same as of their concatenation).
pub fn of(parts: &[&[u8]]) -> u64 {
    parts.iter().fold(OFFSET, |h, part| add(h, part))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published test vectors of FNV-1a 64.
    #[test]
    fn known_vectors() {
        assert_eq!(of(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(of(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(of(&[b"foo"]), 0xdcb2_7518_fed9_d577);
        assert_eq!(of(&[b"fo", b"o"]), of(&[b"foo"]));
    }
}
