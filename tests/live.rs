//! Live capture with libpcap on loopback while a real server (prosody, from Debian's
//! packages) and a real client library (slixmpp, from PyPI) talk. Needs root, the
//! `live` feature, prosody and slixmpp: `.ci/run` installs them and runs
//! `cargo test --features live --test live`.
#![cfg(feature = "live")]

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PORT: u16 = 15222;

struct Prosody {
    child: Child,
}

impl Drop for Prosody {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts prosody on 127.0.0.1:PORT only, with users juliet and romeo.
fn prosody(dir: &Path) -> Prosody {
    prosody_on(dir, PORT)
}

/// [`prosody`] on another port (tests run at once must not see each other's
/// sessions).
fn prosody_on(dir: &Path, port: u16) -> Prosody {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("prosody.cfg.lua");
    let d = dir.display();
    std::fs::write(
        &config,
        format!(
            "pidfile = \"{d}/prosody.pid\"\ndata_path = \"{d}/data\"\nrun_as_root = true\n\
             interfaces = {{ \"127.0.0.1\" }}\nc2s_ports = {{ {port} }}\ns2s_ports = {{ }}\n\
             http_ports = {{ }}\nhttps_ports = {{ }}\nc2s_require_encryption = false\n\
             allow_unencrypted_plain_auth = true\nauthentication = \"internal_plain\"\n\
             modules_enabled = {{ \"roster\", \"saslauth\", \"disco\", \"ping\", \"posix\" }}\n\
             log = {{ info = \"{d}/prosody.log\" }}\nVirtualHost \"localhost\"\n"
        ),
    )
    .unwrap();
    for user in ["juliet", "romeo"] {
        let status = Command::new("prosodyctl")
            .args([
                "--config",
                config.to_str().unwrap(),
                "register",
                user,
                "localhost",
                "secret",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("prosodyctl (Debian package prosody)");
        assert!(status.success());
    }
    let child = Command::new("prosody")
        .args(["--config", config.to_str().unwrap(), "-F"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prosody (Debian package prosody)");
    wait_for_port(port, "prosody");
    Prosody { child }
}

/// Waits (at most 20 s) until something listens on 127.0.0.1:`port`.
fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what} did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn xmppdump_live(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_xmppdump"))
        .args([
            "-i",
            "lo",
            "-f",
            &format!("tcp port {PORT}"),
            "--port",
            &PORT.to_string(),
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn live_events_equal_the_replayed_capture_and_ctrl_c_ends_cleanly() {
    let dir = std::env::temp_dir().join(format!("xmppdump-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let _server = prosody(&dir);
    let written = dir.join("live.pcapng");
    let written = written.to_str().unwrap();
    // Two captures at once: NDJSON with a copy of the packets, and text with --stats.
    let json = xmppdump_live(&["--json", "-w", written]);
    let text = xmppdump_live(&["--stats"]);
    std::thread::sleep(Duration::from_millis(1500)); // both capturing
    let client = Command::new("python3")
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/live_client.py"),
            &PORT.to_string(),
        ])
        .output()
        .expect("python3 with slixmpp");
    assert!(
        client.status.success(),
        "client: {}",
        String::from_utf8_lossy(&client.stderr)
    );
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&json);
    interrupt(&text);
    let json = json.wait_with_output().unwrap();
    let text = text.wait_with_output().unwrap();
    assert_eq!(
        json.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    assert_eq!(
        text.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );

    // What was seen live is what the written capture gives afterwards.
    let live = String::from_utf8(json.stdout).unwrap();
    let replay = Command::new(env!("CARGO_BIN_EXE_xmppdump"))
        .args(["-r", written, "--json", "--port", &PORT.to_string()])
        .output()
        .unwrap();
    assert!(replay.status.success());
    assert_eq!(live, String::from_utf8(replay.stdout).unwrap());

    // The login, roster and messages the client sent.
    let has = |needle: &str| live.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(has("\"event\":\"sasl_auth\""), 1);
    assert_eq!(has("\"username\":\"juliet\""), 1);
    assert_eq!(has("\"event\":\"sasl_success\""), 1);
    assert_eq!(has("\"bound_jid\":\"juliet@localhost/balcony\""), 1);
    assert_eq!(
        has("\"payload\":\"jabber:iq:roster\""),
        2,
        "roster get and result"
    );
    assert_eq!(has("\"event\":\"message\",\"type\":\"chat\""), 3);
    assert!(has("\"event\":\"presence\"") >= 1);

    // Ctrl-C: the statistics and the kernel's counts still come out.
    let text_out = String::from_utf8(text.stdout).unwrap();
    assert!(text_out.contains("summary:"), "{text_out}");
    assert!(
        text_out.contains("Presence overhead and redundancy"),
        "{text_out}"
    );
    let text_err = String::from_utf8(text.stderr).unwrap();
    assert!(
        text_err.contains("packets captured") && text_err.contains("dropped by kernel"),
        "{text_err}"
    );
    // The -w file is a valid capture (tshark reads it too).
    let tshark = Command::new("tshark")
        .args(["-r", written])
        .output()
        .unwrap();
    assert!(tshark.status.success());
    assert!(String::from_utf8_lossy(&tshark.stdout).lines().count() >= 20);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn live_errors_exit_2_with_one_line() {
    for (args, message) in [
        (
            vec!["-i", "nosuchif0", "-c", "1"],
            "cannot capture on nosuchif0",
        ),
        (
            vec!["-i", "lo", "-f", "tcp port", "-c", "1"],
            "bad capture filter \"tcp port\"",
        ),
        (
            vec!["-i", "lo", "-j", "2", "-c", "1"],
            "-j works on capture files",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_xmppdump"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// Runs a capture script of `captures/make/` into a fresh directory and reads what it
/// wrote.
fn fresh_capture(script: &str, port: u16, written: &str) -> (Vec<xmppdump::model::Event>, u64) {
    fresh_capture_with(script, port, &[], written, None, false)
}

/// [`fresh_capture`] with more arguments for the script, and the key log it wrote.
fn fresh_capture_with(
    script: &str,
    port: u16,
    args: &[&str],
    written: &str,
    keylog: Option<&str>,
    direct_tls_port: bool,
) -> (Vec<xmppdump::model::Event>, u64) {
    let dir = std::env::temp_dir().join(format!("xmppdump-{written}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!("{}/captures/make/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(script)
        .arg(&dir)
        .args(args)
        .env("PORT", port.to_string())
        // A script that relays to a server of its own (ws-deflate.sh) runs it here.
        .env("UPSTREAM", port.saturating_sub(10).to_string())
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(dir.join(written)).unwrap();
    let mut config = xmppdump::pipeline::Config::default();
    if let Some(keylog) = keylog {
        let store = xmppdump::transport::tls::KeyStore::open(&dir.join(keylog)).unwrap();
        config.keys = Some(std::sync::Arc::new(store));
    }
    if direct_tls_port {
        // The test's own HTTPS port is direct TLS here too.
        config.ports.push(port);
        config.direct_tls_ports.push(port);
    }
    let (events, summary) = common::run_bytes(bytes, config);
    std::fs::remove_dir_all(&dir).unwrap();
    (events, summary.xmpp_flows)
}

/// A SASL2 session made afresh with the real server (prosody with Debian's
/// prosody-modules) by the script that made `captures/prosody_sasl2.pcap`: the same
/// facts hold with this run's ids, nonces and times.
#[test]
fn a_fresh_sasl2_session_from_prosody_reads_like_the_bundled_one() {
    let (events, flows) = fresh_capture("prosody-sasl2.sh", 5222, "prosody_sasl2.pcap");
    assert_eq!(flows, 3);
    common::assert_sasl2_session(&events);
}

/// XMPP over WebSocket made afresh by a real client library (xmpp.js on Node.js) and
/// prosody's mod_websocket, as `captures/prosody_websocket.pcap` was.
#[test]
fn a_fresh_websocket_session_from_xmppjs_reads_like_the_bundled_one() {
    // Its own port: the live tests run at the same time.
    let (events, flows) = fresh_capture("prosody-websocket.sh", 5280, "prosody_websocket.pcap");
    assert_eq!(flows, 1);
    common::assert_websocket_session(&events, false);
}

/// permessage-deflate (RFC 7692) made afresh as `captures/ws_deflate*.pcap` were:
/// xmpp.js on Node's `ws` through a `ws` server that accepts the extension, relaying
/// to prosody; with and without context takeover. Every message is compressed, so
/// all XML is inflated, none skipped, and the client's stanzas are all there.
#[test]
fn fresh_permessage_deflate_sessions_from_xmppjs_are_inflated() {
    use xmppdump::model::EventKind;
    for (mode, port) in [("", 15290), ("nctx", 15291)] {
        let written = if mode.is_empty() {
            "ws_deflate.pcap".to_owned()
        } else {
            format!("ws_deflate_{mode}.pcap")
        };
        let args: Vec<&str> = [mode].into_iter().filter(|m| !m.is_empty()).collect();
        let (events, flows) =
            fresh_capture_with("ws-deflate.sh", port, &args, &written, None, false);
        assert_eq!(flows, 1, "{mode}");
        let anomalies: Vec<_> = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Anomaly { .. }))
            .collect();
        assert!(anomalies.is_empty(), "{mode}: {anomalies:#?}");
        assert!(events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Message(s) if s.id() == Some("ws1"))));
        let (c2s, s2c) = common::flow_end(&events);
        for b in [c2s, s2c] {
            assert!(b.is_balanced(), "{b:?}");
            assert_eq!(b.inflated, b.xml + b.whitespace, "{mode}: {b:?}");
            assert!(
                b.compressed > 0 && b.compressed < b.inflated,
                "{mode}: {b:?}"
            );
            assert_eq!(b.skipped + b.unfinished, 0, "{mode}: {b:?}");
        }
    }
}

/// The same over TLS (wss://), decrypted with the key log Node.js writes.
#[test]
fn a_fresh_wss_session_from_xmppjs_is_decrypted_with_its_key_log() {
    let (events, flows) = fresh_capture_with(
        "prosody-websocket.sh",
        15281,
        &["wss"],
        "prosody_wss.pcap",
        Some("prosody_wss.keylog"),
        true,
    );
    assert_eq!(flows, 2, "the wss connection and the page's");
    common::assert_websocket_session(&events, true);
}

/// XMPP over direct TLS made afresh as `captures/prosody_directtls.pcap` was (slixmpp
/// offering ALPN `xmpp-client`, prosody's c2s_direct_tls_ports), on a port xmppdump
/// is not told about: the ALPN protocol alone makes it XMPP.
#[test]
fn a_fresh_direct_tls_session_is_found_by_its_alpn_protocol() {
    let (events, flows) = fresh_capture_with(
        "prosody-directtls.sh",
        15443,
        &[],
        "prosody_directtls.pcap",
        Some("prosody_directtls.keylog"),
        false,
    );
    assert_eq!(flows, 1);
    common::assert_directtls_session(&events);
}

/// XMPP over BOSH made afresh with prosody's mod_bosh, as `captures/prosody_bosh.pcap`
/// was.
#[test]
fn a_fresh_bosh_session_from_prosody_reads_like_the_bundled_one() {
    let (events, flows) = fresh_capture("prosody-bosh.sh", 15280, "prosody_bosh.pcap");
    assert_eq!(flows, 1);
    common::assert_bosh_session(&events, false);
}

/// The same over https://, made afresh with its key log.
#[test]
fn a_fresh_bosh_https_session_is_decrypted_with_its_key_log() {
    let (events, flows) = fresh_capture_with(
        "prosody-bosh.sh",
        15282,
        &["https"],
        "prosody_bosh_https.pcap",
        Some("prosody_bosh_https.keylog"),
        true,
    );
    assert_eq!(flows, 1);
    common::assert_bosh_session(&events, true);
}

/// A busy loopback: the capture filter widened to a web port while 2,000 web requests
/// (Python's http.server and http.client, each on its own connection) run beside the
/// XMPP session, with a flow table of 500 entries. The web connections become passed
/// entries and are evicted to make room; the session is read completely and nothing
/// is refused.
#[test]
fn a_widened_live_capture_keeps_the_xmpp_session_among_web_traffic() {
    const WEB: u16 = 18080;
    let dir = std::env::temp_dir().join(format!("xmppdump-busy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    const XMPP: u16 = 15232;
    let _server = prosody_on(&dir, XMPP);
    let mut web = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", &WEB.to_string()])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    wait_for_port(WEB, "the web server");
    let dump = Command::new(env!("CARGO_BIN_EXE_xmppdump"))
        // Widened to the web port too (not all of loopback: the other live tests
        // run at the same time on their own ports).
        .args([
            "-i",
            "lo",
            "-f",
            &format!("tcp port {XMPP} or tcp port {WEB}"),
        ])
        .args(["--port", &XMPP.to_string()])
        .args(["--json", "--max-flows", "500"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let requests = format!(
        "import http.client\nfor i in range(2000):\n    c = http.client.HTTPConnection('127.0.0.1', {WEB})\n    c.request('GET', '/')\n    c.getresponse().read()\n    c.close()\n"
    );
    let background = Command::new("python3")
        .args(["-c", &requests])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = Command::new("python3")
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/live_client.py"),
            &XMPP.to_string(),
        ])
        .output()
        .expect("python3 with slixmpp");
    let background = background.wait_with_output().unwrap();
    let _ = web.kill();
    let _ = web.wait();
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert!(
        background.status.success(),
        "{}",
        String::from_utf8_lossy(&background.stderr)
    );
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&dump);
    let dump = dump.wait_with_output().unwrap();
    assert_eq!(
        dump.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let out = String::from_utf8(dump.stdout).unwrap();
    let has = |needle: &str| out.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(has("\"event\":\"sasl_success\""), 1);
    assert_eq!(has("\"event\":\"message\",\"type\":\"chat\""), 3);
    assert_eq!(has("\"anomaly\":\"flow_limit\""), 0);
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(summary["tcp_flows"].as_u64().unwrap() >= 2001, "{summary}");
    assert_eq!(summary["xmpp_flows"], 1, "{summary}");
    assert!(summary["evicted_flows"].as_u64().unwrap() > 0, "{summary}");
    let _ = std::fs::remove_dir_all(&dir);
}
