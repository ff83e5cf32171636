"""`parity ingest` against hostile inputs, with real files: a manifest that points outside its folder,
a link out of a folder, a FIFO, a symlink loop, JSON nested 100,000 deep, and values that pass a
format's shape but that the store cannot take. Each bad file is one line naming the file, the
field and the value; the good files of the same command are stored; nothing hangs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from collectors.errors import short
from collectors.records import record_fields
from reporter.cli import main
from reporter.store import Store
from tests.builders import measurement, run_info

REPO = Path(__file__).resolve().parent.parent
REPORT = "graphs/predictions/resnet18__Jetson-Orin-AGX__fp32__b1.json"
SECRET = "TOPSECRET-first-line-of-a-file-outside"


def _count(db: Path, table: str) -> int:
    with Store.open(db, read_only=True) as store:
        return store.execute(f"SELECT count(*) FROM {table}").single_value()


def _ingest(capsys, *arguments: str) -> tuple[int, str, str]:
    code = main(["ingest", *arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _good(fixtures: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(fixtures / REPORT, folder / "good.json"))


# -- reaching outside what was given --------------------------------------------------------------


@pytest.mark.parametrize("entry", ["../outside/secret.txt", "{outside}/secret.txt", "../../../../../../../etc/passwd"])
def test_ingest_manifest_entry_outside_its_folder_is_refused_unread(fixtures, db_path, tmp_path, capsys, entry):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text(f"{SECRET}\nmore\n")
    calibration = tmp_path / "calibration"
    _good(fixtures, calibration)
    entry = entry.format(outside=tmp_path / "outside")
    (calibration / "manifest.json").write_text(json.dumps({"measurements": [{"file": entry}]}))
    code, out, err = _ingest(
        capsys, str(calibration / "manifest.json"), str(calibration / "good.json"), "--db", str(db_path)
    )
    assert code == 1
    assert err == (
        f"parity ingest: bad file: {calibration / 'manifest.json'}: measurements[0].file = {short(entry)}: "
        "outside the manifest's folder and the folders given (name the file itself to ingest it)\n"
    )
    assert SECRET not in out + err and "root:" not in out + err
    assert _count(db_path, "predictions") == 1


def test_ingest_manifest_entry_under_a_folder_given_is_followed(fixtures, db_path, tmp_path, capsys):
    folder = tmp_path / "calibration"
    shutil.copytree(fixtures / "graphs/calibration/jetson_orin_agx_30w", folder / "orin")
    manifest = json.loads((folder / "orin" / "manifest.json").read_text())
    for entry in manifest["measurements"]:
        entry["file"] = f"../orin/{entry['file']}"  # out of its own folder, back in: still under the folder given
    (folder / "lists").mkdir()
    (folder / "lists" / "manifest.json").write_text(json.dumps(manifest))
    code, out, err = _ingest(capsys, str(folder), "--db", str(db_path))
    assert (code, err) == (0, "")
    assert _count(db_path, "measurements") == 45


def test_ingest_link_in_a_folder_leading_outside_it_is_refused_unread(fixtures, db_path, tmp_path, capsys):
    (tmp_path / "secret.txt").write_text(f"{SECRET}\n")
    folder = tmp_path / "inputs"
    _good(fixtures, folder)
    (folder / "x.json").symlink_to(tmp_path / "secret.txt")
    code, out, err = _ingest(capsys, str(folder), "--db", str(db_path))
    assert code == 1
    assert err == (
        f"parity ingest: bad file: {folder / 'x.json'}: file = 'x.json': a link that leads outside "
        f"{folder} (name its target to ingest it)\n"
    )
    assert SECRET not in out + err and _count(db_path, "predictions") == 1


def test_ingest_unknown_text_shows_only_the_start_of_its_first_line(db_path, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("password=hunter2-and-a-much-longer-first-line-than-anyone-needs\n")
    code, _, err = _ingest(capsys, str(tmp_path / "notes.txt"), "--db", str(db_path))
    assert code == 1 and "first line = 'password=hunter2-and-a-much-lo...'" in err
    assert "than-anyone" not in err


# -- files that hang or crash ---------------------------------------------------------------------


def _ingest_process(*arguments: str) -> subprocess.CompletedProcess:
    """`parity ingest` in its own process, given two minutes: what could hang must not hang the tests."""
    return subprocess.run(
        [sys.executable, "-m", "reporter.cli", "ingest", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ingest_fifo_in_a_folder_is_skipped_and_never_waited_on(fixtures, db_path, tmp_path):
    folder = tmp_path / "inputs"
    _good(fixtures, folder)
    os.mkfifo(folder / "pipe.json")  # nobody ever writes to it: reading it would wait forever
    done = _ingest_process(str(folder), "--db", str(db_path))
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"parity ingest: warning: skipped {folder / 'pipe.json'}: a FIFO, not a regular file\n"
    assert _count(db_path, "predictions") == 1


def test_ingest_fifo_named_on_the_command_line_is_a_bad_input(fixtures, db_path, tmp_path):
    good = _good(fixtures, tmp_path / "inputs")
    os.mkfifo(tmp_path / "pipe.json")
    done = _ingest_process(str(tmp_path / "pipe.json"), str(good), "--db", str(db_path))
    assert done.returncode == 1
    assert done.stderr == (
        f"parity ingest: bad file: {tmp_path / 'pipe.json'}: path = "
        f"{short(str(tmp_path / 'pipe.json'))}: a FIFO, not a regular file\n"
    )
    assert _count(db_path, "predictions") == 1


def test_ingest_symlink_loop_is_one_bad_file_and_the_good_ones_are_stored(fixtures, db_path, tmp_path, capsys):
    folder = tmp_path / "inputs"
    _good(fixtures, folder)
    (folder / "a.json").symlink_to(folder / "b.json")
    (folder / "b.json").symlink_to(folder / "a.json")
    code, out, err = _ingest(capsys, str(folder), "--db", str(db_path))
    assert code == 1
    assert err.splitlines() == [
        f"parity ingest: bad file: {folder / name}: file = {name!r}: cannot read: Too many levels of symbolic links"
        for name in ("a.json", "b.json")
    ]
    assert "stored 1 file(s): graphs-report 1" in out and _count(db_path, "predictions") == 1


def test_ingest_json_nested_100000_deep_is_one_bad_file(fixtures, db_path, tmp_path, capsys):
    folder = tmp_path / "inputs"
    _good(fixtures, folder)
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    code, out, err = _ingest(capsys, str(folder), "--db", str(db_path))
    assert code == 1
    assert err == (
        f"parity ingest: bad file: {folder / 'deep.json'}: JSON = 'line 1 column 202': "
        "truncated or invalid JSON (recursion limit exceeded)\n"
    )
    assert _count(db_path, "predictions") == 1


# -- values the store would refuse ----------------------------------------------------------------

_BUNDLE = {
    "format": "parity-bundle",
    "version": 2,
    "run": record_fields(run_info("bench-hostile")),
    "measurements": [record_fields(measurement())],
}


def _report_with(fixtures: Path, path: Path, section: str, **values) -> Path:
    document = json.loads((fixtures / REPORT).read_text())
    document[section].update(values)
    path.write_text(json.dumps(document))
    return path


def _bundle_with(path: Path, part: str, **values) -> Path:
    document = json.loads(json.dumps(_BUNDLE, default=list))
    (document["run"] if part == "run" else document["measurements"][0]).update(values)
    path.write_text(json.dumps(document))
    return path


HOSTILE_VALUES = {
    "bundle start before year 1 in UTC": (
        lambda fixtures, path: _bundle_with(path, "run", started_at="0001-01-01T00:00:00+01:00"),
        "run.started_at = '0001-01-01T00:00:00+01:00': out of range once in UTC",
    ),
    "bundle message with a NUL": (
        lambda fixtures, path: _bundle_with(path, "measurement", message="a\x00b"),
        "measurements[0].message = 'a\\x00b': contains a NUL character",
    ),
    "bundle environment with NaN": (
        lambda fixtures, path: _written(path, json.dumps(_BUNDLE, default=list).replace('"2.11"', "NaN")),
        "run.environment = {'torch': nan}: holds NaN or an infinity, which JSON cannot",
    ),
    "model name with a lone surrogate": (
        lambda fixtures, path: _written(
            path, (fixtures / REPORT).read_text().replace('"model": "ResNet-18"', '"model": "Res\\ud800"')
        ),
        "JSON = 'line 3 column 24': truncated or invalid JSON (unexpected end of hex escape)",
    ),
    "model name with a NUL": (
        lambda fixtures, path: _report_with(fixtures, path, "metadata", model="Res\x00Net"),
        "metadata.model = 'Res\\x00Net': contains a control character",
    ),
    "energy per batch beyond a double": (
        lambda fixtures, path: _overflowing_energy(fixtures, path),
        "predictions[0].energy_mj = inf: expected a finite number",
    ),
    "an integer of 5000 digits": (
        lambda fixtures, path: _written(
            path, (fixtures / REPORT).read_text().replace('"batch_size": 1', '"batch_size": ' + "1" * 5000)
        ),
        "JSON = 'line 6 column 4320': truncated or invalid JSON (number out of range)",
    ),
    "NaN outside the declared fields": (
        lambda fixtures, path: _report_with(fixtures, path, "metadata", note=float("nan")),
        "predictions[0].raw = {'derived_metrics': {'energy_per_inference_mj': 82.254629...: "
        "holds NaN or an infinity, which JSON cannot",
    ),
}


def _written(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _overflowing_energy(fixtures: Path, path: Path) -> Path:
    """Per inference 1e308 mJ at batch 4: each value passes, the whole-batch energy derived is infinite."""
    document = json.loads((fixtures / REPORT).read_text())
    document["metadata"]["batch_size"] = 4
    document["derived_metrics"].update(total_energy_mj=None, energy_per_inference_mj=1e308)
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("case", HOSTILE_VALUES)
def test_ingest_value_the_store_cannot_take_is_a_bad_file_before_anything_is_written(
    fixtures, db_path, tmp_path, capsys, case
):
    build, message = HOSTILE_VALUES[case]
    folder = tmp_path / "inputs"
    good = _good(fixtures, folder)
    bad = build(fixtures, folder / "bad.json")
    code, out, err = _ingest(capsys, str(good), str(bad), "--db", str(db_path))
    assert (code, err) == (1, f"parity ingest: bad file: {bad}: {message}\n")
    assert "stored 1 file(s): graphs-report 1" in out
    assert (_count(db_path, "predictions"), _count(db_path, "measurements")) == (1, 0)


def test_ingest_csv_field_beyond_the_csv_limit_is_a_bad_file(fixtures, db_path, tmp_path, capsys):
    good = _good(fixtures, tmp_path / "inputs")
    header = "model,hardware,batch_size,precision,latency_ms\n"
    (tmp_path / "big.csv").write_text(header + "x" * 200_000 + ",a,1,fp32,1\n")
    code, _, err = _ingest(capsys, str(good), str(tmp_path / "big.csv"), "--db", str(db_path))
    assert (code, err) == (
        1,
        f"parity ingest: bad file: {tmp_path / 'big.csv'}: CSV = 'line 2': "
        "cannot read (field larger than field limit (131072))\n",
    )
    assert _count(db_path, "predictions") == 1


def test_ingest_alma_batch_size_beyond_integer_is_a_bad_flag(fixtures, db_path, capsys):
    alma = fixtures / "alma/alma_resnet18_cpu_b4_n10.json"
    code, _, err = _ingest(
        capsys, str(alma), "--model", "resnet18", "--platform", "cpu", "--batch-size", str(2**31), "--db", str(db_path)
    )
    assert (code, err) == (1, f"parity ingest: bad file: {alma}: --batch-size = {2**31}: too large\n")


# -- the write lock and Ctrl-C --------------------------------------------------------------------

_PAUSED_INGEST = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from collectors.formats import _document
    from reporter.cli import main

    marker, go = Path(sys.argv[1]), Path(sys.argv[2])
    real_read = _document.Document.read.__func__

    def paused_read(cls, path):
        if not marker.exists():  # the first file: say so, then wait while the test looks at the lock
            marker.write_text("parsing")
            deadline = time.monotonic() + 60
            while not go.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return real_read(cls, path)

    _document.Document.read = classmethod(paused_read)
    sys.exit(main(["ingest", *sys.argv[3:]]))
""")


def test_ingest_parses_before_it_opens_the_database_for_writing(fixtures, db_path, tmp_path):
    Store.open(db_path).close()
    marker, go = tmp_path / "parsing", tmp_path / "go"
    command = [sys.executable, "-c", _PAUSED_INGEST, str(marker), str(go), str(fixtures / REPORT), "--db", str(db_path)]
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(marker, child)
        with Store.open(db_path) as store:  # another writer gets the database while the ingest parses
            store.execute("SELECT count(*) FROM runs")
    finally:
        go.write_text("go")
        out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert _count(db_path, "predictions") == 1


def _wait_for(marker: Path, child: subprocess.Popen) -> None:
    import time

    deadline = time.monotonic() + 60
    while not marker.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the ingest never started parsing"
        time.sleep(0.05)


def test_ingest_ctrl_c_after_the_commit_says_what_was_stored(fixtures, db_path, monkeypatch, capsys):
    real_close = Store.close

    def close_then_ctrl_c(store: Store) -> None:
        committed = store.execute("SELECT count(*) FROM sources").single_value()
        real_close(store)
        if committed:  # a real SIGINT, just as the database is being closed after the commit
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Store, "close", close_then_ctrl_c)
    code, _, err = _ingest(capsys, str(fixtures / REPORT), "--db", str(db_path))
    monkeypatch.undo()
    assert code == 130
    assert err.startswith(
        "parity ingest: interrupted; the write had committed: stored 1 file(s) "
        "(1 predictions, 0 measurements, 0 subgraph rows, run ingest-"
    )
    assert "nothing half-written" not in err and _count(db_path, "predictions") == 1
