#!/usr/bin/env bash
# Benchmark: stockflow's pipelines against the same jobs in pandas, polars and DuckDB, and against
# C floors, on the same generated data, side by side in one run.
#
#   bench/run.sh                          # both jobs at 1,000,000 orders, 3 interleaved repetitions
#   ORDERS=100000 bench/run.sh            # smaller data set (a quick run)
#   REPEAT=1 bench/run.sh                 # repetitions per tool (medians are printed)
#   JOBS=monthly bench/run.sh             # one job: nightly (nightly-inventory) or monthly (monthly-finance)
#   BENCH_TOOLS="stockflow pandas" bench/run.sh   # a subset of: stockflow stockflow1 stockflow3 polars duckdb pandas floors
#   JOBS=nightly BENCH_TOOLS="stockflow stockflow1 floors" RSS_SIZES= bench/run.sh
#                                         # threads: stockflow1 is stockflow with STOCKFLOW_THREADS=1 (every
#                                         # stage on one thread) beside the default (each load on its own thread);
#                                         # stockflow3 is STOCKFLOW_THREADS=3 (a monthly run without the folding
#                                         # thread: the runner's, the workbook's and the extracts')
#   RSS_SIZES="100000 1000000" bench/run.sh   # sizes of the RSS-flatness check ("" skips it)
#   ORDERS=10000000 CATALOGUE_ORDERS=1000000 bench/run.sh   # 10M orders over the 1M catalogue (customers,
#                                         # products, suppliers fixed): time linear, memory flat
#   STOCKFLOW_BIN=path/to/stockflow bench/run.sh  # bench that binary instead of building one
#   STOCKFLOW_BASE_BIN=path/to/older/stockflow BENCH_TOOLS="stockflow base floors" bench/run.sh
#                                         # base: another stockflow binary (the previous commit's), run
#                                         # interleaved with the first, for a before/after ratio
#
# Creates bench/.venv from bench/requirements.txt, generates bench/data/$SIZE with
# fixtures/generate.py (once per size), builds stockflow in release mode and the floors
# (bench/floors/*.c) with gcc, then runs every tool of each job REPEAT times, interleaved (rep 1 of
# every tool, then rep 2, ...), under GNU time. The tools per job:
#   monthly-finance: stockflow, polars (connectorx, two read partitions), DuckDB (its own SQLite
#     reader), pandas, and the read floor (read_floor.c: sqlite3_step over the columns the job needs
#     of stock_commande and stock_facture);
#   nightly-inventory (its workbook): stockflow, pandas + XlsxWriter, and the write floor
#     (write_floor.c: the cells of stockflow's workbook written from memory with libxlsxwriter in
#     constant-memory mode; the cells are dumped from stockflow's first workbook, untimed).
# It prints per job the medians of wall time and peak RSS, the output rows, the machine's 1-minute
# load average before each repetition, and the ratios to each peer and floor (a floor's time is the
# time it reports for the work itself: the scan, or workbook_new to workbook_close). For
# monthly-finance, bench/compare_monthly.py then checks that every peer's workbook holds
# stockflow's figures. The RSS-flatness check runs stockflow's monthly-finance at each size of
# RSS_SIZES and prints the peak RSS figures side by side (state should grow with products,
# customers and months, not with orders). The tables also go to bench/out/summary.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ORDERS="${ORDERS:-1000000}"
SEED="${SEED:-42}"
BENCH_TOOLS="${BENCH_TOOLS:-stockflow polars duckdb pandas floors}"
REPEAT="${REPEAT:-3}"
JOBS="${JOBS:-nightly monthly}"
RSS_SIZES="${RSS_SIZES-100000 1000000}"
VENV="bench/.venv"
OUT="${BENCH_OUT:-$ROOT/bench/out}"   # BENCH_OUT=dir: outputs and tables elsewhere (two benchmarks side by side)

die() { echo "bench: $*" >&2; exit 1; }
wants() { [[ " $BENCH_TOOLS " == *" $1 "* ]]; }
wants_job() { [[ " $JOBS " == *" $1 "* ]]; }
# CATALOGUE_ORDERS=M: products, customers and suppliers sized as for M orders whatever ORDERS is (data in
# bench/data/${ORDERS}c$M), to grow the orders alone: memory should then stay flat.
CATALOGUE_ORDERS="${CATALOGUE_ORDERS:-}"
data_dir() { echo "$ROOT/bench/data/$1${CATALOGUE_ORDERS:+c$CATALOGUE_ORDERS}"; }

# Per job: the pipeline, its --as-of date, the pandas script.
pipeline_of() { case "$1" in nightly) echo pipelines/nightly-inventory.yml ;; monthly) echo pipelines/monthly-finance.yml ;; esac; }
as_of_of() { case "$1" in nightly) echo 2026-11-25 ;; monthly) echo 2026-11-30 ;; esac; }
baseline_of() { case "$1" in nightly) echo bench/pandas_nightly.py ;; monthly) echo bench/pandas_monthly.py ;; esac; }
title_of() { case "$1" in nightly) echo nightly-inventory ;; monthly) echo monthly-finance ;; esac; }

[[ "$ORDERS" =~ ^[0-9]+$ ]] || die "ORDERS must be a whole number, got '$ORDERS'"
[[ -z "$CATALOGUE_ORDERS" || "$CATALOGUE_ORDERS" =~ ^[0-9]+$ ]] || die "CATALOGUE_ORDERS must be a whole number, got '$CATALOGUE_ORDERS'"
for size in $RSS_SIZES; do
  [[ "$size" =~ ^[0-9]+$ ]] || die "RSS_SIZES must be whole numbers, got '$size'"
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a whole number of at least 1, got '$REPEAT'"
for tool in $BENCH_TOOLS; do
  [[ " stockflow stockflow1 stockflow3 base pandas polars duckdb floors " == *" $tool "* ]] \
    || die "unknown tool '$tool' in BENCH_TOOLS (expected some of: stockflow stockflow1 stockflow3 base polars duckdb pandas floors)"
done
wants_python() { wants pandas || wants polars || wants duckdb; }
[[ -n "${JOBS// /}" ]] || die "JOBS is empty (expected nightly and/or monthly)"
for job in $JOBS; do
  [[ "$job" == nightly || "$job" == monthly ]] \
    || die "unknown job '$job' in JOBS (expected nightly and/or monthly)"
done
# The RSS check is about stockflow's monthly-finance.
rss_check() { wants stockflow && wants_job monthly && [[ -n "${RSS_SIZES// /}" ]]; }

# --- Prerequisites, checked before anything slow ---
for variant in stockflow1 stockflow3; do
  if wants "$variant" && ! wants stockflow; then die "$variant is compared with stockflow: add stockflow to BENCH_TOOLS"; fi
done
if wants base; then
  wants stockflow || die "base is compared with stockflow: add stockflow to BENCH_TOOLS"
  [[ -x "${STOCKFLOW_BASE_BIN:-}" ]] || die "base needs STOCKFLOW_BASE_BIN=path/to/another/stockflow (an executable)"
fi
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
  if wants_python; then
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
      ${CATALOGUE_ORDERS:+--catalogue-orders "$CATALOGUE_ORDERS"} >"$data.generate.json"  # the generator's summary (tables, row counts)
    rm -rf "$data"
    mv "$data.tmp" "$data"
  fi
}
for size in $SIZES; do generate "$size"; done

# --- stockflow, release build ---
if wants stockflow && [[ -n "${STOCKFLOW_BIN:-}" ]]; then
  # A given build (e.g. one kept from before a merge); no build here.
  STOCKFLOW="$STOCKFLOW_BIN"
  [[ -x "$STOCKFLOW" ]] || die "STOCKFLOW_BIN=$STOCKFLOW is not an executable"
  echo "bench: stockflow from STOCKFLOW_BIN=$STOCKFLOW (not built here)"
elif wants stockflow; then
  echo "bench: building stockflow (release)"
  swift build -c release --scratch-path .build-release --product stockflow >/dev/null \
    || die "swift build -c release --scratch-path .build-release --product stockflow failed (run it by hand to see why)"
  STOCKFLOW="$(swift build -c release --scratch-path .build-release --show-bin-path)/stockflow"
  [[ -x "$STOCKFLOW" ]] || die "no stockflow binary at $STOCKFLOW after the build"
fi

# --- floors, built with gcc (bench/floors/*.c) ---
FLOORS="$ROOT/bench/out/floors"
if wants floors; then
  command -v gcc >/dev/null || die "gcc is required for the floors (apt-get install gcc), or leave 'floors' out of BENCH_TOOLS"
  echo "bench: building the floors (gcc)"
  mkdir -p "$FLOORS"
  gcc -O2 -Wall -o "$FLOORS/read_floor" bench/floors/read_floor.c -lsqlite3 \
    || die "gcc failed on bench/floors/read_floor.c (libsqlite3-dev installed?)"
  gcc -O2 -Wall -o "$FLOORS/write_floor" bench/floors/write_floor.c -lxlsxwriter -lz \
    || die "gcc failed on bench/floors/write_floor.c (libxlsxwriter-dev installed?)"
fi

load1() { cut -d' ' -f1 /proc/loadavg; }

# measure NAME CMD...: runs CMD under GNU time with output in bench/out/NAME and records
# "wall_seconds peak_rss_kb user_seconds system_seconds" in bench/out/NAME.time, the 1-minute load average just before the
# run in NAME.load and the log in NAME.log.
measure() {
  local name="$1"; shift
  rm -rf "${OUT:?}/$name" "$OUT/$name.time" "$OUT/$name.log" "$OUT/$name.load"
  mkdir -p "$OUT/$name"
  load1 >"$OUT/$name.load"
  echo "bench: running $name (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  if ! /usr/bin/time -f '%e %M %U %S' -o "$OUT/$name.time" "$@" >"$OUT/$name.log" 2>&1; then
    echo "bench: $name failed; last lines of bench/out/$name.log:" >&2
    tail -n 20 "$OUT/$name.log" >&2
    return 1
  fi
}

# only_of JOB: the stages compared with the baseline (the nightly pipeline also renders an HTML
# report and an email digest, which the pandas script does not do; --only workbook leaves them out).
only_of() { case "$1" in nightly) echo "--only workbook" ;; monthly) echo "" ;; esac; }

# run_stockflow NAME JOB SIZE [THREADS]: THREADS sets STOCKFLOW_THREADS (unset: stockflow's default)
run_stockflow() {
  local threads=()
  [[ -n "${4:-}" ]] && threads=("STOCKFLOW_THREADS=$4")
  # shellcheck disable=SC2046
  measure "$1" env -u STOCKFLOW_THREADS STOCKFLOW_FIXTURES="$(data_dir "$3")" "${threads[@]}" \
    "$STOCKFLOW" run "$(pipeline_of "$2")" --out "$OUT/$1" --as-of "$(as_of_of "$2")" $(only_of "$2") \
    --state "$OUT/$1.state.sqlite"
}

# tools_of JOB: the tools measured for a job, in table order (stockflow first: the ratios are to it).
tools_of() {
  local job="$1" tool list=""
  for tool in stockflow stockflow1 stockflow3 base polars duckdb pandas; do
    [[ "$job" == nightly && ( "$tool" == polars || "$tool" == duckdb ) ]] && continue
    wants "$tool" && list="$list $tool"
  done
  if wants floors; then
    [[ "$job" == monthly ]] && list="$list read-floor"
    # The write floor writes stockflow's cells: it needs stockflow's workbook.
    [[ "$job" == nightly ]] && wants stockflow && list="$list write-floor"
  fi
  echo "$list"
}

# run_tool TOOL JOB REP
run_tool() {
  local tool="$1" job="$2" name="$1-$2-$3"
  case "$tool" in
    stockflow) run_stockflow "$name" "$job" "$ORDERS" ;;
    stockflow1) run_stockflow "$name" "$job" "$ORDERS" 1 ;;
    stockflow3) run_stockflow "$name" "$job" "$ORDERS" 3 ;;
    base) STOCKFLOW="$STOCKFLOW_BASE_BIN" run_stockflow "$name" "$job" "$ORDERS" ;;
    pandas) measure "$name" "$VENV/bin/python" "$(baseline_of "$job")" "$(data_dir "$ORDERS")" "$OUT/$name" ;;
    polars|duckdb) measure "$name" "$VENV/bin/python" "bench/${tool}_monthly.py" "$(data_dir "$ORDERS")" "$OUT/$name" ;;
    read-floor) measure "$name" "$FLOORS/read_floor" "$(data_dir "$ORDERS")/inventory.sqlite3" ;;
    write-floor)
      if [[ ! -f "$OUT/nightly-cells.tsv" ]]; then
        local book
        book="$(find "$OUT/stockflow-nightly-1" -name '*.xlsx' | head -n 1)"
        [[ -n "$book" ]] || { echo "bench: no stockflow nightly workbook to take the write floor's cells from" >&2; return 1; }
        echo "bench: dumping the cells of $(basename "$book") for the write floor (untimed)"
        python3 bench/floors/xlsx_cells.py "$book" >"$OUT/nightly-cells.tsv.tmp" && mv "$OUT/nightly-cells.tsv.tmp" "$OUT/nightly-cells.tsv"
      fi
      measure "$name" "$FLOORS/write_floor" "$OUT/nightly-cells.tsv" "$OUT/$name/inventaire.xlsx" ;;
  esac
}

status=0
rm -f "$OUT/nightly-cells.tsv"  # the write floor's cells come from this run's stockflow workbook
for rep in $(seq 1 "$REPEAT"); do
  for job in $JOBS; do
    for tool in $(tools_of "$job"); do
      run_tool "$tool" "$job" "$rep" || status=1
    done
  done
done
if rss_check; then
  for size in $RSS_SIZES; do
    [[ "$size" == "$ORDERS" ]] && continue  # the monthly runs above are that size
    run_stockflow "stockflow-monthly-$size" monthly "$size" || status=1
  done
fi
[[ $status -eq 0 ]] || die "a run failed; see above"

# --- Report ---
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
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# seconds_of NAME: wall seconds from GNU time, or for a floor the seconds it reports for its work.
seconds_of() {
  if [[ "$1" == *-floor-* ]]; then
    sed -n 's/.* \([0-9.]*\) s$/\1/p' "$OUT/$1.log" | tail -n 1
  else
    cut -d' ' -f1 "$OUT/$1.time"
  fi
}
# cpu_of NAME: user + system CPU seconds (less sensitive than wall time to other work on the machine)
cpu_of() { awk '{ printf "%.2f\n", $3 + $4 }' "$OUT/$1.time"; }
# median_of TOOL JOB wall|rss|cpu
median_of() {
  local rep
  for rep in $(seq 1 "$REPEAT"); do
    case "$3" in
      wall) seconds_of "$1-$2-$rep" ;;
      cpu) cpu_of "$1-$2-$rep" ;;
      *) cut -d' ' -f2 "$OUT/$1-$2-$rep.time" ;;
    esac
  done | median
}
loads_of() {
  local rep loads=""
  for rep in $(seq 1 "$REPEAT"); do loads="$loads${loads:+ }$(cat "$OUT/$1-$2-$rep.load")"; done
  echo "$loads"
}

SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
for job in $JOBS; do
  tools="$(tools_of "$job")"
  {
    echo
    echo "$(title_of "$job"), $ORDERS orders${CATALOGUE_ORDERS:+ (catalogue of $CATALOGUE_ORDERS)} ($(nproc) cores), medians of $REPEAT interleaved repetitions"
    printf '%-12s %10s %10s %14s %12s   %s\n' tool "wall s" "cpu s" "peak RSS MB" "output rows" "load 1m before each repetition"
    for tool in $tools; do
      rows="$(output_rows "$tool-$job-1")"
      [[ "$tool" == read-floor ]] && rows="-"
      printf '%-12s %10.2f %10.2f %14s %12s   %s\n' "$tool" "$(median_of "$tool" "$job" wall)" "$(median_of "$tool" "$job" cpu)" \
        "$(mb "$(median_of "$tool" "$job" rss)")" "$rows" "$(loads_of "$tool" "$job")"
    done
    if [[ " $tools " == *" stockflow "* ]]; then
      sf_wall="$(median_of stockflow "$job" wall)"
      sf_rss="$(median_of stockflow "$job" rss)"
      for tool in $tools; do
        [[ "$tool" == stockflow ]] && continue
        awk -v tool="$tool" -v t="$(median_of "$tool" "$job" wall)" -v m="$(median_of "$tool" "$job" rss)" \
            -v s="$sf_wall" -v sm="$sf_rss" 'BEGIN {
          if (tool ~ /floor/) {
            if (t > 0) printf "stockflow / %s time: %.2fx\n", tool, s / t
          } else {
            if (s > 0) printf "%s / stockflow time: %.2fx", tool, t / s
            if (sm > 0) printf ", peak RSS: %.2fx", m / sm
            printf "\n"
          }
        }'
      done
      if [[ "$tools" == *-floor* ]]; then
        echo "(a floor's time is that of its work alone: the scan, or workbook_new to workbook_close)"
      fi
    fi
  } | tee -a "$SUMMARY"
  if [[ "$job" == monthly && " $tools " == *" stockflow "* ]]; then
    peers=()
    for tool in polars duckdb pandas; do
      [[ " $tools " == *" $tool "* ]] && peers+=("$OUT/$tool-monthly-1")
    done
    if [[ ${#peers[@]} -gt 0 ]]; then
      if "$VENV/bin/python" bench/compare_monthly.py "$OUT/stockflow-monthly-1" "${peers[@]}" \
          >"$OUT/compare-monthly.log" 2>&1; then
        grep '^monthly-finance:' "$OUT/compare-monthly.log" | tee -a "$SUMMARY"
      else
        grep '^monthly-finance:' "$OUT/compare-monthly.log" | tee -a "$SUMMARY"
        echo "bench: see bench/out/compare-monthly.log" >&2
        status=1
      fi
    fi
  fi
done

if rss_check; then
  {
    echo
    echo "stockflow monthly-finance peak RSS by orders (should be flat)"
    printf '%-10s %10s %14s %10s\n' orders "wall s" "peak RSS MB" "load 1m"
    for size in $RSS_SIZES; do
      name="stockflow-monthly-$size"
      [[ "$size" == "$ORDERS" ]] && name="stockflow-monthly-1"
      read -r wall rss _ < "$OUT/$name.time"
      printf '%-10s %10.2f %14s %10s\n' "$size" "$wall" "$(mb "$rss")" "$(cat "$OUT/$name.load")"
    done
  } | tee -a "$SUMMARY"
fi
echo "bench: the tables above are in $SUMMARY"
[[ $status -eq 0 ]] || die "monthly-finance figures differ between stockflow and a peer (bench/out/compare-monthly.log)"
