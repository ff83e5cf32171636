"""parity bench without subprocesses, what it keeps: a locked database stops it before it measures,
a database locked at the end leaves a rescue bundle, a loose cell says so, bundles round-trip
odd measurements, and the shipped H200 nightly reads back whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.bench import BenchResult
from collectors.bundle import write_bundle
from collectors.errors import ParityError
from collectors.names import DATA_DIR
from collectors.plan import BenchPlan
from collectors.records import Measurement
from reporter.cli import main
from reporter.ingest import ingest
from reporter.store import Store
from tests.builders import BENCH_RUN, FAILED_CELL, MEASURED_CELL
from tests.conftest import bench_error


def no_measuring(*args, **kwargs):
    raise AssertionError("measured although the command should have stopped first")


BENCH = ["--model", "resnet18", "--conversion", "EAGER", "--batch-size", "1"]


def test_locked_database_stops_bench_before_measuring(capsys, monkeypatch, tmp_path: Path, locked) -> None:
    db = tmp_path / "p.duckdb"
    Store.open(db).close()
    holder = locked(db)
    monkeypatch.setattr("collectors.bench.run_plan", no_measuring)
    error = bench_error(capsys, *BENCH, "--db", str(db), "--wait", "0")
    assert error.startswith(f"parity bench: error: {db}: busy: another process (PID {holder.pid}) has it open; ")
    assert error.endswith("(nothing was measured)") and "\n" not in error


def test_database_locked_at_the_end_leaves_a_rescue_bundle(capsys, monkeypatch, tmp_path: Path, locked) -> None:
    db = tmp_path / "p.duckdb"

    def measure_while_another_process_takes_the_database(plan, progress=None, session=None):
        locked(db)
        return BenchResult(BENCH_RUN, [MEASURED_CELL, FAILED_CELL])

    monkeypatch.setattr("collectors.bench.run_plan", measure_while_another_process_takes_the_database)
    assert main(["bench", *BENCH, "--db", str(db), "--wait", "0"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    rescue = tmp_path / f"p.duckdb.{BENCH_RUN.run_id}.bundle.json"
    assert error.startswith(f"parity bench: error: could not store run {BENCH_RUN.run_id} in {db}: ")
    assert (
        error.endswith(f"; the measurements are saved in {rescue}: store them with `parity ingest {rescue} --db {db}`")
        and "\n" not in error
    )
    with Store.open(tmp_path / "central.duckdb") as store:
        assert ingest(store, [rescue]).measurements == 2


def test_bench_with_out_keeps_parity_db_and_checks_the_folder(capsys, monkeypatch, tmp_path: Path) -> None:
    from reporter.runs import database_for

    monkeypatch.delenv("PARITY_DB", raising=False)
    assert database_for(None, tmp_path / "b.json") is None  # only --out: the bundle only
    assert database_for(None, None).name == "parity.duckdb"
    monkeypatch.setenv("PARITY_DB", str(tmp_path / "env.duckdb"))
    assert database_for(None, tmp_path / "b.json") == tmp_path / "env.duckdb"
    assert database_for(tmp_path / "x.duckdb", tmp_path / "b.json") == tmp_path / "x.duckdb"
    monkeypatch.setattr(
        "collectors.bench.run_plan", lambda plan, progress=None, session=None: BenchResult(BENCH_RUN, [MEASURED_CELL])
    )
    assert main(["bench", *BENCH, "--out", str(tmp_path / "new" / "b.json")]) == 0
    assert f"database: {tmp_path / 'env.duckdb'}" in capsys.readouterr().out
    assert (tmp_path / "new" / "b.json").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr("collectors.bench.run_plan", no_measuring)
    error = bench_error(capsys, *BENCH, "--out", str(blocker / "b.json"))
    assert error.startswith(f"parity bench: error: {blocker / 'b.json'}: cannot create its folder {blocker}: ")


def test_cuda_bench_without_cuda_is_refused_up_front(capsys, monkeypatch, tmp_path: Path) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("collectors.bench.run_plan", no_measuring)
    db = tmp_path / "p.duckdb"
    error = bench_error(capsys, *BENCH, "--device", "cuda", "--db", str(db))
    assert error == (
        "parity bench: error: no CUDA device here (torch.cuda.is_available() is False): "
        "measure on the CPU (the default device) or on a GPU machine"
    )
    assert not db.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--batch-size", "0"], "--batch-size 0: expected a positive number"),
        (["--conversion", ","], "--conversion: give at least one value"),
        (["--target-ci", "0"], "--target-ci 0.0: expected a positive number"),
        (["--max-seconds", "nan"], "--max-seconds nan: expected a finite number"),
        (["--timeout", "-1"], "--timeout -1.0: expected a positive number"),
        (["--processes", "0"], "--processes 0: expected a positive number"),
        (
            ["--processes", "3", "--timer", "alma"],
            "--processes 3: repeats Parity's timer, which the timer 'alma' does not run (use synced or both)",
        ),
    ],
)
def test_plan_errors_speak_in_flags(capsys, flags: list[str], message: str) -> None:
    given = dict(zip(flags[::2], flags[1::2], strict=True))
    args = {"--model": "resnet18", "--conversion": "EAGER", "--batch-size": "1", **given}
    error = bench_error(capsys, *[part for pair in args.items() for part in pair])
    assert error == f"parity bench: error: {message}"


def test_a_standard_library_callable_is_not_a_model() -> None:
    with pytest.raises(ParityError, match="'os' is a Python standard library module, not a model factory"):
        BenchPlan(models=["os:system"], conversions=["EAGER"], batch_sizes=[1])
    with pytest.raises(ParityError, match="expected module.path:factory"):
        BenchPlan(models=["tests.models_for_tests:tiny()"], conversions=["EAGER"], batch_sizes=[1])


def _cell_result(samples: list[float], target_ci: float = 0.01, max_seconds: float = 2.0) -> Measurement:
    from collectors.catalogue import by_name
    from collectors.cell_records import cell_measurement
    from collectors.plan import Cell

    plan = BenchPlan(
        models=["resnet18"], conversions=["EAGER"], batch_sizes=[1], target_ci=target_ci, max_seconds=max_seconds
    )
    result = {
        "method": "synced-e2e",
        "status": "ok",
        "device": "cpu",
        "samples": samples,
        "warmup_iterations": 3,
        "stopped_by": "max-seconds",
    }
    return cell_measurement(Cell("resnet18", by_name()["EAGER"], 1), plan, "cpu-x", [result])


def test_a_cell_that_never_converged_says_so() -> None:
    from reporter.bench_summary import end_of_run

    single = _cell_result([900.0])
    assert (single.status, single.ci95_low, single.ci95_high, single.n_iterations) == ("ok", None, None, 1)
    assert single.message == (
        "CI target ±1 % not reached: 1 iteration, too few for a CI (stopped by max-seconds, budget 2 s)"
    )
    wide = _cell_result([1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0, 1.5, 9.5, 2.5, 8.5])
    assert wide.status == "ok" and wide.ci95_low is not None
    assert wide.message.startswith("CI target ±1 % not reached: ±") and wide.message.endswith(
        " % after 13 iterations (stopped by max-seconds, budget 2 s)"
    )
    tight = _cell_result([1.0] * 30)
    assert (tight.message, tight.converged, tight.stopped_by, tight.warmup_iterations) == (
        "CI target reached",
        True,
        "max-seconds",
        3,
    )
    assert (single.converged, wide.converged) == (False, False)
    table = end_of_run([single, wide, tight], 2.0).splitlines()
    assert ["!" in line for line in table[2:5]] == [True, True, False]
    assert table[2].split()[7] == "!" and table[3].split()[7].endswith("%!")  # "900 ms" is two words
    assert table[6].startswith("! 2 cell(s) stopped at --max-seconds before the CI target")
    assert table[6].endswith("rerun them with a larger --max-seconds (now 2 s)")


def test_one_sample_cell_round_trips_through_a_bundle(tmp_path: Path) -> None:
    single = _cell_result([900.0])
    path = write_bundle(BENCH_RUN, [single], tmp_path / "run.json")
    with Store.open(tmp_path / "central.duckdb") as store:
        assert not ingest(store, [path]).errors
        assert store.execute("SELECT ci95_low, ci95_high, n_iterations FROM measurements").first() == (None, None, 1)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("median", -1, "expected a positive number"),
        ("p95", float("inf"), "expected a finite number"),
        ("n_iterations", -3, "expected a non-negative number"),
        ("n_iterations", 2**40, "too large"),
        ("measured_at", "garbage", "Invalid isoformat string: 'garbage'"),
        ("method", "guess", "not one of the allowed values"),
        ("samples", [1.5, 0.0], "expected a positive number"),
        ("ci95_high", 1.4, "outside its own 95 % CI [1.495, 1.4]"),
    ],
)
def test_bundle_with_an_implausible_measurement_names_the_field(tmp_path: Path, field: str, value, reason: str) -> None:
    path = write_bundle(BENCH_RUN, [MEASURED_CELL], tmp_path / "run.json")
    document = json.loads(path.read_text())
    document["measurements"][0][field] = value
    path.write_text(json.dumps(document))  # json writes inf as Infinity, which Python's reader takes
    with Store.open(tmp_path / "central.duckdb") as store:
        (error,) = ingest(store, [path]).errors
    where = {"samples": "samples[1] = 0.0", "ci95_high": "median = 1.5"}.get(field, f"{field} = {value!r}")
    assert str(error) == f"{path}: measurements[0].{where}: {reason}"


def test_a_different_bundle_of_a_stored_run_is_named_not_silently_skipped(tmp_path: Path, capsys) -> None:
    first = write_bundle(BENCH_RUN, [MEASURED_CELL], tmp_path / "first.json")
    second = write_bundle(BENCH_RUN, [MEASURED_CELL, FAILED_CELL], tmp_path / "second.json")
    db = tmp_path / "central.duckdb"
    assert main(["ingest", str(first), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["ingest", str(second), "--db", str(db)]) == 0
    assert capsys.readouterr().err.strip() == (
        f"parity ingest: warning: {second}: run {BENCH_RUN.run_id} is already stored from {first.resolve()}, "
        "whose content differs from this file; this file was not stored"
    )


def test_the_shipped_h200_nightly_is_a_version_3_bundle_with_energy_and_device_time(tmp_path: Path) -> None:
    shipped = DATA_DIR / "examples" / "parity-bundle-h200-nightly.json"
    with Store.open(tmp_path / "central.duckdb") as store:
        assert not ingest(store, [shipped]).errors
        energy, busy = store.execute("""SELECT count(energy_mj) FILTER (WHERE energy_sensor = 'nvml-counter'),
                                               count(*) FILTER (WHERE method = 'device-busy' AND status = 'ok')
                                        FROM measurements""").first()
    assert json.loads(shipped.read_text())["version"] == 3 and energy >= 40 and busy >= 40


def test_energy_of_a_cell_timed_in_several_processes_is_kept_per_process() -> None:
    from collectors.catalogue import by_name
    from collectors.cell_records import cell_measurement
    from collectors.plan import Cell

    plan = BenchPlan(models=["resnet18"], conversions=["EAGER"], batch_sizes=[1], processes=3)
    processes = [
        {
            "method": "synced-e2e",
            "status": "ok",
            "device": "cuda",
            "samples": [1.0, 1.1, 1.2],
            "energy_mj": energy,
            "energy_samples": [energy] * 2,
            "energy_sensor": "nvml-counter",
        }
        for energy in (500.0, 520.0, 700.0)
    ]
    cell = cell_measurement(Cell("resnet18", by_name()["EAGER"], 1), plan, "nvidia-h200", processes)
    assert cell.process_energy_mj == (500.0, 520.0, 700.0) and cell.energy_mj == 520.0
    assert cell.energy_samples == (500.0, 500.0, 520.0, 520.0, 700.0, 700.0)
