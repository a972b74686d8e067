//! Presence redundancy at federation scale, computed by hand (docs/statistics.md):
//! `per_domain` copies of one broadcast to a remote domain, probes and their answers,
//! MUC presence kept apart, directed presence never redundant.

use std::io::Cursor;
use xmppdump::analysis::{Collector, Redundancy, Stats};
use xmppdump::capture::Reader;
use xmppdump::model::{StreamKind, Timestamp};
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::synth::{self, Conversation, Link, Packet};

const T0: i64 = 1_700_000_000_000_000_000;

/// One s2s connection from `from` (its server at `client`) to `to`: both stream
/// headers, then `lines` from the initiating server, one segment each, 1 ms apart.
fn s2s(client: &str, from: &str, to: &str, start: i64, lines: &[String]) -> Vec<Packet> {
    let mut c = Conversation::new(
        client.parse().unwrap(),
        "10.0.0.100:5269".parse().unwrap(),
        Link::Ethernet,
        Timestamp(start),
    );
    let header = |a: &str, b: &str| {
        format!("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='{a}' to='{b}' version='1.0'>")
    };
    let mut packets = c.handshake();
    packets.extend(c.send(true, header(from, to).as_bytes()));
    packets.extend(c.send(false, header(to, from).as_bytes()));
    for line in lines {
        packets.extend(c.send(true, line.as_bytes()));
    }
    packets
}

fn stats_of(packets: &[Packet]) -> Stats {
    let bytes = synth::write_pcapng(Vec::new(), packets).unwrap();
    let mut reader = Reader::new(Cursor::new(bytes)).unwrap();
    let mut collector = Collector::new("presence");
    Pipeline::new(Config::default())
        .run(&mut reader, &mut collector)
        .unwrap();
    collector.into_stats()
}

fn s2s_of(stats: &Stats) -> Redundancy {
    stats.redundancy_of(Some(StreamKind::S2s))
}

fn broadcast(from: &str, to: &[String], show: &str) -> Vec<String> {
    to.iter()
        .map(|t| format!("<presence from='{from}' to='{t}'><show>{show}</show></presence>"))
        .collect()
}

fn contacts(domain: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("contact{i}@{domain}")).collect()
}

#[test]
fn five_contacts_on_one_domain_and_two_changes_give_eight_of_ten() {
    let five = contacts("remote.example", 5);
    let mut lines = broadcast("juliet@local.example/balcony", &five, "away");
    lines.extend(broadcast("juliet@local.example/balcony", &five, "dnd"));
    let stats = stats_of(&s2s(
        "10.0.0.1:40000",
        "local.example",
        "remote.example",
        T0,
        &lines,
    ));
    let r = s2s_of(&stats);
    assert_eq!(r.presences.count, 10);
    assert_eq!(r.per_domain.count, 8);
    assert_eq!(
        r.redundant.count, 0,
        "no recipient got the same presence twice"
    );
    let ratios = &stats.presence_ratios()["s2s"];
    assert_eq!(ratios.per_domain, Some(0.8));
    // Every stanza is a presence: the saving is the copies' share of all bytes.
    let saving = ratios.per_domain_saving_of_stanza_bytes.unwrap();
    assert!((saving - r.per_domain.bytes as f64 / r.presences.bytes as f64).abs() < 1e-12);
    assert_eq!(ratios.of_stanzas, Some(1.0));
}

#[test]
fn contacts_on_three_domains_save_one_copy_less_per_domain() {
    // Two contacts on each of three remote domains, one s2s connection each.
    let mut packets = Vec::new();
    for (n, domain) in ["a.example", "b.example", "c.example"].iter().enumerate() {
        let lines = broadcast("romeo@local.example/orchard", &contacts(domain, 2), "chat");
        packets.extend(s2s(
            &format!("10.0.0.{}:40000", n + 1),
            "local.example",
            domain,
            T0 + n as i64 * 1_000,
            &lines,
        ));
    }
    packets.sort_by_key(|p| p.time);
    let r = s2s_of(&stats_of(&packets));
    assert_eq!((r.presences.count, r.per_domain.count), (6, 3));
}

#[test]
fn directed_presence_and_subscriptions_are_not_broadcasts() {
    let lines = vec![
        // Directed presence to one contact (RFC 6121 §4.6): one copy.
        "<presence from='juliet@local.example/balcony' to='nurse@remote.example'><show>xa</show></presence>".to_owned(),
        // Subscription requests to two contacts: not presence broadcasts.
        "<presence from='juliet@local.example' to='a@remote.example' type='subscribe'/>".to_owned(),
        "<presence from='juliet@local.example' to='b@remote.example' type='subscribe'/>".to_owned(),
    ];
    let mut packets = s2s(
        "10.0.0.1:40000",
        "local.example",
        "remote.example",
        T0,
        &lines,
    );
    // The same directed presence again two seconds later, on another connection: a
    // broadcast of its own (the window is one second).
    let again = "<presence from='juliet@local.example/balcony' to='nurse@remote.example'><show>xa</show></presence>";
    packets.extend(s2s(
        "10.0.0.2:40000",
        "local.example",
        "remote.example",
        T0 + 2_000_000_000,
        &[again.to_owned()],
    ));
    let r = s2s_of(&stats_of(&packets));
    assert_eq!(r.presences.count, 4);
    assert_eq!(r.per_domain.count, 0);
}

#[test]
fn probes_at_login_and_their_answers_are_counted_apart() {
    let three = contacts("remote.example", 3);
    // local.example probes three contacts for juliet (RFC 6121 §4.3.1) …
    let probes: Vec<String> = three
        .iter()
        .map(|t| format!("<presence from='juliet@local.example' to='{t}' type='probe'/>"))
        .collect();
    let mut packets = s2s(
        "10.0.0.1:40000",
        "local.example",
        "remote.example",
        T0,
        &probes,
    );
    // … and remote.example answers with each contact's presence (§4.3.2), on its own
    // connection back, half a second later; one contact has two resources.
    let mut answers: Vec<String> = three
        .iter()
        .map(|t| format!("<presence from='{t}/phone' to='juliet@local.example'/>"))
        .collect();
    answers.push("<presence from='contact0@remote.example/laptop' to='juliet@local.example'><show>away</show></presence>".to_owned());
    // A presence from someone juliet did not probe is no answer.
    answers
        .push("<presence from='stranger@remote.example/x' to='juliet@local.example'/>".to_owned());
    packets.extend(s2s(
        "10.0.0.2:40000",
        "remote.example",
        "local.example",
        T0 + 500_000_000,
        &answers,
    ));
    packets.sort_by_key(|p| p.time);
    let r = s2s_of(&stats_of(&packets));
    assert_eq!(r.probes.count, 3);
    assert_eq!(r.probe_answers.count, 4);
    assert_eq!(r.presences.count, 8);
    // Answers to one recipient from different senders are no per-domain copies.
    assert_eq!(r.per_domain.count, 0);
}

#[test]
fn muc_presence_is_the_room_s_fan_out_not_a_broadcast() {
    let occupants = contacts("remote.example", 3);
    let lines: Vec<String> = occupants
        .iter()
        .map(|t| {
            format!("<presence from='room@conference.local.example/juliet' to='{t}/x'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/></x></presence>")
        })
        .collect();
    let r = s2s_of(&stats_of(&s2s(
        "10.0.0.1:40000",
        "local.example",
        "remote.example",
        T0,
        &lines,
    )));
    assert_eq!(r.muc.count, 3);
    assert_eq!(r.per_domain.count, 0);
}

#[test]
fn merged_stats_give_the_same_ratios() {
    let five = contacts("remote.example", 5);
    let one = s2s(
        "10.0.0.1:40000",
        "local.example",
        "remote.example",
        T0,
        &broadcast("juliet@local.example/balcony", &five, "away"),
    );
    let two = s2s(
        "10.0.0.2:40000",
        "local.example",
        "remote.example",
        T0 + 10_000_000_000,
        &broadcast("romeo@local.example/orchard", &five, "dnd"),
    );
    let mut both = one.clone();
    both.extend(two.iter().cloned());
    let mut merged = stats_of(&one);
    merged.merge(&stats_of(&two));
    let whole = stats_of(&both);
    assert_eq!(merged.redundancy, whole.redundancy);
    assert_eq!(merged.presence_ratios(), whole.presence_ratios());
    assert_eq!(s2s_of(&whole).per_domain.count, 8);
}

#[test]
fn answers_to_two_probers_on_one_domain_are_one_answer_and_one_copy() {
    // juliet and romeo of local.example log in together; their server probes the same
    // contact for both (RFC 6121 §4.3.1) …
    let probes: Vec<String> = ["juliet", "romeo"]
        .iter()
        .map(|u| {
            format!(
                "<presence from='{u}@local.example' to='contact0@remote.example' type='probe'/>"
            )
        })
        .collect();
    let mut packets = s2s(
        "10.0.0.1:40000",
        "local.example",
        "remote.example",
        T0,
        &probes,
    );
    // … and the contact's one presence answers each: the same sender and meaning to
    // one domain twice within the fan-out window. One copy per domain would carry
    // both, so the second is a per_domain copy; the definitions stay disjoint.
    let answers: Vec<String> = ["juliet", "romeo"]
        .iter()
        .map(|u| format!("<presence from='contact0@remote.example/phone' to='{u}@local.example'><show>away</show></presence>"))
        .collect();
    packets.extend(s2s(
        "10.0.0.2:40000",
        "remote.example",
        "local.example",
        T0 + 100_000_000,
        &answers,
    ));
    packets.sort_by_key(|p| p.time);
    let r = s2s_of(&stats_of(&packets));
    assert_eq!((r.probes.count, r.probe_answers.count), (2, 1));
    assert_eq!(r.per_domain.count, 1);
}

#[test]
fn the_generator_s_broadcasts_are_the_per_domain_copies_stats_reports() {
    use xmppdump::synth::gen::{generate, GenConfig};
    let config = GenConfig {
        seed: 11,
        target_bytes: 4 << 20,
        c2s_flows: 30,
        s2s_flows: 20,
        ..GenConfig::default()
    };
    let mut bytes = Vec::new();
    let truth = generate(&config, &mut bytes).unwrap();
    assert!(truth.per_domain_copies > 100, "{truth:?}");
    let mut reader = Reader::new(Cursor::new(bytes)).unwrap();
    let mut collector = Collector::new("gen");
    Pipeline::new(Config::default())
        .run(&mut reader, &mut collector)
        .unwrap();
    let stats = collector.into_stats();
    let r = s2s_of(&stats);
    assert_eq!(
        (r.per_domain.count, r.per_domain.bytes),
        (truth.per_domain_copies, truth.per_domain_bytes)
    );
    assert_eq!(
        stats.redundancy_of(Some(StreamKind::C2s)).per_domain.count,
        0
    );
    let ratios = &stats.presence_ratios()["s2s"];
    assert_eq!(
        ratios.by_definition["per_domain"].of_presences,
        Some(truth.per_domain_copies as f64 / r.presences.count as f64)
    );
}
