"""The records every collector produces and the store consumes.

Plain frozen dataclasses: validation happens at the boundary (the format modules and the
pydantic models they use), so a record that exists is already normalised and checked.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from collectors.errors import InputError



@dataclass(frozen=True, slots=True)
class Prediction:
    model: str
    platform: str
    precision: str
    batch_size: int
    latency_ms: float  # whole batch
    predictor: str
    predictor_version: str | None = None
    predicted_at: str | None = None
    throughput_fps: float | None = None
    energy_mj: float | None = None  # whole batch
    energy_per_inference_mj: float | None = None
    peak_memory_mb: float | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Measurement:
    model: str
    platform: str
    precision: str
    batch_size: int
    conversion: str
    device: str
    method: str
    status: str
    measured_at: str | None = None
    failure_kind: str | None = None
    message: str | None = None
    median: float | None = None  # latency statistics, ms per batch
    mean: float | None = None
    std: float | None = None
    p05: float | None = None
    p95: float | None = None
    ci95_low: float | None = None
    ci95_high: float | None = None
    n_iterations: int | None = None
    throughput_sps: float | None = None
    compile_s: float | None = None
    peak_memory_mb: float | None = None
    energy_mj: float | None = None
    samples: tuple[float, ...] = ()
    gpu_samples: tuple[float, ...] = ()  # CUDA-event times beside `samples`, on CUDA only
    process_medians: tuple[float, ...] = ()  # the median of each fresh process, with `--processes` > 1


@dataclass(frozen=True, slots=True)
class Subgraph:
    """One row of graphs' per-subgraph detail: predicted, or measured by a calibration run."""

    side: str  # "predicted" | "measured"
    model: str
    platform: str
    precision: str
    batch_size: int
    subgraph_id: str
    ops: str | None
    flops: float | None
    bytes: float | None
    latency_ms: float | None
    latency_std_ms: float | None = None
    energy_mj: float | None = None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run carried inside a file (a Parity bundle); ingest of plain files makes its own run."""

    run_id: str
    kind: str
    started_at: str
    finished_at: str | None
    host: str | None
    platform: str | None
    label: str | None
    git_sha: str | None
    environment: dict[str, Any]


@dataclass(slots=True)
class Records:
    """What one input document turns into."""

    predictions: list[Prediction] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    subgraphs: list[Subgraph] = field(default_factory=list)
    run: RunInfo | None = None
    includes: list[Path] = field(default_factory=list)  # further files to ingest (a manifest's)


def positive_number(path: Path | str, field_name: str, value: Any, *, allow_zero: bool = False) -> float:
    """`value` as a finite float > 0 (or >= 0), else an InputError naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(path, field_name, value, "expected a number")
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise InputError(path, field_name, value, "expected a finite number")
    if number < 0 or (number == 0 and not allow_zero):
        raise InputError(path, field_name, value, "expected a positive number")
    return number


def record_fields(record: Any) -> dict[str, Any]:
    """A record's fields as a dict, shallow: `dataclasses.asdict` deep-copies and costs ~10x more
    per row, which shows when a bulk write turns a million records into rows."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def utc_now() -> str:
    """Now as naive UTC ISO text: the store's TIMESTAMP columns hold UTC without an offset."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


def new_run_id(kind: str, started_at: str, suffix: str) -> str:
    """`bench-20261128T173849Z-d6bdb24b`: sortable by start, unique through `suffix`."""
    stamp = started_at.replace("-", "").replace(":", "")[:15]
    return f"{kind}-{stamp}Z-{suffix}"
