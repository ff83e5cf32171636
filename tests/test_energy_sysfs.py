"""collectors.energy_sensors on sysfs: RAPL and INA3221 read from fake trees that use the kernel's
file names and units (microjoules, milliwatts, wrap-around), and NVML's fallback to INA3221."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from collectors.energy import Unavailable, idle_power_w, open_sensor
from tests.sensor_stand_ins import ORIN_NANO, fake_pynvml, ina3221_hwmon, rapl_zone, sampler_threads, write

NOBODY = 65534


def test_nvml_without_energy_falls_back_to_ina3221(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_pynvml(None, None)  # a Jetson's NVML: neither counter nor power
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert open_sensor("cuda", sysfs=tmp_path) == Unavailable(
        "no energy sensor for cuda on this machine: NVML reads no energy of CUDA device 0 (Not Supported); "
        f"no INA3221 rails under {tmp_path}/bus/i2c/drivers/ina3221 or {tmp_path}/bus/i2c/drivers/ina3221x",
        None,
    )
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
        "rapl:package-0+dram",
        ("package-0+dram", "package-0", "dram"),
        None,
    )

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
        "ina3221:VDD_IN",
        ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"),
        0.02,
    )
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
    ina3221_hwmon(
        tmp_path,
        "1-0040",
        {1: ("VDD_GPU_SOC", 19_000, 500), 2: ("VDD_CPU_CV", 19_000, 200), 3: ("VIN_SYS_5V0", 5_000, 600)},
    )
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
