"""reporter.ingest of files that carry their own run: a stand-in format, Parity bundles and their
samples, a killed bench's journal (an incomplete run its whole run replaces), names and times
normalised like every format, and an empty Alma flag."""

from __future__ import annotations

import json
import types
from dataclasses import replace

import pytest

import collectors.formats
from collectors.bundle import write_bundle
from collectors.formats import Document
from collectors.journal import Journal
from collectors.records import Records
from reporter.ingest import ingest
from reporter.store import Store
from tests.builders import BENCH_RUN, MEASURED_CELL, measurement, run_info, subgraph
from tests.conftest import db_rows, db_value

ORIN_30W = "jetson-orin-agx-64gb@30w"
REPORT = "graphs/predictions/resnet18__Jetson-Orin-AGX__fp32__b1.json"


# A stand-in for the bench engineer's Parity bundle format: a file that carries its own run.
def _bundle_records(doc: Document, context) -> Records:
    content = doc.json["fake_bundle"]
    run = run_info(content["run_id"], finished_at="2026-11-28T10:05:00", host="orin-7", platform=ORIN_30W)
    measured = measurement(platform=ORIN_30W, median=content["median"], samples=(content["median"],) * 3)
    return Records(measurements=[measured], run=run)


FAKE_BUNDLE = types.SimpleNamespace(
    NAME="fake-bundle", recognise=lambda doc: "fake_bundle" in (doc.json_object() or {}), to_records=_bundle_records
)


def test_ingest_file_carrying_its_run_stores_that_run_once(db_path, tmp_path, monkeypatch):
    monkeypatch.setattr(collectors.formats, "FORMATS", [FAKE_BUNDLE, *collectors.formats.FORMATS])
    (tmp_path / "a.json").write_text(json.dumps({"fake_bundle": {"run_id": "bench-orin-1", "median": 20.0}}))
    (tmp_path / "b.json").write_text(json.dumps({"fake_bundle": {"run_id": "bench-orin-1", "median": 99.0}}))
    with Store.open(db_path) as store:
        first = ingest(store, [tmp_path / "a.json"])
        second = ingest(store, [tmp_path / "b.json"])  # other content, same run: the run is stored already
    assert (first.stored_by_format, second.already_stored, second.run_id) == ({"fake-bundle": 1}, 1, None)
    assert db_rows(db_path, "SELECT run_id, kind, host FROM runs ORDER BY kind") == [
        ("bench-orin-1", "bench", "orin-7"),
        (first.run_id, "ingest", db_value(db_path, "SELECT host FROM runs WHERE kind = 'ingest'")),
    ]
    assert db_rows(db_path, "SELECT run_id, median FROM measurements") == [("bench-orin-1", 20.0)]
    assert db_rows(db_path, "SELECT run_id FROM sources") == [(first.run_id,)]
    assert db_value(db_path, "SELECT count(*) FROM samples") == 3


def test_ingest_parity_bundle_keeps_its_run_and_samples(db_path, tmp_path):
    run = run_info("bench-orin-2", host="orin-7", platform=ORIN_30W, environment={})
    measured = measurement(platform=ORIN_30W, median=20.5, samples=(20.5, 20.4, 20.6))
    bundle = write_bundle(run, [measured], tmp_path / "bundle.json")
    with Store.open(db_path) as store:
        first = ingest(store, [bundle])
        again = ingest(store, [bundle])
    assert (first.stored_by_format, again.already_stored) == ({"parity-bundle": 1}, 1)
    assert db_rows(db_path, "SELECT run_id, median FROM measurements") == [("bench-orin-2", 20.5)]
    assert db_value(db_path, "SELECT count(*) FROM samples") == 3


def test_ingest_a_journal_is_an_incomplete_run_that_its_whole_run_replaces(tmp_path, db_path):
    run = run_info("bench-killed", platform=ORIN_30W)
    cells = [
        [measurement(platform=ORIN_30W, batch_size=b, median=float(b), samples=(float(b),) * 3)] for b in (1, 2, 4)
    ]
    journal = Journal.create(tmp_path / "night.json.journal", run, out=tmp_path / "night.json")
    for cell in cells[:2]:
        journal.record(cell)
    journal.close()
    with open(journal.path, "ab") as handle:
        handle.write(b'{"measurements":[{"model":"resn')  # the cell being written when the power went
    whole = write_bundle(
        replace(run, finished_at="2026-11-28T11:00:00"), [m for c in cells for m in c], tmp_path / "night.json"
    )
    with Store.open(db_path) as store:
        first = ingest(store, [journal.path])
        assert (first.measurements, first.errors) == (2, [])
        assert store.execute("SELECT finished_at FROM runs WHERE run_id = 'bench-killed'").single_value() is None
        second = ingest(store, [whole])
        assert (second.measurements, second.warnings) == (3, [])
        assert store.execute("SELECT count(*), count(DISTINCT measurement_id) FROM measurements").first() == (3, 3)
        assert store.execute("SELECT count(*) FROM samples").single_value() == 9
        assert store.execute("SELECT finished_at IS NOT NULL FROM runs WHERE run_id = 'bench-killed'").rows == [(True,)]


def _journal(path, run, cells, subgraphs=()):
    """A killed bench's journal at `path`: `run`'s head, then one line per cell (the first cell's
    line with `subgraphs`)."""
    journal = Journal.create(path, run)
    for index, cell in enumerate(cells):
        journal.record(cell, subgraphs if index == 0 else ())
    journal.close()
    return journal.path


def _bundle(path, run, cells, subgraphs=()):
    return write_bundle(run, [m for cell in cells for m in cell], path, subgraphs=list(subgraphs))


@pytest.mark.parametrize("write", [_bundle, _journal])
def test_ingest_carried_run_names_and_times_are_normalised_like_every_format(db_path, tmp_path, write):
    run = run_info("bench-raw", platform="NVIDIA H200", started_at="2026-11-28T02:00:00-08:00")
    raw = measurement(
        platform="NVIDIA H200", precision="FP32 ", model="ResNet-18", measured_at="2026-11-28T02:30:00-08:00"
    )
    with Store.open(db_path) as store:
        assert not ingest(store, [write(tmp_path / "run.json", run, [[raw]])]).errors
    assert db_rows(db_path, "SELECT model, platform, precision, measured_at::VARCHAR FROM measurements") == [
        ("resnet18", "nvidia-h200", "fp32", "2026-11-28 10:30:00")
    ]
    assert db_rows(db_path, "SELECT platform, started_at::VARCHAR FROM runs WHERE run_id = 'bench-raw'") == [
        ("nvidia-h200", "2026-11-28 10:00:00")
    ]


@pytest.mark.parametrize(("write", "where"), [(_bundle, "measurements[1]"), (_journal, "line 3.measurements[0]")])
def test_ingest_carried_run_names_a_bad_name_where_the_file_has_it(db_path, tmp_path, write, where):
    cells = [[measurement()], [measurement(batch_size=2, precision="fp7")]]
    path = write(tmp_path / "run.json", run_info("bench-s"), cells)
    with Store.open(db_path) as store:
        (error,) = ingest(store, [path]).errors
    assert str(error).startswith(f"{path}: {where}.precision = 'fp7': unknown precision")


@pytest.mark.parametrize(("write", "where"), [(_bundle, "subgraphs[0]"), (_journal, "line 2.subgraphs[0]")])
def test_ingest_carried_run_refuses_a_subgraph_of_another_run(db_path, tmp_path, write, where):
    layer = subgraph(side="measured", method="device-busy", run_id="other-run")
    path = write(tmp_path / "run.json", run_info("bench-s"), [[measurement()]], [layer])
    with Store.open(db_path) as store:
        (error,) = ingest(store, [path]).errors
    assert str(error) == f"{path}: {where}.run_id = 'other-run': not this file's run (bench-s)"


def test_ingest_carried_run_gives_its_subgraphs_its_run_id(db_path, tmp_path):
    layer = subgraph(side="measured", method="device-busy", run_id=None)
    path = _journal(tmp_path / "run.json.journal", run_info("bench-s"), [[measurement()]], [layer])
    with Store.open(db_path) as store:
        assert not ingest(store, [path]).errors
        assert store.remove_unfinished_run("bench-s")  # a whole run replacing it removes its rows
    assert db_value(db_path, "SELECT count(*) FROM subgraphs") == 0


@pytest.mark.parametrize("flag", ["--model", "--platform"])
def test_ingest_alma_empty_flag_is_a_bad_file(fixtures, db_path, capsys, flag):
    from reporter.cli import main

    given = {"--model": "resnet18", "--platform": "intel-i7-12700k", flag: ""}
    alma = fixtures / "alma/alma_resnet18_cpu_b4_n10.json"
    assert (
        main(
            [
                "ingest",
                str(alma),
                "--batch-size",
                "4",
                "--db",
                str(db_path),
                *[a for item in given.items() for a in item],
            ]
        )
        == 1
    )
    assert capsys.readouterr().err == (
        f"parity ingest: bad file: {alma}: {flag} = '': Alma results name no model, "
        "platform or batch size: give all three\n"
    )


def test_ingest_bundle_subgraph_with_an_unknown_method_is_refused_naming_the_field(db_path, tmp_path):
    layer = subgraph(side="measured", method="guess", run_id=BENCH_RUN.run_id)
    path = write_bundle(BENCH_RUN, [MEASURED_CELL], tmp_path / "run.json", subgraphs=[layer])
    with Store.open(db_path) as store:
        (error,) = ingest(store, [path]).errors
    assert str(error) == f"{path}: subgraphs[0].method = 'guess': not one of the allowed values"


def test_ingest_journal_with_a_median_outside_its_own_ci_is_refused_in_one_line(tmp_path, db_path, capsys):
    from reporter.cli import main

    journal = Journal.create(tmp_path / "night.json.journal", run_info("bench-killed"))
    journal.record([measurement(median=5.0, ci95_low=6.0, ci95_high=7.0)])
    journal.close()
    assert main(["ingest", str(journal.path), "--db", str(db_path)]) == 1
    assert capsys.readouterr().err == (
        f"parity ingest: bad file: {journal.path}: measurements[0].median = 5.0: outside its own 95 % CI [6.0, 7.0]\n"
    )
