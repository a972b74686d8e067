//! JIDs (RFC 7622): `[localpart@]domainpart[/resourcepart]`.
//!
//! Input: an address string from a stanza attribute; output: a validated [`Jid`] or a
//! [`JidError`] naming the rule it breaks. Validation is structural (RFC 7622 §3): part
//! lengths, characters excluded from the localpart, domain labels; the full PRECIS
//! profiles need Unicode tables we do not carry, so non-ASCII letters are accepted.

mod blocks;

use std::fmt;
use std::num::NonZeroU16;

/// Longest part in bytes (RFC 7622 §3.2, §3.3, §3.4).
pub const MAX_PART_BYTES: usize = 1023;
/// Longest domain label in bytes (RFC 5890 §2.3.2.1 via RFC 7622 §3.2).
pub const MAX_LABEL_BYTES: usize = 63;

/// A JID stored as one string plus the offsets of its separators (as xmpp-rs does).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jid {
    text: String,
    /// Offset of the `@` ending the localpart.
    at: Option<NonZeroU16>,
    /// Offset of the `/` starting the resourcepart.
    slash: Option<NonZeroU16>,
}

/// Why a string is not a JID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JidError {
    #[error("empty domainpart")]
    EmptyDomain,
    #[error("empty localpart before '@'")]
    EmptyLocal,
    #[error("empty resourcepart after '/'")]
    EmptyResource,
    #[error("{0} longer than 1023 bytes")]
    TooLong(&'static str),
    #[error("localpart contains forbidden character {0:?}")]
    ForbiddenLocalChar(char),
    #[error("domainpart contains forbidden character {0:?}")]
    ForbiddenDomainChar(char),
    #[error("resourcepart contains control character")]
    ControlInResource,
    #[error("domain label empty or longer than 63 bytes")]
    BadLabel,
}

impl Jid {
    /// Parses and validates a JID (RFC 7622 §3.1: split at the first `/`, then the
    /// first `@` before it).
    pub fn parse(input: &str) -> Result<Jid, JidError> {
        Jid::validate(input)?;
        let (local, domain, resource) = split(input);
        let mut text = String::with_capacity(input.len());
        let mut at = None;
        if let Some(local) = local {
            text.push_str(local);
            at = NonZeroU16::new(u16::try_from(text.len()).map_err(|_| JidError::TooLong("JID"))?);
            text.push('@');
        }
        text.push_str(domain);
        let mut slash = None;
        if let Some(resource) = resource {
            slash =
                NonZeroU16::new(u16::try_from(text.len()).map_err(|_| JidError::TooLong("JID"))?);
            text.push('/');
            text.push_str(resource);
        }
        Ok(Jid { text, at, slash })
    }

    /// Checks a JID without building one (no allocation): the analysis validates
    /// every address it sees.
    pub fn validate(input: &str) -> Result<(), JidError> {
        if plainly_valid(input.as_bytes()) {
            return Ok(());
        }
        validate_fully(input)
    }

    /// The bare JID of `input` (RFC 7622 §3.1), borrowed unless the domain's
    /// trailing dot must go; `None` if `input` is not a valid JID.
    pub fn bare_of(input: &str) -> Option<std::borrow::Cow<'_, str>> {
        if let Some(len) = plain_bare_len(input) {
            return input.get(..len).map(std::borrow::Cow::Borrowed);
        }
        validate_fully(input).ok()?;
        let (local, domain, _) = split(input);
        let end = local.map_or(0, |l| l.len() + 1) + domain.len();
        match input.get(..end) {
            // The domain ends where it was written: no trailing dot was dropped.
            Some(bare) if input.as_bytes().get(end).is_none_or(|&b| b == b'/') => {
                Some(std::borrow::Cow::Borrowed(bare))
            }
            _ => Some(std::borrow::Cow::Owned(
                Jid::parse(input).ok()?.bare().to_owned(),
            )),
        }
    }

    pub fn localpart(&self) -> Option<&str> {
        let at = usize::from(self.at?.get());
        self.text.get(..at)
    }

    pub fn domainpart(&self) -> &str {
        let start = self.at.map_or(0, |a| usize::from(a.get()) + 1);
        let end = self.slash.map_or(self.text.len(), |s| usize::from(s.get()));
        self.text.get(start..end).unwrap_or_default()
    }

    pub fn resourcepart(&self) -> Option<&str> {
        let slash = usize::from(self.slash?.get());
        self.text.get(slash + 1..)
    }

    /// True for a full JID (with a resource), RFC 7622 §3.
    pub fn is_full(&self) -> bool {
        self.slash.is_some()
    }

    /// The bare JID `localpart@domainpart`.
    pub fn bare(&self) -> &str {
        let end = self.slash.map_or(self.text.len(), |s| usize::from(s.get()));
        self.text.get(..end).unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The localpart, domainpart and resourcepart of an address as written, split as
/// RFC 7622 §3.1 says (at the first `/`, then at the first `@` before it), valid or
/// not, nothing normalized (a trailing dot stays: the display filter's `from.domain`
/// and the Parquet columns show what was sent).
pub fn parts(input: &str) -> (Option<&str>, &str, Option<&str>) {
    let (bare, resource) = match input.split_once('/') {
        Some((bare, resource)) => (bare, Some(resource)),
        None => (input, None),
    };
    match bare.split_once('@') {
        Some((local, domain)) => (Some(local), domain, resource),
        None => (None, bare, resource),
    }
}

/// Localpart, domainpart (trailing dot removed, RFC 7622 §3.2) and resourcepart:
/// split at the first `/`, then at the first `@` before it (RFC 7622 §3.1).
fn split(input: &str) -> (Option<&str>, &str, Option<&str>) {
    // Byte loops: JIDs are short, where a `str::split_once` searcher costs more than
    // the search.
    let (bare, resource) = match input.bytes().position(|b| b == b'/') {
        Some(i) => (
            input.get(..i).unwrap_or_default(),
            input.get(i + 1..).or(Some("")),
        ),
        None => (input, None),
    };
    let (local, domain) = match bare.bytes().position(|b| b == b'@') {
        Some(i) => (
            bare.get(..i).or(Some("")),
            bare.get(i + 1..).unwrap_or_default(),
        ),
        None => (None, bare),
    };
    (local, domain.strip_suffix('.').unwrap_or(domain), resource)
}

/// The full checks of RFC 7622 §3 (what [`plainly_valid`] does not vouch for), naming
/// the rule broken.
fn validate_fully(input: &str) -> Result<(), JidError> {
    let (local, domain, resource) = split(input);
    if let Some(local) = local {
        check_localpart(local)?;
    }
    check_domainpart(domain)?;
    if let Some(resource) = resource {
        check_resourcepart(resource)?;
    }
    if input.len() > usize::from(u16::MAX) {
        return Err(JidError::TooLong("JID"));
    }
    Ok(())
}

/// Byte classes of [`plainly_valid`]: what may stand anywhere in the bare JID, and
/// the separators. Everything else (controls, space, DEL, non-ASCII, and characters
/// excluded from a localpart or domainpart by RFC 7622 §3.2 and §3.3.1, or allowed in
/// only one of them) sends the JID to the full checks.
const BAD: u8 = 0;
const PLAIN: u8 = 1;
const AT: u8 = 2;
const SLASH: u8 = 3;
const DOT: u8 = 4;

// Indexing in a constant cannot panic at run time: it is evaluated by the compiler.
#[allow(clippy::indexing_slicing)]
const JID_BYTES: [u8; 256] = {
    let mut table = [BAD; 256];
    let mut b = 0x21;
    while b < 0x7f {
        table[b] = match b as u8 {
            b'"' | b'&' | b'\'' | b':' | b'<' | b'>' | b'[' | b']' | b'\\' => BAD,
            b'@' => AT,
            b'/' => SLASH,
            b'.' => DOT,
            _ => PLAIN,
        };
        b += 1;
    }
    table
};

/// The length of `input`'s bare JID (RFC 7622 §3.1: without the resourcepart, and
/// without the domain's trailing dot) when the common-case check vouches that
/// `input` is a valid JID; `None` means only "not shown here" ([`Jid::bare_of`]
/// decides).
pub fn plain_bare_len(input: &str) -> Option<usize> {
    plain_bare_end(input.as_bytes()).map(|(end, trailing_dot)| end - usize::from(trailing_dot))
}

/// The common case in one pass: a short ASCII JID of plain characters that is valid.
/// `false` means only "not shown here": the full checks decide, and name the error.
fn plainly_valid(input: &[u8]) -> bool {
    plain_bare_end(input).is_some()
}

/// [`plainly_valid`], and if so where the bare JID ends and whether its domain has a
/// trailing dot (the bare JID is then `input[..end]`, less that dot). 16 bytes at a
/// time ([`blocks`]); [`plain_bare_end_bytes`] is the reference it is proven equal to.
#[doc(hidden)]
#[inline]
pub fn plain_bare_end(input: &[u8]) -> Option<(usize, bool)> {
    blocks::plain_bare_end(input)
}

/// [`plain_bare_end`] byte by byte: the reference for the block version (kept public
/// for the differential tests and the `blocks` fuzz target).
#[doc(hidden)]
pub fn plain_bare_end_bytes(input: &[u8]) -> Option<(usize, bool)> {
    if input.len() > MAX_PART_BYTES {
        return None;
    }
    let mut walk = Walk::new();
    let mut bare_end = input.len();
    for (i, &b) in input.iter().enumerate() {
        match walk.step(i, b) {
            Step::On => {}
            Step::Slash => {
                bare_end = i;
                break;
            }
            Step::Refused => return None,
        }
    }
    walk.end(bare_end)?;
    let resource_ok = match input.get(bare_end..) {
        Some([b'/', resource @ ..]) => {
            !resource.is_empty() && resource.iter().all(|&b| (b' '..0x7f).contains(&b))
        }
        _ => true,
    };
    resource_ok.then_some((bare_end, bare_end == walk.label_start))
}

/// What a byte of the bare JID does to [`Walk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Go on to the next byte.
    On,
    /// The bare JID ends here; the resourcepart follows.
    Slash,
    /// Not shown valid here: the full checks decide.
    Refused,
}

/// The state of the fast path over a bare JID: where the domain and the current
/// label start, and whether every label so far is 1 to 63 bytes (RFC 5890
/// §2.3.2.1); labels before an `@` do not count. A `PLAIN` byte changes nothing, so
/// a walk may skip runs of them (the block version does).
#[derive(Debug, Clone, Copy)]
struct Walk {
    at: bool,
    domain_start: usize,
    label_start: usize,
    labels_ok: bool,
}

impl Walk {
    #[inline(always)]
    fn new() -> Walk {
        Walk {
            at: false,
            domain_start: 0,
            label_start: 0,
            labels_ok: true,
        }
    }

    /// Byte `b` at position `i`.
    #[inline(always)]
    fn step(&mut self, i: usize, b: u8) -> Step {
        match JID_BYTES.get(usize::from(b)).copied().unwrap_or(BAD) {
            PLAIN => Step::On,
            DOT => {
                if i > self.label_start + MAX_LABEL_BYTES || i == self.label_start {
                    self.labels_ok = false;
                }
                self.label_start = i + 1;
                Step::On
            }
            AT if !self.at && i > 0 => {
                self.at = true;
                self.domain_start = i + 1;
                self.label_start = i + 1;
                self.labels_ok = true;
                Step::On
            }
            SLASH => Step::Slash,
            _ => Step::Refused,
        }
    }

    /// The bare JID ended at `bare_end`: its labels are all right. The last label
    /// may be empty only after a trailing dot (RFC 7622 §3.2), which needs a label
    /// before it: `label_start > domain_start` then.
    #[inline(always)]
    fn end(&self, bare_end: usize) -> Option<()> {
        let last = bare_end - self.label_start;
        let last_ok = last <= MAX_LABEL_BYTES && (last > 0 || self.label_start > self.domain_start);
        (self.labels_ok && last_ok).then_some(())
    }
}

/// RFC 7622 §3.3.1: UsernameCaseMapped profile; these ASCII characters are excluded.
fn check_localpart(local: &str) -> Result<(), JidError> {
    if local.is_empty() {
        return Err(JidError::EmptyLocal);
    }
    if local.len() > MAX_PART_BYTES {
        return Err(JidError::TooLong("localpart"));
    }
    let ascii = |b: u8| matches!(b, b'"' | b'&' | b'\'' | b'/' | b':' | b'<' | b'>' | b'@');
    match first_forbidden(local, ascii) {
        Some(c) => Err(JidError::ForbiddenLocalChar(c)),
        None => Ok(()),
    }
}

/// RFC 7622 §3.2: an IP literal or a domain name of non-empty labels.
fn check_domainpart(domain: &str) -> Result<(), JidError> {
    if domain.is_empty() {
        return Err(JidError::EmptyDomain);
    }
    if domain.len() > MAX_PART_BYTES {
        return Err(JidError::TooLong("domainpart"));
    }
    if let Some(inner) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        return match inner.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(()),
            Err(_) => Err(JidError::ForbiddenDomainChar('[')),
        };
    }
    let ascii = |b: u8| {
        matches!(
            b,
            b'"' | b'&' | b'\'' | b'/' | b':' | b'<' | b'>' | b'@' | b'[' | b']' | b'\\'
        )
    };
    if let Some(c) = first_forbidden(domain, ascii) {
        return Err(JidError::ForbiddenDomainChar(c));
    }
    if domain
        .as_bytes()
        .split(|&b| b == b'.')
        .any(|label| label.is_empty() || label.len() > MAX_LABEL_BYTES)
    {
        return Err(JidError::BadLabel);
    }
    Ok(())
}

/// RFC 7622 §3.4: OpaqueString profile; anything but control characters.
fn check_resourcepart(resource: &str) -> Result<(), JidError> {
    if resource.is_empty() {
        return Err(JidError::EmptyResource);
    }
    if resource.len() > MAX_PART_BYTES {
        return Err(JidError::TooLong("resourcepart"));
    }
    let has_control = if resource.is_ascii() {
        resource.bytes().any(|b| b.is_ascii_control())
    } else {
        resource.chars().any(char::is_control)
    };
    if has_control {
        return Err(JidError::ControlInResource);
    }
    Ok(())
}

fn is_space_or_control(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

/// The first character of `part` that is white space, a control character or one of
/// the ASCII characters `forbidden_ascii` names. ASCII parts (nearly all) are checked
/// byte by byte.
fn first_forbidden(part: &str, forbidden_ascii: impl Fn(u8) -> bool) -> Option<char> {
    if part.is_ascii() {
        part.bytes()
            .find(|&b| b <= b' ' || b == 0x7f || forbidden_ascii(b))
            .map(char::from)
    } else {
        part.chars()
            .find(|&c| is_space_or_control(c) || u8::try_from(c).is_ok_and(&forbidden_ascii))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path as first written (a plain loop and a split): the table-driven
    /// version must answer the same.
    fn plainly_valid_reference(input: &[u8]) -> bool {
        if input.len() > MAX_PART_BYTES {
            return false;
        }
        let mut at = None;
        let mut slash = None;
        for (i, &b) in input.iter().enumerate() {
            if b <= b' ' || b >= 0x7f {
                return false;
            }
            match b {
                b'/' => {
                    slash = Some(i);
                    break;
                }
                b'@' if at.is_none() && i > 0 => at = Some(i),
                // Excluded from a localpart or domainpart (RFC 7622 §3.2, §3.3.1), or
                // allowed only in one of them: the full checks sort it out.
                b'"' | b'&' | b'\'' | b':' | b'<' | b'>' | b'@' | b'[' | b']' | b'\\' => {
                    return false
                }
                _ => {}
            }
        }
        let bare_end = slash.unwrap_or(input.len());
        let domain = input
            .get(at.map_or(0, |a| a + 1)..bare_end)
            .unwrap_or_default();
        let domain = domain.strip_suffix(b".").unwrap_or(domain);
        if domain.is_empty()
            || domain
                .split(|&b| b == b'.')
                .any(|label| label.is_empty() || label.len() > MAX_LABEL_BYTES)
        {
            return false;
        }
        match slash {
            Some(s) => {
                let resource = input.get(s + 1..).unwrap_or_default();
                !resource.is_empty() && resource.iter().all(|&b| (b' '..0x7f).contains(&b))
            }
            None => true,
        }
    }

    #[test]
    fn parts_are_split_as_written() {
        assert_eq!(
            parts("juliet@capulet.example./balcony/a@b"),
            (Some("juliet"), "capulet.example.", Some("balcony/a@b"))
        );
        assert_eq!(parts("capulet.example"), (None, "capulet.example", None));
        assert_eq!(parts("@x/"), (Some(""), "x", Some("")));
    }

    #[test]
    fn the_one_pass_check_accepts_only_valid_jids() {
        // Every string the fast path accepts passes the full checks; common JIDs take
        // the fast path.
        let full = |s: &str| {
            let (local, domain, resource) = split(s);
            local.map_or(Ok(()), check_localpart)?;
            check_domainpart(domain)?;
            resource.map_or(Ok(()), check_resourcepart)
        };
        for s in [
            "juliet@example.com",
            "juliet@example.com/balcony",
            "juliet@example.com/foo bar",
            "example.com",
            "example.com.",
            "a.b@c.d/e@f/g",
            "user2248@example.net",
        ] {
            assert!(plainly_valid(s.as_bytes()), "{s}");
            assert!(full(s).is_ok(), "{s}");
        }
        let label = |n: usize| "x".repeat(n);
        for s in [
            format!("{}.com", label(63)),
            format!("{}.com", label(64)),
            format!("a.{}", label(64)),
            format!("{}@b.c", label(70)),
            format!("u@{}./r", label(63)),
            "u@.".to_owned(),
            "u@a..".to_owned(),
            ".".to_owned(),
            "a@b/".to_owned(),
        ] {
            assert_eq!(
                plainly_valid(s.as_bytes()),
                plainly_valid_reference(s.as_bytes()),
                "{s}"
            );
        }
        // Random short strings over an alphabet rich in separators.
        let alphabet = b"ab.@/ :\"[]\\\t\x7f-";
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut accepted = 0;
        for _ in 0..200_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let len = (seed >> 59) as usize;
            let s: String = (0..len)
                .map(|i| {
                    let k = (seed >> (i * 3 % 56)) as usize % alphabet.len();
                    alphabet[k] as char
                })
                .collect();
            assert_eq!(
                plainly_valid(s.as_bytes()),
                plainly_valid_reference(s.as_bytes()),
                "{s:?}"
            );
            assert_eq!(
                Jid::bare_of(&s).map(|b| b.into_owned()),
                Jid::parse(&s).ok().map(|j| j.bare().to_owned()),
                "{s:?}"
            );
            if plainly_valid(s.as_bytes()) {
                assert!(full(&s).is_ok(), "{s:?}");
                accepted += 1;
            }
        }
        assert!(accepted > 1_000, "{accepted}");
    }

    #[test]
    fn bare_of_equals_the_parsed_bare_jid() {
        for s in [
            "juliet@example.com/balcony",
            "juliet@example.com",
            "example.com/x",
            "example.com.",
            "juliet@example.com./r/s",
            "a@[::1]/r",
            "bad@",
            "",
        ] {
            let parsed = Jid::parse(s).ok().map(|j| j.bare().to_owned());
            assert_eq!(Jid::bare_of(s).map(|b| b.into_owned()), parsed, "{s}");
        }
    }

    // Examples from RFC 7622 §3.5 (valid) and §3.6 (invalid).
    #[test]
    fn rfc7622_valid_examples() {
        for s in [
            "juliet@example.com",
            "juliet@example.com/foo",
            "juliet@example.com/foo bar",
            "juliet@example.com/foo@bar",
            "foo\\20bar@example.com",
            "fussball@example.com",
            "fußball@example.com",
            "π@example.com",
            "Σ@example.com/foo",
            "example.com",
            "example.com/foobar",
            "a.example.com/b@example.net",
            "[::1]",
            "juliet@[2001:db8::1]/balcony",
        ] {
            assert!(Jid::parse(s).is_ok(), "{s} should be valid");
        }
    }

    #[test]
    fn rfc7622_invalid_examples() {
        for s in [
            "\"juliet\"@example.com",
            "foo bar@example.com",
            "henry\u{2163}@example.com/x\u{7}",
            "@example.com/",
            "henryiv@example.com/",
            "@example.com",
            "",
            "user@",
            "user@exa mple.com",
            "a@b..c",
        ] {
            assert!(Jid::parse(s).is_err(), "{s:?} should be invalid");
        }
    }

    #[test]
    fn parts_are_split_at_first_slash_then_first_at() {
        let jid = Jid::parse("juliet@example.com/balcony/with@at").unwrap();
        assert_eq!(jid.localpart(), Some("juliet"));
        assert_eq!(jid.domainpart(), "example.com");
        assert_eq!(jid.resourcepart(), Some("balcony/with@at"));
        assert_eq!(jid.bare(), "juliet@example.com");
        assert!(jid.is_full());
        let domain_only = Jid::parse("example.com.").unwrap();
        assert_eq!(domain_only.as_str(), "example.com");
        assert_eq!(domain_only.localpart(), None);
        assert!(!domain_only.is_full());
    }

    #[test]
    fn length_limits() {
        let long = "a".repeat(1024);
        assert_eq!(
            Jid::parse(&format!("{long}@example.com")),
            Err(JidError::TooLong("localpart"))
        );
        assert!(Jid::parse(&format!("{}@example.com", "a".repeat(1023))).is_ok());
        assert_eq!(
            Jid::parse(&format!("x@{}.com", "b".repeat(64))),
            Err(JidError::BadLabel)
        );
    }
}
