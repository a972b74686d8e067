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
    let (code, _, err) = xmppdump(&["stats", &path, "-Y", "from matches \"(\""]);
    assert_eq!(code, 2);
    assert!(err.contains("not a regular expression"), "{err}");
}
