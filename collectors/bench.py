"""Measure every cell (model × conversion × batch size) of a plan, each in a fresh subprocess.

The library behind `parity bench`, and the API for other code (`parity demo`, tests):

    plan = BenchPlan(models=["resnet18"], conversions=["EAGER"], batch_sizes=[1])
    result = run_plan(plan)                    # BenchResult(run: RunInfo, measurements: [...])
    reporter.runs.store_result(store, result)  # or collectors.bundle.write_bundle(result, path)

Names are checked against Alma's catalogue before anything runs (collectors.plan). Conversions the
probe finds unavailable are recorded as `unavailable` with its reason, not attempted. Every other
cell runs in a worker process (collectors.pool) with a timeout: an exception, a crash (segfault,
abort), an out-of-memory kill or a hang becomes a recorded failure and the run goes on.
"""

from __future__ import annotations

import os
import platform
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from collectors.cell_records import cell_measurement, outcome_measurements
from collectors.fingerprint import fingerprint, platform_id
from collectors.names import Names
from collectors.plan import BenchPlan, Cell, check_device, plan_cells
from collectors.pool import REPO_ROOT, run_worker
from collectors.probe import Availability, Host, probe
from collectors.records import Measurement, RunInfo, new_run_id, utc_now
from collectors.vocabulary import ALMA, OK, SYNCED_E2E, UNAVAILABLE
from collectors.worker import CellRequest, CellResult, MethodResult

_METHODS = {"synced": (SYNCED_E2E,), "alma": (ALMA,), "both": (SYNCED_E2E, ALMA)}


@dataclass(slots=True)
class BenchResult:
    run: RunInfo
    measurements: list[Measurement]


@dataclass(frozen=True, slots=True)
class CellProgress:
    """Told to the progress callback before each process of a cell (`measurements` None) and
    after the cell."""

    index: int
    total: int
    cell: Cell
    measurements: list[Measurement] | None = None
    process: int = 1  # which of `processes` fresh processes is starting (`--processes`)
    processes: int = 1

    def label(self) -> str:
        return self.cell.label() + (f" (process {self.process}/{self.processes})" if self.processes > 1 else "")


Progress = Callable[[CellProgress], None]


def run_plan(plan: BenchPlan, progress: Progress | None = None) -> BenchResult:
    """Measure every cell of `plan`; returns the run and one measurement per cell and method.

    Raises UnknownConversion / ParityError for bad names, before anything runs.
    """
    cells = plan_cells(plan)
    check_device(plan.device)
    host = Host(plan.device)
    availability = {a.conversion: a for a in probe(plan.device, [c.conversion for c in cells], host)}
    environment = fingerprint()
    run = _new_run(plan, environment)
    measurements: list[Measurement] = []
    for index, cell in enumerate(cells):
        starting = _announcer(progress, index, len(cells), cell, plan.processes)
        done = measure_cell(cell, plan, run.platform, availability[cell.conversion.name], starting)
        measurements += done
        if progress:
            progress(CellProgress(index, len(cells), cell, done))
    return BenchResult(replace(run, finished_at=utc_now()), measurements)


def _announcer(progress: Progress | None, index: int, total: int, cell: Cell,
               processes: int) -> Callable[[int], None]:
    """measure_cell's `starting` callback: tells `progress` which process of the cell starts."""
    if progress is None:
        return lambda process: None
    return lambda process: progress(CellProgress(index, total, cell, process=process, processes=processes))


def measure_cell(cell: Cell, plan: BenchPlan, platform_name: str, availability: Availability,
                 starting: Callable[[int], None] = lambda process: None) -> list[Measurement]:
    """The measurements of one cell: `unavailable` rows, or the worker's results, or its failure.

    With `processes` > 1, Parity's timer runs in that many fresh processes (Alma's loop only in
    the first): a cell's level can differ between processes by more than one process's CI shows
    (benchmarks/README.md), so the processes' medians widen the CI. A failure in any process is
    the cell's outcome. `starting(k)` is called before process k (from 1).
    """
    starting(1)
    methods = _METHODS[plan.timer]
    if not availability.runnable:
        message = f"{availability.reason}; fix: {availability.fix}" if availability.fix else availability.reason
        return outcome_measurements(cell, plan, platform_name, methods, UNAVAILABLE, availability.category, message)
    first = run_worker(_request(cell, plan, plan.timer), plan.timeout_s)
    if not isinstance(first, CellResult):
        return outcome_measurements(cell, plan, platform_name, methods, *first)
    return [cell_measurement(cell, plan, platform_name, _more_processes(cell, plan, result, starting))
            for result in first.results]


def _more_processes(cell: Cell, plan: BenchPlan, first: MethodResult,
                    starting: Callable[[int], None]) -> list[MethodResult]:
    """`first` and, for Parity's timer with --processes N, the results of N - 1 more fresh
    processes, stopping at the first that fails (its failure then stands for the cell's timer)."""
    results = [first]
    while first["method"] == SYNCED_E2E and len(results) < plan.processes and results[-1]["status"] == OK:
        starting(len(results) + 1)
        outcome = run_worker(_request(cell, plan, "synced"), plan.timeout_s)
        results.append(outcome.results[0] if isinstance(outcome, CellResult) else {
            "method": SYNCED_E2E, "status": outcome[0], "device": plan.device, "failure_kind": outcome[1],
            "message": outcome[2]})
    return results


def _request(cell: Cell, plan: BenchPlan, timer: str) -> CellRequest:
    return CellRequest(model=cell.model, conversion=cell.conversion.name, batch_size=cell.batch_size,
                       device=plan.device, timer=timer, target_ci=plan.target_ci,
                       max_seconds=plan.max_seconds, alma_batches=plan.alma_batches,
                       threads=plan.threads or _usable_cores())


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _new_run(plan: BenchPlan, environment: dict) -> RunInfo:
    started = utc_now()
    return RunInfo(run_id=new_run_id("bench", started, uuid.uuid4().hex[:8]), kind="bench", started_at=started,
                   finished_at=None, host=platform.node(), platform=_platform(plan, environment),
                   label=plan.label, git_sha=_git_sha(), environment=environment)


def _platform(plan: BenchPlan, environment: dict) -> str:
    """`--platform` or the detected one, as the canonical slug that predictions are matched on."""
    return Names.load().platform(plan.platform) if plan.platform else platform_id(environment)


def _git_sha() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None

