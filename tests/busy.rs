//! A busy link: a million concurrent not-XMPP connections around fifty XMPP sessions.
//! Every stanza the generator wrote is reported, inside a 512 MiB address space
//! (prlimit), by the binary a user runs. Peak memory and time are benchmarks
//! (docs/performance.md, docs/limits.md), not asserted here.

mod common;

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

mod emergency {
    use xmppdump::model::{EndReason, EventKind, Timestamp};
    use xmppdump::pipeline::Config;
    use xmppdump::synth::{client_header, Conversation, Link, Packet};

    use super::common;

    const T0: i64 = 1_700_000_000_000_000_000;
    const SEC: i64 = 1_000_000_000;

    fn conv(client: &str, server: &str, at: i64) -> Conversation {
        Conversation::new(
            client.parse().unwrap(),
            server.parse().unwrap(),
            Link::Ethernet,
            Timestamp(at),
        )
    }

    /// 95 web connections fill a 100-entry table past 90 %: emergency mode. Forty
    /// seconds later the sweep uses the short timeouts: the web connections (30 s)
    /// and an XMPP connection that sent nothing (30 s) go, an XMPP session idle as
    /// long (300 s) stays; the table drops below 70 % and emergency mode ends.
    #[test]
    fn a_nearly_full_table_shortens_idle_timeouts() {
        let mut packets: Vec<Packet> = Vec::new();
        let mut quiet = conv("10.9.0.1:40000", "10.9.9.9:5222", T0);
        packets.extend(quiet.handshake());
        let mut session = conv("10.9.0.2:40000", "10.9.9.9:5222", T0);
        packets.extend(session.handshake());
        packets.extend(session.send(true, client_header("example.org").as_bytes()));
        for n in 0..95 {
            let mut web = conv(&format!("10.8.0.{}:41000", n + 1), "10.9.9.8:80", T0);
            packets.extend(web.handshake());
            packets.extend(web.send(true, b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"));
        }
        let mut later = conv("10.9.0.3:40000", "10.9.9.8:80", T0 + 40 * SEC);
        packets.extend(later.handshake());
        let mut config = Config::default();
        config.limits.max_flows = 100;
        let (events, summary) = common::run_bytes(
            xmppdump::synth::write_pcapng(Vec::new(), &packets).unwrap(),
            config,
        );
        assert_eq!(summary.emergencies, 1, "{summary:?}");
        assert_eq!(summary.evicted_flows, 0);
        let ends: Vec<(u32, EndReason)> = events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::FlowEnd { reason, .. } => Some((e.flow.0, reason)),
                _ => None,
            })
            .collect();
        // Flow 1 sent nothing: ended by the emergency sweep. Flow 2 is a session:
        // still open when the capture ends.
        assert_eq!(ends, vec![(1, EndReason::Idle), (2, EndReason::CaptureEnd)]);
    }
}
