"""Is a difference between two sets of latency samples real? Pure functions, no I/O.

Parity counts a change only when it is both large and significant (pyperf's `_compare.py` rule).
This module answers the "significant" half:

- with raw samples on both sides: a two-sided Mann–Whitney U test (rank based, so a few slow
  outliers cannot fake a shift), with tie correction and the normal approximation; exact for
  small samples without ties, where the approximation is poor;
- without enough samples (an ingested file carried only summary statistics): non-overlapping
  95 % confidence intervals of the median, a conservative fallback, but only for real
  intervals: low < high, from at least MIN_CI_SAMPLES samples a side where the count is known
  (with fewer, even the widest order-statistic interval covers the median less than 95 % of
  the time, and one sample gives the "interval" (x, x));
- with neither: not tested (test "none", with a note saying why), never significant. Pure
  noise must not page anyone, and nor must missing data.

Samples from one run only show the noise *within* that run. Two nights also differ by noise
*between* runs (a fresh process, another memory layout, the host's temperature), which one pair
of runs cannot show; where the cell has a history, `night_spread_pct` measures it from the
nights before, and a change must also exceed NIGHT_Z times that spread (`beyond_night_noise`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

from collectors.stats import median_abs_dev

DEFAULT_ALPHA = 0.01
MIN_SAMPLES = 3  # fewer samples than this on a side cannot carry a rank test
# The CI fallback needs this many samples a side: with n samples the interval (min, max) covers
# the median with probability 1 - 2 × 0.5^n, below 95 % up to n = 5 (93.75 %), 96.9 % at 6.
MIN_CI_SAMPLES = 6
NOT_TESTED = "change not tested"
EXACT_MAX_TOTAL = 20  # exact U distribution up to this many samples in all (no ties)
MAD_TO_SIGMA = 1.4826  # scales the MAD of normal data to its standard deviation
NIGHT_Z = 3.0  # a change must exceed this many night-to-night standard deviations
MIN_NIGHTS = 6  # nights (5 steps between them) needed to estimate the night-to-night spread


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U statistic of the first sample
    p_value: float  # two-sided
    exact: bool


@dataclass(frozen=True)
class Significance:
    significant: bool
    test: str  # "mann-whitney", "ci-overlap" or "none" (not enough data to tell)
    p_value: float | None = None
    note: str | None = None  # with test "none": why, e.g. "no samples or CI: change not tested"

    @property
    def tested(self) -> bool:
        return self.test != "none"


def average_ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """1-based ranks with ties sharing their average rank, and the size of every tie group."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        ties.append(end - start + 1)
        start = end + 1
    return ranks, ties


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> MannWhitney:
    """Two-sided Mann–Whitney U test of `a` against `b`.

    Raises ValueError when either sample is empty.
    """
    n1, n2 = len(a), len(b)
    if not n1 or not n2:
        raise ValueError("Mann–Whitney U needs at least one value on each side")
    ranks, ties = average_ranks(list(a) + list(b))
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    if n1 + n2 <= EXACT_MAX_TOTAL and all(t == 1 for t in ties):
        return MannWhitney(u1, _exact_p(n1, n2, u1), exact=True)
    return MannWhitney(u1, _normal_p(n1, n2, u1, ties), exact=False)


def _normal_p(n1: int, n2: int, u1: float, ties: list[int]) -> float:
    n = n1 + n2
    tie_term = sum(t**3 - t for t in ties) / (n * (n - 1)) if n > 1 else 0.0
    variance = n1 * n2 / 12 * ((n + 1) - tie_term)
    if variance <= 0:  # every value equal: no evidence of any difference
        return 1.0
    # continuity correction: U moves in steps of one half at least
    z = max(abs(u1 - n1 * n2 / 2) - 0.5, 0.0) / math.sqrt(variance)
    return min(1.0, math.erfc(z / math.sqrt(2)))


def _exact_p(n1: int, n2: int, u1: float) -> float:
    """Two-sided p: twice the smaller tail of the exact U distribution (no ties)."""
    total = math.comb(n1 + n2, n1)
    low = min(u1, n1 * n2 - u1)
    tail = sum(_arrangements(n1, n2, u) for u in range(int(low) + 1))
    return min(1.0, 2 * tail / total)


@cache
def _arrangements(n1: int, n2: int, u: int) -> int:
    """How many orderings of n1 + n2 distinct values give the first sample a U of exactly `u`."""
    if u < 0 or u > n1 * n2:
        return 0
    if n1 == 0 or n2 == 0:
        return 1 if u == 0 else 0
    # the largest value belongs to the first sample (beating all n2) or to the second
    return _arrangements(n1 - 1, n2, u - n2) + _arrangements(n1, n2 - 1, u)


def intervals_overlap(a_low: float, a_high: float, b_low: float, b_high: float) -> bool:
    return a_low <= b_high and b_low <= a_high


def significance(
    base_samples: Sequence[float],
    head_samples: Sequence[float],
    base_ci: tuple[float | None, float | None] = (None, None),
    head_ci: tuple[float | None, float | None] = (None, None),
    *,
    alpha: float = DEFAULT_ALPHA,
    base_count: int | None = None,
    head_count: int | None = None,
    clustered: bool = False,
) -> Significance:
    """Whether head differs from base: Mann–Whitney U on samples, else disjoint 95 % CIs.

    Parameters:
        base_samples, head_samples: raw per-iteration latencies (may be empty).
        base_ci, head_ci: (low, high) 95 % confidence intervals of the median, used only when a
            side has fewer than MIN_SAMPLES samples or `clustered` is set, and only when both are real intervals
            (low < high) from at least MIN_CI_SAMPLES samples a side.
        alpha: significance level of the rank test.
        base_count, head_count: how many iterations a side's CI came from where its samples
            were not stored (None: unknown, the interval is taken at its word).
        clustered: a side's samples come from several processes whose levels differ; they are
            not independent draws, and a rank test on them would find a process's level shift
            significant. The CIs, which cover the processes' medians, decide instead.
    Returns: a Significance naming the test used; "none", with a note, when neither test could
    be made (never significant).
    """
    if len(base_samples) >= MIN_SAMPLES and len(head_samples) >= MIN_SAMPLES and not clustered:
        p_value = mann_whitney_u(base_samples, head_samples).p_value
        return Significance(p_value < alpha, "mann-whitney", p_value)
    problems = {
        side: _ci_problem(samples, ci, count)
        for side, samples, ci, count in (
            ("base", base_samples, base_ci, base_count),
            ("head", head_samples, head_ci, head_count),
        )
    }
    if not any(problems.values()):
        return Significance(not intervals_overlap(*base_ci, *head_ci), "ci-overlap")
    if set(problems.values()) == {"no samples or CI"}:
        return Significance(False, "none", note=f"no samples or CI: {NOT_TESTED}")
    why = "; ".join(f"{side} {problem}" for side, problem in problems.items() if problem)
    return Significance(False, "none", note=f"too little data ({why}): {NOT_TESTED}")


def _ci_problem(samples: Sequence[float], ci: tuple[float | None, float | None], count: int | None) -> str | None:
    """Why a side's CI cannot stand in for a rank test, or None when it can."""
    count = len(samples) if samples else count
    if ci[0] is None or ci[1] is None:
        return f"{len(samples)} sample(s), no CI" if samples else "no samples or CI"
    if count is not None and count < MIN_CI_SAMPLES:
        return f"{count} sample(s), fewer than {MIN_CI_SAMPLES}"
    if not ci[0] < ci[1]:
        return f"a degenerate CI ({ci[0]:g}, {ci[1]:g})"
    return None


def night_spread_pct(medians: Sequence[float]) -> float | None:
    """Robust standard deviation, in percent, of the change from one night's median to the next.

    That is the spread of head/base between two consecutive runs when nothing changed. The MAD
    ignores the odd real step in the history. None with fewer than MIN_NIGHTS medians.
    """
    if len(medians) < MIN_NIGHTS:
        return None
    steps = [(after / before - 1) * 100 for before, after in pairwise(medians)]
    return MAD_TO_SIGMA * median_abs_dev(steps)


def beyond_night_noise(change_pct: float, spread_pct: float | None, z: float = NIGHT_Z) -> bool:
    """Whether a change exceeds `z` night-to-night spreads; True where no spread is known."""
    return spread_pct is None or abs(change_pct) > z * spread_pct
