#!/usr/bin/env python3
"""Checks that the peers (pandas_monthly.py, polars_monthly.py, duckdb_monthly.py) and stockflow's
monthly-finance agree, figure for figure.

Usage: compare_monthly.py STOCKFLOW_OUTDIR PEER_OUTDIR... (a peer is named by its folder: pandas-monthly-1 → pandas)

Reads stockflow's finance-*.xlsx and findings.csv and each peer's finance.xlsx and findings counts
(from its Constats sheet) with openpyxl (bench/.venv). Compares every data row of the four
figure sheets (keyed, so row order within equal keys does not matter), their column totals
(summed from the data rows: stockflow writes SUBTOTAL formulas) and the number of findings
per rule. Prints the totals side by side; exits 1 on any difference.
"""

import collections
import csv
import re
import sys
from pathlib import Path

import openpyxl

SHEETS = ["Factures par mois", "CA par client", "Fournisseurs", "Retours par motif"]


def data_rows(ws):
    rows = list(ws.iter_rows(values_only=True))
    header, body = list(rows[0]), rows[1:]
    if body and body[-1][0] == "Total":
        body = body[:-1]
    return header, [tuple(norm(v) for v in r) for r in body]


# stockflow's workbook shows the French labels of return reasons and stock effects (pipelines'
# labels); the peers keep the codes.
LABELS = {"Défaut": "defaut", "Insatisfaction": "insatisfaction", "Rupture": "rupture",
          "Mis au rebut": "written_off", "Remis en stock": "restocked", "Remboursement seul": "refund_only"}


def norm(value):
    if isinstance(value, str):
        return LABELS.get(value, value)
    if isinstance(value, float):
        return round(value, 4)
    if hasattr(value, "date"):
        return value.date().isoformat()
    return value


def compare(sf, sf_rules, peer_dir):
    """Compares one peer's finance.xlsx with stockflow's workbook; prints and returns whether they agree."""
    peer = re.sub(r"-monthly(-\d+)?$", "", peer_dir.name)
    pd_ = openpyxl.load_workbook(peer_dir / "finance.xlsx", read_only=True)
    ok = True
    for name in SHEETS:
        sh, srows = data_rows(sf[name])
        ph, prows = data_rows(pd_[name])
        if sh != ph:
            print(f"{name}: headers differ: {sh} vs {ph}")
            ok = False
            continue
        same = collections.Counter(srows) == collections.Counter(prows)
        ok &= same
        print(f"{name}: {len(srows)} rows (stockflow) / {len(prows)} rows ({peer}): "
              f"{'identical' if same else 'DIFFERENT'}")
        if not same:
            only_s = collections.Counter(srows) - collections.Counter(prows)
            only_p = collections.Counter(prows) - collections.Counter(srows)
            for r in list(only_s)[:5]:
                print(f"   only stockflow: {r}")
            for r in list(only_p)[:5]:
                print(f"   only {peer}:    {r}")
        for i, column in enumerate(sh):
            values = [r[i] for r in srows if isinstance(r[i], (int, float)) and not isinstance(r[i], bool)]
            if len(values) != len(srows) or not values:
                continue
            s_total = round(sum(values), 2)
            p_total = round(sum(r[i] for r in prows), 2)
            mark = "" if abs(s_total - p_total) < 0.005 else "   <-- differs"
            print(f"   {column:<20} {s_total:>18,.2f} {p_total:>18,.2f}{mark}")
            ok &= not mark
    p_rules = collections.Counter(r[0] for r in list(pd_["Constats"].iter_rows(values_only=True))[1:])
    same = sf_rules == p_rules
    ok &= same
    print(f"Constats: stockflow {dict(sorted(sf_rules.items()))}, {peer} {dict(sorted(p_rules.items()))}: "
          f"{'identical' if same else 'DIFFERENT'}")
    print(f"monthly-finance: stockflow and {peer} agree" if ok else f"monthly-finance: stockflow and {peer}: FIGURES DIFFER")
    return ok


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    sf_dir = Path(argv[1])
    sf_file = sorted(sf_dir.glob("finance-*.xlsx"))[-1]
    sf = openpyxl.load_workbook(sf_file, read_only=True)
    with open(sf_dir / "findings.csv", newline="", encoding="utf-8") as f:
        sf_rules = collections.Counter(row["rule"] for row in csv.DictReader(f))
    results = [compare(sf, sf_rules, Path(peer)) for peer in argv[2:]]
    print(f"monthly-finance: stockflow agrees with all {len(results)} peers" if all(results)
          else "monthly-finance: FIGURES DIFFER (see above)")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
