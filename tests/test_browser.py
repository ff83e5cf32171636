"""The report in a real browser (Debian chromium through playwright): every page loads from
file:// with no console error and no request leaving file://, every chart is drawn, the hostile
model name stays text, and the single file shows one page per fragment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reporter.analysis import load_site
from reporter.pages import SiteMap
from reporter.render import render_single_file, render_site
from reporter.store import Store
from tests.report_db import CPU, HOSTILE_MODEL, build_report_db

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium not installed at {CHROMIUM}"),
]


class Watched:
    """A page whose console errors, uncaught exceptions, dialogs and non-file requests are kept."""

    def __init__(self, page) -> None:
        self.page, self.problems = page, []
        page.on("console", lambda message: message.type == "error" and self.problems.append(message.text))
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on(
            "request",
            lambda request: (
                request.url.startswith("file://") or self.problems.append(f"request left file://: {request.url}")
            ),
        )
        page.on("dialog", lambda dialog: (self.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_load_state("load")

    def charts(self) -> dict[str, bool]:
        """Chart id -> whether Plotly drew its SVG, for the charts of the visible section."""
        return self.page.eval_on_selector_all(
            "section.page:not([hidden]) .chart",
            "els => Object.fromEntries(els.map(e => [e.id, !!e.querySelector('.main-svg')]))",
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("browser")
    with Store.open(build_report_db(folder / "parity.duckdb"), read_only=True) as store:
        site = load_site(store)
    return render_site(site, folder / "site").parent, render_single_file(site, folder / "report.html")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    playwright = pytest.importorskip("playwright.sync_api").sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def watched(browser) -> Iterator[Watched]:
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    yield Watched(page)
    page.close()


def test_browser_every_page_loads_offline_and_draws_every_chart(built, watched):
    site, _ = built
    pages = sorted(site.rglob("*.html"))
    drawn = 0
    for path in pages:
        watched.open(path.as_uri())
        charts = watched.charts()
        assert all(charts.values()), f"{path.name}: undrawn charts {charts}"
        drawn += len(charts)
    assert watched.problems == []
    assert len(pages) == 12 and drawn >= 10  # index, 3 platforms, 8 model pages


def test_browser_hostile_model_name_is_text_not_markup(built, watched):
    site, _ = built
    watched.open((site / SiteMap().model(HOSTILE_MODEL, CPU).path).as_uri())
    assert watched.page.locator("h1").inner_text().startswith(HOSTILE_MODEL)
    assert watched.page.locator("img").count() == 0
    watched.open((site / SiteMap().platform(CPU).path).as_uri())
    ticks = watched.page.eval_on_selector_all(".ytick text", "els => els.map(e => e.textContent)")
    assert any(HOSTILE_MODEL in tick for tick in ticks), ticks  # a chart label, shown as text
    assert watched.page.locator("img").count() == 0
    assert watched.problems == []


def test_browser_table_sorts_on_header_click(built, watched):
    site, _ = built
    watched.open((site / "index.html").as_uri())
    runs = watched.page.locator("#runs + p + table")

    def first_cells() -> list[str]:
        return runs.locator("tbody tr td:first-child").all_inner_texts()

    assert first_cells() == sorted(first_cells(), reverse=True)  # newest first
    runs.locator("th", has_text="started").click()
    assert first_cells() == sorted(first_cells())


def test_browser_single_file_shows_the_page_its_fragment_names(built, watched):
    _, single = built
    watched.open(single.as_uri())
    assert watched.page.locator("section.page:not([hidden])").get_attribute("id") == "index"
    target = SiteMap().model("resnet18", CPU).anchor
    watched.page.locator(f'a[href="#{target}"]').first.click()
    watched.page.wait_for_function(f"document.getElementById('{target}').hidden === false")
    charts = watched.charts()
    assert charts and all(charts.values()), charts
    assert watched.problems == []


def test_browser_platform_groups_table_fits_1400px_and_ticks_are_readable(built, browser):
    site, _ = built
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        watched = Watched(page)
        watched.open((site / SiteMap().platform(CPU).path).as_uri())
        table = page.locator("table.sortable").first
        fits = table.evaluate("t => [t.scrollWidth, t.clientWidth]")
        assert fits[0] <= fits[1], f"groups table overflows: {fits}"
        bias = page.locator("table.sortable th", has_text="bias").first
        assert bias.evaluate("th => th.getBoundingClientRect().right") <= 1400
        # Log-axis ticks of the parity plot are full 1-2-5 values, never bare digits between decades.
        ticks = page.eval_on_selector_all(
            f"#platform-{CPU}--parity--latency .xtick text", "els => els.map(e => e.textContent)"
        )
        assert len(ticks) >= 2 and all(f"{float(t):e}"[0] in "125" for t in ticks), ticks
        assert watched.problems == []
    finally:
        page.close()
