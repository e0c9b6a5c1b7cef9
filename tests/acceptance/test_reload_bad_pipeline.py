"""A pipeline edited into a broken state (a missing or misspelled input, Windows line ends) is reported
with its place, exit 2, by every command that reads it; a running scheduler sent SIGHUP keeps its old set."""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from test_scheduling import wait_for

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = str(ROOT / ".build" / "debug" / "stockflow")

GOOD = """\
version: 1
name: nightly-orders
schedule: {cron: "0 3 1 1 *", timezone: UTC}
stages:
  orders: {extract: csv, path: orders.csv, columns: {code_prod: int, quantite_cmd: int}}
  products: {extract: csv, path: products.csv, columns: {code_prod: int, prix_unit: {type: decimal, scale: 2}}}
  totals:
    transform: order_totals
    inputs: {orders: orders, products: products}
  copy: {load: csv, input: totals, path: totals.csv}
"""

# Each edit breaks the pipeline in a way that used to crash the build with "Index out of range".
BROKEN = {
    "a misspelled port": (GOOD.replace("products: products}", "product: products}"),
                          ["pipelines/orders.yml:9:30: error: stage 'totals' (order_totals) has no input 'product' (did you mean 'products'?)",
                           "pipelines/orders.yml:9:13: error: stage 'totals' (order_totals) is missing input 'products'"]),
    "a misspelled input key": (GOOD.replace("{load: csv, input: totals", "{load: csv, inptu: totals"),
                               ["pipelines/orders.yml:10:21: error: unknown key 'inptu' in stage 'copy' (did you mean 'input'?)",
                                "error: stage 'copy' (csv) needs 'input: <stage id>'"]),
    "a join given one input": (GOOD.replace("  copy:", "  joined: {transform: join, input: totals, on: code_prod}\n  copy:"),
                               ["error: unknown key 'input' in stage 'joined'",
                                "error: stage 'joined' (join) is missing input 'left'",
                                "error: stage 'joined' (join) is missing input 'right'"]),
}


@pytest.fixture
def work(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "orders.yml").write_text(GOOD)
    (tmp_path / "pipelines" / "orders.csv").write_text("code_prod,quantite_cmd\n1,2\n")
    (tmp_path / "pipelines" / "products.csv").write_text("code_prod,prix_unit\n1,2.50\n")
    return tmp_path


def stockflow(work, *args):
    return subprocess.run([STOCKFLOW, *args], cwd=work, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("edit", sorted(BROKEN))
def test_every_command_reports_a_broken_input_with_its_place_and_exits_2(work, edit):
    text, expected = BROKEN[edit]
    (work / "pipelines" / "orders.yml").write_text(text)
    for args in (["validate", "pipelines/orders.yml"], ["run", "pipelines/orders.yml", "--out", "out"],
                 ["schedule", "pipelines", "--next"]):
        result = stockflow(work, *args)
        assert result.returncode == 2, (args, result.returncode, result.stderr)
        assert "Fatal error" not in result.stderr
        for fragment in expected:
            assert fragment in result.stderr, (args, fragment, result.stderr)
    listed = stockflow(work, "list", "pipelines")
    assert listed.returncode == 2 and "Fatal error" not in listed.stderr
    assert f"orders.yml\tINVALID ({len(expected)} errors; run stockflow validate pipelines/orders.yml)" in listed.stdout
    assert not (work / "out" / "totals.csv").exists()


@pytest.mark.parametrize("ending", ["\r\n", "\r"], ids=["CRLF", "lone CR"])
def test_windows_line_ends_give_the_diagnostics_of_the_lf_file(work, ending):
    text, _ = BROKEN["a misspelled port"]
    (work / "pipelines" / "orders.yml").write_text(text)
    lf = stockflow(work, "validate", "pipelines/orders.yml")
    (work / "pipelines" / "orders.yml").write_bytes(text.replace("\n", ending).encode())
    other = stockflow(work, "validate", "pipelines/orders.yml")
    assert (other.returncode, other.stdout, other.stderr) == (lf.returncode, lf.stdout, lf.stderr)
    assert lf.returncode == 2 and "orders.yml:9:30: error:" in lf.stderr


def test_a_scheduler_sent_sighup_after_a_bad_edit_keeps_the_old_set_and_takes_a_good_one(work):
    log = work / "scheduler.log"
    with open(log, "w") as stderr:
        scheduler = subprocess.Popen([STOCKFLOW, "schedule", "pipelines", "--out", "out", "--log-format", "json"],
                                     cwd=work, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        def messages():
            return [json.loads(line)["message"] for line in log.read_text().splitlines() if line.startswith("{")]

        assert wait_for(lambda: any("scheduler started" in m for m in messages())), log.read_text()
        for edit, (text, expected) in sorted(BROKEN.items()):
            (work / "pipelines" / "orders.yml").write_text(text)
            refused = len([m for m in messages() if "reload refused" in m])
            scheduler.send_signal(signal.SIGHUP)
            assert wait_for(lambda: len([m for m in messages() if "reload refused" in m]) > refused), (edit, log.read_text())
            assert scheduler.poll() is None, f"the scheduler died after {edit}: {log.read_text()}"
            last = [m for m in messages() if "reload refused" in m][-1]
            assert "keeping the 1 pipeline(s) already scheduled" in last
            for fragment in expected:
                assert fragment in last, (edit, fragment, last)
        (work / "pipelines" / "orders.yml").write_text(GOOD.replace("0 3 1 1 *", "0 4 1 1 *"))
        scheduler.send_signal(signal.SIGHUP)
        assert wait_for(lambda: any("reloaded 1 scheduled pipeline(s)" in m for m in messages())), log.read_text()
        assert "Fatal error" not in log.read_text()
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(timeout=60)
    assert scheduler.returncode == 0, log.read_text()
    assert messages()[-1] == "scheduler stopped"
