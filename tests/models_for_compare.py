"""A model for the compare tests on real bench runs (`--model tests.models_for_compare:sleeper`).

Its latency is a sleep, so a run's median is known in advance, and a slowdown can be injected
into the same model, as a code change would: the worker inherits SLOWDOWN_ENV from the caller's
environment and sleeps that many milliseconds more in every forward.
"""

from __future__ import annotations

import os
import time

import torch

BASE_MS = 5.0
SLOWDOWN_ENV = "PARITY_TEST_SLOWDOWN_MS"


class _Sleeper(torch.nn.Module):
    parity_input_shape = (8,)

    def __init__(self, sleep_ms: float) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 4)
        self.sleep_s = sleep_ms / 1000

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.sleep_s)
        return self.linear(x)


def sleeper() -> torch.nn.Module:
    """A linear layer behind a BASE_MS sleep, plus $PARITY_TEST_SLOWDOWN_MS where set."""
    return _Sleeper(BASE_MS + float(os.environ.get(SLOWDOWN_ENV, "0")))
