"""Measure every cell (model × conversion × batch size) of a plan in worker processes.

The library behind `parity bench`, and the API for other code (`parity demo`, tests):

    plan = BenchPlan(models=["resnet18"], conversions=["EAGER"], batch_sizes=[1])
    result = run_plan(plan)                    # BenchResult(run: RunInfo, measurements: [...])
    reporter.runs.store_result(store, result)  # or collectors.bundle.write_bundle(result, path)

Names are checked against Alma's catalogue before anything runs (collectors.plan). Conversions the
probe finds unavailable are recorded as `unavailable` with its reason, not attempted. Every other
cell runs in a worker (collectors.pool) with a timeout: an exception, a crash (segfault, abort),
an out-of-memory kill or a hang becomes a recorded failure and the run goes on. With a journal
(collectors.journal) each finished cell is on disk before the next starts, and a run killed
half-way is continued by `run_plan(plan, resume=read_journal(...))` under its own run id.
"""

from __future__ import annotations

import os
import platform
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from collectors.cell_records import cell_measurement, layer_subgraphs, outcome_measurements
from collectors.errors import ParityError
from collectors.fingerprint import environment_differences, fingerprint, platform_id
from collectors.journal import Journal, JournalContent
from collectors.measure import STARTUP, failed
from collectors.names import Names
from collectors.plan import BenchPlan, Cell, check_device, key_of, plan_cells
from collectors.pool import REPO_ROOT, Outcome, WorkerPool
from collectors.probe import Availability, Host, probe
from collectors.records import Measurement, RunInfo, Subgraph, new_run_id, utc_now
from collectors.vocabulary import ALMA, OK, SYNCED_E2E, UNAVAILABLE
from collectors.worker import CellRequest, CellResult, MethodResult

_METHODS = {"synced": (SYNCED_E2E,), "alma": (ALMA,), "both": (SYNCED_E2E, ALMA)}


@dataclass(slots=True)
class BenchResult:
    run: RunInfo
    measurements: list[Measurement]
    subgraphs: list[Subgraph] = field(default_factory=list)  # leaf modules timed by --layers


@dataclass(slots=True)
class CellOutcome:
    """One finished cell: a measurement per method, and its layers where --layers timed them."""

    measurements: list[Measurement]
    subgraphs: list[Subgraph] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CellProgress:
    """Told to the progress callback before each process of a cell (`measurements` None) and
    after the cell (`skipped`: measured before, by the run being resumed)."""

    index: int
    total: int
    cell: Cell
    measurements: list[Measurement] | None = None
    process: int = 1  # which of `processes` fresh processes is starting (`--processes`)
    processes: int = 1
    skipped: bool = False

    def label(self) -> str:
        return self.cell.label() + (f" (process {self.process}/{self.processes})" if self.processes > 1 else "")


Progress = Callable[[CellProgress], None]


@dataclass(frozen=True, slots=True)
class Session:
    """How a plan is run, beside what it measures.

    journal: where each finished cell is written at once (None: nowhere until the end).
    out, db: where the run is to be stored afterwards, noted in the journal for a resume.
    resume: a killed run's journal content: its run id and cells are kept, the rest measured.
    compile_cache: the folder inductor's and Triton's caches are kept in between runs (None: theirs).
    isolate: a fresh worker process for every cell instead of one per model.
    """

    journal: Path | None = None
    out: Path | None = None
    db: Path | None = None
    resume: JournalContent | None = None
    compile_cache: Path | None = None
    isolate: bool = False


def run_plan(plan: BenchPlan, progress: Progress | None = None, session: Session = Session()) -> BenchResult:
    """Measure every cell of `plan` not measured yet; returns the run and one measurement per cell
    and method (a resumed run's earlier cells included).

    Raises UnknownConversion / ParityError for bad names, before anything runs.
    """
    cells = plan_cells(plan)
    check_device(plan.device)
    availability = {a.conversion: a for a in probe(plan.device, [c.conversion for c in cells], Host(plan.device))}
    run, earlier = _run_and_earlier_cells(plan, session)
    journal = _open_journal(session, run)
    measurements = earlier.measurements()
    subgraphs = list(earlier.subgraphs)
    done = {key_of(cell[0]) for cell in earlier.cells}
    pool = WorkerPool(plan.threads or _usable_cores(), reuse=not session.isolate, compile_cache=session.compile_cache)
    try:
        for index, cell in enumerate(cells):
            if cell.key() in done:
                _tell(progress, CellProgress(index, len(cells), cell, skipped=True))
                continue
            starting = _announcer(progress, index, len(cells), cell, plan.processes)
            outcome = measure_cell(cell, plan, run, availability[cell.conversion.name], pool, starting)
            if journal:
                journal.record(outcome.measurements, outcome.subgraphs)
            measurements += outcome.measurements
            subgraphs += outcome.subgraphs
            _tell(progress, CellProgress(index, len(cells), cell, outcome.measurements))
    finally:
        pool.close()
        if journal:
            journal.close()
    return BenchResult(replace(run, finished_at=utc_now()), measurements, subgraphs)


def _run_and_earlier_cells(plan: BenchPlan, session: Session) -> tuple[RunInfo, JournalContent]:
    if session.resume is None:
        run = _new_run(plan, fingerprint())
        return run, JournalContent(Path(), run, [])
    run, environment = session.resume.run, fingerprint()
    here = _platform(plan, environment)
    if run.platform != here:
        raise ParityError(
            f"run {run.run_id} was measured on {run.platform}, this machine is {here}: resume it where it started"
        )
    differences = environment_differences(run.environment, environment)
    if differences:
        first = differences[0]
        raise ParityError(
            f"run {run.run_id} was measured with {first.key} {first.base}, this machine has "
            f"{first.head}: its cells would not be comparable with the new ones; start a new run"
        )
    return run, session.resume


def _open_journal(session: Session, run: RunInfo) -> Journal | None:
    if session.journal is None:
        return None
    if session.resume:
        return Journal.reopen(session.journal)
    return Journal.create(session.journal, run, out=session.out, db=session.db)


def _tell(progress: Progress | None, event: CellProgress) -> None:
    if progress:
        progress(event)


def _announcer(progress: Progress | None, index: int, total: int, cell: Cell, processes: int) -> Callable[[int], None]:
    """measure_cell's `starting` callback: tells `progress` which process of the cell starts."""
    return lambda process: _tell(progress, CellProgress(index, total, cell, process=process, processes=processes))


def measure_cell(
    cell: Cell,
    plan: BenchPlan,
    run: RunInfo,
    availability: Availability,
    pool: WorkerPool,
    starting: Callable[[int], None] = lambda process: None,
) -> CellOutcome:
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
        return CellOutcome(
            outcome_measurements(cell, plan, run.platform, methods, UNAVAILABLE, availability.category, message)
        )
    first = _in_worker(pool, _request(cell, plan, plan.timer), plan)
    if not isinstance(first, CellResult):
        return CellOutcome(outcome_measurements(cell, plan, run.platform, methods, *first))
    measurements = [
        cell_measurement(cell, plan, run.platform, _more_processes(cell, plan, result, pool, starting))
        for result in first.results
    ]
    return CellOutcome(measurements, layer_subgraphs(cell, run.platform, run.run_id, first.layers))


def _in_worker(pool: WorkerPool, request: CellRequest, plan: BenchPlan) -> CellResult | Outcome:
    """The worker's result, its start-up seconds added to the first method's phases where a worker
    was started for this cell. With --processes every process is a fresh one."""
    outcome, startup = pool.measure(request, plan.timeout_s, fresh=plan.processes > 1)
    if isinstance(outcome, CellResult) and startup is not None:
        first = outcome.results[0]
        first["phase_s"] = {**(first.get("phase_s") or {}), STARTUP: startup}
    return outcome


def _more_processes(
    cell: Cell, plan: BenchPlan, first: MethodResult, pool: WorkerPool, starting: Callable[[int], None]
) -> list[MethodResult]:
    """`first` and, for Parity's timer with --processes N, the results of N - 1 more fresh
    processes, stopping at the first that fails (its failure then stands for the cell's timer)."""
    results = [first]
    while first["method"] == SYNCED_E2E and len(results) < plan.processes and results[-1]["status"] == OK:
        starting(len(results) + 1)
        outcome = _in_worker(pool, _request(cell, plan, "synced", repeat=True), plan)
        if isinstance(outcome, CellResult):
            results.append(outcome.results[0])
        else:
            status, kind, message = outcome
            results.append(failed(SYNCED_E2E, plan.device, kind, message, status=status))
    return results


def _request(cell: Cell, plan: BenchPlan, timer: str, *, repeat: bool = False) -> CellRequest:
    """The worker's request for `cell`; a `repeat` (another process timing it) skips the profiler."""
    return CellRequest(
        model=cell.model,
        conversion=cell.conversion.name,
        batch_size=cell.batch_size,
        device=plan.device,
        timer=timer,
        target_ci=plan.target_ci,
        max_seconds=plan.max_seconds,
        alma_batches=plan.alma_batches,
        layers=plan.layers and not repeat,
        profile=not repeat,
        threads=plan.threads or _usable_cores(),
    )


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _new_run(plan: BenchPlan, environment: dict) -> RunInfo:
    started = utc_now()
    return RunInfo(
        run_id=new_run_id("bench", started, uuid.uuid4().hex[:8]),
        kind="bench",
        started_at=started,
        finished_at=None,
        host=platform.node(),
        platform=_platform(plan, environment),
        label=plan.label,
        git_sha=git_sha(),
        environment=environment,
        settings=plan.model_dump(mode="json"),
    )


def _platform(plan: BenchPlan, environment: dict) -> str:
    """`--platform` or the detected one, as the canonical slug that predictions are matched on."""
    return Names.load().platform(plan.platform) if plan.platform else platform_id(environment)


def git_sha(checkout: Path = REPO_ROOT) -> str | None:
    """The commit of the code that measures, with "-dirty" where tracked files differ from it (a
    run measured with uncommitted changes must not pass for the commit); None outside git."""
    head = _git(checkout, "rev-parse", "HEAD")
    if not head:
        return None
    return head if _git(checkout, "status", "--porcelain", "--untracked-files=no") == "" else f"{head}-dirty"


def _git(checkout: Path, *arguments: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *arguments], cwd=checkout, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
