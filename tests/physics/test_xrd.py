"""XRD engine: cross-checks against pymatgen, symmetry invariances, a hand-worked structure factor,
and the physics options (anomalous dispersion, doublet, LP with monochromator, profiles)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from argyrodb.api import analyse
from argyrodb.core.readers import read_refinement_text
from argyrodb.physics.scattering import HC_EV_ANGSTROM, resolve_wavelength
from argyrodb.physics.xrd import XRDModel, hkl_label, simulate
from argyrodb_testing import structure

NAMES = ["LMA-Cl0.8I0.6", "Li6PS5Cl", "Li6PS5I"]


def _b_by_element(refinement) -> dict[str, float]:
    """pymatgen takes one B per element: use each element's occupancy-weighted mean of the site Bs."""
    total: dict[str, float] = {}
    weight: dict[str, float] = {}
    for site in refinement.sites:
        total[site.element] = total.get(site.element, 0.0) + site.occupancy * site.b_iso_angstrom2
        weight[site.element] = weight.get(site.element, 0.0) + site.occupancy
    return {el: total[el] / weight[el] for el in total}


@pytest.mark.parametrize("name", NAMES)
def test_matches_pymatgen_with_its_conventions(name):
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    report = analyse(structure(name))
    refinement = report.refinement
    b_el = _b_by_element(refinement)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = XRDCalculator(wavelength="CuKa", debye_waller_factors=b_el).get_pattern(report.pymatgen, two_theta_range=(10, 120))
    ours = XRDModel.from_analysed(report).pattern(
        wavelength=1.54184, two_theta_range=(10, 120), anomalous_dispersion=False, form_factors="pymatgen", b_by_element=b_el)
    strong = ours.peaks[ours.peaks["intensity_rel"] >= 1.0]
    assert len(strong) == int(np.sum(np.asarray(reference.y) >= 1.0)) > 20
    # pymatgen's conventions (its form factors, one B per element, lambda 1.54184, no dispersion): the two differ
    # by rounding only (<= 7e-14 deg, 1.4e-14 relative seen). 1e-9 leaves room for other BLAS/libm and still fails
    # on any change of convention (a 1e-4 A wavelength moves lines by ~1e-3 deg).
    for row in strong.itertuples():
        j = int(np.argmin(np.abs(np.asarray(reference.x) - row.two_theta_deg)))
        assert abs(reference.x[j] - row.two_theta_deg) < 1e-9
        assert reference.y[j] == pytest.approx(row.intensity_rel, rel=1e-9)


def _structure_variants(name):
    from pymatgen.core import Structure

    report = analyse(structure(name))
    s = report.pymatgen
    inverted = Structure(s.lattice, s.species_and_occu, -s.frac_coords, site_properties=s.site_properties)
    shifted = Structure(s.lattice, s.species_and_occu, s.frac_coords + np.array([0.13, 0.37, 0.71]), site_properties=s.site_properties)
    return s, inverted, shifted


@pytest.mark.parametrize("name", ["LMA-Cl0.8I0.6", "Li6PS5I"])
def test_invariant_under_inversion_and_origin_shift(name):
    original, inverted, shifted = _structure_variants(name)
    patterns = [simulate(s, wavelength="CuKa1", two_theta_range=(10, 100)) for s in (original, inverted, shifted)]
    base = patterns[0].peaks
    assert XRDModel.from_structure(original).f43m and XRDModel.from_structure(inverted).f43m
    assert not XRDModel.from_structure(shifted).f43m  # shifted origin: the general path, all hkl enumerated
    for other in patterns[1:]:
        assert len(other.peaks) == len(base)
        # pymatgen moved the atoms and argyrodb sums F over them in another order (the shifted cell by the general
        # path): last bits only (3.5e-14 relative seen); 1e-9 fails on any lost or misplaced atom
        np.testing.assert_allclose(other.peaks["two_theta_deg"], base["two_theta_deg"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(other.peaks["intensity"], base["intensity"], rtol=1e-9, atol=0)
        assert (other.peaks["multiplicity"] == base["multiplicity"]).all()


def test_refinement_path_equals_structure_path(lma):
    report = lma
    a = simulate(report, two_theta_range=(10, 120)).peaks
    b = simulate(report.pymatgen, two_theta_range=(10, 120)).peaks
    # the same sites reached through pymatgen's Structure: rounding only (7e-16 relative seen)
    np.testing.assert_allclose(a["intensity"], b["intensity"], rtol=1e-10, atol=0)


HAND_MODEL = """
name: hand
nominal_formula: PS4I
lattice: {a_angstrom: 10.0, note: test}
site_columns: [label, element, wyckoff, x, y, z, occupancy, b_iso]
sites:
  - [I1, I, 4a, 0, 0, 0, 1.0, 2.0]
  - [P1, P, 4b, 0.5, 0.5, 0.5, 1.0, 1.0]
  - [S1, S, 4d, 0.75, 0.75, 0.75, 1.0, 3.0]
  - [S2, S, 16e, 0.38, 0.38, 0.38, 1.0, 1.5]
"""


def _hand_f(h, k, l, lam, anomalous_on):
    """F(hkl) worked out by hand for HAND_MODEL (F-centring gives the factor 4)."""
    import xraydb

    a, x = 10.0, 0.38
    s = math.sqrt(h * h + k * k + l * l) / (2 * a)

    def f(el, b):
        value = complex(xraydb.f0(el, s)[0] if np.ndim(xraydb.f0(el, s)) else xraydb.f0(el, s))
        if anomalous_on:
            e = HC_EV_ANGSTROM / lam
            value += xraydb.f1_chantler(el, e) + 1j * xraydb.f2_chantler(el, e)
        return value * math.exp(-b * s * s)

    def e(r):
        return np.exp(2j * math.pi * (h * r[0] + k * r[1] + l * r[2]))

    sixteen_e = sum(e(r) for r in [(x, x, x), (-x, -x, x), (-x, x, -x), (x, -x, -x)])
    return 4 * (f("I", 2.0) * e((0, 0, 0)) + f("P", 1.0) * e((0.5, 0.5, 0.5)) + f("S", 3.0) * e((0.75, 0.75, 0.75))
                + f("S", 1.5) * sixteen_e)


@pytest.mark.parametrize("anomalous_on", [False, True])
def test_hand_worked_structure_factors(anomalous_on):
    lam = 1.5405929
    refinement = analyse(read_refinement_text(HAND_MODEL, source="hand.yaml"), force=True)  # no Li: not an argyrodite
    peaks = XRDModel.from_analysed(refinement).pattern(wavelength="CuKa1", two_theta_range=(5, 60),
                                                         anomalous_dispersion=anomalous_on).peaks
    line_200 = peaks[(peaks.h == 2) & (peaks.k == 0) & (peaks.l == 0)].iloc[0]
    assert line_200.multiplicity == 6
    # xraydb's f0 and f', f'' (bundled in argyrodb, interpolated afresh here) summed by hand: last bits only
    # (7e-16 relative seen); rel 1e-9 fails on a wrong phase, site or B (those move |F|^2 by percent)
    assert line_200.f_squared == pytest.approx(abs(_hand_f(2, 0, 0, lam, anomalous_on)) ** 2, rel=1e-9)
    line_111 = peaks[(peaks.h == 1) & (peaks.k == 1) & (peaks.l == 1)].iloc[0]
    assert line_111.multiplicity == 8
    f_plus, f_minus = _hand_f(1, 1, 1, lam, anomalous_on), _hand_f(-1, -1, -1, lam, anomalous_on)
    # the 111 line holds 4 reflections like 111 and 4 like -1-1-1 (Friedel mates, Bijvoet pair)
    assert line_111.f_squared == pytest.approx((abs(f_plus) ** 2 + abs(f_minus) ** 2) / 2, rel=1e-9)
    if anomalous_on:
        assert abs(abs(f_plus) - abs(f_minus)) > 1.0  # f'' of I and S make the Bijvoet pair differ
    # d and Bragg's law (numpy's arcsin against math.asin: last bits only)
    assert line_200.d_angstrom == pytest.approx(5.0, rel=1e-12)
    assert line_200.two_theta_deg == pytest.approx(2 * math.degrees(math.asin(lam / 10.0)), rel=1e-12)


def test_f_centring_absences_and_coincident_families(lma):
    refinement = lma
    peaks = simulate(refinement, two_theta_range=(5, 120)).peaks
    for fams in peaks["hkl"]:
        for h, k, l in fams:
            assert len({h % 2, k % 2, l % 2}) == 1
    row = peaks[(peaks.h == 5) & (peaks.k == 1) & (peaks.l == 1)].iloc[0]
    assert row.hkl == [[5, 1, 1], [3, 3, 3]] and row.multiplicity == 24 + 8
    row = peaks[(peaks.h == 6) & (peaks.k == 0) & (peaks.l == 0)].iloc[0]
    assert row.hkl == [[6, 0, 0], [4, 4, 2]] and row.multiplicity == 6 + 24
    # labels: indices of 10 or more get commas - '1022' would also read as (1 0 22)
    assert hkl_label(row.hkl, "/") == "600/442"
    row = peaks[(peaks.h == 10) & (peaks.k == 2) & (peaks.l == 2)].iloc[0]
    assert row.hkl == [[10, 2, 2], [6, 6, 6]] and hkl_label(row.hkl, "/") == "10,2,2/666"


def test_anomalous_dispersion_matters_for_iodine(lma):
    refinement = lma
    on = simulate(refinement, two_theta_range=(10, 80)).peaks.set_index(["h", "k", "l"])
    off = simulate(refinement, two_theta_range=(10, 80), anomalous_dispersion=False).peaks.set_index(["h", "k", "l"])
    change = {hkl: abs(on.loc[hkl, "intensity_rel"] / off.loc[hkl, "intensity_rel"] - 1) for hkl in [(1, 1, 1), (2, 0, 0), (2, 2, 2), (4, 4, 0)]}
    assert max(change.values()) > 0.01, change


def test_doublet_and_wavelengths(lma):
    refinement = lma
    assert [c.name for c in resolve_wavelength("CuKa12")] == ["CuKa1", "CuKa2"]
    assert resolve_wavelength(1.542)[0].wavelength_angstrom == 1.542
    peaks = simulate(refinement, wavelength="CuKa12", two_theta_range=(20, 60)).peaks
    a1 = peaks[peaks.component == "CuKa1"].set_index(["h", "k", "l"])
    a2 = peaks[peaks.component == "CuKa2"].set_index(["h", "k", "l"])
    ratio = a2.loc[(2, 2, 0), "intensity"] / a1.loc[(2, 2, 0), "intensity"]
    assert ratio == pytest.approx(0.5, rel=0.02)  # 2:1, modulated only by LP and f'(lambda)
    d = a1.loc[(2, 2, 0), "d_angstrom"]
    # numpy's arcsin against math.asin: last bits only; K-alpha1 instead of K-alpha2 would be 0.06 deg off
    assert a2.loc[(2, 2, 0), "two_theta_deg"] == pytest.approx(2 * math.degrees(math.asin(1.5444274 / (2 * d))), rel=1e-12)


def test_monochromator_follows_the_lp_formula(lma):
    refinement = lma
    plain = simulate(refinement, two_theta_range=(10, 100)).peaks
    mono = simulate(refinement, two_theta_range=(10, 100), monochromator_two_theta_deg=26.57).peaks
    k = math.cos(math.radians(26.57)) ** 2
    c2 = np.cos(np.radians(plain["two_theta_deg"])) ** 2
    expected = ((1 + k * c2) / (1 + k)) / ((1 + c2) / 2)
    # the LP formula in numpy against argyrodb's: last bits only
    np.testing.assert_allclose(mono["intensity"] / plain["intensity"], expected, rtol=1e-10, atol=0)


def test_profile_area_equals_integrated_intensity(lma):
    refinement = lma
    pattern = simulate(refinement, two_theta_range=(20, 28), size_nm=50)
    assert list(pattern.peaks["h"]) == [2]  # only 220 between 20 and 28 deg
    x, y = pattern.profile(two_theta=np.arange(15, 35, 0.001))
    # the Lorentzian part's tails beyond 15-35 deg hold well under 1 % of the area at 50 nm
    assert np.trapezoid(y, x) == pytest.approx(pattern.peaks["intensity"].sum(), rel=0.01)
    fwhm, eta = pattern.fwhm_deg(np.array([25.0]))
    assert 0 < eta[0] < 1 and fwhm[0] > 0


def test_scherrer_broadening_grows_as_size_shrinks(lma):
    refinement = lma
    pattern = simulate(refinement, two_theta_range=(20, 30))
    widths = [pattern.fwhm_deg(np.array([25.0]), size_nm=size)[0][0] for size in (200, 50, 10)]
    assert widths[0] < widths[1] < widths[2]


def test_measured_fit_recovers_scale(tmp_path, lma):
    from argyrodb.physics.pattern_fit import fit_scale, read_xy

    refinement = lma
    pattern = simulate(refinement, two_theta_range=(10, 60))
    x, y = pattern.profile(step_deg=0.02)
    rng = np.random.default_rng(1)
    counts = 3e-3 * y + 40.0
    noisy = rng.poisson(counts).astype(float)
    path = tmp_path / "measured.xy"
    path.write_text("# 2theta counts\n" + "\n".join(f"{a:.3f} {b:.0f}" for a, b in zip(x, noisy)))
    fit = fit_scale(read_xy(path), pattern)
    assert fit.scale == pytest.approx(3e-3, rel=0.02)
    assert fit.background == pytest.approx(40.0, rel=0.05)
    assert fit.r_wp < 0.2
    wrong = simulate(analyse(structure("Li6PS5I")), two_theta_range=(10, 60))
    assert fit_scale(read_xy(path), wrong).r_wp > 2 * fit.r_wp
