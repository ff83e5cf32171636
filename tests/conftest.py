"""Shared fixtures: the real inputs in ../shared/fixtures and fresh database files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("PARITY_FIXTURES") or REPO.parent / "shared" / "fixtures")


def bench_error(capsys: pytest.CaptureFixture, *args: str) -> str:
    """The one error line of `parity bench ARGS`, which must refuse them (exit 2)."""
    from reporter.cli import main

    assert main(["bench", *args]) == 2
    return capsys.readouterr().err.strip()


def site_pages(folder: Path) -> dict[str, str]:
    """Every HTML page of a rendered site, by its path inside the site."""
    return {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8") for path in sorted(folder.rglob("*.html"))
    }


def db_rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """The rows of a query on a database file, opened read-only for it."""
    from reporter.store import Store

    with Store.open(db, read_only=True) as store:
        return store.execute(sql, params).rows


def db_value(db: Path, sql: str, params: list | None = None):
    """The first value of a query's first row on a database file."""
    return db_rows(db, sql, params)[0][0]


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The real graphs and Alma files; tests that need them skip where the folder is absent."""
    if not FIXTURES.is_dir():
        pytest.skip(f"real fixtures not found at {FIXTURES} (set PARITY_FIXTURES)")
    return FIXTURES


@pytest.fixture(scope="module")
def report_db(tmp_path_factory) -> Path:
    """The report tests' database (tests/report_db.py), built once per test module."""
    from tests.report_db import build_report_db

    return build_report_db(tmp_path_factory.mktemp("report") / "parity.duckdb")


@pytest.fixture(scope="module")
def site(report_db: Path):
    """What the report shows of report_db, loaded once per test module."""
    from reporter.analysis import load_site
    from reporter.store import Store

    with Store.open(report_db, read_only=True) as store:
        return load_site(store)


@pytest.fixture(scope="module")
def site_dir(site, tmp_path_factory) -> Path:
    """The site rendered from `site`, once per test module."""
    from reporter.render import render_site

    out = tmp_path_factory.mktemp("site")
    render_site(site, out)
    return out


@pytest.fixture
def no_pynvml(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import pynvml` fails, as where nvidia-ml-py is not installed."""
    monkeypatch.setitem(sys.modules, "pynvml", None)


@pytest.fixture(scope="module")
def context():
    """What the format modules are told from the command line: --model, --platform, --batch-size."""
    from collectors.formats import Context
    from collectors.names import Names

    return Context(Names.load(), model="ResNet-18", platform="i7-12700K", batch_size=4)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "parity.duckdb"


@pytest.fixture
def locked():
    """Starts another process that holds a DuckDB file open (and so its lock) for `seconds`: call
    with the path; returns that process."""
    holders = []

    def hold(path: Path, seconds: float = 120) -> subprocess.Popen:
        script = (
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "time.sleep(float(sys.argv[2]))"
        )
        process = subprocess.Popen(
            [sys.executable, "-c", script, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
        )
        holders.append(process)
        assert process.stdout.readline().strip() == "ready"
        return process

    yield hold
    for process in holders:
        process.kill()
        process.wait()
