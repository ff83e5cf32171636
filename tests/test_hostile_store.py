"""Hostile database files through every command: a newer schema, a damaged file, a file another
process holds, and Ctrl-C in the middle of a query. Real files, real second processes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from collectors.names import DATA_DIR
from reporter.cli import main
from reporter.schema import MIGRATIONS
from reporter.store import Store
from tests.conftest import REPO

EXAMPLES = DATA_DIR / "examples"
KNOWN = MIGRATIONS[-1][0]
BENCH = ["--model", "resnet18", "--conversion", "EAGER", "--batch-size", "1"]
# Every command that opens the database, as (arguments, whether it writes).
COMMANDS = {
    "ingest": (["ingest", str(EXAMPLES / "predictions")], True),
    "bench": (["bench", *BENCH], True),
    "demo": (["demo"], True),
    "report": (["report"], False),
    "compare": (["compare", "--base", "latest", "--head", "latest"], False),
    "query": (["query", "SELECT sum(latency_ms) FROM samples"], False),
}


@pytest.fixture
def example_db(tmp_path: Path) -> Path:
    """A real database: Parity's example predictions and H200 bundles, ingested."""
    db = tmp_path / "parity.duckdb"
    ingested(db)
    return db


def ingested(db: Path) -> None:
    assert main(["ingest", str(EXAMPLES), "--db", str(db)]) == 0


def run_command(name: str, db: Path, tmp_path: Path, monkeypatch, *extra: str) -> int:
    """`parity NAME` on `db`; bench and demo stop with an AssertionError if they get to measuring."""
    monkeypatch.setattr("collectors.bench.run_plan", no_measuring)
    arguments, _ = COMMANDS[name]
    out = ["--out", str(tmp_path / "site")] if name in ("report", "demo") else []
    return main([*arguments, *out, "--db", str(db), *extra])


def no_measuring(*args, **kwargs):
    raise AssertionError("measured although the command should have stopped first")


def one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"parity {command}: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0].removeprefix(f"parity {command}: error: ")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- a database written by a newer Parity ---------------------------------------------------------

NEWER_CHANGES = {
    "extra column": ["ALTER TABLE measurements ADD COLUMN future_figure DOUBLE"],
    "renamed column": [
        "DROP VIEW IF EXISTS current_comparisons",
        "DROP VIEW IF EXISTS comparisons",
        "DROP VIEW IF EXISTS speedups",
        "DROP VIEW IF EXISTS latest",
        "ALTER TABLE measurements RENAME COLUMN median TO median_ms",
    ],
}


def make_newer(db: Path, change: list[str]) -> None:
    """What a newer Parity's migration would leave: a changed table and a higher schema_version."""
    connection = duckdb.connect(str(db))
    for statement in change:
        connection.execute(statement)
    connection.execute("INSERT INTO schema_version VALUES (?, 'from a newer Parity', now())", [KNOWN + 1])
    connection.close()


@pytest.mark.parametrize("change", NEWER_CHANGES, ids=str)
@pytest.mark.parametrize("command", COMMANDS)
def test_newer_schema_is_refused_by_every_command_and_nothing_is_written(
    example_db, tmp_path, monkeypatch, capsys, command, change
):
    make_newer(example_db, NEWER_CHANGES[change])
    before = digest(example_db)
    assert run_command(command, example_db, tmp_path, monkeypatch) == 2
    assert one_error_line(capsys, command).startswith(
        f"{example_db}: written by a newer Parity: schema {KNOWN + 1}, this one knows {KNOWN}; upgrade Parity to use it"
    )
    assert digest(example_db) == before and not Path(f"{example_db}.wal").exists()


# -- a damaged database ---------------------------------------------------------------------------


def truncate(db: Path) -> None:
    """Half the file gone, as a full disk or a copy cut short leaves it; DuckDB still opens it."""
    os.truncate(db, db.stat().st_size // 2)
    duckdb.connect(str(db), read_only=True).close()


def scribble(db: Path) -> None:
    """Bytes overwritten near the start of every block but the first, as bad disk sectors would
    leave them; the size is right, and DuckDB opens the file."""
    block, header = 262144, 12288
    with open(db, "r+b") as handle:
        for offset in range(header + block + 100, db.stat().st_size, block):
            handle.seek(offset)
            handle.write(b"\xff" * 64)
    duckdb.connect(str(db), read_only=True).close()


def assert_damaged(capsys, command: str, db: Path) -> None:
    error = one_error_line(capsys, command)
    assert error.startswith(f"{db}: damaged: ")
    assert "; restore it from the bundles (parity ingest them into a new file) or from a backup" in error


@pytest.mark.parametrize("command", COMMANDS)
def test_truncated_database_is_one_line_in_every_command(example_db, tmp_path, monkeypatch, capsys, command):
    truncate(example_db)
    assert run_command(command, example_db, tmp_path, monkeypatch) == 2
    assert_damaged(capsys, command, example_db)


@pytest.mark.parametrize("command", ["ingest", "report", "compare", "query"])
def test_corrupt_blocks_are_one_line_in_every_command_that_reads_them(
    example_db, tmp_path, monkeypatch, capsys, command
):
    scribble(example_db)
    assert run_command(command, example_db, tmp_path, monkeypatch) == 2
    assert_damaged(capsys, command, example_db)


def test_whole_files_pass_the_damage_check(tmp_path, capsys):
    """Headers only, and a file whose last transaction is still in the WAL of a killed writer: both
    are whole, and the check must say so (the WAL's rows are not in the file's blocks yet)."""
    fresh, killed = tmp_path / "fresh.duckdb", tmp_path / "killed.duckdb"
    assert main(["ingest", str(EXAMPLES / "predictions"), "--db", str(killed)]) == 0
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb, os, sys; c = duckdb.connect(sys.argv[1]); "
            "c.execute('INSERT INTO proxies SELECT i::VARCHAR, i::VARCHAR FROM range(300000) t(i)'); "
            "os._exit(0)",
            str(killed),
        ],
        check=True,
    )
    assert Path(f"{killed}.wal").stat().st_size > 0
    capsys.readouterr()
    assert main(["query", "SELECT count(*) AS n FROM proxies", "--db", str(killed), "--format", "csv"]) == 0
    assert capsys.readouterr().out == "n\n300000\n"
    Store.open(fresh).close()
    assert main(["query", "SELECT count(*) AS n FROM runs", "--db", str(fresh), "--format", "csv"]) == 0


# -- a database another process holds ------------------------------------------------------------


def test_writer_waits_for_the_lock_then_stores(tmp_path, capsys, locked):
    db = tmp_path / "parity.duckdb"
    assert main(["ingest", str(EXAMPLES / "predictions"), "--db", str(db)]) == 0
    holder = locked(db, seconds=2)
    capsys.readouterr()
    started = time.monotonic()
    assert main(["ingest", str(EXAMPLES), "--db", str(db), "--wait", "30"]) == 0
    assert time.monotonic() - started > 1  # it did wait for the holder
    err = capsys.readouterr().err
    assert f"parity: waiting for {db}, held by another process (PID {holder.pid}), up to 30 s (--wait)" in err
    assert main(["query", "SELECT count(*) FROM runs", "--db", str(db), "--format", "csv"]) == 0
    assert capsys.readouterr().out == "count_star()\n4\n"  # two ingest runs and the two bundles' runs


@pytest.mark.parametrize("command", [name for name, (_, writes) in COMMANDS.items() if writes])
def test_writer_gives_up_after_its_wait_in_one_line(tmp_path, monkeypatch, capsys, locked, command):
    db = tmp_path / "parity.duckdb"
    main(["ingest", str(EXAMPLES / "predictions"), "--db", str(db)])
    holder = locked(db)
    capsys.readouterr()
    started = time.monotonic()
    assert run_command(command, db, tmp_path, monkeypatch, "--wait", "1") == 2
    assert 1 <= time.monotonic() - started < 20
    error = one_error_line(capsys, command)
    assert error.startswith(
        f"{db}: busy: another process (PID {holder.pid}) still has it open after 1 s; "
        "try again when it has finished, or pass a longer --wait"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_wait_0_fails_at_once_and_readers_say_busy(example_db, tmp_path, monkeypatch, capsys, locked, command):
    holder = locked(example_db)
    started = time.monotonic()
    writes = COMMANDS[command][1]
    assert run_command(command, example_db, tmp_path, monkeypatch, *(["--wait", "0"] if writes else [])) == 2
    assert time.monotonic() - started < 10
    doing = "has it open" if writes else "is writing it"
    assert one_error_line(capsys, command).startswith(
        f"{example_db}: busy: another process (PID {holder.pid}) {doing}; "
        "try again when it has finished, or pass --wait SECONDS"
    )


def test_writers_wait_60_s_by_default():
    from reporter.cli import create_parser

    for command, (arguments, writes) in COMMANDS.items():
        assert create_parser().parse_args(arguments).wait == (60 if writes else 0), command


# -- Ctrl-C while a command waits on DuckDB --------------------------------------------------------


def slow_history_db(db: Path) -> None:
    """A database whose history query (the first thing `parity report` asks) takes seconds: a
    million and a half measurements of one series."""
    ingested(db)
    connection = duckdb.connect(str(db))
    run = connection.execute("SELECT run_id FROM measurements LIMIT 1").fetchone()[0]
    connection.execute(f"""
        INSERT INTO measurements (measurement_id, model, platform, precision, batch_size, conversion, device,
                                  method, status, run_id, median, measured_at)
        SELECT 1000 + i, 'resnet18', 'nvidia-h200', 'fp32', 1, 'EAGER', 'cuda', 'synced-e2e', 'ok', '{run}',
               1 + (i % 977) * 0.01, TIMESTAMP '2026-01-01' + to_seconds(i)
        FROM range(1500000) t(i)""")
    connection.close()


def interrupt_in_a_query(arguments: list[str], db: Path) -> subprocess.CompletedProcess:
    """Run `parity ARGUMENTS` in its own process and SIGINT it while DuckDB works on a query: once
    the database is open, as soon as threads besides the main one (DuckDB's workers, which run only
    inside a query) have run for 30 ms more."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reporter.cli", *arguments, "--db", str(db)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: holds_open(process.pid, db), process)
        at_open = worker_ms(process.pid)
        wait_until(lambda: worker_ms(process.pid) - at_open >= 30, process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()  # a no-op once it has ended; else it must not outlive the test
        process.wait()
    return subprocess.CompletedProcess(arguments, process.returncode, out, err)


def wait_until(condition, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def holds_open(pid: int, path: Path) -> bool:
    folder = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(folder / fd) == str(path) for fd in os.listdir(folder))
    except OSError:  # a descriptor closed while we looked: look again
        return False


def worker_ms(pid: int) -> float:
    """CPU time of the process's threads besides the main one, in milliseconds."""
    ticks = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()  # past the thread's name
        except OSError:  # the thread or the process ended while we looked
            continue
        ticks += int(fields[11]) + int(fields[12]) if task.name != str(pid) else 0  # utime + stime
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc to see DuckDB at work")
def test_ctrl_c_during_a_report_query_is_the_interrupted_line(tmp_path):
    """DuckDB turns Ctrl-C into its own error; the store turns it back into Ctrl-C, which the CLI
    reports as everywhere else."""
    db = tmp_path / "parity.duckdb"
    slow_history_db(db)
    done = interrupt_in_a_query(["report", "--out", str(tmp_path / "site")], db)
    assert done.returncode == 130, done.stderr
    assert done.stderr == "parity report: interrupted; nothing half-written was kept\n"
    assert not (tmp_path / "site").exists()


# -- a reader that goes away: `parity … | head -1` -----------------------------------------------------


@pytest.mark.parametrize("command", ["report", "compare", "query"])
def test_closed_stdout_ends_every_command_quietly(example_db, tmp_path, command):
    arguments, _ = COMMANDS[command]
    out = ["--out", str(tmp_path / "site")] if command == "report" else []
    process = subprocess.Popen(
        [sys.executable, "-m", "reporter.cli", *arguments, *out, "--db", str(example_db)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # before the command writes anything: its first write meets a closed pipe
    assert process.wait(timeout=120) == 128 + signal.SIGPIPE
    assert process.stderr.read() == b""
