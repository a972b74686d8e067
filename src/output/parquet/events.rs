//! Every event as one row of a Parquet file (`--parquet FILE`), schema version
//! [`SCHEMA_VERSION`] (`docs/parquet.md`).
//!
//! Input: [`Event`]s and the run's [`Summary`]; output: a Parquet file whose columns
//! are the NDJSON keys (`docs/events.md`): the position of every event, then typed
//! columns for the keys most queries need (a key fills its column when its JSON
//! type is the column's; `status` of a `websocket_accept`, a number, does not fill
//! the presence `status` column), the parts of `from` and `to`, and `extra`: every
//! other key of the event as one JSON object, so no field is lost.
//!
//! Stanzas, nearly all of a capture's events, are filled straight from the
//! [`Stanza`] (their census details, the only keys left for `extra`, through
//! serde); every other event goes through its serde form, as the NDJSON printer
//! does. Both give the same row: a test
//! writes every event of `captures/` both ways and compares the files' bytes.

use super::{Cell, Columns, Kind, Spec};
use crate::model::{hex16, Direction, Event, EventKind, Stanza};
use crate::sink::{Sink, Summary};
use serde_json::{Map, Value};
use std::io::{self, Write};

/// The version of the event schema, in the footer as `xmppdump.schema`
/// (`events/1`); it changes when a column is renamed, removed or retyped.
pub const SCHEMA_VERSION: u32 = 1;

/// The columns, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Col {
    Time,
    TimeNs,
    Flow,
    Dir,
    Frame,
    Offset,
    Size,
    Decrypted,
    Event,
    Type,
    Id,
    From,
    FromLocal,
    FromDomain,
    FromResource,
    To,
    ToLocal,
    ToDomain,
    ToResource,
    Payload,
    PayloadName,
    Extensions,
    BodyLen,
    Subject,
    Thread,
    Show,
    Status,
    Priority,
    BindResource,
    BoundJid,
    Error,
    Digest,
    Wrapper,
    StreamKind,
    Version,
    Namespace,
    Condition,
    Anomaly,
    Detail,
    Extra,
}

/// Name, kind and whether every row has it, for each [`Col`] in order.
const COLUMNS: [(Col, &str, Kind, bool); 40] = [
    (Col::Time, "time", Kind::Timestamp, true),
    (Col::TimeNs, "time_ns", Kind::Int64, true),
    (Col::Flow, "flow", Kind::Int64, true),
    (Col::Dir, "dir", Kind::Text, true),
    (Col::Frame, "frame", Kind::Int64, true),
    (Col::Offset, "offset", Kind::Int64, true),
    (Col::Size, "size", Kind::Int64, true),
    (Col::Decrypted, "decrypted", Kind::Bool, true),
    (Col::Event, "event", Kind::Text, true),
    (Col::Type, "type", Kind::Text, false),
    (Col::Id, "id", Kind::Text, false),
    (Col::From, "from", Kind::Text, false),
    (Col::FromLocal, "from_local", Kind::Text, false),
    (Col::FromDomain, "from_domain", Kind::Text, false),
    (Col::FromResource, "from_resource", Kind::Text, false),
    (Col::To, "to", Kind::Text, false),
    (Col::ToLocal, "to_local", Kind::Text, false),
    (Col::ToDomain, "to_domain", Kind::Text, false),
    (Col::ToResource, "to_resource", Kind::Text, false),
    (Col::Payload, "payload", Kind::Text, false),
    (Col::PayloadName, "payload_name", Kind::Text, false),
    (Col::Extensions, "extensions", Kind::TextList, false),
    (Col::BodyLen, "body_len", Kind::Int64, false),
    (Col::Subject, "subject", Kind::Text, false),
    (Col::Thread, "thread", Kind::Text, false),
    (Col::Show, "show", Kind::Text, false),
    (Col::Status, "status", Kind::Text, false),
    (Col::Priority, "priority", Kind::Int32, false),
    (Col::BindResource, "bind_resource", Kind::Text, false),
    (Col::BoundJid, "bound_jid", Kind::Text, false),
    (Col::Error, "error", Kind::Text, false),
    (Col::Digest, "digest", Kind::Text, false),
    (Col::Wrapper, "wrapper", Kind::Text, false),
    (Col::StreamKind, "stream_kind", Kind::Text, false),
    (Col::Version, "version", Kind::Text, false),
    (Col::Namespace, "namespace", Kind::Text, false),
    (Col::Condition, "condition", Kind::Text, false),
    (Col::Anomaly, "anomaly", Kind::Text, false),
    (Col::Detail, "detail", Kind::Text, false),
    (Col::Extra, "extra", Kind::Text, false),
];

/// The NDJSON keys every event has, written to the first columns from the
/// [`Event`] itself.
const POSITION_KEYS: [&str; 8] = [
    "time",
    "flow",
    "dir",
    "frame",
    "offset",
    "size",
    "decrypted",
    "event",
];

/// The column specs, in file order.
pub fn specs() -> Vec<Spec> {
    COLUMNS
        .iter()
        .map(|(col, name, kind, required)| {
            let spec = Spec::new(name, *kind, *required);
            match col {
                Col::Time | Col::TimeNs | Col::Frame | Col::Offset | Col::Id => {
                    spec.nearly_unique()
                }
                _ => spec,
            }
        })
        .collect()
}

/// Writes events as rows of a Parquet file.
pub struct EventColumns<W: Write + Send> {
    columns: Columns<W>,
    /// Every event through its serde form (tests prove the stanza path equal).
    serde_only: bool,
}

impl<W: Write + Send> EventColumns<W> {
    pub fn new(out: W) -> io::Result<Self> {
        let metadata = vec![(
            "xmppdump.schema".to_owned(),
            format!("events/{SCHEMA_VERSION}"),
        )];
        Ok(EventColumns {
            columns: Columns::new(out, "xmppdump_event", specs(), metadata)?,
            serde_only: false,
        })
    }

    /// Fills every row through the event's serde form, as the fast stanza path is
    /// tested against.
    #[doc(hidden)]
    pub fn serde_only(mut self) -> Self {
        self.serde_only = true;
        self
    }

    fn set(&mut self, col: Col, cell: Cell<'_>) -> io::Result<()> {
        self.columns.set(col as usize, cell)
    }

    fn text(&mut self, col: Col, value: Option<&str>) -> io::Result<()> {
        match value {
            Some(v) => self.set(col, Cell::Text(v)),
            None => Ok(()),
        }
    }

    fn position(&mut self, event: &Event) -> io::Result<()> {
        let ns = event.time.0;
        self.set(Col::Time, Cell::Int(ns.div_euclid(1000)))?;
        self.set(Col::TimeNs, Cell::Int(ns))?;
        self.set(Col::Flow, Cell::Int(i64::from(event.flow.0)))?;
        let dir = match event.direction {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        };
        self.set(Col::Dir, Cell::Text(dir))?;
        self.set(Col::Frame, Cell::Int(to_i64(event.frame.0)))?;
        self.set(Col::Offset, Cell::Int(to_i64(event.offset.0)))?;
        self.set(Col::Size, Cell::Int(to_i64(event.size)))?;
        self.set(Col::Decrypted, Cell::Bool(event.decrypted))?;
        self.set(Col::Event, Cell::Text(event.kind.name()))
    }

    /// The address and its parts, split as RFC 7622 §3.1 says (at the first `/`,
    /// then the first `@` before it) whether or not the address is valid.
    fn address(&mut self, cols: [Col; 4], value: Option<&str>) -> io::Result<()> {
        let [whole, local, domain, resource] = cols;
        let Some(value) = value else {
            return Ok(());
        };
        let (l, d, r) = crate::jid::parts(value);
        self.set(whole, Cell::Text(value))?;
        self.text(local, l)?;
        self.set(domain, Cell::Text(d))?;
        self.text(resource, r)
    }

    /// A stanza, straight from its fields.
    fn stanza(&mut self, s: &Stanza) -> io::Result<()> {
        self.text(Col::Type, s.r#type())?;
        self.text(Col::Id, s.id())?;
        self.address(
            [
                Col::From,
                Col::FromLocal,
                Col::FromDomain,
                Col::FromResource,
            ],
            s.from(),
        )?;
        self.address(
            [Col::To, Col::ToLocal, Col::ToDomain, Col::ToResource],
            s.to(),
        )?;
        self.text(Col::Payload, s.payload())?;
        self.text(Col::PayloadName, s.payload_name())?;
        if s.has_extensions() {
            self.columns
                .set_list(Col::Extensions as usize, s.extensions())?;
        }
        if let Some(n) = s.body_len {
            self.set(Col::BodyLen, Cell::Int(to_i64(n as u64)))?;
        }
        self.text(Col::Subject, s.subject())?;
        self.text(Col::Thread, s.thread())?;
        self.text(Col::Show, s.show())?;
        self.text(Col::Status, s.status())?;
        if let Some(p) = s.priority {
            self.set(Col::Priority, Cell::Int(i64::from(p)))?;
        }
        self.text(Col::BindResource, s.bind_resource())?;
        self.text(Col::BoundJid, s.bound_jid())?;
        self.text(Col::Error, s.error())?;
        if let Some(d) = s.digest {
            let hex = hex16(d);
            self.text(Col::Digest, std::str::from_utf8(&hex).ok())?;
        }
        self.text(Col::Wrapper, s.wrapper())?;
        // The census details are the keys no column takes: `extra`, through a JSON
        // value as `by_keys` writes it (keys sorted at every level).
        if let Some(detail) = &s.detail {
            if let Value::Object(keys) = serde_json::to_value(detail)? {
                if !keys.is_empty() {
                    let extra = serde_json::to_string(&keys)?;
                    self.set(Col::Extra, Cell::Text(&extra))?;
                }
            }
        }
        Ok(())
    }

    /// Any event, from the keys of its serde form: a key fills its column when its
    /// JSON type fits, the rest go to `extra`.
    fn by_keys(&mut self, event: &Event) -> io::Result<()> {
        let Value::Object(mut keys) = serde_json::to_value(event)? else {
            return Err(io::Error::other("an event is not a JSON object"));
        };
        for key in POSITION_KEYS {
            keys.remove(key);
        }
        for (col, name, kind, _) in COLUMNS.iter().skip(POSITION_KEYS.len() + 1) {
            let fits = match (kind, keys.get(*name)) {
                (Kind::Text, Some(Value::String(_))) => true,
                (Kind::Int64 | Kind::Int32, Some(Value::Number(n))) => n.is_i64(),
                (Kind::TextList, Some(Value::Array(items))) => items.iter().all(Value::is_string),
                _ => false,
            };
            if !fits || matches!(col, Col::From | Col::To | Col::Extra) {
                continue;
            }
            let Some(value) = keys.remove(*name) else {
                continue;
            };
            match value {
                Value::String(s) => self.set(*col, Cell::Text(&s))?,
                Value::Number(n) => self.set(*col, Cell::Int(n.as_i64().unwrap_or_default()))?,
                Value::Array(items) => self
                    .columns
                    .set_list(*col as usize, items.iter().filter_map(Value::as_str))?,
                _ => {}
            }
        }
        self.address_key(&mut keys, "from")?;
        self.address_key(&mut keys, "to")?;
        if !keys.is_empty() {
            let extra = serde_json::to_string(&keys)?;
            self.set(Col::Extra, Cell::Text(&extra))?;
        }
        Ok(())
    }

    fn address_key(&mut self, keys: &mut Map<String, Value>, key: &str) -> io::Result<()> {
        if !matches!(keys.get(key), Some(Value::String(_))) {
            return Ok(());
        }
        let Some(Value::String(address)) = keys.remove(key) else {
            return Ok(());
        };
        let cols = if key == "from" {
            [
                Col::From,
                Col::FromLocal,
                Col::FromDomain,
                Col::FromResource,
            ]
        } else {
            [Col::To, Col::ToLocal, Col::ToDomain, Col::ToResource]
        };
        self.address(cols, Some(&address))
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl<W: Write + Send> Sink for EventColumns<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.position(event)?;
        match &event.kind {
            EventKind::Message(s) | EventKind::Presence(s) | EventKind::Iq(s)
                if !self.serde_only =>
            {
                self.stanza(s)?
            }
            _ => self.by_keys(event)?,
        }
        self.columns.end_row()
    }

    /// Completes the file, the run's totals in its footer (`xmppdump.summary`).
    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.columns
            .add_metadata("xmppdump.summary", serde_json::to_string(summary)?);
        self.columns.finish()
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_in_their_enum_order_with_unique_names() {
        for (i, (col, _, _, _)) in COLUMNS.iter().enumerate() {
            assert_eq!(*col as usize, i);
        }
        let mut names: Vec<&str> = COLUMNS.iter().map(|c| c.1).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COLUMNS.len());
        for (key, (_, name, _, _)) in POSITION_KEYS.iter().zip(COLUMNS.iter().skip(1)) {
            if *key != "time" {
                assert_eq!(key, name);
            }
        }
    }
}
