"""collectors.timer with a fake clock: adaptive stopping, warm-up, and what it keeps."""
from __future__ import annotations

import itertools
import random

import pytest

from collectors.timer import TimerSettings, time_calls


class FakeClock:
    """Seconds that advance only when the fake forward call 'runs'."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def runner(self, latencies_ms):
        latencies = iter(latencies_ms)

        def call() -> None:
            self.now += next(latencies) / 1000

        return call


def no_sync() -> None:
    return None


QUICK = dict(warmup_min_seconds=0.0, min_seconds=0.0)


def test_stops_when_the_ci_target_is_met() -> None:
    clock = FakeClock()
    timing = time_calls(clock.runner(itertools.repeat(2.0)), no_sync, TimerSettings(**QUICK), clock=clock)
    assert timing.stopped_by == "target-ci"
    assert len(timing.samples) == TimerSettings().min_iterations
    assert timing.samples == pytest.approx([2.0] * len(timing.samples))


def test_stops_at_max_seconds_when_the_target_is_out_of_reach() -> None:
    clock = FakeClock()
    noise = random.Random(1)
    latencies = (noise.choice([1.0, 3.0]) for _ in itertools.count())  # median never settles
    settings = TimerSettings(target_ci=0.001, max_seconds=2.0, **QUICK)
    timing = time_calls(clock.runner(latencies), no_sync, settings, clock=clock)
    assert timing.stopped_by == "max-seconds"
    assert 2.0 <= clock.now < 2.0 + 0.003
    assert len(timing.samples) > 500


def test_warm_up_runs_until_the_samples_are_stable() -> None:
    clock = FakeClock()
    # A cold start: latencies decay towards 1 ms, as caches fill and clocks ramp up.
    latencies = itertools.chain([1 + 49 * 0.7 ** i for i in range(40)], itertools.repeat(1.0))
    timing = time_calls(clock.runner(latencies), no_sync, TimerSettings(**QUICK), clock=clock)
    assert timing.warmup_iterations >= 15
    assert max(timing.samples) < 1.05


def test_minimum_times_hold_back_an_early_stop() -> None:
    clock = FakeClock()
    settings = TimerSettings(warmup_min_seconds=0.5, min_seconds=1.0)
    timing = time_calls(clock.runner(itertools.repeat(10.0)), no_sync, settings, clock=clock)
    assert timing.warmup_iterations == 50  # 0.5 s of 10 ms calls
    assert len(timing.samples) >= 100  # 1 s of measuring before the CI may stop it
    assert timing.stopped_by == "target-ci"


def test_synchronise_runs_inside_every_timed_iteration() -> None:
    clock = FakeClock()
    synced = []

    def synchronise() -> None:
        clock.now += 0.001  # the device finishing its queued work
        synced.append(clock.now)

    timing = time_calls(clock.runner(itertools.repeat(1.0)), synchronise, TimerSettings(**QUICK), clock=clock)
    assert timing.samples == pytest.approx([2.0] * len(timing.samples))
    assert len(synced) == timing.warmup_iterations + len(timing.samples)
