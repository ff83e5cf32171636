"""Import Alma 0.3.7 on any torch from 2.5 to 2.14.

Alma imports some torch APIs at module level that newer torch releases removed (the PT2E
quantisation entry points moved to torchao). Without them `import alma` fails and *no* conversion
can run. For exactly the names that are missing on the running torch, this module installs
placeholders that raise `RemovedTorchAPI` when called, so that only the conversions that need
them fail, each with the reason. Nothing else in Alma is patched.

Use `import_alma()` (or `alma_module(name)`) instead of `import alma`.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from functools import cache
from typing import Any

from collectors.errors import ParityError

# Module-level `from torch... import ...` statements in Alma 0.3.7 that torch has removed in some
# release (checked against Alma's sources: every other module-level torch import still exists
# on torch 2.14).
ALMA_TORCH_IMPORTS: dict[str, tuple[str, ...]] = {
    "torch.ao.quantization.quantize_pt2e": ("convert_pt2e", "prepare_pt2e"),
    "torch.ao.quantization.quantizer.xnnpack_quantizer": ("XNNPACKQuantizer", "get_symmetric_quantization_config"),
}


class RemovedTorchAPI(ParityError, RuntimeError):
    """A torch API that Alma calls does not exist in the running torch."""


def _placeholder(qualified_name: str, torch_version: str) -> Callable[..., Any]:
    def removed(*args: Any, **kwargs: Any) -> Any:
        raise RemovedTorchAPI(
            f"{qualified_name} was removed in torch {torch_version} (it lives in torchao now); "
            "Alma 0.3.7 needs torch <= 2.10 for this conversion"
        )

    removed.__name__ = removed.__qualname__ = qualified_name.rsplit(".", 1)[-1]
    return removed


def _existing_module(name: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _module_for(name: str) -> types.ModuleType:
    """The module `name`, created empty (with any missing parents) when torch lacks it."""
    module = _existing_module(name)
    if module is None:
        parent_name, _, child = name.rpartition(".")
        parent = _module_for(parent_name)
        module = types.ModuleType(name, f"Parity placeholder: {name} does not exist in this torch")
        sys.modules[name] = module
        setattr(parent, child, module)
    return module


def missing_torch_apis() -> list[str]:
    """The qualified names in ALMA_TORCH_IMPORTS that the running torch lacks (sorted).

    Checked before any placeholder is installed and remembered, so the answer stays true after.
    """
    return list(_missing_before_patch())


@cache
def _missing_before_patch() -> tuple[str, ...]:
    missing = []
    for module_name, names in ALMA_TORCH_IMPORTS.items():
        module = _existing_module(module_name)
        missing += [f"{module_name}.{n}" for n in names if module is None or not hasattr(module, n)]
    return tuple(sorted(missing))


@cache
def install_placeholders() -> tuple[str, ...]:
    """Install a raising placeholder for each missing name; returns the names installed."""
    import torch

    missing = _missing_before_patch()
    for qualified in missing:
        module_name, _, attribute = qualified.rpartition(".")
        setattr(_module_for(module_name), attribute, _placeholder(qualified, torch.__version__))
    return missing


def import_alma() -> types.ModuleType:
    """`alma`, importable whatever the torch version (see the module docstring)."""
    install_placeholders()
    return importlib.import_module("alma")


def alma_module(name: str) -> types.ModuleType:
    """A submodule of Alma (e.g. "alma.conversions.select"), imported through `import_alma`."""
    import_alma()
    return importlib.import_module(name)
