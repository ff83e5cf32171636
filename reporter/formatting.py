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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from collectors import vocabulary
from collectors.text import visible

MISSING = "–"


def json_value(value: Any) -> Any:
    """A value JSON can carry: dates as ISO text, decimals as floats, NaN as null."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return value


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(json_value(value))


def render_results(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """`rows` as an aligned text table, CSV, or one JSON array of objects."""
    if fmt == "json":
        return json.dumps([{c: json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[cell_text(v) for v in row] for row in rows])
        return buffer.getvalue().rstrip("\n")
    return text_table(columns, [[cell_text(v) for v in row] for row in rows])


def text_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])] + [line(r) for r in rows]
    return "\n".join(out + [f"({len(rows)} row{'s' if len(rows) != 1 else ''})"])


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
    return _in_units(value, ((1, 1e-3, "µs", ".0f"), (100, 1, "ms", ".3g"), (1000, 1, "ms", ".0f"),
                             (math.inf, 1000, "s", ".3g")))


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
QUANTITY_TEXT = {"latency": milliseconds, "energy": millijoules, "memory": megabytes}


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
