"""The one Jinja environment of the report: autoescape on everywhere, every filter registered here
and each one a function of reporter.formatting (or the chart palette), and the vocabulary of
collectors.vocabulary visible to templates as `vocab`, so that a template never spells a method
name or a threshold itself. Every `{{ value }}` that is a string passes `_shown` on its way to
autoescape: its control and bidi characters are written as escapes (a NUL or a U+202E in a name
never reaches the page).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from collectors import vocabulary
from collectors.text import INVISIBLE_BUT_SPACING, visible
from reporter import formatting
from reporter.chart_style import error_background
from reporter.metrics import passes_gate
from reporter.pages import element_id

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
GENERATED_LINE = re.compile(r'^<p class="generated">.*</p>$', re.MULTILINE)  # the one line that differs per run


def _gate_class(median_ape: Any) -> str:
    """A median APE cell's CSS class: whether it passes graphs' gate; none where nothing was scored."""
    value = formatting.finite(median_ape)
    return "" if value is None else formatting.gate_word(passes_gate(value))


def number_cell(value: Any, text: Any) -> Markup:
    """A table cell of a figure, `num(value, text)` in the templates: its text, and its value to sort
    by. A function rather than a macro imported with context: tables call it some 60,000 times a
    site, where the macro cost 0.2 s more."""
    # escape() is what autoescape applies to {{ text }}; Markup.format would too, at four times the cost.
    return Markup(f'<td class="num" data-sort="{escape(formatting.sort_key(value))}">{escape(text)}</td>')


def _quantity_value(value: Any, quantity: str) -> str:
    """A figure of one compared quantity with its unit (`{{ row.predicted|qty(row.quantity) }}`)."""
    return formatting.QUANTITY_TEXT[quantity](value)


FILTERS = {
    "ms": formatting.milliseconds,
    "mj": formatting.millijoules,
    "mb": formatting.megabytes,
    "watts": formatting.watts,
    "qty": _quantity_value,
    "pct": formatting.percent,
    "spct": functools.partial(formatting.percent, signed=True),
    "whole_pct": formatting.whole_percent,
    "band": formatting.band,
    "share": formatting.share,
    "two_places": formatting.two_places,
    "when": formatting.when,
    "predictor": formatting.predictor_label,
    "text": formatting.text_or_dash,
    "present": formatting.present,
    "sort_key": formatting.sort_key,
    "method_help": formatting.method_help,
    "gate_class": _gate_class,
    "error_background": error_background,
}


def _shown(value: Any) -> Any:
    """A template value on its way to autoescape: a string with control and bidi characters as
    escapes; markup Parity made (Markup: inlined assets, figures' JSON, macros) as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value, INVISIBLE_BUT_SPACING)
    return value


def environment() -> jinja2.Environment:
    """The one Jinja environment: templates/ loaded, autoescape on, undefined names an error."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=_shown,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["json.dumps_function"] = _json_dumps
    env.policies["json.dumps_kwargs"] = {}
    env.filters.update(FILTERS)
    env.globals["vocab"] = vocabulary
    env.globals["MISSING"] = formatting.MISSING  # what a table shows for a missing value
    env.globals["element_id"] = element_id  # ids beside the page's anchor, unique across a single file
    env.globals["num"] = number_cell
    return env


def stamp(generated_at: dt.datetime | None) -> str:
    """The generated-at text of each page (default: now, UTC)."""
    moment = generated_at or dt.datetime.now(dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _json_dumps(value: Any, **_: Any) -> str:
    # Sorted keys and no NaN: the same figures always give the same bytes, and valid JSON.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
