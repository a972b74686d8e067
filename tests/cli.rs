//! The binary on bad input: one clear line on stderr and exit code 2, never a panic.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xmppdump"))
        .args(args)
        .env_remove("SSLKEYLOGFILE")
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

#[test]
fn closed_stdout_exits_quietly() {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_xmppdump"))
        .args([
            "-r",
            &capture("xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take()); // like `| head -c 16`
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn port_flag_makes_a_port_xmpp_and_secrets_flag_shows_payloads() {
    use xmppdump::model::Timestamp;
    use xmppdump::synth::{write_pcap, Conversation, Link};
    // A connection joined mid-stream on port 6000: no header, so no content detection.
    let mut c = Conversation::new(
        "10.0.0.1:4000".parse().unwrap(),
        "10.0.0.2:6000".parse().unwrap(),
        Link::Raw,
        Timestamp(0),
    );
    let packets = c.send(true, b"<message to='a@b'><body>hi</body></message>");
    let path = std::env::temp_dir().join(format!("xmppdump-port-{}.pcap", std::process::id()));
    std::fs::write(
        &path,
        write_pcap(Vec::new(), &packets, false, false).unwrap(),
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let (_, without, _) = run(&["-r", path], b"");
    assert!(without.contains("0 XMPP flows"), "{without}");
    let (_, with, _) = run(&["-r", path, "--port", "6000"], b"");
    assert!(with.contains("message normal to=a@b body=2B"), "{with}");
    std::fs::remove_file(path).unwrap();

    let file = capture("ndpi_jabber.pcap");
    let (_, redacted, _) = run(&["-r", &file, "--json"], b"");
    assert!(redacted.contains("\"data\":\"REDACTED\""));
    let (_, shown, _) = run(&["-r", &file, "--json", "--show-secrets"], b"");
    assert!(!shown.contains("REDACTED"));
    assert!(shown.contains("\"event\":\"sasl_response\",\"data_len\":276,\"data\":\""));
}

#[test]
fn stats_json_merges_back_to_the_same_tables() {
    let a = capture("ndpi_jabber.pcap");
    let b = capture("xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap");
    let dir = std::env::temp_dir().join(format!("xmppdump-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut jsons = Vec::new();
    for (i, f) in [&a, &b].iter().enumerate() {
        let (code, out, err) = run(&["stats", f, "--format", "json"], b"");
        assert_eq!(code, 0, "{err}");
        let path = dir.join(format!("{i}.json"));
        std::fs::write(&path, out).unwrap();
        jsons.push(path.to_str().unwrap().to_owned());
    }
    let (_, together, _) = run(&["stats", &a, &b, "--format", "markdown"], b"");
    let (code, merged, err) = run(
        &[
            "stats", "--merge", &jsons[0], &jsons[1], "--format", "markdown",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(merged, together);
    assert!(together.contains("| presence share of stanza bytes |"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stats_errors_exit_2() {
    let f = capture("ndpi_jabber.pcap");
    let (code, _, err) = run(&["stats", &f, "--format", "csv"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("--format csv needs --table NAME"), "{err}");
    let (code, _, err) = run(&["stats", &f, "--table", "nope"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("no table named \"nope\""), "{err}");
    let (code, _, err) = run(&["stats", "--merge", &f], b"");
    assert_eq!(code, 2);
    assert!(err.contains("not a stats JSON document"), "{err}");
    let (code, _, err) = run(&[], b"");
    assert_eq!(code, 2);
    assert!(err.contains("nothing to read"), "{err}");
}

#[test]
fn csv_table_and_listing_with_stats() {
    let f = capture("xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap");
    let (code, csv, _) = run(
        &["stats", &f, "--format", "csv", "--table", "presence"],
        b"",
    );
    assert_eq!(code, 0);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "stream,measure,stanzas,bytes,%presence,%stanza,%xmpp"
    );
    // 153 presences in 68,335 bytes (the independent count of
    // xmpptrace_presence_overhead_matches_an_independent_count), none resent.
    assert!(lines.contains(&"all,presence,153,68335,100.0%,92.3%,45.2%"));
    assert!(lines.contains(&"all,resent,0,0,0.0%,0.0%,0.0%"));
    let (code, out, _) = run(&["-r", &f, "--stats"], b"");
    assert_eq!(code, 0);
    let summary = out.find("summary:").unwrap();
    let table = out.find("Presence overhead and redundancy, by").unwrap();
    assert!(summary < table, "tables follow the event listing");
}

#[test]
fn keylog_from_the_flag_or_sslkeylogfile_decrypts_and_a_bad_one_exits_2() {
    let pcap = capture("prosody_starttls.pcap");
    let keylog = capture("prosody_starttls.keylog");
    let (code, flag_out, _) = run(&["-r", &pcap, "--keylog", &keylog], b"");
    assert_eq!(code, 0);
    for expected in [
        "sasl auth mechanism=SCRAM-SHA-1 user=juliet",
        "payload=REDACTED [decrypted]",
        "sasl success [decrypted]",
        "payload=jabber:iq:roster:query",
        "message chat",
        "tls server_hello version=\"TLS 1.3\" suite=TLS_AES_256_GCM_SHA384",
    ] {
        assert!(
            flag_out.contains(expected),
            "missing {expected}:\n{flag_out}"
        );
    }
    assert_eq!(flag_out.matches("message chat").count(), 3);
    // Key material is never printed.
    let secrets = std::fs::read_to_string(&keylog).unwrap();
    for line in secrets.lines().filter(|l| !l.starts_with('#')) {
        let secret = line.split(' ').nth(2).unwrap();
        assert!(!flag_out.contains(secret));
    }
    // SSLKEYLOGFILE is used when no flag is given.
    let env_out = std::process::Command::new(env!("CARGO_BIN_EXE_xmppdump"))
        .args(["-r", &pcap])
        .env("SSLKEYLOGFILE", &keylog)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&env_out.stdout), flag_out);
    // A missing file, or a file that is not a key log: one line, exit 2.
    for bad in ["/nonexistent/keys.log", pcap.as_str()] {
        let (code, out, err) = run(&["-r", &pcap, "--keylog", bad], b"");
        assert_eq!(code, 2, "{bad}");
        assert!(out.is_empty());
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("key log"), "{err}");
    }
}

#[test]
fn show_and_diagram_select_flows_and_write_files() {
    let ndpi = capture("ndpi_jabber.pcap");
    let (code, all, _) = run(&["show", &ndpi], b"");
    assert_eq!(code, 0);
    assert!(all.matches("\nFlow #").count() + 1 >= 7, "{all}");
    let (code, one, _) = run(&["show", &ndpi, "--flow", "2"], b"");
    assert_eq!(code, 0);
    assert!(one.starts_with("Flow #2 "), "{one}");
    assert_eq!(one.matches("Flow #").count(), 1);
    assert!(!one.contains('\x1b'), "no colour in a pipe");
    let (code, by_jid, _) = run(&["show", &ndpi, "--jid", "tom@cs-xmpp.lan"], b"");
    assert_eq!(code, 0);
    assert!(by_jid.contains("tom@cs-xmpp.lan"));
    let (code, _, err) = run(&["show", &ndpi, "--flow", "999"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("no XMPP connection"), "{err}");
    let out = std::env::temp_dir().join(format!("xmppdump-diagram-{}.puml", std::process::id()));
    let (code, printed, _) = run(
        &[
            "diagram",
            &ndpi,
            "--flow",
            "2",
            "--format",
            "plantuml",
            "-o",
            out.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code, 0);
    assert!(printed.is_empty());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("@startuml\n") && text.ends_with("@enduml\n"));
    std::fs::remove_file(&out).unwrap();
    let (code, _, err) = run(&["diagram", "/nonexistent.pcap"], b"");
    assert_eq!(code, 2);
    assert_eq!(err.trim().lines().count(), 1);
}

/// What `command` prints on a terminal (`script`, util-linux, gives it one), with
/// `NO_COLOR` set to `no_color` or unset.
fn on_terminal(command: &str, no_color: Option<&str>) -> String {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", command, "/dev/null"]);
    match no_color {
        Some(v) => cmd.env("NO_COLOR", v),
        None => cmd.env_remove("NO_COLOR"),
    };
    String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
}

#[test]
fn show_colours_a_terminal_unless_no_color() {
    // `script` (util-linux) gives the program a terminal.
    let ndpi = capture("ndpi_jabber.pcap");
    let command = format!("{} show {ndpi} --flow 2", env!("CARGO_BIN_EXE_xmppdump"));
    let on_tty = |no_color: Option<&str>| on_terminal(&command, no_color);
    let coloured = on_tty(None);
    assert!(coloured.contains("\x1b[1mFlow #2"));
    assert!(coloured.contains("\x1b[36m"), "client lines in cyan");
    // (The progress bar on stderr moves the cursor; only colours are checked.)
    let plain = on_tty(Some("1"));
    assert!(plain.contains("Flow #2"));
    for code in ["\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[33m", "\x1b[36m"] {
        assert!(!plain.contains(code), "{code:?} with NO_COLOR");
    }
}

#[test]
fn jobs_flag_gives_the_same_output() {
    let file = capture("xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap");
    for args in [vec!["-r", file.as_str()], vec!["stats", file.as_str()]] {
        let (code, one, _) = run(&args, b"");
        assert_eq!(code, 0);
        let mut with_jobs = args.clone();
        with_jobs.extend(["-j", "2"]);
        let (code, two, _) = run(&with_jobs, b"");
        assert_eq!(code, 0);
        assert_eq!(one, two, "{args:?}");
    }
}

/// The real SASL2 session (captures/prosody_sasl2.pcap) sends PLAIN's password and a
/// SCRAM proof in SASL2 elements: no output shows them unless asked to.
#[test]
fn sasl2_credentials_are_redacted_in_every_output() {
    let file = capture("prosody_sasl2.pcap");
    // base64("\0juliet\0secret"), and the start of SCRAM's client-final message
    // ("c=biws,r=…,p=<proof>").
    let secrets = ["AGp1bGlldABzZWNyZXQ=", "Yz1iaXdzLHI9"];
    let report = std::env::temp_dir().join(format!("xmppdump-sasl2-{}.html", std::process::id()));
    let report = report.to_str().unwrap();
    let runs: [&[&str]; 7] = [
        &["-r", &file],
        &["-r", &file, "--json"],
        &["show", &file],
        &["show", &file, "--full", "--explain"],
        &["diagram", &file, "--format", "mermaid"],
        &["stats", &file, "--format", "json"],
        &["report", &file, "-o", report],
    ];
    for args in runs {
        let (code, out, err) = run(args, b"");
        assert_eq!(code, 0, "{args:?}: {err}");
        let written = std::fs::read_to_string(report).unwrap_or_default();
        for secret in secrets {
            assert!(!out.contains(secret), "{args:?} printed {secret}");
            assert!(!written.contains(secret), "{args:?} wrote {secret}");
        }
    }
    std::fs::remove_file(report).unwrap();
    // Asked for, they are shown.
    let (_, shown, _) = run(&["-r", &file, "--json", "--show-secrets"], b"");
    assert!(secrets.iter().all(|s| shown.contains(s)), "{shown}");
    let (_, shown, _) = run(&["show", &file, "--full", "--show-secrets"], b"");
    assert!(shown.contains(secrets[0]), "{shown}");
}

#[test]
fn quiet_flow_completions_and_man_page() {
    let f = capture("prosody_sasl2.pcap");
    let (code, out, _) = run(&["-r", &f, "-q"], b"");
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1);
    assert!(out.starts_with("summary: 63 packets"), "{out}");
    let (code, out, _) = run(&["-r", &f, "--flow", "2", "--flow", "3"], b"");
    assert_eq!(code, 0);
    let flows: std::collections::BTreeSet<&str> = out
        .lines()
        .filter(|l| !l.starts_with("summary"))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(flows.into_iter().collect::<Vec<_>>(), ["#2", "#3"]);
    let (code, out, _) = run(&["-r", &f, "--flow", "2", "-Y", "event == presence"], b"");
    assert_eq!(code, 0);
    assert_eq!(out.lines().filter(|l| l.contains(" presence ")).count(), 2);
    assert_eq!(out.lines().count(), 3);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (code, out, _) = run(&["completions", shell], b"");
        assert_eq!(code, 0, "{shell}");
        assert!(
            out.contains("xmppdump") && out.contains("display-filter"),
            "{shell}"
        );
    }
    let (_, bash, _) = run(&["completions", "bash"], b"");
    let script =
        std::env::temp_dir().join(format!("xmppdump-completion-{}.bash", std::process::id()));
    std::fs::write(&script, bash).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    std::fs::remove_file(&script).unwrap();
    assert!(syntax.success(), "the bash completion script parses");
    let (code, out, _) = run(&["man"], b"");
    assert_eq!(code, 0);
    assert!(out.contains(".TH xmppdump 1"), "{out}");
    // roff escapes the hyphen.
    assert!(out.contains("display\\-filter"), "{out}");
}

/// `--color always`: the listing with the time dim, the connection bold and each
/// event's name in its kind's colour (messages green, presences cyan, iq yellow,
/// errors and anomalies red); the same lines on two threads; `never` and a pipe
/// give the plain lines.
#[test]
fn listing_colours_as_asked() {
    let ndpi = capture("ndpi_jabber.pcap");
    let (code, coloured, _) = run(&["-r", &ndpi, "--color", "always"], b"");
    assert_eq!(code, 0);
    insta::assert_snapshot!("listing_color_always.txt", coloured);
    assert!(coloured.contains("\x1b[33miq\x1b[0m"));
    assert!(coloured.contains("\x1b[1;31mANOMALY\x1b[0m"));
    let (_, parallel, _) = run(&["-r", &ndpi, "--color", "always", "-j", "2"], b"");
    assert_eq!(parallel, coloured);
    let (_, plain, _) = run(&["-r", &ndpi], b"");
    let (_, never, _) = run(&["-r", &ndpi, "--color", "never"], b"");
    assert_eq!(plain, never);
    assert!(!plain.contains('\x1b'));
    // Without the escapes, the coloured lines are the plain ones.
    let stripped = regex::Regex::new("\x1b\\[[0-9;]*m")
        .unwrap()
        .replace_all(&coloured, "");
    assert_eq!(stripped, plain);
    // auto: a terminal is coloured unless NO_COLOR is set.
    let command = format!("{} -r {ndpi}", env!("CARGO_BIN_EXE_xmppdump"));
    let on_tty = |no_color: Option<&str>| on_terminal(&command, no_color);
    assert!(on_tty(None).contains("\x1b[33miq\x1b[0m"));
    assert!(!on_tty(Some("1")).contains('\x1b'));
}
