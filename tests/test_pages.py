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
