#!/usr/bin/env python3
"""Counts the rows of every sheet in an .xlsx file, streaming, standard library only.

Usage: xlsx_rows.py FILE.xlsx
Prints one line per sheet ("name<TAB>rows") and a last line "total<TAB>rows".
Rows are <row> elements, so headers and totals rows count; both tools are measured alike.
"""

import re
import sys
import zipfile

NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def sheet_parts(book: zipfile.ZipFile):
    """Yields (sheet name, part path) in workbook order."""
    import xml.etree.ElementTree as ET

    rels = ET.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels}
    workbook = ET.fromstring(book.read("xl/workbook.xml"))
    for sheet in workbook.iter():
        if sheet.tag.endswith("}sheet"):
            path = target[sheet.get(NS_REL)].lstrip("/")
            yield sheet.get("name"), path if path.startswith("xl/") else "xl/" + path


def count_rows(book: zipfile.ZipFile, part: str) -> int:
    pattern = re.compile(rb"<row[ >]")
    count, tail = 0, b""
    with book.open(part) as stream:
        while chunk := stream.read(1 << 20):
            data = tail + chunk
            count += len(pattern.findall(data))
            # Carry 4 bytes: enough to complete a "<row " split across chunks, too short
            # to hold a whole match, so nothing is counted twice.
            tail = data[-4:]
    return count


def main(argv):
    if len(argv) != 2:
        print("usage: xlsx_rows.py FILE.xlsx", file=sys.stderr)
        return 2
    total = 0
    with zipfile.ZipFile(argv[1]) as book:
        for name, part in sheet_parts(book):
            rows = count_rows(book, part)
            total += rows
            print(f"{name}\t{rows}")
    print(f"total\t{total}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
