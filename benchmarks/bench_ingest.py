"""How fast Parity ingests: prints figures, asserts nothing (see benchmarks/README.md).

1. `parity ingest` of N graphs report files (default 10,000), generated into a temporary folder
   by varying the real samples (model, batch size, latency), through the same code path as the CLI.
2. M measurement rows (default 1,000,000) from an Arrow table into the store via `insert_columns`.
3. For comparison, M/10 `Measurement` records through `Store.add_measurements` (the record path).

  .venv/bin/python benchmarks/bench_ingest.py [--files N] [--rows M] [--fixtures DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from collectors.records import Measurement  # noqa: E402  (after the path set-up, for a plain checkout)
from reporter.ingest import ingest  # noqa: E402
from reporter.store import Store  # noqa: E402

MODELS = ["ResNet-18", "ResNet-50", "MobileNet-V2", "ViT-B/16", "EfficientNet-B0", "VGG-16", "user_net"]


def generate_reports(samples: Path, folder: Path, count: int, seed: int = 0) -> None:
    """`count` distinct report files: real samples with model, batch size and latency varied."""
    rng = random.Random(seed)
    templates = [json.loads(path.read_text()) for path in sorted(samples.glob("*.json"))]
    for index in range(count):
        document = json.loads(json.dumps(rng.choice(templates)))  # a deep copy
        document["metadata"]["model"] = rng.choice(MODELS)
        document["metadata"]["batch_size"] = rng.choice([1, 2, 4, 8, 16, 32, 64])
        document["derived_metrics"]["latency_ms"] = rng.uniform(0.1, 500.0) + index * 1e-9  # unique content
        (folder / f"report_{index:05d}.json").write_text(json.dumps(document, indent=2))


def bench_files(samples: Path, count: int) -> None:
    with tempfile.TemporaryDirectory() as temp:
        folder, db = Path(temp) / "reports", Path(temp) / "bench.duckdb"
        folder.mkdir()
        generate_reports(samples, folder, count)
        with Store.open(db) as store:
            started = time.perf_counter()
            report = ingest(store, [folder], progress=False)
            elapsed = time.perf_counter() - started
            stored = store.execute("SELECT count(*) FROM predictions").single_value()
    assert stored == count and not report.errors, (stored, report.errors[:3])
    print(f"ingest {count} graphs report files: {elapsed:.2f} s, {count / elapsed:,.0f} files/s")


def measurement_table(rows: int) -> pa.Table:
    """`rows` synthetic ok measurements of one run, as the Arrow table a collector would build."""
    ids = pa.array(range(1, rows + 1), pa.int64())
    return pa.table(
        {
            "measurement_id": ids,
            "model": pa.array(["resnet18", "resnet50", "vit_b_16", "mobilenet_v2"] * (rows // 4)),
            "platform": pa.array(["nvidia-h200"] * rows),
            "precision": pa.array(["fp32"] * rows),
            "batch_size": pa.array([1, 8, 32, 64] * (rows // 4), pa.int32()),
            "conversion": pa.array(["EAGER"] * rows),
            "device": pa.array(["cuda"] * rows),
            "method": pa.array(["synced-e2e"] * rows),
            "status": pa.array(["ok"] * rows),
            "median": pc.multiply(pc.cast(ids, pa.float64()), 0.001),
            "run_id": pa.array(["bench-run"] * rows),
        }
    )


def bench_rows(rows: int) -> None:
    table = measurement_table(rows)
    with tempfile.TemporaryDirectory() as temp, Store.open(Path(temp) / "bench.duckdb") as store:
        started = time.perf_counter()
        with store.atomic():
            store.insert_columns("measurements", table)
        elapsed = time.perf_counter() - started
        assert store.execute("SELECT count(*) FROM measurements").single_value() == rows
    print(f"insert {rows:,} measurement rows (Arrow): {elapsed:.2f} s, {rows / elapsed:,.0f} rows/s")


def bench_records(count: int) -> None:
    measurements = [
        Measurement(
            model="resnet18",
            platform="nvidia-h200",
            precision="fp32",
            batch_size=1,
            conversion="EAGER",
            device="cuda",
            method="synced-e2e",
            status="ok",
            median=1.0 + i,
        )
        for i in range(count)
    ]
    with tempfile.TemporaryDirectory() as temp, Store.open(Path(temp) / "bench.duckdb") as store:
        started = time.perf_counter()
        with store.atomic():
            store.add_measurements(measurements, "bench-run", None)
        elapsed = time.perf_counter() - started
    print(f"add_measurements {count:,} Measurement records: {elapsed:.2f} s, {count / elapsed:,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--fixtures", type=Path, default=REPO.parent / "shared" / "fixtures")
    args = parser.parse_args()
    bench_files(args.fixtures / "graphs" / "predictions", args.files)
    bench_rows(args.rows - args.rows % 4)
    bench_records(args.rows // 10)


if __name__ == "__main__":
    main()
