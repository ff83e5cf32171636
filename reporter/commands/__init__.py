"""One module per `parity` command; options shared by several commands live here."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reporter.location import default_db_path


class ListOption(argparse.Action):
    """A repeatable option that also takes comma-separated values: `--model a --model b,c`."""

    def __init__(self, *args: Any, convert: Callable[[str], Any] = str, **kwargs: Any) -> None:
        self.convert = convert
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        items = list(getattr(namespace, self.dest, None) or [])
        for part in str(values).split(","):
            if part.strip():
                try:
                    items.append(self.convert(part.strip()))
                except ValueError:
                    parser.error(f"{option_string}: invalid value {part.strip()!r}")
        setattr(namespace, self.dest, items)


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=Path, default=None, help=f"DuckDB file (default: $PARITY_DB, else {default_db_path()})"
    )


WRITER_WAIT_S = 60.0


def add_wait_option(parser: argparse.ArgumentParser, *, writes: bool) -> None:
    """`--wait SECONDS`: how long to wait for a database another process holds. A writer waits a
    minute by default (an ingest queued behind another's, a bench finishing its store); a reader
    says at once that the database is busy, unless told to wait."""
    default = WRITER_WAIT_S if writes else 0.0
    parser.add_argument(
        "--wait",
        type=_seconds,
        default=default,
        metavar="SECONDS",
        help=f"wait this long for a database another process holds (default {default:g}; 0: fail at once)",
    )


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"expected seconds ≥ 0, got {text!r}")
    return value
