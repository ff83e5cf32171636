"""Measure models through Alma's conversions with Parity's timer, in worker subprocesses.

A cell is one model × conversion × batch size. A model's cells run in one `python -m
collectors.worker` (--isolate: a fresh one per cell), each with a timeout; a conversion that
raises, crashes, runs out of memory or hangs is recorded, its worker replaced, and the run goes on.
Unknown names stop the command before anything runs; conversions `parity probe` finds unavailable
are recorded as such, not attempted.

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

from collectors.defaults import BENCH_DEFAULTS
from collectors.errors import Interrupted, ParityError
from reporter.commands import ListOption, add_db_option, add_wait_option

HELP = "measure models × conversions × batch sizes on this machine"
ORDER = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # No defaults here: BenchPlan's are the only ones (quoted in the help from BENCH_DEFAULTS), and
    # `--resume` takes every setting not given again from the run it continues.
    parser.add_argument(
        "--model",
        dest="models",
        action=ListOption,
        metavar="M",
        help="torchvision builder name or module.path:factory (repeat or comma-separate)",
    )
    parser.add_argument(
        "--conversion",
        dest="conversions",
        action=ListOption,
        metavar="C",
        help="Alma conversion name, e.g. EAGER (see `parity probe`)",
    )
    parser.add_argument(
        "--batch-size", dest="batch_sizes", action=ListOption, convert=int, metavar="N", help="batch size(s)"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), help=f"where to run (default {BENCH_DEFAULTS['device']})")
    parser.add_argument("--platform", help="platform id (default: detected, e.g. nvidia-h200)")
    parser.add_argument(
        "--target-ci",
        type=float,
        help="stop when the 95%% CI of the median is within ± this share of it "
        f"(default {BENCH_DEFAULTS['target_ci']})",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        help=f"time budget per cell for warm-up and timing, compile excluded (default "
        f"{BENCH_DEFAULTS['max_seconds']}); a cell that spends it before reaching --target-ci is "
        "kept, marked ! and explained",
    )
    parser.add_argument(
        "--timeout",
        dest="timeout_s",
        type=float,
        help="seconds before a cell's worker is killed and the cell recorded as timeout "
        f"(default {BENCH_DEFAULTS['timeout_s']})",
    )
    parser.add_argument(
        "--timer",
        choices=("synced", "alma", "both"),
        help=f"Parity's synced timer, Alma's own figure, or both (default {BENCH_DEFAULTS['timer']})",
    )
    parser.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="time each cell in N fresh processes and widen its CI to cover their medians "
        f"(default {BENCH_DEFAULTS['processes']}; Alma's loop runs in the first only)",
    )
    parser.add_argument(
        "--threads", type=int, metavar="N", help="torch and OpenMP threads in the worker (default: the usable cores)"
    )
    parser.add_argument("--label", help="free text stored with the run (e.g. a PR number)")
    parser.add_argument(
        "--layers",
        action="store_true",
        default=None,
        help="also time each leaf module's device work (profiler hooks, after the timed window), "
        "stored as measured subgraphs",
    )
    parser.add_argument(
        "--isolate",
        action="store_true",
        help="a fresh worker process for every cell (default: one per model, replaced after any failure)",
    )
    parser.add_argument(
        "--compile-cache",
        type=Path,
        metavar="DIR",
        help=f"folder for inductor's and Triton's compile caches, kept between runs (default: "
        f"$PARITY_COMPILE_CACHE, else {COMPILE_CACHE})",
    )
    parser.add_argument(
        "--resume",
        metavar="RUN",
        help="continue a killed run: its journal (or the --out bundle path it was writing), or its "
        "run id; the cells it finished are kept, the rest measured under the same run id",
    )
    add_db_option(parser)
    add_wait_option(parser, writes=True)
    parser.add_argument(
        "--out",
        type=Path,
        help="also write a bundle for `parity ingest`; with neither --db nor $PARITY_DB, only the bundle (no database)",
    )


# BenchPlan's fields as this command spells them: a plan error names the flag the user typed.
FLAGS = {
    "models": "--model",
    "conversions": "--conversion",
    "batch_sizes": "--batch-size",
    "device": "--device",
    "platform": "--platform",
    "target_ci": "--target-ci",
    "max_seconds": "--max-seconds",
    "timeout_s": "--timeout",
    "timer": "--timer",
    "label": "--label",
    "processes": "--processes",
    "layers": "--layers",
    "threads": "--threads",
}
COMPILE_CACHE = Path("~/.cache/parity/compile")


def run(args: argparse.Namespace) -> int:
    from collectors.bench import Session, run_plan
    from collectors.bundle import prepare_out
    from collectors.plan import check_device, plan_cells
    from reporter.bench_summary import end_of_run
    from reporter.runs import check_writable, database_for, journal_path, resumable, save_result

    out, db = args.out, database_for(args.db, args.out)
    earlier = resumable(args.resume, journal_path(out, db)) if args.resume else None
    if earlier and not (args.out or args.db):  # where the killed run was going
        out, db = earlier.out, earlier.db
    journal = earlier.path if earlier else journal_path(out, db)
    plan = _plan(args, earlier.run.settings if earlier else None)
    plan_cells(plan)  # unknown conversion names stop here, before anything runs
    check_device(plan.device)
    if out and not earlier:
        prepare_out(out)
    if db:
        check_writable(db, wait_s=args.wait)
    # `timeout` and schedulers stop a run with SIGTERM: it ends the run like Ctrl-C, through the
    # `finally` that kills the running worker's process group.
    signal.signal(signal.SIGTERM, _interrupt)
    session = Session(
        journal=journal,
        out=out,
        db=db,
        resume=earlier,
        isolate=args.isolate,
        compile_cache=(args.compile_cache or _compile_cache()).expanduser(),
    )
    print(f"parity bench: each finished cell is kept in {journal} until the run is stored", file=sys.stderr)
    with _ProgressBar() as bar:
        try:
            result = run_plan(plan, bar.update, session)
        except KeyboardInterrupt:
            raise Interrupted(
                f"{bar.finished} cell(s) finished and kept in {journal}: continue with "
                f"`parity bench --resume {journal}`, or store them now with `parity ingest {journal}`"
            ) from None
    print(end_of_run(result.measurements, plan.max_seconds))
    for line in save_result(result, out=out, db=db, wait_s=args.wait):
        print(line)
    journal.unlink(missing_ok=True)  # stored safely: the journal has done its work
    return 0


def _interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt


def _compile_cache() -> Path:
    import os

    return Path(os.environ.get("PARITY_COMPILE_CACHE") or COMPILE_CACHE)


def _plan(args: argparse.Namespace, stored: dict | None):
    """The plan the flags ask for; when resuming, the run's own settings with the flags given
    again, which must not change them."""
    from pydantic import ValidationError

    from collectors.plan import BenchPlan

    given = {field: getattr(args, field) for field in FLAGS if getattr(args, field, None) is not None}
    if stored is None and not {"models", "conversions", "batch_sizes"} <= set(given):
        missing = [FLAGS[f] for f in ("models", "conversions", "batch_sizes") if f not in given]
        raise ParityError(f"{', '.join(missing)}: required (or --resume a killed run)")
    for field, value in given.items():
        if stored is not None and field != "label" and stored.get(field) != value:
            raise ParityError(
                f"--resume: the run was asked for {FLAGS[field]} {_shown(stored.get(field))}, not "
                f"{_shown(value)}; resume it with the same settings, or start a new run"
            )
    try:
        return BenchPlan(**{**(stored or {}), **given})
    except ValidationError as error:
        raise _flag_error(error) from None


def _shown(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


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

    def __enter__(self) -> _ProgressBar:
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

    finished = 0  # cells finished in this session (a resumed run's earlier ones not counted)

    def update(self, event) -> None:
        self._bar.total = event.total
        if event.measurements is None and not event.skipped:
            self._bar.set_description(event.label())
        else:
            self._bar.update()
            self.finished += not event.skipped

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join()
        self._bar.close()
