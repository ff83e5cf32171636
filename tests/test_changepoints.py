"""Change points across nights, on synthetic series with seeded noise."""
from __future__ import annotations

import math
import random

import pytest

from reporter.changepoints import detect_change_points, find_change_points
from tests.builders import measurement, run_info

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


def test_changepoints_history_in_the_store_becomes_report_markers(db_path):
    """A cell whose median steps up 20 % at night 20 gets one marker on that night's model page."""
    import datetime as dt

    from reporter.nightly import history_change_points
    from reporter.store import Store

    with Store.open(db_path) as store, store.atomic():
        for night in range(30):
            at = dt.datetime(2026, 10, 1, 2) + dt.timedelta(days=night)
            store.add_run(run_info(f"run-{night}", started_at=at.isoformat(), platform="cpu-x", environment={}))
            median = 10.0 if night < 20 else 12.0
            cell = dict(platform="cpu-x", measured_at=at.isoformat())
            # The same cell on a second device, steady at 1 ms: its own series, never mixed in.
            store.add_measurements([measurement(**cell, device="cpu", median=median),
                                    measurement(**cell, device="cuda", median=1.0)], f"run-{night}", None)
        markers = history_change_points(store)
    [marker] = markers[("resnet18", "cpu-x")]
    assert (marker.at, marker.series) == (dt.datetime(2026, 10, 21, 2), "EAGER")
    assert marker.label == "fp32 b1: +20 % (10 ms → 12 ms)"
