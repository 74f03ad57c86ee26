"""The bundled copy of xraydb's scattering tables (data/scattering_tables.json) equals xraydb's own numbers,
so argyrodb can skip importing xraydb (~2 s) without changing a single form factor."""

from __future__ import annotations

import json

import numpy as np
import xraydb

from argyrodb.core.resources import data_file
from argyrodb.physics import scattering


def test_bundled_tables_equal_a_fresh_copy_from_xraydb():
    bundled = json.loads(data_file(scattering.SCATTERING_TABLES).read_text(encoding="utf-8"))
    fresh = json.loads(json.dumps(scattering.scattering_tables()))
    for key in ("waasmaier_kirfel", "chantler_f1_f2"):
        assert bundled[key] == fresh[key], f"{key} differs: regenerate with scattering.write_scattering_tables()"
    assert len(bundled["waasmaier_kirfel"]) >= 92 and "Cval" not in bundled["waasmaier_kirfel"]


def test_form_factors_and_dispersion_match_xraydb_directly():
    s = np.array([0.0, 0.25, 0.5, 1.0])
    for element in ("Li", "P", "S", "Cl", "Br", "I"):
        assert np.allclose(scattering.f0(element, s), xraydb.f0(element, s), rtol=1e-12)
        for wavelength in (1.5405929, 0.7093172):  # named lines (bundled)
            energy = scattering.HC_EV_ANGSTROM / wavelength
            assert scattering.anomalous(element, wavelength) == (xraydb.f1_chantler(element, energy),
                                                                  xraydb.f2_chantler(element, energy))
    # any other wavelength goes to xraydb itself
    energy = scattering.HC_EV_ANGSTROM / 1.6
    assert scattering.anomalous("Br", 1.6) == (xraydb.f1_chantler("Br", energy), xraydb.f2_chantler("Br", energy))
