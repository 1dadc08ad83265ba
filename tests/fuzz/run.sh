#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each: tests/fuzz/run.sh BUILD_DIR [SECONDS] [extra libFuzzer flags]
# Each target's corpus grows in BUILD_DIR/corpus/<target>; the seeds here (and the golden model
# files, for the loader) are read-only. Figures (execs, cov:) are printed per target.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$1"
seconds="${2:-25}"
shift $(( $# >= 2 ? 2 : 1 ))
golden="$here/../golden"
declare -A seeds=(
  [fuzz_model_file]="$here/model_file $golden/v1"
  [fuzz_load_model]="$golden/v1"
  [fuzz_serve_request]="$here/serve_request"
)
for target in fuzz_model_file fuzz_load_model fuzz_serve_request; do
  binary="$build/tests/fuzz/$target"
  [ -x "$binary" ] || { echo "-- $target: not built"; exit 1; }
  corpus="$build/corpus/$target"
  mkdir -p "$corpus" "$build/crashes"
  echo "-- $target for ${seconds}s"
  log="$build/$target.log"
  status=0
  # shellcheck disable=SC2086
  ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS=print_stacktrace=1 \
    "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=131072 -timeout=20 -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$target-" "$@" "$corpus" ${seeds[$target]} >"$log" 2>&1 || status=$?
  grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
  if [ "$status" -ne 0 ]; then
    echo "-- $target failed (exit $status); the input is in $build/crashes/:"
    tail -n 60 "$log"
    exit 1
  fi
done
