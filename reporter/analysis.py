"""What every report page shows, computed from the store before any HTML exists.

The report's pages render only from these typed contexts (index, one per platform, one per
model x platform), built from the frames of the report's queries (reporter.report_queries), which
run once per site.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from collectors.vocabulary import (
    CELL,
    DEVICE_BUSY,
    METHOD_BASIS,
    METHODS,
    OK,
    PREDICTION_KEY,
    QUANTITIES,
    UNSCORED_METHODS,
)
from reporter.metrics import ErrorStats, error_stats, grouped_error_stats
from reporter.model_context import Marker, ModelPlatformContext, model_context, newest_failures
from reporter.report_queries import PAGE_KEY, SiteFrames
from reporter.store import Store
from reporter.twins import Twins

# Predictor versions are listed per group, not grouped by: files of one release written by
# different graphs tools carry a version or none, and splitting on that would split the release.
GROUP_KEYS = ["quantity", "precision", "batch_size", "method", "conversion", "measured_platform", "is_proxy"]
# A score is of one quantity against one measured figure (method), direct or through a proxy.
SCORE_KEYS = ["quantity", "method", "is_proxy"]
WORST_SUBGRAPHS = 10  # listed on a platform page
_BASIS = {q.name: q.basis for q in QUANTITIES}  # quantity -> what it is compared with, None: by method
# A matrix cell's or a model bar's figures (MatrixCell's fields), as pandas named aggregations.
ERROR_SUMMARY = {
    "median_signed_error_pct": ("signed_error_pct", "median"),
    "median_ape": ("abs_error_pct", "median"),
    "comparisons": ("ratio", "size"),
}


@dataclass(frozen=True)
class Score:
    """The errors of one predicted quantity against one measured figure: latency against caller
    latency (synced-e2e) or device time (device-busy), energy, memory. Comparisons through a
    declared proxy platform are a score of their own: a proxy's error is not the platform's."""

    quantity: str
    method: str
    is_proxy: bool
    stats: ErrorStats

    @property
    def figure(self) -> str:
        """What the predictions were compared with, in words: "caller latency", "measured peak"."""
        return _BASIS.get(self.quantity) or METHOD_BASIS.get(self.method, self.method)


@dataclass(frozen=True)
class Headline:
    """One score per quantity and measured figure, direct comparisons first (vocabulary order)."""

    models: int
    platforms: int
    scores: list[Score]


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
    # platform, measured_platform, quantity, method, precision, batch_size, is_proxy + ErrorStats
    platform_stats: pd.DataFrame
    unmatched_predictions: pd.DataFrame  # model, platform, precision, batch_size, predictor, latency_ms
    unmatched_measurements: pd.DataFrame  # model, platform, precision, batch_size, methods, conversions
    failures: pd.DataFrame  # newest failed cells: model, platform, ..., status, failure_kind, message
    runs: pd.DataFrame  # newest report_queries.RUNS_LISTED runs with their measurement counts
    runs_total: int


@dataclass(frozen=True)
class PlatformContext:
    platform: str
    scores: list[Score]
    groups: pd.DataFrame  # GROUP_KEYS + ErrorStats columns + predictor_versions
    comparisons: pd.DataFrame  # current comparisons on this (predicted) platform
    model_errors: pd.DataFrame  # quantity, model, precision, batch_size, method, is_proxy + median errors, comparisons
    speedups: pd.DataFrame  # newest run's speedup per model, precision, batch_size, method, conversion
    error_sources: pd.DataFrame  # operation_errors rows: the error by operation type, most time missed first
    worst_subgraphs: pd.DataFrame  # the WORST_SUBGRAPHS subgraphs that miss the most time, either way
    models: list[str]  # models with a page on this platform
    failures: pd.DataFrame
    proxies: list[str] = field(default_factory=list)  # declared proxies measured for this platform
    proxy_for: list[str] = field(default_factory=list)  # platforms this one's measurements stand in for


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
    frames = SiteFrames.load(store)
    pairs = _model_platform_pairs(frames)
    known = set(pairs)
    platforms = sorted({platform for _, platform in pairs})
    twins = Twins.pair(frames.latest)
    return SiteContext(
        index=_index_context(frames, pairs, platforms),
        platforms=[_platform_context(frames, name, pairs) for name in platforms],
        models=[
            model_context(frames, twins, model, platform, (change_points or {}).get((model, platform), ()), known)
            for model, platform in pairs
        ],
        comparisons=frames.comparisons,
    )


def _model_platform_pairs(frames: SiteFrames) -> list[tuple[str, str]]:
    keys = pd.concat([frames.predictions[list(PAGE_KEY)], frames.latest[list(PAGE_KEY)]])
    return sorted(set(keys.itertuples(index=False, name=None)))


# -- index ---------------------------------------------------------------------------------------


def _index_context(frames: SiteFrames, pairs: list[tuple[str, str]], platforms: list[str]) -> IndexContext:
    comparisons = frames.comparisons
    return IndexContext(
        headline=_headline(comparisons, pairs, platforms),
        matrices=[_matrix(group, precision) for precision, group in end_to_end(comparisons).groupby("precision")],
        platforms=platforms,
        platform_stats=_platform_stats(comparisons),
        unmatched_predictions=_unmatched_predictions(frames),
        unmatched_measurements=_unmatched_measurements(frames),
        failures=newest_failures(frames.latest),
        runs=frames.runs,
        runs_total=frames.runs_total,
    )


def _headline(comparisons: pd.DataFrame, pairs: list[tuple[str, str]], platforms: list[str]) -> Headline:
    """Scores of every quantity and figure; models and platforms counted over every page,
    compared or not."""
    return Headline(models=len({model for model, _ in pairs}), platforms=len(platforms), scores=scores(comparisons))


def scores(comparisons: pd.DataFrame) -> list[Score]:
    """One Score per quantity, measured figure and proxy-or-not present in `comparisons`, in the
    vocabulary's order (latency first, Parity's caller latency first), direct before proxy."""
    order = {
        (q.name, m, proxy): i
        for i, (q, m, proxy) in enumerate((q, m, proxy) for q in QUANTITIES for proxy in (False, True) for m in METHODS)
    }
    groups = comparisons.groupby(SCORE_KEYS, sort=False)
    found = [Score(quantity, method, bool(proxy), error_stats(group)) for (quantity, method, proxy), group in groups]
    return sorted(found, key=lambda score: order.get((score.quantity, score.method, score.is_proxy), len(order)))


def end_to_end(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The latency comparisons against a whole call (all but device time): what the matrix colours."""
    return comparisons[(comparisons["quantity"] == "latency") & (comparisons["method"] != DEVICE_BUSY)]


def _platform_stats(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Per platform, quantity, figure, precision and batch size; a proxy's comparisons get rows of their own."""
    return grouped_error_stats(
        comparisons, ["platform", "measured_platform", "quantity", "method", "precision", "batch_size", "is_proxy"]
    )


def _matrix(comparisons: pd.DataFrame, precision: str) -> Matrix:
    cells = comparisons.groupby(list(PAGE_KEY), sort=True).agg(**ERROR_SUMMARY, is_proxy=("is_proxy", "any"))
    return Matrix(
        precision=precision,
        models=sorted(comparisons["model"].unique()),
        platforms=sorted(comparisons["platform"].unique()),
        cells={
            key: MatrixCell(
                float(row.median_signed_error_pct), float(row.median_ape), int(row.comparisons), bool(row.is_proxy)
            )
            for key, row in cells.iterrows()
        },
    )


def _unmatched_predictions(frames: SiteFrames) -> pd.DataFrame:
    matched = frames.comparisons[list(PREDICTION_KEY)].drop_duplicates()
    predictions = frames.predictions[[*PREDICTION_KEY, "latency_ms"]]
    return _anti_join(predictions, matched, PREDICTION_KEY)


def _unmatched_measurements(frames: SiteFrames) -> pd.DataFrame:
    latest = frames.latest
    scored = latest[(latest["status"] == OK) & ~latest["method"].isin(UNSCORED_METHODS)]
    # The measured cell of each comparison: a proxy's comparisons match the proxy's measurements.
    matched = frames.comparisons.assign(platform=frames.comparisons["measured_platform"])[list(CELL)]
    unmatched = _anti_join(scored, matched.drop_duplicates(), CELL)
    grouped = unmatched.groupby(list(CELL), sort=True).agg(
        methods=("method", _joined), conversions=("conversion", "nunique")
    )
    return grouped.reset_index()


def _anti_join(left: pd.DataFrame, right: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    merged = left.merge(right, on=list(keys), how="left", indicator=True)
    return merged[merged["_merge"] == "left_only"].drop(columns="_merge").reset_index(drop=True)


# -- platform pages ------------------------------------------------------------------------------


def _platform_context(frames: SiteFrames, platform: str, pairs: list[tuple[str, str]]) -> PlatformContext:
    comparisons = frames.by_platform("comparisons", platform)
    return PlatformContext(
        platform=platform,
        scores=scores(comparisons),
        groups=_group_stats(comparisons),
        comparisons=comparisons,
        model_errors=_model_errors(comparisons),
        speedups=frames.by_platform("speedups", platform),
        error_sources=frames.by_platform("operation_errors", platform),
        worst_subgraphs=_worst_subgraphs(frames.by_platform("subgraphs", platform)),
        models=[model for model, name in pairs if name == platform],
        failures=newest_failures(frames.by_platform("latest", platform)),
        proxies=frames.stand_ins(platform),
        proxy_for=frames.stood_in_for(platform),
    )


def _group_stats(comparisons: pd.DataFrame) -> pd.DataFrame:
    groups = grouped_error_stats(comparisons, GROUP_KEYS)
    versions = comparisons.groupby(GROUP_KEYS, sort=True, dropna=False)["predictor_version"].agg(_joined)
    groups["predictor_versions"] = versions.to_numpy() if len(groups) else []
    return groups


def _worst_subgraphs(subgraphs: pd.DataFrame) -> pd.DataFrame:
    """The subgraphs whose predictions miss the most time (measured − predicted, either way)."""
    ranked = subgraphs.assign(size=subgraphs["missing_ms"].abs()).sort_values(
        ["size", "model", "subgraph_id"], ascending=[False, True, True], kind="mergesort"
    )
    return ranked.head(WORST_SUBGRAPHS).drop(columns="size").reset_index(drop=True)


def _joined(values: pd.Series) -> str:
    return ", ".join(sorted({str(v) for v in values.dropna()}))


def _model_errors(comparisons: pd.DataFrame) -> pd.DataFrame:
    # Proxy comparisons get bars of their own: a proxy's error is not the platform's.
    return (
        comparisons.groupby(["quantity", "model", "precision", "batch_size", "method", "is_proxy"], sort=True)
        .agg(**ERROR_SUMMARY)
        .reset_index()
    )
