//! The generator knows the truth: xmppdump must report exactly what it wrote.

mod common;

use common::run_bytes;
use xmppdump::pipeline::Config;
use xmppdump::synth::gen::{generate, GenConfig};

#[test]
fn analyzer_reports_exactly_what_the_generator_wrote() {
    for pcapng in [false, true] {
        let config = GenConfig {
            seed: 7,
            target_bytes: 3 << 20,
            c2s_flows: 50,
            s2s_flows: 10,
            pcapng,
            ..GenConfig::default()
        };
        let mut bytes = Vec::new();
        let truth = generate(&config, &mut bytes).unwrap();
        assert!(
            truth.retransmissions > 0 && truth.reordered > 0,
            "{truth:?}"
        );
        let (events, summary) = run_bytes(bytes, Config::default());
        assert_eq!(summary.packets, truth.packets);
        assert_eq!(summary.xmpp_flows, truth.flows);
        assert_eq!(summary.streams, truth.stream_headers);
        assert_eq!(
            (summary.messages, summary.presences, summary.iqs),
            (truth.messages, truth.presences, truth.iqs)
        );
        assert_eq!(
            summary.anomalies,
            0,
            "{:?}",
            events
                .iter()
                .find(|e| matches!(e.kind, xmppdump::model::EventKind::Anomaly { .. }))
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_capture() {
    let config = GenConfig {
        target_bytes: 1 << 20,
        ..GenConfig::default()
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    generate(&config, &mut a).unwrap();
    generate(&config, &mut b).unwrap();
    assert_eq!(a, b);
    let mut c = Vec::new();
    generate(&GenConfig { seed: 2, ..config }, &mut c).unwrap();
    assert_ne!(a, c);
}

/// The capture reader returns every record of a file several times its read buffer
/// (1 MiB) byte for byte, across every refill of that buffer.
#[test]
fn the_reader_returns_every_record_byte_for_byte() {
    let config = GenConfig {
        seed: 9,
        target_bytes: 5 << 20,
        ..GenConfig::default()
    };
    let mut bytes = Vec::new();
    generate(&config, &mut bytes).unwrap();
    // The records as the file lays them out: a 24-byte file header, then each record
    // after its 16-byte header, whose third field is the captured length.
    let mut expected = Vec::new();
    let mut at = 24;
    while let Some(header) = bytes.get(at..at + 16) {
        let captured = u32::from_le_bytes(header[8..12].try_into().unwrap()) as usize;
        expected.push(&bytes[at + 16..at + 16 + captured]);
        at += 16 + captured;
    }
    assert_eq!(at, bytes.len());
    let mut reader = xmppdump::capture::Reader::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let mut n = 0;
    while let Some(packet) = reader.next_packet().unwrap() {
        assert_eq!(packet.data, expected[n], "record {n}");
        n += 1;
    }
    assert_eq!(n, expected.len());
}
