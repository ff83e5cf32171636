"""The energy sensors read from sysfs: a Jetson's INA3221 power monitor (its rails sampled and
integrated) and RAPL's energy counters through powercap (packages and DRAM). Each `open_*`
returns a sensor of collectors.energy_sensors' two kinds, or an `Unavailable` with the fix."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from pathlib import Path

from collectors.energy_sensors import CounterSensor, SamplingSensor, Unavailable, rail_names

# 20 ms: three times the INA3221's conversion cycle in its power-on setting (3 channels x 1.1 ms bus
# + 1.1 ms shunt = 6.6 ms), so most samples are fresh, at half the I2C reads and GIL wake-ups of
# 10 ms on a Jetson CPU that is also running the benchmark.
INA3221_INTERVAL_S = 0.02
INA3221_HWMON = Path("bus/i2c/drivers/ina3221")  # JetPack 5 and later
INA3221_IIO = Path("bus/i2c/drivers/ina3221x")  # JetPack 4
# The module's input, which covers the other rails: VDD_IN (Orin NX and Nano, Xavier NX, TX2), POM_5V_IN (Nano).
BOARD_INPUT_RAILS = ("VDD_IN", "POM_5V_IN")
POWERCAP = Path("class/powercap")
RAPL_MISSING_FIX = "on an Intel or AMD host: sudo modprobe intel_rapl_msr (virtual machines rarely expose RAPL)"


# -- INA3221 (Jetson) ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Channel:
    label: str
    files: tuple[Path, ...]  # integer readings whose product is the power
    to_watts: float  # the product's unit in W: mV x mA = uW (hwmon), mW (iio)

    def watts(self) -> float:
        return prod(int(file.read_text()) for file in self.files) * self.to_watts


def _ina3221_channels(sysfs: Path) -> list[_Channel]:
    """Every named INA3221 channel, in both drivers' layouts: hwmon (in{N}_label, in{N}_input in mV,
    curr{N}_input in mA; channel 7, "sum of shunt voltages", has no current and is no rail) and the
    older iio driver (rail_name_{N}, in_power{N}_input in mW)."""
    channels = []
    for hwmon in sorted((sysfs / INA3221_HWMON).glob("*/hwmon/hwmon*")):
        for label in sorted(hwmon.glob("in*_label")):
            n = label.name.removeprefix("in").removesuffix("_label")
            if (hwmon / f"curr{n}_input").exists():
                files = (hwmon / f"in{n}_input", hwmon / f"curr{n}_input")
                channels.append(_Channel(label.read_text().strip(), files, 1e-6))
    for iio in sorted((sysfs / INA3221_IIO).glob("*/iio:device*")):
        for name in sorted(iio.glob("rail_name_*")):
            power = iio / f"in_power{name.name.removeprefix('rail_name_')}_input"
            channels.append(_Channel(name.read_text().strip(), (power,), 1e-3))
    return channels


def _reads(channel: _Channel) -> bool:
    try:
        channel.watts()
    except (OSError, ValueError):  # a disabled hwmon channel answers ENODATA
        return False
    return True


def open_ina3221(sysfs: Path) -> SamplingSensor | Unavailable:
    """The INA3221 rails of a Jetson, all integrated by one thread every 20 ms, the board input
    (VDD_IN) first, as "ina3221:VDD_IN"; a board without one (AGX Orin, AGX Xavier) reports the sum
    of its rails first, e.g. "ina3221:VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0+VDDQ_VDD2_1V8AO"."""
    readable = [channel for channel in _ina3221_channels(sysfs) if _reads(channel)]
    channels = sorted(readable, key=lambda channel: channel.label not in BOARD_INPUT_RAILS)  # stable: sysfs order
    if not channels:
        return Unavailable(f"no INA3221 rails under {sysfs / INA3221_HWMON} or {sysfs / INA3221_IIO}", None)
    parts = tuple(channel.label for channel in channels)
    summed = len(parts) > 1 and parts[0] not in BOARD_INPUT_RAILS
    return SamplingSensor(
        f"ina3221:{rail_names(parts, summed)[0]}",
        parts,
        lambda: [channel.watts() for channel in channels],
        interval_s=INA3221_INTERVAL_S,
        summed=summed,
    )


# -- RAPL (Intel, AMD) -----------------------------------------------------------------------------


def _text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _rapl_zones(sysfs: Path) -> list[tuple[str, Path]]:
    """(label, folder) of every package zone and DRAM subzone. Core and uncore lie inside their
    package, and psys (the whole platform) holds the packages: adding either would count twice."""
    root = sysfs / POWERCAP
    # /sys/class/powercap lists subzones (intel-rapl:0:1) beside zones: zones have one colon.
    tops = [zone for zone in root.glob("intel-rapl:*") if zone.name.count(":") == 1]
    packages = sorted(
        (zone for zone in tops if _text(zone / "name").startswith("package")),
        key=lambda zone: int(zone.name.split(":")[1]),
    )
    zones = []
    for package in packages:
        name = _text(package / "name")
        zones.append((name, package))
        for sub in sorted(package.glob(f"{package.name}:*")):
            if _text(sub / "name") == "dram":
                zones.append(("dram" if len(packages) == 1 else f"dram-{name.removeprefix('package-')}", sub))
    return zones


def open_rapl(sysfs: Path) -> CounterSensor | Unavailable:
    """RAPL's energy counters (uJ, wrapping at max_energy_range_uj) of all packages and their DRAM,
    e.g. "rapl:package-0+dram". Read a window's ends less than one wrap apart: 2**32 counter units,
    about 262 kJ on Intel, so some 17 minutes at 250 W."""
    zones = _rapl_zones(sysfs)
    if not zones:
        return Unavailable(f"no RAPL zones under {sysfs / POWERCAP}", RAPL_MISSING_FIX)
    files = [folder / "energy_uj" for _, folder in zones]
    parts = tuple(label for label, _ in zones)
    try:
        wraps = [int((folder / "max_energy_range_uj").read_text()) for _, folder in zones]
        return CounterSensor(
            f"rapl:{rail_names(parts, len(parts) > 1)[0]}",
            parts,
            lambda: [int(file.read_text()) for file in files],
            to_mj=1e-3,
            wraps=wraps,
            summed=len(parts) > 1,
        )
    except PermissionError as error:
        # Since CVE-2020-8694 (PLATYPUS, a power side channel) kernels make energy_uj root-only.
        return Unavailable(
            f"RAPL's {error.filename} is readable by root only",
            f"sudo chmod a+r {sysfs / POWERCAP}/intel-rapl:*/energy_uj (or a udev rule that does "
            "so at boot; the kernel restricts it since CVE-2020-8694, PLATYPUS)",
        )
    except (OSError, ValueError) as error:
        return Unavailable(f"RAPL's counters under {sysfs / POWERCAP} cannot be read ({error})", None)
