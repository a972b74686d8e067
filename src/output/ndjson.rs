//! NDJSON: one object per event, stable snake_case keys (schema in `docs/events.md`).

use super::{LineFormat, Sink, Summary};
use crate::model::{Event, FlowId};
use std::io::{self, Write};

pub struct Ndjson<W: Write> {
    out: W,
}

impl<W: Write> Ndjson<W> {
    pub fn new(out: W) -> Self {
        Ndjson { out }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// [`Ndjson`]'s lines, formatted on another thread.
struct NdjsonFormat;

impl LineFormat for NdjsonFormat {
    fn format(&mut self, event: &Event, out: &mut Vec<u8>) -> io::Result<(usize, usize)> {
        const KEY: &[u8] = b"\"flow\":";
        let start = out.len();
        serde_json::to_writer(&mut *out, event)?;
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
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")
    }

    fn line_format(&self) -> Option<Box<dyn LineFormat>> {
        Some(Box::new(NdjsonFormat))
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
