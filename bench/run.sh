#!/usr/bin/env bash
# Benchmark: stockflow's nightly-inventory pipeline against the same job in pandas.
#
#   bench/run.sh                  # 1,000,000 orders
#   ORDERS=100000 bench/run.sh    # smaller data set
#   BENCH_TOOLS=pandas bench/run.sh   # baseline only (no stockflow build)
#
# Creates bench/.venv from bench/requirements.txt, generates bench/data/$ORDERS with
# fixtures/generate.py (once), builds stockflow in release mode, runs both tools under
# GNU time and prints wall time, peak RSS and output rows side by side.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ORDERS="${ORDERS:-1000000}"
SEED="${SEED:-42}"
BENCH_TOOLS="${BENCH_TOOLS:-stockflow pandas}"
AS_OF="2026-11-25"
VENV="bench/.venv"
DATA="$ROOT/bench/data/$ORDERS"
OUT="$ROOT/bench/out"
PIPELINE="pipelines/nightly-inventory.yml"

die() { echo "bench: $*" >&2; exit 1; }
wants() { [[ " $BENCH_TOOLS " == *" $1 "* ]]; }

[[ "$ORDERS" =~ ^[0-9]+$ ]] || die "ORDERS must be a whole number, got '$ORDERS'"
for tool in $BENCH_TOOLS; do
  [[ "$tool" == stockflow || "$tool" == pandas ]] \
    || die "unknown tool '$tool' in BENCH_TOOLS (expected stockflow and/or pandas)"
done

# --- Prerequisites, checked before anything slow ---
if wants stockflow; then
  [[ -f Package.swift ]] || die "no Package.swift at $ROOT: stockflow is not there yet (BENCH_TOOLS=pandas runs the baseline alone)"
  [[ -f "$PIPELINE" ]] || die "$PIPELINE is missing: stockflow's nightly pipeline is not there yet (BENCH_TOOLS=pandas runs the baseline alone)"
  command -v swift >/dev/null || die "swift is not on PATH"
fi
[[ -f fixtures/generate.py || -f "$DATA/inventory.sqlite3" ]] \
  || die "fixtures/generate.py is missing and $DATA has no data yet"

if [[ ! -x /usr/bin/time ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "bench: installing GNU time (apt package 'time')"
    apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
  fi
  [[ -x /usr/bin/time ]] || die "GNU time is required at /usr/bin/time (apt-get install time)"
fi

# --- Python environment for the baseline (rebuilt when requirements.txt changes) ---
if wants pandas && ! cmp -s bench/requirements.txt "$VENV/requirements.installed" 2>/dev/null; then
  echo "bench: creating $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt
  cp bench/requirements.txt "$VENV/requirements.installed"
fi

# --- Data, generated once per size into a temporary directory, then moved into place ---
if [[ ! -f "$DATA/inventory.sqlite3" || ! -f "$DATA/commandes.csv" ]]; then
  echo "bench: generating $ORDERS orders into bench/data/$ORDERS"
  mkdir -p "$(dirname "$DATA")"
  rm -rf "$DATA.tmp"
  python3 fixtures/generate.py --orders "$ORDERS" --seed "$SEED" --out "$DATA.tmp" \
    >"$DATA.generate.json"  # the generator's summary (tables, row counts)
  rm -rf "$DATA"
  mv "$DATA.tmp" "$DATA"
fi

# --- stockflow, release build ---
if wants stockflow; then
  echo "bench: building stockflow (release)"
  swift build -c release --scratch-path .build-release --product stockflow >/dev/null \
    || die "swift build -c release --scratch-path .build-release --product stockflow failed (run it by hand to see why)"
  STOCKFLOW="$(swift build -c release --scratch-path .build-release --show-bin-path)/stockflow"
  [[ -x "$STOCKFLOW" ]] || die "no stockflow binary at $STOCKFLOW after the build"
fi

# measure NAME CMD...: runs CMD under GNU time with output in bench/out/NAME and
# records "wall_seconds peak_rss_kb" in bench/out/NAME.time and the log in NAME.log.
measure() {
  local name="$1"; shift
  rm -rf "${OUT:?}/$name" "$OUT/$name.time" "$OUT/$name.log"
  mkdir -p "$OUT/$name"
  echo "bench: running $name"
  if ! /usr/bin/time -f '%e %M' -o "$OUT/$name.time" "$@" >"$OUT/$name.log" 2>&1; then
    echo "bench: $name failed; last lines of bench/out/$name.log:" >&2
    tail -n 20 "$OUT/$name.log" >&2
    return 1
  fi
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

status=0
if wants stockflow; then
  measure stockflow env STOCKFLOW_FIXTURES="$DATA" \
    "$STOCKFLOW" run "$PIPELINE" --out "$OUT/stockflow" --as-of "$AS_OF" || status=1
fi
if wants pandas; then
  measure pandas "$VENV/bin/python" bench/pandas_nightly.py "$DATA" "$OUT/pandas" || status=1
  cat "$OUT/pandas.log"
fi
[[ $status -eq 0 ]] || die "a run failed; see above"

# --- Report ---
echo
echo "nightly-inventory, $ORDERS orders ($(nproc) cores)"
printf '%-10s %10s %14s %12s\n' tool "wall s" "peak RSS MB" "output rows"
for tool in $BENCH_TOOLS; do
  read -r wall rss < "$OUT/$tool.time"
  printf '%-10s %10.2f %14.1f %12s\n' "$tool" "$wall" "$(awk "BEGIN { print $rss / 1024 }")" \
    "$(output_rows "$tool")"
done
if wants stockflow && wants pandas; then
  read -r sf_wall sf_rss < "$OUT/stockflow.time"
  read -r pd_wall pd_rss < "$OUT/pandas.time"
  awk -v p="$pd_wall" -v s="$sf_wall" -v pm="$pd_rss" -v sm="$sf_rss" 'BEGIN {
    if (s > 0) printf "pandas/stockflow time: %.1fx\n", p / s
    if (sm > 0) printf "pandas/stockflow peak RSS: %.1fx\n", pm / sm
  }'
fi
