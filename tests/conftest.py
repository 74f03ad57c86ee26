from __future__ import annotations

from pathlib import Path

import pytest

from argyrodb.paths import PROJECT_ROOT, structure_files
from argyrodb.reading import read_structure
from argyrodb.validate import validate
from argyrodb_testing import LMA


@pytest.fixture(scope="session")
def lma():
    refinement = read_structure(LMA)
    return refinement, validate(refinement)


@pytest.fixture(scope="session")
def all_reports():
    out = {}
    for path in structure_files():
        refinement = read_structure(path)
        out[path.stem] = (refinement, validate(refinement))
    return out


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def db_path(tmp_path_factory):
    from argyrodb.database import build_database

    path = tmp_path_factory.mktemp("db") / "argyrodb.sqlite"
    build_database(path, show_progress=False)
    return path
