"""Peak memory of one cell, in a worker that may measure several cells one after another.

CUDA: the caching allocator's peak of allocated bytes during the cell (weights, activations,
workspaces; reset before the cell). CPU: the rise of the process's peak resident set (VmHWM) over
its resident set just before the model was built: weights, conversion and activations, without
the Python and torch runtime. Linux lets a process reset its own VmHWM (writing "5" to
/proc/self/clear_refs), so a reused worker measures each cell afresh; where that is refused, only
the first cell of a worker is measured (later ones get None rather than an earlier cell's peak).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


class PeakMemory:
    """`start()` before the model is built, `peak_mb()` after the cell."""

    def __init__(self, torch_module: Any, device: Any) -> None:
        self._torch, self._on_cuda = torch_module, device.type == "cuda"
        self._baseline_mb: float | None = None

    def start(self, *, first_in_process: bool) -> None:
        if self._on_cuda:
            self._torch.cuda.reset_peak_memory_stats()
            return
        self._baseline_mb = _kib_field("VmRSS") / 1024 if _reset_peak_rss() or first_in_process else None

    def peak_mb(self) -> float | None:
        if self._on_cuda:
            return self._torch.cuda.max_memory_allocated() / 2**20
        if self._baseline_mb is None:
            return None
        return max(0.0, _kib_field("VmHWM") / 1024 - self._baseline_mb)


def _reset_peak_rss() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _kib_field(name: str) -> float:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(f"{name}:"):
            return float(line.split()[1])
    raise OSError(f"{_STATUS} has no {name}")
