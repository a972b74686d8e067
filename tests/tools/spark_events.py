#!/usr/bin/env python3
"""Checks the events the Spark job wrote (OUT/events, partitioned by capture and day)
against each capture's own `xmppdump --parquet` file, with pyarrow: the same rows
(every column, order aside) per capture, and each row's `day` the UTC date of its
`time`. Prints `ok N rows in M captures` or the differences; exit 1 on any.

Usage: spark_events.py OUT/events CAPTURE_NAME=EVENTS.parquet ...
"""
import sys

import pyarrow.dataset as ds
import pyarrow.parquet as pq

KEY = ("time_ns", "flow", "dir", "offset", "frame", "event")


def rows(table):
    return sorted(table.to_pylist(), key=lambda r: tuple(r[k] for k in KEY))


def main():
    spark = ds.dataset(sys.argv[1], format="parquet", partitioning="hive").to_table()
    problems, total = [], 0
    expected = dict(arg.split("=", 1) for arg in sys.argv[2:])
    captures = set(spark.column("capture").to_pylist())
    if captures != set(expected):
        problems.append(f"captures {sorted(captures)} vs {sorted(expected)}")
    for name, path in sorted(expected.items()):
        mine = pq.read_table(path)
        theirs = spark.filter(ds.field("capture") == name)
        days = theirs.column("day").to_pylist()
        times = theirs.column("time").to_pylist()
        bad = [(d, t) for d, t in zip(days, times) if str(d) != t.strftime("%Y-%m-%d")]
        if bad:
            problems.append(f"{name}: day is not the date of time: {bad[:3]}")
        theirs = theirs.drop_columns(["capture", "day"]).select(mine.schema.names)
        if rows(theirs) != rows(mine):
            problems.append(f"{name}: {theirs.num_rows} rows differ from the capture's {mine.num_rows}")
        total += mine.num_rows
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"ok {total} rows in {len(expected)} captures")


if __name__ == "__main__":
    main()
