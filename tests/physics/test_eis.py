"""EIS fitting: spectra simulated from Table S4's parameters (Fig. S9 circuit) with noise are refitted."""

from __future__ import annotations

import numpy as np
import pytest

from argyrodb.physics.eis import FIG_S9_CIRCUIT, Spectrum, fit, read_spectrum, simulate

# Table S4, LMA-Cl0.8I0.6 cycle 20: R_bulk, R_i-1, CPE-T, CPE-P, R_i-2, ..., R_i-4, ...; Warburg 20 ohm s^-1/2
TABLE_S4_CYCLE_20 = [73.31, 31.65, 6.32e-7, 0.729, 31.64, 5.21e-5, 0.512, 20.64, 5.30e-2, 0.493, 20.0]
FREQUENCIES = np.logspace(7, -3, 101)


def _noisy(parameters, noise, seed=0):
    rng = np.random.default_rng(seed)
    z = simulate(FREQUENCIES, parameters)
    return Spectrum("simulated", FREQUENCIES, z.real * (1 + noise * rng.standard_normal(z.size))
                    + 1j * z.imag * (1 + noise * rng.standard_normal(z.size)))


def _start(parameters):
    """A starting point as an analyst would guess it: values 15-20 % off, CPE exponents 0.05 off."""
    return [v + (0.05 if i % 2 else -0.05) if i in (3, 6, 9) else v * (1.2 if i % 2 else 0.85)
            for i, v in enumerate(parameters)]


def test_refit_table_s4_spectrum():
    truth = TABLE_S4_CYCLE_20
    result = fit(_noisy(truth, 0.002), FIG_S9_CIRCUIT, _start(truth))
    v = dict(zip(result.names, result.values))
    assert v["R0"] == pytest.approx(truth[0], rel=0.02)
    # the I-1 and I-2 arcs (time constants 0.4 and 4 microseconds) overlap: only their sum is sharp
    assert v["R1"] + v["R2"] == pytest.approx(truth[1] + truth[4], rel=0.03)
    assert v["R3"] == pytest.approx(truth[7], rel=0.03)
    assert v["CPE3_0"] == pytest.approx(truth[8], rel=0.05)
    assert v["CPE3_1"] == pytest.approx(truth[9], rel=0.03)
    assert v["W1"] == pytest.approx(truth[10], rel=0.02)
    assert result.residual_rms_ohm < 1.0  # noise is 0.2 % of |Z| ~ 100-300 ohm
    assert set(result.capacitances) == {"C_R1", "C_R2", "C_R3"}


def test_refit_separated_arcs_recovers_every_parameter():
    truth = list(TABLE_S4_CYCLE_20)
    truth[5] = 1.26e-4  # move the I-2 arc to tau = 1 ms, 3.5 decades from I-1 and 3 from I-3
    truth[6] = 0.80
    result = fit(_noisy(truth, 0.002, seed=1), FIG_S9_CIRCUIT, _start(truth))
    for name, value, expected in zip(result.names, result.values, truth):
        assert value == pytest.approx(expected, rel=0.08), name
    assert np.all(np.isfinite(result.stderr))


def test_read_spectrum_conventions(tmp_path):
    z = simulate(FREQUENCIES[::10], TABLE_S4_CYCLE_20)
    path = tmp_path / "s.csv"
    path.write_text("freq_Hz,Zre_ohm,minus_Zim_ohm\n" + "\n".join(f"{f},{a},{-b}" for f, a, b in zip(FREQUENCIES[::10], z.real, z.imag)))
    spectrum = read_spectrum(path)
    assert np.allclose(spectrum.z, z)  # -Z'' column detected and negated
