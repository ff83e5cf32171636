"""graphs calibration manifest (`manifest.json` beside the measurements): the files it lists.

Recognised by `measurements[].file`. It holds no rows of its own: ingest reads the listed files,
resolved relative to the manifest, and detects their format like any other file. A listed file
must lie under the manifest's folder or a folder named on the command line, links followed: an
entry such as "../../../etc/passwd" is refused by its name, the file never opened.
"""

from __future__ import annotations

from pathlib import Path

from collectors.errors import InputError
from collectors.files import not_regular, within
from collectors.formats._document import Context, Document
from collectors.formats._shared import Shape, validate
from collectors.records import Records
from collectors.values import Name, field_path

NAME = "graphs-calibration-manifest"
LISTS_FILES = True  # ingest follows the list again when the manifest itself is stored already


class Entry(Shape):
    file: Name


class Manifest(Shape):
    measurements: list[Entry]


def recognise(doc: Document) -> bool:
    document = doc.json_object()
    entries = document.get("measurements") if document else None
    return (
        isinstance(entries, list)
        and bool(entries)
        and all(isinstance(entry, dict) and "file" in entry for entry in entries)
    )


def to_records(doc: Document, context: Context) -> Records:
    manifest = validate(Manifest, doc.json, doc.path)
    includes = []
    for index, entry in enumerate(manifest.measurements):
        listed = doc.path.parent / entry.file
        problem = _outside(listed, doc, context) or not_regular(listed)
        if problem:
            raise InputError(doc.path, field_path("measurements", index, "file"), entry.file, problem)
        includes.append(listed)
    return Records(includes=includes)


def _outside(listed: Path, doc: Document, context: Context) -> str | None:
    if within(listed, [doc.path.parent, *context.folders]):
        return None
    return "outside the manifest's folder and the folders given (name the file itself to ingest it)"
