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
Alma's own benchmark_model figure; `both` stores the two side by side. Example:

  parity bench --model resnet18,resnet50 --conversion EAGER,COMPILE_INDUCTOR_DEFAULT \\
               --batch-size 1,32 --device cuda --out h200.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    parser.add_argument("--label", help="free text stored with the run (e.g. a PR number)")
    add_db_option(parser)
    parser.add_argument("--out", type=Path,
                        help="also write a bundle for `parity ingest`; with neither --db nor $PARITY_DB, "
                             "only the bundle (no database)")


def run(args: argparse.Namespace) -> int:
    from collectors.bench import check_device, plan_cells, run_plan
    from collectors.bundle import prepare_out

    plan = _plan(args)
    plan_cells(plan)  # unknown conversion names stop here, before anything runs
    check_device(plan.device)
    db = database_for(args.db, args.out)
    if args.out:
        prepare_out(args.out)
    if db:
        _check_writable(db)
    with _ProgressBar() as bar:
        result = run_plan(plan, bar.update)
    print(_summary_table(result.measurements, plan.max_seconds))
    _save(result, args.out, db)
    return 0


def database_for(db: Path | None, out: Path | None) -> Path | None:
    """The database a bench run is stored in, or None for a bundle-only run: --db, else
    $PARITY_DB, else the default database unless --out was given."""
    import os

    from reporter.store import default_db_path

    if db or os.environ.get("PARITY_DB") or not out:
        return db or default_db_path()
    return None


def _check_writable(db: Path) -> None:
    """Open the database for writing and close it again, so that a lock held by another process
    (or a read-only file) stops the command before minutes of measuring, not after."""
    from collectors.errors import ParityError

    try:
        _open(db).close()
    except Exception as error:  # noqa: BLE001 - duckdb, OS or Parity errors alike
        raise ParityError(f"{db}: cannot open the database for writing: {_one_line(error)} "
                          "(nothing was measured)") from None


def _open(db: Path):
    from reporter.store import Store

    return Store.open(db)


def _save(result, out: Path | None, db: Path | None) -> None:
    """Write the bundle and/or store the run; when either fails, the measurements still end up in
    a bundle (a rescue bundle if need be), and the error says where and how to ingest it."""
    from collectors.bundle import write_bundle
    from collectors.errors import ParityError
    from reporter.runs import store_result

    run_id = result.run.run_id
    problems, bundle = [], None
    if out:
        try:
            bundle = write_bundle(result.run, result.measurements, out)
            print(f"bundle: {out} (run {run_id})")
        except Exception as error:  # noqa: BLE001 - keep going: the database may still take it
            problems.append(f"could not write the bundle {out}: {_one_line(error)}")
    if db:
        try:
            with _open(db) as store:
                store_result(store, result)
            print(f"database: {db} (run {run_id})")
        except Exception as error:  # noqa: BLE001 - the measurements must not be lost
            problems.append(f"could not store run {run_id} in {db}: {_one_line(error)}")
    if not problems:
        return
    if bundle is None and db is not None and not any(p.startswith("could not store") for p in problems):
        raise ParityError("; ".join(problems) + f" (the run is stored in {db})")
    rescue = bundle or _rescue_bundle(result, [db.parent if db else None, out.parent if out else None,
                                               Path.cwd()], db or out)
    where = f" --db {db}" if db else ""
    raise ParityError("; ".join(problems) + f"; the measurements are saved in {rescue}: "
                      f"store them with `parity ingest {rescue}{where}`")


def _rescue_bundle(result, folders: list[Path | None], beside: Path) -> Path:
    """`<db>.<run id>.bundle.json` in the first folder that takes it (the database's, by default)."""
    import tempfile

    from collectors.bundle import write_bundle
    from collectors.errors import ParityError

    name = f"{beside.name}.{result.run.run_id}.bundle.json"
    for folder in [*(f for f in folders if f is not None), Path(tempfile.gettempdir())]:
        try:
            return write_bundle(result.run, result.measurements, folder / name)
        except Exception:  # noqa: BLE001 - try the next folder
            continue
    raise ParityError(f"could not store run {result.run.run_id} anywhere, not even a rescue bundle")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _plan(args: argparse.Namespace):
    from pydantic import ValidationError

    from collectors.bench import BenchPlan, plan_error

    try:
        return BenchPlan(models=args.models, conversions=args.conversions, batch_sizes=args.batch_sizes,
                         device=args.device, platform=args.platform, target_ci=args.target_ci,
                         max_seconds=args.max_seconds, timeout_s=args.timeout, timer=args.timer,
                         label=args.label)
    except ValidationError as error:
        raise plan_error(error) from None


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
            self._bar.set_description(event.cell.label())
        else:
            self._bar.update()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join()
        self._bar.close()


def _summary_table(measurements, max_seconds: float | None = None) -> str:
    """The end-of-run table; a `!` marks a cell whose CI never reached --target-ci, explained
    below the table."""
    from collectors.bench import NOT_CONVERGED
    from reporter.formatting import milliseconds, text_table

    rows, loose = [], 0
    for m in measurements:
        ci = (f"±{max(m.median - m.ci95_low, m.ci95_high - m.median) / m.median:.1%}"
              if m.ci95_low is not None and m.ci95_high is not None and m.median else "")
        if m.status == "ok" and (m.message or "").startswith(NOT_CONVERGED):
            ci, loose = f"{ci}!", loose + 1
        note = m.failure_kind or ""
        rows.append([m.model, m.conversion, str(m.batch_size), m.method, m.status, milliseconds(m.median),
                     milliseconds(m.p95), ci, str(m.n_iterations or ""), note])
    table = text_table(["model", "conversion", "batch", "method", "status", "median", "p95", "ci95",
                        "iterations", "failure"], rows)
    if loose:
        budget = f" (now {max_seconds:g} s)" if max_seconds else ""
        table += (f"\n! {loose} cell(s) stopped at --max-seconds before the CI target: their median is "
                  f"uncertain (see the ci95 column); rerun them with a larger --max-seconds{budget}")
    return table
