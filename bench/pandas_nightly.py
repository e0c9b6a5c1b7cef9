#!/usr/bin/env python3
"""Baseline for the benchmark: stockflow's nightly-inventory job written in pandas.

Usage: pandas_nightly.py DIR OUTDIR

Reads DIR/commandes.csv (French Excel dialect) and DIR/inventory.sqlite3, writes
OUTDIR/inventaire.xlsx (sheets "Commandes", "CA par mois", "Stock par entrepôt",
"Stock bas") and OUTDIR/rejects.csv, and prints row counts.

It is written the way a competent pandas user would write it: vectorised, no row loops.
Money is float64 here, because that is what a pandas user does; the figures are rounded
for output. (stockflow computes money exactly; see DOMAIN.md, "Money and numbers".)
"""

import io
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

LOW_STOCK_THRESHOLD = 10
ORDER_COLUMNS = ["code_cmd", "code_prod", "code_client", "quantite_cmd",
                 "montant_commande", "date_commande"]
# Tolerance for comparing float64 amounts: a stored total exactly 0.01 away from the
# recomputed one is not a finding, but float64 subtraction can land at 0.010000000000000009.
FLOAT_SLACK = 1e-6


def round_half_away(values: pd.Series, places: int = 2) -> pd.Series:
    """Rounds half away from zero (pandas' own round() is half to even)."""
    scale = 10.0 ** places
    return np.sign(values) * np.floor(np.abs(values) * scale + 0.5) / scale


def split_by_field_count(path: Path, expected: int):
    """Returns (good_csv_bytes, good_lines, bad_lines, bad_counts) for the data lines.

    The C parser silently pads short rows and, depending on the first row, skips or
    truncates long ones, which loses the line numbers. So the field count of each line is
    taken from the raw bytes first and only lines with the right count go to read_csv.
    commandes.csv has no text columns, hence no quoted ';' to worry about.
    """
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n")) + 1
    if len(raw) and raw[-1] != ord("\n"):
        ends = np.append(ends, len(raw))  # last line without a line ending
    semicolons = np.flatnonzero(raw == ord(";"))
    fields = np.diff(np.searchsorted(semicolons, ends), prepend=0) + 1
    good = fields == expected
    good[0] = False  # header line
    keep = np.repeat(good, np.diff(ends, prepend=0))
    line_numbers = np.arange(1, len(ends) + 1)
    bad = ~good
    bad[0] = False
    return raw[keep].tobytes(), line_numbers[good], line_numbers[bad], fields[bad]


def read_orders(path: Path):
    """Returns (orders, rejects) where rejects has columns line, reason."""
    data, good_lines, bad_lines, bad_counts = split_by_field_count(path, len(ORDER_COLUMNS))
    if data:
        raw = pd.read_csv(io.BytesIO(data), sep=";", encoding="cp1252", header=None,
                          names=ORDER_COLUMNS, dtype=str, keep_default_na=False)
    else:
        raw = pd.DataFrame({c: pd.Series(dtype=str) for c in ORDER_COLUMNS})
    line = pd.Series(good_lines, index=raw.index)
    reason = pd.Series(pd.NA, index=raw.index, dtype="string")

    def flag(mask, text):
        nonlocal reason
        reason = reason.mask(mask & reason.isna(), text)

    def integer(column):
        text = raw[column].str.strip()
        ok = text.str.fullmatch(r"[+-]?\d+")
        return pd.to_numeric(text.where(ok), errors="coerce").astype("Int64"), ok, text

    code_cmd, ok, _ = integer("code_cmd")
    flag(~ok, "bad number in code_cmd")
    code_prod, ok, _ = integer("code_prod")
    flag(~ok, "bad number in code_prod")
    code_client, ok, text = integer("code_client")
    flag(~ok & (text != ""), "bad number in code_client")  # empty means no customer
    quantite, ok, _ = integer("quantite_cmd")
    flag(~ok, "bad number in quantite_cmd")

    montant_text = raw["montant_commande"].str.strip()
    ok = montant_text.str.fullmatch(r"[+-]?\d+(,\d+)?")
    montant = pd.to_numeric(montant_text.where(ok).str.replace(",", ".", regex=False),
                            errors="coerce")
    flag(~ok & (montant_text != ""), "bad number in montant_commande")  # empty: no stored total

    date = pd.to_datetime(raw["date_commande"].str.strip(), format="%d/%m/%Y", errors="coerce")
    flag(date.isna(), "bad date in date_commande (expected dd/mm/yyyy)")

    orders = pd.DataFrame({
        "line": line, "code_cmd": code_cmd, "code_prod": code_prod, "code_client": code_client,
        "quantite_cmd": quantite, "montant_stored": montant, "date_commande": date,
    })
    bad = reason.notna()
    rejects = pd.concat([
        pd.DataFrame({"line": bad_lines,
                      "reason": [f"wrong field count ({n}, expected {len(ORDER_COLUMNS)})"
                                 for n in bad_counts]}),
        pd.DataFrame({"line": line[bad], "reason": reason[bad].astype(object)}),
    ], ignore_index=True)
    orders = orders[~bad].astype({"code_cmd": "int64", "code_prod": "int64",
                                  "quantite_cmd": "int64"})
    return orders, rejects


def read_table(db: sqlite3.Connection, sql: str) -> pd.DataFrame:
    return pd.read_sql_query(sql, db)


def main(argv):
    if len(argv) != 3:
        print("usage: pandas_nightly.py DIR OUTDIR", file=sys.stderr)
        return 2
    src, out = Path(argv[1]), Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    orders, rejects = read_orders(src / "commandes.csv")
    orders_in = len(orders) + len(rejects)

    db = sqlite3.connect(f"file:{src / 'inventory.sqlite3'}?mode=ro", uri=True)
    categories = read_table(db, "SELECT id AS categorie_id, nom AS categorie FROM stock_categorie")
    products = read_table(db, "SELECT code_prod, nom_prod, prix_unit, is_deleted, categorie_id "
                              "FROM stock_produit")
    warehouses = read_table(db, "SELECT code_entrepot, nom_entrepot, is_actif FROM stock_entrepot")
    stock = read_table(db, "SELECT produit_id AS code_prod, entrepot_id AS code_entrepot, "
                           "quantite FROM stock_produitentrepot")
    db.close()
    # Django's DecimalField lands in SQLite as REAL or INTEGER; float64 is the pandas way.
    products["prix_unit"] = products["prix_unit"].astype("float64")
    products["is_deleted"] = products["is_deleted"].astype(bool)
    warehouses["is_actif"] = warehouses["is_actif"].astype(bool)
    products = products.merge(categories, on="categorie_id", how="left")
    # A product without a category still counts; it is grouped under an empty name.
    products["categorie"] = products["categorie"].fillna("")

    read_done = time.perf_counter()

    # --- Order totals (rules 1 and 2) ---
    orders = orders.merge(products[["code_prod", "nom_prod", "categorie", "prix_unit"]],
                          on="code_prod", how="left")
    unknown = orders["prix_unit"].isna()
    too_small = ~unknown & (orders["quantite_cmd"] < 1)
    rejects = pd.concat([
        rejects,
        pd.DataFrame({"line": orders.loc[unknown, "line"], "reason": "unknown product (code_prod)"}),
        pd.DataFrame({"line": orders.loc[too_small, "line"], "reason": "quantite_cmd < 1"}),
    ], ignore_index=True)
    orders = orders[~unknown & ~too_small]
    orders["montant_commande"] = round_half_away(orders["quantite_cmd"] * orders["prix_unit"])
    findings = int(((orders["montant_stored"] - orders["montant_commande"]).abs()
                    > 0.01 + FLOAT_SLACK).sum())
    orders = orders.sort_values("line", kind="stable")

    commandes = orders[["code_cmd", "date_commande", "code_prod", "nom_prod", "categorie",
                        "quantite_cmd", "prix_unit", "montant_commande"]]

    # --- CA par mois ---
    monthly = (orders.assign(mois=orders["date_commande"].dt.strftime("%Y-%m"))
               .groupby(["mois", "categorie"], sort=True, dropna=False)
               .agg(nb_commandes=("code_cmd", "size"), quantite=("quantite_cmd", "sum"),
                    chiffre_affaires=("montant_commande", "sum"))
               .reset_index())
    monthly["chiffre_affaires"] = round_half_away(monthly["chiffre_affaires"])

    # --- Stock par entrepôt (rule 5): active warehouses, non-deleted products ---
    active = warehouses[warehouses["is_actif"]]
    live = products.loc[~products["is_deleted"], ["code_prod", "nom_prod", "prix_unit"]]
    lines = (stock.merge(live, on="code_prod", how="inner")
             .merge(active[["code_entrepot"]], on="code_entrepot", how="inner"))
    per_product = (lines.groupby(["code_entrepot", "code_prod"], sort=False)
                   .agg(unites=("quantite", "sum"), prix_unit=("prix_unit", "first"))
                   .reset_index())
    per_product["valeur"] = per_product["unites"] * per_product["prix_unit"]
    per_product["sous_seuil"] = per_product["unites"] < LOW_STOCK_THRESHOLD
    per_warehouse = (per_product.groupby("code_entrepot")
                     .agg(nb_produits=("code_prod", "size"), unites=("unites", "sum"),
                          valeur=("valeur", "sum"), produits_sous_seuil=("sous_seuil", "sum"))
                     .reset_index())
    by_warehouse = active[["code_entrepot", "nom_entrepot"]].merge(
        per_warehouse, on="code_entrepot", how="left").sort_values("code_entrepot")
    by_warehouse = by_warehouse.fillna({"nb_produits": 0, "unites": 0, "valeur": 0.0,
                                        "produits_sous_seuil": 0})
    by_warehouse = by_warehouse.astype({"nb_produits": "int64", "unites": "int64",
                                        "produits_sous_seuil": "int64"})
    by_warehouse["valeur"] = round_half_away(by_warehouse["valeur"])

    # --- Stock bas: non-deleted products under the threshold across active warehouses ---
    totals = per_product.groupby("code_prod")["unites"].sum().rename("unites")
    low = live[["code_prod", "nom_prod"]].merge(totals, on="code_prod", how="left")
    low["unites"] = low["unites"].fillna(0).astype("int64")  # no stock line: 0 units
    low = low[low["unites"] < LOW_STOCK_THRESHOLD].assign(seuil=LOW_STOCK_THRESHOLD)
    low = low.sort_values(["unites", "code_prod"])

    transform_done = time.perf_counter()

    # --- Write the workbook ---
    # pandas writes cells column by column, so XlsxWriter's constant_memory mode (which
    # keeps only the current row) would drop data; the default mode is used.
    xlsx = out / "inventaire.xlsx"
    with pd.ExcelWriter(xlsx, engine="xlsxwriter", date_format="yyyy-mm-dd",
                        datetime_format="yyyy-mm-dd") as writer:
        commandes.to_excel(writer, sheet_name="Commandes", index=False)
        sheet = writer.sheets["Commandes"]
        total_row = len(commandes) + 1
        col = {name: i for i, name in enumerate(commandes.columns)}
        sheet.write(total_row, 0, "Total")
        sheet.write_number(total_row, col["quantite_cmd"], int(commandes["quantite_cmd"].sum()))
        sheet.write_number(total_row, col["montant_commande"],
                           float(round_half_away(pd.Series([commandes["montant_commande"].sum()]))[0]))
        monthly.to_excel(writer, sheet_name="CA par mois", index=False)
        by_warehouse.to_excel(writer, sheet_name="Stock par entrepôt", index=False)
        low[["code_prod", "nom_prod", "unites", "seuil"]].to_excel(
            writer, sheet_name="Stock bas", index=False)

    rejects = rejects.sort_values("line", kind="stable")
    rejects.insert(0, "source", "commandes.csv")
    rejects.to_csv(out / "rejects.csv", index=False)

    print(f"orders read:        {orders_in}")
    print(f"orders rejected:    {len(rejects)}")
    print(f"amount findings:    {findings}")
    print(f"Commandes:          {len(commandes)} rows (+ totals row)")
    print(f"CA par mois:        {len(monthly)} rows")
    print(f"Stock par entrepôt: {len(by_warehouse)} rows")
    print(f"Stock bas:          {len(low)} rows")
    write_done = time.perf_counter()
    print(f"seconds:            read {read_done - started:.2f}, "
          f"transform {transform_done - read_done:.2f}, write {write_done - transform_done:.2f}")
    print(f"wrote {xlsx} and {out / 'rejects.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
