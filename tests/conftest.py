"""Shared fixtures: the real inputs in ../shared/fixtures and fresh database files."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("PARITY_FIXTURES") or REPO.parent / "shared" / "fixtures")


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The real graphs and Alma files; tests that need them skip where the folder is absent."""
    if not FIXTURES.is_dir():
        pytest.skip(f"real fixtures not found at {FIXTURES} (set PARITY_FIXTURES)")
    return FIXTURES


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "parity.duckdb"
