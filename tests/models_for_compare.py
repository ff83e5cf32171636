"""Models for the compare tests on real bench runs (`--model tests.models_for_compare:NAME`).

Their latency is a sleep, so a run's median is known in advance and the injected slowdown is
exact: `slowed` sleeps SLOWDOWN_MS longer in every forward than `steady`.
"""
from __future__ import annotations

import time

import torch

BASE_MS = 5.0
SLOWDOWN_MS = 2.5  # +50 %: far beyond noise and the 5 % threshold


class _Sleeper(torch.nn.Module):
    parity_input_shape = (8,)

    def __init__(self, sleep_ms: float) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 4)
        self.sleep_s = sleep_ms / 1000

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.sleep_s)
        return self.linear(x)


def steady() -> torch.nn.Module:
    """A linear layer behind a BASE_MS sleep."""
    return _Sleeper(BASE_MS)


def slowed() -> torch.nn.Module:
    """`steady` with SLOWDOWN_MS more sleep: the regression a compare must catch."""
    return _Sleeper(BASE_MS + SLOWDOWN_MS)
