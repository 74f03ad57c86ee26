from __future__ import annotations

import os
import sqlite3

# One BLAS thread per pytest worker: the suite already runs a worker per core (xdist), and OpenBLAS threads on top
# of that contend - the Pawley refinement test took 51-69 s with them, 9-19 s without, byte-identical results.
# Set before numpy is first imported (subprocesses the tests start inherit it).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import pytest  # noqa: E402

from argyrodb.api import analyse, structure_files  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _private_default_database(tmp_path_factory):
    """No test touches the user's default database: ARGYRODB_DB points into the test's temporary folder
    (subprocesses inherit it)."""
    old = os.environ.get("ARGYRODB_DB")
    os.environ["ARGYRODB_DB"] = str(tmp_path_factory.mktemp("default-db") / "argyrodb.sqlite")
    yield
    if old is None:
        os.environ.pop("ARGYRODB_DB", None)
    else:
        os.environ["ARGYRODB_DB"] = old


@pytest.fixture(scope="session")
def lma():
    """Table S2 (LMA-Cl0.8I0.6), analysed at the lattice model's a."""
    from argyrodb_testing import LMA

    return analyse(LMA)


@pytest.fixture(scope="session")
def all_structures():
    """Every packaged refinement file, analysed: name -> AnalysedStructure."""
    return {path.stem: analyse(path) for path in structure_files()}


@pytest.fixture(scope="session")
def db_path(tmp_path_factory):
    from argyrodb.pipeline.build import build_database

    path = tmp_path_factory.mktemp("db") / "argyrodb.sqlite"
    build_database(path, show_progress=False)
    return path


@pytest.fixture
def fresh_db(db_path, tmp_path):
    """A writable copy of the session's built database (``argyrodb.sqlite`` in the test's folder): a test that
    changes a database starts from a full build without paying for one (~3 s each). Copied with SQLite's
    backup API, so a WAL left by another test's reader is included."""
    target = tmp_path / "argyrodb.sqlite"
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return target
