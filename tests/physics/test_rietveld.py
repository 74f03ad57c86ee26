"""Powder refinement (issue 14): patterns simulated by another program (xrayutilities, fundamental-parameters
profile, Poisson noise; tests/data/refine/*.truth.yaml holds what went in) refined from a perturbed start;
a self-consistency round trip; the Hill-Howard identity; the CLI's outputs and its bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from argyrodb import api
from argyrodb.cli.render import refinement_json
from argyrodb.core.errors import ParameterError
from argyrodb.physics import rietveld
from argyrodb.physics.rietveld import (
    RefinementSettings,
    Refiner,
    argyrodite_phase,
    impurity_phase,
)
from argyrodb.pipeline import refine as refine_module
from argyrodb.pipeline.build import build_database
from argyrodb.pipeline.refine import _main_phase, impurity_structure, refine_pattern
from argyrodb.pipeline.series import start_values
from argyrodb.store.queries import run_sql
from argyrodb_testing import DATA, LMA, REPO, run

REFINE = DATA / "refine"


def _truth(case: str) -> dict:
    return yaml.safe_load((REFINE / f"{case}.truth.yaml").read_text())


def _site(phase: dict, wyckoff: str) -> dict:
    return next(s for s in phase["sites"] if s["wyckoff"] == wyckoff)


def _electrons(occupancies: dict) -> float:
    z = {"S": 16, "Cl": 17, "Br": 35, "I": 53}
    return sum(z[el] * v for el, v in occupancies.items())


@pytest.fixture(scope="module")
def lma_licl(tmp_path_factory):
    """`argyrodb refine --free-totals` on LMA-Cl0.8I0.6 + 3 wt % LiCl, written, plotted and stored. This case's truth
    is Table S2's refined composition (I 0.994 per f.u.), not the nominal (I 0.6): only free totals can find it."""
    out = tmp_path_factory.mktemp("refine")
    db = out / "a.sqlite"
    build_database(db, show_progress=False, literature_structures_included=False)
    result = run("refine", str(REFINE / "lma_licl.xye"), "--start", str(REFINE / "lma_licl.start.yaml"), "--phase", "LiCl",
                 "--free-totals", "--json", "--out", str(out / "refined.yaml"), "--plot", str(out / "fit.png"), "--db", str(db))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), out, db


def test_lma_licl_recovers_the_truth_of_another_simulator(lma_licl):
    payload, _, _ = lma_licl
    truth = _truth("lma_licl")
    main_true, licl_true = truth["phases"][0], truth["phases"][1]
    main, licl = payload["phases"]
    assert main["a_angstrom"] == pytest.approx(main_true["a_angstrom"], abs=0.001)  # 10.003 A, start 10.023
    assert licl["a_angstrom"] == pytest.approx(licl_true["a_angstrom"], abs=0.002)
    assert 100 * licl["weight_fraction"] == pytest.approx(100 * licl_true["weight_fraction"], abs=0.5)  # 3 wt %
    assert payload["zero_shift_deg"] == pytest.approx(truth["instrument"]["zero_shift_deg"], abs=0.01)
    assert payload["gof"] < 2.0
    for wyckoff in ("4a", "4d"):
        site = _site(main, wyckoff)
        true = main_true["anion_sites"][wyckoff]
        assert site["occupancies"]["I"] == pytest.approx(true["I"], abs=0.02)
        # S and Cl differ by one electron: Cl is recovered only within its (large, honest) esd
        assert abs(site["occupancies"]["Cl"] - true["Cl"]) <= 2 * site["occupancy_esds"]["Cl"]
        assert site["occupancy_esds"]["Cl"] > 0.1
    assert any("S and Cl differ by one electron" in w for w in payload["warnings"])
    # free totals find the off-nominal truth and say how far it is from the nominal, and that it is not neutral
    assert main["composition_per_fu"]["I"] == pytest.approx(0.994, abs=0.03)
    assert any("refined I" in w and "esd from the nominal 0.6" in w for w in payload["warnings"])
    assert any("not charge-neutral" in w for w in payload["warnings"])
    assert payload["reliable"] is True and main["detected"] is True
    # the bundled LiCl has no published B: the B it is given is said, not hidden
    assert any(w.startswith("LiCl: no displacement parameters") and "B = 1 A^2 held for Cl1, Li1" in w for w in payload["warnings"])


def test_lma_licl_outputs_read_back(lma_licl):
    payload, out, db = lma_licl
    refined = api.analyse(out / "refined.yaml")
    assert refined.a_angstrom == pytest.approx(payload["phases"][0]["a_angstrom"], abs=1e-5)
    assert refined.refinement.provenance["pattern_sha256"] == payload["settings"]["pattern_sha256"]
    i_4a = sum(r.occupancy for p in refined.positions if p.wyckoff.symbol == "4a" for r in p.rows if r.element == "I")
    assert i_4a == pytest.approx(_site(payload["phases"][0], "4a")["occupancies"]["I"], abs=1e-5)
    from pymatgen.core import Structure

    cif = Structure.from_file(out / "refined.cif")
    assert cif.lattice.a == pytest.approx(refined.a_angstrom, abs=1e-5)  # the CIF writes a to 5 decimals (<= 5e-6 A)
    assert (out / "fit.png").read_bytes()[:4] == b"\x89PNG"
    row = run_sql("SELECT r.gof, r.r_wp, r.a_angstrom, s.dataset, s.name FROM refinements r "
                      "JOIN structures s ON s.id = r.structure_id", db)
    assert len(row) == 1 and row["gof"][0] == pytest.approx(payload["gof"]) and row["dataset"][0] == "user"
    # a rebuild keeps the refinement and stores its structure again
    counts = build_database(db, show_progress=False, literature_structures_included=False)
    assert counts["refinements_kept"] == 1
    again = run_sql("SELECT r.a_angstrom, s.a_angstrom AS structure_a FROM refinements r JOIN structures s ON s.id = r.structure_id", db)
    assert again["structure_a"][0] == pytest.approx(payload["phases"][0]["a_angstrom"], abs=1e-5)


def test_bri_licl_lattice_impurity_and_what_xrays_can_tell():
    """Br and I on sites that also hold S: X-ray intensities fix each site's electron count; holding the nominal
    totals (the default) leaves one Br and one I split, which the data determine."""
    truth = _truth("bri_licl")
    result, _refined, _ = refine_pattern(REFINE / "bri_licl.xye", REFINE / "bri_licl.start.yaml", ("LiCl",))
    payload = refinement_json(result)
    main, licl = payload["phases"]
    assert main["a_angstrom"] == pytest.approx(truth["phases"][0]["a_angstrom"], abs=0.001)
    assert 100 * licl["weight_fraction"] == pytest.approx(3.0, abs=0.5)
    assert payload["gof"] < 2.0
    for wyckoff in ("4a", "4d"):
        true = truth["phases"][0]["anion_sites"][wyckoff]
        for element in ("Br", "I"):  # issue 23: Br/I within 0.03 a site
            assert _site(main, wyckoff)["occupancies"][element] == pytest.approx(true[element], abs=0.03)
    assert any(w.startswith("held at the nominal formula Li6PS5Br0.5I0.5") for w in payload["warnings"])
    assert main["composition_per_fu"]["Br"] == pytest.approx(0.5, abs=1e-6)
    assert main["charge_per_fu"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("case, phases, halides", [
    ("lma_nominal", ("LiCl",), ("I",)), ("cl_pure", (), ()), ("brcl_li2s", ("Li2S",), ("Br",))])
def test_default_holds_the_nominal_composition_not_the_start_files(case, phases, halides):
    """Issue 23: the truth is the nominal, charge-neutral composition; lma_nominal starts from Table S2 as printed
    (Cl 0.451, I 0.899 per f.u., 4d sum 0.8322, Li 6.54), which the old default held."""
    truth = _truth(case)
    result, refined, _ = refine_pattern(REFINE / f"{case}.xye", REFINE / f"{case}.start.yaml", phases)
    payload = refinement_json(result)
    main = payload["phases"][0]
    true_main = truth["phases"][0]
    assert payload["reliable"], payload["reasons"]
    assert main["a_angstrom"] == pytest.approx(true_main["a_angstrom"], abs=0.001)
    for element, amount in true_main["formula_per_fu"].items():  # the held totals are the truth's, to 0.1 and better
        assert main["composition_per_fu"][element] == pytest.approx(amount, abs=0.1 if element == "Li" else 1e-4)
    assert main["charge_per_fu"] == pytest.approx(0.0, abs=1e-4)
    for wyckoff in ("4a", "4d"):
        site = _site(main, wyckoff)
        for element in halides:
            assert site["occupancies"][element] == pytest.approx(true_main["anion_sites"][wyckoff][element], abs=0.03)
        if "Cl" in site["occupancies"] and "S" in site["occupancies"]:
            assert {"S", "Cl"} <= set(site["undetermined"])  # one electron apart: said, not hidden behind an esd
        assert sum(site["occupancies"].values()) == pytest.approx(1.0, abs=1e-6)
    for impurity, true in zip(payload["phases"][1:], truth["phases"][1:]):
        assert impurity["detected"] is True
        assert 100 * impurity["weight_fraction"] == pytest.approx(100 * true["weight_fraction"], abs=0.5)
    # a correlation is a correlation; a parameter at a bound is held there for the covariance (no esd)
    assert all(abs(c["r"]) <= 1 + 1e-9 for c in payload["correlations"])
    for p in result.parameters.values():
        if p.refine and min(p.value - p.lower, p.upper - p.value) <= 1e-9 * max(abs(p.lower), abs(p.upper), 1.0):
            assert p.esd is None, p.name
    if case == "lma_nominal":
        assert any("the start file's totals (Cl 0.4508, I 0.8989) differ from the held ones (Cl 0.8, I 0.6)" in w
                   for w in payload["warnings"])
        assert any("Li is held at the nominal 5.6" in w for w in payload["warnings"])
        assert any("the anion sites are held full" in w and "4d 0.8322" in w for w in payload["warnings"])
        # the written structure carries the held Li
        assert api.analyse(refined).formula_per_fu["Li"] == pytest.approx(5.6, abs=1e-3)


def test_an_absent_phase_is_not_detected_with_an_upper_bound():
    """Li6PS5Cl alone refined with LiCl and Li2S: neither is there; each is 'not detected' with an upper bound, no
    weight fraction and no a."""
    result, _, _ = refine_pattern(REFINE / "cl_pure.xye", REFINE / "cl_pure.start.yaml", ("LiCl", "Li2S"))
    payload = refinement_json(result)
    main, *absent = payload["phases"]
    assert main["detected"] and main["weight_fraction"] == pytest.approx(1.0)
    for phase in absent:
        assert phase["detected"] is False and phase["weight_fraction"] is None and phase["a_angstrom"] is None
        assert 0 < phase["weight_fraction_upper_bound"] < 0.01  # below 1 wt %
        assert phase["significance_sigma"] < 3
        assert any(w.startswith(f"{phase['name']} is not detected") for w in payload["warnings"])


def test_a_second_phase_absent_from_the_start_is_held_and_costs_no_iterations():
    """cl_pure refined with LiBr, which is not there: at the start values (a from the lattice scan, scales solved)
    LiBr is below 3 sigma, so its a and widths are held and only its scale refined. Without the hold its a and
    widths wandered over noise: 1,139 model evaluations against 289 measured here (the bound: 2x the fit with the
    main phase alone, 330 with --refine-free main-phase parameters)."""
    settings = RefinementSettings(wavelength="CuKa12")
    data = np.loadtxt(REFINE / "cl_pure.xye")
    main = _main_phase(REFINE / "cl_pure.start.yaml", tie_totals=None, nominal=None)
    libr = impurity_phase(*impurity_structure("LiBr"))
    refiner = Refiner(data[:, 0], data[:, 1], data[:, 2], [main, libr], settings)
    result = refiner.run()
    assert refiner.held_absent == {"LiBr": 3}  # its a, U and Y
    assert not result.parameters["a:LiBr"].refine and result.parameters["a:LiBr"].esd is None
    assert any(w.startswith("LiBr: below 3 sigma with its a and widths at their starts") for w in result.warnings)
    assert result.phases[1]["detected"] is False and result.phases[1]["weight_fraction_upper_bound"] < 0.001
    assert refiner.n_evaluations < 2 * 330  # the fit of the main phase alone takes ~300
    assert result.phases[0]["a_angstrom"] == pytest.approx(_truth("cl_pure")["phases"][0]["a_angstrom"], abs=5e-4)


def test_a_phase_whose_lines_broaden_to_their_bounds_is_not_detected():
    """clbr_pure has no impurity. Refined with Li2S, the Li2S scale stands at 7 sigma on the whole pattern: with U
    and Y at their upper bounds (4 nm crystallites) and a 1.2 % above its structure's, its "lines" take up a
    2-degree-wide excess at 26.5-28.5 deg (the simulation's background against the Chebyshev one). Such a phase
    is not detected, and the note says why."""
    result, _, _ = refine_pattern(REFINE / "clbr_pure.xye", REFINE / "clbr_pure.start.yaml", ("Li2S",))
    payload = refinement_json(result)
    main, li2s = payload["phases"]
    assert li2s["detected"] is False and li2s["a_angstrom"] is None and li2s["weight_fraction"] is None
    assert li2s["significance_sigma"] > 3  # the whole-pattern Wald test alone would have called it present
    assert "line widths ran to their upper bounds" in li2s["not_detected_because"]
    assert main["weight_fraction"] == pytest.approx(1.0)
    assert not any(w.startswith("Li2S is not detected (significance below") for w in payload["warnings"])


def test_nonsense_is_refused_or_unreliable(tmp_path):
    lines = (REFINE / "cl_pure.xye").read_text().splitlines()
    ten = tmp_path / "ten.xye"
    ten.write_text("\n".join(lines[2:12]) + "\n")
    data = np.loadtxt(REFINE / "cl_pure.xye")
    d = 1.5406 / (2 * np.sin(np.radians(data[:, 0] / 2)))
    order = np.argsort(d)
    dspacing = tmp_path / "dspacing.xye"
    np.savetxt(dspacing, np.column_stack([d[order], data[order, 1], data[order, 2]]), fmt="%.5f")
    for path, message in ((ten, "10 points for"), (dspacing, "is the x axis 2theta in degrees")):
        done = run("refine", str(path), "--start", str(REFINE / "cl_pure.start.yaml"), "--out", str(tmp_path / "r.yaml"))
        assert done.returncode == 2 and message in done.stderr and str(path) in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "r.yaml").exists()
    # Cu data refined as Mo K-alpha: the main phase's scale collapses; unreliable, no a, nothing written
    done = run("refine", str(REFINE / "cl_pure.xye"), "--start", str(REFINE / "cl_pure.start.yaml"), "--wavelength",
               "MoKa12", "--json")
    payload = json.loads(done.stdout)
    assert done.returncode == 0 and payload["reliable"] is False
    assert "the main phase Li6PS5Cl-start is not detected" in payload["reasons"][0]
    assert payload["phases"][0]["a_angstrom"] is None and payload["phases"][0]["sites"] == []
    done = run("refine", str(REFINE / "cl_pure.xye"), "--start", str(REFINE / "cl_pure.start.yaml"), "--wavelength",
               "MoKa12", "--out", str(tmp_path / "mo.yaml"))
    assert done.returncode == 2 and "no refined structure to write" in done.stderr and not (tmp_path / "mo.yaml").exists()


def test_what_to_hold_is_refused_when_it_cannot_be_known(tmp_path):
    start = api.analyse(REFINE / "lma_nominal.start.yaml")
    no_nominal = tmp_path / "no_nominal.yaml"
    no_nominal.write_text((REFINE / "lma_nominal.start.yaml").read_text().replace(
        "nominal_formula: Li5.6PS4.6Cl0.8I0.6", "nominal_formula: ''"))
    with pytest.raises(ParameterError, match=r"not charge-neutral .* give the composition to hold"):
        argyrodite_phase(api.analyse(no_nominal))
    with pytest.raises(ParameterError, match="has no Br on its anion sites"):
        argyrodite_phase(start, nominal={"Li": 5.6, "P": 1, "S": 4.6, "Cl": 0.4, "Br": 0.4, "I": 0.6})
    # --nominal in any element order is the same composition as the file's
    phase = argyrodite_phase(start, nominal={"Cl": 0.8, "I": 0.6, "S": 4.6, "P": 1.0, "Li": 5.6})
    assert phase.held.totals_per_fu == {"Cl": 0.8, "I": 0.6}
    done = run("refine", str(REFINE / "cl_pure.xye"), "--start", str(REFINE / "cl_pure.start.yaml"), "--free-totals",
               "--tie-totals", "Cl")
    assert done.returncode == 2 and "not both" in done.stderr


def _generated(phases, values_update, scales, seed=3, peak_counts=30000.0):
    """A pattern of argyrodb's own model: phase columns times ``scales`` (relative), the strongest point
    ``peak_counts`` above a curved background, with Poisson noise. Returns x, y, values, the absolute scales."""
    x = np.arange(10.0, 90.0001, 0.02)
    gen = Refiner(x, np.ones_like(x), None, phases)
    values = {k: p.value for k, p in gen.params.items()}
    values.update(values_update)
    matrix, _, _ = gen.design(values)
    net = matrix[:, : len(phases)] @ np.asarray(scales)
    absolute = np.asarray(scales) * peak_counts / net.max()
    y = matrix[:, : len(phases)] @ absolute + 200.0 + 400.0 * np.exp(-(x - 10.0) / 15.0)
    return x, np.random.default_rng(seed).poisson(y).astype(float), values, absolute


def test_round_trip_of_its_own_model_recovers_every_parameter():
    truth_structure = api.analyse(LMA, a_angstrom=9.99)
    phase = argyrodite_phase(truth_structure, tie_totals=())  # the model itself: every occupancy free
    x, y, _values, _ = _generated([phase], {"zero_shift_deg": 0.03, "axial_deg": 2.5, f"U:{phase.name}": 0.003, "W": 0.002,
                                           f"Y:{phase.name}": 0.03}, [1.0])
    start = argyrodite_phase(api.analyse(LMA, a_angstrom=10.01), tie_totals=())
    result = Refiner(x, y, None, [start]).run()
    assert result.gof < 1.2
    assert result.phases[0]["a_angstrom"] == pytest.approx(9.99, abs=3e-4)
    assert result.parameters["zero_shift_deg"].value == pytest.approx(0.03, abs=0.005)
    for wyckoff in ("4a", "4d"):
        got = _site(result.phases[0], wyckoff)["occupancies"]["I"]
        true = next(p for p in truth_structure.positions if p.wyckoff.symbol == wyckoff).species()["I"]
        assert got == pytest.approx(true, abs=0.02)


def test_weight_fractions_follow_hill_howard():
    """Two phases mixed with known scales: W_p = S_p (ZMV)_p / sum S_i (ZMV)_i (Hill & Howard 1987)."""
    main = argyrodite_phase(api.analyse(LMA, a_angstrom=9.99))
    licl = impurity_phase(*impurity_structure("LiCl"))
    x, y, _values, scales = _generated([main, licl], {"zero_shift_deg": 0.0}, [1.0, 0.4], peak_counts=1e7)
    result = Refiner(x, y, None, [argyrodite_phase(api.analyse(LMA, a_angstrom=9.99)), licl],
                     refine={"U", "V", "W", "X", "Y:", "zero_shift_deg"}).run()
    zmv = [main.cell_mass({}) * 9.99**3, licl.cell_mass({}) * licl.a0**3]
    expected = scales[1] * zmv[1] / (scales[0] * zmv[0] + scales[1] * zmv[1])
    assert result.phases[1]["weight_fraction"] == pytest.approx(expected, rel=0.01)
    assert result.phases[0]["weight_fraction"] + result.phases[1]["weight_fraction"] == pytest.approx(1.0)


def test_pawley_mode_fits_a_without_a_structure():
    result, refined, _ = refine_pattern(REFINE / "lma_licl.xye", REFINE / "lma_licl.start.yaml", ("LiCl",), mode="pawley")
    assert refined is None
    assert result.phases[0]["a_angstrom"] == pytest.approx(_truth("lma_licl")["phases"][0]["a_angstrom"], abs=0.001)
    assert result.gof < 2.0


@pytest.mark.parametrize("args, message", [
    (["--phase", "Unobtainium"], "--phase: 'Unobtainium' is neither a bundled phase"),
    (["--out", "{out}/x.cif"], "--out: "),
    (["--tie-totals", "Xe"], "--tie-totals: Xe is on 0 anion sites"),
    (["--two-theta", "50", "20"], "--two-theta: minimum 50 must be below maximum 20"),
    (["--refine", "nonsense"], "--refine: unknown parameter 'nonsense'"),
])
def test_bad_refine_options_exit_2_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    out.mkdir()
    args = [a.format(out=out) for a in args]
    result = run("refine", str(REFINE / "lma_licl.xye"), "--start", str(REFINE / "lma_licl.start.yaml"), *args,
                 "--plot", str(out / "p.png"))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and list(out.iterdir()) == []


def test_bad_data_file_names_the_line(tmp_path):
    bad = tmp_path / "bad.xy"
    bad.write_text("10 5\n10.01 6\n10.02 x\n" + "".join(f"{10.03 + i / 100:.2f} 5\n" for i in range(20)))
    result = run("refine", str(bad), "--start", str(REPO / "structures" / "LMA-Cl0.8I0.6.yaml"))
    assert result.returncode == 2 and f"{bad}:3" in result.stderr, result.stderr


def test_a_that_hinges_on_an_unseen_displacement_is_flagged(monkeypatch):
    """lma_licl10_disp has a 0.1 mm sample displacement the default model (zero shift + transparency) does not
    refine: zero shift, displacement, transparency and a are nearly collinear over 10-90 deg, so argyrodb probes
    displacements of +-0.05 deg and reports the range of a at equal fit - which holds the truth."""
    truth = _truth("lma_licl10_disp")
    seen = {}

    def check_and_keep(refiner, result):  # the pipeline's own check, with its refiner kept for the cross-check below
        seen["refiner"], seen["result"] = refiner, result
        return rietveld.displacement_check(refiner, result)

    monkeypatch.setattr(refine_module, "displacement_check", check_and_keep)
    # this case's truth is Table S2's off-nominal composition (see tests/data/refine/README.md): totals free
    result, _, _ = refine_pattern(REFINE / "lma_licl10_disp.xye", REFINE / "lma_licl10_disp.start.yaml", ("LiCl",),
                                  free_totals=True)
    note = next(w for w in result.warnings if "assumes no sample displacement" in w)
    low, high = sorted(float(v) for v in note.split("and a = ")[1].split(" A:")[0].split(" / "))
    assert low <= truth["phases"][0]["a_angstrom"] <= high
    assert 100 * result.phases[1]["weight_fraction"] == pytest.approx(10.0, abs=0.5)
    # the probes refit only the line positions (zero shift, transparency, a): against full refits with the
    # displacement held at +-0.05 deg (everything else free from the fit's values), a within 1e-4 A (the note's
    # spread is 4e-3 A) and GoF within 0.002 (the note's "as good" is 1 %)
    refiner = seen["refiner"]
    probes = rietveld.displacement_probes(refiner, seen["result"])
    saved = {k: (p.value, p.refine) for k, p in refiner.params.items()}
    for d, a_probe, gof_probe in probes:
        for k, (value, refine) in saved.items():
            refiner.params[k].value, refiner.params[k].refine = value, refine
        refiner.params[rietveld.DISPLACEMENT.name].value = d
        full = refiner.run(restarts=0, scan_lattice=False)
        assert a_probe == pytest.approx(full.phases[0]["a_angstrom"], abs=1e-4)
        assert gof_probe == pytest.approx(full.r_wp / seen["result"].r_exp, abs=2e-3)


def test_the_stored_patterns_are_what_the_generator_makes():
    """tests/data/refine is reproducible: xrayutilities (the independent simulator) makes the same counts again."""
    import sys

    pytest.importorskip("xrayutilities")
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks.synthetic_patterns import make_pattern
    finally:
        sys.path.remove(str(REPO))
    two_theta, counts, _sigma, truth = make_pattern("lma_licl")
    stored = np.loadtxt(REFINE / "lma_licl.xye")
    # the grid: the file's 2-decimal 2theta against np.round(..., 4) of the generator, which can miss the parsed
    # decimal by an ulp; 1e-6 deg (rtol 0) against a 0.02 deg step
    np.testing.assert_allclose(stored[:, 0], two_theta, rtol=0, atol=1e-6)
    # the counts exactly: whole numbers from numpy's seeded Poisson draw. Last-bit changes of xrayutilities'
    # expected counts (numpy/scipy versions) move a draw with a probability below 1e-12 per point, while a 1e-3 change
    # of the model moves dozens; a numpy that changes Generator.poisson's stream fails it too (regenerate then).
    assert np.array_equal(stored[:, 1], counts)
    assert truth["phases"][0]["a_angstrom"] == _truth("lma_licl")["phases"][0]["a_angstrom"]  # one literal, via YAML


def _xrdml_from_xye(tmp_path, case: str, counting_time_s: float):
    """The case's pattern written as an XRDML scan in counts per second (tests/data/patterns' file in an Empyrean
    export's layout, with this scan's positions and counting time): what a lab diffractometer exports."""
    from argyrodb_testing import DATA as ROOT

    data = np.loadtxt(REFINE / f"{case}.xye")
    text = (ROOT / "patterns" / "empyrean_layout.xrdml").read_text(encoding="utf-8")
    text = text.replace("<startPosition>30.0500</startPosition>", f"<startPosition>{data[0, 0]:.4f}</startPosition>")
    text = text.replace("<endPosition>41.7500</endPosition>", f"<endPosition>{data[-1, 0]:.4f}</endPosition>")
    text = text.replace('<commonCountingTime unit="seconds">0.440</commonCountingTime>',
                        f'<commonCountingTime unit="seconds">{counting_time_s}</commonCountingTime>')
    start = text.index("<intensities")
    end = text.index("</intensities>") + len("</intensities>")
    values = " ".join(f"{c / counting_time_s:.6g}" for c in data[:, 1])
    text = text[:start] + f'<intensities unit="cps">{values}</intensities>' + text[end:]
    path = tmp_path / f"{case}.xrdml"
    path.write_text(text, encoding="utf-8")
    return path


def test_xrdml_in_counts_per_second_refines_like_the_counts(tmp_path):
    """counts/s times the counting time are the counts: the same fit, GoF and a as the .xye; the wavelength comes
    from the file (Cu K-alpha1 1.540598, K-alpha2 1.544426 A, ratio 0.5)."""
    path = _xrdml_from_xye(tmp_path, "clbr_pure", counting_time_s=2.5)
    from_xrdml, _, data = refine_pattern(path, REFINE / "clbr_pure.start.yaml")
    assert data.kind == "counts_per_second"
    assert "counts/s multiplied by the counting time: Poisson weights on counts" in from_xrdml.settings["data_notes"]
    assert "1.540598" in from_xrdml.settings["wavelength"] and "1.544426" in from_xrdml.settings["wavelength"]
    assert 1.0 < from_xrdml.gof < 1.3  # counts/s taken as counts would give GoF / sqrt(2.5)
    truth = _truth("clbr_pure")["phases"][0]["a_angstrom"]
    assert from_xrdml.phases[0]["a_angstrom"] == pytest.approx(truth, abs=0.001)


def test_intensities_that_are_not_counts_are_flagged(tmp_path):
    data = np.loadtxt(REFINE / "clbr_pure.xye")
    scaled = tmp_path / "scaled.xy"
    np.savetxt(scaled, np.c_[data[:, 0], data[:, 1] * 1.37], fmt="%.4f %.3f")
    result, _, _ = refine_pattern(scaled, REFINE / "clbr_pure.start.yaml")
    assert any("not whole counts" in w for w in result.warnings)


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    """`refine --calibrate` on the synthetic Si standard (si_standard: SRM 640d's a and B on case e's instrument)."""
    out = tmp_path_factory.mktemp("calibrate") / "instrument.yaml"
    done = run("refine", str(REFINE / "si_standard.xye"), "--start", str(REFINE / "si_standard.start.cif"),
               "--calibrate", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), out


def test_a_standard_of_any_structure_calibrates_the_instrument(calibration):
    from argyrodb.physics.instrument import Instrument

    payload, path = calibration
    truth = _truth("si_standard")
    assert payload["reliable"] and payload["gof"] < 1.2
    assert payload["phases"][0]["a_angstrom"] == 5.43123  # held at the CIF's (the certificate's)
    assert any("not an argyrodite (space group Fd-3m (227))" in w for w in payload["warnings"])
    instrument = Instrument.read(path)
    assert instrument.wavelength == "CuKa12" and instrument.standard["sha256"] == truth["data"]["sha256"]
    # the true zero is +0.020 deg; the standard's displacement and transparency share the line shift with it
    # (correlation -0.99), so the zero is found within 0.01 deg
    assert instrument.values["zero_shift_deg"] == pytest.approx(truth["instrument"]["zero_shift_deg"], abs=0.01)
    assert 0.5 < instrument.values["axial_deg"] < 5  # 2.5 deg Sollers (an effective, one-parameter angle)
    # the same standard with a free: within 0.0002 A of the certificate (the issue asks 0.0005 on real data)
    result, refined, _ = refine_pattern(REFINE / "si_standard.xye", REFINE / "si_standard.start.cif")
    assert refined is None and result.phases[0]["a_angstrom"] == pytest.approx(5.43123, abs=2e-4)


@pytest.mark.parametrize("mode", ["rietveld", "pawley"])
def test_an_instrument_file_gives_the_samples_own_size_and_strain(calibration, mode):
    """lma_nominal (crystallites 120 nm, microstrain 8e-4 as xrayutilities defines them) refined with the Si
    calibration held: the size and strain are the sample's. xrayutilities' size is lambda / (FWHM cos theta), i.e.
    Scherrer with K = 1; argyrodb reports K = 0.9, so the comparison divides by 0.9."""
    _, path = calibration
    truth = _truth("lma_nominal")["phases"]
    result, _, _ = refine_pattern(REFINE / "lma_nominal.xye", REFINE / "lma_nominal.start.yaml", ("LiCl",),
                                  instrument=path, mode=mode)
    main, licl = refinement_json(result)["phases"]
    assert main["size_kind"] == "instrument-corrected"
    # 5 %: the one-parameter axial model and TCH against xrayutilities' fundamental parameters
    assert main["size_nm"] / 0.9 == pytest.approx(truth[0]["crystallite_size_nm"], rel=0.05)
    assert main["microstrain"] == pytest.approx(truth[0]["microstrain_eps"], rel=0.05)
    assert main["size_esd_nm"] > 0 and main["microstrain_esd"] > 0
    # LiCl (3 wt %, 200 nm): 20 %
    assert licl["size_nm"] / 0.9 == pytest.approx(truth[1]["crystallite_size_nm"], rel=0.2)
    assert main["a_angstrom"] == pytest.approx(truth[0]["a_angstrom"], abs=5e-4)
    held = result.parameters
    instrument_values = yaml.safe_load(path.read_text())["values"]
    assert held["zero_shift_deg"].value == instrument_values["zero_shift_deg"] and not held["zero_shift_deg"].refine
    assert held["displacement_deg"].refine  # the sample's own


def test_an_fcj_calibration_is_held_under_either_asymmetry_model(calibration, tmp_path):
    """`--calibrate --asymmetry fcj` writes S/L and H/L; the axial and FCJ calibrations of one standard describe the
    same triangle of axial angles, and a sample refined under the other model holds it as A = (S + H)/L."""
    from argyrodb.physics.instrument import Instrument

    out = tmp_path / "fcj.yaml"
    done = run("refine", str(REFINE / "si_standard.xye"), "--start", str(REFINE / "si_standard.start.cif"),
               "--calibrate", "--asymmetry", "fcj", "--out", str(out))
    assert done.returncode == 0, done.stderr
    fcj, axial = Instrument.read(out), Instrument.read(calibration[1])
    assert fcj.asymmetry == "fcj" and axial.asymmetry == "axial"
    assert fcj.values["S_L"] == fcj.values["H_L"] and fcj.esds["H_L"] == fcj.esds["S_L"] > 0  # H/L tied to S/L
    # (S + H)/L of the FCJ fit against the axial fit's A: 1 % (measured 0.08 %; both models are the same triangle
    # when S = H, and the two fits differ only by the small-angle form of the axial one)
    assert fcj.axial_deg() == pytest.approx(axial.values["axial_deg"], rel=0.01)
    assert Instrument.read(calibration[1]).s_h_over_l()[0] == pytest.approx(math.radians(axial.values["axial_deg"]) / 2)
    truth = _truth("lma_nominal")["phases"][0]
    for model in ("fcj", "axial"):
        result, _, _ = refine_pattern(REFINE / "lma_nominal.xye", REFINE / "lma_nominal.start.yaml", ("LiCl",),
                                      instrument=out, asymmetry=model)
        main = refinement_json(result)["phases"][0]
        assert result.reliable and main["scherrer_k"] == 0.9
        # the tolerances of test_an_instrument_file_gives_the_samples_own_size_and_strain
        assert main["size_nm"] / main["scherrer_k"] == pytest.approx(truth["crystallite_size_nm"], rel=0.05)
        assert main["microstrain"] == pytest.approx(truth["microstrain_eps"], rel=0.05)
        assert main["a_angstrom"] == pytest.approx(truth["a_angstrom"], abs=5e-4)
        held = result.parameters
        if model == "fcj":
            assert held["S_L"].value == fcj.values["S_L"] and held["H_L"].value == fcj.values["H_L"]
            assert not held["S_L"].refine and not held["H_L"].refine
            # a series carries the FCJ parameters from member to member as it does axial_deg
            assert start_values(result)["S_L"] == held["S_L"].value and "H_L" in start_values(result)
        else:
            assert held["axial_deg"].value == pytest.approx(fcj.axial_deg()) and not held["axial_deg"].refine
            assert any("held as the axial model's A = (S + H)/L" in w for w in result.warnings)


def test_bad_instrument_files_and_options_exit_2(calibration, tmp_path):
    _, path = calibration
    bad = tmp_path / "bad.yaml"
    for text, message in (("format: other\n", "not an instrument file"),
                          (path.read_text().replace("axial_deg: ", "axial_deg: -", 1), "axial_deg must be 0 or more"),
                          ("format: argyrodb-instrument/1\nvalues: {U: 1}\nesds: {}\nwavelength: CuKa12\n", "no value for")):
        bad.write_text(text)
        done = run("refine", str(REFINE / "cl_pure.xye"), "--start", str(REFINE / "cl_pure.start.yaml"), "--instrument", str(bad))
        assert done.returncode == 2 and message in done.stderr and str(bad) in done.stderr, done.stderr
    done = run("refine", str(REFINE / "cl_pure.xye"), "--start", str(REFINE / "cl_pure.start.yaml"), "--instrument", str(path),
               "--wavelength", "CuKa1")
    assert done.returncode == 2 and "calibrated with CuKa12" in done.stderr
    done = run("refine", str(REFINE / "si_standard.xye"), "--start", str(REFINE / "si_standard.start.cif"), "--calibrate")
    assert done.returncode == 2 and "--calibrate: give --out" in done.stderr
    done = run("refine", str(REFINE / "si_standard.xye"), "--start", str(REFINE / "si_standard.start.cif"),
               "--out", str(tmp_path / "si.yaml"))
    assert done.returncode == 2 and "not an argyrodite: there is no refinement file" in done.stderr
    assert not (tmp_path / "si.yaml").exists()
