#!/usr/bin/env bash
# Benchmark: stockflow's pipelines against the same jobs in pandas, on the same generated data.
#
#   bench/run.sh                          # both jobs at 1,000,000 orders, plus the RSS check
#   ORDERS=100000 bench/run.sh            # smaller data set
#   JOBS=monthly bench/run.sh             # one job: nightly (nightly-inventory) or monthly (monthly-finance)
#   BENCH_TOOLS=pandas bench/run.sh       # baseline only (no stockflow build)
#   RSS_SIZES="100000 1000000" bench/run.sh   # sizes of the RSS-flatness check ("" skips it)
#
# Creates bench/.venv from bench/requirements.txt, generates bench/data/$SIZE with
# fixtures/generate.py (once per size), builds stockflow in release mode, runs each job with
# both tools under GNU time and prints, per job, wall time, peak RSS and output rows side by
# side with the machine's 1-minute load average taken just before each run, and the
# pandas/stockflow ratios. For monthly-finance, bench/compare_monthly.py then checks that the two
# workbooks hold the same figures. The RSS-flatness check runs stockflow's monthly-finance at each
# size of RSS_SIZES and prints the peak RSS figures side by side (state should grow with
# products, customers and months, not with orders).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ORDERS="${ORDERS:-1000000}"
SEED="${SEED:-42}"
BENCH_TOOLS="${BENCH_TOOLS:-stockflow pandas}"
JOBS="${JOBS:-nightly monthly}"
RSS_SIZES="${RSS_SIZES-100000 1000000}"
VENV="bench/.venv"
OUT="$ROOT/bench/out"

die() { echo "bench: $*" >&2; exit 1; }
wants() { [[ " $BENCH_TOOLS " == *" $1 "* ]]; }
wants_job() { [[ " $JOBS " == *" $1 "* ]]; }
data_dir() { echo "$ROOT/bench/data/$1"; }

# Per job: the pipeline, its --as-of date, the pandas script.
pipeline_of() { case "$1" in nightly) echo pipelines/nightly-inventory.yml ;; monthly) echo pipelines/monthly-finance.yml ;; esac; }
as_of_of() { case "$1" in nightly) echo 2026-11-25 ;; monthly) echo 2026-11-30 ;; esac; }
baseline_of() { case "$1" in nightly) echo bench/pandas_nightly.py ;; monthly) echo bench/pandas_monthly.py ;; esac; }
title_of() { case "$1" in nightly) echo nightly-inventory ;; monthly) echo monthly-finance ;; esac; }

[[ "$ORDERS" =~ ^[0-9]+$ ]] || die "ORDERS must be a whole number, got '$ORDERS'"
for size in $RSS_SIZES; do
  [[ "$size" =~ ^[0-9]+$ ]] || die "RSS_SIZES must be whole numbers, got '$size'"
done
for tool in $BENCH_TOOLS; do
  [[ "$tool" == stockflow || "$tool" == pandas ]] \
    || die "unknown tool '$tool' in BENCH_TOOLS (expected stockflow and/or pandas)"
done
[[ -n "${JOBS// /}" ]] || die "JOBS is empty (expected nightly and/or monthly)"
for job in $JOBS; do
  [[ "$job" == nightly || "$job" == monthly ]] \
    || die "unknown job '$job' in JOBS (expected nightly and/or monthly)"
done
# The RSS check is about stockflow's monthly-finance.
rss_check() { wants stockflow && wants_job monthly && [[ -n "${RSS_SIZES// /}" ]]; }

# --- Prerequisites, checked before anything slow ---
if wants stockflow; then
  [[ -f Package.swift ]] || die "no Package.swift at $ROOT: stockflow is not there yet (BENCH_TOOLS=pandas runs the baseline alone)"
  for job in $JOBS; do
    [[ -f "$(pipeline_of "$job")" ]] || die "$(pipeline_of "$job") is missing: stockflow's $(title_of "$job") pipeline is not there yet (BENCH_TOOLS=pandas runs the baseline alone)"
  done
  command -v swift >/dev/null || die "swift is not on PATH"
fi
SIZES="$ORDERS"
if rss_check; then SIZES="$ORDERS $RSS_SIZES"; fi
for size in $SIZES; do
  [[ -f fixtures/generate.py || -f "$(data_dir "$size")/inventory.sqlite3" ]] \
    || die "fixtures/generate.py is missing and $(data_dir "$size") has no data yet"
done

if [[ ! -x /usr/bin/time ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "bench: installing GNU time (apt package 'time')"
    apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
  fi
  [[ -x /usr/bin/time ]] || die "GNU time is required at /usr/bin/time (apt-get install time)"
fi

# --- Python environment for the baselines and the figures check (rebuilt when requirements.txt changes) ---
if ! cmp -s bench/requirements.txt "$VENV/requirements.installed" 2>/dev/null; then
  if wants pandas; then
    echo "bench: creating $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt
    cp bench/requirements.txt "$VENV/requirements.installed"
  fi
fi

# --- Data, generated once per size into a temporary directory, then moved into place ---
generate() {
  local size="$1" data
  data="$(data_dir "$size")"
  if [[ ! -f "$data/inventory.sqlite3" || ! -f "$data/commandes.csv" ]]; then
    echo "bench: generating $size orders into bench/data/$size"
    mkdir -p "$(dirname "$data")"
    rm -rf "$data.tmp"
    python3 fixtures/generate.py --orders "$size" --seed "$SEED" --out "$data.tmp" \
      >"$data.generate.json"  # the generator's summary (tables, row counts)
    rm -rf "$data"
    mv "$data.tmp" "$data"
  fi
}
for size in $SIZES; do generate "$size"; done

# --- stockflow, release build ---
if wants stockflow; then
  echo "bench: building stockflow (release)"
  swift build -c release --scratch-path .build-release --product stockflow >/dev/null \
    || die "swift build -c release --scratch-path .build-release --product stockflow failed (run it by hand to see why)"
  STOCKFLOW="$(swift build -c release --scratch-path .build-release --show-bin-path)/stockflow"
  [[ -x "$STOCKFLOW" ]] || die "no stockflow binary at $STOCKFLOW after the build"
fi

load1() { cut -d' ' -f1 /proc/loadavg; }

# measure NAME CMD...: runs CMD under GNU time with output in bench/out/NAME and records
# "wall_seconds peak_rss_kb" in bench/out/NAME.time, the 1-minute load average just before the
# run in NAME.load and the log in NAME.log.
measure() {
  local name="$1"; shift
  rm -rf "${OUT:?}/$name" "$OUT/$name.time" "$OUT/$name.log" "$OUT/$name.load"
  mkdir -p "$OUT/$name"
  load1 >"$OUT/$name.load"
  echo "bench: running $name (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  if ! /usr/bin/time -f '%e %M' -o "$OUT/$name.time" "$@" >"$OUT/$name.log" 2>&1; then
    echo "bench: $name failed; last lines of bench/out/$name.log:" >&2
    tail -n 20 "$OUT/$name.log" >&2
    return 1
  fi
}

# only_of JOB: the stages compared with the baseline (the nightly pipeline also renders an HTML
# report and an email digest, which the pandas script does not do; --only workbook leaves them out).
only_of() { case "$1" in nightly) echo "--only workbook" ;; monthly) echo "" ;; esac; }

# run_stockflow NAME JOB SIZE
run_stockflow() {
  # shellcheck disable=SC2046
  measure "$1" env STOCKFLOW_FIXTURES="$(data_dir "$3")" \
    "$STOCKFLOW" run "$(pipeline_of "$2")" --out "$OUT/$1" --as-of "$(as_of_of "$2")" $(only_of "$2") \
    --state "$OUT/$1.state.sqlite"
}

# output_rows NAME: total <row> count over every .xlsx the run wrote (headers included).
output_rows() {
  local total=0 file rows
  while IFS= read -r -d '' file; do
    rows=$(python3 bench/xlsx_rows.py "$file" | awk -F'\t' '$1 == "total" { print $2 }')
    total=$((total + rows))
  done < <(find "$OUT/$1" -name '*.xlsx' -print0)
  echo "$total"
}

mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

status=0
for job in $JOBS; do
  if wants stockflow; then
    run_stockflow "stockflow-$job" "$job" "$ORDERS" || status=1
  fi
  if wants pandas; then
    measure "pandas-$job" "$VENV/bin/python" "$(baseline_of "$job")" "$(data_dir "$ORDERS")" "$OUT/pandas-$job" \
      && cat "$OUT/pandas-$job.log" || status=1
  fi
done
if rss_check; then
  for size in $RSS_SIZES; do
    [[ "$size" == "$ORDERS" ]] && continue  # the monthly run above is that size
    run_stockflow "stockflow-monthly-$size" monthly "$size" || status=1
  done
fi
[[ $status -eq 0 ]] || die "a run failed; see above"

# --- Report ---
for job in $JOBS; do
  echo
  echo "$(title_of "$job"), $ORDERS orders ($(nproc) cores)"
  printf '%-10s %10s %14s %12s %10s\n' tool "wall s" "peak RSS MB" "output rows" "load 1m"
  for tool in $BENCH_TOOLS; do
    read -r wall rss < "$OUT/$tool-$job.time"
    printf '%-10s %10.2f %14s %12s %10s\n' "$tool" "$wall" "$(mb "$rss")" \
      "$(output_rows "$tool-$job")" "$(cat "$OUT/$tool-$job.load")"
  done
  if wants stockflow && wants pandas; then
    read -r sf_wall sf_rss < "$OUT/stockflow-$job.time"
    read -r pd_wall pd_rss < "$OUT/pandas-$job.time"
    awk -v p="$pd_wall" -v s="$sf_wall" -v pm="$pd_rss" -v sm="$sf_rss" 'BEGIN {
      if (s > 0) printf "pandas/stockflow time: %.1fx\n", p / s
      if (sm > 0) printf "pandas/stockflow peak RSS: %.1fx\n", pm / sm
    }'
    if [[ "$job" == monthly ]]; then
      "$VENV/bin/python" bench/compare_monthly.py "$OUT/stockflow-monthly" "$OUT/pandas-monthly" \
        >"$OUT/compare-monthly.log" 2>&1 || status=1
      tail -n 1 "$OUT/compare-monthly.log"
      [[ $status -eq 0 ]] || echo "bench: see bench/out/compare-monthly.log" >&2
    fi
  fi
done

if rss_check; then
  echo
  echo "stockflow monthly-finance peak RSS by orders (should be flat)"
  printf '%-10s %10s %14s %10s\n' orders "wall s" "peak RSS MB" "load 1m"
  for size in $RSS_SIZES; do
    name="stockflow-monthly-$size"
    [[ "$size" == "$ORDERS" ]] && name="stockflow-monthly"
    read -r wall rss < "$OUT/$name.time"
    printf '%-10s %10.2f %14s %10s\n' "$size" "$wall" "$(mb "$rss")" "$(cat "$OUT/$name.load")"
  done
fi
[[ $status -eq 0 ]] || die "monthly-finance figures differ between stockflow and pandas (bench/out/compare-monthly.log)"
