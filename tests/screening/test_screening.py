"""Screening: family parsing, the site model, end points against the reference structures, fast path
against a direct per-structure calculation, stored and resumable runs, ordered approximants."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from argyrodb.api import analyse, density_of_formula, predict_lattice
from argyrodb.core.chemistry import parse_formula
from argyrodb.core.errors import InputError
from argyrodb.physics.xrd import XRDModel, simulate
from argyrodb.pipeline.build import build_database
from argyrodb.screening.families import grid, parse_family, parse_range
from argyrodb.screening.runs import run_results, run_screen
from argyrodb.screening.screener import Screener, ScreenSettings
from argyrodb.store.screening_runs import query_screen
from argyrodb_testing import run, structure

X_SERIES = ScreenSettings("Li5.6PS4.6Cl1.4-xIx", {"x": parse_range("0:1.4:0.1", "x")})


@pytest.fixture(scope="module")
def x_series():
    return Screener(X_SERIES)


def test_family_parsing():
    family = parse_family("Li5.6PS4.6Cl1.4-xIx")
    assert family.variables == ("x",)
    assert family.composition({"x": 0.6}) == {"Li": 5.6, "P": 1.0, "S": 4.6, "Cl": 0.8, "I": 0.6}
    excess = parse_family("Li7-yPS6-yCl(y*(1-z))Br(y*z)")
    assert excess.composition({"y": 1.5, "z": 0.4}) == pytest.approx({"Li": 5.5, "P": 1.0, "S": 4.5, "Cl": 0.9, "Br": 0.6})
    assert len(grid({"x": parse_range("0:1.4:0.1", "x")})) == 15
    for bad, message in (("Li5.6PS4.6Qq1.4", "unknown element"), ("Li5.6PS4.6Cl1.4-x*", "cannot read the amount"),
                         ("Li(x", "unbalanced"), ("Li__import__", "expected an element")):
        with pytest.raises(InputError, match=message):
            parse_family(bad)
    with pytest.raises(InputError, match=r"needs a range for the variable.s. x"):
        ScreenSettings("Li5.6PS4.6Cl1.4-xIx").compositions()


def test_every_built_composition_matches_its_formula():
    settings = ScreenSettings("Li7-yPS6-yCl(y*(1-z))Br(y*z/2)I(y*z/2)", {"y": parse_range("1:1.6:0.1", "y"), "z": parse_range("0:1:0.25", "z")})
    screener = Screener(settings)
    for index, (_, amounts) in enumerate(screener.points):
        occupancy = screener.model.occupancies(amounts)
        assert np.all(occupancy >= -1e-12) and np.all(occupancy <= 1 + 1e-12)
        assert np.all(occupancy.sum(axis=1) <= 1 + 1e-9)
        cell = screener.model.cell_amounts(occupancy)
        assert {el: n / 4 for el, n in cell.items()} == pytest.approx({el: n for el, n in amounts.items() if n > 0}, abs=1e-9)
        assert screener.evaluate(index)["status"] == "ok"


def test_non_neutral_and_infeasible_compositions_are_skipped():
    screener = Screener(ScreenSettings("Li6PS5Cl(1-x)I(x+0.5)", {"x": [0.0, 0.5]}))
    result = screener.evaluate(0)
    assert result["status"] == "skipped" and "not charge-neutral (-0.500" in result["reason"]
    beyond = Screener(ScreenSettings("Li5.6PS4.6Cl1.4-xIx", {"x": [1.6]})).evaluate(0)
    assert beyond["status"] == "skipped" and "negative amount of Cl" in beyond["reason"]
    crowded = Screener(ScreenSettings("Li4PS3Cl3", formulas=["Li4PS3Cl3"])).evaluate(0)
    assert crowded["status"] == "skipped" and "16e" in crowded["reason"]


def test_x_series_end_points_against_the_reference_structures(x_series):
    for index, reference_name, strongest in ((0, "Li6PS5Cl", [(3, 1, 1), (2, 2, 0)]), (14, "Li6PS5I", [(2, 2, 0), (3, 1, 1)])):
        result = x_series.evaluate(index)
        reference = simulate(analyse(structure(reference_name)), two_theta_range=(10, 80))
        # lattice parameter within 2 sigma of the reference's published value
        assert abs(result["a_angstrom"] - reference.a_angstrom) < 2 * result["a_sigma_angstrom"]
        ours = sorted(x_series.peaks(result), key=lambda p: -p[5])[:2]
        assert [p[1] for p in ours] == strongest
        ref_peaks = reference.peaks.set_index(["h", "k", "l"])
        for _, hkl, two_theta, *_ in ours:
            assert two_theta == pytest.approx(ref_peaks.loc[hkl, "two_theta_deg"], abs=0.06)


def test_screen_and_density_report_the_same_lattice_parameter(x_series):
    """One lattice model: the screening row for x = 0.6 and `argyrodb density` give the same a and sigma."""
    result = x_series.evaluate(6)
    assert result["formula"] == "Li5.6PS4.6Cl0.8I0.6"
    formula = parse_formula("Li5.6PS4.6Cl0.8I0.6")
    lattice = predict_lattice(formula)
    density = density_of_formula(formula, lattice.a_angstrom)
    # exact: both call the same lattice model on one composition (one row, the same numpy path)
    assert result["a_angstrom"] == lattice.a_angstrom and result["a_sigma_angstrom"] == lattice.sigma_angstrom
    assert result["density_g_cm3"] == pytest.approx(density.density_g_cm3, rel=1e-12)
    assert analyse(structure("LMA-Cl0.8I0.6")).a_angstrom == lattice.a_angstrom


def test_peaks_of_results_another_screener_computed():
    """A worker process's results read by a screener that evaluated nothing itself: the same peak lists (the line
    labels' reflections are made on demand; was AttributeError)."""
    settings = ScreenSettings("Li5.6PS4.6Cl1.4-xIx", {"x": [0.0, 0.7]}, wavelength="CuKa12")
    worker = Screener(settings)
    results = worker.evaluate_chunk([0, 1])
    reader = Screener(settings)
    for result in results:
        assert reader.peaks(result) == worker.peaks(result) and len(result["lines"].position) > 20


def test_fast_path_agrees_with_direct_calculation(x_series):
    rng = np.random.default_rng(3)
    grid = {"y": list(np.round(rng.uniform(1.0, 1.6, 4), 3)), "z": list(np.round(rng.uniform(0, 1, 3), 3))}
    settings = ScreenSettings("Li7-yPS6-yCl(y*(1-z))I(y*z)", grid)
    screener = Screener(settings)
    for index in rng.choice(len(screener.points), 5, replace=False):
        fast = screener.evaluate(int(index))
        structure = screener.structure(int(index))
        direct = XRDModel.from_structure(structure).pattern(two_theta_range=(10, 80)).peaks
        fast_tt = np.array([p[2] for p in screener.peaks(fast)])
        fast_rel = np.array([p[5] for p in screener.peaks(fast)])
        # rtol 0: allclose's default rtol 1e-5 would add up to 8e-4 deg and 1e-3 points to these atol
        np.testing.assert_allclose(np.sort(fast_tt), np.sort(direct["two_theta_deg"].to_numpy()), rtol=0, atol=1e-9)
        order = np.argsort(fast_tt)
        np.testing.assert_allclose(fast_rel[order], direct.sort_values("two_theta_deg")["intensity_rel"].to_numpy(),
                                   rtol=0, atol=5.01e-4)  # the fast path keeps 3 decimals (<= 5e-4)
        # against pymatgen: its CODATA u vs argyrodb's (1 g/mol) / N_A, ~1e-9 relative since the 2019 SI
        assert fast["density_g_cm3"] == pytest.approx(structure.density, rel=1e-8)
        assert structure.composition.reduced_formula  # a valid pymatgen Structure


def test_run_is_stored_resumed_and_carried_over(tmp_path):

    db = tmp_path / "a.sqlite"
    build_database(db, show_progress=False)
    first = run_screen(X_SERIES, db, show_progress=False, chunk_size=4)
    assert (first["computed"], first["ok"]) == (15, 15)
    again = run_screen(X_SERIES, db, show_progress=False)
    assert (again["already_stored"], again["computed"]) == (15, 0)
    results = run_results(first["run_id"], db)
    assert results["x"].tolist() == pytest.approx([i / 10 for i in range(15)])
    assert results.loc[6, "formula"] == "Li5.6PS4.6Cl0.8I0.6" and results.loc[6, "nearest_distance"] == 0
    build_database(db, show_progress=False)  # a rebuild keeps the computed runs
    assert len(run_results(first["run_id"], db)) == 15


def test_parallel_jobs_give_the_same_results(fresh_db, tmp_path):
    serial, parallel = fresh_db, tmp_path / "p.sqlite"
    parallel.write_bytes(serial.read_bytes())
    run_screen(X_SERIES, serial, show_progress=False)
    run_screen(X_SERIES, parallel, jobs=2, show_progress=False, chunk_size=3)
    a, b = run_results(1, serial), run_results(1, parallel)
    # one chunk of 15 against chunks of 3: the lattice model's matrix product runs through BLAS kernels chosen by
    # the chunk's shape (a one-row chunk already differs from a batch by an ulp), so rel 1e-12, not bit equality;
    # a row given another composition's a would be >= 1e-3 off
    np.testing.assert_allclose(a["a_angstrom"], b["a_angstrom"], rtol=1e-12, atol=0)
    assert a["strongest_hkl"].tolist() == b["strongest_hkl"].tolist()


def test_killed_run_resumes(fresh_db):
    db = fresh_db
    command = [sys.executable, "-m", "argyrodb", "screen", "Li5.6PS4.6Cl1.4-xIx", "--x", "0:1.4:0.00005", "--db", str(db), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        try:
            with sqlite3.connect(db, timeout=5) as conn:
                stored = conn.execute("SELECT COUNT(*) FROM screen_results").fetchone()[0]
        except sqlite3.OperationalError:
            continue
        if stored >= 500:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert 0 < stored < 28001, "the run must be killed mid-way"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        before = conn.execute("SELECT COUNT(*) FROM screen_results").fetchone()[0]
    assert before % 250 == 0  # only whole chunks were committed
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"{before} already stored, {28001 - before} computed" in result.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT idx) FROM screen_results").fetchone() == (28001, 28001)


def test_cli_screen_export_and_plots(fresh_db, tmp_path):
    from argyrodb_testing import run

    db = fresh_db
    out = tmp_path / "x.parquet"
    result = run("screen", "Li5.6PS4.6Cl1.4-xIx", "--x", "0:1.4:0.35", "--db", str(db), "--export", str(out),
                 "--plots", str(tmp_path / "plots"), "--quiet")
    assert result.returncode == 0, result.stderr
    import pandas as pd

    frame = pd.read_parquet(out)
    assert frame["formula"].tolist() == ["Li5.6PS4.6Cl1.4", "Li5.6PS4.6Cl1.05I0.35", "Li5.6PS4.6Cl0.7I0.7", "Li5.6PS4.6Cl0.35I1.05", "Li5.6PS4.6I1.4"]
    # the whole series has the uncalibrated halide excess 0.4: the export and the summary say so
    assert frame["extrapolated"].tolist() == [1] * 5
    assert ("a extrapolated for 5 of 5 compositions (outside the lattice model's calibration: halide excess y - 1 = +0.4 "
            "has no calibration data;") in result.stdout
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["series-lattice-density.png", "series-patterns.png", "series-zoom.png"]


def test_approximants(tmp_path):
    from ase.io import read

    from argyrodb.screening.approximants import CompositionWarning, generate, write

    screener = Screener(ScreenSettings("x", formulas=["Li5.6PS4.6Cl0.8I0.6"]))
    with pytest.warns(CompositionWarning, match=r"built Li5.75PS4.75Cl0.75I0.5, .* Li\+0.15 S\+0.15 Cl-0.05 I-0.1"):
        found = generate(screener, 0, n_structures=3, candidates=12, seed=7)
    energies = [a.ewald_energy_eV for a in found]
    assert energies == sorted(energies)
    for approximant in found:
        structure = approximant.structure
        assert structure.is_ordered
        counts = structure.composition.get_el_amt_dict()
        charge = counts["Li"] + 5 * counts["P"] - 2 * counts["S"] - counts["Cl"] - counts["I"]
        assert charge == 0
        target = {"Li": 22.4, "P": 4, "S": 18.4, "Cl": 3.2, "I": 2.4}
        assert all(abs(counts[el] - n) <= 1.0 for el, n in target.items())
    with pytest.warns(CompositionWarning):
        again = generate(screener, 0, n_structures=3, candidates=12, seed=7)
    assert [a.ewald_energy_eV for a in again] == energies  # fixed seed: reproducible
    paths = write(found[:1], tmp_path, "LMA", ["poscar", "extxyz", "cif"])
    for path in paths:
        atoms = read(path)
        assert len(atoms) == len(found[0].structure)


def test_halide_free_grid_point_is_skipped_not_fatal():
    from argyrodb.screening.screener import Screener, ScreenSettings

    screener = Screener(ScreenSettings("Li7-xPS6-xClx", {"x": [0.0, 1.0]}))
    first, second = screener.evaluate(0), screener.evaluate(1)
    assert first["status"] == "skipped" and "no lattice parameter" in first["reason"]
    assert second["status"] == "ok"


def test_run_key_follows_the_template_content(tmp_path):
    from argyrodb.screening.screener import default_template

    a, b = tmp_path / "a" / "t.yaml", tmp_path / "b" / "t.yaml"
    for path, occupancy in ((a, "0.5252"), (b, "0.0500")):
        path.parent.mkdir()
        path.write_text(Path(default_template()).read_text().replace("0.0148, 0.5252", f"0.0148, {occupancy}"))
    keys = {ScreenSettings("Li6PS5Cl", formulas=["Li6PS5Cl"], template=str(p)).key() for p in (a, b)}
    assert len(keys) == 2


def test_elements_without_a_site_are_refused_not_dropped(tmp_path):
    from argyrodb.screening.screener import Screener, ScreenSettings

    result = Screener(ScreenSettings("x", formulas=["Li5.5Na0.5PS5Cl"])).evaluate(0)
    assert result["status"] == "skipped" and "Na has no site" in result["reason"]
    cli = run("approximants", "Li5.5Na0.5PS5Cl", "-n", "1", "--candidates", "2", "--out", str(tmp_path / "ap"))
    assert cli.returncode == 2 and "Na has no site" in cli.stderr and not (tmp_path / "ap").exists()


def test_screening_stores_the_nearest_materials_spread_and_the_extrapolation(fresh_db):
    db = fresh_db
    settings = ScreenSettings("x", formulas=["Li6PS5Cl", "Li5.6PS4.6Cl0.8I0.6"])
    summary = run_screen(settings, db, show_progress=False)
    rows = run_results(summary["run_id"], db).set_index("formula")
    cl = rows.loc["Li6PS5Cl"]
    assert cl["nearest_formula"] == "Li6PS5Cl" and cl["nearest_n"] == 3
    assert (cl["nearest_sigma_min_mS_cm"], cl["nearest_sigma_mS_cm"], cl["nearest_sigma_max_mS_cm"]) == pytest.approx((0.033, 1.3, 2.05))
    assert cl["a_note"] is None or cl["a_note"] != cl["a_note"]  # inside the calibration: no note
    assert "extrapolated: halide excess" in rows.loc["Li5.6PS4.6Cl0.8I0.6", "a_note"]
    assert rows["extrapolated"].to_dict() == {"Li6PS5Cl": 0, "Li5.6PS4.6Cl0.8I0.6": 1}
    assert query_screen(summary["run_id"], "extrapolated=1", columns=("formula",), db_path=db)["formula"].tolist() == [
        "Li5.6PS4.6Cl0.8I0.6"]
