"""One benchmark cell (model × conversion × batch size) in a fresh process.

Started by `collectors.bench` as `python -m collectors.worker REQUEST.json RESULT.json`, in its
own process group and a scratch working directory (Alma's ONNX options write `model/model.onnx`
relative to it). It writes RESULT.json only when it finishes; a crash, an abort or a kill leaves
no result, and the parent records that as a failure.

Models: a torchvision builder name (`resnet18`, built with weights=None), or `module.path:factory`
for your own network, where `factory()` returns an `nn.Module`. The input is a random batch of the
model's input shape: the crop size of the torchvision builder's default weights (299 for
inception_v3), a ViT's own `image_size` (224 when built without weights), or, for a factory model,
its `parity_input_shape` attribute (without the batch dimension; default (3, 224, 224)).
"""
from __future__ import annotations

import importlib
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from collectors.alma_compat import alma_module, import_alma
from collectors.vocabulary import ALMA, FAILED, OK, SYNCED_E2E

WRONG_DEVICE = "wrong_device"  # failure_kind: the conversion ran on another device than asked
DEFAULT_IMAGE_SIZE = 224


class CellRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    conversion: str
    batch_size: int
    device: Literal["cpu", "cuda"]
    timer: Literal["synced", "alma", "both"]
    target_ci: float
    max_seconds: float
    alma_batches: int
    threads: int
    seed: int = 0


# What one method of a cell measured: `collectors.records.Measurement` fields by their own names
# (method, status, device, samples, compile_s, ...). The parent adds the cell's identity and the
# statistics of the samples; a new measured quantity is one more key here, no new declaration.
MethodResult = dict[str, Any]


class CellResult(BaseModel):
    results: list[MethodResult]


# -- models and inputs ------------------------------------------------------------------------------

def build_model(spec: str):
    """An `nn.Module` in eval mode: a torchvision builder name, or `module.path:factory`."""
    if ":" in spec:
        module_name, _, factory = spec.partition(":")
        return getattr(importlib.import_module(module_name), factory)().eval()
    import torchvision

    return torchvision.models.get_model(spec, weights=None).eval()


def input_shape(spec: str, model) -> tuple[int, ...]:
    """The shape of one input sample, without the batch dimension (see the module docstring)."""
    if hasattr(model, "parity_input_shape"):
        return tuple(model.parity_input_shape)
    if hasattr(model, "image_size"):  # torchvision ViTs: the size they were built for
        return (3, model.image_size, model.image_size)
    if ":" in spec:
        return (3, DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)
    size = _default_weights_crop(spec)
    return (3, size, size)


def _default_weights_crop(name: str) -> int:
    import torchvision

    try:
        transforms = torchvision.models.get_model_weights(name).DEFAULT.transforms()
    except (ValueError, AttributeError, KeyError):
        return DEFAULT_IMAGE_SIZE
    crop = getattr(transforms, "crop_size", None)
    return int(crop[0]) if crop else DEFAULT_IMAGE_SIZE


# -- one cell ------------------------------------------------------------------------------------------

def run_cell(request: CellRequest) -> CellResult:
    import torch

    torch.manual_seed(request.seed)
    torch.set_num_threads(request.threads)
    results = []
    if request.timer in ("synced", "both"):
        results.append(_guarded(SYNCED_E2E, request, _parity_timing))
    if request.timer in ("alma", "both"):
        results.append(_guarded(ALMA, request, _alma_timing))
    return CellResult(results=_flag_silent_fallback(results))


def _flag_silent_fallback(results: list[MethodResult]) -> list[MethodResult]:
    """Alma reports ONNX_GPU as a success on the CPU provider; once Parity has seen that happen in
    this cell, Alma's figure is a CPU figure and is recorded as the same failure."""
    if not any(r.get("failure_kind") == WRONG_DEVICE for r in results):
        return results
    return [_failed(ALMA, r["device"], WRONG_DEVICE, "Alma reported success, but ONNX Runtime ran on the CPU provider")
            if r["method"] == ALMA and r["status"] == OK else r for r in results]


def _failed(method: str, device: str, kind: str, message: str, **fields: Any) -> MethodResult:
    return {"method": method, "status": FAILED, "device": device, "failure_kind": kind, "message": message, **fields}


def _guarded(method: str, request: CellRequest, measure) -> MethodResult:
    """Run one method; an exception becomes a failed result with its kind and message."""
    try:
        return measure(request)
    except BaseException as error:  # noqa: BLE001 - any failure of the conversion is a result
        if isinstance(error, KeyboardInterrupt):
            raise
        return _failed(method, request.device, _failure_kind(error), _message(error))


def _failure_kind(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".lower()
    return "oom" if isinstance(error, MemoryError) or "out of memory" in text else "exception"


def _message(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line}{where}"[:1000]


def model_and_input(spec: str, conversion: str, batch_size: int, device):
    """The model on `device` and one random input batch there, in the conversion's data type:
    what Parity's timer and benchmarks/gpu_reference.py both run."""
    import torch

    from collectors.catalogue import by_name

    model = build_model(spec).to(device)
    dtype = getattr(torch, by_name()[conversion].data_dtype or "float32")
    return model, torch.randn(batch_size, *input_shape(spec, model), device=device).to(dtype)


def _parity_timing(request: CellRequest) -> MethodResult:
    import torch

    from collectors.timer import CudaEvents, TimerSettings, time_calls

    device = torch.device(request.device)
    on_cuda = device.type == "cuda"
    rss_before = _max_rss_mb()
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    model, data = model_and_input(request.model, request.conversion, request.batch_size, device)
    synchronise = torch.cuda.synchronize if on_cuda else (lambda: None)
    with torch.no_grad():
        forward, compile_s = _convert(model, data, request.conversion, device, synchronise)
        provider = _onnx_provider(forward)
        if request.conversion == "ONNX_GPU" and provider != "CUDAExecutionProvider":
            return _failed(SYNCED_E2E, request.device, WRONG_DEVICE,
                           f"ONNX Runtime ran the model on {provider}, not CUDAExecutionProvider", compile_s=compile_s)
        settings = TimerSettings(target_ci=request.target_ci, max_seconds=request.max_seconds)
        timing = time_calls(lambda: forward(data), synchronise, settings, events=CudaEvents(torch) if on_cuda else None)
    return {"method": SYNCED_E2E, "status": OK, "device": _device_used(request, provider), "samples": timing.samples,
            "gpu_samples": timing.gpu_samples, "compile_s": compile_s,
            "peak_memory_mb": _peak_memory_mb(torch, device, rss_before),
            "warmup_iterations": timing.warmup_iterations, "stopped_by": timing.stopped_by}


def _convert(model, data, conversion: str, device, synchronise) -> tuple[Callable, float]:
    """Alma's converted forward call, and the seconds to convert it plus its first call (which
    compiles, for most backends). Importing Alma is not part of that time."""
    select = alma_module("alma.conversions.select").select_forward_call_function
    started = time.perf_counter()
    forward = select(model, conversion, data, device)
    forward(data)
    synchronise()
    return forward, time.perf_counter() - started


def _device_used(request: CellRequest, provider: str | None) -> str:
    from collectors.catalogue import by_name

    return "cpu" if provider == "CPUExecutionProvider" else by_name()[request.conversion].runs_on(request.device)


def _onnx_provider(forward) -> str | None:
    """The provider an ONNX Runtime session inside Alma's forward closure really uses, if any."""
    for cell in getattr(forward, "__closure__", None) or ():
        session = cell.cell_contents
        if hasattr(session, "get_providers") and hasattr(session, "run"):
            return session.get_providers()[0]
    return None


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _peak_memory_mb(torch, device, rss_before_mb: float) -> float:
    """CUDA: torch's peak allocated bytes in this cell. CPU: growth of the process's peak RSS
    (ru_maxrss) from before the model was built: weights, conversion and activations, without the
    Python and torch runtime."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return max(0.0, _max_rss_mb() - rss_before_mb)


def _alma_timing(request: CellRequest) -> MethodResult:
    """Alma's own `benchmark_model` figure for the same cell, on a freshly built model (some
    conversions change the model in place)."""
    import torch

    from collectors.catalogue import by_name

    alma = import_alma()
    config_class = importlib.import_module("alma.benchmark").BenchmarkConfig
    device = torch.device(request.device)
    model = build_model(request.model)
    sample = torch.randn(*input_shape(request.model, model))
    config = config_class(n_samples=request.batch_size * request.alma_batches, batch_size=request.batch_size,
                          device=device, allow_cuda=device.type == "cuda", multiprocessing=False,
                          fail_on_error=False)
    result = alma.benchmark_model(model, config, conversions=[request.conversion], data=sample)[request.conversion]
    if result.get("status") != "success":
        error = str(result.get("error") or "Alma reported an error").strip().splitlines()
        return _failed(ALMA, request.device, "exception", f"Alma: {error[-1] if error else ''}"[:1000])
    n_batches = -(-result["total_samples"] // request.batch_size)
    per_batch_ms = result["total_inf_time"] / n_batches * 1000
    # Alma keeps only a total, so the mean per batch stands in for the median comparisons use.
    device_used = by_name()[request.conversion].runs_on(str(result["device"]).split(":")[0])
    return {"method": ALMA, "status": OK, "device": device_used,
            "median": per_batch_ms, "mean": per_batch_ms, "n_iterations": n_batches,
            "throughput_sps": result["throughput"], "message": "Alma's benchmark_model: total_inf_time / batches"}


def main(argv: list[str]) -> int:
    request_path, result_path = argv
    request = CellRequest.model_validate_json(Path(request_path).read_text())
    result = run_cell(request)
    Path(result_path).write_text(result.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
