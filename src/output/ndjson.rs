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
    loop {
        let i = escape_at(bytes, plain_from);
        let Some(&b) = bytes.get(i) else { break };
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

/// Whether JSON must escape `b`: a control character, `"` or `\`.
fn must_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The first byte at or after `from` that [`must_escape`], or the length: 16 bytes
/// at a time with the lane comparisons of [`crate::lanes`] (as `xml::blocks` scans
/// XML), the last few one by one. Equal to the byte loop (tests below).
fn escape_at(bytes: &[u8], from: usize) -> usize {
    use crate::lanes::{eq, within, LANES};
    let mut i = from;
    while let Some(chunk) = bytes.get(i..).and_then(<[u8]>::first_chunk::<LANES>) {
        let v = wide::u8x16::from(*chunk);
        let special = within(v, 0, 0x1f) | eq(v, b'"') | eq(v, b'\\');
        let mask = special.to_bitmask();
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += LANES;
    }
    let rest = bytes.get(i..).unwrap_or_default();
    i + rest
        .iter()
        .position(|&b| must_escape(b))
        .unwrap_or(rest.len())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector scan finds what the byte test finds, for every byte value in every
    /// lane and from every start.
    #[test]
    fn escape_scan_equals_the_byte_test() {
        let by_bytes = |bytes: &[u8], from: usize| {
            let rest = bytes.get(from..).unwrap_or_default();
            from + rest
                .iter()
                .position(|&b| must_escape(b))
                .unwrap_or(rest.len())
        };
        for b in 0..=255u8 {
            for len in [16, 17, 40] {
                for lane in 0..len {
                    let mut bytes = vec![b'x'; len];
                    bytes[lane] = b;
                    for from in 0..=len {
                        assert_eq!(
                            escape_at(&bytes, from),
                            by_bytes(&bytes, from),
                            "{b:#x} {lane} {from}"
                        );
                    }
                }
            }
        }
    }

    /// Strings come out as serde_json writes them, whatever they hold.
    #[test]
    fn strings_equal_serde_json() {
        let mut samples: Vec<String> = vec![
            String::new(),
            "plain".into(),
            "user@example.org/res with \"quotes\" and \\ and \u{7f} ü €".into(),
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} ".repeat(5),
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for len in 0..80 {
            let s: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    match state % 8 {
                        0 => char::from((state >> 8) as u8 % 0x20),
                        1 => '"',
                        2 => '\\',
                        3 => 'é',
                        _ => char::from(b'a' + (state >> 8) as u8 % 26),
                    }
                })
                .collect();
            samples.push(s);
        }
        for s in samples {
            let mut out = Vec::new();
            push_string(&mut out, &s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&s).unwrap()
            );
        }
    }
}
