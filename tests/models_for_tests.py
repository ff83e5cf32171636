"""Tiny models whose forward really fails, for the bench fault tests (`--model tests.models_for_tests:NAME`).

Each factory returns a module with `parity_input_shape`, the shape of one sample. They misbehave
only on a batch of the real input shape, so that building and converting them succeeds and the
fault hits inside the timed call, as a broken backend would.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

PROCESS_LOG_ENV = "PARITY_TEST_PROCESS_LOG"  # a file counting the processes that built a model below


class _Tiny(torch.nn.Module):
    parity_input_shape = (8,)

    def __init__(self, fault: str | None = None) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 4)
        self.fault = fault

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fault == "sleep-5":
            time.sleep(0.005)
        if self.fault == "sleep-8":
            time.sleep(0.008)
        if self.fault == "raise":
            raise RuntimeError("planted failure in forward")
        if self.fault == "abort":
            os.abort()
        if self.fault == "hang":
            time.sleep(3600)
        if self.fault == "raise-when-profiled" and torch.autograd._profiler_enabled():
            raise RuntimeError("planted failure under the profiler")
        return self.linear(x)


def tiny() -> torch.nn.Module:
    """A working linear layer."""
    return _Tiny()


def raising() -> torch.nn.Module:
    """Its forward raises RuntimeError."""
    return _Tiny("raise")


def aborting() -> torch.nn.Module:
    """Its forward kills the process with SIGABRT, like a crashing native backend."""
    return _Tiny("abort")


def failing_when_profiled() -> torch.nn.Module:
    """Its forward raises only while torch's profiler records: the timed window works."""
    return _Tiny("raise-when-profiled")


def hanging() -> torch.nn.Module:
    """Its forward sleeps for an hour. Logs its process where $PARITY_TEST_PROCESS_LOG is set."""
    if PROCESS_LOG_ENV in os.environ:
        _process_number()
    return _Tiny("hang")


def _process_number() -> int:
    """1 for the first process that calls this with $PARITY_TEST_PROCESS_LOG set, 2 for the next, …"""
    log, pid = Path(os.environ[PROCESS_LOG_ENV]), str(os.getpid())
    with log.open("a") as file:
        file.write(f"{pid}\n")
    return list(dict.fromkeys(log.read_text().split())).index(pid) + 1  # a process may build twice


def process_dependent() -> torch.nn.Module:
    """Sleeps 5 ms per forward in odd-numbered processes and 8 ms in even ones: a cell whose level
    depends on the process, as host-bound cells' did on the lent H200."""
    return _Tiny("sleep-5" if _process_number() % 2 else "sleep-8")


def failing_in_second_process() -> torch.nn.Module:
    """Works in the first process; its forward raises in the second."""
    return _Tiny("raise" if _process_number() == 2 else None)


class _AbortsAtBatchTwo(_Tiny):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 2:
            os.abort()
        return self.linear(x)


def aborting_at_batch_2() -> torch.nn.Module:
    """Works, but kills its process with SIGABRT on a batch of 2: a crash in a reused worker.
    Logs its process where $PARITY_TEST_PROCESS_LOG is set."""
    if PROCESS_LOG_ENV in os.environ:
        _process_number()
    return _AbortsAtBatchTwo()


def hanging_in_first_process() -> torch.nn.Module:
    """Hangs in forward in the first process that builds it (a killed night's running cell), works
    in every later one (the resumed night)."""
    return _Tiny("hang" if _process_number() == 1 else None)
