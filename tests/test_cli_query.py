"""`parity query`: read-only SQL from the command line, in three output formats."""
from __future__ import annotations

import json

import pytest

from reporter.cli import main
from reporter.store import Store
from tests.builders import run_info


@pytest.fixture
def db_with_runs(db_path):
    with Store.open(db_path) as store, store.atomic():
        for n, label in enumerate(["nightly", "pr-42"]):
            store.add_run(run_info(f"run-{n}", started_at=f"2026-11-2{n}T10:00:00", host="h", platform="cpu-x",
                                   label=label, environment={}))
    return db_path


def test_query_json_is_one_array_of_row_objects(db_with_runs, capsys):
    code = main(["query", "SELECT run_id, label, started_at FROM runs ORDER BY run_id", "--db", str(db_with_runs), "--format", "json"])
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
