"""One input file, parsed at most once, and the context a format needs beyond the file itself."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from collectors.errors import InputError
from collectors.names import Names


class Document:
    """A file's bytes with lazily computed views: text, parsed JSON, CSV header and rows.

    Detection asks several formats in turn; the cached views make sure that each file is
    decoded and parsed once, however many formats look at it.
    """

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.bytes = data

    @classmethod
    def read(cls, path: Path) -> Document:
        try:
            return cls(path, path.read_bytes())
        except OSError as error:
            raise InputError(path, "file", path.name, f"cannot read: {error.strerror or error}") from None

    @cached_property
    def source_id(self) -> str:
        """sha256 of the content: the same content is the same source, whatever its path."""
        return hashlib.sha256(self.bytes).hexdigest()

    @cached_property
    def text(self) -> str:
        if not self.bytes.strip():
            raise InputError(self.path, "content", "", "empty file")
        try:
            return self.bytes.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError(self.path, "content", self.bytes[:16], "not UTF-8 text (binary file?)") from None

    @cached_property
    def is_json(self) -> bool:
        """Whether the content claims to be JSON (starts like an object or array)."""
        return self.text.lstrip()[:1] in ("{", "[")

    @cached_property
    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as error:
            where = f"line {error.lineno} column {error.colno}"
            raise InputError(self.path, "JSON", where, f"truncated or invalid JSON ({error.msg})") from None

    def json_object(self) -> dict[str, Any] | None:
        """The parsed content when it is a JSON object, else None (for `recognise`)."""
        if not self.is_json:
            return None
        document = self.json
        return document if isinstance(document, dict) else None

    @cached_property
    def csv_header(self) -> tuple[str, ...] | None:
        """The first line's column names when the content looks like CSV, else None."""
        if self.is_json:
            return None
        first_line = self.text.lstrip().partition("\n")[0]
        if "," not in first_line:
            return None
        return tuple(name.strip() for name in next(csv.reader([first_line])))

    def csv_rows(self) -> list[dict[str, str]]:
        """Every data row as {column: text}, empty cells left out (so they read as absent, not as
        a bad number); the header is `csv_header`."""
        reader = csv.DictReader(io.StringIO(self.text.lstrip()), skipinitialspace=True)
        return [{key: value for key, value in row.items() if key and value} for row in reader]


@dataclass(frozen=True)
class Context:
    """What a format may need besides the file: name tables, and facts a file cannot carry.

    `model`, `platform` and `batch_size` come from `parity ingest` flags; only formats whose
    content lacks them (Alma results) read them.
    """

    names: Names
    model: str | None = None
    platform: str | None = None
    batch_size: int | None = None
