"""Every output that hands on a predicted lattice parameter says so, and says when it is an extrapolation of the
lattice model (issue 25 item 4): build/density/xrd JSON (a_kind, a_extrapolated, a_extrapolated_because), the xrd
report line and plot legend, approximant files. LMA-Cl0.8I0.6 (Table S2 prints no a) is predicted with an
uncalibrated halide excess of +0.4; Li6PS5Cl.yaml carries its published a."""

from __future__ import annotations

import json

import pytest

from argyrodb.core.chemistry import parse_formula
from argyrodb.physics.lattice import model, predict, source_flags
from argyrodb_testing import LMA, run, structure

EXCESS_NOTE = "halide excess y - 1 = +0.4 has no calibration data"


def _lma_a() -> float:
    return model().predict(parse_formula("Li5.6PS4.6Cl0.8I0.6"))[0]


@pytest.mark.parametrize("command", [["build", str(LMA), "--json"], ["density", str(LMA), "--json"],
                                     ["xrd", str(LMA), "--two-theta", "10", "40", "--json"]])
def test_json_of_a_predicted_extrapolated_a_has_the_flag_and_the_reason(command):
    result = run(*command)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["a_angstrom"] == pytest.approx(_lma_a(), abs=1e-6)
    assert payload["a_kind"] == "predicted" and payload["a_extrapolated"] is True
    assert payload["a_extrapolated_because"] == EXCESS_NOTE
    assert payload["a_source"].startswith("predicted, extrapolated (" + EXCESS_NOTE)
    assert 0.01 < payload["a_sigma_angstrom"] < 0.05


@pytest.mark.parametrize("command, kind", [
    (["build", str(structure("Li6PS5Cl")), "--json"], "reported"),   # the file's published a (Rao & Adams 2011)
    (["density", "Li6PS5Cl", "--json"], "predicted"),                  # inside the calibration: not extrapolated
    (["density", "Li5.6PS4.6Cl0.8I0.6", "--a", "9.97", "--json"], "given"),
    (["xrd", str(structure("Li6PS5Cl")), "--two-theta", "10", "40", "--json"], "reported"),
])
def test_json_of_any_other_a_says_it_is_not_extrapolated(command, kind):
    payload = json.loads(run(*command).stdout)
    assert payload["a_kind"] == kind and payload["a_extrapolated"] is False and payload["a_extrapolated_because"] is None


def test_density_of_an_extrapolated_formula_says_so():
    payload = json.loads(run("density", "Li5.5PS4.5Cl1.5", "--json").stdout)
    assert payload["a_extrapolated"] is True and payload["a_extrapolated_because"] == (
        "halide excess y - 1 = +0.5 has no calibration data")


def test_xrd_report_line_and_plot_legend_say_lattice_model_extrapolated(tmp_path):
    png = tmp_path / "lma.png"
    result = run("xrd", str(LMA), "--two-theta", "10", "40", "--plot", str(png), "--compare", str(structure("Li6PS5Cl")))
    assert result.returncode == 0, result.stderr
    a, sigma, _ = model().predict(parse_formula("Li5.6PS4.6Cl0.8I0.6"))
    assert result.stdout.splitlines()[0].startswith(
        f"LMA-Cl0.8I0.6: a = {a:.5f} +- {sigma:.3f} A (lattice model, extrapolated: halide excess +0.4), CuKa1")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_legend_marks_the_predicted_a_and_only_it():
    from argyrodb.api import analyse
    from argyrodb.physics.plots import pattern_figure

    lma, chloride = (analyse(path).pattern() for path in (LMA, structure("Li6PS5Cl")))
    fig = pattern_figure([lma, chloride])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    a, sigma, _ = model().predict(parse_formula("Li5.6PS4.6Cl0.8I0.6"))
    assert legend[0] == f"LMA-Cl0.8I0.6 (a = {a:.4f} ± {sigma:.3f} Å (lattice model, extrapolated: halide excess +0.4))"
    assert legend[1] == f"Li6PS5Cl (a = {chloride.a_angstrom:.4f} Å)"  # a published a: no model note
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_approximant_files_record_where_a_comes_from(tmp_path):
    result = run("approximants", "Li5.6PS4.6Cl0.8I0.6", "-n", "1", "--candidates", "2", "--format", "poscar,cif",
                 "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    a, sigma, _ = model().predict(parse_formula("Li5.6PS4.6Cl0.8I0.6"))
    note = f"a = {a:.4f} +- {sigma:.3f} A (lattice model, extrapolated: halide excess +0.4)"
    assert f"cell {note}" in result.stdout
    assert (tmp_path / "Li5.6PS4.6Cl0.8I0.6-01.POSCAR").read_text().splitlines()[0].endswith(f"; {note}")
    cif = (tmp_path / "Li5.6PS4.6Cl0.8I0.6-01.cif").read_text()
    assert "_argyrodb_a_source                  'lattice model, extrapolated: halide excess +0.4'" in cif
    assert "_argyrodb_a_extrapolated            'yes'" in cif


@pytest.mark.parametrize("formula", ["Li5.6PS4.6Cl0.8I0.6", "Li7GeS5I", "Li6.5P0.5Ge0.5S5Cl", "Li6PS5Cl", "Li6PS5Br0.5I0.5"])
def test_stored_a_source_reads_back_as_predicted_and_extrapolated(formula):
    """The database keeps predict()'s text (a_source); source_flags reads the flag and the reason back from it."""
    lattice = predict(parse_formula(formula), formula)
    assert source_flags(lattice.source) == (True, lattice.extrapolated_because)
    assert source_flags("given by the user") == (False, None) and source_flags(None) == (False, None)
