"""Ingest files and folders into the store: detect each file's format from its content, turn it
into records, and write everything in ONE transaction.

Two steps, so that no database is held while files are read: `read_inputs` finds and parses
every file with no database open (bar a short read-only look at which content is stored already:
known content is hashed, never parsed again), then `write_inputs` decides inside its one
transaction what is new and writes it. A bad file, `--strict`, an error or a killed process never
leaves a half-written database. The same content is stored once: a source's id is the sha256 of
its bytes.
"""

from __future__ import annotations

import hashlib
import platform as host_platform
import socket
import sys
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from tqdm import tqdm

from collectors import formats
from collectors.errors import InputError
from collectors.files import find, real
from collectors.formats import Context, Document
from collectors.names import Names
from collectors.records import RunInfo, new_run_id, utc_now
from collectors.text import visible
from reporter.connection import first_line
from reporter.ingest_state import IngestReport, ParsedFile, Stored, told_if_interrupted
from reporter.location import default_db_path
from reporter.store import Store, StoreError

__all__ = ["IngestReport", "Inputs", "ingest", "read_inputs", "told_if_interrupted", "write_inputs"]
PROGRESS_THRESHOLD = 500  # files; below this an ingest is over before a bar would help


@dataclass
class Inputs:
    """Every file of one command, parsed, and what reading them found: what `write_inputs` stores."""

    parsed: list[ParsedFile]
    report: IngestReport
    names: Names
    started_at: str
    progress: bool


def ingest(
    store: Store,
    paths: Sequence[Path | str],
    *,
    names: Names | None = None,
    model: str | None = None,
    platform: str | None = None,
    batch_size: int | None = None,
    strict: bool = False,
    progress: bool | None = None,
) -> IngestReport:
    """Store every file under `paths` that is new, in one transaction (read_inputs, then write_inputs).

    names: the name tables (`Names.load(platform_map)`); its proxies are stored too.
    model, platform, batch_size: for formats whose content lacks them (Alma results).
    strict: one bad file and nothing at all is written.
    progress: a bar on stderr, then a line when writing starts; None shows them on a terminal or
        for large folders.
    Returns an IngestReport; bad files are in `.errors`, never raised.
    Raises StoreError when the database cannot be written.
    """
    inputs = read_inputs(
        paths,
        store.path,
        names=names,
        model=model,
        platform=platform,
        batch_size=batch_size,
        stored=Stored.of(store),
        progress=progress,
    )
    return write_inputs(store, inputs, strict=strict)


def read_inputs(
    paths: Iterable[Path | str],
    db: Path | str | None = None,
    *,
    names: Names | None = None,
    model: str | None = None,
    platform: str | None = None,
    batch_size: int | None = None,
    stored: Stored | None = None,
    progress: bool | None = None,
) -> Inputs:
    """Find and parse every file under `paths` (and the files manifests list), holding no database.

    db: the database to be written (default: $PARITY_DB, else ./data/parity.duckdb): its files are
        never read as inputs, and it is looked at read-only once, unless `stored` says what it holds.
    The other parameters are those of `ingest`. Bad files are in the report's `.errors`, never raised.
    """
    started_at = utc_now()
    names = names or Names.load()
    found = find(map(Path, paths))
    database = Path(db) if db else default_db_path()
    context = Context(names, model=model, platform=platform, batch_size=batch_size, folders=tuple(found.folders))
    report = IngestReport(errors=found.errors, warnings=found.skipped)
    files = [path for path in found.files if not _is_database(path, database)]
    if progress is None:
        progress = sys.stderr.isatty() or len(files) >= PROGRESS_THRESHOLD
    reader = _Reader(context, stored if stored is not None else Stored.peek(database), report)
    return Inputs(reader.read_all(files, progress=progress), report, names, started_at, progress)


def _is_database(path: Path, database: Path) -> bool:
    """Whether `path` is the database being written or its write-ahead log (`parity ingest data/`)."""
    names = {database.name, database.name + ".wal"}
    return path.name in names and real(path) in {real(database.with_name(name)) for name in names}


class _Reader:
    """Reads one file at a time, remembering what the database held and what this command has seen."""

    def __init__(self, context: Context, stored: Stored, report: IngestReport) -> None:
        self.context, self.stored, self.report = context, stored, report
        self.seen_ids: set[str] = set()
        self.seen_paths: set[Path] = set()

    def read_all(self, files: Sequence[Path], *, progress: bool) -> list[ParsedFile]:
        """Parse every new file, and the files manifests list; bad ones go to the report's errors."""
        queue, parsed = deque(files), []
        with tqdm(total=len(files), unit="file", file=sys.stderr, disable=not progress, leave=False) as bar:
            while queue:
                path = queue.popleft()
                bar.update()
                resolved = real(path)
                if resolved in self.seen_paths:  # named twice, or in a folder and in its manifest
                    continue
                self.seen_paths.add(resolved)
                try:
                    new, listed = self.read(path, resolved)
                except InputError as error:
                    self.report.errors.append(error)
                    continue
                parsed += [new] if new else []
                queue.extend(listed)
                bar.total += len(listed)
        return parsed

    def read(self, path: Path, resolved: Path) -> tuple[ParsedFile | None, list[Path]]:
        """The file at `path` (`resolved`: links followed) when its content is new, and the further
        files it lists; raises InputError."""
        doc = Document.read(path)
        if doc.source_id in self.seen_ids:
            self.report.duplicates += 1
            return None, []
        self.seen_ids.add(doc.source_id)
        if doc.source_id in self.stored.formats:
            self.report.already_stored += 1  # known content is hashed, never parsed again
            return None, self._listed_again(doc)
        module, records = formats.read(doc, self.context)
        return ParsedFile(path, resolved, doc.source_id, module.NAME, records), records.includes

    def _listed_again(self, doc: Document) -> list[Path]:
        """A stored manifest's files: they may be new, or fixed since an ingest that refused them."""
        name = self.stored.formats[doc.source_id]
        module = next((m for m in formats.FORMATS if name == m.NAME), None)
        if not getattr(module, "LISTS_FILES", False):
            return []
        return module.to_records(doc, self.context).includes


def write_inputs(store: Store, inputs: Inputs, *, strict: bool = False) -> IngestReport:
    """Write what `read_inputs` parsed, with the declared proxies, in one transaction.

    Inside it, what is new is decided against the database as it is then (another command may have
    stored some of the content since read_inputs looked). strict: one bad file and nothing at all
    is written. Returns the report, whose `committed` says whether the write is in the database,
    also when Ctrl-C comes as the commit ends. Raises StoreError when the database cannot be written.
    """
    report = inputs.report
    if strict and report.errors:
        report.refused = True
        return report
    try:
        with store.atomic():
            new = _new_files(store, inputs.parsed, report)
            if inputs.progress:
                print(f"writing {len(new)} new file(s) to {store.path}", file=sys.stderr, flush=True)
            report.run_id = _write(store, new, inputs.names, inputs.started_at)
            _count_stored(new, report)
        report.committed = report.run_id is not None
    except KeyboardInterrupt:
        # Ctrl-C during the commit takes effect once it returned: the database says whether it was kept.
        report.committed = report.run_id is not None and store.has_run(report.run_id)
        raise
    except duckdb.Error as error:  # every value was checked against what the store takes: not expected
        raise StoreError(f"{store.path}: the write failed, nothing was stored: {first_line(error)}") from error
    return report


def _new_files(store: Store, parsed: Sequence[ParsedFile], report: IngestReport) -> list[ParsedFile]:
    """The files to store: content stored meanwhile is counted as stored already; a file carrying
    a run (a bundle) whose run is stored is not stored again, unless that run is unfinished (a
    killed bench's journal), which the first file of it replaces."""
    stored = Stored.of(store)
    unfinished, runs, new = set(stored.unfinished), set(stored.runs), []
    for file in parsed:
        run_id = file.records.run.run_id if file.records.run else None
        if file.source_id in stored.formats:
            report.already_stored += 1
        elif run_id in runs - unfinished:
            report.already_stored += 1
            report.warnings.append(_stored_run_note(store, run_id, file.path))
        else:
            if run_id is not None:
                unfinished.discard(run_id)  # replaced once: a second file of it is a duplicate
                runs.add(run_id)
            new.append(file)
    return new


def _write(store: Store, parsed: Sequence[ParsedFile], names: Names, started_at: str) -> str | None:
    """Write the files, their runs and the declared proxies; the ingest run's id, or None when
    there was nothing new (no run row is made then)."""
    if names.proxies:
        store.add_proxies(names.proxies)
    if not parsed:
        return None
    run = _ingest_run(parsed, started_at)
    store.add_run(run)
    for carried in {p.records.run.run_id: p.records.run for p in parsed if p.records.run}.values():
        store.remove_unfinished_run(carried.run_id)
        store.add_run(carried)
    store.insert_columns(
        "sources",
        {
            "source_id": [p.source_id for p in parsed],
            "path": [_stored_path(p.real_path) for p in parsed],
            "format": [p.format for p in parsed],
            "run_id": [run.run_id] * len(parsed),
        },
    )
    _write_rows(store, parsed, run.run_id)
    return run.run_id


def _stored_path(path: Path) -> str:
    # A file name's undecodable bytes come as lone surrogates, which no VARCHAR takes: kept as escapes.
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _write_rows(store: Store, parsed: Sequence[ParsedFile], ingest_run_id: str) -> None:
    """All files' rows in one bulk insert per table; measurements belong to the run their file
    carries (a bundle's), else to this ingest run."""
    predictions, owners = _rows_and_owners(parsed, "predictions")
    store.add_predictions(predictions, [p.source_id for p in owners])
    subgraphs, owners = _rows_and_owners(parsed, "subgraphs")
    store.add_subgraphs(subgraphs, [p.source_id for p in owners])
    measurements, owners = _rows_and_owners(parsed, "measurements")
    store.add_measurements(
        measurements,
        [p.records.run.run_id if p.records.run else ingest_run_id for p in owners],
        [p.source_id for p in owners],
    )


def _rows_and_owners(parsed: Sequence[ParsedFile], kind: str) -> tuple[list[Any], list[ParsedFile]]:
    """Every file's records of one kind, and beside each row the file it came from."""
    pairs = [(row, p) for p in parsed for row in getattr(p.records, kind)]
    return [row for row, _ in pairs], [p for _, p in pairs]


def _ingest_run(parsed: Sequence[ParsedFile], started_at: str) -> RunInfo:
    # The content hash keeps two ingests started in the same second apart.
    digest = hashlib.sha256("".join(sorted(p.source_id for p in parsed)).encode()).hexdigest()[:8]
    return RunInfo(
        run_id=new_run_id("ingest", started_at, digest),
        kind="ingest",
        started_at=started_at,
        finished_at=utc_now(),
        host=socket.gethostname(),
        platform=None,
        label=None,
        git_sha=None,
        environment={"python": host_platform.python_version(), "files": len(parsed)},
    )


def _count_stored(parsed: Sequence[ParsedFile], report: IngestReport) -> None:
    for p in parsed:
        report.stored_by_format[p.format] += 1
        report.predictions += len(p.records.predictions)
        report.measurements += len(p.records.measurements)
        report.subgraphs += len(p.records.subgraphs)


def _stored_run_note(store: Store, run_id: str, path: Path) -> str:
    """Why a file (a bundle) whose run is already in the database is not stored again: from which file
    that run came (the content differs, or the file would have been recognised by its hash), or
    that `parity bench` stored it directly."""
    shown = visible(str(path))
    stored = store.execute(
        """SELECT DISTINCT s.path FROM measurements m JOIN sources s USING (source_id)
                              WHERE m.run_id = ? ORDER BY s.path""",
        [run_id],
    ).rows
    if stored:
        return (
            f"{shown}: run {run_id} is already stored from {stored[0][0]}, whose content differs "
            "from this file; this file was not stored"
        )
    if not store.has_run(run_id):
        return f"{shown}: run {run_id} is also in another file of this ingest, with different content; not stored twice"
    return f"{shown}: run {run_id} is already stored (by `parity bench` into this database); not stored again"
