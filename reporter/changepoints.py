"""Change points in a nightly series (one cell's median latency, or a platform's error): pure functions.

Rule (documented in docs/workflow.md): night i starts a new level when the `persistence` nights
from i on all lie on the same side of the baseline, each further from it than

    limit = max(min_change_pct % of the baseline, z × 1.4826 × MAD of the spread nights)

where the baseline is the median of up to `window` nights before i, and the spread nights are
up to 3 × `window` nights before i (a longer stretch than the window: the MAD of a few nights is
itself too noisy to bound false alarms), both within the current segment. The robust spread
adapts the limit to how noisy the cell is; the percentage floor keeps a very quiet cell from
paging about changes too small to matter; the persistence rule is what
keeps one odd night (a busy host, a thermal blip) from raising an alarm. After a change the
baseline restarts at the new level, so one step is reported once.

Measured with the defaults on 60-night series with 2 % Gaussian noise (tests/test_changepoints.py):
a 10 % step is confirmed on its third night in over 90 % of series (and later in nearly all the
rest); pure noise raises no alarm in 2,000 series. Noisier cells pay with a few false alarms in
100 series (1.7 % at 4 % noise), as the MAD of a short history sometimes underestimates σ.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from collectors.stats import median, median_abs_dev
from reporter.significance import MAD_TO_SIGMA

SPREAD_NIGHTS = 3  # the spread comes from at most this many windows of nights: long, yet bounded work


@dataclass(frozen=True)
class ChangePoint:
    index: int  # first night of the new level, as an index into the series given
    before: float  # baseline level (median) before the change
    after: float  # median of the confirming nights
    change_pct: float  # (after - before) / before × 100


def find_change_points(
    values: Sequence[float | None],
    *,
    window: int = 20,
    min_history: int = 10,
    persistence: int = 3,
    z: float = 2.5,
    min_change_pct: float = 5.0,
) -> list[ChangePoint]:
    """Every persistent shift in `values`, oldest first.

    Parameters:
        values: one value per night, oldest first; None or NaN marks a missing night (skipped,
            indices still refer to `values`).
        window: at most this many nights before a candidate form its baseline level.
        min_history: nights a segment needs before a change can be declared in it (also the
            fewest nights the spread is estimated from).
        persistence: consecutive nights that must all be beyond the limit, on the same side.
        z: limit in robust standard deviations (1.4826 × MAD) of up to 3 × `window` nights before.
        min_change_pct: the limit never drops below this share of the baseline level.
    Returns: ChangePoints; `detect_change_points` gives just their indices.
    """
    present = [i for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    series = [float(values[i]) for i in present]
    found, start, i = [], 0, min_history
    while i + persistence <= len(series):
        history = series[max(start, i - SPREAD_NIGHTS * window):i]
        candidate = series[i:i + persistence]
        change = _persistent_shift(history, history[-window:], candidate, z, min_change_pct)
        if change is None:
            i += 1
            continue
        found.append(ChangePoint(present[i], median(history[-window:]), median(candidate), change))
        start, i = i, i + min_history
    return found


def detect_change_points(values: Sequence[float | None], **options: float) -> list[int]:
    """Indices into `values` where a new level starts (see `find_change_points` for options)."""
    return [point.index for point in find_change_points(values, **options)]


def _persistent_shift(history: Sequence[float], baseline: Sequence[float], candidate: Sequence[float],
                      z: float, min_change_pct: float) -> float | None:
    """The change in percent when every candidate night is beyond the limit on one side, else None."""
    level = median(baseline)
    if level == 0:
        return None
    limit = max(abs(level) * min_change_pct / 100, z * MAD_TO_SIGMA * median_abs_dev(history))
    above = all(v - level > limit for v in candidate)
    below = all(level - v > limit for v in candidate)
    if not (above or below):
        return None
    return (median(candidate) - level) / abs(level) * 100
