"""The `parity` console script: parses, calls the library, prints. One module per command.

Each module in `reporter/commands/` is one command: it exposes `HELP` (one line), `ORDER` (its
place in `--help`), `add_arguments(parser)` and `run(args) -> int`; heavy imports stay inside
`run` so that `--help` is instant. A new command is one new module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import select
import signal
import sys
from collections.abc import Sequence
from types import ModuleType

import reporter.commands
from collectors.errors import Interrupted, ParityError


def command_modules() -> list[ModuleType]:
    names = [info.name for info in pkgutil.iter_modules(reporter.commands.__path__)]
    modules = [importlib.import_module(f"reporter.commands.{name}") for name in names]
    return sorted(modules, key=lambda module: module.ORDER)


def create_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parity", description="How far are performance predictions from what the hardware really does?"
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules():
        name = module.__name__.rsplit(".", 1)[-1]
        sub = subcommands.add_parser(
            name, help=module.HELP, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        sub.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks on errors"
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = create_parser().parse_args(argv)
    try:
        status = args.handler(args)
        sys.stdout.flush()  # a reader gone away (`| head -1`) shows here, not after main has returned
        return status
    except ParityError as error:
        if args.debug:
            raise
        print(f"parity {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a path the user gave: missing folder, not a folder, no permission
        if isinstance(error, BrokenPipeError) and _reader_gone():
            return _quiet_sigpipe()
        if args.debug:
            raise
        print(
            f"parity {args.command}: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt as interruption:
        if args.debug:
            raise
        said = str(interruption) if isinstance(interruption, Interrupted) else "nothing half-written was kept"
        print(f"parity {args.command}: interrupted; {said}", file=sys.stderr)
        return 130


def _reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it; a broken pipe elsewhere (a worker's) is an error."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() here, or stdout is no file (a test's capture)
        return False


def _quiet_sigpipe() -> int:
    """End as Unix tools end when their reader goes away: no message, the status of SIGPIPE."""
    # The interpreter flushes stdout once more on the way out: let that go to /dev/null, not the broken pipe.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
