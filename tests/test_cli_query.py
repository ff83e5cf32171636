"""`parity query`: read-only SQL from the command line, in three output formats."""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from reporter.cli import main
from reporter.store import Store
from tests.builders import run_info
from tests.conftest import REPO


@pytest.fixture
def db_with_runs(db_path):
    with Store.open(db_path) as store, store.atomic():
        for n, label in enumerate(["nightly", "pr-42"]):
            store.add_run(
                run_info(
                    f"run-{n}",
                    started_at=f"2026-11-2{n}T10:00:00",
                    host="h",
                    platform="cpu-x",
                    label=label,
                    environment={},
                )
            )
    return db_path


def test_query_json_is_one_array_of_row_objects(db_with_runs, capsys):
    code = main(
        [
            "query",
            "SELECT run_id, label, started_at FROM runs ORDER BY run_id",
            "--db",
            str(db_with_runs),
            "--format",
            "json",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out) == [
        {"run_id": "run-0", "label": "nightly", "started_at": "2026-11-20T10:00:00"},
        {"run_id": "run-1", "label": "pr-42", "started_at": "2026-11-21T10:00:00"},
    ]


def test_query_csv_and_table_formats(db_with_runs, capsys):
    main(["query", "SELECT run_id, label FROM runs ORDER BY run_id", "--db", str(db_with_runs), "--format", "csv"])
    assert capsys.readouterr().out == "run_id,label\nrun-0,nightly\nrun-1,pr-42\n"
    main(["query", "SELECT count(*) AS n FROM runs", "--db", str(db_with_runs)])
    assert capsys.readouterr().out.splitlines() == ["n", "-", "2", "(1 row)"]


def test_query_refuses_a_write_with_one_line_and_keeps_the_data(db_with_runs, capsys):
    code = main(["query", "DELETE FROM runs", "--db", str(db_with_runs)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "parity query: error: parity query is read-only: a DELETE statement is refused\n"
    with Store.open(db_with_runs) as store:
        assert store.execute("SELECT count(*) FROM runs").single_value() == 2


def test_query_sql_error_is_one_line_without_traceback(db_with_runs, capsys):
    code = main(["query", "SELECT nope FROM runs", "--db", str(db_with_runs)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("parity query: error: SQL error: Binder Error")


# -- the sandbox: the database, and only the folders given with --read -----------------------------


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    """Files a query must not touch, and a HOME whose .duckdb/ shows any extension download."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "keep.txt").write_text("keep")
    (tmp_path / "secret.csv").write_text("secret\n1\n")
    dump = tmp_path / "dump"  # what EXPORT DATABASE writes; its load.sql runs on import
    dump.mkdir()
    (dump / "schema.sql").write_text("")
    (dump / "load.sql").write_text(f"COPY (SELECT 42) TO '{tmp_path / 'pwned.csv'}';\n")
    return {"tmp": tmp_path, "keep": tmp_path / "keep.txt", "secret": tmp_path / "secret.csv", "dump": dump}


READ_ONLY = "parity query is read-only"
SANDBOX = "parity query reads only the database and the folders given with --read"
HOSTILE = {
    "EXPLAIN ANALYZE COPY (SELECT 'x') TO '{keep}'": f"{READ_ONLY}: EXPLAIN of a COPY statement is refused",
    "EXPLAIN /* c */ (ANALYZE, FORMAT json) COPY (SELECT 1) TO '{keep}'": (
        f"{READ_ONLY}: EXPLAIN of a COPY statement is refused"
    ),
    "EXPLAIN (ANALYZE) COPY (SELECT 'x') TO '{keep}'": f"{READ_ONLY}: EXPLAIN of a COPY statement is refused",
    "EXPLAIN ANALYZE (ANALYZE) COPY (SELECT 'x') TO '{keep}'": f"{READ_ONLY}: EXPLAIN of a COPY statement is refused",
    "PRAGMA import_database('{dump}')": f"{READ_ONLY}: a PRAGMA statement is refused",
    "SELECT * FROM read_text('{secret}')": SANDBOX,
    "SELECT * FROM read_csv('{secret}')": SANDBOX,
    "SELECT * FROM glob('{tmp}/*')": SANDBOX,
    "SELECT * FROM 'https://example.com/x.csv'": SANDBOX,
    "EXPLAIN ANALYZE INSTALL httpfs": f"{READ_ONLY}: EXPLAIN of a LOAD statement is refused",  # INSTALL is a LOAD
}


@pytest.mark.parametrize("sql", HOSTILE)
def test_query_touches_no_file_and_no_network(db_with_runs, hostile, capsys, sql):
    code = main(["query", sql.format(**hostile), "--db", str(db_with_runs)])
    out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"parity query: error: {HOSTILE[sql]}")
    assert "secret" not in out and hostile["keep"].read_text() == "keep"
    assert not (hostile["tmp"] / "pwned.csv").exists()
    assert not (hostile["tmp"] / "home" / ".duckdb").exists()  # no extension installed, none downloaded


def write_history(folder: Path) -> None:
    """Two nights of a history tree as docs/workflow.md lays it out (Parquet, platform and date folders)."""
    duckdb.sql(f"""COPY (SELECT 'nvidia-h200' AS platform, DATE '2026-11-27' + (i % 2)::INT AS date, 1.5 AS median
                         FROM range(4) t(i))
                   TO '{folder}' (FORMAT parquet, PARTITION_BY (platform, date))""")


HISTORY_SQL = """SELECT platform, count(*) AS n
                 FROM read_parquet('history/platform=*/date=*/*.parquet', hive_partitioning = true) GROUP BY ALL"""


def test_query_reads_history_only_from_the_folders_given_with_read(db_with_runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_history(tmp_path / "history")
    (tmp_path / "history-old").mkdir()
    (tmp_path / "history-old" / "secret.csv").write_text("secret\n1\n")
    db = ["--db", str(db_with_runs)]
    assert main(["query", HISTORY_SQL, *db]) == 2
    assert capsys.readouterr().err.startswith(f"parity query: error: {SANDBOX}: ")
    assert main(["query", HISTORY_SQL, *db, "--read", "history", "--format", "csv"]) == 0
    assert capsys.readouterr().out == "platform,n\nnvidia-h200,4\n"
    paths = ["history-old/secret.csv", "history/../history-old/secret.csv", tmp_path / "history-old/secret.csv"]
    for outside in paths:
        assert main(["query", f"SELECT * FROM read_csv('{outside}')", *db, "--read", "history"]) == 2, outside
        assert "secret" not in capsys.readouterr().out
    copy = "EXPLAIN ANALYZE COPY (SELECT 1) TO 'history/written.csv'"
    assert main(["query", copy, *db, "--read", "history"]) == 2
    assert not (tmp_path / "history" / "written.csv").exists()


def test_query_read_must_name_a_folder(db_with_runs, tmp_path, capsys):
    assert main(["query", "SELECT 1", "--db", str(db_with_runs), "--read", str(tmp_path / "absent")]) == 2
    assert capsys.readouterr().err == f"parity query: error: --read {tmp_path / 'absent'}: no such folder\n"


def test_query_still_reads_the_stores_views_and_macros(tmp_path, capsys):
    from collectors.names import DATA_DIR

    db, proxies = tmp_path / "parity.duckdb", tmp_path / "proxies.json"
    proxies.write_text(json.dumps({"proxies": {"nvidia-h200": "h100-sxm5-80gb"}}))
    assert main(["ingest", str(DATA_DIR / "examples"), "--db", str(db), "--platform-map", str(proxies)]) == 0
    capsys.readouterr()
    sql = """SELECT (SELECT count(*) FROM current_comparisons) > 0 AS comparisons,
                    (SELECT count(*) FROM pair_latencies(predictions, latest)) > 0 AS pairs,
                    (SELECT count(*) FROM speedups) > 0 AS speedups,
                    (SELECT any_value(environment->>'$.gpu_name') FROM runs WHERE kind = 'bench') AS gpu"""
    assert main(["query", sql, "--db", str(db), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("true,true,true,NVIDIA H200")


def test_query_help_names_every_table_view_and_macro(db_with_runs):
    from reporter.commands import query

    with Store.open(db_with_runs, read_only=True) as store:
        names = store.execute(
            """SELECT table_name FROM duckdb_tables() WHERE NOT internal
               UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal
               UNION ALL SELECT function_name FROM duckdb_functions()
                         WHERE NOT internal AND function_type = 'table_macro'"""
        ).rows
    words = set(re.findall(r"\w+", query.__doc__))
    assert {name for (name,) in names} - words == set()


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN SELECT 1",
        "EXPLAIN ANALYZE SELECT count(*) FROM runs",
        "EXPLAIN (SELECT 1)",  # a "(" past EXPLAIN may open the statement, not options
        "EXPLAIN ANALYZE (SELECT 1)",
        "EXPLAIN (FROM range(3))",
        "EXPLAIN ((SELECT 1))",
        "EXPLAIN (FORMAT json) SELECT 1",
        "DESCRIBE runs",
        "SHOW TABLES",
        "SUMMARIZE runs",
        "FROM runs",
    ],
)
def test_query_reads_still_run(db_with_runs, sql):
    assert main(["query", sql, "--db", str(db_with_runs)]) == 0


# -- every DuckDB type in every format ---------------------------------------------------------------

EVERY_TYPE = """SELECT INTERVAL '1 month 2 days 3 hours 4.5 seconds' AS span, INTERVAL '-1 second' AS back,
    '7b1f4e3c-1d2a-4c5b-9e8f-0a1b2c3d4e5f'::UUID AS id, 12345678901234567890.12::DECIMAL(38,2) AS exact,
    '\\xAA\\x00z'::BLOB AS raw, [1, NULL] AS list, {'a': 1, 'b': [2.5]} AS struct, MAP {1: 'x'} AS map,
    170141183460469231731687303715884105727::HUGEINT AS huge, '12:30:00+02'::TIMETZ AS local,
    DATE '2026-11-28' AS day, TIMESTAMP '2026-11-28 10:00:00' AS at, 'nan'::DOUBLE AS nan,
    '-inf'::DOUBLE AS minus_inf, 'a'::ENUM ('a', 'b') AS choice, true AS yes, NULL AS nothing"""

AS_JSON = {
    "span": "P32DT3H4.5S",
    "back": "-PT1S",
    "id": "7b1f4e3c-1d2a-4c5b-9e8f-0a1b2c3d4e5f",
    "exact": 12345678901234567890.12,
    "raw": "aa007a",
    "list": [1, None],
    "struct": {"a": 1, "b": [2.5]},
    "map": {"1": "x"},
    "huge": 170141183460469231731687303715884105727,
    "local": "12:30:00+02:00",
    "day": "2026-11-28",
    "at": "2026-11-28T10:00:00",
    "nan": None,
    "minus_inf": None,
    "choice": "a",
    "yes": True,
    "nothing": None,
}
AS_TEXT = {
    **{k: str(v) for k, v in AS_JSON.items()},
    "exact": "12345678901234567890.12",
    "list": "[1, null]",
    "struct": '{"a": 1, "b": [2.5]}',
    "map": '{"1": "x"}',
    "nan": "nan",
    "minus_inf": "-inf",
    "yes": "true",
    "nothing": "",
}


def test_query_json_carries_every_duckdb_type(db_with_runs, capsys):
    assert main(["query", EVERY_TYPE, "--db", str(db_with_runs), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [AS_JSON]


def test_query_csv_and_table_carry_every_duckdb_type(db_with_runs, capsys):
    assert main(["query", EVERY_TYPE, "--db", str(db_with_runs), "--format", "csv"]) == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out))) == [AS_TEXT]
    assert main(["query", EVERY_TYPE, "--db", str(db_with_runs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == list(AS_JSON) and lines[-1] == "(1 row)"
    assert lines[2].split()[:3] == ["P32DT3H4.5S", "-PT1S", "7b1f4e3c-1d2a-4c5b-9e8f-0a1b2c3d4e5f"]


# -- streaming: memory, closed pipes -------------------------------------------------------------------


def test_query_output_streams_in_batches_in_every_format(db_with_runs, capsys):
    """More rows than one batch, the widest value in the last one: still one table, one CSV, one JSON array."""
    sql = "SELECT i, CASE WHEN i = 24999 THEN 'the widest value' ELSE 'v' END AS v FROM range(25000) t(i)"
    db = ["--db", str(db_with_runs)]
    assert main(["query", sql, *db, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 25000 and rows[-1] == {"i": 24999, "v": "the widest value"}
    assert main(["query", sql, *db, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "24999,the widest value"
    assert main(["query", sql, *db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["i     v", "----  -", "0     v"]  # as wide as the first batch needs
    assert lines[10002] == "10000  v"  # a later batch widens a column for its own lines
    assert lines[-2:] == ["24999  the widest value", "(25000 rows)"]


def query_process(db: Path, sql: str, *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "reporter.cli", "query", sql, "--db", str(db), *options],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


# `parity query` run in-process by a child that reports its own peak memory (VmHWM) on exit: the
# rusage of a child counts the memory of the parent it was forked from, and pytest's grows.
PEAK = (
    "import sys; from reporter.cli import main; status = main(sys.argv[1:]); sys.stdout.flush(); "
    "print(next(line for line in open('/proc/self/status') if line.startswith('VmHWM')), file=sys.stderr); "
    "sys.exit(status)"
)


def peak_memory_mb(db: Path, rows: int, fmt: str) -> float:
    """The query process's peak resident memory, its output read and counted as it comes."""
    process = subprocess.Popen(
        [sys.executable, "-c", PEAK, "query", f"SELECT * FROM range({rows})", "--db", str(db), "--format", fmt],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines = sum(1 for _ in process.stdout)
    err = process.stderr.read().decode()
    assert process.wait() == 0 and lines >= rows, err
    return int(err.split()[-2]) / 1024  # "VmHWM:  163840 kB"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak from /proc/self/status")
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_query_memory_does_not_grow_with_the_result(db_with_runs, fmt):
    small, large = peak_memory_mb(db_with_runs, 10, fmt), peak_memory_mb(db_with_runs, 1_000_000, fmt)
    assert large - small < 40, f"{small:.0f} MB for 10 rows, {large:.0f} MB for a million"


def test_query_output_holds_no_progress_bar(db_with_runs):
    """DuckDB draws a progress bar on stdout for a query over 2 s when Python runs no script file
    (a REPL, a notebook, `python -c`): the output must still be the rows alone."""
    script = "import sys; from reporter.cli import main; sys.exit(main(sys.argv[1:]))"
    sql = "SELECT sum(hash(i)) AS s FROM range(2000000000) t(i)"  # seconds of work for one row
    done = subprocess.run(
        [sys.executable, "-c", script, "query", sql, "--db", str(db_with_runs), "--format", "csv"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0 and re.fullmatch(r"s\n\d+\n", done.stdout), done.stdout[-300:]


def test_query_into_a_closed_pipe_exits_quietly(db_with_runs):
    """`parity query … | head -1`: as Unix tools do, no message and the status of SIGPIPE."""
    process = query_process(db_with_runs, "SELECT * FROM range(1000000)")
    assert process.stdout.readline() == b"range\n"
    process.stdout.close()
    assert process.wait(timeout=60) == 128 + signal.SIGPIPE
    assert process.stderr.read() == b""
