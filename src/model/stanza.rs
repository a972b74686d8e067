//! The fields common to `<message>`, `<presence>` and `<iq>` (RFC 6120 §8), stored so
//! that reporting a stanza allocates nothing once a capture is under way.
//!
//! Input: field values borrowed from a parsed element; output: a [`Stanza`] read
//! through accessors. Storage follows xmpp-rs's JID: one string holding every text
//! field back to back, and offsets into it, instead of a `String` per field (eight
//! allocations and frees per stanza before). The box of a dropped [`StanzaBox`] goes
//! back, its buffers emptied but not freed, to a short list of spare boxes of the
//! thread that drops it, and [`StanzaBox::new`] takes from there first: the
//! classifier and the printers run on one thread, and in `-j` mode events go back to
//! the shard that made them to be dropped, so the boxes circle without `malloc`. The
//! list holds at most [`MAX_SPARE`] boxes whose buffers are small (bounded memory).

use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::cell::Cell;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// The text fields of a stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The `type` attribute as sent (absent: `normal` message, available presence).
    Type,
    Id,
    From,
    To,
    /// First child's namespace: the iq payload (RFC 6120 §8.2.3).
    Payload,
    /// First child's local name, for iq.
    PayloadName,
    Subject,
    Thread,
    /// Presence `<show>` (RFC 6121 §4.7.2.1).
    Show,
    /// Presence `<status>` (RFC 6121 §4.7.2.2).
    Status,
    /// Resource requested in a bind request (RFC 6120 §7.6).
    BindResource,
    /// Full JID returned by a bind result (RFC 6120 §7.6.1).
    BoundJid,
    /// Stanza error condition (RFC 6120 §8.3.3).
    Error,
    /// The element the stanza arrived in, e.g. `route` for router traffic.
    Wrapper,
}

const FIELDS: usize = 14;

/// Every field in the order of the NDJSON schema, with its key.
const SCHEMA: [(Field, &str); FIELDS] = [
    (Field::Type, "type"),
    (Field::Id, "id"),
    (Field::From, "from"),
    (Field::To, "to"),
    (Field::Payload, "payload"),
    (Field::PayloadName, "payload_name"),
    (Field::Subject, "subject"),
    (Field::Thread, "thread"),
    (Field::Show, "show"),
    (Field::Status, "status"),
    (Field::BindResource, "bind_resource"),
    (Field::BoundJid, "bound_jid"),
    (Field::Error, "error"),
    (Field::Wrapper, "wrapper"),
];

/// Where a value lies in [`Stanza::text`]; `start > end` marks an absent value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

const ABSENT: Span = Span { start: 1, end: 0 };

/// At most this many spare boxes are kept per thread.
pub const MAX_SPARE: usize = 256;
/// A box whose text buffer grew beyond this is freed rather than kept.
const MAX_SPARE_TEXT: usize = 4096;
/// A box whose extension list grew beyond this is freed rather than kept.
const MAX_SPARE_EXTENSIONS: usize = 32;

/// The fields common to `<message>`, `<presence>` and `<iq>` (RFC 6120 §8).
#[derive(Clone)]
pub struct Stanza {
    text: String,
    spans: [Span; FIELDS],
    /// Namespaces of extension children, sorted by text and unique.
    extensions: Vec<Span>,
    /// Message body length in bytes (RFC 6121 §5.2.3).
    pub body_len: Option<usize>,
    /// Presence `<priority>` (RFC 6121 §4.7.2.3).
    pub priority: Option<i16>,
    /// Presence only: hash of its meaning (type, show, status, priority, children;
    /// not id, from, to or attribute order), shown as 16 hex digits.
    pub digest: Option<u64>,
    /// Census details (caps, software, disco, nested namespaces, base64 payloads),
    /// when the stanza has any.
    pub detail: Option<Box<super::Detail>>,
    /// The bare JID's length in `from` and in `to` when the common-case JID check
    /// vouches for the address ([`crate::jid::plain_bare_len`]), found once as the
    /// field is set: the classifier's validity check and the statistics' bare JIDs
    /// both read it.
    plain_bare: [Option<u16>; 2],
}

impl Stanza {
    /// A stanza with no field set.
    pub const fn new() -> Stanza {
        Stanza {
            text: String::new(),
            spans: [ABSENT; FIELDS],
            extensions: Vec::new(),
            body_len: None,
            priority: None,
            digest: None,
            detail: None,
            plain_bare: [None; 2],
        }
    }

    fn clear(&mut self) {
        self.text.clear();
        self.spans = [ABSENT; FIELDS];
        self.extensions.clear();
        self.body_len = None;
        self.priority = None;
        self.digest = None;
        self.detail = None;
        self.plain_bare = [None; 2];
    }

    fn value(&self, span: Span) -> Option<&str> {
        if span.start > span.end {
            return None;
        }
        self.text.get(span.start as usize..span.end as usize)
    }

    /// Appends `value` to the text; `ABSENT` in the (impossible) case that the text
    /// outgrows 32-bit offsets.
    fn store(&mut self, value: &str) -> Span {
        let (Ok(start), Ok(end)) = (
            u32::try_from(self.text.len()),
            u32::try_from(self.text.len() + value.len()),
        ) else {
            return ABSENT;
        };
        self.text.push_str(value);
        Span { start, end }
    }

    /// The value of `field`, if the stanza has one.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.spans
            .get(field as usize)
            .and_then(|&span| self.value(span))
    }

    /// Sets `field` (a value set twice keeps the last).
    pub fn set(&mut self, field: Field, value: &str) {
        let span = self.store(value);
        if let Some(slot) = self.spans.get_mut(field as usize) {
            *slot = span;
        }
        let address = match field {
            Field::From => self.plain_bare.get_mut(0),
            Field::To => self.plain_bare.get_mut(1),
            _ => None,
        };
        if let Some(bare) = address {
            *bare = crate::jid::plain_bare_len(value).and_then(|n| u16::try_from(n).ok());
        }
    }

    /// `from` as a bare JID (RFC 7622 §3.1) when the common-case JID check vouches
    /// for it (it is then valid); `None` when `from` is absent or needs the full
    /// checks ([`crate::jid::Jid::bare_of`]).
    pub fn plain_bare_from(&self) -> Option<&str> {
        self.plain_bare_of(0, self.from())
    }

    /// `to` as a bare JID, as [`Stanza::plain_bare_from`].
    pub fn plain_bare_to(&self) -> Option<&str> {
        self.plain_bare_of(1, self.to())
    }

    fn plain_bare_of<'s>(&self, which: usize, address: Option<&'s str>) -> Option<&'s str> {
        let len = self.plain_bare.get(which).copied().flatten()?;
        address?.get(..usize::from(len))
    }

    /// Sets `field` when `value` is present.
    pub fn set_opt(&mut self, field: Field, value: Option<&str>) {
        if let Some(value) = value {
            self.set(field, value);
        }
    }

    /// Adds an extension namespace, keeping the list sorted and unique.
    pub fn add_extension(&mut self, ns: &str) {
        let mut at = self.extensions.len();
        for (i, &span) in self.extensions.iter().enumerate() {
            match self.value(span).map(|e| e.cmp(ns)) {
                Some(std::cmp::Ordering::Equal) => return,
                Some(std::cmp::Ordering::Greater) => {
                    at = i;
                    break;
                }
                _ => {}
            }
        }
        let span = self.store(ns);
        self.extensions.insert(at, span);
    }

    /// Namespaces of extension children, sorted and unique.
    pub fn extensions(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        self.extensions
            .iter()
            .map(|&span| self.value(span).unwrap_or_default())
    }

    pub fn has_extensions(&self) -> bool {
        !self.extensions.is_empty()
    }

    pub fn r#type(&self) -> Option<&str> {
        self.get(Field::Type)
    }
    pub fn id(&self) -> Option<&str> {
        self.get(Field::Id)
    }
    pub fn from(&self) -> Option<&str> {
        self.get(Field::From)
    }
    pub fn to(&self) -> Option<&str> {
        self.get(Field::To)
    }
    pub fn payload(&self) -> Option<&str> {
        self.get(Field::Payload)
    }
    pub fn payload_name(&self) -> Option<&str> {
        self.get(Field::PayloadName)
    }
    pub fn subject(&self) -> Option<&str> {
        self.get(Field::Subject)
    }
    pub fn thread(&self) -> Option<&str> {
        self.get(Field::Thread)
    }
    pub fn show(&self) -> Option<&str> {
        self.get(Field::Show)
    }
    pub fn status(&self) -> Option<&str> {
        self.get(Field::Status)
    }
    pub fn bind_resource(&self) -> Option<&str> {
        self.get(Field::BindResource)
    }
    pub fn bound_jid(&self) -> Option<&str> {
        self.get(Field::BoundJid)
    }
    pub fn error(&self) -> Option<&str> {
        self.get(Field::Error)
    }
    pub fn wrapper(&self) -> Option<&str> {
        self.get(Field::Wrapper)
    }
}

impl Default for Stanza {
    fn default() -> Stanza {
        Stanza::new()
    }
}

/// Equal when every field is: how the values are laid out in the text does not matter.
impl PartialEq for Stanza {
    fn eq(&self, other: &Stanza) -> bool {
        SCHEMA.iter().all(|&(f, _)| self.get(f) == other.get(f))
            && self.extensions().eq(other.extensions())
            && self.body_len == other.body_len
            && self.priority == other.priority
            && self.digest == other.digest
            && self.detail == other.detail
    }
}

impl Eq for Stanza {}

impl fmt::Debug for Stanza {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Stanza");
        for (field, key) in SCHEMA {
            if let Some(value) = self.get(field) {
                d.field(key, &value);
            }
        }
        if self.has_extensions() {
            d.field("extensions", &self.extensions().collect::<Vec<_>>());
        }
        d.field("body_len", &self.body_len)
            .field("priority", &self.priority)
            .field("digest", &self.digest)
            .field("detail", &self.detail)
            .finish()
    }
}

/// The NDJSON schema: absent values are left out; the order is the schema's (type,
/// id, from, to, payload, payload_name, body_len, subject, thread, show, status,
/// priority, bind_resource, bound_jid, error, extensions, digest, wrapper).
impl Serialize for Stanza {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("Stanza", 18)?;
        for (field, key) in SCHEMA {
            if let Some(value) = self.get(field) {
                st.serialize_field(key, value)?;
            }
            match field {
                Field::PayloadName => {
                    if let Some(n) = self.body_len {
                        st.serialize_field("body_len", &n)?;
                    }
                }
                Field::Status => {
                    if let Some(p) = self.priority {
                        st.serialize_field("priority", &p)?;
                    }
                }
                Field::Error => {
                    if self.has_extensions() {
                        st.serialize_field("extensions", &self.extensions().collect::<Vec<_>>())?;
                    }
                    if let Some(d) = self.digest {
                        let hex = super::hex16(d);
                        st.serialize_field(
                            "digest",
                            std::str::from_utf8(&hex).unwrap_or_default(),
                        )?;
                    }
                    if let Some(detail) = &self.detail {
                        serialize_detail(&mut st, detail)?;
                    }
                }
                _ => {}
            }
        }
        st.end()
    }
}

/// The census keys, after `digest`: `caps`, `software`, `disco`, `nested`,
/// `binary`, each only when present.
fn serialize_detail<S: SerializeStruct>(st: &mut S, d: &super::Detail) -> Result<(), S::Error> {
    if let Some(caps) = &d.caps {
        st.serialize_field("caps", caps)?;
    }
    if let Some(software) = &d.software {
        st.serialize_field("software", software)?;
    }
    if let Some(disco) = &d.disco {
        st.serialize_field("disco", disco)?;
    }
    if !d.nested.is_empty() {
        st.serialize_field("nested", &d.nested)?;
    }
    if !d.binary.is_empty() {
        st.serialize_field("binary", &d.binary)?;
    }
    Ok(())
}

static EMPTY: Stanza = Stanza::new();

thread_local! {
    /// This thread's spare boxes (see the module documentation).
    #[allow(clippy::vec_box)] // the boxes are what circulates: events hold them
    static SPARE: Cell<Vec<Box<Stanza>>> = const { Cell::new(Vec::new()) };
}

/// A boxed [`Stanza`] whose box is reused once dropped (module documentation).
#[derive(Clone, PartialEq, Eq)]
pub struct StanzaBox(Option<Box<Stanza>>);

impl StanzaBox {
    /// An empty stanza, in a spare box of this thread when there is one.
    pub fn new() -> StanzaBox {
        let spare = SPARE.with(|cell| {
            let mut list = cell.take();
            let spare = list.pop();
            cell.set(list);
            spare
        });
        StanzaBox(Some(spare.unwrap_or_default()))
    }
}

impl Default for StanzaBox {
    fn default() -> StanzaBox {
        StanzaBox::new()
    }
}

impl From<Stanza> for StanzaBox {
    fn from(stanza: Stanza) -> StanzaBox {
        StanzaBox(Some(Box::new(stanza)))
    }
}

impl Drop for StanzaBox {
    fn drop(&mut self) {
        let Some(mut stanza) = self.0.take() else {
            return;
        };
        if stanza.text.capacity() > MAX_SPARE_TEXT
            || stanza.extensions.capacity() > MAX_SPARE_EXTENSIONS
        {
            return;
        }
        stanza.clear();
        // `try_with`: during thread exit the list may already be gone; then free.
        let _ = SPARE.try_with(|cell| {
            let mut list = cell.take();
            if list.len() < MAX_SPARE {
                list.push(stanza);
            }
            cell.set(list);
        });
    }
}

impl Deref for StanzaBox {
    type Target = Stanza;

    fn deref(&self) -> &Stanza {
        self.0.as_deref().unwrap_or(&EMPTY)
    }
}

impl DerefMut for StanzaBox {
    fn deref_mut(&mut self) -> &mut Stanza {
        self.0.get_or_insert_with(Box::default)
    }
}

impl fmt::Debug for StanzaBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl Serialize for StanzaBox {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bare JIDs found as `from` and `to` are set are what `Jid::bare_of` gives
    /// for every address the common-case check vouches for; other addresses (invalid,
    /// or needing the full checks) have none, and a value set again replaces it.
    #[test]
    fn plain_bare_addresses_equal_the_parsed_bare_jid() {
        for address in [
            "juliet@example.com/balcony",
            "juliet@example.com",
            "example.com./r",
            "example.com",
            "a@b/c d",
            "not a jid",
            "@x",
            "ju:liet@example.com",
            "jüliet@example.com",
            "",
        ] {
            let mut s = Stanza::new();
            s.set(Field::From, "placeholder@example.org/x");
            s.set(Field::From, address);
            s.set(Field::To, address);
            let vouched = crate::jid::plain_bare_len(address).is_some();
            let bare = crate::jid::Jid::bare_of(address);
            assert_eq!(s.plain_bare_from().is_some(), vouched, "{address:?}");
            if vouched {
                assert_eq!(s.plain_bare_from(), bare.as_deref(), "{address:?}");
                assert_eq!(s.plain_bare_to(), bare.as_deref(), "{address:?}");
            } else {
                assert_eq!(s.plain_bare_to(), None, "{address:?}");
            }
        }
        let mut s = Stanza::new();
        s.set(Field::Id, "juliet@example.com");
        assert_eq!((s.plain_bare_from(), s.plain_bare_to()), (None, None));
        s.set(Field::To, "juliet@example.com/r");
        s.clear();
        assert_eq!(s.plain_bare_to(), None);
    }

    #[test]
    fn fields_read_back_and_absent_differs_from_empty() {
        let mut s = Stanza::new();
        s.set(Field::From, "juliet@example.com/balcony");
        s.set(Field::Id, "");
        s.set_opt(Field::To, None);
        assert_eq!(s.from(), Some("juliet@example.com/balcony"));
        assert_eq!(s.id(), Some(""));
        assert_eq!(s.to(), None);
        s.set(Field::From, "romeo@example.net");
        assert_eq!(s.from(), Some("romeo@example.net"));
    }

    #[test]
    fn extensions_are_sorted_and_unique() {
        let mut s = Stanza::new();
        for ns in ["urn:b", "urn:a", "urn:b", "urn:c", "urn:a"] {
            s.add_extension(ns);
        }
        assert_eq!(
            s.extensions().collect::<Vec<_>>(),
            ["urn:a", "urn:b", "urn:c"]
        );
    }

    #[test]
    fn equality_ignores_layout() {
        let mut a = Stanza::new();
        a.set(Field::To, "b");
        a.set(Field::From, "a");
        let mut b = Stanza::new();
        b.set(Field::From, "a");
        b.set(Field::To, "b");
        assert_eq!(a, b);
        b.set(Field::To, "c");
        assert_ne!(a, b);
    }

    #[test]
    fn dropped_boxes_come_back_empty_and_the_list_is_bounded() {
        let mut first = StanzaBox::new();
        first.set(Field::Status, "out to lunch");
        first.add_extension("urn:x");
        first.digest = Some(7);
        drop(first);
        let second = StanzaBox::new();
        // A freed box would come back with an unallocated text.
        assert!(
            second.text.capacity() >= "out to lunchurn:x".len(),
            "the box is reused"
        );
        assert_eq!(*second, Stanza::new(), "and holds nothing of before");
        let many: Vec<StanzaBox> = (0..MAX_SPARE + 10).map(|_| StanzaBox::new()).collect();
        drop(many);
        assert_eq!(
            SPARE.with(|c| {
                let list = c.take();
                let len = list.len();
                c.set(list);
                len
            }),
            MAX_SPARE
        );
    }

    #[test]
    fn large_buffers_are_not_kept() {
        let mut big = StanzaBox::new();
        big.set(Field::Status, &"x".repeat(MAX_SPARE_TEXT + 1));
        drop(big);
        let next = StanzaBox::new();
        assert_eq!(next.text.capacity(), 0, "a fresh box, not the big one");
    }
}
