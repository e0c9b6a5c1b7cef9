#!/usr/bin/env bash
# Runs a command with the sharded layout up (scripts/pg-shards.sh: a coordinator and two shard servers;
# STOCKFLOW_TEST_PG_SHARDED_URL and STOCKFLOW_TEST_PG_SHARD_URLS exported), and stops all three
# afterwards whatever the command's outcome; exits with the command's status.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/pg-shards.sh" start)"
trap '"$here/pg-shards.sh" stop "$STOCKFLOW_TEST_PG_SHARDS_DIR"' EXIT
echo "with-shards: coordinator $STOCKFLOW_TEST_PG_SHARDED_URL, shards $STOCKFLOW_TEST_PG_SHARD_URLS" >&2
"$@"
