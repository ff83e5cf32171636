"""Bench worker processes: started, fed cells, waited for with a deadline, killed with everything
they started, and their end (a result, a crash, a hang) turned into an outcome.

A worker (`python -m collectors.worker`) imports torch and Alma once and then measures cell after
cell, which saves those seconds on every cell but the first. The isolation promise stays: a worker
that crashed, hung, ran out of memory or reported a failure is killed and the next cell gets a
fresh one, and so does every new model (`reuse=False`: a fresh worker for every cell). Each worker
runs in its own process group and a scratch working directory (Alma's ONNX options write
`model/model.onnx` relative to it); killing the group also ends inductor's compile workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import collectors
from collectors.vocabulary import FAILED, TIMEOUT
from collectors.worker import CellRequest, CellResult

REPO_ROOT = Path(collectors.__file__).resolve().parent.parent
_STDERR_TAIL = 400

# (status, failure_kind, message) of a worker that produced no result.
Outcome = tuple[str, str, str]


class Worker:
    """One live worker process and the pipe its results come back on."""

    def __init__(self, threads: int, compile_cache: Path | None) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="parity-worker-")
        folder = Path(self._scratch.name)
        self._log_path = folder / "worker.log"
        read_end, write_end = os.pipe()
        with open(self._log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "collectors.worker", str(write_end)],
                cwd=folder,
                env=_worker_env(threads, compile_cache),
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(write_end,),
                start_new_session=True,
            )
        os.close(write_end)
        self._results, self._buffer = read_end, b""
        self._spawned = time.perf_counter()
        self.startup_s: float | None = None  # interpreter start and imports, once ready
        self.model: str | None = None

    def measure(self, request: CellRequest, timeout_s: float) -> CellResult | Outcome | None:
        """The cell's result; its outcome when the worker produced none (then close it: a hung
        worker still runs); None when a worker that measured earlier cells never became ready for
        this one (it died or hung freeing the last): the cell was never its to lose."""
        deadline, reused = time.monotonic() + timeout_s, self.startup_s is not None
        if self._receive(deadline) is None:  # the worker's "ready"
            return None if reused else self._failure(timeout_s)
        if not reused:
            self.startup_s = time.perf_counter() - self._spawned
        self.model = request.model
        try:
            self.process.stdin.write((request.model_dump_json() + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError:  # dead before it read the request
            return None if reused else self._failure(timeout_s)
        message = self._receive(deadline)
        return CellResult.model_validate(message) if message is not None else self._failure(timeout_s)

    def _receive(self, deadline: float) -> dict | None:
        """The next line the worker sends, or None when it ends or the deadline passes first."""
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None and not self._readable(0):
                return None
            if not self._readable(min(remaining, 1.0)):
                continue  # look again whether the worker still lives
            chunk = os.read(self._results, 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def _readable(self, seconds: float) -> bool:
        return bool(select.select([self._results], [], [], seconds)[0])

    def _failure(self, timeout_s: float) -> Outcome:
        """Why no result came: the worker's exit, or the deadline."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=1.0)  # a worker that died is reaped; a hung one is still running
        return _worker_failure(self.process.returncode, timeout_s, _tail(self._log_path))

    def close(self) -> None:
        """Kill the worker with everything it started, and free its pipes and scratch folder."""
        with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already, or not ours
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        with contextlib.suppress(OSError):  # the pipe of a dead worker may not flush
            self.process.stdin.close()
        os.close(self._results)
        self._scratch.cleanup()


class WorkerPool:
    """Hands each cell to a worker: the live one where it may be reused, else a fresh one."""

    def __init__(self, threads: int, *, reuse: bool = True, compile_cache: Path | None = None) -> None:
        self._threads, self._reuse, self._cache = threads, reuse, compile_cache
        self._worker: Worker | None = None

    def measure(
        self, request: CellRequest, timeout_s: float, *, fresh: bool = False
    ) -> tuple[CellResult | Outcome, float | None]:
        """The cell's result (or outcome), and the worker's start-up seconds when it was started
        for this cell (None for a reused worker). `fresh`: never a reused worker. A worker that
        died between cells (the OOM killer, a crash while freeing the last cell) is replaced."""
        if self._worker and (fresh or not self._reuse or self._worker.model != request.model):
            self.close()
        started_here = self._worker is None
        if started_here:
            self._worker = Worker(self._threads, self._cache)
        outcome = self._worker.measure(request, timeout_s)
        if outcome is None:  # a reused worker lost between cells: the cell goes to a fresh one
            self.close()
            return self.measure(request, timeout_s, fresh=True)
        startup = self._worker.startup_s if started_here else None
        if not isinstance(outcome, CellResult) or any(r["status"] in (FAILED, TIMEOUT) for r in outcome.results):
            self.close()  # a worker that failed once is not trusted with the next cell
        return outcome, startup

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None


def _worker_env(threads: int, compile_cache: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    # The worker imports Parity from this checkout and user models from the caller's directory.
    paths = [str(REPO_ROOT), os.getcwd(), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    # One OpenMP pool of the requested size: no oversubscription, and no fork-after-OpenMP hang.
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    env["TQDM_DISABLE"] = "1"  # Alma's progress bars would only fill the log
    if compile_cache is not None:  # kept between nights: a warm cache turns a compile into a load
        env["TORCHINDUCTOR_CACHE_DIR"] = str(compile_cache / "inductor")
        env["TRITON_CACHE_DIR"] = str(compile_cache / "triton")
    return env


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
