"""Pure statistics: Mann–Whitney U (checked against hand-worked and scipy values), CI fallback."""

from __future__ import annotations

import random

import pytest

from reporter.significance import average_ranks, intervals_overlap, mann_whitney_u, significance


def test_significance_ties_share_their_average_rank():
    assert average_ranks([5.0, 1.0, 5.0, 3.0]) == ([3.5, 1.0, 3.5, 2.0], [1, 1, 2])


def test_significance_exact_p_for_small_disjoint_samples():
    # 3 vs 3 with every base value below every head value: 2 of C(6, 3) = 20 orderings as extreme
    result = mann_whitney_u([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert result.exact and result.u == 0.0
    assert result.p_value == pytest.approx(0.1)


def test_significance_all_equal_values_show_no_difference():
    assert mann_whitney_u([2.0] * 30, [2.0] * 30).p_value == 1.0


def test_significance_empty_sample_is_refused():
    with pytest.raises(ValueError):
        mann_whitney_u([], [1.0])


@pytest.mark.parametrize("n_base,n_head,decimals", [(5, 7, 6), (10, 10, 6), (30, 40, 6), (30, 40, 1), (200, 300, 1)])
def test_significance_matches_scipy(n_base, n_head, decimals):
    stats = pytest.importorskip("scipy.stats")  # a cross-check only: Parity does not depend on scipy
    rng = random.Random(n_base * n_head)
    base = [round(rng.gauss(10, 1), decimals) for _ in range(n_base)]
    head = [round(rng.gauss(10.8, 1), decimals) for _ in range(n_head)]
    ours = mann_whitney_u(base, head)
    theirs = stats.mannwhitneyu(base, head, alternative="two-sided", method="exact" if ours.exact else "asymptotic")
    assert ours.u == theirs.statistic
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)


def test_significance_shifted_samples_are_significant_and_noise_is_not():
    rng = random.Random(1)
    base = [rng.gauss(10, 0.2) for _ in range(100)]
    assert significance(base, [rng.gauss(11, 0.2) for _ in range(100)]).significant
    same = significance(base, [rng.gauss(10, 0.2) for _ in range(100)])
    assert same.test == "mann-whitney" and not same.significant


def test_significance_falls_back_to_confidence_intervals_without_samples():
    assert significance([], [], (9.8, 10.2), (10.5, 10.9)).significant
    overlapping = significance([], [], (9.8, 10.2), (10.1, 10.4))
    assert overlapping.test == "ci-overlap" and not overlapping.significant


def test_significance_without_samples_or_intervals_is_never_significant():
    assert significance([1.0], [5.0]).test == "none"
    assert not significance([1.0], [5.0], (0.9, 1.1), (None, None)).significant


def test_significance_one_sample_and_a_degenerate_interval_is_not_tested():
    """QA: 1 sample (CI (1.22, 1.22)) against 13 was called significant: "CIs disjoint"."""
    rng = random.Random(5)
    head = [rng.gauss(44.8, 0.2) for _ in range(13)]
    result = significance([1.22], head, (1.22, 1.22), (44.5, 45.2))
    assert (result.significant, result.test, result.tested) == (False, "none", False)
    assert result.note == "too little data (base 1 sample(s), fewer than 6): change not tested"


@pytest.mark.parametrize(
    "base_samples,base_ci,base_count,why",
    [
        ([1.0, 1.1], (1.0, 1.1), None, "base 2 sample(s), fewer than 6"),  # an interval, but not a 95 % one
        ([], (1.0, 1.1), 5, "base 5 sample(s), fewer than 6"),  # summary only, counted
        ([], (1.2, 1.2), None, "base a degenerate CI (1.2, 1.2)"),  # low == high never counts
        ([], (None, None), 16, "base no samples or CI"),
    ],
)
def test_significance_ci_fallback_needs_real_intervals(base_samples, base_ci, base_count, why):
    result = significance(base_samples, [], base_ci, (5.0, 5.5), base_count=base_count, head_count=30)
    assert not result.significant and result.test == "none" and why in result.note


def test_significance_ci_fallback_with_enough_samples_or_an_unknown_count():
    assert significance([], [], (9.8, 10.2), (10.5, 10.9), base_count=6, head_count=6).significant
    assert significance([], [], (9.8, 10.2), (10.5, 10.9)).test == "ci-overlap"  # count unknown: taken at its word


def test_significance_without_samples_or_intervals_says_not_tested():
    result = significance([], [], base_count=16, head_count=16)
    assert result.test == "none" and result.note == "no samples or CI: change not tested"


def test_significance_interval_overlap_includes_touching_ends():
    assert intervals_overlap(1.0, 2.0, 2.0, 3.0)
    assert not intervals_overlap(1.0, 2.0, 2.1, 3.0)
