"""Measure every cell (model × conversion × batch size) of a plan, each in a fresh subprocess.

The library behind `parity bench`, and the API for other code (`parity demo`, tests):

    plan = BenchPlan(models=["resnet18"], conversions=["EAGER"], batch_sizes=[1])
    result = run_plan(plan)                    # BenchResult(run: RunInfo, measurements: [...])
    reporter.runs.store_result(store, result)  # or collectors.bundle.write_bundle(result, path)

Names are checked against Alma's catalogue before anything runs. Conversions the probe finds
unavailable are recorded as `unavailable` with its reason, not attempted. Every other cell runs in
`python -m collectors.worker` in its own process group, with a timeout: an exception, a crash
(segfault, abort), an out-of-memory kill or a hang becomes a recorded failure and the run goes on.
"""
from __future__ import annotations

import importlib.machinery
import os
import platform
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationInfo, field_validator

import collectors
from collectors import stats
from collectors.catalogue import Conversion, validate_names
from collectors.errors import ParityError
from collectors.fingerprint import fingerprint, platform_id
from collectors.names import Names
from collectors.probe import Availability, Host, probe
from collectors.records import Measurement, RunInfo, new_run_id, utc_now
from collectors.worker import CellRequest, CellResult, MethodResult

REPO_ROOT = Path(collectors.__file__).resolve().parent.parent
_METHODS = {"synced": ("synced-e2e",), "alma": ("alma",), "both": ("synced-e2e", "alma")}
_STDERR_TAIL = 400
NOT_CONVERGED = "CI target"  # how the message of an ok cell whose CI is wider than --target-ci begins


class BenchPlan(BaseModel):
    """What to measure and how; validated when built (a boundary: the CLI and other callers)."""

    model_config = ConfigDict(frozen=True)

    models: list[str] = Field(min_length=1)  # torchvision builder names, or module.path:factory
    conversions: list[str] = Field(min_length=1)  # Alma conversion names
    batch_sizes: list[PositiveInt] = Field(min_length=1)
    device: Literal["cpu", "cuda"] = "cpu"
    platform: str | None = None  # default: detected from the fingerprint
    target_ci: float = Field(0.01, gt=0, allow_inf_nan=False)  # relative half-width of the 95 % CI of the median
    max_seconds: float = Field(30.0, gt=0, allow_inf_nan=False)  # per cell, warm-up plus timing (compile excluded)
    timeout_s: float = Field(900.0, gt=0, allow_inf_nan=False)  # per worker process, everything included; then it is killed
    timer: Literal["synced", "alma", "both"] = "both"
    label: str | None = None
    alma_batches: PositiveInt = 16  # batches in Alma's own loop (n_samples = alma_batches × batch size)
    threads: PositiveInt | None = None  # torch/OpenMP threads in the worker; default: the usable cores
    processes: PositiveInt = 1  # fresh processes per cell for Parity's timer (see measure_cell)

    @field_validator("models", "conversions")
    @classmethod
    def _no_empty_names(cls, names: list[str]) -> list[str]:
        if any(not name.strip() for name in names):
            raise ValueError("empty name")
        return names

    @field_validator("processes")
    @classmethod
    def _processes_need_parity_timer(cls, processes: int, info: ValidationInfo) -> int:
        if processes > 1 and info.data.get("timer") == "alma":
            raise ParityError(f"--processes {processes}: repeats Parity's timer, which --timer alma does not run "
                              "(use --timer synced or both)")
        return processes

    @field_validator("models")
    @classmethod
    def _models_exist(cls, models: list[str]) -> list[str]:
        for model in models:
            check_model_name(model)
        return models


# BenchPlan's fields as `parity bench` spells them, and what pydantic's complaints mean there.
FLAGS = {"models": "--model", "conversions": "--conversion", "batch_sizes": "--batch-size", "device": "--device",
         "platform": "--platform", "target_ci": "--target-ci", "max_seconds": "--max-seconds",
         "timeout_s": "--timeout", "timer": "--timer", "label": "--label", "processes": "--processes"}
_PLAN_REASONS = {"greater_than": "must be a positive number", "finite_number": "must be a finite number",
                 "too_short": "give at least one value", "int_type": "must be an integer",
                 "int_parsing": "must be an integer", "float_type": "must be a number",
                 "float_parsing": "must be a number", "literal_error": "not one of the choices",
                 "value_error": "an empty name in the list"}


def plan_error(error) -> ParityError:
    """A pydantic ValidationError of BenchPlan in the words of the command line, one line:
    `--batch-size 0: must be a positive integer`."""
    first = error.errors(include_url=False)[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    flag = FLAGS.get(field, field)
    reason = _PLAN_REASONS.get(first["type"], first["msg"])
    if field in ("batch_sizes", "alma_batches", "threads", "processes") and first["type"] == "greater_than":
        reason = "must be a positive integer"
    value = first.get("input")
    if first["type"] in ("too_short", "value_error"):
        return ParityError(f"{flag}: {reason}")
    shown = value if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)
    return ParityError(f"{flag} {shown}: {reason}")


@dataclass(frozen=True, slots=True)
class Cell:
    model: str
    conversion: Conversion
    batch_size: int

    def label(self) -> str:
        return f"{self.model} {self.conversion.name} bs{self.batch_size}"


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


def check_model_name(model: str) -> None:
    """ParityError unless `model` is a torchvision builder or an importable `module:factory`."""
    if ":" in model:
        module_name, _, factory = model.partition(":")
        # The worker imports it with the current directory on its path: look there too. Only the
        # top-level package is checked here; a deeper import error is the worker's to report.
        top_level = module_name.partition(".")[0]
        if not factory.isidentifier() or not all(part.isidentifier() for part in module_name.split(".")):
            raise ParityError(f"model {model!r}: expected module.path:factory, where factory() returns an nn.Module")
        if top_level in sys.stdlib_module_names:
            # Nothing there returns an nn.Module; `os:system` would run a command in the worker.
            raise ParityError(f"model {model!r}: {module_name!r} is a Python standard library module, not a model "
                              "factory (expected module.path:factory, where factory() returns an nn.Module)")
        if importlib.machinery.PathFinder.find_spec(top_level, [os.getcwd(), *sys.path]) is None:
            raise ParityError(f"model {model!r}: cannot find module {module_name!r} here "
                              "(expected module.path:factory, importable from the current directory)")
        return
    import torchvision

    if model not in torchvision.models.list_models():
        import difflib

        close = difflib.get_close_matches(model, torchvision.models.list_models(), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ParityError(f"unknown model {model!r}: not a torchvision builder{hint} (or use module.path:factory)")


def check_device(device: str) -> None:
    """ParityError when `--device cuda` is asked for on a machine without CUDA: such a run would
    record every cell as unavailable and then stand as the latest run."""
    if device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise ParityError("no CUDA device here (torch.cuda.is_available() is False): "
                          "run with --device cpu or on a GPU machine")


def plan_cells(plan: BenchPlan) -> list[Cell]:
    """Every cell of the plan, in the order given; UnknownConversion before anything runs."""
    conversions = validate_names(plan.conversions)
    return [Cell(m, c, b) for m in plan.models for c in conversions for b in plan.batch_sizes]


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
    if not availability.runnable:
        message = f"{availability.reason}; fix: {availability.fix}" if availability.fix else availability.reason
        return _same_outcome(cell, plan, platform_name, "unavailable", availability.category, message)
    first = _run_worker(_request(cell, plan, plan.timer), plan.timeout_s)
    if not isinstance(first, CellResult):
        return _same_outcome(cell, plan, platform_name, *first)
    return [_measurement(cell, plan, platform_name, _more_processes(cell, plan, result, starting))
            for result in first.results]


def _more_processes(cell: Cell, plan: BenchPlan, first: MethodResult,
                    starting: Callable[[int], None]) -> list[MethodResult]:
    """`first` and, for Parity's timer with --processes N, the results of N - 1 more fresh
    processes, stopping at the first that fails (its failure then stands for the cell's timer)."""
    results = [first]
    while first.method == "synced-e2e" and len(results) < plan.processes and results[-1].status == "ok":
        starting(len(results) + 1)
        outcome = _run_worker(_request(cell, plan, "synced"), plan.timeout_s)
        results.append(outcome.results[0] if isinstance(outcome, CellResult) else MethodResult(
            method="synced-e2e", status=outcome[0], device=plan.device, failure_kind=outcome[1], message=outcome[2]))
    return results


def _request(cell: Cell, plan: BenchPlan, timer: str) -> CellRequest:
    return CellRequest(model=cell.model, conversion=cell.conversion.name, batch_size=cell.batch_size,
                       device=plan.device, timer=timer, target_ci=plan.target_ci,
                       max_seconds=plan.max_seconds, alma_batches=plan.alma_batches,
                       threads=plan.threads or _usable_cores())


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# -- the subprocess ------------------------------------------------------------------------------

def _run_worker(request: CellRequest, timeout_s: float) -> CellResult | tuple[str, str, str]:
    """The worker's result, or (status, failure_kind, message) when it produced none."""
    with tempfile.TemporaryDirectory(prefix="parity-cell-") as scratch:
        folder = Path(scratch)
        (folder / "request.json").write_text(request.model_dump_json())
        log_path = folder / "worker.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "collectors.worker", "request.json", "result.json"],
                cwd=folder, env=_worker_env(request.threads), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                returncode = process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                returncode = None
            finally:
                _kill_group(process)  # also inductor's compile workers, which outlive their parent
        result_path = folder / "result.json"
        if returncode == 0 and result_path.exists():
            return CellResult.model_validate_json(result_path.read_text())
        return _worker_failure(returncode, timeout_s, _tail(log_path))


def _worker_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    # The worker imports Parity from this checkout and user models from the caller's directory.
    paths = [str(REPO_ROOT), os.getcwd(), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    # One OpenMP pool of the requested size: no oversubscription, and no fork-after-OpenMP hang.
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    env["TQDM_DISABLE"] = "1"  # Alma's progress bars would only fill the log
    return env


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _worker_failure(returncode: int | None, timeout_s: float, tail: str) -> tuple[str, str, str]:
    said = f"; last output: {tail}" if tail else ""
    if returncode is None:
        return "timeout", "timeout", f"no result after {timeout_s:g} s; the worker was killed{said}"
    if returncode == -signal.SIGKILL:
        return "failed", "oom", f"the worker was killed (SIGKILL), most likely by the out-of-memory killer{said}"
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return "failed", "crash", f"the worker died of {name}{said}"
    return "failed", "crash", f"the worker exited with status {returncode} and no result{said}"


def _tail(path: Path) -> str:
    text = path.read_bytes()[-4000:].decode(errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-3:])[-_STDERR_TAIL:]


# -- records -----------------------------------------------------------------------------------------

def _measurement(cell: Cell, plan: BenchPlan, platform_name: str, process_results: list[MethodResult]) -> Measurement:
    """The record of one timing method: its result in each process it ran in (one, except for
    Parity's timer with --processes), the samples pooled; a failure in any process is the record."""
    result = process_results[0]
    common = dict(model=cell.model, platform=platform_name, precision=cell.conversion.precision,
                  batch_size=cell.batch_size, conversion=cell.conversion.name, device=result.device,
                  method=result.method, measured_at=utc_now(), compile_s=result.compile_s,
                  peak_memory_mb=result.peak_memory_mb)
    failed = next(((k, r) for k, r in enumerate(process_results, 1) if r.status != "ok"), None)
    if failed:
        where = f"process {failed[0]} of {plan.processes}: " if plan.processes > 1 else ""
        return Measurement(status=failed[1].status, failure_kind=failed[1].failure_kind,
                           message=where + (failed[1].message or ""), **common)
    if result.samples:
        samples = [value for p in process_results for value in p.samples]
        medians = [stats.median(p.samples) for p in process_results if p.samples] if len(process_results) > 1 else []
        summary = stats.covering_processes(stats.summarise(samples), medians)
        return Measurement(
            status="ok", message=_not_converged(summary, plan, len(process_results)) or _how_it_stopped(process_results),
            median=summary.median, mean=summary.mean, std=summary.std,
            p05=summary.p05, p95=summary.p95, ci95_low=summary.ci95_low, ci95_high=summary.ci95_high,
            n_iterations=summary.n, throughput_sps=_throughput(cell.batch_size, summary.median),
            samples=tuple(samples), gpu_samples=tuple(v for p in process_results for v in p.gpu_samples),
            process_medians=tuple(medians), **common)
    return Measurement(status="ok", median=result.median_ms, mean=result.median_ms,
                       n_iterations=result.n_iterations, throughput_sps=result.throughput_sps,
                       message="Alma's benchmark_model: total_inf_time / batches", **common)


def _how_it_stopped(processes: list[MethodResult]) -> str:
    warmup = sum(p.warmup_iterations or 0 for p in processes)
    stopped_by = sorted({p.stopped_by for p in processes if p.stopped_by})
    where = f" in {len(processes)} processes" if len(processes) > 1 else ""
    return f"{warmup} warm-up iterations{where}; stopped by {' and '.join(stopped_by)}"


def _not_converged(summary: stats.Summary, plan: BenchPlan, processes: int) -> str | None:
    """The message of an `ok` cell whose CI is wider than --target-ci (the time cap came first, or
    the processes disagree), else None. Its statistics are real but loose; the message starts
    with NOT_CONVERGED."""
    width = summary.relative_ci_halfwidth()
    if width <= plan.target_ci:
        return None
    target = f"{NOT_CONVERGED} ±{plan.target_ci * 100:.3g} % not reached"
    if summary.n < 2:
        return f"{target}: {summary.n} iteration in {plan.max_seconds:g} s (max-seconds), too few for a CI"
    budget = f"{plan.max_seconds:g} s (max-seconds)"
    where = f"{processes} processes of up to {budget} each" if processes > 1 else budget
    return f"{target}: ±{width * 100:.1f} % after {summary.n} iterations in {where}"


def _same_outcome(cell: Cell, plan: BenchPlan, platform_name: str, status: str, kind: str | None,
                  message: str | None) -> list[Measurement]:
    return [Measurement(model=cell.model, platform=platform_name, precision=cell.conversion.precision,
                        batch_size=cell.batch_size, conversion=cell.conversion.name, device=plan.device,
                        method=method, status=status, failure_kind=kind, message=message, measured_at=utc_now())
            for method in _METHODS[plan.timer]]


def _throughput(batch_size: int, median_ms: float) -> float | None:
    return batch_size / (median_ms / 1000) if median_ms > 0 else None


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

