//! Parquet output (`--parquet`, `stats --format parquet`), read back by the readers
//! users have: pyarrow for the round trips, DuckDB for the report queries
//! (`tests/tools/parquet_roundtrip.py`, `parquet_tables.py`, `duckdb_report.py`;
//! both from PyPI, installed by `.ci/setup`).

mod common;

use common::{capture_path, config_for, xmppdump, CAPTURES, LARGE_CAPTURES};
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::path::{Path, PathBuf};
use std::process::Command;
use xmppdump::capture::Reader;
use xmppdump::output::parquet::events::EventColumns;
use xmppdump::pipeline::Pipeline;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xmppdump-parquet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Every bundled capture, with its key log when it has one (as a user would run it).
fn captures() -> impl Iterator<Item = (&'static str, Vec<String>)> {
    CAPTURES.iter().chain(LARGE_CAPTURES).map(|name| {
        let stem = name.trim_end_matches(".pcap");
        let keylog = capture_path(&format!("{stem}.keylog"));
        let mut args = vec!["-r".to_owned(), capture_path(name)];
        if Path::new(&keylog).exists() {
            args.extend(["--keylog".to_owned(), keylog]);
        }
        (*name, args)
    })
}

fn run(args: &[String]) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = xmppdump(&args);
    assert_eq!(code, 0, "xmppdump {args:?}: {err}");
    out
}

/// Runs a checker of `tests/tools`; panics with its output when it fails.
fn python(script: &str, args: &[&Path]) -> String {
    let script = format!("{}/tests/tools/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} {args:?}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn with(args: &[String], more: &[&str]) -> Vec<String> {
    args.iter()
        .cloned()
        .chain(more.iter().map(|s| (*s).to_owned()))
        .collect()
}

#[test]
fn every_capture_round_trips_through_parquet() {
    for (name, args) in captures() {
        let ndjson = scratch(&format!("{name}.ndjson"));
        let parquet = scratch(&format!("{name}.parquet"));
        std::fs::write(&ndjson, run(&with(&args, &["--json"]))).unwrap();
        let summary = run(&with(&args, &["--parquet", parquet.to_str().unwrap()]));
        assert!(summary.starts_with("summary: "), "{name}: {summary}");
        let report = python("parquet_roundtrip.py", &[&ndjson, &parquet]);
        assert!(report.starts_with("ok "), "{name}: {report}");
    }
}

#[test]
fn generated_capture_round_trips_and_shards_write_the_same_file() {
    let capture = scratch("generated.pcap");
    run(&[
        "gen".into(),
        "--size".into(),
        "4M".into(),
        "--seed".into(),
        "7".into(),
        "--out".into(),
        capture.to_str().unwrap().into(),
    ]);
    let args = vec!["-r".to_owned(), capture.to_str().unwrap().to_owned()];
    let ndjson = scratch("generated.ndjson");
    std::fs::write(&ndjson, run(&with(&args, &["--json"]))).unwrap();
    let one = scratch("generated-1.parquet");
    let two = scratch("generated-2.parquet");
    run(&with(&args, &["--parquet", one.to_str().unwrap()]));
    run(&with(
        &args,
        &["--parquet", two.to_str().unwrap(), "-j", "2"],
    ));
    python("parquet_roundtrip.py", &[&ndjson, &one]);
    assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
}

#[test]
fn odd_addresses_and_texts_round_trip() {
    // Addresses as sent (a trailing dot, a slash and an `@` in the resource, no
    // localpart, invalid ones), texts with quotes, control characters and non-ASCII,
    // a negative priority, census details: each must come back equal to the NDJSON.
    let lines: &[(bool, &str)] = &[
        (true, "<message from='juliet@capulet.example./balcony/a@b' to='romeo@montague.example' type='chat' id='m&quot;1'><body>caf\u{e9} \\ &#9;</body><subject>a\tb</subject></message>"),
        (true, "<presence to='@nolocal/'><priority>-5</priority><show>away</show><status>\u{1F600} &quot;out&quot;</status></presence>"),
        (false, "<presence from='not a jid@@x/y'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v='/></presence>"),
        (true, "<iq type='get' id='v1' to='example.org'><query xmlns='jabber:iq:version'/></iq>"),
        (false, "<iq type='result' id='v1' from='example.org'><query xmlns='jabber:iq:version'><name>Prosody</name><version>0.12</version></query></iq>"),
    ];
    let capture = common::temp_capture(
        "odd.pcapng",
        &common::session("10.0.0.1:40000", 1_700_000_000_123_456_789, lines, false),
    );
    let args = vec!["-r".to_owned(), capture];
    let ndjson = scratch("odd.ndjson");
    let parquet = scratch("odd.parquet");
    let listing = run(&with(&args, &["--json"]));
    assert!(listing.contains("capulet.example./balcony"), "{listing}");
    std::fs::write(&ndjson, listing).unwrap();
    run(&with(&args, &["--parquet", parquet.to_str().unwrap()]));
    let report = python("parquet_roundtrip.py", &[&ndjson, &parquet]);
    assert!(report.starts_with("ok "), "{report}");
}

#[test]
fn stanza_rows_equal_the_rows_of_their_serde_form() {
    // The fast path for stanzas against the path every other event takes: the
    // files are the same byte for byte.
    for (name, _) in captures() {
        let mut files = Vec::new();
        for serde_only in [false, true] {
            let path = scratch(&format!("{name}.{serde_only}.parquet"));
            let out = std::fs::File::create(&path).unwrap();
            let mut sink = EventColumns::new(out).unwrap();
            if serde_only {
                sink = sink.serde_only();
            }
            let mut reader = Reader::new(std::fs::File::open(capture_path(name)).unwrap()).unwrap();
            Pipeline::new(config_for(name))
                .run(&mut reader, &mut sink)
                .unwrap();
            files.push(std::fs::read(&path).unwrap());
        }
        assert!(files[0].len() > 100, "{name}");
        assert!(files[0] == files[1], "{name}: the two paths differ");
    }
}

#[test]
fn long_captures_are_written_in_several_row_groups() {
    // Bounded memory: row groups of at most 65,536 rows are written as they fill.
    let capture = scratch("long.pcap");
    let capture = capture.to_str().unwrap();
    run(&["gen", "--size", "20M", "--out", capture].map(str::to_owned));
    let parquet = scratch("long.parquet");
    run(&["-r", capture, "--parquet", parquet.to_str().unwrap()].map(str::to_owned));
    let reader = SerializedFileReader::new(std::fs::File::open(&parquet).unwrap()).unwrap();
    let meta = reader.metadata();
    let rows: i64 = meta.row_groups().iter().map(|g| g.num_rows()).sum();
    assert!(rows > 80_000, "{rows}");
    assert!(meta.num_row_groups() >= 2);
    for group in meta.row_groups() {
        assert!(group.num_rows() <= 65_536);
    }
    assert_eq!(meta.file_metadata().schema_descr().column(0).name(), "time");
}

#[test]
fn stats_tables_round_trip_through_parquet() {
    for (name, args) in captures() {
        let mut args = args;
        args.remove(0); // stats takes the file without -r
        let csv = scratch(&format!("{name}-csv"));
        let parquet = scratch(&format!("{name}-parquet"));
        for (format, dir) in [("csv", &csv), ("parquet", &parquet)] {
            let mut stats = vec!["stats".to_owned()];
            stats.extend(args.iter().cloned());
            stats.extend(
                ["--format", format, "--out-dir", dir.to_str().unwrap()].map(str::to_owned),
            );
            run(&stats);
        }
        let report = python("parquet_tables.py", &[&csv, &parquet]);
        assert!(report.starts_with("ok "), "{name}: {report}");
    }
}

#[test]
fn duckdb_queries_on_the_events_equal_the_statistics() {
    for (name, args) in captures() {
        let parquet = scratch(&format!("{name}.duck.parquet"));
        let json = scratch(&format!("{name}.stats.json"));
        let mut stats = vec!["stats".to_owned()];
        stats.extend(args.iter().skip(1).cloned());
        stats.extend(
            ["--format", "json", "--parquet", parquet.to_str().unwrap()].map(str::to_owned),
        );
        // One pass gives both: the statistics and the events.
        std::fs::write(&json, run(&stats)).unwrap();
        let report = python("duckdb_report.py", &[&parquet, &json]);
        assert!(report.contains("ok: presence"), "{name}: {report}");
    }
}

#[test]
fn parquet_misuse_is_a_one_line_error() {
    let a = capture_path("ndpi_jabber.pcap");
    let b = capture_path("godpi_jabber.pcap");
    let out = scratch("misuse.parquet");
    let out = out.to_str().unwrap();
    for args in [
        vec!["stats", &a, &b, "--parquet", out],
        vec!["stats", &a, "--format", "parquet"],
        vec!["stats", &a, "--parquet", out, "-Y", "event == \"iq\""],
        vec!["-r", &a, "--parquet", "/nonexistent-dir/x.parquet"],
    ] {
        let (code, _, err) = xmppdump(&args);
        assert_eq!(code, 2, "{args:?}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    // Live capture does not write Parquet: refused by the argument parser.
    let (code, _, err) = xmppdump(&["-i", "lo", "--parquet", out]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot be used with"), "{err}");
}
