#!/usr/bin/env python3
"""Peer for the benchmark: stockflow's monthly-finance job in polars, reading SQLite with connectorx
(the two big tables in two read partitions each, read in parallel).

Usage: polars_monthly.py DIR OUTDIR

Same rules and the same workbook as pandas_monthly.py (see its docstring), checked figure for
figure by compare_monthly.py: the full join of orders and invoices, pricing (rules 1–3), the
monthly, customer and supplier figures and the legacy-quantity findings are polars expressions;
rule 4 on the returns and the workbook are bench/monthly_common.py.
"""

import os
import sys
import time
from pathlib import Path

import connectorx as cx
import polars as pl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import monthly_common as mc  # noqa: E402


def cents(column):
    """REAL/INTEGER amounts to Int64 cents, half away from zero (1e-6: 1.005 is 1.00499… as a double)."""
    v = pl.col(column).cast(pl.Float64)
    return (v.sign() * (v.abs() * 100 + 0.5 + 1e-6).floor()).cast(pl.Int64)


def main(argv):
    if len(argv) != 3:
        print("usage: polars_monthly.py DIR OUTDIR", file=sys.stderr)
        return 2
    src, out = Path(argv[1]), Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    uri = f"sqlite://{(src / 'inventory.sqlite3').resolve()}"

    def q(sql, partition_on=None):
        if partition_on:
            return cx.read_sql(uri, sql, return_type="polars", partition_on=partition_on, partition_num=2)
        return cx.read_sql(uri, sql, return_type="polars")

    products = q("SELECT code_prod, nom_prod, CAST(prix_unit AS REAL) AS prix_unit, quantite, is_deleted, fournisseur_id FROM stock_produit")
    suppliers = q("SELECT id, nom FROM stock_fournisseur")
    customers = q("SELECT code_client, nom_client, is_actif FROM stock_client")
    warehouses = q("SELECT code_entrepot, is_actif FROM stock_entrepot")
    stock = q("SELECT produit_id, entrepot_id, quantite FROM stock_produitentrepot")
    # connectorx infers a computed column's type from its first value, and fails on a NULL there:
    # the refund comes as a REAL beside a flag that says it was missing.
    returns = q("SELECT id, facture_id, quantite, raison, date_retour, CAST(coalesce(montant_remboursement, 0) AS REAL) AS montant_remboursement, "
                "montant_remboursement IS NULL AS sans_montant FROM stock_retour")
    returns = returns.with_columns(montant_remboursement=pl.when(pl.col("sans_montant") == 1).then(None)
                                   .otherwise(pl.col("montant_remboursement"))).drop("sans_montant")
    invoices = q("SELECT id AS facture_id, commande_id, CAST(montant_total AS REAL) AS montant_total, date_facture FROM stock_facture", "facture_id")
    orders = q("SELECT code_cmd, produit_id, client_id, quantite_cmd, date_commande FROM stock_commande", "code_cmd")
    read_done = time.perf_counter()

    products = products.with_columns(prix_cents=cents("prix_unit"), is_deleted=pl.col("is_deleted").cast(pl.Boolean))
    prices = products.select("code_prod", "prix_cents", "fournisseur_id")

    oi = orders.join(invoices, left_on="code_cmd", right_on="commande_id", how="full", coalesce=False)
    rejects = {"invoice-without-order": oi.filter(pl.col("code_cmd").is_null()).height}
    oi = oi.filter(pl.col("code_cmd").is_not_null()).join(prices, left_on="produit_id", right_on="code_prod",
                                                          how="left")
    inv_info = oi.filter(pl.col("facture_id").is_not_null()).select("facture_id", "quantite_cmd", "prix_cents")
    unknown = pl.col("prix_cents").is_null()
    rejects["order-unknown-product"] = oi.filter(unknown).height
    rejects["order-quantity"] = oi.filter(~unknown & (pl.col("quantite_cmd") < 1)).height
    oi = oi.filter(~unknown & (pl.col("quantite_cmd") >= 1))

    # Rule 4: each return with its invoice's ordered quantity and unit price, in (date_retour, id) order.
    ret = (returns.join(inv_info, on="facture_id", how="left")
           .with_columns(refund_cents=cents("montant_remboursement"))
           .sort(["date_retour", "id"], maintain_order=True)
           .select("id", "facture_id", "quantite", "raison", "refund_cents", "quantite_cmd", "prix_cents", "date_retour"))
    valid, return_rejects = mc.check_returns(ret.iter_rows())
    for _, rule in return_rejects:
        rejects[rule] = rejects.get(rule, 0) + 1
    refunds = mc.refunds_by_invoice(valid)
    refunds = pl.DataFrame({"facture_id": list(refunds), "refund": list(refunds.values())},
                           schema={"facture_id": pl.Int64, "refund": pl.Int64})

    sales = (oi.join(refunds, on="facture_id", how="left")
             .with_columns(generee=pl.col("facture_id").is_null(),
                           brut=pl.col("quantite_cmd") * pl.col("prix_cents"),
                           stored=cents("montant_total"),
                           when=pl.col("date_commande").dt.replace_time_zone("UTC")
                                  .dt.convert_time_zone("Europe/Paris"))
             .with_columns(remb=pl.when(pl.col("generee")).then(0).otherwise(pl.col("refund").fill_null(0)))
             .with_columns(net=pl.col("brut") - pl.col("remb")))
    generated = sales.filter(pl.col("generee")).height
    mismatched = sales.filter(~pl.col("generee") & ((pl.col("stored") - pl.col("brut")).abs() > 1)).height

    # Accounting periods: an invoice in the month of its date (a generated one: of its order), a refund in the month of its return.
    invoiced_on = (pl.when(pl.col("generee")).then(pl.col("date_commande")).otherwise(pl.col("date_facture"))
                   .dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Paris"))
    invoices_of_month = {m: (n, g, b) for m, n, g, b in
                         sales.group_by(mois=invoiced_on.dt.strftime("%Y-%m"))
                         .agg(pl.len(), pl.col("generee").sum(), pl.col("brut").sum()).iter_rows()}
    by_month = mc.by_month(invoices_of_month, mc.refunds_by_month(valid))

    per = sales.group_by("client_id").agg(n=pl.len(), ca=pl.col("net").sum(), last=pl.col("when").max())
    known = customers.unique("code_client", keep="first", maintain_order=True)
    clients = []
    for code, name, actif, client_id, n, ca, last in known.join(
            per, left_on="code_client", right_on="client_id", how="full", coalesce=False).iter_rows():
        if code is None:
            code = client_id
            name = "(sans client)" if client_id is None else f"(client inconnu {client_id})"
        clients.append((code, name, None if actif is None else bool(actif), n or 0, mc.money(ca or 0),
                        None if last is None else last.date()))

    live = (stock.join(products.select("code_prod", "prix_cents", "is_deleted", "fournisseur_id"),
                       left_on="produit_id", right_on="code_prod")
            .join(warehouses, left_on="entrepot_id", right_on="code_entrepot")
            .filter(pl.col("quantite") >= 0))
    value = dict(live.filter(~pl.col("is_deleted") & (pl.col("is_actif") == 1))
                 .group_by("fournisseur_id").agg((pl.col("quantite") * pl.col("prix_cents")).sum()).iter_rows())
    revenue = dict(sales.group_by("fournisseur_id").agg(pl.col("net").sum()).iter_rows())
    names = sorted(suppliers.iter_rows())
    supplier_rows = mc.supplier_rows(names, value, revenue)

    units = live.group_by("produit_id").agg(lignes=pl.col("quantite").sum())
    legacy = (products.filter(~pl.col("is_deleted"))
              .join(units, left_on="code_prod", right_on="produit_id", how="left")
              .with_columns(pl.col("lignes").fill_null(0))
              .filter(pl.col("quantite") != pl.col("lignes")).sort("code_prod"))
    findings = mc.findings_of(legacy.select("code_prod", "quantite", "lignes").iter_rows(), generated,
                              mismatched)
    transform_done = time.perf_counter()

    xlsx = out / "finance.xlsx"
    mc.write_workbook(xlsx, by_month, clients, supplier_rows, mc.returns_by_reason(valid), findings)
    write_done = time.perf_counter()
    mc.report(rejects, findings, [("Factures par mois", by_month), ("CA par client", clients),
                                  ("Fournisseurs", supplier_rows)],
              [("read", read_done - started), ("transform", transform_done - read_done),
               ("write", write_done - transform_done)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
