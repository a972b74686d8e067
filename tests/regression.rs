//! One test per fault found by fuzzing (docs/fuzzing.md), named for what it caught.
//! Each input is the crashing file as the fuzzer wrote it, under tests/regression/.

use std::process::Command;

fn input(name: &str) -> String {
    format!("{}/tests/regression/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs the test build (overflow checks on, as in the fuzzer) on a file.
fn xmppdump_read(file: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xmppdump"))
        .args(["-r", file])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// fuzz target `capture`, 2026-11-25: a pcapng block whose total length (4) is below
/// the 12 bytes of its own header and trailer made pcap-parser 0.17 subtract with
/// overflow (a panic with overflow checks; a wrapped length without). The reader now
/// checks each block's length before parsing it.
#[test]
fn pcapng_block_shorter_than_its_header_is_corrupt_not_a_panic() {
    let (code, _, err) = xmppdump_read(&input("pcapng-block-shorter-than-header.pcapng"));
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("corrupt capture") && err.contains("pcapng block of 4 bytes"),
        "{err}"
    );
}

/// fuzz target `ws_deflate`, 2026-12-06: an element over the stanza limit that never
/// ended was reported at the end as partly dropped, partly held, in proportions that
/// depended on how its bytes were cut (after the first drop, later bytes were held
/// until the limit was passed again). Once its start is dropped every byte of it is
/// now dropped as it is scanned.
#[test]
fn an_oversized_unfinished_element_is_reported_the_same_however_it_was_cut() {
    use xmppdump::model::EventKind;
    use xmppdump::synth::{self, client_header, Conversation, Link};
    let mut text = client_header("example.org").into_bytes();
    text.extend_from_slice(b"<message id='m1'><body>");
    text.extend(std::iter::repeat_n(b'a', 700));
    let unfinished = |mss: usize| {
        let mut c = Conversation::new(
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.100:5222".parse().unwrap(),
            Link::Ethernet,
            xmppdump::model::Timestamp(1_700_000_000_000_000_000),
        );
        c.mss = mss;
        let mut packets = c.handshake();
        packets.extend(c.send(true, &text));
        let bytes = synth::write_pcap(Vec::new(), &packets, false, false).unwrap();
        let mut config = xmppdump::pipeline::Config::default();
        config.limits.max_stanza_bytes = 256;
        let mut reader = xmppdump::capture::Reader::new(std::io::Cursor::new(bytes)).unwrap();
        let mut events = Vec::new();
        let mut pipeline = xmppdump::pipeline::Pipeline::new(config);
        while let Some(p) = reader.next_packet().unwrap() {
            pipeline.packet(&p);
        }
        pipeline.finish();
        pipeline.drain_into(&mut Events(&mut events)).unwrap();
        events
            .into_iter()
            .filter(|e| matches!(e.kind, EventKind::Anomaly { .. }))
            .map(|e| (e.offset.0, e.size, e.kind))
            .collect::<Vec<_>>()
    };
    let whole = unfinished(1400);
    assert!(!whole.is_empty());
    for mss in [1, 7, 100, 255, 257] {
        assert_eq!(unfinished(mss), whole, "segments of {mss} bytes");
    }
}

struct Events<'a>(&'a mut Vec<xmppdump::model::Event>);

impl xmppdump::sink::Sink for Events<'_> {
    fn event(&mut self, event: &xmppdump::model::Event) -> std::io::Result<()> {
        self.0.push(event.clone());
        Ok(())
    }
    fn summary(&mut self, _: &xmppdump::sink::Summary) -> std::io::Result<()> {
        Ok(())
    }
}
