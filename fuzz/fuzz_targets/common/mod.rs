//! Shared by the fuzz targets that build a connection from their input.

use xmppdump::model::{Anomaly, Direction, Event, EventKind, Timestamp};
use xmppdump::output::text::Text;
use xmppdump::sink::{Sink, Summary};
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::synth;

/// Runs synthetic packets through the whole analysis and prints the events to nowhere.
#[allow(dead_code)] // each target compiles this module and uses part of it
pub fn analyse(packets: &[synth::Packet], config: Config) {
    let mut sink = Text::new(std::io::sink());
    feed(packets, config, &mut sink);
}

/// Runs synthetic packets through the whole analysis into `sink`.
#[allow(dead_code)] // each target compiles this module and uses part of it
pub fn feed(packets: &[synth::Packet], config: Config, sink: &mut dyn Sink) {
    let mut pipeline = Pipeline::new(config);
    for (i, p) in packets.iter().enumerate() {
        pipeline.packet(&p.as_read(i as u64 + 1));
    }
    pipeline.finish();
    let _ = pipeline.drain_into(sink);
}

/// Runs the packets with small depth and size limits (so too-deep and too-large
/// elements are common; RFC 6120 §13.12 wants the same answer whether an element came
/// whole or in pieces) and returns the events as they compare across different cuts
/// of the same bytes: (direction, stream offset, size, kind), without the flow's start
/// and end. Top-level text (also after the close) ends where the bytes at hand end:
/// the framer cannot know more is coming, so its size depends on the cuts by design
/// and is left out.
#[allow(dead_code)] // each target compiles this module and uses part of it
pub fn comparable(packets: &[synth::Packet]) -> Vec<(Direction, u64, u64, EventKind)> {
    let mut config = Config::default();
    config.limits.max_depth = 8;
    config.limits.max_stanza_bytes = 256;
    let mut sink = Collect::default();
    feed(packets, config, &mut sink);
    sink.0
        .into_iter()
        .filter(|e| !matches!(e.kind, EventKind::FlowStart { .. } | EventKind::FlowEnd { .. }))
        .map(|e| match e.kind {
            EventKind::Anomaly {
                anomaly: anomaly @ (Anomaly::TextAtTopLevel | Anomaly::DataAfterClose),
                ..
            } => (
                e.direction,
                e.offset.0,
                0,
                EventKind::Anomaly {
                    anomaly,
                    detail: String::new(),
                },
            ),
            kind => (e.direction, e.offset.0, e.size, kind),
        })
        .collect()
}

/// Keeps every event.
#[derive(Default)]
struct Collect(Vec<Event>);

impl Sink for Collect {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.0.push(event.clone());
        Ok(())
    }
    fn summary(&mut self, _: &Summary) -> std::io::Result<()> {
        Ok(())
    }
}

/// The differential targets' connection, client 10.0.0.1:4000 to the server's `port`,
/// sending segments of at most `mss` bytes.
#[allow(dead_code)] // each target compiles this module and uses part of it
pub fn conversation(port: u16, mss: usize) -> synth::Conversation {
    let mut c = synth::Conversation::new(
        "10.0.0.1:4000".parse().unwrap(),
        std::net::SocketAddr::from(([10, 0, 0, 2], port)),
        synth::Link::Raw,
        Timestamp(0),
    );
    c.mss = mss;
    c
}
