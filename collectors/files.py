"""The files an ingest may read: regular files, under the paths it was given, of a bounded size.

A FIFO, a socket or a device is never read (a FIFO nobody writes to would be waited on forever, a
device may never end); a symlink loop or an unreadable entry is one bad file, not a crash; a link
inside a folder that leads out of it is not followed (a folder from a pull request could otherwise
have its error messages show a file of the machine's); and no file is read past MAX_BYTES.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from collectors.errors import InputError
from collectors.text import visible

MAX_BYTES = 256 * 2**20  # far above any real input: a bundle of 100,000 samples is about 3 MB
KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


@dataclass
class Found:
    """The files under the paths given, in order; the folders among those paths; the paths that
    are bad inputs; and a line for each special file skipped in a folder."""

    files: list[Path] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def find(paths: Iterable[Path]) -> Found:
    """Files named, and files under folders named (recursively, hidden ones skipped)."""
    found = Found()
    for path in paths:
        problem, mode = _stat(path)
        if problem or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            found.errors.append(InputError(path, "path", str(path), problem or f"{kind(mode)}, not a regular file"))
        elif stat.S_ISDIR(mode):
            found.folders.append(path)
            _walk(path, found)
        else:
            found.files.append(path)
    return found


def _walk(folder: Path, found: Found) -> None:
    def unreadable(error: OSError) -> None:
        where = Path(error.filename or folder)
        found.errors.append(InputError(where, "folder", where.name, _cannot(error)))

    for root, dirs, names in os.walk(folder, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # pruned in place: os.walk skips them
        for name in sorted(n for n in names if not n.startswith(".")):
            _add(Path(root) / name, folder, found)


def _add(path: Path, folder: Path, found: Found) -> None:
    problem, mode = _stat(path)
    if problem:
        found.errors.append(InputError(path, "file", path.name, problem))
    elif not stat.S_ISREG(mode):
        found.skipped.append(f"skipped {visible(str(path))}: {kind(mode)}, not a regular file")
    elif path.is_symlink() and not within(path, [folder]):  # os.walk enters no linked folder: only a link leads out
        found.errors.append(
            InputError(path, "file", path.name, f"a link that leads outside {folder} (name its target to ingest it)")
        )
    else:
        found.files.append(path)


def real(path: Path) -> Path:
    """`path` with every link followed. Unlike Path.resolve, a symlink loop is no RuntimeError:
    it stays as far as it resolves, and reading it is then the bad file."""
    return Path(os.path.realpath(path))


def within(path: Path, folders: Sequence[Path]) -> bool:
    """Whether `path`, every link followed, lies under one of `folders`."""
    target = real(path)
    return any(target.is_relative_to(real(folder)) for folder in folders)


def not_regular(path: Path) -> str | None:
    """Why `path` is no file to read ("no such file", "a FIFO, not a regular file"), or None."""
    problem, mode = _stat(path)
    return problem or (None if stat.S_ISREG(mode) else f"{kind(mode)}, not a regular file")


def read_bytes(path: Path) -> bytes:
    """The content of the regular file `path`. It is opened without waiting and checked once
    open, so a FIFO put in its place since it was listed is refused, never waited on. Raises
    InputError (special file, unreadable, larger than MAX_BYTES)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(descriptor, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise InputError(path, "file", path.name, f"{kind(mode)}, not a regular file")
            data = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise InputError(path, "file", path.name, _cannot(error)) from None
    if len(data) > MAX_BYTES:
        raise InputError(path, "file", path.name, f"larger than {MAX_BYTES // 2**20} MiB, the most an input may be")
    return data


def kind(mode: int) -> str:
    return KINDS.get(stat.S_IFMT(mode), "not a file")


def _stat(path: Path) -> tuple[str | None, int]:
    """(why `path` cannot be looked at, or None; its mode, links followed)."""
    try:
        return None, os.stat(path).st_mode
    except OSError as error:
        return _cannot(error), 0


def _cannot(error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return "no such file or directory"
    return f"cannot read: {error.strerror or error}"
