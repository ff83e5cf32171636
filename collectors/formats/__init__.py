"""Input formats: one module per format, all with the same small interface.

A format module exposes:

- `NAME`: the string stored in `sources.format`;
- `recognise(doc: Document) -> bool`: whether the content (never the file name) is this format;
- `to_records(doc: Document, context: Context) -> Records`: the rows, or an InputError naming
  the file, the field and the value.

Optional: `LISTS_FILES = True` for a format whose records list further files (`Records.includes`):
ingest then follows the list even when the listing file itself is stored already.

`FORMATS` is the ordered registry (first match wins, so more specific shapes come first); adding
a format is one new module and one line here. `read` is how a file becomes records: its format
detected, then every record checked against what the store takes, whatever the format.
"""

from __future__ import annotations

from types import ModuleType

from collectors.errors import InputError
from collectors.formats import (
    alma_results,
    graphs_batch_verdict,
    graphs_calibration,
    graphs_csv,
    graphs_manifest,
    graphs_report,
    graphs_subgraph_csv,
    graphs_verdict,
    parity_bundle,
    parity_journal,
)
from collectors.formats._document import Context, Document
from collectors.formats._shared import checked
from collectors.records import Records

FORMATS: list[ModuleType] = [
    parity_journal,  # JSON lines: recognised by its first line, before anything parses the whole file
    parity_bundle,
    graphs_report,
    graphs_verdict,
    graphs_batch_verdict,
    graphs_calibration,
    graphs_manifest,
    alma_results,
    graphs_subgraph_csv,
    graphs_csv,
]

__all__ = ["FORMATS", "Context", "Document", "detect", "read"]
PREVIEW_CHARS = 30  # of an unrecognised text file's first line: enough to tell which file it is


def read(doc: Document, context: Context) -> tuple[ModuleType, Records]:
    """`doc`'s format and its records, each record checked against collectors.records (values a
    format derived included). Raises InputError naming the file, the field and the value."""
    module = detect(doc)
    return module, checked(module.to_records(doc, context), doc.path)


def detect(doc: Document) -> ModuleType:
    """The first format in FORMATS that recognises `doc`, else an InputError describing its shape."""
    for module in FORMATS:
        if module.recognise(doc):
            return module
    raise InputError(doc.path, *_shape_of(doc), f"unknown format (not one of: {', '.join(m.NAME for m in FORMATS)})")


def _shape_of(doc: Document) -> tuple[str, object]:
    """The field and value that best describe an unrecognised document, for the error message."""
    if doc.is_json:
        document = doc.json
        if isinstance(document, dict):
            return "top-level keys", sorted(document)
        return "top-level value", type(document).__name__
    line = doc.text.lstrip().partition("\n")[0]
    return "first line", line if len(line) <= PREVIEW_CHARS else line[:PREVIEW_CHARS] + "..."
