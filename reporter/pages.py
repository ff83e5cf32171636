"""The report's pages: where each one lives (SiteMap, slug), how pages link to each other, and
each page ready for its template (View): its analysis context and the figures of its charts.

The charts each page type can show are registered once, in PLATFORM_CHARTS and MODEL_CHARTS:
a name, a caption and how to draw it from the page's context. Templates place a chart by name,
`chart(view, "parity")`, and a name not registered for the page raises UnknownChart instead of
drawing nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence, Sized
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from collectors.vocabulary import EAGER, ERROR_BANDS_PCT, GRAPHS_GATE_PCT, QUANTITIES
from reporter import breakdown_charts, charts, error_charts, history_chart
from reporter.analysis import IndexContext, ModelPlatformContext, PlatformContext, SiteContext
from reporter.chart_style import Figure
from reporter.formatting import band

Context = IndexContext | PlatformContext | ModelPlatformContext


# A name kept as its own file name: runs of [a-z0-9] joined by one '-', '_' or '@'. So never "--",
# which joins a platform and a model in a page's name and an anchor and its element's suffix.
KEPT = re.compile(r"[a-z0-9]+(?:[_@-][a-z0-9]+)*")
KEPT_LENGTH = 64


def slug(name: str) -> str:
    """A file-name-safe form of a user-supplied name, different for different names.

    A name of KEPT's shape (at most 64 characters) is kept: `resnet18`, `jetson-orin-agx-64gb@30w`.
    Any other becomes its readable part, '.', and 32 hex digits of its sha256: '.' is in no kept
    name, so `x-9cdf6a50` (kept) and `../../x` (`x.<hash>`) never meet; everything is lowercase,
    so `ResNet18` and `resnet18` stay two files on a case-insensitive file system; and no name
    can reach outside the folder.
    """
    if len(name) <= KEPT_LENGTH and KEPT.fullmatch(name):
        return name
    readable = re.sub(r"[^a-z0-9]+", "-", name.lower())[:31].strip("-") or "name"
    return f"{readable}.{hashlib.sha256(name.encode('utf-8')).hexdigest()[:32]}"


@dataclass(frozen=True)
class Page:
    path: str  # posix path inside the site folder
    anchor: str  # id of the page's section (the fragment in a single-file report)
    title: str


class SiteMap:
    """Where every page lives; the one place that turns names into paths and anchors. Anchors are
    `platform-<slug>` and `model-<platform slug>--<model slug>`; the ids of elements on a page add
    `--<suffix>` (element_id), which no anchor has after its prefix's own one."""

    index = Page("index.html", "index", "Index")

    def platform(self, name: str) -> Page:
        return Page(f"platforms/{slug(name)}.html", f"platform-{slug(name)}", name)

    def model(self, model: str, platform: str) -> Page:
        key = f"{slug(platform)}--{slug(model)}"
        return Page(f"models/{key}.html", f"model-{key}", model)


def element_id(page: Page, *parts: str) -> str:
    """The id of an element of `page` (a chart, a heading): unique in a single-file report too,
    since slugs hold no "--" and every anchor begins with its page type."""
    return "--".join((page.anchor, *parts))


def relative(page: Page, target: str) -> str:
    """The link from `page` to `target`, a path inside the site folder."""
    depth = len(PurePosixPath(page.path).parents) - 1
    return "../" * depth + target


def linker(page: Page) -> Callable[[Page], str]:
    """The templates' `url(other_page)` on `page`."""
    return lambda target: relative(page, target.path)


# -- the chart registry ----------------------------------------------------------------------------


class UnknownChart(LookupError):
    """A template placed a chart that its page type does not register (a typo would draw nothing)."""


@dataclass(frozen=True)
class Panel:
    """One figure a chart draws on a page."""

    figure: Figure
    key: str = ""  # tells apart the figures of a chart drawn once per group; ends the element id
    detail: str = ""  # fills the chart's caption at {detail}: the group's label, or what the figure marks


@dataclass(frozen=True)
class Chart:
    """A chart a page type can show.

    name: how templates place it, `chart(view, name)`; the page's anchor and the name make its element id.
    caption: the text under each figure, its `{detail}` filled from the Panel.
    draw: the page's context -> the chart's figures; none where the page has no data for it.
    """

    name: str
    caption: str
    draw: Callable[[Any], list[Panel]]


def _where(rows: Sized, build: Callable[[], Figure]) -> list[Panel]:
    """One figure where the page has `rows` for the chart, none where it has none."""
    return [Panel(build())] if len(rows) else []


def _history(ctx: ModelPlatformContext) -> list[Panel]:
    """Drawn where some series has two points or more; the caption names change points where marked."""
    if not history_chart.has_history(ctx.history, ctx.predicted_history):
        return []
    figure = history_chart.history_chart(
        measured=ctx.history, predicted=ctx.predicted_history, markers=ctx.change_points, platform=ctx.platform
    )
    return [Panel(figure, detail=" Dotted red lines: change points." if ctx.change_points else "")]


def _panel_key(*parts: object) -> str:
    """The element-id suffix of one group's figure: its key's parts, each slugged, so that two
    groups never share an id (precisions "fp 16" and "fp-16" stay apart)."""
    return "-".join(slug(str(part)) for part in parts)


def _grouped(
    frame: Any, by: Sequence[str], build: Callable[[Any], Figure], describe: Callable[[tuple], tuple[tuple, str]]
) -> list[Panel]:
    """One figure per group of `frame` by the columns `by`, in key order; `describe(key)` gives the
    parts of the group's panel key and the caption's detail."""
    panels = []
    for key, group in frame.groupby(list(by), sort=True):
        parts, detail = describe(key)
        panels.append(Panel(build(group), key=_panel_key(*parts), detail=detail))
    return panels


def _per_cell(frame: Any, build: Callable[[Any], Figure], by: tuple[str, ...] = ()) -> list[Panel]:
    """One figure per precision and batch size of `frame` (and per value of the columns `by`)."""
    return _grouped(
        frame,
        [*charts.PAGE_CELL, *by],
        build,
        lambda key: (
            (key[0], f"b{key[1]}", *key[2:]),
            ", ".join([key[0], f"batch {key[1]}", *map(str, key[2:])]),
        ),
    )


def _error_sources(ctx: PlatformContext) -> list[Panel]:
    """One figure per precision and measured figure with an error by operation type."""
    return _grouped(
        ctx.error_sources,
        ("precision", "measured_by"),
        lambda rows: breakdown_charts.missing_time_bars(by_operation=rows),
        lambda key: (key, f"{key[0]}, against {key[1]}"),
    )


def _per_quantity(frame: Any, build: Callable[[Any], Figure]) -> list[Panel]:
    """One figure per predicted quantity in `frame` (its `quantity` column), in vocabulary order."""
    return [
        Panel(build(group), key=q.name, detail=f"{q.name} ({q.unit}): {q.help}")
        for q in QUANTITIES
        if len(group := frame[frame["quantity"] == q.name])
    ]


PLATFORM_CHARTS = (
    Chart(
        "parity",
        "Predicted against measured (log–log): {detail}. The dotted line is y = x; shaded bands are "
        f"{' and '.join(band(pct) for pct in ERROR_BANDS_PCT)}. Above the line the predictor is pessimistic.",
        lambda ctx: _per_quantity(ctx.comparisons, lambda rows: error_charts.parity_plot(comparisons=rows)),
    ),
    Chart(
        "errors",
        f"Median signed error per model: {{detail}}. Dotted lines at {band(GRAPHS_GATE_PCT)} (graphs' gate).",
        lambda ctx: _per_quantity(ctx.model_errors, lambda rows: error_charts.error_bars(model_errors=rows)),
    ),
    Chart(
        "speedups",
        f"Speedup of each conversion over {EAGER} in the newest run.",
        lambda ctx: _where(ctx.speedups, lambda: charts.speedup_heatmap(speedups=ctx.speedups)),
    ),
    Chart(
        "sources",
        "Where the latency error comes from ({detail}): the time each operation type's predictions miss "
        "(measured − predicted per forward, summed over the platform's models; > 0: predicted too fast), with its "
        "share of all the time missed.",
        _error_sources,
    ),
)
MODEL_CHARTS = (
    Chart(
        "latency",
        "Median latency per conversion, whiskers p05–p95; dashed: the predicted latency.",
        lambda ctx: _where(
            ctx.latencies,
            lambda: charts.latency_chart(latencies=ctx.latencies, predictions=ctx.predictions, platform=ctx.platform),
        ),
    ),
    Chart(
        "speedups",
        f"Speedup over {EAGER} in the newest run.",
        lambda ctx: _where(ctx.speedups, lambda: charts.speedup_bars(speedups=ctx.speedups, platform=ctx.platform)),
    ),
    Chart(
        "history",
        "Measured median latency across runs (long histories are bucketed: one point is the median "
        "of several runs; with many series, some start hidden: click the legend), and the prediction over "
        "time.{detail}",
        _history,
    ),
    Chart(
        "split",
        "Caller latency per conversion split into the device's own work (kernels, copies and memsets "
        "per call, from the profiler: what a roofline prediction models) and the host's overhead (the rest: "
        "launches, Python, synchronising) ({detail}).",
        lambda ctx: _per_cell(ctx.split, lambda rows: breakdown_charts.host_device_bars(split=rows)),
    ),
    Chart(
        "subgraphs",
        "graphs' predicted time of each subgraph beside its measured time, named by fusion pattern "
        "or operation types ({detail}: measured by graphs' calibration, or by Parity's layers of the modules the "
        "subgraph covers).",
        lambda ctx: _per_cell(
            ctx.subgraphs, lambda rows: breakdown_charts.subgraph_chart(subgraphs=rows), by=("measured_by",)
        ),
    ),
)
CHARTS: dict[str, tuple[Chart, ...]] = {
    "_index.html": (),
    "_platform.html": PLATFORM_CHARTS,
    "_model.html": MODEL_CHARTS,
}  # template -> the charts its page can show


# -- views -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drawn:
    """A chart's figure on one page, with the element id it is drawn into and its caption."""

    chart: str
    chart_id: str
    caption: str
    figure: Figure


@dataclass(frozen=True)
class View:
    """One page ready for its template: the analysis context plus the figures drawn from it."""

    template: str
    page: Page
    context: Context
    crumbs: list[Page]
    drawn: tuple[Drawn, ...] = ()

    def placed(self, name: str) -> list[Drawn]:
        """The figures of chart `name` on this page, none where it has no data for them. Raises
        UnknownChart when the page type does not register `name`."""
        if name not in {chart.name for chart in CHARTS[self.template]}:
            raise UnknownChart(f"{self.template}: no chart named {name!r} in pages.CHARTS")
        return [drawn for drawn in self.drawn if drawn.chart == name]

    @property
    def figures(self) -> dict[str, Figure]:
        """Element id -> figure, for the page's script."""
        return {drawn.chart_id: drawn.figure for drawn in self.drawn}


def views(site: SiteContext, sitemap: SiteMap) -> Iterator[View]:
    """Every page of `site` with its figures drawn: the index, then platforms, then model pages."""
    yield _view("_index.html", sitemap.index, site.index, [sitemap.index])
    for platform in site.platforms:
        page = sitemap.platform(platform.platform)
        yield _view("_platform.html", page, platform, [sitemap.index, page])
    for model in site.models:
        page = sitemap.model(model.model, model.platform)
        yield _view("_model.html", page, model, [sitemap.index, sitemap.platform(model.platform), page])


def _view(template: str, page: Page, context: Context, crumbs: list[Page]) -> View:
    drawn = tuple(_drawn(page, chart, panel) for chart in CHARTS[template] for panel in chart.draw(context))
    return View(template, page, context, crumbs, drawn)


def _drawn(page: Page, chart: Chart, panel: Panel) -> Drawn:
    chart_id = element_id(page, chart.name, *([panel.key] if panel.key else []))
    return Drawn(chart.name, chart_id, chart.caption.format(detail=panel.detail), panel.figure)
