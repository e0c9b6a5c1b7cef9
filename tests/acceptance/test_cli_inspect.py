"""The commands people read before and after a run — plan, docs, list, history, status — from the real binary."""
import json
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = Path(os.environ.get("STOCKFLOW_BIN") or ROOT / ".build" / "debug" / "stockflow")


def stockflow(*args, cwd=ROOT):
    return subprocess.run([str(STOCKFLOW), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_plan_lists_every_stage_once_after_the_stages_it_reads_with_their_columns():
    result = stockflow("plan", "pipelines/nightly-inventory.yml")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("pipeline nightly-inventory (cron ")
    order = [m.group(1) for m in (re.match(r"^\d+\. (\S+)  \[", line) for line in lines) if m]
    stages = [m.group(1) for m in (re.match(r"^\s+in  \S+ ← (\S+)", line) for line in lines) if m]
    assert len(order) == len(set(order)) and "workbook" in order
    # Every input is produced by a stage listed earlier.
    position = {stage: index for index, stage in enumerate(order)}
    current = None
    for line in lines:
        m = re.match(r"^\d+\. (\S+)  \[", line)
        if m:
            current = m.group(1)
        m = re.match(r"^\s+in  \S+ ← (\S+)", line)
        if m:
            assert position[m.group(1)] < position[current], line
    assert set(stages) <= set(order)
    assert any(re.match(r"^\s+out .*montant_commande:decimal", line) for line in lines)


def test_plan_of_a_broken_pipeline_exits_2_with_the_place(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("version: 1\nname: x\nstages:\n  a: {extract: csv, path: nope.csv}\n")
    result = stockflow("plan", str(broken))
    assert result.returncode == 2
    assert re.search(r"broken\.yml:4:\d+: error: ", result.stderr), result.stderr


def test_docs_print_the_committed_reference():
    result = stockflow("docs")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "docs" / "pipelines.md").read_text()


def test_list_history_and_status_follow_a_run(tmp_path):
    state = tmp_path / "state.sqlite"
    listed = stockflow("list", "pipelines")
    assert listed.returncode == 0, listed.stderr
    assert "nightly-inventory" in listed.stdout and "monthly-finance" in listed.stdout

    empty = stockflow("history", "--state", str(state))
    assert "nothing has run" in empty.stderr or "no runs" in empty.stdout, empty.stdout + empty.stderr

    run = stockflow("run", "pipelines/monthly-finance.yml", "--out", str(tmp_path / "out"), "--as-of", "2026-11-30",
                    "--state", str(state))
    assert run.returncode == 0, run.stderr

    history = stockflow("history", "--state", str(state))
    assert history.returncode == 0, history.stderr
    assert "monthly-finance" in history.stdout and "2026-11-30" in history.stdout and "succeeded" in history.stdout

    as_json = stockflow("history", "monthly-finance", "--state", str(state), "--json")
    assert as_json.returncode == 0, as_json.stderr
    records = [json.loads(line) for line in as_json.stdout.splitlines() if line.strip()]
    assert len(records) == 1
    assert records[0]["pipeline"] == "monthly-finance" and records[0]["as_of"] == "2026-11-30"

    status = stockflow("status", "pipelines", "--state", str(state))
    assert status.returncode == 0, status.stderr
    line = next(line for line in status.stdout.splitlines() if "monthly-finance" in line)
    assert "2026-11-30" in line
