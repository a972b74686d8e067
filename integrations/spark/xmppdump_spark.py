#!/usr/bin/env python3
"""xmppdump over a capture archive on Apache Spark.

Map: one Spark task per capture file runs the xmppdump binary (shipped to the
executors with SparkContext.addFile) as `xmppdump stats FILE --format json --parquet
EVENTS`: one pass gives the file's statistics document and its events as Parquet.
Reduce: the driver adds the statistics up with `xmppdump stats --merge`, in the
order of the sorted file list, so the result equals `xmppdump stats` over all the
files that could be read (the merge is exact: docs/statistics.md). The events are
partitioned by capture file and UTC day: a one-day capture's file is moved to its
partition by its task; Spark rewrites the captures that span days.

A file xmppdump cannot read (exit 2: not a capture, truncated header, unreadable)
is reported in files.json with its error; the job goes on with the others.

Output directory:
  events/capture=NAME/day=YYYY-MM-DD/part-*.parquet   the events (schema events/1)
  stats.json                                          the merged statistics
  stats/NAME.parquet                                  each statistics table
  files.json                                          per file: ok, error, bytes, seconds

Usage (see integrations/spark/README.md and docs/scale.md):
  spark-submit --master local[2] integrations/spark/xmppdump_spark.py \\
      --binary target/release/xmppdump --out OUT 'captures/*.pcap'
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
# Statistics documents merged per xmppdump process on the driver (bounded
# command lines); the merge is associative, so chunks merged in order are exact.
MERGE_CHUNK = 256
# Capture names used as partition values as they are (Spark escapes others).
SAFE_NAME = re.compile(r"[A-Za-z0-9._+-]+")


def list_captures(inputs):
    """Every capture named by the inputs (files, directories, globs), sorted."""
    found = set()
    for item in inputs:
        paths = [item] if os.path.exists(item) else glob.glob(item, recursive=True)
        for path in paths:
            if os.path.isdir(path):
                for root, _, names in os.walk(path):
                    found.update(
                        os.path.join(root, n) for n in names if n.lower().endswith(CAPTURE_SUFFIXES)
                    )
            elif os.path.isfile(path):
                found.add(path)
    return sorted(os.path.abspath(p) for p in found)


def analyse(task):
    """One capture on an executor: statistics JSON and events Parquet into staging."""
    from pyspark import SparkFiles

    index, path, staging, keylog, extra = task
    binary = SparkFiles.get("xmppdump")
    if not os.access(binary, os.X_OK):
        os.chmod(binary, 0o755)
    events = os.path.join(staging, "events", f"{index:08d}.parquet")
    stats = os.path.join(staging, "stats", f"{index:08d}.json")
    # Written under temporary names and renamed: a retried task never leaves half a file.
    attempt = f".{os.getpid()}.tmp"
    command = [binary, "stats", path, "--format", "json", "--parquet", events + attempt]
    beside = os.path.splitext(path)[0] + ".keylog"
    if keylog:
        command += ["--keylog", keylog]
    elif os.path.exists(beside):
        command += ["--keylog", beside]
    command += extra
    started = time.monotonic()
    with open(stats + attempt, "wb") as out:
        run = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, check=False)
    seconds = time.monotonic() - started
    result = {"index": index, "file": path, "bytes": os.path.getsize(path), "seconds": round(seconds, 3)}
    if run.returncode != 0:
        for name in (stats + attempt, events + attempt):
            if os.path.exists(name):
                os.remove(name)
        error = run.stderr.decode("utf-8", "replace").strip().splitlines()
        return dict(result, ok=False, exit=run.returncode, error=error[-1] if error else "")
    os.replace(stats + attempt, stats)
    os.replace(events + attempt, events)
    placed = place_one_day(events, os.path.join(staging, ".."), path, index)
    return dict(result, ok=True, placed=placed)


def one_day(events):
    """The UTC day of every row of an events file, from its footer's statistics of
    `time` (pyarrow, when the executor has it); None when the rows span several days,
    the file is empty or the statistics are missing."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return None
    meta = pq.ParquetFile(events).metadata
    column = meta.schema.names.index("time")
    days = set()
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(column).statistics
        if stats is None or not stats.has_min_max:
            return None
        days.update((stats.min.strftime("%Y-%m-%d"), stats.max.strftime("%Y-%m-%d")))
    return days.pop() if len(days) == 1 else None


def place_one_day(events, out, path, index):
    """Moves a one-day events file straight to its partition (Spark's layout, the
    partition values in the path), sparing Spark the rewrite; False to leave it to
    Spark (several days, or a name Spark would escape)."""
    name = os.path.basename(path)
    day = one_day(events) if SAFE_NAME.fullmatch(name) else None
    if day is None:
        return False
    target = os.path.join(out, "events", f"capture={name}", f"day={day}")
    os.makedirs(target, exist_ok=True)
    os.replace(events, os.path.join(target, f"part-{index:08d}-xmppdump.parquet"))
    return True


def merge_stats(binary, documents, out_dir):
    """`xmppdump stats --merge` over the documents in order, in chunks; returns the
    merged document's path."""
    level = 0
    while len(documents) > MERGE_CHUNK or level == 0:
        merged = []
        for start in range(0, len(documents), MERGE_CHUNK):
            target = os.path.join(out_dir, f"merge-{level}-{start // MERGE_CHUNK:06d}.json")
            with open(target, "wb") as out:
                subprocess.run(
                    [binary, "stats", "--merge", "--format", "json", *documents[start : start + MERGE_CHUNK]],
                    stdout=out,
                    check=True,
                )
            merged.append(target)
        documents, level = merged, level + 1
    return documents[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="+", help="capture files, directories or globs (on storage every executor reads)")
    parser.add_argument("--out", required=True, help="output directory (on the same shared storage)")
    parser.add_argument("--binary", default=shutil.which("xmppdump") or "target/release/xmppdump",
                        help="the xmppdump binary shipped to the executors")
    parser.add_argument("--keylog", help="one NSS key log for every file (default: NAME.keylog beside each capture)")
    parser.add_argument("--xmppdump-arg", action="append", default=[], dest="extra",
                        help="another option for every xmppdump run, e.g. --xmppdump-arg=--port=5280")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a file failed")
    args = parser.parse_args(argv)

    from pyspark.sql import SparkSession, functions as F

    captures = list_captures(args.inputs)
    if not captures:
        print(f"xmppdump_spark: no capture files in {args.inputs}", file=sys.stderr)
        return 2
    out = os.path.abspath(args.out)
    staging = os.path.join(out, "_staging")
    shutil.rmtree(os.path.join(out, "events"), ignore_errors=True)
    for sub in ("events", "stats", "merge"):
        os.makedirs(os.path.join(staging, sub), exist_ok=True)
    binary = os.path.abspath(args.binary)
    keylog = os.path.abspath(args.keylog) if args.keylog else None

    spark = (
        SparkSession.builder.appName("xmppdump")
        .config("spark.sql.session.timeZone", "UTC")
        # Parquet timestamps as the events have them, not Spark's legacy INT96.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .getOrCreate()
    )
    spark.sparkContext.addFile(binary)
    tasks = [(i, path, staging, keylog, args.extra) for i, path in enumerate(captures)]
    results = spark.sparkContext.parallelize(tasks, len(tasks)).map(analyse).collect()
    results.sort(key=lambda r: r["index"])
    with open(os.path.join(out, "files.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    done = [r for r in results if r["ok"]]
    for r in results:
        if not r["ok"]:
            print(f"xmppdump_spark: {r['file']}: {r['error']}", file=sys.stderr)

    if done:
        documents = [os.path.join(staging, "stats", f"{r['index']:08d}.json") for r in done]
        merged = merge_stats(binary, documents, os.path.join(staging, "merge"))
        shutil.copyfile(merged, os.path.join(out, "stats.json"))
        subprocess.run(
            [binary, "stats", "--merge", merged, "--format", "parquet", "--out-dir", os.path.join(out, "stats")],
            check=True,
        )
    # Files whose rows span several days (or that the executor could not place)
    # are rewritten by Spark into their partitions.
    rest = [r for r in done if not r.get("placed")]
    if rest:
        names = spark.createDataFrame(
            [(r["index"], os.path.basename(r["file"])) for r in rest], "index INT, capture STRING"
        )
        staged = [os.path.join(staging, "events", f"{r['index']:08d}.parquet") for r in rest]
        events = (
            spark.read.parquet(*staged)
            .withColumn("index", F.regexp_extract(F.input_file_name(), r"(\d+)\.parquet$", 1).cast("int"))
            .join(F.broadcast(names), "index")
            .drop("index")
            .withColumn("day", F.date_format("time", "yyyy-MM-dd"))
        )
        events.write.mode("append").partitionBy("capture", "day").parquet(os.path.join(out, "events"))
    spark.stop()
    shutil.rmtree(staging, ignore_errors=True)
    failed = len(results) - len(done)
    size = sum(r["bytes"] for r in done)
    print(f"xmppdump_spark: {len(done)} of {len(results)} files analysed ({size} bytes), {failed} failed; results in {out}")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
