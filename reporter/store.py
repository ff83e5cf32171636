"""The DuckDB store: one class owns the connection, the schema and every write.

Writes go through `atomic()` (one transaction: a failed or killed command leaves the file as it
was) and through DuckDB's columnar path (Arrow tables), never row-by-row SQL. Every DuckDB call
goes through `_guarded()`, so that a damaged file or Ctrl-C reads the same in every command
(reporter.connection says what they are).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from collectors.records import Measurement, Prediction, RunInfo, Subgraph, record_fields
from reporter.connection import StoreError, check_whole, confine, connect, file_error, first_line
from reporter.location import default_db_path
from reporter.read_sql import refusal
from reporter.schema import MIGRATIONS, UNFINISHED_RUN
from reporter.views import create_views

KNOWN_SCHEMA = MIGRATIONS[-1][0]
# A Measurement's series that go to the `samples` table, by column there; its other series are
# list columns of `measurements`.
SAMPLE_COLUMNS = {"samples": "latency_ms", "gpu_samples": "gpu_ms"}
# Rows fetched at a time for `parity query`: its memory stays flat however large the result.
BATCH_ROWS = 10_000
SANDBOX = "parity query reads only the database and the folders given with --read"


@dataclass(frozen=True)
class Rows:
    """A user query's result as it streams: the column names, and the rows in batches."""

    columns: list[str]
    batches: Iterator[list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Results:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

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
    def open(
        cls,
        path: Path | str | None = None,
        *,
        read_only: bool = False,
        wait_s: float = 0.0,
        readable: Sequence[Path] | None = None,
    ) -> Store:
        """Open (or, unless read_only, create) the database file, migrating an old one forward.

        read_only: never write, except to bring an older file's schema forward once.
        wait_s: how long to wait for a file another process holds (said once on stderr); 0: not at all.
        readable: for a user's SQL: confine the connection to the database and these folders (no
            other file, no network, no extension). None: Parity's own SQL, not confined.
        Raises StoreError when the file is missing (read_only), busy, damaged, written by a newer
        Parity, or cannot be opened; nothing is written to it then.
        """
        path = Path(path) if path else default_db_path()
        if read_only and not path.exists():
            raise StoreError(f"{path}: no database here (run `parity ingest` or `parity bench` first, or pass --db)")
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(connect(path, read_only=read_only, wait_s=wait_s), path)
        try:
            return store._ready(read_only=read_only, wait_s=wait_s, readable=readable)
        except BaseException:
            store.close()
            raise

    def _ready(self, *, read_only: bool, wait_s: float, readable: Sequence[Path] | None) -> Store:
        """This store checked, migrated and confined as `open` was asked; for an older file opened
        read-only, a new read-only store once the file has been migrated."""
        with self._guarded():
            check_whole(self.db, self.path)
        version = self.schema_version()
        if version > KNOWN_SCHEMA:
            raise StoreError(
                f"{self.path}: written by a newer Parity: schema {version}, this one knows "
                f"{KNOWN_SCHEMA}; upgrade Parity to use it"
            )
        if read_only and version < KNOWN_SCHEMA:  # migrate it once, then read
            self.close()
            Store.open(self.path, wait_s=wait_s).close()
            return Store.open(self.path, read_only=True, wait_s=wait_s, readable=readable)
        if not read_only:
            self.migrate()
        if readable is not None:
            confine(self.db, readable)
        return self

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -------------------------------------------------------------------------------

    def schema_version(self) -> int:
        exists = self.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).single_value()
        if not exists:
            return 0
        return self.execute("SELECT coalesce(max(version), 0) FROM schema_version").single_value()

    def migrate(self) -> None:
        with self.atomic():
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
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
        with self._guarded():
            cursor = self.db.execute(sql, params) if params is not None else self.db.execute(sql)
            columns = [d[0] for d in cursor.description] if cursor.description else []
            return Results(columns, cursor.fetchall() if columns else [])

    def frame(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None):
        """A pandas DataFrame of the query's result."""
        with self._guarded():
            cursor = self.db.execute(sql, params) if params is not None else self.db.execute(sql)
            return cursor.df()

    def arrow(self, sql: str, params: dict[str, Any]):
        """The query's result as an Arrow table, for results of hundreds of thousands of rows: text
        comes over as Arrow strings, where `frame` (DuckDB's df()) makes a Python string of every
        value first, twice the time on the report's 600,000 history rows. Its `to_pandas()` equals
        `frame`'s but where a text column holds no text at all: NaN, not None."""
        with self._guarded():
            # A relation refuses to run beside a result of execute() not fetched to its end: run
            # that out first. The connection, not a cursor, which would not see an open transaction.
            self.db.complete()
            return self.db.sql(sql, params=params).to_arrow_table()

    def query_readonly(self, sql: str, batch_rows: int = BATCH_ROWS) -> Rows:
        """Run a user's SQL: one read statement, else a StoreError saying why not. The rows come
        in batches of `batch_rows` as DuckDB produces them; an error while fetching one is a
        StoreError too."""
        refused = refusal(sql)
        if refused:
            raise StoreError(refused)
        with self._user_sql():
            cursor = self.db.execute(sql)
        columns = [d[0] for d in cursor.description] if cursor.description else []
        return Rows(columns, self._batches(cursor, batch_rows) if columns else iter(()))

    def _batches(self, cursor: duckdb.DuckDBPyConnection, size: int) -> Iterator[list[tuple[Any, ...]]]:
        while True:
            with self._user_sql():
                batch = cursor.fetchmany(size)
            if not batch:
                return
            yield batch

    @contextmanager
    def _user_sql(self) -> Iterator[None]:
        """A user's query failing: the sandbox's refusal or the SQL's own error, as one StoreError."""
        try:
            with self._guarded():
                yield
        except duckdb.PermissionException as error:
            raise StoreError(f"{SANDBOX}: {first_line(error)}") from None
        except duckdb.Error as error:
            raise StoreError(f"SQL error: {first_line(error)}") from None

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """DuckDB failing on the file itself (damaged, unwritable) as one StoreError, and Ctrl-C
        (which DuckDB turns into an error) as KeyboardInterrupt; any other error passes unchanged."""
        try:
            yield
        except (duckdb.Error, RuntimeError) as error:
            meaning = file_error(error, self.path)
            if meaning is None:
                raise
            raise meaning from None

    # -- writing ------------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction; nested calls join the outer one."""
        if self._in_transaction:
            yield
            return
        with self._guarded():
            self.db.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            with self._guarded():
                yield
        except BaseException:
            with suppress(duckdb.Error):  # a file that failed mid-way may fail this too: keep the first error
                self.db.execute("ROLLBACK")
            raise
        else:
            with self._guarded():
                self.db.execute("COMMIT")
        finally:
            self._in_transaction = False

    def remove_unfinished_run(self, run_id: str) -> bool:
        """Delete a run that has no `finished_at` (a killed bench's journal, ingested) with its
        measurements and samples, so that the whole run can take its place; False if none."""
        unfinished = f"SELECT count(*) FROM runs WHERE run_id = ? AND {UNFINISHED_RUN}"
        if not self.execute(unfinished, [run_id]).single_value():
            return False
        with self.atomic():
            self.db.execute(
                """DELETE FROM samples WHERE measurement_id IN
                               (SELECT measurement_id FROM measurements WHERE run_id = ?)""",
                [run_id],
            )
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
            self.db.execute("INSERT OR REPLACE INTO proxies VALUES (?, ?)", [measured, predicted])

    # `source_id` / `run_id` below: one value for every row, or one per row (a bulk ingest of many
    # files writes them all in one insert).

    def add_predictions(self, predictions: Sequence[Prediction], source_id: str | Sequence[str]) -> None:
        source_ids = _per_row(source_id, len(predictions))
        self._insert("predictions", [_prediction_row(p, s) for p, s in zip(predictions, source_ids, strict=True)])

    def add_subgraphs(self, subgraphs: Sequence[Subgraph], source_id: str | Sequence[str]) -> None:
        source_ids = _per_row(source_id, len(subgraphs))
        self._insert("subgraphs", [{**_row(s), "source_id": i} for s, i in zip(subgraphs, source_ids, strict=True)])

    def add_measurements(
        self,
        measurements: Sequence[Measurement],
        run_id: str | Sequence[str],
        source_id: str | None | Sequence[str | None],
    ) -> list[int]:
        """Store measurements and their raw samples; returns the new measurement ids."""
        first_id = self.execute("SELECT coalesce(max(measurement_id), 0) + 1 FROM measurements").single_value()
        ids = list(range(first_id, first_id + len(measurements)))
        run_ids, source_ids = _per_row(run_id, len(measurements)), _per_row(source_id, len(measurements))
        rows, sample_columns = [], {"measurement_id": [], "iteration": [], "latency_ms": [], "gpu_ms": []}
        for measurement_id, m, run, source in zip(ids, measurements, run_ids, source_ids, strict=True):
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
            with self._guarded():
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
