#!/usr/bin/env bash
# Pushdown against in-process on the same PostgreSQL data (docs/pushdown.md), in one run:
# bench/pushdown-monthly.yml with `pushdown: off` and `pushdown: auto`, interleaved RUNS times each,
# printing per run the wall time and stockflow's peak RSS, then the medians and their ratio, and
# checking that both give the same workbook sheets and run.json counts.
#   STOCKFLOW_PG=postgresql://... bench/pushdown.sh      (a database holding the migrated app tables:
#   stockflow migrate bench/data/1000000/inventory.sqlite3 "$STOCKFLOW_PG")
# Run it on an idle machine; STOCKFLOW_BIN picks the binary
# (default .build/release/stockflow, built from the same commit as the pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${STOCKFLOW_PG:?set STOCKFLOW_PG to the database holding the migrated app tables}"
BIN=${STOCKFLOW_BIN:-.build/release/stockflow}
RUNS=${RUNS:-3}
OUT=$(mktemp -d /tmp/stockflow-pushdown-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
export STOCKFLOW_PG
echo "pushdown bench: $($BIN --version 2>/dev/null || echo "$BIN"), $(psql "$STOCKFLOW_PG" -Atc 'SELECT count(*) FROM stock_commande') orders, load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A times rss
for run in $(seq 1 "$RUNS"); do
  for mode in off auto; do
    dir="$OUT/$mode-$run"
    STOCKFLOW_PUSHDOWN=$mode /usr/bin/time -f "%e %M" -o "$OUT/time" "$BIN" run bench/pushdown-monthly.yml \
      --out "$dir" --as-of 2026-11-30 --state "$OUT/state-$mode.sqlite" >"$OUT/log" 2>&1 \
      || { cat "$OUT/log"; exit 1; }
    read -r seconds kb < "$OUT/time"
    times[$mode]="${times[$mode]:-} $seconds"
    rss[$mode]="${rss[$mode]:-} $kb"
    printf '  run %d %-4s %7.2f s  %6.1f MB peak RSS\n' "$run" "$mode" "$seconds" "$(echo "$kb / 1024" | bc -l)"
  done
done
python3 - "$OUT" "$RUNS" "${times[off]}" "${times[auto]}" "${rss[off]}" "${rss[auto]}" <<'PY'
import json, statistics, sys, zipfile
out, runs = sys.argv[1], int(sys.argv[2])
off, auto = [list(map(float, sys.argv[i].split())) for i in (3, 4)]
rss_off, rss_auto = [list(map(float, sys.argv[i].split())) for i in (5, 6)]
def sheets(path):
    with zipfile.ZipFile(path) as book:
        return {name: book.read(name) for name in book.namelist() if name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"}
def counts(path):
    report = json.load(open(path))
    return [(s["id"], s["rows_in"], s["rows_out"], s["rows_rejected"], s["rows_filtered"], s["rows_emitted"]) for s in report["stages"]]
a, b = f"{out}/off-1", f"{out}/auto-1"
same = sheets(f"{a}/pushdown-2026-11-30.xlsx") == sheets(f"{b}/pushdown-2026-11-30.xlsx") and counts(f"{a}/run.json") == counts(f"{b}/run.json") \
    and open(f"{a}/rejects.csv", "rb").read() == open(f"{b}/rejects.csv", "rb").read() and open(f"{a}/findings.csv", "rb").read() == open(f"{b}/findings.csv", "rb").read()
m_off, m_auto = statistics.median(off), statistics.median(auto)
print(f"median in-process {m_off:.2f} s ({statistics.median(rss_off) / 1024:.1f} MB), pushdown {m_auto:.2f} s ({statistics.median(rss_auto) / 1024:.1f} MB): {m_off / m_auto:.2f}x faster; same outputs: {same}")
sys.exit(0 if same else 1)
PY
