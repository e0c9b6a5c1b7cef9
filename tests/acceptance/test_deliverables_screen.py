"""The HTML report on a desktop and on a phone, in real headless Chromium driven over the DevTools
protocol: at 1280 px, and at 390 px with device emulation (mobile viewport, device scale 3), the page
is no wider than the viewport, no element sticks out of it (wide tables scroll inside their card), each
chart fits its card, and no chart label renders under 10 px. The digest's HTML part, as a mail client on
a phone shows it, is measured the same way: no overflow at 390 px, no text under 10 px, its tables
scrolling inside their box."""
import pytest

from chromium_cdp import CHROMIUM, LAYOUT_PROBE, Chromium
from deliverables import NIGHTLY_AS_OF, ROOT, digest, run_pipeline

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed (make deps installs it)")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = run_pipeline(ROOT / "pipelines/nightly-inventory.yml", tmp_path_factory.mktemp("screen") / "out", NIGHTLY_AS_OF)
    return out / f"rapport-{NIGHTLY_AS_OF}.html"


@pytest.fixture(scope="module")
def digest_page(report):
    """The digest's HTML body as a page of its own (what a mail client renders)."""
    _, _, _, html, _ = digest(report.parent)
    page = report.parent / "digest.html"
    page.write_text(html)
    return page


@pytest.fixture(scope="module")
def browser():
    chromium = Chromium()
    yield chromium
    chromium.close()


@pytest.mark.parametrize("width, height, mobile, scale", [(1280, 900, False, 1), (390, 844, True, 3)], ids=["desktop-1280", "phone-390"])
def test_no_horizontal_overflow_and_readable_chart_labels(report, browser, tmp_path, width, height, mobile, scale):
    browser.open(report.as_uri(), width, height, mobile=mobile, scale=scale)
    layout = browser.evaluate(LAYOUT_PROBE)
    assert layout["viewport"] == width
    assert layout["scrollWidth"] <= layout["viewport"], layout
    assert layout["sticking"] == [], layout["sticking"]
    assert len(layout["charts"]) == 5
    for chart in layout["charts"]:
        assert chart["width"] <= chart["card"], chart
    assert layout["smallestChartText"] >= 10, (layout["smallestChartText"], layout["smallestText"])
    # Charts scale with their card: on the phone they take the card's width, not their drawing's.
    if mobile:
        assert all(chart["width"] < 400 for chart in layout["charts"]), layout["charts"]
    browser.screenshot(tmp_path / f"report-{width}.png")
    assert (tmp_path / f"report-{width}.png").stat().st_size > 10_000


def test_a_wide_table_scrolls_inside_its_card_on_a_phone(report, browser):
    browser.open(report.as_uri(), 390, 844, mobile=True, scale=3)
    boxes = browser.evaluate("""[...document.querySelectorAll('.table-scroll')].map(box => ({
        inner: box.scrollWidth, outer: box.clientWidth, overflow: getComputedStyle(box).overflowX,
        right: box.getBoundingClientRect().right}))""")
    assert boxes, "no scrolling table boxes in the report"
    for box in boxes:
        assert box["overflow"] == "auto" and box["right"] <= 390, box


def test_the_bar_chart_draws_the_top_ten_and_names_the_rest_in_a_note(report):
    html = report.read_text()
    bar = html[html.index('data-chart="bar"'):html.index("</svg>", html.index('data-chart="bar"'))]
    assert 'data-marks="10"' in bar and bar.count('class="mark') == 10
    assert "mark other" not in bar
    assert '<text class="note others"' in bar and "Les 28 autres : 7\u202f062" in bar


@pytest.mark.parametrize("width, height, mobile, scale", [(1280, 900, False, 1), (390, 844, True, 3)], ids=["desktop-1280", "phone-390"])
def test_the_digest_fits_a_phone_and_a_desktop(digest_page, browser, tmp_path, width, height, mobile, scale):
    browser.open(digest_page.as_uri(), width, height, mobile=mobile, scale=scale)
    layout = browser.evaluate(LAYOUT_PROBE)
    assert layout["viewport"] == width, "the digest declares a device-width viewport"
    assert layout["scrollWidth"] <= layout["viewport"], layout
    assert layout["sticking"] == [], layout["sticking"]
    assert layout["smallestAnyText"] >= 10, (layout["smallestAnyText"], layout["smallestAnyTextContent"])
    boxes = browser.evaluate("""[...document.querySelectorAll('table')].map(table => {
        const box = table.parentElement; return {overflow: getComputedStyle(box).overflowX,
        right: box.getBoundingClientRect().right, rows: table.rows.length}; })""")
    assert len(boxes) >= 3 and any(box["rows"] > 5 for box in boxes), boxes
    for box in boxes:
        assert box["overflow"] == "auto" and box["right"] <= width, box
    images = browser.evaluate("[...document.images].map(image => image.getBoundingClientRect().right)")
    assert all(right <= width for right in images), images
    browser.screenshot(tmp_path / f"digest-{width}.png")
    assert (tmp_path / f"digest-{width}.png").stat().st_size > 10_000
