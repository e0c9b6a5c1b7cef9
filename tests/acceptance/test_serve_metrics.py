"""/metrics of the real `stockflow serve`, started without --metrics-file: the run figures the textfile holds
(status, exit code, duration, rejects, rows per stage, last success) computed from the run history, equal to
the counts of each run's run.json and to the textfile the same runs wrote."""
import json
import re
import subprocess
from datetime import datetime

from serve_helpers import ROOT, STOCKFLOW, Server

AS_OF = "2026-11-25"
BROKEN = """version: 1
name: broken-orders
stages:
  orders: {extract: csv, path: missing-orders.csv, columns: {id: int}}
  out: {load: csv, input: orders, path: orders.csv}
"""
SAMPLE = re.compile(r'^(\w+)\{([^}]*)\} (\S+)$')


def samples(text):
    """{(name, frozenset of labels): value} of the sample lines of a Prometheus text."""
    found = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            found[(match.group(1), labels)] = float(match.group(3))
    return found


def run_by_hand(pipeline, out, state, textfile):
    return subprocess.run([STOCKFLOW, "run", str(pipeline), "--out", str(out), "--state", str(state), "--as-of", AS_OF,
                           "--metrics-file", str(textfile)], capture_output=True, text=True, timeout=300)


def epoch(iso):
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def test_metrics_compute_the_run_figures_from_history_without_a_metrics_file(tmp_path):
    (tmp_path / "state").mkdir()
    server = Server(tmp_path, ROOT / "pipelines")
    try:
        assert "stockflow_run_success" not in server.get("/metrics").text  # no run yet
        textfile = tmp_path / "textfile" / "stockflow.prom"
        nightly = run_by_hand(ROOT / "pipelines" / "nightly-inventory.yml", server.out / "nightly-inventory", server.state, textfile)
        assert nightly.returncode == 0, nightly.stderr
        broken_file = tmp_path / "broken-orders.yml"
        broken_file.write_text(BROKEN)
        broken = run_by_hand(broken_file, server.out / "broken-orders", server.state, textfile)
        assert broken.returncode != 0

        response = server.get("/metrics")
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
        text = response.text
        found = samples(text)
        report = json.loads((server.out / "nightly-inventory" / "run.json").read_text())
        pipeline = frozenset({("pipeline", "nightly-inventory")})
        assert found[("stockflow_run_success", pipeline)] == 1
        assert found[("stockflow_run_exit_code", pipeline)] == report["exit_code"] == 0
        assert found[("stockflow_run_rejects", pipeline)] == report["rejects"] > 0
        assert found[("stockflow_run_findings", pipeline)] == report["findings"]
        assert found[("stockflow_last_success_timestamp_seconds", pipeline)] == epoch(report["finished"])
        assert found[("stockflow_run_last_timestamp_seconds", pipeline)] == epoch(report["finished"])
        for stage in report["stages"]:
            labels = pipeline | {("stage", stage["id"]), ("kind", stage["kind"])}
            for figure in ["rows_in", "rows_out", "rows_rejected", "rows_filtered", "findings"]:
                assert found[(f"stockflow_stage_{figure}", labels)] == stage[figure], (stage["id"], figure)
        assert sum(found[("stockflow_stage_rows_rejected", pipeline | {("stage", s["id"]), ("kind", s["kind"])})]
                   for s in report["stages"]) == report["rejects"]

        failed = frozenset({("pipeline", "broken-orders")})
        assert found[("stockflow_run_success", failed)] == 0
        assert found[("stockflow_run_exit_code", failed)] == broken.returncode
        assert ("stockflow_last_success_timestamp_seconds", failed) not in found

        for family in ["stockflow_run_success", "stockflow_stage_rows_in", "stockflow_http_requests_total"]:
            assert text.count(f"# HELP {family} ") == 1 and text.count(f"# TYPE {family} ") == 1
        # The same figures as the textfile the runs wrote, sample for sample.
        run_samples = {key: value for key, value in found.items() if not key[0].startswith("stockflow_http_")}
        assert run_samples == samples(textfile.read_text())
    finally:
        server.stop()
