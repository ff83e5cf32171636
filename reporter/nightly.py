"""Change points over the nightly history in the store, as markers for the report's history charts.

`reporter.changepoints` holds the statistics (pure); this module only reads the series out of
the store and turns each change into a `model_context.Marker`:

    write_report(store, out, change_points=history_change_points(store))
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa

from collectors.vocabulary import OK, SERIES, SYNCED_E2E, columns
from reporter.changepoints import ChangePoint, find_change_points_many
from reporter.formatting import milliseconds
from reporter.model_context import Marker
from reporter.report_queries import MEASURED_POINTS
from reporter.store import Store

# One row per series of one method: its points' times and medians, oldest first. A cell measured
# on two devices of one platform (a GPU host benching --device cpu too) is two series. Lists, not
# a row per point: a million points come back as a few thousand rows.
SERIES_POINTS = f"""
    SELECT {columns(SERIES)}, list(point_at ORDER BY point_at, measurement_id) AS times,
           list(median ORDER BY point_at, measurement_id) AS medians
    FROM ({MEASURED_POINTS}) WHERE method = $method
    GROUP BY ALL ORDER BY {columns(SERIES)}"""


def history_change_points(
    store: Store, *, method: str = SYNCED_E2E, **options: float
) -> dict[tuple[str, str], list[Marker]]:
    """Markers keyed by (model, platform), one per change point of every series' median latency.

    options: passed to `changepoints.find_change_points_many` (window, persistence, z, ...).
    """
    markers: dict[tuple[str, str], list[Marker]] = defaultdict(list)
    table = store.arrow(SERIES_POINTS, {"ok": OK, "method": method})
    keys = zip(*(table[key].to_pylist() for key in SERIES), strict=True)
    changes = find_change_points_many(_each_list(table["medians"]), **options)
    for key, times, found in zip(keys, _each_list(table["times"]), changes, strict=True):
        series = dict(zip(SERIES, key, strict=True))
        for change in found:
            markers[(series["model"], series["platform"])].append(
                Marker(times[change.index].item(), _label(series, change), series["conversion"])
            )
    return dict(markers)


def _each_list(column: pa.ChunkedArray) -> list[np.ndarray]:
    """A list column as one numpy array per row, sliced from its flattened values: no Python
    object per point (a million of them took half the time)."""
    lists = column.combine_chunks()
    bounds = np.cumsum([0, *lists.value_lengths().to_numpy(zero_copy_only=False)])
    values = lists.flatten().to_numpy(zero_copy_only=False)
    return [values[start:end] for start, end in zip(bounds[:-1], bounds[1:], strict=True)]


def _label(series: dict[str, object], change: ChangePoint) -> str:
    return (
        f"{series['precision']} b{series['batch_size']}: {change.change_pct:+.0f} % "
        f"({milliseconds(change.before)} → {milliseconds(change.after)})"
    )
