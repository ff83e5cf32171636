"""The SQL interface users query: the views and table macros over the tables of reporter.schema.

Each view is defined here once, from the keys and quantities of collectors.vocabulary, and
`create_views` (re)creates them all; a migration that changes a table calls it again, because a
view keeps the column list it was created with.
"""

from __future__ import annotations

import duckdb

from collectors.vocabulary import (
    CELL,
    DEVICE_BUSY,
    EAGER,
    LATENCY,
    MEASURED,
    OK,
    PREDICTED,
    PREDICTION_KEY,
    QUANTITIES,
    SERIES,
    UNSCORED_METHODS,
    columns,
)

_UNSCORED = ", ".join(repr(method) for method in UNSCORED_METHODS)


def create_views(db: duckdb.DuckDBPyConnection) -> None:
    for statement in (
        LATEST,
        NEWEST_PREDICTIONS,
        PAIR_QUANTITIES,
        PAIR_LATENCIES,
        *_COMPARISON_VIEWS,
        SPEEDUPS,
        SUBGRAPH_PAIRS,
        OPERATION_ERRORS,
    ):
        db.execute(statement)


# The newest measurement of every series (a cell, by conversion, method and device): the clause
# that keeps it of any set of measurements (reporter.run_cells keeps one run's with it), and the view.
NEWEST_OF_SERIES = f"""
    QUALIFY row_number() OVER (
        PARTITION BY {columns(SERIES)}
        ORDER BY measured_at DESC NULLS LAST, measurement_id DESC) = 1"""
LATEST = f"CREATE OR REPLACE VIEW latest AS SELECT * FROM measurements {NEWEST_OF_SERIES}"

# The newest prediction of every cell by each predictor: one graphs release writes the same
# prediction into several files (report, verdict, CSV), which must count once.
NEWEST_PREDICTIONS = f"""
    CREATE OR REPLACE VIEW newest_predictions AS
    SELECT * FROM predictions
    QUALIFY row_number() OVER (
        PARTITION BY {columns(PREDICTION_KEY)}
        ORDER BY predicted_at DESC NULLS LAST, source_id DESC, latency_ms) = 1"""

# The one definition of how a prediction meets a measurement (same model, platform with its power
# mode or a declared proxy, precision and batch size) and of the error formulas, for every
# quantity of vocabulary.QUANTITIES. Alma's own loop is never scored: its GPU figures are launch
# times. A table macro over any two relations with the columns of
# `predictions` and `measurements` (tables, views, CTE names), so that the views, the report and
# `parity compare` (one run's measurements) share it; users can call it in `parity query` too.
_EACH_QUANTITY = ", ".join(
    f"{{'quantity': '{q.name}', 'unit': '{q.unit}', 'predicted': p.{q.predicted}, 'measured': m.{q.measured}}}"
    for q in QUANTITIES
)
PAIR_QUANTITIES = f"""
    CREATE OR REPLACE MACRO pair_quantities(predicted_rows, measured_rows) AS TABLE
    WITH platform_pairs AS (
        SELECT DISTINCT platform AS predicted_platform, platform AS measured_platform
        FROM query_table(predicted_rows)
        UNION SELECT predicted_platform, measured_platform FROM proxies)
    SELECT p.model, p.platform, m.platform AS measured_platform,
           m.platform <> p.platform AS is_proxy,
           p.precision, p.batch_size, m.conversion, m.method, m.device,
           p.predictor, p.predictor_version, p.predicted_at, m.measured_at, m.run_id,
           q.quantity, q.unit, q.predicted, q.measured,
           q.predicted / q.measured AS ratio,
           (q.predicted - q.measured) / q.measured * 100 AS signed_error_pct,
           abs(q.predicted - q.measured) / q.measured * 100 AS abs_error_pct,
           m.measurement_id, p.source_id AS prediction_source_id
    FROM query_table(predicted_rows) p
    JOIN platform_pairs x ON x.predicted_platform = p.platform
    JOIN query_table(measured_rows) m
      ON m.platform = x.measured_platform AND m.model = p.model
     AND m.precision = p.precision AND m.batch_size = p.batch_size,
    LATERAL (SELECT unnest([{_EACH_QUANTITY}], recursive := true)) q
    WHERE m.status = '{OK}' AND m.method NOT IN ({_UNSCORED}) AND q.predicted > 0 AND q.measured > 0"""

# The latency part, with the column names of the first releases (predicted_ms, measured_ms).
PAIR_LATENCIES = f"""
    CREATE OR REPLACE MACRO pair_latencies(predicted_rows, measured_rows) AS TABLE
    SELECT * EXCLUDE (quantity, unit, predicted, measured, ratio, signed_error_pct, abs_error_pct,
                      measurement_id, prediction_source_id),
           predicted AS predicted_ms, measured AS measured_ms, ratio, signed_error_pct, abs_error_pct,
           measurement_id, prediction_source_id
    FROM pair_quantities(predicted_rows, measured_rows) WHERE quantity = '{LATENCY}'"""

# Every prediction in history (all predictor versions) against the newest measurement of each
# series; the `current_` views score only the newest prediction of each cell, as the report does.
_COMPARISON_VIEWS = tuple(
    f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {macro}({predictions}, latest)"
    for view, macro, predictions in (
        ("comparisons", "pair_latencies", "predictions"),
        ("current_comparisons", "pair_latencies", "newest_predictions"),
        ("quantity_comparisons", "pair_quantities", "predictions"),
        ("current_quantity_comparisons", "pair_quantities", "newest_predictions"),
    )
)

# Speed of every conversion against EAGER in the same run, model, platform and batch size.
SPEEDUPS = f"""
    CREATE OR REPLACE VIEW speedups AS
    SELECT m.run_id, m.model, m.platform, m.batch_size, m.method, m.device, m.conversion,
           m.precision, e.median AS eager_ms, m.median AS conversion_ms,
           e.median / m.median AS speedup
    FROM measurements m
    JOIN measurements e
      ON e.run_id = m.run_id AND e.model = m.model AND e.platform = m.platform
     AND e.batch_size = m.batch_size AND e.method = m.method
     AND e.device IS NOT DISTINCT FROM m.device AND e.conversion = '{EAGER}'
    WHERE m.status = '{OK}' AND e.status = '{OK}' AND m.median > 0"""

# Where a latency error comes from: each predicted subgraph beside a measured time of the same work,
# matched as finely as the data allows (README, "Attribution"):
# - by subgraph id, against graphs' own calibration measurement of that subgraph;
# - by node names, against Parity's layers (`bench --layers`, the newest run's eager conversion)
#   of the modules the calibration subgraph covers;
# - by operation type, where a cell has Parity's layers but no calibration: the predicted subgraphs
#   of each primary op type against the layers of that type (coarse: graphs fuses a convolution's
#   normalisation and activation into its subgraph, Parity times them as modules of their own).
# Where several graphs files carry the same side of a cell, the one naming the most operations
# (then the first by id) is used, so rows never mix two analyses.
_CELL = columns(CELL)
SUBGRAPH_PAIRS = f"""
    CREATE OR REPLACE VIEW subgraph_pairs AS
    WITH sources AS (
        SELECT side, {_CELL}, source_id, count(ops) AS named FROM subgraphs WHERE method IS NULL GROUP BY ALL),
    chosen AS (
        SELECT * FROM sources
        QUALIFY row_number() OVER (PARTITION BY side, {_CELL} ORDER BY named DESC, source_id) = 1),
    graphs_rows AS (SELECT s.* FROM subgraphs s JOIN chosen USING (side, {_CELL}, source_id)),
    predicted AS (SELECT * FROM graphs_rows WHERE side = '{PREDICTED}' AND latency_ms IS NOT NULL),
    calibrated AS (SELECT * FROM graphs_rows WHERE side = '{MEASURED}' AND latency_ms IS NOT NULL),
    layers AS (
        SELECT * FROM subgraphs
        WHERE method = '{DEVICE_BUSY}' AND (conversion = '{EAGER}' OR conversion LIKE '%+{EAGER}')
        QUALIFY run_id = max(run_id) OVER (PARTITION BY {_CELL})),
    by_id AS (
        SELECT {columns(CELL, "p")}, p.subgraph_id,
               coalesce(c.operation_type, p.operation_type, c.ops, p.ops) AS operation_type,
               coalesce(c.ops, p.ops) AS pattern, p.latency_ms AS predicted_ms, c.latency_ms AS measured_ms,
               'graphs calibration' AS measured_by, 'subgraph id' AS matched_by
        FROM predicted p JOIN calibrated c USING ({_CELL}, subgraph_id)),
    by_nodes AS (
        SELECT {columns(CELL, "c")}, c.subgraph_id, coalesce(c.operation_type, c.ops) AS operation_type,
               c.ops AS pattern,
               any_value(p.latency_ms) AS predicted_ms, sum(l.latency_ms) AS measured_ms,
               'parity layers' AS measured_by, 'node names' AS matched_by
        FROM calibrated c JOIN predicted p USING ({_CELL}, subgraph_id)
        JOIN layers l USING ({_CELL})
        WHERE list_has_any(c.node_names, l.node_names)
        GROUP BY ALL),
    predicted_types AS (
        SELECT {_CELL}, replace(operation_type, 'conv2d_pointwise', 'conv2d') AS operation_type,
               sum(latency_ms) AS predicted_ms
        FROM predicted WHERE operation_type IS NOT NULL GROUP BY ALL),
    layer_types AS (
        SELECT {_CELL}, operation_type, sum(latency_ms) AS measured_ms FROM layers
        WHERE operation_type IS NOT NULL AND ({_CELL}) NOT IN (SELECT ({_CELL}) FROM calibrated)
        GROUP BY ALL),
    by_type AS (
        SELECT {_CELL}, NULL AS subgraph_id, operation_type, operation_type AS pattern,
               coalesce(t.predicted_ms, 0) AS predicted_ms, l.measured_ms,
               'parity layers' AS measured_by, 'operation type' AS matched_by
        FROM layer_types l LEFT JOIN predicted_types t USING ({_CELL}, operation_type))
    SELECT * FROM by_id UNION ALL SELECT * FROM by_nodes UNION ALL SELECT * FROM by_type"""

# Per platform and precision, the error by operation type across models: which types are predicted
# too fast (missing_ms > 0), and what share of the time the platform's predictions miss each explains.
OPERATION_ERRORS = """
    CREATE OR REPLACE VIEW operation_errors AS
    WITH totals AS (
        SELECT platform, precision, measured_by, operation_type, count(*) AS subgraphs,
               count(DISTINCT model) AS models, sum(predicted_ms) AS predicted_ms, sum(measured_ms) AS measured_ms
        FROM subgraph_pairs GROUP BY ALL)
    SELECT *, measured_ms - predicted_ms AS missing_ms, predicted_ms / measured_ms AS ratio,
           (predicted_ms - measured_ms) / measured_ms * 100 AS signed_error_pct,
           greatest(measured_ms - predicted_ms, 0) / nullif(sum(greatest(measured_ms - predicted_ms, 0))
               OVER (PARTITION BY platform, precision, measured_by), 0) AS share_of_missing
    FROM totals"""
