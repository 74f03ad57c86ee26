"""Residual weighting of the impedance fit (issue 22, item 9): modulus, unit, proportional - each recovers a known
circuit, and the unit weighting lands where impedance.py's own unweighted fit does."""

from __future__ import annotations

import numpy as np
import pytest

from argyrodb.core.errors import ParameterError
from argyrodb.physics.eis import Spectrum, fit, residual_weights, simulate

CIRCUIT = "R0-p(R1,CPE1)-p(R2,CPE2)"
#: R0, R1 (ohm), Q1 (F s^(a-1)), alpha1, R2 (ohm), Q2, alpha2: a bulk-like arc with its apex near 0.9 MHz and a
#: grain-boundary-like arc near 550 Hz, both inside 10 MHz - 0.1 Hz
TRUTH = [20.0, 400.0, 2e-9, 0.9, 1500.0, 1e-6, 0.8]
FREQUENCY_HZ = np.logspace(7, -1, 64)


def _spectrum(noise: float = 0.0, seed: int = 7) -> Spectrum:
    z = simulate(FREQUENCY_HZ, TRUTH, CIRCUIT)
    if noise:
        rng = np.random.default_rng(seed)
        z = z * (1 + noise * (rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size)))
    return Spectrum("synthetic", FREQUENCY_HZ, z)


def test_the_weights_are_the_textbook_ones():
    z = np.array([3 - 4j, 1e-9 - 10j])
    w_re, w_im = residual_weights(z, "modulus")
    np.testing.assert_allclose(w_re, [1 / 5, 1 / 10])
    np.testing.assert_allclose(w_im, [1 / 5, 1 / 10])
    w_re, w_im = residual_weights(z, "unit")
    assert np.all(w_re == 1) and np.all(w_im == 1)
    w_re, w_im = residual_weights(z, "proportional")
    # 1/|Z'| and 1/|Z''|; a Z' of 1e-9 is floored at 1 % of |Z| = 0.1 ohm
    np.testing.assert_allclose(w_re, [1 / 3, 1 / 0.1])
    np.testing.assert_allclose(w_im, [1 / 4, 1 / 10])
    with pytest.raises(ParameterError, match="weighting: 'squared' is not one of modulus, unit, proportional"):
        residual_weights(z, "squared")


@pytest.mark.parametrize("weighting", ["modulus", "unit", "proportional"])
def test_every_weighting_recovers_a_noiseless_circuit(weighting):
    result = fit(_spectrum(), CIRCUIT, weighting=weighting)
    assert result.weighting == weighting and result.as_dict()["weighting"] == weighting
    # noiseless data: the least-squares minimum is the truth under any positive weights; 1e-4 relative allows for
    # the solver's stopping tolerance on the weakly determined spike parameters
    np.testing.assert_allclose(result.values, TRUTH, rtol=1e-4)


def test_unit_weighting_lands_where_impedance_py_does():
    """The same objective (sum of squared residuals, unweighted) minimised by two codes from the same start: scipy's
    curve_fit inside impedance.py and argyrodb's multi-start on log-parameters."""
    from impedance.models.circuits import CustomCircuit

    spectrum = _spectrum(noise=0.01)
    ours = fit(spectrum, CIRCUIT, weighting="unit")
    theirs = CustomCircuit(CIRCUIT, initial_guess=ours.values.tolist())
    theirs.fit(spectrum.frequency_hz, spectrum.z, weight_by_modulus=False)
    # R0 and R1 are sharp (stderr < 1 %); both codes stop within their tolerances of one minimum: rtol 1e-3
    np.testing.assert_allclose(ours.values[:2], theirs.parameters_[:2], rtol=1e-3)
    # and the weighting matters on noisy data: modulus weighting gives another R1 than unit weighting
    modulus = fit(spectrum, CIRCUIT, weighting="modulus")
    assert abs(modulus.values[1] - ours.values[1]) > 1e-4 * ours.values[1]
