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

from collectors.catalogue import KNOWN_BROKEN, precision_of
from collectors.errors import ContextError, InputError
from collectors.formats._document import Context, Document
from collectors.formats._shared import Shape, canonical, validate
from collectors.records import Measurement, Records
from collectors.values import Count, Name, Seconds
from collectors.vocabulary import ALMA, FAILED, OK

NAME = "alma-results"
# Alma's conversion names: upper-case words joined by "_" and "+" (a few have a lower-case 'f8').
CONVERSION_NAME = re.compile(r"[A-Z][A-Za-z0-9_]*(\+[A-Z0-9][A-Za-z0-9_]*)*")


class Failure(Shape):
    device: str | None = None
    error: str = "no error message"


class Success(Shape):
    device: str | None = None
    total_inf_time: Seconds
    total_samples: Count
    batch_size: Count  # the LAST batch's size


class Given(Shape):
    """What the caller must give (`--model`, `--platform`, `--batch-size`): the file names none."""

    model: Name
    platform: Name
    batch_size: Count


def recognise(doc: Document) -> bool:
    document = doc.json_object()
    return bool(document) and all(
        CONVERSION_NAME.fullmatch(name) and isinstance(result, dict) and "status" in result
        for name, result in document.items()
    )


def to_records(doc: Document, context: Context) -> Records:
    _require_context(doc, context)
    return Records(
        measurements=[_measurement(doc, context, conversion, result) for conversion, result in doc.json.items()]
    )


def _require_context(doc: Document, context: Context) -> None:
    given = {name: getattr(context, name) for name in Given.model_fields}
    for name, value in given.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ContextError(
                doc.path, name, value, "Alma results name no model, platform or batch size: give all three"
            )
    try:
        validate(Given, given, doc.path)
    except InputError as error:  # a fact the caller gave: the command names its flag
        raise ContextError(error.path, error.field, error.value, error.reason) from None


def _measurement(doc: Document, context: Context, conversion: str, result: dict[str, Any]) -> Measurement:
    return canonical(_alma_measurement(doc, context, conversion, result), context, doc.path)


def _alma_measurement(doc: Document, context: Context, conversion: str, result: dict[str, Any]) -> Measurement:
    common = dict(
        model=context.model,
        platform=context.platform,
        batch_size=context.batch_size,
        conversion=conversion,
        precision=precision_of(conversion),
        method=ALMA,
    )
    if result["status"] != "success":
        failure = validate(Failure, result, doc.path, prefix=conversion)
        return Measurement(**common, device=failure.device, status=FAILED, failure_kind="error", message=failure.error)
    if conversion in KNOWN_BROKEN:  # e.g. BF16+EAGER "succeeds" without ever calling the model
        return Measurement(
            **common,
            device=result.get("device"),
            status=FAILED,
            failure_kind="known-broken",
            message=f"Alma reported success, but this conversion is {KNOWN_BROKEN[conversion]}",
        )
    success = validate(Success, result, doc.path, prefix=conversion)
    _check_last_batch(doc, context, conversion, success)
    batches = math.ceil(success.total_samples / context.batch_size)
    per_batch_ms = success.total_inf_time * 1000 / batches
    # Alma keeps only a total, so the mean per batch stands in for the median comparisons use; its
    # throughput is recomputed (the same formula) because the file may hold it as text.
    return Measurement(
        **common,
        device=success.device,
        status=OK,
        median=per_batch_ms,
        mean=per_batch_ms,
        n_iterations=batches,
        throughput_sps=success.total_samples / success.total_inf_time,
    )


def _check_last_batch(doc: Document, context: Context, conversion: str, success: Success) -> None:
    """The batch size given must be able to produce the last batch Alma recorded (the remainder)."""
    last = success.total_samples % context.batch_size or context.batch_size
    if last != success.batch_size:
        raise ContextError(
            doc.path,
            "batch_size",
            context.batch_size,
            f"{success.total_samples} samples in batches of {context.batch_size} end with a batch "
            f"of {last}, but {conversion}.batch_size (the last batch) is {success.batch_size}",
        )
