"""The store: schema, migrations, transactions and the read-only query path, on real DuckDB files."""

from __future__ import annotations

import json

import duckdb
import pytest

from reporter.schema import MIGRATIONS
from reporter.store import Store, StoreError
from tests.builders import measurement, prediction, run_info

RUN = run_info()


def test_store_new_file_has_every_contract_table(db_path):
    with Store.open(db_path) as store:
        names = {row[0] for row in store.execute("SELECT table_name FROM information_schema.tables").rows}
        assert {
            "runs",
            "sources",
            "predictions",
            "measurements",
            "samples",
            "schema_version",
            "comparisons",
            "speedups",
            "latest",
            "subgraphs",
        } <= names
        assert store.schema_version() == MIGRATIONS[-1][0]


def test_store_old_file_is_migrated_forward_keeping_its_rows(db_path):
    old = duckdb.connect(str(db_path))
    old.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    MIGRATIONS[0][2](old)  # a file written by the first release: tables, no views
    old.execute("INSERT INTO schema_version VALUES (1, 'tables', now())")
    old.execute("INSERT INTO runs (run_id, kind, started_at) VALUES ('old-run', 'ingest', now())")
    old.close()
    with Store.open(db_path) as store:
        assert store.schema_version() == MIGRATIONS[-1][0]
        assert store.execute("SELECT run_id FROM runs").rows == [("old-run",)]
        assert store.execute("SELECT count(*) FROM comparisons").single_value() == 0


def test_store_failed_transaction_leaves_nothing(db_path):
    with Store.open(db_path) as store:
        with pytest.raises(RuntimeError), store.atomic():
            store.add_run(RUN)
            store.add_measurements([measurement(median=2.0, samples=(2.0, 2.1))], RUN.run_id, None)
            raise RuntimeError("killed half-way")
        assert store.execute("SELECT count(*) FROM runs").single_value() == 0
        assert store.execute("SELECT count(*) FROM measurements").single_value() == 0
        assert store.execute("SELECT count(*) FROM samples").single_value() == 0


def test_store_measurements_keep_samples_and_speedups(db_path):
    with Store.open(db_path) as store, store.atomic():
        store.add_run(RUN)
        ids = store.add_measurements(
            [
                measurement(median=4.0, samples=(4.0, 4.2, 3.9)),
                measurement(conversion="COMPILE_CUDAGRAPHS", median=1.0),
            ],
            RUN.run_id,
            None,
        )
    with Store.open(db_path) as store:
        assert store.execute(
            "SELECT latency_ms FROM samples WHERE measurement_id = ? ORDER BY iteration", [ids[0]]
        ).rows == [(4.0,), (4.2,), (3.9,)]
        speedup = store.execute("SELECT speedup FROM speedups WHERE conversion = 'COMPILE_CUDAGRAPHS'").single_value()
        assert speedup == pytest.approx(4.0)
        assert json.loads(store.execute("SELECT environment FROM runs").single_value()) == {"torch": "2.11"}


def test_store_comparisons_match_power_mode_and_declared_proxies(db_path):
    predicted = prediction(platform="h100-sxm5-80gb", latency_ms=2.0, predictor_version=None, predicted_at=None)
    with Store.open(db_path) as store, store.atomic():
        store.add_run(RUN)
        store.add_predictions([predicted], "src-1")
        store.add_measurements([measurement(median=4.0)], RUN.run_id, None)
        assert store.execute("SELECT count(*) FROM comparisons").single_value() == 0
        store.add_proxies({"nvidia-h200": "h100-sxm5-80gb"})
        row = store.execute("SELECT is_proxy, ratio, signed_error_pct, abs_error_pct FROM comparisons").dicts()
        assert row == [{"is_proxy": True, "ratio": 0.5, "signed_error_pct": -50.0, "abs_error_pct": 50.0}]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM runs",
        "INSERT INTO runs (run_id, kind, started_at) VALUES ('x', 'y', now())",
        "DROP TABLE runs",
        "CREATE TABLE t AS SELECT 1",
        "SELECT 1; DELETE FROM runs",
        "COPY runs TO '{tmp}/leak.csv'",
        "ATTACH '{tmp}/other.duckdb'",
        "EXPLAIN ANALYZE COPY runs TO '{tmp}/leak.csv'",  # EXPLAIN ANALYZE runs what it explains
        "EXPLAIN (ANALYZE) COPY runs TO '{tmp}/leak.csv'",
        "EXPLAIN ANALYSE DELETE FROM runs",
        "EXPLAIN (ANALYZE) DELETE FROM runs",
        "PRAGMA import_database('{tmp}/dump')",  # runs the COPY statements of the folder's load.sql
    ],
)
def test_store_query_refuses_writes(db_path, tmp_path, sql):
    """Refused by read_sql before DuckDB sees them: the read-only connection or a missing file
    would refuse most of them too, with another message."""
    with Store.open(db_path) as store, store.atomic():
        store.add_run(RUN)
    (tmp_path / "dump").mkdir()
    (tmp_path / "dump" / "schema.sql").write_text("")
    (tmp_path / "dump" / "load.sql").write_text(f"COPY (SELECT 42) TO '{tmp_path / 'leak.csv'}';\n")
    refused = r"^parity query (is read-only: .* statement is refused|takes exactly one statement, got 2)$"
    with Store.open(db_path, read_only=True) as store, pytest.raises(StoreError, match=refused):
        store.query_readonly(sql.format(tmp=tmp_path))
    with Store.open(db_path) as store:
        assert store.execute("SELECT count(*) FROM runs").single_value() == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([db_path.name, "dump"])


def test_store_query_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no database here"):
        Store.open(tmp_path / "absent.duckdb", read_only=True)


def test_store_read_only_open_of_a_current_file_never_connects_for_writing(db_path, monkeypatch):
    with Store.open(db_path) as store, store.atomic():
        store.add_run(RUN)
    modes, connect = [], duckdb.connect

    def recording_connect(path, read_only=False, **kwargs):
        modes.append(read_only)
        return connect(path, read_only=read_only, **kwargs)

    monkeypatch.setattr(duckdb, "connect", recording_connect)
    with Store.open(db_path, read_only=True) as store:
        assert store.execute("SELECT run_id FROM runs").rows == [("run-1",)]
    assert modes == [True]  # a read-write open would take the file's write lock from other readers


def test_store_every_quantity_is_compared_with_its_measured_figure(fixtures, db_path):
    from reporter.ingest import ingest

    path = fixtures / "graphs/predictions/resnet50__H100__fp32__b32.json"
    document = json.loads(path.read_text())
    energy, memory = document["derived_metrics"]["total_energy_mj"], document["derived_metrics"]["peak_memory_mb"]
    latency = document["derived_metrics"]["latency_ms"]
    measured = measurement(
        model="resnet50", platform="h100-sxm5-80gb", batch_size=32, median=5.0, energy_mj=2863.0, peak_memory_mb=400.0
    )
    with Store.open(db_path) as store:
        ingest(store, [path])
        store.add_measurements(
            [
                measured,
                measurement(model="resnet50", platform="h100-sxm5-80gb", batch_size=32, method="alma", median=1.0),
            ],
            RUN.run_id,
            None,
        )
        rows = store.execute("""SELECT quantity, unit, predicted, measured, ratio, signed_error_pct, abs_error_pct
                                FROM current_quantity_comparisons ORDER BY quantity""").rows
        latencies = store.execute("SELECT predicted_ms, measured_ms FROM current_comparisons").rows

    def scored(quantity: str, unit: str, predicted: float, measured: float) -> tuple:
        # The figures written out by hand: ratio, signed and absolute percentage error.
        error = (predicted - measured) / measured * 100
        return (quantity, unit, predicted, measured, predicted / measured, error, abs(error))

    assert rows == [  # Alma's own loop is never scored
        scored("energy", "mJ per batch", energy, 2863.0),
        scored("latency", "ms per batch", latency, 5.0),
        scored("memory", "MB peak", memory, 400.0),
    ]
    assert latencies == [(latency, 5.0)]


def test_store_operation_errors_agree_with_the_raw_jetson_files(fixtures, db_path):
    """The error by operation type on the Orin at 30 W, fp32, batch 1 (graphs' calibration against
    graphs' per-subgraph predictions) against a sum written from the raw calibration JSON and the
    subgraph CSV files, joined by subgraph id."""
    import csv
    from collections import defaultdict

    from reporter.ingest import ingest

    calibration = fixtures / "graphs/calibration/jetson_orin_agx_30w/measurements/fp32"
    files = [
        calibration / "resnet18_b1.json",
        calibration / "resnet50_b1.json",
        fixtures / "graphs/csv/resnet18_orin_sg.csv",
        fixtures / "graphs/csv/resnet50_orin_sg.csv",
    ]
    predicted, expected = {}, defaultdict(lambda: [0.0, 0.0, 0])
    for path in files[2:]:
        for row in csv.DictReader(path.open()):
            predicted[(row["model"].lower().replace("-", ""), row["subgraph_id"])] = float(row["latency_ms"])
    for path in files[:2]:
        document = json.loads(path.read_text())
        for subgraph in document["subgraphs"]:
            key = (document["model"].lower().replace("-", "").replace("_", ""), str(subgraph["subgraph_id"]))
            if key in predicted:
                sums = expected[subgraph["operation_type"]]
                sums[0] += predicted[key]
                sums[1] += subgraph["measured_latency"]["mean"]
                sums[2] += 1
    with Store.open(db_path) as store:
        assert not ingest(store, files).errors
        rows = store.execute("""SELECT operation_type, predicted_ms, measured_ms, subgraphs, missing_ms,
                                       share_of_missing
                                FROM operation_errors WHERE platform = 'jetson-orin-agx-64gb@30w'
                                AND precision = 'fp32' AND measured_by = 'graphs calibration'""").rows
    assert sorted(row[0] for row in rows) == sorted(expected) and len(rows) == 3
    for kind, predicted_ms, measured_ms, subgraphs, _, _ in rows:
        assert (predicted_ms, measured_ms, subgraphs) == pytest.approx(tuple(expected[kind]))
    missing = {row[0]: max(row[4], 0) for row in rows}
    assert {row[0]: row[5] for row in rows} == pytest.approx({k: v / sum(missing.values()) for k, v in missing.items()})


def test_store_subgraph_pairs_match_parity_layers_by_node_names_then_by_operation_type(db_path):
    from tests.builders import subgraph

    layer = dict(
        side="measured", method="device-busy", conversion="EAGER", run_id="run-1", ops="Conv2d", flops=None, bytes=None
    )
    orin = dict(platform="jetson-orin-agx-64gb@30w")
    with Store.open(db_path) as store, store.atomic():
        store.add_subgraphs(
            [subgraph(**orin, subgraph_id="0", ops="conv2d+batchnorm+relu", latency_ms=0.4, operation_type="conv2d")],
            "verdict",
        )
        store.add_subgraphs(
            [
                subgraph(
                    **orin,
                    side="measured",
                    subgraph_id="0",
                    ops="Conv2d_BatchNorm2d_ReLU",
                    operation_type="conv2d_batchnorm",
                    node_names=("conv1", "bn1", "relu"),
                    latency_ms=1.2,
                )
            ],
            "calibration",
        )
        store.add_subgraphs(
            [
                subgraph(**orin, **layer, subgraph_id=path, node_names=(path,), latency_ms=ms, operation_type=kind)
                for path, ms, kind in (
                    ("conv1", 0.5, "conv2d"),
                    ("bn1", 0.2, "batchnorm"),
                    ("relu", 0.1, "relu"),
                    ("fc", 0.3, "linear"),
                )
            ],
            None,
        )
        # An H200 cell with layers but no calibration: matched by operation type only.
        store.add_subgraphs(
            [
                subgraph(
                    subgraph_id="0",
                    ops="conv2d+batchnorm+relu",
                    operation_type="conv2d",
                    latency_ms=0.05,
                    model="resnet50",
                )
            ],
            "verdict-h200",
        )
        store.add_subgraphs(
            [
                subgraph(
                    **layer,
                    model="resnet50",
                    subgraph_id="conv1",
                    node_names=("conv1",),
                    operation_type="conv2d",
                    latency_ms=0.08,
                )
            ],
            None,
        )
        rows = store.execute("""SELECT model, subgraph_id, operation_type, predicted_ms, measured_ms, measured_by,
                                       matched_by FROM subgraph_pairs ORDER BY ALL""").rows
    assert rows == [
        ("resnet18", "0", "conv2d_batchnorm", 0.4, pytest.approx(0.8), "parity layers", "node names"),
        ("resnet18", "0", "conv2d_batchnorm", 0.4, 1.2, "graphs calibration", "subgraph id"),
        ("resnet50", None, "conv2d", 0.05, 0.08, "parity layers", "operation type"),
    ]
