"""Parity journal (`parity bench`, while it runs): the finished cells of a bench run, as JSON lines.

Recognised by its first line (`"format": "parity-journal"`); its shape is in `collectors.journal`.
A killed bench leaves one: it is stored as an incomplete run (no `finished_at`), which the whole
run replaces once it is resumed and stored. Names go through the same normalisation as every
other format's; a field is named by its line (`line 3.measurements[0].platform`).
"""

from __future__ import annotations

from collectors.formats._document import Context, Document
from collectors.formats._shared import carried, located
from collectors.journal import JOURNAL_FORMAT, is_journal, journal_lines
from collectors.records import Records

NAME = JOURNAL_FORMAT


def recognise(doc: Document) -> bool:
    return is_journal(doc.text.partition("\n")[0])


def to_records(doc: Document, context: Context) -> Records:
    head, cells = journal_lines(doc.bytes, doc.path)
    return carried(
        context,
        doc.path,
        ("line 1.run", head.run),
        [pair for number, cell in cells for pair in located(cell.measurements, f"line {number}", "measurements")],
        [pair for number, cell in cells for pair in located(cell.subgraphs, f"line {number}", "subgraphs")],
    )
