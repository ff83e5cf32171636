"""collectors.energy: the pure arithmetic against hand-computed numbers, NVML through a stand-in
module, the real "unavailable" path of this host, and the energy window of a timed loop."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

from collectors.energy import Unavailable, open_sensor
from collectors.energy_sensors import CounterSensor, counter_delta, nvml_device, trapezoid_mj
from collectors.sysfs_sensors import RAPL_MISSING_FIX
from tests.sensor_stand_ins import fake_pynvml, sampler_threads

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


@pytest.mark.parametrize(
    ("index", "visible", "pci", "expected"),
    [
        (1, None, None, ("index", 1)),
        (1, "2,3", None, ("index", 3)),
        (0, "GPU-8a3e-0001, GPU-8a3e-0002", None, ("uuid", "GPU-8a3e-0001")),
        (0, "3", "0000:3b:00.0", ("pci", "0000:3b:00.0")),
    ],
)
def test_nvml_device_maps_cuda_index(index: int, visible: str | None, pci: str | None, expected: tuple) -> None:
    assert nvml_device(index, visible, pci) == expected


def test_nvml_device_index_not_visible() -> None:
    with pytest.raises(ValueError, match="CUDA device 2 is not among CUDA_VISIBLE_DEVICES=0,1"):
        nvml_device(2, "0,1", None)


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


def test_cuda_without_pynvml_names_the_package(tmp_path: Path, no_pynvml: None) -> None:
    found = open_sensor("cuda", sysfs=tmp_path)
    assert found == Unavailable(
        "no energy sensor for cuda on this machine: no NVIDIA GPU through NVML (pynvml is not installed); "
        f"no INA3221 rails under {tmp_path}/bus/i2c/drivers/ina3221 or {tmp_path}/bus/i2c/drivers/ina3221x",
        "pip install nvidia-ml-py",
    )


def test_unknown_device_is_unavailable() -> None:
    assert open_sensor("mps") == Unavailable(
        "no energy sensor for device 'mps': Parity reads energy for 'cpu' and 'cuda'", None
    )


HOST_HAS_INA3221 = any(Path("/sys/bus/i2c/drivers", driver).exists() for driver in ("ina3221", "ina3221x"))
HOST_HAS_POWERCAP = Path("/sys/class/powercap").exists()


@pytest.mark.skipif(
    HOST_HAS_POWERCAP or HOST_HAS_INA3221, reason="this host has powercap or INA3221: the test is of a host without"
)
def test_cpu_on_this_host_is_unavailable_and_says_why() -> None:
    # The real /sys of a machine without RAPL (a virtual machine) and without INA3221 (not a Jetson).
    assert open_sensor("cpu") == Unavailable(
        "no energy sensor for cpu on this machine: no RAPL zones under /sys/class/powercap; "
        "no INA3221 rails under /sys/bus/i2c/drivers/ina3221 or /sys/bus/i2c/drivers/ina3221x",
        RAPL_MISSING_FIX,
    )


@pytest.mark.skipif(
    HOST_HAS_INA3221 or importlib.util.find_spec("pynvml") is not None,
    reason="this host has pynvml or INA3221: the test is of a host without",
)
def test_cuda_on_this_host_is_unavailable_with_the_fix() -> None:
    found = open_sensor("cuda", gpu_index=0)
    assert isinstance(found, Unavailable)
    assert found.reason.startswith(
        "no energy sensor for cuda on this machine: "
        "no NVIDIA GPU through NVML (pynvml is not installed); no INA3221 rails"
    )
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
