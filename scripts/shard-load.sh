#!/usr/bin/env bash
# Loads the app's migrated tables onto the sharded layout (scripts/pg-shards.sh; docs/scale.md,
# "Sharded PostgreSQL"):
#   scripts/shard-load.sh SOURCE DATABASE
# SOURCE is the app's SQLite file (migrated with `stockflow migrate` into DATABASE on the coordinator) or
# the name of a database on the coordinator that already holds the migrated tables (copied as a template:
# nobody may be connected to it). Then the order, invoice and return tables move to the shards:
#   - on each shard, a database DATABASE with the table as migrated (same column types, its primary key
#     and indexes), holding the rows of its hash partition, copied in binary with COPY;
#   - on the coordinator, the table becomes hash-partitioned (same columns and types) with each partition
#     a postgres_fdw foreign table on a shard (`use_remote_estimate`, `fetch_size` 50000);
#     stock_commande on code_cmd and stock_facture on commande_id, so an order and its invoice are on the
#     same shard and their join runs there, partition by partition; stock_retour on facture_id (a return
#     names its invoice, not its order: its join with the invoices is not partitionwise);
#   - the small tables (products, categories, customers, suppliers, warehouses...) stay on the
#     coordinator as migrated; enable_partitionwise_aggregate and enable_partitionwise_join are set on
#     the coordinator's database, so aggregates and co-located joins run on the shards.
# The coordinator and shards are STOCKFLOW_TEST_PG_SHARDED_URL and STOCKFLOW_TEST_PG_SHARD_URLS (exported
# by scripts/with-shards.sh); STOCKFLOW_BIN picks the stockflow binary (default .build/debug/stockflow).
# The partitioned tables carry no primary key, defaults or foreign keys (PostgreSQL allows no unique
# index over foreign partitions): the layout is for reading; the shards' tables keep their keys.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# = 2 ] || { echo "usage: $0 SOURCE.sqlite3|SOURCE_DATABASE DATABASE" >&2; exit 2; }
source=$1 database=$2
: "${STOCKFLOW_TEST_PG_SHARDED_URL:?run under scripts/with-shards.sh (or export the coordinator URL)}"
: "${STOCKFLOW_TEST_PG_SHARD_URLS:?run under scripts/with-shards.sh (or export the shard URLs)}"
BIN=${STOCKFLOW_BIN:-.build/debug/stockflow}
read -r -a shards <<<"$STOCKFLOW_TEST_PG_SHARD_URLS"
modulus=${#shards[@]}
# The table, its partition key (the column named the same on its shard).
tables=("stock_commande code_cmd" "stock_facture commande_id" "stock_retour facture_id")

with_database() { python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/" + sys.argv[2])))' "$1" "$2"; }
psql_at() { psql -X -v ON_ERROR_STOP=1 -q -At "$@"; }
literal() { printf "'%s'" "${1//\'/\'\'}"; }
ident() { printf '"%s"' "${1//\"/\"\"}"; }

coordinator=$(with_database "$STOCKFLOW_TEST_PG_SHARDED_URL" "$database")
if [[ $source == *.sqlite3 || -f $source ]]; then
  psql_at "$STOCKFLOW_TEST_PG_SHARDED_URL" -c "CREATE DATABASE $(ident "$database")"
  rejects=$(mktemp /tmp/stockflow-shard-load-rejects.XXXXXX)
  "$BIN" migrate "$source" "$coordinator" --rejects "$rejects" >&2
  rm -f "$rejects"
else
  psql_at "$STOCKFLOW_TEST_PG_SHARDED_URL" -c "CREATE DATABASE $(ident "$database") TEMPLATE $(ident "$source")"
fi

psql_at "$coordinator" -c "CREATE EXTENSION IF NOT EXISTS postgres_fdw"
for index in "${!shards[@]}"; do
  psql_at "${shards[$index]}" -c "CREATE DATABASE $(ident "$database")"
  host=$(python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(p.hostname, p.port or 5432, p.username or "")' "${shards[$index]}")
  read -r shard_host shard_port shard_user <<<"$host"
  psql_at "$coordinator" <<SQL
CREATE SERVER shard$((index + 1)) FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host $(literal "$shard_host"), port $(literal "$shard_port"), dbname $(literal "$database"),
           use_remote_estimate 'true', fetch_size '50000');
CREATE USER MAPPING FOR PUBLIC SERVER shard$((index + 1)) OPTIONS (user $(literal "$shard_user"));
SQL
done

for entry in "${tables[@]}"; do
  read -r table key <<<"$entry"
  columns=$(psql_at "$coordinator" -v t="$table" <<'SQL'
SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                  || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                          THEN ' COLLATE ' || quote_ident(co.collname) ELSE '' END
                  || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END, ', ' ORDER BY a.attnum)
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attrelid = (:'t')::regclass AND a.attnum > 0 AND NOT a.attisdropped
SQL
)
  [ -n "$columns" ] || { echo "shard-load: no table $table in $database" >&2; exit 1; }
  # Its primary key, unique constraints and other indexes, as the shards' tables will have them.
  keys=$(psql_at "$coordinator" -v t="$table" <<'SQL'
SELECT string_agg(format('ALTER TABLE %I ADD CONSTRAINT %I %s;', :'t', conname, pg_get_constraintdef(oid)), E'\n')
FROM pg_constraint WHERE conrelid = (:'t')::regclass AND contype IN ('p', 'u')
SQL
)
  indexes=$(psql_at "$coordinator" -v t="$table" <<'SQL'
SELECT string_agg(pg_get_indexdef(i.indexrelid) || ';', E'\n') FROM pg_index i
WHERE i.indrelid = (:'t')::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
SQL
)
  staging="${table}_unsharded"
  psql_at "$coordinator" <<SQL
ALTER TABLE $(ident "$table") RENAME TO $(ident "$staging");
CREATE TABLE $(ident "$table") ($columns) PARTITION BY HASH ($(ident "$key"));
SQL
  for index in "${!shards[@]}"; do
    shard=$(with_database "${shards[$index]}" "$database")
    psql_at "$shard" -c "CREATE TABLE $(ident "$table") ($columns)"
    psql_at "$coordinator" -c "CREATE FOREIGN TABLE $(ident "${table}_p$index") PARTITION OF $(ident "$table")
      FOR VALUES WITH (MODULUS $modulus, REMAINDER $index) SERVER shard$((index + 1)) OPTIONS (table_name $(literal "$table"))"
    # The partition's rows in the order the coordinator stored them, so a shard scans them in key order.
    psql_at "$coordinator" -c "COPY (SELECT * FROM $(ident "$staging")
      WHERE satisfies_hash_partition($(literal "$table")::regclass, $modulus, $index, $(ident "$key"))) TO STDOUT (FORMAT binary)" \
      | psql_at "$shard" -c "COPY $(ident "$table") FROM STDIN (FORMAT binary)"
    psql_at "$shard" -c "${keys}${keys:+
}${indexes}${indexes:+
}ANALYZE $(ident "$table");"
  done
  copied=$(psql_at "$coordinator" -c "SELECT (SELECT count(*) FROM $(ident "$table")) = (SELECT count(*) FROM $(ident "$staging"))")
  [ "$copied" = t ] || { echo "shard-load: $table: the shards do not hold the same number of rows" >&2; exit 1; }
  # CASCADE drops the foreign keys of other tables to it (the layout is for reading).
  psql_at "$coordinator" -c "SET client_min_messages = warning; DROP TABLE $(ident "$staging") CASCADE"
  psql_at "$coordinator" -c "ANALYZE $(ident "$table")"
done
psql_at "$coordinator" <<SQL
ALTER DATABASE $(ident "$database") SET enable_partitionwise_aggregate = on;
ALTER DATABASE $(ident "$database") SET enable_partitionwise_join = on;
SQL
echo "shard-load: $database on the coordinator: stock_commande, stock_facture, stock_retour hash-partitioned over $modulus shards" >&2
