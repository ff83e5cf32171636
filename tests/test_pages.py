"""The chart registry (reporter.pages.CHARTS): every chart a page draws is placed in its HTML, with
its figure in the page's script, and a template naming an unregistered chart fails loudly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reporter.analysis import load_site
from reporter.pages import CHARTS, SiteMap, UnknownChart, views
from reporter.render import render_site
from reporter.store import Store
from reporter.templating import environment
from tests.report_db import build_report_db

FIGURES = re.compile(r'<script type="application/json" class="figures">(.*?)</script>', re.DOTALL)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[list, Path]:
    folder = tmp_path_factory.mktemp("pages")
    with Store.open(build_report_db(folder / "parity.duckdb"), read_only=True) as store:
        site = load_site(store)
    render_site(site, folder / "site")
    return list(views(site, SiteMap())), folder / "site"


def test_pages_place_every_drawn_chart_with_its_figure(rendered):
    pages, folder = rendered
    for view in pages:
        html = (folder / view.page.path).read_text(encoding="utf-8")
        scripts = FIGURES.findall(html)
        figures = json.loads(scripts[0]) if scripts else {}
        for drawn in view.drawn:
            assert html.count(f'<div class="chart" id="{drawn.chart_id}"></div>') == 1, (view.page.path, drawn.chart)
            assert figures.get(drawn.chart_id) == json.loads(json.dumps(drawn.figure)), (view.page.path, drawn.chart)
        assert len(scripts) == bool(view.drawn) and set(figures) == {drawn.chart_id for drawn in view.drawn}


def test_pages_fixture_draws_every_registered_chart(rendered):
    # So that the test above covers each chart of the registry, not just some.
    pages, _ = rendered
    for template, charts in CHARTS.items():
        drawn = {drawn.chart for view in pages if view.template == template for drawn in view.drawn}
        assert drawn == {chart.name for chart in charts}, template


def test_pages_unknown_chart_name_fails_loudly(rendered):
    pages, _ = rendered
    view = next(view for view in pages if view.template == "_platform.html")
    template = environment().from_string('{% from "_macros.html" import chart %}{{ chart(view, "paritty") }}')
    with pytest.raises(UnknownChart, match="paritty"):
        template.render(view=view)


# -- distinct names, distinct pages and ids ----------------------------------------------------------

# Pairs of distinct (model, platform) cells whose pages once shared a file or an element id: a
# readable name equal to another's escaped form, names apart only in case (one file on a
# case-insensitive file system), "--" inside a name (the platform--model join), and a name that
# ends like an element id's suffix.
ADVERSARIAL = [
    (("../../x", "p"), ("x-9cdf6a50", "p")),
    (("ResNet18", "p"), ("resnet18-39549cf7", "p")),
    (("ResNet18", "p"), ("resnet18", "p")),
    (("A", "p"), ("a", "p")),
    (("m", "P"), ("m", "p")),
    (("c", "a--b"), ("b--c", "a")),
    (("m", "p"), ("m-latency", "p")),
    (("m", "x"), ("m", "x-groups")),
]
# Two precisions of one cell whose charts once shared an element id (a space read as "-").
ADVERSARIAL_PRECISIONS = ("fp 16", "fp-16")


@pytest.mark.parametrize("first, second", ADVERSARIAL)
def test_sitemap_distinct_names_get_distinct_files_and_anchors(first, second):
    one, two = SiteMap().model(*first), SiteMap().model(*second)
    assert one.path.casefold() != two.path.casefold() and one.anchor != two.anchor
    assert (
        SiteMap().platform(first[1]).path.casefold() != SiteMap().platform(second[1]).path.casefold()
        or first[1] == second[1]
    )


def test_report_adversarial_names_each_get_a_page_and_unique_ids(tmp_path):
    from reporter.render import render_single_file
    from tests.builders import measurement, prediction, run_info

    cells = sorted({cell for pair in ADVERSARIAL for cell in pair})
    with Store.open(tmp_path / "parity.duckdb") as store, store.atomic():
        store.add_run(run_info("run-1", finished_at="2026-11-28T11:00:00"))
        store.add_measurements(
            [
                measurement(model=m, platform=p, conversion=c, median=2.0)
                for m, p in cells
                for c in ("EAGER", "ONNX_CPU")
            ],
            "run-1",
            None,
        )
        # A host/device split chart per precision on one model page.
        store.add_measurements(
            [
                measurement(model="m", platform="p", precision=precision, method=method, median=median)
                for precision in ADVERSARIAL_PRECISIONS
                for method, median in (("synced-e2e", 2.0), ("device-busy", 1.0))
            ],
            "run-1",
            None,
        )
        store.add_predictions([prediction(model=m, platform=p, latency_ms=3.0) for m, p in cells], "src")
    with Store.open(tmp_path / "parity.duckdb", read_only=True) as store:
        site = load_site(store)
    for view in views(site, SiteMap()):
        assert len(view.figures) == len(view.drawn), view.page.path  # no figure hidden under another's id
    split = next(view for view in views(site, SiteMap()) if view.page == SiteMap().model("m", "p")).placed("split")
    assert len(split) == len(ADVERSARIAL_PRECISIONS)
    render_site(site, tmp_path / "site")
    pages = [path.name.casefold() for path in (tmp_path / "site" / "models").iterdir()]
    assert len(pages) == len(set(pages)) == len(cells)
    platforms = [path.name.casefold() for path in (tmp_path / "site" / "platforms").iterdir()]
    assert len(platforms) == len(set(platforms)) == len({p for _, p in cells})
    html = render_single_file(site, tmp_path / "one.html").read_text(encoding="utf-8")
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert [i for i in set(ids) if ids.count(i) > 1] == []
