"""parity bench for real: Alma conversions and planted faults, in real worker processes.

Slow (seconds per cell: every worker imports torch and Alma), but CI runs them: they are the only
proof that a crash, an abort or a hang is recorded and the run goes on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collectors.bench import run_plan
from collectors.bundle import read_bundle
from collectors.plan import BenchPlan
from collectors.pool import REPO_ROOT, WorkerPool
from collectors.worker import CellRequest, CellResult, run_cell
from reporter.cli import main
from reporter.ingest import ingest
from reporter.store import Store
from tests.models_for_tests import PROCESS_LOG_ENV

pytestmark = pytest.mark.slow


def _bench(capsys, model: str, conversions: str, *flags: object):
    """`parity bench` of one model at batch 1, which must succeed: what it printed."""
    code = main(["bench", "--model", model, "--conversion", conversions, "--batch-size", "1", *map(str, flags)])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out


def test_bench_cli_measures_stores_and_bundles(tmp_path: Path, capsys) -> None:
    db, bundle = tmp_path / "p.duckdb", tmp_path / "run.json"
    out = _bench(
        capsys, "mobilenet_v3_small", "EAGER,JIT_TRACE,ONNX_GPU", "--max-seconds", "1", "--db", db, "--out", bundle
    )
    assert "mobilenet_v3_small EAGER bs1" in out.err  # the progress bar names the cell
    assert f"bundle: {bundle}" in out.out and f"database: {db}" in out.out
    with Store.open(db, read_only=True) as store:
        rows = store.execute("""SELECT conversion, method, status, failure_kind, n_iterations > 0, median > 0
                                FROM measurements ORDER BY conversion, method""").rows
        samples = store.execute("SELECT count(*) FROM samples").single_value()
    assert rows == [
        ("EAGER", "alma", "ok", None, True, True),
        ("EAGER", "device-busy", "ok", None, True, True),
        ("EAGER", "synced-e2e", "ok", None, True, True),
        ("JIT_TRACE", "alma", "ok", None, True, True),
        ("JIT_TRACE", "device-busy", "ok", None, True, True),
        ("JIT_TRACE", "synced-e2e", "ok", None, True, True),
        ("ONNX_GPU", "alma", "unavailable", "needs-cuda", None, None),
        ("ONNX_GPU", "synced-e2e", "unavailable", "needs-cuda", None, None),
    ]
    assert samples > 2
    with Store.open(tmp_path / "central.duckdb") as central:
        assert ingest(central, [bundle]).measurements == 8


def test_faults_are_recorded_and_the_run_goes_on() -> None:
    models = [
        "tests.models_for_tests:raising",
        "tests.models_for_tests:aborting",
        "tests.models_for_tests:hanging",
        "tests.models_for_tests:tiny",
    ]
    plan = BenchPlan(
        models=models, conversions=["EAGER"], batch_sizes=[1], timer="synced", max_seconds=0.5, timeout_s=12
    )
    outcome = {m.model.split(":")[1]: (m.status, m.failure_kind, m.message) for m in run_plan(plan).measurements}
    assert outcome["raising"][:2] == ("failed", "exception")
    assert outcome["raising"][2].startswith("RuntimeError: planted failure in forward")
    assert outcome["aborting"][:2] == ("failed", "crash") and "SIGABRT" in outcome["aborting"][2]
    assert outcome["hanging"][:2] == ("timeout", "timeout")
    assert outcome["hanging"][2].startswith("no result after 12 s; the worker was killed")
    assert outcome["tiny"][:2] == ("ok", None)


def test_processes_pool_their_samples_and_widen_the_ci_to_cover_their_medians(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv(PROCESS_LOG_ENV, str(tmp_path / "processes.log"))
    db, bundle = tmp_path / "p.duckdb", tmp_path / "run.json"
    out = _bench(
        capsys,
        "tests.models_for_tests:process_dependent",
        "EAGER",
        *("--max-seconds", "1", "--timer", "both", "--processes", "3", "--db", db, "--out", bundle),
    )
    assert "! their processes' medians disagree" in out.out  # 5 against 8 ms: no CI of ±1 %
    assert "process_dependent EAGER bs1 (process 3/3)" in out.err  # the progress bar
    with Store.open(db, read_only=True) as store:
        synced = store.execute("""SELECT process_medians, ci95_low, ci95_high, n_iterations, converged
                                  FROM measurements WHERE method = 'synced-e2e'""").rows[0]
        samples = store.execute("""SELECT count(*) FROM samples JOIN measurements USING (measurement_id)
                                   WHERE method = 'synced-e2e'""").single_value()
        alma = store.execute("SELECT count(*), any_value(process_medians) FROM measurements WHERE method = 'alma'").rows
    medians, low, high, n, converged = synced
    first, second, third = medians  # ms: odd processes sleep 5, even ones 8; a loaded host oversleeps
    assert min(first, third) >= 5 and max(first, third) + 2 <= second and second >= 8
    assert low <= min(medians) and high >= max(medians)
    assert samples == n and converged is False
    assert alma == [(1, None)]  # Alma's loop ran in the first process only
    assert len(set((tmp_path / "processes.log").read_text().split())) == 3
    _, measurements, _ = read_bundle(bundle.read_bytes(), bundle)
    assert next(m for m in measurements if m.method == "synced-e2e").process_medians == pytest.approx(medians)


def test_a_failure_in_a_later_process_is_the_timers_outcome(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(PROCESS_LOG_ENV, str(tmp_path / "processes.log"))
    plan = BenchPlan(
        models=["tests.models_for_tests:failing_in_second_process"],
        conversions=["EAGER"],
        batch_sizes=[1],
        timer="both",
        max_seconds=0.5,
        processes=3,
    )
    synced, alma = (m for m in run_plan(plan).measurements if m.method != "device-busy")
    assert (synced.status, synced.failure_kind) == ("failed", "exception")
    assert synced.message.startswith("process 2 of 3: RuntimeError: planted failure in forward")
    assert alma.status == "ok"  # Alma's loop ran in the first process, which worked
    assert len(set((tmp_path / "processes.log").read_text().split())) == 2  # none after the failure


def test_a_terminated_bench_takes_its_worker_with_it(tmp_path: Path) -> None:
    log = tmp_path / "processes.log"
    bench = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reporter.cli",
            "bench",
            "--model",
            "tests.models_for_tests:hanging",
            "--conversion",
            "EAGER",
            "--batch-size",
            "1",
            "--timer",
            "synced",
            "--timeout",
            "120",
            "--out",
            str(tmp_path / "run.json"),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, PROCESS_LOG_ENV: str(log)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.2)
    worker = int(log.read_text().split()[0])  # the worker has built the model and hangs in forward
    bench.send_signal(signal.SIGTERM)
    assert bench.wait(timeout=30) == 130  # SIGTERM is handled as an interruption: the "interrupted" line
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)


def test_onnx_gpu_on_the_cpu_provider_is_a_wrong_device_failure(tmp_path: Path, monkeypatch) -> None:
    # Bypasses the probe (which would call ONNX_GPU unavailable here) to reach the worker's own
    # check of the provider the ONNX Runtime session really uses. Alma writes model/model.onnx.
    monkeypatch.chdir(tmp_path)
    (result,) = run_cell(_request("tiny", "ONNX_GPU")).results
    assert (result["status"], result["failure_kind"]) == ("failed", "wrong_device")
    assert result["message"] == "ONNX Runtime ran the model on CPUExecutionProvider, not CUDAExecutionProvider"


@pytest.mark.parametrize("profile", [True, False])
def test_a_process_that_repeats_a_cells_timing_never_starts_the_profiler(profile: bool) -> None:
    # The model fails only under torch's profiler: the first process's device-busy window meets
    # it; a repeating process (--processes) must time the cell without ever profiling it.
    results = run_cell(_request("failing_when_profiled", "EAGER", profile=profile)).results
    if profile:
        assert [r["status"] for r in results] == ["failed"]
        assert "planted failure under the profiler" in results[0]["message"]
    else:
        assert [(r["method"], r["status"]) for r in results] == [("synced-e2e", "ok")]


def test_a_reused_worker_that_died_between_cells_is_replaced_not_blamed(tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "processes.log"
    monkeypatch.setenv(PROCESS_LOG_ENV, str(log))  # process_dependent logs each worker that builds it
    pool = WorkerPool(threads=1)
    try:
        first, _ = pool.measure(_request("process_dependent", "EAGER", profile=False), timeout_s=120)
        [worker] = log.read_text().split()
        os.kill(int(worker), signal.SIGKILL)  # as the OOM killer would, while the worker waits
        second, startup = pool.measure(_request("process_dependent", "EAGER", batch_size=2, profile=False), 120)
    finally:
        pool.close()
    assert isinstance(first, CellResult) and isinstance(second, CellResult), (first, second)
    assert [r["status"] for r in first.results + second.results] == ["ok", "ok"]
    assert startup is not None and len(set(log.read_text().split())) == 2  # measured in a fresh worker


def _request(model: str, conversion: str, **changes) -> CellRequest:
    """A worker's request for one quick cell of a tests.models_for_tests model on this CPU."""
    fields = dict(batch_size=1, device="cpu", timer="synced", target_ci=0.01, max_seconds=0.5, alma_batches=1)
    return CellRequest(model=f"tests.models_for_tests:{model}", conversion=conversion, threads=1, **fields | changes)


def test_bench_measures_device_time_layers_and_says_why_there_is_no_energy(tmp_path: Path) -> None:
    """mobilenet_v3_small EAGER at batch 1 on this CPU: a device-busy measurement beside the timed
    one, each leaf module's time with --layers, and, this machine having no energy sensor, the
    reason and fix instead of an energy figure (never zero)."""
    out = tmp_path / "b.json"
    code = main(
        [
            "bench",
            "--model",
            "mobilenet_v3_small",
            "--conversion",
            "EAGER",
            "--batch-size",
            "1",
            "--max-seconds",
            "0.5",
            "--timer",
            "synced",
            "--layers",
            "--threads",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    _, measurements, layers = read_bundle(out.read_bytes(), out)
    timed, busy = measurements
    assert (timed.method, busy.method, busy.status) == ("synced-e2e", "device-busy", "ok")
    assert timed.energy_mj is None and timed.energy_note.startswith("no energy sensor for cpu on this machine: ")
    assert "fix: " in timed.energy_note
    assert len(busy.samples) == 10 and busy.kernels_per_call > 100 and busy.phase_s["profile"] > 0
    modules = {layer.subgraph_id: layer for layer in layers}
    assert modules["features.0.0"].ops == "Conv2d" and modules["features.0.0"].node_names == ("features_0_0",)
    assert all(layer.method == "device-busy" and layer.conversion == "EAGER" for layer in layers)
    total = sum(layer.latency_ms for layer in layers)
    assert 0.5 * busy.median < total < 2 * busy.median  # the same work, seen in two profiling windows
