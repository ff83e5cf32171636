"""Render the static HTML report (index, one page per platform, one per model x platform) and
summary.md from the database. The site opens from file:// with no network: Plotly's JavaScript
is written once into its assets/ folder, or inlined once with --single-file. The history
charts mark the change points found in each cell's nightly median latency.

  parity report --out site          # then open site/index.html
  parity report --single-file report.html

--out takes a new or empty folder, or one an earlier report wrote (other files there are kept);
a folder holding files that no report created is refused. Give --out or --single-file, not both.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reporter.commands import add_db_option, add_wait_option

HELP = "static HTML report with Plotly charts, and summary.md"
ORDER = 4
DEFAULT_OUT = Path("site")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db_option(parser)
    add_wait_option(parser, writes=False)
    parser.add_argument(
        "--out", type=Path, default=None, help=f"folder to write the site into (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--single-file",
        type=Path,
        metavar="FILE",
        default=None,
        help="write one self-contained HTML file instead of a site",
    )


def run(args: argparse.Namespace) -> int:
    from collectors.errors import ParityError
    from reporter.nightly import history_change_points
    from reporter.render import write_report, write_single_file
    from reporter.store import Store

    if args.out and args.single_file:  # one would be silently ignored
        raise ParityError("--out and --single-file: give one (a folder of pages, or one self-contained file)")
    with Store.open(args.db, read_only=True, wait_s=args.wait) as store:
        markers = history_change_points(store)  # marked on the model pages' history charts
        if args.single_file:
            path = write_single_file(store, args.single_file, change_points=markers)
        else:
            path = write_report(store, args.out or DEFAULT_OUT, change_points=markers)
    print(path)
    return 0
