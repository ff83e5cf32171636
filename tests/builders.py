"""One set of record builders for every test: a valid record by default, any field overridden.

measurement(conversion="ONNX_CPU", median=2.0)       # an ok synced-e2e cell of resnet18
run_info("run-3", started_at="2026-11-23T02:00:00")   # a bench run
"""

from __future__ import annotations

from typing import Any

from collectors.records import Measurement, Prediction, RunInfo, Subgraph
from collectors.vocabulary import OK, SYNCED_E2E

PLATFORM = "nvidia-h200"
WHEN = "2026-11-28T10:00:00"


def run_info(run_id: str = "run-1", **fields: Any) -> RunInfo:
    defaults = dict(
        kind="bench",
        started_at=WHEN,
        finished_at=None,
        host="host",
        platform=PLATFORM,
        label=None,
        git_sha=None,
        environment={"torch": "2.11"},
    )
    return RunInfo(run_id=run_id, **{**defaults, **fields})


def measurement(**fields: Any) -> Measurement:
    """An ok cell of resnet18 EAGER, fp32, batch 1, by Parity's timer; a latency given as `median`
    alone is the whole summary (no CI, no samples) unless those are given too."""
    defaults = dict(
        model="resnet18",
        platform=PLATFORM,
        precision="fp32",
        batch_size=1,
        conversion="EAGER",
        device="cuda",
        method=SYNCED_E2E,
        status=OK,
        measured_at=WHEN,
        median=1.0,
    )
    return Measurement(**{**defaults, **fields})


def prediction(**fields: Any) -> Prediction:
    defaults = dict(
        model="resnet18",
        platform=PLATFORM,
        precision="fp32",
        batch_size=1,
        latency_ms=1.0,
        predictor="graphs",
        predictor_version="graphs 1.0",
        predicted_at=WHEN,
    )
    return Prediction(**{**defaults, **fields})


def subgraph(**fields: Any) -> Subgraph:
    defaults = dict(
        side="predicted",
        model="resnet18",
        platform=PLATFORM,
        precision="fp32",
        batch_size=1,
        subgraph_id="0",
        ops="Conv2d_BatchNorm2d_ReLU",
        flops=1e9,
        bytes=1e6,
        latency_ms=1.0,
    )
    return Subgraph(**{**defaults, **fields})


# A small bench run: one cell measured, one failed on the wrong device.
BENCH_RUN = run_info(
    "bench-20261128T170000-0000abcd",
    started_at="2026-11-28T17:00:00+00:00",
    finished_at="2026-11-28T17:01:00+00:00",
    host="h",
    label="t",
    environment={"torch_version": "2.11.0", "gpu_name": "NVIDIA H200"},
)
MEASURED_CELL = measurement(
    median=1.5,
    mean=1.52,
    std=0.01,
    p05=1.49,
    p95=1.6,
    ci95_low=1.495,
    ci95_high=1.505,
    n_iterations=3,
    throughput_sps=666.7,
    compile_s=0.4,
    peak_memory_mb=88.0,
    samples=(1.5, 1.4999999999, 1.6),
    gpu_samples=(1.45, 1.46, 1.55),
    measured_at="2026-11-28T17:00:30+00:00",
)
FAILED_CELL = measurement(
    conversion="ONNX_GPU",
    status="failed",
    failure_kind="wrong_device",
    median=None,
    message="ONNX Runtime ran the model on CPUExecutionProvider, not CUDAExecutionProvider",
)
