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
    by DuckDB's own tokenizer, so that comments cannot hide it.

    A "(" there opens options, `(ANALYZE, FORMAT json) COPY …`, or the statement itself,
    `(SELECT 1)`: each reading that parses counts, and a refused one wins.
    """
    starts = [start for start, kind in duckdb.tokenize(sql) if kind != duckdb.token_type.comment]
    words = [re.match(r"\w+|\S", sql[start:]).group().upper() for start in starts]
    position = 1  # past EXPLAIN
    if words[position : position + 1] in (["ANALYZE"], ["ANALYSE"]):
        position += 1
    readings = [position]
    if words[position : position + 1] == ["("]:  # options are a flat list: the first ")" ends them
        readings.append(words.index(")", position) + 1)
    kinds = [kind for kind in (_kind(sql, starts, reading) for reading in readings) if kind]
    refused = [kind for kind in kinds if kind not in READ_STATEMENTS]
    return (refused or kinds or ["unparsable"])[0]


def _kind(sql: str, starts: list[int], position: int) -> str | None:
    """The type of the statement at token `position` of `sql`, or None where none parses there."""
    try:
        return duckdb.extract_statements(sql[starts[position] :])[0].type.name
    except (duckdb.Error, IndexError):
        return None


def _article(word: str) -> str:
    return "an" if word[0].upper() in "AEIOU" else "a"
