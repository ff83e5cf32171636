"""What `parity bench` prints at the end of a run: one row per cell and method, and where each
cell's time went (the phases a worker recorded), with the rules that stopped the timing explained.
"""

from __future__ import annotations

from collections.abc import Sequence

from collectors import stats
from collectors.measure import PHASES
from collectors.records import Measurement
from collectors.timer import MAX_SECONDS, PLATEAU
from reporter.formatting import millijoules, milliseconds, text_table


def end_of_run(measurements: Sequence[Measurement], max_seconds: float | None = None) -> str:
    """The results table (a `!` marks a CI wider than --target-ci, explained below it) and the
    time table."""
    return "\n\n".join(part for part in (_results(measurements, max_seconds), _times(measurements)) if part)


def _results(measurements: Sequence[Measurement], max_seconds: float | None) -> str:
    rows = [
        [
            m.model,
            m.conversion,
            str(m.batch_size),
            m.method,
            m.status,
            milliseconds(m.median),
            _ci(m),
            m.stopped_by or "",
            millijoules(m.energy_mj) if m.energy_mj else "",
            m.failure_kind or "",
        ]
        for m in measurements
    ]
    table = text_table(
        ["model", "conversion", "batch", "method", "status", "median", "ci95", "stopped by", "energy", "failure"], rows
    )
    loose = [m for m in measurements if m.converged is False]
    return table + "".join(f"\n{line}" for line in _loose_notes(loose, max_seconds))


def _ci(m: Measurement) -> str:
    width = (
        f"±{stats.relative_halfwidth(m.median, m.ci95_low, m.ci95_high):.1%}"
        if m.ci95_low is not None and m.ci95_high is not None and m.median
        else ""
    )
    return width + ("!" if m.converged is False else "")


def _loose_notes(loose: list[Measurement], max_seconds: float | None) -> list[str]:
    """Why some cells' medians are uncertain, and what (if anything) would help."""
    notes = []
    capped = [m for m in loose if MAX_SECONDS in (m.stopped_by or "")]
    if capped:
        budget = f" (now {max_seconds:g} s)" if max_seconds else ""
        notes.append(
            f"! {len(capped)} cell(s) stopped at --max-seconds before the CI target: their median is "
            f"uncertain (see the ci95 column); rerun them with a larger --max-seconds{budget}"
        )
    if any(PLATEAU in (m.stopped_by or "") for m in loose):
        notes.append(
            f"! {sum(PLATEAU in (m.stopped_by or '') for m in loose)} cell(s) stopped because more samples no "
            "longer narrowed the CI (the host's speed drifts): more time would not help; --processes shows "
            "how far fresh processes land apart"
        )
    if any(len(m.process_medians) > 1 for m in loose):
        notes.append(
            "! their processes' medians disagree by more than the target, which more time does not fix "
            "(see process_medians)"
        )
    return notes


def _times(measurements: Sequence[Measurement]) -> str:
    """Seconds per phase of each cell (its methods' phases together), and the run's total. Phases in
    measure.PHASES's order, then any other a record carries: both totals add the same columns."""
    cells: dict[tuple, dict[str, float]] = {}
    for m in measurements:
        phases = cells.setdefault((m.model, m.conversion, m.batch_size), {})
        for name, seconds in m.phase_s.items():
            phases[name] = phases.get(name, 0.0) + seconds
    recorded = {name for phases in cells.values() for name in phases}
    shown = [name for name in PHASES if name in recorded] + sorted(recorded - set(PHASES))
    if not shown:
        return ""
    rows = [
        [model, conversion, str(batch), *[_seconds(phases.get(name)) for name in shown], _seconds(sum(phases.values()))]
        for (model, conversion, batch), phases in cells.items()
    ]
    totals = [sum(phases.get(name, 0.0) for phases in cells.values()) for name in shown]
    rows.append(["all cells", "", "", *map(_seconds, totals), _seconds(sum(totals))])
    return "where the time went (seconds)\n" + text_table(["model", "conversion", "batch", *shown, "total"], rows)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"
