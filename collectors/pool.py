"""A cell's worker process: started fresh, fed a request, waited for with a timeout, killed with
everything it started, and its end (a result, a crash, a hang) turned into an outcome.

The worker (`python -m collectors.worker`) runs in its own process group and a scratch working
directory (Alma's ONNX options write `model/model.onnx` relative to it). It writes its result only
when it finishes; a crash, an abort or a kill leaves none, and the outcome says which.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import collectors
from collectors.vocabulary import FAILED, TIMEOUT
from collectors.worker import CellRequest, CellResult

REPO_ROOT = Path(collectors.__file__).resolve().parent.parent
_STDERR_TAIL = 400

# (status, failure_kind, message) of a worker that produced no result.
Outcome = tuple[str, str, str]


def run_worker(request: CellRequest, timeout_s: float) -> CellResult | Outcome:
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
    with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already, or not ours
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _worker_failure(returncode: int | None, timeout_s: float, tail: str) -> Outcome:
    said = f"; last output: {tail}" if tail else ""
    if returncode is None:
        return TIMEOUT, "timeout", f"no result after {timeout_s:g} s; the worker was killed{said}"
    if returncode == -signal.SIGKILL:
        return FAILED, "oom", f"the worker was killed (SIGKILL), most likely by the out-of-memory killer{said}"
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return FAILED, "crash", f"the worker died of {name}{said}"
    return FAILED, "crash", f"the worker exited with status {returncode} and no result{said}"


def _tail(path: Path) -> str:
    text = path.read_bytes()[-4000:].decode(errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-3:])[-_STDERR_TAIL:]
