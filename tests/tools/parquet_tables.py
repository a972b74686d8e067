#!/usr/bin/env python3
"""Checks the statistics tables written by `stats --format parquet --out-dir P` against
`stats --format csv --out-dir C` of the same run, with pyarrow: the same tables, the
same columns and rows, each cell typed as docs/parquet.md says (integers, numbers
with percentages as fractions, text as written; `-` and empty cells of number
columns null). Prints `ok N tables` or the differences; exit 1 on any.

Usage: parquet_tables.py CSV_DIR PARQUET_DIR
"""
import csv
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def typed(cell, arrow_type):
    if pa.types.is_string(arrow_type):
        return cell
    if cell in ("", "-"):
        return None
    if pa.types.is_int64(arrow_type):
        return int(cell)
    if cell.endswith("%"):
        return float(cell[:-1] + "e-2")
    return float(cell)


def main():
    csv_dir, parquet_dir = sys.argv[1], sys.argv[2]
    names = sorted(n[:-4] for n in os.listdir(csv_dir) if n.endswith(".csv"))
    written = sorted(n[:-8] for n in os.listdir(parquet_dir) if n.endswith(".parquet"))
    problems = [] if names == written else [f"tables differ: {names} vs {written}"]
    for name in names:
        with open(os.path.join(csv_dir, name + ".csv"), newline="", encoding="utf-8") as f:
            header, *rows = list(csv.reader(f))
        file = pq.ParquetFile(os.path.join(parquet_dir, name + ".parquet"))
        meta = file.metadata.metadata or {}
        if meta.get(b"xmppdump.table") != name.encode() or not meta.get(b"xmppdump.schema", b"").startswith(b"stats/"):
            problems.append(f"{name}: footer {meta}")
        table = file.read()
        # A repeated header is named NAME_2, NAME_3… (docs/parquet.md).
        unique = []
        for h in header:
            name, n = h, 1
            while name in unique:
                n += 1
                name = f"{h}_{n}"
            unique.append(name)
        header = unique
        if table.schema.names != header:
            problems.append(f"{name}: columns {table.schema.names} vs {header}")
            continue
        got = table.to_pylist()
        if len(got) != len(rows):
            problems.append(f"{name}: {len(got)} rows vs {len(rows)}")
            continue
        for i, (row, cells) in enumerate(zip(got, rows)):
            want = {h: typed(c, table.schema.field(h).type) for h, c in zip(header, cells)}
            if row != want:
                problems.append(f"{name} row {i}: {row} vs {want}")
                break
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"ok {len(names)} tables")


if __name__ == "__main__":
    main()
