"""Parity bundle (`parity bench --out`): a bench run carried from a device to the central database.

Recognised by `"format": "parity-bundle"`; its shape and format history are in `collectors.bundle`.
The records carry the bundle's own run, so its measurements keep the run id they were measured
under, and ingesting the same bundle twice stores it once. Names go through the same
normalisation as every other format's.
"""

from __future__ import annotations

from collectors.bundle import BUNDLE_FORMAT, read_bundle
from collectors.formats._document import Context, Document
from collectors.formats._shared import carried, located
from collectors.records import Records

NAME = BUNDLE_FORMAT


def recognise(doc: Document) -> bool:
    document = doc.json_object()
    return bool(document) and document.get("format") == BUNDLE_FORMAT


def to_records(doc: Document, context: Context) -> Records:
    run, measurements, subgraphs = read_bundle(doc.bytes, doc.path)
    return carried(
        context, doc.path, ("run", run), located(measurements, "measurements"), located(subgraphs, "subgraphs")
    )
