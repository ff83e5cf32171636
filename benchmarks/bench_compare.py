"""How long do `parity compare` and the nightly change points take on a long history?

Generates a database of RUNS nightly runs × CELLS cells with SAMPLES raw samples each (defaults:
1,000 × 100 × 100 = 100,000 measurements, 10,000,000 samples), then times, through the library
paths the commands use:

1. `compare_runs(store, "latest~1", "latest")`: two runs' cells, their samples, the Mann–Whitney
   tests and the prediction side;
2. `history_change_points(store)`: every cell's series over all runs, as report markers.

  .venv/bin/python benchmarks/bench_compare.py [--runs N --cells N --samples N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reporter.compare import compare_runs  # noqa: E402  (after the path set-up)
from reporter.nightly import history_change_points  # noqa: E402
from reporter.store import Store  # noqa: E402


def generate(store: Store, runs: int, cells: int, samples: int) -> None:
    """Nightly runs of `cells` cells on one platform; every 10th cell steps up 10 % half-way."""
    rng = np.random.default_rng(2026)
    start = dt.datetime(2024, 1, 1, 2)
    nights = [start + dt.timedelta(days=night) for night in range(runs)]
    run_ids = [f"run-{night:05d}" for night in range(runs)]
    store.insert_columns(
        "runs",
        pa.table(
            {
                "run_id": run_ids,
                "kind": ["bench"] * runs,
                "started_at": nights,
                "platform": ["bench-cpu"] * runs,
                "environment": ['{"torch_version": "2.11.0"}'] * runs,
            }
        ),
    )
    level = 1.0 + np.arange(cells) % 50  # ms
    steps = (np.arange(cells) % 10 == 0)[None, :] & (np.arange(runs) >= runs // 2)[:, None]
    medians = level[None, :] * (1 + 0.1 * steps) * (1 + rng.normal(0, 0.02, (runs, cells)))
    n = runs * cells
    ids = np.arange(1, n + 1)
    store.insert_columns(
        "measurements",
        pa.table(
            {
                "measurement_id": ids,
                "model": [f"model_{c:03d}" for c in range(cells)] * runs,
                "platform": ["bench-cpu"] * n,
                "precision": ["fp32"] * n,
                "batch_size": np.ones(n, dtype=np.int32),
                "conversion": ["EAGER"] * n,
                "device": ["cpu"] * n,
                "method": ["synced-e2e"] * n,
                "status": ["ok"] * n,
                "median": medians.ravel(),
                "measured_at": np.repeat(np.array(nights, dtype="datetime64[us]"), cells),
                "run_id": np.repeat(run_ids, cells),
            }
        ),
    )
    noise = rng.normal(0, 0.02, (n, samples))
    store.insert_columns(
        "samples",
        pa.table(
            {
                "measurement_id": np.repeat(ids, samples),
                "iteration": np.tile(np.arange(samples, dtype=np.int32), n),
                "latency_ms": (medians.ravel()[:, None] * (1 + noise)).ravel(),
            }
        ),
    )


def timed(label: str, work):
    began = time.perf_counter()
    result = work()
    print(f"{label}: {time.perf_counter() - began:.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.duckdb"
        with Store.open(path) as store, store.atomic():
            timed(
                f"generate {args.runs} runs × {args.cells} cells × {args.samples} samples",
                lambda: generate(store, args.runs, args.cells, args.samples),
            )
        with Store.open(path, read_only=True) as store:
            comparison = timed("compare latest~1 latest", lambda: compare_runs(store, "latest~1", "latest"))
            markers = timed("history_change_points", lambda: history_change_points(store))
        print(f"  {len(comparison.cells)} cells compared: {comparison.verdict()}")
        print(
            f"  {sum(map(len, markers.values()))} change points in {len(markers)} cells "
            f"(planted: a 10 % step in every 10th cell, {args.cells // 10} cells)"
        )


if __name__ == "__main__":
    main()
