"""A bench run's journal: every finished cell, on disk the moment it ends.

A journal is JSON lines: a head naming the run (its id, fingerprint and settings, that is the plan
it was asked to measure), then one line per finished cell with that cell's measurements. Each line
is written whole and flushed to the disk (fsync) before the next cell starts, so SIGTERM, SIGKILL,
a job's time limit or a power cut lose at most the cell that was running. A line cut short by a
power cut is the last one, and it is left out when the journal is read.

`parity bench` keeps one until its results are safely stored; `parity bench --resume` continues it
under the same run id; `parity ingest` stores one as an incomplete run (no `finished_at`).

Format history (bump JOURNAL_VERSION and add a line whenever the shape changes):

- 1 (2026-12): head {format, version, run, out, db}, then {measurements: [...], subgraphs: [...]}
  per cell; `out` and `db` say where the run was to be stored (a bundle path, a database path, or
  null); `subgraphs` are the leaf modules `--layers` timed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from collectors.errors import InputError, ParityError
from collectors.records import Measurement, RunInfo, Subgraph, record_fields
from collectors.values import STRICT_SHAPE, input_error

JOURNAL_FORMAT = "parity-journal"
JOURNAL_VERSION = 1


class JournalHead(BaseModel):
    """A journal's first line."""

    model_config = STRICT_SHAPE

    format: Literal["parity-journal"]
    version: Literal[1]
    run: RunInfo
    out: str | None = None
    db: str | None = None


class JournalCell(BaseModel):
    """One finished cell's line."""

    model_config = STRICT_SHAPE

    measurements: list[Measurement]
    subgraphs: list[Subgraph] = []


@dataclass(frozen=True, slots=True)
class JournalContent:
    path: Path
    run: RunInfo
    cells: list[list[Measurement]]  # each finished cell's measurements, in the order they ended
    out: Path | None = None  # where the run was to be stored: a bundle,
    db: Path | None = None  # and/or a database
    subgraphs: list[Subgraph] = field(default_factory=list)  # the finished cells' timed layers

    def measurements(self) -> list[Measurement]:
        return [m for cell in self.cells for m in cell]


def is_journal(first_line: str) -> bool:
    """Whether a file starting with `first_line` is a journal (cheap: the head alone is parsed)."""
    try:
        head = json.loads(first_line)
    except (ValueError, RecursionError):
        return False
    return isinstance(head, dict) and head.get("format") == JOURNAL_FORMAT


def read_journal(data: bytes, path: Path | str) -> JournalContent:
    """The run and finished cells of a journal's bytes (see `journal_lines`)."""
    head, lines = journal_lines(data, path)
    cells = [cell for _, cell in lines]
    out, db = (Path(p) if p else None for p in (head.out, head.db))
    return JournalContent(
        Path(path),
        head.run,
        [cell.measurements for cell in cells],
        out,
        db,
        [subgraph for cell in cells for subgraph in cell.subgraphs],
    )


def journal_lines(data: bytes, path: Path | str) -> tuple[JournalHead, list[tuple[int, JournalCell]]]:
    """A journal's head and its finished cells, each with its line number. InputError names the
    first bad line and field; a last line without its newline (cut off while being written) is
    left out."""
    lines = data.split(b"\n")
    complete = lines[:-1]  # the part after the last newline is empty, or a line cut short
    if not complete:
        raise InputError(path, "line 1", None, "no journal head (the file is empty or cut short)")
    head = _validated(JournalHead, complete[0], path, 1)
    numbered = enumerate(complete[1:], start=2)
    return head, [(number, _validated(JournalCell, line, path, number)) for number, line in numbered if line.strip()]


def _validated(shape: type[BaseModel], line: bytes, path: Path | str, number: int) -> BaseModel:
    try:
        return shape.model_validate_json(line, strict=True)
    except ValidationError as error:
        raise input_error(error, path, f"line {number}") from None


class Journal:
    """An open journal, appended to cell by cell."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path, self._descriptor = path, descriptor

    @classmethod
    def create(cls, path: Path, run: RunInfo, *, out: Path | None = None, db: Path | None = None) -> Journal:
        """A new journal at `path` for a run to be stored in `out` and/or `db` (ParityError if a
        journal is there: it holds another run's cells)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except FileExistsError:
            raise ParityError(
                f"{path}: the journal of an unfinished (or running) run is there: resume it with "
                f"--resume {path}, store it with `parity ingest {path}`, or remove it"
            ) from None
        journal = cls(path, descriptor)
        journal._append(
            {
                "format": JOURNAL_FORMAT,
                "version": JOURNAL_VERSION,
                "run": record_fields(run),
                "out": str(out) if out else None,
                "db": str(db) if db else None,
            }
        )
        return journal

    @classmethod
    def reopen(cls, path: Path) -> Journal:
        """An existing journal, to add the cells a resumed run measures. A line cut short at its
        end is cut off first, so that the next cell starts on a line of its own."""
        data = path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
        if len(complete) < len(data):
            os.truncate(path, len(complete))
        return cls(path, descriptor)

    def record(self, measurements: list[Measurement], subgraphs: list[Subgraph] = ()) -> None:
        """One finished cell, on the disk before this returns."""
        self._append(
            {
                "measurements": [record_fields(m) for m in measurements],
                "subgraphs": [record_fields(s) for s in subgraphs],
            }
        )

    def _append(self, document: dict) -> None:
        line = memoryview(
            (json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n").encode()
        )
        while line:  # O_APPEND, one writer: the pieces of a long line follow each other
            line = line[os.write(self._descriptor, line) :]
        os.fsync(self._descriptor)

    def close(self) -> None:
        os.close(self._descriptor)
