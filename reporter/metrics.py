"""Prediction-error metrics: pure functions over a comparisons DataFrame, no I/O, no rendering.

Definitions (computed once, by the store's `pair_quantities` macro; README, "The store (DuckDB)"):
ratio = predicted / measured (> 1 pessimistic, < 1 optimistic);
signed_error_pct = (predicted - measured) / measured * 100; abs_error_pct its magnitude.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from collectors.vocabulary import ERROR_BANDS_PCT, GRAPHS_GATE_PCT

NARROW_BAND_PCT, WIDE_BAND_PCT = ERROR_BANDS_PCT  # ErrorStats.within_10_pct and within_30_pct count these


@dataclass(frozen=True)
class ErrorStats:
    count: int
    mape: float  # mean absolute percentage error
    median_ape: float
    within_10_pct: float  # share of comparisons with |error| <= NARROW_BAND_PCT, 0..1
    within_30_pct: float  # the same within WIDE_BAND_PCT
    geomean_ratio: float  # bias: > 1 pessimistic, < 1 optimistic
    spearman: float | None  # rank agreement of predicted vs measured figures; None under 3 points

    @property
    def passes_gate(self) -> bool:
        return passes_gate(self.median_ape)


def passes_gate(median_ape: float) -> bool:
    """Whether a median absolute error meets graphs' acceptance gate; NaN (nothing scored) never does."""
    return bool(median_ape <= GRAPHS_GATE_PCT)


def error_stats(comparisons: pd.DataFrame) -> ErrorStats:
    """Summary of one group of comparisons of one quantity (needs predicted, measured, abs_error_pct, ratio)."""
    ape = comparisons["abs_error_pct"].astype(float)
    return ErrorStats(
        count=len(comparisons),
        mape=float(ape.mean()) if len(ape) else math.nan,
        median_ape=float(ape.median()) if len(ape) else math.nan,
        within_10_pct=float((ape <= NARROW_BAND_PCT).mean()) if len(ape) else math.nan,
        within_30_pct=float((ape <= WIDE_BAND_PCT).mean()) if len(ape) else math.nan,
        geomean_ratio=geometric_mean(comparisons["ratio"]),
        spearman=spearman(comparisons["predicted"], comparisons["measured"]),
    )


def grouped_error_stats(comparisons: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One row of ErrorStats per group, sorted by the group keys."""
    rows = [
        {**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)), **asdict(error_stats(group))}
        for key, group in comparisons.groupby(by, dropna=False, sort=True)
    ]
    columns = by + list(ErrorStats.__dataclass_fields__)
    return pd.DataFrame(rows, columns=columns)


def geometric_mean(values: pd.Series) -> float:
    positive = values.astype(float)
    positive = positive[positive > 0]
    return float(np.exp(np.log(positive).mean())) if len(positive) else math.nan


def spearman(predicted: pd.Series, measured: pd.Series) -> float | None:
    """Spearman's rho (Pearson on average ranks); None with fewer than 3 points or no spread."""
    if len(predicted) < 3:
        return None
    a = predicted.astype(float).rank().to_numpy()
    b = measured.astype(float).rank().to_numpy()
    if a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])
