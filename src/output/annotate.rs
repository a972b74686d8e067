//! Packet comments for Wireshark: which events each frame carries.
//!
//! Input: events (a `Sink`); output: for each frame, one comment line per event in
//! the text printer's words (`#3 C>S message chat from=…`). `pipeline::annotate`
//! writes them into a pcapng copy of the capture, where Wireshark shows them as
//! `frame.comment`.

use super::text::describe;
use crate::model::{Event, EventKind};
use crate::sink::{Sink, Summary};
use std::collections::BTreeMap;
use std::io;

/// Comments collected by frame number.
#[derive(Debug, Default)]
pub struct Annotations {
    pub by_frame: BTreeMap<u64, String>,
}

impl Sink for Annotations {
    fn event(&mut self, e: &Event) -> io::Result<()> {
        // Flow boundaries are not in any one frame's payload.
        if matches!(e.kind, EventKind::FlowEnd { .. }) {
            return Ok(());
        }
        let mut line = format!("xmppdump: #{} {} ", e.flow.0, e.direction.arrow());
        describe(&e.kind, &mut line);
        let comment = self.by_frame.entry(e.frame.0).or_default();
        if !comment.is_empty() {
            comment.push('\n');
        }
        comment.push_str(&line);
        Ok(())
    }

    fn summary(&mut self, _: &Summary) -> io::Result<()> {
        Ok(())
    }
}
