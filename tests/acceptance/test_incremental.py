"""End to end with the real binary: incremental extracts (a watermark that survives a run killed with
SIGKILL, late rows inside the lookback counted once in an upserted PostgreSQL table, --full-refresh) and
skip_unchanged (a skipped run leaves every output byte for byte and is in the history; --force).

A run is held mid-run by a second extract reading a named pipe (FIFO), as in test_scheduling.py: the
incremental extract and its upsert have finished, the run has not committed its outputs."""
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = os.environ.get("STOCKFLOW_BIN") or str(ROOT / ".build" / "debug" / "stockflow")
PG_URL = os.environ.get("STOCKFLOW_TEST_PG_URL")
if not PG_URL:
    pytest.fail("STOCKFLOW_TEST_PG_URL is not set: run `make test`, or `scripts/with-postgres.sh pytest tests/acceptance`", pytrace=False)

INCREMENTAL = """\
version: 1
name: orders-to-warehouse
stages:
  orders:
    extract: sqlite
    database: app.sqlite3
    table: stock_commande
    incremental: {column: updated_at, lookback: 2h}
  warehouse: {load: postgres, input: orders, connection: "${TARGET_URL}", table: commandes, mode: upsert, key: [code_cmd]}
  side: {extract: csv, path: "${SIDE_CSV}", columns: {id: int}}
  side_copy: {load: csv, input: side, path: "side-{as_of}.csv"}
"""

SKIPPING = """\
version: 1
name: daily-copy
skip_unchanged: true
stages:
  orders: {extract: csv, path: orders.csv, columns: {id: int, montant: {type: decimal, scale: 2}}}
  products: {extract: sqlite, database: app.sqlite3, table: stock_commande}
  copy: {load: csv, input: orders, path: "orders-{as_of}.csv"}
  report: {load: xlsx, path: "commandes-{as_of}.xlsx", sheets: [{name: Commandes, input: products}]}
"""


@pytest.fixture
def target():
    database = "incr_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')
    yield urlunparse(urlparse(PG_URL)._replace(path="/" + database))
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


# The scratch PostgreSQL database of each test's folder.
TARGETS = {}


def write_orders(work, rows):
    with sqlite3.connect(work / "app.sqlite3") as db:
        db.execute("CREATE TABLE IF NOT EXISTS stock_commande (code_cmd integer PRIMARY KEY, code_prod text NOT NULL, "
                   "quantite_cmd integer NOT NULL, updated_at datetime NOT NULL)")
        db.executemany("INSERT OR REPLACE INTO stock_commande VALUES (?, ?, ?, ?)", rows)


@pytest.fixture
def work(tmp_path, target):
    (tmp_path / "incremental.yml").write_text(INCREMENTAL)
    (tmp_path / "skipping.yml").write_text(SKIPPING)
    (tmp_path / "side.csv").write_text("id\n1\n")
    os.mkfifo(tmp_path / "pipe.csv")
    write_orders(tmp_path, [(1, "A", 1, "2026-11-25 08:00:00"), (2, "B", 2, "2026-11-25 10:00:00"),
                            (3, "C", 3, "2026-11-25 12:00:00")])
    TARGETS[tmp_path] = target
    return tmp_path


def env(work, side="side.csv"):
    return {**os.environ, "TARGET_URL": TARGETS[work], "SIDE_CSV": str(work / side)}


def stockflow(work, *args, side="side.csv"):
    return subprocess.run([STOCKFLOW, *args], cwd=work, env=env(work, side), capture_output=True, text=True, timeout=60)


def run_report(work):
    report = json.loads((work / "out" / "run.json").read_text())
    return {stage["id"]: stage for stage in report["stages"]}


def warehouse(work):
    with psycopg.connect(TARGETS[work]) as connection:
        return connection.execute("SELECT code_cmd, code_prod, quantite_cmd FROM commandes ORDER BY code_cmd").fetchall()


def watermark(work):
    with sqlite3.connect(work / ".stockflow" / "state.sqlite") as db:
        return db.execute("SELECT value FROM watermarks WHERE pipeline = 'orders-to-warehouse' AND stage = 'orders'").fetchone()


def statuses(work, pipeline):
    with sqlite3.connect(work / ".stockflow" / "state.sqlite") as db:
        return [row[0] for row in db.execute("SELECT status FROM runs WHERE pipeline = ? ORDER BY started, rowid", (pipeline,))]


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_run_killed_mid_run_leaves_the_watermark_so_the_next_run_reads_the_same_rows(work):
    first = stockflow(work, "run", "incremental.yml", "--out", "out", "--as-of", "2026-11-25")
    assert first.returncode == 0, first.stderr
    assert run_report(work)["orders"]["rows_in"] == 3
    assert watermark(work) == ("2026-11-25T12:00:00Z",)

    # Order 4 arrives late (11:00, inside the 2 h lookback), order 2 is updated, order 5 is new.
    write_orders(work, [(4, "D", 4, "2026-11-25 11:00:00"), (2, "B2", 20, "2026-11-25 12:30:00"),
                        (5, "E", 5, "2026-11-25 13:00:00")])
    killed = subprocess.Popen([STOCKFLOW, "run", "incremental.yml", "--out", "out", "--as-of", "2026-11-25"], cwd=work,
                              env=env(work, "pipe.csv"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer = open(work / "pipe.csv", "w")
    writer.write("id\n1\n")
    writer.flush()
    # The incremental extract and its upsert are done (order 5 is in the warehouse); the run waits on the pipe.
    assert wait_for(lambda: (5, "E", 5) in warehouse(work)), killed.stderr
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(timeout=10) == -signal.SIGKILL
    writer.close()
    assert watermark(work) == ("2026-11-25T12:00:00Z",), "a killed run commits no watermark"

    again = stockflow(work, "run", "incremental.yml", "--out", "out", "--as-of", "2026-11-25")
    assert again.returncode == 0, again.stderr
    # From 10:00 again: orders 2, 3, 4 and 5, the same rows the killed run read.
    assert run_report(work)["orders"]["rows_in"] == 4
    assert "incremental: read updated_at from 2026-11-25T10:00:00Z up to 2026-11-25T13:00:00Z" in run_report(work)["orders"]["notes"]
    assert watermark(work) == ("2026-11-25T13:00:00Z",)
    assert warehouse(work) == [(1, "A", 1), (2, "B2", 20), (3, "C", 3), (4, "D", 4), (5, "E", 5)], "each order once"
    assert statuses(work, "orders-to-warehouse") == ["succeeded", "killed", "succeeded"]

    # Re-running gives the same table; --full-refresh reads every row and still gives it.
    assert stockflow(work, "run", "incremental.yml", "--out", "out", "--as-of", "2026-11-25").returncode == 0
    assert warehouse(work) == [(1, "A", 1), (2, "B2", 20), (3, "C", 3), (4, "D", 4), (5, "E", 5)]
    full = stockflow(work, "run", "incremental.yml", "--out", "out", "--as-of", "2026-11-25", "--full-refresh")
    assert full.returncode == 0, full.stderr
    assert run_report(work)["orders"]["rows_in"] == 5
    assert warehouse(work) == [(1, "A", 1), (2, "B2", 20), (3, "C", 3), (4, "D", 4), (5, "E", 5)]


def test_validate_refuses_an_incremental_input_into_a_workbook(work):
    (work / "bad.yml").write_text(INCREMENTAL.replace(
        'warehouse: {load: postgres, input: orders, connection: "${TARGET_URL}", table: commandes, mode: upsert, key: [code_cmd]}',
        'warehouse: {load: xlsx, path: "w.xlsx", sheets: [{name: Commandes, input: orders}]}'))
    result = stockflow(work, "validate", "bad.yml")
    assert result.returncode == 2
    assert "bad.yml:9:" in result.stderr + result.stdout
    assert "only load: postgres with mode: upsert takes them" in result.stderr + result.stdout


def visible_files(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def test_a_run_with_unchanged_inputs_is_skipped_and_rewrites_nothing(work):
    (work / "orders.csv").write_text("id,montant\n1,12.50\n2,3.10\n")
    first = stockflow(work, "run", "skipping.yml", "--out", "out", "--as-of", "2026-11-25")
    assert first.returncode == 0, first.stderr
    before = visible_files(work / "out")
    assert {"orders-2026-11-25.csv", "commandes-2026-11-25.xlsx", "run.json"} <= set(before)
    with sqlite3.connect(work / ".stockflow" / "state.sqlite") as db:
        first_id = db.execute("SELECT run_id FROM runs WHERE pipeline = 'daily-copy'").fetchone()[0]

    skipped = stockflow(work, "run", "skipping.yml", "--out", "out", "--as-of", "2026-11-25")
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout.strip() == f"up to date (same inputs as run {first_id})"
    assert visible_files(work / "out") == before, "a skipped run leaves every output byte for byte"
    assert statuses(work, "daily-copy") == ["succeeded", "skipped"]
    listed = stockflow(work, "history", "daily-copy")
    assert "skipped" in listed.stdout, listed.stdout + listed.stderr

    forced = stockflow(work, "run", "skipping.yml", "--out", "out", "--as-of", "2026-11-25", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "up to date" not in forced.stdout
    assert visible_files(work / "out")["run.json"] != before["run.json"]

    write_orders(work, [(6, "F", 6, "2026-11-25 14:00:00")])
    changed = stockflow(work, "run", "skipping.yml", "--out", "out", "--as-of", "2026-11-25")
    assert changed.returncode == 0, changed.stderr
    assert "up to date" not in changed.stdout
    assert statuses(work, "daily-copy") == ["succeeded", "skipped", "succeeded", "succeeded"]
