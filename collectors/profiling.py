"""Device-busy time per call and per layer, from torch.profiler, in a window of its own.

The caller has warmed the call up and timed it; these functions run it again under the profiler,
so the profiler never touches timed samples. Each profiled call is one record_function range
("parity.call") holding the call and a device synchronise: the synchronise makes every piece of
device work of a call start and end inside its range, and the ranges are the call boundaries
(host timestamps in the profiler's clock). What counts (see `collectors.profiling_events`):

- CUDA: kernels, memory copies and memsets, by duration. Summing `key_averages()` would count a
  kernel again under its CPU operator, and record_function ranges also appear as device-side
  annotations spanning the kernels inside them (../shared/notes/h200-device-time-and-energy.md,
  section 6): those are left out.
- CPU: operator self time (time inside operators, without Python glue or record_function ranges).
  torch.compile's fused C++ kernels are no operators; they count as the self time of its
  "## Call CompiledFxGraph ##" range (a function-scope range, not a user annotation), together
  with that wrapper's own Python: an upper bound there.

Only FunctionEvent fields present in both torch 2.11 (the lent H200) and 2.14 are read: `name`,
`device_type`, `is_user_annotation`, `time_range`, `self_cpu_time_total`. Seen missing in 2.11:
`activity_type` and `linked_correlation_id` (checked on the H200, 2026-12-02); so work is matched
to calls and layers by time, not by correlation id (CPU-side ids of operators and of CUDA runtime
calls also collide there).
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function

from collectors import profiling_events as pe

if TYPE_CHECKING:
    from torch.autograd.profiler_util import FunctionEvent

CALL = "parity.call"
LAYER = "parity.layer:"
OUTSIDE_TORCH = (
    "the profiler saw no operators: the call runs outside torch's dispatcher "
    "(ONNX Runtime, a TensorRT engine or plain Python)"
)
NO_CUPTI = "torch.profiler cannot trace CUDA in this build (no CUPTI)"
NO_DEVICE_WORK = "the profiler saw no CUDA kernels, copies or memsets during the calls"
NO_LEAF_RAN = (
    "no leaf module of the model ran as itself: the call runs a converted or compiled form that never calls the modules"
)


@dataclass(frozen=True, slots=True)
class DeviceBusy:
    per_call_ms: tuple[float, ...]  # device-busy time of each profiled call, ms
    kernels_per_call: float  # CUDA: kernels+copies+memsets per call; CPU: operator events per call
    window_s: float  # wall seconds the profiling window took (its cost, incl. profiler start/stop)


@dataclass(frozen=True, slots=True)
class Layer:
    path: str  # module path, e.g. "features.0.0"
    module_type: str  # class name, e.g. "Conv2d"
    calls: int  # calls per forward (a module used twice counts 2)
    device_ms: float  # device time per forward, all its calls together


@dataclass(frozen=True, slots=True)
class Layers:
    layers: tuple[Layer, ...]  # leaf modules that ran, in first-execution order
    unclaimed_ms: float  # device time per forward that no leaf module claims


@dataclass(frozen=True, slots=True)
class Unavailable:
    reason: str


def device_busy(
    call: Callable[[], object], synchronise: Callable[[], None], device: str, *, calls: int
) -> DeviceBusy | Unavailable:
    """Device-busy time of each of `calls` profiled calls.

    call: one forward pass on a pre-allocated input. synchronise: waits for the device (a no-op on
    the CPU). device: "cuda" or "cpu". Returns Unavailable where the profiler cannot see the work.
    Raises ValueError for calls < 1, and whatever `call` raises.
    """
    on_device = _on_cuda(device)
    if on_device and not _can_trace_cuda():
        return Unavailable(NO_CUPTI)
    events, window_s = _profile(call, synchronise, on_device, calls)
    totals, counts = pe.per_call(pe.busy_events(events, on_device), pe.spans(events, CALL))
    if not any(counts):
        return Unavailable(NO_DEVICE_WORK if on_device else OUTSIDE_TORCH)
    return DeviceBusy(
        per_call_ms=tuple(us / 1000 for us in totals), kernels_per_call=statistics.fmean(counts), window_s=window_s
    )


def layer_times(
    model: torch.nn.Module, call: Callable[[], object], synchronise: Callable[[], None], device: str, *, calls: int
) -> Layers | Unavailable:
    """Device time per forward of each leaf module (a module without children) of `model`.

    Each leaf's forward runs inside a "parity.layer:PATH" range, opened and closed by hooks that
    synchronise the device first; its time is the work that starts inside its innermost range.
    The hooks are removed before returning, also when `call` raises (which propagates).
    Returns Unavailable where no leaf module ran as itself or the profiler saw no work.
    Raises ValueError for calls < 1.
    """
    on_device = _on_cuda(device)
    if on_device and not _can_trace_cuda():
        return Unavailable(NO_CUPTI)
    leaves = {path: module for path, module in model.named_modules() if not any(module.children())}
    ranges = _LeafRanges(synchronise)
    handles = [hook for path, module in leaves.items() for hook in ranges.attach(path, module)]
    try:
        events, _ = _profile(call, synchronise, on_device, calls)
    finally:
        ranges.close_all()
        for handle in handles:
            handle.remove()
    busy = pe.busy_events(events, on_device)
    sums, unclaimed_us = pe.per_layer(busy, pe.spans(events, CALL), pe.spans(events, LAYER))
    if not sums:
        return Unavailable(NO_LEAF_RAN)
    if not busy:
        return Unavailable(NO_DEVICE_WORK if on_device else OUTSIDE_TORCH)
    layers = tuple(
        Layer(
            path=s.name,
            module_type=type(leaves[s.name]).__name__,
            calls=round(s.spans / calls),  # a whole number unless control flow depends on data
            device_ms=s.busy_us / calls / 1000,
        )
        for s in sums
    )
    return Layers(layers=layers, unclaimed_ms=unclaimed_us / calls / 1000)


class _LeafRanges:
    """Forward hooks that hold a record_function range open around each leaf module's forward."""

    def __init__(self, synchronise: Callable[[], None]) -> None:
        self._synchronise = synchronise
        self._open: list[record_function] = []  # leaf forwards nest (if ever) last in, first out

    def attach(self, path: str, module: torch.nn.Module) -> list[torch.utils.hooks.RemovableHandle]:
        def before(_module: torch.nn.Module, _args: object) -> None:
            self._synchronise()  # work launched before this leaf must not start inside its range
            self._open.append(record_function(LAYER + path).__enter__())

        def after(_module: torch.nn.Module, _args: object, _output: object) -> None:
            self._synchronise()  # the leaf's own work must end inside its range
            self._open.pop().__exit__(None, None, None)

        # always_call: the range closes even when the forward raises.
        return [module.register_forward_pre_hook(before), module.register_forward_hook(after, always_call=True)]

    def close_all(self) -> None:
        """Ranges a failure left open (e.g. a pre-hook of someone else raising before forward)."""
        while self._open:
            self._open.pop().__exit__(None, None, None)


def _on_cuda(device: str) -> bool:
    return torch.device(device).type == "cuda"


def _can_trace_cuda() -> bool:
    return ProfilerActivity.CUDA in torch.profiler.supported_activities()


def _profile(
    call: Callable[[], object], synchronise: Callable[[], None], on_device: bool, calls: int
) -> tuple[list[pe.Event], float]:
    """The events of `calls` calls, each in a CALL range with a synchronise at its end, and the
    wall seconds from starting the profiler to having its events parsed (the window's cost)."""
    if calls < 1:
        raise ValueError(f"calls must be at least 1, got {calls}")
    activities = [ProfilerActivity.CPU, ProfilerActivity.CUDA] if on_device else [ProfilerActivity.CPU]
    synchronise()  # nothing launched earlier may start inside the first call
    started = time.perf_counter()
    with warnings.catch_warnings():
        # torch 2.11 warns that a profiler without a schedule "clears events at the end of each
        # cycle"; this window is one cycle, so nothing is lost.
        warnings.filterwarnings("ignore", message=".*Profiler clears events")
        # CPU activity as well on CUDA: the call ranges are host events. Device events are read
        # by start time only, so the extra CPU events change no device figure (the notes, section 6).
        with profile(activities=activities) as profiler:
            for _ in range(calls):
                with record_function(CALL):
                    call()
                    synchronise()
        events = [_plain(e) for e in profiler.events()]  # torch 2.14 parses lazily, here
    return events, time.perf_counter() - started


def _plain(event: FunctionEvent) -> pe.Event:
    """A FunctionEvent as a plain event. Device-type events of torch's default profiler config are
    kernels, copies, memsets and the device side of user annotations (kineto_shim.cpp,
    deviceTypeFromActivity; CUDA sync events only come with `enable_cuda_sync_events`)."""
    start, end = event.time_range.start, event.time_range.end
    annotation = bool(event.is_user_annotation)
    if event.device_type != DeviceType.CPU:
        return pe.Event(pe.MARK if annotation else pe.WORK, event.name, start, end, 0.0 if annotation else end - start)
    return pe.Event(
        pe.RANGE if annotation else pe.OP, event.name, start, end, 0.0 if annotation else event.self_cpu_time_total
    )
