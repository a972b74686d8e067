//! The student view: transcripts and sequence diagrams of the bundled captures and of
//! the classic course session (open, authenticate, bind, presence, roster, message,
//! unavailable, close), as snapshots, plus the properties each format must have.

mod common;

use common::{config_for, course_session, CAPTURES};
use std::io::Cursor;
use xmppdump::capture::Reader;
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::story::diagram::Diagram;
use xmppdump::story::pretty::Show;
use xmppdump::story::transcript::{render, Style};
use xmppdump::story::{Dialogue, Recorder};

fn dialogues_of(bytes: Vec<u8>, mut config: Config) -> Vec<Dialogue> {
    config.keep_xml = true;
    let mut reader = Reader::new(Cursor::new(bytes)).unwrap();
    let mut recorder = Recorder::new();
    Pipeline::new(config)
        .run(&mut reader, &mut recorder)
        .unwrap();
    recorder.into_dialogues()
}

fn capture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(common::capture_path(name)).unwrap()
}

/// Checks an SVG is well-formed XML with one arrow per diagram arrow.
fn check_svg(svg: &str, arrows: usize) {
    let mut reader = quick_xml::Reader::from_str(svg);
    reader.config_mut().check_end_names = true;
    let mut lines = 0;
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Empty(e) | quick_xml::events::Event::Start(e)
                if e.name().as_ref() == "line"
                    && e.try_get_attribute("class")
                        .unwrap()
                        .is_some_and(|a| a.value.as_ref() == "arrow") =>
            {
                lines += 1;
            }
            _ => {}
        }
    }
    assert_eq!(lines, arrows);
}

fn all_views(name: &str, dialogues: &[Dialogue]) {
    let plain = Style::default();
    let explained = Style {
        explain: true,
        ..Style::default()
    };
    let text: String = dialogues.iter().map(|d| render(d, plain) + "\n").collect();
    insta::assert_snapshot!(format!("{name}.transcript"), text);
    let text: String = dialogues
        .iter()
        .map(|d| render(d, explained) + "\n")
        .collect();
    insta::assert_snapshot!(format!("{name}.transcript.explain"), text);
    let diagram = Diagram::build(dialogues);
    insta::assert_snapshot!(format!("{name}.mermaid"), diagram.mermaid());
    insta::assert_snapshot!(format!("{name}.plantuml"), diagram.plantuml());
    let svg = diagram.svg();
    check_svg(&svg, diagram.arrows.len());
    insta::assert_snapshot!(format!("{name}.svg"), svg);
}

#[test]
fn snapshots_of_every_capture() {
    for name in CAPTURES {
        let dialogues = dialogues_of(capture_bytes(name), config_for(name));
        all_views(name, &dialogues);
    }
}

#[test]
fn the_course_session_reads_like_the_textbook() {
    let dialogues = dialogues_of(course_session(), Config::default());
    assert_eq!(dialogues.len(), 1);
    let d = &dialogues[0];
    assert_eq!(
        d.parties(),
        (
            "juliet@example.org/balcony".to_string(),
            "example.org".to_string()
        )
    );
    let text = render(
        d,
        Style {
            explain: true,
            ..Style::default()
        },
    );
    // Phases in the order of RFC 6120 §9.
    let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("── ")).collect();
    assert_eq!(
        headings,
        [
            "── stream open (RFC 6120 §4.7) ──",
            "── SASL PLAIN, success (RFC 6120 §6) ──",
            "── stream restart (RFC 6120 §4.3.3) ──",
            "── resource binding (RFC 6120 §7) ──",
            "── stanzas (RFC 6120 §8, RFC 6121) ──",
            "── stream close (RFC 6120 §4.4) ──",
        ]
    );
    // The password never shows; the message text does, indented under its element.
    assert!(!text.contains("AGp1bGlldAByMG0zMA=="));
    assert!(text.contains("[redacted, 20 bytes]"));
    assert!(text.contains("  <body>Art thou not Romeo, and a Montague?</body>"));
    assert!(text.contains("The client fetches its roster — RFC 6121 §2.2."));
    assert!(text.contains("The sender goes offline — RFC 6121 §4.5."));
    assert!(!text.contains('\x1b'), "no colour unless asked");
    let secrets = render(
        d,
        Style {
            show: Show {
                secrets: true,
                full: true,
            },
            ..Style::default()
        },
    );
    assert!(secrets.contains("AGp1bGlldAByMG0zMA=="));
    let diagram = Diagram::build(&dialogues);
    let labels: Vec<&str> = diagram.arrows.iter().map(|a| a.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "<stream:stream>",
            "<stream:stream>",
            "features: SASL PLAIN",
            "auth PLAIN",
            "success",
            "<stream:stream> (restart)",
            "<stream:stream> (restart)",
            "features: bind",
            "iq set bind",
            "iq result bind",
            "presence",
            "iq get roster",
            "iq result roster",
            "presence away",
            "message chat",
            "message chat",
            "presence unavailable",
            "</stream:stream>",
            "</stream:stream>",
        ]
    );
    all_views("course", &dialogues);
}

#[test]
fn several_flows_share_lifelines_in_time_order() {
    // xmpptrace: components and servers talking over several connections.
    let name = "xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap";
    let dialogues = dialogues_of(capture_bytes(name), config_for(name));
    assert!(dialogues.len() > 1);
    let diagram = Diagram::build(&dialogues);
    assert!(diagram.arrows.windows(2).all(|w| w[0].time <= w[1].time));
    let names: std::collections::BTreeSet<&String> = diagram.participants.iter().collect();
    assert_eq!(
        names.len(),
        diagram.participants.len(),
        "each party drawn once"
    );
    assert!(
        diagram.participants.len() < 2 * dialogues.len(),
        "{:?}",
        diagram.participants
    );
}

/// Installs the browser tools (Mermaid, playwright-core) from the lock file if needed.
fn browser_tools() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/browser");
    if !dir.join("node_modules/mermaid").exists() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm (Node.js) installs the browser tools; .ci/setup installs it");
        assert!(status.success(), "npm ci in {}", dir.display());
    }
    dir
}

#[test]
fn mermaid_parses_and_renders_every_diagram_in_headless_chromium() {
    let tools = browser_tools();
    let dir = std::env::temp_dir().join(format!("xmppdump-mermaid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut expected = Vec::new();
    let mut inputs: Vec<(String, Vec<Dialogue>)> = CAPTURES
        .iter()
        .map(|name| {
            (
                name.to_string(),
                dialogues_of(capture_bytes(name), config_for(name)),
            )
        })
        .collect();
    inputs.push((
        "course".into(),
        dialogues_of(course_session(), Config::default()),
    ));
    for (name, dialogues) in &inputs {
        let diagram = Diagram::build(dialogues);
        let path = dir.join(format!("{name}.mmd"));
        std::fs::write(&path, diagram.mermaid()).unwrap();
        expected.push(format!(
            "ok {} messages={}",
            path.display(),
            diagram.arrows.len()
        ));
    }
    let mut args = vec![tools.join("mermaid_check.mjs").display().to_string()];
    args.extend(
        inputs
            .iter()
            .map(|(n, _)| dir.join(format!("{n}.mmd")).display().to_string()),
    );
    let out = std::process::Command::new("node")
        .args(&args)
        .output()
        .expect("node runs the Mermaid check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_diagram_in_the_readme_is_current() {
    let name = "prosody_starttls.pcap";
    let diagram = Diagram::build(&dialogues_of(capture_bytes(name), config_for(name)));
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/prosody-session.svg"
    ))
    .unwrap();
    assert_eq!(
        committed,
        diagram.svg(),
        "regenerate docs/prosody-session.svg"
    );
}

#[test]
fn an_anomaly_about_an_element_does_not_split_it_from_its_meaning() {
    use xmppdump::model::Timestamp;
    use xmppdump::synth::{Conversation, Link};
    // A root that is not <stream:stream> (anomaly first, then the header event), and a
    // message with an invalid address (message event first, then the anomaly).
    let mut c = Conversation::new(
        "192.0.2.10:50000".parse().unwrap(),
        "192.0.2.1:5222".parse().unwrap(),
        Link::Ethernet,
        Timestamp(1_700_000_000_000_000_000),
    );
    let mut packets = c.handshake();
    packets.extend(c.send(true, b"<stream xmlns='jabber:client' to='example.org'>"));
    packets.extend(c.send(
        true,
        b"<message to='a@@b' type='chat'><body>x</body></message>",
    ));
    packets.extend(c.close());
    let bytes = xmppdump::synth::write_pcapng(Vec::new(), &packets).unwrap();
    let dialogues = dialogues_of(bytes, Config::default());
    let text = render(&dialogues[0], Style::default());
    assert!(text.contains("!! missing_stream_header"), "{text}");
    assert!(text.contains("!! invalid_jid"), "{text}");
    // Each element shows once, as XML; no event is left over as a bracketed line.
    assert!(!text.contains("[stream open"), "{text}");
    assert!(!text.contains("[message"), "{text}");
    assert_eq!(text.matches("<message to='a@@b'").count(), 1, "{text}");
}

/// Direct TLS without its key log shows no stream header; the dialogue still names the
/// stream kind the client asked for with ALPN (`xmpp-client`, XEP-0368 §4), as the
/// statistics do. With the key log the header tells the same.
#[test]
fn undecrypted_direct_tls_is_c2s_by_its_alpn_protocol() {
    use xmppdump::model::StreamKind;
    let name = "prosody_directtls.pcap";
    let opaque = dialogues_of(capture_bytes(name), Config::default());
    assert_eq!(opaque.len(), 1);
    assert_eq!(opaque[0].stream_kind(), StreamKind::C2s);
    let decrypted = dialogues_of(capture_bytes(name), config_for(name));
    assert_eq!(decrypted[0].stream_kind(), StreamKind::C2s);
    // Flows with neither a stream header nor an ALPN offer (the nDPI capture's 5223
    // flows, which do not even start with TLS) stay unknown.
    let ndpi = dialogues_of(capture_bytes("ndpi_jabber.pcap"), Config::default());
    assert!(ndpi.iter().any(|d| d.stream_kind() == StreamKind::Unknown));
}

/// `--explain` tells how each transport opens, restarts and closes the stream: over
/// WebSocket with `<open/>`/`<close/>` (RFC 7395), over BOSH with the session's
/// `<body/>` wrappers (XEP-0124, XEP-0206), over TCP with `<stream:stream>` (RFC 6120).
#[test]
fn explanations_follow_the_transport() {
    let explained = Style {
        explain: true,
        ..Style::default()
    };
    let text = |name: &str| -> String {
        dialogues_of(capture_bytes(name), config_for(name))
            .iter()
            .map(|d| render(d, explained))
            .collect()
    };
    // In the clear the flow was found by BOSH; inside TLS (https://) its framing
    // bytes without a WebSocket upgrade tell it.
    for name in ["prosody_bosh.pcap", "prosody_bosh_https.pcap"] {
        let bosh = text(name);
        assert!(bosh.contains("asks for a BOSH session") && bosh.contains("XEP-0124 §7.1"));
        assert!(bosh.contains("xmpp:restart='true'") && bosh.contains("type='terminate'"));
        assert!(!bosh.contains("RFC 6120 §4.7."), "{bosh}");
    }
    for name in ["prosody_websocket.pcap", "prosody_wss.pcap"] {
        let ws = text(name);
        assert!(ws.contains("with an <open/> element") && ws.contains("with <close/>"));
        assert!(!ws.contains("RFC 6120 §4.7."), "{ws}");
    }
    let tcp = text("prosody_starttls.pcap");
    assert!(tcp.contains("opens its XML stream") && !tcp.contains("<open/>"));
}
