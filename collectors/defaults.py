"""The defaults of `parity bench`'s settings, set once: `collectors.plan.BenchPlan` uses them and
the command quotes them in its help, which must not import pydantic to stay instant."""

from __future__ import annotations

BENCH_DEFAULTS = {
    "device": "cpu",
    "target_ci": 0.01,  # relative half-width of the 95 % CI of the median
    "max_seconds": 30.0,  # per cell, warm-up plus timing (compile excluded)
    "timeout_s": 900.0,  # per cell, everything included (a fresh worker's start too); then it is killed
    "timer": "both",
    "alma_batches": 16,  # batches in Alma's own loop (n_samples = alma_batches × batch size)
    "processes": 1,  # fresh processes per cell for Parity's timer
}
