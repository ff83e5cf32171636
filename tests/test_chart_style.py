"""reporter.chart_style: the vectorised `numbers` gives the same floats as `number`, value by value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reporter.chart_style import number, numbers


def _awkward_values() -> np.ndarray:
    """Random magnitudes, and the values where five-digit rounding is hard: halves, powers of ten and
    their neighbours, signed zeros, the extremes, NaN and infinities, and random bit patterns."""
    rng = np.random.default_rng(7)
    powers = 10.0 ** np.arange(-30, 31)
    return np.concatenate(
        [
            rng.lognormal(0, 6, 200_000),
            -rng.lognormal(0, 3, 20_000),
            np.round(rng.uniform(0, 1e5, 20_000)) + 0.5,
            np.round(rng.uniform(0, 10, 20_000), 4) + 0.00005,
            powers,
            np.nextafter(powers, 0),
            np.nextafter(powers, np.inf),
            99999.5 * powers,
            [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1e-310, 1.7e308, 12345.5, 12344.5, 0.5, 2.5],
            rng.integers(0, 2**63, 50_000, dtype=np.uint64).view(np.float64),
        ]
    )


def test_numbers_match_number_to_the_last_bit():
    values = _awkward_values()
    assert [repr(v) for v in numbers(values)] == [repr(number(v)) for v in values]
    assert [repr(v) for v in numbers(pd.Series(values[:1000]))] == [repr(number(v)) for v in values[:1000]]


def test_numbers_of_integers_objects_and_nothing():
    assert numbers(np.arange(3)) == [0.0, 1.0, 2.0]
    assert numbers([1, None, 2.345678]) == [1.0, None, 2.3457]
    assert numbers(pd.Series([], dtype=float)) == []
