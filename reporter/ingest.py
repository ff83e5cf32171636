"""Ingest files and folders into the store: detect each file's format from its content, turn it
into records, and write everything in ONE transaction.

Everything is parsed first and written afterwards in bulk, so a bad file, `--strict`, an error or
a killed process never leaves a half-written database. The same content is stored once: a
source's id is the sha256 of its bytes.
"""
from __future__ import annotations

import hashlib
import os
import platform as host_platform
import socket
import sys
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from collectors import formats
from collectors.errors import InputError
from collectors.formats import Context, Document, detect
from collectors.names import Names
from collectors.records import Records, RunInfo, new_run_id, utc_now
from reporter.store import Store

PROGRESS_THRESHOLD = 500  # files; below this an ingest is over before a bar would help


@dataclass(frozen=True)
class ParsedFile:
    path: Path
    source_id: str
    format: str
    records: Records


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

    def summary(self) -> list[str]:
        """A few lines for the terminal."""
        stored = sum(self.stored_by_format.values())
        if self.refused:
            return [f"nothing stored: {len(self.errors)} bad file(s) in strict mode"]
        by_format = ", ".join(f"{name} {count}" for name, count in sorted(self.stored_by_format.items()))
        lines = [f"stored {stored} file(s)" + (f": {by_format}" if by_format else "")]
        if stored:
            lines.append(f"  rows: {self.predictions} predictions, {self.measurements} measurements, "
                         f"{self.subgraphs} subgraph rows (run {self.run_id})")
        if self.already_stored:
            lines.append(f"already stored: {self.already_stored} file(s)")
        if self.duplicates:
            lines.append(f"same content as another file here: {self.duplicates} file(s), stored once")
        if self.errors:
            lines.append(f"bad files: {len(self.errors)} (listed on stderr)")
        return lines


def ingest(store: Store, paths: Sequence[Path | str], *, names: Names | None = None, model: str | None = None,
           platform: str | None = None, batch_size: int | None = None, strict: bool = False,
           progress: bool | None = None) -> IngestReport:
    """Store every file under `paths` that is new, in one transaction.

    names: the name tables (`Names.load(platform_map)`); its proxies are stored too.
    model, platform, batch_size: for formats whose content lacks them (Alma results).
    strict: one bad file and nothing at all is written.
    progress: a bar on stderr, then a line when writing starts; None shows them on a terminal or
        for large folders.
    Returns an IngestReport; bad files are in `.errors`, never raised.
    Raises StoreError when the database cannot be written.
    """
    started_at = utc_now()
    names = names or Names.load()
    context = Context(names, model=model, platform=platform, batch_size=batch_size)
    files, missing = find_files(paths)
    report = IngestReport(errors=missing)
    database = _database_files(store)
    files = [path for path in files if path.resolve() not in database]
    if progress is None:
        progress = sys.stderr.isatty() or len(files) >= PROGRESS_THRESHOLD
    parsed = read_files(files, context, store, report, progress=progress)
    if strict and report.errors:
        report.refused = True
        return report
    if progress:
        print(f"writing {len(parsed)} new file(s) to {store.path}", file=sys.stderr, flush=True)
    report.run_id = write(store, parsed, names, started_at)
    _count_stored(parsed, report)
    return report


def find_files(paths: Iterable[Path | str]) -> tuple[list[Path], list[InputError]]:
    """Files named, and files under folders named (recursively, hidden ones skipped), in order;
    and an InputError for each path that does not exist (a bad input, like a bad file)."""
    files, missing = [], []
    for path in map(Path, paths):
        if path.is_dir():
            files += _walk(path)
        elif path.exists():
            files.append(path)
        else:
            missing.append(InputError(path, "path", str(path), "no such file or directory"))
    return files, missing


def _database_files(store: Store) -> set[Path]:
    """The database being written and its write-ahead log: `parity ingest data/` must not read them."""
    database = store.path.resolve()
    return {database, database.with_name(database.name + ".wal")}


def _walk(folder: Path) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # pruned in place: os.walk skips them
        found += [Path(root) / name for name in sorted(names) if not name.startswith(".")]
    return found


def read_files(files: Sequence[Path], context: Context, store: Store, report: IngestReport, *,
               progress: bool = False) -> list[ParsedFile]:
    """Parse every new file (and the files manifests list); bad ones go to `report.errors`."""
    reader, queue, seen_paths, parsed = _Reader(context, store, report), deque(files), set(), []
    with tqdm(total=len(files), unit="file", file=sys.stderr, disable=not progress, leave=False) as bar:
        while queue:
            path = queue.popleft()
            bar.update()
            if path.resolve() in seen_paths:  # named twice, or in a folder and in its manifest
                continue
            seen_paths.add(path.resolve())
            try:
                new, listed = reader.read(path)
            except InputError as error:
                report.errors.append(error)
                continue
            parsed += [new] if new else []
            queue.extend(listed)
            bar.total += len(listed)
    return parsed


class _Reader:
    """Reads one file at a time, remembering what the store and this command have seen."""

    def __init__(self, context: Context, store: Store, report: IngestReport) -> None:
        self.context, self.report, self.store = context, report, store
        self.stored_formats = dict(store.execute("SELECT source_id, format FROM sources").rows)
        self.runs = {row[0] for row in store.execute("SELECT run_id FROM runs").rows}
        # A killed bench's run, stored from its journal: a later file of the same run replaces it.
        self.unfinished = {row[0] for row in store.execute("SELECT run_id FROM runs WHERE finished_at IS NULL").rows}
        self.seen_ids: set[str] = set()

    def read(self, path: Path) -> tuple[ParsedFile | None, list[Path]]:
        """The file when its content is new, and the further files it lists; raises InputError."""
        doc = Document.read(path)
        if doc.source_id in self.seen_ids:
            self.report.duplicates += 1
            return None, []
        self.seen_ids.add(doc.source_id)
        if doc.source_id in self.stored_formats:
            self.report.already_stored += 1  # known content is hashed, never parsed again
            return None, self._listed_again(doc)
        module = detect(doc)
        records = module.to_records(doc, self.context)
        if records.run and records.run.run_id in self.unfinished:
            self.unfinished.discard(records.run.run_id)  # replaced once: a second file of it is a duplicate
        elif records.run and records.run.run_id in self.runs:
            self.report.already_stored += 1  # a bundle whose run is in the database already
            self.report.warnings.append(_stored_run_note(self.store, records.run.run_id, path))
            return None, []
        if records.run:
            self.runs.add(records.run.run_id)
        return ParsedFile(path, doc.source_id, module.NAME, records), records.includes

    def _listed_again(self, doc: Document) -> list[Path]:
        """A stored manifest's files: they may be new, or fixed since an ingest that refused them."""
        name = self.stored_formats[doc.source_id]
        module = next((m for m in formats.FORMATS if m.NAME == name), None)
        if not getattr(module, "LISTS_FILES", False):
            return []
        return module.to_records(doc, self.context).includes


def write(store: Store, parsed: Sequence[ParsedFile], names: Names, started_at: str) -> str | None:
    """Write the parsed files, their runs and the declared proxies in one transaction.

    Returns the ingest run's id, or None when there was nothing new (no run row is made then).
    """
    with store.atomic():
        if names.proxies:
            store.add_proxies(names.proxies)
        if not parsed:
            return None
        run = _ingest_run(parsed, started_at)
        store.add_run(run)
        for carried in {p.records.run.run_id: p.records.run for p in parsed if p.records.run}.values():
            store.remove_unfinished_run(carried.run_id)
            store.add_run(carried)
        store.insert_columns("sources", {
            "source_id": [p.source_id for p in parsed], "path": [str(p.path.resolve()) for p in parsed],
            "format": [p.format for p in parsed], "run_id": [run.run_id] * len(parsed),
        })
        _write_rows(store, parsed, run.run_id)
    return run.run_id


def _write_rows(store: Store, parsed: Sequence[ParsedFile], ingest_run_id: str) -> None:
    """All files' rows in one bulk insert per table; measurements belong to the run their file
    carries (a bundle's), else to this ingest run."""
    predictions, owners = _rows_and_owners(parsed, "predictions")
    store.add_predictions(predictions, [p.source_id for p in owners])
    subgraphs, owners = _rows_and_owners(parsed, "subgraphs")
    store.add_subgraphs(subgraphs, [p.source_id for p in owners])
    measurements, owners = _rows_and_owners(parsed, "measurements")
    store.add_measurements(
        measurements, [p.records.run.run_id if p.records.run else ingest_run_id for p in owners],
        [p.source_id for p in owners])


def _rows_and_owners(parsed: Sequence[ParsedFile], kind: str) -> tuple[list[Any], list[ParsedFile]]:
    """Every file's records of one kind, and beside each row the file it came from."""
    pairs = [(row, p) for p in parsed for row in getattr(p.records, kind)]
    return [row for row, _ in pairs], [p for _, p in pairs]


def _ingest_run(parsed: Sequence[ParsedFile], started_at: str) -> RunInfo:
    # The content hash keeps two ingests started in the same second apart.
    digest = hashlib.sha256("".join(sorted(p.source_id for p in parsed)).encode()).hexdigest()[:8]
    return RunInfo(
        run_id=new_run_id("ingest", started_at, digest), kind="ingest", started_at=started_at, finished_at=utc_now(),
        host=socket.gethostname(), platform=None, label=None, git_sha=None,
        environment={"python": host_platform.python_version(), "files": len(parsed)},
    )


def _count_stored(parsed: Sequence[ParsedFile], report: IngestReport) -> None:
    for p in parsed:
        report.stored_by_format[p.format] += 1
        report.predictions += len(p.records.predictions)
        report.measurements += len(p.records.measurements)
        report.subgraphs += len(p.records.subgraphs)



def _stored_run_note(store: Store, run_id: str, path: Path | str) -> str:
    """Why a file (a bundle) whose run is already in the database is not stored again: from which file
    that run came (the content differs, or the file would have been recognised by its hash), or
    that `parity bench` stored it directly."""
    stored = store.execute("""SELECT DISTINCT s.path FROM measurements m JOIN sources s USING (source_id)
                              WHERE m.run_id = ? ORDER BY s.path""", [run_id]).rows
    if stored:
        return (f"{path}: run {run_id} is already stored from {stored[0][0]}, whose content differs "
                "from this file; this file was not stored")
    if not store.has_run(run_id):
        return f"{path}: run {run_id} is also in another file of this ingest, with different content; not stored twice"
    return f"{path}: run {run_id} is already stored (by `parity bench` into this database); not stored again"
