"""Which statements `parity query` runs: exactly one read.

This is the first fence; the second is the engine's (reporter.connection.confine), which keeps
even a read from touching files outside the database. A read is a SELECT (DESCRIBE, SHOW,
SUMMARIZE, FROM and VALUES are parsed as one) or an EXPLAIN of one: EXPLAIN ANALYZE runs the
statement it explains, so `EXPLAIN ANALYZE COPY … TO` would write. PRAGMA is refused: besides
the readers (each one a SELECT too, e.g. `DESCRIBE runs` for `PRAGMA table_info('runs')`) it
holds settings and `import_database`, which runs the COPY statements of a folder's load.sql.
"""

from __future__ import annotations

import re

import duckdb

from reporter.connection import first_line

READ_STATEMENTS = {"SELECT"}


def refusal(sql: str) -> str | None:
    """Why `parity query` refuses `sql`, or None for one read statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        return f"SQL error: {first_line(error)}"
    if len(statements) != 1:
        return f"parity query takes exactly one statement, got {len(statements)}"
    kind = statements[0].type.name
    if kind == "EXPLAIN":
        explained = _explained_kind(statements[0].query)
        if explained not in READ_STATEMENTS:
            return f"parity query is read-only: EXPLAIN of {_article(explained)} {explained} statement is refused"
        return None
    if kind not in READ_STATEMENTS:
        return f"parity query is read-only: {_article(kind)} {kind} statement is refused"
    return None


def _explained_kind(sql: str) -> str:
    """The type of the statement an EXPLAIN wraps ("SELECT", "COPY", ...), found past its ANALYZE
    and its (options) by DuckDB's own tokenizer, so that comments cannot hide it."""
    starts = [start for start, kind in duckdb.tokenize(sql) if kind != duckdb.token_type.comment]
    words = [re.match(r"\w+|\S", sql[start:]).group().upper() for start in starts]
    position = 1  # past EXPLAIN
    if words[position : position + 1] in (["ANALYZE"], ["ANALYSE"]):
        position += 1
    if words[position : position + 1] == ["("]:  # options, a flat list: (ANALYZE, FORMAT json)
        position = words.index(")", position) + 1
    try:
        return duckdb.extract_statements(sql[starts[position] :])[0].type.name
    except (duckdb.Error, IndexError):
        return "unparsable"


def _article(word: str) -> str:
    return "an" if word[0] in "AEIOU" else "a"
