"""Property-based tests (hypothesis): valid random inputs give self-consistent results; invalid random
inputs raise argyrodb's own errors with a message, never another exception."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from argyrodb.api import analyse as validate
from argyrodb.core.chemistry import format_formula, parse_formula
from argyrodb.core.errors import ArgyrodbError, InputError
from argyrodb.core.readers import read_cif_text, read_refinement_text
from argyrodb.physics.calculators import (
    cpe_capacitance_F,
    elastic_moduli,
    ionic_conductivity_mS_cm,
    milling_gforce,
)
from argyrodb.physics.density import structure_density
from argyrodb.screening.families import parse_family

ELEMENTS = ["Li", "P", "S", "Cl", "Br", "I", "O", "Se", "Sn", "Ge", "F"]
amount = st.decimals(min_value="0.01", max_value="20", places=2).map(float)
formulas = st.dictionaries(st.sampled_from(ELEMENTS), amount, min_size=1, max_size=6)
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=300, deadline=None)
@given(formulas)
def test_formula_round_trip(amounts):
    text = format_formula(amounts)
    assert parse_formula(text) == pytest.approx({el: round(n, 4) for el, n in amounts.items()})


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_random_text_as_formula_or_family_never_crashes(text):
    for parser in (parse_formula, parse_family):
        try:
            parser(text)
        except InputError as exc:
            assert str(exc) and "\n" not in str(exc)


# A refinement generator: Table S2's positions with random occupancies (each site's sum <= 1) and B.
POSITIONS = [("Li", "48h", (0.3142, 0.6858, 0.0148)), ("Li", "24g", (0.025, 0.25, 0.75)), ("P", "4b", (0, 0, 0.5)),
             ("S", "16e", (0.12, -0.12, 0.62))]
MIXED = [("4a", (0.0, 0.0, 0.0)), ("4d", (0.25, 0.25, 0.75))]


@st.composite
def refinements(draw):
    rows = []
    for k, (element, letter, xyz) in enumerate(POSITIONS):
        occ = 1.0 if element in ("P", "S") else draw(st.floats(0.01, 1.0))
        rows.append([f"{element}{k}", element, letter, *xyz, round(occ, 4), round(draw(st.floats(0.1, 8.0)), 3)])
    for letter, xyz in MIXED:
        shares = [draw(st.floats(0.0, 1.0)) for _ in range(3)]
        total = sum(shares) or 1.0
        fill = draw(st.floats(0.5, 1.0))
        for element, share in zip(("S", "Cl", "I"), shares):
            # floor to the printed 4 decimals so that a site never sums above 1 by rounding
            rows.append([f"{element}{letter}", element, letter, *xyz, math.floor(share / total * fill * 1e4) / 1e4, 2.0])
    a = draw(st.floats(9.5, 10.5))
    lines = ["name: random", "nominal_formula: Li6PS5Cl", f"lattice: {{a_angstrom: {a}, note: random}}",
             "site_columns: [label, element, wyckoff, x, y, z, occupancy, b_iso]", "sites:"]
    lines += [f"  - [{', '.join(str(v) for v in row)}]" for row in rows]
    return "\n".join(lines) + "\n"


@SLOW
@given(refinements())
def test_random_refinements_are_self_consistent(text):
    from argyrodb.core.cif_writer import cif_text

    refinement = read_refinement_text(text, source="random.yaml")
    report = validate(refinement, force=True)  # random fillings need not be argyrodites: the sums must still add up
    assert not [p for p in report.errors if p.kind != "short_distance"]
    structure = report.pymatgen
    for element, amount_per_fu in report.formula_per_fu.items():  # float sums of the same occupancies
        assert structure.composition[element] == pytest.approx(amount_per_fu * report.z, abs=1e-6)
    density = structure_density(report).density_g_cm3
    # pymatgen's CODATA u against argyrodb's (1 g/mol) / N_A: ~1e-9 relative since the 2019 SI (test_density)
    assert density > 0 and density == pytest.approx(structure.density, rel=1e-8)
    assert report.space_group_number == 216
    again = read_cif_text(cif_text(report), source="random.cif")
    # the CIF writes occupancies to 6 decimals: abs 1e-6
    assert [s.occupancy for s in again.sites] == pytest.approx([s.occupancy for s in refinement.sites], abs=1e-6)


@SLOW
@given(refinements(), st.data())
def test_mutated_refinements_raise_only_argyrodb_errors(text, data):
    lines = text.splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    replacement = data.draw(st.sampled_from(["", "nan", "- [x]", "sites: 5", "  - [a, Xx, 4a, 0, 0, 0, 1.3, 1]", "[[[", "lattice: 7"]))
    lines[i] = replacement
    try:
        validate(read_refinement_text("\n".join(lines), source="mutated.yaml"), a_angstrom=10.0)
    except ArgyrodbError as exc:
        assert str(exc).startswith("mutated.yaml") and "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True),
       st.floats(allow_nan=True, allow_infinity=True))
def test_calculators_accept_physics_or_refuse_cleanly(a, b, c):
    for call in (lambda: milling_gforce(a, b, c), lambda: ionic_conductivity_mS_cm(a, b, c),
                 lambda: cpe_capacitance_F(a, b, c), lambda: elastic_moduli(a, b, c)):
        try:
            value = call()
        except InputError:
            continue
        values = value.values() if isinstance(value, dict) else [value]
        assert all(math.isfinite(v) or v == 0 for v in values) or any(not math.isfinite(x) for x in (a, b, c))


@settings(max_examples=200, deadline=None)
@given(st.floats(100, 3000), st.floats(0.01, 1.0))
def test_gforce_scales_with_speed_squared_and_radius(rpm, radius):
    assume(rpm > 0)
    assert milling_gforce(2 * rpm, radius) == pytest.approx(4 * milling_gforce(rpm, radius))
    assert milling_gforce(rpm, 2 * radius) == pytest.approx(2 * milling_gforce(rpm, radius))
