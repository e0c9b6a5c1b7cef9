"""End to end: `stockflow run pipelines/nightly-inventory.yml` on the bundled fixtures, the workbook
opened with openpyxl (as a finance user's spreadsheet would) and every figure checked against
fixtures/expected.json, which fixtures/expected.py computes independently with Python's decimal module."""
import datetime
import json
import os
import subprocess
import unicodedata
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = Path(os.environ.get("STOCKFLOW_BIN") or ROOT / ".build" / "debug" / "stockflow")
EXPECTED = json.loads((ROOT / "fixtures" / "expected.json").read_text())
AS_OF = "2026-11-25"


def cents(value) -> Decimal:
    """Excel stores doubles; money cells carry exact cents, so rounding to 2 places recovers them."""
    return Decimal(repr(value)).quantize(Decimal("0.01"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("nightly")
    result = subprocess.run([str(STOCKFLOW), "run", "pipelines/nightly-inventory.yml", "--out", str(out), "--as-of", AS_OF],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    workbook = openpyxl.load_workbook(out / f"inventaire-{AS_OF}.xlsx", data_only=True)
    return out, workbook, result.stdout


def data_rows(sheet):
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert rows and rows[-1][0] is None or rows[-1][0] == "Total", "last row is the totals row"
    return rows[:-1] if rows and "Total" in rows[-1] else rows


def test_workbook_has_the_four_sheets_in_order(run):
    _, workbook, _ = run
    assert workbook.sheetnames == ["Commandes", "CA par mois", "Stock par entrepôt", "Clients", "Fournisseurs",
                                   "Tendance hebdo", "Tendance mensuelle", "Stock bas", "Graphiques", "Constats", "Rejets"]


def test_order_lines_total_matches_the_independent_computation(run):
    _, workbook, _ = run
    sheet = workbook["Commandes"]
    header = [cell.value for cell in sheet[1]]
    assert header == ["N° commande", "Date", "Code produit", "Produit", "Catégorie", "Quantité", "Prix unitaire", "Montant"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    lines, totals = rows[:-1], rows[-1]
    assert len(lines) == EXPECTED["valid_orders"]
    revenue = sum(cents(row[7]) for row in lines)
    assert revenue == Decimal(EXPECTED["revenue_total"])
    for row in lines:
        assert cents(row[7]) == (cents(row[6]) * row[5]).quantize(Decimal("0.01")), row
    assert totals[0] == "Total"
    assert cents(totals[7]) == Decimal(EXPECTED["revenue_total"])
    assert totals[5] == sum(row[5] for row in lines)


def test_order_sheet_is_formatted_for_people(run):
    _, workbook, _ = run
    sheet = workbook["Commandes"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith("A1:H")
    assert isinstance(sheet["B2"].value, datetime.datetime), "dates are real Excel dates"
    assert "€" in sheet["H2"].number_format
    assert sheet["A1"].font.bold
    formula_book = openpyxl.load_workbook(run[0] / f"inventaire-{AS_OF}.xlsx")
    last = formula_book["Commandes"].max_row
    assert formula_book["Commandes"][f"H{last}"].value.startswith("=SUBTOTAL(109,H2:H")
    assert sheet.column_dimensions["D"].width > 10


def test_revenue_by_month_matches(run):
    _, workbook, _ = run
    sheet = workbook["CA par mois"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))[:-1]
    by_month = {}
    for month, _category, _count, _quantity, revenue in rows:
        # Months are real dates, the first of the month (issue 12), shown as "janvier 2025".
        assert month.day == 1 and sheet.cell(row=2, column=1).number_format == "[$-40C]mmmm yyyy"
        month = f"{month:%Y-%m}"
        by_month[month] = by_month.get(month, Decimal(0)) + cents(revenue)
    assert by_month == {month: Decimal(value) for month, value in EXPECTED["revenue_by_month"].items()}
    assert sum(row[2] for row in rows) == EXPECTED["valid_orders"]
    def folded(text):
        """Accents and case folded, as a French reader expects categories ordered."""
        return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    keys = [(row[0], row[1]) for row in rows]
    assert keys == sorted(keys, key=lambda key: (key[0], folded(key[1]), key[1]))


def test_stock_by_warehouse_matches(run):
    _, workbook, _ = run
    rows = list(workbook["Stock par entrepôt"].iter_rows(min_row=2, values_only=True))[:-1]
    got = {str(row[0]): {"units": row[3], "value": str(cents(row[4]))} for row in rows}
    assert got == EXPECTED["stock_by_warehouse"]


def test_customer_supplier_and_trend_sheets_add_up_to_the_revenue(run):
    _, workbook, _ = run
    revenue = Decimal(EXPECTED["revenue_total"])
    for name, column in [("Fournisseurs", 4), ("Tendance hebdo", 3), ("Tendance mensuelle", 2)]:
        rows = list(workbook[name].iter_rows(min_row=2, values_only=True))[:-1]
        assert sum(cents(row[column]) for row in rows) == revenue, name
    # Customers' revenue is net of refunds (rule 6, issue 12): the gross less every refund of the database's
    # returns (all valid; a missing refund defaults to quantity × unit price), recomputed here.
    refunds = subprocess.run(["sqlite3", str(ROOT / "fixtures" / "inventory.sqlite3"),
                              "SELECT r.montant_remboursement, r.quantite, p.prix_unit FROM stock_retour r "
                              "JOIN stock_facture f ON f.id = r.facture_id JOIN stock_commande c ON c.code_cmd = f.commande_id "
                              "JOIN stock_produit p ON p.code_prod = c.produit_id"], capture_output=True, text=True, check=True)
    refunded = Decimal(0)
    for line in refunds.stdout.splitlines():
        amount, quantity, price = line.split("|")
        refunded += (Decimal(amount) if amount else Decimal(quantity) * Decimal(price)).quantize(Decimal("0.01"))
    customers = list(workbook["Clients"].iter_rows(min_row=2, values_only=True))[:-1]
    assert workbook["Clients"]["E1"].value == "CA net"
    assert sum(cents(row[4]) for row in customers) == revenue - refunded
    assert {row[2] for row in customers} <= {0, 1, None} and workbook["Clients"]["C2"].number_format == '"Oui";"Oui";"Non"'
    shares = [row[5] for row in list(workbook["Fournisseurs"].iter_rows(min_row=2, values_only=True))[:-1]]
    assert abs(sum(shares) - 1) < 0.001
    assert workbook["Fournisseurs"]["D2"].number_format == "0.00%"


def test_weeks_are_real_dates_with_their_label_beside(run):
    """Issue 12: a week is its Monday (ISO 8601) as an Excel date, the label `2025-S01` in its own column."""
    _, workbook, _ = run
    sheet = workbook["Tendance hebdo"]
    assert [cell.value for cell in sheet[1]] == ["Semaine", "Libellé", "Commandes", "CA brut"]
    assert sheet["A2"].number_format == "dd/mm/yyyy" and sheet["B2"].number_format in ("General", "@")
    rows = data_rows(sheet)
    assert len(rows) > 50
    for monday, label, _orders, _revenue in rows:
        assert isinstance(monday, datetime.datetime) and monday.weekday() == 0, monday
        year, week, _ = monday.isocalendar()
        assert label == f"{year}-S{week:02d}", (monday, label)
    mondays = [row[0] for row in rows]
    assert mondays == sorted(mondays) and len(set(mondays)) == len(mondays)
    # The weekly counts, recomputed from the orders of the Commandes sheet by the ISO week of their date.
    by_week = {}
    for line in data_rows(workbook["Commandes"]):
        day = line[1]
        monday = (day - datetime.timedelta(days=day.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        by_week[monday] = by_week.get(monday, 0) + 1
    assert {row[0]: row[2] for row in rows} == by_week


def test_products_under_the_threshold_mean_the_same_in_the_kpi_and_per_warehouse(run):
    """DOMAIN.md "Low stock", recomputed from the SQLite file: the KPI (the Stock bas sheet, which the report's
    and digest's tile count) is the products whose units across active warehouses are under 10; per warehouse,
    the products (not stock lines) whose units in that warehouse are under 10. Soft-deleted products and
    inactive warehouses are out of both."""
    out, workbook, _ = run
    import sqlite3
    con = sqlite3.connect(ROOT / "fixtures" / "inventory.sqlite3")
    current = {code for code, deleted in con.execute("SELECT code_prod, is_deleted FROM stock_produit") if not deleted}
    active = {code for code, flag in con.execute("SELECT code_entrepot, is_actif FROM stock_entrepot") if flag}
    units = {}
    for product, warehouse, quantity in con.execute("SELECT produit_id, entrepot_id, quantite FROM stock_produitentrepot"):
        if product in current and warehouse in active:
            units[(warehouse, product)] = units.get((warehouse, product), 0) + quantity
    overall = {product: sum(q for (_, p), q in units.items() if p == product) for product in current}
    kpi = sorted(product for product, total in overall.items() if total < 10)
    per_warehouse = {warehouse: sum(1 for (w, _), q in units.items() if w == warehouse and q < 10) for warehouse in active}
    held = {warehouse: sum(1 for (w, _) in units if w == warehouse) for warehouse in active}
    sheet = workbook["Stock par entrepôt"]
    assert sheet["F1"].value == "Produits sous le seuil" and sheet["C1"].value == "Produits"
    rows = data_rows(sheet)
    assert {row[0]: row[5] for row in rows} == per_warehouse
    assert {row[0]: row[2] for row in rows} == held
    assert sorted(row[0] for row in workbook["Stock bas"].iter_rows(min_row=2, values_only=True)) == kpi
    report = json.loads((out / f"rapport-{AS_OF}.json").read_text())
    [tile] = [k for k in report["kpis"] if k["input"] == "low_stock"]
    assert tile["agg"] == "count" and int(tile["value"]) == len(kpi)
    # A product can be low in one warehouse and not overall: the per-warehouse counts do not add up to the KPI.
    assert sum(per_warehouse.values()) >= len(kpi)


def test_findings_sheet_lists_every_finding(run):
    out, workbook, _ = run
    rows = list(workbook["Constats"].iter_rows(min_row=2, values_only=True))
    findings = EXPECTED["findings"]
    # Rules in words (issue 12); the codes stay in findings.csv.
    assert sorted(row[0] for row in rows) == sorted(["Montant de commande différent du recalcul"] * findings["total_mismatch_count"]
                                                    + ["Quantité historique différente des lignes de stock"] * len(findings["legacy_quantity_mismatch_products"]))
    assert len(rows) == len((out / "findings.csv").read_text().splitlines()) - 1


def test_low_stock_lists_the_expected_products(run):
    _, workbook, _ = run
    rows = list(workbook["Stock bas"].iter_rows(min_row=2, values_only=True))
    assert sorted(row[0] for row in rows) == EXPECTED["low_stock_products"]
    assert all(row[2] < 10 for row in rows)


def test_run_json_reconciles_every_stage_and_lists_the_workbook(run):
    out, _, stdout = run
    report = json.loads((out / "run.json").read_text())
    assert report["status"] == "succeeded" and report["exit_code"] == 0
    for stage in report["stages"]:
        assert stage["rows_in"] == stage["rows_out"] + stage["rows_rejected"] + stage["rows_filtered"], stage
    assert report["outputs"] == [str(out / f"inventaire-{AS_OF}.xlsx"), str(out / f"rapport-{AS_OF}.html"), str(out / f"rapport-{AS_OF}.json"),
                                 str(out / "outbox" / f"nightly-inventory-{AS_OF}.eml")]
    assert report["rejects"] == 7
    assert f"inventaire-{AS_OF}.xlsx" in stdout


def test_cli_reports_an_invalid_pipeline_like_a_compiler(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("version: 1\nname: bad\nstages:\n  orders:\n    extract: csv\n    path: x.csv\n    deliminator: ';'\n")
    result = subprocess.run([str(STOCKFLOW), "validate", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert f"{bad}:7:5: error: unknown key 'deliminator' in stage 'orders' (did you mean 'delimiter'?)" in result.stderr
    assert f"{bad}:6:11: error: file 'x.csv'" in result.stderr


def test_too_many_rejects_exit_65_and_keep_the_last_good_report(tmp_path):
    pipeline = (ROOT / "pipelines" / "nightly-inventory.yml").read_text().replace("max_rejects: 100", "max_rejects: 3")
    strict = tmp_path / "strict.yml"
    out = tmp_path / "out"
    good = subprocess.run([str(STOCKFLOW), "run", "pipelines/nightly-inventory.yml", "--out", str(out), "--as-of", AS_OF], cwd=ROOT, capture_output=True)
    assert good.returncode == 0
    before = (out / f"inventaire-{AS_OF}.xlsx").read_bytes()
    strict.write_text(pipeline)
    env = dict(os.environ, STOCKFLOW_FIXTURES=str(ROOT / "fixtures"))
    result = subprocess.run([str(STOCKFLOW), "run", str(strict), "--out", str(out), "--as-of", AS_OF], cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 65, result.stdout
    assert (out / f"inventaire-{AS_OF}.xlsx").read_bytes() == before
    assert not [name for name in os.listdir(out) if ".tmp-" in name]
    assert json.loads((out / "run.json").read_text())["status"] == "too_many_rejects"
