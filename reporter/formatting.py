"""Every value as people read it, in one place: units, percents, ratios, bias words, dates,
predictor names, and the escaping a string needs on its way into Plotly's labels or Markdown;
text tables, CSV and JSON for the terminal.

A user's string (a model, platform, label, message) is shown as it is but never acts: in HTML it
is escaped and its control and bidi characters shown as escapes (`\u202e`); in Markdown for a
pull-request comment it is a code span (`markdown_code`), inside which GitHub makes no link, no
@mention and no #issue reference and renders no HTML. Parity's own words go through
`markdown_text`.

Values stay in base units (milliseconds, percent, fractions) until shown; a missing value (None,
NaN, NaT, infinite) is shown as "–". No I/O, no pandas: `parity query` imports this module too.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import html
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from collectors import vocabulary
from collectors.text import visible

MISSING = "–"


def json_value(value: Any) -> Any:
    """A value JSON can carry: dates and times as ISO text, durations as ISO 8601, decimals as
    floats, NaN and infinities as null, bytes as hex, and any other type (a UUID, ...) as its text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (float, decimal.Decimal)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return iso_duration(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(json_value(k)): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return str(value)


def iso_duration(value: dt.timedelta) -> str:
    """A duration in ISO 8601: "P32DT3H4.5S", "-PT1S", "PT0S" (DuckDB hands an INTERVAL's month over as 30 days)."""
    if value < dt.timedelta(0):
        return "-" + iso_duration(-value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    second_text = f"{seconds + value.microseconds / 1e6:.6f}".rstrip("0").rstrip(".")
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (second_text, "S")) if n not in (0, "0"))
    days = f"{value.days}D" if value.days else ""
    return f"P{days}T{time}" if time else f"P{days}" if days else "PT0S"


def cell_text(value: Any) -> str:
    """A value as one CSV or table cell: numbers in full (floats to 6 significant digits), nested
    values and booleans as JSON, anything else as its JSON text; empty for NULL."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (str, int, decimal.Decimal)):
        return str(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(json_value(value))
    return str(json_value(value))


def render_stream(columns: Sequence[str], batches: Iterable[Sequence[Sequence[Any]]], fmt: str) -> Iterator[str]:
    """`batches` of rows as text, one piece per batch as it comes, so that memory holds one batch
    however long the result: an aligned text table, CSV, or one JSON array of objects."""
    if fmt == "json":
        return _json_pieces(columns, batches)
    if fmt == "csv":
        return _csv_pieces(columns, batches)
    return table_pieces(columns, ([[cell_text(v) for v in row] for row in batch] for batch in batches))


def _json_pieces(columns: Sequence[str], batches: Iterable[Sequence[Sequence[Any]]]) -> Iterator[str]:
    separator = "[\n  "  # before the first row; then between rows
    for batch in batches:
        objects = (json.dumps({c: json_value(v) for c, v in zip(columns, row, strict=True)}) for row in batch)
        yield separator + ",\n  ".join(objects)
        separator = ",\n  "
    yield "[]\n" if separator.startswith("[") else "\n]\n"


def _csv_pieces(columns: Sequence[str], batches: Iterable[Sequence[Sequence[Any]]]) -> Iterator[str]:
    yield _csv_lines([columns])
    for batch in batches:
        yield _csv_lines([[cell_text(v) for v in row] for row in batch])


def _csv_lines(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def text_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return "".join(table_pieces(columns, [rows])).rstrip("\n")


def table_pieces(columns: Sequence[str], batches: Iterable[Sequence[Sequence[str]]]) -> Iterator[str]:
    """An aligned text table of `batches` of text rows, one piece per batch, ending with the row
    count. A column is as wide as its widest cell so far: a later batch may widen it, never the
    lines already written."""
    widths, count, header = [len(column) for column in columns], 0, True
    for rows in chain(batches, [[]]):  # a last, empty batch: the header is drawn even without rows
        widths = [max([width, *(len(row[i]) for row in rows)]) for i, width in enumerate(widths)]
        lines = [*([columns, ["-" * width for width in widths]] if header else []), *rows]
        header, count = False, count + len(rows)
        yield "".join(_table_line(cells, widths) + "\n" for cells in lines)
    yield f"({count} row{'s' if count != 1 else ''})\n"


def _table_line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def finite(value: Any) -> float | None:
    """`value` as a finite float; None for None, text, NaN and infinities."""
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def present(value: Any) -> bool:
    """False for the ways a missing value comes out of a DataFrame: None, NaN, NaT."""
    missing_time = isinstance(value, dt.datetime) and value != value  # NaT, without importing pandas
    return not (value is None or missing_time or (isinstance(value, float) and math.isnan(value)))


def _in_units(value: Any, scales: tuple[tuple[float, float, str, str], ...]) -> str:
    """`value` in the first scale it is below: each scale is (below, divide by, unit, format)."""
    value = finite(value)
    if value is None:
        return MISSING
    below, divisor, unit, spec = next(scale for scale in scales if value < scale[0])
    return f"{value / divisor:{spec}} {unit}"


def milliseconds(value: Any) -> str:
    """A latency with a unit chosen for its size: 850 µs, 8.24 ms, 1.32 s."""
    return _in_units(
        value, ((1, 1e-3, "µs", ".0f"), (100, 1, "ms", ".3g"), (1000, 1, "ms", ".0f"), (math.inf, 1000, "s", ".3g"))
    )


def millijoules(value: Any) -> str:
    """An energy stored in mJ, shown with a unit chosen for its size: 850 mJ, 2.86 J, 1.2 kJ."""
    return _in_units(value, ((1000, 1, "mJ", ".3g"), (1e6, 1000, "J", ".3g"), (math.inf, 1e6, "kJ", ".3g")))


def megabytes(value: Any) -> str:
    """A memory size stored in MB (2**20 bytes): 293 MB, 1.2 GB."""
    return _in_units(value, ((1024, 1, "MB", ".3g"), (math.inf, 1024, "GB", ".3g")))


def watts(value: Any) -> str:
    """A power in W: 77.1 W, 484 W."""
    return _in_units(value, ((math.inf, 1, "W", ".3g"),))


# How a figure of each compared quantity (vocabulary.QUANTITIES) is shown.
QUANTITY_TEXT = {vocabulary.LATENCY: milliseconds, vocabulary.ENERGY: millijoules, vocabulary.MEMORY: megabytes}


def percent(value: Any, signed: bool = False) -> str:
    """A percentage to one decimal: "25.0 %", or "+25.0 %" with `signed`."""
    value = finite(value)
    if value is None:
        return MISSING
    return f"{value:+.1f} %" if signed else f"{value:.1f} %"


def share(fraction: Any) -> str:
    """A fraction of 0..1 as a percentage: 0.364 -> "36.4 %"."""
    value = finite(fraction)
    return percent(value * 100 if value is not None else None)


def whole_percent(value: float) -> str:
    """A threshold as written in prose: 30.0 -> "30 %"."""
    return f"{value:.0f} %"


def band(pct: float) -> str:
    """An error band of `vocabulary.ERROR_BANDS_PCT`: 10.0 -> "±10 %"."""
    return f"±{whole_percent(pct)}"


def two_places(value: Any) -> str:
    """A ratio or a rank correlation to two decimals: "1.28"."""
    value = finite(value)
    return f"{value:.2f}" if value is not None else MISSING


def times(value: Any) -> str:
    """A speedup: "1.67×"; empty when missing, so that an empty heatmap cell shows nothing."""
    value = finite(value)
    return f"{value:.2f}×" if value is not None else ""


def bias(ratio: Any) -> str:
    """Which way a geometric-mean ratio predicted / measured leans."""
    value = finite(ratio)
    if value is None:
        return "no data"
    return "pessimistic" if value > 1 else "optimistic" if value < 1 else "unbiased"


def gate_word(passes: bool) -> str:
    """Whether a median APE meets graphs' gate, as the report says it (and as its CSS class)."""
    return "passes" if passes else "fails"


def when(value: Any) -> str:
    """A time to the minute: "2026-11-22 02:30"."""
    return value.strftime("%Y-%m-%d %H:%M") if present(value) else MISSING


def text_or_dash(value: Any) -> str:
    """An optional text field (a host, a label, a failure message) as shown in a table."""
    return str(value) if present(value) else MISSING


def sort_key(value: Any) -> str:
    """What a table cell sorts by (its data-sort attribute): the number, or empty when missing."""
    number = finite(value)
    return "" if number is None else repr(number)


def method_help(method: str) -> str:
    """What a timing method (`measurements.method`) means; an unknown one is shown as given."""
    return vocabulary.METHOD_HELP.get(method, method)


def predictor_label(predictor: Any, version: Any = None) -> str:
    """A predictor and its version as one name: "graphs 1.1"; the version alone where it already
    names the predictor; the name alone where no version is known."""
    name = MISSING if predictor is None or predictor != predictor else str(predictor)
    if not isinstance(version, str) or not version.strip():
        return name
    return version if version.lower().startswith(name.lower()) else f"{name} {version}"


def plotly_text(value: Any) -> str:
    """A user-supplied string made inert in Plotly's labels, names and hover text, which read a
    subset of HTML; control and bidi characters shown as escapes."""
    return visible(html.escape(str(value), quote=False))


def markdown_text(value: Any) -> str:
    """Parity's own text made inert in GitHub Markdown (a PR comment, summary.md): no HTML, no
    links or emphasis, no line or table-cell breaks. A user's string goes through markdown_code."""
    text = html.escape(str(value), quote=False).replace("\r", " ").replace("\n", " ")
    return re.sub(r"([|\\`*_\[\]])", r"\\\1", visible(text))


def markdown_code(value: Any, *, in_table: bool = False) -> str:
    """A user-supplied string as a GitHub code span: shown as it is, and inert. GitHub links no URL,
    notifies no @mention, references no #123 and renders no HTML or emphasis inside code; control
    and bidi characters are shown as escapes and line breaks as spaces. The fence is one backtick
    longer than any run of backticks inside, padded with a space where the text begins or ends with
    one. in_table: "|" written "\\|", which a GitHub table cell shows as "|", also inside code."""
    text = visible(re.sub(r"\r\n?|\n", " ", str(value)))
    if in_table:
        text = text.replace("|", "\\|")
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    padded = "`" in (text[0], text[-1]) or (text[0] == text[-1] == " " and text.strip())
    pad = " " if padded else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@dataclass(frozen=True)
class UserText:
    """A user-supplied string in a markdown_table cell: shown as a code span (markdown_code)."""

    value: Any


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A GitHub Markdown table, one line each; every cell, header included, is escaped here, so
    callers pass raw text, and a user's string wrapped in UserText."""

    def cell(value: Any) -> str:
        return markdown_code(value.value, in_table=True) if isinstance(value, UserText) else markdown_text(value)

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(cell(value) for value in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]
