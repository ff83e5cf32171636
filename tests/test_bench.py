"""parity bench without subprocesses: name checks before anything runs, bundles, storing a result."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from collectors.bench import BenchResult, git_sha
from collectors.bundle import dumps, to_bundle, write_bundle
from collectors.errors import ParityError
from collectors.names import DATA_DIR
from collectors.plan import BenchPlan, plan_cells
from reporter.ingest import ingest
from reporter.runs import store_result
from reporter.store import Store
from tests.builders import BENCH_RUN, FAILED_CELL, MEASURED_CELL
from tests.conftest import bench_error


def test_unknown_conversion_stops_before_anything_runs(capsys) -> None:
    error = bench_error(capsys, "--model", "resnet18", "--conversion", "EAGER,COMPILE_INDUCTOR", "--batch-size", "1")
    assert error.startswith(
        "parity bench: error: unknown conversion 'COMPILE_INDUCTOR': Alma 0.3.7 would silently "
        "skip it. Did you mean COMPILE_INDUCTOR_DEFAULT"
    )
    assert "\n" not in error


def test_unknown_model_is_refused_with_suggestions(capsys) -> None:
    error = bench_error(capsys, "--model", "resnet_18", "--conversion", "EAGER", "--batch-size", "1")
    assert error == (
        "parity bench: error: unknown model 'resnet_18': not a torchvision builder; did you mean "
        "resnet18 or resnet152 or resnet101? (or use module.path:factory)"
    )


def test_bad_batch_size_is_one_line(capsys) -> None:
    error = bench_error(capsys, "--model", "resnet18", "--conversion", "EAGER", "--batch-size", "0")
    assert error == "parity bench: error: --batch-size 0: expected a positive number"


def test_existing_bundle_is_refused_before_running(capsys, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    out.write_text("{}")
    error = bench_error(capsys, "--model", "resnet18", "--conversion", "EAGER", "--batch-size", "1", "--out", str(out))
    assert error == f"parity bench: error: {out}: already exists (choose another --out, or remove it)"


def test_plan_cells_cross_models_conversions_and_batches() -> None:
    plan = BenchPlan(
        models=["resnet18", "tests.models_for_tests:tiny"], conversions=["EAGER", "ONNX_CPU"], batch_sizes=[1, 8]
    )
    assert [cell.label() for cell in plan_cells(plan)] == [  # models, then conversions, then batch sizes
        f"{model} {conversion} bs{batch}"
        for model in ("resnet18", "tests.models_for_tests:tiny")
        for conversion in ("EAGER", "ONNX_CPU")
        for batch in (1, 8)
    ]


def test_bundle_is_deterministic_and_rounds_samples_to_the_nanosecond(tmp_path: Path) -> None:
    first = write_bundle(BENCH_RUN, [MEASURED_CELL, FAILED_CELL], tmp_path / "a.json")
    second = write_bundle(BENCH_RUN, [MEASURED_CELL, FAILED_CELL], tmp_path / "b.json")
    assert first.read_bytes() == second.read_bytes()
    document = json.loads(first.read_text())
    assert (document["format"], document["version"]) == ("parity-bundle", 3)
    assert document["measurements"][0]["samples"] == [1.5, 1.5, 1.6]
    assert dumps(to_bundle(BENCH_RUN, [MEASURED_CELL])).endswith("\n")


def test_a_version_1_bundle_still_ingests(tmp_path: Path) -> None:
    shipped = DATA_DIR / "examples" / "parity-bundle-h200-resnet50.json"  # written before process_medians
    assert json.loads(shipped.read_text())["version"] == 1
    with Store.open(tmp_path / "central.duckdb") as store:
        assert ingest(store, [shipped]).measurements == 20
        assert store.execute("SELECT count(*) FROM measurements WHERE process_medians IS NULL").single_value() == 20


def test_bundle_ingests_with_its_run_and_samples(tmp_path: Path) -> None:
    bundle = write_bundle(BENCH_RUN, [MEASURED_CELL, FAILED_CELL], tmp_path / "run.json")
    with Store.open(tmp_path / "central.duckdb") as store:
        report = ingest(store, [bundle])
        assert report.stored_by_format == {"parity-bundle": 1} and not report.errors
        assert store.execute("SELECT kind, platform FROM runs WHERE run_id = ?", [BENCH_RUN.run_id]).first() == (
            "bench",
            "nvidia-h200",
        )
        rows = store.execute("SELECT status, failure_kind, run_id FROM measurements ORDER BY conversion").rows
        assert rows == [("ok", None, BENCH_RUN.run_id), ("failed", "wrong_device", BENCH_RUN.run_id)]
        assert store.execute("SELECT count(*), count(gpu_ms) FROM samples").first() == (3, 3)
        assert ingest(store, [bundle]).already_stored == 1


def test_store_result_writes_run_measurements_and_samples(tmp_path: Path) -> None:
    with Store.open(tmp_path / "p.duckdb") as store:
        ids = store_result(store, BenchResult(BENCH_RUN, [MEASURED_CELL, FAILED_CELL]))
        assert len(ids) == 2
        assert store.execute("SELECT count(*) FROM runs").single_value() == 1
        assert store.execute("SELECT list(latency_ms ORDER BY iteration) FROM samples").single_value() == [
            1.5,
            1.4999999999,
            1.6,
        ]


def test_bundle_with_a_bad_field_names_it(tmp_path: Path) -> None:
    path = write_bundle(BENCH_RUN, [MEASURED_CELL], tmp_path / "run.json")
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
        platform.python_version(),
        importlib.metadata.version("torch"),
        "0.3.7",
    )
    assert env["cpu_count"] == os.cpu_count() and env["os"]
    json.dumps(env)  # it goes into the bundle and the runs table as JSON


@pytest.mark.parametrize(
    ("env", "platform"),
    [
        ({"gpu_name": "NVIDIA H200", "cpu_model": "Intel(R) Xeon(R) Processor"}, "nvidia-h200"),
        (
            {"jetson_model": "NVIDIA Jetson AGX Orin Developer Kit", "power_mode": "MAXN", "gpu_name": "Orin"},
            "jetson-orin-agx-64gb@maxn",
        ),
        ({"cpu_model": "12th Gen Intel(R) Core(TM) i7-12700K"}, "intel-i7-12700k"),  # through the alias table
        ({"cpu_model": "AMD EPYC 7763 64-Core Processor"}, "amd-epyc-7763-64-core-processor"),
    ],
)
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
    assert env == {
        "gpu_name": "NVIDIA H200",
        "gpu_memory_mb": 143771,
        "gpu_driver": "580.159.04",
        "gpu_capability": "9.0",
        "gpu_count": 2,
    }


def test_platform_flag_is_normalised_like_the_predictions() -> None:
    from collectors.bench import _platform

    plan = BenchPlan(models=["resnet18"], conversions=["EAGER"], batch_sizes=[1], platform="H200")
    assert _platform(plan, {}) == "nvidia-h200"
    assert _platform(plan.model_copy(update={"platform": "jetson-orin-agx-50w"}), {}) == "jetson-orin-agx-64gb@50w"


def test_a_run_names_its_commit_and_says_when_the_checkout_differs_from_it(tmp_path: Path) -> None:
    def git(*arguments: str) -> str:
        done = subprocess.run(["git", "-C", str(tmp_path), *arguments], capture_output=True, text=True, check=True)
        return done.stdout.strip()

    assert git_sha(tmp_path) is None  # not a checkout
    git("init", "-q")
    (tmp_path / "timer.py").write_text("BUDGET = 1\n")
    git("add", "timer.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    head = git("rev-parse", "HEAD")
    (tmp_path / "notes.txt").write_text("untracked files are not the code that measured")
    assert git_sha(tmp_path) == head
    (tmp_path / "timer.py").write_text("BUDGET = 2\n")
    assert git_sha(tmp_path) == f"{head}-dirty"
