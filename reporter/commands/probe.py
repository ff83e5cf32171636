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
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the conversions would run (default: cpu)")
    parser.add_argument("--json", action="store_true", help="one JSON array, one object per conversion")


def run(args: argparse.Namespace) -> int:
    from collectors.probe import probe
    from reporter.formatting import text_table

    results = probe(args.device)
    if args.json:
        print(json.dumps([asdict(a) for a in results], indent=2))
        return 0
    rows = [[str(a.alma_id), a.conversion, "runnable" if a.runnable else "unavailable",
             a.reason or "", a.fix or ""] for a in results]
    print(text_table(["id", "conversion", "status", "reason", "fix"], rows))
    runnable = sum(a.runnable for a in results)
    print(f"{runnable} of {len(results)} conversions can run on {args.device} here")
    return 0
