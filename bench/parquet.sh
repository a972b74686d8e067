#!/usr/bin/env bash
# Parquet writing against NDJSON on one generated capture: time, throughput, peak
# RSS and file sizes (pcap, NDJSON, Parquet).
#   bench/parquet.sh [SIZE] [FILE]      e.g. bench/parquet.sh 500M /tmp/big.pcap
# Needs: a release build (cargo build --release), GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-500M}
file=${2:-/tmp/xmppdump-bench-$size.pcap}
bin=./target/release/xmppdump
out=${TMPDIR:-/tmp}/xmppdump-bench-parquet
mkdir -p "$out"
[ -x "$bin" ] || cargo build --release --quiet
[ -f "$file" ] || "$bin" gen --size "$size" --out "$file" > "$file.truth.json"
bytes=$(stat -c %s "$file")
echo "capture: $file, $bytes bytes; $(nproc) cores, $(uname -m)"
printf '%-26s %9s %9s %10s %12s\n' output seconds MB/s "peak RSS" "file bytes"
measure() {
  local name=$1 result=$2; shift 2
  /usr/bin/time -o "$out/time" -f '%e %M' "$@" > "$out/stdout" 2>/dev/null
  local t; t=$(tail -1 "$out/time")
  local secs=${t% *} rss=${t#* } written
  written=$(stat -c %s "$result")
  awk -v n="$name" -v s="$secs" -v b="$bytes" -v r="$rss" -v w="$written" \
    'BEGIN { printf "%-26s %9.2f %9.1f %6.1f MiB %12d\n", n, s, b/s/1e6, r/1024, w }'
}
measure "--json > file" "$out/stdout" "$bin" -r "$file" --json
cp "$out/stdout" "$out/events.ndjson"
measure "--parquet file" "$out/events.parquet" "$bin" -r "$file" --parquet "$out/events.parquet"
measure "--parquet file -j $(nproc)" "$out/events-j.parquet" "$bin" -r "$file" --parquet "$out/events-j.parquet" -j "$(nproc)"
measure "stats --parquet (1 pass)" "$out/events-stats.parquet" "$bin" stats "$file" --format json --parquet "$out/events-stats.parquet"
measure "stats (no events)" "$out/stdout" "$bin" stats "$file" --format json
awk -v p="$bytes" -v n="$(stat -c %s "$out/events.ndjson")" -v q="$(stat -c %s "$out/events.parquet")" \
  'BEGIN { printf "sizes: pcap %d, NDJSON %d (%.2fx pcap), Parquet %d (%.3fx pcap, %.1fx smaller than NDJSON)\n", p, n, n/p, q, q/p, n/q }'
