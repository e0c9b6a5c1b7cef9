"""On paper: LibreOffice headless (Debian's libreoffice-calc) opens each bundled workbook and exports it
to PDF; poppler reads the pages. Every sheet prints one page wide with its header row on each page and
a footer naming the pipeline, the as-of date and "page N / M"; the charts sheet prints one whole chart
per page. Chromium prints the HTML report (its print stylesheet) within a stated page bound, KPIs and
charts first, long tables left out with a note saying where they are."""
import posixpath
import re
import zipfile
from xml.etree import ElementTree

import openpyxl
import pytest

from chromium_cdp import CHROMIUM, Chromium
from deliverables import (MONTHLY_AS_OF, NIGHTLY_AS_OF, PDFINFO, ROOT, SOFFICE, page_count, page_texts, run_pipeline,
                          to_pdf)

pytestmark = pytest.mark.skipif(SOFFICE is None or PDFINFO is None,
                                reason="libreoffice-calc and poppler-utils are not installed (make deps installs them)")

WORKBOOKS = {
    "nightly": ("pipelines/nightly-inventory.yml", NIGHTLY_AS_OF, "inventaire", "nightly-inventory", "25/11/2026"),
    "monthly": ("pipelines/monthly-finance.yml", MONTHLY_AS_OF, "finance", "monthly-finance", "30/11/2026"),
}


@pytest.fixture(scope="module", params=sorted(WORKBOOKS))
def printed(request, tmp_path_factory):
    pipeline, as_of, stem, name, shown_date = WORKBOOKS[request.param]
    folder = tmp_path_factory.mktemp(request.param)
    out = run_pipeline(ROOT / pipeline, folder / "out", as_of)
    workbook = out / f"{stem}-{as_of}.xlsx"
    pdf = to_pdf(workbook, folder)
    return request.param, openpyxl.load_workbook(workbook), page_texts(pdf), name, shown_date, workbook


def lines(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


def header_words(sheet):
    return [cell.value for cell in sheet[1] if isinstance(cell.value, str)]


def pages_by_sheet(book, pages):
    """Assigns each PDF page to a sheet: a page belongs to the sheet whose header row starts it (data
    sheets repeat theirs) or, for the charts sheet, whose chart title it shows."""
    owners = []
    for text in pages:
        first = lines(text)[0] if lines(text) else ""
        owner = None
        for sheet in book.worksheets:
            words = header_words(sheet)
            if words and re.match(r"\s*" + r".*?".join(re.escape(word.split()[0]) for word in words[:3]), first):
                owner = sheet.title
                break
        owners.append(owner or "charts")
    return owners


def test_the_workbook_package_is_whole_so_no_repair_is_offered(printed):
    """What Excel checks before it offers to repair a file, checked here: the zip's CRCs (`python -m
    zipfile -t`), every XML part parses, [Content_Types].xml gives every part a type and names no missing
    part, every internal relationship points at a part that exists, and each sheet has its PDF pages."""
    kind, book, pages, _, _, path = printed
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None, f"{kind}: a member fails its CRC"
        names = set(package.namelist())
        for name in names:
            if name.endswith((".xml", ".rels")):
                ElementTree.fromstring(package.read(name))  # raises on malformed XML
        namespace = "{http://schemas.openxmlformats.org/package/2006/content-types}"
        types = ElementTree.fromstring(package.read("[Content_Types].xml"))
        defaults = {item.get("Extension").lower() for item in types.iter(namespace + "Default")}
        overrides = {item.get("PartName").lstrip("/") for item in types.iter(namespace + "Override")}
        assert overrides <= names, f"{kind}: content types for missing parts {sorted(overrides - names)}"
        untyped = [name for name in names if not name.endswith("/") and name not in overrides
                   and name.rsplit(".", 1)[-1].lower() not in defaults]
        assert untyped == [], f"{kind}: parts without a content type {untyped}"
        assert {f"xl/worksheets/sheet{n}.xml" for n in range(1, len(book.sheetnames) + 1)} <= overrides
        for rels in (name for name in names if name.endswith(".rels")):
            base = posixpath.dirname(posixpath.dirname(rels))
            for relation in ElementTree.fromstring(package.read(rels)):
                if relation.get("TargetMode") == "External":
                    continue
                target = relation.get("Target")
                resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(base, target))
                assert resolved in names, f"{kind}: {rels} points at missing {resolved}"
    # LibreOffice printed every sheet: each one owns at least one PDF page, the charts sheet its charts.
    owners = set(pages_by_sheet(book, pages))
    data_sheets = {sheet.title for sheet in book.worksheets if header_words(sheet)}
    charts_sheets = [title for title in book.sheetnames if title not in data_sheets]
    assert owners - {"charts"} == data_sheets, (owners, data_sheets)
    assert ("charts" in owners) == bool(charts_sheets) and len(charts_sheets) <= 1, (owners, charts_sheets)
    assert len(data_sheets) + len(charts_sheets) == len(book.sheetnames) >= 5


def test_no_cell_prints_as_hashes(printed):
    """A column too narrow for its values prints `###` (months in words were: `septembre 2025`)."""
    kind, _, pages, _, _, _ = printed
    narrow = [number for number, text in enumerate(pages, start=1) if "###" in text]
    assert narrow == [], f"{kind}: pages with ### cells: {narrow}"


def test_every_page_has_the_footer_with_pipeline_date_and_page_number(printed):
    _, _, pages, name, shown_date, _ = printed
    total = len(pages)
    for number, text in enumerate(pages, start=1):
        assert f"{name} · situation au {shown_date}" in text, f"page {number}: {lines(text)[-2:]}"
        assert re.search(rf"page {number} / {total}\b", text), f"page {number}: {lines(text)[-1:]}"


def test_every_data_sheet_repeats_its_header_on_each_of_its_pages(printed):
    kind, book, pages, _, _, _ = printed
    owners = pages_by_sheet(book, pages)
    data_sheets = [sheet.title for sheet in book.worksheets if header_words(sheet)]
    # Each data sheet has at least one page, its pages are consecutive and each starts with its header.
    for title in data_sheets:
        assert title in owners, f"{kind}: no page starts with the header of sheet {title!r}"
    seen = []
    for owner in owners:
        if not seen or seen[-1] != owner:
            seen.append(owner)
    assert len(seen) == len(set(seen)), f"{kind}: pages of a sheet are not together: {seen}"


def test_sheets_print_one_page_wide(printed):
    kind, book, pages, _, _, _ = printed
    owners = pages_by_sheet(book, pages)
    for sheet in book.worksheets:
        words = header_words(sheet)
        if not words or sheet.title not in owners:
            continue
        first_page = pages[owners.index(sheet.title)]
        header_line = lines(first_page)[0] + " " + (lines(first_page)[1] if len(lines(first_page)) > 1 else "")
        # The last column's header is on the first page: no column is pushed to later pages.
        assert words[-1].split()[0] in header_line, f"{kind} {sheet.title!r}: {words[-1]!r} not on its first page"
    if kind == "nightly":
        orders = owners.count("Commandes")
        # 2 000 order lines of about 48 rows a page (it printed on 84 half-width pages before).
        assert 30 <= orders <= 50, orders


def test_the_charts_sheet_prints_each_chart_whole_on_its_own_page(printed):
    kind, _, pages, _, _, _ = printed
    if kind != "monthly":
        titles = ["Valeur du stock par entrepôt", "CA brut par mois", "Part des fournisseurs dans la valeur du stock"]
        chart_pages = [index for index, text in enumerate(pages) if any(lines(text) and lines(text)[0] == title for title in titles)]
        assert [lines(pages[index])[0] for index in chart_pages] == titles
        assert chart_pages == list(range(chart_pages[0], chart_pages[0] + 3))
        # Whole: the value axis and the categories are on the page of the title.
        assert "k€" in pages[chart_pages[0]] and "Entrepôt Lyon Gerland" in pages[chart_pages[0]]
        assert "%" in pages[chart_pages[2]]


def test_the_rejets_sheet_prints_with_its_total(printed):
    kind, book, pages, _, _, _ = printed
    if "Rejets" in book.sheetnames:
        text = "\n".join(pages[index] for index, owner in enumerate(pages_by_sheet(book, pages)) if owner == "Rejets")
        assert "Total des montants rejetés" in text and "commandes.csv:503" in text


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed")
def test_the_report_prints_kpis_and_charts_first_and_leaves_long_tables_out(tmp_path):
    out = run_pipeline(ROOT / "pipelines/nightly-inventory.yml", tmp_path / "out", NIGHTLY_AS_OF)
    browser = Chromium()
    try:
        browser.open((out / f"rapport-{NIGHTLY_AS_OF}.html").as_uri(), 1280, 900)
        browser.print_pdf(tmp_path / "report.pdf")
    finally:
        browser.close()
    pages = page_texts(tmp_path / "report.pdf")
    # Stated bound: KPIs, five charts two a row, the run section; it printed on 8 pages before.
    assert len(pages) <= 4, len(pages)
    first = pages[0]
    assert "Valeur du stock" in first and "Stock par produit" in first and "CA brut par mois" in first
    text = "\n".join(pages)
    # The 23-row monthly tables are not printed; a note says where they are.
    assert "Tableau complet dans le classeur" in text
    assert "98 045,89" not in text and "98\u202f045,89" not in text
    # The rejects stay in print, the long findings list does not (and the page says where it is).
    assert "commandes.csv:503" in text
    assert "Les constats sont listés dans la feuille « Constats »" in text
