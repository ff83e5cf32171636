"""graphs CSV (`--format csv`): one prediction per row, from the summary or the batch CSV.

Recognised by its header; the batch CSV adds a `name` column. Values are rounded by graphs.
"""

from __future__ import annotations

from collectors.formats._document import Context, Document
from collectors.formats._shared import flat_prediction
from collectors.records import Records

NAME = "graphs-csv"
REQUIRED = {"model", "hardware", "batch_size", "precision", "latency_ms"}


def recognise(doc: Document) -> bool:
    header = doc.csv_header
    return header is not None and set(header) >= REQUIRED and "subgraph_id" not in header


def to_records(doc: Document, context: Context) -> Records:
    return Records(
        predictions=[
            flat_prediction(context, doc.path, row, where=f"row {number}", strict=False)
            for number, row in enumerate(doc.csv_rows(), start=2)  # numbered as a spreadsheet shows them
        ]
    )
