//! Several captures read as one (`-r a b`): the same events as the file mergecap
//! (Wireshark's) writes from them, connection numbers unique across the inputs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_xmppdump")
}

fn capture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

/// xmppdump's stdout (it must succeed).
fn xmppdump(args: &[&Path], extra: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("-r")
        .args(args)
        .args(extra)
        .env_remove("SSLKEYLOGFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn mergecap(inputs: &[&Path], out: &Path) {
    let status = Command::new("mergecap")
        .arg("-w")
        .arg(out)
        .args(inputs)
        .status()
        .expect("mergecap (Debian's wireshark-common) must be installed");
    assert!(status.success());
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("merged_inputs");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `-r A B --json` equals `-r mergecap(A, B) --json`, event for event.
fn assert_same_as_mergecap(inputs: &[&Path], name: &str) -> String {
    let merged = scratch(&format!("{name}.pcapng"));
    mergecap(inputs, &merged);
    let ours = xmppdump(inputs, &["--json"]);
    let theirs = xmppdump(&[&merged], &["--json"]);
    assert!(!ours.is_empty());
    assert_eq!(
        ours.lines().count(),
        theirs.lines().count(),
        "{name}: event count"
    );
    for (n, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
        assert_eq!(a, b, "{name}: event {n} differs");
    }
    ours
}

#[test]
fn every_capture_merged_with_the_next_equals_mergecap() {
    let names = common::CAPTURES;
    for (i, a) in names.iter().enumerate() {
        let b = names[(i + 1) % names.len()];
        let (a, b) = (capture(a), capture(b));
        assert_same_as_mergecap(&[&a, &b], &format!("pair{i}"));
    }
}

/// Two generated captures that start at the same instant, so their packets
/// interleave (and tie in time): frames, connections and times as mergecap's.
#[test]
fn interleaved_generated_captures_equal_mergecap() {
    let a = scratch("gen_a.pcap");
    let b = scratch("gen_b.pcapng");
    for (path, seed, format) in [(&a, "3", None), (&b, "4", Some("--pcapng"))] {
        let mut gen = Command::new(bin());
        gen.args([
            "gen", "--size", "1M", "--seed", seed, "--c2s", "20", "--s2s", "4",
        ])
        .arg("--out")
        .arg(path)
        .args(format);
        assert!(gen.output().unwrap().status.success());
    }
    let events = assert_same_as_mergecap(&[&a, &b, &capture("prosody_sasl2.pcap")], "gen3");
    // The merged run interleaves both: flow numbers from both files alternate early.
    let first_flows: std::collections::BTreeSet<u64> = events
        .lines()
        .take(400)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["flow"].as_u64())
        .collect();
    assert!(first_flows.len() > 20, "{first_flows:?}");
}

/// Connection numbers stay unique: the merged run has as many XMPP connections
/// and stanzas as the inputs together, and its flow numbers are 1..=N.
#[test]
fn connections_of_all_inputs_are_numbered_once() {
    let names = [
        "zeek_xmpp-starttls.pcap",
        "ndpi_jabber.pcap",
        "prosody_bosh.pcap",
    ];
    let paths: Vec<PathBuf> = names.iter().map(|n| capture(n)).collect();
    let summary = |text: &str| -> Vec<u64> {
        let line = text.lines().last().unwrap().to_owned();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        ["xmpp_flows", "stanzas", "packets"]
            .iter()
            .map(|k| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {line}")))
            .collect()
    };
    let mut total = vec![0; 3];
    for p in &paths {
        for (t, n) in total
            .iter_mut()
            .zip(summary(&xmppdump(&[p], &["--json", "-q"])))
        {
            *t += n;
        }
    }
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let merged = xmppdump(&refs, &["--json"]);
    assert_eq!(summary(&merged), total);
    let flows: std::collections::BTreeSet<u64> = merged
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["flow"].as_u64())
        .collect();
    assert_eq!(flows.len() as u64, total[0], "{flows:?}");
}

/// `-r` repeated is the same as one `-r` with several files; show and stats
/// (through `report`) take several files too.
#[test]
fn repeated_r_and_the_views_read_several_files() {
    let (a, b) = (
        capture("zeek_xmpp-starttls.pcap"),
        capture("prosody_sasl2.pcap"),
    );
    let one = xmppdump(&[&a, &b], &[]);
    let out = Command::new(bin())
        .arg("-r")
        .arg(&a)
        .arg("-r")
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), one);
    let show = Command::new(bin())
        .arg("show")
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert!(show.status.success());
    let text = String::from_utf8(show.stdout).unwrap();
    // Both files' connections, each once: the first from zeek's capture.
    assert!(text.contains("#1 ") && text.contains("#2 "), "{text}");
}

/// A bad input among several is named in the one-line error, exit 2.
#[test]
fn a_bad_input_among_several_is_named() {
    let bad = scratch("truncated.pcap");
    let bytes = std::fs::read(capture("zeek_xmpp-starttls.pcap")).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() - 10]).unwrap();
    let good = capture("ndpi_jabber.pcap");
    let out = Command::new(bin())
        .arg("-r")
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{}: truncated capture", bad.display())),
        "{err}"
    );
}
