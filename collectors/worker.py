"""A bench worker: a process that measures cells (model × conversion × batch size) one at a time.

Started by `collectors.pool` as `python -m collectors.worker RESULT_FD`, in its own process group
and a scratch working directory (Alma's ONNX options write `model/model.onnx` relative to it). It
imports torch and Alma once, says it is ready, then reads one `CellRequest` per line on stdin,
writes one result per line to the file descriptor RESULT_FD and, once it has freed what the cell
left, says it is ready again, until stdin closes. A crash, an abort
or a kill leaves no result, and the parent records that as the cell's failure and starts a fresh
worker for the next cell. The worker dies with its parent (PR_SET_PDEATHSIG), so a killed bench
leaves no process measuring beside the next job.

Each result holds, per timing method, `collectors.records.Measurement` fields by their own names
(`samples`, `compile_s`, `phase_s`, ...; collectors.measure writes them); the parent adds the
cell's identity and statistics, so a new measured quantity is one more key written there.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from collectors.measure import WRONG_DEVICE, Measured, MethodResult, alma_timing, failed, parity_timing
from collectors.vocabulary import ALMA, OK, SYNCED_E2E


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
    layers: bool = False
    profile: bool = True  # the device-busy window (a process repeating a cell's timing skips it)
    seed: int = 0


class CellResult(BaseModel):
    results: list[MethodResult]
    layers: list[dict[str, Any]] = []  # Subgraph fields by name, per leaf module (`--layers`)


# -- serving ------------------------------------------------------------------------------------------


READY = {"ready": True}  # the line a worker sends when it can take a cell


def serve(requests: Any, result_fd: int) -> None:
    """Answer every request line on `requests` with one result line on `result_fd`."""
    _import_backends()
    _send(result_fd, READY)
    first = True
    for line in requests:
        result = run_cell(CellRequest.model_validate_json(line), first_in_process=first)
        _send(result_fd, result.model_dump())
        first = False
        _release_memory()
        _send(result_fd, READY)  # only now may the next cell come: freeing this one can fail too


def _import_backends() -> None:
    """torch and Alma, once per worker: their import is start-up, not any cell's time."""
    import torch  # noqa: F401

    from collectors.alma_compat import import_alma

    import_alma()


def _send(fd: int, message: dict[str, Any]) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:  # a large result takes several writes to a pipe
        data = data[os.write(fd, data) :]


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
    results, layers = [], []
    if request.timer in ("synced", "both"):
        measured = _guarded(SYNCED_E2E, request, lambda: parity_timing(request, first_in_process))
        results += measured.results
        layers = measured.layers
    if request.timer in ("alma", "both"):
        results.append(_guarded(ALMA, request, lambda: Measured([alma_timing(request)])).results[0])
    return CellResult(results=_flag_silent_fallback(results), layers=layers)


def _flag_silent_fallback(results: list[MethodResult]) -> list[MethodResult]:
    """Alma reports ONNX_GPU as a success on the CPU provider; once Parity has seen that happen in
    this cell, Alma's figure is a CPU figure and is recorded as the same failure."""
    if not any(r.get("failure_kind") == WRONG_DEVICE for r in results):
        return results
    return [
        failed(ALMA, r["device"], WRONG_DEVICE, "Alma reported success, but ONNX Runtime ran on the CPU provider")
        if r["method"] == ALMA and r["status"] == OK
        else r
        for r in results
    ]


def _guarded(method: str, request: CellRequest, measure: Callable[[], Measured]) -> Measured:
    """Run one method; an exception becomes a failed result with its kind and message."""
    try:
        return measure()
    except BaseException as error:  # noqa: BLE001 - any failure of the conversion is a result
        if isinstance(error, KeyboardInterrupt):
            raise
        return Measured([failed(method, request.device, _failure_kind(error), _message(error))])


def _failure_kind(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".lower()
    return "oom" if isinstance(error, MemoryError) or "out of memory" in text else "exception"


def _message(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line}{where}"[:1000]


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
