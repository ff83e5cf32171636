"""Answer one read-only SQL statement from the Parity database.

Tables: runs, sources, predictions, measurements, samples, subgraphs, proxies, schema_version;
views: latest, newest_predictions, comparisons, current_comparisons, quantity_comparisons,
current_quantity_comparisons, speedups, subgraph_pairs, operation_errors; table macros:
pair_quantities(predicted_rows, measured_rows), pair_latencies(...) (README, "The store (DuckDB)",
says what each holds). The SQL reads the database and nothing else: no other file,
no network, no extension, unless a folder is named with --read (e.g. a Parquet history). Rows are
written as they come, so a result larger than memory streams through. Examples:

  parity query "SELECT platform, median(abs_error_pct) FROM comparisons GROUP BY ALL"
  parity query --read history "SELECT count(*) FROM read_parquet('history/*/*/*.parquet')"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collectors.errors import ParityError
from reporter.commands import add_db_option, add_wait_option

HELP = "read-only SQL over the database"
ORDER = 6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", help="one SELECT statement (writes are refused)")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument(
        "--read",
        dest="readable",
        action="append",
        type=Path,
        metavar="DIR",
        help="a folder whose files the SQL may read (repeat for more); no other file is readable",
    )
    add_db_option(parser)
    add_wait_option(parser, writes=False)


def run(args: argparse.Namespace) -> int:
    from reporter.formatting import render_stream
    from reporter.store import Store

    readable = args.readable or []
    for folder in readable:
        if not folder.is_dir():
            raise ParityError(f"--read {folder}: no such folder")
    with Store.open(args.db, read_only=True, wait_s=args.wait, readable=readable) as store:
        rows = store.query_readonly(args.sql)
        for piece in render_stream(rows.columns, rows.batches, args.format):
            sys.stdout.write(piece)
    return 0
