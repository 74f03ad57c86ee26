"""Wyckoff positions of F-43m against International Tables and against spglib."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from argyrodb.core.symmetry import (
    WYCKOFF_216,
    operations,
    orbit,
    parse_wyckoff_symbol,
    same_orbit,
    spglib_module,
    wyckoff_of,
)


def test_group_has_96_operations():
    rotations, translations, triplets = operations()
    assert rotations.shape == (96, 3, 3) and translations.shape == (96, 3) and len(triplets) == 96
    # -43m has no inversion: no operation is -identity.
    assert not any(np.allclose(r, -np.eye(3)) for r in rotations)


@pytest.mark.parametrize(
    "xyz, symbol",
    [
        ((0, 0, 0), "4a"),
        ((0.5, 0.5, 0.5), "4b"),
        ((0, 0, 0.5), "4b"),  # Table S2's P, equivalent by the centring (1/2, 1/2, 0)
        ((0.25, 0.25, 0.25), "4c"),
        ((0.75, 0.75, 0.75), "4d"),
        ((0.25, 0.25, 0.75), "4d"),  # Table S2 prints this as "4c"
        ((0.62, 0.62, 0.62), "16e"),
        ((0.12, -0.12, 0.62), "16e"),  # Table S2's S(16e), written as x, -x, x+1/2
        ((0.137, 0.137, 0.137), "16e"),
        ((0.17, 0, 0), "24f"),
        ((0.025, 0.25, 0.75), "24g"),
        ((0.3142, 0.6858, 0.0148), "48h"),
        ((0.4859, -0.0141, 0.1945), "48h"),
        ((0.11, 0.23, 0.37), "96i"),
    ],
)
def test_wyckoff_of_matches_international_tables(xyz, symbol):
    assert wyckoff_of(xyz).symbol == symbol
    assert len(orbit(xyz)) == WYCKOFF_216[symbol[-1]].multiplicity


def _spglib_letter(xyz) -> str:
    # A cell with the orbit plus a marker atom on 4a (different type) keeps the setting fixed at the
    # F-43m origin; spglib reports letters of its standardised setting.
    points = orbit(xyz)
    marker = orbit((0, 0, 0))
    if len(points) == 4 and np.allclose(points[0], 0):
        marker = orbit((0.5, 0.5, 0.5))
    frac = np.vstack([points, marker, orbit((0.11, 0.23, 0.37))])
    types = [1] * len(points) + [2] * len(marker) + [3] * 96
    dataset = spglib_module().get_symmetry_dataset((np.eye(3) * 10.0, frac, types), symprec=1e-4)
    assert dataset.number == 216
    return dataset.wyckoffs[0]


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["e", "f", "g", "h"]),
    st.floats(min_value=0.03, max_value=0.47),
    st.floats(min_value=0.03, max_value=0.47),
)
def test_letters_agree_with_spglib(letter, u, v):
    xyz = {"e": (u, u, u), "f": (u, 0, 0), "g": (u, 0.25, 0.25), "h": (u, u, v)}[letter]
    # special values (u = 1/4 puts x,x,x on 4c, ...) belong to a lower-multiplicity position
    assume(len(orbit(xyz)) == WYCKOFF_216[letter].multiplicity)
    ours = wyckoff_of(xyz)
    assert ours.letter == letter
    assert _spglib_letter(xyz) in (letter,)


def test_same_orbit_and_parse():
    assert same_orbit((0.25, 0.25, 0.75), (0.75, 0.75, 0.75))
    assert not same_orbit((0.25, 0.25, 0.25), (0.75, 0.75, 0.75))
    assert parse_wyckoff_symbol("48 h") == (48, "h")
    assert parse_wyckoff_symbol("c") == (None, "c")
    assert parse_wyckoff_symbol(None) == (None, None)
