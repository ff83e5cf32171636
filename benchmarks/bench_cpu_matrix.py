"""Wall time of a small CPU bench matrix, for two or more checkouts run in turns in one sitting.

Runs `parity bench --model mobilenet_v3_small --conversion EAGER,JIT_TRACE --batch-size 1,2,4
--device cpu --max-seconds 1 --timer synced --out …` with each checkout on PYTHONPATH (the same
interpreter and libraries for all), alternating checkouts run by run so that a drifting machine
affects each alike. Prints every run's wall time, each checkout's median, and, where the bundle
records phases (Parity after 3274a95), the seconds per phase of each cell and of the whole run.

  .venv/bin/python benchmarks/bench_cpu_matrix.py --checkout OLD --checkout . [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MATRIX = ["--model", "mobilenet_v3_small", "--conversion", "EAGER,JIT_TRACE", "--batch-size", "1,2,4"]
SETTINGS = ["--device", "cpu", "--max-seconds", "1", "--timer", "synced"]


def run_once(checkout: Path, scratch: Path) -> tuple[float, list[dict]]:
    """One bench of the matrix with `checkout`'s code: its wall time and the bundle's measurements."""
    stamp = time.monotonic_ns()
    out = scratch / f"run-{stamp}.json"
    # A database of its own: checkouts of different schema versions never share one.
    env = {**os.environ, "PYTHONPATH": str(checkout), "PARITY_DB": str(scratch / f"run-{stamp}.duckdb")}
    argv = [sys.executable, "-m", "reporter.cli", "bench", *MATRIX, *SETTINGS, "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(argv, cwd=scratch, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, json.loads(out.read_text())["measurements"]


def phases_by_cell(measurements: list[dict]) -> dict[str, dict[str, float]]:
    """Seconds per phase of each cell (its methods together), as the bench's end-of-run table."""
    cells: dict[str, dict[str, float]] = {}
    for m in measurements:
        phases = cells.setdefault(f"{m['conversion']} bs{m['batch_size']}", {})
        for name, seconds in (m.get("phase_s") or {}).items():
            phases[name] = phases.get(name, 0.0) + seconds
    return cells


def print_phases(cells: dict[str, dict[str, float]]) -> None:
    names = list(dict.fromkeys(name for phases in cells.values() for name in phases))
    print(f"{'cell':<16}" + "".join(f"{name:>9}" for name in names) + f"{'total':>9}")
    for cell, phases in cells.items():
        print(f"{cell:<16}" + "".join(f"{phases.get(n, 0):>9.2f}" for n in names) + f"{sum(phases.values()):>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, action="append", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    checkouts = [path.resolve() for path in args.checkout]
    walls: dict[Path, list[float]] = {path: [] for path in checkouts}
    last: dict[Path, list[dict]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.repeat):
            for checkout in checkouts:
                wall, last[checkout] = run_once(checkout, Path(scratch))
                walls[checkout].append(wall)
                print(f"round {round_ + 1}: {checkout}: {wall:.1f} s", flush=True)
    for checkout in checkouts:
        print(f"\n{checkout}: median {statistics.median(walls[checkout]):.1f} s of {walls[checkout]}")
        cells = phases_by_cell(last[checkout])
        if any(cells.values()):
            print_phases(cells)


if __name__ == "__main__":
    main()
