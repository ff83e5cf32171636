"""Where a latency goes: figures that break a cell down, into host and device time, into subgraphs
or layers, and into operation types across a platform's models.

Plain figure dicts from reporter.chart_style's pieces, as in reporter.charts; every user-supplied
string goes through `formatting.plotly_text`.
"""

from __future__ import annotations

import pandas as pd

from reporter.chart_style import PALETTE, Figure, figure, numbers, rows_height
from reporter.formatting import milliseconds, percent, plotly_text

WORST_SHOWN = 15  # operation types drawn on a platform's "where the error comes from" chart


def host_device_bars(*, split: pd.DataFrame) -> Figure:
    """Caller latency per conversion, stacked: the device's own work (kernels and copies) and the
    host's overhead (the rest). One precision and batch size per figure; the device is named where
    the figure has more than one."""
    many_devices = split["device"].nunique(dropna=False) > 1
    labels = [
        plotly_text(row.conversion)
        + (f" · {plotly_text(row.device)}" if many_devices else "")
        + ("" if row.platform == split["platform"].iloc[0] else f" ({plotly_text(row.platform)})")
        for row in split.itertuples()
    ]
    shares = [percent(row.host_ms / row.caller_ms * 100) for row in split.itertuples()]
    data = [
        {
            "type": "bar",
            "name": "device (kernels and copies)",
            "x": labels,
            "y": numbers(split["device_ms"]),
            "marker": {"color": PALETTE.accurate},
            "hovertemplate": "%{x}<br>device %{y:.3~g} ms<extra></extra>",
        },
        {
            "type": "bar",
            "name": "host (launches, Python, synchronising)",
            "x": labels,
            "y": numbers(split["host_ms"]),
            "marker": {"color": PALETTE.host},
            "customdata": shares,
            "hovertemplate": "%{x}<br>host %{y:.3~g} ms (%{customdata} of the call)<extra></extra>",
        },
    ]
    return figure(
        data,
        height=380,
        barmode="stack",
        xaxis={"type": "category", "tickangle": -30, "automargin": True},
        yaxis={"title": {"text": "caller latency (ms per batch)"}, "gridcolor": PALETTE.grid},
    )


def subgraph_chart(*, subgraphs: pd.DataFrame) -> Figure:
    """Predicted time of each subgraph beside its measured time, in execution order, each named by
    its operation type or fusion pattern (its number in the hover)."""
    labels = [
        f"{plotly_text(row.ops or 'subgraph')} · #{plotly_text(row.subgraph_id)}" for row in subgraphs.itertuples()
    ]
    data = [
        {
            "type": "bar",
            "name": name,
            "x": labels,
            "y": numbers(subgraphs[column]),
            "marker": {"color": colour},
            "hovertemplate": "%{x}<br>" + name + " %{y:.3~g} ms<extra></extra>",
        }
        for name, column, colour in (
            ("predicted", "predicted_ms", PALETTE.predicted),
            ("measured", "measured_ms", PALETTE.accurate),
        )
    ]
    return figure(
        data,
        height=420,
        barmode="group",
        xaxis={"type": "category", "tickangle": -45, "automargin": True},
        yaxis={"title": {"text": "time per forward (ms)"}, "gridcolor": PALETTE.grid},
    )


def missing_time_bars(*, by_operation: pd.DataFrame) -> Figure:
    """Operation types ranked by the time their predictions miss (measured − predicted, summed over
    a platform's models): the bars say where a latency error comes from, and which way."""
    shown = by_operation.head(WORST_SHOWN)
    labels = [plotly_text(name) for name in shown["operation_type"]]
    missing = shown["missing_ms"]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": labels,
            "x": numbers(missing),
            "showlegend": False,
            "marker": {"color": [PALETTE.under_estimate if m > 0 else PALETTE.over_estimate for m in missing]},
            "text": [
                f"{milliseconds(abs(m))} {'missing' if m > 0 else 'extra'} · {percent(s * 100)}"
                for m, s in zip(missing, shown["share_of_missing"], strict=True)
            ],
            "textposition": "outside",
            "cliponaxis": False,
            "hovertemplate": "%{y}<br>%{text} of the time predictions miss<extra></extra>",
        }
    ]
    return figure(
        data,
        height=rows_height(len(labels)),
        xaxis={
            "title": {"text": "measured − predicted time per forward, summed over models (ms)"},
            "zeroline": True,
            "gridcolor": PALETTE.grid,
        },
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
    )
