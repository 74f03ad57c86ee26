from __future__ import annotations

from pathlib import Path

import pytest

from argyrodb.paths import PROJECT_ROOT, STRUCTURES_DIR, structure_files
from argyrodb.reading import read_structure
from argyrodb.validate import validate

LMA = STRUCTURES_DIR / "LMA-Cl0.8I0.6.yaml"


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
