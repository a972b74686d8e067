//! `-j N` gives exactly the output of one thread: same events in the same order, same
//! connection numbers, same summary, on every capture, a generated one, and one where
//! idle connections are swept while others go on. The printers (formatted in the
//! shards) give the same bytes, text and NDJSON; the statistics are the same for 1,
//! 2, 3 and 5 shards, on every capture and a generated one; and all of it holds on
//! arbitrary traffic (a proptest: reused ports, lost, resent and reset segments, bad
//! XML, idle gaps and time going back).

mod common;

use common::{capture_path, config_for, Collect, CAPTURES};
use proptest::prelude::*;
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

/// The statistics of the capture with `jobs` threads, collected on the shards
/// (`run_stats`, as `xmppdump stats` does) or on the merging thread from the events
/// (`run` with the collector as the sink, as when other sinks share the events).
fn stats_with(bytes: &[u8], config: Config, jobs: usize) -> xmppdump::analysis::Stats {
    stats_by(bytes, config, jobs, true).0
}

/// The statistics and the run's summary (whose stream and stanza counts the shards
/// add up on their own when they collect).
fn stats_by(
    bytes: &[u8],
    config: Config,
    jobs: usize,
    on_shards: bool,
) -> (xmppdump::analysis::Stats, xmppdump::sink::Summary) {
    let mut reader = Reader::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut collector = xmppdump::analysis::Collector::new("capture");
    let summary = if on_shards {
        parallel::run_stats(config, &mut reader, &mut collector, jobs).unwrap()
    } else {
        parallel::run(config, &mut reader, &mut collector, jobs).unwrap()
    };
    (collector.into_stats(), summary)
}

fn same_stats_for_all_jobs(name: &str, bytes: &[u8], config: Config) {
    let (one, one_summary) = stats_by(bytes, config.clone(), 1, true);
    let tables = xmppdump::analysis::tables::tables(&one);
    for (jobs, on_shards) in [(2, true), (3, true), (5, true), (2, false)] {
        let (many, many_summary) = stats_by(bytes, config.clone(), jobs, on_shards);
        assert_eq!(
            many_summary, one_summary,
            "{name} -j {jobs} (on shards: {on_shards})"
        );
        assert!(
            many == one,
            "{name} -j {jobs} (on shards: {on_shards}): the statistics differ"
        );
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

/// `packets`, all at `ns` nanoseconds.
fn at(mut packets: Vec<Packet>, ns: i64) -> Vec<Packet> {
    for packet in &mut packets {
        packet.time = Timestamp(ns);
    }
    packets
}

/// The handshake and both stream headers of a c2s connection, the `n`th opened
/// (its packets at `n`, `100 + n` and `200 + n` ns).
fn open_c2s(c: &mut Conversation, n: i64) -> Vec<Packet> {
    let mut packets = at(c.handshake(), n);
    packets.extend(at(
        c.send(true, client_header("example.org").as_bytes()),
        100 + n,
    ));
    let header = server_header("example.org", "s", "");
    packets.extend(at(c.send(false, header.as_bytes()), 200 + n));
    packets
}

/// Presence fanned out over connections that sit in different shards: a server
/// delivers each of Alice's presences to twelve contacts, each on a connection of its
/// own (c2s), and over three s2s connections copies of one broadcast to the same
/// remote domain; probes and their answers too. The per-shard collectors must count
/// the groups as one thread does: one logical presence per round for the twelve.
#[test]
fn fan_out_groups_that_span_shards_are_counted_as_one_thread_counts_them() {
    const CONTACTS: usize = 12;
    const ROUNDS: i64 = 5;
    let mut packets: Vec<Packet> = Vec::new();
    let mut contacts: Vec<Conversation> = (0..CONTACTS)
        .map(|i| {
            Conversation::new(
                format!("10.0.1.{}:4{i:04}", i + 10).parse().unwrap(),
                "10.0.0.1:5222".parse().unwrap(),
                Link::Ethernet,
                Timestamp(0),
            )
        })
        .collect();
    let mut links: Vec<Conversation> = (0..3)
        .map(|i| {
            Conversation::new(
                format!("10.0.0.1:3{i:04}").parse().unwrap(),
                format!("10.0.2.{}:5269", i + 1).parse().unwrap(),
                Link::Ethernet,
                Timestamp(0),
            )
        })
        .collect();
    for (i, c) in contacts.iter_mut().enumerate() {
        packets.extend(open_c2s(c, i as i64));
        let bind = format!(
            "<iq type='result' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
             <jid>contact{i}@example.org/r</jid></bind></iq>"
        );
        packets.extend(at(c.send(false, bind.as_bytes()), 300 + i as i64));
    }
    for (i, l) in links.iter_mut().enumerate() {
        let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
                      xmlns:stream='http://etherx.jabber.org/streams' from='example.org' \
                      to='remote.example' version='1.0'>";
        packets.extend(at(l.handshake(), 400 + i as i64));
        packets.extend(at(l.send(true, header.as_bytes()), 500 + i as i64));
    }
    for round in 0..ROUNDS {
        let start = (round + 1) * 5_000_000_000;
        let show = ["away", "chat", "dnd", "xa", "away"][round as usize];
        for (i, c) in contacts.iter_mut().enumerate() {
            let presence = format!(
                "<presence from='alice@example.org/phone' to='contact{i}@example.org'>\
                 <show>{show}</show></presence>"
            );
            packets.extend(at(
                c.send(false, presence.as_bytes()),
                start + i as i64 * 1_000_000,
            ));
        }
        for (i, l) in links.iter_mut().enumerate() {
            let copy = format!(
                "<presence from='alice@example.org/phone' to='friend{i}@remote.example'>\
                 <show>{show}</show></presence>"
            );
            packets.extend(at(
                l.send(true, copy.as_bytes()),
                start + 50_000_000 + i as i64,
            ));
        }
        // A probe on one connection, answered on another within the window.
        let probe = "<presence type='probe' from='contact0@example.org' to='alice@example.org'/>";
        packets.extend(at(
            contacts[0].send(true, probe.as_bytes()),
            start + 100_000_000,
        ));
        let answer = "<presence from='alice@example.org' to='contact0@example.org'/>";
        packets.extend(at(
            contacts[1].send(false, answer.as_bytes()),
            start + 200_000_000,
        ));
    }
    packets.sort_by_key(|p| p.time);
    let bytes = synth::write_pcapng(Vec::new(), &packets).unwrap();
    let one = stats_with(&bytes, Config::default(), 1);
    // Each round: Alice's presence to twelve contacts is one group of twelve
    // deliveries; the three s2s copies (another stream namespace, so another
    // digest), the probe and its answer are groups of their own.
    assert_eq!(one.fan_out.max, CONTACTS as u64, "{:?}", one.fan_out);
    assert_eq!(one.fan_out.logical, 4 * ROUNDS as u64, "{:?}", one.fan_out);
    assert_eq!(
        one.fan_out.deliveries,
        (CONTACTS as u64 + 3 + 2) * ROUNDS as u64,
        "{:?}",
        one.fan_out
    );
    let s2s = one.redundancy_of(Some(xmppdump::model::StreamKind::S2s));
    assert_eq!(s2s.per_domain.count, 2 * ROUNDS as u64, "{s2s:?}");
    let c2s = one.redundancy_of(Some(xmppdump::model::StreamKind::C2s));
    // Each answer, and Alice's next broadcast to the prober within the window.
    assert!(c2s.probe_answers.count >= ROUNDS as u64, "{c2s:?}");
    assert_eq!(one.sessions.len(), CONTACTS + 3);
    same_stats_for_all_jobs("fan-out", &bytes, Config::default());
}

/// More senders and pairs than the talkers and conversations tables hold (10,000
/// rows each), spread over connections in different shards and interleaved in time:
/// the rows kept are the first in capture order and the rest is counted as dropped,
/// for any number of shards as for one.
#[test]
fn bounded_tables_keep_the_same_rows_for_any_number_of_shards() {
    const CONNECTIONS: usize = 6;
    const PER_CONNECTION: usize = 2_000;
    let mut links: Vec<Conversation> = (0..CONNECTIONS)
        .map(|i| {
            Conversation::new(
                format!("10.0.3.{}:4{i:04}", i + 10).parse().unwrap(),
                "10.0.0.1:5222".parse().unwrap(),
                Link::Ethernet,
                Timestamp(i as i64),
            )
        })
        .collect();
    let mut packets: Vec<Packet> = Vec::new();
    for (i, c) in links.iter_mut().enumerate() {
        packets.extend(open_c2s(c, i as i64));
    }
    for n in 0..PER_CONNECTION {
        for (i, c) in links.iter_mut().enumerate() {
            // Every connection its own senders, and every tenth message from a
            // sender all connections share.
            let from = if n % 10 == 0 {
                format!("shared{}@example.org/r", n / 10)
            } else {
                format!("user{i}-{n}@example.org/r")
            };
            let message = format!(
                "<message from='{from}' to='me{i}@example.org' type='chat'><body>hi</body></message>"
            );
            let t = 1_000_000_000 + (n * CONNECTIONS + i) as i64 * 1_000;
            packets.extend(at(c.send(false, message.as_bytes()), t));
        }
    }
    packets.sort_by_key(|p| p.time);
    let bytes = synth::write_pcapng(Vec::new(), &packets).unwrap();
    let one = stats_with(&bytes, Config::default(), 1);
    assert_eq!(one.talkers.len(), 10_000);
    assert!(one.talkers_dropped.count > 0, "{:?}", one.talkers_dropped);
    assert_eq!(one.conversations.len(), 10_000);
    assert!(one.conversations_dropped > 0);
    same_stats_for_all_jobs("bounded tables", &bytes, Config::default());
}

/// Pieces of what connections say in [`arbitrary_traffic`]: stream headers, stanzas of
/// each kind (presences that repeat, fan out and probe), negotiation, errors, bad
/// XML and bytes that are not XML.
const PIECES: &[&str] = &[
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>",
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='a.example' to='b.example' id='s2' version='1.0'>",
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>",
    "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    "<presence/>",
    "<presence from='alice@example.org/phone' to='bob@b.example'><show>away</show></presence>",
    "<presence from='alice@example.org/phone' to='carol@b.example'><show>away</show></presence>",
    "<presence type='probe' from='bob@b.example' to='alice@example.org'/>",
    "<presence from='alice@example.org' to='bob@b.example'/>",
    "<message type='chat' from='alice@example.org/phone' to='bob@b.example' id='m1'><body>hi &amp; bye</body></message>",
    "<iq type='get' id='q1' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>",
    "<iq type='result' id='q1' from='example.org'/>",
    "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>",
    "<db:result from='a.example' to='b.example'>0123456789abcdef</db:result>",
    "<message><body>unclosed",
    "<presence from='a@b' to='@@'><x xmlns='p'/></presence>",
    "</stream:stream>",
    "\u{0}\u{1}\u{7f}GET / HTTP/1.1\r\n\r\n",
    "<<<>>>&bogus;",
];

/// What one connection of [`arbitrary_traffic`] does next.
#[derive(Debug, Clone)]
enum Step {
    /// Sends a piece, or its first `cut` bytes when `cut` is shorter.
    Send {
        from_client: bool,
        piece: usize,
        cut: usize,
    },
    /// Sends a piece after leaving a gap of `gap` bytes in the sequence (a lost
    /// segment), so what follows waits or is given up on.
    AfterGap {
        from_client: bool,
        piece: usize,
        gap: u32,
    },
    /// Sends the last segment again (a retransmission).
    Again,
    Reset {
        from_client: bool,
    },
    Close,
}

fn step() -> impl Strategy<Value = Step> {
    let piece = 0..PIECES.len();
    prop_oneof![
        6 => (any::<bool>(), piece.clone(), 0..200usize).prop_map(|(from_client, piece, cut)| Step::Send { from_client, piece, cut }),
        1 => (any::<bool>(), piece, 1..3000u32).prop_map(|(from_client, piece, gap)| Step::AfterGap { from_client, piece, gap }),
        1 => Just(Step::Again),
        1 => any::<bool>().prop_map(|from_client| Step::Reset { from_client }),
        1 => Just(Step::Close),
    ]
}

/// One connection: client port (from a small set, so ports are reused), server port
/// (XMPP's or not), whether it starts with a handshake, whether both sides open a
/// stream first (so that stanzas follow a header more often than by chance), and its
/// steps.
type Connection = (u16, u16, bool, bool, Vec<Step>);

fn connection() -> impl Strategy<Value = Connection> {
    (
        40000..40006u16,
        prop::sample::select(vec![5222u16, 5269, 5223, 5280, 8080]),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(step(), 0..14),
    )
}

/// The packets of arbitrary connections, interleaved as `order` picks them, with
/// times that step by `gaps` (which may jump past the idle timeout or go back).
fn arbitrary_traffic(connections: &[Connection], order: &[usize], gaps: &[i64]) -> Vec<u8> {
    let mut lists: Vec<std::collections::VecDeque<Packet>> = Vec::new();
    for (i, (client_port, server_port, handshake, opens, steps)) in connections.iter().enumerate() {
        // Clients on two addresses, so the same address pair recurs.
        let client = format!("10.0.0.{}:{client_port}", 10 + i % 2);
        let server = format!("10.0.9.1:{server_port}");
        let mut c = Conversation::new(
            client.parse().unwrap(),
            server.parse().unwrap(),
            Link::Ethernet,
            Timestamp(0),
        );
        c.mss = 64;
        let mut packets = if *handshake {
            c.handshake()
        } else {
            Vec::new()
        };
        if *opens {
            packets.extend(c.send(true, client_header("example.org").as_bytes()));
            let header = server_header("example.org", "s", "");
            packets.extend(c.send(false, header.as_bytes()));
        }
        for step in steps {
            match step {
                Step::Send {
                    from_client,
                    piece,
                    cut,
                } => {
                    let bytes = PIECES[*piece].as_bytes();
                    packets.extend(c.send(*from_client, &bytes[..(*cut).min(bytes.len())]));
                }
                Step::AfterGap {
                    from_client,
                    piece,
                    gap,
                } => {
                    let seq = c.next_seq(*from_client).wrapping_add(*gap);
                    let bytes = PIECES[*piece].as_bytes();
                    packets.push(c.segment(*from_client, seq, synth::Flags::ACK, bytes));
                }
                Step::Again => {
                    if let Some(last) = packets.last().cloned() {
                        packets.push(last);
                    }
                }
                Step::Reset { from_client } => packets.push(c.reset(*from_client)),
                Step::Close => packets.extend(c.close()),
            }
        }
        lists.push(packets.into());
    }
    let mut packets = Vec::new();
    let mut time = 1_700_000_000_000_000_000i64;
    let mut picks = order.iter().cycle();
    let mut gap = gaps.iter().cycle();
    while lists.iter().any(|l| !l.is_empty()) {
        let pick = picks.next().copied().unwrap_or(0);
        let Some(list) = (0..lists.len())
            .map(|k| (pick + k) % lists.len())
            .find_map(|k| Some(k).filter(|&k| !lists[k].is_empty()))
        else {
            break;
        };
        let mut packet = lists[list].pop_front().unwrap();
        time += gap.next().copied().unwrap_or(1_000_000);
        packet.time = Timestamp(time);
        packets.push(packet);
    }
    synth::write_pcap(Vec::new(), &packets, false, true).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// On arbitrary traffic — connections that reuse addresses and ports, start
    /// mid-stream, lose, resend and reset segments, send bad XML and not XML at all,
    /// go idle past the timeout or step back in time — `-j 2` and `-j 3` print what
    /// one thread prints, text and NDJSON, give the same events, summary and
    /// statistics.
    #[test]
    fn any_traffic_gives_one_threads_output_on_2_and_3_threads(
        connections in prop::collection::vec(connection(), 1..7),
        order in prop::collection::vec(0..7usize, 1..40),
        gaps in prop::collection::vec(
            prop_oneof![
                8 => 0..50_000_000i64,
                1 => 61_000_000_000..700_000_000_000i64,
                1 => -5_000_000_000..0i64,
            ],
            1..20,
        ),
    ) {
        let bytes = arbitrary_traffic(&connections, &order, &gaps);
        let mut config = Config::default();
        config.limits.flow_idle_timeout_secs = 60;
        for json in [false, true] {
            let one = printed(&bytes, config.clone(), 1, json);
            for jobs in [2, 3] {
                let many = printed(&bytes, config.clone(), jobs, json);
                prop_assert_eq!(
                    String::from_utf8_lossy(&many),
                    String::from_utf8_lossy(&one),
                    "-j {} json={}", jobs, json
                );
            }
        }
        let one = run(&bytes, config.clone(), 1);
        let (one_stats, one_summary) = stats_by(&bytes, config.clone(), 1, true);
        prop_assert_eq!(Some(&one_summary), one.summary.as_ref());
        for jobs in [2, 3] {
            let many = run(&bytes, config.clone(), jobs);
            prop_assert_eq!(&many.summary, &one.summary, "-j {}", jobs);
            prop_assert_eq!(&many.events, &one.events, "-j {}", jobs);
            for on_shards in [true, false] {
                let (stats, summary) = stats_by(&bytes, config.clone(), jobs, on_shards);
                prop_assert_eq!(&summary, &one_summary, "-j {} on shards {}", jobs, on_shards);
                prop_assert!(stats == one_stats, "-j {} on shards {}: the statistics differ", jobs, on_shards);
            }
        }
    }
}
