"""graphs batch verdict (`cli/analyze_batch.py --format verdict`): one prediction per config.

Without a constraint the configs are in `configs`; with one (`--max-latency` ...) graphs splits
them into `passing_configs` and `failing_configs` instead.
"""
from __future__ import annotations

from collectors.formats._document import Context, Document
from collectors.formats._shared import field_path, flat_prediction
from collectors.errors import InputError
from collectors.records import Records

NAME = "graphs-batch-verdict"
CONFIG_LISTS = ("configs", "passing_configs", "failing_configs")


def recognise(doc: Document) -> bool:
    document = doc.json_object()
    return document is not None and "verdict" in document and any(
        isinstance(document.get(key), list) for key in CONFIG_LISTS)


def to_records(doc: Document, context: Context) -> Records:
    predictions = []
    for key in CONFIG_LISTS:
        for index, config in enumerate(doc.json.get(key) or []):
            where = field_path(key, index)
            if not isinstance(config, dict):
                raise InputError(doc.path, where, config, "expected an object")
            predictions.append(flat_prediction(context, doc.path, config, where=where))
    return Records(predictions=predictions)
