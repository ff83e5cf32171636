"""Store graphs predictions, calibration measurements, Alma results and Parity bundles.

Files and folders (recursively; hidden ones skipped); each file's format is detected from its
content, never its name. The same content twice is stored once. All of one command's writes are
one transaction. Bad files are listed one line each and make the exit status 1; with --strict,
one bad file means nothing is stored. Examples:

  parity ingest predictions/ calibration/jetson_orin_agx_30w/manifest.json
  parity ingest alma_results.json --model resnet18 --platform intel-i7-12700k --batch-size 4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reporter.commands import add_db_option, add_wait_option

HELP = "store prediction, measurement and bundle files (format detected from content)"
ORDER = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    add_db_option(parser)
    add_wait_option(parser, writes=True)
    parser.add_argument(
        "--platform-map",
        type=Path,
        metavar="FILE",
        help="JSON with extra platform `aliases`, `default_power_modes` and `proxies`",
    )
    parser.add_argument("--model", help="model of an Alma results file (it names none)")
    parser.add_argument("--platform", help="platform of an Alma results file, power mode after '@'")
    parser.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="configured batch size of an Alma results file (its own is the last batch's)",
    )
    parser.add_argument("--strict", action="store_true", help="store nothing if any file is bad")


# The facts a file may lack (collectors.formats.Context), as this command's flags.
FLAGS = {"model": "--model", "platform": "--platform", "batch_size": "--batch-size"}


def run(args: argparse.Namespace) -> int:
    from collectors.names import Names
    from reporter.ingest import read_inputs, told_if_interrupted, write_inputs
    from reporter.store import Store

    names = Names.load(args.platform_map)
    # Every file is read before the database is opened for writing: no input holds the lock.
    inputs = read_inputs(
        args.paths, args.db, names=names, model=args.model, platform=args.platform, batch_size=args.batch_size
    )
    report = inputs.report
    with told_if_interrupted(report):  # Ctrl-C after the commit says what was stored
        with Store.open(args.db, wait_s=args.wait) as store:
            write_inputs(store, inputs, strict=args.strict)
        for warning in report.warnings:
            print(f"parity ingest: warning: {warning}", file=sys.stderr)
        for error in report.errors:
            print(f"parity ingest: bad file: {_in_flags(error)}", file=sys.stderr)
        print("\n".join(report.summary()))
    return 1 if report.errors else 0


def _in_flags(error) -> str:
    """A bad file's line; a fact the file lacks is named by the flag that supplies it."""
    from collectors.errors import ContextError, InputError

    if not isinstance(error, ContextError):
        return str(error)
    hint = " (pass --model M --platform P --batch-size N)" if error.value is None else ""
    return str(InputError(error.path, FLAGS.get(error.field, error.field), error.value, error.reason + hint))
