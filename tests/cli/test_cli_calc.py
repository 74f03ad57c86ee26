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


def _arc(r_ohm, f_apex_hz, alpha):
    """[R, Q, alpha] of an R||CPE arc of diameter R whose apex is at f_apex: omega_apex = (R Q)^(-1/alpha)."""
    return [r_ohm, (2 * np.pi * f_apex_hz) ** -alpha / r_ohm, alpha]


# Fig. S9-circuit spectra: Table S4 cycle 20 without noise, and three sets far from it with 0.5 % noise
EIS_SPECTRA = {
    "table-s4": ([73.31, 31.65, 6.32e-7, 0.729, 31.64, 5.21e-5, 0.512, 20.64, 5.30e-2, 0.493, 20.0], 0.0),
    "R0=50": ([50.0, *_arc(40, 2e5, 0.90), *_arc(250, 1e3, 0.75), *_arc(600, 2, 0.65), 30.0], 0.005),
    "R0=10": ([10.0, *_arc(120, 5e4, 0.95), *_arc(30, 300, 0.70), *_arc(200, 0.5, 0.80), 5.0], 0.005),
    "R0=300": ([300.0, *_arc(1500, 2e4, 0.60), *_arc(400, 50, 0.85), *_arc(3000, 0.05, 0.70), 100.0], 0.005),
}


def _spectrum_file(path, parameters, noise, distort=None):
    from argyrodb.physics.eis import simulate

    f = np.logspace(7, -3, 81)
    z = simulate(f, parameters)
    rng = np.random.default_rng(3)
    z = z.real * (1 + noise * rng.standard_normal(f.size)) + 1j * z.imag * (1 + noise * rng.standard_normal(f.size))
    if distort is not None:
        z = distort(f, z)
    path.write_text("frequency_Hz,z_real_ohm,z_imag_ohm\n" + "\n".join(f"{a:.17g},{b.real:.17g},{b.imag:.17g}" for a, b in zip(f, z)))
    return path


@pytest.mark.parametrize("name", EIS_SPECTRA)
def test_eis_fit_cli(tmp_path, name):
    truth, noise = EIS_SPECTRA[name]
    path = _spectrum_file(tmp_path / "spectrum.csv", truth, noise)
    png = tmp_path / "nyquist.png"
    result = run("eis", "fit", str(path), "--circuit", "fig-s9", "--json", "--plot", str(png))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    payload = json.loads(result.stdout)
    values = {p["name"]: p["value"] for p in payload["parameters"]}
    assert values["R0"] == pytest.approx(truth[0], rel=0.03)
    total = values["R0"] + values["R1"] + values["R2"] + values["R3"]
    assert total == pytest.approx(truth[0] + truth[1] + truth[4] + truth[7], rel=0.05)
    assert payload["reliable"] is True and payload["reasons"] == [] and payload["kramers_kronig"]["valid"] is True
    assert payload["residual_rms_percent"] < 0.6 and payload["chi_square"] < 0.01
    assert set(payload["capacitances_F"]) == {"C_R1", "C_R2", "C_R3"}
    assert png.read_bytes()[:4] == b"\x89PNG"
    if name == "table-s4":
        assert values["R0"] == pytest.approx(73.31, rel=0.01) and values["W1"] == pytest.approx(20.0, rel=0.01)


def test_eis_fit_cli_warnings_and_errors(tmp_path):
    truth, noise = EIS_SPECTRA["R0=50"]

    def drift(f, z):  # Z' grows by up to 20 % during the sweep below 1 Hz: not Kramers-Kronig consistent
        return z + 0.2 * np.clip(-np.log10(f) / 3, 0, 1) * z.real

    drifted = _spectrum_file(tmp_path / "drifted.csv", truth, noise, drift)
    result = run("eis", "fit", str(drifted), "--circuit", "fig-s9", "--json")
    assert result.returncode == 0
    assert result.stderr.startswith("argyrodb: warning: drifted: unreliable fit: spectrum fails the Kramers-Kronig check")
    assert result.stderr.count("\n") == 1
    payload = json.loads(result.stdout)
    assert payload["reliable"] is False and payload["kramers_kronig"]["valid"] is False and payload["reasons"]
    text = run("eis", "fit", str(drifted), "--circuit", "fig-s9")
    assert "NOT Kramers-Kronig consistent" in text.stdout and text.stderr == result.stderr

    clean = _spectrum_file(tmp_path / "clean.csv", truth, noise)
    poor = run("eis", "fit", str(clean), "--circuit", "R0-p(R1,CPE1)-W1")  # one arc for three
    assert poor.returncode == 0 and "unreliable fit: poor fit: residual rms" in poor.stderr
    short = tmp_path / "short.csv"
    short.write_text("\n".join(clean.read_text().splitlines()[:6]))
    for args, message in [
        # the unknown element named with the valid ones (was: impedance.py's dict_keys([... '__builtins__']))
        ((str(clean), "--circuit", "R0-X1"), "--circuit: unknown circuit element 'X1' in 'R0-X1'; valid elements: R, C, L, W,"),
        ((str(clean), "--circuit", "R0-p(R1,C1)"), "--initial: give starting values for a custom circuit"),
        ((str(clean), "--circuit", "fig-s9", "--initial", "50,40,1e-9"), "--initial: 3 starting values for the 11 parameters of R0-p(R1,CPE1)"),
        # a zero start named (was impedance.py's "Initial guess is outside of provided bounds")
        ((str(clean), "--circuit", "R0-p(R1,C1)", "--initial", "50,0,1e-9"), "--initial: R1 = 0: starting values must be above 0"),
        ((str(clean), "--circuit", "R0-p(R1,CPE1)", "--initial", "50,40,1e-9,1.3"), "--initial: CPE1_1 = 1.3: an exponent"),
        ((str(clean), "--circuit", "fig-s9", "--initial", "50,forty"), "--initial: not a list of numbers"),
        ((str(short),), "only 5 data points"),
    ]:
        bad = run("eis", "fit", *args)
        assert bad.returncode == 2 and message in bad.stderr and bad.stderr.count("\n") == 1, (args, bad.stderr)
