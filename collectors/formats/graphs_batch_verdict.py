"""graphs batch verdict (`cli/analyze_batch.py --format verdict`): one prediction per config.

Without a constraint the configs are in `configs`; with one (`--max-latency` ...) graphs splits
them into `passing_configs` and `failing_configs` instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from collectors.formats._document import Context, Document
from collectors.formats._shared import Shape, flat_prediction, validate
from collectors.records import Records
from collectors.values import field_path

NAME = "graphs-batch-verdict"
CONFIG_LISTS = ("configs", "passing_configs", "failing_configs")


class BatchVerdict(Shape):
    """Only the lists' shape; each config is checked by `flat_prediction`, with its index."""

    configs: list[dict[str, Any]] = Field(default_factory=list)
    passing_configs: list[dict[str, Any]] = Field(default_factory=list)
    failing_configs: list[dict[str, Any]] = Field(default_factory=list)


def recognise(doc: Document) -> bool:
    document = doc.json_object()
    return (
        document is not None
        and "verdict" in document
        and any(isinstance(document.get(key), list) for key in CONFIG_LISTS)
    )


def to_records(doc: Document, context: Context) -> Records:
    verdict = validate(BatchVerdict, doc.json, doc.path)
    return Records(
        predictions=[
            flat_prediction(context, doc.path, config, where=field_path(key, index))
            for key in CONFIG_LISTS
            for index, config in enumerate(getattr(verdict, key))
        ]
    )
