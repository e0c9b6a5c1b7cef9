#!/usr/bin/env bash
# Benchmark of the SQLite → PostgreSQL migration on a generated app database (1M orders ≈ 3.4M rows):
#   stockflow migrate   vs   pgloader (Debian's, default settings)   vs   the floor:
#   `sqlite3 -csv | psql \copy` per table into pre-created tables, keys/indexes/foreign keys after.
# Three repetitions, interleaved (stockflow, pgloader, floor, stockflow, ...), each on a fresh database;
# prints every run with the load average before it, then the medians of wall time and peak RSS (of the
# client processes; the server is the same for all three).
#
#   bench/migrate.sh                 # 1,000,000 orders (data generated once into bench/data/)
#   ORDERS=100000 bench/migrate.sh   # smaller
#   STOCKFLOW_JOBS=2 bench/migrate.sh   # --jobs 2 (default: stockflow's own, 3)
#   STOCKFLOW_BIN=.build-release/release/stockflow bench/migrate.sh   # skip the release build
#   STOCKFLOW_ARGS="--copy-format text" bench/migrate.sh              # extra stockflow migrate options
#   REPS=1 bench/migrate.sh
# Needs apt packages postgresql, pgloader, sqlite3, time (make deps installs the first three; pgloader: apt-get install pgloader).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ORDERS="${ORDERS:-1000000}"
JOBS=(); [ -n "${STOCKFLOW_JOBS:-}" ] && JOBS=(--jobs "$STOCKFLOW_JOBS")
REPS="${REPS:-3}"
read -r -a EXTRA <<< "${STOCKFLOW_ARGS:-}"
DATA="$ROOT/bench/data/$ORDERS"
DB="$DATA/inventory.sqlite3"
command -v pgloader >/dev/null || { echo "bench: pgloader is not installed (apt-get install pgloader)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: GNU time is not installed (apt-get install time)" >&2; exit 1; }
if [ ! -f "$DB" ]; then
  echo "generating $ORDERS orders into $DATA ..."
  mkdir -p "$DATA" && python3 fixtures/generate.py --orders "$ORDERS" --out "$DATA" > "$DATA.generate.json"
fi
if [ -z "${STOCKFLOW_BIN:-}" ]; then
  swift build -c release --product stockflow | tail -1
  SF="$ROOT/.build/release/stockflow"
else
  SF="$STOCKFLOW_BIN"   # an already built release binary
fi

eval "$(scripts/pg-test-server.sh start)"
trap 'scripts/pg-test-server.sh stop "$STOCKFLOW_TEST_PG_DIR"' EXIT
BASE="${STOCKFLOW_TEST_PG_URL%/*}"
WORK="$(mktemp -d)"
chmod 755 "$WORK"; cp "$DB" "$WORK/source.sqlite3"; chmod 644 "$WORK/source.sqlite3"
rows=$(sqlite3 "$WORK/source.sqlite3" "SELECT (SELECT count(*) FROM stock_commande)+(SELECT count(*) FROM stock_facture)+(SELECT count(*) FROM stock_retour)+(SELECT count(*) FROM stock_historique)+(SELECT count(*) FROM stock_produitentrepot)+(SELECT count(*) FROM stock_client)+(SELECT count(*) FROM stock_produit)")
psql -q "$STOCKFLOW_TEST_PG_URL" -c "CREATE DATABASE floor"

measure() {  # name, command...
  local name=$1; shift
  sync
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
  /usr/bin/time -f "%e %M" -o "$WORK/$name.time" "$@" > "$WORK/$name.log" 2>&1 || { echo "bench: $name failed:"; tail -20 "$WORK/$name.log"; }
  read -r wall rss < <(tail -1 "$WORK/$name.time")
  echo "$wall $rss" >> "$WORK/$name.runs"
  printf "  %-10s %8s s %8s MB   (load average before: %s)\n" "$name" "$wall" "$((rss / 1024))" "$load"
}

# The floor: pre-created tables (stockflow's DDL, so types match), one `sqlite3 -csv | psql \copy` per table, then keys and FKs.
"$SF" migrate "$WORK/source.sqlite3" "$BASE/floor" --dry-run --django-project fixtures/django > "$WORK/plan.sql"
sed -n '/^-- 1\./,/^-- 2\./p' "$WORK/plan.sql" | grep '^CREATE TABLE' | sed 's/"stockflow_migrate_public"\./"public"./' > "$WORK/tables.sql"
sed -n '/^-- 3\./,/^-- 5\./p' "$WORK/plan.sql" | grep -E '^(ALTER|CREATE|SELECT)' | sed 's/"stockflow_migrate_public"\./"public"./g; s/stockflow_migrate_public/public/g' > "$WORK/post.sql"
cat > "$WORK/floor.sh" <<FLOOR
set -euo pipefail
psql -q "$BASE/floor" -c "DROP SCHEMA public CASCADE" -c "CREATE SCHEMA public"
psql -q "$BASE/floor" -f "$WORK/tables.sql" >/dev/null
for t in \$(sqlite3 "$WORK/source.sqlite3" "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"); do
  sqlite3 -csv "$WORK/source.sqlite3" "SELECT * FROM \"\$t\"" | psql -q "$BASE/floor" -c "\\\\copy \"\$t\" FROM STDIN WITH (FORMAT csv)"
done
psql -q "$BASE/floor" -f "$WORK/post.sql" >/dev/null
FLOOR

echo "source: $DB ($rows stock_* rows), server $STOCKFLOW_TEST_PG_URL, $(nproc) cores, $REPS repetitions"
for rep in $(seq 1 "$REPS"); do
  echo "repetition $rep"
  psql -q "$STOCKFLOW_TEST_PG_URL" -c "DROP DATABASE IF EXISTS sf" -c "DROP DATABASE IF EXISTS pgl" -c "CREATE DATABASE sf" -c "CREATE DATABASE pgl"
  measure stockflow "$SF" migrate "$WORK/source.sqlite3" "$BASE/sf" "${JOBS[@]}" --django-project fixtures/django --rejects "$WORK/rejects.csv" "${EXTRA[@]}"
  measure pgloader pgloader "$WORK/source.sqlite3" "$BASE/pgl"
  measure floor bash "$WORK/floor.sh"
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf "\nmedians of %s runs\n%-34s %10s %14s\n" "$REPS" "tool" "wall (s)" "peak RSS (MB)"
for name in stockflow pgloader floor; do
  wall=$(cut -d' ' -f1 < "$WORK/$name.runs" | median); rss=$(cut -d' ' -f2 < "$WORK/$name.runs" | median)
  label=$name; [ "$name" = stockflow ] && label="stockflow migrate ${JOBS[*]} ${STOCKFLOW_ARGS:-}"; [ "$name" = floor ] && label="floor: sqlite3 -csv | psql \\copy"
  printf "%-34s %10s %14s\n" "$label" "$wall" "$(python3 -c "print(round($rss / 1024))")"
  echo "$wall" > "$WORK/$name.median"
done
sf=$(cat "$WORK/stockflow.median"); pg=$(cat "$WORK/pgloader.median"); fl=$(cat "$WORK/floor.median")
sfrss=$(cut -d' ' -f2 < "$WORK/stockflow.runs" | median)
python3 - "$pg" "$fl" "$sf" "$sfrss" <<'RATIOS'
import sys
pg, fl, sf, rss = (float(v) for v in sys.argv[1:])
def verdict(ok): return "met" if ok else "NOT met"
print(f"pgloader / stockflow: {pg / sf:.2f}x (target >= 2.5x: {verdict(pg / sf >= 2.5)})")
print(f"floor / stockflow:    {fl / sf:.2f}x (target >= 1.2x: {verdict(fl / sf >= 1.2)})")
print(f"stockflow peak RSS:   {rss / 1024:.0f} MB (target <= 64 MB: {verdict(rss / 1024 <= 64)})")
RATIOS
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "stockflow's own check (row counts + checksums per table):"; tail -2 "$WORK/stockflow.log"
rm -rf "$WORK"
