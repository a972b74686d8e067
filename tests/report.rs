//! `xmppdump report`: one self-contained HTML file, opened in headless Chromium (Debian's
//! chromium, every network request refused) as a reader would: no console error, the
//! charts and diagrams are there, and a collapsed transcript opens on click. Screenshots
//! are saved under target/ci-artifacts/.

mod common;

use common::{capture_path, course_session};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the binary; returns (exit code, stderr).
fn xmppdump(args: &[&str]) -> (i32, String) {
    let (code, _, err) = common::xmppdump(args);
    (code, err)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xmppdump-report-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn browser_tools() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm (Node.js) installs the browser tools; .ci/setup installs it");
        assert!(status.success());
    }
    dir
}

/// What the page showed, from tests/tools/browser/report_check.mjs.
fn open_in_chromium(report: &Path, name: &str) -> serde_json::Value {
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join(format!("report-{name}.png"));
    let out = Command::new("node")
        .arg(browser_tools().join("report_check.mjs"))
        .arg(report)
        .arg(&screenshot)
        .output()
        .expect("node runs the report check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Sessions and the first session's arrows, as the library draws them.
fn expected(capture: &str, keylog: Option<&str>) -> (u64, u64) {
    let mut config = xmppdump::pipeline::Config {
        keep_xml: true,
        ..Default::default()
    };
    if let Some(k) = keylog {
        config.keys = Some(std::sync::Arc::new(
            xmppdump::transport::tls::KeyStore::open(Path::new(k)).unwrap(),
        ));
    }
    let mut reader = xmppdump::capture::Reader::new(std::fs::File::open(capture).unwrap()).unwrap();
    let mut recorder = xmppdump::story::Recorder::new();
    xmppdump::pipeline::Pipeline::new(config)
        .run(&mut reader, &mut recorder)
        .unwrap();
    let dialogues = recorder.into_dialogues();
    let first = xmppdump::story::diagram::Diagram::build(&dialogues[..1]);
    (dialogues.len() as u64, first.arrows.len() as u64)
}

fn check_report(name: &str, capture: &str, keylog: Option<&str>) {
    let (sessions, first_arrows) = expected(capture, keylog);
    let extra: Vec<&str> = keylog.map(|k| vec!["--keylog", k]).unwrap_or_default();
    let dir = scratch(name);
    let html = dir.join("report.html");
    let charts = dir.join("charts");
    let mut args = vec![
        "report",
        capture,
        "-o",
        html.to_str().unwrap(),
        "--charts",
        charts.to_str().unwrap(),
    ];
    args.extend_from_slice(&extra);
    let (code, err) = xmppdump(&args);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&html).unwrap();
    // Self-contained: no script, nothing fetched.
    assert!(!text.contains("<script"));
    for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!text.contains(external), "{external}");
    }
    // Each chart file is well-formed SVG and is the one embedded in the page.
    let mut files: Vec<String> = std::fs::read_dir(&charts)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "extensions.svg",
            "iq-latency.svg",
            "messages-over-time.svg",
            "presence-overhead.svg",
            "stanza-mix.svg"
        ]
    );
    for file in &files {
        let svg = std::fs::read_to_string(charts.join(file)).unwrap();
        let mut reader = quick_xml::Reader::from_str(&svg);
        reader.config_mut().check_end_names = true;
        while !matches!(reader.read_event().unwrap(), quick_xml::events::Event::Eof) {}
        assert!(text.contains(svg.trim_end()), "{file} is in the page");
    }
    let page = open_in_chromium(&html, name);
    assert_eq!(page["consoleErrors"], serde_json::json!([]), "{page}");
    assert_eq!(page["requestsOutside"], serde_json::json!([]), "{page}");
    assert_eq!(page["scripts"], 0);
    assert_eq!(page["charts"], 5, "{page}");
    assert!(page["chartBars"].as_u64().unwrap() >= 4, "{page}");
    assert_eq!(page["sessions"], sessions, "{page}");
    assert_eq!(page["openBefore"], false);
    assert_eq!(page["transcriptVisibleBefore"], false);
    assert_eq!(page["openAfter"], true);
    assert_eq!(page["transcriptVisibleAfter"], true);
    assert!(page["transcriptLines"].as_u64().unwrap() > 10, "{page}");
    assert_eq!(page["diagramArrows"], first_arrows, "{page}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_course_session_report() {
    let dir = scratch("course-input");
    let pcap = dir.join("course.pcapng");
    std::fs::write(&pcap, course_session()).unwrap();
    assert_eq!(expected(pcap.to_str().unwrap(), None), (1, 19));
    check_report("course", pcap.to_str().unwrap(), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_decrypted_starttls_session_report() {
    let keylog = capture_path("prosody_starttls.keylog");
    let pcap = capture_path("prosody_starttls.pcap");
    // Decrypted: 34 arrows; without the key log 7 (headers, features, STARTTLS, hellos).
    assert_eq!(expected(&pcap, Some(&keylog)), (1, 34));
    assert_eq!(expected(&pcap, None), (1, 7));
    check_report("prosody", &pcap, Some(&keylog));
}

#[test]
fn a_capture_with_many_connections() {
    // 13 XMPP connections: components on 7400 and c2s on 5222.
    let pcap = capture_path("xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap");
    assert_eq!(expected(&pcap, None).0, 13);
    check_report("xmpptrace", &pcap, None);
}

#[test]
fn report_errors_are_one_line_and_exit_2() {
    let (code, err) = xmppdump(&["report", "/nonexistent.pcap", "-o", "/tmp/x.html"]);
    assert_eq!(code, 2);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (code, err) = xmppdump(&[
        "report",
        &capture_path("ndpi_jabber.pcap"),
        "-o",
        "/nonexistent-dir/report.html",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot write"), "{err}");
}

#[test]
fn chart_snapshots() {
    for name in [
        "xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap",
        "ndpi_jabber.pcap",
    ] {
        let mut reader =
            xmppdump::capture::Reader::new(std::fs::File::open(capture_path(name)).unwrap())
                .unwrap();
        let mut collector = xmppdump::analysis::Collector::new(name);
        xmppdump::pipeline::Pipeline::new(Default::default())
            .run(&mut reader, &mut collector)
            .unwrap();
        for chart in xmppdump::report::charts(&collector.into_stats()) {
            insta::assert_snapshot!(format!("{name}.{}", chart.file), chart.svg);
        }
    }
}
