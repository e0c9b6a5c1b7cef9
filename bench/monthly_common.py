"""What the polars and DuckDB baselines of monthly-finance share: rule 4 on the returns (a few
tens of thousands of rows, checked in order in plain Python: acceptance depends on which earlier
returns of the same invoice were accepted) and the workbook, written with XlsxWriter in the
layout of pandas_monthly.py (read back by compare_monthly.py). The heavy work (reading the
tables, the full join of orders and invoices, pricing, grouping) is each engine's own."""

import datetime as dt
import zoneinfo

import xlsxwriter

REASONS = {"insatisfaction": "restocked", "defaut": "written_off", "rupture": "refund_only"}
TOLERANCE_CENTS = 1


def check_returns(rows):
    """Rule 4. `rows`: (id, facture_id, quantite, raison, refund_cents or None, quantite_cmd or
    None, prix_cents or None[, date_retour]) in (date_retour, id) order. Returns (valid, rejects):
    valid as (facture_id, raison, effet_stock, quantite, refund_cents, unites_restockees,
    unites_perdues[, date_retour]), rejects as (source, rule)."""
    valid, rejects, state = [], [], {}
    for rid, invoice, quantity, reason, refund, ordered, price, *when in rows:
        rule = None
        if ordered is None or price is None:
            rule = "return-unknown-invoice"
        elif quantity < 1:
            rule = "return-quantity"
        elif reason not in REASONS:
            rule = "return-reason"
        else:
            if refund is None:
                refund = quantity * price
            if refund < 0:
                rule = "return-refund-negative"
            else:
                units, paid = state.get(invoice, (0, 0))
                if units + quantity > ordered:
                    rule = "return-over-quantity"
                elif paid + refund > ordered * price:
                    rule = "return-over-refund"
                else:
                    state[invoice] = (units + quantity, paid + refund)
        if rule:
            rejects.append((f"stock_retour id={rid}", rule))
        else:
            valid.append((invoice, reason, REASONS[reason], quantity, refund,
                          quantity if reason == "insatisfaction" else 0, quantity if reason == "defaut" else 0, *when))
    return valid, rejects


def returns_by_reason(valid):
    """Retours par motif: (raison, effet_stock, nb_retours, quantite, remboursements, restockées, perdues)."""
    groups = {}
    for _, reason, effect, quantity, refund, restocked, lost, *_ in valid:
        g = groups.setdefault((reason, effect), [0, 0, 0, 0, 0])
        g[0] += 1
        g[1] += quantity
        g[2] += refund
        g[3] += restocked
        g[4] += lost
    return [(r, e, n, q, money(c), s, p) for (r, e), (n, q, c, s, p) in sorted(groups.items())]


def refunds_by_invoice(valid):
    totals = {}
    for invoice, _, _, _, refund, *_ in valid:
        totals[invoice] = totals.get(invoice, 0) + refund
    return totals


PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def paris_month(when):
    """`YYYY-MM` of a naive-UTC datetime (Django's storage, as a datetime or its text) in Europe/Paris."""
    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when)
    return when.replace(tzinfo=dt.timezone.utc).astimezone(PARIS).strftime("%Y-%m")


def refunds_by_month(valid):
    """Refund cents of the valid returns (with their date_retour) by the month of the return."""
    totals = {}
    for *_, refund, _, _, when in valid:
        month = paris_month(when)
        totals[month] = totals.get(month, 0) + refund
    return totals


def by_month(invoices, refunds):
    """Factures par mois, in DOMAIN.md's accounting periods: `invoices` {mois: (count, generated,
    gross cents)} by the month of the invoice date, `refunds` {mois: cents} by the month of the
    return; rows (first day of the month, factures, générées, brut, avoirs, net) where net = brut −
    avoirs of the month."""
    rows = []
    for month in sorted(set(invoices) | set(refunds)):
        count, generated, gross = invoices.get(month, (0, 0, 0))
        refunded = refunds.get(month, 0)
        # The month as its first day, a real date, as stockflow's `formats: {mois: month}` writes it.
        first = dt.date(int(month[:4]), int(month[5:7]), 1)
        rows.append((first, count, generated, money(gross), money(refunded), money(gross - refunded)))
    return rows


def share(part, whole):
    """part / whole rounded half away from zero to 4 places, as stockflow does (0 when whole is 0)."""
    if whole == 0:
        return 0.0
    return ((part * 100_000 // whole) + 5) // 10 / 10_000


def money(c):
    return None if c is None else c / 100.0


def write_workbook(path, by_month, clients, suppliers, by_reason, findings):
    """The five sheets, each data sheet with a Total row; rows are tuples in header order."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    percent = book.add_format({"num_format": "0.00%"})

    def sheet(name, headers, rows, totals, formats=None):
        ws = book.add_worksheet(name)
        ws.write_row(0, 0, headers)
        sums = [0] * len(headers)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.date):
                    ws.write_datetime(r, c, dt.datetime(value.year, value.month, value.day), date)
                elif formats and c in formats:
                    ws.write_number(r, c, value, formats[c])
                else:
                    ws.write(r, c, value)
                if c in totals:
                    sums[c] += value
        ws.write(len(rows) + 1, 0, "Total")
        for c in totals:
            ws.write_number(len(rows) + 1, c, round(float(sums[c]), 2))

    sheet("Factures par mois", ["Mois", "Factures", "Dont générées", "CA brut (factures du mois)", "Avoirs (retours du mois)", "CA net"], by_month,
          {1, 2, 3, 4, 5})
    sheet("CA par client", ["Code", "Client", "Actif", "Commandes", "CA net", "Dernière commande"], clients, {3, 4})
    sheet("Fournisseurs", ["Code", "Fournisseur", "Valeur du stock", "Part du stock", "CA net", "Part du CA"],
          suppliers, {2, 4}, {3: percent, 5: percent})
    sheet("Retours par motif", ["Motif", "Effet sur le stock", "Retours", "Quantité", "Remboursements",
                                "Unités restockées", "Unités perdues"], by_reason, {2, 3, 4})
    ws = book.add_worksheet("Constats")
    ws.write_row(0, 0, ["Règle", "Source", "Constat"])
    for r, row in enumerate(findings, start=1):
        ws.write_row(r, 0, row)
    book.close()


def supplier_rows(names, value, revenue):
    """Fournisseurs rows from the suppliers (id, nom), stock value and net revenue (cents) by
    supplier id; a "(sans fournisseur)" row when either has products without a supplier."""
    names = list(names)
    if None in value or None in revenue:
        names.append((None, "(sans fournisseur)"))
    all_value, all_revenue = sum(value.values()), sum(revenue.values())
    return [(sid, name, money(value.get(sid, 0)), share(value.get(sid, 0), all_value),
             money(revenue.get(sid, 0)), share(revenue.get(sid, 0), all_revenue)) for sid, name in names]


def findings_of(legacy, generated, mismatched):
    """The Constats rows: legacy-quantity findings from (code_prod, quantite, lines), then the counts."""
    findings = [("stock-legacy-quantity", f"stock_produit code_prod={code}",
                 f"legacy quantite {q} differs from the sum of its stock lines {lines}") for code, q, lines in legacy]
    findings += [("invoice-generated", "", "order had no invoice; one was generated")] * generated
    findings += [("invoice-total-mismatch", "", "stored total differs from the gross")] * mismatched
    return findings


def report(rejects, findings, sheets, seconds):
    """The run's summary lines: rejects by rule, findings, rows per sheet, seconds per phase."""
    print(f"rejected:           {sum(rejects.values())} ({', '.join(f'{k} {v}' for k, v in rejects.items() if v)})")
    print(f"findings:           {len(findings)}; " + "; ".join(f"{name}: {len(rows)} rows" for name, rows in sheets))
    print("seconds:            " + ", ".join(f"{phase} {s:.2f}" for phase, s in seconds))
