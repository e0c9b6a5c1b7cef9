"""The deploy recipes are checked as far as this machine can: systemd units with systemd-analyze verify,
the Kubernetes CronJob as YAML with the fields that matter, the Airflow DAG as Python."""
import py_compile
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_verify(tmp_path):
    # The units name /usr/local/bin/stockflow; point them at the built binary so verify can check the command.
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace("/usr/local/bin/stockflow", str(ROOT / ".build" / "debug" / "stockflow"))
        (tmp_path / unit.name).write_text(text)
    units = sorted(str(p) for p in tmp_path.iterdir())
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_kubernetes_cronjob_forbids_overlap_and_sets_the_time_zone():
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "cronjob.yaml").read_text()))
    assert len(documents) == 1
    job = documents[0]
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "CronJob")
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    assert job["spec"]["timeZone"] == "Europe/Paris"
    assert len(job["spec"]["schedule"].split()) == 5
    container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "run"


def test_airflow_dag_is_valid_python():
    py_compile.compile(str(DEPLOY / "airflow" / "stockflow_nightly.py"), doraise=True)


def test_dockerfile_is_multi_stage_with_the_runtime_libraries():
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2
    assert "debian:bookworm-slim" in text
    for library in ("libsqlite3-0", "libxlsxwriter", "libpq5"):
        assert library in text
