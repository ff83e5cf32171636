"""Measure models through Alma's conversions with Parity's timer, each cell in its own subprocess.

A cell is one model × conversion × batch size. Each runs in a fresh `python -m collectors.worker`
with a timeout; a conversion that raises, crashes, runs out of memory or hangs is recorded and the
run goes on. Unknown names stop the command before anything runs; conversions `parity probe`
finds unavailable are recorded as such, not attempted.

Models: torchvision builder names (weights=None), or `module.path:factory` for your own network
(factory() returns an nn.Module; give it `parity_input_shape` for a non-image input).

Where results go: with neither --out nor --db, the default database ($PARITY_DB, else
./data/parity.duckdb); with --db, or $PARITY_DB set, that database (plus the bundle if --out);
with only --out and no $PARITY_DB, the bundle only. The database and the bundle's folder are
checked before anything is measured; if storing still fails at the end, the measurements are
written to a rescue bundle (the --out file, else `<db>.<run id>.bundle.json`) for `parity ingest`.

Timer (--timer): `synced` is Parity's (perf_counter around forward + device synchronise, CUDA
events beside it on a GPU, until the 95 % CI of the median is within --target-ci); `alma` is
Alma's own benchmark_model figure; `both` stores the two side by side. One process's CI does not
see how far the next fresh process's level lies (on the lent H200, up to 1.7× apart for host-bound
cells; benchmarks/README.md): --processes N times each cell in N fresh processes, pools their
samples, stores each process's median, and widens the CI to cover them. Example:

  parity bench --model resnet18,resnet50 --conversion EAGER,COMPILE_INDUCTOR_DEFAULT \\
               --batch-size 1,32 --device cuda --out h200.json
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from collectors.errors import ParityError
from reporter.commands import ListOption, add_db_option

HELP = "measure models × conversions × batch sizes on this machine"
ORDER = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", dest="models", action=ListOption, required=True, metavar="M",
                        help="torchvision builder name or module.path:factory (repeat or comma-separate)")
    parser.add_argument("--conversion", dest="conversions", action=ListOption, required=True, metavar="C",
                        help="Alma conversion name, e.g. EAGER (see `parity probe`)")
    parser.add_argument("--batch-size", dest="batch_sizes", action=ListOption, convert=int, required=True,
                        metavar="N", help="batch size(s)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--platform", help="platform id (default: detected, e.g. nvidia-h200)")
    parser.add_argument("--target-ci", type=float, default=0.01,
                        help="stop when the 95%% CI of the median is within ± this share of it (default 0.01)")
    parser.add_argument("--max-seconds", type=float, default=30.0,
                        help="time budget per cell for warm-up and timing, compile excluded (default 30); "
                             "a cell that spends it before reaching --target-ci is kept, marked ! and explained")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds before a cell's worker is killed and the cell recorded as timeout (default 900)")
    parser.add_argument("--timer", choices=("synced", "alma", "both"), default="both",
                        help="Parity's synced timer, Alma's own figure, or both (default)")
    parser.add_argument("--processes", type=int, default=1, metavar="N",
                        help="time each cell in N fresh processes and widen its CI to cover their medians "
                             "(default 1; Alma's loop runs in the first only)")
    parser.add_argument("--label", help="free text stored with the run (e.g. a PR number)")
    add_db_option(parser)
    parser.add_argument("--out", type=Path,
                        help="also write a bundle for `parity ingest`; with neither --db nor $PARITY_DB, "
                             "only the bundle (no database)")


# BenchPlan's fields as this command spells them: a plan error names the flag the user typed.
FLAGS = {"models": "--model", "conversions": "--conversion", "batch_sizes": "--batch-size", "device": "--device",
         "platform": "--platform", "target_ci": "--target-ci", "max_seconds": "--max-seconds",
         "timeout_s": "--timeout", "timer": "--timer", "label": "--label", "processes": "--processes"}


def run(args: argparse.Namespace) -> int:
    from collectors.bench import run_plan
    from collectors.bundle import prepare_out
    from collectors.plan import check_device, plan_cells
    from reporter.runs import check_writable, database_for, save_result

    plan = _plan(args)
    plan_cells(plan)  # unknown conversion names stop here, before anything runs
    check_device(plan.device)
    db = database_for(args.db, args.out)
    if args.out:
        prepare_out(args.out)
    if db:
        check_writable(db)
    # `timeout` and schedulers stop a run with SIGTERM, which would skip the `finally` that kills
    # the running worker's process group and leave the worker measuring beside the next job.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with _ProgressBar() as bar:
        result = run_plan(plan, bar.update)
    print(_summary_table(result.measurements, plan.max_seconds))
    for line in save_result(result, out=args.out, db=db):
        print(line)
    return 0


def _exit_on_sigterm(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def _plan(args: argparse.Namespace):
    from pydantic import ValidationError

    from collectors.plan import BenchPlan

    try:
        return BenchPlan(models=args.models, conversions=args.conversions, batch_sizes=args.batch_sizes,
                         device=args.device, platform=args.platform, target_ci=args.target_ci,
                         max_seconds=args.max_seconds, timeout_s=args.timeout, timer=args.timer,
                         label=args.label, processes=args.processes)
    except ValidationError as error:
        raise _flag_error(error) from None


def _flag_error(error) -> ParityError:
    """A plan's validation error in the words of the command line: `--batch-size 0: expected a
    positive number`."""
    from collectors.values import problem

    location, value, reason = problem(error)
    flag = FLAGS.get(str(location[0]), str(location[0])) if location else "bench"
    if isinstance(value, list) or value is None:  # the whole list is wrong (empty, or an empty name)
        return ParityError(f"{flag}: {reason}")
    shown = value if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)
    return ParityError(f"{flag} {shown}: {reason}")


class _ProgressBar:
    """A tqdm bar on stderr naming the cell being measured, with the elapsed time.

    tqdm redraws only on updates, and one cell can take minutes (a cold compile): a daemon thread
    redraws it every second so that the elapsed time keeps moving.
    """

    def __enter__(self) -> "_ProgressBar":
        import threading

        from tqdm import tqdm

        self._bar = tqdm(total=None, unit="cell", file=sys.stderr, dynamic_ncols=True)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()
        return self

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self._bar.refresh()

    def update(self, event) -> None:
        self._bar.total = event.total
        if event.measurements is None:
            self._bar.set_description(event.label())
        else:
            self._bar.update()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join()
        self._bar.close()


def _summary_table(measurements, max_seconds: float | None = None) -> str:
    """The end-of-run table; a `!` marks a cell whose CI never reached --target-ci, explained
    below the table."""
    from collectors import stats
    from reporter.formatting import milliseconds, text_table

    rows, loose, loose_processes = [], 0, False
    for m in measurements:
        ci = (f"±{stats.relative_halfwidth(m.median, m.ci95_low, m.ci95_high):.1%}"
              if m.ci95_low is not None and m.ci95_high is not None and m.median else "")
        if m.converged is False:
            ci, loose = f"{ci}!", loose + 1
            loose_processes = loose_processes or len(m.process_medians) > 1
        note = m.failure_kind or ""
        rows.append([m.model, m.conversion, str(m.batch_size), m.method, m.status, milliseconds(m.median),
                     milliseconds(m.p95), ci, str(m.n_iterations or ""), note])
    table = text_table(["model", "conversion", "batch", "method", "status", "median", "p95", "ci95",
                        "iterations", "failure"], rows)
    if loose:
        budget = f" (now {max_seconds:g} s)" if max_seconds else ""
        table += (f"\n! {loose} cell(s) stopped at --max-seconds before the CI target: their median is "
                  f"uncertain (see the ci95 column); rerun them with a larger --max-seconds{budget}")
        if loose_processes:
            table += ("; or their processes' medians disagree by more than the target, which more time "
                      "does not fix (see process_medians)")
    return table
