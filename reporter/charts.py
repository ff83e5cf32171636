"""Plotly figure builders: typed frames in, plain figure dicts (`{"data": [...], "layout": {...}}`) out.

Figures are plain dicts rather than `plotly.graph_objects` so that a site of hundreds of charts
builds in a blink; tests pass every builder's output through `go.Figure` to validate it. The
page sends them to `Plotly.newPlot` as JSON. Plotly reads a subset of HTML in text, names and
tick labels, so every user-supplied string goes through `_text` (escaped) before it gets there.
Colours come from the one `PALETTE`.
"""
from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reporter.analysis import Marker
from reporter.formatting import milliseconds, percent

Figure = dict[str, Any]


@dataclass(frozen=True)
class Palette:
    under_estimate: str = "#d55e00"  # predicted < measured: the predictor is optimistic
    over_estimate: str = "#0072b2"  # predicted > measured: the predictor is pessimistic
    accurate: str = "#009e73"
    band_10: str = "rgba(0, 158, 115, 0.20)"
    band_30: str = "rgba(0, 158, 115, 0.08)"
    identity: str = "#4b5563"
    predicted: str = "#6d28d9"
    change_point: str = "#b91c1c"
    slower: str = "#d55e00"  # speedup below 1
    faster: str = "#0072b2"
    neutral: str = "#ffffff"
    grid: str = "#e5e7eb"
    text: str = "#1f2937"
    # Okabe-Ito: distinguishable with the common colour-vision deficiencies.
    series: tuple[str, ...] = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000",
                               "#f0e442")


PALETTE = Palette()
ERROR_SATURATION_PCT = 100.0  # matrix cells reach full colour at this |signed error|
SPEEDUP_RANGE = 3.0  # log2: heatmap colours saturate at 8x faster or slower
HISTORY_SHOWN = 8  # history series drawn at first; the others start hidden in the legend


def error_background(signed_error_pct: float | None) -> str:
    """A CSS colour for a signed error: white at 0, towards the under/over-estimation colour."""
    if signed_error_pct is None or not math.isfinite(signed_error_pct):
        return "transparent"
    colour = PALETTE.over_estimate if signed_error_pct > 0 else PALETTE.under_estimate
    strength = min(abs(signed_error_pct) / ERROR_SATURATION_PCT, 1.0) * 0.75
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {strength:.2f})"


# -- platform charts -----------------------------------------------------------------------------


def parity_plot(*, comparisons: pd.DataFrame) -> Figure:
    """Predicted against measured latency, log-log, with y = x and the ±10 % / ±30 % bands."""
    values = pd.concat([comparisons["predicted_ms"], comparisons["measured_ms"]])
    low, high = float(values.min()) / 1.5, float(values.max()) * 1.5
    data = [_band(low, high, 0.30, PALETTE.band_30), _band(low, high, 0.10, PALETTE.band_10),
            {"type": "scatter", "mode": "lines", "x": [low, high], "y": [low, high], "name": "y = x",
             "line": {"color": PALETTE.identity, "width": 1, "dash": "dot"}, "hoverinfo": "skip"}]
    groups = comparisons.groupby(["precision", "is_proxy"], sort=True)
    for index, ((precision, is_proxy), group) in enumerate(groups):
        data.append({
            "type": "scatter", "mode": "markers",
            "name": _text(precision) + (" (proxy)" if is_proxy else ""),
            "x": _numbers(group["measured_ms"]), "y": _numbers(group["predicted_ms"]),
            "text": [_comparison_hover(row) for row in group.itertuples()],
            "hovertemplate": "%{text}<extra></extra>",
            "marker": {"size": 9, "color": _series_colour(index), "opacity": 0.85,
                       "symbol": "diamond-open" if is_proxy else "circle", "line": {"width": 1, "color": "#fff"}},
        })
    axis = {"type": "log", "range": [math.log10(low), math.log10(high)], "gridcolor": PALETTE.grid,
            **log_ticks(low, high)}
    return _figure(data, height=520, xaxis={**axis, "title": {"text": "measured latency (ms per batch)"}},
                   yaxis={**axis, "title": {"text": "predicted latency (ms per batch)"}, "scaleanchor": "x"})


def log_ticks(low: float, high: float) -> dict[str, Any]:
    """Explicit ticks for a log axis from `low` to `high`: 1-2-5 steps over up to three decades,
    decades only beyond, each labelled with its full value ("0.5", "2", "100"), never the bare
    digits Plotly puts between decades ("8 9 1 2 3")."""
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 or high <= low:
        return {}
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    steps = (1, 2, 5) if last - first <= 3 else (1,)
    values = [step * 10.0 ** power for power in range(first, last + 1) for step in steps]
    values = [float(f"{value:.6g}") for value in values if low <= value <= high]
    if len(values) < 2:  # a narrow range: fall back to Plotly's own ticks
        return {}
    return {"tickmode": "array", "tickvals": values, "ticktext": [f"{value:g}" for value in values]}


def _band(low: float, high: float, share: float, colour: str) -> dict[str, Any]:
    """The region where predicted is within ±share of measured, as one filled polygon."""
    label = f"±{share * 100:.0f} %"
    return {"type": "scatter", "mode": "lines", "name": label, "fill": "toself", "fillcolor": colour,
            "line": {"width": 0}, "hoverinfo": "skip",
            "x": [low, high, high, low, low],
            "y": [low * (1 - share), high * (1 - share), high * (1 + share), low * (1 + share), low * (1 - share)]}


def _comparison_hover(row: Any) -> str:
    lines = [
        f"<b>{_text(row.model)}</b>",
        f"{_text(row.precision)} · batch {row.batch_size} · {_text(row.conversion)} ({_text(row.method)})",
        f"predicted {milliseconds(row.predicted_ms)} · measured {milliseconds(row.measured_ms)}",
        f"ratio {row.ratio:.2f} ({percent(row.signed_error_pct, signed=True)})",
    ]
    if row.is_proxy:
        lines.append(f"proxy: measured on {_text(row.measured_platform)}")
    return "<br>".join(lines)


def error_bars(*, model_errors: pd.DataFrame) -> Figure:
    """Median signed error per model, precision and batch size; colour says which way it is off."""
    labels = [_cell_label(row.model, row.precision, row.batch_size, row.is_proxy) for row in model_errors.itertuples()]
    errors = model_errors["median_signed_error_pct"]
    data = [{
        "type": "bar", "orientation": "h", "y": labels, "x": _numbers(errors),
        "marker": {"color": [PALETTE.over_estimate if e > 0 else PALETTE.under_estimate for e in errors]},
        "text": [percent(e, signed=True) for e in errors], "textposition": "outside", "cliponaxis": False,
        "customdata": model_errors["comparisons"].tolist(),
        "hovertemplate": "%{y}<br>median error %{text}<br>%{customdata} comparisons<extra></extra>",
        "showlegend": False,
    }]
    gate = [{"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
             "line": {"color": PALETTE.identity, "width": 1, "dash": "dot"}} for x in (-30, 30)]
    low, high = min(float(errors.min()), 0.0), max(float(errors.max()), 0.0)
    span = [min(low * 1.3, -40.0), max(high * 1.3, 40.0)]  # room for the labels and both gate lines
    return _figure(data, height=_rows_height(len(labels)), shapes=gate,
                   xaxis={"title": {"text": "signed error: (predicted − measured) / measured, %"}, "range": span,
                          "zeroline": True, "zerolinecolor": PALETTE.identity, "gridcolor": PALETTE.grid},
                   yaxis={"autorange": "reversed", "automargin": True, "type": "category"})


def speedup_heatmap(*, speedups: pd.DataFrame) -> Figure:
    """Speedup over EAGER (newest run), model x conversion, on a log colour scale centred on 1x."""
    # Rows name the precision, batch size and method only where the page has more than one.
    many = speedups[["precision", "batch_size", "method"]].drop_duplicates().shape[0] > 1
    many_devices = speedups["device"].nunique(dropna=False) > 1
    speedups = speedups.assign(row=[
        _text(row.model) + (_series_label(row.precision, row.batch_size, row.method, prefix=" · ") if many else "")
        + (f" · {_text(row.device)}" if many_devices else "")
        for row in speedups.itertuples()])
    rows = list(dict.fromkeys(speedups["row"]))
    columns = sorted(speedups["conversion"].unique())
    grid = speedups.pivot_table(index="row", columns="conversion", values="speedup", aggfunc="first")
    grid = grid.reindex(index=rows, columns=columns)
    ticks = [2.0 ** power for power in range(-int(SPEEDUP_RANGE), int(SPEEDUP_RANGE) + 1)]
    data = [{
        "type": "heatmap", "x": [_text(c) for c in columns], "y": rows,
        "z": [[_number(math.log2(v)) if v == v else None for v in line] for line in grid.to_numpy()],
        "text": [[f"{v:.2f}×" if v == v else "" for v in line] for line in grid.to_numpy()],
        "texttemplate": "%{text}", "hovertemplate": "%{y}<br>%{x}: %{text} vs EAGER<extra></extra>",
        "zmin": -SPEEDUP_RANGE, "zmax": SPEEDUP_RANGE, "zmid": 0,
        "colorscale": [[0, PALETTE.slower], [0.5, PALETTE.neutral], [1, PALETTE.faster]],
        "colorbar": {"title": {"text": "vs EAGER"}, "tickvals": [math.log2(t) for t in ticks],
                     "ticktext": [f"{t:g}×" for t in ticks]},
    }]
    return _figure(data, height=_rows_height(len(rows)), xaxis={"tickangle": -30, "automargin": True},
                   yaxis={"autorange": "reversed", "automargin": True, "type": "category"})


# -- model x platform charts ----------------------------------------------------------------------


def latency_chart(*, latencies: pd.DataFrame, predictions: pd.DataFrame, platform: str | None = None) -> Figure:
    """Median latency per conversion with p05-p95 whiskers, one series per precision, batch and
    method (and measured platform: a declared proxy's series are labelled so, where `platform` is
    the page's); each prediction of a measured precision and batch size is a dashed line across."""
    conversions = sorted(latencies["conversion"].unique(), key=lambda name: (name != "EAGER", name))
    categories = [_text(c) for c in conversions]
    data, series = [], []
    # One platform may be measured on several devices (a GPU host benches --device cpu too).
    devices = latencies["device"].fillna("")
    groups = latencies.assign(device=devices).groupby(["precision", "batch_size", "method", "platform", "device"],
                                                      sort=True)
    for index, (key, group) in enumerate(groups):
        series.append(key)
        group = group.set_index("conversion").reindex(conversions)
        device_note = f" · {_text(key[4])}" if devices.nunique() > 1 else ""
        data.append({
            "type": "scatter", "mode": "markers",
            "name": _series_label(*key[:3]) + device_note + _proxy_note(key[3], platform),
            "x": categories,
            "y": _numbers(group["median"]), "marker": {"size": 10, "color": _series_colour(index)},
            "error_y": {"type": "data", "symmetric": False, "array": _numbers(group["p95"] - group["median"]),
                        "arrayminus": _numbers(group["median"] - group["p05"]), "thickness": 1.5},
            "text": [_latency_hover(*values) for values in zip(group["median"], group["p05"], group["p95"])],
            "hovertemplate": "%{x}<br>%{text}<extra>%{fullData.name}</extra>",
        })
    # A prediction is drawn where something of its precision and batch size was measured, in
    # that series' colour; the page lists the others.
    colours = {key[:2]: _series_colour(index) for index, key in reversed(list(enumerate(series)))}
    predicted = [_prediction_line(row, colours[(row.precision, row.batch_size)])
                 for row in predictions.itertuples() if (row.precision, row.batch_size) in colours]
    return _figure(data, height=440, shapes=predicted, xaxis={"type": "category", "tickangle": -30, "automargin": True},
                   yaxis=_latency_axis(pd.concat([latencies["p05"], latencies["p95"], predictions["latency_ms"]])))


def _prediction_line(row: Any, colour: str) -> dict[str, Any]:
    """A dashed line across the whole chart, with its own legend entry (a shape, so that it spans
    the plot even when only one conversion was measured)."""
    return {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": _number(row.latency_ms),
            "y1": _number(row.latency_ms), "line": {"color": colour, "dash": "dash", "width": 2}, "showlegend": True,
            "name": f"predicted {_text(row.precision)} · b{row.batch_size}: {milliseconds(row.latency_ms)} "
                    f"({_text(predictor_label(row.predictor, row.predictor_version))})"}


def predictor_label(predictor: Any, version: Any = None) -> str:
    """A predictor and its version as one name: "graphs 1.1"; the version alone where it already
    names the predictor; the name alone where no version is known."""
    name = "–" if predictor is None or predictor != predictor else str(predictor)
    if not isinstance(version, str) or not version.strip():
        return name
    return version if version.lower().startswith(name.lower()) else f"{name} {version}"


def _latency_hover(median: float, p05: float, p95: float) -> str:
    if not median == median:  # this series has no measurement of this conversion
        return ""
    return f"median {milliseconds(median)}<br>p05 {milliseconds(p05)} · p95 {milliseconds(p95)}"


def speedup_bars(*, speedups: pd.DataFrame, platform: str | None = None) -> Figure:
    """Speedup of each conversion over EAGER in the newest run, one series per precision, batch and
    method (and measured platform, a declared proxy's labelled so)."""
    data = []
    groups = speedups.groupby(["precision", "batch_size", "method", "platform"], sort=True)
    for index, (key, group) in enumerate(groups):
        data.append({
            "type": "bar", "name": _series_label(*key[:3]) + _proxy_note(key[3], platform), "x": [_text(c) for c in group["conversion"]],
            "y": _numbers(group["speedup"]), "marker": {"color": _series_colour(index)},
            "text": [f"{v:.2f}×" for v in group["speedup"]], "textposition": "outside",
            "hovertemplate": "%{x}: %{text} vs EAGER<extra>%{fullData.name}</extra>",
        })
    one = [{"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": 1, "y1": 1,
            "line": {"color": PALETTE.identity, "width": 1, "dash": "dot"}}]
    return _figure(data, height=380, shapes=one, barmode="group",
                   xaxis={"type": "category", "tickangle": -30, "automargin": True},
                   yaxis={"title": {"text": "speedup over EAGER (×)"}, "gridcolor": PALETTE.grid})


def history_chart(*, measured: pd.DataFrame, predicted: pd.DataFrame, markers: Sequence[Marker] = (),
                  platform: str | None = None) -> Figure:
    """Measured median latency per conversion across runs, predicted latency as dashed steps.

    measured: bucketed history (analysis.MEASURED_HISTORY): a point can stand for several runs.
    markers: points to flag, such as detected change points; each is a dotted vertical line with
        its label on hover.
    """
    data, shown = [], set()
    groups = measured.groupby(["precision", "batch_size", "conversion", "method", "platform"], sort=True)
    ordered = sorted(groups, key=lambda item: (item[0][0], item[0][1], item[0][2] != "EAGER", item[0][2:]))
    for index, ((precision, batch_size, conversion, method, measured_on), group) in enumerate(ordered):
        # Past a handful of lines the chart is a tangle: the rest start hidden, a legend click away.
        if index < HISTORY_SHOWN:
            shown.add((precision, batch_size))
        data.append({
            "type": "scatter", "mode": "lines+markers",
            "name": _series_label(precision, batch_size, method, conversion) + _proxy_note(measured_on, platform),
            "visible": True if index < HISTORY_SHOWN else "legendonly",
            "x": _times(group["point_at"]), "y": _numbers(group["median"]),
            "customdata": group["runs"].tolist(), "line": {"color": _series_colour(index), "width": 1.5},
            "marker": {"size": 5},
            "hovertemplate": "%{x}<br>%{y:.3~g} ms (median of %{customdata} run(s))<extra>%{fullData.name}</extra>",
        })
    for (precision, batch_size, predictor), group in predicted.groupby(["precision", "batch_size", "predictor"]):
        data.append({
            "type": "scatter", "mode": "lines+markers",
            "line": {"shape": "hv", "dash": "dash", "color": PALETTE.predicted},
            "name": f"predicted {_text(precision)} · b{batch_size} ({_text(predictor)})",
            "visible": True if (precision, batch_size) in shown or not shown else "legendonly",
            "x": _times(group["point_at"]), "y": _numbers(group["latency_ms"]), "marker": {"size": 5},
            "hovertemplate": "%{x}<br>predicted %{y:.3~g} ms<extra></extra>",
        })
    shapes, notes = _marker_lines(markers)
    legend = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"}
    return _figure(data, height=460, shapes=shapes, annotations=notes, legend=legend,
                   xaxis={"type": "date", "gridcolor": PALETTE.grid},
                   yaxis=_latency_axis(pd.concat([measured["median"], predicted["latency_ms"]])))


def _marker_lines(markers: Iterable[Marker]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shapes, notes = [], []
    for marker in markers:
        at = _times([marker.at])[0]
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": at, "x1": at, "y0": 0, "y1": 1,
                       "line": {"color": PALETTE.change_point, "width": 1.5, "dash": "dot"}})
        series = f"{_text(marker.series)}: " if marker.series else ""
        notes.append({"x": at, "xref": "x", "y": 1, "yref": "paper", "yanchor": "bottom", "showarrow": False,
                      "text": "▼", "font": {"color": PALETTE.change_point},
                      "hovertext": series + _text(marker.label)})
    return shapes, notes


def subgraph_chart(*, subgraphs: pd.DataFrame) -> Figure:
    """graphs' per-subgraph predicted time beside the measured one, in execution order."""
    labels = [f"#{_text(row.subgraph_id)}" for row in subgraphs.itertuples()]
    ops = [_text(op or "") for op in subgraphs["ops"]]
    data = [
        {"type": "bar", "name": name, "x": labels, "y": _numbers(subgraphs[column]), "customdata": ops,
         "marker": {"color": colour},
         "hovertemplate": "subgraph %{x} · %{customdata}<br>" + name + " %{y:.3~g} ms<extra></extra>"}
        for name, column, colour in (("predicted", "predicted_ms", PALETTE.predicted),
                                     ("measured", "measured_ms", PALETTE.accurate))
    ]
    return _figure(data, height=380, barmode="group", xaxis={"type": "category", "title": {"text": "subgraph"}},
                   yaxis={"title": {"text": "time (ms)"}, "gridcolor": PALETTE.grid})


# -- shared pieces -------------------------------------------------------------------------------


def _figure(data: list[dict[str, Any]], *, height: int, **layout: Any) -> Figure:
    base = {
        "height": height, "margin": {"l": 60, "r": 20, "t": 30, "b": 50}, "hovermode": "closest",
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', sans-serif", "size": 12, "color": PALETTE.text},
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
    }
    return {"data": data, "layout": {**base, **layout}}


def _latency_axis(values: pd.Series) -> dict[str, Any]:
    """Log scale once values span more than a decade: batch sizes and conversions differ by factors."""
    positive = values[values > 0]
    spread = positive.max() / positive.min() if len(positive) else 1
    if spread > 10:
        ticks = log_ticks(float(positive.min()) / 1.2, float(positive.max()) * 1.2)
        return {"title": {"text": "latency (ms per batch)"}, "gridcolor": PALETTE.grid, "type": "log", **ticks}
    return {"title": {"text": "latency (ms per batch)"}, "gridcolor": PALETTE.grid, "type": "linear",
            "rangemode": "tozero"}


def _rows_height(rows: int) -> int:
    return 140 + 26 * max(rows, 1)


def _series_label(precision: str, batch_size: int, method: str, conversion: str | None = None, *,
                  prefix: str = "") -> str:
    parts = [_text(conversion)] if conversion else []
    return prefix + " · ".join(parts + [_text(precision), f"b{batch_size}", _text(method)])


def _proxy_note(measured_on: str, platform: str | None) -> str:
    return f" (proxy: {_text(measured_on)})" if platform is not None and measured_on != platform else ""


def _cell_label(model: str, precision: str, batch_size: int, is_proxy: bool) -> str:
    return f"{_text(model)} · {_text(precision)} · b{batch_size}" + (" (proxy)" if is_proxy else "")


def _series_colour(index: int) -> str:
    return PALETTE.series[index % len(PALETTE.series)]


def _text(value: object) -> str:
    return html.escape(str(value), quote=False)


def _number(value: Any, digits: int = 5) -> float | None:
    """A JSON-safe float with `digits` significant digits (keeps pages small); None for missing."""
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    return float(f"{number:.{digits}g}") if math.isfinite(number) else None


def _numbers(values: Iterable[Any]) -> list[float | None]:
    return [_number(v) for v in (values.to_numpy() if isinstance(values, pd.Series) else values)]


def _times(values: Iterable[Any]) -> list[str]:
    """Times as ISO text to the second, which Plotly reads as dates (vectorised: histories are long)."""
    seconds = pd.to_datetime(pd.Series(list(values) if not isinstance(values, pd.Series) else values))
    return np.datetime_as_string(seconds.to_numpy().astype("datetime64[s]"), unit="s").tolist()

