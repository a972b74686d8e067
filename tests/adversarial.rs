//! Captures built to exhaust the analyzer: it finishes, reports the right anomalies,
//! and stays inside an address-space limit (prlimit --as), checked by running the
//! binary, not by timing.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
mod common;

use xmppdump::capture::write::PcapWriter;
use xmppdump::capture::Reader;
use xmppdump::synth::{adversarial, write_pcap, Link, Packet};

/// Runs `xmppdump -r - --json ARGS` under a 512 MiB address-space limit (docs/limits.md), streaming stdin
/// from `feed`; returns the exit code and the anomaly counts by kind.
fn run_limited(
    args: &[&str],
    feed: impl FnOnce(&mut dyn Write) + Send + 'static,
) -> (i32, BTreeMap<String, u64>, String) {
    run_within(512 << 20, args, feed)
}

/// [`run_limited`] with another address-space limit, in bytes.
fn run_within(
    address_space: u64,
    args: &[&str],
    feed: impl FnOnce(&mut dyn Write) + Send + 'static,
) -> (i32, BTreeMap<String, u64>, String) {
    let mut child = Command::new("prlimit")
        .arg(format!("--as={address_space}"))
        .arg(env!("CARGO_BIN_EXE_xmppdump"))
        .args(["-r", "-", "--json"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) runs the binary");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        feed(&mut stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let mut anomalies = BTreeMap::new();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // Only anomaly lines are parsed: a million lines of JSON are slow in a debug build.
    for line in text.lines().filter(|l| l.contains("\"event\":\"anomaly\"")) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event"] == "anomaly" {
            *anomalies
                .entry(v["anomaly"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
    }
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0,
        "exit {code} under {address_space} bytes of address space: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code, anomalies, text)
}

fn packets(packets: Vec<Packet>) -> impl FnOnce(&mut dyn Write) + Send + 'static {
    move |w: &mut dyn Write| {
        let bytes = write_pcap(Vec::new(), &packets, false, false).unwrap();
        let _ = w.write_all(&bytes);
    }
}

fn count_events(text: &str, kind: &str) -> usize {
    text.lines()
        .filter(|l| l.contains(&format!("\"event\":\"{kind}\"")))
        .count()
}

/// The NDJSON lines of connections numbered above `first`, without the fields that
/// depend on what came before them in the capture (connection and frame numbers).
fn session_lines(text: &str, first: u64) -> Vec<serde_json::Value> {
    // The number read from the text first: parsing a million lines of JSON is slow in
    // a debug build.
    let flow = |line: &str| -> Option<u64> {
        let at = line.find("\"flow\":")? + 7;
        let digits: String = line[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    text.lines()
        .filter(|l| flow(l).is_some_and(|f| f > first))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|mut v| {
            let o = v.as_object_mut().unwrap();
            o.remove("flow");
            o.remove("frame");
            v
        })
        .collect()
}

/// A million connection attempts to 5222 (SYN only), then a real session (prosody and
/// slixmpp, `captures/prosody_sasl2.pcap`): the table stays within its bounds by
/// evicting the attempts (each an XMPP connection by its port, so each says so), and
/// the session after them reads exactly as the capture does alone.
#[test]
fn a_million_syn_only_flows() {
    const FLOOD: u32 = 1_000_000;
    let real = std::fs::read(common::capture_path("prosody_sasl2.pcap")).unwrap();
    let (_, anomalies, text) = run_limited(&[], move |w| {
        let mut writer = PcapWriter::new(w, Link::Ethernet.linktype(), false, false).unwrap();
        adversarial::syn_flood_into(&mut writer, FLOOD, Link::Ethernet).unwrap();
        let mut reader = Reader::new(std::io::Cursor::new(real)).unwrap();
        while let Some(p) = reader.next_packet().unwrap() {
            writer.packet(p.time, p.data, p.original_len).unwrap();
        }
    });
    assert_eq!(anomalies.get("flow_limit"), None);
    let evicted = anomalies.get("flow_evicted").copied().unwrap_or(0);
    assert!(evicted > 100_000, "{anomalies:?}");
    let summary = text.lines().last().unwrap();
    assert!(
        summary.contains(&format!("\"evicted_flows\":{evicted}")),
        "{summary}"
    );
    let (_, alone, _) =
        common::xmppdump(&["-r", &common::capture_path("prosody_sasl2.pcap"), "--json"]);
    let expected = session_lines(&alone, 0);
    assert!(expected.len() > 30);
    assert_eq!(session_lines(&text, u64::from(FLOOD)), expected);
}

#[test]
fn a_stanza_that_never_closes() {
    let (_, anomalies, _) = run_limited(&[], |w| {
        let _ = adversarial::endless_stanza(2 << 30, w);
    });
    assert_eq!(
        anomalies.get("stanza_too_large"),
        None,
        "the element never ends, so it is never reported complete"
    );
    // It is reported unfinished when the capture ends, its bytes skipped.
    assert_eq!(
        anomalies.get("unfinished_at_end"),
        Some(&1),
        "{anomalies:?}"
    );
    assert_eq!(anomalies.len(), 1, "{anomalies:?}");
}

/// 300 connections each leave 900 KiB of a message unfinished: 270 MB to hold, more
/// than the 256 MiB of address space allowed. The buffer budget (32 MiB here) makes the
/// connections holding the most let go, so the run finishes inside the limit.
#[test]
fn many_connections_each_holding_an_unfinished_stanza() {
    const CONNECTIONS: u64 = 300;
    const EACH: u64 = 900 << 10;
    const BUDGET: u64 = 32 << 20;
    let budget = BUDGET.to_string();
    let (_, anomalies, text) = run_within(256 << 20, &["--max-buffered-bytes", &budget], |w| {
        let _ = adversarial::many_unfinished_stanzas(CONNECTIONS as u32, EACH as usize, w);
    });
    let let_go = anomalies.get("buffer_limit").copied().unwrap_or(0);
    // At most one per connection (its message gets no more bytes afterwards); at least
    // as many as it takes to bring what was sent back within the budget.
    let least = (CONNECTIONS * EACH - BUDGET) / EACH;
    assert!(
        (least..=CONNECTIONS).contains(&let_go),
        "{let_go} let go, expected {least}..={CONNECTIONS}"
    );
    assert_eq!(count_events(&text, "flow_start"), CONNECTIONS as usize);
    // Every message is still unfinished when the capture ends, let go or not.
    assert_eq!(
        anomalies.get("unfinished_at_end").copied(),
        Some(CONNECTIONS),
        "{anomalies:?}"
    );
    assert_eq!(anomalies.len(), 2, "{anomalies:?}");
}

#[test]
fn deep_nesting_is_skipped() {
    let (_, anomalies, text) = run_limited(&[], packets(adversarial::deep_nesting(100_000)));
    assert_eq!(anomalies.get("too_deep"), Some(&1));
    assert_eq!(
        count_events(&text, "presence"),
        1,
        "analysis goes on after it"
    );
}

#[test]
fn entity_expansion_is_refused() {
    let (_, anomalies, text) = run_limited(&[], packets(adversarial::billion_laughs()));
    assert_eq!(
        anomalies.get("restricted_xml"),
        Some(&1),
        "the DTD (RFC 6120 §11.1)"
    );
    assert_eq!(
        anomalies.get("malformed_xml"),
        Some(&1),
        "the undefined entity"
    );
    assert_eq!(count_events(&text, "presence"), 1);
}

#[test]
fn invalid_utf8_is_malformed() {
    let (_, anomalies, text) = run_limited(&[], packets(adversarial::invalid_utf8()));
    assert_eq!(anomalies.get("malformed_xml"), Some(&3), "{anomalies:?}");
    assert_eq!(count_events(&text, "presence"), 1);
}

#[test]
fn a_hundred_thousand_attributes() {
    let (_, anomalies, text) = run_limited(&[], packets(adversarial::many_attributes(100_000)));
    // 100,000 attributes make a 1.1 MB element: over the stanza limit, so skipped
    // without being parsed; with a larger limit, the attribute limit catches it.
    assert_eq!(anomalies.get("stanza_too_large"), Some(&1), "{anomalies:?}");
    assert_eq!(count_events(&text, "presence"), 1);
    let (_, anomalies, _) = run_limited(
        &["--max-stanza-bytes", "4000000"],
        packets(adversarial::many_attributes(100_000)),
    );
    assert_eq!(
        anomalies.get("too_many_attributes"),
        Some(&1),
        "{anomalies:?}"
    );
}

#[test]
fn sequence_jumps_of_2_pow_31() {
    let (_, anomalies, text) = run_limited(&[], packets(adversarial::sequence_jumps()));
    assert_eq!(anomalies.get("out_of_window"), Some(&2), "{anomalies:?}");
    assert_eq!(count_events(&text, "presence"), 2);
    assert_eq!(count_events(&text, "message"), 0);
}

#[test]
fn retransmission_with_different_content() {
    let (_, anomalies, text) = run_limited(&[], packets(adversarial::conflicting_retransmission()));
    assert_eq!(anomalies.get("overlap_mismatch"), Some(&1), "{anomalies:?}");
    assert_eq!(count_events(&text, "message"), 1, "the first copy counts");
}

#[test]
fn a_tls_record_claiming_more_than_2_pow_14_bytes() {
    let (_, anomalies, text) = run_limited(&[], packets(adversarial::oversized_tls_record()));
    assert_eq!(
        anomalies.get("tls_record_too_large"),
        Some(&1),
        "{anomalies:?}"
    );
    assert_eq!(
        count_events(&text, "message"),
        0,
        "bytes after it are not parsed"
    );
    assert_eq!(count_events(&text, "flow_end"), 1);
    // A lower limit from the command line applies too.
    let small = adversarial::oversized_tls_record();
    let (_, anomalies, _) = run_limited(&["--max-tls-record", "100"], packets(small));
    assert_eq!(anomalies.get("tls_record_too_large"), Some(&1));
}

#[test]
fn a_tls_handshake_message_that_never_ends() {
    // 64,000 records of 16 KiB: 1 GiB of handshake bytes for one 16 MiB message.
    let (_, anomalies, text) = run_limited(&[], |w| {
        let _ = adversarial::endless_tls_handshake(64_000, w);
    });
    assert_eq!(anomalies.get("tls_malformed"), Some(&1), "{anomalies:?}");
    assert!(text.contains("exceeds the 262144-byte limit"));
    // The limit comes from the command line too.
    let (_, anomalies, text) = run_limited(&["--max-tls-handshake", "1000"], |w| {
        let _ = adversarial::endless_tls_handshake(4, w);
    });
    assert_eq!(anomalies.get("tls_malformed"), Some(&1), "{anomalies:?}");
    assert!(text.contains("exceeds the 1000-byte limit"));
}
