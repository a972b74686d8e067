#!/usr/bin/env bash
# The Spark job's throughput in local mode over a directory of generated captures,
# with local[1] and local[2].
#   bench/spark.sh [FILES] [SIZE]       e.g. bench/spark.sh 8 50M
# Needs: a release build, pyspark (pip) and Java.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-8}
size=${2:-50M}
bin=./target/release/xmppdump
dir=${TMPDIR:-/tmp}/xmppdump-bench-spark-$files-$size
[ -x "$bin" ] || cargo build --release --quiet
mkdir -p "$dir/in"
for i in $(seq 1 "$files"); do
  [ -f "$dir/in/g$i.pcap" ] || "$bin" gen --size "$size" --seed "$i" --out "$dir/in/g$i.pcap" > /dev/null
done
bytes=$(du -cb "$dir"/in/*.pcap | tail -1 | cut -f1)
echo "$files captures of $size, $bytes bytes; $(nproc) cores"
for cores in 1 2; do
  rm -rf "$dir/out"
  start=$(date +%s.%N)
  spark-submit --master "local[$cores]" integrations/spark/xmppdump_spark.py \
    --binary "$bin" --out "$dir/out" "$dir/in" > /dev/null 2> "$dir/log"
  end=$(date +%s.%N)
  awk -v c="$cores" -v a="$start" -v e="$end" -v b="$bytes" \
    'BEGIN { s = e - a; printf "local[%d]: %.1f s, %.1f MB/s (Spark start-up and the partitioned write included)\n", c, s, b/s/1e6 }'
done
