"""Tiny models whose forward really fails, for the bench fault tests (`--model tests.models_for_tests:NAME`).

Each factory returns a module with `parity_input_shape`, the shape of one sample. They misbehave
only on a batch of the real input shape, so that building and converting them succeeds and the
fault hits inside the timed call, as a broken backend would.
"""
from __future__ import annotations

import os
import time

import torch


class _Tiny(torch.nn.Module):
    parity_input_shape = (8,)

    def __init__(self, fault: str | None = None) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 4)
        self.fault = fault

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fault == "raise":
            raise RuntimeError("planted failure in forward")
        if self.fault == "abort":
            os.abort()
        if self.fault == "hang":
            time.sleep(3600)
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


def hanging() -> torch.nn.Module:
    """Its forward sleeps for an hour."""
    return _Tiny("hang")
