#!/usr/bin/env bash
# Interleaved A/B of stockflow migrate builds or options on the generated 1M-order database (bench/migrate.sh
# generates it): one private server, a fresh database per run, wall time, client CPU (/usr/bin/time) and server
# CPU (the postmaster's reaped children) printed with the load average before each run.
#
#   bench/migrate-ab.sh REPS "LABEL|[VAR=value ...] BINARY[|EXTRA MIGRATE OPTIONS]" ...
#   bench/migrate-ab.sh 3 "old|/tmp/stockflow-old" "new|.build/release/stockflow" "new-j2|.build/release/stockflow|--jobs 2"
set -uo pipefail
REPS=$1; shift
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DB="$ROOT/bench/data/${ORDERS:-1000000}/inventory.sqlite3"
[ -f "$DB" ] || { echo "migrate-ab: $DB is missing (bench/migrate.sh generates it)" >&2; exit 1; }
eval "$(scripts/pg-test-server.sh start)"
trap 'scripts/pg-test-server.sh stop "$STOCKFLOW_TEST_PG_DIR"; rm -rf "$W"' EXIT
BASE="${STOCKFLOW_TEST_PG_URL%/*}"
PM=$(head -1 "$STOCKFLOW_TEST_PG_DIR/data/postmaster.pid")
cpu() { awk '{print $14+$15+$16+$17}' "/proc/$PM/stat"; }
W=$(mktemp -d); cp "$DB" "$W/source.sqlite3"
for rep in $(seq 1 "$REPS"); do
  for spec in "$@"; do
    label=${spec%%|*}; rest=${spec#*|}; cmd=${rest%%|*}; args=${rest#*|}; [ "$args" = "$rest" ] && args=""
    psql -q "$STOCKFLOW_TEST_PG_URL" -c "DROP DATABASE IF EXISTS sf" -c "CREATE DATABASE sf" 2>/dev/null
    sync; load=$(cut -d' ' -f1-3 /proc/loadavg); s0=$(cpu)
    # shellcheck disable=SC2086  # cmd and args are word lists on purpose
    /usr/bin/time -f "%e %U %S %M" -o "$W/t" env $cmd migrate "$W/source.sqlite3" "$BASE/sf" --django-project fixtures/django --rejects "$W/rejects.csv" $args > "$W/out.log" 2>&1; rc=$?
    sleep 0.5; s1=$(cpu)
    read -r wall user sys rss < "$W/t"
    printf "%-16s rc=%s wall %6.2f s  client cpu %5.2f s  server cpu %5.2f s  rss %3d MB  %s tables ok (load %s)\n" "$label" "$rc" "$wall" \
      "$(echo "$user+$sys" | bc -l)" "$(echo "($s1-$s0)/100" | bc -l)" "$((rss / 1024))" "$(grep -c ' ok ' "$W/out.log")" "$load"
    [ "$rc" = 0 ] || tail -5 "$W/out.log"
  done
done
