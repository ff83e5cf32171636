"""Plotly figure builders: typed frames in, plain figure dicts (`{"data": [...], "layout": {...}}`) out.

Figures are plain dicts rather than `plotly.graph_objects` so that a site of hundreds of charts
builds in a blink; tests pass every builder's output through `go.Figure` to validate it. The
page sends them to `Plotly.newPlot` as JSON. Layout, colours, labels and numbers come from
reporter.chart_style, every displayed value from reporter.formatting.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from collectors.vocabulary import (
    CELL,
    EAGER,
    ERROR_BANDS_PCT,
    GRAPHS_GATE_PCT,
    PAGE_SERIES,
    PREDICTION_KEY,
    QUANTITIES,
    Quantity,
)
from reporter.chart_style import (
    DOTTED,
    PALETTE,
    Figure,
    cell_label,
    figure,
    iso_times,
    latency_axis,
    log_ticks,
    number,
    numbers,
    proxy_note,
    rows_height,
    series_colour,
    series_label,
)
from reporter.formatting import (
    QUANTITY_TEXT,
    band,
    milliseconds,
    percent,
    plotly_text,
    predictor_label,
    times,
    two_places,
)
from reporter.model_context import Marker

SPEEDUP_RANGE = 3.0  # log2: heatmap colours saturate at 8x faster or slower
HISTORY_SHOWN = 8  # history series drawn at first; the others start hidden in the legend
GATE_ROOM_PCT = 10.0  # the error axis reaches this far past the gate lines, for the bar labels
# A model page fixes the model and the platform; these tell its frames' rows apart.
PAGE_CELL = tuple(key for key in CELL if key not in ("model", "platform"))
PREDICTED_SERIES = tuple(key for key in PREDICTION_KEY if key not in ("model", "platform"))
HISTORY_SERIES = (*PAGE_SERIES, "conversion")  # one line per measured series


# -- platform charts -----------------------------------------------------------------------------


def parity_plot(*, comparisons: pd.DataFrame) -> Figure:
    """Predicted against measured figures of one quantity, log-log, with y = x and the bands of
    ERROR_BANDS_PCT; one series per precision, measured figure (method) and proxy-or-not."""
    quantity = _one_quantity(comparisons)
    values = pd.concat([comparisons["predicted"], comparisons["measured"]])
    low, high = float(values.min()) / 1.5, float(values.max()) * 1.5
    # The widest band first, so that the narrower ones are drawn over it.
    bands = list(zip(ERROR_BANDS_PCT, PALETTE.bands, strict=True))
    data = [_band(low, high, pct, colour) for pct, colour in reversed(bands)]
    data.append({"type": "scatter", "mode": "lines", "x": [low, high], "y": [low, high], "name": "y = x",
                 "line": DOTTED, "hoverinfo": "skip"})
    many_methods = comparisons["method"].nunique() > 1
    groups = comparisons.groupby(["precision", "method", "is_proxy"], sort=True)
    for index, ((precision, method, is_proxy), group) in enumerate(groups):
        data.append({
            "type": "scatter", "mode": "markers",
            "name": plotly_text(precision) + (f" · {plotly_text(method)}" if many_methods else "")
            + (" (proxy)" if is_proxy else ""),
            "x": numbers(group["measured"]), "y": numbers(group["predicted"]),
            "text": [_comparison_hover(row) for row in group.itertuples()],
            "hovertemplate": "%{text}<extra></extra>",
            "marker": {"size": 9, "color": series_colour(index), "opacity": 0.85,
                       "symbol": "diamond-open" if is_proxy else "circle", "line": {"width": 1, "color": "#fff"}},
        })
    axis = {"type": "log", "range": [math.log10(low), math.log10(high)], "gridcolor": PALETTE.grid,
            **log_ticks(low, high)}
    return figure(data, height=520, xaxis={**axis, "title": {"text": f"measured {quantity.name} ({quantity.unit})"}},
                  yaxis={**axis, "title": {"text": f"predicted {quantity.name} ({quantity.unit})"}, "scaleanchor": "x"})


def _one_quantity(frame: pd.DataFrame) -> Quantity:
    """The quantity a chart's rows are all of (a chart never mixes two units)."""
    (name,) = frame["quantity"].unique()
    return next(q for q in QUANTITIES if q.name == name)


def _band(low: float, high: float, pct: float, colour: str) -> dict[str, Any]:
    """The region where predicted is within ±pct % of measured, as one filled polygon."""
    share = pct / 100
    return {"type": "scatter", "mode": "lines", "name": band(pct), "fill": "toself", "fillcolor": colour,
            "line": {"width": 0}, "hoverinfo": "skip",
            "x": [low, high, high, low, low],
            "y": [low * (1 - share), high * (1 - share), high * (1 + share), low * (1 + share), low * (1 - share)]}


def _comparison_hover(row: Any) -> str:
    lines = [
        f"<b>{plotly_text(row.model)}</b>",
        f"{plotly_text(row.precision)} · batch {row.batch_size} · {plotly_text(row.conversion)} "
        f"({plotly_text(row.method)})",
        f"predicted {QUANTITY_TEXT[row.quantity](row.predicted)} · "
        f"measured {QUANTITY_TEXT[row.quantity](row.measured)}",
        f"ratio {two_places(row.ratio)} ({percent(row.signed_error_pct, signed=True)})",
    ]
    if row.is_proxy:
        lines.append(f"proxy: measured on {plotly_text(row.measured_platform)}")
    return "<br>".join(lines)


def error_bars(*, model_errors: pd.DataFrame) -> Figure:
    """Median signed error of one quantity per model, precision, batch size (and measured figure,
    where the page has several); colour says which way it is off."""
    many_methods = model_errors["method"].nunique() > 1
    labels = [cell_label(row.model, row.precision, row.batch_size, row.is_proxy)
              + (f" · {plotly_text(row.method)}" if many_methods else "") for row in model_errors.itertuples()]
    errors = model_errors["median_signed_error_pct"]
    data = [{
        "type": "bar", "orientation": "h", "y": labels, "x": numbers(errors),
        "marker": {"color": [PALETTE.over_estimate if e > 0 else PALETTE.under_estimate for e in errors]},
        "text": [percent(e, signed=True) for e in errors], "textposition": "outside", "cliponaxis": False,
        "customdata": model_errors["comparisons"].tolist(),
        "hovertemplate": "%{y}<br>median error %{text}<br>%{customdata} comparisons<extra></extra>",
        "showlegend": False,
    }]
    gate = [{"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1, "line": DOTTED}
            for x in (-GRAPHS_GATE_PCT, GRAPHS_GATE_PCT)]
    low, high = min(float(errors.min()), 0.0), max(float(errors.max()), 0.0)
    room = GRAPHS_GATE_PCT + GATE_ROOM_PCT
    span = [min(low * 1.3, -room), max(high * 1.3, room)]  # room for the labels and both gate lines
    return figure(data, height=rows_height(len(labels)), shapes=gate,
                  xaxis={"title": {"text": "signed error: (predicted − measured) / measured, %"}, "range": span,
                         "zeroline": True, "zerolinecolor": PALETTE.identity, "gridcolor": PALETTE.grid},
                  yaxis={"autorange": "reversed", "automargin": True, "type": "category"})


def speedup_heatmap(*, speedups: pd.DataFrame) -> Figure:
    """Speedup over EAGER (newest run), model x conversion, on a log colour scale centred on 1x."""
    # Rows name the precision, batch size and method only where the page has more than one.
    many = speedups[["precision", "batch_size", "method"]].drop_duplicates().shape[0] > 1
    many_devices = speedups["device"].nunique(dropna=False) > 1
    speedups = speedups.assign(row=[
        plotly_text(row.model) + (series_label(row.precision, row.batch_size, row.method, prefix=" · ") if many else "")
        + (f" · {plotly_text(row.device)}" if many_devices else "")
        for row in speedups.itertuples()])
    rows = list(dict.fromkeys(speedups["row"]))
    columns = sorted(speedups["conversion"].unique())
    grid = speedups.pivot_table(index="row", columns="conversion", values="speedup", aggfunc="first")
    grid = grid.reindex(index=rows, columns=columns)
    ticks = [2.0 ** power for power in range(-int(SPEEDUP_RANGE), int(SPEEDUP_RANGE) + 1)]
    data = [{
        "type": "heatmap", "x": [plotly_text(c) for c in columns], "y": rows,
        "z": [[number(math.log2(v)) if v == v else None for v in line] for line in grid.to_numpy()],
        "text": [[times(v) for v in line] for line in grid.to_numpy()],
        "texttemplate": "%{text}", "hovertemplate": f"%{{y}}<br>%{{x}}: %{{text}} vs {EAGER}<extra></extra>",
        "zmin": -SPEEDUP_RANGE, "zmax": SPEEDUP_RANGE, "zmid": 0,
        "colorscale": [[0, PALETTE.slower], [0.5, PALETTE.neutral], [1, PALETTE.faster]],
        "colorbar": {"title": {"text": f"vs {EAGER}"}, "tickvals": [math.log2(t) for t in ticks],
                     "ticktext": [f"{t:g}×" for t in ticks]},
    }]
    return figure(data, height=rows_height(len(rows)), xaxis={"tickangle": -30, "automargin": True},
                  yaxis={"autorange": "reversed", "automargin": True, "type": "category"})


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
    for index, (series, rows, name) in enumerate(_page_series(latencies, platform)):
        colours.setdefault(tuple(series[key] for key in PAGE_CELL), series_colour(index))
        median, p05, p95 = np.full((3, len(conversions)), np.nan)
        median[slots[rows]], p05[slots[rows]], p95[slots[rows]] = figures[rows].T
        data.append({
            "type": "scatter", "mode": "markers", "name": name, "x": categories,
            "y": numbers(median), "marker": {"size": 10, "color": series_colour(index)},
            "error_y": {"type": "data", "symmetric": False, "array": numbers(p95 - median),
                        "arrayminus": numbers(median - p05), "thickness": 1.5},
            "text": [_latency_hover(*values) for values in zip(median, p05, p95, strict=True)],
            "hovertemplate": "%{x}<br>%{text}<extra>%{fullData.name}</extra>",
        })
    # A prediction is drawn where something of its precision and batch size was measured, in the
    # colour of that cell's first series; the page lists the others.
    predicted = [_prediction_line(row, colours[cell]) for row in predictions.itertuples()
                 if (cell := tuple(getattr(row, key) for key in PAGE_CELL)) in colours]
    return figure(data, height=440, shapes=predicted, xaxis={"type": "category", "tickangle": -30, "automargin": True},
                  yaxis=latency_axis(pd.concat([latencies["p05"], latencies["p95"], predictions["latency_ms"]])))


def _page_series(frame: pd.DataFrame, platform: str | None, keys: tuple[str, ...] = PAGE_SERIES
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
        name = (series_label(series["precision"], series["batch_size"], series["method"], series.get("conversion"))
                + (f" · {plotly_text(series['device'])}" if many_devices else "")
                + proxy_note(series["platform"], platform))
        yield series, positions[key], name


def _prediction_line(row: Any, colour: str) -> dict[str, Any]:
    """A dashed line across the whole chart, with its own legend entry (a shape, so that it spans
    the plot even when only one conversion was measured)."""
    return {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": number(row.latency_ms),
            "y1": number(row.latency_ms), "line": {"color": colour, "dash": "dash", "width": 2}, "showlegend": True,
            "name": f"predicted {plotly_text(row.precision)} · b{row.batch_size}: {milliseconds(row.latency_ms)} "
                    f"({plotly_text(predictor_label(row.predictor, row.predictor_version))})"}


def _latency_hover(median: float, p05: float, p95: float) -> str:
    if median != median:  # this series has no measurement of this conversion
        return ""
    return f"median {milliseconds(median)}<br>p05 {milliseconds(p05)} · p95 {milliseconds(p95)}"


def speedup_bars(*, speedups: pd.DataFrame, platform: str | None = None) -> Figure:
    """Speedup of each conversion over EAGER in the newest run, one series per PAGE_SERIES key (a
    declared proxy's labelled so)."""
    conversions, values = speedups["conversion"].to_numpy(), speedups["speedup"].to_numpy()
    data = [{
        "type": "bar", "name": name, "x": [plotly_text(c) for c in conversions[rows]],
        "y": numbers(values[rows]), "marker": {"color": series_colour(index)},
        "text": [times(v) for v in values[rows]], "textposition": "outside",
        "hovertemplate": f"%{{x}}: %{{text}} vs {EAGER}<extra>%{{fullData.name}}</extra>",
    } for index, (_, rows, name) in enumerate(_page_series(speedups, platform))]
    one = [{"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": 1, "y1": 1, "line": DOTTED}]
    return figure(data, height=380, shapes=one, barmode="group",
                  xaxis={"type": "category", "tickangle": -30, "automargin": True},
                  yaxis={"title": {"text": f"speedup over {EAGER} (×)"}, "gridcolor": PALETTE.grid})


def has_history(measured: pd.DataFrame, predicted: pd.DataFrame) -> bool:
    """True when some history series has two points or more: one point is no history."""
    return bool((measured.groupby(list(HISTORY_SERIES), dropna=False).size() >= 2).any()
                or (predicted.groupby(list(PREDICTED_SERIES)).size() >= 2).any())


def history_chart(*, measured: pd.DataFrame, predicted: pd.DataFrame, markers: Sequence[Marker] = (),
                  platform: str | None = None) -> Figure:
    """Measured median latency per conversion across runs, predicted latency as dashed steps.

    measured: bucketed history (analysis.MEASURED_HISTORY): a point can stand for several runs.
    markers: points to flag, such as detected change points; each is a dotted vertical line with
        its label on hover.
    """
    data, shown = [], set()
    times, medians = _points(measured, "median")
    runs = measured["runs"].to_numpy()
    series = sorted(_page_series(measured, platform, HISTORY_SERIES),  # EAGER first within a cell
                    key=lambda item: (item[0]["precision"], item[0]["batch_size"], item[0]["conversion"] != EAGER,
                                      [str(item[0][key]) for key in HISTORY_SERIES]))
    for index, (key, rows, name) in enumerate(series):
        # Past a handful of lines the chart is a tangle: the rest start hidden, a legend click away.
        if index < HISTORY_SHOWN:
            shown.add((key["precision"], key["batch_size"]))
        data.append({
            "type": "scatter", "mode": "lines+markers", "name": name,
            "visible": True if index < HISTORY_SHOWN else "legendonly",
            "x": times[rows].tolist(), "y": medians[rows].tolist(), "customdata": runs[rows].tolist(),
            "line": {"color": series_colour(index), "width": 1.5}, "marker": {"size": 5},
            "hovertemplate": "%{x}<br>%{y:.3~g} ms (median of %{customdata} run(s))<extra>%{fullData.name}</extra>",
        })
    times, latencies = _points(predicted, "latency_ms")
    predictions = predicted.groupby(list(PREDICTED_SERIES)).indices
    for (precision, batch_size, predictor), rows in sorted(predictions.items()):  # the groupby's order
        data.append({
            "type": "scatter", "mode": "lines+markers",
            "line": {"shape": "hv", "dash": "dash", "color": PALETTE.predicted},
            "name": f"predicted {plotly_text(precision)} · b{batch_size} ({plotly_text(predictor)})",
            "visible": True if (precision, batch_size) in shown or not shown else "legendonly",
            "x": times[rows].tolist(), "y": latencies[rows].tolist(), "marker": {"size": 5},
            "hovertemplate": "%{x}<br>predicted %{y:.3~g} ms<extra></extra>",
        })
    shapes, notes = _marker_lines(markers)
    legend = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"}
    return figure(data, height=460, shapes=shapes, annotations=notes, legend=legend,
                  xaxis={"type": "date", "gridcolor": PALETTE.grid},
                  yaxis=latency_axis(pd.concat([measured["median"], predicted["latency_ms"]])))


def _points(history: pd.DataFrame, value: str) -> tuple[np.ndarray, np.ndarray]:
    """A history frame's times as ISO text and its `value` column as JSON numbers, by row position:
    made for the whole frame at once, not per series (a page has thousands of points)."""
    return np.array(iso_times(history["point_at"]), dtype=object), np.array(numbers(history[value]), dtype=object)


def _marker_lines(markers: Sequence[Marker]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shapes, notes = [], []
    for marker, at in zip(markers, iso_times([marker.at for marker in markers]), strict=True):
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": at, "x1": at, "y0": 0, "y1": 1,
                       "line": {"color": PALETTE.change_point, "width": 1.5, "dash": "dot"}})
        series = f"{plotly_text(marker.series)}: " if marker.series else ""
        notes.append({"x": at, "xref": "x", "y": 1, "yref": "paper", "yanchor": "bottom", "showarrow": False,
                      "text": "▼", "font": {"color": PALETTE.change_point},
                      "hovertext": series + plotly_text(marker.label)})
    return shapes, notes
