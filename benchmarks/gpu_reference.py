"""Can users trust Parity's timer? Checks it against an independent CUDA-event reference.

Three steps, and a fourth check (see benchmarks/README.md for the commands and the H200 figures):

1. `parity bench --out DIR/bundle-rN.json`, run N times (N = 0, 1, 2): Parity's medians and its
   run-to-run spread (goal: (max - min) / mean of the three medians within 2 %).
2. `reference DIR`: for every cell that ran, the same converted call
   (`alma.conversions.select.select_forward_call_function`) timed by code that shares nothing
   with `collectors.timer`, in one fresh spawned process per cell: warm-up calls for at least 2 s
   and 50 calls (GPU clocks take a while to ramp up), then 300 calls bracketed by CUDA events two
   ways: `per_call`, synchronising after each call (the quantity Parity reports: one caller's
   latency), and `back_to_back`, one synchronise at the end (the host's launches overlap the
   previous call's GPU work: throughput time). Medians. Goal:
   Parity's median within 3 % of `per_call`. Files from before `per_call` existed hold only the
   back-to-back figure, which the table then uses.
3. `table DIR`: the Markdown table of both checks, plus Alma's own figure beside them.
4. `paired DIR --model M`: Parity's timer and the per-call reference taking turns in one process
   (DIR/paired.json), for machines whose speed drifts between processes.

  python benchmarks/gpu_reference.py reference DIR [--device cuda]
  python benchmarks/gpu_reference.py table DIR
  python benchmarks/gpu_reference.py paired DIR --model resnet50 [--conversions ...] [--batch-sizes 1,32]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from collectors.bundle import read_bundle  # noqa: E402  (after the path set-up)

WARMUP_CALLS = 50
WARMUP_SECONDS = 2.0
TIMED_CALLS = 300
CI_GOAL, SPREAD_GOAL = 0.03, 0.02
PAIRED_ROUNDS = 2


def reference_cell(model_name: str, conversion: str, batch_size: int, device: str) -> dict[str, float]:
    """Median CUDA-event times (ms) of the converted call, per call and back to back; runs in a
    fresh spawned process."""
    import torch

    forward = _converted_call(model_name, conversion, batch_size, device)
    with torch.no_grad():
        _warm_up(torch, forward)
        return {
            "per_call": _event_median(torch, forward, wait_each=True),
            "back_to_back": _event_median(torch, forward, wait_each=False),
        }


def paired_cell(model_name: str, conversion: str, batch_size: int, device: str) -> dict[str, list[float]]:
    """Parity's timer and the per-call reference taking turns on one converted call in one process
    (P R P R): the level of host-bound cells differs between processes, so only a same-process
    comparison checks the timer itself."""
    import torch

    from collectors.timer import CudaEvents, TimerSettings, time_calls

    forward = _converted_call(model_name, conversion, batch_size, device)
    settings = TimerSettings(max_seconds=3.0)
    figures: dict[str, list[float]] = {"parity": [], "per_call": []}
    with torch.no_grad():
        _warm_up(torch, forward)
        for _ in range(PAIRED_ROUNDS):
            timing = time_calls(forward, torch.cuda.synchronize, settings, events=CudaEvents(torch))
            figures["parity"].append(statistics.median(timing.samples))
            figures["per_call"].append(_event_median(torch, forward, wait_each=True))
    return figures


def _converted_call(model_name: str, conversion: str, batch_size: int, device: str):
    """Alma's converted forward call on the cell's input, as a function of no arguments."""
    import torch

    from collectors.alma_compat import alma_module
    from collectors.models import model_and_input

    model, data = model_and_input(model_name, conversion, batch_size, device)
    forward = alma_module("alma.conversions.select").select_forward_call_function(
        model, conversion, data, torch.device(device)
    )
    return lambda: forward(data)


def _warm_up(torch, call) -> None:
    calls, deadline = 0, time.perf_counter() + WARMUP_SECONDS
    while calls < WARMUP_CALLS or time.perf_counter() < deadline:
        call()
        torch.cuda.synchronize()
        calls += 1


def _event_median(torch, call, *, wait_each: bool) -> float:
    pairs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(TIMED_CALLS)]
    for start, end in pairs:
        start.record()
        call()
        end.record()
        if wait_each:
            end.synchronize()
    torch.cuda.synchronize()
    return statistics.median(start.elapsed_time(end) for start, end in pairs)


def load_runs(folder: Path) -> list[list]:
    """The measurements of each bundle-r*.json in `folder`, in repeat order."""
    runs = []
    for path in sorted(folder.glob("bundle-r*.json")):
        runs.append(read_bundle(path.read_bytes(), path)[1])
    return runs


def run_reference(folder: Path, device: str) -> None:
    cells = sorted(
        {
            (m.model, m.conversion, m.batch_size)
            for m in load_runs(folder)[0]
            if m.method == "synced-e2e" and m.status == "ok"
        }
    )
    _run_cells(reference_cell, cells, device, folder / "reference.json")


def run_paired(folder: Path, device: str, model: str, conversions: list[str], batch_sizes: list[int]) -> None:
    cells = [(model, conversion, batch) for conversion in conversions for batch in batch_sizes]
    folder.mkdir(parents=True, exist_ok=True)
    _run_cells(paired_cell, cells, device, folder / "paired.json")


def _run_cells(measure, cells: list[tuple[str, str, int]], device: str, path: Path) -> None:
    """`measure` of each cell in a fresh spawned process, saved to `path` after every cell (so
    that a step cut off by its time limit keeps what it measured)."""
    results = {}
    for model, conversion, batch_size in cells:
        key = f"{model}|{conversion}|{batch_size}"
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            try:
                results[key] = pool.submit(measure, model, conversion, batch_size, device).result(timeout=600)
            except Exception as error:  # noqa: BLE001 - one bad cell must not lose the others
                print(f"{measure.__name__} {key}: {error}", file=sys.stderr)
        print(f"{measure.__name__} {key}: {results.get(key)}", flush=True)
        path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


def table(folder: Path) -> str:
    runs = load_runs(folder)
    reference = json.loads((folder / "reference.json").read_text())
    by_cell = {}
    for repeat, measurements in enumerate(runs):
        for m in measurements:
            by_cell.setdefault((m.model, m.batch_size, m.conversion), {})[(m.method, repeat)] = m
    lines = [
        "| model | batch | conversion | Parity median ms | Parity GPU-event median ms | reference per call ms "
        "| reference back to back ms | Parity / reference | run-to-run spread | Alma ms/batch "
        "| Alma / reference | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (model, batch, conversion), cell in sorted(by_cell.items()):
        figures = reference.get(f"{model}|{conversion}|{batch}") or {}
        figures = figures if isinstance(figures, dict) else {"back_to_back": figures}  # older files
        lines.append(_row(model, batch, conversion, cell, figures, len(runs)))
    return "\n".join(lines)


def _row(model: str, batch: int, conversion: str, cell: dict, figures: dict[str, float], repeats: int) -> str:
    first = cell[("synced-e2e", 0)]
    alma = cell.get(("alma", 0))
    if first.status != "ok":
        status = f"{first.status}: {first.failure_kind}"
        return f"| {model} | {batch} | {conversion} | – | – | – | – | – | – | {_ms(alma)} | – | {status} |"
    ref = figures.get("per_call", figures.get("back_to_back"))
    medians = [
        cell[("synced-e2e", r)].median
        for r in range(repeats)
        if ("synced-e2e", r) in cell and cell[("synced-e2e", r)].status == "ok"
    ]
    spread = (max(medians) - min(medians)) / statistics.mean(medians) if len(medians) > 1 else None
    ratio = first.median / ref if ref else None
    gpu = statistics.median(first.gpu_samples) if first.gpu_samples else None
    misses = [
        goal
        for goal, bad in (
            ("ref>3%", ratio and abs(ratio - 1) > CI_GOAL),
            ("spread>2%", spread is not None and spread > SPREAD_GOAL),
            ("reference not run", ratio is None),
            ("one run", spread is None),
        )
        if bad
    ]
    alma_ratio = f"{alma.median / ref:.2f}" if alma and alma.median and ref else "–"
    return (
        f"| {model} | {batch} | {conversion} | {first.median:.3f} | {_num(gpu)} | {_num(figures.get('per_call'))} | "
        f"{_num(figures.get('back_to_back'))} | "
        f"{_num(ratio)} | {_pct(spread)} ({len(medians)} runs) | {_ms(alma)} | {alma_ratio} | "
        f"{', '.join(misses) or 'both goals met'} |"
    )


def _ms(m) -> str:
    return f"{m.median:.3f}" if m is not None and m.median is not None else "–"


def _num(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "–"


def _pct(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("reference", "paired", "table"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default="resnet50", help="paired: the model")
    parser.add_argument("--conversions", default="EAGER,FP16+EAGER,COMPILE_INDUCTOR_DEFAULT,COMPILE_CUDAGRAPHS")
    parser.add_argument("--batch-sizes", default="1,32")
    args = parser.parse_args()
    if args.step == "reference":
        run_reference(args.folder, args.device)
    elif args.step == "paired":
        run_paired(
            args.folder,
            args.device,
            args.model,
            args.conversions.split(","),
            [int(b) for b in args.batch_sizes.split(",")],
        )
    else:
        print(table(args.folder))


if __name__ == "__main__":
    main()
