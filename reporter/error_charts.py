"""The error charts of a platform page, one quantity each: predicted against measured (log-log,
with graphs' gate and bands) and the signed error per model. Figures as in reporter.charts."""

import math
from typing import Any

import pandas as pd

from collectors.vocabulary import (
    ERROR_BANDS_PCT,
    GRAPHS_GATE_PCT,
    QUANTITY_BY_NAME,
    Quantity,
)
from reporter.chart_style import (
    DOTTED,
    PALETTE,
    Figure,
    cell_label,
    figure,
    log_ticks,
    numbers,
    rows_height,
    series_colour,
)
from reporter.formatting import (
    QUANTITY_TEXT,
    band,
    percent,
    plotly_text,
    two_places,
)

GATE_ROOM_PCT = 10.0  # the error axis reaches this far past the gate lines, for the bar labels


def parity_plot(*, comparisons: pd.DataFrame) -> Figure:
    """Predicted against measured figures of one quantity, log-log, with y = x and the bands of
    ERROR_BANDS_PCT; one series per precision, measured figure (method) and proxy-or-not."""
    quantity = _one_quantity(comparisons)
    values = pd.concat([comparisons["predicted"], comparisons["measured"]])
    low, high = float(values.min()) / 1.5, float(values.max()) * 1.5
    # The widest band first, so that the narrower ones are drawn over it.
    bands = list(zip(ERROR_BANDS_PCT, PALETTE.bands, strict=True))
    data = [_band(low, high, pct, colour) for pct, colour in reversed(bands)]
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": [low, high],
            "y": [low, high],
            "name": "y = x",
            "line": DOTTED,
            "hoverinfo": "skip",
        }
    )
    many_methods = comparisons["method"].nunique() > 1
    groups = comparisons.groupby(["precision", "method", "is_proxy"], sort=True)
    for index, ((precision, method, is_proxy), group) in enumerate(groups):
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": plotly_text(precision)
                + (f" · {plotly_text(method)}" if many_methods else "")
                + (" (proxy)" if is_proxy else ""),
                "x": numbers(group["measured"]),
                "y": numbers(group["predicted"]),
                "text": [_comparison_hover(row) for row in group.itertuples()],
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {
                    "size": 9,
                    "color": series_colour(index),
                    "opacity": 0.85,
                    "symbol": "diamond-open" if is_proxy else "circle",
                    "line": {"width": 1, "color": "#fff"},
                },
            }
        )
    axis = {
        "type": "log",
        "range": [math.log10(low), math.log10(high)],
        "gridcolor": PALETTE.grid,
        **log_ticks(low, high),
    }
    return figure(
        data,
        height=520,
        xaxis={**axis, "title": {"text": f"measured {quantity.name} ({quantity.unit})"}},
        yaxis={**axis, "title": {"text": f"predicted {quantity.name} ({quantity.unit})"}, "scaleanchor": "x"},
    )


def _one_quantity(frame: pd.DataFrame) -> Quantity:
    """The quantity a chart's rows are all of (a chart never mixes two units)."""
    (name,) = frame["quantity"].unique()
    return QUANTITY_BY_NAME[name]


def _band(low: float, high: float, pct: float, colour: str) -> dict[str, Any]:
    """The region where predicted is within ±pct % of measured, as one filled polygon."""
    share = pct / 100
    return {
        "type": "scatter",
        "mode": "lines",
        "name": band(pct),
        "fill": "toself",
        "fillcolor": colour,
        "line": {"width": 0},
        "hoverinfo": "skip",
        "x": [low, high, high, low, low],
        "y": [low * (1 - share), high * (1 - share), high * (1 + share), low * (1 + share), low * (1 - share)],
    }


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
    labels = [
        cell_label(row.model, row.precision, row.batch_size, row.is_proxy)
        + (f" · {plotly_text(row.method)}" if many_methods else "")
        for row in model_errors.itertuples()
    ]
    errors = model_errors["median_signed_error_pct"]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": labels,
            "x": numbers(errors),
            "marker": {"color": [PALETTE.over_estimate if e > 0 else PALETTE.under_estimate for e in errors]},
            "text": [percent(e, signed=True) for e in errors],
            "textposition": "outside",
            "cliponaxis": False,
            "customdata": model_errors["comparisons"].tolist(),
            "hovertemplate": "%{y}<br>median error %{text}<br>%{customdata} comparisons<extra></extra>",
            "showlegend": False,
        }
    ]
    gate = [
        {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1, "line": DOTTED}
        for x in (-GRAPHS_GATE_PCT, GRAPHS_GATE_PCT)
    ]
    low, high = min(float(errors.min()), 0.0), max(float(errors.max()), 0.0)
    room = GRAPHS_GATE_PCT + GATE_ROOM_PCT
    span = [min(low * 1.3, -room), max(high * 1.3, room)]  # room for the labels and both gate lines
    return figure(
        data,
        height=rows_height(len(labels)),
        shapes=gate,
        xaxis={
            "title": {"text": "signed error: (predicted − measured) / measured, %"},
            "range": span,
            "zeroline": True,
            "zerolinecolor": PALETTE.identity,
            "gridcolor": PALETTE.grid,
        },
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
    )
