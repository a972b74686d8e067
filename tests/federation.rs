//! The federation experiment (`captures/make/federation.sh`, `docs/presence-study.md`):
//! two real prosody servers federating over s2s with 400 real slixmpp clients. The
//! clients' own stanza counts per connection are the ground truth; the presence figures
//! that answer the "70 % presence, 60 % redundant" claim are snapshots; `stats --merge`
//! over the capture cut in two equals one run over both halves.

mod common;

use common::{capture_path, xmppdump, Collect};
use std::collections::BTreeMap;
use xmppdump::analysis::{tables, Collector};
use xmppdump::capture::Reader;
use xmppdump::model::{Direction, EventKind};
use xmppdump::output::stats::render_text;
use xmppdump::pipeline::{Config, Pipeline};

const CAPTURE: &str = "federation_prosody.pcap";

/// Stanza counts of one direction: (message, presence, iq).
type Counts = (u64, u64, u64);

fn client_log() -> serde_json::Value {
    let path = capture_path("federation_prosody.clients.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn counts(v: &serde_json::Value) -> Counts {
    let n = |k: &str| v[k].as_u64().unwrap();
    (n("message"), n("presence"), n("iq"))
}

#[test]
fn every_client_s_own_counts_match_its_connection() {
    let mut reader = Reader::new(std::fs::File::open(capture_path(CAPTURE)).unwrap()).unwrap();
    let mut sink = Collect::default();
    Pipeline::new(Config::default())
        .run(&mut reader, &mut sink)
        .unwrap();
    // Each connection's endpoints, and its stanzas per direction.
    let mut ends: BTreeMap<u32, (String, String)> = BTreeMap::new();
    let mut seen: BTreeMap<(u32, Direction), Counts> = BTreeMap::new();
    for e in &sink.events {
        let slot = seen.entry((e.flow.0, e.direction)).or_default();
        match &e.kind {
            EventKind::FlowStart { client, server, .. } => {
                ends.insert(e.flow.0, (client.clone(), server.clone()));
            }
            EventKind::Message(_) => slot.0 += 1,
            EventKind::Presence(_) => slot.1 += 1,
            EventKind::Iq(_) => slot.2 += 1,
            _ => {}
        }
    }
    let by_ends: BTreeMap<(String, String), u32> =
        ends.iter().map(|(flow, e)| (e.clone(), *flow)).collect();
    let log = client_log();
    let clients = log["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 400);
    for c in clients {
        let local = format!("{}:{}", c["local"][0].as_str().unwrap(), c["local"][1]);
        let server = format!("{}:{}", c["server"][0].as_str().unwrap(), c["server"][1]);
        let flow = by_ends[&(local, server)];
        let got = |d| seen.get(&(flow, d)).copied().unwrap_or_default();
        assert_eq!(got(Direction::ToServer), counts(&c["sent"]), "{}", c["jid"]);
        assert_eq!(
            got(Direction::ToClient),
            counts(&c["received"]),
            "{}",
            c["jid"]
        );
    }
    // Every c2s connection is a client's; the rest are the servers' s2s links.
    let c2s = ends.values().filter(|(_, s)| s.ends_with(":5222")).count();
    assert_eq!(c2s, clients.len());
    assert!(ends.values().any(|(_, s)| s.ends_with(":5269")));
    assert_eq!(sink.summary.unwrap().anomalies, 0);
}

#[test]
fn the_presence_figures_answer_the_claim() {
    let mut reader = Reader::new(std::fs::File::open(capture_path(CAPTURE)).unwrap()).unwrap();
    let mut collector = Collector::new(CAPTURE);
    Pipeline::new(Config::default())
        .run(&mut reader, &mut collector)
        .unwrap();
    let stats = collector.into_stats();
    let all = tables::tables(&stats);
    let pick = |name: &str| all.iter().find(|t| t.name == name).unwrap().clone();
    let text = render_text(&[pick("overview"), pick("presence")]);
    insta::assert_snapshot!("federation_prosody.presence", text);
    let ratios = stats.presence_ratios();
    insta::assert_json_snapshot!("federation_prosody.presence_ratios", ratios);
    // What the experiment is about: on s2s, presence is nearly all the stanza
    // traffic, and each definition finds its part of it.
    let s2s = &ratios["s2s"];
    assert!(s2s.of_stanza_bytes.unwrap() > 0.9, "{s2s:?}");
    for definition in ["per_domain", "probe+answer", "muc"] {
        assert!(s2s.by_definition[definition].stanzas > 0, "{definition}");
    }
    assert_eq!(ratios["c2s"].by_definition["per_domain"].stanzas, 0);
}

/// The capture's first `n` packets and the rest, as two classic pcap files.
fn cut_in_two(bytes: &[u8], n: usize) -> (Vec<u8>, Vec<u8>) {
    let header = &bytes[..24];
    let (mut first, mut second) = (header.to_vec(), header.to_vec());
    let mut at = 24;
    let mut i = 0;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let record = &bytes[at..at + 16 + len];
        if i < n { &mut first } else { &mut second }.extend_from_slice(record);
        at += 16 + len;
        i += 1;
    }
    (first, second)
}

#[test]
fn stats_merge_over_the_capture_cut_in_two_equals_one_run_over_both_halves() {
    let bytes = std::fs::read(capture_path(CAPTURE)).unwrap();
    assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let (first, second) = cut_in_two(&bytes, 27_000);
    let dir = std::env::temp_dir().join(format!("xmppdump-federation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    std::fs::write(path("first.pcap"), first).unwrap();
    std::fs::write(path("second.pcap"), second).unwrap();
    let json = |args: &[&str]| {
        let (code, out, err) = xmppdump(args);
        assert_eq!(code, 0, "{err}");
        out
    };
    for half in ["first", "second"] {
        let out = json(&["stats", &path(&format!("{half}.pcap")), "--format", "json"]);
        std::fs::write(path(&format!("{half}.json")), out).unwrap();
    }
    let merged = json(&[
        "stats",
        "--merge",
        &path("first.json"),
        &path("second.json"),
        "--format",
        "json",
    ]);
    let together = json(&[
        "stats",
        &path("first.pcap"),
        &path("second.pcap"),
        "--format",
        "json",
    ]);
    let merged: serde_json::Value = serde_json::from_str(&merged).unwrap();
    let together: serde_json::Value = serde_json::from_str(&together).unwrap();
    assert_eq!(merged["presence_ratios"], together["presence_ratios"]);
    assert_eq!(merged["redundancy"], together["redundancy"]);
    assert_eq!(merged["traffic"], together["traffic"]);
    assert_eq!(merged, together);
    // And on two threads the whole capture gives what one gives.
    let whole = capture_path(CAPTURE);
    assert_eq!(
        json(&["stats", &whole, "--format", "json"]),
        json(&["stats", &whole, "--format", "json", "-j", "2"])
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_user_s_connections_extracted_with_a_filter_hold_all_its_stanzas() {
    let out = std::env::temp_dir().join(format!("xmppdump-extract-{}.pcapng", std::process::id()));
    let out = out.to_str().unwrap();
    // u007 has an account on each domain: two connections.
    let (code, _, err) = xmppdump(&[
        "-r",
        &capture_path(CAPTURE),
        "-Y",
        "event == \"sasl_auth\" and username == \"u007\"",
        "-w",
        out,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, listing, err) = xmppdump(&["-r", out, "--json"]);
    std::fs::remove_file(out).unwrap();
    assert_eq!(code, 0, "{err}");
    let events: Vec<serde_json::Value> = listing
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |name: &str| events.iter().filter(|e| e["event"] == name).count() as u64;
    assert_eq!(count("flow_start"), 2);
    assert_eq!(count("anomaly"), 0);
    // What the two clients say they sent and received, together.
    let log = client_log();
    let mine: Vec<&serde_json::Value> = log["clients"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["jid"].as_str().unwrap().starts_with("u007@"))
        .collect();
    assert_eq!(mine.len(), 2);
    let mut want = (0, 0, 0);
    for c in mine {
        for side in ["sent", "received"] {
            let (m, p, i) = counts(&c[side]);
            want = (want.0 + m, want.1 + p, want.2 + i);
        }
    }
    assert_eq!((count("message"), count("presence"), count("iq")), want);
}
