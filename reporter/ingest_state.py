"""What an ingest knows besides the records: what the database held when looked at (Stored), what
the command did (IngestReport), and the line a Ctrl-C after the commit prints (told_if_interrupted)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from collectors.errors import InputError, Interrupted
from collectors.records import Records
from reporter.schema import UNFINISHED_RUN
from reporter.store import Store, StoreError


@dataclass(frozen=True)
class ParsedFile:
    path: Path  # as found
    real_path: Path  # every link followed: what `sources.path` keeps
    source_id: str
    format: str
    records: Records


@dataclass(frozen=True)
class Stored:
    """What a database held: content (source id -> format), runs, and the unfinished ones among them."""

    formats: dict[str, str] = field(default_factory=dict)
    runs: frozenset[str] = frozenset()
    unfinished: frozenset[str] = frozenset()  # a killed bench's journal, stored: a later file of it replaces it

    @classmethod
    def of(cls, store: Store) -> Stored:
        runs = store.execute(f"SELECT run_id, {UNFINISHED_RUN} FROM runs").rows
        return cls(
            dict(store.execute("SELECT source_id, format FROM sources").rows),
            frozenset(run_id for run_id, _ in runs),
            frozenset(run_id for run_id, open_ in runs if open_),
        )

    @classmethod
    def peek(cls, db: Path) -> Stored:
        """A short read-only look at `db`, so that stored content is not parsed again. Nothing when
        there is no database yet, or another command has it open for writing: then every file is
        parsed, and the write decides what is new."""
        if not db.exists():
            return cls()
        try:
            with Store.open(db, read_only=True) as store:
                return cls.of(store)
        except StoreError:
            return cls()


@dataclass
class IngestReport:
    """What one ingest did; `stored_by_format` counts new files, `errors` the bad ones."""

    run_id: str | None = None
    stored_by_format: Counter[str] = field(default_factory=Counter)
    predictions: int = 0
    measurements: int = 0
    subgraphs: int = 0
    already_stored: int = 0
    duplicates: int = 0  # same content as another file of this command
    errors: list[InputError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # files not stored, and why (not errors)
    refused: bool = False  # strict and a bad file: nothing was written
    committed: bool = False  # the write is in the database

    def summary(self) -> list[str]:
        """A few lines for the terminal."""
        stored = self.stored()
        if self.refused:
            return [f"nothing stored: {len(self.errors)} bad file(s) in strict mode"]
        by_format = ", ".join(f"{name} {count}" for name, count in sorted(self.stored_by_format.items()))
        lines = [f"stored {stored} file(s)" + (f": {by_format}" if by_format else "")]
        if stored:
            lines.append(f"  rows: {self.rows()} (run {self.run_id})")
        if self.already_stored:
            lines.append(f"already stored: {self.already_stored} file(s)")
        if self.duplicates:
            lines.append(f"same content as another file here: {self.duplicates} file(s), stored once")
        if self.errors:
            lines.append(f"bad files: {len(self.errors)} (listed on stderr)")
        return lines

    def stored(self) -> int:
        """How many files this ingest stored."""
        return sum(self.stored_by_format.values())

    def rows(self) -> str:
        return f"{self.predictions} predictions, {self.measurements} measurements, {self.subgraphs} subgraph rows"


@contextmanager
def told_if_interrupted(report: IngestReport) -> Iterator[None]:
    """A Ctrl-C once the write is committed (while the database closes, or the summary prints)
    becomes an Interrupted that says what was stored: "nothing half-written was kept" would hide
    that everything was."""
    try:
        yield
    except KeyboardInterrupt as interruption:
        if not report.committed or isinstance(interruption, Interrupted):
            raise
        raise Interrupted(
            f"the write had committed: stored {report.stored()} file(s) ({report.rows()}, run {report.run_id}); "
            "the same command again stores nothing twice"
        ) from None
