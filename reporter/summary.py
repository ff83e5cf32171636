"""summary.md: the report's headline in Markdown for a pull-request comment (one score per
predicted quantity and measured figure, one row per platform, quantity, figure, precision and batch
size, and the worst comparisons of each quantity). Tables are built by
`formatting.markdown_table`, which escapes every cell: rows here hold raw text, and every name
from the data (model, platform, precision, conversion, method) as UserText, a code span on GitHub.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from collectors.vocabulary import ERROR_BANDS_PCT, GRAPHS_GATE_PCT
from reporter.analysis import IndexContext, SiteContext, load_site
from reporter.formatting import (
    QUANTITY_TEXT,
    UserText,
    band,
    bias,
    gate_word,
    markdown_table,
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
    for quantity, comparisons in site.comparisons.groupby("quantity", sort=False):
        lines += [
            f"### Worst {min(worst, len(comparisons))} {quantity} comparisons",
            "",
            *_worst(comparisons, worst),
            "",
        ]
    if len(index.failures):
        lines += [f"{len(index.failures)} cell(s) failed in their newest measurement; see the report's Failures.", ""]
    return "\n".join(lines)


def _headline(index: IndexContext) -> list[str]:
    """One row per score: a predicted quantity against one measured figure, proxy comparisons apart."""
    head = index.headline
    rows = [
        [
            score.quantity,
            score.figure,
            "proxy" if score.is_proxy else "this platform",
            score.stats.count,
            *_scores(score.stats),
        ]
        for score in head.scores
    ]
    table = [
        f"{head.models} models, {head.platforms} platforms.",
        "",
        *markdown_table(
            [
                "predicted",
                "against",
                "measured on",
                "comparisons",
                "median APE",
                f"within {NARROW}",
                f"within {WIDE}",
                "geomean ratio",
            ],
            rows,
        ),
    ]
    if any(score.is_proxy for score in head.scores):
        table += [
            "",
            "Proxy rows score comparisons measured on a declared stand-in platform, never mixed with "
            "direct ones (measured on the predicted platform itself).",
        ]
    return table


def _scores(stats: ErrorStats) -> list[str]:
    gate = f"{gate_word(stats.passes_gate)} the ≤ {whole_percent(GRAPHS_GATE_PCT)} gate"
    return [
        f"{percent(stats.median_ape)} ({gate if stats.count else 'nothing to score yet'})",
        share(stats.within_10_pct),
        share(stats.within_30_pct),
        f"{two_places(stats.geomean_ratio)} ({bias(stats.geomean_ratio)})",
    ]


def _platforms(stats: pd.DataFrame) -> list[str]:
    rows = [
        [
            _platform(row),
            row.quantity,
            UserText(row.method),
            UserText(row.precision),
            row.batch_size,
            row.count,
            percent(row.median_ape),
            share(row.within_10_pct),
            share(row.within_30_pct),
            two_places(row.geomean_ratio),
            "✅" if passes_gate(row.median_ape) else "❌",
        ]
        for row in stats.itertuples()
    ]
    return markdown_table(
        [
            "platform",
            "predicted",
            "against",
            "precision",
            "batch",
            "n",
            "median APE",
            NARROW,
            WIDE,
            "geomean ratio",
            "gate",
        ],
        rows,
    )


def _worst(comparisons: pd.DataFrame, worst: int) -> list[str]:
    ranked = comparisons.sort_values(
        ["abs_error_pct", "model", "platform", "conversion", "method"],
        ascending=[False, True, True, True, True],
        kind="mergesort",
    ).head(worst)
    rows = [
        [
            UserText(row.model),
            _platform(row),
            UserText(row.precision),
            row.batch_size,
            UserText(row.conversion),
            UserText(row.method),
            QUANTITY_TEXT[row.quantity](row.predicted),
            QUANTITY_TEXT[row.quantity](row.measured),
            percent(row.signed_error_pct, signed=True),
        ]
        for row in ranked.itertuples()
    ]
    return markdown_table(
        ["model", "platform", "precision", "batch", "conversion", "method", "predicted", "measured", "error"], rows
    )


def _platform(row: Any) -> UserText:
    """A row's platform, naming the proxy it was measured on where it was."""
    return UserText(f"{row.platform} (proxy: measured on {row.measured_platform})" if row.is_proxy else row.platform)
