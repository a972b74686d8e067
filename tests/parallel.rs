//! `-j N` gives exactly the output of one thread: same events in the same order, same
//! connection numbers, same summary, on every capture, a generated one, and one where
//! idle connections are swept while others go on. The printers (formatted in the
//! shards) give the same bytes, text and NDJSON; the statistics are the same for 1,
//! 2, 3 and 5 shards, on every capture and a generated one.

mod common;

use common::{capture_path, config_for, Collect, CAPTURES};
use std::io::Cursor;
use xmppdump::capture::Reader;
use xmppdump::model::Timestamp;
use xmppdump::output::ndjson::Ndjson;
use xmppdump::output::text::Text;
use xmppdump::pipeline::{parallel, Config};
use xmppdump::sink::Sink;
use xmppdump::synth::{self, client_header, server_header, Conversation, Link, Packet};

fn run(bytes: &[u8], config: Config, jobs: usize) -> Collect {
    let mut reader = Reader::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut sink = Collect::default();
    parallel::run(config, &mut reader, &mut sink, jobs).unwrap();
    sink
}

/// What a printer writes for the capture with `jobs` threads.
fn printed(bytes: &[u8], config: Config, jobs: usize, json: bool) -> Vec<u8> {
    let mut reader = Reader::new(Cursor::new(bytes.to_vec())).unwrap();
    if json {
        let mut sink = Ndjson::new(Vec::new());
        assert!(sink.line_format().is_some());
        parallel::run(config, &mut reader, &mut sink, jobs).unwrap();
        sink.into_inner()
    } else {
        let mut sink = Text::new(Vec::new());
        assert!(sink.line_format().is_some());
        parallel::run(config, &mut reader, &mut sink, jobs).unwrap();
        sink.into_inner()
    }
}

fn same_for_all_jobs(name: &str, bytes: &[u8], config: Config) {
    for json in [false, true] {
        let one = printed(bytes, config.clone(), 1, json);
        assert!(one.len() > 100, "{name}");
        for jobs in [2, 3] {
            let many = printed(bytes, config.clone(), jobs, json);
            if many != one {
                let one = String::from_utf8_lossy(&one);
                let many = String::from_utf8_lossy(&many);
                let diff = one.lines().zip(many.lines()).position(|(a, b)| a != b);
                panic!("{name} -j {jobs} json={json}: first differing line {diff:?}");
            }
        }
    }
    let one = run(bytes, config.clone(), 1);
    assert!(!one.events.is_empty(), "{name}");
    for jobs in [2, 3, 5] {
        let many = run(bytes, config.clone(), jobs);
        assert_eq!(many.summary, one.summary, "{name} -j {jobs}");
        assert_eq!(many.events.len(), one.events.len(), "{name} -j {jobs}");
        for (i, (a, b)) in one.events.iter().zip(&many.events).enumerate() {
            assert_eq!(a, b, "{name} -j {jobs}: event {i}");
        }
    }
}

#[test]
fn every_capture() {
    for name in CAPTURES {
        let bytes = std::fs::read(capture_path(name)).unwrap();
        same_for_all_jobs(name, &bytes, config_for(name));
    }
}

/// A generated capture of 6 MB: hundreds of connections spread over the shards,
/// with s2s presence broadcasts (one presence to several contacts of a domain).
fn generated() -> Vec<u8> {
    let config = xmppdump::synth::gen::GenConfig {
        target_bytes: 6 << 20,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    xmppdump::synth::gen::generate(&config, &mut bytes).unwrap();
    bytes
}

#[test]
fn a_generated_capture_with_hundreds_of_connections() {
    same_for_all_jobs("generated", &generated(), Config::default());
}

/// An open c2s connection from `client` starting at `start` seconds, with one presence
/// every `every` seconds until `until`.
fn chatty(client: &str, start: i64, every: i64, until: i64) -> Vec<Packet> {
    let mut c = Conversation::new(
        client.parse().unwrap(),
        "10.0.0.1:5222".parse().unwrap(),
        Link::Ethernet,
        Timestamp(start * 1_000_000_000),
    );
    let mut packets = c.handshake();
    packets.extend(c.send(true, client_header("example.org").as_bytes()));
    packets.extend(c.send(false, server_header("example.org", "s", "").as_bytes()));
    let mut t = start;
    while t + every <= until {
        t += every;
        let mut p = c.send(true, b"<presence/>");
        for packet in &mut p {
            packet.time = Timestamp(t * 1_000_000_000);
        }
        packets.extend(p);
    }
    packets
}

#[test]
fn idle_sweeps_end_the_same_connections_at_the_same_place() {
    // Five connections; three go quiet for longer than the idle timeout (600 s) and are
    // swept — and, when they speak again, picked up mid-stream and swept again — while
    // two keep talking for three hours.
    let mut packets: Vec<Packet> = Vec::new();
    packets.extend(chatty("10.0.0.11:40001", 0, 30, 10_800));
    packets.extend(chatty("10.0.0.12:40002", 5, 900, 2_000));
    packets.extend(chatty("10.0.0.13:40003", 7, 4_000, 4_100));
    packets.extend(chatty("10.0.0.14:40004", 9, 45, 10_800));
    packets.extend(chatty("10.0.0.15:40005", 11, 1_000, 1_500));
    packets.sort_by_key(|p| p.time);
    let bytes = synth::write_pcapng(Vec::new(), &packets).unwrap();
    let mut config = Config::default();
    config.limits.flow_idle_timeout_secs = 600;
    let one = run(&bytes, config.clone(), 1);
    let idle = one
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                xmppdump::model::EventKind::FlowEnd {
                    reason: xmppdump::model::EndReason::Idle,
                    ..
                }
            )
        })
        .count();
    assert!(idle >= 3, "{idle}");
    same_for_all_jobs("idle", &bytes, config);
}

/// The statistics of the capture with `jobs` threads.
fn stats_with(bytes: &[u8], config: Config, jobs: usize) -> xmppdump::analysis::Stats {
    let mut reader = Reader::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut collector = xmppdump::analysis::Collector::new("capture");
    parallel::run(config, &mut reader, &mut collector, jobs).unwrap();
    collector.into_stats()
}

fn same_stats_for_all_jobs(name: &str, bytes: &[u8], config: Config) {
    let one = stats_with(bytes, config.clone(), 1);
    let tables = xmppdump::analysis::tables::tables(&one);
    for jobs in [2, 3, 5] {
        let many = stats_with(bytes, config.clone(), jobs);
        assert!(many == one, "{name} -j {jobs}: the statistics differ");
        assert_eq!(
            xmppdump::analysis::tables::tables(&many),
            tables,
            "{name} -j {jobs}"
        );
    }
}

#[test]
fn statistics_are_the_same_for_1_2_3_and_5_shards() {
    for name in CAPTURES.iter().chain(common::LARGE_CAPTURES) {
        let bytes = std::fs::read(capture_path(name)).unwrap();
        same_stats_for_all_jobs(name, &bytes, config_for(name));
    }
    same_stats_for_all_jobs("generated", &generated(), Config::default());
}
