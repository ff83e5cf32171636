"""The embedded default: benchmark two small models on this CPU, add Parity's example predictions
(and the H200 bundle shipped in data/examples/), and write a report to open. A few minutes on two
cores.

The demo keeps its own database (data/demo.duckdb; $PARITY_DB is ignored) so example numbers
never mix with real ones. The example predictions are for made-up platforms `example-cpu` and
`h100-sxm5-80gb` (predictor `parity-example`): this CPU is declared a proxy for `example-cpu`,
and the H200 for the H100, so every comparison it shows is labelled proxy. Run it again and the
database gains a second night: the demo then also compares the two (`parity compare`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from collectors.vocabulary import OK
from reporter.commands import add_wait_option

if TYPE_CHECKING:  # imported for real inside run(): `parity --help` stays instant
    from collectors.bench import BenchResult, CellProgress
    from reporter.store import Store

HELP = "a small CPU benchmark plus shipped example predictions, ending in a report to open"
ORDER = 7
DEMO_DB = Path("data") / "demo.duckdb"
DEMO_SITE = Path("site") / "demo"
MODELS = ["mobilenet_v3_small", "resnet18"]
CONVERSIONS = ["EAGER", "COMPILE_INDUCTOR_DEFAULT", "ONNX_CPU"]
EXAMPLE_CPU, EXAMPLE_GPU, SHIPPED_GPU = "example-cpu", "h100-sxm5-80gb", "nvidia-h200"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=DEMO_DB, help=f"the demo's database (default: {DEMO_DB})")
    parser.add_argument("--out", type=Path, default=DEMO_SITE, help=f"folder for the report (default: {DEMO_SITE})")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=3.0,
        help="time budget per cell for warm-up and timing, compile excluded (default 3)",
    )
    add_wait_option(parser, writes=True)


def run(args: argparse.Namespace) -> int:
    import time

    from reporter.runs import check_writable, save_result
    from reporter.store import Store

    started = time.monotonic()
    # As bench does: a busy or damaged database stops the demo before it measures, and the
    # database is not held (locked against every other writer) while it measures.
    check_writable(args.db, wait_s=args.wait)
    result = _bench(args.max_seconds)
    for line in save_result(result, out=None, db=args.db, wait_s=args.wait):
        print(f"    {line}")
    platform = result.run.platform
    with Store.open(args.db, wait_s=args.wait) as store:
        platform_map = _write_platform_map(args.db.with_name("demo-platform-map.json"), platform)
        _ingest_examples(store, platform_map)
        index = _report(store, args.out)
        _compare_nights(store, platform)
    print(f"\ndone in {time.monotonic() - started:.0f} s. The same by hand:")
    print(
        f"  parity bench --model {','.join(MODELS)} --conversion {','.join(CONVERSIONS)} --batch-size 1 "
        f"--max-seconds {args.max_seconds:g} --label demo --db {args.db}"
    )
    print(
        f"  parity ingest data/examples/predictions data/examples/*.json --platform-map {platform_map} --db {args.db}"
    )
    print(f"  parity report --db {args.db} --out {args.out}")
    print(f"\nopen the report: {index.resolve().as_uri()}")
    return 0


def _bench(max_seconds: float) -> BenchResult:
    """Measure the demo's cells on this CPU."""
    from collectors.bench import run_plan
    from collectors.plan import BenchPlan

    plan = BenchPlan(models=MODELS, conversions=CONVERSIONS, batch_sizes=[1], max_seconds=max_seconds, label="demo")
    print(
        f"1/4 benchmarking {len(MODELS)} models × {len(CONVERSIONS)} conversions on this CPU, "
        "one worker process per model"
    )
    result = run_plan(plan, _progress)
    failed = [m for m in result.measurements if m.status != OK]
    print(
        f"    platform {result.run.platform}: {len(result.measurements) - len(failed)} measurements ok"
        + (f", {len(failed)} not ok (shown in the report's failures)" if failed else "")
    )
    return result


def _progress(step: CellProgress) -> None:
    if step.measurements is None:
        print(f"    [{step.index + 1}/{step.total}] {step.label()}", flush=True)


def _write_platform_map(path: Path, platform: str) -> Path:
    """The proxies the demo declares, as a `--platform-map` file a user can pass by hand too
    (kept beside the demo's database: it names this machine's platform, so it is not shipped; not
    in the report's folder, which a report writes only when it is new or its own)."""
    import json

    proxies = {platform: EXAMPLE_CPU, SHIPPED_GPU: EXAMPLE_GPU}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"proxies": proxies}, indent=2) + "\n")
    return path


def _ingest_examples(store: Store, platform_map: Path) -> None:
    from collectors.names import DATA_DIR, Names
    from reporter.ingest import ingest

    examples = DATA_DIR / "examples"
    paths = [examples / "predictions", *sorted(examples.glob("*.json"))]
    print(f"2/4 ingesting Parity's example predictions and bundles from {examples}")
    names = Names.load(platform_map)
    report = ingest(store, paths, names=names, progress=False)
    for error in report.errors:
        print(f"    bad file: {error}")
    print("    " + "\n    ".join(report.summary()))
    print(
        "    proxies: "
        + ", ".join(f"{measured} stands in for {predicted}" for measured, predicted in names.proxies.items())
    )


def _report(store: Store, out: Path) -> Path:
    from reporter.nightly import history_change_points
    from reporter.render import write_report

    print(f"3/4 writing the report to {out}")
    return write_report(store, out, change_points=history_change_points(store))


def _compare_nights(store: Store, platform: str) -> None:
    from reporter.compare import CompareError, compare_runs
    from reporter.compare_formats import RENDERERS

    print("4/4 comparing this run with the previous demo run (parity compare --base latest~1 --head latest)")
    try:
        comparison = compare_runs(store, "latest~1", "latest", platform=platform)
    except CompareError:
        print("    no earlier demo run on this machine: run the demo again for a second night")
        return
    print("    " + RENDERERS["text"].render(comparison, None).replace("\n", "\n    "))
