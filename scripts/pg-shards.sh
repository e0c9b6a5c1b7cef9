#!/usr/bin/env bash
# Starts the sharded PostgreSQL layout of the tests and benchmarks (docs/scale.md, "Sharded PostgreSQL"):
# three private, throw-away PostgreSQL 15 clusters on loopback — a coordinator and two shard servers —
# each started by scripts/pg-test-server.sh (free port, trust auth, fsync off, run as the `postgres` user
# when root). Or stops them.
#   scripts/pg-shards.sh start       prints `export STOCKFLOW_TEST_PG_SHARDED_URL=...` (the coordinator),
#                                    STOCKFLOW_TEST_PG_SHARD_URLS (the shards, space-separated) and
#                                    STOCKFLOW_TEST_PG_SHARDS_DIR (eval it)
#   scripts/pg-shards.sh stop DIR    stops the three clusters listed in DIR and removes them
# The URLs name the `postgres` database; scripts/shard-load.sh creates a database on each and loads it.
# postgres_fdw comes with Debian's postgresql-15 package: nothing else to install.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

stop() {
  local dir=$1 cluster
  [ -f "$dir/clusters" ] || { echo "pg-shards: $dir lists no clusters" >&2; return 1; }
  while read -r cluster; do
    [ -n "$cluster" ] && "$here/pg-test-server.sh" stop "$cluster" || true
  done < "$dir/clusters"
  rm -rf "$dir"
}

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/stockflow-pg-shards.XXXXXX)
    : > "$dir/clusters"
    urls=()
    for role in coordinator shard1 shard2; do
      # A cluster that started is listed before the next one starts, so a failure stops those already up.
      started=$("$here/pg-test-server.sh" start) || { stop "$dir"; exit 1; }
      url=$(sed -n 's/^export STOCKFLOW_TEST_PG_URL=//p' <<<"$started")
      sed -n 's/^export STOCKFLOW_TEST_PG_DIR=//p' <<<"$started" >> "$dir/clusters"
      echo "$role $url" >> "$dir/roles"
      urls+=("$url")
    done
    echo "export STOCKFLOW_TEST_PG_SHARDED_URL=${urls[0]}"
    echo "export STOCKFLOW_TEST_PG_SHARD_URLS='${urls[1]} ${urls[2]}'"
    echo "export STOCKFLOW_TEST_PG_SHARDS_DIR=$dir"
    ;;
  stop)
    dir=${2:-${STOCKFLOW_TEST_PG_SHARDS_DIR:-}}
    [ -n "$dir" ] && [ -d "$dir" ] || { echo "pg-shards: no layout dir given" >&2; exit 1; }
    stop "$dir"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
