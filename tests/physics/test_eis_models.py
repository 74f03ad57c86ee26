"""Circuit choice, arc assignment and conductivity for solid-electrolyte cells (argyrodb.physics.eis_models).

Every spectrum is written here from the closed-form impedances of its elements with seeded noise of 0.3 % of |Z|
on the real and on the imaginary part (a potentiostat's error is proportional to |Z|; it is also the error model the
|Z|-weighted fit and the AIC/BIC likelihood assume). Tolerances are stated where they are used, each several times
the scatter measured over 20 seeds, so that they test the method and not one lucky seed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from argyrodb.core.errors import InputError, ParameterError
from argyrodb.physics.circuits import ELEMENTS, check_circuit, check_initial, parameter_names
from argyrodb.physics.eis import (
    KK_FLOOR_PERCENT,
    KK_MAX_THRESHOLD_PERCENT,
    Spectrum,
    kk_check,
    kk_threshold_percent,
    kramers_kronig,
    lin_kk,
    simulate,
)
from argyrodb.physics.eis_models import (
    candidate_circuits,
    capacitance_label,
    conductivity_mS_cm,
    fit_candidate,
    fit_cell,
)
from argyrodb_testing import cell_impedance as impedance
from argyrodb_testing import noisy_spectrum as noisy

NOISE = 0.003


# A pellet whose bulk arc is visible: 10 MHz-0.1 Hz, 10 points per decade; a 3 ohm lead, bulk 5 kohm || 5 pF
# (a = 0.95; apex 6.4 MHz), grain boundary 1.5 kohm || 5 nF (a = 0.9; apex 21 kHz), blocking electrodes Q 1e-6, a 0.9.
# (With R_gb 500 ohm beside a 5 kohm bulk, R_gb scatters by 2.7 % over seeds at this noise: no 3 % test could hold.)
VISIBLE_F = np.logspace(7, -1, 81)
VISIBLE = {"r0": 3.0, "arcs": [(5000.0, 5e-12, 0.95), (1500.0, 5e-9, 0.9)], "spike": (1e-6, 0.9)}
# A room-temperature pellet at 1 MHz-0.1 Hz: bulk 150 ohm || 5 pF relaxes at 2e8 Hz, above the range; grain boundary
# 500 ohm || 5 nF (apex 64 kHz); the spike. No lead resistance, so the intercept is the bulk's 150 ohm.
INTERCEPT_F = np.logspace(6, -1, 71)
INTERCEPT = {"r0": 0.0, "arcs": [(150.0, 5e-12, 0.95), (500.0, 5e-9, 0.9)], "spike": (1e-6, 0.9)}


# --- the model itself against impedance.py ----------------------------------------------------------------------------


def test_parameter_names_and_element_table_are_impedance_py_s():
    from impedance.models.circuits import CustomCircuit
    from impedance.models.circuits.elements import circuit_elements

    # impedance.py evaluates circuits with this dict as globals, which adds '__builtins__' to it once a model was built
    assert {k: tuple(v.units) for k, v in circuit_elements.items() if k not in ("s", "p") and not k.startswith("_")} == ELEMENTS
    for circuit in ["R0-p(R1,CPE1)-p(R2,CPE2)-CPE3", "L0-R0-p(R1,CPE1)-W1", "R0-CPE1", "R0-p(R1,C1)-Wo1"]:
        names, units = parameter_names(circuit)
        model = CustomCircuit(circuit, initial_guess=[1.0] * len(names))
        assert [names, units] == [list(x) for x in model.get_param_names()]


@pytest.mark.parametrize("circuit", ["L0-R0-p(R1,CPE1)-p(R2,CPE2)-W1", "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3", "R0-CPE1"])
def test_fitted_impedance_is_impedance_py_s(circuit):
    """The chi-square a candidate reports is that of impedance.py's own model at its parameters (eis.simulate): the
    log-parameter model and its parameter mapping agree with the library to rounding (1e-9)."""
    f = np.logspace(6, -2, 57)
    spectrum = noisy(f, impedance(f, 0.5, [(20.0, 1e-8, 0.9), (60.0, 1e-5, 0.8)], warburg=2.0, inductance=2e-7), 4)
    candidate = fit_candidate(spectrum, circuit)
    z_fit = simulate(f, list(candidate.values), circuit)
    chi2 = float(np.sum(np.abs(z_fit - spectrum.z) ** 2 / np.abs(spectrum.z) ** 2))
    assert candidate.chi_square == pytest.approx(chi2, rel=1e-9)


def test_lin_kk_reproduces_eis_kramers_kronig():
    """Same M loop, time constants and normal equations as eis.kramers_kronig (which imports impedance.py): the same
    number of RC elements, mu and residuals to rounding."""
    f = np.logspace(6, -1, 50)
    for z in (impedance(f, **INTERCEPT), impedance(f, 0.1, [(0.05, 0.006, 0.85)], warburg=0.01, inductance=1.5e-7)):
        spectrum = noisy(f, z, 7)
        ours, residual = lin_kk(spectrum)
        theirs = kramers_kronig(spectrum)
        assert ours.n_rc == theirs.n_rc
        assert ours.mu == pytest.approx(theirs.mu, rel=1e-9, abs=1e-12)
        assert ours.residual_rms_percent == pytest.approx(theirs.residual_rms_percent, rel=1e-9)
        assert ours.residual_rms_percent == pytest.approx(100 * np.sqrt(np.mean(np.abs(residual) ** 2)))


# --- (a) bulk, grain boundary and spike: the arc visible, and above the range -------------------------------------------


def test_visible_bulk_arc_is_r1_not_r0():
    result = fit_cell(noisy(VISIBLE_F, impedance(VISIBLE_F, **VISIBLE), 11))
    assert result.chosen["circuit"] == "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"
    assert result.chosen["reliable"], result.chosen["reasons"]
    assert result.bulk_method == "arc"
    # 2 %: over 20 seeds R_bulk scatters by 0.18 % (largest error 0.5 %); R0 (3 ohm) is the lead, not the bulk
    assert result.bulk_resistance_ohm["value"] == pytest.approx(5000.0, rel=0.02)
    # 3 %: R_gb scatters by 0.7 % over 20 seeds (largest error 1.7 %)
    assert result.grain_boundary_resistance_ohm["value"] == pytest.approx(1500.0, rel=0.03)
    assert result.total_resistance_ohm["value"] == pytest.approx(6500.0, rel=0.02)
    labels = {k: v["label"] for k, v in result.assignments.items()}
    assert labels == {"p(R1,CPE1)": "bulk", "p(R2,CPE2)": "grain_boundary", "CPE3": "electrode"}
    # the arcs' Brug capacitances are the closed form's C (5 pF, 5 nF): 10 % (the CPE exponents scatter by ~0.005)
    assert result.assignments["p(R1,CPE1)"]["capacitance_F"] == pytest.approx(5e-12, rel=0.1)
    assert result.assignments["p(R2,CPE2)"]["capacitance_F"] == pytest.approx(5e-9, rel=0.1)
    # no geometry: C per cell constant with the assumed 1 mm / 1 cm^2 pellet, t/A = 0.1 cm, said in the notes
    assert result.assignments["p(R1,CPE1)"]["capacitance_per_cell_constant_F_cm"] == pytest.approx(
        0.1 * result.assignments["p(R1,CPE1)"]["capacitance_F"])
    assert any("assume a pellet 1 mm thick" in note for note in result.method)
    assert "lead and contact resistance, not the bulk" in result.method[0]
    assert result.sigma_bulk_mS_cm is None and result.sigma_total_mS_cm is None


def test_bulk_arc_above_the_range_gives_the_intercept_and_says_so():
    result = fit_cell(noisy(INTERCEPT_F, impedance(INTERCEPT_F, **INTERCEPT), 12))
    assert result.chosen["circuit"] == "R0-p(R1,CPE1)-CPE2"
    assert result.chosen["reliable"], result.chosen["reasons"]
    assert result.bulk_method == "intercept" and result.method[0].startswith("intercept:")
    # 2 %: the intercept scatters by 0.25 % over 20 seeds (largest error 0.8 %: the 2e8 Hz arc's a = 0.95 tail)
    assert result.bulk_resistance_ohm["value"] == pytest.approx(150.0, rel=0.02)
    # 3 %: R_gb scatters by 0.17 % (largest error 0.4 %)
    assert result.grain_boundary_resistance_ohm["value"] == pytest.approx(500.0, rel=0.03)
    assert {k: v["label"] for k, v in result.assignments.items()} == {"p(R1,CPE1)": "grain_boundary", "CPE2": "electrode"}
    # the circuit with a bulk arc was fitted and refused: its first arc cannot be told from R0
    two_arcs = next(c for c in result.candidates if c["circuit"] == "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3")
    assert not two_arcs["eligible"] and two_arcs["reasons"]


def test_total_resistance_error_uses_the_covariance():
    """R_total = R_bulk + R_gb with var = var_b + var_gb + 2 cov: in the intercept case R0 and R1 are anti-correlated
    (the grain-boundary arc's high-frequency foot trades against the intercept), so the total is sharper than the
    quadrature sum of its parts would say."""
    result = fit_cell(noisy(INTERCEPT_F, impedance(INTERCEPT_F, **INTERCEPT), 12))
    b, g, t = result.bulk_resistance_ohm, result.grain_boundary_resistance_ohm, result.total_resistance_ohm
    assert t["value"] == pytest.approx(b["value"] + g["value"])
    assert t["stderr"] < math.hypot(b["stderr"], g["stderr"])
    index = [result.fit.names.index("R0"), result.fit.names.index("R1")]
    assert result.fit.stderr[index[0]] == pytest.approx(b["stderr"]) and result.fit.stderr[index[1]] == pytest.approx(g["stderr"])


def test_r0_near_zero_is_never_taken_as_the_bulk():
    """Without a lead resistance and with the geometry making the bulk capacitance look like a grain boundary's
    (a 1 cm thick, 0.01 cm^2 sample: C t/A = 5 pF x 100 cm = 5e-10 F/cm), the assignment alone would read the intercept
    R0 ~ 0 ohm as the bulk (the issue's sigma overstated by orders); the first arc is taken instead, with a note."""
    cell = {**VISIBLE, "r0": 0.0}
    result = fit_cell(noisy(VISIBLE_F, impedance(VISIBLE_F, **cell), 11), thickness_cm=1.0, area_cm2=0.01)
    assert result.bulk_method == "arc"
    assert result.bulk_resistance_ohm["value"] == pytest.approx(5000.0, rel=0.02)
    assert "indistinguishable from 0" in result.method[0]


# --- (b) inductive high-frequency points ------------------------------------------------------------------------------


def test_inductive_points_bring_the_inductor_and_a_right_r0():
    """A Li-ion-like cell (issue item 5): L 150 nH, R0 0.11 ohm, an arc of 0.05 ohm at 500 Hz, a Warburg, 100 kHz-
    10 mHz; the 13 highest frequencies have -Z'' < 0."""
    f = np.logspace(5, -2, 71)
    z = impedance(f, 0.11, [(0.05, 1 / (2 * np.pi * 500 * 0.05), 0.85)], warburg=0.01, inductance=1.5e-7)
    assert np.sum(z.imag > 0) == 13
    result = fit_cell(noisy(f, z, 21))
    assert result.chosen["circuit"] == "L0-R0-p(R1,CPE1)-W1"
    # 1 %: over 10 seeds R0 is within 0.1 % of the truth
    assert result.bulk_resistance_ohm["value"] == pytest.approx(0.11, rel=0.01)
    without = next(c for c in result.candidates if c["circuit"] == "R0-p(R1,CPE1)-W1")
    # the model without L misses the inductive points: residual 14 % of |Z| against the noise's 0.4 %, BIC ~1000 worse
    assert without["bic"] - result.chosen["bic"] > 100 and without["residual_rms_percent"] > 5
    assert without["parameters"]["R0"]["value"] != pytest.approx(0.11, rel=0.01)


def test_no_inductor_candidate_without_inductive_points():
    spectrum = noisy(INTERCEPT_F, impedance(INTERCEPT_F, **INTERCEPT), 1)
    assert not any(c.startswith("L0") for c in candidate_circuits(spectrum))
    assert candidate_circuits(spectrum) == ["R0-CPE1", "R0-p(R1,CPE1)-CPE2", "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"]
    arcs_only = noisy(INTERCEPT_F, impedance(INTERCEPT_F, 10.0, [(500.0, 5e-9, 0.9), (2000.0, 1e-6, 0.8)]), 1)
    assert candidate_circuits(arcs_only) == ["R0-p(R1,CPE1)", "R0-p(R1,CPE1)-p(R2,CPE2)"]


# --- (c) conductivity from the geometry -------------------------------------------------------------------------------


def test_conductivity_textbook_identity_and_error_propagation():
    # t = 0.1 cm, A = 1 cm^2, R = 100 ohm: sigma = 0.1 / 100 S/cm = 1e-3 S/cm = 1.0 mS/cm exactly
    assert conductivity_mS_cm(100.0, 0.1, 1.0) == {"value": 1.0, "stderr": 0.0}
    r, t, a, er, et, ea = 100.0, 0.1, 1.0, 2.0, 0.002, 0.01
    got = conductivity_mS_cm(r, t, a, er, et, ea)

    def sigma(x):
        return 1000 * x[1] / (x[0] * x[2])

    # first-order propagation against central differences (step 1e-6 relative): 1e-6 relative agreement
    x0 = np.array([r, t, a])
    gradient = [(sigma(x0 + dx) - sigma(x0 - dx)) / (2 * dx[i]) for i, dx in enumerate(np.diag(x0 * 1e-6))]
    expected = math.sqrt(sum((g * e) ** 2 for g, e in zip(gradient, (er, et, ea))))
    assert got["stderr"] == pytest.approx(expected, rel=1e-6)


def test_fit_cell_conductivity_from_thickness_and_diameter():
    spectrum = noisy(INTERCEPT_F, impedance(INTERCEPT_F, **INTERCEPT), 12)
    d = 2 / math.sqrt(math.pi)  # A = pi d^2 / 4 = 1 cm^2
    result = fit_cell(spectrum, thickness_cm=0.1, diameter_cm=d, thickness_stderr_cm=0.001, diameter_stderr_cm=0.001)
    r_b, r_t = result.bulk_resistance_ohm, result.total_resistance_ohm
    assert result.sigma_bulk_mS_cm["value"] == pytest.approx(100 / r_b["value"])  # 1000 t / (R A)
    assert result.sigma_total_mS_cm["value"] == pytest.approx(100 / r_t["value"])
    relative = math.sqrt((r_b["stderr"] / r_b["value"]) ** 2 + 0.01 ** 2 + (2 * 0.001 / d) ** 2)
    assert result.sigma_bulk_mS_cm["stderr"] == pytest.approx(result.sigma_bulk_mS_cm["value"] * relative)
    assert result.geometry["known"] and result.geometry["area_cm2"] == pytest.approx(1.0)
    data = json.loads(json.dumps(result.as_dict()))
    for key in ("bulk_resistance_ohm", "grain_boundary_resistance_ohm", "total_resistance_ohm", "sigma_bulk_mS_cm",
                "sigma_total_mS_cm"):
        assert set(data[key]) == {"value", "stderr"}
    assert {"assignments", "chosen", "candidates", "method"} <= set(data)
    assert {"circuit", "aic", "bic", "reliable", "reasons"} <= set(data["chosen"])
    assert all({"circuit", "aic", "bic", "eligible"} <= set(c) for c in data["candidates"])


def test_geometry_from_the_file_and_refused_geometry():
    spectrum = noisy(INTERCEPT_F, impedance(INTERCEPT_F, **INTERCEPT), 12)
    spectrum.thickness_cm, spectrum.area_cm2 = 0.1, 0.785  # as a reader sets them from the file's header
    result = fit_cell(spectrum)
    assert result.geometry["source"] == "file"
    assert result.sigma_bulk_mS_cm["value"] == pytest.approx(100 / 0.785 / result.bulk_resistance_ohm["value"])
    with pytest.raises(ParameterError, match="diameter_cm"):
        fit_cell(spectrum, thickness_cm=0.1, area_cm2=1.0, diameter_cm=1.0)
    with pytest.raises(ParameterError, match="thickness_cm: must be a positive number"):
        fit_cell(spectrum, thickness_cm=-0.1, area_cm2=1.0)
    with pytest.raises(ParameterError, match="area_cm2"):
        fit_cell(spectrum, thickness_cm=0.1)


# --- (d) the information criteria -------------------------------------------------------------------------------------


def test_information_criteria_prefer_the_true_circuit():
    """The README's pellet (R0 25 ohm, R1 180 ohm || CPE at 64 kHz, spike) against a spurious second arc and a missing
    arc, over 10 seeds. BIC prefers the true circuit on every seed (by 5.6-13); AIC, whose penalty for the spurious
    arc's 3 parameters is 6 against a chi-square gain distributed as chi2(3) (P(gain > 6) = 11 %), on 8 of these 10
    (asserted: 7, one seed of slack for platform rounding) - which is why fit_cell chooses by BIC. The missing arc
    loses by more than 1000 in both."""
    f = np.logspace(6, -1, 71)
    z = impedance(f, 25.0, [(180.0, (5e-8 * 180 ** 0.1) ** (1 / 0.9), 0.9)], spike=(2e-6, 0.85))
    circuits = ["R0-p(R1,CPE1)-CPE2", "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3", "R0-CPE1"]
    bic_wins = aic_wins = 0
    for seed in range(10):
        spectrum = noisy(f, z, 100 + seed)
        true, spurious, missing = (fit_candidate(spectrum, c) for c in circuits)
        assert spurious.chi_square <= true.chi_square * 1.0001  # nested: the extra arc can only help the fit
        assert missing.bic - true.bic > 100 and missing.aic - true.aic > 100
        bic_wins += spurious.bic > true.bic
        aic_wins += spurious.aic > true.aic
        assert fit_cell(spectrum, circuits=circuits).chosen["circuit"] == circuits[0]
    assert bic_wins == 10 and aic_wins >= 7


# --- item 5: the lin-KK threshold -------------------------------------------------------------------------------------


def test_kk_threshold_passes_sparse_and_noisy_spectra_and_fails_drift():
    f = np.logspace(6, -1, 50)  # 7 points per decade
    z = impedance(f, **INTERCEPT)
    dense = noisy(f, z, 3)
    # a dense spectrum, 0.3 % of |Z| on each part: residual ~ sqrt(2) x 0.3 = 0.42 %, threshold below eis's fixed 1 %
    assert kk_check(dense).valid and KK_FLOOR_PERCENT <= kk_threshold_percent(dense) < 1.0
    # every 5th point (1.3 points per decade): lin-KK's residual is its own representation error, several per cent
    sparse = Spectrum("sparse", dense.frequency_hz[::5], dense.z[::5])
    check = kk_check(sparse)
    assert check.kramers_kronig.residual_rms_percent > 1.0  # fails eis's fixed 1 % (KK_MAX_RMS_PERCENT)
    assert check.valid and check.notes  # passes, and says the check tests little
    # 1 % noise: fails the fixed 1 %, passes a threshold that knows the noise
    loud = kk_check(noisy(f, z, 3, noise=0.01))
    assert loud.kramers_kronig.residual_rms_percent > 1.0 and loud.valid
    assert loud.noise_percent == pytest.approx(1.0, rel=0.3)  # the estimate is the noise put in
    # the spike's capacitance drifting by 30 % over the sweep (elapsed time: each point one period plus 1 s)
    elapsed = np.cumsum(1 / f + 1.0)
    drift = np.array([impedance([fi], **{**INTERCEPT, "spike": (1e-6 * (1 + 0.3 * ti / elapsed[-1]), 0.9)})[0]
                      for fi, ti in zip(f, elapsed)])
    drifting = kk_check(noisy(f, drift, 3))
    assert not drifting.valid
    # a spectrum scattered by 8 %: too scattered to vouch for, whatever its residual
    scattered = kk_check(noisy(f, z, 3, noise=0.08))
    assert scattered.threshold_percent == KK_MAX_THRESHOLD_PERCENT and not scattered.valid
    assert "too scattered" in scattered.notes[0]


def test_the_verdict_reaches_the_fit_result_and_the_reasons():
    """fit_cell's FitResult (for eis's plots and JSON) carries the threshold's verdict, not the fixed 1 %'s, and a
    drifting spectrum's chosen fit is unreliable for that reason."""
    f = np.logspace(6, -1, 50)
    loud = fit_cell(noisy(f, impedance(f, **INTERCEPT), 3, noise=0.01))  # lin-KK 1.3 %: fails the fixed 1 %
    assert loud.chosen["reliable"] and loud.fit.reliable
    assert loud.fit.as_dict()["kramers_kronig"]["valid"] and loud.kramers_kronig["valid"]
    assert loud.fit.as_dict()["kramers_kronig"]["threshold_percent"] == loud.kramers_kronig["threshold_percent"]
    elapsed = np.cumsum(1 / f + 1.0)
    drift = np.array([impedance([fi], **{**INTERCEPT, "spike": (1e-6 * (1 + 0.3 * ti / elapsed[-1]), 0.9)})[0]
                      for fi, ti in zip(f, elapsed)])
    drifting = fit_cell(noisy(f, drift, 3))
    assert not drifting.chosen["reliable"] and not drifting.fit.reliable
    assert "Kramers-Kronig" in drifting.chosen["reasons"][0]


def test_refused_spectra_and_circuits():
    f = np.logspace(6, -1, 30)
    z = impedance(f, **INTERCEPT)
    with pytest.raises(InputError, match="bad: only 5 distinct frequencies"):
        fit_cell(Spectrum("bad", f[:5], z[:5]))
    with pytest.raises(InputError, match="impedances must be finite"):
        fit_cell(Spectrum("bad", f, np.where(f > 1e3, z, np.nan)))
    with pytest.raises(ParameterError, match="circuits: 'R1-p\\(R2,CPE2\\)' has no series resistor R0"):
        fit_cell(noisy(f, z, 1), circuits=["R1-p(R2,CPE2)"])
    with pytest.raises(ParameterError, match="the candidate fits take L, R, CPE, W and p\\(R,CPE\\)"):
        fit_candidate(noisy(f, z, 1), "R0-p(R1,C1)")


# --- (e) the error helpers --------------------------------------------------------------------------------------------


def test_unknown_element_is_named_with_the_valid_ones():
    with pytest.raises(ParameterError) as error:
        check_circuit("R0-X1")
    message = str(error.value)
    assert "unknown circuit element 'X1'" in message and "R, C, L, W, Wo, Ws, CPE" in message and "\n" not in message
    assert "__builtins__" not in message
    for bad, words in [("R0-p(R1,CPE1", "unbalanced"), ("R0-R0", "twice"), ("R-CPE1", "needs a number"),
                       ("", "empty"), ("R0+R1", "cannot read")]:
        with pytest.raises(ParameterError, match=words):
            check_circuit(bad)
    assert check_circuit("L0-R0-p(R1,CPE1)-Wo1") == ["L0", "R0", "R1", "CPE1", "Wo1"]


def test_bad_starting_value_names_the_parameter():
    circuit = "R0-p(R1,CPE1)-CPE2"
    check_initial(circuit, [10, 100, 1e-9, 0.9, 1e-6, 0.85])
    for initial, words in [([10, 0, 1e-9, 0.9, 1e-6, 0.85], "R1 = 0: starting values must be above 0"),
                           ([10, 100, 1e-9, 1.2, 1e-6, 0.85], "CPE1_1 = 1.2: an exponent"),
                           ([10, 100, 1e-9, 0.9, float("nan"), 0.85], "CPE2_0 = nan"),
                           ([10, 100, "x", 0.9, 1e-6, 0.85], "CPE1_0 = 'x' is not a number"),
                           ([10, 100], "2 starting values for the 6 parameters")]:
        with pytest.raises(ParameterError, match=words) as error:
            check_initial(circuit, initial)
        assert error.value.parameter == "initial" and "\n" not in str(error.value)
    with pytest.raises(ParameterError, match="unknown circuit element 'Q1'"):
        check_initial("R0-Q1", [1.0, 1.0])


def test_capacitance_labels_follow_irvine_sinclair_west():
    # a 1 cm thick, 1 cm^2 cell (the table's own, t/A = 1 cm^-1): C t/A and C/A are the same number
    assert [capacitance_label(c) for c in (1e-12, 5e-12, 2e-11, 5e-9, 5e-8, 1e-6, 1e-4)] == [
        "bulk", "bulk", "grain_boundary", "grain_boundary", "interface", "electrode", "electrode"]
    # a 1 mm pellet of 1 cm^2: volume processes by C t/A, surface ones by C/A. 0.3 uF/cm^2 is a double layer
    # (electrode), though its C t/A (3e-8 F/cm) lies in the surface-layer range
    assert capacitance_label(3e-8, 3e-7) == "electrode"
    assert capacitance_label(2e-8, 2e-8) == "interface"
    assert capacitance_label(5e-10, 5e-9) == "grain_boundary"


def test_a_thin_pellets_double_layer_is_not_silently_a_grain_boundary():
    """60 um, 1 cm^2: a 1 uF (1 uF/cm^2) double layer has C t/A = 6e-9 F/cm, inside the grain-boundary range; by
    C/A it is the electrode interface. Both readings are possible, so the arc is marked ambiguous naming the other."""
    f = np.logspace(7, -1, 81)
    z = impedance(f, r0=2.0, arcs=[(500.0, 5e-10, 0.95), (2000.0, 1e-6, 0.9)])
    result = fit_cell(noisy(f, z, 5), thickness_cm=0.006, area_cm2=1.0)
    second = result.assignments["p(R2,CPE2)"]
    assert second["capacitance_per_area_F_cm2"] == pytest.approx(1e-6, rel=0.1)
    assert second["label"] == "grain_boundary"
    assert "electrode interface" in second["ambiguous"]
    assert result.assignments["p(R1,CPE1)"]["label"] == "bulk" and "ambiguous" not in result.assignments["p(R1,CPE1)"]


def test_overlapping_arcs_are_reported_as_such():
    """Two arcs a factor 5 apart in frequency (6.4 and 1.3 MHz): the sum is fixed, the split rests on the arc shape."""
    f = np.logspace(8, 2, 61)
    z = impedance(f, r0=3.0, arcs=[(5000.0, 5e-12, 0.95), (5000.0, 2.5e-11, 0.95)])
    result = fit_cell(noisy(f, z, 3))
    assert result.total_resistance_ohm["value"] == pytest.approx(10003.0, rel=0.02)
    assert result.assignments["p(R1,CPE1)"]["overlaps"] == "p(R2,CPE2)"
    assert result.assignments["p(R2,CPE2)"]["overlaps"] == "p(R1,CPE1)"
    assert any(note.startswith("caution: the arcs p(R1,CPE1) and p(R2,CPE2)") for note in result.method)
    visible = fit_cell(noisy(VISIBLE_F, impedance(VISIBLE_F, **VISIBLE), 11))
    assert not any("overlaps" in entry for entry in visible.assignments.values())


def test_a_bulk_arc_just_above_f_max_is_partially_measured_not_dropped():
    """A hot ceramic on a 1 MHz analyser (EISFitpython's s04147 at 190-200 C): the bulk arc's apex at ~1.3 MHz. Its
    low-frequency side fixes R_bulk; only its CPE-T and exponent trade off. Before: the two-arc circuit was barred
    (CPE1_0 undetermined, apex above f_max) and one arc lumping bulk and grain boundary was chosen."""
    f = np.logspace(6, -1.3, 74)
    truth = {"r0": 0.0, "arcs": [(25000.0, 5e-12, 0.85), (100000.0, 2e-11, 0.85)], "spike": (5e-6, 0.6)}
    cell = fit_cell(noisy(f, impedance(f, **truth), seed=5), thickness_cm=0.21, diameter_cm=0.8)
    payload = cell.as_dict()
    assert payload["chosen"]["circuit"] == "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"
    apex = [a["apex_frequency_hz"] for a in payload["assignments"].values() if a.get("apex_frequency_hz")]
    assert max(apex) > 1e6  # the bulk arc does relax above f_max
    # a partially measured arc is known less well: over seeds 1-10 R_bulk scatters 3-4 % (worst -8.5 %) and its
    # reported stderr is ~11 %, so: within 2 stderr and 10 %; R_gb stays within 3 % (worst 1.5 %)
    bulk = payload["bulk_resistance_ohm"]
    assert abs(bulk["value"] - 25000.0) < 2 * bulk["stderr"] and bulk["value"] == pytest.approx(25000.0, rel=0.10)
    assert payload["grain_boundary_resistance_ohm"]["value"] == pytest.approx(100000.0, rel=0.03)
    assert any("just above f_max" in note for note in payload["method"])
