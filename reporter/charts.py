"""Plotly figure builders: typed frames in, plain figure dicts (`{"data": [...], "layout": {...}}`) out.

Figures are plain dicts rather than `plotly.graph_objects` so that a site of hundreds of charts
builds in a blink; tests pass every builder's output through `go.Figure` to validate it. The
page sends them to `Plotly.newPlot` as JSON. Layout, colours, labels and numbers come from
reporter.chart_style, every displayed value from reporter.formatting. The error charts of a
platform page are in reporter.error_charts, a model page's history in reporter.history_chart,
and breakdowns of one cell in reporter.breakdown_charts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from collectors.vocabulary import (
    CELL,
    EAGER,
    PAGE_SERIES,
    PREDICTION_KEY,
)
from reporter.chart_style import (
    DOTTED,
    PALETTE,
    Figure,
    figure,
    latency_axis,
    number,
    numbers,
    prediction_label,
    proxy_note,
    rows_height,
    series_colour,
    series_label,
)
from reporter.formatting import (
    milliseconds,
    plotly_text,
    predictor_label,
    times,
)

SPEEDUP_RANGE = 3.0  # log2: heatmap colours saturate at 8x faster or slower
# A model page fixes the model and the platform; these tell its frames' rows apart.
PAGE_CELL = tuple(key for key in CELL if key not in ("model", "platform"))
PREDICTED_SERIES = tuple(key for key in PREDICTION_KEY if key not in ("model", "platform"))


def speedup_heatmap(*, speedups: pd.DataFrame) -> Figure:
    """Speedup over EAGER (newest run), model x conversion, on a log colour scale centred on 1x."""
    # Rows name the precision, batch size and method only where the page has more than one.
    many = speedups[["precision", "batch_size", "method"]].drop_duplicates().shape[0] > 1
    many_devices = speedups["device"].nunique(dropna=False) > 1
    speedups = speedups.assign(
        row=[
            plotly_text(row.model)
            + (series_label(row.precision, row.batch_size, row.method, prefix=" · ") if many else "")
            + (f" · {plotly_text(row.device)}" if many_devices else "")
            for row in speedups.itertuples()
        ]
    )
    rows = list(dict.fromkeys(speedups["row"]))
    columns = sorted(speedups["conversion"].unique())
    grid = speedups.pivot_table(index="row", columns="conversion", values="speedup", aggfunc="first")
    grid = grid.reindex(index=rows, columns=columns)
    ticks = [2.0**power for power in range(-int(SPEEDUP_RANGE), int(SPEEDUP_RANGE) + 1)]
    data = [
        {
            "type": "heatmap",
            "x": [plotly_text(c) for c in columns],
            "y": rows,
            "z": [[number(math.log2(v)) if v == v else None for v in line] for line in grid.to_numpy()],
            "text": [[times(v) for v in line] for line in grid.to_numpy()],
            "texttemplate": "%{text}",
            "hovertemplate": f"%{{y}}<br>%{{x}}: %{{text}} vs {EAGER}<extra></extra>",
            "zmin": -SPEEDUP_RANGE,
            "zmax": SPEEDUP_RANGE,
            "zmid": 0,
            "colorscale": [[0, PALETTE.slower], [0.5, PALETTE.neutral], [1, PALETTE.faster]],
            "colorbar": {
                "title": {"text": f"vs {EAGER}"},
                "tickvals": [math.log2(t) for t in ticks],
                "ticktext": [f"{t:g}×" for t in ticks],
            },
        }
    ]
    return figure(
        data,
        height=rows_height(len(rows)),
        xaxis={"tickangle": -30, "automargin": True},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
    )


# -- model x platform charts ----------------------------------------------------------------------


def latency_chart(*, latencies: pd.DataFrame, predictions: pd.DataFrame, platform: str | None = None) -> Figure:
    """Median latency per conversion with p05-p95 whiskers, one series per PAGE_SERIES key (a
    declared proxy's series labelled so, where `platform` is the page's); each prediction of a
    measured precision and batch size is a dashed line across."""
    conversions = sorted(latencies["conversion"].unique(), key=lambda name: (name != EAGER, name))
    categories = [plotly_text(c) for c in conversions]
    # Each row's place on the x axis; a series' figures are laid out by it, NaN where not measured.
    slots = latencies["conversion"].map({name: slot for slot, name in enumerate(conversions)}).to_numpy()
    figures = latencies[["median", "p05", "p95"]].to_numpy(float)
    data, colours = [], {}
    for index, (series, rows, name) in enumerate(page_series(latencies, platform)):
        colours.setdefault(tuple(series[key] for key in PAGE_CELL), series_colour(index))
        median, p05, p95 = np.full((3, len(conversions)), np.nan)
        median[slots[rows]], p05[slots[rows]], p95[slots[rows]] = figures[rows].T
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": name,
                "x": categories,
                "y": numbers(median),
                "marker": {"size": 10, "color": series_colour(index)},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": numbers(p95 - median),
                    "arrayminus": numbers(median - p05),
                    "thickness": 1.5,
                },
                "text": [_latency_hover(*values) for values in zip(median, p05, p95, strict=True)],
                "hovertemplate": "%{x}<br>%{text}<extra>%{fullData.name}</extra>",
            }
        )
    # A prediction is drawn where something of its precision and batch size was measured, in the
    # colour of that cell's first series; the page lists the others.
    predicted = [
        _prediction_line(row, colours[cell])
        for row in predictions.itertuples()
        if (cell := tuple(getattr(row, key) for key in PAGE_CELL)) in colours
    ]
    return figure(
        data,
        height=440,
        shapes=predicted,
        xaxis={"type": "category", "tickangle": -30, "automargin": True},
        yaxis=latency_axis(pd.concat([latencies["p05"], latencies["p95"], predictions["latency_ms"]])),
    )


def page_series(
    frame: pd.DataFrame, platform: str | None, keys: tuple[str, ...] = PAGE_SERIES
) -> Iterator[tuple[dict[str, Any], np.ndarray, str]]:
    """The frame's series by `keys`, in key order, each with its rows' positions in `frame` and its
    legend name; the device is named only where the page has more than one (a GPU host benches
    --device cpu too). Positions rather than a frame per series: slicing frames took most of a
    chart's time, and a chart needs a column or two of each series."""
    devices = frame["device"].fillna("")  # groupby drops rows whose key is missing
    many_devices = devices.nunique() > 1
    positions = frame.groupby([devices if key == "device" else frame[key] for key in keys]).indices  # no copy
    for key in sorted(positions):  # the groupby's own order: no key is missing, each is text or a number
        series = dict(zip(keys, key, strict=True))
        name = (
            series_label(series["precision"], series["batch_size"], series["method"], series.get("conversion"))
            + (f" · {plotly_text(series['device'])}" if many_devices else "")
            + proxy_note(series["platform"], platform)
        )
        yield series, positions[key], name


def _prediction_line(row: Any, colour: str) -> dict[str, Any]:
    """A dashed line across the whole chart, with its own legend entry (a shape, so that it spans
    the plot even when only one conversion was measured)."""
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": number(row.latency_ms),
        "y1": number(row.latency_ms),
        "line": {"color": colour, "dash": "dash", "width": 2},
        "showlegend": True,
        "name": prediction_label(
            row.precision,
            row.batch_size,
            predictor_label(row.predictor, row.predictor_version),
            milliseconds(row.latency_ms),
        ),
    }


def _latency_hover(median: float, p05: float, p95: float) -> str:
    if median != median:  # this series has no measurement of this conversion
        return ""
    return f"median {milliseconds(median)}<br>p05 {milliseconds(p05)} · p95 {milliseconds(p95)}"


def speedup_bars(*, speedups: pd.DataFrame, platform: str | None = None) -> Figure:
    """Speedup of each conversion over EAGER in the newest run, one series per PAGE_SERIES key (a
    declared proxy's labelled so)."""
    conversions, values = speedups["conversion"].to_numpy(), speedups["speedup"].to_numpy()
    data = [
        {
            "type": "bar",
            "name": name,
            "x": [plotly_text(c) for c in conversions[rows]],
            "y": numbers(values[rows]),
            "marker": {"color": series_colour(index)},
            "text": [times(v) for v in values[rows]],
            "textposition": "outside",
            "hovertemplate": f"%{{x}}: %{{text}} vs {EAGER}<extra>%{{fullData.name}}</extra>",
        }
        for index, (_, rows, name) in enumerate(page_series(speedups, platform))
    ]
    one = [{"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": 1, "y1": 1, "line": DOTTED}]
    return figure(
        data,
        height=380,
        shapes=one,
        barmode="group",
        xaxis={"type": "category", "tickangle": -30, "automargin": True},
        yaxis={"title": {"text": f"speedup over {EAGER} (×)"}, "gridcolor": PALETTE.grid},
    )
