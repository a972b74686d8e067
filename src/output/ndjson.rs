//! NDJSON: one object per event, stable snake_case keys (schema in `docs/events.md`).

use super::{Sink, Summary};
use crate::model::Event;
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

impl<W: Write> Sink for Ndjson<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")
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
