"""Stand-ins for energy sensors, laid out as the real ones are: sysfs trees with the kernel's file
names and units (powercap RAPL zones in microjoules, INA3221 rails in millivolts and milliamps),
and a pynvml module with nvidia-ml-py's names, errors and units."""

from __future__ import annotations

import os
import threading
import types
from pathlib import Path


def write(path: Path, value: object) -> None:
    """Replaces the file whole, as a sysfs value changes: a sampling thread never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(path.name + ".new")
    staged.write_text(f"{value}\n")
    os.replace(staged, path)


def rapl_zone(sysfs: Path, zone: str, name: str, energy_uj: int, max_uj: int = 262_143_328_850) -> Path:
    """A powercap zone as the kernel lays it out: a folder under devices (subzones inside their zone's
    folder) and a link to it in class/powercap, beside the control type's own link."""
    parent = zone.rsplit(":", 1)[0] if zone.count(":") == 2 else ""
    folder = sysfs / "devices/virtual/powercap/intel-rapl" / parent / zone
    write(folder / "name", name)
    write(folder / "energy_uj", energy_uj)
    write(folder / "max_energy_range_uj", max_uj)
    links = sysfs / "class/powercap"
    links.mkdir(parents=True, exist_ok=True)
    (links / zone).symlink_to(folder)
    if not (links / "intel-rapl").exists():
        (links / "intel-rapl").symlink_to(sysfs / "devices/virtual/powercap/intel-rapl")
    return folder


def ina3221_hwmon(sysfs: Path, device: str, rails: dict[int, tuple[str, int, int]]) -> Path:
    """An INA3221 under the hwmon driver: channel -> (label, bus mV, mA), with the files the driver
    adds beside the rails (shunt voltages in4-6, channel 7's label-only sum of shunt voltages)."""
    hwmon = sysfs / "bus/i2c/drivers/ina3221" / device / "hwmon/hwmon3"
    for channel, (label, millivolts, milliamps) in rails.items():
        write(hwmon / f"in{channel}_label", label)
        write(hwmon / f"in{channel}_input", millivolts)
        write(hwmon / f"curr{channel}_input", milliamps)
        write(hwmon / f"in{channel + 3}_input", 12)
    write(hwmon / "in7_label", "sum of shunt voltages")
    write(hwmon / "in7_input", 36)
    write(hwmon / "update_interval", 6)
    return hwmon


ORIN_NANO = {1: ("VDD_IN", 5000, 1200), 2: ("VDD_CPU_GPU_CV", 5000, 400), 3: ("VDD_SOC", 5000, 300)}  # 6, 2, 1.5 W


def sampler_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("parity-energy-")]


class NVMLError(Exception):
    pass


class NVMLNotSupported(NVMLError):
    pass


def fake_pynvml(energy_mj: list[int] | None, power_mw: int | None) -> types.ModuleType:
    """A stand-in for nvidia-ml-py (absent here) with its names and units: GPUs found by NVML index,
    a counter that reads `energy_mj` in turn (None: not supported, as before Volta) and a power
    reading of `power_mw` (None: not supported, as on a Jetson). Counts nvmlShutdown calls."""

    def unsupported(handle: str) -> int:
        raise NVMLNotSupported("Not Supported")

    readings = iter(energy_mj or ())
    module = types.ModuleType("pynvml")
    module.__dict__.update(
        NVMLError=NVMLError,
        NVMLError_NotSupported=NVMLNotSupported,
        shutdowns=0,
        nvmlInit=lambda: None,
        nvmlDeviceGetHandleByIndex=lambda index: f"gpu{index}",
        nvmlDeviceGetIndex=lambda handle: int(handle[3:]),
        nvmlDeviceGetTotalEnergyConsumption=(lambda handle: next(readings)) if energy_mj else unsupported,
        nvmlDeviceGetPowerUsage=(lambda handle: power_mw) if power_mw is not None else unsupported,
    )
    module.nvmlShutdown = lambda: setattr(module, "shutdowns", module.shutdowns + 1)
    return module
