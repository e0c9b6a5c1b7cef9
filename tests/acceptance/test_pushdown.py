"""Pushdown (issue 14): the relational stages of a pipeline whose inputs come from PostgreSQL run inside
it as SQL, and the run delivers the same as in-process. The app's fixtures are migrated into a fresh
database of the private test server (`stockflow migrate`), then each fixture pipeline under
tests/pushdown/ runs with `pushdown: off` and with `pushdown: required` (or `auto` where a rulebook
stage stays in-process): the workbooks are compared part by part (the sheet XML, cell for cell), the
CSV outputs, rejects.csv and findings.csv byte for byte, and run.json's counts stage by stage."""
import json
import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

from test_determinism import files_of, run_counts, workbook_parts

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = Path(os.environ.get("STOCKFLOW_BIN") or ROOT / ".build" / "debug" / "stockflow")
PG_URL = os.environ.get("STOCKFLOW_TEST_PG_URL", "")


@pytest.fixture(scope="module")
def fixtures_db(tmp_path_factory):
    """The app's SQLite fixtures migrated into a database of their own; its URL."""
    rejects = tmp_path_factory.mktemp("migrate") / "migrate-rejects.csv"
    database = "pushdown_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    target = urlunparse(urlparse(PG_URL)._replace(path="/" + database))
    try:
        result = subprocess.run([str(STOCKFLOW), "migrate", str(ROOT / "fixtures" / "inventory.sqlite3"), target,
                                 "--rejects", str(rejects)],
                                cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        yield target
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def stockflow(*args, pg, mode):
    environment = dict(os.environ, STOCKFLOW_PG=pg, STOCKFLOW_PUSHDOWN=mode)
    return subprocess.run([str(STOCKFLOW), *args], cwd=ROOT, capture_output=True, text=True, env=environment)


def run(pipeline, out, pg, mode):
    result = stockflow("run", pipeline, "--out", str(out), "--as-of", "2026-11-30", pg=pg, mode=mode)
    assert result.returncode == 0, result.stdout + result.stderr
    return files_of(out)


def assert_same_outputs(in_process, pushed, out_off, out_pushed, tmp_path):
    assert sorted(pushed) == sorted(in_process)
    for name, data in in_process.items():
        if name.endswith(".xlsx"):
            expected = workbook_parts(data, tmp_path / "a.xlsx")
            found = workbook_parts(pushed[name], tmp_path / "b.xlsx")
            assert list(found) == list(expected), name
            for part in expected:
                assert found[part] == expected[part], f"{name}: part {part} differs"
        elif name == "run.json":
            # run.json lists the outputs in the order the loads opened them, which follows the order the
            # rows arrive in (a pushed stage's rows come all at once): the same files, maybe reordered.
            found, expected = run_counts(pushed[name], out_pushed), run_counts(data, out_off)
            assert sorted(found.pop("outputs")) == sorted(expected.pop("outputs"))
            assert found == expected
        else:
            assert pushed[name] == data, f"{name} differs"


@pytest.mark.parametrize("pipeline, mode", [("tests/pushdown/orders-by-month.yml", "required"),
                                            ("tests/pushdown/totals-auto.yml", "auto"),
                                            ("tests/pushdown/rulebook.yml", "required")])
def test_pushed_runs_deliver_what_in_process_runs_deliver(fixtures_db, tmp_path, pipeline, mode):
    in_process = run(pipeline, tmp_path / "off", fixtures_db, "off")
    pushed = run(pipeline, tmp_path / mode, fixtures_db, mode)
    assert_same_outputs(in_process, pushed, tmp_path / "off", tmp_path / mode, tmp_path)
    report = json.loads(pushed["run.json"])
    stages = {stage["id"]: stage for stage in report["stages"]}
    for stage in stages.values():
        assert stage["rows_in"] == stage["rows_out"] + stage["rows_rejected"] + stage["rows_filtered"], stage
    # The comparison is worth something only if rows were filtered, grouped and flagged.
    assert sum(stage["rows_filtered"] for stage in stages.values()) > 0
    if mode == "auto":
        assert report["rejects"] > 0 and report["findings"] > 0
        assert b"stock_commande:" in pushed["findings.csv"]
    if pipeline.endswith("rulebook.yml"):
        # Every rule of warehouse_rollup acted: rejects (unknown product, negative quantity), filtered
        # lines of both reasons, legacy findings naming their product row, the note of what was left out.
        rejects = pushed["rejects.csv"].decode()
        assert "stock-unknown-product" in rejects and "stock-quantity" in rejects
        assert b"stock-legacy-quantity" in pushed["findings.csv"] and b"stock_produit:" in pushed["findings.csv"]
        for id in ("stock_by_warehouse", "stock_by_product"):
            assert set(stages[id]["filtered_reasons"]) == {"soft-deleted product", "inactive warehouse"}, stages[id]
            assert any(note.startswith("left out: 2 soft-deleted product(s)") for note in stages[id]["notes"]), stages[id]
        assert stages["revenue_by_customer"]["rows_in"] == stages["orders"]["rows_out"] > 0


def test_plan_shows_where_each_stage_runs_and_the_sql(fixtures_db):
    result = stockflow("plan", "tests/pushdown/totals-auto.yml", "--sql", pg=fixtures_db, mode="auto")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "pushdown: auto" in lines
    assert any("first_orders  [transform: filter]  runs in postgres" in line for line in lines)
    assert any("totals  [transform: order_totals]  runs in postgres" in line for line in lines)
    assert any("weekly  [transform: trends]  runs in postgres" in line for line in lines)
    assert any("big_orders  [transform: sql]  runs in-process (the sql transform's query is in SQLite's dialect" in line
               for line in lines)
    assert "SELECT * FROM \"s_totals\" ORDER BY __seq" in result.stdout
    assert "sql (rejects and findings, recorded in-process):" in result.stdout
    assert "counts (one query per database, in the same snapshot):" in result.stdout
    off = stockflow("plan", "tests/pushdown/totals-auto.yml", pg=fixtures_db, mode="off")
    assert "runs in postgres" not in off.stdout and "runs in-process (pushdown: off)" in off.stdout


def test_required_fails_validation_at_the_first_stage_that_cannot_be_pushed(fixtures_db):
    result = stockflow("validate", "tests/pushdown/totals-auto.yml", pg=fixtures_db, mode="required")
    assert result.returncode != 0
    text = result.stdout + result.stderr
    lines = (ROOT / "tests/pushdown/totals-auto.yml").read_text().splitlines()
    line = next(index for index, text_line in enumerate(lines, 1) if text_line.startswith("  big_orders:"))
    # At the stage's first key, `transform: sql`.
    assert f"tests/pushdown/totals-auto.yml:{line + 1}:5: error:" in text, text
    assert "pushdown: required, but stage 'big_orders' (transform: sql) cannot run in PostgreSQL: the sql transform's query" in text
