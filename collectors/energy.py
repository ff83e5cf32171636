"""The energy of one benchmark cell's timed window, from the best sensor this host has.

An add-on around the timed region (pyperf's shape): `open_sensor` before the cell, `idle_power_w`
just before it, `read_mj()` at both ends of the window, `close()` after; the sensor's `name` is
stored with the measurement. Sensors, in order of preference (`collectors.energy_sensors`):

- device "cuda": NVML's total-energy counter of the GPU torch uses ("nvml-counter", Volta and
  later), else NVML's power reading sampled every 10 ms ("nvml-power"); on a Jetson, which has
  neither, the INA3221 board-input rail ("ina3221:VDD_IN").
- device "cpu": RAPL's packages and their DRAM ("rapl:package-0+dram"); on a Jetson, which has no
  RAPL, the INA3221 board-input rail.

Where none can be read, `open_sensor` returns `Unavailable` with what was looked for, why each was
missing, and the fix: never a zero energy, never an exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

from collectors.energy_sensors import Unavailable, open_nvml
from collectors.sysfs_sensors import open_ina3221, open_rapl

__all__ = ["MIN_WINDOW_S", "EnergySensor", "EnergyWindow", "Unavailable", "idle_power_w", "open_sensor"]

MIN_WINDOW_S: float = 2.0
"""The shortest window, in seconds, whose energy is trusted.

Rule: a window lasts at least 20 update periods of the slowest sensor read here. A reading is up to
one update period old at each end of the window; at steady power the two lags' errors have opposite
signs, so the window is off by at most one period of energy: 1/20 = 5 % of the window's. The slowest
is NVML's energy counter, refreshed every 20 to 100 ms on recent GPUs (as PETSc's
PetscLogGpuEnergyMeter documents); on the lent H200 it changed every 100 ms (86-112 ms, idle and
under load): 20 x 100 ms = 2 s. The others are faster: RAPL updates about every 1 ms, and the
INA3221 and NVML power samplers integrate every 20 ms and 10 ms. On the H200, 10-second windows of
the counter agreed with 10 ms power samples within 4.3 %
(../shared/notes/h200-device-time-and-energy.md, section 4).
"""


class EnergySensor(Protocol):
    """One open energy sensor: cumulative energy since it was opened, in millijoules."""

    name: str  # stored with each measurement: "nvml-counter", "nvml-power", "ina3221:VDD_IN", "rapl:package-0+dram"
    interval_s: float | None  # seconds between power samples of an integrating sensor; None for a hardware counter
    rails: tuple[str, ...]  # the rails or zones read; `read_mj` totals the first

    def read_mj(self) -> float:
        """mJ of the first rail since the sensor was opened; never decreases (counter wraps handled)."""
        ...

    def read_rails_mj(self) -> dict[str, float]:
        """mJ of every rail since the sensor was opened (one origin), keyed as `rails`, in that order."""
        ...

    def close(self) -> None:
        """Stops any sampling thread and releases the library (NVML) behind the sensor."""
        ...


def open_sensor(device: str, *, sysfs: Path = Path("/sys"), gpu_index: int | None = None) -> EnergySensor | Unavailable:
    """The preferred energy sensor for `device` ("cpu" or "cuda") on this host.

    `gpu_index` is the CUDA device torch uses (torch.cuda.current_device()), as CUDA_VISIBLE_DEVICES
    numbers it; default 0. `sysfs` is where sysfs is mounted (tests point it at a fake tree).
    Returns the sensor, or `Unavailable` listing every sensor looked for and why it was missing."""
    openers = {
        "cuda": (lambda: open_nvml(gpu_index), lambda: open_ina3221(sysfs)),
        "cpu": (lambda: open_rapl(sysfs), lambda: open_ina3221(sysfs)),
    }
    if device not in openers:
        return Unavailable(f"no energy sensor for device {device!r}: Parity reads energy for 'cpu' and 'cuda'", None)
    missing = []
    for opener in openers[device]:
        found = opener()
        if not isinstance(found, Unavailable):
            return found
        missing.append(found)
    fixes = dict.fromkeys(gap.fix for gap in missing if gap.fix)
    return Unavailable(
        f"no energy sensor for {device} on this machine: " + "; ".join(gap.reason for gap in missing),
        "; ".join(fixes) or None,
    )


def idle_power_w(sensor: EnergySensor, seconds: float = 1.0) -> float:
    """Mean power in W of the first rail while the caller sleeps `seconds`: the floor under a cell's
    energy, taken just before the cell so that clocks and temperature are the cell's. One second
    of a counter refreshed every 100 ms is known to 10 %; give MIN_WINDOW_S for 5 %."""
    start_mj, start_s = sensor.read_mj(), time.perf_counter()
    time.sleep(seconds)
    return (sensor.read_mj() - start_mj) / (time.perf_counter() - start_s) / 1000.0


SAMPLE_PERIOD_S = 0.5  # the window is cut into parts of about this long for energy samples


class EnergyWindow:
    """The energy of a timed window (the timer's `window` hook): read at its start, every
    SAMPLE_PERIOD_S, and at its end, between iterations, never inside one.

    `fields()` gives the Measurement fields: energy per batch over the whole window (its ends are
    what is trusted, MIN_WINDOW_S), mean power, the window's length, energy per batch of each rail,
    and one energy-per-batch sample per part of the window, for significance tests.
    """

    def __init__(self, sensor: EnergySensor, clock: Callable[[], float] = time.perf_counter) -> None:
        self._sensor, self._clock = sensor, clock
        self._marks: list[tuple[int, float, float]] = []  # (iterations, seconds, mJ) at each reading
        self._first_rails: dict[str, float] = {}
        self._rails: dict[str, float] = {}

    def begin(self) -> None:  # one reading for the window's energy and its rails: the same instant
        self._first_rails = self._sensor.read_rails_mj()
        self._marks.append((0, self._clock(), _first_rail(self._first_rails)))

    def tick(self, iterations: int, now: float) -> None:
        if now - self._marks[-1][1] >= SAMPLE_PERIOD_S:
            self._marks.append((iterations, now, self._sensor.read_mj()))

    def end(self, iterations: int, now: float) -> None:
        self._rails = self._sensor.read_rails_mj()
        if iterations > self._marks[-1][0]:
            self._marks.append((iterations, now, _first_rail(self._rails)))

    def fields(self) -> dict[str, Any]:
        (first_n, first_s, first_mj), (last_n, last_s, last_mj) = self._marks[0], self._marks[-1]
        calls, seconds = last_n - first_n, last_s - first_s
        if calls <= 0 or seconds <= 0:
            return {"energy_note": "the timed window was empty: no energy per batch"}
        parts = pairwise(self._marks)
        fields = {
            "energy_sensor": self._sensor.name,
            "energy_mj": (last_mj - first_mj) / calls,
            "mean_power_w": (last_mj - first_mj) / seconds / 1000,
            "energy_window_s": seconds,
            "energy_samples": [(b[2] - a[2]) / (b[0] - a[0]) for a, b in parts if b[0] > a[0]],
            "energy_rails_mj": {
                rail: (self._rails[rail] - self._first_rails[rail]) / calls
                for rail in self._sensor.rails
                if len(self._sensor.rails) > 1
            },
        }
        if seconds < MIN_WINDOW_S:
            fields["energy_note"] = (
                f"window of {seconds:.2g} s, shorter than the {MIN_WINDOW_S:g} s its energy is "
                "trusted over: give the cell more --max-seconds"
            )
        return fields


def _first_rail(rails: dict[str, float]) -> float:
    """The energy an EnergySensor's read_mj would give: its first rail (the board's, or the sum)."""
    return next(iter(rails.values()))
