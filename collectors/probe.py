"""Which Alma conversions can run here, and exactly why the others cannot.

Fast and safe: packages are looked up with `find_spec` (nothing heavy is imported, and a broken
backend cannot crash the probe); only ONNX Runtime is imported, and only when a conversion needs
its provider list. The first unmet requirement of a conversion is its reason; rules are checked
in the order of `_RULES`.
"""

from __future__ import annotations

import glob
import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cached_property

from collectors import alma_compat
from collectors.catalogue import KNOWN_BROKEN, Conversion, load_catalogue

# import name -> pip package that provides it
PIP_NAMES = {
    "triton": "triton",
    "onnxruntime": "onnxruntime",
    "onnx": "onnx",
    "onnxscript": "onnxscript",
    "torch_tensorrt": "torch-tensorrt",
    "tensorrt": "tensorrt",
    "torchao": "torchao",
    "torch_xla": "torch-xla",
    "tvm": "apache-tvm",
    "openvino": "openvino",
    "optimum.quanto": "optimum-quanto",
}
SYSTEM_SITE_GLOB = "/usr/lib/python3*/dist-packages"  # JetPack installs TensorRT here

_OPENVINO_BROKEN = (
    "known broken in Alma 0.3.7: it never registers the OpenVINO torch.compile backend (needs `import openvino.torch`)"
)


@dataclass(frozen=True, slots=True)
class Availability:
    alma_id: int
    conversion: str
    runnable: bool
    category: str | None = None  # known-broken, needs-cuda, removed-torch-api, missing-package, ...
    reason: str | None = None
    fix: str | None = None
    runs_on: str | None = None  # where a runnable conversion runs: "cpu" for ONNX_CPU on a CUDA bench


@dataclass(frozen=True, slots=True)
class _Unmet:
    category: str
    reason: str
    fix: str | None = None


@dataclass
class Host:
    """What the probe learns about this machine, each fact looked up once, when first needed."""

    device: str  # "cpu" | "cuda": where the user asked to run
    system_site_glob: str = SYSTEM_SITE_GLOB
    _found: dict[str, bool] = field(default_factory=dict)

    @cached_property
    def torch(self):
        import torch

        return torch

    @cached_property
    def cuda_available(self) -> bool:
        return bool(self.torch.cuda.is_available())

    @cached_property
    def missing_torch_apis(self) -> list[str]:
        return alma_compat.missing_torch_apis()

    def has_package(self, name: str) -> bool:
        if name not in self._found:
            try:
                self._found[name] = importlib.util.find_spec(name) is not None
            except (ImportError, ValueError):  # parent package missing, or a broken install
                self._found[name] = False
        return self._found[name]

    def has_torch_attr(self, module: str, name: str) -> bool:
        return hasattr(getattr(self.torch, module), name)

    @cached_property
    def ort_providers(self) -> tuple[str, ...]:
        try:
            import onnxruntime
        except Exception:  # noqa: BLE001 - a broken ONNX Runtime must not crash the probe
            return ()
        return tuple(onnxruntime.get_available_providers())

    @cached_property
    def cxx_compiler(self) -> str | None:
        return next((c for c in ("g++", "c++", "clang++") if shutil.which(c)), None)

    def system_copy(self, package: str) -> str | None:
        """Where a system Python (e.g. JetPack's) has `package` that this environment cannot import."""
        hits = sorted(glob.glob(f"{self.system_site_glob}/{package}"))
        return hits[0] if hits else None


def probe(
    device: str = "cpu", conversions: list[Conversion] | None = None, host: Host | None = None
) -> list[Availability]:
    """Availability of each conversion (default: all 72) for running on `device` here."""
    host = host or Host(device)
    return [check(conversion, host) for conversion in (conversions or load_catalogue())]


def check(conversion: Conversion, host: Host) -> Availability:
    for rule in _RULES:
        unmet = rule(conversion, host)
        if unmet:
            return Availability(conversion.alma_id, conversion.name, False, **asdict(unmet))
    return Availability(conversion.alma_id, conversion.name, True, runs_on=conversion.runs_on(host.device))


# -- rules, in order: the first unmet one is the reason -------------------------------------------


def _known_broken(c: Conversion, host: Host) -> _Unmet | None:
    if c.name in KNOWN_BROKEN:
        return _Unmet("known-broken", KNOWN_BROKEN[c.name], "pick another conversion")
    if "OPENVINO" in c.name:
        return _Unmet("known-broken", _OPENVINO_BROKEN, "pick another conversion")
    return None


def _needs_cuda(c: Conversion) -> bool:
    return c.device_override in ("CUDA", "XLA_GPU") or "CUDAGRAPHS" in c.name


def _cuda(c: Conversion, host: Host) -> _Unmet | None:
    if c.runs_on("cuda") == "cpu":  # forced onto the CPU whatever was asked for: needs no CUDA
        return None
    if host.device == "cpu" and _needs_cuda(c):
        return _Unmet("needs-cuda", "runs only on CUDA", "run with --device cuda on a CUDA machine")
    if host.device == "cuda" and not host.cuda_available:
        return _Unmet(
            "needs-cuda",
            "no CUDA device (torch.cuda.is_available() is False)",
            "install a CUDA build of torch on a machine with an NVIDIA GPU, or use --device cpu",
        )
    return None


def _removed_torch_api(c: Conversion, host: Host) -> _Unmet | None:
    version = host.torch.__version__
    missing: list[str] = []
    if c.name.startswith("EXPORT+AI8WI8"):
        missing = host.missing_torch_apis + (
            [] if host.has_torch_attr("export", "export_for_training") else ["torch.export.export_for_training"]
        )
    elif c.name == "ONNX+DYNAMO_EXPORT" and not host.has_torch_attr("onnx", "dynamo_export"):
        missing = ["torch.onnx.dynamo_export"]
    elif "COMPILE_ONNXRT" in c.name and not host.has_torch_attr("onnx", "is_onnxrt_backend_supported"):
        missing = ["torch.onnx.is_onnxrt_backend_supported"]
    if not missing:
        return None
    return _Unmet(
        "removed-torch-api",
        f"needs {', '.join(missing)}, removed in torch {version}",
        "use torch <= 2.10 for this conversion (Alma 0.3.7 predates the removal)",
    )


def _required_packages(c: Conversion, host: Host) -> list[str]:
    needs = []
    if c.name in ("ONNX_CPU", "ONNX_GPU", "ONNX+DYNAMO_EXPORT"):
        needs += ["onnx", "onnxruntime", "onnxscript"]
    if "ONNXRT" in c.name:
        needs += ["onnx", "onnxruntime", "onnxscript"]
    if "TENSORRT" in c.name:
        needs += ["tensorrt", "torch_tensorrt"]
    for marker, package in (
        ("TVM", "tvm"),
        ("OPENXLA", "torch_xla"),
        ("TORCHAO", "torchao"),
        ("QUANTO", "optimum.quanto"),
    ):
        if marker in c.name:
            needs.append(package)
    if host.device == "cuda" and ("INDUCTOR" in c.name or "TORCHAO" in c.name):
        needs.append("triton")  # inductor generates Triton kernels for CUDA
    return needs


def _packages(c: Conversion, host: Host) -> _Unmet | None:
    missing = [p for p in _required_packages(c, host) if not host.has_package(p)]
    if not missing:
        return None
    on_system = {p: host.system_copy(p) for p in missing if host.system_copy(p)}
    if on_system:
        where = ", ".join(f"{p} at {path}" for p, path in on_system.items())
        return _Unmet(
            "not-in-venv",
            f"found {where}, but this Python environment cannot import it",
            "recreate the venv with --system-site-packages (python3 -m venv --system-site-packages .venv)",
        )
    pip_names = " ".join(PIP_NAMES.get(p, p) for p in missing)
    return _Unmet("missing-package", f"missing package: {', '.join(missing)}", f"pip install {pip_names}")


def _ort_cuda_provider(c: Conversion, host: Host) -> _Unmet | None:
    if c.name != "ONNX_GPU" or "CUDAExecutionProvider" in host.ort_providers:
        return None
    return _Unmet(
        "no-provider",
        f"ONNX Runtime has no CUDA provider (has {', '.join(host.ort_providers) or 'none'}); "
        "Alma would silently run on the CPU",
        "pip uninstall onnxruntime && pip install onnxruntime-gpu",
    )


def _cpu_compiler(c: Conversion, host: Host) -> _Unmet | None:
    inductor = "INDUCTOR" in c.name or "TORCHAO" in c.name
    if host.device != "cpu" or not inductor or host.cxx_compiler:
        return None
    return _Unmet(
        "missing-compiler",
        "inductor on the CPU needs a C++ compiler; none found (g++, c++, clang++)",
        "install g++ (apt-get install g++)",
    )


_RULES: tuple[Callable[[Conversion, Host], _Unmet | None], ...] = (
    _known_broken,
    _cuda,
    _removed_torch_api,
    _packages,
    _ort_cuda_provider,
    _cpu_compiler,
)
