"""The DuckDB schema's tables, as forward-only migrations (the views are in reporter.views).

Each migration is a named function registered in order; `Store` runs the missing ones in the
same transaction as the `schema_version` row that records them, then re-creates the views, so an
old file keeps working.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: list[tuple[int, str, Migration]] = []

# A run stored unfinished (`runs` without `finished_at`): a killed bench's journal, ingested. Only a
# bench run is ever stored so; its whole run, stored later under the same id, replaces it.
UNFINISHED_RUN = "finished_at IS NULL"


def migration(version: int, name: str) -> Callable[[Migration], Migration]:
    def register(function: Migration) -> Migration:
        MIGRATIONS.append((version, name, function))
        return function

    return register


@migration(1, "tables")
def _tables(db: duckdb.DuckDBPyConnection) -> None:
    db.execute("""
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP, host VARCHAR, platform VARCHAR, label VARCHAR, git_sha VARCHAR,
            environment JSON)""")
    db.execute("""
        CREATE TABLE sources (
            source_id VARCHAR PRIMARY KEY, path VARCHAR NOT NULL, format VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL)""")
    db.execute("""
        CREATE TABLE predictions (
            model VARCHAR NOT NULL, platform VARCHAR NOT NULL, precision VARCHAR NOT NULL,
            batch_size INTEGER NOT NULL, latency_ms DOUBLE NOT NULL, throughput_fps DOUBLE,
            energy_mj DOUBLE, energy_per_inference_mj DOUBLE, peak_memory_mb DOUBLE,
            predictor VARCHAR, predictor_version VARCHAR, predicted_at TIMESTAMP,
            source_id VARCHAR NOT NULL, raw JSON)""")
    # No key constraints on the two big tables: DuckDB's bulk paths stay fast without indexes,
    # and uniqueness is guaranteed one level up (a source or a run is stored once).
    db.execute("""
        CREATE TABLE measurements (
            measurement_id BIGINT NOT NULL, model VARCHAR NOT NULL, platform VARCHAR NOT NULL,
            precision VARCHAR NOT NULL, batch_size INTEGER NOT NULL, conversion VARCHAR NOT NULL,
            device VARCHAR, method VARCHAR NOT NULL, status VARCHAR NOT NULL, failure_kind VARCHAR,
            message VARCHAR, median DOUBLE, mean DOUBLE, std DOUBLE, p05 DOUBLE, p95 DOUBLE,
            ci95_low DOUBLE, ci95_high DOUBLE, n_iterations INTEGER, throughput_sps DOUBLE,
            compile_s DOUBLE, peak_memory_mb DOUBLE, energy_mj DOUBLE, measured_at TIMESTAMP,
            run_id VARCHAR NOT NULL, source_id VARCHAR)""")
    db.execute("""
        CREATE TABLE samples (
            measurement_id BIGINT NOT NULL, iteration INTEGER NOT NULL, latency_ms DOUBLE NOT NULL,
            gpu_ms DOUBLE)""")
    db.execute("""
        CREATE TABLE subgraphs (
            side VARCHAR NOT NULL, model VARCHAR NOT NULL, platform VARCHAR NOT NULL,
            precision VARCHAR NOT NULL, batch_size INTEGER NOT NULL, subgraph_id VARCHAR NOT NULL,
            ops VARCHAR, flops DOUBLE, bytes DOUBLE, latency_ms DOUBLE, latency_std_ms DOUBLE,
            energy_mj DOUBLE, source_id VARCHAR NOT NULL)""")
    db.execute("""
        CREATE TABLE proxies (
            measured_platform VARCHAR PRIMARY KEY, predicted_platform VARCHAR NOT NULL)""")


@migration(2, "views")
def _views(db: duckdb.DuckDBPyConnection) -> None:
    # The views are created by Store.migrate after the tables are migrated, always from today's
    # definitions (reporter.views): a change to a view alone is a new migration, even an empty one.
    pass


def _add_columns(db: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str]) -> None:
    """Add `columns` (name: SQL type) to `table`."""
    for name, kind in columns.items():
        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


@migration(3, "process medians")
def _process_medians(db: duckdb.DuckDBPyConnection) -> None:
    # `parity bench --processes N` measures a cell in N fresh processes; one median per process.
    # NULL for a cell measured in one process (every run before this column existed).
    _add_columns(db, "measurements", {"process_medians": "DOUBLE[]"})


@migration(4, "how the timing ended")
def _timing_outcome(db: duckdb.DuckDBPyConnection) -> None:
    # Fields, so that nothing reads state back out of a message's text.
    _add_columns(db, "measurements", {"warmup_iterations": "INTEGER", "stopped_by": "VARCHAR", "converged": "BOOLEAN"})


@migration(5, "phases, compile cache, run settings")
def _phases(db: duckdb.DuckDBPyConnection) -> None:
    # Where a cell's time went, whether inductor's cache served its compile, and what a bench run
    # was asked to measure (so that a killed run can be resumed and checked against the request).
    _add_columns(db, "measurements", {"compile_cache": "VARCHAR", "phase_s": "JSON"})
    _add_columns(db, "runs", {"settings": "JSON"})


@migration(6, "energy, device time, layers and every predicted quantity compared")
def _quantities(db: duckdb.DuckDBPyConnection) -> None:
    _add_columns(
        db,
        "measurements",
        {
            "mean_power_w": "DOUBLE",
            "idle_power_w": "DOUBLE",
            "energy_sensor": "VARCHAR",
            "energy_window_s": "DOUBLE",
            "energy_rails_mj": "JSON",
            "energy_note": "VARCHAR",
            "kernels_per_call": "DOUBLE",
            "energy_samples": "DOUBLE[]",
            "process_energy_mj": "DOUBLE[]",
        },
    )
    db.execute("ALTER TABLE subgraphs ALTER COLUMN source_id DROP NOT NULL")  # a bench's layers have no file
    _add_columns(
        db,
        "subgraphs",
        {
            "operation_type": "VARCHAR",
            "node_names": "VARCHAR[]",
            "method": "VARCHAR",
            "conversion": "VARCHAR",
            "calls": "INTEGER",
            "run_id": "VARCHAR",
        },
    )


@migration(7, "Alma never scored by pair_quantities")
def _alma_unscored(db: duckdb.DuckDBPyConnection) -> None:
    # A change to the views alone (reporter.views: the macro, not each view, leaves Alma out).
    pass
