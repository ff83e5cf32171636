"""graphs verdict JSON (`--format verdict`): one prediction plus its per-subgraph rows.

Recognised by `verdict` + `analyzer_version`; precision is lowercase here. Subgraph rows are
stored with side "predicted", to sit beside a calibration file's measured ones.
"""

from __future__ import annotations

from pydantic import Field

from collectors.formats._document import Context, Document
from collectors.formats._shared import Shape, prediction, subgraph_id, validate
from collectors.records import Prediction, Records, Subgraph
from collectors.values import Count, Milliseconds, Name, OptionalAmount, Timestamp
from collectors.vocabulary import PREDICTED

NAME = "graphs-verdict"


class Energy(Shape):
    total_energy_mj: OptionalAmount


class VerdictSubgraph(Shape):
    subgraph_id: str | int
    op_types: list[str] = Field(default_factory=list)
    flops: OptionalAmount
    bytes_transferred: OptionalAmount
    latency_ms: OptionalAmount
    energy_mj: OptionalAmount


class Verdict(Shape):
    model_id: Name
    hardware_id: Name
    batch_size: Count
    precision: Name
    analyzer_version: str
    latency_ms: Milliseconds
    timestamp: Timestamp | None = None
    predictor: Name = "graphs"
    throughput_fps: OptionalAmount
    energy_per_inference_mj: OptionalAmount
    peak_memory_mb: OptionalAmount
    energy: Energy | None = None
    subgraphs: list[VerdictSubgraph] = Field(default_factory=list)


def recognise(doc: Document) -> bool:
    document = doc.json_object()
    return document is not None and "verdict" in document and "analyzer_version" in document


def to_records(doc: Document, context: Context) -> Records:
    verdict = validate(Verdict, doc.json, doc.path)
    predicted = _prediction(verdict, doc, context)
    return Records(predictions=[predicted], subgraphs=[_subgraph(s, predicted) for s in verdict.subgraphs])


def _prediction(verdict: Verdict, doc: Document, context: Context) -> Prediction:
    raw = {key: value for key, value in doc.json.items() if key != "subgraphs"}  # those get their own rows
    return prediction(
        context,
        doc.path,
        hardware_field="hardware_id",
        precision_field="precision",
        model=verdict.model_id,
        hardware=verdict.hardware_id,
        precision=verdict.precision,
        batch_size=verdict.batch_size,
        latency_ms=verdict.latency_ms,
        raw=raw,
        predictor=verdict.predictor,
        predictor_version=verdict.analyzer_version,
        predicted_at=verdict.timestamp,
        throughput_fps=verdict.throughput_fps,
        energy_mj=verdict.energy.total_energy_mj if verdict.energy else None,
        energy_per_inference_mj=verdict.energy_per_inference_mj,
        peak_memory_mb=verdict.peak_memory_mb,
    )


def _subgraph(row: VerdictSubgraph, of: Prediction) -> Subgraph:
    return Subgraph(
        side=PREDICTED,
        model=of.model,
        platform=of.platform,
        precision=of.precision,
        batch_size=of.batch_size,
        subgraph_id=subgraph_id(row.subgraph_id),
        ops="+".join(row.op_types) or None,
        operation_type=row.op_types[0] if row.op_types else None,
        flops=row.flops,
        bytes=row.bytes_transferred,
        latency_ms=row.latency_ms,
        energy_mj=row.energy_mj,
    )
