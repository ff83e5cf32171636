"""Alma's conversion catalogue: the 72 named ways to run a model, and name validation.

The table is read from Alma's own `alma/conversions/conversion_options.py`, loaded on its own
(it needs only torch and pydantic): importing the `alma` package runs every conversion module
(ONNX, optimum-quanto, ...) and takes seconds, which `parity probe` and name checks don't need.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from collectors.errors import ParityError

_OPTIONS_FILE = Path("conversions") / "conversion_options.py"
KNOWN_BROKEN = {
    "BF16+EAGER": "known broken in Alma 0.3.7: it returns a function that never calls the model "
    "(reports millions of samples/s)",
    "NATIVE_CONVERT_AI8WI8_STATIC_QUANTIZED": "known broken in Alma 0.3.7: always fails (name 'device' is not defined)",
    "OPTIMIM_QUANTO_Wf8E5M2+COMPILE_CUDAGRAPHS": "known broken in Alma 0.3.7: option 42 is misspelt "
    "in its table, so no conversion code matches it",
}

_QUANTISED_MARKERS = ("AI8", "QUANTO", "TORCHAO", "QUANTIZED")


class UnknownConversion(ParityError, ValueError):
    """A conversion name that is not in Alma's catalogue (Alma itself would drop it silently)."""


@dataclass(frozen=True, slots=True)
class Conversion:
    alma_id: int
    name: str
    device_override: str | None  # "CPU", "CUDA", "XLA_GPU" or None
    data_dtype: str | None  # e.g. "float16"; None where Alma leaves the data's dtype alone

    @property
    def precision(self) -> str:
        return precision_of(self.name)

    def runs_on(self, device: str) -> str:
        """Where this conversion runs when `device` is asked for: Alma forces some onto the CPU
        (ONNX_CPU on a CUDA bench)."""
        return "cpu" if self.device_override == "CPU" else device


def precision_of(name: str) -> str:
    """The precision a conversion implies: FP16+ -> fp16, BF16+ -> bf16, quantised -> int8, else fp32."""
    if name.startswith("FP16+"):
        return "fp16"
    if name.startswith("BF16+"):
        return "bf16"
    if any(marker in name for marker in _QUANTISED_MARKERS):
        return "int8"
    return "fp32"


@cache
def load_catalogue() -> tuple[Conversion, ...]:
    """Every conversion in Alma's MODEL_CONVERSION_OPTIONS, in Alma's id order.

    Raises ParityError when Alma (alma-torch) is not installed.
    """
    options = _alma_conversion_options().MODEL_CONVERSION_OPTIONS
    return tuple(
        Conversion(
            alma_id,
            option.mode,
            option.device_override,
            str(option.data_dtype).removeprefix("torch.") if option.data_dtype is not None else None,
        )
        for alma_id, option in sorted(options.items())
    )


def _alma_conversion_options():
    spec = importlib.util.find_spec("alma")
    if spec is None or not spec.submodule_search_locations:
        raise ParityError("Alma is not installed: pip install alma-torch==0.3.7")
    path = Path(spec.submodule_search_locations[0]) / _OPTIONS_FILE
    module_name = "_parity_alma_conversion_options"
    if module_name not in sys.modules:
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
    return sys.modules[module_name]


def by_name() -> dict[str, Conversion]:
    return {conversion.name: conversion for conversion in load_catalogue()}


def validate_names(names: list[str]) -> list[Conversion]:
    """The catalogue entries for `names`, in the order given.

    Raises UnknownConversion for the first name Alma does not know, with the closest real names.
    """
    known = by_name()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UnknownConversion(_unknown_message(unknown[0], list(known)))
    return [known[name] for name in names]


def _unknown_message(name: str, known: list[str]) -> str:
    # Prefix matches first: `COMPILE_INDUCTOR` should lead to `COMPILE_INDUCTOR_DEFAULT`, which
    # difflib alone ranks below shorter near-misses such as `COMPILE_OPENXLA`.
    prefixed = sorted((k for k in known if k.startswith(name)), key=len)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    suggestions = list(dict.fromkeys(prefixed[:2] + close))[:3]
    hint = f" Did you mean {' or '.join(suggestions)}?" if suggestions else ""
    return f"unknown conversion {name!r}: Alma 0.3.7 would silently skip it.{hint} (`parity probe` lists all 72)"
