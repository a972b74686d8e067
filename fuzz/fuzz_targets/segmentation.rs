//! Differential: one client stream of arbitrary bytes, sent whole and cut into small
//! segments, must give the same events (what, where in the stream, how big). Whole
//! elements take the one-pass parse, cut ones the framer, so the two must agree on
//! everything, however hostile the bytes, too-deep and too-large elements included.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;
use xmppdump::model::{Anomaly, Direction, Event, EventKind, Timestamp};
use xmppdump::output::{Sink, Summary};
use xmppdump::pipeline::Config;
use xmppdump::synth::{Conversation, Link};

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

/// The client's events as (offset, size, kind): frames and times depend on the cuts.
fn events(payload: &[u8], mss: usize) -> Vec<(u64, u64, EventKind)> {
    let mut c = Conversation::new(
        "10.0.0.1:4000".parse().unwrap(),
        "10.0.0.2:5222".parse().unwrap(),
        Link::Raw,
        Timestamp(0),
    );
    c.mss = mss;
    let mut packets = c.handshake();
    packets.extend(c.send(true, payload));
    // Small depth and size limits, so too-deep and too-large elements are common
    // (RFC 6120 §13.12: the same answer whether an element came whole or in pieces).
    let mut config = Config::default();
    config.limits.max_depth = 8;
    config.limits.max_stanza_bytes = 256;
    let mut sink = Collect::default();
    common::feed(&packets, config, &mut sink);
    sink.0
        .into_iter()
        .filter(|e| e.direction == Direction::ToServer)
        .filter(|e| {
            !matches!(
                e.kind,
                EventKind::FlowStart { .. } | EventKind::FlowEnd { .. }
            )
        })
        .map(|e| match e.kind {
            // Top-level text (also after the close) ends where the bytes at hand end:
            // the framer cannot know more is coming, so its size depends on the cuts
            // by design.
            EventKind::Anomaly {
                anomaly: anomaly @ (Anomaly::TextAtTopLevel | Anomaly::DataAfterClose),
                ..
            } => (
                e.offset.0,
                0,
                EventKind::Anomaly {
                    anomaly,
                    detail: String::new(),
                },
            ),
            kind => (e.offset.0, e.size, kind),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mss, payload)) = data.split_first() else {
        return;
    };
    // A stream header first, so the bytes are read as XMPP content.
    let mut stream = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='x'>".to_vec();
    stream.extend_from_slice(payload);
    let whole = events(&stream, 65_000);
    let cut = events(&stream, usize::from(mss % 32) + 1);
    assert_eq!(whole, cut);
});
