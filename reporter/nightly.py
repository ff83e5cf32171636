"""Change points over the nightly history in the store, as markers for the report's history charts.

`reporter.changepoints` holds the statistics (pure); this module only reads the series out of
the store and turns each change into an `analysis.Marker`:

    write_report(store, out, change_points=history_change_points(store))
"""
from __future__ import annotations

from collections import defaultdict
from itertools import groupby

from collectors.vocabulary import SYNCED_E2E
from reporter.analysis import Marker
from reporter.changepoints import find_change_points
from reporter.formatting import milliseconds
from reporter.store import Store

# One value per run and cell, oldest first: the series change points are looked for in. A cell
# measured on two devices of one platform (a GPU host benching --device cpu too) is two series.
SERIES = """
    SELECT m.model, m.platform, m.precision, m.batch_size, m.conversion, m.device,
           coalesce(m.measured_at, r.started_at) AS point_at, m.median
    FROM measurements m JOIN runs r USING (run_id)
    WHERE m.method = ? AND m.status = 'ok' AND m.median > 0
    ORDER BY m.model, m.platform, m.precision, m.batch_size, m.conversion, m.device NULLS FIRST,
             point_at, m.measurement_id"""


def history_change_points(store: Store, *, method: str = SYNCED_E2E,
                          **options: float) -> dict[tuple[str, str], list[Marker]]:
    """Markers keyed by (model, platform), one per change point of every cell's median latency.

    options: passed to `changepoints.find_change_points` (window, persistence, z, ...).
    """
    markers: dict[tuple[str, str], list[Marker]] = defaultdict(list)
    rows = store.execute(SERIES, [method]).rows
    for (model, platform, precision, batch_size, conversion, _), series in groupby(rows, key=lambda row: row[:6]):
        points = list(series)
        for change in find_change_points([row[7] for row in points], **options):
            label = (f"{precision} b{batch_size}: {change.change_pct:+.0f} % "
                     f"({milliseconds(change.before)} → {milliseconds(change.after)})")
            markers[(model, platform)].append(Marker(points[change.index][6], label, conversion))
    return dict(markers)
