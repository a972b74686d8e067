//! Byte classes for the XML scanners: one table lookup per byte instead of a chain of
//! comparisons, the way fast XML and JSON scanners classify input.
//!
//! Input: single bytes of UTF-8 text; output: whether a byte belongs to a class. The
//! classes are ASCII approximations of XML 1.0 productions; every byte of a multi-byte
//! UTF-8 character (≥ 0x80) counts as a name byte, as XMPP needs no finer check.

/// XML 1.0 §2.3 NameStartChar (ASCII letters, `_`, `:`, any non-ASCII byte).
pub const NAME_START: u8 = 1;
/// XML 1.0 §2.3 NameChar: NameStartChar plus digits, `-` and `.`.
pub const NAME: u8 = 1 << 1;
/// XML 1.0 §2.3 S: space, tab, line feed, carriage return.
pub const SPACE: u8 = 1 << 2;
/// Ends a run of plain attribute value bytes when the value is quoted with `'`:
/// the quote, `<` (an error), and what §3.3.3 normalisation replaces (`&`, line ends,
/// tab).
pub const STOP_IN_APOS: u8 = 1 << 3;
/// The same for a value quoted with `"`.
pub const STOP_IN_QUOT: u8 = 1 << 4;
/// Character data bytes §2.11 and §4.1 replace: `&` and `\r`.
pub const TEXT_SPECIAL: u8 = 1 << 5;
/// Attribute value bytes §3.3.3 replaces: `&`, `\r`, `\n`, `\t`.
pub const ATTR_SPECIAL: u8 = 1 << 6;
/// `<`: where character data ends and markup starts (XML 1.0 §2.4).
pub const LT: u8 = 1 << 7;
/// Where a run of character data stops: markup, or a byte §2.11 and §4.1 replace
/// (one scan instead of one for each).
pub const TEXT_STOP: u8 = LT | TEXT_SPECIAL;
/// Every class the scanners are asked for: one bit each, and [`TEXT_STOP`] (for tests
/// that go through them all).
pub const ALL: [u8; 9] = [
    NAME_START,
    NAME,
    SPACE,
    STOP_IN_APOS,
    STOP_IN_QUOT,
    TEXT_SPECIAL,
    ATTR_SPECIAL,
    LT,
    TEXT_STOP,
];

// Indexing in a constant cannot panic at run time: it is evaluated by the compiler.
#[allow(clippy::indexing_slicing)]
const TABLE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut class = 0;
        let name_start = b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80;
        if name_start {
            class |= NAME_START | NAME;
        }
        if b.is_ascii_digit() || b == b'-' || b == b'.' {
            class |= NAME;
        }
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            class |= SPACE;
        }
        if matches!(b, b'<' | b'&' | b'\r' | b'\n' | b'\t') {
            class |= STOP_IN_APOS | STOP_IN_QUOT;
        }
        if b == b'\'' {
            class |= STOP_IN_APOS;
        }
        if b == b'"' {
            class |= STOP_IN_QUOT;
        }
        if matches!(b, b'&' | b'\r') {
            class |= TEXT_SPECIAL;
        }
        if matches!(b, b'&' | b'\r' | b'\n' | b'\t') {
            class |= ATTR_SPECIAL;
        }
        if b == b'<' {
            class |= LT;
        }
        table[i] = class;
        i += 1;
    }
    table
};

/// The classes `b` belongs to.
#[inline]
pub fn of(b: u8) -> u8 {
    // Never out of range: the table has an entry for every byte.
    TABLE.get(usize::from(b)).copied().unwrap_or(0)
}

/// True when `b` is in any of `classes`.
#[inline]
pub fn is(b: u8, classes: u8) -> bool {
    of(b) & classes != 0
}

/// The first position from `at` whose byte is not in `classes` (or the length).
#[inline]
pub fn skip_while(bytes: &[u8], at: usize, classes: u8) -> usize {
    let mut i = at;
    while let Some(&b) = bytes.get(i) {
        if of(b) & classes == 0 {
            return i;
        }
        i += 1;
    }
    bytes.len().max(at)
}

/// The first position from `at` whose byte is in `classes` (or the length).
#[inline]
pub fn find(bytes: &[u8], at: usize, classes: u8) -> usize {
    let mut i = at;
    while let Some(&b) = bytes.get(i) {
        if of(b) & classes != 0 {
            return i;
        }
        i += 1;
    }
    bytes.len().max(at)
}

/// The end of a run of plain attribute value bytes from `at`: the first byte in `stop`
/// ([`STOP_IN_APOS`] or [`STOP_IN_QUOT`]), or the length. Values are often tens of
/// bytes (JIDs, hashes, URIs), so words of eight bytes that hold no byte below 0x28
/// and no `<` (a superset of `stop`) are skipped at once.
#[inline]
pub fn find_value_stop(bytes: &[u8], at: usize, stop: u8) -> usize {
    let mut i = at;
    while let Some(word) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let x = u64::from_le_bytes(*word);
        // Both quotes and `&` are below 0x28, as are the control bytes (and a few
        // other bytes, which only end the skipping early).
        if word::has_below(x, 0x28) || word::has(x, b'<') {
            break;
        }
        i += 8;
    }
    find(bytes, i, stop)
}

/// Tests on eight bytes at once, from Anderson's "Bit Twiddling Hacks": each tells
/// exactly whether some byte of the word matches (the printer's quoting test uses the
/// same tricks).
pub mod word {
    pub const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    pub const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

    /// Some byte of `x` is below `n` (`n` at most 0x80).
    #[inline]
    pub fn has_below(x: u64, n: u8) -> bool {
        x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS != 0
    }

    /// Some byte of `x` equals `b`.
    #[inline]
    pub fn has(x: u64, b: u8) -> bool {
        has_below(x ^ (ONES * u64::from(b)), 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every class equals the plain definition it replaces, for every byte.
    #[test]
    fn table_matches_the_definitions() {
        for b in 0..=255u8 {
            let name_start = b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80;
            let name = name_start || b.is_ascii_digit() || b == b'-' || b == b'.';
            let space = matches!(b, b' ' | b'\t' | b'\r' | b'\n');
            let stop = matches!(b, b'<' | b'&' | b'\r' | b'\n' | b'\t');
            assert_eq!(is(b, NAME_START), name_start, "{b:#x}");
            assert_eq!(is(b, NAME), name, "{b:#x}");
            assert_eq!(is(b, SPACE), space, "{b:#x}");
            assert_eq!(is(b, STOP_IN_APOS), stop || b == b'\'', "{b:#x}");
            assert_eq!(is(b, STOP_IN_QUOT), stop || b == b'"', "{b:#x}");
            assert_eq!(is(b, TEXT_SPECIAL), matches!(b, b'&' | b'\r'), "{b:#x}");
            assert_eq!(
                is(b, ATTR_SPECIAL),
                matches!(b, b'&' | b'\r' | b'\n' | b'\t'),
                "{b:#x}"
            );
            assert_eq!(is(b, LT), b == b'<', "{b:#x}");
        }
    }

    #[test]
    fn scans_stop_at_the_first_byte_outside_or_inside() {
        let text = b"  ab-c.d='x&y'";
        assert_eq!(skip_while(text, 0, SPACE), 2);
        assert_eq!(skip_while(text, 2, NAME), 8);
        assert_eq!(find(text, 9, STOP_IN_APOS), 9);
        assert_eq!(find(text, 10, STOP_IN_APOS), 11);
        assert_eq!(find(text, 12, STOP_IN_APOS), 13);
        assert_eq!(find(text, 12, STOP_IN_QUOT), text.len());
        assert_eq!(skip_while(text, 99, NAME), 99);
        assert_eq!(find(b"", 0, SPACE), 0);
    }

    /// The word-skipping value scan finds what the byte scan finds, for every byte
    /// at every position of values longer than a word.
    #[test]
    fn value_scan_equals_the_byte_scan() {
        for quote in [b'\'', b'"'] {
            let stop = if quote == b'"' {
                STOP_IN_QUOT
            } else {
                STOP_IN_APOS
            };
            for b in 0..=255u8 {
                for at in 0..24 {
                    let mut bytes = vec![b'x'; 24];
                    bytes[at] = b;
                    for start in [0, 1, 7] {
                        assert_eq!(
                            find_value_stop(&bytes, start, stop),
                            find(&bytes, start, stop),
                            "{b:#x} at {at} from {start}"
                        );
                    }
                }
            }
        }
        assert_eq!(find_value_stop(b"", 0, STOP_IN_QUOT), 0);
        assert_eq!(find_value_stop(b"abc", 9, STOP_IN_QUOT), 9);
    }
}
