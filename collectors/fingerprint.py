"""The environment of a run (after pyperf's `_collect_metadata`): small `collect_*` functions that
each add what they find and skip silently what this host lacks.

`fingerprint()` returns a flat JSON-able dict; `platform_id(env)` derives Parity's platform slug
from it (GPU name, Jetson model with its power mode, else the CPU model).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.names import Names, platform_slug

Environment = dict[str, Any]
_DISTRIBUTIONS = {  # fingerprint key -> pip distribution(s), first installed one wins
    "torch": ("torch",),
    "torchvision": ("torchvision",),
    "alma": ("alma-torch",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "triton": ("triton",),
    "tensorrt": ("tensorrt",),
    "torch_tensorrt": ("torch-tensorrt", "torch_tensorrt"),
    "numpy": ("numpy",),
}


def collect_python(env: Environment) -> None:
    env["python"] = platform.python_version()
    env["python_implementation"] = platform.python_implementation()


def collect_versions(env: Environment) -> None:
    for key, distributions in _DISTRIBUTIONS.items():
        for distribution in distributions:
            try:
                env[f"{key}_version"] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue


def collect_onnxruntime(env: Environment) -> None:
    if "onnxruntime_version" in env:
        import onnxruntime

        env["onnxruntime_providers"] = list(onnxruntime.get_available_providers())


def collect_cuda(env: Environment) -> None:
    import torch

    env["cuda_runtime"] = torch.version.cuda
    if torch.version.cuda and torch.backends.cudnn.is_available():
        env["cudnn"] = torch.backends.cudnn.version()


def collect_gpu(env: Environment) -> None:
    """GPU facts from nvidia-smi, so that the parent of the bench workers never creates a CUDA
    context of its own on the GPU being measured; torch where there is no nvidia-smi (Jetson)."""
    listing = _run(
        ["nvidia-smi", "--query-gpu=name,memory.total,driver_version,compute_cap", "--format=csv,noheader,nounits"]
    )
    gpus = [line.split(", ") for line in (listing or "").strip().splitlines()]
    if gpus and len(gpus[0]) == 4:
        name, memory_mb, driver, capability = gpus[0]
        env.update(
            gpu_name=name,
            gpu_memory_mb=int(float(memory_mb)),
            gpu_driver=driver,
            gpu_capability=capability,
            gpu_count=len(gpus),
        )
        return
    import torch

    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        env.update(
            gpu_name=properties.name,
            gpu_memory_mb=round(properties.total_memory / 2**20),
            gpu_capability=f"{properties.major}.{properties.minor}",
            gpu_count=torch.cuda.device_count(),
        )


def collect_cpu(env: Environment) -> None:
    env["cpu_count"] = os.cpu_count()
    if hasattr(os, "sched_getaffinity"):
        env["cpu_affinity_count"] = len(os.sched_getaffinity(0))
    env["cpu_model"] = _cpu_model() or platform.processor() or platform.machine()


def collect_os(env: Environment) -> None:
    env["os"] = platform.platform()
    env["hostname"] = platform.node()


def collect_jetson(env: Environment) -> None:
    release = _read("/etc/nv_tegra_release")
    if not release:
        return
    env["l4t_release"] = release.splitlines()[0].strip()
    env["jetson_model"] = (_read("/proc/device-tree/model") or "").strip("\x00 \n")
    power = _run(["nvpmodel", "-q"])
    match = re.search(r"NV Power Mode:\s*(\S+)", power or "")
    if match:
        env["power_mode"] = match.group(1)


COLLECTORS: tuple[Callable[[Environment], None], ...] = (
    collect_python,
    collect_versions,
    collect_onnxruntime,
    collect_cuda,
    collect_gpu,
    collect_cpu,
    collect_os,
    collect_jetson,
)


def fingerprint() -> Environment:
    """Everything the collectors find on this host; a collector that fails adds nothing."""
    env: Environment = {}
    for collect in COLLECTORS:
        try:
            collect(env)
        except Exception:  # noqa: BLE001 - a missing or broken component must not stop a run
            continue
    return env


def platform_id(env: Environment, names: Names | None = None) -> str:
    """The canonical platform slug (through data/platforms.json's aliases): the Jetson model with
    its nvpmodel power mode, else the GPU name (`nvidia-h200`), else the CPU model."""
    names = names or Names.load()
    if env.get("jetson_model"):
        return names.platform(env["jetson_model"], env.get("power_mode"))
    if env.get("gpu_name"):
        name = env["gpu_name"]
        return names.platform(name if name.lower().startswith("nvidia") else f"nvidia {name}")
    model = re.sub(r"\((R|TM)\)|\bCPU\b|@.*$|\bwith\b.*$", "", str(env.get("cpu_model", "cpu")), flags=re.I)
    return names.platform(model) if platform_slug(model) else "cpu"


def _cpu_model() -> str | None:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.lower().startswith(("model name", "hardware")):
            return line.split(":", 1)[1].strip()
    return None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return None


def _run(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


# Fingerprint keys that must match for two runs to be comparable without a warning (and for a
# killed run to be resumed here). Host name, OS build and numpy are left out: a fleet's identical
# devices differ in them without timing differently.
CHECKED_ENVIRONMENT = (
    "python",
    "torch_version",
    "torchvision_version",
    "alma_version",
    "onnxruntime_version",
    "onnxruntime_providers",
    "triton_version",
    "tensorrt_version",
    "torch_tensorrt_version",
    "cuda_runtime",
    "cudnn",
    "gpu_driver",
    "gpu_name",
    "gpu_count",
    "cpu_model",
    "cpu_count",
    "cpu_affinity_count",
    "jetson_model",
    "l4t_release",
    "power_mode",
)


@dataclass(frozen=True)
class EnvironmentDifference:
    key: str
    base: Any  # None: absent from that run's fingerprint
    head: Any


def environment_differences(
    base: dict[str, Any], head: dict[str, Any], keys: Sequence[str] = CHECKED_ENVIRONMENT
) -> list[EnvironmentDifference]:
    """The checked fingerprint keys whose values differ (a key one side lacks counts as different)."""
    return [EnvironmentDifference(key, base.get(key), head.get(key)) for key in keys if base.get(key) != head.get(key)]
