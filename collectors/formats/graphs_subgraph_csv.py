"""graphs per-subgraph CSV (`--format csv --subgraph-details`): predicted rows per subgraph.

Recognised by a header with `subgraph_id`. The file has no whole-model latency, so it adds no
prediction, only Subgraph rows (side "predicted").
"""

from __future__ import annotations

from collectors.formats._document import Context, Document
from collectors.formats._shared import Shape, canonical, subgraph_id, validate
from collectors.records import Records, Subgraph
from collectors.values import Count, Name, OptionalAmount
from collectors.vocabulary import PREDICTED

NAME = "graphs-subgraph-csv"


class SubgraphRow(Shape):
    model: Name
    hardware: Name
    batch_size: Count
    precision: Name
    subgraph_id: Name
    bottleneck: str | None = None
    flops: OptionalAmount
    memory_bytes: OptionalAmount
    latency_ms: OptionalAmount
    energy_mj: OptionalAmount


def recognise(doc: Document) -> bool:
    header = doc.csv_header
    return header is not None and {"model", "hardware", "subgraph_id", "latency_ms"} <= set(header)


def to_records(doc: Document, context: Context) -> Records:
    return Records(
        subgraphs=[_subgraph(doc, context, row, f"row {number}") for number, row in enumerate(doc.csv_rows(), start=2)]
    )


def _subgraph(doc: Document, context: Context, data: dict[str, str], where: str) -> Subgraph:
    row = validate(SubgraphRow, data, doc.path, prefix=where, strict=False)
    subgraph = Subgraph(
        side=PREDICTED,
        model=row.model,
        platform=row.hardware,
        precision=row.precision,
        batch_size=row.batch_size,
        subgraph_id=subgraph_id(row.subgraph_id),
        ops=None,
        flops=row.flops,
        bytes=row.memory_bytes,
        latency_ms=row.latency_ms,
        energy_mj=row.energy_mj,
    )
    return canonical(subgraph, context, doc.path, where, platform_field="hardware")
