"""The SQL the report runs, each query once per site, and the frames it returns, sliced per page.

Work over history (measurements, predictions) is aggregated in DuckDB; pandas only sees the small
frames that come back: the newest cells, per-run history already bucketed, and the current
comparisons. Every frame is sorted, so the same database gives the same pages. Key columns come
from collectors.vocabulary, and so do the values a query filters on (bound as named parameters).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from collectors.vocabulary import CELL, EAGER, OK, PREDICTION_KEY, SERIES, UNSCORED_METHODS, columns
from reporter.schema import UNFINISHED_RUN
from reporter.store import Store

HISTORY_POINTS = 120  # per series: longer histories are bucketed (median of each bucket)
RUNS_LISTED = 100  # newest runs on the index; the total is shown beside
PAGE_KEY = ("model", "platform")  # one model x platform page

# The newest prediction per model, platform, precision, batch size and predictor: the store's view.
NEWEST_PREDICTIONS = "SELECT * EXCLUDE (raw) FROM newest_predictions"

# The store's `latest` view (the newest measurement of each series), its rows fetched by id: the
# view's window then sorts the ids alone instead of every column, a third of the time on a long
# history. Ids are unique (the store assigns them), so these are the view's rows. Kept in a
# temporary table while the site's queries run: the comparisons read it too, and the view's window
# over every measurement is most of each query's time.
LATEST_TABLE = "_report_latest"
KEEP_LATEST = f"""
    CREATE OR REPLACE TEMP TABLE {LATEST_TABLE} AS
    SELECT * FROM measurements WHERE measurement_id IN (SELECT measurement_id FROM latest)"""
LATEST = f"SELECT * FROM {LATEST_TABLE}"

# The scored comparisons of every quantity: what the store's `current_quantity_comparisons` view
# holds (its `pair_quantities` of the newest prediction of each cell against the newest
# measurements, Alma's own loop excluded), the same rows `parity query` sees, paired against the
# kept table instead of the view.
CURRENT_COMPARISONS = f"""
    SELECT * FROM pair_quantities(newest_predictions, {LATEST_TABLE})"""

# Each series' speedups over EAGER in its newest run (latest started_at, then run id), Alma's own
# loop (UNSCORED_METHODS) left out. arg_max is a hash aggregate: no sort of the 900,000 speedups of
# a long history, as a row_number() window needs.
NEWEST_SPEEDUPS = f"""
    SELECT unnest(arg_max(s, (s.started_at, s.run_id))) FROM (
        SELECT s.*, r.started_at FROM speedups s JOIN runs r USING (run_id)
        WHERE NOT list_contains($unscored, s.method) AND s.conversion <> $eager) s
    GROUP BY {columns(SERIES, "s")}"""

# Every ok measurement as a point in time: when it was measured (else when its run started) and
# its median. The report's history and the change points (reporter.nightly) read the same points.
MEASURED_POINTS = f"""
    SELECT {columns(SERIES, "m")}, coalesce(m.measured_at, r.started_at) AS point_at, m.median, m.measurement_id
    FROM measurements m JOIN runs r USING (run_id)
    WHERE m.status = $ok AND m.median > 0"""


def _bucketed(points: str, keys: tuple[str, ...], value: str) -> str:
    """SQL for the history of each series in `points` (columns: keys, point_at, value).

    A series of up to $max_points points keeps one point per time; a longer one is cut into
    $max_points equal spans of time, each drawn as the median of its points at the time of its
    first (`runs` says how many): the chart stays readable and the page small however long the
    history. A hash aggregate, no sort over the history: this is the report's biggest query.
    Each series is numbered in key order once, so that the buckets are grouped and sorted by that
    number instead of by every key column (the grouping and the sort take a fifth of the time).
    """
    # NULL-safe: a series without a device recorded is still one series.
    same_series = " AND ".join(f"s.{key} IS NOT DISTINCT FROM p.{key}" for key in keys)
    return f"""
    WITH points AS ({points}),
    spans AS (
        SELECT {columns(keys)}, row_number() OVER (ORDER BY {columns(keys)}) AS series, count(*) AS n,
               epoch_ms(min(point_at)) AS first_ms, epoch_ms(max(point_at)) - epoch_ms(min(point_at)) + 1 AS span_ms
        FROM points GROUP BY {columns(keys)}),
    buckets AS (
        SELECT s.series, min(p.point_at) AS point_at, median(p.{value}) AS {value}, count(*) AS runs
        FROM points p JOIN spans s ON {same_series}
        GROUP BY s.series,
                 CASE WHEN s.n <= $max_points THEN epoch_ms(p.point_at)
                      ELSE (epoch_ms(p.point_at) - s.first_ms) * $max_points // s.span_ms END)
    SELECT {columns(keys, "s")}, b.point_at, b.{value}, b.runs
    FROM buckets b JOIN spans s USING (series)
    ORDER BY b.series, b.point_at"""


MEASURED_HISTORY = _bucketed(MEASURED_POINTS, SERIES, "median")

PREDICTED_HISTORY = _bucketed(
    f"""
    SELECT {columns(PREDICTION_KEY)}, predicted_at AS point_at, latency_ms
    FROM predictions
    WHERE predicted_at IS NOT NULL""",  # a prediction with no time has no place in a history
    PREDICTION_KEY,
    "latency_ms",
)

# Each predicted subgraph beside a measured time of the same work (the store's `subgraph_pairs`),
# with the time its prediction misses as `operation_errors` counts it (> 0: predicted too fast):
# the model pages draw them, the platform pages list the worst.
SUBGRAPHS = f"""
    SELECT {columns(CELL)}, subgraph_id, pattern AS ops, operation_type, predicted_ms, measured_ms,
           measured_ms - predicted_ms AS missing_ms, measured_by
    FROM subgraph_pairs WHERE subgraph_id IS NOT NULL
    ORDER BY {columns(CELL)}, measured_by, try_cast(subgraph_id AS BIGINT) NULLS LAST, subgraph_id"""

# The error by operation type per platform (the store's `operation_errors`), most time missed first.
OPERATION_ERRORS = """
    SELECT * FROM operation_errors ORDER BY platform, precision, measured_by, missing_ms DESC, operation_type"""

RUNS = f"""
    SELECT r.run_id, r.kind, r.started_at, r.finished_at, ({UNFINISHED_RUN}) AS unfinished, r.host, r.platform,
           r.label, r.git_sha,
           coalesce(m.measurements, 0) AS measurements, coalesce(m.failed, 0) AS failed
    FROM runs r LEFT JOIN (
        SELECT run_id, count(*) AS measurements, count(*) FILTER (WHERE status <> $ok) AS failed
        FROM measurements GROUP BY run_id) m USING (run_id)
    ORDER BY r.started_at DESC, r.run_id LIMIT $listed"""

PROXIES = """
    SELECT measured_platform, predicted_platform FROM proxies
    WHERE measured_platform <> predicted_platform ORDER BY ALL"""


@dataclass(frozen=True)
class SiteFrames:
    """Every site-wide query's result; pages take their slice (`by_platform`, `by_page`)."""

    comparisons: pd.DataFrame
    predictions: pd.DataFrame
    latest: pd.DataFrame
    speedups: pd.DataFrame
    history: pd.DataFrame  # SERIES, point_at, median, runs: bucketed per series
    predicted_history: pd.DataFrame  # PREDICTION_KEY, point_at, latency_ms, runs
    # CELL, subgraph_id, ops, operation_type, predicted_ms, measured_ms, missing_ms, measured_by
    subgraphs: pd.DataFrame
    operation_errors: pd.DataFrame  # the store's operation_errors view
    environments: dict[str, list[tuple[str, str]]]  # run id -> flattened fingerprint, for the runs of `latest`
    proxies: pd.DataFrame  # measured_platform, predicted_platform: the declared proxies
    runs: pd.DataFrame  # the newest RUNS_LISTED runs with their measurement counts
    runs_total: int
    _slices: dict[tuple[str, tuple[str, ...]], dict[Any, pd.DataFrame]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store) -> SiteFrames:
        """Run every query of the report once."""
        store.execute(KEEP_LATEST)
        try:
            return cls._queried(store)
        finally:
            store.execute(f"DROP TABLE {LATEST_TABLE}")

    @classmethod
    def _queried(cls, store: Store) -> SiteFrames:
        latest = _sorted(store.frame(LATEST), SERIES)
        unscored = list(UNSCORED_METHODS)
        return cls(
            # Display orders: comparisons per measured platform before device (direct and proxy
            # rows apart), speedups with the conversions of one series together.
            comparisons=_sorted(
                store.frame(CURRENT_COMPARISONS),
                ("quantity", *CELL, "conversion", "method", "measured_platform", "device", "predictor"),
            ),
            predictions=_sorted(store.frame(NEWEST_PREDICTIONS), PREDICTION_KEY),
            latest=latest,
            speedups=_sorted(
                store.frame(NEWEST_SPEEDUPS, {"unscored": unscored, "eager": EAGER}),
                (*CELL, "method", "device", "conversion"),
            ),
            history=store.arrow(MEASURED_HISTORY, {"ok": OK, "max_points": HISTORY_POINTS}).to_pandas(),
            predicted_history=store.arrow(PREDICTED_HISTORY, {"max_points": HISTORY_POINTS}).to_pandas(),
            subgraphs=store.frame(SUBGRAPHS),
            operation_errors=store.frame(OPERATION_ERRORS),
            environments=_environments(store, latest["run_id"].dropna().unique().tolist()),
            proxies=store.frame(PROXIES),
            runs=store.frame(RUNS, {"ok": OK, "listed": RUNS_LISTED}),
            runs_total=int(store.execute("SELECT count(*) FROM runs").single_value()),
        )

    def by_platform(self, name: str, platform: str) -> pd.DataFrame:
        """Frame `name`'s rows of one platform."""
        return self._slice(name, ("platform",), platform)

    def by_page(self, name: str, model: str, platform: str) -> pd.DataFrame:
        """Frame `name`'s rows of one model x platform page."""
        return self._slice(name, PAGE_KEY, (model, platform))

    def stand_ins(self, platform: str) -> list[str]:
        """The declared proxies measured in place of `platform`."""
        return self.proxies.loc[self.proxies["predicted_platform"] == platform, "measured_platform"].tolist()

    def stood_in_for(self, platform: str) -> list[str]:
        """The predicted platforms whose declared proxy `platform` is."""
        return self.proxies.loc[self.proxies["measured_platform"] == platform, "predicted_platform"].tolist()

    def _slice(self, name: str, keys: tuple[str, ...], key: Any) -> pd.DataFrame:
        frame = getattr(self, name)
        if (name, keys) not in self._slices:
            self._slices[(name, keys)] = _split(frame, list(keys) if len(keys) > 1 else keys[0])
        return self._slices[(name, keys)].get(key, frame.iloc[0:0])


def _environments(store: Store, run_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    if not run_ids:
        return {}
    rows = store.execute("SELECT run_id, environment FROM runs WHERE run_id IN (SELECT unnest(?))", [run_ids])
    return {run_id: flatten_environment(environment) for run_id, environment in rows.rows}


def flatten_environment(environment: str | dict[str, Any] | None) -> list[tuple[str, str]]:
    """A run's fingerprint as sorted (dotted key, text) pairs: {"cuda": {"version": "12"}} -> ("cuda.version", "12")."""
    if environment is None:
        return []
    value = json.loads(environment) if isinstance(environment, str) else environment
    pairs: list[tuple[str, str]] = []
    _flatten("", value, pairs)
    return sorted(pairs)


def _flatten(prefix: str, value: Any, into: list[tuple[str, str]]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, into)
    elif isinstance(value, list):
        into.append((prefix, ", ".join(str(item) for item in value)))
    else:
        into.append((prefix, "" if value is None else str(value)))


def _split(frame: pd.DataFrame, keys: list[str] | str) -> dict[Any, pd.DataFrame]:
    """`frame`'s rows per value of `keys`, in one pass (pages take their slice by key)."""
    return {key: group.reset_index(drop=True) for key, group in frame.groupby(keys, sort=False)}


def _sorted(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    return frame.sort_values(list(keys), kind="mergesort", na_position="last").reset_index(drop=True)
