//! A busy link: a million concurrent not-XMPP connections around fifty XMPP sessions.
//! Every stanza the generator wrote is reported, inside a 512 MiB address space
//! (prlimit), by the binary a user runs. Peak memory and time are benchmarks
//! (docs/performance.md, docs/limits.md), not asserted here.

use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_xmppdump")
}

fn count(text: &str, event: &str) -> u64 {
    let needle = format!("\"event\":\"{event}\"");
    text.lines().filter(|l| l.contains(&needle)).count() as u64
}

#[test]
fn a_million_concurrent_connections_hide_no_stanza() {
    let dir = std::env::temp_dir().join(format!("xmppdump-busy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("busy.pcap");
    let path = file.to_str().unwrap();
    let gen = Command::new(bin())
        .args(["gen", "--out", path, "--size", "300M", "--seed", "3"])
        .args([
            "--c2s",
            "40",
            "--s2s",
            "10",
            "--background-flows",
            "1000000",
        ])
        .args(["--xmpp-share", "0.5"])
        .output()
        .unwrap();
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let truth: serde_json::Value = serde_json::from_slice(&gen.stdout).unwrap();
    assert_eq!(truth["background_flows"], 1_000_000);
    let out = Command::new("prlimit")
        .arg(format!("--as={}", 512u64 << 20))
        .args([bin(), "-r", path, "--json"])
        .output()
        .expect("prlimit (util-linux) runs the binary");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let n = |key: &str| truth[key].as_u64().unwrap();
    assert!(n("messages") > 1000, "{truth}");
    assert_eq!(count(&text, "message"), n("messages"));
    assert_eq!(count(&text, "presence"), n("presences"));
    assert_eq!(count(&text, "iq"), n("iqs"));
    assert_eq!(count(&text, "stream_header"), n("stream_headers"));
    assert_eq!(count(&text, "flow_start"), n("flows"));
    assert_eq!(count(&text, "anomaly"), 0);
    let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["packets"], truth["packets"]);
    // Every TCP connection was tracked (the DNS ones are UDP): none was evicted.
    let tcp = n("flows") + 1_000_000 - 1_000_000 / 6;
    assert_eq!(summary["tcp_flows"].as_u64(), Some(tcp));
}
