"""The energy sensors behind `collectors.energy`: NVML (its energy counter, else its power reading
sampled) here; the INA3221 power monitor of a Jetson and RAPL through powercap in
collectors.sysfs_sensors.

Each `open_*` returns a sensor or an `Unavailable` saying what is missing, where, and the fix; none
raises for missing hardware. Two kinds of sensor share the arithmetic, each a pure function:
`CounterSensor` sums the wrap-aware deltas of hardware energy counters (`counter_delta`), and
`SamplingSensor` integrates power readings taken by a daemon thread (`trapezoid_mj`). Both report
energy per rail; where no rail covers the others (RAPL's packages and DRAM, a Jetson without a
board-input rail) the first rail is the sum of the rest, named by joining theirs with '+'.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

NVML_POWER_INTERVAL_S = 0.01
NVML_COUNTER_WRAP_MJ = 2**64  # nvmlDeviceGetTotalEnergyConsumption is an unsigned 64-bit count of mJ
NVML_LOOKUPS = {
    "pci": "nvmlDeviceGetHandleByPciBusId",
    "uuid": "nvmlDeviceGetHandleByUUID",
    "index": "nvmlDeviceGetHandleByIndex",
}  # how `nvml_device` names a GPU -> pynvml's call


@dataclass(frozen=True, slots=True)
class Unavailable:
    """No energy can be read: what is missing and where (one line), and how to fix it (one line, or
    None where nothing can be done, e.g. the hardware has no sensor)."""

    reason: str
    fix: str | None


def counter_delta(previous: float, current: float, wrap: float) -> float:
    """How far a cumulative counter advanced between two readings, in the counter's unit. A reading
    below the previous one means the counter wrapped at `wrap` (RAPL: max_energy_range_uj), so the
    counter must be read at least once per wrap period."""
    return current - previous + (wrap if current < previous else 0.0)


def trapezoid_mj(readings: Sequence[tuple[float, float]]) -> float:
    """Energy in mJ of power readings (time in s, power in W), by trapezoids between successive ones."""
    return 1000.0 * sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in itertools.pairwise(readings))


def rail_names(parts: tuple[str, ...], summed: bool) -> tuple[str, ...]:
    """The rails a sensor reports: its channels, led by their sum ("package-0+dram") when `summed`."""
    return ("+".join(parts), *parts) if summed else parts


class _Sensor:
    """What both kinds share: name, rails, the report per rail and closing."""

    interval_s: float | None = None

    def __init__(self, name: str, parts: tuple[str, ...], summed: bool, on_close: Callable[[], Any] | None) -> None:
        self.name = name
        self.rails = rail_names(parts, summed)
        self._parts, self._summed, self._on_close = parts, summed, on_close

    def _energies_mj(self) -> list[float]:
        raise NotImplementedError

    def read_mj(self) -> float:
        """Energy in mJ of the first rail since the sensor was opened."""
        return next(iter(self.read_rails_mj().values()))

    def read_rails_mj(self) -> dict[str, float]:
        """Energy in mJ of every rail since the sensor was opened, the first rail first."""
        energies = self._energies_mj()
        by_part = dict(zip(self._parts, energies, strict=True))
        return {self.rails[0]: sum(energies), **by_part} if self._summed else by_part

    def close(self) -> None:
        """Releases the library behind the sensor (NVML), once."""
        if self._on_close is not None:
            self._on_close()
            self._on_close = None  # NVML counts its initialisations: one shutdown per nvmlInit


class CounterSensor(_Sensor):
    """Hardware energy counters (NVML's total energy, RAPL zones), read in the caller's thread.

    `read_raw` returns one cumulative reading per channel, in a unit that is `to_mj` mJ; `wraps` are
    the counters' wrap values in that unit. The first reading, taken here, is the origin: where it
    raises, the opener turns the error into `Unavailable`."""

    def __init__(
        self,
        name: str,
        parts: tuple[str, ...],
        read_raw: Callable[[], Sequence[float]],
        *,
        to_mj: float,
        wraps: Sequence[float],
        summed: bool = False,
        on_close: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(name, parts, summed, on_close)
        self._read_raw, self._to_mj, self._wraps = read_raw, to_mj, tuple(wraps)
        self._last = tuple(read_raw())
        self._totals = [0.0] * len(parts)  # in the counter's unit

    def _energies_mj(self) -> list[float]:
        current = tuple(self._read_raw())
        for i, (previous, now, wrap) in enumerate(zip(self._last, current, self._wraps, strict=True)):
            self._totals[i] += counter_delta(previous, now, wrap)
        self._last = current
        return [total * self._to_mj for total in self._totals]


class SamplingSensor(_Sensor):
    """Power readings (W per channel from `read_watts`) integrated by trapezoids. A daemon thread
    samples every `interval_s`, and every read samples too, so a window ends when it is read, not
    at the thread's last tick."""

    def __init__(
        self,
        name: str,
        parts: tuple[str, ...],
        read_watts: Callable[[], Sequence[float]],
        *,
        interval_s: float,
        summed: bool = False,
        on_close: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(name, parts, summed, on_close)
        self.interval_s = interval_s
        self._read_watts = read_watts
        self._lock = threading.Lock()  # the thread and the caller both sample
        self._last = (time.perf_counter(), tuple(read_watts()))
        self._totals = [0.0] * len(parts)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"parity-energy-{name}", daemon=True)
        self._thread.start()

    def _energies_mj(self) -> list[float]:
        with self._lock:
            (t0, before), now = self._last, time.perf_counter()
            after = tuple(self._read_watts())
            for i, (w0, w1) in enumerate(zip(before, after, strict=True)):
                self._totals[i] += trapezoid_mj(((t0, w0), (now, w1)))
            self._last = (now, after)
            return list(self._totals)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            # A failed reading (an I2C hiccup) only lengthens the next trapezoid; one that lasts
            # surfaces in the caller's read.
            with contextlib.suppress(Exception):
                self._energies_mj()

    def close(self) -> None:
        """Stops the sampling thread, then releases the library behind the sensor."""
        self._stop.set()
        self._thread.join()
        super().close()


# -- NVML ------------------------------------------------------------------------------------------


def nvml_device(index: int, visible: str | None, pci_bus_id: str | None) -> tuple[str, str | int]:
    """How NVML finds CUDA device `index`: ("pci", bus id) where torch told its PCI address (exact);
    else through CUDA_VISIBLE_DEVICES (`visible`): ("uuid", "GPU-...") or ("index", NVML index).
    NVML numbers all GPUs in PCI order, CUDA the visible ones fastest first, so an integer entry is
    NVML's index where both orders agree (CUDA_DEVICE_ORDER=PCI_BUS_ID, or GPUs of one model).
    Raises ValueError for an index or entry that names no GPU."""
    if pci_bus_id:
        return "pci", pci_bus_id
    if not visible:
        return "index", index
    entries = [entry.strip() for entry in visible.split(",")]
    if not 0 <= index < len(entries):
        raise ValueError(f"CUDA device {index} is not among CUDA_VISIBLE_DEVICES={visible}")
    entry = entries[index]
    return ("uuid", entry) if entry.startswith(("GPU-", "MIG-")) else ("index", int(entry))


def _torch_pci_bus_id(index: int) -> str | None:
    """The PCI address of CUDA device `index`, only where torch has already initialised CUDA: naming
    the GPU must not create a CUDA context (older torch has no PCI fields: None). On the H200,
    "0000:00:06.0" found the same GPU in NVML as index 0."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return None
    properties = torch.cuda.get_device_properties(index)
    ids = [getattr(properties, f"pci_{part}_id", None) for part in ("domain", "bus", "device")]
    return None if None in ids else "{:04x}:{:02x}:{:02x}.0".format(*ids)


def open_nvml(gpu_index: int | None) -> CounterSensor | SamplingSensor | Unavailable:
    """NVML's energy counter of CUDA device `gpu_index` (default 0) as "nvml-counter" (mJ, Volta and
    later), else its power reading (mW) sampled every 10 ms as "nvml-power"."""
    try:
        import pynvml
    except ImportError:
        return Unavailable("no NVIDIA GPU through NVML (pynvml is not installed)", "pip install nvidia-ml-py")
    index = gpu_index or 0
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return Unavailable(f"no NVIDIA GPU through NVML ({error})", None)
    try:
        return _open_nvml_device(pynvml, index)
    except (pynvml.NVMLError, ValueError) as error:
        pynvml.nvmlShutdown()
        return Unavailable(f"NVML reads no energy of CUDA device {index} ({error})", None)


def _open_nvml_device(pynvml: Any, index: int) -> CounterSensor | SamplingSensor:
    how, key = nvml_device(index, os.environ.get("CUDA_VISIBLE_DEVICES"), _torch_pci_bus_id(index))
    handle = getattr(pynvml, NVML_LOOKUPS[how])(key)
    parts = (f"gpu{pynvml.nvmlDeviceGetIndex(handle)}",)  # NVML's (physical) index
    try:
        return CounterSensor(
            "nvml-counter",
            parts,
            lambda: (pynvml.nvmlDeviceGetTotalEnergyConsumption(handle),),
            to_mj=1.0,
            wraps=(NVML_COUNTER_WRAP_MJ,),
            on_close=pynvml.nvmlShutdown,
        )
    except pynvml.NVMLError_NotSupported:
        # No counter before Volta; there the power reading is instantaneous, so sampling it works.
        return SamplingSensor(
            "nvml-power",
            parts,
            lambda: (pynvml.nvmlDeviceGetPowerUsage(handle) / 1000,),
            interval_s=NVML_POWER_INTERVAL_S,
            on_close=pynvml.nvmlShutdown,
        )
