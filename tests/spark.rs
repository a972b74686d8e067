//! The Spark job (`integrations/spark/xmppdump_spark.py`) in local mode, as a user
//! runs it: `spark-submit --master local[2]` (pyspark from PyPI, Java from Debian,
//! both installed by `.ci/setup`) over the bundled captures, generated ones and a
//! file that is not a capture. Its merged statistics must equal `xmppdump stats`
//! over the same files, its events the captures' own Parquet rows, and the bad
//! file must be reported, not fatal.

mod common;

use common::{capture_path, xmppdump, CAPTURES, LARGE_CAPTURES};
use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xmppdump-spark-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("in")).unwrap();
    dir
}

fn ok(args: &[&str]) -> String {
    let (code, out, err) = xmppdump(args);
    assert_eq!(code, 0, "xmppdump {args:?}: {err}");
    out
}

#[test]
fn spark_job_merges_exactly_and_partitions_the_events() {
    let dir = scratch();
    let input = dir.join("in");
    let keylog = dir.join("all.keylog");
    let mut keys = String::new();
    let mut names: Vec<String> = Vec::new();
    for name in CAPTURES.iter().chain(LARGE_CAPTURES) {
        std::fs::copy(capture_path(name), input.join(name)).unwrap();
        let stem = name.trim_end_matches(".pcap");
        if let Ok(text) = std::fs::read_to_string(capture_path(&format!("{stem}.keylog"))) {
            keys.push_str(&text);
        }
        names.push((*name).to_owned());
    }
    std::fs::write(&keylog, keys).unwrap();
    for seed in ["1", "2"] {
        let name = format!("generated-{seed}.pcap");
        let path = input.join(&name);
        ok(&[
            "gen",
            "--size",
            "3M",
            "--seed",
            seed,
            "--out",
            path.to_str().unwrap(),
        ]);
        names.push(name);
    }
    std::fs::write(input.join("broken.pcap"), b"this is not a capture").unwrap();
    names.sort();

    let out = dir.join("out");
    let job = format!(
        "{}/integrations/spark/xmppdump_spark.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let run = Command::new("spark-submit")
        .args([
            "--master",
            "local[2]",
            &job,
            "--binary",
            env!("CARGO_BIN_EXE_xmppdump"),
        ])
        .args(["--keylog", keylog.to_str().unwrap()])
        .args(["--out", out.to_str().unwrap(), input.to_str().unwrap()])
        .env_remove("SSLKEYLOGFILE")
        .output()
        .expect("spark-submit (pyspark from PyPI)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "{} of {} files analysed",
            names.len(),
            names.len() + 1
        )),
        "{stdout}"
    );

    // The broken file is reported with xmppdump's one-line error.
    let files: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("files.json")).unwrap()).unwrap();
    let files = files.as_array().unwrap();
    assert_eq!(files.len(), names.len() + 1);
    let broken: Vec<&serde_json::Value> = files.iter().filter(|f| f["ok"] == false).collect();
    assert_eq!(broken.len(), 1);
    assert!(broken[0]["file"].as_str().unwrap().ends_with("broken.pcap"));
    assert_eq!(broken[0]["exit"], 2);
    assert!(broken[0]["error"]
        .as_str()
        .unwrap()
        .contains("not a pcap or pcapng file"));

    // One-day captures are moved to their partition by the task; the ones spanning
    // days (ndpi_jabber.pcap: 2017 to 2022) are rewritten by Spark.
    let placed = |name: &str| {
        files
            .iter()
            .find(|f| f["file"].as_str().unwrap().ends_with(name))
            .map(|f| f["placed"].clone())
            .unwrap()
    };
    assert_eq!(placed("/federation_prosody.pcap"), true);
    assert_eq!(placed("/ndpi_jabber.pcap"), false);

    // The merged statistics are those of one `xmppdump stats` over the good files.
    let paths: Vec<String> = names
        .iter()
        .map(|n| input.join(n).to_str().unwrap().to_owned())
        .collect();
    let mut args: Vec<&str> = vec!["stats"];
    args.extend(paths.iter().map(String::as_str));
    args.extend(["--keylog", keylog.to_str().unwrap(), "--format", "json"]);
    let direct: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(merged["files"].as_array().unwrap().len(), names.len());
    assert!(
        merged == direct,
        "merged statistics differ from xmppdump stats"
    );
    assert!(out.join("stats/presence.parquet").exists());

    // The events: each capture's rows, partitioned by capture and day.
    let mut pairs = Vec::new();
    for (name, path) in names.iter().zip(&paths) {
        let parquet = dir.join(format!("{name}.parquet"));
        ok(&[
            "-r",
            path,
            "--keylog",
            keylog.to_str().unwrap(),
            "--parquet",
            parquet.to_str().unwrap(),
        ]);
        pairs.push(format!("{name}={}", parquet.display()));
    }
    let check = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/spark_events.py"))
        .arg(out.join("events"))
        .args(&pairs)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && report.starts_with("ok "),
        "{report}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        out.join("events/capture=federation_prosody.pcap").is_dir(),
        "partitioned by capture"
    );
}
