"""Rejects in sight: the nightly run rejects 7 order lines; the workbook's Rejets sheet, the report's
rejects section and the digest's list exactly the rows of rejects.csv (sources as file name and line,
the rule in words, the original values, the amount each states), and the amounts left out are summed
to the cent. The digest carries rejects.csv as an attachment (`attach_rejects: true`)."""
import re
from decimal import Decimal

import openpyxl
import pytest

from deliverables import NIGHTLY_AS_OF, ROOT, cents, digest, html_text, rejects_csv, run_pipeline


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return run_pipeline(ROOT / "pipelines/nightly-inventory.yml", tmp_path_factory.mktemp("nightly") / "out", NIGHTLY_AS_OF)


def french_money(value_cents: int) -> str:
    """1891.76 → `1 891,76 €` with the narrow no-break space and no-break space the report uses."""
    units, rest = divmod(abs(value_cents), 100)
    grouped = f"{units:,}".replace(",", "\u202f")
    return ("-" if value_cents < 0 else "") + f"{grouped},{rest:02d}\u00a0€"


def short_source(source: str) -> str:
    return " ".join(word.rsplit("/", 1)[-1] for word in source.split(" "))


def test_rejects_csv_states_the_amount_of_each_row_that_carries_one(out):
    rows = rejects_csv(out)
    assert len(rows) == 7
    by_line = {row["source"].rsplit(":", 1)[-1]: row["amount"] for row in rows}
    # commandes.csv:503 states "12,5,0", which is no amount; 1256 has a field missing, so its columns are unknown.
    assert by_line == {"503": "", "754": "886.80", "1005": "320.48", "1256": "", "1758": "364.00", "252": "320.48", "1507": "0.00"}


def test_the_rejets_sheet_lists_every_reject_with_its_amount_and_their_total(out):
    rows = rejects_csv(out)
    book = openpyxl.load_workbook(out / f"inventaire-{NIGHTLY_AS_OF}.xlsx")
    assert book.sheetnames[-1] == "Rejets"
    sheet = list(book["Rejets"].iter_rows(values_only=True))
    assert sheet[0] == ("Source", "Règle", "Motif", "Valeurs d’origine", "Montant")
    listed = sheet[1:1 + len(rows)]
    assert [line[0] for line in listed] == [short_source(row["source"]) for row in rows]
    assert [line[3] for line in listed] == [row["row"] for row in rows]
    assert [cents(line[4]) if line[4] is not None else None for line in listed] == \
        [cents(row["amount"]) if row["amount"] else None for row in rows]
    # The rule in words, never the code.
    assert "Nombre décimal illisible" in [line[1] for line in listed]
    assert not {line[1] for line in listed} & {row["rule"] for row in rows}
    # Stage ids are the pipeline's words, not the reader's: only in rejects.csv.
    assert not {cell for line in listed for cell in line} & {row["stage"] for row in rows}
    total_row = sheet[1 + len(rows)]
    assert total_row[0] == "Total des montants rejetés"
    assert total_row[4].startswith("=SUBTOTAL(109,E2:E8)")
    cached = openpyxl.load_workbook(out / f"inventaire-{NIGHTLY_AS_OF}.xlsx", data_only=True)["Rejets"]
    assert cents(cached.cell(row=2 + len(rows), column=5).value) == sum(cents(row["amount"]) for row in rows if row["amount"]) == 189176


def test_the_report_shows_the_rejects_and_the_amount_left_out(out):
    rows = rejects_csv(out)
    html = (out / f"rapport-{NIGHTLY_AS_OF}.html").read_text()
    section = html[html.index('<div class="rejects"'):html.index("</div>", html.index('<table class="issues rejects-table"'))]
    body = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td class=\"values\">(.*?)</td><td class=\"num\">(.*?)</td></tr>", section)
    assert [cells[0] for cells in body] == [short_source(row["source"]) for row in rows]
    assert [cells[4] for cells in body] == [french_money(cents(row["amount"])) if row["amount"] else "—" for row in rows]
    total = sum(cents(row["amount"]) for row in rows if row["amount"])
    assert f"Montant laissé de côté&nbsp;: <strong class=\"amount\">{french_money(total)}</strong>" in section
    text = html_text(html)
    assert "Liste complète : feuille « Rejets » du classeur et fichier" in text and "rejects.csv" in text


def test_the_digest_lists_the_rejects_and_attaches_rejects_csv(out):
    rows = rejects_csv(out)
    message, raw, text, html, files = digest(out)
    total = sum(cents(row["amount"]) for row in rows if row["amount"])
    assert f"Montant laissé de côté : {french_money(total)}" in text
    listed = [line for line in text.splitlines() if line.startswith("  - commandes.csv:")]
    assert [line.split(" · ")[0].removeprefix("  - ") for line in listed] == [short_source(row["source"]) for row in rows]
    assert [line.rsplit(" · ", 1)[1] for line in listed] == [french_money(cents(row["amount"])) if row["amount"] else "—" for row in rows]
    assert files["rejects.csv"] == (out / "rejects.csv").read_bytes()
    assert french_money(total) in html
