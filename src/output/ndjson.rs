//! NDJSON: one object per event, stable snake_case keys (schema in `docs/events.md`).
//!
//! Stanza events, nearly all of a capture's, are written by hand in the order and form
//! serde's serialization of the event gives (the event's derived `Serialize`, with the
//! stanza's own; tested equal on every event of `captures/` and on arbitrary strings);
//! every other event goes through serde. The serde form, with the event kind
//! flattened into the line, costs several times as much per stanza.

use crate::model::{hex16, Direction, Event, EventKind, FlowId, Stanza};
use crate::sink::{LineFormat, Sink, Summary};
use std::io::{self, Write};

pub struct Ndjson<W: Write> {
    out: W,
    /// One line, serialized here before it is written: many small writes are cheaper
    /// into a vector than through `out`.
    line: Vec<u8>,
    time: String,
}

impl<W: Write> Ndjson<W> {
    pub fn new(out: W) -> Self {
        Ndjson {
            out,
            line: Vec::new(),
            time: String::new(),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One event as a JSON object (no line end).
pub fn write_event(event: &Event, out: &mut Vec<u8>, time: &mut String) -> io::Result<()> {
    let (name, stanza) = match &event.kind {
        EventKind::Message(s) => ("message", s),
        EventKind::Presence(s) => ("presence", s),
        EventKind::Iq(s) => ("iq", s),
        _ => return serde_json::to_writer(out, event).map_err(io::Error::from),
    };
    time.clear();
    crate::model::time::push_rfc3339(time, event.time);
    out.extend_from_slice(b"{\"time\":");
    push_string(out, time);
    push_number(out, b",\"flow\":", u64::from(event.flow.0));
    out.extend_from_slice(match event.direction {
        Direction::ToServer => b",\"dir\":\"to_server\"",
        Direction::ToClient => b",\"dir\":\"to_client\"",
    });
    push_number(out, b",\"frame\":", event.frame.0);
    push_number(out, b",\"offset\":", event.offset.0);
    push_number(out, b",\"size\":", event.size);
    if event.decrypted {
        out.extend_from_slice(b",\"decrypted\":true");
    }
    out.extend_from_slice(b",\"event\":");
    push_string(out, name);
    push_stanza(out, stanza);
    out.push(b'}');
    Ok(())
}

/// The fields of [`Stanza`] in schema order, absent ones left out, as its
/// `Serialize` writes them.
fn push_stanza(out: &mut Vec<u8>, s: &Stanza) {
    let field = |out: &mut Vec<u8>, key: &[u8], value: Option<&str>| {
        if let Some(v) = value {
            out.extend_from_slice(key);
            push_string(out, v);
        }
    };
    field(out, b",\"type\":", s.r#type());
    field(out, b",\"id\":", s.id());
    field(out, b",\"from\":", s.from());
    field(out, b",\"to\":", s.to());
    field(out, b",\"payload\":", s.payload());
    field(out, b",\"payload_name\":", s.payload_name());
    if let Some(n) = s.body_len {
        push_number(out, b",\"body_len\":", n as u64);
    }
    field(out, b",\"subject\":", s.subject());
    field(out, b",\"thread\":", s.thread());
    field(out, b",\"show\":", s.show());
    field(out, b",\"status\":", s.status());
    if let Some(p) = s.priority {
        out.extend_from_slice(b",\"priority\":");
        out.extend_from_slice(itoa::Buffer::new().format(p).as_bytes());
    }
    field(out, b",\"bind_resource\":", s.bind_resource());
    field(out, b",\"bound_jid\":", s.bound_jid());
    field(out, b",\"error\":", s.error());
    if s.has_extensions() {
        out.extend_from_slice(b",\"extensions\":[");
        for (i, ext) in s.extensions().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_string(out, ext);
        }
        out.push(b']');
    }
    if let Some(d) = s.digest {
        out.extend_from_slice(b",\"digest\":\"");
        out.extend_from_slice(&hex16(d));
        out.push(b'"');
    }
    if let Some(detail) = &s.detail {
        push_detail(out, detail);
    }
    field(out, b",\"wrapper\":", s.wrapper());
}

/// The census keys, as [`Stanza`]'s `Serialize` writes them (rare: serde's writer).
fn push_detail(out: &mut Vec<u8>, d: &crate::model::Detail) {
    fn key<T: serde::Serialize>(out: &mut Vec<u8>, key: &[u8], value: &T) {
        out.extend_from_slice(key);
        // Writing plain data into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, value);
    }
    if let Some(caps) = &d.caps {
        key(out, b",\"caps\":", caps);
    }
    if let Some(software) = &d.software {
        key(out, b",\"software\":", software);
    }
    if let Some(disco) = &d.disco {
        key(out, b",\"disco\":", disco);
    }
    if !d.nested.is_empty() {
        key(out, b",\"nested\":", &d.nested);
    }
    if !d.binary.is_empty() {
        key(out, b",\"binary\":", &d.binary);
    }
}

fn push_number(out: &mut Vec<u8>, key: &[u8], n: u64) {
    out.extend_from_slice(key);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A JSON string as serde_json writes it (RFC 8259 §7): `"` and `\` escaped, control
/// characters as `\b \t \n \f \r` or `\u00XX`, everything else as it is.
fn push_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(bytes.get(plain_from..i).unwrap_or_default());
        plain_from = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => {
                out.extend_from_slice(b"\\u00");
                let hex = hex16(u64::from(b));
                out.extend_from_slice(hex.get(14..).unwrap_or_default());
            }
        }
    }
    out.extend_from_slice(bytes.get(plain_from..).unwrap_or_default());
    out.push(b'"');
}

/// [`Ndjson`]'s lines, formatted on another thread.
#[derive(Default)]
struct NdjsonFormat {
    time: String,
}

impl LineFormat for NdjsonFormat {
    fn format(&mut self, event: &Event, out: &mut Vec<u8>) -> io::Result<(usize, usize)> {
        const KEY: &[u8] = b"\"flow\":";
        let start = out.len();
        write_event(event, out, &mut self.time)?;
        out.push(b'\n');
        // `time` (a string of ours, no quotes inside) precedes `flow`, so the first
        // `"flow":` is the key; the number after it is replaced by the merge.
        let written = out.get(start..).unwrap_or_default();
        let flow_at = memchr::memmem::find(written, KEY)
            .map(|i| start + i + KEY.len())
            .ok_or_else(|| io::Error::other("event without a flow"))?;
        let digits = out
            .get(flow_at..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        Ok((flow_at, flow_at + digits))
    }
}

impl<W: Write> Sink for Ndjson<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.line.clear();
        write_event(event, &mut self.line, &mut self.time)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    fn line_format(&self) -> Option<Box<dyn LineFormat>> {
        Some(Box::new(NdjsonFormat::default()))
    }

    fn write_formatted(&mut self, head: &[u8], flow: FlowId, tail: &[u8]) -> io::Result<()> {
        self.out.write_all(head)?;
        self.out
            .write_all(itoa::Buffer::new().format(flow.0).as_bytes())?;
        self.out.write_all(tail)
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        #[derive(serde::Serialize)]
        struct Tagged<'a> {
            event: &'static str,
            #[serde(flatten)]
            summary: &'a Summary,
        }
        serde_json::to_writer(
            &mut self.out,
            &Tagged {
                event: "summary",
                summary,
            },
        )?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
