"""End to end with the real binary: the per-pipeline run lock, a run killed with SIGKILL, the scheduler
stopped with SIGTERM mid-run, and secrets kept out of logs, run.json and the state database.

A run is held "mid-run" deterministically by giving its CSV extract a named pipe (FIFO) as input: the
run takes its lock, starts reading, and blocks until the test writes the rest or closes the pipe."""
import json
import os
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = os.environ.get("STOCKFLOW_BIN") or str(ROOT / ".build" / "debug" / "stockflow")

PIPELINE = """\
version: 1
name: slow-orders
schedule: {cron: "* * * * *", timezone: UTC, catchup: latest}
stages:
  orders: {extract: csv, path: "${ORDERS_CSV}", columns: {id: int, amount: {type: decimal, scale: 2}}}
  copy: {load: csv, input: orders, path: "orders-{as_of}.csv"}
"""
GOOD_ROWS = "id,amount\n1,2.50\n2,3.00\n3,4.25\n"


@pytest.fixture
def work(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "slow-orders.yml").write_text(PIPELINE)
    (tmp_path / "good.csv").write_text(GOOD_ROWS)
    os.mkfifo(tmp_path / "pipe.csv")
    return tmp_path


def env(work, source="good.csv", **extra):
    return {**os.environ, "ORDERS_CSV": str(work / source), **extra}


def run(work, *args, source="good.csv", **extra):
    return subprocess.run([STOCKFLOW, "run", "pipelines/slow-orders.yml", *args], cwd=work, env=env(work, source, **extra),
                          capture_output=True, text=True, timeout=60)


def start_blocked_run(work, *args):
    """Starts a run reading the FIFO and returns it with the pipe's write end, once it holds the lock."""
    process = subprocess.Popen([STOCKFLOW, "run", "pipelines/slow-orders.yml", *args], cwd=work, env=env(work, "pipe.csv"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer = open(work / "pipe.csv", "w")  # returns once the run has opened it: it holds the lock by then
    writer.write("id,amount\n1,2.50\n")
    writer.flush()
    return process, writer


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def visible_files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def history(work):
    with sqlite3.connect(work / ".stockflow" / "state.sqlite") as db:
        return db.execute("SELECT pid, status, exit_code, trigger, scheduled_for, as_of FROM runs ORDER BY started, rowid").fetchall()


def test_a_second_run_of_the_same_pipeline_exits_75_naming_the_holder(work):
    first, writer = start_blocked_run(work, "--out", "out", "--as-of", "2026-11-25")
    try:
        second = run(work, "--out", "out2", "--as-of", "2026-11-25")
        assert second.returncode == 75, second.stderr
        assert f"process {first.pid} holds the lock" in second.stderr
        assert not (work / "out2").exists(), "the refused run wrote nothing"
    finally:
        writer.write("2,3.00\n")
        writer.close()
    assert first.wait(timeout=30) == 0
    assert (work / "out" / "orders-2026-11-25.csv").read_text().count("\n") == 3
    assert [row[1] for row in history(work)] == ["succeeded"], "the refused run is not a run"


def test_a_run_killed_with_sigkill_does_not_block_the_next_and_leaves_the_outputs_intact(work):
    assert run(work, "--out", "out", "--as-of", "2026-11-25").returncode == 0
    before = visible_files(work / "out")
    assert "orders-2026-11-25.csv" in before

    killed, writer = start_blocked_run(work, "--out", "out", "--as-of", "2026-11-25")
    assert wait_for(lambda: any(p.name.startswith(".") for p in (work / "out").iterdir())), "the run writes temporaries"
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(timeout=10) == -signal.SIGKILL
    writer.close()
    assert visible_files(work / "out") == before, "a killed run replaces nothing"

    after = run(work, "--out", "out", "--as-of", "2026-11-25")
    assert after.returncode == 0, after.stderr
    assert not any(p.name.startswith(".") for p in (work / "out").iterdir()), "the next run removes the dead run's temporaries"
    assert [row[1] for row in history(work)] == ["succeeded", "killed", "succeeded"]
    assert history(work)[1][0] == killed.pid


def test_the_scheduler_stopped_mid_run_exits_cleanly_with_no_partial_output(work):
    # The scheduler last dealt with a fire an hour ago: catchup latest runs the newest missed minute at once.
    (work / ".stockflow").mkdir()
    an_hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with sqlite3.connect(work / ".stockflow" / "state.sqlite") as db:
        db.execute("CREATE TABLE schedule_cursor (pipeline TEXT PRIMARY KEY, last_fire TEXT NOT NULL)")
        db.execute("INSERT INTO schedule_cursor VALUES ('slow-orders', ?)", (an_hour_ago,))
    scheduler = subprocess.Popen([STOCKFLOW, "schedule", "pipelines", "--out", "out", "--grace", "1", "--stop-timeout", "2",
                                  "--log-format", "json"],
                                 cwd=work, env=env(work, "pipe.csv"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer = open(work / "pipe.csv", "w")  # the scheduler's child run opened it
    writer.write("id,amount\n1,2.50\n")
    writer.flush()
    lock = work / ".stockflow" / "locks" / "slow-orders.lock"
    assert wait_for(lambda: lock.exists() and lock.read_text().strip().isdigit())
    child = int(lock.read_text())
    assert child != scheduler.pid, "the run is a child process holding its own lock"

    scheduler.send_signal(signal.SIGTERM)
    try:
        _, stderr = scheduler.communicate(timeout=40)
    finally:
        writer.close()
    assert scheduler.returncode == 0, stderr
    out = work / "out" / "slow-orders"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") or p.name.startswith("orders-")], "no partial output"
    lines = [json.loads(line) for line in stderr.splitlines()]
    messages = [line["message"] for line in lines]
    assert any("stop requested" in m for m in messages)
    assert any("aborting the run" in m for m in messages)
    assert messages[-1] == "scheduler stopped"
    assert all({"run_id", "pipeline", "stage"} <= line.keys() for line in lines)
    pid, status, exit_code, trigger, scheduled_for, as_of = history(work)[-1]
    assert (pid, status, exit_code, trigger) == (child, "cancelled", 75, "schedule")
    assert scheduled_for > an_hour_ago
    assert as_of == scheduled_for[:10]
    # The interrupted fire is not marked done: the next start catches it up.
    with sqlite3.connect(work / ".stockflow" / "state.sqlite") as db:
        assert db.execute("SELECT last_fire FROM schedule_cursor").fetchone()[0] == an_hour_ago


def test_the_scheduler_lets_a_run_finish_within_the_grace(work):
    scheduler_env = env(work, "pipe.csv")
    (work / ".stockflow").mkdir()
    an_hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with sqlite3.connect(work / ".stockflow" / "state.sqlite") as db:
        db.execute("CREATE TABLE schedule_cursor (pipeline TEXT PRIMARY KEY, last_fire TEXT NOT NULL)")
        db.execute("INSERT INTO schedule_cursor VALUES ('slow-orders', ?)", (an_hour_ago,))
    scheduler = subprocess.Popen([STOCKFLOW, "schedule", "pipelines", "--out", "out", "--grace", "30"],
                                 cwd=work, env=scheduler_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(work / "pipe.csv", "w") as writer:
        writer.write("id,amount\n1,2.50\n")
        writer.flush()
        time.sleep(0.5)
        scheduler.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        writer.write("2,3.00\n")
    _, stderr = scheduler.communicate(timeout=40)
    assert scheduler.returncode == 0, stderr
    outputs = list((work / "out" / "slow-orders").glob("orders-*.csv"))
    assert len(outputs) == 1 and outputs[0].read_text().count("\n") == 3
    assert history(work)[-1][1] == "succeeded"


SECRET = "s3cr3t-Pa55word"
URL_PASSWORD = "urlpass-777"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_from_the_environment_reaches_logs_run_json_or_history(work, log_format):
    # The secret ends up in an output name on purpose: every report of it must mask it.
    (work / "pipelines" / "slow-orders.yml").write_text(PIPELINE.replace('"orders-{as_of}.csv"', '"orders-${DB_PASSWORD}.csv"'))
    secrets = {"DB_PASSWORD": SECRET, "API_TOKEN": "tok-abcdef123456", "DATABASE_URL": f"postgres://app:{URL_PASSWORD}@db.internal/stock"}
    result = run(work, "--out", "out", "--log-format", log_format, "--metrics-file", "metrics/stockflow.prom", **secrets)
    assert result.returncode == 0, result.stderr
    assert (work / "out" / f"orders-{SECRET}.csv").exists()
    run_json = (work / "out" / "run.json").read_text()
    with sqlite3.connect(work / ".stockflow" / "state.sqlite") as db:
        stored = json.dumps(db.execute("SELECT * FROM runs").fetchall())
    for text in (result.stdout, result.stderr, run_json, stored, (work / "metrics" / "stockflow.prom").read_text()):
        for secret in (SECRET, URL_PASSWORD, "tok-abcdef123456"):
            assert secret not in text
    assert "orders-***.csv" in run_json
    if log_format == "json":
        assert all(json.loads(line)["pipeline"] == "slow-orders" for line in result.stderr.splitlines())

    # A URL with a password that lands in a validation error is masked too.
    (work / "pipelines" / "slow-orders.yml").write_text(PIPELINE.replace('"${ORDERS_CSV}"', '"${DATABASE_URL}"'))
    failed = run(work, "--out", "out", "--log-format", log_format, **secrets)
    assert failed.returncode == 2
    assert "app:***@db.internal" in failed.stderr
    assert URL_PASSWORD not in failed.stderr + failed.stdout


def test_history_status_and_metrics_after_runs(work):
    assert run(work, "--out", "out", "--as-of", "2026-11-24", "--metrics-file", "m.prom").returncode == 0
    assert run(work, "--out", "out", "--as-of", "2026-11-25", "--metrics-file", "m.prom", source="missing.csv").returncode == 2
    (work / "bad.csv").write_text("id,amount\nx,1\n")
    (work / "pipelines" / "slow-orders.yml").write_text(PIPELINE.replace("stages:", "settings: {max_rejects: 0}\nstages:"))
    assert run(work, "--out", "out", "--as-of", "2026-11-25", "--metrics-file", "m.prom", source="bad.csv").returncode == 65
    listed = subprocess.run([STOCKFLOW, "history", "slow-orders"], cwd=work, capture_output=True, text=True)
    assert listed.returncode == 0
    assert [line.split()[5] for line in listed.stdout.splitlines()[1:]] == ["too_many_rejects", "succeeded"]
    status = subprocess.run([STOCKFLOW, "status", "pipelines"], cwd=work, capture_output=True, text=True)
    assert "slow-orders" in status.stdout and "too_many_rejects" in status.stdout and "(as of 2026-11-24)" in status.stdout
    metrics = (work / "m.prom").read_text()
    assert 'stockflow_run_exit_code{pipeline="slow-orders"} 65' in metrics
    assert 'stockflow_run_rejects{pipeline="slow-orders"} 1' in metrics
    assert "# TYPE stockflow_last_success_timestamp_seconds gauge" in metrics
    assert 'stockflow_stage_rows_in{pipeline="slow-orders",stage="orders",kind="extract:csv"} 1' in metrics
