"""The DuckDB file underneath the store: opening it while another process may hold it, telling a
damaged file from a bad query, and confining a user's SQL to the database at the engine.

DuckDB lets one process write a file, or several read it; a second process fails at once with a
lock error, so `connect` waits for it. A truncated file still opens and fails on the first block
it lacks; a corrupt block fails its checksum when read. DuckDB turns Ctrl-C into its own "Query
interrupted" error. Each of them becomes one StoreError (or KeyboardInterrupt) here, in Parity's
words; an error in the SQL itself is left as it is.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from collectors.errors import ParityError

# DuckDB's file starts with three 4 KiB headers (the main one and two alternating database
# headers); block i lies at HEADER_BYTES + i * block_size, so a whole file is at least this long.
HEADER_BYTES = 3 * 4096
LOCK_POLL_S = 0.2
RESTORE = "restore it from the bundles (parity ingest them into a new file) or from a backup"


class StoreError(ParityError):
    """A store problem the user can act on (missing, busy, damaged or newer file, refused statement, bad SQL)."""


def connect(path: Path, *, read_only: bool, wait_s: float) -> duckdb.DuckDBPyConnection:
    """A connection to `path`. Where another process holds the file, wait up to `wait_s` seconds
    for it (saying so once on stderr), then give up with a StoreError naming that process."""
    connection = _when_free(path, read_only=read_only, wait_s=wait_s)
    # DuckDB draws a progress bar on stdout for a query over 2 s when Python runs no script file (a
    # REPL, a notebook, `python -c`): it would land in the middle of a command's CSV or JSON.
    connection.execute("SET enable_progress_bar = false")
    return connection


def _when_free(path: Path, *, read_only: bool, wait_s: float) -> duckdb.DuckDBPyConnection:
    deadline, said = time.monotonic() + wait_s, False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as error:
            holder = _lock_holder(error)
            if holder is None or time.monotonic() >= deadline:
                raise _open_error(error, path, holder, read_only=read_only, waited_s=wait_s) from None
        if not said:
            print(f"parity: waiting for {path}, held by {holder}, up to {wait_s:g} s (--wait)", file=sys.stderr)
            said = True
        time.sleep(LOCK_POLL_S)


def _open_error(error: duckdb.Error, path: Path, holder: str | None, *, read_only: bool, waited_s: float) -> StoreError:
    if holder is None:
        return damage(error, path) or StoreError(f"{path}: cannot open the database: {first_line(error)}")
    if waited_s > 0:
        return StoreError(
            f"{path}: busy: {holder} still has it open after {waited_s:g} s; "
            "try again when it has finished, or pass a longer --wait"
        )
    doing = "is writing it" if read_only else "has it open"  # a reader is only ever kept out by a writer
    return StoreError(f"{path}: busy: {holder} {doing}; try again when it has finished, or pass --wait SECONDS")


def _lock_holder(error: duckdb.Error) -> str | None:
    """Who holds the file where `error` is DuckDB's lock conflict ("another process (PID 12)"), else None."""
    text = str(error)
    if "Could not set lock on file" not in text:
        return None
    pid = re.search(r"\(PID (\d+)\)", text)
    return f"another process (PID {pid.group(1)})" if pid else "another process"


def check_whole(db: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Raise a StoreError if the file is shorter than its own blocks need: cut short by a full disk
    or an interrupted copy. DuckDB opens such a file and fails only on the first missing block."""
    block_size, blocks = db.execute(
        "SELECT block_size, total_blocks FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchone()
    needed, size = HEADER_BYTES + blocks * block_size, path.stat().st_size
    if size < needed:
        raise _damaged(path, f"{size} bytes, but its {blocks} blocks need {needed} (cut short)")


def damage(error: duckdb.Error, path: Path) -> StoreError | None:
    """A StoreError where `error` is DuckDB failing to read the database file itself, else None."""
    text = first_line(error)
    if "Corrupt database file" in text or ("Could not read" in text and str(path) in text):
        return _damaged(path, text)
    return None


def _damaged(path: Path, detail: str) -> StoreError:
    return StoreError(f"{path}: damaged: {detail}; {RESTORE}")


def file_error(error: BaseException, path: Path) -> BaseException | None:
    """What a DuckDB error raised on `path` means to the user where it concerns the file or Ctrl-C:
    a damaged or unwritable file as a StoreError, DuckDB's "Query interrupted" as the Ctrl-C it
    was. None for an error in the SQL itself (a bug, or a user's query), left to the caller."""
    if isinstance(error, duckdb.InterruptException) or (
        type(error) is RuntimeError and str(error) == "Query interrupted"
    ):
        return KeyboardInterrupt()
    if not isinstance(error, duckdb.Error):
        return None
    if isinstance(error, duckdb.IOException) and str(path) in str(error):  # e.g. a full disk on COMMIT
        return damage(error, path) or StoreError(f"{path}: {first_line(error)}")
    return damage(error, path)


def confine(db: duckdb.DuckDBPyConnection, readable: Sequence[Path]) -> None:
    """Let `db` read nothing but the database and the `readable` folders, write no file, reach no
    network and install or load no extension; lock the configuration so that SQL cannot undo it."""
    # The trailing separator keeps `history/` from admitting `history-old/` (they are prefixes).
    # DuckDB adds its own spill folder (<database>.tmp/) when external access goes off.
    folders = [os.path.join(os.path.abspath(folder), "") for folder in readable]
    db.execute("SET allowed_directories = ?", [folders])  # settable only while external access is on
    for setting in ("enable_external_access", "autoinstall_known_extensions", "autoload_known_extensions"):
        db.execute(f"SET {setting} = false")
    db.execute("SET lock_configuration = true")


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type where the message is empty)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
