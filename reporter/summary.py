"""summary.md: the report's headline in Markdown for a pull-request comment (overall figures, one
row per platform, precision and batch size, the worst comparisons). Tables are built by
`formatting.markdown_table`, which escapes every cell: rows here hold raw text, and every name
from the data (model, platform, precision, conversion, method) as UserText, a code span on GitHub.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from collectors.vocabulary import ERROR_BANDS_PCT, GRAPHS_GATE_PCT
from reporter.analysis import IndexContext, SiteContext, load_site
from reporter.formatting import (
    UserText,
    band,
    bias,
    gate_word,
    markdown_table,
    milliseconds,
    percent,
    share,
    two_places,
    whole_percent,
)
from reporter.metrics import ErrorStats, passes_gate
from reporter.store import Store

NARROW, WIDE = (band(pct) for pct in ERROR_BANDS_PCT)  # "±10 %", "±30 %"


def summary_markdown(source: Store | SiteContext, *, worst: int = 10) -> str:
    """The report's headline in Markdown for a pull-request comment: overall figures, one row per
    platform, precision and batch size, and the `worst` comparisons by absolute error.

    source: an open Store, or a SiteContext already loaded from one.
    """
    site = load_site(source) if isinstance(source, Store) else source
    index = site.index
    lines = ["## Parity: predictions vs measurements", "", *_headline(index), ""]
    if len(index.platform_stats):
        lines += ["### Per platform", "", *_platforms(index.platform_stats), ""]
    if len(site.comparisons):
        lines += [f"### Worst {min(worst, len(site.comparisons))} comparisons", "",
                  *_worst(site.comparisons, worst), ""]
    if len(index.failures):
        lines += [f"{len(index.failures)} cell(s) failed in their newest measurement; see the report's Failures.", ""]
    return "\n".join(lines)


def _headline(index: IndexContext) -> list[str]:
    """Direct comparisons make the headline row; proxy ones, if any, a row of their own."""
    head = index.headline
    rows = [[head.models, head.platforms, head.stats.count, *_scores(head.stats)]]
    if head.proxy_stats.count:
        rows.append(["", "", f"{head.proxy_stats.count} proxy", *_scores(head.proxy_stats)])
    table = markdown_table(
        ["models", "platforms", "comparisons", "median APE", f"within {NARROW}", f"within {WIDE}", "geomean ratio"],
        rows)
    if head.proxy_stats.count:
        table += ["", "The headline row scores direct comparisons only (measured on the predicted platform); "
                      "the proxy row scores those measured on a declared proxy platform instead."]
    return table


def _scores(stats: ErrorStats) -> list[str]:
    gate = f"{gate_word(stats.passes_gate)} the ≤ {whole_percent(GRAPHS_GATE_PCT)} gate"
    return [f"{percent(stats.median_ape)} ({gate if stats.count else 'nothing to score yet'})",
            share(stats.within_10_pct), share(stats.within_30_pct),
            f"{two_places(stats.geomean_ratio)} ({bias(stats.geomean_ratio)})"]


def _platforms(stats: pd.DataFrame) -> list[str]:
    rows = [[_platform(row), UserText(row.precision), row.batch_size, row.count, percent(row.median_ape),
             share(row.within_10_pct), share(row.within_30_pct), two_places(row.geomean_ratio),
             "✅" if passes_gate(row.median_ape) else "❌"] for row in stats.itertuples()]
    return markdown_table(["platform", "precision", "batch", "n", "median APE", NARROW, WIDE, "geomean ratio", "gate"],
                          rows)


def _worst(comparisons: pd.DataFrame, worst: int) -> list[str]:
    ranked = comparisons.sort_values(["abs_error_pct", "model", "platform", "conversion", "method"],
                                     ascending=[False, True, True, True, True], kind="mergesort").head(worst)
    rows = [[UserText(row.model), _platform(row), UserText(row.precision), row.batch_size, UserText(row.conversion),
             UserText(row.method), milliseconds(row.predicted_ms), milliseconds(row.measured_ms),
             percent(row.signed_error_pct, signed=True)]
            for row in ranked.itertuples()]
    return markdown_table(["model", "platform", "precision", "batch", "conversion", "method", "predicted",
                           "measured", "error"], rows)


def _platform(row: Any) -> UserText:
    """A row's platform, naming the proxy it was measured on where it was."""
    return UserText(f"{row.platform} (proxy: measured on {row.measured_platform})" if row.is_proxy else row.platform)
