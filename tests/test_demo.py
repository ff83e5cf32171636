"""`parity demo`, cut down to one real cell so that it runs in seconds: twice, as two nights."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from collectors.names import DATA_DIR
from reporter.cli import main
from reporter.commands import demo
from reporter.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture
def one_cell(monkeypatch):
    monkeypatch.setattr(demo, "MODELS", ["mobilenet_v3_small"])
    monkeypatch.setattr(demo, "CONVERSIONS", ["EAGER"])


def test_demo_benchmarks_ingests_examples_and_reports_twice(one_cell, tmp_path, capsys):
    db, site = tmp_path / "demo.duckdb", tmp_path / "site"
    argv = ["demo", "--db", str(db), "--out", str(site), "--max-seconds", "0.5"]
    assert main(argv) == 0, capsys.readouterr()
    first = capsys.readouterr().out
    assert "run the demo again for a second night" in first
    assert first.rstrip().endswith(f"open the report: {(site / 'index.html').resolve().as_uri()}")
    assert (site / "index.html").is_file() and (site / "summary.md").is_file()
    with Store.open(db, read_only=True) as store:
        platform = store.execute("SELECT platform FROM runs WHERE label = 'demo'").single_value()
        proxied = store.execute(
            "SELECT DISTINCT platform, is_proxy, predictor FROM comparisons WHERE measured_platform = ?", [platform]
        ).rows
    assert proxied == [("example-cpu", True, "parity-example")]
    assert json.loads((tmp_path / "demo-platform-map.json").read_text())["proxies"][platform] == "example-cpu"

    assert main(argv) == 0, capsys.readouterr()
    second = capsys.readouterr().out
    assert "already stored" in second  # the examples are not stored twice
    assert "4/4 comparing" in second and " cells, ≥ 5 % and p < 0.01)" in second


def test_demo_example_predictions_are_labelled_as_examples():
    files = sorted((DATA_DIR / "examples" / "predictions").glob("*.json"))
    assert files
    for path in files:
        metadata = json.loads(path.read_text())["metadata"]
        assert metadata["predictor"] == "parity-example" and metadata["predictor_version"], path


def test_demo_leaves_the_database_to_other_writers_while_it_measures(one_cell, tmp_path, monkeypatch, capsys):
    """Another process can write the demo's database while the demo benchmarks (minutes)."""
    db = tmp_path / "demo.duckdb"
    opened = []
    progress = demo._progress

    def progress_and_open(step):
        progress(step)
        write = f"import duckdb; duckdb.connect({str(db)!r}).close()"
        opened.append(subprocess.run([sys.executable, "-c", write], capture_output=True).returncode)

    monkeypatch.setattr(demo, "_progress", progress_and_open)
    assert main(["demo", "--db", str(db), "--out", str(tmp_path / "site"), "--max-seconds", "0.5"]) == 0, (
        capsys.readouterr()
    )
    assert opened and set(opened) == {0}
