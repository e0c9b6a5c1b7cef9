#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/Package.swift, scratch path .build-fuzz) and runs each for
# FUZZ_SECONDS (default 60) from its committed seeds in fuzz/corpus/<target>/. New inputs go to
# .build-fuzz/corpus/<target>/, crashes to .build-fuzz/crashes/<target>/. Exits 1 after a crash,
# printing the reproducer: its file, the command that replays it, and its bytes in base64.
#   FUZZ_SECONDS=600 FUZZ_TARGETS="csv cron" fuzz/run.sh
#   FUZZ_NO_BUILD=1 FUZZ_TARGETS=pipeline fuzz/run.sh   (the binaries already in .build-fuzz)
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"csv pipeline cron expression"}
SWIFT=${SWIFT:-swift}
SCRATCH="$PWD/.build-fuzz"
# SwiftPM's debug flags (-Onone -g) leave Swift code without coverage counters under --sanitize=fuzzer;
# asking for the coverage explicitly gives libFuzzer its feedback from StockflowCore's own code.
BUILD=("$SWIFT" build --package-path fuzz --scratch-path "$SCRATCH" --sanitize=fuzzer --sanitize=address
       -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp)

# FUZZ_NO_BUILD=1 runs the binaries already built (several targets at once, sources being edited).
if [ -z "${FUZZ_NO_BUILD:-}" ]; then
  "${BUILD[@]}" || { echo "fuzz: the fuzz targets do not build"; exit 1; }
fi
BIN="$("${BUILD[@]}" --show-bin-path)"

failed=0
for target in $TARGETS; do
  case "$target" in
    csv) exe=FuzzCSV; extra=(-close_fd_mask=2) ;;  # the pipeline runs log to stderr
    pipeline) exe=FuzzPipeline; extra=() ;;
    cron) exe=FuzzCron; extra=() ;;
    expression) exe=FuzzExpression; extra=() ;;
    *) echo "fuzz: unknown target '$target' (csv, pipeline, cron, expression)"; exit 2 ;;
  esac
  work="$SCRATCH/corpus/$target"
  crashes="$SCRATCH/crashes/$target"
  mkdir -p "$work" "$crashes"
  log="$SCRATCH/$target.log"
  echo "== fuzz $target: $BIN/$exe for ${SECONDS_EACH}s (log: $log)"
  # detect_leaks=0: LeakSanitizer reports Foundation's own (FileManager.contents(atPath:) on an empty
  # file keeps its 4 KiB buffer), which is no crash of stockflow's.
  ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" "$BIN/$exe" -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=3072 -max_len=16384 -print_final_stats=1 -detect_leaks=0 \
    -artifact_prefix="$crashes/" "${extra[@]}" "$work" "fuzz/corpus/$target" >"$log" 2>&1 &
  pid=$!
  wait "$pid"
  status=$?
  rm -rf "/dev/shm/stockflow-fuzz-$pid" "${TMPDIR:-/tmp}/stockflow-fuzz-$pid"
  grep -E "^(Done [0-9]+ runs|stat::average_exec_per_sec|stat::peak_rss_mb)" "$log" | sort -u | sed 's/^/   /'
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "!! fuzz $target FAILED (exit $status):"
    grep -E "ERROR: |==[0-9]+==|Fatal error|invariant broken|SUMMARY" "$log" | head -n 20 | sed 's/^/   /'
    reproducer=$(ls -t "$crashes"/* 2>/dev/null | head -n 1)
    if [ -n "$reproducer" ]; then
      echo "   reproducer: $reproducer"
      echo "   replay:     $BIN/$exe $reproducer"
      echo "   base64:     $(base64 -w0 "$reproducer")"
    fi
  fi
done
exit "$failed"
