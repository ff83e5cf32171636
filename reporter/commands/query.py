"""Answer one read-only SQL statement from the Parity database.

Tables: runs, sources, predictions, measurements, samples, subgraphs, proxies, schema_version;
views: comparisons, speedups, latest. Example:

  parity query "SELECT platform, median(abs_error_pct) FROM comparisons GROUP BY ALL"
"""
from __future__ import annotations

import argparse

from reporter.commands import add_db_option

HELP = "read-only SQL over the database"
ORDER = 6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", help="one SELECT statement (writes are refused)")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    add_db_option(parser)


def run(args: argparse.Namespace) -> int:
    from reporter.formatting import render_results
    from reporter.store import Store

    with Store.open(args.db, read_only=True) as store:
        results = store.query_readonly(args.sql)
    print(render_results(results.columns, results.rows, args.format))
    return 0
