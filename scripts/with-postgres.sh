#!/usr/bin/env bash
# Runs a command with a private PostgreSQL server up (STOCKFLOW_TEST_PG_URL exported), and stops the
# server afterwards whatever the command's outcome; exits with the command's status.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
eval "$("$here/pg-test-server.sh" start)"
trap '"$here/pg-test-server.sh" stop "$STOCKFLOW_TEST_PG_DIR"' EXIT
echo "with-postgres: $STOCKFLOW_TEST_PG_URL" >&2
"$@"
