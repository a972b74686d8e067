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

/// Asserts that two runs of a compressed stream, cut differently, agree. When a
/// compression bomb was met nothing is compared: the bomb bound is per piece as
/// well as per direction, so whether borderline input counts as one depends on the
/// cuts by design. A direction whose stream stops inflating must report it the same
/// way in both; but how far the decompressor got before noticing depends on how
/// much had arrived (miniz_oxide reads ahead), so there the events of one run, less
/// the error and end-of-capture reports, must be a prefix of the other's. Every
/// other direction must agree exactly.
#[allow(dead_code)] // each target compiles this module and uses part of it
pub fn assert_inflation_agrees(
    a: &[(Direction, u64, u64, EventKind)],
    b: &[(Direction, u64, u64, EventKind)],
) {
    fn error(k: &EventKind) -> Option<&str> {
        match k {
            EventKind::Anomaly {
                anomaly: Anomaly::CompressionError,
                detail,
            } => Some(detail.as_str()),
            _ => None,
        }
    }
    let bomb = |events: &[(Direction, u64, u64, EventKind)]| {
        events
            .iter()
            .any(|(_, _, _, k)| error(k).is_some_and(|d| d.contains("bomb")))
    };
    if bomb(a) || bomb(b) {
        return;
    }
    for dir in [Direction::ToServer, Direction::ToClient] {
        let side = |events: &[(Direction, u64, u64, EventKind)]| {
            events
                .iter()
                .filter(|(d, ..)| *d == dir)
                .cloned()
                .collect::<Vec<_>>()
        };
        let (a, b) = (side(a), side(b));
        let errors = |events: &[(Direction, u64, u64, EventKind)]| {
            events
                .iter()
                .filter_map(|(_, _, _, k)| error(k).map(str::to_owned))
                .collect::<Vec<_>>()
        };
        assert_eq!(errors(&a), errors(&b), "{dir:?}");
        if errors(&a).is_empty() {
            assert_eq!(a, b, "{dir:?}");
            continue;
        }
        let rest = |events: Vec<(Direction, u64, u64, EventKind)>| {
            events
                .into_iter()
                .filter(|(_, _, _, k)| {
                    error(k).is_none()
                        && !matches!(
                            k,
                            EventKind::Anomaly {
                                anomaly: Anomaly::UnfinishedAtEnd,
                                ..
                            }
                        )
                })
                .collect::<Vec<_>>()
        };
        let (a, b) = (rest(a), rest(b));
        let n = a.len().min(b.len());
        assert_eq!(a[..n], b[..n], "{dir:?}");
    }
}
