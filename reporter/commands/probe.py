"""List every Alma conversion: runnable here, or unavailable and exactly why, with the fix.

Checks packages (without importing them), the CUDA device, torch APIs that Alma needs but the
running torch removed, ONNX Runtime's providers and the conversions known broken in Alma 0.3.7.
Example:

  parity probe --device cuda
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

HELP = "which Alma conversions can run here, and why not"
ORDER = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="where the conversions would run (default: cpu)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON array, one object per conversion")


REASON_WIDTH, FIX_WIDTH = 60, 50  # characters shown in the text table; --json has the full text


def run(args: argparse.Namespace) -> int:
    from collectors.probe import probe
    from reporter.formatting import text_table

    results = probe(args.device)
    if args.json:
        print(json.dumps([asdict(a) for a in results], indent=2))
        return 0
    rows = [
        [str(a.alma_id), a.conversion, _status(a, args.device), _clip(a.reason, REASON_WIDTH), _clip(a.fix, FIX_WIDTH)]
        for a in results
    ]
    print(text_table(["id", "conversion", "status", "reason", "fix"], rows))
    if any(len(a.reason or "") > REASON_WIDTH or len(a.fix or "") > FIX_WIDTH for a in results):
        print("(a reason or fix cut at \u2026 is in full in `parity probe --json`)")
    print(count_line(results, args.device))
    return 0


def _status(availability, device: str) -> str:
    if not availability.runnable:
        return "unavailable"
    return "runnable" if availability.runs_on == device else f"runnable on {availability.runs_on}"


def count_line(results, device: str) -> str:
    """How many conversions run on `device` here, counting those that run elsewhere (ONNX_CPU on a
    CUDA bench runs on the CPU) apart, so that the count matches the status column."""
    on_device = sum(a.runnable and a.runs_on == device for a in results)
    elsewhere = [a.conversion for a in results if a.runnable and a.runs_on != device]
    line = f"{on_device} of {len(results)} conversions can run on {device} here"
    if elsewhere:
        verb = "runs" if len(elsewhere) == 1 else "run"
        line += f"; {len(elsewhere)} more {verb} on the cpu even with --device {device} ({', '.join(elsewhere)})"
    return line


def _clip(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
