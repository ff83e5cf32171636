"""parity bench without subprocesses: name checks before anything runs, bundles, storing a result."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.bench import BenchResult
from collectors.bundle import dumps, to_bundle, write_bundle
from collectors.errors import ParityError
from collectors.names import DATA_DIR
from collectors.plan import BenchPlan, plan_cells
from collectors.records import Measurement
from reporter.cli import main
from reporter.ingest import ingest
from reporter.runs import store_result
from reporter.store import Store
from tests.builders import measurement, run_info

RUN = run_info("bench-20261128T170000-0000abcd", started_at="2026-11-28T17:00:00+00:00",
               finished_at="2026-11-28T17:01:00+00:00", host="h", label="t",
               environment={"torch_version": "2.11.0", "gpu_name": "NVIDIA H200"})
OK = measurement(median=1.5, mean=1.52, std=0.01, p05=1.49, p95=1.6, ci95_low=1.495, ci95_high=1.505, n_iterations=3,
                 throughput_sps=666.7, compile_s=0.4, peak_memory_mb=88.0, samples=(1.5, 1.4999999999, 1.6),
                 gpu_samples=(1.45, 1.46, 1.55), measured_at="2026-11-28T17:00:30+00:00")
FAILED = measurement(conversion="ONNX_GPU", status="failed", failure_kind="wrong_device", median=None,
                     message="ONNX Runtime ran the model on CPUExecutionProvider, not CUDAExecutionProvider")


def bench_error(capsys, *args: str) -> str:
    assert main(["bench", *args]) == 2
    return capsys.readouterr().err.strip()


def test_unknown_conversion_stops_before_anything_runs(capsys) -> None:
    error = bench_error(capsys, "--model", "resnet18", "--conversion", "EAGER,COMPILE_INDUCTOR", "--batch-size", "1")
    assert error.startswith("parity bench: error: unknown conversion 'COMPILE_INDUCTOR': Alma 0.3.7 would silently "
                            "skip it. Did you mean COMPILE_INDUCTOR_DEFAULT")
    assert "\n" not in error


def test_unknown_model_is_refused_with_suggestions(capsys) -> None:
    error = bench_error(capsys, "--model", "resnet_18", "--conversion", "EAGER", "--batch-size", "1")
    assert error == ("parity bench: error: unknown model 'resnet_18': not a torchvision builder; did you mean "
                     "resnet18 or resnet152 or resnet101? (or use module.path:factory)")


def test_bad_batch_size_is_one_line(capsys) -> None:
    error = bench_error(capsys, "--model", "resnet18", "--conversion", "EAGER", "--batch-size", "0")
    assert error == "parity bench: error: --batch-size 0: expected a positive number"


def test_existing_bundle_is_refused_before_running(capsys, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    out.write_text("{}")
    error = bench_error(capsys, "--model", "resnet18", "--conversion", "EAGER", "--batch-size", "1", "--out", str(out))
    assert error == f"parity bench: error: {out}: already exists (choose another --out, or remove it)"


def test_plan_cells_cross_models_conversions_and_batches() -> None:
    plan = BenchPlan(models=["resnet18", "tests.models_for_tests:tiny"], conversions=["EAGER", "ONNX_CPU"],
                     batch_sizes=[1, 8])
    assert [cell.label() for cell in plan_cells(plan)] == [  # models, then conversions, then batch sizes
        f"{model} {conversion} bs{batch}" for model in ("resnet18", "tests.models_for_tests:tiny")
        for conversion in ("EAGER", "ONNX_CPU") for batch in (1, 8)]


def test_bundle_is_deterministic_and_rounds_samples_to_the_nanosecond(tmp_path: Path) -> None:
    first = write_bundle(RUN, [OK, FAILED], tmp_path / "a.json")
    second = write_bundle(RUN, [OK, FAILED], tmp_path / "b.json")
    assert first.read_bytes() == second.read_bytes()
    document = json.loads(first.read_text())
    assert (document["format"], document["version"]) == ("parity-bundle", 3)
    assert document["measurements"][0]["samples"] == [1.5, 1.5, 1.6]
    assert dumps(to_bundle(RUN, [OK])).endswith("\n")


def test_a_version_1_bundle_still_ingests(tmp_path: Path) -> None:
    shipped = DATA_DIR / "examples" / "parity-bundle-h200-resnet50.json"  # written before process_medians
    assert json.loads(shipped.read_text())["version"] == 1
    with Store.open(tmp_path / "central.duckdb") as store:
        assert ingest(store, [shipped]).measurements == 20
        assert store.execute("SELECT count(*) FROM measurements WHERE process_medians IS NULL").single_value() == 20


def test_bundle_ingests_with_its_run_and_samples(tmp_path: Path) -> None:
    bundle = write_bundle(RUN, [OK, FAILED], tmp_path / "run.json")
    with Store.open(tmp_path / "central.duckdb") as store:
        report = ingest(store, [bundle])
        assert report.stored_by_format == {"parity-bundle": 1} and not report.errors
        assert store.execute("SELECT kind, platform FROM runs WHERE run_id = ?", [RUN.run_id]).first() == ("bench", "nvidia-h200")
        rows = store.execute("SELECT status, failure_kind, run_id FROM measurements ORDER BY conversion").rows
        assert rows == [("ok", None, RUN.run_id), ("failed", "wrong_device", RUN.run_id)]
        assert store.execute("SELECT count(*), count(gpu_ms) FROM samples").first() == (3, 3)
        assert ingest(store, [bundle]).already_stored == 1


def test_store_result_writes_run_measurements_and_samples(tmp_path: Path) -> None:
    with Store.open(tmp_path / "p.duckdb") as store:
        ids = store_result(store, BenchResult(RUN, [OK, FAILED]))
        assert len(ids) == 2
        assert store.execute("SELECT count(*) FROM runs").single_value() == 1
        assert store.execute("SELECT list(latency_ms ORDER BY iteration) FROM samples").single_value() == [1.5, 1.4999999999, 1.6]


def test_bundle_with_a_bad_field_names_it(tmp_path: Path) -> None:
    path = write_bundle(RUN, [OK], tmp_path / "run.json")
    document = json.loads(path.read_text())
    document["measurements"][0]["batch_size"] = "one"
    path.write_text(json.dumps(document))
    with Store.open(tmp_path / "central.duckdb") as store:
        report = ingest(store, [path])
    assert [str(e) for e in report.errors] == [f"{path}: measurements[0].batch_size = 'one': expected an integer"]


def test_plan_rejects_a_missing_factory_module() -> None:
    with pytest.raises(ParityError, match="cannot find module 'no_such_package.models'"):
        BenchPlan(models=["no_such_package.models:net"], conversions=["EAGER"], batch_sizes=[1])


def test_fingerprint_collects_what_this_host_has() -> None:
    import importlib.metadata
    import os
    import platform

    from collectors.fingerprint import fingerprint

    env = fingerprint()
    assert (env["python"], env["torch_version"], env["alma_version"]) == (
        platform.python_version(), importlib.metadata.version("torch"), "0.3.7")
    assert env["cpu_count"] == os.cpu_count() and env["os"]
    json.dumps(env)  # it goes into the bundle and the runs table as JSON


@pytest.mark.parametrize(("env", "platform"), [
    ({"gpu_name": "NVIDIA H200", "cpu_model": "Intel(R) Xeon(R) Processor"}, "nvidia-h200"),
    ({"jetson_model": "NVIDIA Jetson AGX Orin Developer Kit", "power_mode": "MAXN", "gpu_name": "Orin"},
     "jetson-orin-agx-64gb@maxn"),
    ({"cpu_model": "12th Gen Intel(R) Core(TM) i7-12700K"}, "intel-i7-12700k"),  # through the alias table
    ({"cpu_model": "AMD EPYC 7763 64-Core Processor"}, "amd-epyc-7763-64-core-processor"),
])
def test_platform_id_prefers_jetson_then_gpu_then_cpu(env: dict, platform: str) -> None:
    from collectors.fingerprint import platform_id

    assert platform_id(env) == platform


def test_alma_figure_of_a_silent_cpu_fallback_is_the_same_failure() -> None:
    from collectors.worker import _flag_silent_fallback

    synced = {"method": "synced-e2e", "status": "failed", "device": "cuda", "failure_kind": "wrong_device"}
    alma = {"method": "alma", "status": "ok", "device": "cuda", "median": 225.0, "n_iterations": 16}
    flagged = _flag_silent_fallback([synced, alma])[1]
    assert (flagged["status"], flagged["failure_kind"], flagged.get("median")) == ("failed", "wrong_device", None)
    assert _flag_silent_fallback([alma]) == [alma]


def test_input_shape_follows_the_model_as_built() -> None:
    from collectors.models import input_shape
    from tests.models_for_tests import tiny

    class VitWithoutWeights:
        image_size = 224  # vit_h_14's default weights use 518, but weights=None builds it for 224

    assert input_shape("inception_v3", object()) == (3, 299, 299)  # its default weights' crop size
    assert input_shape("vit_h_14", VitWithoutWeights()) == (3, 224, 224)
    assert input_shape("resnet18", object()) == (3, 224, 224)
    assert input_shape("tests.models_for_tests:tiny", tiny()) == (8,)


def test_gpu_facts_come_from_nvidia_smi(monkeypatch) -> None:
    from collectors import fingerprint

    monkeypatch.setattr(fingerprint, "_run", lambda command: "NVIDIA H200, 143771, 580.159.04, 9.0\n" * 2)
    env: dict = {}
    fingerprint.collect_gpu(env)
    assert env == {"gpu_name": "NVIDIA H200", "gpu_memory_mb": 143771, "gpu_driver": "580.159.04",
                   "gpu_capability": "9.0", "gpu_count": 2}


def test_platform_flag_is_normalised_like_the_predictions() -> None:
    from collectors.bench import _platform

    plan = BenchPlan(models=["resnet18"], conversions=["EAGER"], batch_sizes=[1], platform="H200")
    assert _platform(plan, {}) == "nvidia-h200"
    assert _platform(plan.model_copy(update={"platform": "jetson-orin-agx-50w"}), {}) == "jetson-orin-agx-64gb@50w"


# -- QA fixes: nothing measured is lost, nothing loose passes as converged -------------------------

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
        return BenchResult(RUN, [OK, FAILED])

    monkeypatch.setattr("collectors.bench.run_plan", measure_while_another_process_takes_the_database)
    assert main(["bench", *BENCH, "--db", str(db), "--wait", "0"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    rescue = tmp_path / f"p.duckdb.{RUN.run_id}.bundle.json"
    assert error.startswith(f"parity bench: error: could not store run {RUN.run_id} in {db}: ")
    assert error.endswith(f"; the measurements are saved in {rescue}: store them with "
                          f"`parity ingest {rescue} --db {db}`") and "\n" not in error
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
    monkeypatch.setattr("collectors.bench.run_plan", lambda plan, progress=None, session=None: BenchResult(RUN, [OK]))
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
    assert error == ("parity bench: error: no CUDA device here (torch.cuda.is_available() is False): "
                     "measure on the CPU (the default device) or on a GPU machine")
    assert not db.exists()


@pytest.mark.parametrize(("flags", "message"), [
    (["--batch-size", "0"], "--batch-size 0: expected a positive number"),
    (["--conversion", ","], "--conversion: give at least one value"),
    (["--target-ci", "0"], "--target-ci 0.0: expected a positive number"),
    (["--max-seconds", "nan"], "--max-seconds nan: expected a finite number"),
    (["--timeout", "-1"], "--timeout -1.0: expected a positive number"),
    (["--processes", "0"], "--processes 0: expected a positive number"),
    (["--processes", "3", "--timer", "alma"],
     "--processes 3: repeats Parity's timer, which the timer 'alma' does not run (use synced or both)"),
])
def test_plan_errors_speak_in_flags(capsys, flags: list[str], message: str) -> None:
    args = {"--model": "resnet18", "--conversion": "EAGER", "--batch-size": "1", **dict(zip(flags[::2], flags[1::2]))}
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

    plan = BenchPlan(models=["resnet18"], conversions=["EAGER"], batch_sizes=[1], target_ci=target_ci,
                     max_seconds=max_seconds)
    result = {"method": "synced-e2e", "status": "ok", "device": "cpu", "samples": samples, "warmup_iterations": 3,
              "stopped_by": "max-seconds"}
    return cell_measurement(Cell("resnet18", by_name()["EAGER"], 1), plan, "cpu-x", [result])


def test_a_cell_that_never_converged_says_so() -> None:
    from reporter.bench_summary import end_of_run

    single = _cell_result([900.0])
    assert (single.status, single.ci95_low, single.ci95_high, single.n_iterations) == ("ok", None, None, 1)
    assert single.message == ("CI target ±1 % not reached: 1 iteration, too few for a CI "
                              "(stopped by max-seconds, budget 2 s)")
    wide = _cell_result([1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0, 1.5, 9.5, 2.5, 8.5])
    assert wide.status == "ok" and wide.ci95_low is not None
    assert wide.message.startswith("CI target ±1 % not reached: ±") and wide.message.endswith(
        " % after 13 iterations (stopped by max-seconds, budget 2 s)")
    tight = _cell_result([1.0] * 30)
    assert (tight.message, tight.converged, tight.stopped_by, tight.warmup_iterations) == (
        "CI target reached", True, "max-seconds", 3)
    assert (single.converged, wide.converged) == (False, False)
    table = end_of_run([single, wide, tight], 2.0).splitlines()
    assert ["!" in line for line in table[2:5]] == [True, True, False]
    assert table[2].split()[7] == "!" and table[3].split()[7].endswith("%!")  # "900 ms" is two words
    assert table[6].startswith("! 2 cell(s) stopped at --max-seconds before the CI target")
    assert table[6].endswith("rerun them with a larger --max-seconds (now 2 s)")


def test_one_sample_cell_round_trips_through_a_bundle(tmp_path: Path) -> None:
    single = _cell_result([900.0])
    path = write_bundle(RUN, [single], tmp_path / "run.json")
    with Store.open(tmp_path / "central.duckdb") as store:
        assert not ingest(store, [path]).errors
        assert store.execute("SELECT ci95_low, ci95_high, n_iterations FROM measurements").first() == (None, None, 1)


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("median", -1, "expected a positive number"),
    ("p95", float("inf"), "expected a finite number"),
    ("n_iterations", -3, "expected a non-negative number"),
    ("n_iterations", 2**40, "too large"),
    ("measured_at", "garbage", "Invalid isoformat string: 'garbage'"),
    ("method", "guess", "not one of the allowed values"),
    ("samples", [1.5, 0.0], "expected a positive number"),
    ("ci95_high", 1.4, "outside its own 95 % CI [1.495, 1.4]"),
])
def test_bundle_with_an_implausible_measurement_names_the_field(tmp_path: Path, field: str, value, reason: str) -> None:
    path = write_bundle(RUN, [OK], tmp_path / "run.json")
    document = json.loads(path.read_text())
    document["measurements"][0][field] = value
    path.write_text(json.dumps(document))  # json writes inf as Infinity, which Python's reader takes
    with Store.open(tmp_path / "central.duckdb") as store:
        (error,) = ingest(store, [path]).errors
    where = {"samples": "samples[1] = 0.0", "ci95_high": "median = 1.5"}.get(field, f"{field} = {value!r}")
    assert str(error) == f"{path}: measurements[0].{where}: {reason}"


def test_a_different_bundle_of_a_stored_run_is_named_not_silently_skipped(tmp_path: Path, capsys) -> None:
    first = write_bundle(RUN, [OK], tmp_path / "first.json")
    second = write_bundle(RUN, [OK, FAILED], tmp_path / "second.json")
    db = tmp_path / "central.duckdb"
    assert main(["ingest", str(first), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["ingest", str(second), "--db", str(db)]) == 0
    assert capsys.readouterr().err.strip() == (
        f"parity ingest: warning: {second}: run {RUN.run_id} is already stored from {first.resolve()}, "
        "whose content differs from this file; this file was not stored")


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
    processes = [{"method": "synced-e2e", "status": "ok", "device": "cuda", "samples": [1.0, 1.1, 1.2],
                  "energy_mj": energy, "energy_samples": [energy] * 2, "energy_sensor": "nvml-counter"}
                 for energy in (500.0, 520.0, 700.0)]
    cell = cell_measurement(Cell("resnet18", by_name()["EAGER"], 1), plan, "nvidia-h200", processes)
    assert cell.process_energy_mj == (500.0, 520.0, 700.0) and cell.energy_mj == 520.0
    assert cell.energy_samples == (500.0, 500.0, 520.0, 520.0, 700.0, 700.0)
