"""Does Parity's NVML energy reading hold on this GPU? The counter against integrated power.

Runs windows of synchronised calls (resnet50, weights=None, random input) and reads, over each
window, NVML's total-energy counter (collectors.energy's "nvml-counter" sensor) and NVML's power
reading sampled every 10 ms and integrated by trapezoids (the "nvml-power" sensor) side by side.
Prints, and writes as JSON, each window's counter / integrated ratio, energy per batch and mean
power; fp16 and fp32 batch 32 windows show the expected order of energy per batch.

  python3 benchmarks/energy_check.py OUT.json [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.energy_sensors import NVML_POWER_INTERVAL_S, SamplingSensor, open_nvml  # noqa: E402
from collectors.models import model_and_input  # noqa: E402

WINDOWS = (
    ("idle", None, 0),
    ("resnet50 fp32 b32", "EAGER", 32),
    ("resnet50 fp16 b32", "FP16+EAGER", 32),
    ("resnet50 fp32 b1", "EAGER", 1),
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    import pynvml
    import torch

    torch.cuda.init()
    counter = open_nvml(torch.cuda.current_device())
    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    sampled = SamplingSensor(
        "nvml-power",
        ("gpu0",),
        lambda: (pynvml.nvmlDeviceGetPowerUsage(handle) / 1000,),
        interval_s=NVML_POWER_INTERVAL_S,
    )
    rows = [_window(name, conversion, batch, counter, sampled, args.seconds) for name, conversion, batch in WINDOWS]
    counter.close()
    sampled.close()
    args.out.write_text(json.dumps(rows, indent=2))
    for row in rows:
        print(json.dumps(row))
    return 0


def _window(name: str, conversion: str | None, batch: int, counter, sampled, seconds: float) -> dict:
    import torch

    call = None
    if conversion:
        model, data = model_and_input("resnet50", conversion, batch, torch.device("cuda"))
        model = model.half() if conversion.startswith("FP16") else model
        call = lambda: model(data)  # noqa: E731
        with torch.no_grad():
            for _ in range(20):  # warm-up: clocks up, kernels chosen
                call()
        torch.cuda.synchronize()
    start_counter, start_sampled, started, calls = counter.read_mj(), sampled.read_mj(), time.perf_counter(), 0
    with torch.no_grad():
        while time.perf_counter() - started < seconds:
            if call is None:
                time.sleep(0.05)
            else:
                call()
                torch.cuda.synchronize()
                calls += 1
    elapsed = time.perf_counter() - started
    by_counter, by_samples = counter.read_mj() - start_counter, sampled.read_mj() - start_sampled
    return {
        "window": name,
        "seconds": round(elapsed, 3),
        "calls": calls,
        "counter_mj": round(by_counter, 1),
        "integrated_mj": round(by_samples, 1),
        "counter_over_integrated": round(by_counter / by_samples, 4),
        "mean_power_w": round(by_counter / elapsed / 1000, 1),
        "energy_per_batch_mj": round(by_counter / calls, 2) if calls else None,
    }


if __name__ == "__main__":
    sys.exit(main())
