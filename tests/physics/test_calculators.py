"""Calculators against hand-worked values, textbook identities (hypothesis) and Table S1."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argyrodb.core.errors import InputError
from argyrodb.physics.calculators import (
    arrhenius_fit,
    ccd_steps,
    cpe_capacitance_F,
    elastic_moduli,
    gforce_table,
    ionic_conductivity_mS_cm,
    milling_gforce,
)

TABLE_S1 = [(550, 30), (600, 36), (650, 42), (700, 49), (750, 56), (800, 64)]


def test_table_s1_reproduced_to_its_printed_digits():
    rows = gforce_table([rpm for rpm, _ in TABLE_S1], 0.089)
    assert [round(r["gforce"]) for r in rows] == [gf for _, gf in TABLE_S1]


def test_gforce_by_hand():
    # 550 rpm: omega = 57.5959 rad/s; omega^2 R / g = 3317.29 x 0.089 / 9.8 = 30.126
    assert milling_gforce(550, 0.089) == pytest.approx(30.1264, abs=1e-4)
    assert milling_gforce(550, 0.089, 9.80665) == pytest.approx(30.1264 * 9.8 / 9.80665, abs=1e-4)


def test_conductivity_by_hand():
    # t = 0.06 cm, A = pi (0.5 cm)^2 = 0.785398 cm^2: 0.06 / (73.3 x 0.785398) S/cm = 1.04222 mS/cm
    assert ionic_conductivity_mS_cm(73.3, 0.06, diameter_cm=1.0) == pytest.approx(1.042215, rel=1e-6)
    assert ionic_conductivity_mS_cm(100.0, 0.1, area_cm2=1.0) == pytest.approx(1.0)
    with pytest.raises(InputError):
        ionic_conductivity_mS_cm(-1, 0.1, area_cm2=1)


def test_cpe_capacitance_reproduces_table_s4():
    # LMA-Cl0.8I0.6 cycle 20, element I-1: R 31.65, CPE-T 6.32E-07, CPE-P 0.729 -> printed 1.13E-08
    assert cpe_capacitance_F(31.65, 6.32e-7, 0.729) == pytest.approx(1.13e-8, rel=0.005)
    assert cpe_capacitance_F(10.0, 1e-6, 1.0) == pytest.approx(1e-6)  # alpha = 1: an ideal capacitor
    with pytest.raises(InputError):
        cpe_capacitance_F(10, 1e-6, 1.2)


def test_elastic_by_hand():
    # rho = 1900 kg/m3, V_L = 4000, V_S = 2200 m/s
    result = elastic_moduli(4000, 2200, 1.9)
    assert result["G_GPa"] == pytest.approx(1900 * 2200**2 / 1e9)
    assert result["B_GPa"] == pytest.approx(1900 * (4000**2 - 4 / 3 * 2200**2) / 1e9)
    assert result["poisson_ratio"] == pytest.approx((16e6 - 2 * 4.84e6) / (2 * (16e6 - 4.84e6)))
    with pytest.raises(InputError, match="positive bulk modulus"):
        elastic_moduli(2000, 2200, 1.9)


@settings(max_examples=200, deadline=None)
@given(st.floats(1000, 9000), st.floats(0.2, 0.68), st.floats(0.5, 8.0))
def test_elastic_identities(vl, ratio, density):
    vs = vl * ratio  # V_S / V_L < sqrt(3)/2 keeps B > 0
    r = elastic_moduli(vl, vs, density)
    assert r["E_GPa"] == pytest.approx(2 * r["G_GPa"] * (1 + r["poisson_ratio"]), rel=1e-9)
    assert r["B_GPa"] == pytest.approx(r["E_GPa"] / (3 * (1 - 2 * r["poisson_ratio"])), rel=1e-7)
    assert -1 < r["poisson_ratio"] < 0.5


def test_arrhenius_recovers_a_known_activation_energy():
    k = 8.617333262e-5
    temps = [273.15 + t for t in (25, 40, 55, 70, 85)]
    sigma = [1e3 / t * math.exp(-0.35 / (k * t)) for t in temps]
    result = arrhenius_fit(temps, sigma)
    assert result["ea_eV"] == pytest.approx(0.35, abs=1e-9)
    assert result["prefactor_S_K_cm"] == pytest.approx(1e3, rel=1e-6)
    noisy = [s * (1 + 0.02 * (-1) ** i) for i, s in enumerate(sigma)]
    fit = arrhenius_fit(temps, noisy)
    assert abs(fit["ea_eV"] - 0.35) < 3 * fit["ea_stderr_eV"] + 1e-3 and fit["ea_stderr_eV"] > 0
    with pytest.raises(InputError):
        arrhenius_fit([300, 310], [1e-3, 2e-3])


def test_ccd_protocol():
    steps = ccd_steps(0.1, 9.0, 1.6)
    assert len(steps) == 16 and steps[-1]["current_density_mA_cm2"] == pytest.approx(1.6)
    assert steps[0]["current_mA"] == pytest.approx(0.1 * math.pi * 0.45**2)
