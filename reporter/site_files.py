"""All-or-nothing writing of the report: a folder of pages, or one file.

A site is written into a hidden sibling staging folder and swapped in only once complete; a
single file is written beside its target and renamed over it. An error or Ctrl-C while writing
leaves the previous report as it was and no partial one behind. The swap is a few renames (each
of the report's entries: the old one aside, the new one in, then the old ones deleted) with
SIGINT and SIGTERM held off; files of others in a folder a report created are kept. A report is
never written into a folder that holds files no report created (`--out /`, a home folder), and
what a killed report left beside its target (a staging or set-aside folder of a process that is
gone) is removed by the next one.

This module knows files only: what goes in them is reporter.render's business.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import plotly

from collectors.errors import ParityError

ASSETS = Path(__file__).resolve().parent.parent / "templates" / "assets"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
ASSET_FILES = (PLOTLY_JS, ASSETS / "parity.js", ASSETS / "parity.css")  # what every site's assets/ holds
SITE_MARKER = ".parity-report"  # marks a folder a report wrote, so its entries may be replaced


class RenderError(ParityError):
    """The report cannot be written where asked."""


def write_site(out: Path, fill: Callable[[Path], None]) -> None:
    """Have `fill` write a site into an empty staging folder, then put it at `out` in one swap.

    Raises RenderError when `out` is a file, holds report entries a report did not write, or
    cannot be written; anything `fill` raises (KeyboardInterrupt too) leaves `out` as it was.
    """
    _check_folder(out)
    target = out.resolve()
    _remove_left_behind(target)
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)  # left by an earlier run of this process id
    try:
        staging.mkdir(parents=True)
        (staging / SITE_MARKER).write_text("written by parity report; the whole folder is replaced on each run\n")
        fill(staging)
        _swap_in(staging, target)
    except BaseException as error:  # KeyboardInterrupt too: nothing half-written stays
        shutil.rmtree(staging, ignore_errors=True)
        _raise_unwritable(out, error)


def write_file(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all: beside it first, then renamed over it.

    Raises RenderError when `path` is a folder or cannot be written.
    """
    if path.is_dir():  # `/` and `.` too, which have no file name to stage beside
        raise RenderError(f"{path}: is a folder; --single-file takes the path of an HTML file")
    _remove_left_behind(path.resolve())
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            staging.unlink(missing_ok=True)
        _raise_unwritable(path, error)


def write(folder: Path, relative: str, text: str) -> None:
    """Write `text` to `relative` inside `folder`, creating its parents. Raises RenderError when
    `relative` leads outside `folder`."""
    target = (folder / relative).resolve()
    if not target.is_relative_to(folder.resolve()):  # pages.slug() prevents this; refuse rather than trust it
        raise RenderError(f"{relative}: refusing to write outside {folder}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def copy_assets(folder: Path) -> None:
    """Put Plotly's JavaScript, parity.js and parity.css into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in ASSET_FILES:
        shutil.copyfile(source, folder / source.name)


def read_asset(path: Path) -> str:
    """An asset's text, for inlining into a <script> or <style>. Raises RenderError when it
    contains '</script', which would end the inline script early."""
    text = path.read_text(encoding="utf-8")
    if "</script" in text.lower():
        raise RenderError(f"{path}: cannot be inlined (contains '</script')")
    return text


def _raise_unwritable(where: Path, error: BaseException) -> NoReturn:
    """Re-raise `error`, an OSError as one RenderError line naming `where`."""
    if isinstance(error, OSError):
        raise RenderError(f"{where}: cannot write the report: {error.strerror or error}") from None
    raise error


def _check_folder(out: Path) -> None:
    """Refuse a file, and a folder with files in it that a report did not create (its marker file
    says which did): the swap would mix a report into them, or replace a user's own `assets/`."""
    if out.exists() and not out.is_dir():
        raise RenderError(f"{out}: exists and is not a folder; pass --out a folder")
    if out.is_dir() and not (out / SITE_MARKER).exists() and any(out.iterdir()):
        raise RenderError(
            f"{out}: a folder with other files that no report created; "
            "pass --out a new or empty folder, or one an earlier report wrote"
        )


def _remove_left_behind(target: Path) -> None:
    """Remove the staging (`.NAME.tmp-PID`) and set-aside (`.NAME.old-PID`) entries beside `target`
    whose process is gone: a report killed with SIGKILL, which no handler sees, leaves them."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(tmp|old)-(\d+)")
    with contextlib.suppress(OSError), os.scandir(target.parent) as entries:  # the write says why not
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if match and not _running(int(match.group(2))):
                _remove(Path(entry.path))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to someone else
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _swap_in(staging: Path, target: Path) -> None:
    """Put the finished site in `staging` at `target`. A new folder is one rename. Into an
    existing one (an earlier report, perhaps with others' files beside it, such as the demo's
    platform map), each of the report's entries is swapped: the old one renamed aside into a
    hidden sibling folder, the new one renamed in; the old ones are deleted once all are in. On
    a failure the old entries are put back."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        staging.rename(target)
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    old.mkdir()
    aside, moved_in = [], []
    if (target / SITE_MARKER).exists():  # it stays: a kill mid-swap must not leave the folder unmarked
        (staging / SITE_MARKER).unlink()
    with _signals_held():
        try:
            for name in sorted(entry.name for entry in staging.iterdir()):
                if (target / name).exists() or (target / name).is_symlink():
                    (target / name).rename(old / name)
                    aside.append(name)
                (staging / name).rename(target / name)
                moved_in.append(name)
        except BaseException:
            for name in reversed(moved_in):
                (target / name).rename(staging / name)
            for name in aside:
                (old / name).rename(target / name)
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)  # the previous report's entries, or nothing
    staging.rmdir()


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (where the platform can hold them): the
    swap's renames are not cut in half by Ctrl-C."""
    signals = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
