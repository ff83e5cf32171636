"""`parity compare` on REAL bench runs (a tiny model on this CPU), and the fleet path: bundles
from two devices ingested into one database, and history exported as partitioned Parquet.

The three bench runs of one cell (steady, steady again, then with a slowdown injected into the
same model) are made once for the module: each costs a worker subprocess of a few seconds. The
slowdown is a sleep, which caller latency sees and device time does not, so the comparisons judge
`synced-e2e` alone.
"""

from __future__ import annotations

import json

import pytest

from collectors.bench import run_plan
from collectors.bundle import write_bundle
from collectors.plan import BenchPlan
from collectors.vocabulary import DEVICE_BUSY, SYNCED_E2E
from reporter.cli import main
from reporter.compare import compare_runs
from reporter.ingest import ingest
from reporter.runs import store_result
from reporter.store import Store
from tests.models_for_compare import BASE_MS, SLOWDOWN_ENV

pytestmark = pytest.mark.slow
MODEL = "tests.models_for_compare:sleeper"
SLOWDOWN_MS = 2.5  # +50 %: far beyond noise and the 5 % threshold


def bench(label: str, platform: str | None = None):
    plan = BenchPlan(
        models=[MODEL],
        conversions=["EAGER"],
        batch_sizes=[1],
        timer="synced",
        max_seconds=1.0,
        label=label,
        platform=platform,
    )
    result = run_plan(plan)
    # The timed cell and its profiled twin (device-busy: here the linear layer's few microseconds).
    assert [(m.method, m.status) for m in result.measurements] == [(SYNCED_E2E, "ok"), (DEVICE_BUSY, "ok")], (
        result.measurements
    )
    return result


@pytest.fixture(scope="module")
def runs():
    """Three real runs of one cell: steady, steady again, then slowed."""
    steady = {label: bench(label) for label in ("steady-1", "steady-2")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SLOWDOWN_ENV, str(SLOWDOWN_MS))  # the worker inherits it
        return {**steady, "slowed": bench("slowed")}


@pytest.fixture(scope="module")
def db(runs, tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.duckdb"
    with Store.open(path) as store:
        for result in runs.values():
            store_result(store, result)
    return path


def test_compare_real_runs_of_an_unchanged_model_show_no_significant_change(db):
    with Store.open(db, read_only=True) as store:
        comparison = compare_runs(store, "steady-1", "steady-2", methods=[SYNCED_E2E])
    [cell] = comparison.cells
    assert cell.kind == "unchanged", (cell.change_pct, cell.test)
    assert not comparison.has_regression


def test_compare_real_runs_catch_an_injected_slowdown(db, capsys):
    with Store.open(db, read_only=True) as store:
        comparison = compare_runs(store, "latest~1", "latest", methods=[SYNCED_E2E])
    [cell] = comparison.cells
    assert (comparison.base.label, comparison.head.label) == ("steady-2", "slowed")
    assert cell.kind == "regressed" and cell.test.test == "mann-whitney" and cell.test.p_value < 0.01
    assert cell.change_pct == pytest.approx(SLOWDOWN_MS / BASE_MS * 100, rel=0.3)
    status = main(
        [
            "compare",
            "--db",
            str(db),
            "--base",
            "steady-2",
            "--head",
            "slowed",
            "--method",
            SYNCED_E2E,
            "--format",
            "markdown",
            "--fail-on-regression",
        ]
    )
    assert status == 1, capsys.readouterr()
    assert capsys.readouterr().out.startswith("**REGRESSION: 1 regressed (1 cells")


def test_fleet_bundles_from_two_devices_ingest_into_one_database_once(runs, tmp_path):
    device_a = write_bundle(runs["steady-1"].run, runs["steady-1"].measurements, tmp_path / "a" / "bundle.json")
    other = bench("device-b", platform="device-b")
    device_b = write_bundle(other.run, other.measurements, tmp_path / "b" / "bundle.json")
    with Store.open(tmp_path / "fleet.duckdb") as store:
        first = ingest(store, [tmp_path / "a", tmp_path / "b"])
        again = ingest(store, [device_a, device_b])
        platforms = store.execute("SELECT DISTINCT platform FROM measurements ORDER BY 1").rows
        assert (first.measurements, again.measurements, again.already_stored) == (
            4,
            0,
            2,
        )  # two bundles of two measurements each
        assert platforms == sorted([(runs["steady-1"].run.platform,), ("device-b",)])
        assert store.execute("SELECT count(*) FROM runs WHERE kind = 'bench'").single_value() == 2
        # --platform: `latest` is that device's newest run, and only its cells are compared
        comparison = compare_runs(
            store, runs["steady-1"].run.run_id, "latest", platform="device-b", methods=[SYNCED_E2E]
        )
        assert comparison.head.run_id == other.run.run_id
        assert [(cell.key.platform, cell.kind) for cell in comparison.cells] == [("device-b", "new")]


def test_fleet_history_as_partitioned_parquet_is_read_back_by_duckdb(db, tmp_path, monkeypatch, capsys):
    """The statements docs/workflow.md gives for history past one machine, run as written there:
    one export per run with DuckDB itself, appended to the tree as the nightly job would, and the
    read through `parity query --read history`."""
    history = tmp_path / "history"
    with Store.open(db, read_only=True) as store:
        for (run_id,) in store.execute("SELECT run_id FROM runs ORDER BY started_at").rows:
            store.execute(f"""
                COPY (SELECT m.*, CAST(m.measured_at AS DATE) AS date, s.samples
                      FROM measurements m
                      LEFT JOIN (SELECT measurement_id, list(latency_ms ORDER BY iteration) AS samples
                                 FROM samples GROUP BY ALL) s USING (measurement_id)
                      WHERE m.run_id = '{run_id}')
                TO '{history}' (FORMAT parquet, PARTITION_BY (platform, date), APPEND)""")
    assert {p.parent.parent.name for p in history.rglob("*.parquet")} == {f"platform={runs_platform(db)}"}
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert (
        main(
            [
                "query",
                """
        SELECT platform, model, conversion, method, count(*) AS nights, median(median) AS median_ms,
               sum(len(samples)) AS samples
        FROM read_parquet('history/platform=*/date=*/*.parquet', hive_partitioning = true)
        WHERE status = 'ok' AND date >= DATE '2020-01-01'
        GROUP BY ALL ORDER BY model, method""",
                "--db",
                str(db),
                "--read",
                "history",
                "--format",
                "json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [(row["model"], row["method"], row["nights"]) for row in rows] == [
        (MODEL, DEVICE_BUSY, 3),
        (MODEL, SYNCED_E2E, 3),
    ]
    assert all(row["samples"] > 0 for row in rows)


def runs_platform(db) -> str:
    with Store.open(db, read_only=True) as store:
        return store.execute("SELECT DISTINCT platform FROM measurements").single_value()
