"""The DuckDB store: one class owns the connection, the schema and every write.

Writes go through `atomic()` (one transaction: a failed or killed command leaves the file as it
was) and through DuckDB's columnar path (Arrow tables), never row-by-row SQL.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from collectors.errors import ParityError
from collectors.records import Measurement, Prediction, RunInfo, Subgraph, record_fields
from reporter.location import default_db_path
from reporter.schema import MIGRATIONS
from reporter.views import create_views

READ_ONLY_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA"}
# A Measurement's series that go to the `samples` table, by column there; its other series are
# list columns of `measurements`.
SAMPLE_COLUMNS = {"samples": "latency_ms", "gpu_samples": "gpu_ms"}


class StoreError(ParityError):
    """A store problem the user can act on (missing file, refused statement, bad SQL)."""


@dataclass(frozen=True)
class Results:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def single_value(self) -> Any:
        return self.rows[0][0] if self.rows else None


class Store:
    """A Parity database file. `Store.open(path)` migrates it forward; `read_only=True` never writes."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.db = connection
        self.path = path
        self._in_transaction = False

    @classmethod
    def open(cls, path: Path | str | None = None, *, read_only: bool = False) -> "Store":
        """Open (or, unless read_only, create) the database file, migrating an old one forward.

        read_only: never write, except to bring an older file's schema forward once. Raises
        StoreError when the file is missing (read_only) or cannot be opened.
        """
        path = Path(path) if path else default_db_path()
        if read_only:
            if not path.exists():
                raise StoreError(f"{path}: no database here (run `parity ingest` or `parity bench` first, or pass --db)")
            store = cls(_connect(path, read_only=True), path)
            if store.schema_version() >= MIGRATIONS[-1][0]:
                return store
            store.close()
            cls.open(path).close()  # an older file: migrate it once, then read
            return cls(_connect(path, read_only=True), path)
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(_connect(path, read_only=False), path)
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -------------------------------------------------------------------------------

    def schema_version(self) -> int:
        exists = self.db.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchone()[0]
        if not exists:
            return 0
        return self.db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]

    def migrate(self) -> None:
        with self.atomic():
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
            )
            current = self.schema_version()
            pending = [(version, name, apply) for version, name, apply in MIGRATIONS if version > current]
            for version, name, apply in pending:
                apply(self.db)
                self.db.execute("INSERT INTO schema_version VALUES (?, ?, now())", [version, name])
            if pending:  # a view keeps the columns it was created with: re-create them all
                create_views(self.db)

    # -- reading ------------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Results:
        cursor = self.db.execute(sql, params) if params is not None else self.db.execute(sql)
        columns = [d[0] for d in cursor.description] if cursor.description else []
        return Results(columns, cursor.fetchall() if columns else [])

    def frame(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None):
        """A pandas DataFrame of the query's result."""
        cursor = self.db.execute(sql, params) if params is not None else self.db.execute(sql)
        return cursor.df()

    def query_readonly(self, sql: str) -> Results:
        """Run a user's SQL: one read-only statement, else a StoreError saying why not."""
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as error:
            raise StoreError(f"SQL error: {_first_line(error)}") from None
        if len(statements) != 1:
            raise StoreError(f"parity query takes exactly one statement, got {len(statements)}")
        kind = statements[0].type.name
        if kind not in READ_ONLY_STATEMENTS:
            article = "an" if kind[0] in "AEIOU" else "a"
            raise StoreError(f"parity query is read-only: {article} {kind} statement is refused")
        try:
            return self.execute(sql)
        except duckdb.Error as error:
            raise StoreError(f"SQL error: {_first_line(error)}") from None

    # -- writing ------------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction; nested calls join the outer one."""
        if self._in_transaction:
            yield
            return
        self.db.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._in_transaction = False

    def remove_unfinished_run(self, run_id: str) -> bool:
        """Delete a run that has no `finished_at` (a killed bench's journal, ingested) with its
        measurements and samples, so that the whole run can take its place; False if none."""
        if not self.execute("SELECT count(*) FROM runs WHERE run_id = ? AND finished_at IS NULL", [run_id]).single_value():
            return False
        with self.atomic():
            self.db.execute("""DELETE FROM samples WHERE measurement_id IN
                               (SELECT measurement_id FROM measurements WHERE run_id = ?)""", [run_id])
            self.db.execute("DELETE FROM measurements WHERE run_id = ?", [run_id])
            self.db.execute("DELETE FROM subgraphs WHERE run_id = ?", [run_id])
            self.db.execute("DELETE FROM runs WHERE run_id = ?", [run_id])
        return True

    def has_run(self, run_id: str) -> bool:
        return bool(self.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).single_value())

    def add_run(self, run: RunInfo) -> None:
        self._insert("runs", [_row(run)])

    def add_proxies(self, proxies: dict[str, str]) -> None:
        for measured, predicted in proxies.items():
            self.db.execute(
                "INSERT OR REPLACE INTO proxies VALUES (?, ?)", [measured, predicted]
            )

    # `source_id` / `run_id` below: one value for every row, or one per row (a bulk ingest of many
    # files writes them all in one insert).

    def add_predictions(self, predictions: Sequence[Prediction], source_id: str | Sequence[str]) -> None:
        source_ids = _per_row(source_id, len(predictions))
        self._insert("predictions", [_prediction_row(p, s) for p, s in zip(predictions, source_ids)])

    def add_subgraphs(self, subgraphs: Sequence[Subgraph], source_id: str | Sequence[str]) -> None:
        source_ids = _per_row(source_id, len(subgraphs))
        self._insert("subgraphs", [{**_row(s), "source_id": i} for s, i in zip(subgraphs, source_ids)])

    def add_measurements(self, measurements: Sequence[Measurement], run_id: str | Sequence[str],
                         source_id: str | None | Sequence[str | None]) -> list[int]:
        """Store measurements and their raw samples; returns the new measurement ids."""
        first_id = self.execute("SELECT coalesce(max(measurement_id), 0) + 1 FROM measurements").single_value()
        ids = list(range(first_id, first_id + len(measurements)))
        run_ids, source_ids = _per_row(run_id, len(measurements)), _per_row(source_id, len(measurements))
        rows, sample_columns = [], {"measurement_id": [], "iteration": [], "latency_ms": [], "gpu_ms": []}
        for measurement_id, m, run, source in zip(ids, measurements, run_ids, source_ids):
            rows.append(_measurement_row(m, measurement_id, run, source))
            n = len(m.samples)
            sample_columns["measurement_id"] += [measurement_id] * n
            sample_columns["iteration"] += list(range(n))
            sample_columns["latency_ms"] += list(m.samples)
            sample_columns["gpu_ms"] += list(m.gpu_samples) if len(m.gpu_samples) == n else [None] * n
        self._insert("measurements", rows)
        self.insert_columns("samples", sample_columns)
        return ids

    def insert_columns(self, table: str, columns: dict[str, list[Any]] | pa.Table) -> None:
        """Bulk insert column lists (or an Arrow table) by column name."""
        arrow = columns if isinstance(columns, pa.Table) else pa.table(columns)
        if arrow.num_rows == 0:
            return
        self.db.register("_incoming", arrow)
        try:
            self.db.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
        finally:
            self.db.unregister("_incoming")

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.insert_columns(table, {key: [row[key] for row in rows] for key in rows[0]})


def _per_row(value: Any, count: int) -> Sequence[Any]:
    if value is None or isinstance(value, str):
        return [value] * count
    if len(value) != count:
        raise ValueError(f"{len(value)} ids for {count} rows")
    return value


def _row(record: Any) -> dict[str, Any]:
    """A record as a row: a series is a list column, a mapping a JSON column, NULL where empty."""
    row = record_fields(record)
    for name, value in row.items():
        if isinstance(value, tuple):
            row[name] = list(value) or None
        elif isinstance(value, dict):
            row[name] = json.dumps(value, sort_keys=True) if value else None
    return row


def _prediction_row(p: Prediction, source_id: str) -> dict[str, Any]:
    return {**_row(p), "source_id": source_id}


def _measurement_row(m: Measurement, measurement_id: int, run_id: str, source_id: str | None) -> dict[str, Any]:
    row = _row(m)
    for name in SAMPLE_COLUMNS:
        del row[name]  # they go to the samples table
    return {**row, "measurement_id": measurement_id, "run_id": run_id, "source_id": source_id}


def _connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as error:
        raise StoreError(f"{path}: cannot open the database: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    """The first line of an error's message (its type where the message is empty)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
