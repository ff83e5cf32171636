"""What every report page shows, computed from the store before any HTML exists.

The report's pages render only from these typed contexts (index, one per platform, one per
model x platform). Work over history (measurements, predictions) is aggregated in DuckDB; pandas
only sees the small frames that come back: the newest cells, per-run history already bucketed,
and the current comparisons. Every frame is sorted on all its key columns, so the same database
gives the same pages.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from reporter.metrics import ErrorStats, error_stats, grouped_error_stats
from reporter.store import Store

# Alma's own loop mis-times GPU work (DESIGN.md), so its numbers are shown beside Parity's
# on model pages but never scored against predictions.
UNSCORED_METHOD = "alma"
HISTORY_POINTS = 120  # per series: longer histories are bucketed (median of each bucket)
RUNS_LISTED = 100  # newest runs on the index; the total is shown beside
CELL = ["model", "platform", "precision", "batch_size"]
# Predictor versions are listed per group, not grouped by: files of one release written by
# different graphs tools carry a version or none, and splitting on that would split the release.
GROUP_KEYS = ["precision", "batch_size", "method", "conversion", "measured_platform"]


@dataclass(frozen=True)
class Marker:
    """A point to mark on a history chart, such as a change point found by `parity compare`."""

    at: datetime  # x position: when the changed run was measured
    label: str  # shown on hover, e.g. "+12 % (p = 0.001)"
    series: str | None = None  # the history series it belongs to (conversion name); None: all


@dataclass(frozen=True)
class Headline:
    """The headline scores direct comparisons only (measured on the predicted platform itself);
    comparisons through a declared proxy platform are scored apart, in proxy_stats."""

    models: int
    platforms: int
    stats: ErrorStats  # direct comparisons; stats.count is their number
    proxy_stats: ErrorStats  # comparisons whose measurements come from a declared proxy


@dataclass(frozen=True)
class MatrixCell:
    median_signed_error_pct: float
    median_ape: float
    comparisons: int
    is_proxy: bool


@dataclass(frozen=True)
class Matrix:
    """Model x platform, one per precision: the median signed error of each cell's comparisons."""

    precision: str
    models: list[str]
    platforms: list[str]
    cells: dict[tuple[str, str], MatrixCell]

    def cell(self, model: str, platform: str) -> MatrixCell | None:
        return self.cells.get((model, platform))


@dataclass(frozen=True)
class IndexContext:
    headline: Headline
    matrices: list[Matrix]
    platforms: list[str]
    platform_stats: pd.DataFrame  # platform, measured_platform, precision, batch_size + ErrorStats, is_proxy
    unmatched_predictions: pd.DataFrame  # model, platform, precision, batch_size, predictor, latency_ms
    unmatched_measurements: pd.DataFrame  # model, platform, precision, batch_size, methods, conversions
    failures: pd.DataFrame  # newest failed cells: model, platform, ..., status, failure_kind, message
    runs: pd.DataFrame  # newest RUNS_LISTED runs with their measurement counts
    runs_total: int


@dataclass(frozen=True)
class PlatformContext:
    platform: str
    stats: ErrorStats  # direct comparisons only
    proxy_stats: ErrorStats  # comparisons measured on a declared proxy
    groups: pd.DataFrame  # GROUP_KEYS + ErrorStats columns + is_proxy, predictor_versions
    comparisons: pd.DataFrame  # current comparisons on this (predicted) platform
    model_errors: pd.DataFrame  # model, precision, batch_size, median signed/abs error, comparisons, is_proxy
    speedups: pd.DataFrame  # newest run's speedup per model, precision, batch_size, method, conversion
    models: list[str]  # models with a page on this platform
    failures: pd.DataFrame
    proxies: list[str] = field(default_factory=list)  # declared proxies measured for this platform
    proxy_for: list[str] = field(default_factory=list)  # platforms this one's measurements stand in for


@dataclass(frozen=True)
class ModelPlatformContext:
    model: str
    platform: str
    # Measurement frames (latencies, speedups, history, alma_vs_parity, failures) hold this
    # platform's rows and those of its declared proxies (`proxies`); their `platform` column says which.
    latencies: pd.DataFrame  # newest ok measurement per conversion: ..., method, median, p05, p95
    predictions: pd.DataFrame  # newest prediction per precision, batch_size, predictor
    comparisons: pd.DataFrame
    speedups: pd.DataFrame
    history: pd.DataFrame  # precision, batch_size, conversion, method, point_at, median, runs (bucketed)
    predicted_history: pd.DataFrame  # precision, batch_size, predictor, point_at, latency_ms, runs
    alma_vs_parity: pd.DataFrame  # platform, precision, batch_size, conversion, alma_ms, parity_ms, alma_over_parity
    run_id: str | None  # the run of the newest measurement, whose environment is shown
    environment: list[tuple[str, str]]  # flattened fingerprint, sorted by key
    failures: pd.DataFrame
    subgraphs: pd.DataFrame  # precision, batch_size, subgraph_id, ops, predicted_ms, measured_ms
    change_points: tuple[Marker, ...] = ()
    run_platform: str | None = None  # the platform run_id measured (a proxy's name on a proxied page)
    proxies: tuple[str, ...] = ()  # declared proxies whose measurements of this model are shown here
    proxy_for: tuple[str, ...] = ()  # predicted platforms (with a page for this model) this one stands in for


@dataclass(frozen=True)
class SiteContext:
    index: IndexContext
    platforms: list[PlatformContext]
    models: list[ModelPlatformContext]
    comparisons: pd.DataFrame = field(repr=False)  # all current comparisons (for summaries)


ChangePoints = Mapping[tuple[str, str], Sequence[Marker]]  # (model, platform) -> markers


def load_site(store: Store, *, change_points: ChangePoints | None = None) -> SiteContext:
    """Every page context of the report.

    change_points: markers for the history charts, keyed by (model, platform), such as
        `reporter.nightly.history_change_points(store)`. Pages without an entry get none.
    """
    frames = _Frames.load(store)
    pairs = _model_platform_pairs(frames)
    known = set(pairs)
    platforms = sorted({platform for _, platform in pairs} | set(frames.comparisons["platform"]))
    return SiteContext(
        index=_index_context(store, frames, pairs, platforms),
        platforms=[_platform_context(frames, name, pairs) for name in platforms],
        models=[_model_context(frames, model, platform, (change_points or {}).get((model, platform), ()), known)
                for model, platform in pairs],
        comparisons=frames.comparisons,
    )


# -- site-wide queries: each runs once, pages take their slice --------------------------------


@dataclass(frozen=True)
class _Frames:
    comparisons: pd.DataFrame
    predictions: pd.DataFrame
    latest: pd.DataFrame
    speedups: pd.DataFrame
    history: pd.DataFrame
    predicted_history: pd.DataFrame
    subgraphs: pd.DataFrame
    environments: dict[str, str]
    proxies: pd.DataFrame  # measured_platform, predicted_platform: the declared proxies
    _slices: dict[tuple[str, tuple[str, ...]], dict[Any, pd.DataFrame]] = field(default_factory=dict)

    def by_platform(self, name: str, platform: str) -> pd.DataFrame:
        return self._slice(name, ("platform",), platform)

    def by_page(self, name: str, model: str, platform: str) -> pd.DataFrame:
        return self._slice(name, ("model", "platform"), (model, platform))

    def _slice(self, name: str, keys: tuple[str, ...], key: Any) -> pd.DataFrame:
        frame = getattr(self, name)
        if (name, keys) not in self._slices:
            self._slices[(name, keys)] = _split(frame, list(keys) if len(keys) > 1 else keys[0])
        return self._slices[(name, keys)].get(key, frame.iloc[0:0])

    @classmethod
    def load(cls, store: Store) -> "_Frames":
        latest = _sorted(store.frame("SELECT * FROM latest"), CELL + ["conversion", "method", "device"])
        return cls(
            comparisons=_sorted(store.frame(CURRENT_COMPARISONS),
                                CELL + ["conversion", "method", "measured_platform", "device", "predictor"]),
            predictions=_sorted(store.frame(NEWEST_PREDICTIONS), CELL + ["predictor"]),
            latest=latest,
            speedups=_sorted(store.frame(NEWEST_SPEEDUPS, [UNSCORED_METHOD]),
                             CELL + ["method", "device", "conversion"]),
            history=store.frame(MEASURED_HISTORY, [HISTORY_POINTS]),
            predicted_history=store.frame(PREDICTED_HISTORY, [HISTORY_POINTS]),
            subgraphs=store.frame(SUBGRAPHS),
            environments=_environments(store, latest["run_id"].dropna().unique().tolist()),
            proxies=store.frame("SELECT measured_platform, predicted_platform FROM proxies "
                                "WHERE measured_platform <> predicted_platform ORDER BY ALL"),
        )

    def stand_ins(self, platform: str) -> list[str]:
        """The declared proxies measured in place of `platform`."""
        return self.proxies.loc[self.proxies["predicted_platform"] == platform, "measured_platform"].tolist()

    def stood_in_for(self, platform: str) -> list[str]:
        """The predicted platforms whose declared proxy `platform` is."""
        return self.proxies.loc[self.proxies["measured_platform"] == platform, "predicted_platform"].tolist()


# The newest prediction per model, platform, precision, batch size and predictor: the store's view.
NEWEST_PREDICTIONS = "SELECT * EXCLUDE (raw) FROM newest_predictions"

# The scored comparisons: the store's `current_comparisons` view (newest prediction of each cell
# against the newest measurements, Alma's own loop excluded), the same rows `parity query` sees.
CURRENT_COMPARISONS = "SELECT * FROM current_comparisons"

NEWEST_SPEEDUPS = """
    SELECT s.*, r.started_at FROM speedups s JOIN runs r USING (run_id)
    WHERE s.method <> ? AND s.conversion <> 'EAGER'
    QUALIFY row_number() OVER (
        PARTITION BY s.model, s.platform, s.precision, s.batch_size, s.method, s.device, s.conversion
        ORDER BY r.started_at DESC, s.run_id DESC) = 1"""


def _bucketed(points: str, keys: list[str], value: str) -> str:
    """SQL for the history of each series in `points` (columns: keys, point_at, value).

    A series of up to $1 points keeps one point per time; a longer one is cut into $1 equal
    spans of time, each drawn as the median of its points at the time of its first (`runs` says
    how many): the chart stays readable and the page small however long the history. A hash
    aggregate, no sort over the history: this is the report's biggest query.
    """
    columns, qualified = ", ".join(keys), ", ".join(f"p.{key}" for key in keys)
    return f"""
    WITH points AS ({points}),
    spans AS (
        SELECT {columns}, count(*) AS n, epoch_ms(min(point_at)) AS first_ms,
               epoch_ms(max(point_at)) - epoch_ms(min(point_at)) + 1 AS span_ms
        FROM points GROUP BY {columns})
    SELECT {qualified}, min(p.point_at) AS point_at, median(p.{value}) AS {value}, count(*) AS runs
    FROM points p JOIN spans s USING ({columns})
    GROUP BY {qualified},
             CASE WHEN s.n <= $1 THEN epoch_ms(p.point_at)
                  ELSE (epoch_ms(p.point_at) - s.first_ms) * $1 // s.span_ms END
    ORDER BY {qualified}, point_at"""


MEASURED_HISTORY = _bucketed("""
    SELECT m.model, m.platform, m.precision, m.batch_size, m.conversion, m.method,
           coalesce(m.measured_at, r.started_at) AS point_at, m.median
    FROM measurements m JOIN runs r USING (run_id)
    WHERE m.status = 'ok' AND m.median > 0""",
    CELL + ["conversion", "method"], "median")

PREDICTED_HISTORY = _bucketed("""
    SELECT model, platform, precision, batch_size, predictor, predicted_at AS point_at, latency_ms
    FROM predictions
    WHERE predicted_at IS NOT NULL""",  # a prediction with no time has no place in a history
    CELL + ["predictor"], "latency_ms")

# Both sides of graphs' per-subgraph detail; where several files carry the same side of a cell,
# the first source (by id) wins, so the rows never mix two analyses.
SUBGRAPHS = """
    WITH chosen AS (
        SELECT side, model, platform, precision, batch_size, min(source_id) AS source_id
        FROM subgraphs GROUP BY ALL)
    SELECT s.model, s.platform, s.precision, s.batch_size, s.subgraph_id,
           any_value(s.ops ORDER BY s.side DESC) AS ops,
           max(s.latency_ms) FILTER (WHERE s.side = 'predicted') AS predicted_ms,
           max(s.latency_ms) FILTER (WHERE s.side = 'measured') AS measured_ms
    FROM subgraphs s JOIN chosen USING (side, model, platform, precision, batch_size, source_id)
    GROUP BY s.model, s.platform, s.precision, s.batch_size, s.subgraph_id
    HAVING predicted_ms IS NOT NULL AND measured_ms IS NOT NULL
    ORDER BY s.model, s.platform, s.precision, s.batch_size, try_cast(s.subgraph_id AS BIGINT) NULLS LAST,
             s.subgraph_id"""


def _environments(store: Store, run_ids: list[str]) -> dict[str, str]:
    if not run_ids:
        return {}
    rows = store.execute("SELECT run_id, environment FROM runs WHERE run_id IN (SELECT unnest(?))", [run_ids])
    return {run_id: environment for run_id, environment in rows.rows}


def _model_platform_pairs(frames: _Frames) -> list[tuple[str, str]]:
    keys = pd.concat([frames.predictions[["model", "platform"]], frames.latest[["model", "platform"]]])
    return sorted(set(keys.itertuples(index=False, name=None)))


# -- index ---------------------------------------------------------------------------------------


def _index_context(store: Store, frames: _Frames, pairs: list[tuple[str, str]], platforms: list[str]) -> IndexContext:
    comparisons = frames.comparisons
    runs = store.frame(RUNS, [RUNS_LISTED])
    return IndexContext(
        headline=_headline(comparisons, pairs, platforms),
        matrices=[_matrix(group, precision) for precision, group in comparisons.groupby("precision", sort=True)],
        platforms=platforms,
        platform_stats=_platform_stats(comparisons),
        unmatched_predictions=_unmatched_predictions(frames),
        unmatched_measurements=_unmatched_measurements(frames),
        failures=_failures(frames.latest),
        runs=runs,
        runs_total=int(store.execute("SELECT count(*) FROM runs").single_value()),
    )


RUNS = """
    SELECT r.run_id, r.kind, r.started_at, r.finished_at, r.host, r.platform, r.label, r.git_sha,
           coalesce(m.measurements, 0) AS measurements, coalesce(m.failed, 0) AS failed
    FROM runs r LEFT JOIN (
        SELECT run_id, count(*) AS measurements, count(*) FILTER (WHERE status <> 'ok') AS failed
        FROM measurements GROUP BY run_id) m USING (run_id)
    ORDER BY r.started_at DESC, r.run_id LIMIT ?"""


def _headline(comparisons: pd.DataFrame, pairs: list[tuple[str, str]], platforms: list[str]) -> Headline:
    """Scores over the direct comparisons, proxy ones apart (a proxy's error is not the predicted
    platform's); models and platforms counted over every page, compared or not."""
    proxy = comparisons["is_proxy"].astype(bool)
    return Headline(
        models=len({model for model, _ in pairs}),
        platforms=len(platforms),
        stats=error_stats(comparisons[~proxy]),
        proxy_stats=error_stats(comparisons[proxy]),
    )


def _platform_stats(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Per platform, precision and batch size; a proxy's comparisons get rows of their own."""
    stats = grouped_error_stats(comparisons, ["platform", "measured_platform", "precision", "batch_size"])
    stats["is_proxy"] = (stats["platform"] != stats["measured_platform"]) if len(stats) else []
    return stats


def _matrix(comparisons: pd.DataFrame, precision: str) -> Matrix:
    cells = comparisons.groupby(["model", "platform"], sort=True).agg(
        median_signed_error_pct=("signed_error_pct", "median"), median_ape=("abs_error_pct", "median"),
        comparisons=("ratio", "size"), is_proxy=("is_proxy", "any"))
    return Matrix(
        precision=precision,
        models=sorted(comparisons["model"].unique()),
        platforms=sorted(comparisons["platform"].unique()),
        cells={key: MatrixCell(float(row.median_signed_error_pct), float(row.median_ape), int(row.comparisons),
                               bool(row.is_proxy)) for key, row in cells.iterrows()},
    )


def _unmatched_predictions(frames: _Frames) -> pd.DataFrame:
    matched = frames.comparisons[CELL + ["predictor"]].drop_duplicates()
    predictions = frames.predictions[CELL + ["predictor", "latency_ms"]]
    return _anti_join(predictions, matched, CELL + ["predictor"])


def _unmatched_measurements(frames: _Frames) -> pd.DataFrame:
    scored = frames.latest[(frames.latest["status"] == "ok") & (frames.latest["method"] != UNSCORED_METHOD)]
    matched = frames.comparisons[["model", "measured_platform", "precision", "batch_size"]].drop_duplicates()
    matched = matched.rename(columns={"measured_platform": "platform"})
    unmatched = _anti_join(scored, matched, CELL)
    grouped = unmatched.groupby(CELL, sort=True).agg(
        methods=("method", _joined),
        conversions=("conversion", "nunique"))
    return grouped.reset_index()


def _anti_join(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    merged = left.merge(right, on=keys, how="left", indicator=True)
    return merged[merged["_merge"] == "left_only"].drop(columns="_merge").reset_index(drop=True)


def _failures(latest: pd.DataFrame) -> pd.DataFrame:
    columns = CELL + ["conversion", "method", "device", "status", "failure_kind", "message", "measured_at", "run_id"]
    return latest.loc[latest["status"] != "ok", columns].reset_index(drop=True)


# -- platform pages ------------------------------------------------------------------------------


def _platform_context(frames: _Frames, platform: str, pairs: list[tuple[str, str]]) -> PlatformContext:
    comparisons = frames.by_platform("comparisons", platform)
    proxy = comparisons["is_proxy"].astype(bool)
    return PlatformContext(
        platform=platform,
        stats=error_stats(comparisons[~proxy]),
        proxy_stats=error_stats(comparisons[proxy]),
        groups=_group_stats(comparisons),
        comparisons=comparisons,
        model_errors=_model_errors(comparisons),
        speedups=frames.by_platform("speedups", platform),
        models=[model for model, name in pairs if name == platform],
        failures=_failures(frames.by_platform("latest", platform)),
        proxies=frames.stand_ins(platform),
        proxy_for=frames.stood_in_for(platform),
    )


def _group_stats(comparisons: pd.DataFrame) -> pd.DataFrame:
    groups = grouped_error_stats(comparisons, GROUP_KEYS)
    versions = comparisons.groupby(GROUP_KEYS, sort=True, dropna=False)["predictor_version"].agg(_joined)
    groups["predictor_versions"] = versions.to_numpy() if len(groups) else []
    groups["is_proxy"] = groups["measured_platform"] != comparisons["platform"].iloc[0] if len(comparisons) else []
    return groups


def _joined(values: pd.Series) -> str:
    return ", ".join(sorted({str(v) for v in values.dropna()}))


def _model_errors(comparisons: pd.DataFrame) -> pd.DataFrame:
    # Proxy comparisons get bars of their own: a proxy's error is not the platform's.
    return comparisons.groupby(["model", "precision", "batch_size", "is_proxy"], sort=True).agg(
        median_signed_error_pct=("signed_error_pct", "median"), median_ape=("abs_error_pct", "median"),
        comparisons=("ratio", "size")).reset_index()


# -- model x platform pages ------------------------------------------------------------------------


def _model_context(frames: _Frames, model: str, platform: str, markers: Sequence[Marker],
                   pairs: set[tuple[str, str]]) -> ModelPlatformContext:
    page = lambda name: frames.by_page(name, model, platform)
    # A declared proxy's measurements of this model are shown here too (labelled): they are what
    # this platform's predictions are compared against.
    proxies = [name for name in frames.stand_ins(platform) if len(frames.by_page("latest", model, name))]
    measured = lambda name: pd.concat([page(name)] + [frames.by_page(name, model, p) for p in proxies],
                                      ignore_index=True) if proxies else page(name)
    latest = measured("latest")
    ok = latest[latest["status"] == "ok"].reset_index(drop=True)
    run_id, run_platform = _newest_run(latest)
    return ModelPlatformContext(
        model=model,
        platform=platform,
        latencies=ok,
        predictions=page("predictions"),
        comparisons=page("comparisons"),
        speedups=measured("speedups"),
        history=measured("history"),
        predicted_history=page("predicted_history"),
        alma_vs_parity=_alma_vs_parity(ok),
        run_id=run_id,
        environment=flatten_environment(frames.environments.get(run_id)) if run_id else [],
        failures=_failures(latest),
        subgraphs=page("subgraphs"),
        change_points=tuple(sorted(markers, key=lambda marker: (marker.at, marker.series or "", marker.label))),
        run_platform=run_platform,
        proxies=tuple(proxies),
        proxy_for=tuple(name for name in frames.stood_in_for(platform) if (model, name) in pairs),
    )


def _alma_vs_parity(latencies: pd.DataFrame) -> pd.DataFrame:
    keys = ["platform", "precision", "batch_size", "conversion", "device"]
    of = lambda method, name: latencies.loc[latencies["method"] == method, keys + ["median"]].rename(
        columns={"median": name})
    alma, parity = of("alma", "alma_ms"), of("synced-e2e", "parity_ms")
    both = alma.merge(parity, on=keys, how="inner").sort_values(keys, kind="mergesort")
    both["alma_over_parity"] = both["alma_ms"] / both["parity_ms"]
    return both.reset_index(drop=True)


def _newest_run(latest: pd.DataFrame) -> tuple[str | None, str | None]:
    """The run of the newest measurement, and the platform it measured."""
    if latest.empty:
        return None, None
    newest = latest.sort_values(["measured_at", "run_id", "platform"], ascending=False, kind="mergesort",
                                na_position="last")
    return str(newest["run_id"].iloc[0]), str(newest["platform"].iloc[0])


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


# -- helpers -------------------------------------------------------------------------------------


def _split(frame: pd.DataFrame, keys: list[str]) -> dict[Any, pd.DataFrame]:
    """`frame`'s rows per value of `keys`, in one pass (pages take their slice by key)."""
    return {key: group.reset_index(drop=True) for key, group in frame.groupby(keys, sort=False)}


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="mergesort", na_position="last").reset_index(drop=True)
