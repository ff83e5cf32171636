"""The README is part of the contract: every table, view and command must be documented there."""

from __future__ import annotations

import re

import pytest

from reporter.cli import command_modules, create_parser
from reporter.store import Store
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def _store_objects(db_path) -> dict[str, list[str]]:
    with Store.open(db_path) as store:
        rows = store.execute(
            "SELECT table_name, column_name FROM information_schema.columns ORDER BY table_name, ordinal_position"
        ).rows
    objects: dict[str, list[str]] = {}
    for table, column in rows:
        objects.setdefault(table, []).append(column)
    return objects


def test_readme_documents_every_table_view_and_column(db_path):
    objects = _store_objects(db_path)
    for table, columns in objects.items():
        row = next((line for line in README.splitlines() if re.match(rf"\| (view )?`{table}` \|", line)), None)
        assert row is not None, f"README has no row for {table}"
        same_as = re.search(r"the `(\w+)` columns", row)  # "the `measurements` columns"
        if same_as:
            assert columns == objects[same_as.group(1)], f"{table} does not have the {same_as.group(1)} columns"
        else:
            missing = [c for c in columns if f"`{c}`" not in row]
            assert not missing, f"README row for {table} misses columns {missing}"


@pytest.mark.parametrize("module", command_modules(), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_readme_documents_every_command(module):
    name = module.__name__.rsplit(".", 1)[-1]
    assert f"`parity {name}" in README


@pytest.mark.parametrize("module", command_modules(), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_command_has_help(module, capsys):
    name = module.__name__.rsplit(".", 1)[-1]
    with pytest.raises(SystemExit) as exit_info:
        create_parser().parse_args([name, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: parity {name}" in capsys.readouterr().out
