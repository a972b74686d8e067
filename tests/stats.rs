//! Statistics with hand-computed expectations on synthetic captures, merge
//! equivalence, and snapshots of every format for every capture.

mod common;

use common::stats_of;

use common::{config_for, run_bytes, CAPTURES};
use std::io::Cursor;
use xmppdump::analysis::{tables, Class, Collector, Stats};
use xmppdump::capture::Reader;
use xmppdump::model::{Direction, StanzaBox, StreamKind};
use xmppdump::output::stats::{render_csv, render_markdown, render_text};
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::synth::{self, Packet};

fn session(client: &str, start_ns: i64, lines: &[(bool, &str)]) -> Vec<Packet> {
    common::session(client, start_ns, lines, false)
}

const AWAY: &str = "<presence id='a1'><show>away</show><status>lunch</status></presence>";
const AWAY_AGAIN: &str = "<presence id='a2'><status>lunch</status><show>away</show></presence>";
const AWAY_OTHER_STATUS: &str =
    "<presence id='a3'><show>away</show><status>meeting</status></presence>";

#[test]
fn presence_redundancy_rule() {
    // Ids, attribute order and child order do not matter (docs/statistics.md).
    let same_children_order =
        "<presence id='zz'><show>away</show><status>lunch</status></presence>";
    let packets = session(
        "10.0.0.1:40000",
        1_700_000_000_000_000_000,
        &[
            (true, AWAY),
            (true, same_children_order),
            (true, AWAY_AGAIN),
            (true, AWAY_OTHER_STATUS),
            (true, AWAY_OTHER_STATUS),
        ],
    );
    let s = stats_of(&packets, "a");
    let red = s.redundancy[&StreamKind::C2s];
    assert_eq!(red.presences.count, 5);
    // #2 repeats #1 (only the id differs); #3 only reorders the children; #4 changes
    // the status; #5 repeats #4.
    assert_eq!(red.redundant.count, 3);
    let expected = same_children_order.len() + AWAY_AGAIN.len() + AWAY_OTHER_STATUS.len();
    assert_eq!(red.redundant.bytes, expected as u64);
}

#[test]
fn muc_fan_out_and_overhead() {
    // A room sends occupant juliet's presence to three occupants, each on its own c2s
    // connection, within a second; each client also sends one chat message.
    let room_presence = |to: &str| {
        format!("<presence from='room@muc.example.org/juliet' to='{to}'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant'/></x></presence>")
    };
    let t0 = 1_700_000_000_000_000_000;
    let mut packets = Vec::new();
    let mut presence_bytes = 0;
    let mut message_bytes = 0;
    for (i, who) in ["romeo", "mercutio", "benvolio"].iter().enumerate() {
        let p = room_presence(&format!("{who}@example.org/phone"));
        let m = format!(
            "<message to='juliet@example.org' type='chat'><body>hi from {who}</body></message>"
        );
        presence_bytes += p.len() as u64;
        message_bytes += m.len() as u64;
        packets.extend(session(
            &format!("10.0.0.{}:4000{i}", i + 1),
            t0 + i as i64 * 100_000_000,
            &[(false, &p), (true, &m)],
        ));
    }
    packets.sort_by_key(|p| p.time);
    let s = stats_of(&packets, "muc");
    assert_eq!(s.fan_out.logical, 1);
    assert_eq!(s.fan_out.deliveries, 3);
    assert_eq!(s.fan_out.max, 3);
    let o = s.presence_overhead(Some(StreamKind::C2s));
    assert_eq!(o.presence.bytes, presence_bytes);
    assert_eq!(o.stanzas.bytes, presence_bytes + message_bytes);
    let expected = presence_bytes as f64 / (presence_bytes + message_bytes) as f64;
    assert!((o.of_stanza_bytes().unwrap() - expected).abs() < 1e-12);
    assert_eq!(s.redundancy[&StreamKind::C2s].redundant.count, 0);
    let by_class = s.traffic_where(|k| k.class == Class::Presence && k.dir == Direction::ToClient);
    assert_eq!(by_class.count, 3);
}

#[test]
fn iq_pairing_rules() {
    // Each segment is 1 ms after the previous (Conversation::step).
    let packets = session(
        "10.0.0.1:40000",
        1_700_000_000_000_000_000,
        &[
            (true, "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>"),
            (false, "<iq type='result' id='1'><query xmlns='jabber:iq:roster'/></iq>"),
            (true, "<iq type='set' id='2'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>"),
            (true, "<iq type='get' id='3'><ping xmlns='urn:xmpp:ping'/></iq>"),
            (false, "<iq type='error' id='2'><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"),
            (false, "<iq type='result' id='9'/>"),
            (true, "<iq type='get' id='5'><query xmlns='jabber:iq:version'/></iq>"),
            (false, "<iq type='result' id='5'/>"),
            (true, "<iq type='get' id='5'><query xmlns='jabber:iq:version'/></iq>"),
            (false, "<iq type='result' id='5'/>"),
            // A response in the same direction as the request does not answer it.
            (true, "<iq type='get' id='7'><query xmlns='jabber:iq:last'/></iq>"),
            (true, "<iq type='result' id='7'/>"),
        ],
    );
    let s = stats_of(&packets, "iq");
    let roster = &s.iq["jabber:iq:roster"];
    assert_eq!(
        (
            roster.requests,
            roster.results,
            roster.errors,
            roster.unanswered
        ),
        (2, 1, 1, 0)
    );
    assert_eq!(roster.response_time.min_us, Some(1000)); // id 1: next segment
    assert_eq!(roster.response_time.max_us, Some(2000)); // id 2: two segments later
    let ping = &s.iq["urn:xmpp:ping"];
    assert_eq!((ping.requests, ping.unanswered), (1, 1));
    let version = &s.iq["jabber:iq:version"];
    assert_eq!(
        (version.requests, version.results),
        (2, 2),
        "a reused id pairs in order"
    );
    assert_eq!(s.iq["jabber:iq:last"].unanswered, 1);
    // One error among the iq stanzas, per stream kind and for all.
    let iqs = s.traffic_where(|k| k.class == Class::Iq).count;
    assert!(iqs >= 12);
    let shares = s.iq_error_shares();
    assert_eq!(shares["c2s"], Some(1.0 / iqs as f64));
    assert_eq!(shares["all"], shares["c2s"]);
    assert_eq!(s.orphan_responses, 2); // id 9, and id 7 in the wrong direction
    let unanswered: Vec<&str> = s.unanswered_list.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(unanswered, vec!["3", "7"]);
}

#[test]
fn messages_conversations_and_talkers() {
    let bind_req = "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>";
    let bind_res = "<iq type='result' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.org/balcony</jid></bind></iq>";
    let to_romeo = "<message to='romeo@example.net/orchard' type='chat'><body>Wherefore art thou?</body></message>";
    let from_romeo = "<message from='romeo@example.net/orchard' to='juliet@example.org/balcony' type='chat'><body>Here!</body></message>";
    let t0 = 1_700_000_040_000_000_000; // 2023-11-14T22:14:00Z
    let packets = session(
        "10.0.0.1:40000",
        t0,
        &[
            (true, bind_req),
            (false, bind_res),
            (true, to_romeo),
            (false, from_romeo),
            (true, to_romeo),
        ],
    );
    let s = stats_of(&packets, "chat");
    assert_eq!(s.conversations["juliet@example.org romeo@example.net"], 3);
    assert_eq!(
        s.message_body_bytes,
        ("Wherefore art thou?".len() * 2 + "Here!".len()) as u64
    );
    assert_eq!(s.messages_per_minute.values().sum::<u64>(), 3);
    assert_eq!(
        s.messages_per_minute.keys().next().unwrap(),
        "2023-11-14T22:14Z"
    );
    // juliet sent bind + 2 messages (from inferred from the bound JID after binding).
    assert_eq!(s.talkers["juliet@example.org"].count, 2);
    assert_eq!(s.talkers["romeo@example.net"].count, 1);
    let session = &s.sessions[0];
    assert_eq!(
        session.bound_jid.as_deref(),
        Some("juliet@example.org/balcony")
    );
    assert_eq!(session.ended, "close");
}

#[test]
fn merged_per_file_stats_equal_one_run_over_both() {
    let a = session(
        "10.0.0.1:40000",
        1_700_000_000_000_000_000,
        &[(true, AWAY), (true, AWAY)],
    );
    let b = session(
        "10.0.0.2:40001",
        1_700_000_100_000_000_000,
        &[
            (
                true,
                "<iq type='get' id='x'><query xmlns='jabber:iq:roster'/></iq>",
            ),
            (false, "<iq type='result' id='x'/>"),
        ],
    );
    // Per file, through JSON as `stats --format json` / `--merge` do.
    let mut merged: Stats =
        serde_json::from_str(&serde_json::to_string(&stats_of(&a, "both")).unwrap()).unwrap();
    merged.merge(
        &serde_json::from_str(&serde_json::to_string(&stats_of(&b, "both")).unwrap()).unwrap(),
    );
    // One file holding both captures as two pcapng sections, one run.
    let mut bytes = synth::write_pcapng(Vec::new(), &a).unwrap();
    bytes.extend(synth::write_pcapng(Vec::new(), &b).unwrap());
    let mut collector = Collector::new("both");
    Pipeline::new(Config::default())
        .run(
            &mut Reader::new(Cursor::new(bytes)).unwrap(),
            &mut collector,
        )
        .unwrap();
    let mut together = collector.into_stats();
    // Flow numbers restart per file; files are listed once per input.
    for (i, row) in merged.sessions.iter_mut().enumerate() {
        row.flow = i as u32 + 1;
    }
    together.files = merged.files.clone();
    // So do frame numbers, which name the census's first sightings.
    for (k, row) in together.census.extensions.iter_mut() {
        row.first.clone_from(&merged.census.extensions[k].first);
    }
    for (k, row) in together.census.software.iter_mut() {
        row.first.clone_from(&merged.census.software[k].first);
    }
    assert_eq!(merged, together);
}

#[test]
fn snapshots_of_every_format_for_every_capture() {
    for name in CAPTURES {
        let path = format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"));
        let mut collector = Collector::new(name);
        let mut reader = Reader::new(std::fs::File::open(path).unwrap()).unwrap();
        Pipeline::new(config_for(name))
            .run(&mut reader, &mut collector)
            .unwrap();
        let stats = collector.into_stats();
        let all = tables::tables(&stats);
        let text = render_text(&all);
        assert!(
            text.lines().all(|l| l.chars().count() <= 80),
            "{name}: table wider than 80 columns"
        );
        insta::assert_snapshot!(format!("{name}.stats.table"), text);
        insta::assert_snapshot!(format!("{name}.stats.md"), render_markdown(&all));
        insta::assert_snapshot!(
            format!("{name}.stats.json"),
            serde_json::to_string_pretty(&stats).unwrap()
        );
        let csv: String = all
            .iter()
            .map(|t| format!("## {}\n{}", t.name, render_csv(t)))
            .collect();
        insta::assert_snapshot!(format!("{name}.stats.csv"), csv);
    }
}

#[test]
fn xmpptrace_presence_overhead_matches_an_independent_count() {
    let path = format!(
        "{}/captures/xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap",
        env!("CARGO_MANIFEST_DIR")
    );
    let script = format!(
        "{}/tests/tools/count_presence.py",
        env!("CARGO_MANIFEST_DIR")
    );
    // The script reads the packets with the standard library and parses XML with expat.
    let out = std::process::Command::new("python3")
        .args([&script, &path])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let numbers: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let (events, _) = run_bytes(std::fs::read(&path).unwrap(), Config::default());
    let mut collector = Collector::new("x");
    for e in &events {
        xmppdump::sink::Sink::event(&mut collector, e).unwrap();
    }
    let o = collector.into_stats().presence_overhead(None);
    assert_eq!(
        numbers,
        vec![
            o.presence.count,
            o.presence.bytes,
            o.stanzas.count,
            o.stanzas.bytes
        ]
    );
    // Checked by hand once more: 153 presences (147 inside <route>), 68,335 of 74,044
    // stanza bytes = 92.3 %.
    assert_eq!(
        (o.presence.count, o.presence.bytes, o.stanzas.bytes),
        (153, 68_335, 74_044)
    );
}

#[test]
fn tables_keyed_by_wire_values_stay_bounded() {
    // More distinct iq namespaces than any table may hold: the traffic and iq tables
    // stop at MAX_LISTED rows and count the rest in one "(other)" row, losing nothing.
    use xmppdump::analysis::MAX_LISTED;
    let extra = 25;
    let requests: Vec<String> = (0..MAX_LISTED + extra)
        .map(|i| format!("<iq type='get' id='q{i}'><query xmlns='urn:test:{i}'/></iq>"))
        .collect();
    let lines: Vec<(bool, &str)> = requests.iter().map(|r| (true, r.as_str())).collect();
    let s = stats_of(
        &session("10.0.0.1:40000", 1_700_000_000_000_000_000, &lines),
        "bounded",
    );
    assert_eq!(s.iq.len(), MAX_LISTED + 1);
    let other = &s.iq["(other)"];
    assert_eq!(other.requests, extra as u64);
    let requests: u64 = s.iq.values().map(|q| q.requests).sum();
    assert_eq!(requests, (MAX_LISTED + extra) as u64);
    let wire_details = s
        .traffic
        .keys()
        .filter(|k| !k.detail.is_empty() && k.detail != "(other)")
        .count();
    assert!(wire_details <= MAX_LISTED, "{wire_details}");
    let iq_rows: u64 = s
        .traffic
        .iter()
        .filter(|(k, _)| k.class == Class::Iq)
        .map(|(_, c)| c.count)
        .sum();
    assert_eq!(iq_rows, (MAX_LISTED + extra) as u64);
    assert!(s.traffic.keys().any(|k| k.detail == "(other)"));
}

#[test]
fn messages_per_minute_is_bounded_and_keeps_the_total() {
    // Capture times come from the file: spread over more minutes than the table holds,
    // the rest is counted, not kept (per run and when merging).
    use xmppdump::analysis::MAX_MINUTES;
    use xmppdump::model::{Event, EventKind, FlowId, FrameNo, StreamOffset, Timestamp};
    use xmppdump::sink::Sink;
    let extra = 7;
    let mut collector = Collector::new("minutes");
    for i in 0..MAX_MINUTES + extra {
        let event = Event {
            time: Timestamp(i as i64 * 60_000_000_000),
            flow: FlowId(1),
            direction: Direction::ToServer,
            frame: FrameNo(i as u64 + 1),
            offset: StreamOffset(0),
            size: 10,
            decrypted: false,
            kind: EventKind::Message(StanzaBox::default()),
        };
        collector.event(&event).unwrap();
    }
    let s = collector.into_stats();
    assert_eq!(s.messages_per_minute.len(), MAX_MINUTES);
    assert_eq!(s.messages_per_minute_dropped, extra as u64);
    let mut merged = s.clone();
    merged.merge(&s);
    assert_eq!(merged.messages_per_minute.len(), MAX_MINUTES);
    let total: u64 = merged.messages_per_minute.values().sum();
    assert_eq!(
        total + merged.messages_per_minute_dropped,
        2 * (MAX_MINUTES + extra) as u64
    );
}

/// The statistics of `count` presences sent a microsecond apart on one connection,
/// straight to a collector: the `i`th from and to `parties(i)`, of type `kind`.
fn collect_presences(
    count: usize,
    kind: Option<&str>,
    parties: impl Fn(usize) -> (String, String),
) -> Stats {
    use xmppdump::sink::Sink;
    let mut collector = Collector::new("presences");
    for i in 0..count {
        let (from, to) = parties(i);
        collector
            .event(&presence_event(i, &from, &to, kind))
            .unwrap();
    }
    collector.into_stats()
}

/// The `i`th of those presences.
fn presence_event(i: usize, from: &str, to: &str, kind: Option<&str>) -> xmppdump::model::Event {
    use xmppdump::model::{Event, EventKind, Field, FlowId, FrameNo, StreamOffset, Timestamp};
    let mut stanza = StanzaBox::default();
    stanza.set_opt(Field::Type, kind);
    stanza.set(Field::From, from);
    stanza.set(Field::To, to);
    Event {
        time: Timestamp(1_700_000_000_000_000_000 + i as i64 * 1_000),
        flow: FlowId(1),
        direction: Direction::ToServer,
        frame: FrameNo(i as u64 + 1),
        offset: StreamOffset(0),
        size: 100,
        decrypted: false,
        kind: EventKind::Presence(stanza),
    }
}

#[test]
fn fan_out_deliveries_beyond_the_open_groups_are_counted_not_grouped() {
    // More senders than fan-out groups may be open, all within one second: the
    // deliveries that find the table full are counted as not grouped, and the
    // overview says so (nothing silently left out).
    use xmppdump::analysis::MAX_FAN_OUT_GROUPS;
    let extra = 40;
    let s = collect_presences(MAX_FAN_OUT_GROUPS + extra, None, |i| {
        (
            format!("user{i}@example.org/res"),
            "contact@example.net".into(),
        )
    });
    assert_eq!(s.fan_out.ungrouped, extra as u64, "{:?}", s.fan_out);
    assert_eq!(s.fan_out.logical, MAX_FAN_OUT_GROUPS as u64);
    assert_eq!(s.fan_out.deliveries, MAX_FAN_OUT_GROUPS as u64);
    let text = render_text(&tables::tables(&s));
    assert!(
        text.contains(&format!("({extra} deliveries not grouped")),
        "{text}"
    );
    // Checks can fail a capture on it.
    use xmppdump::check::metrics::{measure, Measured};
    assert_eq!(
        measure(&s, "presence.fan_out_ungrouped", None),
        Ok(Measured::Number(extra as f64))
    );
    let mut merged = s.clone();
    merged.merge(&s);
    assert_eq!(merged.fan_out.ungrouped, 2 * extra as u64);
}

#[test]
fn probes_beyond_the_open_table_are_counted_not_grouped() {
    // More distinct probes than may be pending at once, within the probe window: those
    // that find the table full are counted as not grouped (their answers cannot be
    // matched), in the stream's redundancy row and through `--merge`.
    use xmppdump::analysis::MAX_FAN_OUT_GROUPS;
    let extra = 30;
    let s = collect_presences(MAX_FAN_OUT_GROUPS + extra, Some("probe"), |i| {
        (
            "prober@example.org".into(),
            format!("contact{i}@example.net"),
        )
    });
    let red = &s.redundancy[&StreamKind::Unknown];
    assert_eq!(red.probes.count, (MAX_FAN_OUT_GROUPS + extra) as u64);
    assert_eq!(red.ungrouped, extra as u64, "{red:?}");
    let mut merged = s.clone();
    merged.merge(&s);
    assert_eq!(
        merged.redundancy[&StreamKind::Unknown].ungrouped,
        2 * extra as u64
    );
}
