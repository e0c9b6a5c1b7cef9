"""Shared by the test_deliverables_* files: running a bundled pipeline into a folder, reading its
deliverables as a reader gets them (workbook cells, report text, digest parts), exporting a workbook
to PDF with LibreOffice headless and reading PDF pages with poppler, and the message catalogue's fixed
texts in each language (read from Sources/StockflowCore/Reports/MessageCatalogue.swift)."""
import csv
import email
import email.policy
import os
import re
import shutil
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = ROOT / ".build" / "debug" / "stockflow"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
PDFINFO = shutil.which("pdfinfo")
NIGHTLY_AS_OF = "2026-11-25"
MONTHLY_AS_OF = "2026-11-30"


def run_pipeline(pipeline: Path, out: Path, as_of: str, env=None):
    result = subprocess.run([str(STOCKFLOW), "run", str(pipeline), "--out", str(out), "--as-of", as_of],
                            capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def rejects_csv(out: Path) -> list[dict]:
    with open(out / "rejects.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def cents(value) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


def workbook_strings(path: Path) -> list[str]:
    book = openpyxl.load_workbook(path)
    texts = list(book.sheetnames)
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            texts += [cell for cell in row if isinstance(cell, str)]
    return texts


class PageText(HTMLParser):
    """The text a reader sees in a page (no style, no attributes)."""

    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def html_text(html: str) -> str:
    parser = PageText()
    parser.feed(html)
    return "\n".join(parser.parts)


def digest(out: Path):
    """The .eml of the outbox, parsed: (message, plain text, html, {filename: bytes})."""
    [eml] = list((out / "outbox").glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    files = {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}
    return message, eml.read_bytes(), text, html, files


def to_pdf(workbook: Path, folder: Path) -> Path:
    """LibreOffice headless (its own profile, so that parallel runs do not share a lock) → PDF."""
    profile = folder / "lo-profile"
    result = subprocess.run([SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                             "--outdir", str(folder), str(workbook)], capture_output=True, text=True, timeout=240)
    pdf = folder / (workbook.stem + ".pdf")
    assert pdf.exists(), result.stdout + result.stderr
    return pdf


def page_count(pdf: Path) -> int:
    info = subprocess.run([PDFINFO, str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def page_texts(pdf: Path) -> list[str]:
    return [subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout for page in range(1, page_count(pdf) + 1)]


def catalogue_fragments(language: str) -> set[str]:
    """The fixed parts (between interpolations) of every catalogue text in `language` (english or
    french), at least 12 characters long, so that a test can look for them in a deliverable."""
    source = (ROOT / "Sources/StockflowCore/Reports/MessageCatalogue.swift").read_text()
    fragments = set()
    for literal in re.findall(language + r': "((?:[^"\\]|\\.)*)"', source):
        for piece in re.split(r"\\\((?:[^()]|\([^()]*\))*\)", literal):
            piece = piece.strip(" :;,.()'«»")
            if len(piece) >= 12:
                fragments.add(piece)
    return fragments
