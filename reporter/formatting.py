"""Text output for the terminal: tables, CSV and JSON of query results, and units for numbers."""
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
from typing import Any


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
        return json.dumps([{c: json_value(v) for c, v in zip(columns, row)} for row in rows], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[cell_text(v) for v in row] for row in rows])
        return buffer.getvalue().rstrip("\n")
    return text_table(columns, [[cell_text(v) for v in row] for row in rows])


def text_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    line = lambda cells: "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()
    out = [line(columns), line(["-" * w for w in widths])] + [line(r) for r in rows]
    return "\n".join(out + [f"({len(rows)} row{'s' if len(rows) != 1 else ''})"])


def milliseconds(value: float | None) -> str:
    """A latency with a unit chosen for its size: 850 µs, 8.24 ms, 1.32 s."""
    if value is None or not math.isfinite(value):
        return "–"
    if value < 1:
        return f"{value * 1000:.0f} µs"
    if value < 1000:
        return f"{value:.3g} ms" if value < 100 else f"{value:.0f} ms"
    return f"{value / 1000:.3g} s"


def percent(value: float | None, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.1f} %" if signed else f"{value:.1f} %"


def markdown_text(value: Any) -> str:
    """A user-supplied string made inert in GitHub Markdown (a PR comment, summary.md): no HTML,
    no links or emphasis, no line or table-cell breaks."""
    text = html.escape(str(value), quote=False).replace("\r", " ").replace("\n", " ")
    return re.sub(r"([|\\`*_\[\]])", r"\\\1", text)
