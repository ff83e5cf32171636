"""Store a bench run measured on this machine: the run row, its measurements and their raw
samples, in one transaction. A bundle measured elsewhere goes through `parity ingest` instead,
which stores the same rows (the bundle's run and measurements) plus the file as a source."""
from __future__ import annotations

from collectors.bench import BenchResult
from reporter.store import Store


def store_result(store: Store, result: BenchResult) -> list[int]:
    """Write `result` atomically; returns the new measurement ids."""
    with store.atomic():
        store.add_run(result.run)
        return store.add_measurements(result.measurements, result.run.run_id, None)
