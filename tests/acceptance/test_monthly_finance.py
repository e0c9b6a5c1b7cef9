"""End to end: pipelines/monthly-finance.yml on the bundled database; figures recomputed here from
SQLite with Python's decimal module (DOMAIN.md rules 3, 4 and 6) and compared with the workbook."""
import os
import sqlite3
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = Path(os.environ.get("STOCKFLOW_BIN") or ROOT / ".build" / "debug" / "stockflow")
CENT = Decimal("0.01")


def cents(value) -> Decimal:
    return Decimal(repr(value)).quantize(CENT)


def money(value) -> Decimal:
    """Django stores decimals as REAL or INTEGER; their shortest repr is the stored decimal."""
    return Decimal(repr(value)).quantize(CENT)


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    out = tmp_path_factory.mktemp("finance")
    result = subprocess.run([str(STOCKFLOW), "run", "pipelines/monthly-finance.yml", "--out", str(out), "--as-of", "2026-11-30"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return openpyxl.load_workbook(out / "finance-2026-11-30.xlsx", data_only=True)


@pytest.fixture(scope="module")
def expected():
    db = sqlite3.connect(ROOT / "fixtures" / "inventory.sqlite3")
    price = {code: money(p) for code, p in db.execute("SELECT code_prod, prix_unit FROM stock_produit")}
    gross = {}
    for code, product, quantity in db.execute("SELECT code_cmd, produit_id, quantite_cmd FROM stock_commande"):
        gross[code] = (price[product] * quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    refunds = Decimal(0)
    by_reason = {}
    for quantity, reason, refund, unit in db.execute(
            "SELECT r.quantite, r.raison, r.montant_remboursement, p.prix_unit FROM stock_retour r "
            "JOIN stock_facture f ON f.id = r.facture_id JOIN stock_commande c ON c.code_cmd = f.commande_id "
            "JOIN stock_produit p ON p.code_prod = c.produit_id"):
        amount = money(refund) if refund is not None else (money(unit) * quantity).quantize(CENT, rounding=ROUND_HALF_UP)
        refunds += amount
        count, total = by_reason.get(reason, (0, Decimal(0)))
        by_reason[reason] = (count + 1, total + amount)
    invoices = db.execute("SELECT count(*) FROM stock_facture").fetchone()[0]
    return {"gross": sum(gross.values()), "refunds": refunds, "orders": len(gross),
            "generated": len(gross) - invoices, "by_reason": by_reason}


def test_invoices_by_month_total_gross_refunds_and_net(workbook, expected):
    rows = list(workbook["Factures par mois"].iter_rows(min_row=2, values_only=True))
    lines, total = rows[:-1], rows[-1]
    assert total[0] == "Total"
    assert sum(row[1] for row in lines) == expected["orders"]
    assert sum(row[2] for row in lines) == expected["generated"]
    assert sum(cents(row[3]) for row in lines) == expected["gross"]
    assert sum(cents(row[4]) for row in lines) == expected["refunds"]
    assert sum(cents(row[5]) for row in lines) == expected["gross"] - expected["refunds"]
    for row in lines:
        assert cents(row[5]) == cents(row[3]) - cents(row[4])


def test_revenue_by_customer_is_net_of_refunds(workbook, expected):
    rows = list(workbook["CA par client"].iter_rows(min_row=2, values_only=True))[:-1]
    assert sum(cents(row[4]) for row in rows) == expected["gross"] - expected["refunds"]
    revenues = [cents(row[4]) for row in rows]
    assert revenues == sorted(revenues, reverse=True)


def test_returns_by_reason_with_stock_effect(workbook, expected):
    rows = list(workbook["Retours par motif"].iter_rows(min_row=2, values_only=True))[:-1]
    # Reasons and stock effects in words (issue 12), the app's codes beside them here.
    codes = {"Défaut": "defaut", "Insatisfaction": "insatisfaction", "Rupture": "rupture"}
    effects = {"defaut": "Mis au rebut", "insatisfaction": "Remis en stock", "rupture": "Remboursement seul"}
    got = {codes[row[0]]: (row[2], cents(row[4])) for row in rows}
    assert got == expected["by_reason"]
    for row in rows:
        assert row[1] == effects[codes[row[0]]]
        assert row[5] == (row[3] if codes[row[0]] == "insatisfaction" else 0)
        assert row[6] == (row[3] if codes[row[0]] == "defaut" else 0)


def test_supplier_shares_sum_to_one(workbook):
    rows = list(workbook["Fournisseurs"].iter_rows(min_row=2, values_only=True))[:-1]
    assert abs(sum(row[3] for row in rows) - 1) < 0.001
    assert abs(sum(row[5] for row in rows) - 1) < 0.001


def test_findings_sheet_lists_generated_invoices(workbook, expected):
    rules = [row[0] for row in workbook["Constats"].iter_rows(min_row=2, values_only=True)]
    assert rules.count("Facture générée") == expected["generated"]
