#!/usr/bin/env bash
# Side-by-side throughput and memory of xmppdump and tshark on one generated capture.
#   bench/compare.sh [SIZE] [FILE]      e.g. bench/compare.sh 500M /tmp/big.pcap
# Each xmppdump run is repeated REPEAT times (default 3; tshark runs once) and the
# fastest is shown, with the CPU seconds it used (user + system): on a shared or
# virtual machine single runs vary by 10-20 %, the fastest of a few much less.
# Needs: a release build (cargo build --release), tshark, GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-500M}
file=${2:-/tmp/xmppdump-bench-$size.pcap}
bin=./target/release/xmppdump
[ -x "$bin" ] || cargo build --release --quiet
[ -f "$file" ] || "$bin" gen --size "$size" --out "$file" > "$file.truth.json"
bytes=$(stat -c %s "$file")
packets=$("$bin" -r "$file" | tail -1 | sed -E 's/summary: ([0-9]+) packets.*/\1/')
echo "capture: $file, $bytes bytes, $packets packets; $(nproc) cores, $(uname -m)"
repeat=${REPEAT:-3}
echo "best of $repeat runs for xmppdump, one for tshark"
printf '%-28s %9s %9s %12s %10s %9s\n' tool seconds MB/s packets/s "peak RSS" "CPU s"
# measure NAME RUNS COMMAND...: the fastest of RUNS runs, the largest peak RSS.
measure() {
  local name=$1 runs=$2; shift 2
  local best="" best_cpu="" rss=0 run out secs cpu
  for ((run = 0; run < runs; run++)); do
    /usr/bin/time -o /tmp/xmppdump-bench.time -f '%e %M %U %S' "$@" > /dev/null 2>/dev/null
    out=$(tail -1 /tmp/xmppdump-bench.time)
    read -r secs peak user sys <<< "$out"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$secs best_cpu=$cpu
    fi
    [ "$peak" -gt "$rss" ] && rss=$peak
  done
  awk -v n="$name" -v s="$best" -v b="$bytes" -v p="$packets" -v r="$rss" -v c="$best_cpu" \
    'BEGIN { printf "%-28s %9.2f %9.1f %12.0f %7.1f MiB %9.2f\n", n, s, b/s/1e6, p/s, r/1024, c }'
  echo "$best" > "/tmp/xmppdump-bench-$name.secs"
}
measure xmppdump-events "$repeat" "$bin" -r "$file"
measure xmppdump-json "$repeat" "$bin" -r "$file" --json
measure xmppdump-stats "$repeat" "$bin" stats "$file"
# -j N: the same output on N threads (N = cores).
jobs=$(nproc)
measure "xmppdump-events-j$jobs" "$repeat" "$bin" -r "$file" -j "$jobs"
measure "xmppdump-json-j$jobs" "$repeat" "$bin" -r "$file" --json -j "$jobs"
measure "xmppdump-stats-j$jobs" "$repeat" "$bin" stats "$file" -j "$jobs"
for mode in events json stats; do
  awk -v a="$(cat /tmp/xmppdump-bench-xmppdump-$mode.secs)" -v b="$(cat /tmp/xmppdump-bench-xmppdump-$mode-j$jobs.secs)" -v m="$mode" -v j="$jobs" \
    'BEGIN { printf "speed-up of -j %d for %s: %.2fx\n", j, m, a/b }'
done
if command -v tshark > /dev/null; then
  measure tshark-Y-xmpp 1 tshark -r "$file" -Y xmpp
  for mode in events json stats; do
    awk -v a="$(cat /tmp/xmppdump-bench-tshark-Y-xmpp.secs)" -v b="$(cat /tmp/xmppdump-bench-xmppdump-$mode.secs)" -v m="$mode" \
      'BEGIN { printf "speed-up of xmppdump %s over tshark: %.1fx\n", m, a/b }'
  done
fi
