"""One input file, parsed at most once, and the context a format needs beyond the file itself."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pydantic_core

from collectors.errors import InputError
from collectors.files import read_bytes
from collectors.names import Names
from collectors.values import json_problem


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
        """The regular file at `path` (collectors.files.read_bytes: never a FIFO). Raises InputError."""
        return cls(path, read_bytes(path))

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
        # pydantic's parser, not the json module's: it stops at 200 levels of nesting (json's
        # RecursionError came from 1,000 and was no InputError), refuses a lone surrogate, which
        # no database column takes, and an integer of thousands of digits (json: a ValueError).
        try:
            return pydantic_core.from_json(self.text)
        except ValueError as error:
            raise InputError(self.path, "JSON", *json_problem(str(error))) from None

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
        header = csv.reader([first_line])
        return tuple(name.strip() for name in self._csv(lambda: next(header), header))

    def csv_rows(self) -> list[dict[str, str]]:
        """Every data row as {column: text}, empty cells left out (so they read as absent, not as
        a bad number); the header is `csv_header`."""
        reader = csv.DictReader(io.StringIO(self.text.lstrip()), skipinitialspace=True)
        return self._csv(
            lambda: [{key: value for key, value in row.items() if key and value} for row in reader], reader.reader
        )

    def _csv(self, parse: Callable[[], Any], reader: Any) -> Any:
        """`parse()`, with the csv module's error (a field over its 128 KiB limit) as an InputError
        naming the line `reader` (a csv.reader) stopped at."""
        try:
            return parse()
        except csv.Error as error:
            raise InputError(self.path, "CSV", f"line {max(reader.line_num, 1)}", f"cannot read ({error})") from None


@dataclass(frozen=True)
class Context:
    """What a format may need besides the file: name tables, and facts a file cannot carry.

    `model`, `platform` and `batch_size` come from `parity ingest` flags; only formats whose
    content lacks them (Alma results) read them. `folders` are the folders named on the command
    line: a file that lists others (a manifest) may list files under them, besides its own folder.
    """

    names: Names
    model: str | None = None
    platform: str | None = None
    batch_size: int | None = None
    folders: tuple[Path, ...] = ()
