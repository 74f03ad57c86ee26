"""The bundled copy of xraydb's scattering tables (data/scattering_tables.json) equals xraydb's own numbers (to
their last bits, which numpy and scipy versions move), so argyrodb can skip importing xraydb (~2 s) without changing
a form factor."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xraydb

from argyrodb.core.resources import data_file
from argyrodb.physics import scattering


def test_bundled_tables_equal_a_fresh_copy_from_xraydb():
    bundled = json.loads(data_file(scattering.SCATTERING_TABLES).read_text(encoding="utf-8"))
    fresh = json.loads(json.dumps(scattering.scattering_tables()))
    hint = "regenerate with scattering.write_scattering_tables()"
    # Waasmaier-Kirfel coefficients are decimals xraydb stores as text and json parses: the same literals, exact.
    assert bundled["waasmaier_kirfel"] == fresh["waasmaier_kirfel"], f"waasmaier_kirfel differs: {hint}"
    assert len(bundled["waasmaier_kirfel"]) >= 92 and "Cval" not in bundled["waasmaier_kirfel"]
    # Chantler's f', f'' are interpolated by xraydb (f' by a scipy spline, f'' log-log in numpy): numpy and scipy
    # versions move their last bits (3.6e-15 e seen), far below the tables' ~1 % uncertainty. rtol 1e-12 (atol
    # 1e-12 e where f' crosses zero) still fails on any change of table, xraydb version or wavelength.
    chantler, fresh_chantler = bundled["chantler_f1_f2"], fresh["chantler_f1_f2"]
    assert chantler.keys() == fresh_chantler.keys(), f"chantler_f1_f2 wavelengths differ: {hint}"
    for wavelength, table in chantler.items():
        assert table.keys() == fresh_chantler[wavelength].keys(), f"chantler_f1_f2 {wavelength} elements differ: {hint}"
        np.testing.assert_allclose([table[el] for el in table], [fresh_chantler[wavelength][el] for el in table],
                                   rtol=1e-12, atol=1e-12, err_msg=f"chantler_f1_f2 {wavelength} differs: {hint}")


def test_form_factors_and_dispersion_match_xraydb_directly():
    s = np.array([0.0, 0.25, 0.5, 1.0])
    for element in ("Li", "P", "S", "Cl", "Br", "I"):
        # the same coefficients summed in another order (numpy's sum, xraydb's loop): last bits only (2e-16 seen);
        # rtol 1e-12 is far inside the fits' ~1e-3 accuracy and fails on any other coefficient
        np.testing.assert_allclose(scattering.f0(element, s), xraydb.f0(element, s), rtol=1e-12, atol=0)
        for wavelength in (1.5405929, 0.7093172):  # named lines (bundled)
            energy = scattering.HC_EV_ANGSTROM / wavelength
            # the bundled copy against xraydb's interpolation today: rtol/atol 1e-12 as in the test above
            assert scattering.anomalous(element, wavelength) == pytest.approx(
                (xraydb.f1_chantler(element, energy), xraydb.f2_chantler(element, energy)), rel=1e-12, abs=1e-12)
    # any other wavelength goes to xraydb itself: the same call with the same energy, so exact
    energy = scattering.HC_EV_ANGSTROM / 1.6
    assert scattering.anomalous("Br", 1.6) == (xraydb.f1_chantler("Br", energy), xraydb.f2_chantler("Br", energy))
