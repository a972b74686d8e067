//! One test per fault found by fuzzing (docs/fuzzing.md), named for what it caught.
//! Each input is the crashing file as the fuzzer wrote it, under tests/regression/.

use std::process::Command;

fn input(name: &str) -> String {
    format!("{}/tests/regression/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs the test build (overflow checks on, as in the fuzzer) on a file.
fn xmppdump_read(file: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xmppdump"))
        .args(["-r", file])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// fuzz target `capture`, 2026-11-25: a pcapng block whose total length (4) is below
/// the 12 bytes of its own header and trailer made pcap-parser 0.17 subtract with
/// overflow (a panic with overflow checks; a wrapped length without). The reader now
/// checks each block's length before parsing it.
#[test]
fn pcapng_block_shorter_than_its_header_is_corrupt_not_a_panic() {
    let (code, _, err) = xmppdump_read(&input("pcapng-block-shorter-than-header.pcapng"));
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("corrupt capture") && err.contains("pcapng block of 4 bytes"),
        "{err}"
    );
}
