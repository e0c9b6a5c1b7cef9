#!/usr/bin/env bash
# Starts a private, throw-away PostgreSQL 15 cluster for the test suite, or stops it.
#   scripts/pg-test-server.sh start   prints `export STOCKFLOW_TEST_PG_URL=...` (eval it) and the cluster dir
#   scripts/pg-test-server.sh stop DIR   stops the cluster in DIR and removes DIR
# Installs nothing: it needs Debian's `postgresql` package (make deps installs it). initdb refuses to run
# as root, so as root the cluster runs as the `postgres` system user (created by that package).
set -euo pipefail
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$BIN/initdb" ] || { echo "pg-test-server: $BIN/initdb not found; install Debian's postgresql package (make deps)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/stockflow-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port=$(free_port)
    as_owner "$BIN/initdb" -D "$dir/data" -U stockflow -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # Not UTC on purpose: the migration must read datetimes as UTC whatever the server's zone.
    as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c timezone=America/New_York -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "export STOCKFLOW_TEST_PG_URL=postgresql://stockflow@127.0.0.1:$port/postgres"
    echo "export STOCKFLOW_TEST_PG_DIR=$dir"
    ;;
  stop)
    dir=${2:-${STOCKFLOW_TEST_PG_DIR:-}}
    [ -n "$dir" ] && [ -d "$dir/data" ] || { echo "pg-test-server: no cluster dir given" >&2; exit 1; }
    as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
