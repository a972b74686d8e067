#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), from fuzz/corpus/<target>,
# seeded from fuzz/seeds/<target> and, for the capture readers, from captures/.
#   fuzz/run.sh 1800        # 30 minutes per target
#   FUZZ_DEV=1 fuzz/run.sh 5   # the CI smoke run: targets built unoptimised, which
#                              # builds in half the time and only runs slower
# cargo-fuzz uses nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them. Crashes are saved in fuzz/artifacts/<target>/.
set -euo pipefail
build=()
[ "${FUZZ_DEV:-0}" = 1 ] && build=(--dev)
cd "$(dirname "$0")"
seconds=${1:-60}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked
for target in capture decode framer blocks pipeline rules stream segmentation websocket bosh tls keylog inflate ws_deflate zlib; do
  mkdir -p "corpus/$target"
  if [ -d "seeds/$target" ]; then cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true; fi
  # The captures under 1 MB (the fuzzer reads at most 256 KiB of an input anyway).
  case $target in capture|pipeline) find ../captures -maxdepth 1 -name '*.pcap' -size -1M -exec cp -n {} "corpus/$target/" \; ;; esac
  echo "== $target ($seconds s)"
  cargo fuzz run "${build[@]}" "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=262144 -print_final_stats=1 2>&1 \
    | grep -E "^stat::(number_of_executed_units|peak_rss_mb|new_units_added)|^#[0-9]+ *DONE|ERROR|SUMMARY" || true
  if ls "artifacts/$target"/crash-* "artifacts/$target"/oom-* "artifacts/$target"/timeout-* > /dev/null 2>&1; then
    echo "fuzz target $target found a problem: see fuzz/artifacts/$target" >&2
    exit 1
  fi
done
