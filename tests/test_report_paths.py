"""Where and how `parity report` writes: never into a folder holding files of others that no report
created, never a file where a folder is, one of --out and --single-file, one line for a path it
cannot use; all or nothing (an error or Ctrl-C keeps the previous site or file); and what a killed
report left behind is cleared by the next one."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reporter import render, site_files
from reporter.cli import main
from reporter.render import render_single_file, render_site
from reporter.site_files import SITE_MARKER


def _report(capsys, *arguments: str) -> tuple[int, str]:
    code = main(["report", *arguments])
    return code, capsys.readouterr().err


def test_report_refuses_a_non_empty_folder_no_report_created(report_db, tmp_path, capsys):
    home = tmp_path / "home"  # a stand-in for `--out /` or `--out ~`: somebody's files, no marker
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    code, err = _report(capsys, "--db", str(report_db), "--out", str(home))
    assert (code, err) == (
        2,
        f"parity report: error: {home}: a folder with other files that no report created; "
        "pass --out a new or empty folder, or one an earlier report wrote\n",
    )
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
    assert (code, err) == (
        2,
        f"parity report: error: {target}: is a folder; --single-file takes the path of an HTML file\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_report_refuses_out_and_single_file_together(report_db, tmp_path, capsys):
    code, err = _report(
        capsys, "--db", str(report_db), "--out", str(tmp_path / "site"), "--single-file", str(tmp_path / "one.html")
    )
    assert (code, err) == (
        2,
        "parity report: error: --out and --single-file: give one (a folder of pages, or one self-contained file)\n",
    )
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


def test_report_command_prints_the_index_path(report_db, tmp_path, capsys):
    assert main(["report", "--db", str(report_db), "--out", str(tmp_path / "site")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "site" / "index.html")
    assert (tmp_path / "site" / "summary.md").is_file()
    assert main(["report", "--db", str(report_db), "--single-file", str(tmp_path / "one.html")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "one.html")


def test_report_refuses_a_folder_whose_assets_it_did_not_write(report_db, tmp_path, capsys):
    notes = tmp_path / "notes"
    (notes / "assets").mkdir(parents=True)
    (notes / "assets" / "logo.png").write_bytes(b"mine")
    assert main(["report", "--db", str(report_db), "--out", str(notes)]) == 2
    assert capsys.readouterr().err == (
        f"parity report: error: {notes}: a folder with other files that no report "
        "created; pass --out a new or empty folder, or one an earlier report wrote\n"
    )
    assert (notes / "assets" / "logo.png").read_bytes() == b"mine" and not (notes / "index.html").exists()


@pytest.mark.parametrize("flag", ["--out", "--single-file"])
def test_report_unwritable_path_is_one_line(report_db, tmp_path, capsys, flag):
    (tmp_path / "afile").write_text("")
    target = tmp_path / "afile" / "site"
    assert main(["report", "--db", str(report_db), flag, str(target)]) == 2
    error = capsys.readouterr().err  # "Not a directory" or "File exists", by where the OS noticed
    assert error.startswith(f"parity report: error: {target}: cannot write the report: ") and error.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # no staging left behind


def test_report_command_without_database_is_one_line(tmp_path, capsys):
    assert main(["report", "--db", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "site")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "none.duckdb" in error


# -- writing is all or nothing ------------------------------------------------------------------


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()
    }


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_report_interrupted_mid_render_keeps_the_previous_site(site, tmp_path, monkeypatch, failure):
    out = tmp_path / "site"
    render_site(site, out, generated_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    before = _tree(out)
    written = []

    def failing_write(folder: Path, relative: str, text: str) -> None:
        if len(written) == 3:  # the index and two pages are out, the rest and assets/ are not
            raise failure
        written.append(relative)
        real_write(folder, relative, text)

    real_write = site_files.write
    monkeypatch.setattr(site_files, "write", failing_write)
    with pytest.raises(type(failure)):
        render_site(site, out, generated_at=dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc))
    assert written and _tree(out) == before  # byte for byte the earlier report
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]  # no staging folder left


def test_report_interrupted_before_the_swap_writes_nothing_new(site, tmp_path, monkeypatch):
    monkeypatch.setattr(site_files, "copy_assets", lambda folder: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        render_site(site, tmp_path / "site")
    assert list(tmp_path.iterdir()) == []  # no site, no half of one


def test_report_rerun_replaces_the_site_and_drops_pages_of_names_now_gone(site, tmp_path):
    out = tmp_path / "site"
    render_site(site, out)
    (out / "models" / "gone.html").write_text("stale")
    render_site(site, out)
    assert not (out / "models" / "gone.html").exists() and (out / "assets" / "plotly.min.js").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]


def test_report_keeps_other_files_in_the_folder(site, tmp_path):
    render_site(site, tmp_path)
    (tmp_path / "notes.txt").write_text("mine")  # added beside the report it wrote
    render_site(site, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "index.html").is_file()
    assert not [path for path in tmp_path.parent.iterdir() if ".tmp-" in path.name or ".old-" in path.name]


def test_report_failed_swap_puts_the_previous_site_back(site, tmp_path, monkeypatch):
    out = tmp_path / "site"
    render_site(site, out)
    before = _tree(out)
    real_rename, calls = Path.rename, []

    def failing_rename(self, target):
        calls.append(self.name)
        if len(calls) == 4:  # two entries swapped, the third moved aside
            raise OSError("device busy")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(render.RenderError, match="cannot write the report: device busy"):
        render_site(site, out)
    monkeypatch.undo()
    assert _tree(out) == before and sorted(path.name for path in tmp_path.iterdir()) == ["site"]


def test_report_single_file_interrupted_keeps_the_previous_file(site, tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("previous report")

    def failing_replace(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(site_files.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        render_single_file(site, path)
    assert path.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
