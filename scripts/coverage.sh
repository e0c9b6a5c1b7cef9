#!/usr/bin/env bash
# Line coverage of Sources/ (every target) by the Swift tests AND the acceptance tests, which run the
# instrumented binary: builds with coverage, runs both suites with LLVM_PROFILE_FILE set, merges the
# profiles, prints a per-file table and the total, and fails under COVERAGE_MIN percent (default 90).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
min=${COVERAGE_MIN:-90}
jobs=${JOBS:-$(nproc)}
scratch="$PWD/.build-coverage"
profiles="$scratch/profiles"
rm -rf "$profiles"; mkdir -p "$profiles"

swift build --build-tests --enable-code-coverage --scratch-path "$scratch"
bin=$(swift build --show-bin-path --enable-code-coverage --scratch-path "$scratch")
# The acceptance tests run this instrumented binary instead of .build/debug/stockflow.
export STOCKFLOW_BIN="$bin/stockflow"
export LLVM_PROFILE_FILE="$profiles/%p-%m.profraw"
status=0
scripts/with-shards.sh scripts/with-postgres.sh bash -c "swift test --skip-build --enable-code-coverage --scratch-path $scratch --parallel --num-workers $jobs && .venv-test/bin/python -m pytest -q tests/acceptance" || status=$?
[ "$status" = 0 ] || echo "coverage: some tests failed (exit $status); the figures below still count what ran" >&2

shopt -s nullglob
raw=("$profiles"/*.profraw "$bin"/codecov/*.profraw)
llvm-profdata merge -sparse "${raw[@]}" -o "$profiles/merged.profdata"
objects=("$bin/stockflowPackageTests.xctest" -object "$bin/stockflow")
report=$(llvm-cov report "${objects[@]}" -instr-profile "$profiles/merged.profdata" \
         -ignore-filename-regex='(/\.build|/Tests/|/checkouts/)' -show-region-summary=false \
         -show-branch-summary=false 2>/dev/null | sed "s|$PWD/||")
echo "$report"
total=$(echo "$report" | awk '/^TOTAL/ { for (i = NF; i > 0; i--) if ($i ~ /%$/) { sub("%", "", $i); print $i; exit } }')
echo
echo "line coverage of Sources/ (Swift tests + acceptance tests): ${total}% (minimum ${min}%)"
awk -v t="$total" -v m="$min" 'BEGIN { exit !(t + 0 >= m + 0) }' || { echo "coverage: under ${min}%" >&2; exit 1; }
exit "$status"
