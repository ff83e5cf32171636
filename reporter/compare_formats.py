"""Output formats of `parity compare`, one small renderer each (datasette's blob_renderer shape):
a name and a function from a finished `Comparison` to text. A new format is one new entry.

Renderers compute nothing: every number comes from the Comparison, and is shown through
reporter.formatting (units, Markdown escaping and tables). The shared pieces take `user`, how a
user's string is shown: as it is in text, a code span in Markdown (inert on GitHub).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from collectors.vocabulary import LATENCY, METHOD_BASIS, QUANTITY_BY_NAME
from reporter.cell_changes import NEWLY_FAILING, NOTABLE_CLASSES, UNTESTED, CellChange, Side, count_kinds
from reporter.compare import Comparison, RunRef
from reporter.formatting import (
    MISSING,
    QUANTITY_TEXT,
    UserText,
    json_value,
    markdown_code,
    markdown_table,
    markdown_text,
    percent,
    text_table,
)
from reporter.prediction_shifts import PredictionShift, version_text

ICONS = {
    "regressed": "🔴",
    "newly failing": "❌",
    "improved": "🟢",
    "newly passing": "✅",
    "untested": "❔",
    "new": "🆕",
    "gone": "➖",
    "unchanged": "⚪",
}
CELL_COLUMNS = ["class", "cell", "base", "head", "change", "p", "night σ"]
SHIFT_COLUMNS = ["predictor", "scored against", "platform", "version", "median APE", "comparisons"]
# A PR comment stays short, and below GitHub's 65,536-character limit however many cells moved.
MARKDOWN_NOTABLE_ROWS, MARKDOWN_DETAIL_ROWS = 20, 200


@dataclass(frozen=True)
class Renderer:
    name: str
    render: Callable[[Comparison, str | None], str]  # (comparison, report link or path) -> text


# -- shared pieces -------------------------------------------------------------------------------

Shown = Callable[[Any], Any]  # a user's string as a renderer shows it


def side_text(side: Side | None, quantity: str = LATENCY, user: Shown = str) -> Any:
    if side is None:
        return MISSING
    if side.ok:
        return QUANTITY_TEXT[quantity](side.median)
    return user(f"{side.status} ({side.failure_kind})" if side.failure_kind else side.status)


def p_text(change: CellChange) -> str:
    test = change.test
    if test is None:
        return MISSING
    if not test.tested:
        return test.note or "not tested"
    if test.p_value is None:  # the CI fallback gives a yes or no, not a p-value
        return "CIs disjoint" if test.significant else "CIs overlap"
    return f"{test.p_value:.2g}"


def cell_row(change: CellChange, user: Shown = str) -> list[Any]:
    quantity = change.key.quantity
    return [
        change.kind,
        user(change.key.describe()),
        side_text(change.base, quantity, user),
        side_text(change.head, quantity, user),
        percent(change.change_pct, signed=True),
        p_text(change),
        percent(change.night_spread_pct),
    ]


def environment_lines(comparison: Comparison, user: Shown = str) -> list[str]:
    def value(text: Any) -> str:
        return "absent" if text is None else user(text)

    return [f"{user(d.key)}: {value(d.base)} → {value(d.head)}" for d in comparison.environment]


def shift_row(shift: PredictionShift, user: Shown = str) -> list[Any]:
    measured = f"{shift.platform} (proxy: {shift.measured_platform})" if shift.is_proxy else shift.platform
    before = percent(shift.before.median_ape) if shift.before else MISSING
    after = percent(shift.after.median_ape) if shift.after else MISSING
    counts = f"{shift.before.count if shift.before else 0} → {shift.after.count if shift.after else 0}"
    versions = f"{version_text(shift.base_version)} → {version_text(shift.head_version)}"
    return [
        user(shift.predictor),
        METHOD_BASIS.get(shift.method, shift.method),
        user(measured),
        user(versions),
        f"{before} → {after}",
        counts,
    ]


def shift_notes(comparison: Comparison, user: Shown = str) -> list[str]:
    return [
        f"{user(shift.predictor)} on {user(shift.platform)}, {user(note)}"
        for shift in comparison.predictions
        for note in shift.notes
    ]


def untested_line(comparison: Comparison) -> str | None:
    untested = comparison.of_kind(UNTESTED)
    if not untested:
        return None
    return (
        f"{len(untested)} cell(s) untested: too little data for the rank test or the CI fallback "
        "(the p column says why), so their change is not counted either way"
    )


def runs_line(comparison: Comparison, user: Shown = str) -> str:
    return (
        f"base {user(comparison.base.describe())} → head {user(comparison.head.describe())}, "
        f"methods {', '.join(comparison.methods)}"
    )


# -- markdown: a pull-request comment ------------------------------------------------------------


def render_markdown(comparison: Comparison, report: str | None) -> str:
    moved = comparison.of_kind(*NOTABLE_CLASSES)
    notable = moved[:MARKDOWN_NOTABLE_ROWS]
    rest = moved[MARKDOWN_NOTABLE_ROWS:] + [change for change in comparison.cells if change.kind not in NOTABLE_CLASSES]
    parts = [f"**{comparison.verdict()}**", "", runs_line(comparison, markdown_code)]
    for line in comparison.warnings():
        parts += ["", f"> ⚠️ **{markdown_code(line)}**"]
    if comparison.environment:
        parts += [
            "",
            "> ⚠️ **The environments differ**; changes may come from these: "
            + "; ".join(environment_lines(comparison, markdown_code)),
        ]
    if untested_line(comparison):
        parts += ["", f"> ❔ {markdown_text(untested_line(comparison))}"]
    if notable:
        parts += ["", *markdown_table(CELL_COLUMNS, [_icon_row(change) for change in notable])]
        parts += [
            f"- {markdown_code(change.key.describe())}: {markdown_code(change.head.message)}"
            for change in notable
            if change.kind == NEWLY_FAILING and change.head.message
        ]
    if comparison.predictions:
        parts += [
            "",
            "**Prediction error per platform** (before → after)",
            "",
            *markdown_table(SHIFT_COLUMNS, [shift_row(shift, UserText) for shift in comparison.predictions]),
        ]
        notes = shift_notes(comparison, markdown_code)
        parts += [""] * bool(notes) + [f"- {note}" for note in notes]
    if rest:
        parts += [
            "",
            f"<details><summary>{len(rest)} other cells: {_counts(rest)}</summary>",
            "",
            *markdown_table(CELL_COLUMNS, [_icon_row(change) for change in rest[:MARKDOWN_DETAIL_ROWS]]),
        ]
        if len(rest) > MARKDOWN_DETAIL_ROWS:
            parts += ["", f"… and {len(rest) - MARKDOWN_DETAIL_ROWS} more (`parity compare --format json` lists all)"]
        parts += ["", "</details>"]
    if report:
        parts += ["", f"Full report: {markdown_text(report)}"]
    return "\n".join(parts)


def _counts(changes: list[CellChange]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in count_kinds(changes).items())


def _icon_row(change: CellChange) -> list[Any]:
    kind, *rest = cell_row(change, UserText)
    return [f"{ICONS[kind]} {kind}", *rest]


# -- text: the terminal --------------------------------------------------------------------------


def render_text(comparison: Comparison, report: str | None) -> str:
    parts = [comparison.verdict(), runs_line(comparison)]
    parts += [f"WARNING: {line}" for line in comparison.warnings()]
    parts += [f"WARNING: environments differ: {line}" for line in environment_lines(comparison)]
    parts += [f"NOTE: {untested_line(comparison)}"] if untested_line(comparison) else []
    parts += ["", text_table(CELL_COLUMNS, [cell_row(change) for change in comparison.cells])]
    if comparison.predictions:
        parts += [
            "",
            "prediction error per platform (before → after):",
            text_table(SHIFT_COLUMNS, [shift_row(shift) for shift in comparison.predictions]),
        ]
        parts += [f"NOTE: {note}" for note in shift_notes(comparison)]
    if report:
        parts += ["", f"report: {report}"]
    return "\n".join(parts)


# -- json: one object for scripts ----------------------------------------------------------------


def render_json(comparison: Comparison, report: str | None) -> str:
    document = {
        "verdict": comparison.verdict(),
        "has_regression": comparison.has_regression,
        "base": _run_json(comparison.base),
        "head": _run_json(comparison.head),
        "methods": list(comparison.methods),
        "threshold_pct": comparison.threshold_pct,
        "alpha": comparison.alpha,
        "counts": comparison.counts(),
        "warnings": comparison.warnings(),
        "environment_differences": [asdict(d) for d in comparison.environment],
        "cells": [_cell_json(change) for change in comparison.cells],
        "predictions": [_shift_json(shift) for shift in comparison.predictions],
        "report": report,
    }
    return json.dumps(json_value(document), indent=2, sort_keys=True)


def _run_json(run: RunRef) -> dict[str, Any]:
    return {"run_id": run.run_id, "label": run.label, "started_at": run.started_at, "platform": run.platform}


def _cell_json(change: CellChange) -> dict[str, Any]:
    return {
        **asdict(change.key),
        "unit": QUANTITY_BY_NAME[change.key.quantity].unit,  # of each side's median and CI
        "class": change.kind,
        "change_pct": change.change_pct,
        "night_spread_pct": change.night_spread_pct,
        "test": change.test.test if change.test else None,
        "p_value": change.test.p_value if change.test else None,
        "test_note": change.test.note if change.test else None,
        "base": _side_json(change.base),
        "head": _side_json(change.head),
    }


def _side_json(side: Side | None) -> dict[str, Any] | None:
    if side is None:
        return None
    return {
        "status": side.status,
        "median": side.median,
        "ci95_low": side.ci95[0],
        "ci95_high": side.ci95[1],
        "n_samples": len(side.samples),
        "failure_kind": side.failure_kind,
        "message": side.message,
    }


def _shift_json(shift: PredictionShift) -> dict[str, Any]:
    return {
        "predictor": shift.predictor,
        "method": shift.method,
        "platform": shift.platform,
        "measured_platform": shift.measured_platform,
        "is_proxy": shift.is_proxy,
        "base_version": shift.base_version,
        "head_version": shift.head_version,
        "before": asdict(shift.before) if shift.before else None,
        "after": asdict(shift.after) if shift.after else None,
        "notes": list(shift.notes),
    }


RENDERERS: dict[str, Renderer] = {
    r.name: r
    for r in (Renderer("markdown", render_markdown), Renderer("json", render_json), Renderer("text", render_text))
}
