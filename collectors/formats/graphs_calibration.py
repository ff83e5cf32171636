"""graphs calibration measurement, schema 2.0: a real device's timing of one model.

Recognised by `schema_version` "2.0" + `model_summary`. `total_latency_ms` is the sum of the
per-subgraph timings, each subgraph timed alone, so the measurement's method is "layerwise-sum";
graphs ran the model as plain PyTorch, hence conversion "EAGER". The power mode comes from
`thermal_profile`, so a 50W run never meets a 30W prediction.
"""

from __future__ import annotations

from pydantic import Field

from collectors.formats._document import Context, Document
from collectors.formats._shared import Shape, canonical, subgraph_id, validate
from collectors.records import Measurement, Records, Subgraph
from collectors.values import Count, Milliseconds, Name, OptionalAmount, Timestamp
from collectors.vocabulary import EAGER, LAYERWISE_SUM, MEASURED, OK

NAME = "graphs-calibration"


class LatencyStats(Shape):
    mean: OptionalAmount
    std: OptionalAmount


class CalibrationSubgraph(Shape):
    subgraph_id: int | str
    fusion_pattern: str | None = None
    operation_type: str | None = None
    node_names: list[str] = Field(default_factory=list)  # the model's graph nodes it covers (`layer1_0_conv1`)
    flops: OptionalAmount
    total_bytes: OptionalAmount
    measured_latency: LatencyStats


class ModelSummary(Shape):
    total_latency_ms: Milliseconds
    total_latency_std_ms: OptionalAmount
    throughput_fps: OptionalAmount


class Calibration(Shape):
    model: Name
    hardware_id: Name
    thermal_profile: str | None = None
    device: Name
    precision: Name
    batch_size: Count
    measurement_date: Timestamp | None = None
    model_summary: ModelSummary
    subgraphs: list[CalibrationSubgraph] = Field(default_factory=list)


def recognise(doc: Document) -> bool:
    document = doc.json_object()
    return document is not None and document.get("schema_version") == "2.0" and "model_summary" in document


def to_records(doc: Document, context: Context) -> Records:
    calibration = validate(Calibration, doc.json, doc.path)
    measured = _measurement(calibration, doc, context)
    return Records(measurements=[measured], subgraphs=[_subgraph(s, measured) for s in calibration.subgraphs])


def _measurement(calibration: Calibration, doc: Document, context: Context) -> Measurement:
    summary = calibration.model_summary
    measured = Measurement(
        model=calibration.model,
        platform=calibration.hardware_id,
        precision=calibration.precision,
        batch_size=calibration.batch_size,
        conversion=EAGER,
        device=calibration.device,
        method=LAYERWISE_SUM,
        status=OK,
        measured_at=calibration.measurement_date,
        median=summary.total_latency_ms,
        std=summary.total_latency_std_ms,
        throughput_sps=summary.throughput_fps,
    )
    # The hardware id is read as the platform; the power mode comes from thermal_profile.
    return canonical(measured, context, doc.path, platform_field="hardware_id", power_mode=calibration.thermal_profile)


def _subgraph(row: CalibrationSubgraph, of: Measurement) -> Subgraph:
    return Subgraph(
        side=MEASURED,
        model=of.model,
        platform=of.platform,
        precision=of.precision,
        batch_size=of.batch_size,
        subgraph_id=subgraph_id(row.subgraph_id),
        ops=row.fusion_pattern,
        flops=row.flops,
        bytes=row.total_bytes,
        latency_ms=row.measured_latency.mean,
        latency_std_ms=row.measured_latency.std,
        operation_type=row.operation_type,
        node_names=tuple(row.node_names),
    )
