#!/usr/bin/env python3
"""Baseline for the benchmark: stockflow's monthly-finance job written in pandas.

Usage: pandas_monthly.py DIR OUTDIR

Reads DIR/inventory.sqlite3 (stock_produit, stock_fournisseur, stock_client, stock_entrepot,
stock_produitentrepot, stock_retour, stock_facture, stock_commande) and writes
OUTDIR/finance.xlsx (XlsxWriter) with the sheets of pipelines/monthly-finance.yml:
"Factures par mois", "CA par client", "Fournisseurs", "Retours par motif", "Constats".
It applies the rules of DOMAIN.md the way stockflow's transforms do:

- gross = quantite_cmd × prix_unit, rounded half away from zero to cents (rules 1, 3);
- an order without an invoice gets a generated one (a finding); an invoice without an order,
  or an order for an unknown product / with a quantity under 1, is rejected (rules 2, 3);
- a stored invoice total more than 0.01 away from the gross is a finding;
- returns (rule 4) are checked in (date_retour, id) order, cumulatively per invoice: quantity
  ≥ 1, known reason, returned units ≤ ordered, refund ≥ 0, refunds ≤ gross; a missing refund
  is quantity × unit price; a rejected return does not count towards the later checks;
- net = gross − refunds of the invoice's valid returns; months and last-order dates are taken in
  Europe/Paris (Django stores naive UTC);
- accounting periods (DOMAIN.md): "Factures par mois" counts an invoice in the month of its
  invoice date (a generated one: of its order) and a refund in the month of its return, net of
  the month = invoices of the month − refunds of the month;
- supplier stock value counts non-deleted products in active warehouses; shares are fractions
  rounded half away from zero to 4 places;
- a non-deleted product whose legacy `quantite` differs from the sum of all its stock lines is a
  finding.

It is written the way a competent pandas user would write it: vectorised, no row loops (the one
exception is rule 4 on the few invoices whose returns overrun the ordered quantity or gross,
where acceptance depends on which earlier returns were accepted). Money is held as int64 cents,
which is exact and as fast as float64; the pandas nightly baseline uses float64 instead.
"""

import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

TIMEZONE = "Europe/Paris"
TOLERANCE_CENTS = 1
REASONS = {"insatisfaction": "restocked", "defaut": "written_off", "rupture": "refund_only"}


def cents(values: pd.Series) -> pd.Series:
    """Amounts stored as REAL/INTEGER to int64 cents, half away from zero (nullable Int64).

    The 1e-6 slack absorbs binary noise (1.005 is 1.00499999… as a double; it means 1.005).
    """
    v = pd.to_numeric(values, errors="coerce").astype("float64")
    out = np.sign(v) * np.floor(np.abs(v) * 100.0 + 0.5 + 1e-6)
    return out.astype("Int64")


def money(c) -> float:
    """int64 cents to a float with 2 places, for the workbook."""
    return c / 100.0


def local_time(text: pd.Series) -> pd.Series:
    """Django's naive-UTC datetime text to tz-aware Europe/Paris timestamps."""
    return pd.to_datetime(text, format="ISO8601", utc=True).dt.tz_convert(TIMEZONE)


def half_away_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """round(num / den) half away from zero, in integers (num, den ≥ 0 here)."""
    return (2 * num + den) // (2 * den)


def share(part: pd.Series, whole: int) -> pd.Series:
    """part / whole rounded half away from zero to 4 places (0 when whole is 0), as stockflow does:
    exact division truncated at 5 places, then one rounding to 4."""
    if whole == 0:
        return pd.Series(0.0, index=part.index)
    five = (part.astype("int64") * 100_000) // whole
    return ((five + 5) // 10) / 10_000


def check_returns(returns: pd.DataFrame):
    """Rule 4. `returns` is ordered by (date_retour, id) and carries the invoice's ordered quantity
    and unit price (cents). Returns (valid, rejects)."""
    r = returns
    reason = pd.Series(pd.NA, index=r.index, dtype="string")

    def flag(mask, text):
        nonlocal reason
        reason = reason.mask(mask & reason.isna(), text)

    flag(r["quantite_cmd"].isna() | r["prix_cents"].isna(), "return-unknown-invoice")
    flag(r["quantite"] < 1, "return-quantity")
    flag(~r["raison"].isin(list(REASONS)), "return-reason")
    default = r["montant_remboursement"].isna()
    refund = cents(r["montant_remboursement"])
    refund = refund.fillna(r["quantite"] * r["prix_cents"])
    r = r.assign(refund_cents=refund, remboursement_par_defaut=default,
                 gross_cents=r["quantite_cmd"] * r["prix_cents"])
    flag(r["refund_cents"] < 0, "return-refund-negative")

    # Cumulative limits per invoice, assuming every so-far-valid return is accepted. Where that
    # never overruns, the assumption holds and the whole invoice is settled in one go.
    ok = reason.isna()
    cand = r[ok]
    units = cand.groupby("facture_id", sort=False)["quantite"].cumsum()
    paid = cand.groupby("facture_id", sort=False)["refund_cents"].cumsum()
    over = (units > cand["quantite_cmd"]) | (paid > cand["gross_cents"])
    troubled = set(cand.loc[over, "facture_id"])
    if troubled:
        # Sequential check on those invoices only: a rejected return does not count later.
        sub = cand[cand["facture_id"].isin(troubled)]
        state = {}
        for idx, inv, q, ordered, amount, gross in zip(
                sub.index, sub["facture_id"], sub["quantite"], sub["quantite_cmd"],
                sub["refund_cents"], sub["gross_cents"]):
            done_units, done_paid = state.get(inv, (0, 0))
            if done_units + q > ordered:
                reason.at[idx] = "return-over-quantity"
            elif done_paid + amount > gross:
                reason.at[idx] = "return-over-refund"
            else:
                state[inv] = (done_units + q, done_paid + amount)

    bad = reason.notna()
    rejects = pd.DataFrame({"source": "stock_retour id=" + r.loc[bad, "id"].astype(str),
                            "rule": reason[bad].astype(object)})
    valid = r[~bad].copy()
    valid["effet_stock"] = valid["raison"].map(REASONS)
    valid["unites_restockees"] = valid["quantite"].where(valid["raison"] == "insatisfaction", 0)
    valid["unites_perdues"] = valid["quantite"].where(valid["raison"] == "defaut", 0)
    return valid, rejects


def main(argv):
    if len(argv) != 3:
        print("usage: pandas_monthly.py DIR OUTDIR", file=sys.stderr)
        return 2
    src, out = Path(argv[1]), Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    db = sqlite3.connect(f"file:{src / 'inventory.sqlite3'}?mode=ro", uri=True)
    q = lambda sql: pd.read_sql_query(sql, db)  # noqa: E731
    products = q("SELECT code_prod, nom_prod, prix_unit, quantite, is_deleted, fournisseur_id "
                 "FROM stock_produit")
    suppliers = q("SELECT id, nom FROM stock_fournisseur")
    customers = q("SELECT code_client, nom_client, is_actif FROM stock_client")
    warehouses = q("SELECT code_entrepot, is_actif FROM stock_entrepot")
    stock = q("SELECT produit_id, entrepot_id, quantite FROM stock_produitentrepot")
    returns = q("SELECT id, facture_id, quantite, raison, date_retour, montant_remboursement "
                "FROM stock_retour")
    invoices = q("SELECT id AS facture_id, commande_id, montant_total, date_facture FROM stock_facture")
    orders = q("SELECT code_cmd, produit_id, client_id, quantite_cmd, date_commande "
               "FROM stock_commande")
    db.close()
    read_done = time.perf_counter()

    products["prix_cents"] = cents(products["prix_unit"])
    products["is_deleted"] = products["is_deleted"].astype(bool)
    warehouses["is_actif"] = warehouses["is_actif"].astype(bool)
    prices = products.set_index("code_prod")["prix_cents"]
    findings = []  # DataFrames with rule, source, detail

    # --- Orders with their invoice (FULL JOIN), rules 1–3 ---
    oi = orders.merge(invoices, left_on="code_cmd", right_on="commande_id", how="outer")
    rejects = [pd.DataFrame({"source": "stock_facture id=" + oi.loc[oi["code_cmd"].isna(), "facture_id"]
                             .astype("int64").astype(str), "rule": "invoice-without-order"})]
    oi = oi[oi["code_cmd"].notna()]
    oi["prix_cents"] = oi["produit_id"].map(prices)
    # What rule 4 checks each return against: its invoice's order quantity and unit price.
    inv_info = oi.loc[oi["facture_id"].notna(), ["facture_id", "quantite_cmd", "prix_cents"]] \
        .astype({"facture_id": "int64", "quantite_cmd": "Int64", "prix_cents": "Int64"})
    unknown = oi["prix_cents"].isna()
    too_small = ~unknown & (oi["quantite_cmd"] < 1)
    for mask, rule in ((unknown, "order-unknown-product"), (too_small, "order-quantity")):
        rejects.append(pd.DataFrame({"source": "stock_commande code_cmd=" + oi.loc[mask, "code_cmd"]
                                     .astype("int64").astype(str), "rule": rule}))
    oi = oi[~unknown & ~too_small]
    qty = oi["quantite_cmd"].astype("int64")
    gross = qty * oi["prix_cents"].astype("int64")  # prices have 2 places: exact, no rounding left
    generated = oi["facture_id"].isna()
    stored = cents(oi["montant_total"])
    mismatch = ~generated & ((stored - gross).abs() > TOLERANCE_CENTS).fillna(False)
    findings.append(pd.DataFrame({
        "rule": "invoice-generated",
        "source": "stock_commande code_cmd=" + oi.loc[generated, "code_cmd"].astype("int64").astype(str),
        "detail": "order had no invoice; one was generated for " + (gross[generated] / 100).map("{:.2f}".format)}))
    findings.append(pd.DataFrame({
        "rule": "invoice-total-mismatch",
        "source": "stock_facture id=" + oi.loc[mismatch, "facture_id"].astype("int64").astype(str),
        "detail": "stored " + (stored[mismatch] / 100).map("{:.2f}".format).astype(str)
                  + ", gross " + (gross[mismatch] / 100).map("{:.2f}".format)}))

    # --- Returns, rule 4: each with its invoice's ordered quantity and unit price ---
    returns = returns.merge(inv_info, on="facture_id", how="left")
    returns = returns.sort_values(["date_retour", "id"], kind="stable").reset_index(drop=True)
    valid, return_rejects = check_returns(returns)
    rejects.append(return_rejects)

    refunds = valid.groupby("facture_id")["refund_cents"].sum()
    refunded = oi["facture_id"].map(refunds).fillna(0).astype("int64")
    refunded = refunded.where(~generated, 0)
    net = gross - refunded
    when = local_time(oi["date_commande"])
    sales = pd.DataFrame({"client_id": oi["client_id"], "produit_id": oi["produit_id"],
                          "mois": when.dt.year * 100 + when.dt.month, "when": when,
                          "generee": generated, "brut": gross, "remb": refunded, "net": net})

    # --- Factures par mois: invoices in the month of their date, refunds in the month of their return ---
    invoiced_on = local_time(oi["date_facture"].where(~generated, oi["date_commande"]))
    invoices_of_month = (pd.DataFrame({"mois": invoiced_on.dt.strftime("%Y-%m"), "generee": generated, "brut": gross})
                         .groupby("mois").agg(nb_factures=("brut", "size"), factures_generees=("generee", "sum"),
                                              brut=("brut", "sum")))
    refunds_of_month = valid.groupby(local_time(valid["date_retour"]).dt.strftime("%Y-%m").rename("mois"))["refund_cents"] \
        .sum().astype("int64").rename("remboursements")
    by_month = invoices_of_month.join(refunds_of_month, how="outer").fillna(0).astype("int64").sort_index()
    by_month["net"] = by_month["brut"] - by_month["remboursements"]
    by_month = by_month.reset_index()
    # The month as its first day, a real date, as stockflow's `formats: {mois: month}` writes it.
    by_month["mois"] = pd.to_datetime(by_month["mois"] + "-01")

    # --- CA par client: every customer, orders without one under "(sans client)" ---
    per_client = (sales.groupby("client_id", dropna=False)
                  .agg(nb_commandes=("net", "size"), chiffre_affaires_net=("net", "sum"),
                       derniere=("when", "max"))
                  .reset_index())
    known = customers.drop_duplicates("code_client")
    clients = known.merge(per_client, left_on="code_client", right_on="client_id", how="outer")
    stray = clients["code_client"].isna()
    clients["code_client"] = clients["code_client"].fillna(clients["client_id"])
    clients.loc[stray, "nom_client"] = np.where(
        clients.loc[stray, "client_id"].isna(), "(sans client)",
        "(client inconnu " + clients.loc[stray, "client_id"].astype("Int64").astype(str) + ")")
    clients["actif"] = clients["is_actif"].map({1: True, 0: False})
    clients["nb_commandes"] = clients["nb_commandes"].fillna(0).astype("int64")
    clients["chiffre_affaires_net"] = clients["chiffre_affaires_net"].fillna(0).astype("int64")
    clients["derniere_commande"] = clients["derniere"].dt.tz_localize(None).dt.normalize()
    clients = clients.sort_values(["chiffre_affaires_net", "code_client"], ascending=[False, True],
                                  na_position="first", kind="stable")
    clients["code_client"] = clients["code_client"].astype("Int64")

    # --- Fournisseurs: stock value (rule 5) and net revenue, with shares ---
    live = stock.merge(products[["code_prod", "prix_cents", "is_deleted", "fournisseur_id"]],
                       left_on="produit_id", right_on="code_prod", how="inner") \
                .merge(warehouses, left_on="entrepot_id", right_on="code_entrepot", how="inner")
    live = live[live["quantite"] >= 0]
    all_units = live.groupby("produit_id")["quantite"].sum()
    current = live[~live["is_deleted"] & live["is_actif"]]
    value = (current["quantite"] * current["prix_cents"]).groupby(
        current["fournisseur_id"], dropna=False).sum()
    supplier_of = products.set_index("code_prod")["fournisseur_id"]
    revenue = sales["net"].groupby(sales["produit_id"].map(supplier_of), dropna=False).sum()
    sup = suppliers.rename(columns={"id": "fournisseur_id", "nom": "fournisseur"})
    if value.index.isna().any() or revenue.index.isna().any():
        sup = pd.concat([sup, pd.DataFrame({"fournisseur_id": [np.nan],
                                            "fournisseur": ["(sans fournisseur)"]})], ignore_index=True)
    sup["valeur_stock"] = sup["fournisseur_id"].map(value).fillna(0).astype("int64")
    sup["chiffre_affaires"] = sup["fournisseur_id"].map(revenue).fillna(0).astype("int64")
    if sup["fournisseur_id"].isna().any():  # map() does not match NaN keys
        sup.loc[sup["fournisseur_id"].isna(), "valeur_stock"] = int(value[value.index.isna()].sum())
        sup.loc[sup["fournisseur_id"].isna(), "chiffre_affaires"] = int(revenue[revenue.index.isna()].sum())
    sup["part_stock"] = share(sup["valeur_stock"], int(value.sum()))
    sup["part_ca"] = share(sup["chiffre_affaires"], int(revenue.sum()))
    sup["fournisseur_id"] = sup["fournisseur_id"].astype("Int64")

    # Legacy quantity (rule 5): non-deleted products whose quantite ≠ the sum of all their lines.
    legacy = products[~products["is_deleted"]].copy()
    legacy["lignes"] = legacy["code_prod"].map(all_units).fillna(0).astype("int64")
    legacy = legacy[legacy["quantite"] != legacy["lignes"]]
    findings.insert(0, pd.DataFrame({
        "rule": "stock-legacy-quantity",
        "source": "stock_produit code_prod=" + legacy["code_prod"].astype(str),
        "detail": "legacy quantite " + legacy["quantite"].astype(str) + " differs from the sum of its stock lines "
                  + legacy["lignes"].astype(str)}))

    # --- Retours par motif ---
    by_reason = (valid.groupby(["raison", "effet_stock"], sort=True)
                 .agg(nb_retours=("id", "size"), quantite=("quantite", "sum"),
                      remboursements=("refund_cents", "sum"),
                      unites_restockees=("unites_restockees", "sum"),
                      unites_perdues=("unites_perdues", "sum"))
                 .reset_index())

    findings = pd.concat(findings, ignore_index=True)
    rejects = pd.concat(rejects, ignore_index=True)
    transform_done = time.perf_counter()

    # --- Workbook ---
    for frame, columns in ((by_month, ["brut", "remboursements", "net"]),
                           (clients, ["chiffre_affaires_net"]),
                           (sup, ["valeur_stock", "chiffre_affaires"]),
                           (by_reason, ["remboursements"])):
        for column in columns:
            frame[column] = money(frame[column])
    xlsx = out / "finance.xlsx"
    with pd.ExcelWriter(xlsx, engine="xlsxwriter", date_format="yyyy-mm-dd",
                        datetime_format="yyyy-mm-dd") as writer:
        def sheet(frame, name, headers, totals):
            frame = frame[list(headers)].rename(columns=headers)
            frame.to_excel(writer, sheet_name=name, index=False)
            ws = writer.sheets[name]
            row = len(frame) + 1
            ws.write(row, 0, "Total")
            for i, column in enumerate(headers):
                if column in totals:
                    ws.write_number(row, i, round(float(frame[headers[column]].sum()), 2))
        sheet(by_month, "Factures par mois",
              {"mois": "Mois", "nb_factures": "Factures", "factures_generees": "Dont générées",
               "brut": "CA brut (factures du mois)", "remboursements": "Avoirs (retours du mois)", "net": "CA net"},
              {"nb_factures", "factures_generees", "brut", "remboursements", "net"})
        sheet(clients, "CA par client",
              {"code_client": "Code", "nom_client": "Client", "actif": "Actif", "nb_commandes": "Commandes",
               "chiffre_affaires_net": "CA net", "derniere_commande": "Dernière commande"},
              {"nb_commandes", "chiffre_affaires_net"})
        sheet(sup, "Fournisseurs",
              {"fournisseur_id": "Code", "fournisseur": "Fournisseur", "valeur_stock": "Valeur du stock",
               "part_stock": "Part du stock", "chiffre_affaires": "CA net", "part_ca": "Part du CA"},
              {"valeur_stock", "chiffre_affaires"})
        percent = writer.book.add_format({"num_format": "0.00%"})
        writer.sheets["Fournisseurs"].set_column(3, 3, None, percent)
        writer.sheets["Fournisseurs"].set_column(5, 5, None, percent)
        sheet(by_reason, "Retours par motif",
              {"raison": "Motif", "effet_stock": "Effet sur le stock", "nb_retours": "Retours",
               "quantite": "Quantité", "remboursements": "Remboursements",
               "unites_restockees": "Unités restockées", "unites_perdues": "Unités perdues"},
              {"nb_retours", "quantite", "remboursements"})
        findings.rename(columns={"rule": "Règle", "source": "Source", "detail": "Constat"}).to_excel(
            writer, sheet_name="Constats", index=False)
    rejects.to_csv(out / "rejects.csv", index=False)
    write_done = time.perf_counter()

    print(f"orders + invoices:  {len(orders)} orders, {len(invoices)} invoices")
    print(f"rejected:           {len(rejects)} ({', '.join(f'{k} {v}' for k, v in rejects['rule'].value_counts().items()) or 'none'})")
    print(f"findings:           {len(findings)} ({', '.join(f'{k} {v}' for k, v in findings['rule'].value_counts().items())})")
    print(f"Factures par mois:  {len(by_month)} rows; CA par client: {len(clients)}; "
          f"Fournisseurs: {len(sup)}; Retours par motif: {len(by_reason)}")
    print(f"seconds:            read {read_done - started:.2f}, "
          f"transform {transform_done - read_done:.2f}, write {write_done - transform_done:.2f}")
    print(f"wrote {xlsx} and {out / 'rejects.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
