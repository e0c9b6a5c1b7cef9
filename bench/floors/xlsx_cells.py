#!/usr/bin/env python3
"""Dumps the cells of a workbook (stockflow's nightly workbook) for write_floor.c: every sheet's
cells with their type, value and style, the styles, column widths, frozen rows and filter range,
as tab-separated lines. Standard library only; run by bench/run.sh before the write floor, not timed.

    xlsx_cells.py FILE.xlsx > cells.tsv

Lines: X numfmt_id numfmt_code bold font_rgb fill_rgb bottom_border wrap vcenter (one per cell style)
       S name frozen_rows filter_ref  |  W column width  |  C row column style kind value [formula]
kind: n number, s text, b boolean, f formula with a cached number, g formula with cached text.
"""

import re
import sys
import zipfile
import xml.etree.ElementTree as ET

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def esc(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def column_index(ref):
    n = 0
    for ch in re.match(r"[A-Z]+", ref).group(0):
        n = n * 26 + ord(ch) - 64
    return n - 1


def styles(book, out):
    root = ET.fromstring(book.read("xl/styles.xml"))
    codes = {f.get("numFmtId"): f.get("formatCode") for f in root.iter(NS + "numFmt")}
    fonts = [(f.find(NS + "b") is not None, (f.find(NS + "color").get("rgb") or "") if f.find(NS + "color") is not None else "")
             for f in root.find(NS + "fonts")]
    fills = []
    for f in root.find(NS + "fills"):
        fg = f.find(f"{NS}patternFill/{NS}fgColor")
        fills.append(fg.get("rgb") if fg is not None and fg.get("rgb") else "")
    borders = [1 if b.find(NS + "bottom") is not None and b.find(NS + "bottom").get("style") == "thin" else 0
               for b in root.find(NS + "borders")]
    for xf in root.find(NS + "cellXfs"):
        bold, color = fonts[int(xf.get("fontId", 0))]
        align = xf.find(NS + "alignment")
        wrap = 1 if align is not None and align.get("wrapText") == "1" else 0
        vcenter = 1 if align is not None and align.get("vertical") == "center" else 0
        num = xf.get("numFmtId", "0")
        out.write("X\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\n" % (num, esc(codes.get(num, "")), bold, color,
                  fills[int(xf.get("fillId", 0))], borders[int(xf.get("borderId", 0))], wrap, vcenter))


def sheet(book, name, part, out):
    frozen, ref = 0, ""
    with book.open(part) as f:
        head = f.read(4096).decode("utf-8", "replace")
    m = re.search(r'<pane ySplit="(\d+)"', head)
    if m:
        frozen = int(m.group(1))
    out.write("S\t%s\t%d\t" % (esc(name), frozen))
    widths = re.findall(r'<col min="(\d+)" max="(\d+)" width="([0-9.]+)"', head)
    with book.open(part) as f:
        tail = f.read()[-4096:].decode("utf-8", "replace")
    m = re.search(r'<autoFilter ref="([A-Z0-9:]+)"', tail)
    out.write("%s\n" % (m.group(1) if m else ""))
    for lo, hi, width in widths:
        for c in range(int(lo), int(hi) + 1):
            out.write("W\t%d\t%s\n" % (c - 1, width))
    with book.open(part) as f:
        for _, el in ET.iterparse(f):
            if el.tag != NS + "c":
                if el.tag == NS + "row":
                    el.clear()
                continue
            ref = el.get("r")
            row = int(ref[len(re.match(r"[A-Z]+", ref).group(0)):]) - 1
            col = column_index(ref)
            style = el.get("s", "0")
            kind = el.get("t")
            formula = el.find(NS + "f")
            v = el.find(NS + "v")
            if kind == "inlineStr":
                out.write("C\t%d\t%d\t%s\ts\t%s\n" % (row, col, style, esc("".join(el.find(NS + "is").itertext()))))
            elif formula is not None:
                k = "g" if kind == "str" else "f"
                out.write("C\t%d\t%d\t%s\t%s\t%s\t%s\n" % (row, col, style, k, esc(v.text or "") if v is not None else "0",
                                                         esc(formula.text or "")))
            elif kind == "b":
                out.write("C\t%d\t%d\t%s\tb\t%s\n" % (row, col, style, v.text))
            elif v is not None:
                out.write("C\t%d\t%d\t%s\tn\t%s\n" % (row, col, style, v.text))
            else:
                out.write("C\t%d\t%d\t%s\tn\t\n" % (row, col, style))  # blank with a style


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.stdout
    with zipfile.ZipFile(argv[1]) as book:
        styles(book, out)
        rels = ET.fromstring(book.read("xl/_rels/workbook.xml.rels"))
        target = {r.get("Id"): r.get("Target") for r in rels}
        for s in ET.fromstring(book.read("xl/workbook.xml")).iter(NS + "sheet"):
            path = target[s.get(REL)].lstrip("/")
            sheet(book, s.get("name"), path if path.startswith("xl/") else "xl/" + path, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
