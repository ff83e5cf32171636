"""Measure models through Alma's conversions with Parity's timer, each cell in its own subprocess.

A cell is one model × conversion × batch size. Each runs in a fresh `python -m collectors.worker`
with a timeout; a conversion that raises, crashes, runs out of memory or hangs is recorded and the
run goes on. Unknown names stop the command before anything runs; conversions `parity probe`
finds unavailable are recorded as such, not attempted.

Models: torchvision builder names (weights=None), or `module.path:factory` for your own network
(factory() returns an nn.Module; give it `parity_input_shape` for a non-image input).

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
                        help="time budget per cell for warm-up and timing, compile excluded (default 30)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds before a cell's worker is killed and the cell recorded as timeout (default 900)")
    parser.add_argument("--timer", choices=("synced", "alma", "both"), default="both",
                        help="Parity's synced timer, Alma's own figure, or both (default)")
    parser.add_argument("--label", help="free text stored with the run (e.g. a PR number)")
    add_db_option(parser)
    parser.add_argument("--out", type=Path, help="also (or, without --db, only) write a bundle for `parity ingest`")


def run(args: argparse.Namespace) -> int:
    from collectors.bench import plan_cells, run_plan
    from collectors.bundle import refuse_existing, write_bundle

    plan = _plan(args)
    plan_cells(plan)  # unknown conversion names stop here, before anything runs
    if args.out:
        refuse_existing(args.out)
    with _ProgressBar() as bar:
        result = run_plan(plan, bar.update)
    print(_summary_table(result.measurements))
    if args.out:
        write_bundle(result.run, result.measurements, args.out)
        print(f"bundle: {args.out} (run {result.run.run_id})")
    if args.db or not args.out:
        print(f"database: {_store(args.db, result)} (run {result.run.run_id})")
    return 0


def _plan(args: argparse.Namespace):
    from pydantic import ValidationError

    from collectors.bench import BenchPlan
    from collectors.errors import ParityError

    try:
        return BenchPlan(models=args.models, conversions=args.conversions, batch_sizes=args.batch_sizes,
                         device=args.device, platform=args.platform, target_ci=args.target_ci,
                         max_seconds=args.max_seconds, timeout_s=args.timeout, timer=args.timer,
                         label=args.label)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ParityError(f"{field} = {first.get('input')!r}: {first['msg']}") from None


def _store(db: Path | None, result) -> Path:
    from reporter.runs import store_result
    from reporter.store import Store

    with Store.open(db) as store:
        store_result(store, result)
        return store.path


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


def _summary_table(measurements) -> str:
    from reporter.formatting import milliseconds, text_table

    rows = []
    for m in measurements:
        ci = (f"±{max(m.median - m.ci95_low, m.ci95_high - m.median) / m.median:.1%}"
              if m.ci95_low is not None and m.median else "")
        note = m.failure_kind or ""
        rows.append([m.model, m.conversion, str(m.batch_size), m.method, m.status, milliseconds(m.median),
                     milliseconds(m.p95), ci, str(m.n_iterations or ""), note])
    return text_table(["model", "conversion", "batch", "method", "status", "median", "p95", "ci95",
                       "iterations", "failure"], rows)
