"""BVSE Li percolation energies as a screening column (``argyrodb screen --bvse``) and in the built database
(``structure_bvse``): each number against an independent path to the same model."""

from __future__ import annotations

import copy
import itertools
import json
import sqlite3

import numpy as np
import pytest

from argyrodb.api import analyse, structure_files
from argyrodb.physics import bvse
from argyrodb.screening.families import parse_range
from argyrodb.screening.screener import Screener, ScreenSettings
from argyrodb_testing import run

CL_BR = ScreenSettings("Li6PS5Cl1-xBrx", {"x": parse_range("0:1:0.25", "x")}, bvse=True)


@pytest.fixture(scope="module")
def screened():
    screener = Screener(CL_BR)
    return screener, screener.evaluate_chunk(list(range(len(screener.points))))


def test_screen_barriers_equal_the_structure_path(screened):
    """Each composition's energies from the screen's fast path (per-species fields combined by the occupancy
    matrix) equal those of the same composition built as a site-disordered pymatgen Structure (Screener.structure)
    and handed to bvse_ordered, which groups its sites afresh: the same model reached two ways, to 1e-9 eV."""
    screener, results = screened
    assert all(r["status"] == "ok" for r in results)
    for index in (0, 2, 4):
        direct = bvse.bvse_ordered(screener.structure(index))
        for d in (1, 2, 3):
            assert results[index][f"bvse_e_{d}d_eV"] == pytest.approx(getattr(direct, f"e_{d}d_eV"), abs=1e-9)


def test_screen_barriers_follow_the_bromide_series(screened):
    """Br for Cl on the template's sites at the predicted a: the 3D energy rises monotonically from Li6PS5Cl to
    Li6PS5Br (0.354 -> 0.395 eV measured), and 1D <= 2D <= 3D everywhere."""
    _, results = screened
    e3 = [r["bvse_e_3d_eV"] for r in results]
    assert all(b > a for a, b in itertools.pairwise(e3))
    assert 0.3 < e3[0] < 0.4 and 0.3 < e3[-1] < 0.45
    assert all(r["bvse_e_1d_eV"] <= r["bvse_e_2d_eV"] <= r["bvse_e_3d_eV"] for r in results)


def test_default_screen_computes_no_bvse_and_keeps_its_key():
    """Without --bvse nothing of the model is built and the results carry no energies; the run key (what resumes a
    run) differs with --bvse, and without it the key's payload leaves the option out, so runs stored before the
    option resume as before (the key hashes the settings but store_peaks, and bvse only when set)."""
    plain = ScreenSettings("Li6PS5Cl1-xBrx", {"x": parse_range("0:1:0.25", "x")})
    screener = Screener(plain)
    assert screener.bvse is None
    assert "bvse_e_3d_eV" not in screener.evaluate(0)
    assert plain.key() != CL_BR.key()
    before_the_option = copy.copy(plain)
    del before_the_option.__dict__["bvse"]  # settings as stored before the field existed
    assert before_the_option.key() == plain.key()


def test_cli_screen_bvse_is_stored_and_sortable(fresh_db, screened):
    """`screen --bvse` stores the three columns; `db query --screen RUN --sort bvse_e_3d_eV` sorts by them; the
    stored values are the screener's."""
    _, results = screened
    done = run("screen", "Li6PS5Cl1-xBrx", "--x", "0:1:0.25", "--bvse", "--db", str(fresh_db), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "lowest BVSE 3D percolation energy: Li6PS5Cl 0.35" in done.stdout
    run_id = done.stdout.split()[1]
    query = run("db", "query", "--screen", run_id, "--db", str(fresh_db), "--columns", "formula,bvse_e_3d_eV",
                "--sort", "-bvse_e_3d_eV", "--format", "json")
    assert query.returncode == 0, query.stderr
    rows = json.loads(query.stdout)
    stored = [row["bvse_e_3d_eV"] for row in rows]
    assert stored == sorted(stored, reverse=True) and rows[0]["formula"] == "Li6PS5Br"
    assert sorted(stored) == pytest.approx([r["bvse_e_3d_eV"] for r in results], abs=1e-9)  # JSON prints 10 digits


def test_built_database_holds_every_structures_barriers(db_path):
    """structure_bvse has one row per structure; the packaged end members' energies are bvse_of_structure's."""
    with sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True) as conn:
        n_structures = conn.execute("SELECT COUNT(*) FROM structures").fetchone()[0]
        rows = {name: (status, e1, e3, json.loads(parameters)) for name, status, e1, e3, parameters in conn.execute(
            "SELECT s.name, b.status, b.e_1d_eV, b.e_3d_eV, b.parameters_json FROM structure_bvse b "
            "JOIN structures s ON s.id = b.structure_id")}
    assert len(rows) == n_structures and all(status == "ok" for status, *_ in rows.values())
    for path in structure_files():
        if path.stem.startswith("Li6PS5"):
            expected = bvse.bvse_of_structure(analyse(path))
            _status, e1, e3, parameters = rows[path.stem]
            assert (e1, e3) == (expected.e_1d_eV, expected.e_3d_eV)
            assert parameters["resolution_angstrom"] == bvse.RESOLUTION_ANGSTROM and parameters["r_cut_angstrom"] == 10.0
    assert np.isclose(rows["Li6PS5Cl"][2], 0.327, atol=0.002)
