//! Where events go: the consumer side of the pipeline (printers, statistics, checks,
//! the student view all implement [`Sink`]; the pipeline only knows this trait).
//!
//! Input: [`Event`]s in order and a final [`Summary`]; output: whatever the sink
//! makes of them. Kept apart from `output` so that consumers (analysis, check,
//! story) depend on this contract, not on the printers (ripgrep keeps its `Sink` on
//! the producer side the same way).

use crate::model::{Event, FlowId};
use serde::Serialize;
use std::io;

/// Totals reported at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub packets: u64,
    /// Packets whose link, IP or TCP header could not be decoded.
    pub undecoded_packets: u64,
    pub tcp_flows: u64,
    pub xmpp_flows: u64,
    pub streams: u64,
    pub stanzas: u64,
    pub messages: u64,
    pub presences: u64,
    pub iqs: u64,
    pub anomalies: u64,
    /// Connections evicted from the full flow table (all kinds; XMPP ones also
    /// report a `flow_evicted` anomaly).
    #[serde(skip_serializing_if = "is_zero")]
    pub evicted_flows: u64,
    /// Times the flow table entered emergency mode (short idle timeouts).
    #[serde(skip_serializing_if = "is_zero")]
    pub emergencies: u64,
}

impl Summary {
    /// Adds the event counts of another part of the run (a shard's): stream headers,
    /// stanzas by kind, anomalies and XMPP connections, not its packet or flow-table
    /// counters.
    pub fn add_event_counts(&mut self, other: &Summary) {
        self.streams += other.streams;
        self.messages += other.messages;
        self.presences += other.presences;
        self.iqs += other.iqs;
        self.stanzas += other.stanzas;
        self.anomalies += other.anomalies;
        self.xmpp_flows += other.xmpp_flows;
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Something that consumes events as they happen.
pub trait Sink {
    fn event(&mut self, event: &Event) -> io::Result<()>;
    fn summary(&mut self, summary: &Summary) -> io::Result<()>;
    /// Pushes out what is buffered (live capture prints events as they happen).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// A formatter that produces this sink's bytes on another thread, when the sink
    /// only prints (`-j`: the shards format, the merging thread only writes).
    fn line_format(&self) -> Option<Box<dyn LineFormat>> {
        None
    }
    /// Writes one event a [`LineFormat`] of this sink formatted: `head`, the
    /// connection number, `tail`.
    fn write_formatted(&mut self, head: &[u8], flow: FlowId, tail: &[u8]) -> io::Result<()> {
        let _ = (head, flow, tail);
        Err(io::Error::other(
            "this output does not take formatted events",
        ))
    }
}

/// Formats events away from the sink. The connection number is left out: only the
/// merging thread of `-j` knows it.
pub trait LineFormat: Send {
    /// Appends the event's bytes to `out` and returns where, in `out`, the connection
    /// number goes and where the rest of the bytes resume: the event is
    /// `out[start..flow_at]`, the number, `out[resume_at..]`.
    fn format(&mut self, event: &Event, out: &mut Vec<u8>) -> io::Result<(usize, usize)>;
}

/// Passes on the summary and no event (`-q`).
pub struct SummaryOnly<'a>(pub &'a mut dyn Sink);

impl Sink for SummaryOnly<'_> {
    fn event(&mut self, _: &Event) -> io::Result<()> {
        Ok(())
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.0.summary(summary)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Sends every event to two sinks (a printer and a statistics collector).
pub struct Tee<'a> {
    pub first: &'a mut dyn Sink,
    pub second: Option<&'a mut dyn Sink>,
}

impl Sink for Tee<'_> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.first.event(event)?;
        if let Some(s) = self.second.as_mut() {
            s.event(event)?;
        }
        Ok(())
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.first.summary(summary)?;
        if let Some(s) = self.second.as_mut() {
            s.summary(summary)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.first.flush()
    }

    fn line_format(&self) -> Option<Box<dyn LineFormat>> {
        match self.second {
            Some(_) => None,
            None => self.first.line_format(),
        }
    }

    fn write_formatted(&mut self, head: &[u8], flow: FlowId, tail: &[u8]) -> io::Result<()> {
        self.first.write_formatted(head, flow, tail)
    }
}
