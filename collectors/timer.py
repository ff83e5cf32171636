"""Parity's timer: the latency a caller sees, per iteration, until the median is known well enough.

One iteration = `perf_counter` around one call of the converted forward function followed by a
device synchronise (Alma's own loop skips the synchronise and so times kernel *launches* on a
GPU). On CUDA the GPU time of the same iteration is taken with CUDA events and kept beside it.
The input batch is allocated once by the caller; nothing here grows with the iteration count
except the two sample lists.

Phases: warm-up for at least `warmup_min_seconds` and until the two halves of the recent
samples agree (after pyperf; at most a quarter of the time budget), then
iterations until the 95 % CI of the median is within `target_ci` of the median, or until the
time budget is spent.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from collectors import stats

WARMUP_WINDOW = 10  # recent warm-up samples compared as two halves of 5
WARMUP_SHARE = 0.25  # at most this share of max_seconds goes to warm-up


@dataclass(frozen=True, slots=True)
class TimerSettings:
    target_ci: float = 0.01  # stop when the 95 % CI of the median is within ±target_ci of it
    max_seconds: float = 30.0  # time budget for warm-up plus measuring (compile excluded)
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
    stopped_by: str = ""  # "target-ci" or "max-seconds"


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


def time_calls(call: Callable[[], object], synchronise: Callable[[], None], settings: TimerSettings,
               *, events: CudaEvents | None = None, clock: Callable[[], float] = time.perf_counter) -> Timing:
    """Warm `call` up, then time it until the CI target or the time budget is reached.

    `call` runs the forward pass on the pre-allocated input; `synchronise` waits for the device
    (a no-op on the CPU); `events`, on CUDA, adds the GPU time of each iteration.
    """
    timing = Timing()
    started = clock()
    deadline = started + settings.max_seconds
    warmup_cap = settings.max_seconds * WARMUP_SHARE
    warmup_floor = started + min(settings.warmup_min_seconds, warmup_cap)
    _warm_up(call, synchronise, settings, timing, clock, warmup_floor, started + warmup_cap)
    timing.warmup_seconds = clock() - started
    next_check = settings.min_iterations
    earliest_stop = clock() + min(settings.min_seconds, max(0.0, deadline - clock()))
    while True:
        latency_ms, gpu_ms = _iteration(call, synchronise, events, clock)
        timing.samples.append(latency_ms)
        if gpu_ms is not None:
            timing.gpu_samples.append(gpu_ms)
        n = len(timing.samples)
        if n >= next_check and clock() >= earliest_stop:
            # The CI check sorts the samples: do it on a geometric schedule, not every iteration.
            next_check = max(n + 1, int(n * 1.1))
            if stats.relative_ci_halfwidth(timing.samples) <= settings.target_ci:
                timing.stopped_by = "target-ci"
                return timing
        if clock() >= deadline:
            timing.stopped_by = "max-seconds"
            return timing


def _warm_up(call: Callable[[], object], synchronise: Callable[[], None], settings: TimerSettings,
             timing: Timing, clock: Callable[[], float], floor: float, deadline: float) -> None:
    """Until the recent samples are stable and `floor` has passed, or until `deadline`."""
    recent: list[float] = []
    while clock() < deadline and (clock() < floor or not _stable(recent, settings.warmup_tolerance)):
        recent.append(_iteration(call, synchronise, None, clock)[0])
        del recent[:-WARMUP_WINDOW]
        timing.warmup_iterations += 1


def _stable(recent: list[float], tolerance: float) -> bool:
    # A full window only: four equal samples at the start of a slow phase prove nothing.
    return len(recent) == WARMUP_WINDOW and stats.halves_agree(recent, tolerance)


def _iteration(call: Callable[[], object], synchronise: Callable[[], None], events: CudaEvents | None,
               clock: Callable[[], float]) -> tuple[float, float | None]:
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
