"""The DuckDB schema, as forward-only migrations.

Each migration is a named function registered in order; `Store` runs the missing ones in the
same transaction as the `schema_version` row that records them, so an old file keeps working.
"""
from __future__ import annotations

from collections.abc import Callable

import duckdb

from reporter.views import create_views

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: list[tuple[int, str, Migration]] = []


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
    # Views keep the column list they were created with, so every migration that adds a column
    # re-creates them (always from today's definitions, in reporter.views).
    create_views(db)


@migration(3, "process medians")
def _process_medians(db: duckdb.DuckDBPyConnection) -> None:
    # `parity bench --processes N` measures a cell in N fresh processes; one median per process.
    # NULL for a cell measured in one process (every run before this column existed).
    db.execute("ALTER TABLE measurements ADD COLUMN process_medians DOUBLE[]")
    _views(db)  # `latest` selects * and must show the new column


@migration(4, "how the timing ended")
def _timing_outcome(db: duckdb.DuckDBPyConnection) -> None:
    # Fields, so that nothing reads state back out of a message's text.
    db.execute("ALTER TABLE measurements ADD COLUMN warmup_iterations INTEGER")
    db.execute("ALTER TABLE measurements ADD COLUMN stopped_by VARCHAR")
    db.execute("ALTER TABLE measurements ADD COLUMN converged BOOLEAN")
    _views(db)  # `latest` selects * and must show the new columns


@migration(5, "phases, compile cache, run settings")
def _phases(db: duckdb.DuckDBPyConnection) -> None:
    # Where a cell's time went, whether inductor's cache served its compile, and what a bench run
    # was asked to measure (so that a killed run can be resumed and checked against the request).
    db.execute("ALTER TABLE measurements ADD COLUMN compile_cache VARCHAR")
    db.execute("ALTER TABLE measurements ADD COLUMN phase_s JSON")
    db.execute("ALTER TABLE runs ADD COLUMN settings JSON")
    _views(db)


@migration(6, "energy, device time, layers and every predicted quantity compared")
def _quantities(db: duckdb.DuckDBPyConnection) -> None:
    for column, kind in (("mean_power_w", "DOUBLE"), ("idle_power_w", "DOUBLE"), ("energy_sensor", "VARCHAR"),
                         ("energy_window_s", "DOUBLE"), ("energy_rails_mj", "JSON"), ("energy_note", "VARCHAR"),
                         ("kernels_per_call", "DOUBLE"), ("energy_samples", "DOUBLE[]"),
                         ("process_energy_mj", "DOUBLE[]")):
        db.execute(f"ALTER TABLE measurements ADD COLUMN {column} {kind}")
    for column, kind in (("operation_type", "VARCHAR"), ("node_names", "VARCHAR[]"), ("method", "VARCHAR"),
                         ("calls", "INTEGER"), ("run_id", "VARCHAR")):
        db.execute(f"ALTER TABLE subgraphs ADD COLUMN {column} {kind}")
    db.execute("ALTER TABLE subgraphs ALTER COLUMN source_id DROP NOT NULL")  # a bench's layers have no file
    _views(db)
