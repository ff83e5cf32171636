"""Pure statistics for latency samples: no I/O, no torch, plain floats in and out.

The confidence interval of the median is distribution-free: it is a pair of order statistics
whose ranks come from the Binomial(n, 1/2) distribution of the number of samples below the true
median (exact binomial up to 1000 samples, the normal approximation above). It needs no
assumption about the shape of the latency distribution, which is skewed and often multi-modal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

_Z95 = 1.959963984540054
_EXACT_LIMIT = 1000
PLATEAU_SPAN = 4  # compare a check's CI with the one at a quarter of its samples: iid samples halve it
PLATEAU_CHECKS = 4  # ... at this many checks in a row: one unlucky check is not a plateau


@dataclass(frozen=True, slots=True)
class Summary:
    median: float
    mean: float
    std: float  # sample standard deviation (n - 1); 0 for one sample
    p05: float
    p95: float
    ci95_low: float | None  # None for one sample: one value says nothing about its spread
    ci95_high: float | None
    n: int

    def relative_ci_halfwidth(self) -> float:
        """As the function of that name, for this summary's interval."""
        if self.ci95_low is None or self.ci95_high is None:
            return math.inf
        return relative_halfwidth(self.median, self.ci95_low, self.ci95_high)


def median(values: Sequence[float]) -> float:
    """The median; ValueError on an empty sequence."""
    return percentile(values, 50)


def median_abs_dev(values: Sequence[float]) -> float:
    """Median absolute deviation from the median (unscaled; × 1.4826 estimates σ for normal data)."""
    centre = median(values)
    return median([abs(v - centre) for v in values])


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between order statistics (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    return _percentile_of_sorted(sorted(values), q)


# The *_of_sorted helpers take samples already in order: callers that need several order
# statistics of one sample (the timer's CI check, `summarise`) sort it once.
def _percentile_of_sorted(ordered: Sequence[float], q: float) -> float:
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median_ci95(values: Sequence[float]) -> tuple[float, float]:
    """A 95 % confidence interval of the median, from order statistics (see the module docstring).

    With fewer than 6 samples no pair of order statistics reaches 95 % coverage; the interval is
    then (min, max), which covers less (94 % with 5 samples, 50 % with 2). ValueError if empty.
    """
    if not values:
        raise ValueError("confidence interval of no values")
    return _ci95_of_sorted(sorted(values))


def _ci95_of_sorted(ordered: Sequence[float]) -> tuple[float, float]:
    k = _lower_rank(len(ordered))
    return ordered[k], ordered[len(ordered) - 1 - k]


def _lower_rank(n: int) -> int:
    """0-based rank k of the lower bound: the largest k with P(Binomial(n, 1/2) < k+1) <= 2.5 %."""
    if n > _EXACT_LIMIT:
        return max(0, math.floor(n / 2 - _Z95 * math.sqrt(n) / 2))
    # P(X = k) by the ratio of successive binomial terms: floats from 2**-n (normal for n <= 1000),
    # where math.comb's big integers cost ~5 ms per check at n = 1000, a pause between iterations.
    term = cumulative = 2.0**-n
    k = 0
    while cumulative <= 0.025:
        k += 1
        term *= (n - k + 1) / k
        cumulative += term
    return max(0, k - 1)


def relative_ci_halfwidth(values: Sequence[float]) -> float:
    """The larger distance from the median to a 95 % CI bound, relative to the median.

    This is what `--target-ci` is compared with: 0.01 means the median is known within ±1 %.
    Infinite for fewer than 2 samples or a zero median.
    """
    if len(values) < 2:
        return math.inf
    ordered = sorted(values)
    return relative_halfwidth(_percentile_of_sorted(ordered, 50), *_ci95_of_sorted(ordered))


def relative_halfwidth(centre: float, low: float, high: float) -> float:
    """The larger distance from `centre` to `low` or `high`, relative to `centre` (inf for 0)."""
    if centre == 0:
        return 0.0 if low == high == 0 else math.inf
    return max(centre - low, high - centre) / abs(centre)


def ci_plateaued(history: Sequence[tuple[int, float]]) -> bool:
    """Have more samples stopped narrowing the CI of the median?

    `history` holds (sample count, relative CI half-width) at each CI check so far, oldest first.
    True when, at each of the last `PLATEAU_CHECKS` (4) checks, the half-width is no narrower than
    at the latest earlier check with at most 1/`PLATEAU_SPAN` (a quarter) of its samples; False
    with fewer checks, or while a check has no such earlier one.

    Why: for independent samples the half-width shrinks like 1/sqrt(n), so quadrupling n halves
    it; when the level drifts, the pooled samples spread as fast as they accumulate and the
    half-width stays put or grows: more time buys nothing. The half-width from order statistics is
    itself noisy, hence the wide margin. Over a mere doubling (expected: 29 % narrower), one check
    in 11 at 100-200 stationary samples comes out less than 10 % narrower, and the timer makes
    dozens of checks: that rule stopped 380 of 500 stationary runs early in the worst case of
    tests/test_timer.py (first check at 20 samples, target ~13 times further). This rule stopped 1
    of those 500, and a level drifting ±20 % over a 30 s budget after about 6 s.
    """
    if len(history) < PLATEAU_CHECKS:
        return False
    return all(_not_narrower(history[:end]) for end in range(len(history) - PLATEAU_CHECKS + 1, len(history) + 1))


def _not_narrower(history: Sequence[tuple[int, float]]) -> bool:
    """Is the last check's half-width at least the one at 1/PLATEAU_SPAN of its samples?"""
    n, halfwidth = history[-1]
    earlier = [width for count, width in history if count * PLATEAU_SPAN <= n]
    return bool(earlier) and halfwidth >= earlier[-1]


def summarise(values: Sequence[float]) -> Summary:
    """Median, mean, std, p05, p95 and the 95 % CI of the median; ValueError if empty.

    One sample has no CI (ci95_low and ci95_high are None), not a zero-width one.
    """
    if not values:
        raise ValueError("summary of no values")
    n = len(values)
    mean = math.fsum(values) / n
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    ordered = sorted(values)
    low, high = _ci95_of_sorted(ordered) if n >= 2 else (None, None)
    return Summary(
        _percentile_of_sorted(ordered, 50),
        mean,
        math.sqrt(variance),
        _percentile_of_sorted(ordered, 5),
        _percentile_of_sorted(ordered, 95),
        low,
        high,
        n,
    )


def covering_processes(pooled: Summary, process_medians: Sequence[float]) -> Summary:
    """`pooled`, the summary of samples taken in several fresh processes, with its CI of the
    median widened to cover where the processes' own medians lie.

    A process's samples share its state (memory layout, the cores it ran on, a neighbour's load
    on the host), so its level can differ from the next process's by more than its own CI says;
    the pooled samples alone would hide that. The processes' medians give an interval from order
    statistics (up to 8 processes: their range); the result's CI is the union of both. Fewer than
    2 medians: `pooled` unchanged.
    """
    if len(process_medians) < 2 or pooled.ci95_low is None or pooled.ci95_high is None:
        return pooled
    low, high = median_ci95(process_medians)
    return replace(pooled, ci95_low=min(pooled.ci95_low, low), ci95_high=max(pooled.ci95_high, high))


def halves_agree(values: Sequence[float], tolerance: float = 0.05) -> bool:
    """Warm-up check (after pyperf): do the older and newer halves of `values` look alike?

    True when the medians of the two halves, and their interquartile ranges, differ by at most
    `tolerance` relative to the older half's median. Fewer than 4 values: False.
    """
    if len(values) < 4:
        return False
    half = len(values) // 2
    older, newer = values[-2 * half : -half], values[-half:]
    scale = abs(median(older)) or 1.0
    shift = abs(median(newer) - median(older)) / scale
    spread = abs(_iqr(newer) - _iqr(older)) / scale
    return shift <= tolerance and spread <= tolerance


def _iqr(values: Sequence[float]) -> float:
    return percentile(values, 75) - percentile(values, 25)
