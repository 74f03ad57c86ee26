"""`argyrodb calc ...` and `argyrodb eis fit` as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from argyrodb_testing import run


def test_gforce_table_json():
    rows = json.loads(run("calc", "gforce", "--table", "550:800:50", "--json").stdout)
    assert [round(r["gforce"]) for r in rows] == [30, 36, 42, 49, 56, 64]
    single = json.loads(run("calc", "gforce", "--rpm", "550", "--radius", "0.089", "--json").stdout)
    assert single["gforce"] == pytest.approx(30.126, abs=1e-3)


def test_conductivity_elastic_cpe_json():
    sigma = json.loads(run("calc", "conductivity", "--resistance", "73.3", "--thickness-mm", "0.6", "--diameter-mm", "10", "--json").stdout)
    assert sigma["sigma_mS_cm"] == pytest.approx(1.042215, rel=1e-6)
    elastic = json.loads(run("calc", "elastic", "--vl", "4000", "--vs", "2200", "--density", "1.9", "--json").stdout)
    assert elastic["G_GPa"] == pytest.approx(9.196)
    cpe = json.loads(run("calc", "cpe", "--r", "31.65", "--q", "6.32e-7", "--alpha", "0.729", "--json").stdout)
    assert cpe["capacitance_F"] == pytest.approx(1.13e-8, rel=0.005)


def test_arrhenius_csv(tmp_path):
    k = 8.617333262e-5
    path = tmp_path / "s.csv"
    temps = [25, 40, 55, 70]
    path.write_text("temperature_C,sigma_mS_cm\n" + "\n".join(
        f"{t},{1e6 / (t + 273.15) * np.exp(-0.3 / (k * (t + 273.15)))}" for t in temps))
    result = json.loads(run("calc", "arrhenius", str(path), "--json").stdout)
    assert result["ea_eV"] == pytest.approx(0.3, abs=1e-6)


@pytest.mark.parametrize("args, message", [
    (["calc", "cpe", "--r", "10", "--q", "1e-6", "--alpha", "1.5"], "CPE exponent"),
    (["calc", "conductivity", "--resistance", "10", "--diameter-mm", "10"], "exactly one of"),
    (["calc", "elastic", "--vl", "1000", "--vs", "2000", "--density", "2"], "positive bulk modulus"),
    (["calc", "gforce", "--rpm", "-5"], "positive"),
])
def test_calc_bad_input(args, message):
    result = run(*args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_eis_fit_cli(tmp_path):
    from argyrodb.physics.eis import simulate

    truth = [73.31, 31.65, 6.32e-7, 0.729, 31.64, 5.21e-5, 0.512, 20.64, 5.30e-2, 0.493, 20.0]
    f = np.logspace(7, -3, 81)
    z = simulate(f, truth)
    path = tmp_path / "spectrum.csv"
    path.write_text("frequency_Hz,z_real_ohm,z_imag_ohm\n" + "\n".join(f"{a},{b.real},{b.imag}" for a, b in zip(f, z)))
    png = tmp_path / "nyquist.png"
    result = run("eis", "fit", str(path), "--json", "--plot", str(png))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    values = {p["name"]: p["value"] for p in payload["parameters"]}
    assert values["R0"] == pytest.approx(73.31, rel=0.01) and values["W1"] == pytest.approx(20.0, rel=0.01)
    assert set(payload["capacitances_F"]) == {"C_R1", "C_R2", "C_R3"}
    assert png.read_bytes()[:4] == b"\x89PNG"
