//! `xmppdump check`: every built-in rule passing and failing, expectations, report
//! formats (JUnit validated against a schema and read by junitparser), rule errors.

mod common;

use common::{capture_path, session, temp_capture, xmppdump};

const T0: i64 = 1_700_000_000_000_000_000;
const BIND: &str = "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>";
const BOUND: &str = "<iq type='result' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.org/r</jid></bind></iq>";
const SUCCESS: &str = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";

fn auth(mechanism: &str) -> String {
    format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'>AGp1bGlldABzZWNyZXQ=</auth>")
}

/// Runs `check FILE --rule RULE`; returns whether the rule passed, and stdout.
fn verdict(file: &str, rule: &str) -> (bool, String) {
    let (code, out, err) = xmppdump(&["check", file, "--rule", rule]);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    (code == 0, out)
}

fn capture(name: &str, lines: &[(bool, &str)], reset: bool) -> String {
    temp_capture(name, &session("10.0.0.1:40000", T0, lines, reset))
}

#[test]
fn tls_rules_on_public_and_synthetic_captures() {
    // nDPI authenticates (DIGEST-MD5) in the clear; the zeek captures do STARTTLS first.
    assert!(!verdict(&capture_path("ndpi_jabber.pcap"), "require_tls_before_sasl").0);
    assert!(
        verdict(
            &capture_path("zeek_xmpp-starttls.pcap"),
            "require_tls_before_sasl"
        )
        .0
    );
    assert!(
        verdict(
            &capture_path("zeek_xmpp-dialback-starttls.pcap"),
            "require_tls_before_sasl"
        )
        .0
    );
    let plain = capture(
        "plain.pcapng",
        &[
            (true, &auth("PLAIN")),
            (false, SUCCESS),
            (true, BIND),
            (false, BOUND),
        ],
        false,
    );
    let scram = capture(
        "scram.pcapng",
        &[
            (true, &auth("SCRAM-SHA-1")),
            (false, SUCCESS),
            (true, BIND),
            (false, BOUND),
        ],
        false,
    );
    let (passed, out) = verdict(&plain, "no_plain_without_tls");
    assert!(!passed);
    assert!(out.contains("plain.pcapng flow 1 frame 6 2023-11-14T22:13:20.005000Z: SASL PLAIN sent the password in the clear"), "{out}");
    assert!(verdict(&scram, "no_plain_without_tls").0);
    assert!(!verdict(&scram, "require_tls_before_sasl").0);
}

#[test]
fn iq_answered_with_and_without_a_time_limit() {
    let answered = capture(
        "iq-ok.pcapng",
        &[
            (
                true,
                "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
            ),
            (false, "<iq type='result' id='1'/>"),
        ],
        false,
    );
    let open = capture(
        "iq-open.pcapng",
        &[(
            true,
            "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
        )],
        false,
    );
    assert!(verdict(&answered, "iq_answered").0);
    let (passed, out) = verdict(&open, "iq_answered");
    assert!(!passed);
    assert!(
        out.contains("iq get id=\"1\" (urn:xmpp:ping) never answered"),
        "{out}"
    );
    // The result comes one segment (1 ms) after the request.
    assert!(verdict(&answered, "iq_answered(5)").0);
    let (passed, out) = verdict(&answered, "iq_answered(0.5)");
    assert!(!passed);
    assert!(
        out.contains("answered after 1.0 ms (limit 0.5 ms)"),
        "{out}"
    );
}

#[test]
fn stream_errors_anomalies_and_clean_close() {
    let clean = capture("clean.pcapng", &[(true, "<presence/>")], false);
    let error = capture(
        "error.pcapng",
        &[(
            false,
            "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
        )],
        false,
    );
    let reset = capture("reset.pcapng", &[(true, "<presence/>")], true);
    let malformed = capture(
        "bad.pcapng",
        &[(true, "<message><body>x</bdy></message>")],
        false,
    );
    for rule in [
        "no_stream_errors",
        "no_anomalies",
        "stream_closed_cleanly",
        "valid_jids",
        "bound_resource",
    ] {
        assert!(verdict(&clean, rule).0, "{rule} on a clean session");
    }
    let (passed, out) = verdict(&error, "no_stream_errors");
    assert!(!passed);
    assert!(out.contains("<stream:error> conflict"), "{out}");
    let (passed, out) = verdict(&reset, "stream_closed_cleanly");
    assert!(!passed);
    assert!(
        out.contains("no </stream:stream> from the client or server; connection reset"),
        "{out}"
    );
    let (passed, out) = verdict(&malformed, "no_anomalies");
    assert!(!passed);
    assert!(out.contains("malformed_xml"), "{out}");
}

#[test]
fn bound_resource_and_valid_jids() {
    let unbound = capture(
        "unbound.pcapng",
        &[(true, &auth("SCRAM-SHA-1")), (false, SUCCESS)],
        false,
    );
    let (passed, out) = verdict(&unbound, "bound_resource");
    assert!(!passed);
    assert!(out.contains("authenticated but no resource bound"), "{out}");
    // RFC 6120 SASL, then XEP-0198 resumption instead of binding: the session keeps
    // the resource it had.
    let resumed = capture(
        "resumed.pcapng",
        &[
            (true, &auth("SCRAM-SHA-1")),
            (false, SUCCESS),
            (true, "<resume xmlns='urn:xmpp:sm:3' previd='s1' h='3'/>"),
            (false, "<resumed xmlns='urn:xmpp:sm:3' previd='s1' h='5'/>"),
        ],
        false,
    );
    assert!(verdict(&resumed, "bound_resource").0);
    let refused = capture(
        "refused.pcapng",
        &[
            (true, &auth("SCRAM-SHA-1")),
            (false, SUCCESS),
            (true, "<resume xmlns='urn:xmpp:sm:3' previd='s1' h='3'/>"),
            (false, "<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>"),
        ],
        false,
    );
    assert!(!verdict(&refused, "bound_resource").0);
    let bad_jid = capture(
        "jid.pcapng",
        &[(true, "<message to='@example.org'><body>x</body></message>")],
        false,
    );
    let (passed, out) = verdict(&bad_jid, "valid_jids");
    assert!(!passed);
    assert!(
        out.contains("to=\"@example.org\": empty localpart before '@'"),
        "{out}"
    );
}

#[test]
fn presence_thresholds() {
    let p = "<presence><show>away</show></presence>";
    let m = "<message to='romeo@example.net' type='chat'><body>a long enough message body</body></message>";
    let heavy = capture(
        "heavy.pcapng",
        &[(true, p), (true, p), (true, p), (true, m)],
        false,
    );
    // 3 × 38 presence bytes of 3 × 38 + 93 stanza bytes = 0.5507; 2 of 3 are redundant.
    assert_eq!((p.len(), m.len()), (38, 93));
    let (passed, out) = verdict(&heavy, "presence_overhead_below(0.5)");
    assert!(!passed);
    assert!(out.contains("(measured: 0.5507 (limit 0.5))"), "{out}");
    assert!(verdict(&heavy, "presence_overhead_below(0.6)").0);
    assert!(!verdict(&heavy, "redundant_presence_below(0.5)").0);
    assert!(verdict(&heavy, "redundant_presence_below(0.7)").0);
    // The same numbers as expressions.
    assert!(verdict(&heavy, "presence.overhead_ratio[c2s] < 0.6").0);
    assert!(!verdict(&heavy, "presence.redundant == 1").0);
    assert!(verdict(&heavy, "presence.redundant == 2").0);
}

#[test]
fn expectations_on_counts_and_text() {
    let f = capture_path("ndpi_jabber.pcap");
    assert!(verdict(&f, "iq == 84").0);
    assert!(verdict(&f, "message.groupchat >= 1").0);
    assert!(
        verdict(&f, "presence[c2s] == 9").0,
        "connections joined mid-stream count by port"
    );
    assert!(!verdict(&f, "message.chat >= 10").0);
    assert!(verdict(&f, "sasl.mechanism == \"DIGEST-MD5\"").0);
    assert!(!verdict(&f, "sasl.mechanism == \"SCRAM-SHA-1\"").0);
    assert!(verdict(&f, "sasl.mechanism != \"PLAIN\"").0);
    assert!(verdict(&f, "anomalies[gap] == 8").0);
    assert!(verdict(&f, "iq.unanswered == 0").0);
    assert!(verdict(&f, "sasl.failure == 1").0);
    let (passed, out) = verdict(&f, "stanzas[tom@cs-xmpp.lan] > 1000");
    assert!(!passed);
    assert!(
        out.contains("FAIL stanzas[tom@cs-xmpp.lan] > 1000 (measured: "),
        "{out}"
    );
}

#[test]
fn rules_file_exit_codes_and_reports() {
    let dir = std::env::temp_dir().join(format!("xmppdump-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, "# CI rules\nrules = [\n  \"require_tls_before_sasl\",\n  \"no_stream_errors\",\n  \"iq.unanswered == 0\",\n]\n").unwrap();
    let rules = rules.to_str().unwrap();
    let junit = dir.join("report.xml");
    let junit = junit.to_str().unwrap();
    let (code, text, _) = xmppdump(&[
        "check",
        &capture_path("ndpi_jabber.pcap"),
        "--rules",
        rules,
        "--junit",
        junit,
    ]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("check_ndpi.txt", text);
    let xml = std::fs::read_to_string(junit).unwrap();
    insta::assert_snapshot!("check_ndpi.junit.xml", xml);
    let validated = std::process::Command::new("python3")
        .args([
            &format!(
                "{}/tests/tools/validate_junit.py",
                env!("CARGO_MANIFEST_DIR")
            ),
            junit,
        ])
        .output()
        .unwrap();
    assert!(
        validated.status.success(),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    assert_eq!(String::from_utf8(validated.stdout).unwrap().trim(), "3 1");
    let (code, json, _) = xmppdump(&[
        "check",
        &capture_path("zeek_xmpp-starttls.pcap"),
        "--rules",
        rules,
        "--json",
    ]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("check_zeek.json", json);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["passed"], true);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_rules_are_errors_with_line_and_column() {
    let dir = std::env::temp_dir().join(format!("xmppdump-badrules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = capture_path("zeek_xmpp-starttls.pcap");
    let cases = [
        (
            "rules = [\n  \"no_anomalies\",\n  \"message.chat >> 3\",\n]\n",
            "line 3, column 18: expected a number or a \"string\"",
        ),
        (
            "rules = [\"mesage.chat >= 1\"]\n",
            "line 1, column 11: unknown rule or metric 'mesage.chat'",
        ),
        ("rules = [\"no_anomalies\"\n", "line 1, column"),
        (
            "rule = [\"no_anomalies\"]\n",
            "line 1, column 1: unknown field `rule`",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let path = dir.join(format!("r{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let (code, _, err) = xmppdump(&["check", &f, "--rules", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{text}");
        assert!(err.contains(expected), "{text}\n{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let (code, _, err) = xmppdump(&["check", &f, "--rule", "iq.unanswered = 0"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--rule #1 \"iq.unanswered = 0\": column 15: expected one of == != < <= > >="),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The real SASL2 session: SASL2 in the clear is judged like RFC 6120 SASL, and
/// Bind 2 (flows 1, 2) and resumption (flow 3) count as bound.
#[test]
fn sasl2_sessions_are_judged_like_sasl() {
    let file = capture_path("prosody_sasl2.pcap");
    let (passed, out) = verdict(&file, "require_tls_before_sasl");
    assert!(!passed);
    for (flow, frame, mechanism) in [(1, 8, "SCRAM-SHA-1"), (2, 31, "PLAIN"), (3, 53, "PLAIN")] {
        let line = format!("flow {flow} frame {frame} ");
        assert!(out.contains(&line), "{out}");
        assert!(
            out.contains(&format!(
                "<authenticate mechanism='{mechanism}'> sent without TLS"
            )),
            "{out}"
        );
    }
    let (passed, out) = verdict(&file, "no_plain_without_tls");
    assert!(!passed);
    assert!(
        out.contains("flow 2 frame 31") && out.contains("flow 3 frame 53"),
        "{out}"
    );
    assert!(!out.contains("flow 1 "), "{out}");
    assert!(verdict(&file, "bound_resource").0);
    assert!(verdict(&file, "iq_answered").0);
    // Flow 2 was dropped without </stream:stream>.
    let (passed, out) = verdict(&file, "stream_closed_cleanly");
    assert!(!passed);
    assert!(out.contains("flow 2 frame 49"), "{out}");
}

/// SASL read from decrypted TLS came inside TLS, whether TLS began with STARTTLS's
/// `<proceed/>`, from the first byte (direct TLS found by ALPN on 443, XEP-0368) or
/// under WebSocket (wss://): with the key logs every capture passes every built-in
/// rule. (The TLS rules once failed the last two: only `<proceed/>` counted as TLS.)
#[test]
fn decrypted_sessions_pass_the_tls_rules() {
    for stem in ["prosody_starttls", "prosody_directtls", "prosody_wss"] {
        let file = capture_path(&format!("{stem}.pcap"));
        let keylog = capture_path(&format!("{stem}.keylog"));
        let (code, out, err) = xmppdump(&["check", &file, "--keylog", &keylog]);
        assert_eq!(code, 0, "{stem}: {out}{err}");
        assert!(out.contains("PASS require_tls_before_sasl"), "{out}");
    }
    // The SASL the rules judged was there to judge: it is read inside TLS.
    let file = capture_path("prosody_directtls.pcap");
    let keylog = capture_path("prosody_directtls.keylog");
    let (_, ndjson, _) = xmppdump(&["-r", &file, "--keylog", &keylog, "--json"]);
    assert!(ndjson
        .lines()
        .any(|l| l.contains("\"event\":\"sasl_auth\"") && l.contains("\"decrypted\":true")));
}
