"""A model page's history: measured median latency per series across runs, predicted latency as
dashed steps, and detected change points marked. Figures as in reporter.charts."""

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from collectors.vocabulary import (
    EAGER,
    PAGE_SERIES,
)
from reporter.chart_style import (
    PALETTE,
    Figure,
    figure,
    iso_times,
    latency_axis,
    numbers,
    prediction_label,
    series_colour,
)
from reporter.charts import PREDICTED_SERIES, page_series
from reporter.formatting import (
    plotly_text,
)
from reporter.model_context import Marker

HISTORY_SHOWN = 8  # history series drawn at first; the others start hidden in the legend
HISTORY_SERIES = (*PAGE_SERIES, "conversion")  # one line per measured series


def has_history(measured: pd.DataFrame, predicted: pd.DataFrame) -> bool:
    """True when some history series has two points or more: one point is no history."""
    return bool(
        (measured.groupby(list(HISTORY_SERIES), dropna=False).size() >= 2).any()
        or (predicted.groupby(list(PREDICTED_SERIES)).size() >= 2).any()
    )


def history_chart(
    *, measured: pd.DataFrame, predicted: pd.DataFrame, markers: Sequence[Marker] = (), platform: str | None = None
) -> Figure:
    """Measured median latency per conversion across runs, predicted latency as dashed steps.

    measured: bucketed history (analysis.MEASURED_HISTORY): a point can stand for several runs.
    markers: points to flag, such as detected change points; each is a dotted vertical line with
        its label on hover.
    """
    data, shown = [], set()
    times, medians = _points(measured, "median")
    runs = measured["runs"].to_numpy()
    series = sorted(
        page_series(measured, platform, HISTORY_SERIES),  # EAGER first within a cell
        key=lambda item: (
            item[0]["precision"],
            item[0]["batch_size"],
            item[0]["conversion"] != EAGER,
            [str(item[0][key]) for key in HISTORY_SERIES],
        ),
    )
    for index, (key, rows, name) in enumerate(series):
        # Past a handful of lines the chart is a tangle: the rest start hidden, a legend click away.
        if index < HISTORY_SHOWN:
            shown.add((key["precision"], key["batch_size"]))
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "visible": True if index < HISTORY_SHOWN else "legendonly",
                "x": times[rows].tolist(),
                "y": medians[rows].tolist(),
                "customdata": runs[rows].tolist(),
                "line": {"color": series_colour(index), "width": 1.5},
                "marker": {"size": 5},
                "hovertemplate": "%{x}<br>%{y:.3~g} ms (median of %{customdata} run(s))<extra>%{fullData.name}</extra>",
            }
        )
    times, latencies = _points(predicted, "latency_ms")
    predictions = predicted.groupby(list(PREDICTED_SERIES)).indices
    for (precision, batch_size, predictor), rows in sorted(predictions.items()):  # the groupby's order
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "line": {"shape": "hv", "dash": "dash", "color": PALETTE.predicted},
                "name": prediction_label(precision, batch_size, predictor),
                "visible": True if (precision, batch_size) in shown or not shown else "legendonly",
                "x": times[rows].tolist(),
                "y": latencies[rows].tolist(),
                "marker": {"size": 5},
                "hovertemplate": "%{x}<br>predicted %{y:.3~g} ms<extra></extra>",
            }
        )
    shapes, notes = _marker_lines(markers)
    legend = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"}
    return figure(
        data,
        height=460,
        shapes=shapes,
        annotations=notes,
        legend=legend,
        xaxis={"type": "date", "gridcolor": PALETTE.grid},
        yaxis=latency_axis(pd.concat([measured["median"], predicted["latency_ms"]])),
    )


def _points(history: pd.DataFrame, value: str) -> tuple[np.ndarray, np.ndarray]:
    """A history frame's times as ISO text and its `value` column as JSON numbers, by row position:
    made for the whole frame at once, not per series (a page has thousands of points)."""
    return np.array(iso_times(history["point_at"]), dtype=object), np.array(numbers(history[value]), dtype=object)


def _marker_lines(markers: Sequence[Marker]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shapes, notes = [], []
    for marker, at in zip(markers, iso_times([marker.at for marker in markers]), strict=True):
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": at,
                "x1": at,
                "y0": 0,
                "y1": 1,
                "line": {"color": PALETTE.change_point, "width": 1.5, "dash": "dot"},
            }
        )
        series = f"{plotly_text(marker.series)}: " if marker.series else ""
        notes.append(
            {
                "x": at,
                "xref": "x",
                "y": 1,
                "yref": "paper",
                "yanchor": "bottom",
                "showarrow": False,
                "text": "▼",
                "font": {"color": PALETTE.change_point},
                "hovertext": series + plotly_text(marker.label),
            }
        )
    return shapes, notes
