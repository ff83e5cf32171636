"""What every Plotly figure shares: the one palette, the base layout, latency and log axes, series
labels and colours, and JSON-safe numbers and times.

Figures are plain dicts (`{"data": [...], "layout": {...}}`); reporter.charts builds them from
these pieces. Every user-supplied string goes through `formatting.plotly_text` before it reaches
a label, because Plotly reads a subset of HTML there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reporter.formatting import finite, plotly_text

Figure = dict[str, Any]


@dataclass(frozen=True)
class Palette:
    under_estimate: str = "#d55e00"  # predicted < measured: the predictor is optimistic
    over_estimate: str = "#0072b2"  # predicted > measured: the predictor is pessimistic
    accurate: str = "#009e73"
    # One shade per band of vocabulary.ERROR_BANDS_PCT, in its order: the narrow band darker.
    bands: tuple[str, ...] = ("rgba(0, 158, 115, 0.20)", "rgba(0, 158, 115, 0.08)")
    identity: str = "#4b5563"
    predicted: str = "#6d28d9"
    host: str = "#e69f00"  # the host's part of a call: launches, Python, synchronising
    change_point: str = "#b91c1c"
    slower: str = "#d55e00"  # speedup below 1
    faster: str = "#0072b2"
    neutral: str = "#ffffff"
    grid: str = "#e5e7eb"
    text: str = "#1f2937"
    # Okabe-Ito: distinguishable with the common colour-vision deficiencies.
    series: tuple[str, ...] = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000", "#f0e442")


PALETTE = Palette()
ERROR_SATURATION_PCT = 100.0  # matrix cells reach full colour at this |signed error|
LATENCY_TITLE = {"text": "latency (ms per batch)"}
DOTTED = {"color": PALETTE.identity, "width": 1, "dash": "dot"}  # reference lines: y = x, 1x, the gate
DIGITS = 5  # significant digits of every number in a figure (keeps pages small)


def error_background(signed_error_pct: Any) -> str:
    """A CSS colour for a signed error: white at 0, towards the under/over-estimation colour."""
    value = finite(signed_error_pct)
    if value is None:
        return "transparent"
    colour = PALETTE.over_estimate if value > 0 else PALETTE.under_estimate
    strength = min(abs(value) / ERROR_SATURATION_PCT, 1.0) * 0.75
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {strength:.2f})"


def figure(data: list[dict[str, Any]], *, height: int, **layout: Any) -> Figure:
    """A figure with the report's base layout; `layout` adds to it or overrides it."""
    base = {
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "hovermode": "closest",
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', sans-serif", "size": 12, "color": PALETTE.text},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
    }
    return {"data": data, "layout": {**base, **layout}}


def log_ticks(low: float, high: float) -> dict[str, Any]:
    """Explicit ticks for a log axis from `low` to `high`: 1-2-5 steps over up to three decades,
    decades only beyond, each labelled with its full value ("0.5", "2", "100"), never the bare
    digits Plotly puts between decades ("8 9 1 2 3")."""
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 or high <= low:
        return {}
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    steps = (1, 2, 5) if last - first <= 3 else (1,)
    values = [step * 10.0**power for power in range(first, last + 1) for step in steps]
    values = [float(f"{value:.6g}") for value in values if low <= value <= high]
    if len(values) < 2:  # a narrow range: fall back to Plotly's own ticks
        return {}
    return {"tickmode": "array", "tickvals": values, "ticktext": [f"{value:g}" for value in values]}


def latency_axis(values: pd.Series) -> dict[str, Any]:
    """Log scale once values span more than a decade: batch sizes and conversions differ by factors."""
    positive = values[values > 0]
    spread = positive.max() / positive.min() if len(positive) else 1
    if spread > 10:
        ticks = log_ticks(float(positive.min()) / 1.2, float(positive.max()) * 1.2)
        return {"title": LATENCY_TITLE, "gridcolor": PALETTE.grid, "type": "log", **ticks}
    return {"title": LATENCY_TITLE, "gridcolor": PALETTE.grid, "type": "linear", "rangemode": "tozero"}


def rows_height(rows: int) -> int:
    """The height of a chart with one row (a bar, a heatmap line) per item."""
    return 140 + 26 * max(rows, 1)


def series_label(
    precision: str, batch_size: int, method: str, conversion: str | None = None, *, prefix: str = ""
) -> str:
    """A series' legend name: "[conversion · ]fp32 · b1 · synced-e2e"."""
    parts = [plotly_text(conversion)] if conversion else []
    return prefix + " · ".join(parts + [plotly_text(precision), f"b{batch_size}", plotly_text(method)])


def prediction_label(precision: str, batch_size: int, predictor: str, value: str = "") -> str:
    """A prediction's legend name: "predicted fp32 · b1[: 8.24 ms] (graphs 1.1)"."""
    shown = f": {value}" if value else ""
    return f"predicted {plotly_text(precision)} · b{batch_size}{shown} ({plotly_text(predictor)})"


def proxy_note(measured_on: str, platform: str | None) -> str:
    """Marks a series measured on a declared proxy rather than on the page's `platform`."""
    return f" (proxy: {plotly_text(measured_on)})" if platform is not None and measured_on != platform else ""


def cell_label(model: str, precision: str, batch_size: int, is_proxy: bool) -> str:
    return f"{plotly_text(model)} · {plotly_text(precision)} · b{batch_size}" + (" (proxy)" if is_proxy else "")


def series_colour(index: int) -> str:
    return PALETTE.series[index % len(PALETTE.series)]


def number(value: Any) -> float | None:
    """A JSON-safe float with DIGITS significant digits; None for missing."""
    value = finite(value)
    return float(f"{value:.{DIGITS}g}") if value is not None else None


def numbers(values: Iterable[Any]) -> list[float | None]:
    """`number` of each value: the same floats, vectorised for numeric arrays (charts carry
    hundreds of thousands of values)."""
    array = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else list(values))
    if array.dtype.kind not in "fiu":  # objects (None, NA, text) take number()'s own checks
        return [number(v) for v in array]
    rounded, exact = _significant(array.astype(float))
    result = rounded.tolist()
    for index in np.flatnonzero(~exact):
        result[index] = number(array[index])
    return result


# float(10**k) is exact up to 10**22; dividing or multiplying by an exact power of ten rounds once.
_POWERS = np.array([float(10**k) for k in range(23)])
_HALF_MARGIN = 1e-6  # the scaled value's rounding error is below 1e-11: farther from .5 it rounds as the text does


def _significant(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`number(v)` of each value (DIGITS significant digits), and where that is certain.

    Scaled by a power of ten to DIGITS integer digits, a value rounds to the integer the decimal
    text holds unless it lies within _HALF_MARGIN of a half or the exponent guessed from log10 is
    off by one; scaled back by the same exact power, the one rounding gives the float the text
    parses to. The uncertain ones (and 0, NaN, infinities, extreme exponents) are left to the
    caller: a handful in a million.
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # 0, NaN and infinities are marked not exact
        shift = DIGITS - 1 - np.floor(np.log10(np.abs(values)))  # values * 10**shift has DIGITS integer digits
        exact = np.isfinite(shift) & (np.abs(shift) < len(_POWERS))
        shift = np.where(exact, shift, 0).astype(int)
        power, up = _POWERS[np.abs(shift)], shift >= 0
        scaled = np.where(up, values * power, values / power)
        exact &= np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) > _HALF_MARGIN
        exact &= (np.abs(scaled) >= 10.0 ** (DIGITS - 1)) & (np.abs(scaled) < 10.0**DIGITS)
        whole = np.rint(scaled)
        return np.where(up, whole / power, whole * power), exact


def iso_times(values: Iterable[Any]) -> list[str]:
    """Times as ISO text to the second, which Plotly reads as dates (vectorised: histories are long)."""
    seconds = pd.to_datetime(pd.Series(list(values) if not isinstance(values, pd.Series) else values))
    # Each distinct time written once: a page's series share their nights, so most times repeat.
    distinct, each = np.unique(seconds.to_numpy().astype("datetime64[s]"), return_inverse=True)
    return np.datetime_as_string(distinct, unit="s")[each].tolist()
