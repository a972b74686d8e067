#!/usr/bin/env python3
"""Answers report questions with DuckDB over an events Parquet file (`xmppdump
--parquet`) and checks each answer against `xmppdump stats --format json` of the same
capture: presence share of stanza bytes (per hour, and over the capture, equal to
`presence_ratios.all.of_stanza_bytes`), messages per minute, and iq requests per
payload namespace. Prints the per-hour table, then `ok` or the differences (exit 1).

Usage: duckdb_report.py EVENTS.parquet STATS.json
"""
import json
import sys

import duckdb

PER_HOUR = """
SELECT date_trunc('hour', time) AS hour,
       sum(size) FILTER (WHERE event = 'presence') AS presence_bytes,
       sum(size) FILTER (WHERE event IN ('message', 'presence', 'iq')) AS stanza_bytes,
       presence_bytes / stanza_bytes AS presence_share
FROM read_parquet($file)
GROUP BY hour ORDER BY hour
"""
MESSAGES_PER_MINUTE = """
SELECT strftime(date_trunc('minute', time), '%Y-%m-%dT%H:%MZ') AS minute, count(*) AS messages
FROM read_parquet($file) WHERE event = 'message'
GROUP BY minute ORDER BY minute
"""
IQ_REQUESTS = """
SELECT payload, count(*) AS requests
FROM read_parquet($file) WHERE event = 'iq' AND type IN ('get', 'set') AND payload IS NOT NULL
GROUP BY payload ORDER BY payload
"""


def main():
    parquet, stats_path = sys.argv[1], sys.argv[2]
    with open(stats_path, encoding="utf-8") as f:
        stats = json.load(f)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    problems = []

    hours = con.execute(PER_HOUR, {"file": parquet}).fetchall()
    for hour, presence, stanzas, share in hours:
        print(f"{hour:%Y-%m-%d %H:00}  presence {presence or 0} of {stanzas or 0} stanza bytes"
              f"  {'-' if share is None else f'{share:.1%}'}")
    presence = sum(h[1] or 0 for h in hours)
    stanzas = sum(h[2] or 0 for h in hours)
    traffic = stats["traffic"]
    want_presence = sum(r["bytes"] for r in traffic if r["class"] == "presence")
    want_stanzas = sum(r["bytes"] for r in traffic if r["class"] in ("message", "presence", "iq"))
    if (presence, stanzas) != (want_presence, want_stanzas):
        problems.append(f"bytes {presence}/{stanzas} vs stats {want_presence}/{want_stanzas}")
    share = stats["presence_ratios"].get("all", {}).get("of_stanza_bytes")
    if stanzas and share != presence / stanzas:
        problems.append(f"presence share {presence / stanzas} vs stats {share}")

    minutes = dict(con.execute(MESSAGES_PER_MINUTE, {"file": parquet}).fetchall())
    if minutes != stats["messages_per_minute"]:
        problems.append(f"messages per minute {minutes} vs {stats['messages_per_minute']}")

    requests = dict(con.execute(IQ_REQUESTS, {"file": parquet}).fetchall())
    want = {ns: row["requests"] for ns, row in stats["iq"].items() if row["requests"]}
    if requests != want:
        problems.append(f"iq requests {requests} vs {want}")

    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"ok: presence {presence} of {stanzas} stanza bytes")


if __name__ == "__main__":
    main()
