"""Errors a user can act on. The CLI prints their message as one line, without a traceback."""
from __future__ import annotations

from pathlib import Path
from typing import Any


class ParityError(Exception):
    """A problem with the user's input, environment or request; the message says what and where."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a command that kept something: the message says what, and how to
    go on (`parity bench` keeps its finished cells in a journal)."""


class InputError(ParityError, ValueError):
    """A bad input file: says what, where (file, field) and which value, in one line."""

    def __init__(self, path: Path | str, field: str, value: Any, reason: str) -> None:
        self.path, self.field, self.value, self.reason = str(path), field, value, reason
        super().__init__(f"{path}: {field} = {_short(value)}: {reason}")


class ContextError(InputError):
    """A fact the file does not carry and the caller did not supply (Alma results name no model):
    `field` is the name of the missing `Context` fact, which a command turns into its flag."""


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
