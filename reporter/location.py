"""Where the database lives unless a command is told: `$PARITY_DB`, else ./data/parity.duckdb.

Its own small module, so that a command's `--help` can name the default without importing
DuckDB (reporter.store imports it from here).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB = Path("data") / "parity.duckdb"


def default_db_path() -> Path:
    return Path(os.environ.get("PARITY_DB") or DEFAULT_DB)
