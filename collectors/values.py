"""What a value must be for the store to take it, declared once and checked at every boundary.

The annotated types below carry their constraints (pydantic reads them; a plain dataclass built in
code ignores them), so the records in `collectors.records`, the input formats and the bundle all
check a latency, a count or a time stamp the same way, and a value that passed can be inserted:
DuckDB's INTEGER columns stop at 2**31 - 1, its TIMESTAMP columns would silently drop an offset,
its VARCHAR columns take no lone surrogate, and a JSON column must hold JSON (no NaN). Names
refuse control and bidi characters, free text refuses NUL: neither has a use, both reach the report.

`problem()` turns pydantic's first complaint into (field path, value, reason) in Parity's words;
`input_error()` makes the input files' InputError of it, `parity bench` a line about a flag.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, ValidationError

from collectors.errors import InputError
from collectors.text import INVISIBLE

INTEGER_LIMIT = 2**31  # DuckDB INTEGER: values must stay below
JSON_POSITION = re.compile(r"\s*at (line \d+ column \d+)$")  # how pydantic's JSON parser says where


def utc_timestamp(text: str) -> str:
    """ISO 8601 text as naive UTC ISO text (an offset is applied, then dropped). ValueError else."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
            raise ValueError("out of range once in UTC") from None
    return moment.isoformat()


def plain_text(text: str) -> str:
    """`text` when the store can hold it and the report can show it: no NUL, valid Unicode."""
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode (a lone surrogate)") from None
    return text


def plain_name(text: str) -> str:
    """`text` when it can be a name: plain text without control or bidi characters."""
    if INVISIBLE.search(text):
        raise ValueError("contains a control character")
    return plain_text(text)


def json_document(value: Any) -> Any:
    """`value` when a JSON column can hold it: finite numbers. (Its nesting needs no check: every
    JSON object validated here was parsed by pydantic's JSON parser, which stops at 200 levels.)"""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise ValueError("holds NaN or an infinity, which JSON cannot") from None
    return value


Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Milliseconds = Positive
Seconds = Positive
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]  # zero allowed: a memory rise, a compile
OptionalAmount = Annotated[float | None, Field(default=None, ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(gt=0, lt=INTEGER_LIMIT)]
Tally = Annotated[int, Field(ge=0, lt=INTEGER_LIMIT)]  # a count that may be zero
Timestamp = Annotated[str, AfterValidator(utc_timestamp)]
Text = Annotated[str, AfterValidator(plain_text)]
Name = Annotated[str, Field(min_length=1), AfterValidator(plain_name)]
JsonObject = Annotated[dict[str, Any], AfterValidator(json_document)]

# A file shape made of records (a bundle, a journal's lines): strict types, and an unknown key is
# refused like a record's unknown field.
STRICT_SHAPE = ConfigDict(strict=True, frozen=True, extra="forbid")

# pydantic's wording for the failures users hit most, in Parity's words.
REASONS = {
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
    "string_too_short": "expected a non-empty text",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "model_type": "expected an object",
    "dict_type": "expected an object",
    "dataclass_type": "expected an object",
    "literal_error": "not one of the allowed values",
    "extra_forbidden": "unknown field",
    "unexpected_keyword_argument": "unknown field",
    "too_short": "give at least one value",
}


def problem(error: ValidationError) -> tuple[tuple[str | int, ...], Any, str]:
    """The first problem pydantic found: (location, offending value or None, reason)."""
    first = error.errors(include_url=False)[0]
    value = None if first["type"] == "missing" else first.get("input")
    reason = REASONS.get(first["type"], first["msg"].removeprefix("Value error, "))
    if first["type"] == "json_invalid":  # the input is the file's whole text: say where instead
        return ("JSON",), *json_problem(first.get("ctx", {}).get("error", ""))
    return tuple(first["loc"]), value, reason


def input_error(error: ValidationError, path: Path | str, *where: str | int) -> InputError:
    """pydantic's first problem with the file at `path` as an InputError; `where` is the field path
    of what was validated inside the file ("line 3", "configs", 2), so the message points at it."""
    location, value, reason = problem(error)
    return InputError(path, field_path(*where, *location) or "content", value, reason)


def json_problem(message: str) -> tuple[str | None, str]:
    """A JSON parser's message ("EOF while parsing a value at line 1 column 7") as (where, reason)."""
    position = JSON_POSITION.search(message)
    where = position.group(1) if position else None
    return where, f"truncated or invalid JSON ({JSON_POSITION.sub('', message)})"


def field_path(*parts: str | int) -> str:
    """("configs", 2, "latency_ms") as "configs[2].latency_ms"."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part:
            text += f".{part}" if text else str(part)
    return text
