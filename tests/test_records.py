"""Each record field is declared once: the store's columns, the bundle's shape and the worker's
results are derived from collectors.records, and these tests fail the moment they diverge."""

from __future__ import annotations

import subprocess
import sys
import types
import typing
from dataclasses import fields
from pathlib import Path

import pytest

from collectors.bundle import read_bundle, write_bundle
from collectors.records import Measurement, Prediction, RunInfo, Subgraph, series_fields
from reporter.cli import command_modules
from reporter.store import SAMPLE_COLUMNS, Store
from tests.builders import measurement, run_info
from tests.conftest import REPO

# Columns the store adds beside a record's own fields.
STORE_ONLY = {
    "measurements": {"measurement_id", "run_id", "source_id"},
    "predictions": {"source_id"},
    "subgraphs": {"source_id"},
    "runs": set(),
}
RECORDS = {"measurements": Measurement, "predictions": Prediction, "subgraphs": Subgraph, "runs": RunInfo}


@pytest.mark.parametrize("table", sorted(RECORDS))
def test_records_every_field_is_a_column_and_every_column_a_field(db_path: Path, table: str) -> None:
    with Store.open(db_path) as store:
        columns = {
            row[0]
            for row in store.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
            ).rows
        }
    record = RECORDS[table]
    expected = {f.name for f in fields(record)} - set(SAMPLE_COLUMNS if record is Measurement else ()) | STORE_ONLY[
        table
    ]
    assert columns == expected


def _plain_type(hint: object) -> type:
    """int for `Annotated[int, ...] | None`: the type a field's values have."""
    while typing.get_origin(hint) in (typing.Annotated, typing.Union, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def test_records_a_measurement_with_every_field_set_survives_a_bundle(tmp_path: Path) -> None:
    values = {float: 2.5, int: 7, str: "x", bool: True}
    every = {}
    for name, hint in typing.get_type_hints(Measurement, include_extras=True).items():
        if name in series_fields(Measurement):
            every[name] = (2.5, 2.75)
        elif typing.get_origin(hint) is dict:
            every[name] = {"a": 2.5}
        elif name not in ("method", "status", "measured_at"):
            every[name] = values[_plain_type(hint)]
    full = measurement(**{**every, "median": 2.5, "ci95_low": 2.5, "ci95_high": 2.5})
    run = run_info(settings={"models": ["resnet18"]})
    path = write_bundle(run, [full], tmp_path / "b.json")
    read_run, [back], _ = read_bundle(path.read_bytes(), path)
    assert back == full and read_run == run


@pytest.mark.parametrize("command", ["", *[m.__name__.rsplit(".", 1)[-1] for m in command_modules()]])
def test_records_help_imports_no_heavy_library(command: str) -> None:
    """`parity COMMAND --help` stays instant: no DuckDB, Arrow, pandas or torch import behind it."""
    script = (
        "import sys; from reporter.cli import main\n"
        "try: main([*sys.argv[1:], '--help'])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('duckdb', 'pyarrow', 'pandas', 'torch') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *([command] if command else [])],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
