"""What `parity bench` is asked to measure: the plan, validated when built, and its cells.

A boundary: the command line and other callers build a `BenchPlan`; pydantic checks every value
and the model names exist before anything runs. Errors are pydantic's (the command turns them
into lines about its flags) or ParityError for a model that cannot be found.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationInfo, field_validator

from collectors.catalogue import Conversion, validate_names
from collectors.defaults import BENCH_DEFAULTS
from collectors.errors import ParityError
from collectors.records import Measurement


class BenchPlan(BaseModel):
    """What to measure and how (the defaults and their meaning: collectors.defaults)."""

    model_config = ConfigDict(frozen=True)

    models: list[str] = Field(min_length=1)  # torchvision builder names, or module.path:factory
    conversions: list[str] = Field(min_length=1)  # Alma conversion names
    batch_sizes: list[PositiveInt] = Field(min_length=1)
    device: Literal["cpu", "cuda"] = BENCH_DEFAULTS["device"]
    platform: str | None = None  # default: detected from the fingerprint
    target_ci: float = Field(BENCH_DEFAULTS["target_ci"], gt=0, allow_inf_nan=False)
    max_seconds: float = Field(BENCH_DEFAULTS["max_seconds"], gt=0, allow_inf_nan=False)
    timeout_s: float = Field(BENCH_DEFAULTS["timeout_s"], gt=0, allow_inf_nan=False)
    timer: Literal["synced", "alma", "both"] = BENCH_DEFAULTS["timer"]
    label: str | None = None
    alma_batches: PositiveInt = BENCH_DEFAULTS["alma_batches"]
    threads: PositiveInt | None = None  # torch/OpenMP threads in the worker; default: the usable cores
    processes: PositiveInt = BENCH_DEFAULTS["processes"]  # fresh processes per cell for Parity's timer
    layers: bool = False  # also each leaf module's device time (profiler hooks, in a window of its own)

    @field_validator("models", "conversions")
    @classmethod
    def _no_empty_names(cls, names: list[str]) -> list[str]:
        if any(not name.strip() for name in names):
            raise ValueError("an empty name in the list")
        return names

    @field_validator("processes")
    @classmethod
    def _processes_need_parity_timer(cls, processes: int, info: ValidationInfo) -> int:
        if processes > 1 and info.data.get("timer") == "alma":
            raise ValueError("repeats Parity's timer, which the timer 'alma' does not run (use synced or both)")
        return processes

    @field_validator("models")
    @classmethod
    def _models_exist(cls, models: list[str]) -> list[str]:
        for model in models:
            check_model_name(model)
        return models


@dataclass(frozen=True, slots=True)
class Cell:
    model: str
    conversion: Conversion
    batch_size: int

    def label(self) -> str:
        return f"{self.model} {self.conversion.name} bs{self.batch_size}"

    def key(self) -> tuple[str, str, int]:
        """What identifies the cell among a run's measurements: model, conversion, batch size."""
        return self.model, self.conversion.name, self.batch_size


def key_of(measurement: Measurement) -> tuple[str, str, int]:
    """The key (Cell.key) of the cell a measurement belongs to."""
    return measurement.model, measurement.conversion, measurement.batch_size


def plan_cells(plan: BenchPlan) -> list[Cell]:
    """Every cell of the plan, in the order given; UnknownConversion before anything runs."""
    conversions = validate_names(plan.conversions)
    return [Cell(m, c, b) for m in plan.models for c in conversions for b in plan.batch_sizes]


def check_model_name(model: str) -> None:
    """ParityError unless `model` is a torchvision builder or an importable `module:factory`."""
    if ":" in model:
        _check_factory(model)
        return
    import torchvision

    if model not in torchvision.models.list_models():
        import difflib

        close = difflib.get_close_matches(model, torchvision.models.list_models(), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ParityError(f"unknown model {model!r}: not a torchvision builder{hint} (or use module.path:factory)")


def _check_factory(model: str) -> None:
    module_name, _, factory = model.partition(":")
    # The worker imports it with the current directory on its path: look there too. Only the
    # top-level package is checked here; a deeper import error is the worker's to report.
    top_level = module_name.partition(".")[0]
    if not factory.isidentifier() or not all(part.isidentifier() for part in module_name.split(".")):
        raise ParityError(f"model {model!r}: expected module.path:factory, where factory() returns an nn.Module")
    if top_level in sys.stdlib_module_names:
        # Nothing there returns an nn.Module; `os:system` would run a command in the worker.
        raise ParityError(
            f"model {model!r}: {module_name!r} is a Python standard library module, not a model "
            "factory (expected module.path:factory, where factory() returns an nn.Module)"
        )
    if importlib.machinery.PathFinder.find_spec(top_level, [os.getcwd(), *sys.path]) is None:
        raise ParityError(
            f"model {model!r}: cannot find module {module_name!r} here "
            "(expected module.path:factory, importable from the current directory)"
        )


def check_device(device: str) -> None:
    """ParityError when CUDA is asked for on a machine without it: such a run would record every
    cell as unavailable and then stand as the latest run."""
    if device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise ParityError(
            "no CUDA device here (torch.cuda.is_available() is False): "
            "measure on the CPU (the default device) or on a GPU machine"
        )
