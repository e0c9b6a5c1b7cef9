"""Pushdown of the rulebook stages returns, invoices and suppliers (issue 14): the app's fixtures migrated
into the private PostgreSQL server (test_pushdown.py's fixture), each pipeline tests/pushdown/rulebook-*.yml
run with `pushdown: off` and `pushdown: required`; the workbooks cell for cell, the CSV outputs, rejects.csv
and findings.csv byte for byte, run.json's counts stage by stage. Each pipeline is built so that the rules
of its stages act (rejects and findings on both sides), and required proves every stage ran in PostgreSQL."""
import json

import pytest

from test_pushdown import assert_same_outputs, fixtures_db, run, stockflow  # noqa: F401 (the fixture)

# Per pipeline: the rules that must have acted (in rejects.csv or findings.csv), so that the comparison
# is worth something.
PIPELINES = {
    "tests/pushdown/rulebook-invoices.yml": ["order-unknown-product", "order-quantity", "invoice-generated", "invoice-total-mismatch"],
    "tests/pushdown/rulebook-returns.yml": ["return-over-quantity", "return-over-refund"],
    "tests/pushdown/rulebook-suppliers.yml": ["invoice-generated", "invoice-total-mismatch", "stock-legacy-quantity"],
}


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_rulebook_stages_pushed_deliver_what_in_process_delivers(fixtures_db, tmp_path, pipeline):  # noqa: F811
    in_process = run(pipeline, tmp_path / "off", fixtures_db, "off")
    pushed = run(pipeline, tmp_path / "required", fixtures_db, "required")
    assert_same_outputs(in_process, pushed, tmp_path / "off", tmp_path / "required", tmp_path)
    issues = (pushed["rejects.csv"] + pushed.get("findings.csv", b"")).decode()
    for rule in PIPELINES[pipeline]:
        assert f",{rule}," in issues, rule
    report = json.loads(pushed["run.json"])
    for stage in report["stages"]:
        assert stage["rows_in"] == stage["rows_out"] + stage["rows_rejected"] + stage["rows_filtered"], stage
    if pipeline.endswith("rulebook-suppliers.yml"):
        shares = pushed["supplier_shares.csv"].decode()
        assert "(fournisseur inconnu 2)" in shares and "(sans fournisseur)" in shares, shares
    plan = stockflow("plan", pipeline, pg=fixtures_db, mode="required")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    stages = [line for line in plan.stdout.splitlines() if "[transform:" in line or "[extract:" in line]
    assert stages and all(line.endswith("runs in postgres") for line in stages), plan.stdout


def test_monthly_finance_on_the_migrated_fixtures_pushed_delivers_what_in_process_delivers(fixtures_db, tmp_path):  # noqa: F811
    """pipelines/monthly-finance.yml with only its extracts changed (tests/pushdown/rulebook-monthly-finance.yml),
    run with `off` and `auto`: every stage but the `sql` one (`invoices_by_month`, not compiled) runs in
    PostgreSQL, and the workbook, rejects.csv, findings.csv and run.json's counts are the same."""
    pipeline = "tests/pushdown/rulebook-monthly-finance.yml"
    in_process = run(pipeline, tmp_path / "off", fixtures_db, "off")
    pushed = run(pipeline, tmp_path / "auto", fixtures_db, "auto")
    assert_same_outputs(in_process, pushed, tmp_path / "off", tmp_path / "auto", tmp_path)
    findings = pushed["findings.csv"].decode()
    for rule in ("invoice-generated", "invoice-total-mismatch", "stock-legacy-quantity"):
        assert f",{rule}," in findings, rule
    plan = stockflow("plan", pipeline, pg=fixtures_db, mode="auto")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    in_process_stages = [line for line in plan.stdout.splitlines()
                         if ("[transform:" in line or "[extract:" in line) and not line.endswith("runs in postgres")]
    assert len(in_process_stages) == 1 and "invoices_by_month  [transform: sql]  runs in-process" in in_process_stages[0], plan.stdout
    required = stockflow("validate", pipeline, pg=fixtures_db, mode="required")
    assert required.returncode != 0
    assert "stage 'invoices_by_month' (transform: sql) cannot run in PostgreSQL" in required.stdout + required.stderr
