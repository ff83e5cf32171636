"""The words Parity's data speaks, each spelled once: timing methods, statuses, the keys that
identify a cell or a series, and graphs' acceptance thresholds.

Every module takes these from here, and the templates see them as `vocab` (reporter.templating),
so a method name, a key or a threshold never drifts between two copies. SQL builders join the
key tuples with `columns()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# -- how a figure was measured (`measurements.method`) ---------------------------------------------
SYNCED_E2E = "synced-e2e"  # Parity's timer: perf_counter around the call and a device synchronise
ALMA = "alma"  # Alma's own benchmark loop: GPU work is not synchronised, so it is shown, never scored
LAYERWISE_SUM = "layerwise-sum"  # graphs calibration files: the sum of per-subgraph timings
DEVICE_BUSY = "device-busy"  # Parity's profiler: kernels and copies per call (CPU: operator self time)
METHODS = (SYNCED_E2E, ALMA, LAYERWISE_SUM, DEVICE_BUSY)
UNSCORED_METHODS = (ALMA,)  # never compared with a prediction
Method = Literal[METHODS]  # type: ignore[valid-type]
METHOD_HELP = {
    SYNCED_E2E: "Parity's timer: end-to-end latency with a device synchronise, what a caller waits for",
    ALMA: "Alma's own loop: not synchronised, shown for reference, never scored",
    LAYERWISE_SUM: "graphs calibration: the sum of per-subgraph timings, each subgraph timed alone",
    DEVICE_BUSY: "Parity's profiler: the device's own work per call (kernels and copies; on a CPU, time inside "
    "operators), without the host's launch and Python overhead",
}
# What each method's latency is, in a few words: a headline row names the figure it scores against.
METHOD_BASIS = {
    SYNCED_E2E: "caller latency",
    DEVICE_BUSY: "device time",
    LAYERWISE_SUM: "sum of subgraph timings",
    ALMA: "Alma's loop",
}

# -- the outcome of a measurement (`measurements.status`) -------------------------------------------
OK, FAILED, UNAVAILABLE, TIMEOUT = "ok", "failed", "unavailable", "timeout"
STATUSES = (OK, FAILED, UNAVAILABLE, TIMEOUT)
Status = Literal[STATUSES]  # type: ignore[valid-type]

# -- which side of graphs' per-subgraph detail a row is (`subgraphs.side`) -------------------------
PREDICTED, MEASURED = "predicted", "measured"
SIDES = (PREDICTED, MEASURED)
Side = Literal[SIDES]  # type: ignore[valid-type]

# -- conversions ------------------------------------------------------------------------------------
EAGER = "EAGER"  # the baseline every speedup is measured against

# -- keys -------------------------------------------------------------------------------------------
CELL = ("model", "platform", "precision", "batch_size")  # what one prediction is of
PREDICTION_KEY = (*CELL, "predictor")  # one predictor's newest prediction of a cell
# One measured series: a cell measured through one conversion, by one method, on one device. A
# platform benched on CPU and CUDA is two series; the `latest` view keeps the newest of each.
SERIES = (*CELL, "conversion", "method", "device")
# The series of one model x platform page (the page fixes model and platform; the conversion is
# the x axis or the line).
PAGE_SERIES = ("precision", "batch_size", "method", "platform", "device")

# -- what is compared -------------------------------------------------------------------------------

LATENCY, ENERGY, MEMORY = "latency", "energy", "memory"  # the quantities' names (`quantity` columns)


@dataclass(frozen=True, slots=True)
class Quantity:
    """One predicted quantity and the measured figure it is compared with (same unit, same scope)."""

    name: str
    unit: str  # the stored unit; display may scale it (1,385 mJ -> 1.39 J), never mix it
    predicted: str  # `predictions` column
    measured: str  # `measurements` column
    help: str
    # What the prediction is compared with, in words; None: what the measuring method measures
    # (METHOD_BASIS: latency against caller latency or device time).
    basis: str | None = None


QUANTITIES = (
    Quantity(
        LATENCY,
        "ms per batch",
        "latency_ms",
        "median",
        "the median latency of the whole batch, by the method named beside it",
    ),
    Quantity(
        ENERGY,
        "mJ per batch",
        "energy_mj",
        "energy_mj",
        "the energy of the whole batch over the timed window, total (idle included: graphs' figure holds "
        "static energy), as the sensor named beside it reads it (NVML: the GPU board; INA3221 VDD_IN: the "
        "whole module; RAPL: the CPU package and DRAM)",
        basis="sensor total over the timed window",
    ),
    Quantity(
        MEMORY,
        "MB peak",
        "peak_memory_mb",
        "peak_memory_mb",
        "the peak memory of the cell: on CUDA the caching allocator's peak of allocated bytes (weights, "
        "activations, workspaces); on a CPU the rise of the process's peak resident set",
        basis="measured peak",
    ),
)

QUANTITY_BY_NAME = {quantity.name: quantity for quantity in QUANTITIES}

# The operation type graphs names a leaf module's work by (its predicted subgraphs list `op_types`):
# Parity's layers are matched to predictions by these where no finer match (node names) exists.
LAYER_OPERATIONS = {
    "Conv2d": "conv2d",
    "Conv1d": "conv1d",
    "BatchNorm2d": "batchnorm",
    "BatchNorm1d": "batchnorm",
    "LayerNorm": "layernorm",
    "Linear": "linear",
    "ReLU": "relu",
    "ReLU6": "relu6",
    "Hardswish": "hardswish",
    "Hardsigmoid": "hardsigmoid",
    "SiLU": "silu",
    "GELU": "gelu",
    "Sigmoid": "sigmoid",
    "MaxPool2d": "maxpool",
    "AvgPool2d": "avgpool",
    "AdaptiveAvgPool2d": "adaptiveavgpool",
    "Dropout": "dropout",
    "MultiheadAttention": "attention",
    "Flatten": "flatten",
    "Identity": "identity",
}

# -- scoring ----------------------------------------------------------------------------------------
GRAPHS_GATE_PCT = 30.0  # graphs' own acceptance gate: median absolute error at most this
ERROR_BANDS_PCT = (10.0, 30.0)  # the shares within ±10 % and ±30 % that every summary reports


def columns(keys: tuple[str, ...], alias: str | None = None) -> str:
    """Key columns as SQL text: `columns(CELL, "m")` is "m.model, m.platform, m.precision, m.batch_size"."""
    return ", ".join(f"{alias}.{key}" if alias else key for key in keys)
