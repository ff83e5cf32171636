"""Parity bundle (`parity bench --out`): a bench run carried from a device to the central database.

Recognised by `"format": "parity-bundle"`; its shape and format history are in `collectors.bundle`.
The records carry the bundle's own run, so its measurements keep the run id they were measured
under, and ingesting the same bundle twice stores it once.
"""
from __future__ import annotations

from collectors.bundle import BUNDLE_FORMAT, Bundle, check_values, from_bundle
from collectors.formats._document import Context, Document
from collectors.formats._shared import validate
from collectors.records import Records

NAME = BUNDLE_FORMAT


def recognise(doc: Document) -> bool:
    document = doc.json_object()
    return bool(document) and document.get("format") == BUNDLE_FORMAT


def to_records(doc: Document, context: Context) -> Records:
    bundle = validate(Bundle, doc.json, doc.path)
    check_values(bundle, doc.path)
    run, measurements = from_bundle(bundle)
    return Records(measurements=measurements, run=run)

