"""Runs for the compare tests: a CPU platform, two environments, samples around a centre, and
measurements, runs and predictions with the few fields a comparison reads."""

from __future__ import annotations

import random

from collectors.records import Measurement, Prediction, RunInfo
from tests import builders

CPU = "test-cpu"
BASE_ENV = {"torch_version": "2.11.0", "cpu_model": "Test CPU", "hostname": "bench-a"}
HEAD_ENV = {"torch_version": "2.12.0", "cpu_model": "Test CPU", "hostname": "bench-b"}


def samples(rng: random.Random, centre: float, n: int = 60, spread: float = 0.01) -> tuple[float, ...]:
    return tuple(centre * (1 + rng.gauss(0, spread)) for _ in range(n))


def measurement(
    model: str,
    conversion: str,
    values: tuple[float, ...] = (),
    *,
    status: str = "ok",
    median: float | None = None,
    ci: tuple[float, float] | None = None,
    platform: str = CPU,
) -> Measurement:
    ok = status == "ok"
    centre = median if median is not None else (sorted(values)[len(values) // 2] if values else None)
    return builders.measurement(
        model=model,
        platform=platform,
        conversion=conversion,
        device="cpu",
        status=status,
        measured_at="2026-11-28T02:00:00",
        median=centre if ok else None,
        ci95_low=ci[0] if ci else None,
        ci95_high=ci[1] if ci else None,
        samples=values,
        failure_kind=None if ok else "crash",
        message=None if ok else "the worker died of SIGSEGV",
    )


def run_info(run_id: str, label: str | None, day: int, environment: dict) -> RunInfo:
    return builders.run_info(
        run_id,
        started_at=f"2026-11-{day:02d}T02:00:00",
        finished_at=f"2026-11-{day:02d}T03:00:00",
        platform=CPU,
        label=label,
        environment=environment,
    )


def prediction(version: str, latency_ms: float, predicted_at: str, platform: str = CPU) -> Prediction:
    return builders.prediction(
        platform=platform, latency_ms=latency_ms, predictor_version=version, predicted_at=predicted_at
    )
