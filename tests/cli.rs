//! The binary on bad input: one clear line on stderr and exit code 2, never a panic.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xmppdump"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn capture(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn missing_file() {
    let (code, _, err) = run(&["-r", "/nonexistent/x.pcap"], b"");
    assert_eq!(code, 2);
    assert!(
        err.starts_with("xmppdump: cannot open /nonexistent/x.pcap"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn empty_input() {
    let (code, _, err) = run(&["-r", "-"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("empty file"), "{err}");
}

#[test]
fn random_bytes() {
    let (code, _, err) = run(&["-r", "-"], b"\x13\x37garbage that is no capture at all");
    assert_eq!(code, 2);
    assert!(
        err.contains("not a pcap or pcapng file (starts with 0x13376761)"),
        "{err}"
    );
}

#[test]
fn truncated_pcap_reports_events_then_fails() {
    let bytes = std::fs::read(capture("zeek_xmpp-starttls.pcap")).unwrap();
    let cut = &bytes[..bytes.len() - 10];
    let (code, out, err) = run(&["-r", "-"], cut);
    assert_eq!(code, 2);
    assert!(
        err.contains("truncated capture: file ends inside a record after frame 33"),
        "{err}"
    );
    assert!(
        out.contains("starttls"),
        "events before the cut are still reported"
    );
}

#[test]
fn truncated_header() {
    let bytes = std::fs::read(capture("zeek_xmpp-starttls.pcap")).unwrap();
    let (code, _, err) = run(&["-r", "-"], &bytes[..12]);
    assert_eq!(code, 2);
    assert!(err.contains("truncated capture"), "{err}");
}

#[test]
fn unknown_link_type() {
    // pcap header, little endian, µs, link type 147 (USER0).
    let mut header = Vec::new();
    header.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&65535u32.to_le_bytes());
    header.extend_from_slice(&147u32.to_le_bytes());
    let (code, _, err) = run(&["-r", "-"], &header);
    assert_eq!(code, 2);
    assert!(err.contains("unsupported link type 147"), "{err}");
}

#[test]
fn reads_standard_input_like_a_file() {
    let bytes = std::fs::read(capture("zeek_xmpp-starttls.pcap")).unwrap();
    let (code, from_stdin, _) = run(&["-r", "-", "--json"], &bytes);
    assert_eq!(code, 0);
    let (_, from_file, _) = run(&["-r", &capture("zeek_xmpp-starttls.pcap"), "--json"], b"");
    assert_eq!(from_stdin, from_file);
    assert!(from_stdin
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
}
