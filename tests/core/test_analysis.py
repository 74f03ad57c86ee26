"""The analysed structure: every inconsistency of Table S2, with its numbers; clean end members."""

from __future__ import annotations

import math

import pytest

from argyrodb.core.analysis import analyse
from argyrodb.core.errors import InputError
from argyrodb.core.readers import read_refinement_text
from argyrodb.core.refinement import LatticeParameter
from argyrodb.physics.lattice import lattice_for
from argyrodb_testing import LMA

A10 = LatticeParameter(10.0, "test", "given")


def validate(refinement, a_angstrom=None):
    return analyse(refinement, lattice_for(refinement, a_angstrom))


def _problems(report):
    return {(p.kind, p.site, p.severity) for p in report.problems}


def test_table_s2_inconsistencies_are_all_reported(lma):
    report = lma
    expected = {
        ("occupancy_normalised", "S2/Cl1/I1 @ 4a", "warning"),  # 0.3744 + 0.1992 + 0.4268 = 1.0004
        ("constraint_violated", "S2/Cl1/I1", "warning"),  # beyond 3 x 0.00005 rounding
        ("constraint_violated", "S3/Cl2/I2", "warning"),  # 0.8322, though the text says "set to unity"
        ("vacancy", "S3/Cl2/I2 @ 4d", "info"),
        ("wyckoff_mismatch", "S3", "warning"),  # printed 4c; (1/4, 1/4, 3/4) is 4d
        ("wyckoff_mismatch", "Cl2", "warning"),
        ("wyckoff_mismatch", "I2", "warning"),
        ("composition_mismatch", "Li", "warning"),
        ("composition_mismatch", "S", "warning"),
        ("composition_mismatch", "Cl", "warning"),
        ("composition_mismatch", "I", "warning"),
        ("charge_imbalance", None, "warning"),
        ("lattice_estimated", None, "info"),
        ("vacancy", "Li1 @ 48h", "info"),
        ("vacancy", "Li2 @ 16e", "info"),
        ("vacancy", "Li3 @ 24g", "info"),
        ("vacancy", "Li4 @ 48h", "info"),
        # Shannon-radii contacts: Li4 (48h, 1.2 % occupied) sits 1.86 A from the PS4 sulfur - shorter than any
        # Li-S bond (0.8 x (0.59 + 1.84) = 1.94 A); the split Li sites are closer than two Li can be, but need
        # not be occupied together
        ("short_distance", "Li4 @ 48h / S1 @ 16e", "warning"),
        ("short_distance", "Li1 @ 48h / Li3 @ 24g", "info"),
        ("short_distance", "Li4 @ 48h / Li4 @ 48h", "info"),
    }
    assert _problems(report) == expected
    li_s = next(p for p in report.problems if p.site == "Li4 @ 48h / S1 @ 16e")
    # Table S2 prints no a: the distance is 0.18641 a at the lattice model's estimate (9.981 A -> 1.8605 A;
    # 1.862 A at 9.988 A before Kraft 2017's end members were excluded from the model)
    assert li_s.data["distance_angstrom"] == pytest.approx(0.18641 * report.a_angstrom, abs=2e-4)
    assert li_s.data["distance_angstrom"] == pytest.approx(1.8605, abs=2e-3)
    assert not report.errors


def test_table_s2_numbers(lma):
    report = lma
    per_fu = report.formula_per_fu
    # hand sums over Table S2: Li (48*0.5252 + 16*0.009 + 24*0.009 + 48*0.0122)/4
    assert per_fu["Li"] == pytest.approx((48 * 0.5252 + 16 * 0.009 + 24 * 0.009 + 48 * 0.0122) / 4)
    assert per_fu["S"] == pytest.approx((16 + 4 * 0.3744 / 1.0004 + 4 * 0.1082) / 4)
    assert per_fu["Cl"] == pytest.approx((4 * 0.1992 / 1.0004 + 4 * 0.2517) / 4)
    assert per_fu["I"] == pytest.approx((4 * 0.4268 / 1.0004 + 4 * 0.4723) / 4)
    assert report.z == 4
    assert report.charge_per_fu == pytest.approx(per_fu["Li"] + 5 - 2 * per_fu["S"] - per_fu["Cl"] - per_fu["I"])
    assert report.charge_per_fu == pytest.approx(1.2241, abs=1e-4)
    sites = {s.wyckoff: s for s in report.sites}
    assert sites["4a"].occupancy_sum == pytest.approx(1.0004)
    assert sites["4d"].vacancy == pytest.approx(0.1678)
    assert report.space_group_number == 216


def test_missing_a_is_predicted_and_said(lma):
    from argyrodb.physics.lattice import model

    a_cl, _, a_i = model().halide_coefficients
    assert lma.a_angstrom == pytest.approx(0.8 / 1.4 * a_cl + 0.6 / 1.4 * a_i)
    assert lma.lattice.kind == "predicted" and 0 < lma.lattice.sigma_angstrom < 0.05
    assert "Vegard" in lma.lattice.source and "not a measurement" in lma.lattice.source
    estimated = next(p for p in lma.problems if p.kind == "lattice_estimated")
    assert f"{lma.a_angstrom:.4f}" in estimated.message


def test_given_a_overrides(lma):
    report = validate(lma.refinement, a_angstrom=10.0)
    assert report.a_angstrom == 10.0 and report.lattice.source.startswith("given")
    assert not any(p.kind == "lattice_estimated" for p in report.problems)


def test_analysis_needs_a_lattice_parameter_when_the_file_has_none(lma):
    with pytest.raises(InputError, match="no lattice parameter"):
        analyse(lma.refinement)
    assert analyse(lma.refinement, A10).a_angstrom == 10.0


def test_analysed_structure_is_immutable(lma):
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        lma.z = 2
    assert lma.at(A10).a_angstrom == 10.0 and lma.a_angstrom != 10.0


def test_p_s_distance_is_the_tetrahedron_edge(lma):
    report = lma
    p_s = next(d for d in report.distances if set(d["between"]) == {"P1 @ 4b", "S1 @ 16e"})
    # P at (0, 0, 1/2), S at (0.12, -0.12, 0.62): |(0.12, 0.12, 0.12)| a = 0.12 sqrt(3) a
    assert p_s["distance_angstrom"] == pytest.approx(0.12 * math.sqrt(3) * report.a_angstrom, abs=1e-4)


def test_end_members_are_clean(all_structures):
    for name in ("Li6PS5Cl", "Li6PS5Br", "Li6PS5I"):
        report = all_structures[name]
        kinds = {p.kind for p in report.problems}
        assert kinds <= {"vacancy", "short_distance"}, (name, report.problems)
        # the end members' coordinates are modelled on Table S2 (see their provenance), so they inherit its
        # Li4 site 1.84 A from the PS4 sulfur: a warning, nothing worse
        worse = [p for p in report.problems if p.kind == "short_distance" and p.severity != "info"]
        assert [(p.site, p.severity) for p in worse] == ([("Li2 @ 48h / S1 @ 16e", "warning")] if name == "Li6PS5Cl" else []), name
        assert report.charge_per_fu == pytest.approx(0, abs=1e-9)
        assert report.formula_per_fu["Li"] == pytest.approx(6.0, abs=1e-3)
        assert report.space_group_number == 216


def _lma_with(old: str, new: str):
    text = LMA.read_text()
    assert old in text
    return read_refinement_text(text.replace(old, new), source="edited.yaml")


def test_over_filled_site_is_an_error_and_not_built():
    refinement = _lma_with("[I1, I, 4a, 0.0000, 0.0000, 0.0000, 0.4268", "[I1, I, 4a, 0.0000, 0.0000, 0.0000, 0.6268")
    report = validate(refinement)
    assert [(p.kind, p.severity) for p in report.errors] == [("occupancy_sum_excess", "error")]
    assert "1.2004" in report.errors[0].message
    assert not report.buildable
    with pytest.raises(InputError, match="over-filled"):
        _ = report.pymatgen


def test_wrong_multiplicity_is_reported():
    refinement = _lma_with("[Li2, Li, 16e,", "[Li2, Li, 32e,")
    report = validate(refinement)
    assert ("wyckoff_mismatch", "Li2", "warning") in _problems(report)


def test_short_distance_is_reported():
    # move the 16e sulfur onto the phosphorus: a coordinate typo a validator must catch
    refinement = _lma_with("[S1, S, 16e, 0.1200, -0.1200, 0.6200", "[S1, S, 16e, 0.0200, -0.0200, 0.5200")
    report = validate(refinement)
    assert any(p.kind == "short_distance" for p in report.problems)


def test_structure_is_pymatgen_with_fractional_occupancies(lma):
    report = lma
    structure = report.pymatgen
    # pymatgen sums our occupancies site by site, argyrodb per orbit: 4e-14 seen; rel 1e-9 fails on any lost site
    assert structure.composition.num_atoms == pytest.approx(sum(report.formula_per_fu.values()) * 4, rel=1e-9)
    reduced = structure.composition / 4
    for element, amount in report.formula_per_fu.items():
        assert reduced[element] == pytest.approx(amount, rel=1e-9)
    assert set(structure.site_properties) >= {"label", "wyckoff", "b_iso"}
    assert not structure.is_ordered


def test_spglib_and_distances_agree_with_pymatgen(all_structures):
    """Our array-based spglib call and minimum-image distances against pymatgen's own (independent path)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    for name, report in all_structures.items():
        structure = report.pymatgen
        assert SpacegroupAnalyzer(structure, symprec=1e-3).get_space_group_number() == report.space_group_number, name
        for row in report.distances:
            first, second = (next(p for p in report.positions if p.name == n) for n in row["between"])
            d = structure.lattice.get_all_distances(first.images, second.images)
            d = d[d > 1e-6]
            # argyrodb reports distances rounded to 4 decimals (<= 5e-5 A): abs 1e-4
            assert row["distance_angstrom"] == pytest.approx(float(d.min()), abs=1e-4), (name, row)


def test_reanalysing_at_another_a_keeps_force():
    # Li2VCl4 (OBELiX yav) is refused as an argyrodite; forced, it must stay forced at another lattice parameter
    from argyrodb.api import analyse as analyse_any
    from argyrodb.core.refinement import LatticeParameter
    from argyrodb_testing import REPO

    forced = analyse_any(REPO / "db" / "obelix_cifs" / "yav.cif", force=True)
    assert {p.severity for p in forced.problems if p.kind == "not_argyrodite"} == {"warning"}
    again = forced.at(LatticeParameter(forced.a_angstrom * 1.01, "test", kind="given"))
    assert {p.severity for p in again.problems if p.kind == "not_argyrodite"} == {"warning"}
    assert again.a_angstrom == pytest.approx(forced.a_angstrom * 1.01)
