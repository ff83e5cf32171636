"""The records of one measured cell, built from what its worker processes reported.

A worker reports, per method, `Measurement` fields by their own names (collectors.worker); this
module adds the cell's identity and, where there are samples, their statistics. With several
fresh processes (`--processes`), series are pooled, each process's median kept, and the CI
widened to cover them (collectors.stats.covering_processes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collectors import stats
from collectors.plan import BenchPlan, Cell
from collectors.records import Measurement, Subgraph, series_fields, utc_now
from collectors.vocabulary import DEVICE_BUSY, MEASURED, OK, SYNCED_E2E

_SERIES = series_fields(Measurement)


def cell_measurement(cell: Cell, plan: BenchPlan, platform: str, processes: Sequence[dict[str, Any]]) -> Measurement:
    """The record of one method: its result in each process it ran in (one, except for Parity's
    timer with --processes), the samples pooled; a failure in any process is the record."""
    first = processes[0]
    identity = _identity(cell, platform)
    failed = next(((k, p) for k, p in enumerate(processes, 1) if p["status"] != OK), None)
    if failed:
        number, result = failed
        where = f"process {number} of {plan.processes}: " if plan.processes > 1 else ""
        kept = {name: first.get(name) for name in ("compile_s", "peak_memory_mb")}
        return Measurement(
            **identity, **{**_as_fields(result), **kept, "message": where + (result.get("message") or "")}
        )
    if not first.get("samples"):
        return Measurement(**identity, **_as_fields(first))
    return _timed(identity, plan, cell.batch_size, processes)


def layer_subgraphs(cell: Cell, platform: str, run_id: str, layers: Sequence[dict[str, Any]]) -> list[Subgraph]:
    """The leaf modules `--layers` timed in one cell, as measured subgraphs of the run."""
    return [
        Subgraph(
            side=MEASURED,
            model=cell.model,
            platform=platform,
            precision=cell.conversion.precision,
            batch_size=cell.batch_size,
            flops=None,
            bytes=None,
            method=DEVICE_BUSY,
            run_id=run_id,
            conversion=cell.conversion.name,
            **{**layer, "node_names": tuple(layer.get("node_names") or ())},
        )
        for layer in layers
    ]


def outcome_measurements(
    cell: Cell,
    plan: BenchPlan,
    platform: str,
    methods: Sequence[str],
    status: str,
    kind: str | None,
    message: str | None,
) -> list[Measurement]:
    """One record per method for a cell that produced no results: unavailable, or its worker died."""
    return [
        Measurement(
            **_identity(cell, platform),
            device=plan.device,
            method=method,
            status=status,
            failure_kind=kind,
            message=message,
        )
        for method in methods
    ]


def _identity(cell: Cell, platform: str) -> dict[str, Any]:
    return dict(
        model=cell.model,
        platform=platform,
        precision=cell.conversion.precision,
        batch_size=cell.batch_size,
        conversion=cell.conversion.name,
        measured_at=utc_now(),
    )


def _as_fields(result: dict[str, Any]) -> dict[str, Any]:
    """A worker's result (JSON: series are lists) as Measurement keyword arguments."""
    return {name: tuple(value) if name in _SERIES else value for name, value in result.items()}


def _timed(
    identity: dict[str, Any], plan: BenchPlan, batch_size: int, processes: Sequence[dict[str, Any]]
) -> Measurement:
    fields = _as_fields(processes[0])
    for name in _SERIES:  # pooled over the processes
        fields[name] = tuple(value for p in processes for value in p.get(name) or ())
    medians = [stats.median(p["samples"]) for p in processes] if len(processes) > 1 else []
    summary = stats.covering_processes(stats.summarise(fields["samples"]), medians)
    fields.update(
        median=summary.median,
        mean=summary.mean,
        std=summary.std,
        p05=summary.p05,
        p95=summary.p95,
        ci95_low=summary.ci95_low,
        ci95_high=summary.ci95_high,
        n_iterations=summary.n,
        throughput_sps=batch_size / (summary.median / 1000),
        process_medians=tuple(medians),
    )
    if fields["method"] != SYNCED_E2E:  # the profiler's calls: a fixed number, no CI target to reach
        return Measurement(**identity, **{"message": f"{summary.n} profiled calls", **fields})
    energies = [p["energy_mj"] for p in processes if p.get("energy_mj")]
    if len(processes) > 1 and energies:  # per process, as for latency; the cell's is their median
        fields.update(process_energy_mj=tuple(energies), energy_mj=stats.median(energies))
    converged = summary.relative_ci_halfwidth() <= plan.target_ci
    stopped_by = "+".join(sorted({p["stopped_by"] for p in processes if p.get("stopped_by")})) or None
    fields.update(
        converged=converged,
        stopped_by=stopped_by,
        warmup_iterations=sum(p.get("warmup_iterations") or 0 for p in processes),
        message=_how_it_ended(summary, plan, len(processes), converged, stopped_by),
    )
    return Measurement(**identity, **fields)


def _how_it_ended(
    summary: stats.Summary, plan: BenchPlan, processes: int, converged: bool, stopped_by: str | None
) -> str:
    """Why a cell's CI is wider than --target-ci (the time cap came first, more samples stopped
    narrowing it, or the processes disagree), else how many processes measured it."""
    if converged:
        return f"CI target reached in {processes} processes" if processes > 1 else "CI target reached"
    target = f"CI target ±{plan.target_ci * 100:.3g} % not reached"
    rule = f"stopped by {stopped_by}" if stopped_by else "stopped"
    if summary.n < 2:
        return f"{target}: {summary.n} iteration, too few for a CI ({rule}, budget {plan.max_seconds:g} s)"
    where = f" in {processes} processes" if processes > 1 else ""
    return (
        f"{target}: ±{summary.relative_ci_halfwidth() * 100:.1f} % after {summary.n} iterations{where} "
        f"({rule}, budget {plan.max_seconds:g} s)"
    )
