"""Parity journal (`parity bench`, while it runs): the finished cells of a bench run, as JSON lines.

Recognised by its first line (`"format": "parity-journal"`); its shape is in `collectors.journal`.
A killed bench leaves one: it is stored as an incomplete run (no `finished_at`), which the whole
run replaces once it is resumed and stored. Names go through the same normalisation as every
other format's.
"""

from __future__ import annotations

from collectors.formats._document import Context, Document
from collectors.formats._shared import canonical, canonical_run
from collectors.journal import JOURNAL_FORMAT, is_journal, read_journal
from collectors.records import Records

NAME = JOURNAL_FORMAT


def recognise(doc: Document) -> bool:
    return is_journal(doc.text.partition("\n")[0])


def to_records(doc: Document, context: Context) -> Records:
    content = read_journal(doc.bytes, doc.path)
    measurements = [
        canonical(m, context, doc.path, f"cell {number}")
        for number, cell in enumerate(content.cells, start=1)
        for m in cell
    ]
    subgraphs = [canonical(s, context, doc.path, "subgraphs") for s in content.subgraphs]
    return Records(
        measurements=measurements, subgraphs=subgraphs, run=canonical_run(content.run, context, doc.path, "line 1.run")
    )
