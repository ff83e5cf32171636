"""collectors.stats with hand-picked numbers: all-equal, single, empty, and known order statistics."""

from __future__ import annotations

import math

import pytest

from collectors import stats


def test_median_and_percentiles_interpolate_like_numpy() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert stats.median(values) == 2.5
    assert stats.percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert stats.percentile([1, 2, 3, 4, 5], 5) == pytest.approx(1.2)
    assert stats.percentile([7.0], 95) == 7.0


def test_median_ci95_uses_binomial_order_statistics() -> None:
    ten = [float(v) for v in range(1, 11)]
    # n = 10: P(Binomial(10, 1/2) <= 1) = 1.07 % <= 2.5 % < P(<= 2) = 5.5 %: 2nd and 9th values.
    assert stats.median_ci95(ten) == (2.0, 9.0)
    twenty = [float(v) for v in range(1, 21)]
    assert stats.median_ci95(twenty) == (6.0, 15.0)  # the textbook ranks for n = 20


def test_median_ci95_of_few_samples_is_the_range() -> None:
    assert stats.median_ci95([3.0, 1.0, 2.0]) == (1.0, 3.0)


def test_all_equal_samples_have_zero_width() -> None:
    summary = stats.summarise([2.0] * 7)
    assert (summary.median, summary.mean, summary.std) == (2.0, 2.0, 0.0)
    assert (summary.ci95_low, summary.ci95_high) == (2.0, 2.0)
    assert stats.relative_ci_halfwidth([2.0] * 7) == 0.0


def test_single_sample_summary_has_no_ci_and_an_infinite_relative_ci() -> None:
    summary = stats.summarise([5.0])
    assert summary == stats.Summary(5.0, 5.0, 0.0, 5.0, 5.0, None, None, 1)  # not a zero-width CI
    assert math.isinf(stats.relative_ci_halfwidth([5.0]))


@pytest.mark.parametrize("function", [stats.median, stats.summarise, stats.median_ci95])
def test_empty_samples_raise(function) -> None:
    with pytest.raises(ValueError):
        function([])


def test_relative_ci_halfwidth_takes_the_wider_side() -> None:
    values = [1.0] * 9 + [2.0]  # CI (1.0, 1.0): nothing but the outlier is wide
    assert stats.relative_ci_halfwidth(values) == 0.0
    values = [float(v) for v in range(1, 11)]  # median 5.5, CI (2, 9)
    assert stats.relative_ci_halfwidth(values) == pytest.approx(3.5 / 5.5)


def test_halves_agree_needs_stable_medians_and_spreads() -> None:
    assert not stats.halves_agree([1.0, 1.0, 1.0])
    assert stats.halves_agree([1.0, 1.01, 0.99, 1.0, 1.01, 0.99])
    assert not stats.halves_agree([2.0, 2.0, 2.0, 1.0, 1.0, 1.0])


def test_stats_median_abs_dev_ignores_one_outlier():
    assert stats.median_abs_dev([1.0, 2.0, 3.0, 4.0, 100.0]) == 1.0
    assert stats.median_abs_dev([5.0, 5.0, 5.0]) == 0.0


def test_processes_that_disagree_widen_the_ci_of_the_pooled_median() -> None:
    tight = [1.0, 1.01, 0.99] * 20  # each process alone: CI within ±1 %
    levels = [[v * level for v in tight] for level in (1.0, 1.6, 1.0)]
    medians = [stats.median(level) for level in levels]
    summary = stats.covering_processes(stats.summarise([v for level in levels for v in level]), medians)
    assert summary.n == 180 and summary.median == pytest.approx(1.01)
    assert (summary.ci95_low, summary.ci95_high) == (pytest.approx(1.0), pytest.approx(1.6))
    assert summary.relative_ci_halfwidth() > 0.5
    assert stats.summarise(levels[0]).relative_ci_halfwidth() <= 0.01


def test_one_process_or_agreeing_ones_keep_the_pooled_ci() -> None:
    one = [1.0, 1.01, 0.99] * 20
    assert stats.covering_processes(stats.summarise(one), [stats.median(one)]) == stats.summarise(one)
    both = stats.summarise(one + one)
    assert stats.covering_processes(both, [stats.median(one)] * 2) == both


def check_counts(first: int = 20, last: int = 400) -> list[int]:
    """The sample counts at which the timer checks the CI: from min_iterations, 10 % apart."""
    counts = [first]
    while counts[-1] < last:
        counts.append(max(counts[-1] + 1, int(counts[-1] * 1.1)))
    return counts


def first_plateau(history: list[tuple[int, float]]) -> int | None:
    """The sample count of the first check at which ci_plateaued holds, None if none."""
    return next((n for i, (n, _) in enumerate(history) if stats.ci_plateaued(history[: i + 1])), None)


def test_ci_plateaued_never_holds_while_the_halfwidth_shrinks_like_independent_samples() -> None:
    assert first_plateau([(n, 0.1 / math.sqrt(n)) for n in check_counts(last=100_000)]) is None


def test_ci_plateaued_holds_at_the_fourth_check_in_a_row_that_is_no_narrower_than_at_a_quarter() -> None:
    flat = [(n, 0.05) for n in check_counts()]
    # 86 is the first count with a check at a quarter of it or fewer (20); then 94, 103, 113.
    assert [n for n, _ in flat if 86 <= n <= 113] == [86, 94, 103, 113]
    assert first_plateau(flat) == 113
    growing = [(n, 0.001 * math.sqrt(n)) for n in check_counts()]  # a drift: the CI widens
    assert first_plateau(growing) == 113


def test_ci_plateaued_needs_every_one_of_the_last_checks() -> None:
    history = [(n, 0.05) for n in check_counts(last=113)]
    assert stats.ci_plateaued(history)
    for i in range(-4, 0):  # one of the four narrower than its reference: not a plateau yet
        dipped = list(history)
        dipped[i] = (dipped[i][0], 0.049)
        assert not stats.ci_plateaued(dipped), i
    assert not stats.ci_plateaued(history[:3])


def test_ci_plateaued_does_not_hold_against_an_infinite_reference() -> None:
    history = [(n, math.inf if n < 40 else 0.05) for n in check_counts(last=300)]  # no CI until 42
    # 179 is the first count whose reference (42, at most a quarter) is finite; then 196, 215, 236.
    assert first_plateau(history) == 236


def test_the_ci_ranks_are_the_exact_binomial_ones_up_to_the_normal_approximation() -> None:
    # The reference: exact big-integer tail sums, P(Binomial(n, 1/2) <= k) against 2.5 %.
    def exact_rank(n: int) -> int:
        k, tail = 0, math.comb(n, 0)
        while tail * 40 <= 2**n:
            k += 1
            tail += math.comb(n, k)
        return max(0, k - 1)

    assert [stats._lower_rank(n) for n in range(1, 1001)] == [exact_rank(n) for n in range(1, 1001)]
