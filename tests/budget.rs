//! The buffer budget for all connections (`Limits::max_buffered_bytes`): whatever the
//! traffic, the bytes held after each packet stay within it; the connections holding
//! the most let theirs go (`buffer_limit`) and their streams stay in step.

mod common;

use common::Collect;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use xmppdump::model::{Anomaly, Event, EventKind, Timestamp};
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::synth::{client_header, server_header, Conversation, Link, Packet};

const T0: i64 = 1_700_000_000_000_000_000;

fn conversation(n: u8) -> Conversation {
    Conversation::new(
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)), 40_000),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)), 5222),
        Link::Raw,
        Timestamp(T0 + i64::from(n) * 1_000_000_000),
    )
}

fn opened(c: &mut Conversation) -> Vec<Packet> {
    let mut packets = c.handshake();
    packets.extend(c.send(true, client_header("example.org").as_bytes()));
    packets.extend(c.send(false, server_header("example.org", "s1", "").as_bytes()));
    packets
}

/// Feeds `packets` one by one, checking the bytes held after each against `budget`;
/// returns the events and the most bytes held after any packet.
fn run(packets: &[Packet], budget: usize) -> (Vec<Event>, usize) {
    let (events, peak) = run_budget(packets, budget);
    assert!(peak <= budget, "{peak} bytes held (budget {budget})");
    (events, peak)
}

/// [`run`] without the check: `budget` as given to the pipeline.
fn run_budget(packets: &[Packet], budget: usize) -> (Vec<Event>, usize) {
    let mut config = Config::default();
    config.limits.max_buffered_bytes = budget;
    let mut pipeline = Pipeline::new(config);
    let mut sink = Collect::default();
    let mut peak = 0;
    for (i, p) in packets.iter().enumerate() {
        pipeline.packet(&p.as_read(i as u64 + 1));
        peak = peak.max(pipeline.held_bytes());
        pipeline.drain_into(&mut sink).unwrap();
    }
    pipeline.finish_into(&mut sink).unwrap();
    (sink.events, peak)
}

fn anomalies(events: &[Event], kind: Anomaly) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Anomaly { anomaly, .. } if *anomaly == kind))
        .collect()
}

/// Message ids reported, in order.
fn message_ids(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Message(m) => m.id().map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// Eight connections each start a message of 160–300 KiB, all unfinished at once
/// (about 1.8 MiB held); then each finishes it and sends a short one.
fn eight_long_messages() -> Vec<Packet> {
    let mut conversations: Vec<Conversation> = (1..=8).map(conversation).collect();
    let mut packets = Vec::new();
    for c in &mut conversations {
        packets.extend(opened(c));
    }
    for (i, c) in conversations.iter_mut().enumerate() {
        let body = "x".repeat((160 + 20 * i) << 10);
        let start = format!("<message id='long{i}' to='a@example.org'><body>{body}");
        packets.extend(c.send(true, start.as_bytes()));
    }
    for (i, c) in conversations.iter_mut().enumerate() {
        let end = format!("</body></message><message id='after{i}' to='a@example.org'/>");
        packets.extend(c.send(true, end.as_bytes()));
    }
    packets
}

#[test]
fn within_the_budget_nothing_is_let_go() {
    let packets = eight_long_messages();
    // Buffers are counted by their allocated size, up to twice what they hold.
    let (events, peak) = run(&packets, 8 << 20);
    assert!(anomalies(&events, Anomaly::BufferLimit).is_empty());
    assert!(
        peak > 1500 << 10,
        "the unfinished messages were held: {peak}"
    );
    let ids = message_ids(&events);
    assert_eq!(ids.len(), 16, "{ids:?}");
}

#[test]
fn over_the_budget_the_largest_holders_let_go_and_streams_stay_in_step() {
    let packets = eight_long_messages();
    let budget = 1 << 20;
    let (events, peak) = run(&packets, budget);
    assert!(peak <= budget);
    let let_go = anomalies(&events, Anomaly::BufferLimit);
    assert!(!let_go.is_empty());
    // Each connection lets go at most once (its message is skipped from then on), and
    // the largest go first.
    let flows: std::collections::BTreeSet<_> = let_go.iter().map(|e| e.flow).collect();
    assert_eq!(flows.len(), let_go.len(), "one let-go per connection");
    // A long message let go is skipped when it ends, not reported as too large, and
    // the short message after it is parsed: the stream stayed in step.
    assert!(anomalies(&events, Anomaly::StanzaTooLarge).is_empty());
    let ids = message_ids(&events);
    for i in 0..8 {
        assert!(ids.contains(&format!("after{i}")), "after{i} in {ids:?}");
    }
    let long = ids.iter().filter(|id| id.starts_with("long")).count();
    assert_eq!(
        long + let_go.len(),
        8,
        "each long message parsed or let go: {ids:?}"
    );
}

/// Two connections whose first segment after the headers is lost: what follows waits
/// in reassembly for a hole that never fills, 700 KB each (within the per-direction
/// limit of 1 MiB, over the budget of 1 MiB for both).
#[test]
fn segments_held_behind_a_hole_are_delivered_when_let_go() {
    let mut packets = Vec::new();
    let mut tails = Vec::new();
    for n in 1..=2 {
        let mut c = conversation(n);
        packets.extend(opened(&mut c));
        let lost = c.send_one(true, b"<message id='lost'/>");
        drop(lost);
        for i in 0..35 {
            let body = "y".repeat(20_000);
            let stanza = format!("<message id='c{n}m{i}'><body>{body}</body></message>");
            tails.push(c.send_one(true, stanza.as_bytes()));
        }
    }
    packets.extend(tails);
    let budget = 1 << 20;
    let (events, peak) = run(&packets, budget);
    assert!(peak <= budget);
    assert!(!anomalies(&events, Anomaly::BufferLimit).is_empty());
    assert!(!anomalies(&events, Anomaly::Gap).is_empty());
    assert!(anomalies(&events, Anomaly::ReassemblyLimit).is_empty());
    let ids = message_ids(&events);
    // Everything after the holes is delivered (in pieces, as the budget runs out).
    assert_eq!(ids.len(), 70, "{ids:?}");
    let (_, unlimited_peak) = run(&packets, 8 << 20);
    assert!(
        unlimited_peak > budget,
        "without the budget the segments wait"
    );
}

/// On the command line a budget below the minimum counts as the minimum.
#[test]
fn the_cli_takes_no_budget_below_the_minimum() {
    let path = common::temp_capture("budget-cli.pcapng", &eight_long_messages());
    let minimum = xmppdump::limits::MIN_BUFFER_BUDGET.to_string();
    let (code, tiny, _) =
        common::xmppdump(&["--json", "--max-buffered-bytes", "1000", "-r", &path]);
    assert_eq!(code, 0);
    let (_, at_minimum, _) =
        common::xmppdump(&["--json", "--max-buffered-bytes", &minimum, "-r", &path]);
    assert!(tiny.contains("\"anomaly\":\"buffer_limit\""), "{tiny}");
    assert_eq!(tiny, at_minimum);
}

fn on_port(port: u16) -> Conversation {
    Conversation::new(
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), 40_000),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)), port),
        Link::Raw,
        Timestamp(T0),
    )
}

/// Direct TLS (XEP-0368, port 5223): an unfinished record is held until the rest
/// arrives; let go, the direction's TLS is only counted from then on.
#[test]
fn an_unfinished_tls_record_let_go_ends_that_directions_tls() {
    let mut c = on_port(5223);
    let mut packets = c.handshake();
    // A handshake record announcing 4,000 bytes, of which 1,000 arrive.
    let mut record = vec![0x16, 0x03, 0x01, 0x0f, 0xa0];
    record.extend(std::iter::repeat_n(0u8, 1000));
    packets.extend(c.send(true, &record));
    let (events, _) = run_budget(&packets, 500);
    let let_go = anomalies(&events, Anomaly::BufferLimit);
    assert_eq!(let_go.len(), 1, "{events:?}");
    assert!(
        matches!(&let_go[0].kind, EventKind::Anomaly { detail, .. } if detail.contains("unfinished TLS record")),
        "{let_go:?}"
    );
    let (kept, _) = run_budget(&packets, 1 << 20);
    assert!(anomalies(&kept, Anomaly::BufferLimit).is_empty());
}

/// On a port that is not XMPP's, the first bytes are held to decide whether the flow
/// is XMPP; a flow let go before that is given up.
#[test]
fn a_flow_being_sniffed_is_given_up_when_let_go() {
    let mut c = on_port(6000);
    let mut packets = c.handshake();
    let header = client_header("example.org");
    let (first, rest) = header.as_bytes().split_at(10);
    packets.extend(c.send(true, first));
    packets.extend(c.send(true, rest));
    let started = |events: &[Event]| {
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::FlowStart { .. }))
            .count()
    };
    let (kept, _) = run_budget(&packets, 1 << 20);
    assert_eq!(started(&kept), 1, "detected by content: {kept:?}");
    let (given_up, _) = run_budget(&packets, 1);
    assert_eq!(started(&given_up), 0, "{given_up:?}");
}
