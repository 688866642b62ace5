"""Report tests: fixture run folders (tests/report/fixtures, made by make_fixtures.py from
real tiny runs) rendered into a StringIO console or a temporary folder; nothing is
benchmarked."""

import shutil

import pytest
from report_helpers import FIXTURES


@pytest.fixture
def fixture_copy(tmp_path):
    """A writable copy of a fixture run folder (for damaging it)."""

    def copy(name: str):
        dest = tmp_path / name
        shutil.copytree(FIXTURES / name, dest)
        return dest

    return copy


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """rich sizes the CLI's console from COLUMNS: wide, so no line of a table wraps."""
    monkeypatch.setenv("COLUMNS", "200")
