"""The exit codes schedulers read (README): 0, 1, 2, 65, 75 — from the real binary."""
import os
import sqlite3
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = Path(os.environ.get("STOCKFLOW_BIN") or ROOT / ".build" / "debug" / "stockflow")

PIPELINE = """version: 1
name: locked
stages:
  products:
    extract: sqlite
    database: inventory.sqlite3
    table: stock_produit
    busy_timeout_ms: 200
  out:
    load: csv
    input: products
    path: products.csv
"""


def run(*args, cwd=ROOT):
    return subprocess.run([str(STOCKFLOW), *args], cwd=cwd, capture_output=True, text=True)


def test_a_database_locked_by_another_process_exits_75(tmp_path):
    shutil.copy(ROOT / "fixtures" / "inventory.sqlite3", tmp_path / "inventory.sqlite3")
    (tmp_path / "p.yml").write_text(PIPELINE)
    holder = sqlite3.connect(tmp_path / "inventory.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run("run", str(tmp_path / "p.yml"), "--out", str(tmp_path / "out"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 75, result.stdout + result.stderr
    assert "locked" in result.stdout + result.stderr
    assert run("run", str(tmp_path / "p.yml"), "--out", str(tmp_path / "out")).returncode == 0


def test_a_source_that_is_not_a_database_is_invalid_exit_2(tmp_path):
    (tmp_path / "inventory.sqlite3").write_text("not a database\n" * 100)
    (tmp_path / "p.yml").write_text(PIPELINE)
    result = run("validate", str(tmp_path / "p.yml"))
    assert result.returncode == 2
    assert "not an SQLite database" in result.stderr


def test_a_failed_run_exits_1_and_writes_run_json(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "p.yml").write_text("version: 1\nname: empty\nstages:\n  rows: {extract: csv, path: empty.csv, columns: {a: int}}\n"
                                    "  out: {load: csv, input: rows, path: rows.csv}\n")
    result = run("run", str(tmp_path / "p.yml"), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "empty" in result.stdout
    assert not (tmp_path / "out" / "rows.csv").exists()
    assert '"status" : "failed"' in (tmp_path / "out" / "run.json").read_text()


def test_a_bad_as_of_date_is_a_usage_error():
    assert run("run", "pipelines/nightly-inventory.yml", "--as-of", "2026-02-31").returncode != 0


def test_list_shows_every_bundled_pipeline_with_its_schedule():
    result = run("list", "pipelines")
    assert result.returncode == 0, result.stdout
    assert "nightly-inventory\t30 2 * * * (Europe/Paris)" in result.stdout
    assert "monthly-finance\t0 6 1 * * (Europe/Paris)" in result.stdout


def test_a_failed_run_with_on_failure_writes_the_alert_with_the_error(tmp_path):
    import email
    from email import policy
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "p.yml").write_text(
        "version: 1\nname: alerting\non_failure: {email: {to: [ops@example.com], subject: \"ALERTE {pipeline} {status}\"}}\n"
        "stages:\n  rows: {extract: csv, path: empty.csv, columns: {a: int}}\n  out: {load: csv, input: rows, path: rows.csv}\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("STOCKFLOW_SMTP")}
    result = subprocess.run([str(STOCKFLOW), "run", str(tmp_path / "p.yml"), "--out", str(tmp_path / "out"),
                             "--state", str(tmp_path / "state.sqlite")], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    alerts = list((tmp_path / "out" / "outbox").glob("alert-alerting-*.eml"))
    assert len(alerts) == 1, result.stderr
    message = email.message_from_bytes(alerts[0].read_bytes(), policy=policy.default)
    assert message["To"] == "ops@example.com"
    assert message["Subject"] == "ALERTE alerting failed"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "file is empty" in body
    assert "Last log lines" in body
