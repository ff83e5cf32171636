"""The records every collector produces and the store consumes: the one declaration of each field.

Plain frozen dataclasses: a record built in code is trusted (the collectors made it), and a record
read from outside (any input file) is validated at that boundary by pydantic against the same
fields and their annotated constraints (`collectors.values`), which are what the store can take.
The store's columns, the bundle's shape and what a bench worker reports are all derived from these
classes, so a new measured quantity is a new field here, a migration that adds its column
(reporter/schema.py), and the code that measures it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from collectors.values import Amount, Count, JsonObject, Milliseconds, Name, Positive, Tally, Text, Timestamp
from collectors.vocabulary import Method, Side, Status

# Read from outside, a record must not carry a field this version does not know (a typo would
# otherwise vanish silently); pydantic reads this when it validates the dataclass. A record a
# format built is checked again as a whole (revalidated), since it may hold a value the format
# derived rather than read (an energy per batch from a per-inference figure).
_STRICT_FIELDS = {"extra": "forbid", "revalidate_instances": "always"}


@dataclass(frozen=True, slots=True)
class Prediction:
    """What a predictor (graphs) says of one cell: its latency, and its energy and peak memory
    where the predictor gives them."""

    __pydantic_config__ = _STRICT_FIELDS

    model: Name
    platform: Name
    precision: Name
    batch_size: Count
    latency_ms: Milliseconds  # whole batch
    predictor: Name
    predictor_version: Text | None = None
    predicted_at: Timestamp | None = None
    throughput_fps: Amount | None = None
    energy_mj: Amount | None = None  # whole batch
    energy_per_inference_mj: Amount | None = None
    peak_memory_mb: Amount | None = None
    raw: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measured cell by one method. Latency statistics are in ms per batch; tuple fields are
    series (the store keeps `samples` and `gpu_samples` in the samples table, others as lists)."""

    __pydantic_config__ = _STRICT_FIELDS

    model: Name
    platform: Name
    precision: Name
    batch_size: Count
    conversion: Name
    device: Text | None
    method: Method
    status: Status
    measured_at: Timestamp | None = None
    failure_kind: Text | None = None
    message: Text | None = None
    median: Milliseconds | None = None
    mean: Milliseconds | None = None
    std: Amount | None = None
    p05: Milliseconds | None = None
    p95: Milliseconds | None = None
    ci95_low: Milliseconds | None = None
    ci95_high: Milliseconds | None = None
    n_iterations: Tally | None = None
    throughput_sps: Positive | None = None
    compile_s: Amount | None = None
    peak_memory_mb: Amount | None = None
    energy_mj: Amount | None = None  # per batch, total, over the timed window (see energy_* below)
    mean_power_w: Amount | None = None  # over the energy window
    idle_power_w: Amount | None = None  # measured just before the cell: energy above idle can be derived
    energy_sensor: Text | None = None  # nvml-counter, nvml-power, ina3221:VDD_IN, rapl:package-0+dram, ...
    energy_window_s: Amount | None = None
    energy_rails_mj: dict[Text, Amount] = field(default_factory=dict)  # per batch, per rail the sensor read
    energy_note: Text | None = None  # why there is no energy figure, and the fix
    kernels_per_call: Amount | None = None  # device-busy: kernels, copies and memsets per call
    warmup_iterations: Tally | None = None
    stopped_by: Text | None = None  # which rule ended the timing: target-ci, max-seconds (+ when processes differ)
    converged: bool | None = None  # the CI of the median reached the target (None: not timed by Parity)
    compile_cache: Text | None = None  # inductor's FX graph cache: hit, miss or partial (None: not used)
    phase_s: dict[Text, Amount] = field(default_factory=dict)  # seconds per phase: startup, build, convert, ...
    samples: tuple[Milliseconds, ...] = ()
    gpu_samples: tuple[Milliseconds, ...] = ()  # CUDA-event times beside `samples`, on CUDA only
    process_medians: tuple[Milliseconds, ...] = ()  # the median of each fresh process, with `--processes` > 1
    energy_samples: tuple[Amount, ...] = ()  # energy per batch of each part of the window, for significance
    process_energy_mj: tuple[Amount, ...] = ()  # energy per batch of each fresh process, with `--processes` > 1


@dataclass(frozen=True, slots=True)
class Subgraph:
    """One row of graphs' per-subgraph detail, predicted or measured by a calibration run, or one
    leaf module that `parity bench --layers` timed."""

    __pydantic_config__ = _STRICT_FIELDS

    side: Side
    model: Name
    platform: Name
    precision: Name
    batch_size: Count
    subgraph_id: Name
    ops: Text | None
    flops: Amount | None
    bytes: Amount | None
    latency_ms: Amount | None  # per forward
    latency_std_ms: Amount | None = None
    energy_mj: Amount | None = None
    operation_type: Text | None = None  # graphs calibration's `operation_type`; Parity's layers: the module type
    node_names: tuple[Text, ...] = ()  # the graph nodes it covers, named as graphs names them (`layer1_0_conv1`)
    method: Method | None = None  # who measured it: None for graphs' own files, `device-busy` for `bench --layers`
    conversion: Text | None = None  # the conversion Parity's layers were timed through (graphs': plain PyTorch)
    calls: Tally | None = None  # calls per forward (Parity's layers)
    run_id: Text | None = None  # the bench run that measured it (Parity's layers; graphs' rows have a source)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run carried inside a file (a Parity bundle); ingest of plain files makes its own run."""

    __pydantic_config__ = _STRICT_FIELDS

    run_id: Name
    kind: Name
    started_at: Timestamp
    finished_at: Timestamp | None
    host: Text | None
    platform: Text | None
    label: Text | None
    git_sha: Text | None
    environment: JsonObject
    settings: JsonObject = field(default_factory=dict)  # what a bench was asked (its plan), to resume it


@dataclass(slots=True)
class Records:
    """What one input document turns into."""

    predictions: list[Prediction] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    subgraphs: list[Subgraph] = field(default_factory=list)
    run: RunInfo | None = None
    includes: list[Path] = field(default_factory=list)  # further files to ingest (a manifest's)


def record_fields(record: Any) -> dict[str, Any]:
    """A record's fields as a dict, shallow: `dataclasses.asdict` deep-copies and costs ~10x more
    per row, which shows when a bulk write turns a million records into rows."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def series_fields(record_type: type) -> tuple[str, ...]:
    """The fields of a record type that hold a series of values (declared as tuples)."""
    return tuple(f.name for f in fields(record_type) if str(f.type).startswith("tuple["))


def utc_now() -> str:
    """Now as naive UTC ISO text: the store's TIMESTAMP columns hold UTC without an offset."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


def new_run_id(kind: str, started_at: str, suffix: str) -> str:
    """`bench-20261128T173849Z-d6bdb24b`: sortable by start, unique through `suffix`."""
    stamp = started_at.replace("-", "").replace(":", "")[:15]
    return f"{kind}-{stamp}Z-{suffix}"
