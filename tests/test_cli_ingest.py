"""`parity ingest` as a user runs it: output, exit codes, one-line errors, --strict, --debug, and a
real process killed in the middle of its write."""

from __future__ import annotations

import copy
import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reporter.cli import main
from reporter.store import Store

REPO = Path(__file__).resolve().parent.parent
REPORT = "graphs/predictions/resnet18__Jetson-Orin-AGX__fp32__b1.json"


def _count(db: Path, table: str) -> int:
    with Store.open(db, read_only=True) as store:
        return store.execute(f"SELECT count(*) FROM {table}").single_value()


def test_cli_ingest_prints_a_summary_then_says_already_stored(fixtures, db_path, capsys):
    folder = fixtures / "graphs/predictions"
    assert main(["ingest", str(folder), "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(
        r"stored 85 file\(s\): graphs-report 85\n"
        r"  rows: 85 predictions, 0 measurements, 0 subgraph rows \(run ingest-\d{8}T\d{6}Z-[0-9a-f]{8}\)\n",
        out,
    ), out
    assert main(["ingest", str(folder), "--db", str(db_path)]) == 0
    assert capsys.readouterr().out == "stored 0 file(s)\nalready stored: 85 file(s)\n"
    assert _count(db_path, "predictions") == 85


def test_cli_ingest_lists_each_bad_file_on_one_line_and_stores_the_good(fixtures, db_path, tmp_path, capsys):
    shutil.copy(fixtures / REPORT, tmp_path / "good.json")
    (tmp_path / "truncated.json").write_text('{"metadata": {"model": ')
    code = main(["ingest", str(tmp_path / "good.json"), str(tmp_path / "truncated.json"), "--db", str(db_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == (
        f"parity ingest: bad file: {tmp_path / 'truncated.json'}: JSON = 'line 1 column 23': "
        "truncated or invalid JSON (EOF while parsing a value)\n"
    )
    assert captured.out.splitlines()[0] == "stored 1 file(s): graphs-report 1"
    assert captured.out.splitlines()[-1] == "bad files: 1 (listed on stderr)"
    assert _count(db_path, "predictions") == 1


def test_cli_ingest_strict_stores_nothing(fixtures, db_path, tmp_path, capsys):
    shutil.copy(fixtures / REPORT, tmp_path / "good.json")
    (tmp_path / "bad.json").write_text(
        (fixtures / REPORT).read_text().replace('"latency_ms": 8.242332550179507', '"latency_ms": -1')
    )
    code = main(["ingest", str(tmp_path), "--db", str(db_path), "--strict"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == (
        f"parity ingest: bad file: {tmp_path / 'bad.json'}: derived_metrics.latency_ms = -1: "
        "expected a positive number\n"
    )
    assert captured.out == "nothing stored: 1 bad file(s) in strict mode\n"
    assert _count(db_path, "runs") == _count(db_path, "predictions") == 0


def test_cli_ingest_alma_needs_model_platform_and_batch_size(fixtures, db_path, capsys):
    alma = fixtures / "alma/alma_resnet18_cpu_b4_n10.json"
    assert main(["ingest", str(alma), "--db", str(db_path)]) == 1
    assert capsys.readouterr().err == (
        f"parity ingest: bad file: {alma}: --model = None: Alma results name no model, platform or batch size: "
        "give all three (pass --model M --platform P --batch-size N)\n"
    )
    assert (
        main(
            [
                "ingest",
                str(alma),
                "--db",
                str(db_path),
                "--model",
                "resnet18",
                "--platform",
                "intel-i7-12700k",
                "--batch-size",
                "4",
            ]
        )
        == 0
    )
    assert "stored 1 file(s): alma-results 1" in capsys.readouterr().out
    with Store.open(db_path, read_only=True) as store:
        eager = store.execute("SELECT median FROM measurements WHERE conversion = 'EAGER'").single_value()
    assert eager == pytest.approx(974.9611100000948 / 3)


def test_cli_ingest_unreadable_platform_map_is_one_line_or_a_traceback_with_debug(fixtures, db_path, tmp_path, capsys):
    platform_map = tmp_path / "map.json"
    platform_map.write_text('{"proxies": ["h200"]}')
    arguments = ["ingest", str(fixtures / REPORT), "--db", str(db_path), "--platform-map", str(platform_map)]
    assert main(arguments) == 2
    assert capsys.readouterr().err == (
        f"parity ingest: error: {platform_map}: proxies = ['h200']: expected an object of name: name\n"
    )
    with pytest.raises(ValueError):
        main(["--debug", *arguments])


def _large_folder(fixtures: Path, folder: Path) -> Path:
    """500 verdict files (enough to show progress), 200 of them with 300 subgraph rows each, so
    that writing takes long enough to be killed in the middle."""
    verdict = json.loads((fixtures / "graphs/verdict/resnet18_orin_verdict.json").read_text())
    subgraph = verdict["subgraphs"][0]
    folder.mkdir()
    for index in range(500):
        document = copy.copy(verdict)
        document["latency_ms"] = 1.0 + index
        document["subgraphs"] = [dict(subgraph, subgraph_id=f"sg_{j}") for j in range(300 if index < 200 else 1)]
        (folder / f"verdict_{index:03d}.json").write_text(json.dumps(document))
    return folder


def test_cli_ingest_killed_while_writing_leaves_the_previous_content(fixtures, db_path, tmp_path):
    assert main(["ingest", str(fixtures / REPORT), "--db", str(db_path)]) == 0
    folder = _large_folder(fixtures, tmp_path / "large")
    process = subprocess.Popen(
        [sys.executable, "-m", "reporter.cli", "ingest", str(folder), "--db", str(db_path)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stderr:  # parsing is over and the one transaction has begun
            if line.startswith("writing 500 new file(s)"):
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    for table, rows in (("runs", 1), ("sources", 1), ("predictions", 1), ("subgraphs", 0)):
        assert _count(db_path, table) == rows, table
