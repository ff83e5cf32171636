"""Change points across nights, on synthetic series with seeded noise."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from collectors.stats import median, median_abs_dev
from reporter.changepoints import (
    SPREAD_NIGHTS,
    ChangePoint,
    detect_change_points,
    find_change_points,
    find_change_points_many,
)
from reporter.significance import MAD_TO_SIGMA

NIGHTS, STEP_AT = 60, 30


def noisy(rng: random.Random, nights: int, level: float = 10.0, noise: float = 0.02) -> list[float]:
    return [level * (1 + rng.gauss(0, noise)) for _ in range(nights)]


def stepped(rng: random.Random, step: float = 0.10) -> list[float]:
    return noisy(rng, STEP_AT) + noisy(rng, NIGHTS - STEP_AT, level=10.0 * (1 + step))


def confirmation_delay(points: list[int], persistence: int = 3) -> int | None:
    """Nights from the step's first night to the night the alarm could be raised (1 = that night)."""
    confirmed = [index + persistence - STEP_AT for index in points if index >= STEP_AT - persistence]
    return min(confirmed, default=None)


def test_changepoints_ten_percent_step_in_two_percent_noise_found_within_three_nights():
    rng = random.Random(7)
    delays = [confirmation_delay(detect_change_points(stepped(rng))) for _ in range(500)]
    within_three = sum(d is not None and d <= 3 for d in delays) / len(delays)
    found_at_all = sum(d is not None for d in delays) / len(delays)
    assert within_three >= 0.90, f"only {within_three:.1%} of steps confirmed within 3 nights"
    assert found_at_all >= 0.98, f"{1 - found_at_all:.1%} of steps never found"


def test_changepoints_pure_noise_raises_fewer_than_one_percent_false_alarms():
    rng = random.Random(2026)
    alarms = sum(bool(detect_change_points(noisy(rng, NIGHTS))) for _ in range(1000))
    assert alarms < 10, f"{alarms} of 1000 noise-only series raised an alarm"


def test_changepoints_report_level_before_and_after():
    values = [10.0] * 20 + [12.0] * 10
    [point] = find_change_points(values)
    assert (point.index, point.before, point.after) == (20, 10.0, 12.0)
    assert point.change_pct == pytest.approx(20.0)


def test_changepoints_improvement_is_a_negative_change():
    [point] = find_change_points([10.0] * 20 + [8.0] * 10)
    assert point.index == 20 and point.change_pct == pytest.approx(-20.0)


def test_changepoints_single_odd_night_is_not_a_change():
    assert detect_change_points([10.0] * 15 + [20.0] + [10.0] * 15) == []


def test_changepoints_below_the_percentage_floor_is_not_a_change():
    assert detect_change_points([10.0] * 20 + [10.3] * 10) == []


def test_changepoints_missing_nights_keep_their_indices():
    values: list[float | None] = [10.0] * 20 + [None, math.nan] + [12.0] * 10
    assert detect_change_points(values) == [22]


def test_changepoints_two_steps_are_both_found_once():
    assert detect_change_points([10.0] * 20 + [12.0] * 20 + [10.0] * 20) == [20, 40]


@pytest.mark.parametrize("values", [[], [10.0], [10.0] * 12])
def test_changepoints_short_series_have_none(values):
    assert detect_change_points(values) == []


@pytest.mark.parametrize("option", ["window", "min_history", "persistence"])
def test_changepoints_options_below_one_are_refused(option):
    with pytest.raises(ValueError, match="at least 1"):
        find_change_points([10.0] * 30, **{option: 0})


# -- the vectorised pass against the night-by-night rule -------------------------------------------


def reference_change_points(
    values: Sequence[float | None],
    *,
    window: int = 20,
    min_history: int = 10,
    persistence: int = 3,
    z: float = 2.5,
    min_change_pct: float = 5.0,
) -> list[ChangePoint]:
    """The rule tested night by night: reporter.changepoints as of commit 83ca209, before it was
    vectorised, kept here as the reference the new implementation must match point for point."""
    present = [i for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    series = [float(values[i]) for i in present]
    found, start, i = [], 0, min_history
    while i + persistence <= len(series):
        history = series[max(start, i - SPREAD_NIGHTS * window) : i]
        candidate = series[i : i + persistence]
        change = _reference_shift(history, history[-window:], candidate, z, min_change_pct)
        if change is None:
            i += 1
            continue
        found.append(ChangePoint(present[i], median(history[-window:]), median(candidate), change))
        start, i = i, i + min_history
    return found


def _reference_shift(
    history: Sequence[float], baseline: Sequence[float], candidate: Sequence[float], z: float, min_change_pct: float
) -> float | None:
    level = median(baseline)
    if level == 0:
        return None
    limit = max(abs(level) * min_change_pct / 100, z * MAD_TO_SIGMA * median_abs_dev(history))
    above = all(v - level > limit for v in candidate)
    below = all(level - v > limit for v in candidate)
    if not (above or below):
        return None
    return (median(candidate) - level) / abs(level) * 100


def varied_series(rng: random.Random) -> list[float | None]:
    """One seeded series of a random kind: length 0 to 250 nights, noise from none to 30 %, steps up
    and down, missing nights (None and NaN), values rounded so that ties and even medians occur,
    levels from 0.001 to a million, zero and negative levels too."""
    nights = rng.choice([0, 1, 2, 9, 10, 12, 13, 14, 20, 30, 59, 60, 61, 62, 63, 90, 150, 250])
    noise = rng.choice([0.0, 0.0, 0.005, 0.02, 0.04, 0.1, 0.3])
    level = rng.choice([10.0, 10.0, 1e-3, 1e6, 0.0, -5.0])
    step_share, missing_share = rng.choice([0.0, 0.02, 0.1]), rng.choice([0.0, 0.05, 0.3])
    digits = rng.choice([1, 2, 4, 12])
    values: list[float | None] = []
    for _ in range(nights):
        if rng.random() < step_share:
            level = level * rng.choice([0.5, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 2.0]) if level else 1.0
        draw = rng.random()
        value = round(level * (1 + rng.gauss(0, noise)), digits)
        values.append(None if draw < missing_share / 2 else math.nan if draw < missing_share else value)
    return values


OPTIONS = [
    {},  # the defaults: the report's
    {"window": 5, "min_history": 3, "persistence": 1},
    {"window": 3, "min_history": 12, "persistence": 2, "z": 1.0},  # min_history beyond 3 × window
    {"window": 40, "min_history": 20, "persistence": 5, "z": 4.0, "min_change_pct": 1.0},
    {"window": 1, "min_history": 1, "persistence": 1, "z": 0.0, "min_change_pct": 0.0},  # a change nearly every night
    {"window": 10, "min_history": 10, "persistence": 3, "z": 1.0, "min_change_pct": 0.0},  # no floor: the MAD decides
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda options: ",".join(f"{k}={v}" for k, v in options.items()))
def test_changepoints_vectorised_pass_equals_the_night_by_night_rule(options):
    """1,500 seeded series per option set: every ChangePoint equal, to the last bit (repr)."""
    rng = random.Random(20261202)
    series = [varied_series(rng) for _ in range(1500)]
    expected = [[repr(point) for point in reference_change_points(values, **options)] for values in series]
    together = [[repr(point) for point in found] for found in find_change_points_many(series, **options)]
    one_by_one = [[repr(point) for point in find_change_points(values, **options)] for values in series[:300]]
    mismatched = [k for k, (a, b) in enumerate(zip(expected, together, strict=True)) if a != b]
    assert not mismatched, f"series {mismatched[:5]}: {expected[mismatched[0]]} != {together[mismatched[0]]}"
    assert one_by_one == expected[:300]
    assert sum(map(len, expected)) >= 300, "too few change points for the comparison to mean much"


def test_changepoints_vectorised_medians_are_collectors_stats_bit_for_bit():
    """The limits are compared with `>`, so a median one bit off could move a change point: the
    row medians and MADs must be collectors.stats' own, even where (a + b) / 2 would round otherwise."""
    import numpy as np

    from reporter.changepoints import _mads, _medians

    rng = np.random.default_rng(5)
    rows = rng.lognormal(0, 2, (4000, 60))
    counts = rng.integers(1, 61, len(rows))
    rows[np.arange(60) >= counts[:, None]] = np.nan  # rows of 1 to 60 values, the rest absent
    present = [row[:count].tolist() for row, count in zip(rows, counts, strict=True)]
    assert _medians(rows).tolist() == [median(values) for values in present]
    assert _mads(rows).tolist() == [median_abs_dev(values) for values in present]
