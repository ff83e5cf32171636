"""Where a bench run measured on this machine goes: the database (the run row, its measurements
and their raw samples, in one transaction) and/or a bundle, and a rescue bundle when storing
fails, so that no measurement is lost. A bundle measured elsewhere goes through `parity ingest`,
which stores the same rows (the bundle's run and measurements) plus the file as a source."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from collectors.bench import BenchResult
from collectors.bundle import write_bundle
from collectors.errors import ParityError
from reporter.location import default_db_path
from reporter.store import Store


def store_result(store: Store, result: BenchResult) -> list[int]:
    """Write `result` atomically; returns the new measurement ids."""
    with store.atomic():
        store.add_run(result.run)
        return store.add_measurements(result.measurements, result.run.run_id, None)


def database_for(db: Path | None, out: Path | None) -> Path | None:
    """The database a bench run is stored in, or None for a bundle-only run: --db, else
    $PARITY_DB, else the default database unless --out was given."""
    if db or os.environ.get("PARITY_DB") or not out:
        return db or default_db_path()
    return None


def check_writable(db: Path) -> None:
    """Open the database for writing and close it again, so that a lock held by another process
    (or a read-only file) stops the command before minutes of measuring, not after."""
    try:
        Store.open(db).close()
    except Exception as error:  # noqa: BLE001 - duckdb, OS or Parity errors alike
        raise ParityError(f"{db}: cannot open the database for writing: {_one_line(error)} "
                          "(nothing was measured)") from None


def save_result(result: BenchResult, *, out: Path | None, db: Path | None) -> list[str]:
    """Write the bundle and/or store the run; returns lines saying where they went. When either
    fails, the measurements still end up in a bundle (a rescue bundle if need be), and the
    ParityError raised says where and how to ingest it."""
    run_id = result.run.run_id
    problems, saved = [], []
    bundle = stored = None
    if out:
        try:
            bundle = write_bundle(result.run, result.measurements, out)
            saved.append(f"bundle: {out} (run {run_id})")
        except Exception as error:  # noqa: BLE001 - keep going: the database may still take it
            problems.append(f"could not write the bundle {out}: {_one_line(error)}")
    if db:
        try:
            with Store.open(db) as store:
                store_result(store, result)
            stored = db
            saved.append(f"database: {db} (run {run_id})")
        except Exception as error:  # noqa: BLE001 - the measurements must not be lost
            problems.append(f"could not store run {run_id} in {db}: {_one_line(error)}")
    if not problems:
        return saved
    if stored:  # only the bundle failed: nothing is lost
        raise ParityError("; ".join(problems) + f" (the run is stored in {stored})")
    rescue = bundle or _rescue_bundle(result, [db.parent if db else None, out.parent if out else None,
                                               Path.cwd()], db or out)
    where = f" --db {db}" if db else ""
    raise ParityError("; ".join(problems) + f"; the measurements are saved in {rescue}: "
                      f"store them with `parity ingest {rescue}{where}`")


def _rescue_bundle(result: BenchResult, folders: list[Path | None], beside: Path) -> Path:
    """`<db>.<run id>.bundle.json` in the first folder that takes it (the database's, by default)."""
    name = f"{beside.name}.{result.run.run_id}.bundle.json"
    for folder in [*(f for f in folders if f is not None), Path(tempfile.gettempdir())]:
        try:
            return write_bundle(result.run, result.measurements, folder / name)
        except Exception:  # noqa: BLE001 - try the next folder
            continue
    raise ParityError(f"could not store run {result.run.run_id} anywhere, not even a rescue bundle")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
