"""Helpers every format module shares: pydantic validation with field paths, and name normalisation.

Each format declares the JSON (or CSV row) shape it reads as pydantic models built from the value
types of `collectors.values`, validates through `validate`, and gives every record canonical names
through `canonical` (or `prediction`), so that every format reports a bad value the same way: one
InputError naming the file, the field path and the value. `checked` then holds every record a
format made to what the store takes, the one declaration in collectors.records, and a median to
its own confidence interval.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from collectors.errors import InputError
from collectors.formats._document import Context
from collectors.names import precision as normalised_precision
from collectors.records import Measurement, Prediction, Records, RunInfo, Subgraph
from collectors.values import Count, Milliseconds, Name, OptionalAmount, field_path, input_error

RecordT = TypeVar("RecordT")


class Shape(BaseModel):
    """Base of every input shape: strict types (a string is not a number), unknown keys ignored."""

    model_config = ConfigDict(strict=True, frozen=True)


ShapeT = TypeVar("ShapeT", bound=Shape)


def validate(shape: type[ShapeT], data: Any, path: Path, *, prefix: str = "", strict: bool = True) -> ShapeT:
    """`data` checked against `shape`, else the first problem as an InputError.

    prefix: the field path of `data` inside the file (e.g. "configs[2]"), so messages point at it.
    strict: False for CSV cells, which are text that must parse as numbers.
    """
    try:
        return shape.model_validate(data, strict=strict)
    except ValidationError as error:
        raise input_error(error, path, prefix) from None


_RECORDS = {
    "predictions": TypeAdapter(Prediction),
    "measurements": TypeAdapter(Measurement),
    "subgraphs": TypeAdapter(Subgraph),
}
_RUN = TypeAdapter(RunInfo)


def checked(records: Records, path: Path) -> Records:
    """`records` when each one holds what the store takes; else an InputError naming the record
    and field ("predictions[0].energy_mj = inf"). The shapes checked what a file says; this also
    checks what a format derived from it, and names that went through normalisation."""
    for kind, adapter in _RECORDS.items():
        for index, record in enumerate(getattr(records, kind)):
            _check(adapter, record, path, f"{kind}[{index}]")
    if records.run is not None:
        _check(_RUN, records.run, path, "run")
    _check_medians(records.measurements, path)
    return records


def _check_medians(measurements: list[Measurement], path: Path) -> None:
    """Every median inside its own 95 % CI (where a measurement has both)."""
    for index, m in enumerate(measurements):
        if None not in (m.ci95_low, m.median, m.ci95_high) and not m.ci95_low <= m.median <= m.ci95_high:
            raise InputError(
                path,
                f"measurements[{index}].median",
                m.median,
                f"outside its own 95 % CI [{m.ci95_low}, {m.ci95_high}]",
            )


def _check(adapter: TypeAdapter, record: Any, path: Path, where: str) -> None:
    try:
        adapter.validate_python(record, strict=True)
    except ValidationError as error:
        raise input_error(error, path, where) from None


def normalised_platform(context: Context, path: Path, field: str, name: str, power_mode: str | None = None) -> str:
    try:
        return context.names.platform(name, power_mode)
    except ValueError as error:
        raise InputError(path, field, name, str(error)) from None


def canonical(
    record: RecordT,
    context: Context,
    path: Path,
    where: str = "",
    *,
    platform_field: str = "platform",
    precision_field: str = "precision",
    power_mode: str | None = None,
) -> RecordT:
    """`record` (a Measurement, Subgraph or Prediction) with canonical model, platform and
    precision names. For error messages: `where` is the record's field path in the file, and the
    two fields are named as the file names them."""
    return replace(
        record,
        model=context.names.model(record.model),
        platform=normalised_platform(context, path, field_path(where, platform_field), record.platform, power_mode),
        precision=normalised_precision(path, field_path(where, precision_field), record.precision),
    )


def located(records: list[RecordT], *where: str) -> list[tuple[str, RecordT]]:
    """Each record with its field path in the file: located(ms, "line 3", "measurements") gives
    ("line 3.measurements[0]", ms[0]), ..."""
    return [(field_path(*where, index), record) for index, record in enumerate(records)]


def carried(
    context: Context,
    path: Path,
    run: tuple[str, RunInfo],
    measurements: list[tuple[str, Measurement]],
    subgraphs: list[tuple[str, Subgraph]],
) -> Records:
    """The records of a file that carries its own run (a bundle, a journal), each given with its
    field path in the file: names normalised like every format's (the run's platform as its
    measurements'), and every subgraph made the run's (see `_of_run`)."""
    run_where, own = run
    if own.platform is not None:
        own = replace(own, platform=normalised_platform(context, path, field_path(run_where, "platform"), own.platform))
    return Records(
        measurements=[canonical(m, context, path, where) for where, m in measurements],
        subgraphs=[_of_run(canonical(s, context, path, where), own, path, where) for where, s in subgraphs],
        run=own,
    )


def _of_run(subgraph: Subgraph, run: RunInfo, path: Path, where: str) -> Subgraph:
    """`subgraph`, timed by `run`: a run id that names another run is refused (the store replaces an
    unfinished run's rows by run id, so they would outlive it), a missing one is set."""
    if subgraph.run_id not in (None, run.run_id):
        raise InputError(path, field_path(where, "run_id"), subgraph.run_id, f"not this file's run ({run.run_id})")
    return replace(subgraph, run_id=run.run_id)


def prediction(
    context: Context,
    path: Path,
    *,
    hardware_field: str,
    precision_field: str,
    model: str,
    hardware: str,
    precision: str,
    predictor: str = "graphs",
    **fields: Any,
) -> Prediction:
    """A graphs prediction with canonical model, platform and precision names.

    hardware_field, precision_field: where those two came from in the file, for error messages.
    fields: the rest of Prediction's fields, as read. Whole-batch energy is derived from the
    per-inference figure where a shape carries only that.
    """
    if fields.get("energy_mj") is None and fields.get("energy_per_inference_mj") is not None:
        fields["energy_mj"] = fields["energy_per_inference_mj"] * fields["batch_size"]
    return Prediction(
        model=context.names.model(model),
        platform=normalised_platform(context, path, hardware_field, hardware),
        precision=normalised_precision(path, precision_field, precision),
        predictor=predictor,
        **fields,
    )


def subgraph_id(value: str | int) -> str:
    """graphs numbers subgraphs 0, 1, ... in CSV and calibration files but writes "sg_0" in verdicts;
    one spelling lets predicted and measured rows of the same subgraph join."""
    return str(value).removeprefix("sg_")


class FlatPrediction(Shape):
    """One prediction as a flat record: a batch verdict's config or a graphs CSV row."""

    model: Name
    hardware: Name
    batch_size: Count
    precision: Name
    latency_ms: Milliseconds
    throughput_fps: OptionalAmount
    energy_mj: OptionalAmount  # whole batch; the CSV has it, batch verdicts do not
    energy_per_inference_mj: OptionalAmount = Field(
        default=None, validation_alias=AliasChoices("energy_per_inference_mj", "energy_per_inf_mj")
    )
    peak_memory_mb: OptionalAmount = Field(default=None, validation_alias=AliasChoices("peak_memory_mb", "peak_mem_mb"))


def flat_prediction(
    context: Context, path: Path, data: dict[str, Any], *, where: str, strict: bool = True
) -> Prediction:
    """A prediction from one flat record found at field path `where` ("configs[2]", "row 3")."""
    row = validate(FlatPrediction, data, path, prefix=where, strict=strict)
    return prediction(
        context,
        path,
        hardware_field=field_path(where, "hardware"),
        precision_field=field_path(where, "precision"),
        model=row.model,
        hardware=row.hardware,
        precision=row.precision,
        batch_size=row.batch_size,
        latency_ms=row.latency_ms,
        raw=data,
        throughput_fps=row.throughput_fps,
        energy_mj=row.energy_mj,
        energy_per_inference_mj=row.energy_per_inference_mj,
        peak_memory_mb=row.peak_memory_mb,
    )
