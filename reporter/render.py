"""Writes the report from the analysis contexts: a static site, or one self-contained HTML file,
plus `summary.md` for a pull-request comment.

Site layout: `index.html`, `platforms/<platform>.html`, `models/<platform>--<model>.html`, and
`assets/` holding Plotly's JavaScript (written once for the whole site), `parity.js` and
`parity.css`. File names come from `slug()`, so a name can never lead outside the folder. The
same database renders the same bytes, bar the one "Generated at" line of each page.

Writing is all or nothing: the site is rendered into a hidden sibling folder and swapped in
only once complete (a single file is written beside its target and renamed over it), so an error
or Ctrl-C while rendering leaves the previous report as it was and no partial one behind. The
swap is a few renames (each of the report's entries: the old one aside, the new one in, then the
old ones deleted) with SIGINT and SIGTERM held off; files of others in the folder are kept.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import json
import math
import os
import re
import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
import pandas as pd
import plotly
from markupsafe import Markup

from collectors.errors import ParityError
from reporter import charts
from reporter.analysis import (ChangePoints, IndexContext, ModelPlatformContext, PlatformContext, SiteContext,
                               load_site)
from reporter.formatting import markdown_text, milliseconds, percent
from reporter.metrics import GRAPHS_GATE_MEDIAN_APE, ErrorStats
from reporter.store import Store

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
ASSETS = TEMPLATES / "assets"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SITE_MARKER = ".parity-report"  # marks a folder this module wrote, so its entries may be replaced
SITE_ENTRIES = ("index.html", "platforms", "models", "assets", "summary.md", SITE_MARKER)
GENERATED_LINE = re.compile(r'^<p class="generated">.*</p>$', re.MULTILINE)
predictor_label = charts.predictor_label  # "graphs 1.1": the model page's predictor column
METHOD_HELP = {
    "synced-e2e": "Parity's timer: end-to-end latency with a device synchronise",
    "alma": "Alma's own loop: not synchronised, shown for reference, never scored",
    "layerwise-sum": "graphs calibration: the sum of per-subgraph timings, each subgraph timed alone",
}


class RenderError(ParityError):
    """The report cannot be written where asked."""


# -- public API ----------------------------------------------------------------------------------


def write_report(store: Store, out: Path, *, change_points: ChangePoints | None = None,
                 generated_at: dt.datetime | None = None) -> Path:
    """Render the whole site for `store` into `out` (created if needed); returns index.html's path.

    change_points: markers for the model pages' history charts, keyed by (model, platform).
    generated_at: the time stamped on each page (default: now, UTC).
    Raises RenderError when `out` exists and is not a folder.
    """
    return render_site(load_site(store, change_points=change_points), out, generated_at=generated_at)


def write_single_file(store: Store, path: Path, *, change_points: ChangePoints | None = None,
                      generated_at: dt.datetime | None = None) -> Path:
    """Render every page into one self-contained HTML file (Plotly inlined once); returns `path`."""
    return render_single_file(load_site(store, change_points=change_points), path, generated_at=generated_at)


def render_site(site: SiteContext, out: Path, *, generated_at: dt.datetime | None = None) -> Path:
    """Write `site` as a folder of pages, replacing `out` only once every page is written (see
    the module's docstring); returns index.html's path."""
    _check_folder(out)
    target = out.resolve()
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)  # left by an earlier run of this process id
    try:
        staging.mkdir(parents=True)
        _render_into(site, staging, generated_at)
        _swap_in(staging, target)
    except BaseException as error:  # KeyboardInterrupt too: nothing half-written stays
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):
            raise RenderError(f"{out}: cannot write the report: {error.strerror or error}") from None
        raise
    return out / SiteMap.index.path


def _render_into(site: SiteContext, out: Path, generated_at: dt.datetime | None) -> None:
    (out / SITE_MARKER).write_text("written by parity report; the whole folder is replaced on each run\n")
    env = environment()
    stamp = _stamp(generated_at)
    for view in views(site, SiteMap()):
        url = _relative_linker(view.page)
        text = env.get_template("page.html").render(
            view=view, url=url, asset=lambda name, page=view.page: _relative(page, f"assets/{name}"),
            sitemap=SiteMap(), generated_at=stamp)
        _write(out, view.page.path, text)
    _copy_assets(out / "assets")
    _write(out, "summary.md", summary_markdown(site))


def render_single_file(site: SiteContext, path: Path, *, generated_at: dt.datetime | None = None) -> Path:
    """Write `site` as one HTML file: each page a section, scripts and styles inlined once."""
    inline = {"css": Markup(_read_asset(ASSETS / "parity.css")), "js": Markup(_read_asset(ASSETS / "parity.js")),
              "plotly": Markup(_read_asset(PLOTLY_JS))}
    text = environment().get_template("single.html").render(
        views=list(views(site, SiteMap())), url=lambda page: f"#{page.anchor}", inline=inline,
        sitemap=SiteMap(), generated_at=_stamp(generated_at), asset=None)
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            staging.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise RenderError(f"{path}: cannot write the report: {error.strerror or error}") from None
        raise
    return path


def summary_markdown(source: Store | SiteContext, *, worst: int = 10) -> str:
    """The report's headline in Markdown for a pull-request comment: overall figures, one row per
    platform, precision and batch size, and the `worst` comparisons by absolute error.

    source: an open Store, or a SiteContext already loaded from one.
    """
    site = load_site(source) if isinstance(source, Store) else source
    index = site.index
    lines = ["## Parity: predictions vs measurements", "", *_markdown_headline(index), ""]
    if len(index.platform_stats):
        lines += ["### Per platform", "", *_markdown_platforms(index.platform_stats), ""]
    if len(site.comparisons):
        lines += [f"### Worst {min(worst, len(site.comparisons))} comparisons", "",
                  *_markdown_worst(site.comparisons, worst), ""]
    if len(index.failures):
        lines += [f"{len(index.failures)} cell(s) failed in their newest measurement; see the report's Failures.", ""]
    return "\n".join(lines)


def slug(name: str) -> str:
    """A file-name-safe form of a user-supplied name. A name that is already safe is kept; any
    other is reduced to [a-z0-9-] and suffixed with a hash of the original, so two names never
    share a file and no name can reach outside the folder (`../../x` -> `x-<hash>`)."""
    if re.fullmatch(r"[a-z0-9][a-z0-9_@-]{0,63}", name):
        return name
    readable = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "name"
    return f"{readable}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


# -- pages and links -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    path: str  # posix path inside the site folder
    anchor: str  # id of the page's section (the fragment in a single-file report)
    title: str


class SiteMap:
    """Where every page lives; the one place that turns names into paths."""

    index = Page("index.html", "index", "Index")

    def platform(self, name: str) -> Page:
        return Page(f"platforms/{slug(name)}.html", f"platform-{slug(name)}", name)

    def model(self, model: str, platform: str) -> Page:
        key = f"{slug(platform)}--{slug(model)}"
        return Page(f"models/{key}.html", f"model-{key}", model)


@dataclass(frozen=True)
class View:
    """One page ready for its template: the analysis context plus the figures built from it."""

    template: str
    page: Page
    context: IndexContext | PlatformContext | ModelPlatformContext
    crumbs: list[Page]
    figures: dict[str, charts.Figure] = field(default_factory=dict)  # chart id -> figure
    chart_ids: dict[str, str] = field(default_factory=dict)  # chart name -> chart id
    subgraph_groups: list[tuple[str, str]] = field(default_factory=list)  # chart name, label


def views(site: SiteContext, sitemap: SiteMap) -> Iterator[View]:
    """Every page of `site` with its figures built: the index, then platforms, then model pages."""
    yield View("_index.html", sitemap.index, site.index, crumbs=[sitemap.index])
    for platform in site.platforms:
        page = sitemap.platform(platform.platform)
        yield _with_figures(View("_platform.html", page, platform, [sitemap.index, page]), _platform_figures(platform))
    for model in site.models:
        platform_page, page = sitemap.platform(model.platform), sitemap.model(model.model, model.platform)
        view = View("_model.html", page, model, [sitemap.index, platform_page, page],
                    subgraph_groups=_subgraph_groups(model))
        yield _with_figures(view, _model_figures(model))


def _with_figures(view: View, figures: dict[str, charts.Figure]) -> View:
    ids = {name: f"{view.page.anchor}-{name}" for name in figures}
    view.chart_ids.update(ids)
    view.figures.update({ids[name]: figure for name, figure in figures.items()})
    return view


def _platform_figures(ctx: PlatformContext) -> dict[str, charts.Figure]:
    figures = {}
    if len(ctx.comparisons):
        figures["parity"] = charts.parity_plot(comparisons=ctx.comparisons)
        figures["errors"] = charts.error_bars(model_errors=ctx.model_errors)
    if len(ctx.speedups):
        figures["speedups"] = charts.speedup_heatmap(speedups=ctx.speedups)
    return figures


def _model_figures(ctx: ModelPlatformContext) -> dict[str, charts.Figure]:
    figures = {}
    if len(ctx.latencies):
        figures["latency"] = charts.latency_chart(latencies=ctx.latencies, predictions=ctx.predictions,
                                                  platform=ctx.platform)
    if len(ctx.speedups):
        figures["speedups"] = charts.speedup_bars(speedups=ctx.speedups, platform=ctx.platform)
    if _has_history(ctx):
        figures["history"] = charts.history_chart(measured=ctx.history, predicted=ctx.predicted_history,
                                                  markers=ctx.change_points, platform=ctx.platform)
    for (precision, batch_size), group in ctx.subgraphs.groupby(["precision", "batch_size"], sort=True):
        figures[_subgraph_chart_name(precision, batch_size)] = charts.subgraph_chart(subgraphs=group)
    return figures


def _has_history(ctx: ModelPlatformContext) -> bool:
    """True when some series has two points or more: one point is no history."""
    measured = ctx.history.groupby(["precision", "batch_size", "conversion", "method", "platform"]).size()
    predicted = ctx.predicted_history.groupby(["precision", "batch_size", "predictor"]).size()
    return bool((measured >= 2).any() or (predicted >= 2).any())


def _subgraph_groups(ctx: ModelPlatformContext) -> list[tuple[str, str]]:
    keys = ctx.subgraphs[["precision", "batch_size"]].drop_duplicates().itertuples(index=False, name=None)
    return [(_subgraph_chart_name(p, b), f"{p}, batch {b}") for p, b in keys]


def _subgraph_chart_name(precision: str, batch_size: int) -> str:
    return f"subgraphs-{slug(precision)}-b{batch_size}"


def _relative_linker(page: Page) -> Callable[[Page], str]:
    return lambda target: _relative(page, target.path)


def _relative(page: Page, target: str) -> str:
    depth = len(PurePosixPath(page.path).parents) - 1
    return "../" * depth + target


# -- Jinja -------------------------------------------------------------------------------------


def environment() -> jinja2.Environment:
    """The one Jinja environment: autoescape on everywhere, every filter registered here."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.policies["json.dumps_function"] = _json_dumps
    env.policies["json.dumps_kwargs"] = {}
    env.filters.update(
        ms=milliseconds, pct=percent, spct=lambda v: percent(_float(v), signed=True),
        share=lambda v: percent(_float(v) * 100 if _float(v) is not None else None),
        ratio=lambda v: f"{v:.2f}" if _float(v) is not None else "–",
        rho=lambda v: f"{v:.2f}" if _float(v) is not None else "–",
        bias=_bias, when=_when, predictor=predictor_label, text=_text_or_dash, present=_present, sort_key=_sort_key, gate_class=_gate_class,
        error_background=lambda v: charts.error_background(_float(v)), method_help=lambda m: METHOD_HELP.get(m, m),
    )
    return env


def _json_dumps(value: Any, **_: Any) -> str:
    # Sorted keys and no NaN: the same figures always give the same bytes, and valid JSON.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _bias(ratio: Any) -> str:
    ratio = _float(ratio)
    if ratio is None:
        return "no data"
    return "pessimistic" if ratio > 1 else "optimistic" if ratio < 1 else "unbiased"


def _present(value: Any) -> bool:
    """False for the ways a missing value comes out of a DataFrame: None, NaN, NaT."""
    return not (value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)))


def _when(value: Any) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M") if _present(value) else "–"


def _text_or_dash(value: Any) -> str:
    return str(value) if _present(value) else "–"


def _sort_key(value: Any) -> str:
    number = _float(value) if not isinstance(value, bool) else float(value)
    return "" if number is None else repr(number)


def _gate_class(median_ape: Any) -> str:
    value = _float(median_ape)
    if value is None:
        return ""
    return "passes" if value <= GRAPHS_GATE_MEDIAN_APE else "fails"


def _stamp(generated_at: dt.datetime | None) -> str:
    moment = generated_at or dt.datetime.now(dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


# -- files ---------------------------------------------------------------------------------------


def _check_folder(out: Path) -> None:
    """Refuse a file, and a folder whose entries of the report's names were not written by a report
    (the swap would delete them: a user's own `assets/` beside their notes)."""
    if out.exists() and not out.is_dir():
        raise RenderError(f"{out}: exists and is not a folder; pass --out a folder")
    if out.is_dir() and not (out / SITE_MARKER).exists():
        clashes = [name for name in SITE_ENTRIES if (out / name).exists()]
        if clashes:
            raise RenderError(f"{out}: holds {', '.join(clashes)} not written by parity report; "
                              "pass --out a new folder or one an earlier report wrote")


def _swap_in(staging: Path, target: Path) -> None:
    """Put the finished site in `staging` at `target`. A new folder is one rename. Into an
    existing one (an earlier report, perhaps with others' files beside it, such as the demo's
    platform map), each of the report's entries is swapped: the old one renamed aside into a
    hidden sibling folder, the new one renamed in; the old ones are deleted once all are in. On
    a failure the old entries are put back."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        staging.rename(target)
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    old.mkdir()
    aside, moved_in = [], []
    with _signals_held():
        try:
            for name in sorted(entry.name for entry in staging.iterdir()):
                if (target / name).exists() or (target / name).is_symlink():
                    (target / name).rename(old / name)
                    aside.append(name)
                (staging / name).rename(target / name)
                moved_in.append(name)
        except BaseException:
            for name in reversed(moved_in):
                (target / name).rename(staging / name)
            for name in aside:
                (old / name).rename(target / name)
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)  # the previous report's entries, or nothing
    staging.rmdir()


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (where the platform can hold them): the
    swap's renames are not cut in half by Ctrl-C."""
    signals = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _write(out: Path, relative: str, text: str) -> None:
    target = (out / relative).resolve()
    if not target.is_relative_to(out.resolve()):  # slug() prevents this; refuse rather than trust it
        raise RenderError(f"{relative}: refusing to write outside {out}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _copy_assets(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for source in (PLOTLY_JS, ASSETS / "parity.js", ASSETS / "parity.css"):
        shutil.copyfile(source, folder / source.name)


def _read_asset(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if "</script" in text.lower():  # would end the inline <script> early
        raise RenderError(f"{path}: cannot be inlined (contains '</script')")
    return text


# -- summary.md ---------------------------------------------------------------------------------


def _markdown_headline(index: IndexContext) -> list[str]:
    """Direct comparisons make the headline row; proxy ones, if any, a row of their own."""
    head = index.headline
    rows = [[str(head.models), str(head.platforms), str(head.stats.count), *_markdown_scores(head.stats)]]
    if head.proxy_stats.count:
        rows.append(["", "", f"{head.proxy_stats.count} proxy", *_markdown_scores(head.proxy_stats)])
    table = _markdown_table(
        ["models", "platforms", "comparisons", "median APE", "within ±10 %", "within ±30 %", "geomean ratio"], rows)
    if head.proxy_stats.count:
        table += ["", "The headline row scores direct comparisons only (measured on the predicted platform); "
                      "the proxy row scores those measured on a declared proxy platform instead."]
    return table


def _markdown_scores(stats: ErrorStats) -> list[str]:
    gate = ("passes" if stats.passes_gate else "fails") + f" the ≤ {GRAPHS_GATE_MEDIAN_APE:.0f} % gate"
    return [f"{percent(stats.median_ape)} ({gate if stats.count else 'nothing to score yet'})",
            _share(stats.within_10_pct), _share(stats.within_30_pct),
            f"{_ratio(stats.geomean_ratio)} ({_bias(stats.geomean_ratio)})"]


def _markdown_platforms(stats: pd.DataFrame) -> list[str]:
    rows = [[markdown_text(row.platform) + (f" (proxy: measured on {markdown_text(row.measured_platform)})" if row.is_proxy else ""),
             markdown_text(row.precision), str(row.batch_size), str(row.count), percent(row.median_ape),
             _share(row.within_10_pct), _share(row.within_30_pct), _ratio(row.geomean_ratio),
             "✅" if row.median_ape <= GRAPHS_GATE_MEDIAN_APE else "❌"] for row in stats.itertuples()]
    return _markdown_table(["platform", "precision", "batch", "n", "median APE", "±10 %", "±30 %", "geomean ratio",
                            "gate"], rows)


def _markdown_worst(comparisons: pd.DataFrame, worst: int) -> list[str]:
    ranked = comparisons.sort_values(["abs_error_pct", "model", "platform", "conversion", "method"],
                                     ascending=[False, True, True, True, True], kind="mergesort").head(worst)
    rows = [[markdown_text(row.model), markdown_text(row.platform) + (f" (proxy: measured on {markdown_text(row.measured_platform)})"
                                                  if row.is_proxy else ""),
             markdown_text(row.precision), str(row.batch_size), markdown_text(row.conversion), markdown_text(row.method),
             milliseconds(row.predicted_ms), milliseconds(row.measured_ms), percent(row.signed_error_pct, signed=True)]
            for row in ranked.itertuples()]
    return _markdown_table(["model", "platform", "precision", "batch", "conversion", "method", "predicted",
                            "measured", "error"], rows)


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]



def _share(value: float) -> str:
    return percent(value * 100 if math.isfinite(value) else None)


def _ratio(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "–"
