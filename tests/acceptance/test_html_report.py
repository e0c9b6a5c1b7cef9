"""The HTML report of `stockflow run pipelines/nightly-inventory.yml`, rendered in headless Chromium
(Debian's chromium): the page is not blank, each of the four charts is an inline SVG with one mark per
datum (counted in the rendered DOM against the workbook's own figures), and the page asks for nothing
over the network (Chromium's net log, with a proxy on a closed port; a copy of the page with an
outside image and stylesheet checks that the detector sees such requests)."""
import json
import os
import shutil
import socket
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
STOCKFLOW = Path(os.environ.get("STOCKFLOW_BIN") or ROOT / ".build" / "debug" / "stockflow")
AS_OF = "2026-11-25"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed (make deps installs it)")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def chromium(page: Path, folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    profile = folder / f"profile-{len(list(folder.iterdir()))}"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
               f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{closed_port()}", "--virtual-time-budget=3000",
               *arguments, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself asked for (the browser's own update checks have another isolation key)."""
    log = json.loads(net_log.read_text())
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log["events"]:
        params = event.get("params", {})
        if names.get(event["type"]) == "URL_REQUEST_START_JOB" and "url" in params \
                and params.get("network_isolation_key", "").startswith("file://") \
                and not params["url"].startswith(("file:", "data:")):
            urls.append(params["url"])
    return urls


class Marks(HTMLParser):
    """Per chart SVG: its data-chart, data-marks and the elements with class `mark` inside it."""

    def __init__(self):
        super().__init__()
        self.charts, self.depth, self.external = [], 0, []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("src", "href", "xlink:href"):
            value = attributes.get(name)
            if value and not value.startswith(("#", "data:", "mailto:")):
                self.external.append(value)
        if tag == "script":
            self.external.append("<script>")
        if tag == "svg" and "data-chart" in attributes:
            self.charts.append({"kind": attributes["data-chart"], "declared": int(attributes["data-marks"]), "marks": 0,
                                "title": None, "desc": None})
            self.depth = 1
            return
        if self.depth:
            self.depth += 1
            if "mark" in (attributes.get("class") or "").split():
                self.charts[-1]["marks"] += 1
            self.current = tag

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth == 2 and getattr(self, "current", None) in ("title", "desc") and self.charts[-1][self.current] is None:
            self.charts[-1][self.current] = data


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    env = {key: value for key, value in os.environ.items() if not key.startswith("STOCKFLOW_SMTP")}
    result = subprocess.run([str(STOCKFLOW), "run", "pipelines/nightly-inventory.yml", "--out", str(out), "--as-of", AS_OF],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return out, out / f"rapport-{AS_OF}.html"


@pytest.fixture(scope="module")
def rendered(report, tmp_path_factory):
    out, page = report
    folder = tmp_path_factory.mktemp("chromium")
    dom = chromium(page, folder, f"--log-net-log={folder / 'net.json'}", "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    shot = chromium(page, folder, "--window-size=1400,2400", f"--screenshot={folder / 'report.png'}")
    assert shot.returncode == 0, shot.stderr
    parser = Marks()
    parser.feed(dom.stdout)
    return parser, folder


def expected_counts(out: Path) -> dict:
    """Marks per chart from the workbook the same run wrote: 10 bars + others, 2 points per week, 6 slices + others, 1 arc."""
    workbook = openpyxl.load_workbook(out / f"inventaire-{AS_OF}.xlsx", read_only=True)

    def rows(sheet):
        values = [row for row in workbook[sheet].iter_rows(min_row=2, values_only=True) if row[0] is not None and row[0] != "Total"]
        return len(values)

    products = subprocess.run(["sqlite3", str(ROOT / "fixtures" / "inventory.sqlite3"),
                               "SELECT count(DISTINCT p.code_prod) FROM stock_produitentrepot s "
                               "JOIN stock_produit p ON p.code_prod = s.produit_id JOIN stock_entrepot e ON e.code_entrepot = s.entrepot_id "
                               "WHERE NOT p.is_deleted AND e.is_actif"], capture_output=True, text=True, check=True)
    product_count = int(products.stdout.strip())
    suppliers = rows("Fournisseurs")
    # Bars: the top 10, the rest is a note, not a bar (issue 12); lines: one measure per chart, by month.
    return {"bar": min(product_count, 10), "line": rows("Tendance mensuelle"),
            "donut": min(suppliers, 6) + (1 if suppliers > 7 else 0), "gauge": 1}


def test_the_page_renders_and_is_not_blank(rendered):
    _, folder = rendered
    image = Image.open(folder / "report.png").convert("RGB")
    assert image.size == (1400, 2400)
    colors = image.getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 50, "a rendered report has text and charts, not one flat color"
    # The charts' blue (#0072B2) is on the page.
    assert any(abs(r - 0x00) < 8 and abs(g - 0x72) < 8 and abs(b - 0xB2) < 8 for _, (r, g, b) in colors)


def test_each_chart_is_an_svg_with_one_mark_per_datum(rendered, report):
    parser, _ = rendered
    expected = expected_counts(report[0])
    assert [chart["kind"] for chart in parser.charts] == ["bar", "line", "line", "donut", "gauge"]
    for chart in parser.charts:
        assert chart["marks"] == chart["declared"] == expected[chart["kind"]], chart
        assert chart["title"] and chart["desc"], "every chart has a title and a text alternative"


def test_the_page_makes_no_network_request(rendered, report):
    parser, folder = rendered
    assert page_requests(folder / "net.json") == []
    assert parser.external == []
    assert "<script" not in report[1].read_text().lower()


def test_the_request_detector_sees_an_outside_reference(report, tmp_path):
    page = tmp_path / "with-outside.html"
    page.write_text(report[1].read_text().replace(
        "</body>", '<img src="http://example.invalid/x.png"><link rel="stylesheet" href="https://cdn.example.invalid/a.css"></body>'))
    result = chromium(page, tmp_path, f"--log-net-log={tmp_path / 'net.json'}", "--dump-dom")
    assert result.returncode == 0
    assert sorted(page_requests(tmp_path / "net.json")) == ["http://example.invalid/x.png", "https://cdn.example.invalid/a.css"]


def test_numbers_follow_the_french_locale(report):
    text = report[1].read_text()
    assert "1\u202f726\u202f352,80\u00a0€" in text
    assert "Situation au 25/11/2026" in text
    assert '<html lang="fr">' in text


def test_the_workbook_has_native_charts_over_its_own_cells(report):
    import zipfile
    with zipfile.ZipFile(report[0] / f"inventaire-{AS_OF}.xlsx") as archive:
        charts = sorted(name for name in archive.namelist() if name.startswith("xl/charts/chart"))
        ranges = [archive.read(name).decode() for name in charts]
    assert len(charts) == 3
    assert "<c:barChart>" in ranges[0] and "'Stock par entrepôt'!$E$2:$E$4" in ranges[0]
    # Monthly columns (23 points) instead of a 100-point weekly line (issue 12), months on the axis.
    assert "<c:barChart>" in ranges[1] and '<c:barDir val="col"/>' in ranges[1] and "'Tendance mensuelle'!$C$2:$C$24" in ranges[1]
    assert 'formatCode="#,##0,&quot; k€&quot;"' in ranges[0] and 'formatCode="[$-40C]mmm yyyy"' in ranges[1]
    assert "<c:doughnutChart>" in ranges[2] and "'Fournisseurs'!$C$2:$C$10" in ranges[2]
    # Slices labelled with their percentage.
    assert '<c:showPercent val="1"/>' in ranges[2]
