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
- 3 (2026-12): measurements[] carry energy (energy_mj per batch, mean and idle power, sensor,
  window, rails, samples, note), phase_s, compile_cache, stopped_by, converged, warmup_iterations;
  `device-busy` measurements; run.settings; and subgraphs[], the leaf modules `--layers` timed.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from collectors.errors import ParityError
from collectors.records import Measurement, RunInfo, Subgraph, series_fields
from collectors.values import STRICT_SHAPE, input_error

BUNDLE_FORMAT = "parity-bundle"
BUNDLE_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
_SAMPLE_DECIMALS = 6


class Bundle(BaseModel):
    """The file's shape: the run and the measurements are the records themselves (their fields and
    constraints are declared once, in collectors.records)."""

    model_config = STRICT_SHAPE

    format: Literal["parity-bundle"]
    version: Literal[READABLE_VERSIONS]  # type: ignore[valid-type]
    run: RunInfo
    measurements: list[Measurement]
    subgraphs: list[Subgraph] = []


def to_bundle(run: RunInfo, measurements: list[Measurement], subgraphs: list[Subgraph] = ()) -> Bundle:
    series = series_fields(Measurement)
    rounded = [replace(m, **{name: _rounded(getattr(m, name)) for name in series}) for m in measurements]
    # Not validated: writing a bundle never refuses what was measured (reading it checks).
    return Bundle.model_construct(
        format=BUNDLE_FORMAT, version=BUNDLE_VERSION, run=run, measurements=rounded, subgraphs=list(subgraphs)
    )


def read_bundle(data: bytes | str, path: Path | str) -> tuple[RunInfo, list[Measurement], list[Subgraph]]:
    """The run and measurements of a bundle's JSON text, validated against the records' fields
    (what holds between fields, such as a median inside its CI, is checked on ingest, for every
    format, by collectors.formats._shared.checked).

    Raises InputError naming the first bad field (`measurements[3].median = -1.0: expected a
    positive number`), never a partly read bundle.
    """
    try:
        bundle = Bundle.model_validate_json(data, strict=True)
    except ValidationError as error:
        raise input_error(error, path) from None
    return bundle.run, list(bundle.measurements), list(bundle.subgraphs)


def dumps(bundle: Bundle) -> str:
    """The bundle's deterministic JSON text."""
    return json.dumps(bundle.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"


def write_bundle(
    run: RunInfo,
    measurements: list[Measurement],
    path: Path | str,
    *,
    overwrite: bool = False,
    subgraphs: list[Subgraph] = (),
) -> Path:
    """Write a bundle atomically (a temporary file renamed into place).

    Raises ParityError when `path` exists and `overwrite` is False.
    """
    path = Path(path)
    if not overwrite:
        refuse_existing(path)
    text = dumps(to_bundle(run, measurements, subgraphs))
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


def _rounded(values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(round(v, _SAMPLE_DECIMALS) for v in values)
