"""The lattice model: calibrated across halides, Se, Si and Ge on cited data; extrapolation flagged;
uncalibrated elements refused; the same a in every command."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest

from argyrodb.core.chemistry import parse_formula
from argyrodb.core.errors import InputError
from argyrodb.physics.lattice import model, predict
from argyrodb_testing import STRUCTURES


def _published(composition: str, doi: str) -> float:
    rows = list(csv.DictReader((STRUCTURES / "lattice_parameters.csv").open()))
    wanted = parse_formula(composition)
    return next(float(r["a_angstrom"]) for r in rows
                if r["doi"] == doi and parse_formula(r["composition"]) == pytest.approx(wanted))


def test_every_row_is_cited_and_exclusions_say_why():
    rows = list(csv.DictReader((STRUCTURES / "lattice_parameters.csv").open()))
    assert len(rows) >= 50
    assert all(r["doi"].startswith("10.") for r in rows)
    excluded = [r for r in rows if r["use"] != "fit"]
    assert excluded and all(len(r["note"]) > 20 for r in excluded)
    assert model().n_points == len(rows) - len(excluded)


def test_the_fit_is_a_least_squares_solution():
    """Independent check: numpy's lstsq on the same design reproduces the coefficients."""
    fit = model()
    rows = [r for r in csv.DictReader((STRUCTURES / "lattice_parameters.csv").open()) if r["use"] == "fit"]
    design, target = [], []
    for r in rows:
        amounts = parse_formula(r["composition"])
        total = sum(amounts.get(x, 0.0) for x in ("Cl", "Br", "I"))
        design.append([amounts.get(f[2:], 0.0) / total if f.startswith("f_") else amounts.get(f[2:], 0.0) for f in fit.features])
        target.append(float(r["a_angstrom"]))
    solution, *_ = np.linalg.lstsq(np.array(design), np.array(target), rcond=None)
    # the design is well conditioned (cond ~9): LAPACK builds move a coefficient by ~1e-14 A at most. atol 1e-10 A,
    # rtol 0 (allclose's default rtol 1e-5 would pass 1e-4 A on a = 10 A), ten orders inside the 0.02 A residual
    np.testing.assert_allclose(solution, fit.coefficients, rtol=0, atol=1e-10)
    assert fit.residual_std < 0.02
    assert set(fit.loo_rms) == {"halides", "Se", "Si", "Ge"} and max(fit.loo_rms.values()) < 0.03


@pytest.mark.parametrize("family, x_values, end, doi", [
    ("Li6PS{s}Se{x}Br", [0.0, 0.25, 0.5, 0.75, 1.0], "Li6PS4SeBr", "10.1021/acs.inorgchem.8b02443"),
    ("Li{li}P{p}Ge{x}S5I", [0.0, 0.1, 0.25, 0.4, 0.5], "Li6.5P0.5Ge0.5S5I", "10.1021/jacs.8b10282"),
    ("Li{li}P{p}Si{x}S5Br", [0.0, 0.1, 0.2, 0.3, 0.5], "Li6.5P0.5Si0.5S5Br", "10.1039/c7ta08581h"),
])
def test_substituted_series_rise_and_land_on_the_published_end(family, x_values, end, doi):
    values = []
    for x in x_values:
        formula = family.format(x=x, s=5 - x, li=6 + x, p=1 - x).replace("Se0.0", "").replace("Ge0.0", "").replace("Si0.0", "")
        values.append(predict(parse_formula(formula), formula).a_angstrom)
    assert all(b > a for a, b in itertools.pairwise(values))  # a rises with x
    assert values[-1] == pytest.approx(_published(end, doi), abs=0.03)


def test_outside_the_calibration_is_flagged_or_refused():
    inside = predict(parse_formula("Li6.5P0.5Ge0.5S5I"))
    beyond = predict(parse_formula("Li7GeS5I"))  # Ge 1.0: calibrated only to 0.8
    assert "extrapolated" not in inside.source and "extrapolated" in beyond.source
    assert beyond.sigma_angstrom > inside.sigma_angstrom
    rich = predict(parse_formula("Li5.6PS4.6Cl0.8I0.6"))  # halide excess: no calibration data
    assert "halide excess" in rich.source and rich.sigma_angstrom > predict(parse_formula("Li6PS5Cl0.5I0.5")).sigma_angstrom
    for formula, element in (("Li6PS5F0.5Cl0.5", "F"), ("Li6PS4.5O0.5Cl", "O"), ("Li6.5P0.5Sn0.5S5I", "Sn")):
        with pytest.raises(InputError, match=f"no calibration data for {element}"):
            predict(parse_formula(formula), formula)
