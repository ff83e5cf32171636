"""collectors.profiling: the attribution rules on hand-built events, and the real profiler on the CPU."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest
import torch
import torchvision

from collectors import profiling_events as pe
from collectors.profiling import DeviceBusy, Layers, Unavailable, device_busy, layer_times


def work(name: str, start: float, duration: float) -> pe.Event:
    return pe.Event(pe.WORK, name, start, start + duration, duration)


def span(name: str, start: float, end: float) -> pe.Span:
    return pe.Span(name, start, end)


# -- pure attribution, hand-built CUDA events -----------------------------------------------------------


def test_busy_events_on_cuda_are_kernels_copies_and_memsets_only() -> None:
    events = [
        pe.Event(pe.RANGE, "parity.call", 0, 100, 0),
        pe.Event(pe.OP, "aten::addmm", 1, 20, 19),
        pe.Event(pe.MARK, "parity.call", 10, 60, 0),
        work("void gemm_kernel", 10, 5),
        work("Memcpy HtoD (Pageable -> Device)", 30, 2),
        work("Memset (Device)", 40, 1),
    ]
    assert [e.name for e in pe.busy_events(events, on_device=True)] == [
        "void gemm_kernel",
        "Memcpy HtoD (Pageable -> Device)",
        "Memset (Device)",
    ]
    assert [e.name for e in pe.busy_events(events, on_device=False)] == ["aten::addmm"]


def test_spans_keep_their_prefix_only_and_put_the_outer_first_on_equal_starts() -> None:
    events = [
        pe.Event(pe.RANGE, "parity.layer:b", 5, 6, 0),
        pe.Event(pe.RANGE, "parity.call", 0, 9, 0),
        pe.Event(pe.MARK, "parity.layer:a", 1, 2, 0),
        pe.Event(pe.RANGE, "parity.layer:a", 5, 8, 0),
    ]
    assert pe.spans(events, "parity.layer:") == [span("a", 5, 8), span("b", 5, 6)]
    assert pe.spans(events, "parity.call") == [span("", 0, 9)]


def test_per_call_sums_work_by_the_call_it_started_in() -> None:
    calls = [span("", 0, 100), span("", 200, 300)]
    busy = [
        work("k1", 10, 5),
        work("Memcpy DtoH", 50, 2),
        work("stray", 150, 40),  # between calls: nobody's
        work("k2", 210, 7),
        work("Memset", 250, 1),
        work("late", 99, 30),
    ]  # started in call 0, ended after it
    totals, counts = pe.per_call(busy, calls)
    assert totals == [5 + 2 + 30, 7 + 1]
    assert counts == [3, 2]


def test_per_call_counts_overlapping_work_in_full() -> None:
    # Two streams: busy time is the sum of durations, not the union (the interface says so).
    totals, counts = pe.per_call([work("a", 10, 50), work("b", 20, 50)], [span("", 0, 100)])
    assert (totals, counts) == ([100.0], [2])


def test_per_layer_gives_work_to_the_innermost_range_and_the_rest_to_nobody() -> None:
    calls = [span("", 0, 1000), span("", 2000, 3000)]
    layers = sorted(
        [
            span("conv", 100, 200),
            span("outer", 300, 600),
            span("inner", 350, 450),
            span("act", 700, 750),
            span("act", 800, 850),
            span("conv", 2100, 2200),
        ],
        key=lambda s: (s.start_us, -s.end_us),
    )
    busy = [
        work("conv k", 110, 50),
        work("nested k", 360, 20),
        work("outer k", 500, 30),
        work("act k", 710, 3),
        work("act k", 810, 4),
        work("residual add", 760, 6),
        work("conv k", 2110, 50),
        work("outside every call", 1500, 99),
    ]
    sums, unclaimed = pe.per_layer(busy, calls, layers)
    assert sums == [
        pe.LayerSum("conv", 2, 100.0),
        pe.LayerSum("outer", 1, 30.0),
        pe.LayerSum("inner", 1, 20.0),
        pe.LayerSum("act", 2, 7.0),
    ]
    assert unclaimed == 6.0


def test_innermost_looks_past_closed_ranges_to_an_enclosing_one() -> None:
    ordered = [span("outer", 0, 1000)] + [span(f"s{i}", 10 * i + 1, 10 * i + 5) for i in range(1, 50)]
    assert pe.innermost(ordered, [3, 512, 900, 1001, -1]) == [0, 0, 0, None, None]
    assert pe.innermost(ordered, [12, 495]) == [1, 49]


def test_per_layer_lists_a_range_without_work_with_zero_time() -> None:
    sums, unclaimed = pe.per_layer([work("k", 5, 1)], [span("", 0, 100)], [span("identity", 50, 51)])
    assert sums == [pe.LayerSum("identity", 1, 0.0)]
    assert unclaimed == 1.0


# -- the real profiler on the CPU -----------------------------------------------------------------------


def no_sync() -> None:
    return None


@pytest.fixture(scope="module")
def one_thread():
    # The 2-vCPU test machine steals time from a second intra-op thread and makes single calls
    # 10-100x slower at random; one thread keeps these tests fast and their timings steady.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mobilenet(one_thread):
    model = torchvision.models.mobilenet_v3_small(weights=None).eval()
    data = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        for _ in range(3):
            model(data)
    return model, data


def leaf_modules(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    return {path: module for path, module in model.named_modules() if not any(module.children())}


def first_execution_order(model: torch.nn.Module, data: torch.Tensor) -> list[str]:
    """Leaf paths in the order a plain forward first calls them, seen by hooks of the test's own."""
    seen: list[str] = []
    handles = [
        module.register_forward_pre_hook(lambda *_, path=path: seen.append(path))
        for path, module in leaf_modules(model).items()
    ]
    with torch.no_grad():
        model(data)
    for handle in handles:
        handle.remove()
    return list(dict.fromkeys(seen))


def test_device_busy_on_cpu_is_a_plausible_part_of_each_calls_wall_time(mobilenet) -> None:
    model, data = mobilenet
    walls: list[float] = []

    def timed_call() -> None:
        started = time.perf_counter()
        model(data)
        walls.append((time.perf_counter() - started) * 1000)

    with torch.no_grad():
        result = device_busy(timed_call, no_sync, "cpu", calls=8)
    assert isinstance(result, DeviceBusy)
    assert len(result.per_call_ms) == len(walls) == 8
    assert all(0 < busy < wall for busy, wall in zip(result.per_call_ms, walls, strict=True))
    assert 0.3 < statistics.median(result.per_call_ms) / statistics.median(walls) < 1.0
    assert result.kernels_per_call > 100  # aten operators, nested ones too
    assert result.window_s > sum(walls) / 1000


def test_layer_times_on_cpu_lists_every_leaf_module_in_order(mobilenet) -> None:
    model, data = mobilenet
    with torch.no_grad():
        result = layer_times(model, lambda: model(data), no_sync, "cpu", calls=2)
    assert isinstance(result, Layers)
    leaves = leaf_modules(model)
    assert [layer.path for layer in result.layers] == first_execution_order(model, data)
    assert {layer.path for layer in result.layers} == set(leaves)  # all of mobilenet's leaves run ops
    assert all(layer.module_type == type(leaves[layer.path]).__name__ for layer in result.layers)
    assert (result.layers[0].path, result.layers[0].module_type) == ("features.0.0", "Conv2d")
    assert all(layer.calls == 1 for layer in result.layers)
    assert all(layer.device_ms > 0 for layer in result.layers if list(leaves[layer.path].parameters()))
    assert result.unclaimed_ms > 0  # the SE blocks' scaling, residual adds, flatten


class SharedActivation(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(16, 16)
        self.act = torch.nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.linear(self.act(x)))


def test_layer_times_counts_a_module_used_twice_as_two_calls(one_thread) -> None:
    model, data = SharedActivation().eval(), torch.randn(4, 16)
    with torch.no_grad():
        result = layer_times(model, lambda: model(data), no_sync, "cpu", calls=3)
    assert isinstance(result, Layers)
    assert [(layer.path, layer.module_type, layer.calls) for layer in result.layers] == [
        ("act", "ReLU", 2),
        ("linear", "Linear", 1),
    ]
    assert all(layer.device_ms > 0 for layer in result.layers)


def test_a_call_that_never_enters_torch_is_unavailable(one_thread) -> None:
    weights = np.ones((64, 64), dtype=np.float32)

    def onnx_runtime_like() -> object:
        return weights @ weights

    assert device_busy(onnx_runtime_like, no_sync, "cpu", calls=3) == Unavailable(
        "the profiler saw no operators: the call runs outside torch's dispatcher "
        "(ONNX Runtime, a TensorRT engine or plain Python)"
    )
    result = layer_times(SharedActivation(), onnx_runtime_like, no_sync, "cpu", calls=2)
    assert isinstance(result, Unavailable)
    assert result.reason.startswith("no leaf module of the model ran as itself")


def hooks_left(model: torch.nn.Module) -> int:
    return sum(
        len(m._forward_pre_hooks) + len(m._forward_hooks) + len(m._forward_hooks_always_called) for m in model.modules()
    )


class Boom(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")


def test_layer_times_removes_its_hooks_also_when_the_call_raises(one_thread) -> None:
    model, data = SharedActivation().eval(), torch.randn(4, 16)
    with torch.no_grad():
        assert isinstance(layer_times(model, lambda: model(data), no_sync, "cpu", calls=1), Layers)
    assert hooks_left(model) == 0

    failing = torch.nn.Sequential(torch.nn.Linear(16, 16), Boom())
    with torch.no_grad(), pytest.raises(RuntimeError, match="boom"):
        layer_times(failing, lambda: failing(data), no_sync, "cpu", calls=2)
    assert hooks_left(failing) == 0
    assert not torch.autograd.profiler._is_profiler_enabled  # the window closed with the error


def test_no_calls_is_an_error_not_an_empty_result(one_thread) -> None:
    model, data = SharedActivation().eval(), torch.randn(4, 16)
    with pytest.raises(ValueError, match="calls must be at least 1"):
        device_busy(lambda: model(data), no_sync, "cpu", calls=0)
    with pytest.raises(ValueError, match="calls must be at least 1"):
        layer_times(model, lambda: model(data), no_sync, "cpu", calls=0)
    assert hooks_left(model) == 0
