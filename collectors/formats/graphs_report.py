"""graphs report JSON (`cli/analyze_comprehensive.py --output x.json`): one prediction.

Recognised by `metadata` + `derived_metrics`. `latency_ms` and `total_energy_mj` are per batch;
the file carries no power mode (the device's default applies) and no schema version.
"""

from __future__ import annotations

from collectors.formats._document import Context, Document
from collectors.formats._shared import Shape, prediction, validate
from collectors.records import Records
from collectors.values import Count, Milliseconds, Name, OptionalAmount, Timestamp

NAME = "graphs-report"


class Metadata(Shape):
    model: Name
    hardware: Name
    batch_size: Count
    precision: Name
    timestamp: Timestamp | None = None
    predictor: Name = "graphs"  # the project's own example files name their predictor
    predictor_version: str | None = None


class DerivedMetrics(Shape):
    latency_ms: Milliseconds
    throughput_fps: OptionalAmount
    total_energy_mj: OptionalAmount
    energy_per_inference_mj: OptionalAmount
    peak_memory_mb: OptionalAmount


class Report(Shape):
    metadata: Metadata
    derived_metrics: DerivedMetrics


def recognise(doc: Document) -> bool:
    document = doc.json_object()
    return document is not None and "metadata" in document and "derived_metrics" in document


def to_records(doc: Document, context: Context) -> Records:
    report = validate(Report, doc.json, doc.path)
    meta, metrics = report.metadata, report.derived_metrics
    raw = {key: doc.json[key] for key in ("metadata", "derived_metrics")}
    return Records(
        predictions=[
            prediction(
                context,
                doc.path,
                hardware_field="metadata.hardware",
                precision_field="metadata.precision",
                model=meta.model,
                hardware=meta.hardware,
                precision=meta.precision,
                batch_size=meta.batch_size,
                latency_ms=metrics.latency_ms,
                raw=raw,
                predictor=meta.predictor,
                predictor_version=meta.predictor_version,
                predicted_at=meta.timestamp,
                throughput_fps=metrics.throughput_fps,
                energy_mj=metrics.total_energy_mj,
                energy_per_inference_mj=metrics.energy_per_inference_mj,
                peak_memory_mb=metrics.peak_memory_mb,
            )
        ]
    )
