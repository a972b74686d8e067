#!/usr/bin/env python3
"""Checks an events Parquet file (`xmppdump --parquet`) against the NDJSON of the same
run (`xmppdump --json`), with pyarrow: the documented schema (docs/parquet.md), one
row per event in order, and every column equal to what the NDJSON says under the
documented mapping. Prints `ok N rows` or the first differences; exit 1 on any.

Usage: parquet_roundtrip.py EVENTS.ndjson EVENTS.parquet
"""
import calendar
import datetime
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq

# docs/parquet.md, schema events/1: (column, arrow type, nullable).
POSITION = [
    ("time", pa.timestamp("us", tz="UTC"), False),
    ("time_ns", pa.int64(), False),
    ("flow", pa.int64(), False),
    ("dir", pa.string(), False),
    ("frame", pa.int64(), False),
    ("offset", pa.int64(), False),
    ("size", pa.int64(), False),
    ("decrypted", pa.bool_(), False),
    ("event", pa.string(), False),
]
TEXT, INT, LIST = "text", "int", "list"
TYPED = [
    ("type", TEXT), ("id", TEXT), ("from", TEXT), ("from_local", TEXT),
    ("from_domain", TEXT), ("from_resource", TEXT), ("to", TEXT), ("to_local", TEXT),
    ("to_domain", TEXT), ("to_resource", TEXT), ("payload", TEXT),
    ("payload_name", TEXT), ("extensions", LIST), ("body_len", INT), ("subject", TEXT),
    ("thread", TEXT), ("show", TEXT), ("status", TEXT), ("priority", INT),
    ("bind_resource", TEXT), ("bound_jid", TEXT), ("error", TEXT), ("digest", TEXT),
    ("wrapper", TEXT), ("stream_kind", TEXT), ("version", TEXT), ("namespace", TEXT),
    ("condition", TEXT), ("anomaly", TEXT), ("detail", TEXT),
]
ARROW = {TEXT: pa.string(), INT: pa.int64(), LIST: pa.list_(pa.field("element", pa.string(), False))}
PARTS = {"from_local", "from_domain", "from_resource", "to_local", "to_domain", "to_resource"}


def expected_schema():
    fields = [pa.field(n, t, nullable=nullable) for n, t, nullable in POSITION]
    for name, kind in TYPED:
        t = pa.int32() if name == "priority" else ARROW[kind]
        fields.append(pa.field(name, t))
    fields.append(pa.field("extra", pa.string()))
    return pa.schema(fields)


def nanoseconds(text):
    """RFC 3339 UTC with 6 or 9 fraction digits, as the NDJSON writes it."""
    assert text.endswith("Z"), text
    whole, _, fraction = text[:-1].partition(".")
    seconds = calendar.timegm(datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").timetuple())
    return seconds * 10**9 + int((fraction + "000000000")[:9])


def fits(kind, value):
    if kind == TEXT:
        return isinstance(value, str)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def parts(address):
    """RFC 7622 §3.1: split at the first '/', then at the first '@' before it."""
    bare, slash, resource = address.partition("/")
    local, at, domain = bare.partition("@")
    if not at:
        local, domain = None, bare
    return local, domain, resource if slash else None


def expected_row(event):
    row = {
        "time": datetime.datetime.fromtimestamp(0, datetime.timezone.utc)
        + datetime.timedelta(microseconds=nanoseconds(event["time"]) // 1000),
        "time_ns": nanoseconds(event["time"]),
        "decrypted": event.get("decrypted", False),
    }
    for key in ("flow", "dir", "frame", "offset", "size", "event"):
        row[key] = event[key]
    rest = {k: v for k, v in event.items() if k not in row}
    for name, kind in TYPED:
        row[name] = None
        if name in PARTS:
            continue
        if name in rest and fits(kind, rest[name]):
            row[name] = rest.pop(name)
    for side in ("from", "to"):
        if row[side] is not None:
            local, domain, resource = parts(row[side])
            row[f"{side}_local"], row[f"{side}_domain"], row[f"{side}_resource"] = local, domain, resource
    row["extra"] = rest or None
    return row


def main():
    ndjson_path, parquet_path = sys.argv[1], sys.argv[2]
    with open(ndjson_path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    summary = [e for e in lines if e.get("event") == "summary"]
    events = [e for e in lines if e.get("event") != "summary"]
    file = pq.ParquetFile(parquet_path)
    problems = []
    if file.schema_arrow.remove_metadata() != expected_schema():
        problems.append(f"schema differs:\n{file.schema_arrow}")
    metadata = file.metadata.metadata or {}
    if metadata.get(b"xmppdump.schema") != b"events/1":
        problems.append(f"footer schema version: {metadata.get(b'xmppdump.schema')}")
    if summary and json.loads(metadata.get(b"xmppdump.summary", b"{}")) != {
        k: v for k, v in summary[0].items() if k != "event"
    }:
        problems.append("footer summary differs from the NDJSON summary")
    rows = file.read().to_pylist()
    if len(rows) != len(events):
        problems.append(f"{len(rows)} rows for {len(events)} NDJSON events")
    for i, (row, event) in enumerate(zip(rows, events)):
        want = expected_row(event)
        got = dict(row)
        got["extra"] = json.loads(got["extra"]) if got["extra"] is not None else None
        if got != want:
            diff = {k: (got.get(k), want.get(k)) for k in want if got.get(k) != want.get(k)}
            problems.append(f"row {i} ({event['event']}): {diff}")
        if len(problems) > 5:
            break
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"ok {len(rows)} rows")


if __name__ == "__main__":
    main()
