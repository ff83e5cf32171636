"""A nightly that survives being killed: real `parity bench` processes, real signals.

Each finished cell is in the journal before the next starts; SIGTERM and SIGKILL lose only the
running cell; `--resume` measures the rest under the same run id; a crash in a reused worker costs
one cell and the next is measured in a fresh worker. Slow: every worker imports torch and Alma.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collectors.bench import run_plan
from collectors.bundle import read_bundle
from collectors.journal import read_journal
from collectors.plan import BenchPlan
from collectors.vocabulary import SYNCED_E2E
from reporter.cli import main
from reporter.ingest import ingest
from reporter.store import Store
from tests.conftest import REPO
from tests.models_for_tests import PROCESS_LOG_ENV

pytestmark = pytest.mark.slow

# Two cells of a working model, then two of one that hangs in its first process (the night's
# running cell when the job is killed) and works after a resume.
MODELS = "tests.models_for_tests:tiny,tests.models_for_tests:hanging_in_first_process"
PLAN = ["--model", MODELS, "--conversion", "EAGER", "--batch-size", "1,2", "--max-seconds", "0.2", "--timer", "synced"]


def _bench(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, PROCESS_LOG_ENV: str(tmp_path / "processes.log")}
    env.pop("PARITY_DB", None)
    return subprocess.Popen(
        [sys.executable, "-m", "reporter.cli", "bench", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _hanging_worker(tmp_path: Path, bench: subprocess.Popen) -> int:
    """The pid of the worker hanging in the third cell; the two cells before it are journaled."""
    log, deadline = tmp_path / "processes.log", time.monotonic() + 180
    while not (log.exists() and log.read_text().strip()):
        assert bench.poll() is None and time.monotonic() < deadline, bench.communicate()
        time.sleep(0.2)
    return int(log.read_text().split()[0])


def _cells(journal: Path) -> list[tuple[str, int, str]]:
    return [
        (m.model.rsplit(":", 1)[1], m.batch_size, m.status)
        for cell in read_journal(journal.read_bytes(), journal).cells
        for m in cell
        if m.method == SYNCED_E2E
    ]


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_killed_bench_keeps_its_finished_cells_and_resume_completes_the_run(tmp_path: Path, kill) -> None:
    out = tmp_path / "night.json"
    journal = Path(f"{out}.journal")
    bench = _bench(tmp_path, *PLAN, "--out", str(out))
    worker = _hanging_worker(tmp_path, bench)
    bench.send_signal(kill)
    _, err = bench.communicate(timeout=60)
    assert _gone(worker)  # the hanging worker went with the bench, whichever signal
    assert _cells(journal) == [("tiny", 1, "ok"), ("tiny", 2, "ok")]
    assert not out.exists()
    if kill == signal.SIGTERM:
        assert bench.returncode == 130
        assert err.splitlines()[-1] == (
            f"parity bench: interrupted; 2 cell(s) finished and kept in {journal}: continue with "
            f"`parity bench --resume {journal}`, or store them now with `parity ingest {journal}`"
        )
    run_id = read_journal(journal.read_bytes(), journal).run.run_id

    resumed = _bench(tmp_path, "--resume", str(out))
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert not journal.exists()
    run, measurements, _ = read_bundle(out.read_bytes(), out)
    assert run.run_id == run_id and run.finished_at is not None
    assert sorted(
        (m.model.rsplit(":", 1)[1], m.batch_size, m.status) for m in measurements if m.method == SYNCED_E2E
    ) == [
        ("hanging_in_first_process", 1, "ok"),
        ("hanging_in_first_process", 2, "ok"),
        ("tiny", 1, "ok"),
        ("tiny", 2, "ok"),
    ]


def _terminated_night(tmp_path: Path, *where: str) -> None:
    """A night's bench stopped by SIGTERM while its third cell hangs."""
    bench = _bench(tmp_path, *PLAN, *where)
    _hanging_worker(tmp_path, bench)
    bench.send_signal(signal.SIGTERM)
    bench.communicate(timeout=60)


def test_a_killed_run_ingests_as_incomplete_and_its_whole_run_replaces_it(tmp_path: Path) -> None:
    db = tmp_path / "night.duckdb"
    _terminated_night(tmp_path, "--db", str(db))
    journal = Path(f"{db}.journal")
    run_id = read_journal(journal.read_bytes(), journal).run.run_id
    with Store.open(db) as store:  # stored before the resume: the resumed run must take its place
        assert ingest(store, [journal]).measurements == 4  # 2 cells, each timed and profiled (device-busy)
        assert store.execute("SELECT finished_at IS NULL FROM runs WHERE run_id = ?", [run_id]).single_value()
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "site")]) == 0
    runs_table = (tmp_path / "site" / "index.html").read_text()
    assert re.search(rf'{re.escape(run_id)} <span class="badge [^"]*" title="[^"]*">incomplete</span>', runs_table)
    resumed = _bench(tmp_path, "--resume", run_id, "--db", str(db))
    assert resumed.wait(timeout=300) == 0
    with Store.open(db) as store:
        assert store.execute("SELECT count(*), count(DISTINCT run_id) FROM measurements").first() == (8, 1)
        bench_runs = "SELECT count(*), bool_and(finished_at IS NOT NULL) FROM runs WHERE kind = 'bench'"
        assert store.execute(bench_runs).first() == (1, True)  # beside the ingest's own run


def test_resuming_with_another_matrix_is_refused_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "night.json"
    _terminated_night(tmp_path, "--out", str(out))
    refused = _bench(tmp_path, "--resume", str(out), "--batch-size", "1")
    _, err = refused.communicate(timeout=60)
    assert refused.returncode == 2
    assert err == (
        "parity bench: error: --resume: the run was asked for --batch-size 1,2, not 1; "
        "resume it with the same settings, or start a new run\n"
    )


def test_a_crash_in_a_reused_worker_costs_one_cell_and_the_next_gets_a_fresh_worker(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(PROCESS_LOG_ENV, str(tmp_path / "processes.log"))
    plan = BenchPlan(
        models=["tests.models_for_tests:aborting_at_batch_2"],
        conversions=["EAGER"],
        batch_sizes=[1, 2, 4, 8],
        timer="synced",
        max_seconds=0.2,
    )
    outcome = [(m.batch_size, m.status, m.failure_kind) for m in run_plan(plan).measurements if m.method == SYNCED_E2E]
    assert outcome == [(1, "ok", None), (2, "failed", "crash"), (4, "ok", None), (8, "ok", None)]
    workers = list(dict.fromkeys((tmp_path / "processes.log").read_text().split()))
    assert len(workers) == 2  # batches 1 and 2 in the first worker; 4 and 8 in a fresh one
