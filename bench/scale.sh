#!/usr/bin/env bash
# Where the monthly figures are computed, at N orders in PostgreSQL (issue 14; docs/scale.md, "Sharded
# PostgreSQL"), in one run: bench/pushdown-monthly.yml (orders priced by order_totals, joined with their
# category, grouped by month and category and by ISO week) three ways, interleaved RUNS times:
#   in-process    pushdown: off   on one server (every order travels to stockflow)
#   pushdown      pushdown: auto  on one server (the same database)
#   sharded       pushdown: auto  on the coordinator, orders/invoices/returns on 2 shards (postgres_fdw)
# Per run: wall time, stockflow's peak RSS (/usr/bin/time's maxrss) and the bytes stockflow received from
# PostgreSQL: the sum of what recv() returned in the stockflow process (libpq reads its socket with recv;
# counted by a small LD_PRELOAD probe compiled here, bench/data/.scale/recv-count.so; it adds one atomic
# addition per call). Then the medians, the ratios and the targets (pushdown >= 3x faster than
# in-process at 10M orders, stockflow RSS <= 64 MB), and a check that the three wrote the same sheets and
# run.json counts, and the same rejects and findings (on the shards in another order: compared sorted,
# without their row numbers).
#
#   bench/scale.sh                      N=10000000 orders, RUNS=3
#   N=1000000 RUNS=3 bench/scale.sh     a shorter run
# Data: bench/data/$N/inventory.sqlite3 (or $DATA/inventory.sqlite3), made once with fixtures/generate.py (seed 42, as bench/run.sh),
# migrated with `stockflow migrate` into database scale_one_$N, copied and laid out over the shards by
# scripts/shard-load.sh into scale_sharded_$N. Without STOCKFLOW_TEST_PG_SHARDED_URL it starts a private
# coordinator and 2 shards (scripts/with-shards.sh) and stops them at the end; with it (a layout started
# by `scripts/pg-shards.sh start`), the databases are kept and reused by the next run, so preparing
# (generate, migrate, load: minutes at 10M) and measuring can be separate steps:
#   eval "$(scripts/pg-shards.sh start)"; N=1000000 PREPARE_ONLY=1 bench/scale.sh   # niced, any time
#   N=1000000 bench/scale.sh                                                       # on a quiet machine
# WAYS="in-process pushdown" runs a subset. STOCKFLOW_BIN picks the binary (default .build/release/stockflow, built from this commit).
set -euo pipefail
cd "$(dirname "$0")/.."
export N=${N:-10000000} RUNS=${RUNS:-3}
if [ -z "${STOCKFLOW_TEST_PG_SHARDED_URL:-}" ]; then exec scripts/with-shards.sh "$0" "$@"; fi
BIN=$(realpath "${STOCKFLOW_BIN:-.build/release/stockflow}")
[ -x "$BIN" ] || { echo "scale: no stockflow at $BIN (swift build -c release --product stockflow)" >&2; exit 1; }
server=${STOCKFLOW_TEST_PG_SHARDED_URL%/*}
data=${DATA:-bench/data/$N}   # DATA: another generated folder of N orders (e.g. made with --catalogue-orders)
label=$(basename "$data")
one=scale_one_$label sharded=scale_sharded_$label
read -r -a ways <<<"${WAYS:-in-process pushdown sharded}"   # WAYS: a subset, e.g. "in-process pushdown"

# --- The probe: bytes returned by recv() in the process, appended to RECV_COUNT_FILE at exit ---
mkdir -p bench/data/.scale
if [ ! -f bench/data/.scale/recv-count.so ]; then
  cat > bench/data/.scale/recv-count.c <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
static _Atomic long long received;
ssize_t recv(int fd, void *buffer, size_t length, int flags) {
  static ssize_t (*real)(int, void *, size_t, int);
  if (!real) real = (ssize_t (*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
  ssize_t got = real(fd, buffer, length, flags);
  if (got > 0) atomic_fetch_add(&received, got);
  return got;
}
ssize_t recvfrom(int fd, void *buffer, size_t length, int flags, struct sockaddr *from, socklen_t *size) {
  static ssize_t (*real)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
  if (!real) real = (ssize_t (*)(int, void *, size_t, int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "recvfrom");
  ssize_t got = real(fd, buffer, length, flags, from, size);
  if (got > 0) atomic_fetch_add(&received, got);
  return got;
}
__attribute__((destructor)) static void report(void) {
  const char *path = getenv("RECV_COUNT_FILE");
  FILE *file = path ? fopen(path, "a") : NULL;
  if (file) { fprintf(file, "%d %lld\n", (int)getpid(), (long long)received); fclose(file); }
}
C
  cc -O2 -shared -fPIC -o bench/data/.scale/recv-count.so bench/data/.scale/recv-count.c -ldl
fi

# --- Data and databases, once per N ---
if [ ! -f "$data/inventory.sqlite3" ]; then
  echo "scale: generating $N orders into $data (fixtures/generate.py, seed 42)"
  rm -rf "$data.tmp" && mkdir -p "$(dirname "$data")"
  nice python3 fixtures/generate.py --orders "$N" --seed 42 --out "$data.tmp" > "$data.generate.json"
  mv "$data.tmp" "$data"
fi
exists() { [ "$(psql -X -At "$server/postgres" -c "SELECT count(*) FROM pg_database WHERE datname = '$1'")" = 1 ]; }
if ! exists "$one"; then
  echo "scale: migrating $data into $one"
  psql -X -q "$server/postgres" -c "CREATE DATABASE $one"
  nice "$BIN" migrate "$data/inventory.sqlite3" "$server/$one" --rejects bench/data/.scale/migrate-rejects.csv >/dev/null \
    || { psql -X -q "$server/postgres" -c "DROP DATABASE $one"; exit 1; }
fi
if ! exists "$sharded"; then
  echo "scale: laying out $sharded over the shards"
  STOCKFLOW_BIN=$BIN nice scripts/shard-load.sh "$one" "$sharded"
fi
[ -z "${PREPARE_ONLY:-}" ] || { echo "scale: $one and $sharded ready on $server"; exit 0; }

# --- Runs, interleaved ---
out=$(mktemp -d /tmp/stockflow-scale.XXXXXX)
trap 'rm -rf "$out"' EXIT
declare -A setting=([in-process]="off $one" [pushdown]="auto $one" [sharded]="auto $sharded")
configs=()
for way in "${ways[@]}"; do
  [ -n "${setting[$way]:-}" ] || { echo "scale: WAYS takes in-process, pushdown, sharded; found '$way'" >&2; exit 2; }
  configs+=("$way ${setting[$way]}")
done
echo "scale: $BIN (built $(date -u -r "$BIN" +%FT%TZ); checkout $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources bench/pushdown-monthly.yml || echo ', modified')), $N orders, RUNS=$RUNS, nproc $(nproc)"
for run in $(seq 1 "$RUNS"); do
  echo "  load average before run $run: $(cut -d' ' -f1-3 /proc/loadavg)"
  for config in "${configs[@]}"; do
    read -r name mode database <<<"$config"
    dir="$out/$name-$run"
    rm -f "$out/recv"
    STOCKFLOW_PG="$server/$database" STOCKFLOW_PUSHDOWN=$mode RECV_COUNT_FILE="$out/recv" \
      LD_PRELOAD="$PWD/bench/data/.scale/recv-count.so" /usr/bin/time -f "%e %M" -o "$out/time" \
      "$BIN" run bench/pushdown-monthly.yml --out "$dir" --as-of 2026-11-30 --state "$out/state-$name.sqlite" \
      >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }
    read -r seconds kb < "$out/time"
    # One line per process that exited with the probe loaded (stockflow, /usr/bin/time): stockflow's.
    bytes=$(awk '{ if ($2 > max) max = $2 } END { print max + 0 }' "$out/recv")
    echo "$name $run $seconds $kb $bytes" >> "$out/figures"
    printf '  run %d %-10s %8.2f s  %6.1f MB peak RSS  %12.1f kB received\n' "$run" "$name" "$seconds" \
      "$(echo "$kb / 1024" | bc -l)" "$(echo "$bytes / 1024" | bc -l)"
  done
done

python3 - "$out" "$N" <<'PY'
import json, re, statistics, sys, zipfile
out, n = sys.argv[1], int(sys.argv[2])
figures = {}
for line in open(f"{out}/figures"):
    name, run, seconds, kb, received = line.split()
    figures.setdefault(name, []).append((float(seconds), float(kb) / 1024, int(received)))
median = {name: [statistics.median(values[i] for values in runs) for i in range(3)] for name, runs in figures.items()}
for name, (seconds, mb, received) in median.items():
    print(f"median {name:10s} {seconds:8.2f} s  {mb:6.1f} MB peak RSS  {received / 1024:12.1f} kB received")
base = median.get("in-process", [None])[0]
for name in ("pushdown", "sharded"):
    if name not in median or base is None:
        continue
    print(f"{name} vs in-process: {base / median[name][0]:.2f}x faster (target >= 3x at 10M orders, here {n:,}); "
          f"peak RSS {median[name][1]:.1f} MB (target <= 64 MB): {'met' if median[name][1] <= 64 else 'NOT met'}")

def sheets(directory):
    with zipfile.ZipFile(f"{directory}/pushdown-2026-11-30.xlsx") as book:
        return {name: book.read(name) for name in book.namelist()
                if name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"}
def counts(directory):
    return [(s["id"], s["rows_in"], s["rows_out"], s["rows_rejected"], s["rows_filtered"], s["rows_emitted"])
            for s in json.load(open(f"{directory}/run.json"))["stages"]]
def listed(directory, name, sort):
    data = open(f"{directory}/{name}", "rb").read()
    # Sources name the database and the row's number in the extract's order, which differ on the shards.
    return sorted(re.sub(rb"query on [^ ,]+ as [^ ,:]+:\d+", b"", line) for line in data.splitlines()) if sort else data
names = [name for name in ("in-process", "pushdown", "sharded") if name in median]
reference = f"{out}/{names[0]}-1"
same = True
for name in names[1:]:
    other = f"{out}/{name}-1"
    checks = {"sheets": sheets(other) == sheets(reference), "counts": counts(other) == counts(reference)}
    for listing in ("rejects.csv", "findings.csv"):
        checks[listing] = listed(other, listing, "sharded" in (name, names[0])) == listed(reference, listing, "sharded" in (name, names[0]))
    print(f"{name} wrote what {names[0]} wrote: " + ", ".join(f"{key} {'same' if ok else 'DIFFERENT'}" for key, ok in checks.items()))
    same = same and all(checks.values())
sys.exit(0 if same else 1)
PY
