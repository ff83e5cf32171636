"""The context of one model x platform page: its slice of every site-wide frame (with its declared
proxies' measurements), the twins of its series, its newest run and the change points to mark.
reporter.analysis builds one per page; the types live here, beside the code that fills them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import pandas as pd

from collectors.vocabulary import OK, SERIES
from reporter.report_queries import SiteFrames
from reporter.twins import Twins


@dataclass(frozen=True)
class Marker:
    """A point to mark on a history chart, such as a change point that
    `reporter.nightly.history_change_points` found in a series' nightly medians."""

    at: datetime  # x position: when the changed run was measured
    label: str  # shown on hover, e.g. "+12 % (p = 0.001)"
    series: str | None = None  # the history series it belongs to (conversion name); None: all


@dataclass(frozen=True)
class ModelPlatformContext:
    model: str
    platform: str
    # Measurement frames (latencies, speedups, history, alma_vs_parity, failures) hold this
    # platform's rows and those of its declared proxies (`proxies`); their `platform` column says which.
    latencies: pd.DataFrame  # newest ok measurement per series: ..., method, median, p05, p95, energy, memory
    predictions: pd.DataFrame  # newest prediction per precision, batch_size, predictor
    comparisons: pd.DataFrame  # every quantity
    split: pd.DataFrame  # per timed series with a device-busy twin: caller_ms, device_ms, host_ms
    speedups: pd.DataFrame
    # vocabulary.SERIES, point_at, median, runs (bucketed): one series per conversion, method and
    # device (a platform benched on CPU and CUDA is two series)
    history: pd.DataFrame
    predicted_history: pd.DataFrame  # vocabulary.PREDICTION_KEY, point_at, latency_ms, runs
    # platform, precision, batch_size, conversion, device, alma_ms, parity_ms, alma_over_parity
    alma_vs_parity: pd.DataFrame
    run_id: str | None  # the run of the newest measurement, whose environment is shown
    environment: list[tuple[str, str]]  # flattened fingerprint, sorted by key
    failures: pd.DataFrame
    subgraphs: pd.DataFrame  # precision, batch_size, subgraph_id, ops, predicted_ms, measured_ms, measured_by
    change_points: tuple[Marker, ...] = ()
    run_platform: str | None = None  # the platform run_id measured (a proxy's name on a proxied page)
    proxies: tuple[str, ...] = ()  # declared proxies whose measurements of this model are shown here
    proxy_for: tuple[str, ...] = ()  # predicted platforms (with a page for this model) this one stands in for


def newest_failures(latest: pd.DataFrame) -> pd.DataFrame:
    """The failed measurements among `latest` (the newest measurement of each series)."""
    columns = [*SERIES, "status", "failure_kind", "message", "measured_at", "run_id"]
    return latest.loc[latest["status"] != OK, columns].reset_index(drop=True)


def model_context(
    frames: SiteFrames, twins: Twins, model: str, platform: str, markers: Sequence[Marker], pairs: set[tuple[str, str]]
) -> ModelPlatformContext:
    """The page of `model` on `platform`; `pairs` are the site's (model, platform) pages."""
    page = partial(frames.by_page, model=model, platform=platform)
    # A declared proxy's measurements of this model are shown here too (labelled): they are what
    # this platform's predictions are compared against.
    proxies = [name for name in frames.stand_ins(platform) if len(frames.by_page("latest", model, name))]
    measured = partial(_measured, frames, model=model, platforms=[platform, *proxies])
    latest = measured("latest")
    ok = latest[latest["status"] == OK].reset_index(drop=True)
    run_id, run_platform = _newest_run(latest)
    split, alma_vs_parity = twins.of_page(model, [platform, *proxies])
    return ModelPlatformContext(
        model=model,
        platform=platform,
        latencies=ok,
        predictions=page("predictions"),
        comparisons=page("comparisons"),
        split=split,
        speedups=measured("speedups"),
        history=measured("history"),
        predicted_history=page("predicted_history"),
        alma_vs_parity=alma_vs_parity,
        run_id=run_id,
        environment=frames.environments.get(run_id, []) if run_id else [],
        failures=newest_failures(latest),
        subgraphs=page("subgraphs"),
        change_points=tuple(sorted(markers, key=lambda marker: (marker.at, marker.series or "", marker.label))),
        run_platform=run_platform,
        proxies=tuple(proxies),
        proxy_for=tuple(name for name in frames.stood_in_for(platform) if (model, name) in pairs),
    )


def _measured(frames: SiteFrames, name: str, *, model: str, platforms: list[str]) -> pd.DataFrame:
    """Frame `name`'s rows of `model` on each of `platforms` (the page's, then its proxies')."""
    slices = [frames.by_page(name, model, platform) for platform in platforms]
    return pd.concat(slices, ignore_index=True) if len(slices) > 1 else slices[0]


def _newest_run(latest: pd.DataFrame) -> tuple[str | None, str | None]:
    """The run of the newest measurement, and the platform it measured."""
    if latest.empty:
        return None, None
    newest = latest.sort_values(
        ["measured_at", "run_id", "platform"], ascending=False, kind="mergesort", na_position="last"
    )
    return str(newest["run_id"].iloc[0]), str(newest["platform"].iloc[0])
