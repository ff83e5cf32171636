"""A small, hand-made database for the report tests: every page element has something to show.

Hostile names (markup, path traversal) sit beside ordinary ones, a proxy platform is declared,
one cell fails, one prediction and one measurement stay unmatched, and resnet18 has both sides
of graphs' per-subgraph detail.
"""

from __future__ import annotations

from pathlib import Path

from collectors.records import Measurement, Prediction, Subgraph
from reporter.store import Store
from tests import builders

HOSTILE_MODEL = "<img src=x onerror=alert(1)>"
TRAVERSAL_MODEL = "../../x"
CPU = "intel-i7-12700k"
MODELS = {"resnet18": 10.0, "resnet50": 25.0, HOSTILE_MODEL: 4.0, TRAVERSAL_MODEL: 7.0}
CONVERSIONS = {"EAGER": 1.0, "COMPILE_INDUCTOR": 0.6, "ONNX_CPU": 0.8}
NIGHTS = 4


def build_report_db(path: Path) -> Path:
    """Write the test database at `path` and return it."""
    with Store.open(path) as store, store.atomic():
        for night in range(NIGHTS):
            _night(store, night)
        store.add_predictions(_predictions("graphs 1.0", "2026-11-01T00:00:00", 1.0), "src-predictions-old")
        store.add_predictions(_predictions("graphs 1.1", "2026-11-20T00:00:00", 1.3), "src-predictions-new")
        store.add_predictions(
            [
                _prediction("resnet18", "h100-sxm5-80gb", 5.0, "graphs 1.1", "2026-11-20T00:00:00"),
                _prediction("vit_b_16", CPU, 40.0, "graphs 1.1", "2026-11-20T00:00:00"),
            ],
            "src-predictions-extra",
        )
        store.add_proxies({"nvidia-h200": "h100-sxm5-80gb"})
        store.add_subgraphs(_subgraphs("predicted", [1.0, 2.0, 3.0]), "src-verdict")
        store.add_subgraphs(_subgraphs("measured", [1.5, 2.5, 2.0]), "src-calibration")
    return path


def _night(store: Store, night: int) -> None:
    run = builders.run_info(
        f"run-{night}",
        started_at=f"2026-11-2{night}T02:00:00",
        finished_at=f"2026-11-2{night}T03:00:00",
        host="bench-host",
        platform=CPU,
        label=f"nightly {night}",
        git_sha="abc123",
        environment={"python": "3.11", "torch": "2.11", "cpu": {"cores": 2}},
    )
    store.add_run(run)
    drift = 1.0 + 0.1 * night
    measurements = [
        _measurement(model, CPU, conversion, base * factor * drift, night)
        for model, base in MODELS.items()
        for conversion, factor in CONVERSIONS.items()
    ]
    measurements += [
        _measurement("resnet18", CPU, "EAGER", 9.0 * drift, night, method="alma"),
        _measurement("resnet18", CPU, "EAGER", 6.0, night, method="device-busy"),
        _measurement("resnet18", "nvidia-h200", "EAGER", 4.0, night),
        _measurement("mobilenet_v2", CPU, "EAGER", 3.0, night),
    ]
    if night == NIGHTS - 1:
        measurements.append(
            _measurement(
                "resnet50",
                CPU,
                "ONNX_CPU",
                0.0,
                night,
                status="failed",
                failure_kind="wrong_device",
                message="fell back to <CPUExecutionProvider>",
            )
        )
    store.add_measurements(measurements, run.run_id, None)


def _measurement(
    model: str,
    platform: str,
    conversion: str,
    median: float,
    night: int,
    *,
    method: str = "synced-e2e",
    status: str = "ok",
    **failure: str,
) -> Measurement:
    ok = status == "ok"
    return builders.measurement(
        model=model,
        platform=platform,
        conversion=conversion,
        device="cpu",
        method=method,
        status=status,
        measured_at=f"2026-11-2{night}T02:30:00",
        median=median if ok else None,
        p05=median * 0.95 if ok else None,
        p95=median * 1.1 if ok else None,
        n_iterations=100 if ok else None,
        **failure,
    )


def _predictions(version: str, at: str, scale: float) -> list[Prediction]:
    return [_prediction(model, CPU, base * scale, version, at) for model, base in MODELS.items()]


def _prediction(model: str, platform: str, latency_ms: float, version: str, at: str) -> Prediction:
    return builders.prediction(
        model=model, platform=platform, latency_ms=latency_ms, predictor_version=version, predicted_at=at
    )


def _subgraphs(side: str, latencies: list[float]) -> list[Subgraph]:
    return [
        builders.subgraph(side=side, platform=CPU, subgraph_id=str(i), latency_ms=latency)
        for i, latency in enumerate(latencies)
    ]
