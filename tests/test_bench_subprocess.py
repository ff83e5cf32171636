"""parity bench for real: Alma conversions and planted faults, each cell in its own worker process.

Slow (seconds per cell: every worker imports torch and Alma), but CI runs them: they are the only
proof that a crash, an abort or a hang is recorded and the run goes on.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from collectors.bench import BenchPlan, run_plan
from collectors.worker import CellRequest, run_cell
from reporter.cli import main
from reporter.ingest import ingest
from reporter.store import Store

pytestmark = pytest.mark.slow


def test_bench_cli_measures_stores_and_bundles(tmp_path: Path, capsys) -> None:
    db, bundle = tmp_path / "p.duckdb", tmp_path / "run.json"
    code = main(["bench", "--model", "mobilenet_v3_small", "--conversion", "EAGER,JIT_TRACE,ONNX_GPU",
                 "--batch-size", "1", "--max-seconds", "1", "--db", str(db), "--out", str(bundle)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "mobilenet_v3_small EAGER bs1" in out.err  # the progress bar names the cell
    assert f"bundle: {bundle}" in out.out and f"database: {db}" in out.out
    with Store.open(db, read_only=True) as store:
        rows = store.execute("""SELECT conversion, method, status, failure_kind, n_iterations > 0, median > 0
                                FROM measurements ORDER BY conversion, method""").rows
        samples = store.execute("SELECT count(*) FROM samples").single_value()
    assert rows == [
        ("EAGER", "alma", "ok", None, True, True), ("EAGER", "synced-e2e", "ok", None, True, True),
        ("JIT_TRACE", "alma", "ok", None, True, True), ("JIT_TRACE", "synced-e2e", "ok", None, True, True),
        ("ONNX_GPU", "alma", "unavailable", "needs-cuda", None, None),
        ("ONNX_GPU", "synced-e2e", "unavailable", "needs-cuda", None, None),
    ]
    assert samples > 2
    with Store.open(tmp_path / "central.duckdb") as central:
        assert ingest(central, [bundle]).measurements == 6


def test_faults_are_recorded_and_the_run_goes_on() -> None:
    models = ["tests.models_for_tests:raising", "tests.models_for_tests:aborting",
              "tests.models_for_tests:hanging", "tests.models_for_tests:tiny"]
    plan = BenchPlan(models=models, conversions=["EAGER"], batch_sizes=[1], timer="synced",
                     max_seconds=0.5, timeout_s=12)
    outcome = {m.model.split(":")[1]: (m.status, m.failure_kind, m.message) for m in run_plan(plan).measurements}
    assert outcome["raising"][:2] == ("failed", "exception")
    assert outcome["raising"][2].startswith("RuntimeError: planted failure in forward")
    assert outcome["aborting"][:2] == ("failed", "crash") and "SIGABRT" in outcome["aborting"][2]
    assert outcome["hanging"][:2] == ("timeout", "timeout")
    assert outcome["hanging"][2].startswith("no result after 12 s; the worker was killed")
    assert outcome["tiny"][:2] == ("ok", None)


def test_onnx_gpu_on_the_cpu_provider_is_a_wrong_device_failure(tmp_path: Path, monkeypatch) -> None:
    # Bypasses the probe (which would call ONNX_GPU unavailable here) to reach the worker's own
    # check of the provider the ONNX Runtime session really uses. Alma writes model/model.onnx.
    monkeypatch.chdir(tmp_path)
    request = CellRequest(model="tests.models_for_tests:tiny", conversion="ONNX_GPU", batch_size=1, device="cpu",
                          timer="synced", target_ci=0.01, max_seconds=0.5, alma_batches=1, threads=1)
    (result,) = run_cell(request).results
    assert (result.status, result.failure_kind) == ("failed", "wrong_device")
    assert result.message == "ONNX Runtime ran the model on CPUExecutionProvider, not CUDAExecutionProvider"

