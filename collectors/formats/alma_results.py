"""Alma results JSON (`benchmark_model`'s return value, dumped): one measurement per conversion.

Shape: {conversion: {status, device, total_inf_time (s), total_samples, batch_size, throughput, ...}},
or {status: "error", error, traceback} for a failed conversion. It carries no model, platform or
configured batch size, so those must come from `--model`, `--platform`, `--batch-size`. Its own
`batch_size` is the size of the LAST batch (the remainder), not the configured one.
"""
from __future__ import annotations

import math
import re
from typing import Any

from collectors.errors import InputError
from collectors.formats._document import Context, Document
from collectors.formats._shared import Count, Seconds, Shape, normalised_platform, validate
from collectors.records import Measurement, Records

NAME = "alma-results"
# Alma's conversion names: upper-case words joined by "_" and "+" (a few have a lower-case 'f8').
CONVERSION_NAME = re.compile(r"[A-Z][A-Za-z0-9_]*(\+[A-Z0-9][A-Za-z0-9_]*)*")
QUANTISED = re.compile(r"QUANT|AI8|INT8")


class Failure(Shape):
    device: str | None = None
    error: str = "no error message"


class Success(Shape):
    device: str | None = None
    total_inf_time: Seconds
    total_samples: Count


def recognise(doc: Document) -> bool:
    document = doc.json_object()
    return bool(document) and all(
        CONVERSION_NAME.fullmatch(name) and isinstance(result, dict) and "status" in result
        for name, result in document.items())


def to_records(doc: Document, context: Context) -> Records:
    _require_flags(doc, context)
    return Records(measurements=[
        _measurement(doc, context, conversion, result) for conversion, result in doc.json.items()
    ])


def conversion_precision(conversion: str) -> str:
    """The precision a conversion runs at, from its name: FP16+… fp16, BF16+… bf16, quantised int8."""
    if conversion.startswith("FP16+"):
        return "fp16"
    if conversion.startswith("BF16+"):
        return "bf16"
    return "int8" if QUANTISED.search(conversion.upper()) else "fp32"


def _require_flags(doc: Document, context: Context) -> None:
    for flag, value in (("--model", context.model), ("--platform", context.platform),
                        ("--batch-size", context.batch_size)):
        if value is None:
            raise InputError(doc.path, flag, None,
                             "Alma results name no model, platform or batch size: "
                             "pass --model M --platform P --batch-size N")
    if context.batch_size < 1:
        raise InputError(doc.path, "--batch-size", context.batch_size, "expected a positive number")


def _measurement(doc: Document, context: Context, conversion: str, result: dict[str, Any]) -> Measurement:
    common = dict(
        model=context.names.model(context.model), batch_size=context.batch_size, conversion=conversion,
        platform=normalised_platform(context, doc.path, "--platform", context.platform),
        precision=conversion_precision(conversion), method="alma",
    )
    if result["status"] != "success":
        failure = validate(Failure, result, doc.path, prefix=conversion)
        return Measurement(**common, device=failure.device, status="failed", failure_kind="error", message=failure.error)
    success = validate(Success, result, doc.path, prefix=conversion)
    batches = math.ceil(success.total_samples / context.batch_size)
    per_batch_ms = success.total_inf_time * 1000 / batches
    # Alma keeps only a total, so the mean per batch stands in for the median comparisons use; its
    # throughput is recomputed (the same formula) because the file may hold it as text.
    return Measurement(**common, device=success.device, status="ok", median=per_batch_ms, mean=per_batch_ms,
                       n_iterations=batches, throughput_sps=success.total_samples / success.total_inf_time)
