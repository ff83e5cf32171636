"""Errors a user can act on. The CLI prints their message as one line, without a traceback."""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

from collectors.text import visible

VALUE_LIMIT = 60  # characters of a value shown in a message


class ParityError(Exception):
    """A problem with the user's input, environment or request; the message says what and where."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a command that kept something: the message says what, and how to
    go on (`parity bench` keeps its finished cells in a journal)."""


class InputError(ParityError, ValueError):
    """A bad input file: says what, where (file, field) and which value, in one line."""

    def __init__(self, path: Path | str, field: str, value: Any, reason: str) -> None:
        self.path, self.field, self.value, self.reason = str(path), field, value, reason
        # A file name or field may hold a line break or a terminal escape: shown as escapes, one line.
        super().__init__(f"{visible(self.path)}: {visible(field)} = {short(value)}: {visible(reason)}")


class ContextError(InputError):
    """A fact the file does not carry and the caller did not supply (Alma results name no model):
    `field` is the name of the missing `Context` fact, which a command turns into its flag."""


def _bounded_repr() -> reprlib.Repr:
    # reprlib stops at a depth and a length, so a value 200 lists deep or 100 MB long costs no more
    # to show than a short one (repr() would walk all of it).
    shown = reprlib.Repr()
    shown.maxlevel, shown.maxstring, shown.maxother = 4, 2 * VALUE_LIMIT, 2 * VALUE_LIMIT
    shown.maxlist = shown.maxtuple = shown.maxdict = shown.maxset = 12
    return shown


_REPR = _bounded_repr()


def short(value: Any, limit: int = VALUE_LIMIT) -> str:
    """`value` as repr shows it (control characters escaped), cut to `limit` characters."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
