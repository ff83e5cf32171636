"""collectors.energy: sensors read from fake sysfs trees that use the kernel's file names and units,
the pure arithmetic against hand-computed numbers, and the real "unavailable" path of this host."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from collectors.energy import Unavailable, idle_power_w, open_sensor
from collectors.energy_sensors import RAPL_MISSING_FIX, CounterSensor, counter_delta, nvml_device, trapezoid_mj

NOBODY = 65534


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


@pytest.fixture
def no_pynvml(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import pynvml` fails, as where nvidia-ml-py is not installed."""
    monkeypatch.setitem(sys.modules, "pynvml", None)


def sampler_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("parity-energy-")]


# -- pure arithmetic -------------------------------------------------------------------------------


def test_counter_delta_counts_up_and_across_a_wrap() -> None:
    assert counter_delta(1_000, 1_250, 2**64) == 250
    # RAPL wrapping at 10 J: 9 J -> wrap -> 1 J is 1 J to the wrap plus 1 J after it.
    assert counter_delta(9_000_000, 1_000_000, 10_000_000) == 2_000_000


def test_trapezoid_mj_hand_computed() -> None:
    # 10 ms at 5 W (50 mJ), then 20 ms rising from 5 W to 7 W (mean 6 W: 120 mJ).
    assert trapezoid_mj([(0.0, 5.0), (0.01, 5.0), (0.03, 7.0)]) == pytest.approx(170.0)
    assert trapezoid_mj([(0.0, 5.0)]) == 0.0


def test_counter_sensor_nvml_counter_deltas() -> None:
    readings = iter([(10_000,), (10_250,), (10_900,), (10_900,)])  # NVML's mJ since the driver loaded
    sensor = CounterSensor("nvml-counter", ("gpu0",), lambda: next(readings), to_mj=1.0, wraps=(2**64,))
    assert (sensor.name, sensor.rails, sensor.interval_s) == ("nvml-counter", ("gpu0",), None)
    assert sensor.read_mj() == 250.0
    assert sensor.read_rails_mj() == {"gpu0": 900.0}
    assert sensor.read_mj() == 900.0


@pytest.mark.parametrize(("index", "visible", "pci", "expected"), [
    (1, None, None, ("index", 1)),
    (1, "2,3", None, ("index", 3)),
    (0, "GPU-8a3e-0001, GPU-8a3e-0002", None, ("uuid", "GPU-8a3e-0001")),
    (0, "3", "0000:3b:00.0", ("pci", "0000:3b:00.0")),
])
def test_nvml_device_maps_cuda_index(index: int, visible: str | None, pci: str | None, expected: tuple) -> None:
    assert nvml_device(index, visible, pci) == expected


def test_nvml_device_index_not_visible() -> None:
    with pytest.raises(ValueError, match="CUDA device 2 is not among CUDA_VISIBLE_DEVICES=0,1"):
        nvml_device(2, "0,1", None)


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
        NVMLError=NVMLError, NVMLError_NotSupported=NVMLNotSupported, shutdowns=0, nvmlInit=lambda: None,
        nvmlDeviceGetHandleByIndex=lambda index: f"gpu{index}", nvmlDeviceGetIndex=lambda handle: int(handle[3:]),
        nvmlDeviceGetTotalEnergyConsumption=(lambda handle: next(readings)) if energy_mj else unsupported,
        nvmlDeviceGetPowerUsage=(lambda handle: power_mw) if power_mw is not None else unsupported)
    module.nvmlShutdown = lambda: setattr(module, "shutdowns", module.shutdowns + 1)
    return module


def test_nvml_counter_of_the_visible_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_pynvml([5_000, 5_400], None)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    sensor = open_sensor("cuda", gpu_index=1)
    assert not isinstance(sensor, Unavailable), sensor
    assert (sensor.name, sensor.rails, sensor.interval_s) == ("nvml-counter", ("gpu3",), None)
    assert sensor.read_mj() == 400.0
    sensor.close()
    sensor.close()
    assert nvml.shutdowns == 1


def test_nvml_power_sampled_where_no_counter(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_pynvml(None, 150_000)  # 150 W
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    before = time.perf_counter()
    sensor = open_sensor("cuda")
    assert not isinstance(sensor, Unavailable), sensor
    assert (sensor.name, sensor.rails, sensor.interval_s) == ("nvml-power", ("gpu0",), 0.01)
    time.sleep(0.05)
    energy_mj = sensor.read_mj()
    assert 150.0 * 0.05 * 1000 <= energy_mj <= 150.0 * (time.perf_counter() - before) * 1000
    sensor.close()
    assert sampler_threads() == []
    assert nvml.shutdowns == 1


def test_nvml_without_energy_falls_back_to_ina3221(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_pynvml(None, None)  # a Jetson's NVML: neither counter nor power
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert open_sensor("cuda", sysfs=tmp_path) == Unavailable(
        "no energy sensor for cuda on this machine: NVML reads no energy of CUDA device 0 (Not Supported); "
        f"no INA3221 rails under {tmp_path}/bus/i2c/drivers/ina3221 or {tmp_path}/bus/i2c/drivers/ina3221x", None)
    ina3221_hwmon(tmp_path, "1-0040", ORIN_NANO)
    sensor = open_sensor("cuda", sysfs=tmp_path)
    assert not isinstance(sensor, Unavailable), sensor
    assert sensor.name == "ina3221:VDD_IN"
    sensor.close()
    assert nvml.shutdowns == 2  # once after each failed opening


# -- RAPL ------------------------------------------------------------------------------------------


def test_rapl_packages_and_dram_across_a_wrap(tmp_path: Path) -> None:
    package = rapl_zone(tmp_path, "intel-rapl:0", "package-0", 9_000_000, max_uj=10_000_000)
    core = rapl_zone(tmp_path, "intel-rapl:0:0", "core", 5_000_000)
    dram = rapl_zone(tmp_path, "intel-rapl:0:1", "dram", 100_000, max_uj=10_000_000)
    psys = rapl_zone(tmp_path, "intel-rapl:1", "psys", 50_000_000)
    sensor = open_sensor("cpu", sysfs=tmp_path)
    assert not isinstance(sensor, Unavailable), sensor
    assert (sensor.name, sensor.rails, sensor.interval_s) == (
        "rapl:package-0+dram", ("package-0+dram", "package-0", "dram"), None)

    write(package / "energy_uj", 1_000_000)  # wrapped: 1 J to the wrap + 1 J = 2,000 mJ
    write(dram / "energy_uj", 400_000)  # 300 mJ
    write(core / "energy_uj", 9_000_000)  # inside the package: not added
    write(psys / "energy_uj", 99_000_000)  # the whole platform: not added
    expected = {"package-0+dram": 2300.0, "package-0": 2000.0, "dram": 300.0}
    assert sensor.read_rails_mj() == pytest.approx(expected)
    assert sensor.read_mj() == pytest.approx(2300.0)
    sensor.close()


def test_rapl_two_packages_name_each_dram(tmp_path: Path) -> None:
    for n in (0, 1):
        rapl_zone(tmp_path, f"intel-rapl:{n}", f"package-{n}", 1_000)
        rapl_zone(tmp_path, f"intel-rapl:{n}:0", "dram", 1_000)
    sensor = open_sensor("cpu", sysfs=tmp_path)
    assert not isinstance(sensor, Unavailable), sensor
    assert sensor.name == "rapl:package-0+dram-0+package-1+dram-1"
    assert sensor.rails[1:] == ("package-0", "dram-0", "package-1", "dram-1")
    assert sensor.read_mj() == 0.0


def unprivileged(function: Callable[[], list]) -> list:
    """function() run without root's power to read any file. As root (tests may run so) chmod 000
    blocks nothing, so there it runs in a forked child that drops to `nobody`; returns what the
    child sent back as JSON."""
    if os.geteuid() != 0:
        return function()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(writer, json.dumps(function()).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        sent = pipe.read()
    os.waitpid(pid, 0)
    assert sent, "the unprivileged child sent nothing back: it raised"
    return json.loads(sent)


def test_rapl_root_only_counter_is_unavailable_with_the_fix() -> None:
    # The real PermissionError: chmod 000, as kernels since CVE-2020-8694 make energy_uj root-only
    # (0400); as root, read by a child that drops to nobody. The tree must be reachable by nobody,
    # which pytest's tmp_path (under a 0700 folder) is not.
    with tempfile.TemporaryDirectory() as folder:
        sysfs = Path(folder)
        sysfs.chmod(0o755)
        (rapl_zone(sysfs, "intel-rapl:0", "package-0", 1_000) / "energy_uj").chmod(0o000)

        def attempt() -> list:
            found = open_sensor("cpu", sysfs=sysfs)
            return [found.reason, found.fix] if isinstance(found, Unavailable) else [found.name, None]

        reason, fix = unprivileged(attempt)
    assert f"RAPL's {sysfs}/class/powercap/intel-rapl:0/energy_uj is readable by root only" in reason
    assert f"sudo chmod a+r {sysfs}/class/powercap/intel-rapl:*/energy_uj" in fix
    assert "CVE-2020-8694" in fix


def test_rapl_counter_that_cannot_be_read_names_it(tmp_path: Path) -> None:
    # Any other read error (here a folder where the counter should be: EISDIR) names the file.
    counter = rapl_zone(tmp_path, "intel-rapl:0", "package-0", 1_000) / "energy_uj"
    counter.unlink()
    counter.mkdir()
    found = open_sensor("cpu", sysfs=tmp_path)
    assert isinstance(found, Unavailable)
    assert f"RAPL's counters under {tmp_path}/class/powercap cannot be read" in found.reason
    assert f"Is a directory: '{tmp_path}/class/powercap/intel-rapl:0/energy_uj'" in found.reason


# -- INA3221 (Jetson) ------------------------------------------------------------------------------


def test_ina3221_board_rail_first_and_energy_per_rail(tmp_path: Path) -> None:
    ina3221_hwmon(tmp_path, "1-0040", ORIN_NANO)
    before = time.perf_counter()
    sensor = open_sensor("cpu", sysfs=tmp_path)  # no RAPL on a Jetson: the board rail
    assert not isinstance(sensor, Unavailable), sensor
    assert (sensor.name, sensor.rails, sensor.interval_s) == (
        "ina3221:VDD_IN", ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"), 0.02)
    time.sleep(0.1)
    rails = sensor.read_rails_mj()
    elapsed = time.perf_counter() - before
    # Constant power: every trapezoid is exact, so the rails keep the ratio of their powers.
    assert rails["VDD_IN"] / rails["VDD_SOC"] == pytest.approx(6.0 / 1.5)
    assert rails["VDD_IN"] / rails["VDD_CPU_GPU_CV"] == pytest.approx(6.0 / 2.0)
    assert 6.0 * 0.1 * 1000 <= rails["VDD_IN"] <= 6.0 * elapsed * 1000
    assert sensor.read_mj() >= rails["VDD_IN"]
    sensor.close()


def test_ina3221_sampling_thread_follows_a_change_and_stops(tmp_path: Path) -> None:
    hwmon = ina3221_hwmon(tmp_path, "1-0040", ORIN_NANO)
    sensor = open_sensor("cpu", sysfs=tmp_path)
    assert not isinstance(sensor, Unavailable), sensor
    assert sampler_threads() == ["parity-energy-ina3221:VDD_IN"]
    start_mj, start_s = sensor.read_mj(), time.perf_counter()
    write(hwmon / "in1_input", 10_000)  # VDD_IN from 6 W to 12 W
    time.sleep(0.5)
    mean_w = (sensor.read_mj() - start_mj) / (time.perf_counter() - start_s) / 1000
    # The read alone would integrate one trapezoid from 6 W to 12 W: 9 W. The thread's samples,
    # 12 W from its first tick after the change (20 ms), lift the mean to about 11.9 W; 10.5 W
    # allows that tick to come up to 0.25 s late.
    assert 10.5 < mean_w <= 12.0 + 1e-9
    sensor.close()
    assert sampler_threads() == []


def test_ina3221_without_board_input_reports_the_sum_first(tmp_path: Path, no_pynvml: None) -> None:
    # Jetson AGX Orin: no VDD_IN; the second monitor has one connected channel. A disabled channel
    # answers ENODATA, which a file cannot; a folder in its place fails the read as well (EISDIR).
    ina3221_hwmon(tmp_path, "1-0040", {1: ("VDD_GPU_SOC", 19_000, 500), 2: ("VDD_CPU_CV", 19_000, 200),
                                       3: ("VIN_SYS_5V0", 5_000, 600)})
    second = ina3221_hwmon(tmp_path, "1-0041", {2: ("VDDQ_VDD2_1V8AO", 1_800, 100), 3: ("NC", 0, 0)})
    (second / "in3_input").unlink()
    (second / "in3_input").mkdir()
    sensor = open_sensor("cuda", sysfs=tmp_path)  # no NVML on a Jetson: the INA3221
    assert not isinstance(sensor, Unavailable), sensor
    parts = ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO")
    assert sensor.name == "ina3221:" + "+".join(parts)
    assert sensor.rails == ("+".join(parts), *parts)
    time.sleep(0.05)
    rails = sensor.read_rails_mj()
    sensor.close()
    assert rails["+".join(parts)] == pytest.approx(sum(rails[part] for part in parts))
    assert rails["VDD_GPU_SOC"] / rails["VDD_CPU_CV"] == pytest.approx(9.5 / 3.8)


def test_ina3221_older_iio_layout(tmp_path: Path, no_pynvml: None) -> None:
    iio = tmp_path / "bus/i2c/drivers/ina3221x/6-0040/iio:device0"
    for n, (rail, milliwatts) in enumerate([("POM_5V_IN", 4000), ("POM_5V_GPU", 1000), ("POM_5V_CPU", 500)]):
        write(iio / f"rail_name_{n}", rail)
        write(iio / f"in_power{n}_input", milliwatts)
        write(iio / f"in_current{n}_input", milliwatts // 5)
        write(iio / f"in_voltage{n}_input", 5000)
    sensor = open_sensor("cuda", sysfs=tmp_path)  # a Jetson Nano: no NVML, the board rail
    assert not isinstance(sensor, Unavailable), sensor
    assert (sensor.name, sensor.rails) == ("ina3221:POM_5V_IN", ("POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"))
    time.sleep(0.05)
    rails = sensor.read_rails_mj()
    sensor.close()
    assert rails["POM_5V_IN"] / rails["POM_5V_GPU"] == pytest.approx(4.0)


def test_idle_power_w_is_the_mean_power(tmp_path: Path) -> None:
    ina3221_hwmon(tmp_path, "1-0040", ORIN_NANO)
    sensor = open_sensor("cpu", sysfs=tmp_path)
    assert not isinstance(sensor, Unavailable), sensor
    # The sensor's clock and idle_power_w's are read microseconds apart: 1 % covers it.
    assert idle_power_w(sensor, 0.2) == pytest.approx(6.0, rel=0.01)
    sensor.close()


# -- nothing to read -------------------------------------------------------------------------------


def test_cuda_without_pynvml_names_the_package(tmp_path: Path, no_pynvml: None) -> None:
    found = open_sensor("cuda", sysfs=tmp_path)
    assert found == Unavailable(
        "no energy sensor for cuda on this machine: no NVIDIA GPU through NVML (pynvml is not installed); "
        f"no INA3221 rails under {tmp_path}/bus/i2c/drivers/ina3221 or {tmp_path}/bus/i2c/drivers/ina3221x",
        "pip install nvidia-ml-py")


def test_unknown_device_is_unavailable() -> None:
    assert open_sensor("mps") == Unavailable(
        "no energy sensor for device 'mps': Parity reads energy for 'cpu' and 'cuda'", None)


HOST_HAS_INA3221 = any(Path("/sys/bus/i2c/drivers", driver).exists() for driver in ("ina3221", "ina3221x"))
HOST_HAS_POWERCAP = Path("/sys/class/powercap").exists()


@pytest.mark.skipif(HOST_HAS_POWERCAP or HOST_HAS_INA3221,
                    reason="this host has powercap or INA3221: the test is of a host without")
def test_cpu_on_this_host_is_unavailable_and_says_why() -> None:
    # The real /sys of a machine without RAPL (a virtual machine) and without INA3221 (not a Jetson).
    assert open_sensor("cpu") == Unavailable(
        "no energy sensor for cpu on this machine: no RAPL zones under /sys/class/powercap; "
        "no INA3221 rails under /sys/bus/i2c/drivers/ina3221 or /sys/bus/i2c/drivers/ina3221x",
        RAPL_MISSING_FIX)


@pytest.mark.skipif(HOST_HAS_INA3221 or importlib.util.find_spec("pynvml") is not None,
                    reason="this host has pynvml or INA3221: the test is of a host without")
def test_cuda_on_this_host_is_unavailable_with_the_fix() -> None:
    found = open_sensor("cuda", gpu_index=0)
    assert isinstance(found, Unavailable)
    assert found.reason.startswith("no energy sensor for cuda on this machine: "
                                   "no NVIDIA GPU through NVML (pynvml is not installed); no INA3221 rails")
    assert found.fix == "pip install nvidia-ml-py"


class _SteadyCounter:
    """A counter of a device drawing a steady 100 W, read on a clock the test moves."""

    name, interval_s, rails = "steady", None, ("board", "gpu")

    def __init__(self) -> None:
        self.now = 0.0

    def read_mj(self) -> float:
        return 100.0 * self.now * 1000

    def read_rails_mj(self) -> dict[str, float]:
        return {"board": self.read_mj(), "gpu": 0.6 * self.read_mj()}

    def close(self) -> None:
        pass


def test_energy_window_gives_energy_per_batch_power_and_a_sample_per_part() -> None:
    from collectors.energy import SAMPLE_PERIOD_S, EnergyWindow

    sensor = _SteadyCounter()
    window = EnergyWindow(sensor, clock=lambda: sensor.now)
    window.begin()
    for iteration in range(1, 31):  # 30 calls of 0.1 s: 10 J each at 100 W
        sensor.now = iteration * 0.1
        window.tick(iteration, sensor.now)
    window.end(30, sensor.now)
    fields = window.fields()
    assert fields["energy_mj"] == pytest.approx(10_000.0)
    assert fields["mean_power_w"] == pytest.approx(100.0) and fields["energy_window_s"] == pytest.approx(3.0)
    assert fields["energy_rails_mj"] == pytest.approx({"board": 10_000.0, "gpu": 6_000.0})
    assert len(fields["energy_samples"]) == round(3.0 / SAMPLE_PERIOD_S)
    assert fields["energy_samples"] == pytest.approx([10_000.0] * len(fields["energy_samples"]))
    assert "energy_note" not in fields


def test_energy_window_shorter_than_trusted_says_so() -> None:
    from collectors.energy import MIN_WINDOW_S, EnergyWindow

    sensor = _SteadyCounter()
    window = EnergyWindow(sensor, clock=lambda: sensor.now)
    window.begin()
    sensor.now = MIN_WINDOW_S / 4
    window.end(5, sensor.now)
    assert window.fields()["energy_note"].startswith(f"window of {MIN_WINDOW_S / 4:.2g} s, shorter than")
