"""The prediction side of `parity compare`: how each predictor's error per predicted platform
moved between two runs, and which predictor version scores each side.

Cells and their classes are reporter.compare's; this module only pairs predictions with each
run's measurements (the store's `pair_quantities`, as the `quantity_comparisons` view pairs them) and
summarises the errors with reporter.metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from collectors.vocabulary import LATENCY
from reporter.metrics import ErrorStats, error_stats
from reporter.run_cells import RUN_CELLS
from reporter.store import Store

if TYPE_CHECKING:  # only annotations: reporter.compare imports this module
    from reporter.compare import RunRef

Versions = list[tuple[str | None, dt.datetime | None]]  # (version, when it first predicted), oldest first


@dataclass(frozen=True)
class PredictionShift:
    """How one predictor's error on one predicted platform moved from base to head.

    before: the base predictor version's predictions against the base run's measurements;
    after: the head predictor version's against the head run's. With one version on both sides
    the move is the hardware's; with the same measurements it would be the predictor's.
    """

    predictor: str
    method: str  # the measured figure scored: caller latency (synced-e2e) or device time (device-busy)
    platform: str  # the predicted platform
    measured_platform: str  # differs from `platform` for a declared proxy
    base_version: str | None  # None: the predictions that carry no version
    head_version: str | None
    before: ErrorStats | None  # None: nothing scored on that side (`notes` says why)
    after: ErrorStats | None
    notes: tuple[str, ...] = ()  # a side without a version for the platform, or without comparisons

    @property
    def is_proxy(self) -> bool:
        return self.measured_platform != self.platform


def prediction_shifts(
    store: Store,
    base: RunRef,
    head: RunRef,
    methods: Sequence[str],
    platform: str | None = None,
    *,
    base_version: str | None = None,
    head_version: str | None = None,
) -> list[PredictionShift]:
    """How each predictor's error per predicted platform moved between the two runs.

    Parameters:
        base, head: the runs whose measurements the two sides are scored against.
        methods: timing methods of the measurements scored, each scored apart.
        platform: score only measurements of this (measured) platform; None: all.
        base_version, head_version: the predictor version of each side; None: chosen as below.
    Versions are chosen per (predictor, predicted platform), among the versions that predicted
    that platform (one that never did cannot score it): the one given, else for head the newest
    (by when the version first predicted anything: the predictor under test, as a PR's
    predictions are made after its devices benchmarked), and for base the newest first predicted
    before the head run started (the one in use until then), or head's where there is none. A
    side whose version never predicted the platform, or whose predictions meet none of its run's
    measurements, is kept with no figures and a note saying so.
    """
    before, after = (_run_errors(store, run, methods, platform) for run in (base, head))
    versions = _versions(store)
    shifts = []
    for predictor, method, predicted, measured in sorted(set(_groups(before)) | set(_groups(after))):
        known = versions.get((predictor, predicted), [])
        new = head_version if head_version is not None else known[-1][0]
        old = base_version if base_version is not None else _newest_before(known, head.started_at, new)
        sides, notes = [], []
        for side, frame, version, run in (("base", before, old, base), ("head", after, new, head)):
            stats = _stats_of(_of_version(frame, predictor, version), method, predicted, measured)
            if version not in {v for v, _ in known}:
                notes.append(f"{side}: version {version_text(version)} never predicted this platform")
            elif stats is None:
                notes.append(
                    f"{side}: version {version_text(version)}'s predictions meet no measurement of run {run.run_id}"
                )
            sides.append(stats)
        shifts.append(PredictionShift(predictor, method, predicted, measured, old, new, *sides, notes=tuple(notes)))
    return shifts


def version_text(version: str | None) -> str:
    """A predictor version as shown: the predictions that carry none are "(unversioned)"."""
    return "(unversioned)" if version is None else version


def _groups(frame: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    return list(zip(frame["predictor"], frame["method"], frame["platform"], frame["measured_platform"], strict=True))


def _stats_of(frame: pd.DataFrame, method: str, platform: str, measured: str) -> ErrorStats | None:
    group = frame[
        (frame["method"] == method) & (frame["platform"] == platform) & (frame["measured_platform"] == measured)
    ]
    return error_stats(group) if len(group) else None


def _of_version(frame: pd.DataFrame, predictor: str, version: str | None) -> pd.DataFrame:
    same_version = frame["predictor_version"].isna() if version is None else frame["predictor_version"] == version
    return frame[(frame["predictor"] == predictor) & same_version]


def _run_errors(store: Store, run: RunRef, methods: Sequence[str], platform: str | None) -> pd.DataFrame:
    """Every prediction's latency against the run's measurements, joined as the `comparisons`
    view joins."""
    return store.frame(
        f"""WITH cells AS ({RUN_CELLS})
            SELECT predictor, predictor_version, method, platform, measured_platform, predicted, measured,
                   ratio, abs_error_pct
            FROM pair_quantities(predictions, cells)
            WHERE quantity = $latency AND ($platform IS NULL OR measured_platform = $platform)
            ORDER BY ALL""",
        {"run_id": run.run_id, "methods": list(methods), "platform": platform, "latency": LATENCY},
    )


def _versions(store: Store) -> dict[tuple[str, str], Versions]:
    """For every (predictor, predicted platform): the versions that predicted it, each with when
    the version first predicted anything, oldest first.

    First, not last: a nightly job re-predicts with the current version every night, which must
    not make an old version look new.
    """
    versions: dict[tuple[str, str], Versions] = {}
    for predictor, platform, version, first in store.execute(
        """WITH firsts AS (SELECT predictor, predictor_version, min(predicted_at) AS first
                               FROM predictions GROUP BY ALL)
               SELECT DISTINCT p.predictor, p.platform, p.predictor_version, f.first
               FROM predictions p JOIN firsts f ON f.predictor = p.predictor
                    AND f.predictor_version IS NOT DISTINCT FROM p.predictor_version
               ORDER BY p.predictor, p.platform, f.first NULLS FIRST, p.predictor_version NULLS FIRST"""
    ).rows:
        versions.setdefault((predictor, platform), []).append((version, first))
    return versions


def _newest_before(versions: Versions, moment: dt.datetime, otherwise: str | None) -> str | None:
    earlier = [version for version, first in versions if first is not None and first < moment]
    return earlier[-1] if earlier else otherwise
