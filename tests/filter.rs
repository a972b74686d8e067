//! Display filters (`-Y`) on real captures: what they select, what `stats -Y`
//! counts, and how a bad filter is reported (docs/filters.md).

mod common;

use common::{capture_path, config_for, xmppdump, Collect, CAPTURES};
use xmppdump::analysis::{Class, Collector};
use xmppdump::capture::Reader;
use xmppdump::model::EventKind;
use xmppdump::output::filtered::{Filtered, Scope};
use xmppdump::pipeline::Pipeline;

fn keylog_args(name: &str) -> Vec<String> {
    let keylog = capture_path(&format!("{}.keylog", name.trim_end_matches(".pcap")));
    if std::path::Path::new(&keylog).exists() {
        vec!["--keylog".into(), keylog]
    } else {
        Vec::new()
    }
}

#[test]
fn the_presence_events_selected_are_the_presences_stats_counts() {
    let filter = xmppdump::filter::parse("event == \"presence\"").unwrap();
    for name in CAPTURES.iter().chain(common::LARGE_CAPTURES) {
        let open = || Reader::new(std::fs::File::open(capture_path(name)).unwrap()).unwrap();
        let mut kept = Collect::default();
        {
            let mut sink = Filtered::new(&filter, Scope::Events, &mut kept);
            Pipeline::new(config_for(name))
                .run(&mut open(), &mut sink)
                .unwrap();
        }
        assert!(kept
            .events
            .iter()
            .all(|e| matches!(e.kind, EventKind::Presence(_))));
        let mut collector = Collector::new(name);
        Pipeline::new(config_for(name))
            .run(&mut open(), &mut collector)
            .unwrap();
        let stats = collector.into_stats();
        let presences = stats.traffic_where(|k| k.class == Class::Presence).count;
        assert_eq!(kept.events.len() as u64, presences, "{name}");
        assert_eq!(kept.summary.unwrap().presences, presences, "{name}");
    }
}

#[test]
fn a_filter_on_every_capture() {
    let filter = "event in {\"message\" \"presence\"} and dir == to_server or anomaly";
    for name in CAPTURES {
        let path = capture_path(name);
        let mut args = vec!["-r", path.as_str(), "-Y", filter];
        let keylog = keylog_args(name);
        args.extend(keylog.iter().map(String::as_str));
        let (code, out, err) = xmppdump(&args);
        assert_eq!(code, 0, "{name}: {err}");
        insta::assert_snapshot!(format!("{name}.filtered"), out);
    }
}

#[test]
fn stats_with_a_filter_counts_only_the_stanzas_it_keeps() {
    let path = capture_path("federation_prosody.pcap");
    let json = |extra: &[&str]| {
        let mut args = vec!["stats", path.as_str(), "--format", "json"];
        args.extend_from_slice(extra);
        let (code, out, err) = xmppdump(&args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let all = json(&[]);
    let iq_only = json(&["-Y", "event == \"iq\""]);
    let count = |v: &serde_json::Value, class: &str| -> u64 {
        v["traffic"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| row["class"] == class)
            .map(|row| row["count"].as_u64().unwrap())
            .sum()
    };
    assert!(count(&all, "presence") > 0);
    assert_eq!(count(&iq_only, "presence"), 0);
    assert_eq!(count(&iq_only, "message"), 0);
    assert_eq!(count(&iq_only, "iq"), count(&all, "iq"));
    // Stream events still pass: the connections and their sessions are all there.
    assert_eq!(iq_only["xmpp_flows"], all["xmpp_flows"]);
    assert_eq!(iq_only["iq"], all["iq"]);
    // One domain's presence: the s2s share of it only has the senders of b.example.
    let b = json(&["-Y", "event != presence or from.domain == \"b.example\""]);
    assert!(count(&b, "presence") < count(&all, "presence"));
    assert!(count(&b, "presence") > 0);
}

#[test]
fn a_bad_filter_is_exit_2_with_the_place_marked() {
    let path = capture_path("godpi_jabber.pcap");
    let (code, out, err) = xmppdump(&["-r", &path, "-Y", "event == presence and"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("event == presence and\n                     ^ expected a field name"),
        "{err}"
    );
    let out = std::env::temp_dir().join(format!("xmppdump-none-{}.pcapng", std::process::id()));
    let (code, _, err) = xmppdump(&["-r", &path, "-w", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("-Y or --flow"), "{err}");
    assert!(!out.exists());
    let (code, _, err) = xmppdump(&["stats", &path, "-Y", "from matches \"(\""]);
    assert_eq!(code, 2);
    assert!(err.contains("not a regular expression"), "{err}");
}

#[test]
fn show_diagram_and_report_keep_the_connections_a_filter_selects() {
    // Stream management (XEP-0198) is enabled on connections 2 and 3 of the SASL2
    // capture, not on 1 (captures/README.md).
    let path = capture_path("prosody_sasl2.pcap");
    let flows_shown = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with("Flow #"))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
            .collect()
    };
    let (code, all, _) = xmppdump(&["show", &path]);
    assert_eq!(code, 0);
    assert_eq!(flows_shown(&all), ["#1", "#2", "#3"]);
    let (code, out, _) = xmppdump(&["show", &path, "-Y", "event == \"sm\""]);
    assert_eq!(code, 0);
    assert_eq!(flows_shown(&out), ["#2", "#3"]);
    // With --flow too, both must select the connection.
    let (code, out, _) = xmppdump(&["show", &path, "-Y", "event == sm", "--flow", "3"]);
    assert_eq!(code, 0);
    assert_eq!(flows_shown(&out), ["#3"]);
    let (code, _, err) = xmppdump(&["diagram", &path, "-Y", "event == \"no_such_event\""]);
    assert_eq!(code, 2);
    assert!(err.contains("matches the selection"), "{err}");
    let (code, out, _) = xmppdump(&["diagram", &path, "-Y", "event == sm"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("sequenceDiagram"));
    let html = std::env::temp_dir().join(format!("xmppdump-filter-{}.html", std::process::id()));
    let html = html.to_str().unwrap();
    let (code, _, err) = xmppdump(&["report", &path, "-Y", "event == sm", "-o", html]);
    assert_eq!(code, 0, "{err}");
    let page = std::fs::read_to_string(html).unwrap();
    std::fs::remove_file(html).unwrap();
    // The sessions drawn are the selected connections; the statistics, as with
    // `stats -Y`, still know every connection.
    assert!(page.contains("id=\"flow-2\"") && page.contains("id=\"flow-3\""));
    assert!(!page.contains("id=\"flow-1\""), "connection 1 has no sm");
}

#[test]
fn the_listing_s_jid_selects_the_connections_show_selects() {
    let flows = |out: &str, prefix: &str| -> Vec<String> {
        let mut set: Vec<String> = out
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('#')))
            .map(str::to_owned)
            .collect();
        set.sort();
        set.dedup();
        set
    };
    for (name, jid, expected) in [
        (
            "prosody_sasl2.pcap",
            "juliet@localhost/phone~6aaPJjXYNzp5",
            2,
        ),
        ("federation_prosody.pcap", "u007@a.example", 23),
    ] {
        let path = capture_path(name);
        let (code, listing, err) = xmppdump(&["-r", &path, "--jid", jid]);
        assert_eq!(code, 0, "{err}");
        let (code, shown, err) = xmppdump(&["show", &path, "--jid", jid]);
        assert_eq!(code, 0, "{err}");
        let listed = flows(&listing, "");
        assert_eq!(listed, flows(&shown, "Flow #"), "{name}");
        assert_eq!(listed.len(), expected, "{name}");
    }
}

/// The short cut that skips events by name before building their JSON keeps
/// exactly what the filter keeps on every event's JSON, and an event's name is its
/// NDJSON `event` key.
#[test]
fn skipping_by_event_name_keeps_what_the_json_filter_keeps() {
    let filters = [
        "event == presence and from.domain == \"localhost\"",
        "event in {message iq} and dir == to_client",
        "(event == iq or event == sasl_auth) and size > 100",
        "event == presence and event == iq",
        "event == flow_end or anomaly",
        "not event == presence",
    ];
    for name in CAPTURES {
        let mut all = Collect::default();
        let open = || Reader::new(std::fs::File::open(capture_path(name)).unwrap()).unwrap();
        Pipeline::new(config_for(name))
            .run(&mut open(), &mut all)
            .unwrap();
        let json: Vec<serde_json::Value> = all
            .events
            .iter()
            .map(|e| {
                let (mut line, mut time) = (Vec::new(), String::new());
                xmppdump::output::ndjson::write_event(e, &mut line, &mut time).unwrap();
                serde_json::from_slice(&line).unwrap()
            })
            .collect();
        for (event, object) in all.events.iter().zip(&json) {
            assert_eq!(object["event"], event.kind.name(), "{name}");
        }
        for text in filters {
            let filter = xmppdump::filter::parse(text).unwrap();
            let mut kept = Collect::default();
            {
                let mut sink = Filtered::new(&filter, Scope::Events, &mut kept);
                Pipeline::new(config_for(name))
                    .run(&mut open(), &mut sink)
                    .unwrap();
            }
            let expected: Vec<_> = all
                .events
                .iter()
                .zip(&json)
                .filter(|(_, o)| filter.matches(o))
                .map(|(e, _)| e.clone())
                .collect();
            assert_eq!(kept.events, expected, "{name}: {text}");
        }
    }
}

/// `-r FILE -Y EXPR -w OUT`: read back, the pcapng gives exactly the events of the
/// connections the filter selected (flows and frames renumbered), and tshark opens
/// it with as many frames as were written. A connection still open when its capture
/// ends is ended by the capture's last packet (or an idle timeout that other
/// traffic's clock triggers), which the copy does not hold: for those ends only the
/// time and reason differ.
#[test]
fn extracted_connections_read_back_as_the_same_events() {
    let cases = [
        ("ndpi_jabber.pcap", "event == iq and type == result"),
        ("godpi_jabber.pcap", "event == stream_header"),
        (
            "zeek_xmpp-dialback-starttls.pcap",
            "event == tls_certificate",
        ),
        ("prosody_bosh.pcap", "event == presence"),
        ("prosody_starttls.pcap", "event == presence"),
    ];
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("filter_extract");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, filter) in cases {
        let path = capture_path(name);
        let out = dir.join(format!("{name}.pcapng"));
        let out = out.to_str().unwrap();
        let mut args = vec!["-r", path.as_str(), "-Y", filter, "-w", out];
        let keylog = keylog_args(name);
        args.extend(keylog.iter().map(String::as_str));
        let (code, _, err) = xmppdump(&args);
        assert_eq!(code, 0, "{name}: {err}");
        let written: u64 = err.split_whitespace().next().unwrap().parse().unwrap();
        // The selected connections and their events in the original capture.
        let listing = |file: &str| -> Vec<serde_json::Value> {
            let mut args = vec!["-r", file, "--json"];
            args.extend(keylog.iter().map(String::as_str));
            let (code, out, err) = xmppdump(&args);
            assert_eq!(code, 0, "{err}");
            out.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .filter(|v: &serde_json::Value| v["event"] != "summary" && v.get("flow").is_some())
                .collect()
        };
        let filter_parsed = xmppdump::filter::parse(filter).unwrap();
        let original = listing(&path);
        let selected: std::collections::BTreeSet<u64> = original
            .iter()
            .filter(|e| filter_parsed.matches(e))
            .map(|e| e["flow"].as_u64().unwrap())
            .collect();
        assert!(!selected.is_empty(), "{name}");
        let strip = |mut e: serde_json::Value| {
            let o = e.as_object_mut().unwrap();
            o.remove("flow");
            o.remove("frame");
            if o["event"] == "flow_end"
                && ["idle", "capture_end"].contains(&o["reason"].as_str().unwrap())
            {
                o.remove("time");
                o.remove("reason");
            }
            e
        };
        let expected: Vec<_> = original
            .into_iter()
            .filter(|e| selected.contains(&e["flow"].as_u64().unwrap()))
            .map(strip)
            .collect();
        let read_back = listing(out);
        let flows: std::collections::BTreeSet<u64> = read_back
            .iter()
            .map(|e| e["flow"].as_u64().unwrap())
            .collect();
        assert_eq!(flows.len(), selected.len(), "{name}");
        let read_back: Vec<_> = read_back.into_iter().map(strip).collect();
        assert_eq!(read_back, expected, "{name}");
        // tshark reads it whole.
        let tshark = std::process::Command::new("tshark")
            .args(["-r", out, "-T", "fields", "-e", "frame.number"])
            .output()
            .expect("tshark (installed by .ci/setup)");
        assert!(tshark.status.success(), "{name}");
        let frames = String::from_utf8_lossy(&tshark.stdout).lines().count() as u64;
        assert_eq!(frames, written, "{name}");
    }
}
