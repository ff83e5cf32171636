"""How one cell moved between two runs: its class (regressed, improved, newly failing, ...), the
change of its median, and the significance test behind it. Pure functions of the two sides; the
runs are read by reporter.compare.

A change is real only when it is both large (at least `threshold_pct`) and significant
(reporter.significance), and, where the cell has a history, beyond its night-to-night noise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from collectors.vocabulary import DEVICE_BUSY, ENERGY, LATENCY, OK, SERIES, SYNCED_E2E
from reporter.significance import DEFAULT_ALPHA, Significance, beyond_night_noise, night_spread_pct, significance

DEFAULT_THRESHOLD_PCT = 5.0
# Parity's own figures: what a caller waits for, and the device's work within it.
DEFAULT_METHODS = (SYNCED_E2E, DEVICE_BUSY)
DEFAULT_HISTORY_NIGHTS = 20  # runs up to the base run that the night-to-night spread comes from
REGRESSED, NEWLY_FAILING = "regressed", "newly failing"
IMPROVED, NEWLY_PASSING = "improved", "newly passing"
NEW, GONE, UNCHANGED = "new", "gone", "unchanged"
UNTESTED = "untested"  # both ok, but too little data (no samples, no real CI) for either test
CLASSES = (REGRESSED, NEWLY_FAILING, IMPROVED, NEWLY_PASSING, UNTESTED, NEW, GONE, UNCHANGED)  # display order
GATING_CLASSES = (REGRESSED, NEWLY_FAILING)  # what --fail-on-regression fails on
NOTABLE_CLASSES = (REGRESSED, NEWLY_FAILING, IMPROVED, NEWLY_PASSING)  # shown outside <details>

# A cell of a comparison: one measured series (vocabulary.SERIES) and one of its quantities.
CELL_KEYS = SERIES
# The quantities judged, each by the same rules on its own samples (memory has one figure, no samples).
JUDGED_QUANTITIES = (LATENCY, ENERGY)
# Cells are listed per platform first; None (no device recorded) sorts as "".
_DISPLAY_ORDER = ("platform", *(key for key in CELL_KEYS if key != "platform"))


@dataclass(frozen=True)
class CellKey:
    model: str
    platform: str
    precision: str
    batch_size: int
    conversion: str
    method: str
    device: str | None
    quantity: str = LATENCY  # one of JUDGED_QUANTITIES

    def describe(self) -> str:
        figure = "" if (self.quantity, self.method) == (LATENCY, SYNCED_E2E) else f" ({self.quantity}, {self.method})"
        return f"{self.model} {self.conversion} {self.precision} bs{self.batch_size} on {self.platform}{figure}"


@dataclass(frozen=True)
class Side:
    """One run's measurement of a cell."""

    status: str
    median: float | None
    ci95: tuple[float | None, float | None]
    samples: tuple[float, ...]
    failure_kind: str | None = None
    message: str | None = None
    n_iterations: int | None = None  # what the CI came from where the samples were not stored
    processes: int = 1  # fresh processes the samples came from (`parity bench --processes`)

    @property
    def ok(self) -> bool:
        return self.status == OK and self.median is not None and self.median > 0


@dataclass(frozen=True)
class CellChange:
    key: CellKey
    kind: str  # one of CLASSES
    base: Side | None
    head: Side | None
    change_pct: float | None = None  # (head / base - 1) × 100 of the medians
    test: Significance | None = None
    night_spread_pct: float | None = None  # σ of the night-to-night change; None: too little history


def count_kinds(changes: Sequence[CellChange]) -> dict[str, int]:
    """How many cells of each class there are, in CLASSES order, classes with none left out."""
    counted = Counter(change.kind for change in changes)
    return {kind: counted[kind] for kind in CLASSES if counted[kind]}


def classify(
    base: Side | None,
    head: Side | None,
    *,
    threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    alpha: float = DEFAULT_ALPHA,
    night_spread: float | None = None,
) -> tuple[str, float | None, Significance | None]:
    """(class, change %, significance test) of one cell; a pure function of its two sides.

    night_spread: the cell's night-to-night spread in percent (`night_spread_pct`), or None.
    """
    if base is None or head is None:
        return (NEW if base is None else GONE), None, None
    if not (base.ok and head.ok):
        if base.ok:
            return NEWLY_FAILING, None, None
        return (NEWLY_PASSING if head.ok else UNCHANGED), None, None
    change_pct = (head.median / base.median - 1) * 100
    test = significance(
        base.samples,
        head.samples,
        base.ci95,
        head.ci95,
        alpha=alpha,
        base_count=base.n_iterations,
        head_count=head.n_iterations,
        clustered=base.processes > 1 or head.processes > 1,
    )
    if not test.tested:
        return UNTESTED, change_pct, test
    real = test.significant and abs(change_pct) >= threshold_pct and beyond_night_noise(change_pct, night_spread)
    if not real:
        return UNCHANGED, change_pct, test
    return (REGRESSED if change_pct > 0 else IMPROVED), change_pct, test


def cell_changes(
    base: dict[CellKey, Side],
    head: dict[CellKey, Side],
    *,
    threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    alpha: float = DEFAULT_ALPHA,
    nights: dict[CellKey, list[float]] | None = None,
) -> list[CellChange]:
    """Every cell of either run, classified, in display order (class, then cell).

    nights: each cell's medians up to the base run, oldest first (for the night-to-night spread).
    """
    changes = []
    for key in sorted(set(base) | set(head), key=_sort_key):
        spread = night_spread_pct((nights or {}).get(key, []))
        kind, change_pct, test = classify(
            base.get(key), head.get(key), threshold_pct=threshold_pct, alpha=alpha, night_spread=spread
        )
        changes.append(CellChange(key, kind, base.get(key), head.get(key), change_pct, test, spread))
    return sorted(changes, key=lambda change: CLASSES.index(change.kind))  # stable: cells stay in order


def _sort_key(key: CellKey) -> tuple:
    return tuple("" if (value := getattr(key, name)) is None else value for name in _DISPLAY_ORDER)
