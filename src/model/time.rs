//! Capture timestamps as text: UTC, so output does not depend on the machine's zone.

use crate::model::Timestamp;
use serde::Serializer;

/// Civil date from days since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `n` as exactly `width` decimal digits (zero-padded; higher digits dropped).
/// Filled from the right with division by the constant 10 (a multiply), not by a
/// power of ten held in a variable (a hardware division per digit).
fn push_digits(out: &mut String, n: u64, width: u32) {
    let mut digits = [b'0'; 20];
    let width = (width as usize).min(digits.len());
    let mut rest = n;
    for slot in digits.iter_mut().take(width).rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    for &digit in digits.get(..width).unwrap_or_default() {
        out.push(char::from(digit));
    }
}

/// Appends `HH:MM:SS.ffffff` (microseconds, or nanoseconds when the capture has them)
/// without the formatting machinery: the text printer calls this for every event.
pub fn push_time_of_day(out: &mut String, t: Timestamp) {
    let secs = t.secs().rem_euclid(86_400) as u64;
    push_digits(out, secs / 3600, 2);
    out.push(':');
    push_digits(out, secs / 60 % 60, 2);
    out.push(':');
    push_digits(out, secs % 60, 2);
    out.push('.');
    let nanos = u64::from(t.subsec_nanos());
    if nanos.is_multiple_of(1000) {
        push_digits(out, nanos / 1000, 6);
    } else {
        push_digits(out, nanos, 9);
    }
}

/// `HH:MM:SS.ffffff`, as tcpdump prints by default (in UTC).
pub fn time_of_day(t: Timestamp) -> String {
    let mut s = String::with_capacity(18);
    push_time_of_day(&mut s, t);
    s
}

/// RFC 3339 in UTC, e.g. `2015-07-21T10:12:13.123456Z`.
pub fn rfc3339(t: Timestamp) -> String {
    let mut s = String::with_capacity(32);
    push_rfc3339(&mut s, t);
    s
}

/// Appends [`rfc3339`]`(t)` digit by digit: NDJSON writes one per event.
pub fn push_rfc3339(out: &mut String, t: Timestamp) {
    let (y, m, d) = civil_from_days(t.secs().div_euclid(86_400));
    match u64::try_from(y) {
        Ok(year) if year <= 9999 => push_digits(out, year, 4),
        // A hostile capture's time may lie outside years 0–9999: as `{:04}` writes it.
        _ => {
            use std::fmt::Write;
            let _ = write!(out, "{y:04}");
        }
    }
    out.push('-');
    push_digits(out, u64::from(m), 2);
    out.push('-');
    push_digits(out, u64::from(d), 2);
    out.push('T');
    push_time_of_day(out, t);
    out.push('Z');
}

pub fn serialize_rfc3339<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(Timestamp(0)), "1970-01-01T00:00:00.000000Z");
        let t = Timestamp::from_parts(1_437_473_533, 123_456, 1_000_000);
        assert_eq!(rfc3339(t), "2015-07-21T10:12:13.123456Z");
        let t = Timestamp::from_parts(951_782_400, 5, 1_000_000_000);
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(
            time_of_day(Timestamp::from_parts(-1, 0, 1)),
            "23:59:59.000000"
        );
    }

    /// The digit-by-digit writer equals the formatting machinery, far outside the
    /// usual years too (hostile capture times).
    #[test]
    fn rfc3339_equals_format() {
        let by_format = |t: Timestamp| {
            let (y, m, d) = civil_from_days(t.secs().div_euclid(86_400));
            format!("{y:04}-{m:02}-{d:02}T{}Z", time_of_day(t))
        };
        let mut secs: i64 = 1;
        for _ in 0..200 {
            for t in [
                Timestamp::from_parts(secs, 123_456, 1_000_000),
                Timestamp::from_parts(-secs, 7, 1_000_000_000),
            ] {
                assert_eq!(rfc3339(t), by_format(t), "{secs}");
            }
            secs = secs.saturating_mul(3).saturating_add(7) % (i64::MAX / 4_000_000_000);
        }
    }

    /// Exactly `width` digits, zero-padded, higher digits dropped: as `format!` of the
    /// number modulo 10^width.
    #[test]
    fn digits_equal_format() {
        let mut n: u64 = 0;
        for _ in 0..500 {
            for width in 1..=9u32 {
                let mut s = String::new();
                push_digits(&mut s, n, width);
                let w = width as usize;
                assert_eq!(s, format!("{:0w$}", n % 10u64.pow(width)), "{n} {width}");
            }
            n = n.wrapping_mul(31).wrapping_add(17) % 100_000_000_000;
        }
    }
}
