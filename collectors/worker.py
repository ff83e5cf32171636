"""A bench worker: a process that measures cells (model × conversion × batch size) one at a time.

Started by `collectors.pool` as `python -m collectors.worker RESULT_FD`, in its own process group
and a scratch working directory (Alma's ONNX options write `model/model.onnx` relative to it). It
imports torch and Alma once, says it is ready, then reads one `CellRequest` per line on stdin and
writes one result per line to the file descriptor RESULT_FD, until stdin closes. A crash, an abort
or a kill leaves no result, and the parent records that as the cell's failure and starts a fresh
worker for the next cell. The worker dies with its parent (PR_SET_PDEATHSIG), so a killed bench
leaves no process measuring beside the next job.

Each result holds, per timing method, `collectors.records.Measurement` fields by their own names
(`samples`, `compile_s`, `phase_s`, ...); the parent adds the cell's identity and statistics, so a
new measured quantity is one more key written here.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from collectors.vocabulary import ALMA, FAILED, OK, SYNCED_E2E

WRONG_DEVICE = "wrong_device"  # failure_kind: the conversion ran on another device than asked
MethodResult = dict[str, Any]  # Measurement fields by name, for one timing method


class CellRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    conversion: str
    batch_size: int
    device: Literal["cpu", "cuda"]
    timer: Literal["synced", "alma", "both"]
    target_ci: float
    max_seconds: float
    alma_batches: int
    threads: int
    seed: int = 0


class CellResult(BaseModel):
    results: list[MethodResult]


# -- serving ------------------------------------------------------------------------------------------


def serve(requests: Any, result_fd: int) -> None:
    """Answer every request line on `requests` with one result line on `result_fd`."""
    started = time.perf_counter()
    _import_backends()
    _send(result_fd, {"ready": True, "import_s": time.perf_counter() - started})
    first = True
    for line in requests:
        result = run_cell(CellRequest.model_validate_json(line), first_in_process=first)
        _send(result_fd, result.model_dump())
        first = False
        _release_memory()


def _import_backends() -> None:
    """torch and Alma, once per worker: their import is start-up, not any cell's time."""
    import torch  # noqa: F401

    from collectors.alma_compat import import_alma

    import_alma()


def _send(fd: int, message: dict[str, Any]) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:  # a large result takes several writes to a pipe
        data = data[os.write(fd, data):]


def _release_memory() -> None:
    """What one cell left behind must not weigh on the next: models, compiled graphs, GPU cache."""
    import torch

    torch._dynamo.reset()  # compiled graphs and guards of the previous conversion
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# -- one cell -----------------------------------------------------------------------------------------


def run_cell(request: CellRequest, *, first_in_process: bool = True) -> CellResult:
    import torch

    torch.manual_seed(request.seed)
    torch.set_num_threads(request.threads)
    results = []
    if request.timer in ("synced", "both"):
        results.append(_guarded(SYNCED_E2E, request, lambda: _parity_timing(request, first_in_process)))
    if request.timer in ("alma", "both"):
        results.append(_guarded(ALMA, request, lambda: _alma_timing(request)))
    return CellResult(results=_flag_silent_fallback(results))


def _flag_silent_fallback(results: list[MethodResult]) -> list[MethodResult]:
    """Alma reports ONNX_GPU as a success on the CPU provider; once Parity has seen that happen in
    this cell, Alma's figure is a CPU figure and is recorded as the same failure."""
    if not any(r.get("failure_kind") == WRONG_DEVICE for r in results):
        return results
    return [_failed(ALMA, r["device"], WRONG_DEVICE, "Alma reported success, but ONNX Runtime ran on the CPU provider")
            if r["method"] == ALMA and r["status"] == OK else r for r in results]


def _failed(method: str, device: str, kind: str, message: str, **fields: Any) -> MethodResult:
    return {"method": method, "status": FAILED, "device": device, "failure_kind": kind, "message": message, **fields}


def _guarded(method: str, request: CellRequest, measure: Callable[[], MethodResult]) -> MethodResult:
    """Run one method; an exception becomes a failed result with its kind and message."""
    try:
        return measure()
    except BaseException as error:  # noqa: BLE001 - any failure of the conversion is a result
        if isinstance(error, KeyboardInterrupt):
            raise
        return _failed(method, request.device, _failure_kind(error), _message(error))


def _failure_kind(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".lower()
    return "oom" if isinstance(error, MemoryError) or "out of memory" in text else "exception"


def _message(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line}{where}"[:1000]


class Phases(dict):
    """Seconds per phase of a cell (`Measurement.phase_s`): `with phases.timed("build"): ...`."""

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - started


def _parity_timing(request: CellRequest, first_in_process: bool) -> MethodResult:
    import torch

    from collectors.memory import PeakMemory
    from collectors.models import model_and_input
    from collectors.timer import CudaEvents, TimerSettings, time_calls

    device, phases = torch.device(request.device), Phases()
    memory = PeakMemory(torch, device)
    memory.start(first_in_process=first_in_process)
    with phases.timed("build"):
        model, data = model_and_input(request.model, request.conversion, request.batch_size, device)
    synchronise = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.no_grad():
        with phases.timed("convert"), _compile_cache_use() as cache:
            forward, compile_s = _convert(model, data, request.conversion, device, synchronise)
        provider = _onnx_provider(forward)
        if request.conversion == "ONNX_GPU" and provider != "CUDAExecutionProvider":
            return _failed(SYNCED_E2E, request.device, WRONG_DEVICE,
                           f"ONNX Runtime ran the model on {provider}, not CUDAExecutionProvider", compile_s=compile_s)
        settings = TimerSettings(target_ci=request.target_ci, max_seconds=request.max_seconds)
        with phases.timed("timing"):
            timing = time_calls(lambda: forward(data), synchronise, settings,
                                events=CudaEvents(torch) if device.type == "cuda" else None)
    phases["warmup"] = timing.warmup_seconds
    phases["timing"] -= timing.warmup_seconds
    return {"method": SYNCED_E2E, "status": OK, "device": _device_used(request, provider), "samples": timing.samples,
            "gpu_samples": timing.gpu_samples, "compile_s": compile_s, "peak_memory_mb": memory.peak_mb(),
            "warmup_iterations": timing.warmup_iterations, "stopped_by": timing.stopped_by, "phase_s": phases,
            "compile_cache": cache.get("use")}


@contextmanager
def _compile_cache_use() -> Iterator[dict[str, str]]:
    """Whether inductor's FX graph cache served the compile: {"use": "hit" | "miss" | "partial"},
    or nothing for conversions that do not compile through inductor."""
    from torch._dynamo.utils import counters

    def looked_up() -> tuple[int, int]:
        return counters["inductor"]["fxgraph_cache_hit"], counters["inductor"]["fxgraph_cache_miss"]

    before, found = looked_up(), {}
    yield found
    hits, misses = (after - earlier for after, earlier in zip(looked_up(), before))
    if hits or misses:
        found["use"] = "partial" if hits and misses else "hit" if hits else "miss"


def _convert(model: Any, data: Any, conversion: str, device: Any, synchronise: Callable[[], None]) -> tuple[Any, float]:
    """Alma's converted forward call, and the seconds to convert it plus its first call (which
    compiles, for most backends). Importing Alma is not part of that time."""
    from collectors.alma_compat import alma_module

    select = alma_module("alma.conversions.select").select_forward_call_function
    started = time.perf_counter()
    forward = select(model, conversion, data, device)
    forward(data)
    synchronise()
    return forward, time.perf_counter() - started


def _device_used(request: CellRequest, provider: str | None) -> str:
    from collectors.catalogue import by_name

    return "cpu" if provider == "CPUExecutionProvider" else by_name()[request.conversion].runs_on(request.device)


def _onnx_provider(forward: Any) -> str | None:
    """The provider an ONNX Runtime session inside Alma's forward closure really uses, if any."""
    for cell in getattr(forward, "__closure__", None) or ():
        session = cell.cell_contents
        if hasattr(session, "get_providers") and hasattr(session, "run"):
            return session.get_providers()[0]
    return None


def _alma_timing(request: CellRequest) -> MethodResult:
    """Alma's own `benchmark_model` figure for the same cell, on a freshly built model (some
    conversions change the model in place)."""
    import importlib

    import torch

    from collectors.alma_compat import import_alma
    from collectors.catalogue import by_name
    from collectors.models import build_model, input_shape

    started = time.perf_counter()
    device = torch.device(request.device)
    model = build_model(request.model)
    sample = torch.randn(*input_shape(request.model, model))
    config = importlib.import_module("alma.benchmark").BenchmarkConfig(
        n_samples=request.batch_size * request.alma_batches, batch_size=request.batch_size, device=device,
        allow_cuda=device.type == "cuda", multiprocessing=False, fail_on_error=False)
    result = import_alma().benchmark_model(model, config, conversions=[request.conversion], data=sample)
    result = result[request.conversion]
    if result.get("status") != "success":
        error = str(result.get("error") or "Alma reported an error").strip().splitlines()
        return _failed(ALMA, request.device, "exception", f"Alma: {error[-1] if error else ''}"[:1000])
    n_batches = -(-result["total_samples"] // request.batch_size)
    per_batch_ms = result["total_inf_time"] / n_batches * 1000
    # Alma keeps only a total, so the mean per batch stands in for the median comparisons use.
    return {"method": ALMA, "status": OK, "median": per_batch_ms, "mean": per_batch_ms, "n_iterations": n_batches,
            "device": by_name()[request.conversion].runs_on(str(result["device"]).split(":")[0]),
            "throughput_sps": result["throughput"], "message": "Alma's benchmark_model: total_inf_time / batches",
            "phase_s": {"alma": time.perf_counter() - started}}


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the bench that started it dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's own kill of the group still applies
        pass


def main(argv: list[str]) -> int:
    _die_with_parent()
    result_fd = int(argv[0])
    os.set_inheritable(result_fd, False)  # a compile worker that outlives a crash must not hold the pipe open
    serve(sys.stdin, result_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
