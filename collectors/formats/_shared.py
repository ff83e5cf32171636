"""Helpers every format module shares: pydantic validation with field paths, and name normalisation.

Each format declares the JSON (or CSV row) shape it reads as pydantic models built from the
types below, validates through `validate`, and turns the result into records through
`prediction` / `normalised_platform` / `normalised_precision`, so that every format reports a bad
value the same way: one InputError naming the file, the field path and the value.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from collectors.errors import InputError
from collectors.formats._document import Context
from collectors.names import precision as normalised_precision
from collectors.records import Prediction


def _utc_timestamp(text: str) -> str:
    """ISO 8601 text as naive UTC ISO text: the store's TIMESTAMP columns would silently drop an
    offset. A ValueError here is reported by pydantic with the field path."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.isoformat()


Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Milliseconds = Positive
Seconds = Positive
OptionalAmount = Annotated[float | None, Field(default=None, ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(gt=0, lt=2**31)]  # the store's INTEGER columns
Timestamp = Annotated[str, AfterValidator(_utc_timestamp)]
Name = Annotated[str, Field(min_length=1)]


class Shape(BaseModel):
    """Base of every input shape: strict types (a string is not a number), unknown keys ignored."""

    model_config = ConfigDict(strict=True, frozen=True)


ShapeT = TypeVar("ShapeT", bound=Shape)

# pydantic's wording for the failures users hit most, in the words `positive_number` uses.
_REASONS = {
    "greater_than": "expected a positive number",
    "greater_than_equal": "expected a non-negative number",
    "less_than": "too large",
    "finite_number": "expected a finite number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "missing": "missing",
    "string_type": "expected text",
    "list_type": "expected a list",
    "model_type": "expected an object",
    "dict_type": "expected an object",
}


def validate(shape: type[ShapeT], data: Any, path: Path, *, prefix: str = "", strict: bool = True) -> ShapeT:
    """`data` checked against `shape`, else the first problem as an InputError.

    prefix: the field path of `data` inside the file (e.g. "configs[2]"), so messages point at it.
    strict: False for CSV cells, which are text that must parse as numbers.
    """
    try:
        return shape.model_validate(data, strict=strict)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = field_path(prefix, *first["loc"])
        value = None if first["type"] == "missing" else first["input"]
        reason = _REASONS.get(first["type"], first["msg"].removeprefix("Value error, "))
        raise InputError(path, field, value, reason) from None


def field_path(*parts: str | int) -> str:
    """("configs", 2, "latency_ms") as "configs[2].latency_ms"."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part:
            text += f".{part}" if text else str(part)
    return text


def normalised_platform(context: Context, path: Path, field: str, name: str, power_mode: str | None = None) -> str:
    try:
        return context.names.platform(name, power_mode)
    except ValueError as error:
        raise InputError(path, field, name, str(error)) from None


def prediction(context: Context, path: Path, *, hardware_field: str, precision_field: str, model: str,
               hardware: str, precision: str, predictor: str = "graphs", **fields: Any) -> Prediction:
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
        predictor=predictor, **fields,
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
        default=None, validation_alias=AliasChoices("energy_per_inference_mj", "energy_per_inf_mj"))
    peak_memory_mb: OptionalAmount = Field(default=None, validation_alias=AliasChoices("peak_memory_mb", "peak_mem_mb"))


def flat_prediction(context: Context, path: Path, data: dict[str, Any], *, where: str, strict: bool = True) -> Prediction:
    """A prediction from one flat record found at field path `where` ("configs[2]", "row 3")."""
    row = validate(FlatPrediction, data, path, prefix=where, strict=strict)
    return prediction(
        context, path, hardware_field=field_path(where, "hardware"), precision_field=field_path(where, "precision"),
        model=row.model, hardware=row.hardware, precision=row.precision, batch_size=row.batch_size,
        latency_ms=row.latency_ms, raw=data, throughput_fps=row.throughput_fps, energy_mj=row.energy_mj,
        energy_per_inference_mj=row.energy_per_inference_mj, peak_memory_mb=row.peak_memory_mb,
    )
