//! Wireshark integration, checked with the real tshark: the Lua plugin, annotated
//! pcapng read back, and a frame-by-frame cross-check of which XMPP elements each
//! frame carries, with every difference explained in wireshark/crosscheck-expected.txt.

mod common;

use common::{capture_path, xmppdump};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const PLUGIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/wireshark/xmppdump.lua");
const KINDS: &[&str] = &[
    "stream",
    "features",
    "starttls",
    "proceed",
    "auth",
    "challenge",
    "response",
    "success",
    "failure",
    "message",
    "presence",
    "iq",
];

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("tshark is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn count_xmpp_frames(file: &str, plugin: bool) -> usize {
    let lua = format!("lua_script:{PLUGIN}");
    let mut args = vec!["-r", file, "-Y", "xmpp"];
    if plugin {
        args.extend(["-X", lua.as_str()]);
    }
    tshark(&args).lines().count()
}

#[test]
fn plugin_dissects_s2s_on_5269_where_plain_tshark_does_not() {
    let file = capture_path("zeek_xmpp-dialback-starttls.pcap");
    assert_eq!(count_xmpp_frames(&file, false), 0);
    assert_eq!(
        count_xmpp_frames(&file, true),
        4,
        "stream headers, starttls, proceed"
    );
    // The heuristic finds component traffic on port 7400.
    let file = capture_path("xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap");
    let port7400 = |plugin: bool| {
        let lua = format!("lua_script:{PLUGIN}");
        let mut args = vec!["-r", file.as_str(), "-Y", "tcp.port == 7400 and xmpp"];
        if plugin {
            args.extend(["-X", lua.as_str()]);
        }
        tshark(&args).lines().count()
    };
    assert_eq!(port7400(false), 0);
    assert!(port7400(true) > 100);
}

#[test]
fn plugin_statistics_agree_with_xmppdump_on_top_level_stanzas() {
    let file = capture_path("xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap");
    let lua = format!("lua_script:{PLUGIN}");
    let out = tshark(&["-q", "-r", &file, "-X", &lua, "-X", "lua_script1:stats"]);
    let (_, ndjson, _) = xmppdump(&["-r", &file, "--json"]);
    // Wireshark's XMPP dissector does not look inside router <route> wrappers, so
    // compare the stanzas that are not wrapped.
    for kind in ["message", "presence", "iq"] {
        let ours = ndjson
            .lines()
            .filter(|l| l.contains(&format!("\"event\":\"{kind}\"")) && !l.contains("\"wrapper\""))
            .count();
        let line = out.lines().find(|l| l.starts_with(kind)).unwrap();
        let theirs: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(ours, theirs, "{kind}: {line}");
    }
    assert!(out.contains("presence share of stanza bytes:"));
}

#[test]
fn annotated_pcapng_is_read_back_by_tshark() {
    let file = capture_path("zeek_xmpp-starttls.pcap");
    let out =
        std::env::temp_dir().join(format!("xmppdump-annotated-{}.pcapng", std::process::id()));
    let out = out.to_str().unwrap();
    let (code, _, err) = xmppdump(&["-r", &file, "-w", out, "--annotate"]);
    assert_eq!(code, 0, "{err}");
    let comments = tshark(&[
        "-r",
        out,
        "-Y",
        "frame.comment",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "frame.comment",
    ]);
    let by_frame: BTreeMap<u32, String> = comments
        .lines()
        .map(|l| {
            let (f, c) = l.split_once('\t').unwrap();
            (f.parse().unwrap(), c.to_owned())
        })
        .collect();
    assert_eq!(by_frame[&10], "xmppdump: #1 C>S starttls");
    assert_eq!(by_frame[&11], "xmppdump: #1 S>C proceed (TLS starts)");
    assert!(by_frame[&8].starts_with("xmppdump: #1 S>C features starttls=required"));
    // Every packet is copied: the same count as the input.
    assert_eq!(
        tshark(&["-r", out]).lines().count(),
        tshark(&["-r", &file]).lines().count()
    );
    std::fs::remove_file(out).unwrap();
}

/// (frame, kind) → count, according to xmppdump.
fn ours(file: &str) -> BTreeMap<(u64, String), usize> {
    ours_with(file, &[])
}

fn ours_with(file: &str, extra: &[&str]) -> BTreeMap<(u64, String), usize> {
    let mut args = vec!["-r", file, "--json"];
    args.extend_from_slice(extra);
    let (_, ndjson, _) = xmppdump(&args);
    let mut map = BTreeMap::new();
    for line in ndjson.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let kind = match v["event"].as_str().unwrap_or_default() {
            "stream_header" => "stream",
            "features" => "features",
            "start_tls" => "starttls",
            "tls_proceed" => "proceed",
            "sasl_auth" => "auth",
            "sasl_challenge" => "challenge",
            "sasl_response" => "response",
            "sasl_success" => "success",
            "sasl_failure" | "tls_failure" => "failure",
            k @ ("message" | "presence" | "iq") if v.get("wrapper").is_none() => k,
            _ => continue,
        };
        *map.entry((v["frame"].as_u64().unwrap(), kind.to_owned()))
            .or_insert(0) += 1;
    }
    map
}

/// (frame, kind) → count, according to tshark with the plugin.
fn theirs(file: &str) -> BTreeMap<(u64, String), usize> {
    let lua = format!("lua_script:{PLUGIN}");
    tshark_counts(&["-r", file, "-X", lua.as_str()], KINDS)
}

/// (frame, kind) → how many `xmpp.KIND` fields tshark shows in each XMPP frame;
/// `args` names the file and any options.
fn tshark_counts(args: &[&str], kinds: &[&str]) -> BTreeMap<(u64, String), usize> {
    let fields: Vec<String> = kinds.iter().map(|k| format!("xmpp.{k}")).collect();
    let mut all = args.to_vec();
    all.extend([
        "-Y",
        "xmpp",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "separator=\t",
    ]);
    all.extend(["-e", "frame.number"]);
    for f in &fields {
        all.extend(["-e", f.as_str()]);
    }
    let mut map = BTreeMap::new();
    for line in tshark(&all).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let frame: u64 = cols[0].parse().unwrap();
        for (kind, value) in kinds.iter().zip(&cols[1..]) {
            if !value.is_empty() {
                map.insert((frame, (*kind).to_owned()), value.split(',').count());
            }
        }
    }
    map
}

#[test]
fn crosscheck_with_tshark_frame_by_frame() {
    let expected_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/wireshark/crosscheck-expected.txt"
    ))
    .unwrap();
    let mut expected = BTreeSet::new();
    for line in expected_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (entry, reason) = line
            .split_once(" -- ")
            .unwrap_or_else(|| panic!("no reason given: {line}"));
        assert!(
            !reason.trim().is_empty(),
            "every entry has a reason: {line}"
        );
        expected.insert(entry.trim().to_owned());
    }
    let mut found = BTreeSet::new();
    for name in [
        "ndpi_jabber.pcap",
        "godpi_jabber.pcap",
        "zeek_xmpp-starttls.pcap",
        "zeek_xmpp-dialback-starttls.pcap",
        "xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap",
    ] {
        let file = capture_path(name);
        let ours = ours(&file);
        let theirs = theirs(&file);
        let keys: BTreeSet<&(u64, String)> = ours.keys().chain(theirs.keys()).collect();
        for key in keys {
            let (a, b) = (
                ours.get(key).copied().unwrap_or(0),
                theirs.get(key).copied().unwrap_or(0),
            );
            if a != b {
                found.insert(format!(
                    "{name} frame {} {} xmppdump={a} tshark={b}",
                    key.0, key.1
                ));
            }
        }
    }
    let unexplained: Vec<&String> = found.difference(&expected).collect();
    let stale: Vec<&String> = expected.difference(&found).collect();
    assert!(
        unexplained.is_empty() && stale.is_empty(),
        "unexplained differences:\n{}\nexpected but gone:\n{}",
        unexplained
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        stale
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// tshark decrypts the prosody captures with the same key logs: the stanzas it finds
/// inside TLS are ours, frame by frame.
#[test]
fn tshark_decrypts_the_same_stanzas_in_the_same_frames() {
    for stem in ["prosody_starttls", "prosody_starttls_tls12"] {
        let file = capture_path(&format!("{stem}.pcap"));
        let keylog = capture_path(&format!("{stem}.keylog"));
        let stanzas = |m: BTreeMap<(u64, String), usize>| {
            m.into_iter()
                .filter(|((_, k), _)| ["message", "presence", "iq"].contains(&k.as_str()))
                .collect::<BTreeMap<_, _>>()
        };
        let ours = stanzas(ours_with(&file, &["--keylog", &keylog]));
        let option = format!("tls.keylog_file:{keylog}");
        let theirs = tshark_counts(
            &["-r", &file, "-o", &option],
            &["message", "presence", "iq"],
        );
        assert!(ours.values().sum::<usize>() >= 9, "{stem}: {ours:?}");
        assert_eq!(ours, theirs, "{stem}");
        // Without the key log neither sees a stanza.
        assert!(stanzas(ours_with(&file, &[])).is_empty());
    }
}

/// XMPP over WebSocket: tshark's WebSocket dissector unmasks the same messages, frame
/// by frame, that xmppdump reads as XMPP elements (RFC 7395 §3.3.3: one element per
/// message), in the clear and inside TLS with the key log Node.js wrote.
#[test]
fn tshark_unmasks_the_same_websocket_messages() {
    for (name, tls) in [("prosody_websocket", false), ("prosody_wss", true)] {
        let file = capture_path(&format!("{name}.pcap"));
        let keylog = format!(
            "tls.keylog_file:{}",
            capture_path(&format!("{name}.keylog"))
        );
        let mut args = vec!["-r", file.as_str()];
        if tls {
            args.extend(["-o", keylog.as_str(), "-d", "tcp.port==5281,tls"]);
        }
        args.extend([
            "-Y",
            "websocket.payload.text",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=\u{1}",
            "-e",
            "frame.number",
            "-e",
            "websocket.payload.text",
        ]);
        let mut theirs: Vec<(u64, String)> = Vec::new();
        for line in tshark(&args).lines() {
            let (frame, texts) = line.split_once('\t').unwrap();
            for text in texts.split('\u{1}').filter(|t| !t.is_empty()) {
                theirs.push((frame.parse().unwrap(), text.to_owned()));
            }
        }
        let config = xmppdump::pipeline::Config {
            keep_xml: true,
            ..common::config_for(&format!("{name}.pcap"))
        };
        let bytes = std::fs::read(&file).unwrap();
        let (events, _) = common::run_bytes(bytes, config);
        let ours: Vec<(u64, String)> = events
            .iter()
            .filter_map(|e| match &e.kind {
                xmppdump::model::EventKind::Xml { xml } => Some((e.frame.0, xml.clone())),
                _ => None,
            })
            .collect();
        assert!(ours.len() >= 15, "{name}: {ours:?}");
        assert_eq!(ours, theirs, "{name}");
    }
}

/// XMPP over BOSH: the elements xmppdump reads in each HTTP message are the content of
/// the `<body/>` that tshark's HTTP dissector finds there, frame by frame, in the clear
/// and inside TLS (https://, with the key log).
#[test]
fn tshark_finds_the_same_bosh_bodies() {
    for name in ["prosody_bosh.pcap", "prosody_bosh_https.pcap"] {
        let file = capture_path(name);
        let keylog = capture_path(&name.replace(".pcap", ".keylog"));
        let option = format!("tls.keylog_file:{keylog}");
        let mut args = vec!["-r", file.as_str()];
        if name.contains("https") {
            args.extend(["-o", option.as_str()]);
        }
        args.extend([
            "-Y",
            "http.file_data",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "http.file_data",
        ]);
        let out = tshark(&args);
        let mut theirs: BTreeMap<u64, String> = BTreeMap::new();
        for line in out.lines() {
            let (frame, body) = line.split_once('\t').unwrap();
            let body = body.trim();
            let start_end = body.find('>').unwrap() + 1;
            let content = if body[..start_end].ends_with("/>") {
                ""
            } else {
                &body[start_end..body.rfind("</").unwrap()]
            };
            if !content.trim().is_empty() {
                theirs.insert(frame.parse().unwrap(), content.to_owned());
            }
        }
        let config = xmppdump::pipeline::Config {
            keep_xml: true,
            ..common::config_for(name)
        };
        let (events, _) = common::run_bytes(std::fs::read(&file).unwrap(), config);
        let mut ours: BTreeMap<u64, String> = BTreeMap::new();
        for e in &events {
            if let xmppdump::model::EventKind::Xml { xml } = &e.kind {
                ours.entry(e.frame.0).or_default().push_str(xml);
            }
        }
        assert!(theirs.len() >= 8, "{name}: {theirs:?}");
        assert_eq!(ours, theirs, "{name}");
    }
}

/// Direct TLS on 443 (XEP-0368): the frame where xmppdump reads a ClientHello offering
/// ALPN `xmpp-client`, which made the flow XMPP, is the frame where tshark's TLS
/// dissector finds that offer. (tshark 4.0 cannot dissect XMPP inside TLS on a port
/// other than 5222/5223, so the decrypted stanzas are checked by
/// `tests/captures.rs` and the live test, not against tshark.)
#[test]
fn tshark_sees_the_same_alpn_offer() {
    let file = capture_path("prosody_directtls.pcap");
    let (_, ndjson, _) = xmppdump(&["-r", &file, "--json"]);
    let ours: Vec<String> = ndjson
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| {
            v["event"] == "tls_client_hello"
                && v["alpn"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|p| p == "xmpp-client"))
        })
        .map(|v| v["frame"].to_string())
        .collect();
    let theirs = tshark(&[
        "-r",
        &file,
        "-Y",
        "tls.handshake.extensions_alpn_str == \"xmpp-client\"",
        "-T",
        "fields",
        "-e",
        "frame.number",
    ]);
    assert_eq!(ours.len(), 1, "{ndjson}");
    assert_eq!(theirs.lines().collect::<Vec<_>>(), ours);
}
