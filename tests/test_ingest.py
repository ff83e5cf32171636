"""reporter.ingest on real graphs and Alma files into real DuckDB files: comparisons, idempotence,
runs, bad files, --strict, manifests and platform maps (files that carry their own run:
tests/test_ingest_runs.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from collectors.names import Names
from reporter.ingest import ingest
from reporter.store import Store
from tests.conftest import db_rows, db_value

ORIN_30W = "jetson-orin-agx-64gb@30w"
REPORT = "graphs/predictions/resnet18__Jetson-Orin-AGX__fp32__b1.json"


@pytest.fixture(scope="module")
def graphs_db(fixtures, tmp_path_factory) -> Path:
    """All real predictions and calibration measurements, ingested once."""
    path = tmp_path_factory.mktemp("graphs") / "parity.duckdb"
    with Store.open(path) as store:
        report = ingest(store, [fixtures / "graphs/predictions", fixtures / "graphs/calibration"])
    assert not report.errors
    return path


def test_ingest_comparison_resnet18_orin_30w(graphs_db):
    (row,) = db_rows(
        graphs_db,
        """
        SELECT predicted_ms, measured_ms, measured_platform, method, conversion FROM comparisons
        WHERE model = 'resnet18' AND platform = ? AND precision = 'fp32' AND batch_size = 1""",
        [ORIN_30W],
    )
    assert row[0] == pytest.approx(8.242, abs=5e-4)
    assert row[1] == pytest.approx(21.193, abs=5e-4)
    assert row[2:] == (ORIN_30W, "layerwise-sum", "EAGER")


def test_ingest_every_prediction_with_a_measurement_is_compared(graphs_db):
    expected = db_value(
        graphs_db,
        """
        SELECT count(*) FROM predictions p WHERE EXISTS (
            SELECT 1 FROM measurements m WHERE m.model = p.model AND m.platform = p.platform
               AND m.precision = p.precision AND m.batch_size = p.batch_size AND m.status = 'ok')""",
    )
    assert expected == 15 + 15 + 30  # Orin fp32 and fp16 at batch 1, every i7-12700K prediction
    assert db_value(graphs_db, "SELECT count(*) FROM comparisons") == expected


def test_ingest_50w_measurements_stay_unmatched(graphs_db):
    assert db_value(graphs_db, "SELECT count(*) FROM measurements WHERE platform = 'jetson-orin-agx-64gb@50w'") == 45
    assert db_value(graphs_db, "SELECT count(*) FROM comparisons WHERE measured_platform LIKE '%@50w'") == 0


def test_ingest_h100_predictions_stay_unmatched(graphs_db):
    assert db_value(graphs_db, "SELECT count(*) FROM predictions WHERE platform = 'h100-sxm5-80gb'") == 25
    assert db_value(graphs_db, "SELECT count(*) FROM comparisons WHERE platform = 'h100-sxm5-80gb'") == 0


def test_ingest_orin_30w_fp32_error_is_about_56_percent(graphs_db):
    count, median_ape, within_30 = db_rows(
        graphs_db,
        """
        SELECT count(*), median(abs_error_pct), count(*) FILTER (abs_error_pct <= 30) FROM comparisons
        WHERE platform = ? AND precision = 'fp32' AND batch_size = 1""",
        [ORIN_30W],
    )[0]
    assert (count, within_30) == (15, 0)
    assert median_ape == pytest.approx(56.4, abs=0.1)


def test_ingest_one_run_owns_sources_and_measurements(graphs_db):
    ((run_id, kind, host, finished),) = db_rows(graphs_db, "SELECT run_id, kind, host, finished_at FROM runs")
    assert run_id.startswith("ingest-") and kind == "ingest" and host and finished
    assert db_rows(graphs_db, "SELECT DISTINCT run_id FROM sources") == [(run_id,)]
    assert db_rows(graphs_db, "SELECT DISTINCT run_id FROM measurements") == [(run_id,)]
    assert db_rows(graphs_db, "SELECT format, count(*) FROM sources GROUP BY ALL ORDER BY ALL") == [
        ("graphs-calibration", 175),
        ("graphs-calibration-manifest", 3),
        ("graphs-report", 85),
    ]


def test_ingest_same_content_twice_is_stored_once(fixtures, db_path, tmp_path):
    renamed = tmp_path / "copy" / "another_name.json"
    renamed.parent.mkdir()
    shutil.copy(fixtures / REPORT, renamed)
    with Store.open(db_path) as store:
        first = ingest(store, [fixtures / REPORT, renamed])
        second = ingest(store, [fixtures / REPORT])
    assert (sum(first.stored_by_format.values()), first.duplicates) == (1, 1)
    assert (second.run_id, second.already_stored, sum(second.stored_by_format.values())) == (None, 1, 0)
    assert db_value(db_path, "SELECT count(*) FROM predictions") == 1
    assert db_value(db_path, "SELECT count(*) FROM runs") == 1  # nothing new: no empty ingest run


def test_ingest_folder_with_one_bad_file_stores_the_good_ones(fixtures, db_path, tmp_path):
    folder = _folder_with_bad_file(fixtures, tmp_path)
    with Store.open(db_path) as store:
        report = ingest(store, [folder])
    assert [str(error) for error in report.errors] == [f"{folder / 'b_broken.json'}: content = '': empty file"]
    assert report.stored_by_format == {"graphs-report": 2}
    assert db_value(db_path, "SELECT count(*) FROM predictions") == 2


def test_ingest_strict_with_one_bad_file_stores_nothing(fixtures, db_path, tmp_path):
    folder = _folder_with_bad_file(fixtures, tmp_path)
    with Store.open(db_path) as store:
        report = ingest(store, [folder], strict=True)
    assert report.refused and len(report.errors) == 1
    for table in ("runs", "sources", "predictions"):
        assert db_value(db_path, f"SELECT count(*) FROM {table}") == 0


def _folder_with_bad_file(fixtures: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(fixtures / REPORT, folder / "a.json")
    (folder / "b_broken.json").write_text("")
    shutil.copy(fixtures / "graphs/predictions/resnet50__Jetson-Orin-AGX__fp32__b1.json", folder / "c.json")
    return folder


def test_ingest_skips_hidden_files_and_folders(fixtures, db_path, tmp_path):
    folder = tmp_path / "inputs"
    (folder / ".cache").mkdir(parents=True)
    (folder / ".cache" / "junk.json").write_text("{broken")
    (folder / ".hidden.json").write_text("{broken")
    shutil.copy(fixtures / REPORT, folder / "report.json")
    with Store.open(db_path) as store:
        report = ingest(store, [folder])
    assert (report.errors, report.stored_by_format) == ([], {"graphs-report": 1})


def test_ingest_skips_its_own_database_file(fixtures, tmp_path):
    shutil.copy(fixtures / REPORT, tmp_path / "report.json")
    with Store.open(tmp_path / "parity.duckdb") as store:
        ingest(store, [tmp_path / "report.json"])  # the database file (and its WAL) now sit beside it
        report = ingest(store, [tmp_path])
    assert (report.errors, report.already_stored) == ([], 1)


def test_ingest_missing_path_is_a_bad_input(db_path, tmp_path):
    with Store.open(db_path) as store:
        report = ingest(store, [tmp_path / "absent"])
    [error] = report.errors
    assert (error.path, error.field, error.value, error.reason) == (
        str(tmp_path / "absent"),
        "path",
        str(tmp_path / "absent"),
        "no such file or directory",
    )


def test_ingest_manifest_with_its_folder_stores_each_file_once(fixtures, db_path):
    folder = fixtures / "graphs/calibration/jetson_orin_agx_30w"
    with Store.open(db_path) as store:
        report = ingest(store, [folder / "manifest.json", folder])
    assert report.stored_by_format == {"graphs-calibration-manifest": 1, "graphs-calibration": 45}
    assert (report.measurements, report.duplicates, report.already_stored) == (45, 0, 0)


def test_ingest_stored_manifest_still_brings_in_files_that_were_bad(fixtures, db_path, tmp_path):
    folder = tmp_path / "calibration"
    shutil.copytree(fixtures / "graphs/calibration/jetson_orin_agx_30w", folder)
    listed = folder / "measurements/fp32/resnet18_b1.json"
    good = listed.read_bytes()
    listed.write_text("")
    with Store.open(db_path) as store:
        first = ingest(store, [folder / "manifest.json"])
        listed.write_bytes(good)  # the user fixes the file and runs the same command again
        second = ingest(store, [folder / "manifest.json"])
    assert [e.field for e in first.errors] == ["content"] and first.measurements == 44
    assert (second.errors, second.already_stored, second.measurements) == ([], 45, 1)


def test_ingest_alma_results_with_flags(fixtures, db_path):
    with Store.open(db_path) as store:
        ingest(
            store,
            [fixtures / "alma/alma_resnet18_cpu_b4_n10.json"],
            model="ResNet-18",
            platform="i7-12700K",
            batch_size=4,
        )
    rows = db_rows(
        db_path,
        """SELECT conversion, model, platform, batch_size, method, median, n_iterations
                             FROM measurements ORDER BY conversion""",
    )
    assert [row[0] for row in rows] == ["EAGER", "JIT_TRACE", "TORCH_SCRIPT"]
    assert rows[0][1:5] == ("resnet18", "intel-i7-12700k", 4, "alma")
    assert rows[0][5] == pytest.approx(0.97496111 * 1000 / 3)
    assert rows[0][6] == 3


def test_ingest_unknown_model_is_kept_as_given(fixtures, db_path, tmp_path):
    document = json.loads((fixtures / REPORT).read_text())
    document["metadata"]["model"] = "MyNet-7"
    (tmp_path / "mine.json").write_text(json.dumps(document))
    with Store.open(db_path) as store:
        ingest(store, [tmp_path / "mine.json"])
    assert db_rows(db_path, "SELECT model FROM predictions") == [("MyNet-7",)]


def test_ingest_platform_map_adds_aliases_and_declared_proxies(fixtures, db_path, tmp_path):
    platform_map = tmp_path / "map.json"
    platform_map.write_text(
        json.dumps({"aliases": {"lab-box-3": "nvidia-h200"}, "proxies": {"nvidia-h200": "h100-sxm5-80gb"}})
    )
    alma = tmp_path / "alma.json"  # one batch of one sample, measured on the lab box
    alma.write_text(
        json.dumps(
            {
                "EAGER": {
                    "device": "cuda",
                    "total_inf_time": 0.002,
                    "total_samples": 1,
                    "batch_size": 1,
                    "throughput": 500.0,
                    "status": "success",
                }
            }
        )
    )
    with Store.open(db_path) as store:
        ingest(
            store,
            [fixtures / "graphs/predictions/resnet18__H100__fp32__b1.json", alma],
            names=Names.load(platform_map),
            model="resnet18",
            platform="lab-box-3",
            batch_size=1,
        )
    assert db_rows(db_path, "SELECT * FROM proxies") == [("nvidia-h200", "h100-sxm5-80gb")]
    # Alma's own figures are stored under the alias's platform, and never scored: the pairing macro
    # leaves them out (a proxy's pairing of scored figures: tests/test_report_proxies.py).
    assert db_rows(db_path, "SELECT DISTINCT platform, method FROM measurements") == [("nvidia-h200", "alma")]
    assert db_rows(db_path, "SELECT count(*) FROM pair_quantities(predictions, latest)") == [(0,)]


def test_ingest_failure_while_writing_leaves_the_database_as_it_was(fixtures, db_path, monkeypatch):
    with Store.open(db_path) as store:
        ingest(store, [fixtures / REPORT])
        monkeypatch.setattr(store, "add_measurements", _disk_full)
        with pytest.raises(RuntimeError):
            ingest(store, [fixtures / "graphs/calibration/jetson_orin_agx_30w"])
    assert db_value(db_path, "SELECT count(*) FROM sources") == 1
    assert db_value(db_path, "SELECT count(*) FROM subgraphs") == 0
    assert db_value(db_path, "SELECT count(*) FROM runs") == 1


def _disk_full(*args, **kwargs):
    raise RuntimeError("disk full")
