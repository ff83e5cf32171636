"""What a bench worker measures in one cell, method by method, as Measurement fields by name.

Parity's timer (`synced-e2e`): the model is built and converted once; the converted call is timed
(collectors.timer) while the energy sensor, where there is one, reads the timed window
(collectors.energy); then, in windows of their own that never touch the timed samples, the
profiler measures the device's own work per call (`device-busy`) and, with `--layers`, each leaf
module's. Alma's own loop (`alma`) runs on a freshly built model. Every phase's seconds go to
`phase_s`, so that a nightly's time can be broken down.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from collectors.vocabulary import ALMA, DEVICE_BUSY, FAILED, LAYER_OPERATIONS, OK, SYNCED_E2E, UNAVAILABLE

WRONG_DEVICE = "wrong_device"  # failure_kind: the conversion ran on another device than asked
PROFILED_CALLS = 10  # calls in the device-busy window: samples for significance, at little cost
LAYER_CALLS = 5  # calls in the --layers window (hooks synchronise around every leaf: slower)
IDLE_SECONDS = 1.0  # idle power is read for this long before the cell (collectors.energy)
MethodResult = dict[str, Any]  # Measurement fields by name, for one timing method
# The phases of a cell (the keys of `phase_s`), in the order a worker goes through them; the
# worker's start-up is added by collectors.bench, Alma's own loop is timed whole.
PHASES = STARTUP, BUILD, CONVERT, IDLE, WARMUP, TIMING, PROFILE, LAYERS, ALMA_LOOP = (
    "startup",
    "build",
    "convert",
    "idle",
    "warmup",
    "timing",
    "profile",
    "layers",
    "alma",
)


class Phases(dict):
    """Seconds per phase of a cell (`Measurement.phase_s`): `with phases.timed(BUILD): ...`."""

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - started


@dataclass
class Measured:
    """What Parity's timer, the profiler and --layers saw of one cell."""

    results: list[MethodResult]
    layers: list[dict[str, Any]] = field(default_factory=list)  # Subgraph fields by name, per leaf module


def failed(method: str, device: str, kind: str, message: str, **fields: Any) -> MethodResult:
    return {"method": method, "status": FAILED, "device": device, "failure_kind": kind, "message": message, **fields}


def parity_timing(request: Any, first_in_process: bool) -> Measured:
    """Build, convert, time (with energy), then profile one cell. `request` is a CellRequest."""
    import torch

    from collectors.memory import PeakMemory
    from collectors.models import model_and_input

    device, phases = torch.device(request.device), Phases()
    memory = PeakMemory(torch, device)
    memory.start(first_in_process=first_in_process)
    with phases.timed(BUILD):
        model, data = model_and_input(request.model, request.conversion, request.batch_size, device)
    synchronise = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.no_grad():
        with phases.timed(CONVERT), _compile_cache_use() as cache:
            forward, compile_s = _convert(model, data, request.conversion, device, synchronise)
        provider = _onnx_provider(forward)
        if request.conversion == "ONNX_GPU" and provider != "CUDAExecutionProvider":
            return Measured(
                [
                    failed(
                        SYNCED_E2E,
                        request.device,
                        WRONG_DEVICE,
                        f"ONNX Runtime ran the model on {provider}, not CUDAExecutionProvider",
                        compile_s=compile_s,
                    )
                ]
            )
        call = lambda: forward(data)  # noqa: E731 - the one call every window below runs
        timed = _timed(call, synchronise, request, phases)
        device_used = _device_used(request, provider)
        timed.update(
            method=SYNCED_E2E,
            status=OK,
            device=device_used,
            compile_s=compile_s,
            peak_memory_mb=memory.peak_mb(),
            compile_cache=cache.get("use"),
            phase_s=phases,
        )
        results = [timed]
        if request.profile:  # a process repeating a cell's timing (--processes) skips the profiler
            results.append(_device_busy(call, synchronise, device_used, onnx=provider is not None))
        layers = _layers(model, call, synchronise, device_used, phases) if request.layers else []
    return Measured(results, layers)


def _timed(call: Callable[[], object], synchronise: Callable[[], None], request: Any, phases: Phases) -> MethodResult:
    """Warm-up and timing, the energy sensor reading the timed window (which then lasts at least
    energy.MIN_WINDOW_S); the cell's idle power is read first, with the device quiet."""
    import torch

    from collectors import energy
    from collectors.timer import CudaEvents, TimerSettings, time_calls

    on_cuda = request.device == "cuda"
    sensor = energy.open_sensor(request.device, gpu_index=torch.cuda.current_device() if on_cuda else None)
    fields: MethodResult = {}
    window = None
    settings = TimerSettings(target_ci=request.target_ci, max_seconds=request.max_seconds)
    if isinstance(sensor, energy.Unavailable):
        fields["energy_note"] = f"{sensor.reason}; fix: {sensor.fix}" if sensor.fix else sensor.reason
    else:
        with phases.timed(IDLE):
            fields["idle_power_w"] = energy.idle_power_w(sensor, IDLE_SECONDS)
        window = energy.EnergyWindow(sensor)
        settings = TimerSettings(
            target_ci=request.target_ci,
            max_seconds=request.max_seconds,
            min_seconds=max(settings.min_seconds, energy.MIN_WINDOW_S),
        )
    try:
        with phases.timed(TIMING):
            timing = time_calls(
                call, synchronise, settings, events=CudaEvents(torch) if on_cuda else None, window=window
            )
    finally:
        if window is not None:
            sensor.close()
    phases[WARMUP] = timing.warmup_seconds
    phases[TIMING] -= timing.warmup_seconds
    if window is not None:
        fields.update(window.fields())
    return {
        **fields,
        "samples": timing.samples,
        "gpu_samples": timing.gpu_samples,
        "warmup_iterations": timing.warmup_iterations,
        "stopped_by": timing.stopped_by,
    }


def _device_busy(
    call: Callable[[], object], synchronise: Callable[[], None], device: str, *, onnx: bool
) -> MethodResult:
    """The device's own work per call, in a profiling window of its own: a `device-busy` result.
    ONNX Runtime's CPU kernels are invisible to torch's profiler (it would see only the tensor
    copies around the session); its CUDA kernels are not (CUPTI sees every kernel)."""
    from collectors.profiling import OUTSIDE_TORCH, Unavailable, device_busy

    busy = (
        Unavailable(OUTSIDE_TORCH)
        if onnx and device == "cpu"
        else device_busy(call, synchronise, device, calls=PROFILED_CALLS)
    )
    if isinstance(busy, Unavailable):
        return {
            "method": DEVICE_BUSY,
            "status": UNAVAILABLE,
            "device": device,
            "failure_kind": "not-visible",
            "message": busy.reason,
        }
    return {
        "method": DEVICE_BUSY,
        "status": OK,
        "device": device,
        "samples": list(busy.per_call_ms),
        "kernels_per_call": busy.kernels_per_call,
        "phase_s": {PROFILE: busy.window_s},
    }


def _layers(
    model: Any, call: Callable[[], object], synchronise: Callable[[], None], device: str, phases: Phases
) -> list[dict[str, Any]]:
    """Each leaf module's device time per forward, as Subgraph fields (the unclaimed share as a
    row of its own); none where no module ran as itself (a compiled model)."""
    from collectors.profiling import Unavailable, layer_times

    with phases.timed(LAYERS):
        found = layer_times(model, call, synchronise, device, calls=LAYER_CALLS)
    if isinstance(found, Unavailable):
        return []
    rows = [
        {
            "subgraph_id": layer.path,
            "ops": layer.module_type,
            "operation_type": LAYER_OPERATIONS.get(layer.module_type, layer.module_type.lower()),
            "node_names": [layer.path.replace(".", "_")],
            "latency_ms": layer.device_ms,
            "calls": layer.calls,
        }
        for layer in found.layers
    ]
    return [*rows, {"subgraph_id": UNCLAIMED, "ops": None, "latency_ms": found.unclaimed_ms}]


UNCLAIMED = "(no module)"  # the layers row of device time no leaf module claims


@contextmanager
def _compile_cache_use() -> Iterator[dict[str, str]]:
    """Whether inductor's FX graph cache served the compile: {"use": "hit" | "miss" | "partial"},
    or nothing for conversions that do not compile through inductor."""
    from torch._dynamo.utils import counters

    def looked_up() -> tuple[int, int]:
        return counters["inductor"]["fxgraph_cache_hit"], counters["inductor"]["fxgraph_cache_miss"]

    before, found = looked_up(), {}
    yield found
    hits, misses = (after - earlier for after, earlier in zip(looked_up(), before, strict=True))
    if hits or misses:
        found["use"] = "partial" if hits and misses else "hit" if hits else "miss"


def _convert(model: Any, data: Any, conversion: str, device: Any, synchronise: Callable[[], None]) -> tuple[Any, float]:
    """Alma's converted forward call, and the seconds to convert it plus its first call (which
    compiles, for most backends). Importing Alma is not part of that time."""
    from collectors.alma_compat import alma_module

    select = alma_module("alma.conversions.select").select_forward_call_function
    started = time.perf_counter()
    forward = select(model, conversion, data, device)
    forward(data)
    synchronise()
    return forward, time.perf_counter() - started


def _device_used(request: Any, provider: str | None) -> str:
    from collectors.catalogue import by_name

    return "cpu" if provider == "CPUExecutionProvider" else by_name()[request.conversion].runs_on(request.device)


def _onnx_provider(forward: Any) -> str | None:
    """The provider an ONNX Runtime session inside Alma's forward closure really uses, if any."""
    for cell in getattr(forward, "__closure__", None) or ():
        session = cell.cell_contents
        if hasattr(session, "get_providers") and hasattr(session, "run"):
            return session.get_providers()[0]
    return None


def alma_timing(request: Any) -> MethodResult:
    """Alma's own `benchmark_model` figure for the same cell, on a freshly built model (some
    conversions change the model in place)."""
    import torch

    from collectors.alma_compat import import_alma
    from collectors.catalogue import by_name
    from collectors.models import build_model, input_shape

    started = time.perf_counter()
    device = torch.device(request.device)
    model = build_model(request.model)
    sample = torch.randn(*input_shape(request.model, model))
    config = importlib.import_module("alma.benchmark").BenchmarkConfig(
        n_samples=request.batch_size * request.alma_batches,
        batch_size=request.batch_size,
        device=device,
        allow_cuda=device.type == "cuda",
        multiprocessing=False,
        fail_on_error=False,
    )
    result = import_alma().benchmark_model(model, config, conversions=[request.conversion], data=sample)
    result = result[request.conversion]
    if result.get("status") != "success":
        error = str(result.get("error") or "Alma reported an error").strip().splitlines()
        return failed(ALMA, request.device, "exception", f"Alma: {error[-1] if error else ''}"[:1000])
    n_batches = -(-result["total_samples"] // request.batch_size)
    per_batch_ms = result["total_inf_time"] / n_batches * 1000
    # Alma keeps only a total, so the mean per batch stands in for the median comparisons use.
    return {
        "method": ALMA,
        "status": OK,
        "median": per_batch_ms,
        "mean": per_batch_ms,
        "n_iterations": n_batches,
        "device": by_name()[request.conversion].runs_on(str(result["device"]).split(":")[0]),
        "throughput_sps": result["throughput"],
        "message": "Alma's benchmark_model: total_inf_time / batches",
        "phase_s": {ALMA_LOOP: time.perf_counter() - started},
    }
