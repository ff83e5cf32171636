"""Noise-aware differences between two runs, for pull requests and nightly gates.

RUN is a run id, a label naming one run, `latest` or `latest~N` (the Nth run before the newest
with measurements of --method; --platform counts only that platform's runs). A cell changed
only when its median moved by at least --threshold percent AND the move is significant
(Mann–Whitney U on the raw samples, p < --alpha; without samples, disjoint 95 % CIs) AND, where
the cell has 6 or more nights of history up to the base run, the move exceeds 3 times its
night-to-night spread (column "night σ"). A cell with too little data for either test (fewer
than 3 samples a side and no real CIs from 6 or more) is "untested", never a change. Runs
whose environments differ, or a run compared with itself, are compared with a warning.

Exit status: 0 compared (also with the verdict NOTHING COMPARABLE: no cell in both runs, or
NOT TESTED), 1 a regression (a significant slowdown or a newly failing cell) with
--fail-on-regression, 2 an error (bad reference or option, no database, no cells). Examples:

  parity compare --base latest~1 --head latest
  parity compare --base nightly-1127 --head pr-42 --format markdown --fail-on-regression > comment.md
"""

from __future__ import annotations

import argparse

from reporter.cell_changes import DEFAULT_HISTORY_NIGHTS, DEFAULT_METHODS, DEFAULT_THRESHOLD_PCT
from reporter.commands import ListOption, add_db_option, add_wait_option
from reporter.significance import DEFAULT_ALPHA

HELP = "significant differences between two runs (PR comments, nightly gates)"
ORDER = 5
# The renderers' names, repeated so that `--help` need not import DuckDB (a test keeps them equal).
FORMATS = ("json", "markdown", "text")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, metavar="RUN", help="the run compared against")
    parser.add_argument("--head", required=True, metavar="RUN", help="the run under test")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when a cell regressed significantly or newly fails"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD_PCT,
        metavar="PCT",
        help=f"smallest change of the median that counts, in percent (default {DEFAULT_THRESHOLD_PCT:g})",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=DEFAULT_ALPHA,
        help=f"significance level of the Mann–Whitney U test (default {DEFAULT_ALPHA:g})",
    )
    parser.add_argument(
        "--history-nights",
        type=int,
        default=DEFAULT_HISTORY_NIGHTS,
        metavar="N",
        help=f"runs up to the base run that each cell's night-to-night spread comes from "
        f"(default {DEFAULT_HISTORY_NIGHTS}; 0: ignore the history)",
    )
    parser.add_argument(
        "--method",
        dest="methods",
        action=ListOption,
        metavar="M",
        help=f"timing methods compared, each cell apart "
        f"(default {','.join(DEFAULT_METHODS)}: caller latency and device time)",
    )
    parser.add_argument("--platform", help="only this platform's cells and runs (an alias such as h200 is resolved)")
    parser.add_argument(
        "--base-predictor",
        metavar="VERSION",
        help="predictor version scored against the base run (default: the newest "
        "first predicted before the head run started)",
    )
    parser.add_argument(
        "--head-predictor",
        metavar="VERSION",
        help="predictor version scored against the head run (default: the newest)",
    )
    parser.add_argument(
        "--report-link", metavar="URL", help="link or path to the HTML report, printed under the comparison"
    )
    add_db_option(parser)
    add_wait_option(parser, writes=False)


def run(args: argparse.Namespace) -> int:
    from reporter.compare import compare_runs
    from reporter.compare_formats import RENDERERS
    from reporter.store import Store

    with Store.open(args.db, read_only=True, wait_s=args.wait) as store:
        comparison = compare_runs(
            store,
            args.base,
            args.head,
            methods=args.methods or DEFAULT_METHODS,
            threshold_pct=args.threshold,
            alpha=args.alpha,
            history_nights=args.history_nights,
            platform=args.platform,
            base_predictor=args.base_predictor,
            head_predictor=args.head_predictor,
        )
    print(RENDERERS[args.format].render(comparison, args.report_link))
    return 1 if args.fail_on_regression and comparison.has_regression else 0
