"""Where `parity report` may write: never into a folder holding files of others that no report
created, never a file where a folder is, one of --out and --single-file, and what a killed
report left behind is cleared by the next one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reporter.cli import main
from reporter.site_files import SITE_MARKER
from tests.report_db import build_report_db


@pytest.fixture(scope="module")
def report_db(tmp_path_factory) -> Path:
    return build_report_db(tmp_path_factory.mktemp("paths") / "parity.duckdb")


def _report(capsys, *arguments: str) -> tuple[int, str]:
    code = main(["report", *arguments])
    return code, capsys.readouterr().err


def test_report_refuses_a_non_empty_folder_no_report_created(report_db, tmp_path, capsys):
    home = tmp_path / "home"  # a stand-in for `--out /` or `--out ~`: somebody's files, no marker
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    code, err = _report(capsys, "--db", str(report_db), "--out", str(home))
    assert (code, err) == (2, f"parity report: error: {home}: a folder with other files that no report created; "
                              "pass --out a new or empty folder, or one an earlier report wrote\n")
    assert sorted(path.name for path in home.iterdir()) == ["notes.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["home"]


def test_report_writes_into_an_empty_folder_and_then_keeps_others_files_there(report_db, tmp_path, capsys):
    out = tmp_path / "site"
    out.mkdir()
    assert _report(capsys, "--db", str(report_db), "--out", str(out)) == (0, "")
    (out / "notes.txt").write_text("mine")  # added beside a report: the folder is the report's
    assert _report(capsys, "--db", str(report_db), "--out", str(out)) == (0, "")
    assert (out / "notes.txt").read_text() == "mine" and (out / SITE_MARKER).is_file()


@pytest.mark.parametrize("target", ["/", "."])
def test_report_single_file_onto_a_folder_is_one_line(report_db, tmp_path, monkeypatch, capsys, target):
    monkeypatch.chdir(tmp_path)
    code, err = _report(capsys, "--db", str(report_db), "--single-file", target)
    assert (code, err) == (2, f"parity report: error: {target}: is a folder; --single-file takes the path of "
                              "an HTML file\n")
    assert list(tmp_path.iterdir()) == []


def test_report_refuses_out_and_single_file_together(report_db, tmp_path, capsys):
    code, err = _report(capsys, "--db", str(report_db), "--out", str(tmp_path / "site"),
                        "--single-file", str(tmp_path / "one.html"))
    assert (code, err) == (2, "parity report: error: --out and --single-file: give one (a folder of pages, "
                              "or one self-contained file)\n")
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_report_clears_what_a_killed_report_left_beside_its_folder(report_db, tmp_path, capsys):
    dead, alive = _dead_pid(), os.getppid()
    for name in (f".site.tmp-{dead}", f".site.old-{dead}", f".site.tmp-{alive}"):
        (tmp_path / name / "models").mkdir(parents=True)
    (tmp_path / f".one.html.tmp-{dead}").write_text("half a report")
    assert _report(capsys, "--db", str(report_db), "--out", str(tmp_path / "site")) == (0, "")
    assert _report(capsys, "--db", str(report_db), "--single-file", str(tmp_path / "one.html")) == (0, "")
    # A running report's staging folder (its process is alive) is not touched.
    assert sorted(path.name for path in tmp_path.iterdir()) == [f".site.tmp-{alive}", "one.html", "site"]
