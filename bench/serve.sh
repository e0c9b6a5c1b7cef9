#!/usr/bin/env bash
# stockflow serve against the improvement plan's own stack (Django REST framework + simplejwt under gunicorn)
# on the same fixtures: wrk at 64 connections on /api/stats/stock/ and on a workbook download, printed side by side,
# with the server's RSS under load and the load average. Not part of the test suite.
#
#   bench/serve.sh                  # builds stockflow in release mode if needed
#   DURATION=20s THREADS=2 bench/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-15s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
WORKERS=${GUNICORN_WORKERS:-$(nproc)}
BIN=${STOCKFLOW_BIN:-$ROOT/.build/release/stockflow}
SWIFT=${SWIFT:-swift}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
[ -x "$BIN" ] || $SWIFT build -c release --product stockflow
VENV=${BENCH_VENV:-$ROOT/bench/.venv-serve}
if [ ! -f "$VENV/.installed" ] || [ bench/requirements-serve.txt -nt "$VENV/.installed" ]; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check -r bench/requirements-serve.txt && touch "$VENV/.installed"
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
AS_OF=2026-11-25
PASSWORD="bench password $(date +%s)"
export STOCKFLOW_JWT_SECRET=$(head -c 48 /dev/urandom | base64)

# stockflow: one nightly run (the cache), a user, the server.
"$BIN" run pipelines/nightly-inventory.yml --out "$WORK/out/nightly-inventory" --state "$WORK/state/state.sqlite" --as-of $AS_OF >/dev/null
echo "$PASSWORD" | "$BIN" users add bench --role viewer --state "$WORK/state/state.sqlite" >/dev/null
"$BIN" serve --pipelines pipelines --out "$WORK/out" --state "$WORK/state/state.sqlite" --listen 127.0.0.1:18480 --log-format json \
  --access-ttl 3600 >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!; PIDS+=($SERVE_PID)

# Django: the same SQLite fixtures, the same workbook file.
cp fixtures/inventory.sqlite3 "$WORK/django.sqlite3"
export STOCKFLOW_DJANGO_DB="$WORK/django.sqlite3" DJANGO_SETTINGS_MODULE=inventory_site.settings_api
export STOCKFLOW_BENCH_WORKBOOK="$WORK/out/nightly-inventory/inventaire-$AS_OF.xlsx"
(cd fixtures/django && "$VENV/bin/python" -c "
import django; django.setup()
from django.contrib.auth.models import User
User.objects.filter(username='bench').delete(); User.objects.create_user('bench', password='''$PASSWORD''')")
(cd fixtures/django && exec "$VENV/bin/gunicorn" inventory_site.wsgi -b 127.0.0.1:18481 -w "$WORKERS" --log-level warning) &
PIDS+=($!)

wait_for() { for _ in $(seq 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
wait_for http://127.0.0.1:18480/healthz
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18481/api/token/ && break; sleep 0.1; done
token() { curl -fs -H 'Content-Type: application/json' -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" "$1/api/token/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])'; }
SF_TOKEN=$(token http://127.0.0.1:18480)
DJ_TOKEN=$(token http://127.0.0.1:18481)

bench() {  # name url token
  local out; out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $3" "$2")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" | tr '\n' ' ' || true)
  printf '%-34s %12s %10s %10s  %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
}
rss_peak=0
watch_rss() { while kill -0 $SERVE_PID 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' /proc/$SERVE_PID/status 2>/dev/null || echo 0); [ "${rss:-0}" -gt "$rss_peak" ] && rss_peak=$rss
  echo $rss_peak >"$WORK/rss"; sleep 0.2; done; }
watch_rss & PIDS+=($!)

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $(nproc) cores, gunicorn -w $WORKERS; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %12s %10s %10s\n' endpoint "requests/s" p50 p99
bench "stockflow /api/stats/stock/" http://127.0.0.1:18480/api/stats/stock/ "$SF_TOKEN"
bench "django    /api/stats/stock/" http://127.0.0.1:18481/api/stats/stock/ "$DJ_TOKEN"
bench "stockflow workbook (latest)" "http://127.0.0.1:18480/api/pipelines/nightly-inventory/latest/inventaire-$AS_OF.xlsx" "$SF_TOKEN"
bench "django    workbook" http://127.0.0.1:18481/api/workbook/ "$DJ_TOKEN"
echo "stockflow serve peak RSS under load: $(( $(cat "$WORK/rss") / 1024 )) MiB; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
