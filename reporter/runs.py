"""Where a bench run measured on this machine goes: its journal while it runs, then the database
(the run row, its measurements and their raw samples, in one transaction) and/or a bundle, and a
rescue bundle when storing fails, so that no measurement is lost. A bundle measured elsewhere goes
through `parity ingest`, which stores the same rows (the bundle's run and measurements) plus the
file as a source.

The journal sits beside what the run is written to: `<bundle>.journal` with --out, else
`<database>.journal`. A killed run leaves it there; `parity bench --resume` finds it by that path,
by the bundle's path, or by the run id.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from collectors.bench import BenchResult
from collectors.bundle import write_bundle
from collectors.errors import InputError, ParityError
from collectors.journal import JournalContent, is_journal, read_journal
from reporter.connection import first_line
from reporter.location import default_db_path
from reporter.store import Store, StoreError


def store_result(store: Store, result: BenchResult) -> list[int]:
    """Write `result` atomically; returns the new measurement ids. A resumed run whose unfinished
    part was stored already (its journal, ingested) is replaced by the whole run."""
    with store.atomic():
        store.remove_unfinished_run(result.run.run_id)
        store.add_run(result.run)
        store.add_subgraphs(result.subgraphs, None)
        return store.add_measurements(result.measurements, result.run.run_id, None)


def journal_path(out: Path | None, db: Path | None) -> Path:
    """Where a bench run keeps its finished cells until it is stored (see the module docstring)."""
    target = out or db
    return target.with_name(target.name + ".journal")


def resumable(reference: str, journal: Path | None) -> JournalContent:
    """The journal a `--resume` reference names: a journal's path, the bundle path it was kept
    beside, or the id of the run whose journal is at `journal` (where this command would keep its
    own). ParityError otherwise."""
    candidates = [Path(reference), Path(reference + ".journal")]
    found = next((path for path in candidates if path.is_file() and _is_journal(path)), None)
    if found is not None:
        return _read(found)
    if journal is not None and journal.is_file():
        content = _read(journal)
        if content.run.run_id == reference:
            return content
        raise ParityError(f"--resume {reference}: no such journal; the one at {journal} is run {content.run.run_id}")
    raise ParityError(
        f"--resume {reference}: no journal there{f', nor at {journal}' if journal else ''} "
        "(a run that was stored completely has none left to resume)"
    )


def _is_journal(path: Path) -> bool:
    with open(path, "rb") as handle:
        return is_journal(handle.readline(1 << 20).decode(errors="replace"))


def _read(path: Path) -> JournalContent:
    try:
        return read_journal(path.read_bytes(), path)
    except InputError as error:
        raise ParityError(f"--resume: {error}") from None


def database_for(db: Path | None, out: Path | None) -> Path | None:
    """The database a bench run is stored in, or None for a bundle-only run: --db, else
    $PARITY_DB, else the default database unless --out was given."""
    if db or os.environ.get("PARITY_DB") or not out:
        return db or default_db_path()
    return None


def check_writable(db: Path, *, wait_s: float = 0.0) -> None:
    """Open the database for writing (waiting up to `wait_s` for another process's lock) and close
    it again, so that a busy, damaged or read-only file stops the command before minutes of
    measuring, not after."""
    try:
        Store.open(db, wait_s=wait_s).close()
    except Exception as error:  # noqa: BLE001 - duckdb, OS or Parity errors alike
        said = (
            str(error)
            if isinstance(error, StoreError)
            else f"{db}: cannot open the database for writing: {first_line(error)}"
        )
        raise ParityError(f"{said} (nothing was measured)") from None


def save_result(result: BenchResult, *, out: Path | None, db: Path | None, wait_s: float = 0.0) -> list[str]:
    """Write the bundle and/or store the run (waiting up to `wait_s` for the database's lock);
    returns lines saying where they went. When either fails, the measurements still end up in a
    bundle (a rescue bundle if need be), and the ParityError raised says where and how to ingest it."""
    run_id = result.run.run_id
    problems, saved = [], []
    bundle = stored = None
    if out:
        try:
            bundle = write_bundle(result.run, result.measurements, out, subgraphs=result.subgraphs)
            saved.append(f"bundle: {out} (run {run_id})")
        except Exception as error:  # noqa: BLE001 - keep going: the database may still take it
            problems.append(f"could not write the bundle {out}: {first_line(error)}")
    if db:
        try:
            with Store.open(db, wait_s=wait_s) as store:
                store_result(store, result)
            stored = db
            saved.append(f"database: {db} (run {run_id})")
        except Exception as error:  # noqa: BLE001 - the measurements must not be lost
            problems.append(f"could not store run {run_id} in {db}: {first_line(error)}")
    if not problems:
        return saved
    if stored:  # only the bundle failed: nothing is lost
        raise ParityError("; ".join(problems) + f" (the run is stored in {stored})")
    rescue = bundle or _rescue_bundle(
        result, [db.parent if db else None, out.parent if out else None, Path.cwd()], db or out
    )
    where = f" --db {db}" if db else ""
    raise ParityError(
        "; ".join(problems) + f"; the measurements are saved in {rescue}: "
        f"store them with `parity ingest {rescue}{where}`"
    )


def _rescue_bundle(result: BenchResult, folders: list[Path | None], beside: Path) -> Path:
    """`<db>.<run id>.bundle.json` in the first folder that takes it (the database's, by default)."""
    name = f"{beside.name}.{result.run.run_id}.bundle.json"
    for folder in [*(f for f in folders if f is not None), Path(tempfile.gettempdir())]:
        try:
            return write_bundle(result.run, result.measurements, folder / name, subgraphs=result.subgraphs)
        except Exception:  # noqa: BLE001 - try the next folder
            continue
    raise ParityError(f"could not store run {result.run.run_id} anywhere, not even a rescue bundle")
