#!/usr/bin/env bash
# stockflow serve against the improvement plan's own stack (Django REST framework + simplejwt under gunicorn)
# on the same fixtures: wrk at 64 connections on /api/stats/stock/ and on a workbook download, printed side by
# side in the same run, with each server's peak RSS under load, the ratios against the targets and the load
# average. Not part of the test suite (`make bench-serve` runs it under flock /tmp/stockflow-bench.lock).
#
#   bench/serve.sh                  # builds stockflow in release mode if needed
#   DURATION=20s THREADS=2 ROUNDS=3 bench/serve.sh
#   BASELINE_BIN=/tmp/stockflow-before bench/serve.sh   # also an older binary serving the same state, interleaved
#   BASELINE_PIPELINES=/tmp/old/pipelines BASELINE_ENV="STOCKFLOW_REPORTS=/tmp/old/reports"
#                                   # its own commit's pipeline files and templates, when today's do not load in it
#   SERVE_ARGS="--threads 1" bench/serve.sh
#
# The /healthz row is the ceiling: the same server and wrk on the same cores answering a constant, with no
# authentication and no data; no endpoint can beat its p99.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-15s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-2}
WORKERS=${GUNICORN_WORKERS:-$(( 2 * $(nproc) + 1 ))}
BIN=${STOCKFLOW_BIN:-$ROOT/.build/release/stockflow}
SWIFT=${SWIFT:-swift}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk; make bench-serve installs it)"; exit 1; }
[ -x "$BIN" ] || $SWIFT build -c release --product stockflow
VENV=${BENCH_VENV:-$ROOT/bench/.venv-serve}
if [ ! -f "$VENV/.installed" ] || [ bench/requirements-serve.txt -nt "$VENV/.installed" ]; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check -r bench/requirements-serve.txt && touch "$VENV/.installed"
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
AS_OF=2026-11-25
WORKBOOK=inventaire-$AS_OF.xlsx
PASSWORD="bench password $RANDOM$RANDOM"
export STOCKFLOW_JWT_SECRET=$(head -c 48 /dev/urandom | base64)

# stockflow: one nightly run (the cache), a user, the server.
"$BIN" run pipelines/nightly-inventory.yml --out "$WORK/out/nightly-inventory" --state "$WORK/state/state.sqlite" --as-of $AS_OF >/dev/null 2>&1
echo "$PASSWORD" | "$BIN" users add bench --role viewer --state "$WORK/state/state.sqlite" >/dev/null
# shellcheck disable=SC2086
"$BIN" serve --pipelines pipelines --out "$WORK/out" --state "$WORK/state/state.sqlite" --listen 127.0.0.1:18480 --log-format json \
  --access-ttl 3600 ${SERVE_ARGS:-} >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!; PIDS+=($SERVE_PID)
if [ -n "${BASELINE_BIN:-}" ]; then
  # shellcheck disable=SC2086
  env ${BASELINE_ENV:-} "$BASELINE_BIN" serve --pipelines "${BASELINE_PIPELINES:-pipelines}" --out "$WORK/out" --state "$WORK/state/state.sqlite" --listen 127.0.0.1:18482 --log-format json \
    --access-ttl 3600 >"$WORK/baseline.log" 2>&1 &
  BASE_PID=$!; PIDS+=($BASE_PID)
fi

# Django: the same SQLite fixtures, the same workbook file.
cp fixtures/inventory.sqlite3 "$WORK/django.sqlite3"
export STOCKFLOW_DJANGO_DB="$WORK/django.sqlite3" DJANGO_SETTINGS_MODULE=inventory_site.settings_api
export STOCKFLOW_BENCH_WORKBOOK="$WORK/out/nightly-inventory/$WORKBOOK"
(cd fixtures/django && BENCH_PASSWORD="$PASSWORD" "$VENV/bin/python" -c "
import os, django; django.setup()
from django.contrib.auth.models import User
User.objects.filter(username='bench').delete(); User.objects.create_user('bench', password=os.environ['BENCH_PASSWORD'])")
(cd fixtures/django && exec "$VENV/bin/gunicorn" inventory_site.wsgi -b 127.0.0.1:18481 -w "$WORKERS" --log-level warning) &
DJANGO_PID=$!; PIDS+=($DJANGO_PID)

wait_for() { for _ in $(seq 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not answering: $1"; return 1; }
wait_for http://127.0.0.1:18480/healthz
[ -z "${BASELINE_BIN:-}" ] || wait_for http://127.0.0.1:18482/healthz
wait_for http://127.0.0.1:18481/api/token/
token() { curl -fs -H 'Content-Type: application/json' -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" "$1/api/token/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])'; }
SF_TOKEN=$(token http://127.0.0.1:18480)
DJ_TOKEN=$(token http://127.0.0.1:18481)
# Both answer the same question (stock per product, top 10 and the rest); the figures differ where the
# pipeline applies DOMAIN.md's rules that the plan's view, a plain sum over the table, does not.
curl -fs -H "Authorization: Bearer $SF_TOKEN" http://127.0.0.1:18480/api/stats/stock/ >"$WORK/sf.json"
curl -fs -H "Authorization: Bearer $DJ_TOKEN" http://127.0.0.1:18481/api/stats/stock/ >"$WORK/dj.json"
python3 - "$WORK/sf.json" "$WORK/dj.json" <<'EOF'
import json, sys
items = [[(i["label"], i["values"][0]) for i in json.load(open(p))["chart"]["items"]] for p in sys.argv[1:]]
same = "the same" if items[0] == items[1] else "not the same figures (see the comment in bench/serve.sh)"
print(f"stock chart: stockflow {len(items[0])} bars, django {len(items[1])} bars, {same}")
EOF
curl -fs -H "Authorization: Bearer $SF_TOKEN" -o "$WORK/sf.xlsx" "http://127.0.0.1:18480/api/pipelines/nightly-inventory/latest/$WORKBOOK"
curl -fs -H "Authorization: Bearer $DJ_TOKEN" -o "$WORK/dj.xlsx" http://127.0.0.1:18481/api/workbook/
cmp -s "$WORK/sf.xlsx" "$WORK/dj.xlsx" && echo "same workbook from both: yes ($(stat -c %s "$WORK/sf.xlsx") bytes)" || echo "same workbook from both: NO"

# Peak RSS (VmHWM) of a process tree: the server, or gunicorn's arbiter and workers summed.
tree_rss_kib() {
  local total=0 pid
  for pid in $1 $(pgrep -P "$1" || true); do
    total=$(( total + $(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0) ))
  done
  echo $total
}
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }
declare -A RPS P50 P99
bench() {  # key label url token
  local out rps p50 p99 errors
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency ${4:+-H "Authorization: Bearer $4"} "$3")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
  errors=$( (grep -E "Non-2xx|Socket errors" <<<"$out" || echo "none") | tr -s ' \n' ' ')
  RPS[$1]=$rps; P50[$1]=$p50; P99[$1]=$p99
  printf '%-30s %12s %9s %9s   errors: %s\n' "$2" "$rps" "$p50" "$p99" "$errors"
}

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, $(nproc) cores, gunicorn -w $WORKERS (sync); $("$VENV/bin/python" -c 'import django, rest_framework, gunicorn; print(f"Django {django.__version__}, DRF {rest_framework.__version__}, gunicorn {gunicorn.__version__}")')"
for round in $(seq "$ROUNDS"); do
  echo
  echo "round $round, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-30s %12s %9s %9s\n' endpoint "requests/s" "p50 ms" "p99 ms"
  bench sf_stats "stockflow /api/stats/stock/" http://127.0.0.1:18480/api/stats/stock/ "$SF_TOKEN"
  [ -z "${BASELINE_BIN:-}" ] || bench bl_stats "baseline  /api/stats/stock/" http://127.0.0.1:18482/api/stats/stock/ "$SF_TOKEN"
  bench dj_stats "django    /api/stats/stock/" http://127.0.0.1:18481/api/stats/stock/ "$DJ_TOKEN"
  bench sf_book "stockflow workbook (latest)" "http://127.0.0.1:18480/api/pipelines/nightly-inventory/latest/$WORKBOOK" "$SF_TOKEN"
  [ -z "${BASELINE_BIN:-}" ] || bench bl_book "baseline  workbook (latest)" "http://127.0.0.1:18482/api/pipelines/nightly-inventory/latest/$WORKBOOK" "$SF_TOKEN"
  bench dj_book "django    workbook" http://127.0.0.1:18481/api/workbook/ "$DJ_TOKEN"
  bench sf_health "stockflow /healthz (ceiling)" http://127.0.0.1:18480/healthz ""
  [ -z "${BASELINE_BIN:-}" ] || bench bl_health "baseline  /healthz (ceiling)" http://127.0.0.1:18482/healthz ""
  ratio() { awk -v a="${RPS[$1]}" -v b="${RPS[$2]}" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
  stats_ratio=$(ratio sf_stats dj_stats)
  echo "ratios (stockflow / django requests/s): stats ${stats_ratio}x, workbook $(ratio sf_book dj_book)x"
  [ -z "${BASELINE_BIN:-}" ] || echo "ratios (stockflow / baseline requests/s): stats $(ratio sf_stats bl_stats)x, workbook $(ratio sf_book bl_book)x, healthz $(ratio sf_health bl_health)x"
  echo "targets: stats p99 ${P99[sf_stats]} ms (<= 5: $(awk -v p="${P99[sf_stats]}" 'BEGIN { print (p <= 5 ? "met" : "MISSED") }')), stats ${stats_ratio}x django (>= 10: $(awk -v r="$stats_ratio" 'BEGIN { print (r >= 10 ? "met" : "MISSED") }'))"
done
SF_RSS=$(( $(tree_rss_kib $SERVE_PID) / 1024 ))
echo
echo "peak RSS under that load: stockflow serve ${SF_RSS} MiB (<= 100: $([ $SF_RSS -le 100 ] && echo met || echo MISSED)), django (gunicorn, all workers) $(( $(tree_rss_kib $DJANGO_PID) / 1024 )) MiB"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
