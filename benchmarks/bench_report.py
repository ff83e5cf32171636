"""How long `parity report` takes on a long history, and how much memory and page size it needs.

Generates a database of N runs (default 1,000: 200 nights on 5 platforms, each run measuring
20 models x 10 conversions x 5 batch sizes = 1,000,000 measurement rows) and 100,000 predictions
(one predictor version per night for every cell), inserted as Arrow tables; then runs
`parity report` on it in a child process and prints wall time, the child's CPU time and peak
RSS, and the largest page. Targets: <= 10 s, <= 1.5 GB, no page over 2 MB. Prints figures;
asserts only that the site was written.

  .venv/bin/python benchmarks/bench_report.py [--nights 200] [--keep DIR] [--repeat N] [--db FILE]

On a shared machine one run says little: --repeat renders N times and prints the median, and
--db renders an existing database (say another checkout's `parity report` on the same history:
the child runs `python -m reporter.cli` from the current folder).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from reporter.store import Store

PLATFORMS = ["jetson-orin-agx-64gb@30w", "intel-i7-12700k", "h100-sxm5-80gb", "nvidia-h200", "jetson-orin-nano@15w"]
MODELS = [f"model_{i:02d}" for i in range(20)]
CONVERSIONS = ["EAGER"] + [f"CONVERSION_{i}" for i in range(9)]
BATCH_SIZES = [1, 4, 16, 32, 64]
FAILURE_SHARE = 0.01
START = dt.datetime(2026, 1, 1, 2, 0)


def generate(path: Path, nights: int, seed: int = 0) -> tuple[int, int, int]:
    """Write the benchmark database; returns (runs, measurement rows, prediction rows)."""
    rng = np.random.default_rng(seed)
    with Store.open(path) as store, store.atomic():
        runs = _runs(nights)
        store.insert_columns("runs", runs)
        measurements = _measurements(rng, nights)
        store.insert_columns("measurements", measurements)
        predictions = _predictions(rng, nights)
        store.insert_columns("predictions", predictions)
        store.add_proxies({"nvidia-h200": "h100-sxm5-80gb"})
    return runs.num_rows, measurements.num_rows, predictions.num_rows


def _runs(nights: int) -> pa.Table:
    night, platform = np.divmod(np.arange(nights * len(PLATFORMS)), len(PLATFORMS))
    started = [START + dt.timedelta(days=int(n)) for n in night]
    return pa.table(
        {
            "run_id": [f"run-{n:04d}-{p}" for n, p in zip(night, platform, strict=True)],
            "kind": ["bench"] * len(night),
            "started_at": started,
            "host": [f"host-{p}" for p in platform],
            "platform": [PLATFORMS[p] for p in platform],
            "environment": ['{"python": "3.11", "torch": "2.11"}'] * len(night),
        }
    )


def _measurements(rng: np.random.Generator, nights: int) -> pa.Table:
    # One row per (night, platform, model, conversion, batch size), in that nesting order.
    shape = (nights, len(PLATFORMS), len(MODELS), len(CONVERSIONS), len(BATCH_SIZES))
    night, platform, model, conversion, batch = (axis.ravel() for axis in np.indices(shape))
    rows = night.size
    base = (1.0 + model) * np.array(BATCH_SIZES)[batch] ** 0.8 / (1.0 + 0.15 * conversion) / (1.0 + platform)
    median = base * (1.0 + 0.03 * rng.standard_normal(rows)) * np.where(night > nights // 2, 1.1, 1.0)
    ok = rng.random(rows) > FAILURE_SHARE

    def names(values: list[str], index: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), pa.array(values))

    return pa.table(
        {
            "measurement_id": np.arange(rows),
            "model": names(MODELS, model),
            "platform": names(PLATFORMS, platform),
            "precision": names(["fp32"], np.zeros(rows, int)),
            "batch_size": np.array(BATCH_SIZES)[batch],
            "conversion": names(CONVERSIONS, conversion),
            "device": names(["cuda"], np.zeros(rows, int)),
            "method": names(["synced-e2e"], np.zeros(rows, int)),
            "status": names(["failed", "ok"], ok.astype(int)),
            "median": np.where(ok, median, np.nan),
            "p05": np.where(ok, median * 0.97, np.nan),
            "p95": np.where(ok, median * 1.05, np.nan),
            "measured_at": pa.array(np.datetime64(START) + (night * 86400 + 1800).astype("timedelta64[s]")),
            "run_id": pa.array([f"run-{n:04d}-{p}" for n, p in zip(night, platform, strict=True)]),
        }
    )


def _predictions(rng: np.random.Generator, nights: int) -> pa.Table:
    shape = (nights, len(PLATFORMS), len(MODELS), len(BATCH_SIZES))
    night, platform, model, batch = (axis.ravel() for axis in np.indices(shape))
    latency = (1.0 + model) * np.array(BATCH_SIZES)[batch] ** 0.8 / (1.0 + platform) * rng.uniform(0.6, 1.5, night.size)
    return pa.table(
        {
            "model": [MODELS[m] for m in model],
            "platform": [PLATFORMS[p] for p in platform],
            "precision": ["fp32"] * night.size,
            "batch_size": np.array(BATCH_SIZES)[batch],
            "latency_ms": latency,
            "predictor": ["graphs"] * night.size,
            "predictor_version": [f"1.{n}" for n in night],
            "predicted_at": pa.array(np.datetime64(START) + (night * 86400).astype("timedelta64[s]")),
            "source_id": [f"prediction-{n}" for n in night],
        }
    )


def render(db: Path, out: Path) -> tuple[float, float, float]:
    """`parity report` in a child process: (wall seconds, CPU seconds, peak RSS in MB) of that child."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "reporter.cli", "report", "--db", str(db), "--out", str(out)], stdout=subprocess.DEVNULL
    )
    # wait4, not wait: the rusage of this one child (RUSAGE_CHILDREN keeps the largest of all).
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, child.args)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=200, help="nights of history; runs = nights x 5 platforms")
    parser.add_argument("--keep", type=Path, help="write the database and site here instead of a temporary folder")
    parser.add_argument("--repeat", type=int, default=1, help="render this many times; prints each run and the median")
    parser.add_argument("--db", type=Path, help="render this database instead of generating one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        db, out = args.db or folder / "bench.duckdb", folder / "site"
        if not args.db:
            _generate_into(db, args.nights)
        runs = [render(db, out) for _ in range(args.repeat)]
        for wall, cpu, peak_mb in runs:
            print(f"parity report: {wall:.1f} s wall, {cpu:.1f} s CPU, {peak_mb:.0f} MB peak RSS")
        if args.repeat > 1:
            _print_medians(runs)
        _print_site(out)


def _print_medians(runs: list[tuple[float, float, float]]) -> None:
    walls, cpus, peaks = zip(*runs, strict=True)
    print(
        f"median of {len(runs)}: {statistics.median(walls):.1f} s wall ({min(walls):.1f}-{max(walls):.1f}), "
        f"{statistics.median(cpus):.1f} s CPU ({min(cpus):.1f}-{max(cpus):.1f}), "
        f"{statistics.median(peaks):.0f} MB peak RSS ({min(peaks):.0f}-{max(peaks):.0f})"
    )


def _generate_into(db: Path, nights: int) -> None:
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    runs, measurements, predictions = generate(db, nights)
    print(
        f"generated {runs:,} runs, {measurements:,} measurements, {predictions:,} predictions "
        f"in {time.perf_counter() - started:.1f} s ({db.stat().st_size / 2**20:.0f} MB file)"
    )


def _print_site(out: Path) -> None:
    pages = sorted(out.rglob("*.html"), key=lambda path: path.stat().st_size)
    assert (out / "index.html").is_file() and (out / "summary.md").is_file()
    print(
        f"site: {len(pages)} pages, {sum(p.stat().st_size for p in pages) / 2**20:.1f} MB of HTML, largest page "
        f"{pages[-1].stat().st_size / 2**20:.2f} MB ({pages[-1].relative_to(out)})"
    )


if __name__ == "__main__":
    main()
