"""The DuckDB schema, as forward-only migrations.

Each migration is a named function registered in order; `Store` runs the missing ones in the
same transaction as the `schema_version` row that records them, so an old file keeps working.
"""
from __future__ import annotations

from collections.abc import Callable

import duckdb

from collectors.vocabulary import EAGER, PREDICTION_KEY, SERIES, UNSCORED_METHODS, columns

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
    # Views are re-created by later migrations (see `_process_medians`), always from today's
    # definitions: a change to one is a new migration that calls this again.
    # The newest measurement of every series (a cell, by conversion, method and device).
    db.execute(f"""
        CREATE OR REPLACE VIEW latest AS
        SELECT * FROM measurements
        QUALIFY row_number() OVER (
            PARTITION BY {columns(SERIES)}
            ORDER BY measured_at DESC NULLS LAST, measurement_id DESC) = 1""")
    # The one definition of how a prediction meets a measurement, and of the error formulas. A
    # table macro over any two relations (tables, views, temp tables, CTE names), so that the
    # `comparisons` view, the report (newest predictions only) and `parity compare` (one run's
    # measurements) share it; users can call it in `parity query` too.
    db.execute("""
        CREATE OR REPLACE MACRO pair_latencies(predicted, measured) AS TABLE
        WITH platform_pairs AS (
            SELECT DISTINCT platform AS predicted_platform, platform AS measured_platform
            FROM query_table(predicted)
            UNION SELECT predicted_platform, measured_platform FROM proxies)
        SELECT p.model, p.platform, m.platform AS measured_platform,
               m.platform <> p.platform AS is_proxy,
               p.precision, p.batch_size, m.conversion, m.method, m.device,
               p.predictor, p.predictor_version, p.predicted_at, m.measured_at, m.run_id,
               p.latency_ms AS predicted_ms, m.median AS measured_ms,
               p.latency_ms / m.median AS ratio,
               (p.latency_ms - m.median) / m.median * 100 AS signed_error_pct,
               abs(p.latency_ms - m.median) / m.median * 100 AS abs_error_pct,
               m.measurement_id, p.source_id AS prediction_source_id
        FROM query_table(predicted) p
        JOIN platform_pairs x ON x.predicted_platform = p.platform
        JOIN query_table(measured) m
          ON m.platform = x.measured_platform AND m.model = p.model
         AND m.precision = p.precision AND m.batch_size = p.batch_size
        WHERE m.status = 'ok' AND m.median > 0""")
    # The newest prediction of every cell by each predictor: one graphs release writes the same
    # prediction into several files (report, verdict, CSV), which must count once.
    db.execute(f"""
        CREATE OR REPLACE VIEW newest_predictions AS
        SELECT * FROM predictions
        QUALIFY row_number() OVER (
            PARTITION BY {columns(PREDICTION_KEY)}
            ORDER BY predicted_at DESC NULLS LAST, source_id DESC, latency_ms) = 1""")
    # Every prediction in history (all predictor versions) against the newest successful
    # measurement of the same model, platform (power mode included, or a declared proxy),
    # precision and batch size. Alma's own loop is never scored: its GPU figures are launch times.
    scored = f"method NOT IN ({', '.join(repr(m) for m in UNSCORED_METHODS)})"
    db.execute(f"""
        CREATE OR REPLACE VIEW comparisons AS
        SELECT * FROM pair_latencies(predictions, latest) WHERE {scored}""")
    # What the report scores: the newest prediction of each cell against the newest measurements.
    db.execute(f"""
        CREATE OR REPLACE VIEW current_comparisons AS
        SELECT * FROM pair_latencies(newest_predictions, latest) WHERE {scored}""")
    # Speed of every conversion against EAGER in the same run, model, platform and batch size.
    db.execute(f"""
        CREATE OR REPLACE VIEW speedups AS
        SELECT m.run_id, m.model, m.platform, m.batch_size, m.method, m.device, m.conversion,
               m.precision, e.median AS eager_ms, m.median AS conversion_ms,
               e.median / m.median AS speedup
        FROM measurements m
        JOIN measurements e
          ON e.run_id = m.run_id AND e.model = m.model AND e.platform = m.platform
         AND e.batch_size = m.batch_size AND e.method = m.method
         AND e.device IS NOT DISTINCT FROM m.device AND e.conversion = '{EAGER}'
        WHERE m.status = 'ok' AND e.status = 'ok' AND m.median > 0""")


@migration(3, "process medians")
def _process_medians(db: duckdb.DuckDBPyConnection) -> None:
    # `parity bench --processes N` measures a cell in N fresh processes; one median per process.
    # NULL for a cell measured in one process (every run before this column existed).
    db.execute("ALTER TABLE measurements ADD COLUMN process_medians DOUBLE[]")
    # A view keeps the column list it was created with: `latest` would not show the new column.
    # The views are CREATE OR REPLACE, so re-running today's definitions is safe; a later change
    # to a view belongs in a new migration that runs `_views` again in the same way.
    _views(db)


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
