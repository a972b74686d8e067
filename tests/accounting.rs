//! Every byte is parsed, skipped, lost or unfinished: per direction of every XMPP
//! connection, `payload + decrypted = xml + whitespace + tls + framing + skipped +
//! unfinished` (docs/events.md), and `payload + missing` is the TCP payload that
//! tshark counts. Unfinished bytes are named by an `unfinished_at_end` anomaly.

mod common;

use common::{capture_path, config_for, run_packets, Collect, CAPTURES};
use std::collections::BTreeMap;
use std::fs::File;
use xmppdump::capture::Reader;
use xmppdump::model::{Anomaly, Direction, DirectionBytes, EndReason, Event, EventKind};
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::synth::{client_header, server_header, Conversation, Link, Packet};

fn events_of(name: &str) -> Vec<Event> {
    let mut sink = Collect::default();
    let mut reader = Reader::new(File::open(capture_path(name)).unwrap()).unwrap();
    Pipeline::new(config_for(name))
        .run(&mut reader, &mut sink)
        .unwrap();
    sink.events
}

fn flow_ends(events: &[Event]) -> Vec<(u32, EndReason, DirectionBytes, DirectionBytes)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::FlowEnd {
                reason,
                to_server,
                to_client,
            } => Some((e.flow.0, *reason, *to_server, *to_client)),
            _ => None,
        })
        .collect()
}

fn unfinished(events: &[Event]) -> Vec<(u32, Direction, u64, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Anomaly {
                anomaly: Anomaly::UnfinishedAtEnd,
                detail,
            } => Some((e.flow.0, e.direction, e.size, detail.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn the_identity_holds_in_every_capture() {
    for name in CAPTURES {
        let events = events_of(name);
        let ends = flow_ends(&events);
        assert!(!ends.is_empty(), "{name}");
        for (flow, _, c2s, s2c) in &ends {
            assert!(c2s.is_balanced(), "{name} flow {flow} C>S {c2s:?}");
            assert!(s2c.is_balanced(), "{name} flow {flow} S>C {s2c:?}");
            // Unfinished bytes are always said.
            for (dir, b) in [(Direction::ToServer, c2s), (Direction::ToClient, s2c)] {
                let said: u64 = unfinished(&events)
                    .iter()
                    .filter(|u| u.0 == *flow && u.1 == dir)
                    .map(|u| u.2)
                    .sum();
                assert_eq!(said, b.unfinished, "{name} flow {flow} {dir:?}");
            }
        }
    }
}

/// The TCP payload of each direction as tshark counts it: the span of sequence
/// numbers carrying data (relative to the first data byte, or to the SYN), per TCP
/// stream and source port.
fn tshark_spans(name: &str) -> BTreeMap<(u32, u16), u64> {
    let out = std::process::Command::new("tshark")
        .args([
            "-r",
            &capture_path(name),
            "-o",
            "tcp.desegment_tcp_streams:FALSE",
        ])
        .args(["-T", "fields", "-e", "tcp.stream", "-e", "tcp.srcport"])
        .args(["-e", "tcp.seq", "-e", "tcp.len", "-e", "tcp.flags.syn"])
        .args(["-Y", "tcp"])
        .output()
        .expect("tshark (Debian package tshark, installed by .ci/setup)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut first: BTreeMap<(u32, u16), u64> = BTreeMap::new();
    let mut end: BTreeMap<(u32, u16), u64> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let (Ok(stream), Ok(port), Ok(seq), Ok(len)) = (
            f[0].parse::<u32>(),
            f[1].parse::<u16>(),
            f[2].parse::<u64>(),
            f[3].parse::<u64>(),
        ) else {
            continue;
        };
        let key = (stream, port);
        if f[4] == "1" {
            // Relative sequence numbers count the SYN as byte 0.
            first.entry(key).or_insert(1);
        }
        if len > 0 {
            first.entry(key).or_insert(seq);
            let e = end.entry(key).or_insert(0);
            *e = (*e).max(seq + len);
        }
    }
    end.into_iter()
        .map(|(k, e)| (k, e.saturating_sub(first.get(&k).copied().unwrap_or(0))))
        .collect()
}

/// `payload + missing` of every direction equals tshark's span of its data, on the
/// captures without lost segments at a direction's end (where neither can know).
#[test]
fn payload_and_missing_make_the_tcp_payload_tshark_sees() {
    for name in CAPTURES {
        let events = events_of(name);
        let spans = tshark_spans(name);
        let mut ours: Vec<u64> = Vec::new();
        for (_, _, c2s, s2c) in flow_ends(&events) {
            for b in [c2s, s2c] {
                if b.payload + b.missing > 0 {
                    ours.push(b.payload + b.missing);
                }
            }
        }
        let mut theirs: Vec<u64> = spans.values().copied().filter(|n| *n > 0).collect();
        ours.sort_unstable();
        theirs.sort_unstable();
        // Every XMPP direction is one of tshark's (other TCP streams, e.g. a web page
        // beside a wss session, are tshark's too).
        for n in &ours {
            let at = theirs.iter().position(|t| t == n);
            assert!(
                at.is_some(),
                "{name}: {n} bytes not among tshark's {theirs:?}"
            );
            theirs.remove(at.unwrap());
        }
    }
}

fn conversation(port: u16) -> Conversation {
    Conversation::new(
        "10.1.1.2:40000".parse().unwrap(),
        format!("10.1.1.1:{port}").parse().unwrap(),
        Link::Ethernet,
        xmppdump::model::Timestamp(1_700_000_000_000_000_000),
    )
}

fn opened(c: &mut Conversation) -> Vec<Packet> {
    let mut packets = c.handshake();
    packets.extend(c.send(true, client_header("example.org").as_bytes()));
    packets.extend(c.send(false, server_header("example.org", "s1", "").as_bytes()));
    packets
}

const CUT: &str = "<message to='romeo@example.net' type='chat'><body>wherefore art thou";

#[test]
fn an_element_cut_by_the_end_of_the_capture_is_reported_with_its_bytes() {
    let mut c = conversation(5222);
    let mut packets = opened(&mut c);
    packets.extend(c.send(true, b"<presence/>"));
    packets.extend(c.send(true, CUT.as_bytes()));
    let (events, _) = run_packets(&packets);
    let said = unfinished(&events);
    assert_eq!(said.len(), 1, "{said:?}");
    let (_, dir, size, detail) = &said[0];
    assert_eq!(*dir, Direction::ToServer);
    assert_eq!(*size, CUT.len() as u64);
    assert!(detail.contains("<message>"), "{detail}");
    assert!(detail.contains("end of the capture"), "{detail}");
    let (_, reason, c2s, s2c) = flow_ends(&events)[0];
    assert_eq!(reason, EndReason::CaptureEnd);
    assert_eq!(c2s.unfinished, CUT.len() as u64);
    assert!(c2s.is_balanced() && s2c.is_balanced());
}

#[test]
fn a_connection_timed_out_mid_stanza_reports_the_stanza() {
    let mut c = conversation(5222);
    let mut packets = opened(&mut c);
    packets.extend(c.send(false, CUT.as_bytes()));
    // An hour and more later, another connection's packet moves the clock on.
    let mut other = Conversation::new(
        "10.1.1.3:40001".parse().unwrap(),
        "10.1.1.1:80".parse().unwrap(),
        Link::Ethernet,
        xmppdump::model::Timestamp(1_700_000_000_000_000_000 + 3_700_000_000_000),
    );
    packets.extend(other.handshake());
    let (events, _) = run_packets(&packets);
    let said = unfinished(&events);
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(said[0].1, Direction::ToClient);
    assert_eq!(said[0].2, CUT.len() as u64);
    assert!(said[0].3.contains("timed out"), "{}", said[0].3);
    assert_eq!(flow_ends(&events)[0].1, EndReason::Idle);
}

#[test]
fn a_connection_evicted_mid_stanza_says_so_and_reports_the_stanza() {
    let mut c = conversation(5222);
    let mut packets = opened(&mut c);
    packets.extend(c.send(true, CUT.as_bytes()));
    // Then new connections to 5222 until the table (one entry) must evict.
    let mut later = conversation(5222);
    later.client = "10.1.1.9:40009".parse().unwrap();
    packets.extend(later.handshake());
    let mut config = Config::default();
    config.limits.max_flows = 1;
    let (events, summary) = common::run_bytes(
        xmppdump::synth::write_pcapng(Vec::new(), &packets).unwrap(),
        config,
    );
    let evicted: Vec<&Event> = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Anomaly {
                    anomaly: Anomaly::FlowEvicted,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0].flow.0, 1);
    let said = unfinished(&events);
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!((said[0].0, said[0].2), (1, CUT.len() as u64));
    assert!(said[0].3.contains("evicted"), "{}", said[0].3);
    let ends = flow_ends(&events);
    assert_eq!(ends[0].0, 1);
    assert_eq!(ends[0].1, EndReason::Evicted);
    assert_eq!(summary.evicted_flows, 1);
    // The new connection was tracked and reported.
    assert_eq!(summary.xmpp_flows, 2);
}
