"""The bundled pipelines give the same outputs byte for byte whatever the threads do (issue 13): each runs
with STOCKFLOW_THREADS=1 (every stage on one thread), 2 (the workbook's writer on its own thread, the
extracts on the runner's), 3 and unset (each load on its own thread and the extracts on another), and
every file is compared: the workbooks part by part (the zip's own timestamps vary with the clock),
rejects.csv, findings.csv, the report, the digest, and run.json's counts."""
import email
import email.policy
import json
import os
import re
import subprocess
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = Path(os.environ.get("STOCKFLOW_BIN") or ROOT / ".build" / "debug" / "stockflow")
PG_URL = os.environ.get("STOCKFLOW_TEST_PG_URL", "")
THREADS = ["1", "2", "3", None]


def run(pipeline: str, out: Path, as_of: str, threads, env=None):
    environment = {key: value for key, value in os.environ.items() if key != "STOCKFLOW_THREADS"}
    environment.update(env or {})
    if threads is not None:
        environment["STOCKFLOW_THREADS"] = threads
    result = subprocess.run([str(STOCKFLOW), "run", pipeline, "--out", str(out), "--as-of", as_of,
                             "--state", str(out.parent / f"{out.name}.state.sqlite")],
                            cwd=ROOT, capture_output=True, text=True, env=environment)
    return result


def files_of(out: Path) -> dict[str, bytes]:
    return {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


def workbook_parts(data: bytes, path: Path) -> dict[str, bytes]:
    """The parts of a workbook; in docProps/core.xml the created and modified times are the clock's
    (libxlsxwriter's default, the as-of date does not set them), so they are left out."""
    path.write_bytes(data)
    with zipfile.ZipFile(path) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    if "docProps/core.xml" in parts:
        parts["docProps/core.xml"] = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\1", parts["docProps/core.xml"])
    return parts


def message_parts(data: bytes, path: Path) -> list:
    """A digest as its reader gets it: headers but the clock's Date and the random Message-ID, then each
    part's type, file name and content (a workbook attached compared part by part; the MIME boundaries
    are random)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    parts = [sorted((key, str(value)) for key, value in message.items()
                    if key.lower() not in ("date", "message-id", "content-type"))]
    for part in message.walk():
        if part.is_multipart():
            continue
        content = part.get_payload(decode=True)
        if (part.get_filename() or "").endswith(".xlsx"):
            content = workbook_parts(content, path)
        parts.append((part.get_content_type(), part.get_filename(), content))
    return parts


def run_counts(data: bytes, out: Path) -> dict:
    """run.json without what depends on the clock (start, end, seconds per stage) and with the
    outputs' paths relative to the output folder."""
    report = json.loads(data)
    report["outputs"] = [str(Path(path).relative_to(out)) for path in report["outputs"]]
    for key in ("started", "finished"):
        report.pop(key)
    for stage in report["stages"]:
        stage.pop("seconds")
    return report


def compare_runs(outs: dict, tmp_path: Path):
    reference_threads = THREADS[0]
    reference = files_of(outs[reference_threads])
    assert "rejects.csv" in reference and "findings.csv" in reference and "run.json" in reference
    for threads, out in outs.items():
        if threads == reference_threads:
            continue
        files = files_of(out)
        label = f"STOCKFLOW_THREADS={threads or 'unset'} against 1"
        assert sorted(files) == sorted(reference), label
        for name, data in reference.items():
            if name.endswith(".xlsx"):
                expected = workbook_parts(data, tmp_path / "a.xlsx")
                found = workbook_parts(files[name], tmp_path / "b.xlsx")
                assert list(found) == list(expected), f"{label}: parts of {name}"
                for part in expected:
                    assert found[part] == expected[part], f"{label}: {name} part {part} differs"
            elif name.endswith(".eml"):
                assert message_parts(files[name], tmp_path / "b.xlsx") == message_parts(data, tmp_path / "a.xlsx"), f"{label}: {name}"
            elif name == "run.json":
                assert run_counts(files[name], out) == run_counts(data, outs[reference_threads]), f"{label}: run.json counts"
            else:
                assert files[name] == data, f"{label}: {name} differs"


@pytest.mark.parametrize("pipeline, as_of, rejects", [("pipelines/nightly-inventory.yml", "2026-11-25", 7),
                                                      ("pipelines/monthly-finance.yml", "2026-11-30", 0)])
def test_a_bundled_pipeline_writes_the_same_bytes_with_any_number_of_threads(tmp_path, pipeline, as_of, rejects):
    outs = {}
    for threads in THREADS:
        out = tmp_path / f"threads-{threads or 'default'}"
        result = run(pipeline, out, as_of, threads)
        assert result.returncode == 0, result.stdout + result.stderr
        outs[threads] = out
    # The nightly fixtures have bad rows: the order of their lines is part of what is compared.
    assert json.loads((outs["1"] / "run.json").read_text())["rejects"] == rejects
    compare_runs(outs, tmp_path)


def test_the_migration_pipeline_reports_the_same_with_any_number_of_threads(tmp_path):
    outs = {}
    for threads in THREADS:
        database = "det_" + uuid.uuid4().hex[:12]
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        try:
            target = urlunparse(urlparse(PG_URL)._replace(path="/" + database))
            out = tmp_path / f"threads-{threads or 'default'}"
            result = run("pipelines/migrate-sqlite-to-postgres.yml", out, "2026-11-25", threads,
                         env={"STOCKFLOW_MIGRATE_URL": target})
            assert result.returncode == 0, result.stdout + result.stderr
            outs[threads] = out
        finally:
            with psycopg.connect(PG_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    assert (outs["1"] / "migration-2026-11-25.csv").stat().st_size > 0
    compare_runs(outs, tmp_path)


def test_a_thread_count_that_is_not_a_number_is_a_usage_error(tmp_path):
    result = run("pipelines/nightly-inventory.yml", tmp_path / "out", "2026-11-25", "many")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "STOCKFLOW_THREADS must be a whole number of threads ≥ 1, found 'many'" in result.stdout + result.stderr
    assert not list((tmp_path / "out").glob("*.xlsx"))
