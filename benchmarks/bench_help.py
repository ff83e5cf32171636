"""How long `parity <command> --help` takes, and which heavy libraries it imports.

A `--help` (and every argument error) should answer before duckdb, pyarrow, pandas or torch is
imported: they cost most of a second together. Runs each command's `--help` in a fresh
interpreter with `-X importtime`, N times, from the current folder (so another checkout can be
measured by running this file from there), and prints the median wall time and the heavy
libraries that were imported.

  .venv/bin/python benchmarks/bench_help.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = ["", "bench", "ingest", "report", "compare", "query", "probe", "demo"]
HEAVY = ("duckdb", "pyarrow", "pandas", "torch")


def heavy_imports(command: str) -> list[str]:
    """The heavy top-level packages `parity <command> --help` imports."""
    argv = [sys.executable, "-X", "importtime", "-m", "reporter.cli", *command.split(), "--help"]
    trace = subprocess.run(argv, capture_output=True, text=True, check=True).stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in trace.splitlines() if line.startswith("import time:")}
    return [name for name in HEAVY if name in imported]


def median_seconds(command: str, repeat: int) -> float:
    argv = [sys.executable, "-m", "reporter.cli", *command.split(), "--help"]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"{'command':<20} {'median ms':>9}  heavy imports")
    for command in COMMANDS:
        try:
            heavy = heavy_imports(command)
        except subprocess.CalledProcessError:
            print(f"parity {command:<13} {'':>9}  (no such command here)")
            continue
        print(f"parity {command:<13} {median_seconds(command, args.repeat) * 1000:>9.0f}  {', '.join(heavy) or '-'}")


if __name__ == "__main__":
    main()
