#!/usr/bin/env python3
"""Peer for the benchmark: stockflow's monthly-finance job in DuckDB, reading the SQLite file with
DuckDB's own SQLite reader (the sqlite_scanner extension, from the duckdb-ext-sqlite wheel).

Usage: duckdb_monthly.py DIR OUTDIR

Same rules and the same workbook as pandas_monthly.py (see its docstring), checked figure for
figure by compare_monthly.py: the full join of orders and invoices, pricing (rules 1–3), the
monthly, customer and supplier figures and the legacy-quantity findings are SQL; rule 4 on the
returns and the workbook are bench/monthly_common.py.
"""

import os
import sys
import time
from pathlib import Path

import duckdb
import duckdb_ext
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monthly_common as mc  # noqa: E402


def cents(column):
    """REAL/INTEGER amounts to BIGINT cents, half away from zero (1e-6: 1.005 is 1.00499… as a double)."""
    return f"CAST(sign({column}) * floor(abs({column}) * 100 + 0.5 + 1e-6) AS BIGINT)"


def sqlite_scanner():
    for root in duckdb_ext.__path__:
        path = Path(root) / "extensions" / f"v{duckdb.__version__}" / "linux_amd64" / "sqlite_scanner.duckdb_extension"
        if path.exists():
            return path
    raise SystemExit(f"no sqlite_scanner extension for duckdb {duckdb.__version__} (pip install duckdb-ext-sqlite)")


def main(argv):
    if len(argv) != 3:
        print("usage: duckdb_monthly.py DIR OUTDIR", file=sys.stderr)
        return 2
    src, out = Path(argv[1]), Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"LOAD '{sqlite_scanner()}'")
    con.execute(f"ATTACH '{src / 'inventory.sqlite3'}' AS db (TYPE sqlite, READ_ONLY)")
    sql = con.execute

    sql(f"""CREATE TEMP TABLE prod AS SELECT code_prod, {cents('prix_unit')} AS prix_cents, quantite,
            is_deleted::BOOLEAN AS is_deleted, fournisseur_id FROM db.stock_produit""")
    # Orders with their invoice: DuckDB's hash join of two plain scans.
    sql("""CREATE TEMP TABLE oi AS
           SELECT c.code_cmd, c.produit_id, c.client_id, c.quantite_cmd, c.date_commande,
                  f.id AS facture_id, f.montant_total, f.date_facture
           FROM db.stock_commande c FULL JOIN db.stock_facture f ON f.commande_id = c.code_cmd""")
    read_done = time.perf_counter()
    rejects = {"invoice-without-order": sql("SELECT count(*) FROM oi WHERE code_cmd IS NULL").fetchone()[0]}
    rejects["order-unknown-product"], rejects["order-quantity"] = sql(
        """SELECT count(*) FILTER (WHERE p.code_prod IS NULL), count(*) FILTER (WHERE p.code_prod IS NOT NULL
                  AND o.quantite_cmd < 1)
           FROM oi o LEFT JOIN prod p ON p.code_prod = o.produit_id WHERE o.code_cmd IS NOT NULL""").fetchone()

    # Rule 4: each return with its invoice's ordered quantity and unit price, in (date_retour, id) order.
    returns = sql(f"""SELECT r.id, r.facture_id, r.quantite, r.raison, {cents('r.montant_remboursement')},
                             i.quantite_cmd, i.prix_cents, r.date_retour
                      FROM db.stock_retour r
                      LEFT JOIN (SELECT o.facture_id, o.quantite_cmd, p.prix_cents FROM oi o
                                 LEFT JOIN prod p ON p.code_prod = o.produit_id
                                 WHERE o.code_cmd IS NOT NULL AND o.facture_id IS NOT NULL) i
                             ON i.facture_id = r.facture_id
                      ORDER BY r.date_retour, r.id""").fetchall()
    valid, return_rejects = mc.check_returns(returns)
    for _, rule in return_rejects:
        rejects[rule] = rejects.get(rule, 0) + 1
    refunds = mc.refunds_by_invoice(valid)
    refunds_table = pa.table({"facture_id": pa.array(list(refunds), pa.int64()),
                              "refund": pa.array(list(refunds.values()), pa.int64())})
    con.register("refunds", refunds_table)

    sql(f"""CREATE TEMP TABLE sales AS
            SELECT o.client_id, p.fournisseur_id,
                   (o.date_commande AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/Paris' AS local_when,
                   (CASE WHEN o.facture_id IS NULL THEN o.date_commande ELSE o.date_facture END
                    AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/Paris' AS invoiced_on,
                   o.facture_id IS NULL AS generee,
                   o.quantite_cmd * p.prix_cents AS brut,
                   {cents('o.montant_total')} AS stored,
                   CASE WHEN o.facture_id IS NULL THEN 0 ELSE coalesce(r.refund, 0) END AS remb
            FROM oi o JOIN prod p ON p.code_prod = o.produit_id
            LEFT JOIN refunds r ON r.facture_id = o.facture_id
            WHERE o.code_cmd IS NOT NULL AND o.quantite_cmd >= 1""")
    generated, mismatched = sql("""SELECT count(*) FILTER (WHERE generee),
                                          count(*) FILTER (WHERE NOT generee AND abs(stored - brut) > 1)
                                   FROM sales""").fetchone()
    # Accounting periods: an invoice in the month of its date (a generated one: of its order), a refund in the month of its return.
    invoices_of_month = {m: (n, g, b) for m, n, g, b in sql(
        """SELECT strftime(invoiced_on, '%Y-%m') AS mois, count(*), count(*) FILTER (WHERE generee), sum(brut)
           FROM sales GROUP BY mois""").fetchall()}
    by_month = mc.by_month(invoices_of_month, mc.refunds_by_month(valid))
    clients = [(code, name, actif, n, mc.money(ca), last) for code, name, actif, n, ca, last in sql(
        """WITH per AS (SELECT client_id, count(*) AS n, sum(brut - remb) AS ca, max(local_when) AS last
                        FROM sales GROUP BY client_id),
                known AS (SELECT DISTINCT ON (code_client) code_client, nom_client, is_actif
                          FROM db.stock_client ORDER BY code_client)
           SELECT coalesce(k.code_client, per.client_id),
                  CASE WHEN k.code_client IS NOT NULL THEN k.nom_client
                       WHEN per.client_id IS NULL THEN '(sans client)'
                       ELSE '(client inconnu ' || per.client_id || ')' END,
                  k.is_actif::BOOLEAN, coalesce(per.n, 0), coalesce(per.ca, 0), CAST(per.last AS DATE)
           FROM known k FULL JOIN per ON per.client_id = k.code_client""").fetchall()]

    # Fournisseurs: stock value of non-deleted products in active warehouses, and net revenue.
    value = dict(sql("""SELECT p.fournisseur_id, sum(s.quantite * p.prix_cents)
                        FROM db.stock_produitentrepot s JOIN prod p ON p.code_prod = s.produit_id
                        JOIN db.stock_entrepot w ON w.code_entrepot = s.entrepot_id
                        WHERE s.quantite >= 0 AND NOT p.is_deleted AND w.is_actif::BOOLEAN
                        GROUP BY p.fournisseur_id""").fetchall())
    revenue = dict(sql("SELECT fournisseur_id, sum(brut - remb) FROM sales GROUP BY fournisseur_id").fetchall())
    names = sql("SELECT id, nom FROM db.stock_fournisseur ORDER BY id").fetchall()
    suppliers = mc.supplier_rows(names, value, revenue)

    # Legacy quantity (rule 5): non-deleted products whose quantite differs from the sum of all their lines.
    legacy = sql("""SELECT p.code_prod, p.quantite, coalesce(l.units, 0) FROM prod p
                    LEFT JOIN (SELECT s.produit_id, sum(s.quantite) AS units
                               FROM db.stock_produitentrepot s JOIN prod p ON p.code_prod = s.produit_id
                               JOIN db.stock_entrepot w ON w.code_entrepot = s.entrepot_id
                               WHERE s.quantite >= 0 GROUP BY s.produit_id) l ON l.produit_id = p.code_prod
                    WHERE NOT p.is_deleted AND p.quantite <> coalesce(l.units, 0)
                    ORDER BY p.code_prod""").fetchall()
    findings = mc.findings_of(legacy, generated, mismatched)
    transform_done = time.perf_counter()

    xlsx = out / "finance.xlsx"
    mc.write_workbook(xlsx, by_month, clients, suppliers, mc.returns_by_reason(valid), findings)
    write_done = time.perf_counter()
    mc.report(rejects, findings, [("Factures par mois", by_month), ("CA par client", clients),
                                  ("Fournisseurs", suppliers)],
              [("read+join", read_done - started), ("transform", transform_done - read_done),
               ("write", write_done - transform_done)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
