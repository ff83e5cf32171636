"""Noise-aware differences between two measurement runs: the library behind `parity compare`.

A cell (model, platform, precision, batch size, conversion, device, for one timing method)
changed only when its median moved by at least `threshold_pct` AND the move is statistically
significant (`reporter.significance`: Mann–Whitney U on raw samples, else, or for cells measured
in several processes, disjoint 95 % CIs);
a cell with too little data for either test is "untested", never a change.
Both halves are needed: with thousands of samples a 0.5 % drift is "significant", and a 20 %
jump in a five-sample cell can be noise. Where the cell has a history before the base run, the
move must also exceed the cell's night-to-night noise, which the samples of one run cannot show.

Beside the cells, a comparison carries the environment keys that differ between the runs (the
comparison is still made, but flagged, as pyperf flags mismatched metadata) and how the
prediction error per platform moved (reporter.prediction_shifts).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from collectors.errors import ParityError
from collectors.fingerprint import EnvironmentDifference, environment_differences
from collectors.names import Names
from collectors.vocabulary import ENERGY, LATENCY, OK, QUANTITY_BY_NAME, columns
from reporter.cell_changes import (
    CELL_KEYS,
    DEFAULT_HISTORY_NIGHTS,
    DEFAULT_METHODS,
    DEFAULT_THRESHOLD_PCT,
    GATING_CLASSES,
    GONE,
    IMPROVED,
    JUDGED_QUANTITIES,
    NEW,
    NEWLY_PASSING,
    UNTESTED,
    CellChange,
    CellKey,
    Side,
    cell_changes,
    count_kinds,
)
from reporter.prediction_shifts import PredictionShift, prediction_shifts
from reporter.run_cells import RUN_CELLS
from reporter.schema import UNFINISHED_RUN
from reporter.significance import DEFAULT_ALPHA
from reporter.store import Store

_LATEST = re.compile(r"latest(?:~(\d+))?")


class CompareError(ParityError):
    """A comparison that cannot be made: an unknown or ambiguous run reference, no cells."""


@dataclass(frozen=True)
class RunRef:
    run_id: str
    label: str | None
    started_at: dt.datetime
    platform: str | None
    environment: dict[str, Any]
    incomplete: bool = False  # a bench killed before its last cell (its journal, ingested)

    def describe(self) -> str:
        return f"{self.label} ({self.run_id})" if self.label else self.run_id


@dataclass(frozen=True)
class Comparison:
    base: RunRef
    head: RunRef
    methods: tuple[str, ...]
    threshold_pct: float
    alpha: float
    cells: tuple[CellChange, ...]
    environment: tuple[EnvironmentDifference, ...]
    predictions: tuple[PredictionShift, ...]

    def of_kind(self, *kinds: str) -> list[CellChange]:
        return [cell for cell in self.cells if cell.kind in kinds]

    def counts(self) -> dict[str, int]:
        return count_kinds(self.cells)

    @property
    def has_regression(self) -> bool:
        return bool(self.of_kind(*GATING_CLASSES))

    def verdict(self) -> str:
        """One line: the outcome first, then the counts.

        REGRESSION, IMPROVEMENT, NOTHING COMPARABLE (no cell in both runs), NOT TESTED (cells in
        both runs, but none had the data for a test) or NO SIGNIFICANT CHANGE.
        """
        counts = ", ".join(f"{n} {kind}" for kind, n in self.counts().items())
        in_both = [cell for cell in self.cells if cell.kind not in (NEW, GONE)]
        if self.has_regression:
            outcome = "REGRESSION"
        elif self.of_kind(IMPROVED, NEWLY_PASSING):
            outcome = "IMPROVEMENT"
        elif not in_both:
            return f"NOTHING COMPARABLE: 0 cells in both runs ({counts or 'no cells'})"
        elif self.of_kind(UNTESTED) and not any(cell.test and cell.test.tested for cell in in_both):
            outcome = "NOT TESTED"
        else:
            outcome = "NO SIGNIFICANT CHANGE"
        return f"{outcome}: {counts} ({len(self.cells)} cells, ≥ {self.threshold_pct:g} % and p < {self.alpha:g})"

    def warnings(self) -> list[str]:
        """One line each: what makes this comparison say less than it seems to (environments apart)."""
        if self.base.run_id == self.head.run_id:
            return [f"base and head are the same run ({self.head.describe()}): nothing can have changed"]
        return [
            f"{side} run {run.describe()} is incomplete (stopped before its last cell): its missing cells show "
            f"as {'gone' if side == 'head' else 'new'}"
            for side, run in (("base", self.base), ("head", self.head))
            if run.incomplete
        ]


# -- run references ------------------------------------------------------------------------------


def resolve_run(
    store: Store, ref: str, *, methods: Sequence[str] = DEFAULT_METHODS, platform: str | None = None
) -> RunRef:
    """The run `ref` names: a run id, `latest`, `latest~N`, or a label that names exactly one run.

    `latest~N` counts back over runs with measurements of `methods` (bench runs and ingested
    bundles), ordered by started_at; `platform` restricts that count to one platform's runs.
    Raises CompareError naming the reference when it matches no run or several.
    """
    if store.has_run(ref):
        return _run_ref(store, ref)
    latest = _LATEST.fullmatch(ref)
    if latest:
        return _run_ref(store, _nth_latest(store, int(latest.group(1) or 0), methods, platform, ref))
    labelled = [
        row[0]
        for row in store.execute("SELECT run_id FROM runs WHERE label = ? ORDER BY started_at, run_id", [ref]).rows
    ]
    if len(labelled) == 1:
        return _run_ref(store, labelled[0])
    if labelled:
        raise CompareError(
            f"run {ref!r}: the label names {len(labelled)} runs ({', '.join(labelled[:5])}"
            f"{', ...' if len(labelled) > 5 else ''}); pass a run id or latest~N"
        )
    raise CompareError(
        f'run {ref!r}: no run has this id or label (see: parity query "SELECT run_id, label, '
        'started_at FROM runs ORDER BY started_at")'
    )


def resolve_platform(store: Store, name: str) -> str:
    """The platform slug `name` stands for: itself where measurements carry it verbatim, else
    through the shipped alias table (`h200` → `nvidia-h200`). Raises BadPlatform (a ParityError)
    for a name that cannot be a slug."""
    if store.execute("SELECT 1 FROM measurements WHERE platform = ? LIMIT 1", [name]).rows:
        return name
    return Names.load().platform(name)


def _nth_latest(store: Store, back: int, methods: Sequence[str], platform: str | None, ref: str) -> str:
    run_ids = [
        row[0]
        for row in store.execute(
            """SELECT r.run_id FROM runs r
           WHERE EXISTS (SELECT 1 FROM measurements m WHERE m.run_id = r.run_id AND list_contains(?, m.method)
                         AND (? IS NULL OR m.platform = ?))
           ORDER BY r.started_at DESC, r.run_id DESC""",
            [list(methods), platform, platform],
        ).rows
    ]
    if back >= len(run_ids):
        where = f" on {platform}" if platform else ""
        raise CompareError(f"run {ref!r}: only {len(run_ids)} run(s) with {' or '.join(methods)} measurements{where}")
    return run_ids[back]


def _run_ref(store: Store, run_id: str) -> RunRef:
    label, started_at, platform, environment, incomplete = store.execute(
        f"SELECT label, started_at, platform, environment, {UNFINISHED_RUN} FROM runs WHERE run_id = ?",
        [run_id],
    ).first()
    return RunRef(run_id, label, started_at, platform, json.loads(environment) if environment else {}, incomplete)


# -- cells ---------------------------------------------------------------------------------------


def load_sides(store: Store, run_id: str, methods: Sequence[str], platform: str | None = None) -> dict[CellKey, Side]:
    """The run's newest measurement of every series (of `methods`, on `platform` if given), as one
    side per quantity: latency always, energy where the cell measured it."""
    rows = store.execute(
        f"""WITH cells AS ({RUN_CELLS})
            SELECT {columns(CELL_KEYS, "c")}, c.status, c.median, c.ci95_low, c.ci95_high, c.failure_kind,
                   c.message, c.n_iterations, c.energy_mj, c.energy_samples,
                   (SELECT list(s.latency_ms ORDER BY s.iteration) FROM samples s
                    WHERE s.measurement_id = c.measurement_id) AS samples,
                   coalesce(len(c.process_medians), 1) AS processes
            FROM cells c WHERE $platform IS NULL OR c.platform = $platform""",
        {"run_id": run_id, "methods": list(methods), "platform": platform},
    ).dicts()
    sides = {}
    for row in rows:
        sides[_cell_key(row)] = Side(
            row["status"],
            row["median"],
            (row["ci95_low"], row["ci95_high"]),
            tuple(row["samples"] or ()),
            row["failure_kind"],
            row["message"],
            row["n_iterations"],
            row["processes"],
        )
        if row["status"] == OK and row["energy_mj"]:
            energy = tuple(row["energy_samples"] or ())
            sides[_cell_key(row, ENERGY)] = Side(
                OK, row["energy_mj"], (None, None), energy, n_iterations=len(energy), processes=row["processes"]
            )
    return sides


def load_night_medians(
    store: Store, until: RunRef, methods: Sequence[str], nights: int, platform: str | None = None
) -> dict[CellKey, list[float]]:
    """Each cell's figures in the last `nights` runs started up to `until` (included), oldest
    first, per quantity."""
    if nights <= 0:
        return {}
    rows = store.execute(
        f"""SELECT {columns(CELL_KEYS, "m")}, {_NIGHTLY_FIGURES}
            FROM measurements m JOIN runs r USING (run_id)
            WHERE list_contains($methods, m.method) AND m.status = $ok AND m.median > 0 AND r.started_at <= $until
              AND ($platform IS NULL OR m.platform = $platform)
            GROUP BY ALL""",
        {"nights": nights, "methods": list(methods), "ok": OK, "until": until.started_at, "platform": platform},
    ).dicts()
    return {
        _cell_key(row, quantity): list(reversed(row[quantity] or ())) for row in rows for quantity in JUDGED_QUANTITIES
    }


# Each judged quantity's measured figures, newest first: a list named after the quantity.
_NIGHTLY_FIGURES = ", ".join(
    f"""list_slice(list(m.{figure} ORDER BY r.started_at DESC, m.measurement_id DESC)
                   FILTER (WHERE m.{figure} > 0), 1, $nights) AS {quantity}"""
    for quantity, figure in ((name, QUANTITY_BY_NAME[name].measured) for name in JUDGED_QUANTITIES)
)


def _cell_key(row: dict[str, Any], quantity: str = LATENCY) -> CellKey:
    return CellKey(**{key: row[key] for key in CELL_KEYS}, quantity=quantity)


# -- the whole comparison ------------------------------------------------------------------------


def compare_runs(
    store: Store,
    base_ref: str,
    head_ref: str,
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    alpha: float = DEFAULT_ALPHA,
    history_nights: int = DEFAULT_HISTORY_NIGHTS,
    platform: str | None = None,
    base_predictor: str | None = None,
    head_predictor: str | None = None,
) -> Comparison:
    """Compare run `head_ref` against run `base_ref` (references as `resolve_run` takes them).

    Parameters:
        methods: timing methods of the measurements compared (`synced-e2e`, `device-busy`, `alma`, ...).
        threshold_pct: smallest change of the median, in percent, that counts.
        alpha: significance level of the Mann–Whitney U test.
        history_nights: runs up to the base run that each cell's night-to-night spread is
            estimated from (0: none; the spread needs at least 6).
        platform: compare only this platform's cells (and count `latest~N` over its runs); an
            alias (`h200`) is resolved through the shipped alias table.
        base_predictor, head_predictor: predictor versions for the prediction side.
    Raises CompareError for a bad option value, a bad reference or when neither run has a cell to compare.
    """
    _check_options(threshold_pct, alpha, history_nights)
    if platform is not None:
        platform = resolve_platform(store, platform)
    methods = tuple(methods)
    base = resolve_run(store, base_ref, methods=methods, platform=platform)
    head = resolve_run(store, head_ref, methods=methods, platform=platform)
    base_sides, head_sides = (load_sides(store, run.run_id, methods, platform) for run in (base, head))
    if not base_sides and not head_sides:
        where = f" on {platform}" if platform else ""
        raise CompareError(f"runs {base.run_id} and {head.run_id} have no {' or '.join(methods)} measurements{where}")
    return Comparison(
        base,
        head,
        methods,
        threshold_pct,
        alpha,
        cells=tuple(
            cell_changes(
                base_sides,
                head_sides,
                threshold_pct=threshold_pct,
                alpha=alpha,
                nights=load_night_medians(store, base, methods, history_nights, platform),
            )
        ),
        environment=tuple(environment_differences(base.environment, head.environment)),
        predictions=tuple(
            prediction_shifts(
                store, base, head, methods, platform, base_version=base_predictor, head_version=head_predictor
            )
        ),
    )


def _check_options(threshold_pct: float, alpha: float, history_nights: int) -> None:
    """Raises CompareError naming the one option whose value cannot be used."""
    if not threshold_pct >= 0:
        raise CompareError(f"threshold {threshold_pct:g}: must be a percentage >= 0")
    if not 0 < alpha < 1:
        raise CompareError(f"alpha {alpha:g}: must be between 0 and 1 (exclusive)")
    if history_nights < 0:
        raise CompareError(f"history nights {history_nights}: must be >= 0 (0: ignore the history)")
