"""Parity's timer: the latency a caller sees, per iteration, until the median is known well enough.

One iteration = `perf_counter` around one call of the converted forward function followed by a
device synchronise (Alma's own loop skips the synchronise and so times kernel *launches* on a
GPU). On CUDA the GPU time of the same iteration is taken with CUDA events and kept beside it.
The input batch is allocated once by the caller; nothing here grows with the iteration count
except the two sample lists.

Phases: warm-up for at least `warmup_min_seconds` and until the two halves of the recent
samples agree (after pyperf; at most a quarter of the time budget), then timed iterations until
one of three rules stops them, checked in this order (`Timing.stopped_by` names it):
"target-ci", the 95 % CI of the median is within `target_ci` of the median; "plateau", more
samples no longer narrow that CI (`stats.ci_plateaued`: the level drifts, as a host's speed
does, and the budget would be spent chasing it); "max-seconds", the time budget is spent. The CI
rules are checked only after `min_seconds` of timing and `min_iterations` samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from collectors import stats
from collectors.defaults import BENCH_DEFAULTS

WARMUP_WINDOW = 10  # recent warm-up samples compared as two halves of 5
WARMUP_SHARE = 0.25  # at most this share of max_seconds goes to warm-up
CHECK_GROWTH = 1.1  # the CI check sorts the samples: run it each time n grows by 10 %, not every iteration

# Why timing stopped (`Timing.stopped_by`), in the order the rules are checked.
TARGET_CI, PLATEAU, MAX_SECONDS = "target-ci", "plateau", "max-seconds"


@dataclass(frozen=True, slots=True)
class TimerSettings:
    target_ci: float = BENCH_DEFAULTS["target_ci"]  # stop when the 95 % CI of the median is within ±target_ci of it
    max_seconds: float = BENCH_DEFAULTS["max_seconds"]  # budget for warm-up plus measuring (compile excluded)
    min_iterations: int = 20  # never stop on the CI with fewer samples
    warmup_tolerance: float = 0.05  # halves of the recent warm-up samples agree within this
    warmup_min_seconds: float = 1.0  # at least this long (GPU clocks ramp up over ~100s of ms)
    min_seconds: float = 1.0  # never stop on the CI before this much measuring: averages slow drifts


@dataclass(slots=True)
class Timing:
    samples: list[float] = field(default_factory=list)  # ms, perf_counter + synchronise
    gpu_samples: list[float] = field(default_factory=list)  # ms, CUDA events (CUDA only)
    warmup_iterations: int = 0
    warmup_seconds: float = 0.0
    stopped_by: str = ""  # TARGET_CI, PLATEAU or MAX_SECONDS


class TimedWindow(Protocol):
    """Something that watches the timed window beside the timer (an energy counter, say).

    The timer calls it between iterations, never inside the `perf_counter` bracket of one, so it
    adds nothing to a sample; `now` is the timer's clock. If `call` raises, `end` is not called.
    """

    def begin(self) -> None:
        """Once, after warm-up, right before the first timed iteration."""

    def tick(self, iterations: int, now: float) -> None:
        """After each timed iteration, with the number timed so far; must be cheap (it decides
        itself whether to read anything)."""

    def end(self, iterations: int, now: float) -> None:
        """Once, when timing stops, with the number of timed iterations (`len(samples)`)."""


class CudaEvents:
    """A pair of CUDA events reused for every iteration: the GPU time between begin and end."""

    def __init__(self, torch_module) -> None:
        self._start = torch_module.cuda.Event(enable_timing=True)
        self._end = torch_module.cuda.Event(enable_timing=True)

    def begin(self) -> None:
        self._start.record()

    def end(self) -> None:
        self._end.record()

    def elapsed_ms(self) -> float:
        """Valid after the device has been synchronised."""
        return self._start.elapsed_time(self._end)


def time_calls(
    call: Callable[[], object],
    synchronise: Callable[[], None],
    settings: TimerSettings,
    *,
    events: CudaEvents | None = None,
    clock: Callable[[], float] = time.perf_counter,
    window: TimedWindow | None = None,
) -> Timing:
    """Warm `call` up, then time it until a stop rule holds (module docstring; `stopped_by` says which).

    `call` runs the forward pass on the pre-allocated input; `synchronise` waits for the device
    (a no-op on the CPU); `events`, on CUDA, adds the GPU time of each iteration; `window`, if
    given, is told when the timed window begins, after each timed iteration, and when it ends.
    """
    timing = Timing()
    started = clock()
    deadline = started + settings.max_seconds
    warmup_cap = settings.max_seconds * WARMUP_SHARE
    warmup_floor = started + min(settings.warmup_min_seconds, warmup_cap)
    _warm_up(call, synchronise, settings, timing, clock, warmup_floor, started + warmup_cap)
    timing.warmup_seconds = clock() - started
    if window:  # before the earliest stop is set: the window then lasts min_seconds at least
        window.begin()
    next_check = settings.min_iterations
    earliest_stop = clock() + min(settings.min_seconds, max(0.0, deadline - clock()))
    history: list[tuple[int, float]] = []  # (n, relative CI half-width) at each check
    while not timing.stopped_by:
        _record(timing, *_iteration(call, synchronise, events, clock))
        n, now = len(timing.samples), clock()
        if window:
            window.tick(n, now)
        if n >= next_check and now >= earliest_stop:
            next_check = max(n + 1, int(n * CHECK_GROWTH))
            history.append((n, stats.relative_ci_halfwidth(timing.samples)))
            timing.stopped_by = _ci_rule(history, settings.target_ci)
        if not timing.stopped_by and now >= deadline:
            timing.stopped_by = MAX_SECONDS
    if window:
        window.end(len(timing.samples), clock())
    return timing


def _record(timing: Timing, latency_ms: float, gpu_ms: float | None) -> None:
    timing.samples.append(latency_ms)
    if gpu_ms is not None:
        timing.gpu_samples.append(gpu_ms)


def _ci_rule(history: list[tuple[int, float]], target_ci: float) -> str:
    """The CI rule that stops timing at this check, or "" to go on."""
    if history[-1][1] <= target_ci:
        return TARGET_CI
    return PLATEAU if stats.ci_plateaued(history) else ""


def _warm_up(
    call: Callable[[], object],
    synchronise: Callable[[], None],
    settings: TimerSettings,
    timing: Timing,
    clock: Callable[[], float],
    floor: float,
    deadline: float,
) -> None:
    """Until the recent samples are stable and `floor` has passed, or until `deadline`."""
    recent: list[float] = []
    while clock() < deadline and (clock() < floor or not _stable(recent, settings.warmup_tolerance)):
        recent.append(_iteration(call, synchronise, None, clock)[0])
        del recent[:-WARMUP_WINDOW]
        timing.warmup_iterations += 1


def _stable(recent: list[float], tolerance: float) -> bool:
    # A full window only: four equal samples at the start of a slow phase prove nothing.
    return len(recent) == WARMUP_WINDOW and stats.halves_agree(recent, tolerance)


def _iteration(
    call: Callable[[], object], synchronise: Callable[[], None], events: CudaEvents | None, clock: Callable[[], float]
) -> tuple[float, float | None]:
    start = clock()
    if events:
        events.begin()
    output = call()
    if events:
        events.end()
    synchronise()
    latency_ms = (clock() - start) * 1000
    del output  # free the result before the next iteration allocates its own
    return latency_ms, events.elapsed_ms() if events else None
