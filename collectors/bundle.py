"""Parity bundle: one bench run as a portable, versioned JSON file, for `parity ingest` elsewhere.

A device runs `parity bench --out run.json`; the central job runs `parity ingest run.json`. The
file holds the run (with its environment fingerprint) and every measurement with its raw samples.
Writing is deterministic: keys sorted, compact separators, samples rounded to the nanosecond
(6 decimals of a millisecond, below perf_counter's real resolution), so the same result gives the
same bytes, and so the same source id on ingest.

Format history (bump BUNDLE_VERSION and add a line whenever the shape changes; readers accept
every version listed here):

- 1 (2026-11): first version: {format, version, run, measurements[]}; latencies in ms per batch.
- 2 (2026-11): measurements[].process_medians (`parity bench --processes`; empty for one process).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from collectors.errors import InputError, ParityError
from collectors.records import Measurement, RunInfo, positive_number, record_fields

BUNDLE_FORMAT = "parity-bundle"
BUNDLE_VERSION = 2
_SAMPLE_DECIMALS = 6
_SERIES = ("samples", "gpu_samples", "process_medians")  # tuples in a Measurement, lists in a bundle

OptionalFloat = float | None


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class BundleRun(_Strict):
    run_id: str = Field(min_length=1)
    kind: str
    started_at: str
    finished_at: str | None
    host: str | None
    platform: str | None
    label: str | None
    git_sha: str | None
    environment: dict[str, Any]


class BundleMeasurement(_Strict):
    model: str = Field(min_length=1)
    platform: str = Field(min_length=1)
    precision: str
    batch_size: int = Field(gt=0)
    conversion: str
    device: str
    method: Literal["synced-e2e", "alma", "layerwise-sum"]
    status: Literal["ok", "failed", "unavailable", "timeout"]
    measured_at: str | None = None
    failure_kind: str | None = None
    message: str | None = None
    median: OptionalFloat = None
    mean: OptionalFloat = None
    std: OptionalFloat = None
    p05: OptionalFloat = None
    p95: OptionalFloat = None
    ci95_low: OptionalFloat = None
    ci95_high: OptionalFloat = None
    n_iterations: int | None = None
    throughput_sps: OptionalFloat = None
    compile_s: OptionalFloat = None
    peak_memory_mb: OptionalFloat = None
    energy_mj: OptionalFloat = None
    samples: list[float] = []
    gpu_samples: list[float] = []
    process_medians: list[float] = []


class Bundle(_Strict):
    format: Literal["parity-bundle"]
    version: Literal[1, 2]
    run: BundleRun
    measurements: list[BundleMeasurement]


def to_bundle(run: RunInfo, measurements: list[Measurement]) -> Bundle:
    return Bundle(
        format=BUNDLE_FORMAT, version=BUNDLE_VERSION, run=BundleRun(**record_fields(run)),
        measurements=[BundleMeasurement(**{**record_fields(m), **{name: _rounded(getattr(m, name)) for name in _SERIES}})
                      for m in measurements])


def from_bundle(bundle: Bundle) -> tuple[RunInfo, list[Measurement]]:
    run = RunInfo(**bundle.run.model_dump())
    measurements = [Measurement(**{**m.model_dump(), **{name: tuple(getattr(m, name)) for name in _SERIES}})
                    for m in bundle.measurements]
    return run, measurements


def dumps(bundle: Bundle) -> str:
    """The bundle's deterministic JSON text."""
    return json.dumps(bundle.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"


def write_bundle(run: RunInfo, measurements: list[Measurement], path: Path | str, *, overwrite: bool = False) -> Path:
    """Write a bundle atomically (a temporary file renamed into place).

    Raises ParityError when `path` exists and `overwrite` is False.
    """
    path = Path(path)
    if not overwrite:
        refuse_existing(path)
    text = dumps(to_bundle(run, measurements))
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a bundle is meant to be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def refuse_existing(path: Path | str) -> None:
    """ParityError when `path` exists: a bundle is never overwritten by accident (check it before
    a long bench, not after)."""
    if Path(path).exists():
        raise ParityError(f"{path}: already exists (choose another --out, or remove it)")


def prepare_out(path: Path | str) -> Path:
    """Check, before a long bench, that a bundle can be written at `path`: it must not exist, and
    its folder must exist or be creatable, and be writable (the folder is created). ParityError."""
    path = Path(path)
    refuse_existing(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ParityError(f"{path}: cannot create its folder {path.parent}: {error.strerror or error}") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise ParityError(f"{path}: cannot write in the folder {path.parent}")
    return path


# -- checking a bundle that was read ---------------------------------------------------------------

_POSITIVE = ("median", "mean", "p05", "p95", "ci95_low", "ci95_high", "throughput_sps")
_NON_NEGATIVE = ("std", "compile_s", "peak_memory_mb", "energy_mj")


def check_values(bundle: Bundle, path: Path | str) -> None:
    """InputError for the first implausible measurement value, naming its field path (e.g.
    `measurements[3].median = -1.0: expected a positive number`): non-finite or non-positive
    latency statistics and samples, negative counts, a median outside its own CI.

    Reading only: writing a bundle never refuses what was measured.
    """
    for index, m in enumerate(bundle.measurements):
        where = f"measurements[{index}]"
        for name in _POSITIVE + _NON_NEGATIVE:
            value = getattr(m, name)
            if value is not None:
                positive_number(path, f"{where}.{name}", value, allow_zero=name in _NON_NEGATIVE)
        if m.n_iterations is not None and m.n_iterations < 0:
            raise InputError(path, f"{where}.n_iterations", m.n_iterations, "expected a count >= 0")
        for name in _SERIES:
            for position, value in enumerate(getattr(m, name)):
                positive_number(path, f"{where}.{name}[{position}]", value)
        if None not in (m.ci95_low, m.median, m.ci95_high) and not m.ci95_low <= m.median <= m.ci95_high:
            raise InputError(path, f"{where}.median", m.median,
                             f"outside its own 95 % CI [{m.ci95_low}, {m.ci95_high}]")


def _rounded(values: tuple[float, ...]) -> list[float]:
    return [round(v, _SAMPLE_DECIMALS) for v in values]
