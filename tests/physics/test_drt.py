"""Distribution of relaxation times: spectra built in closed form (RC elements, ZARCs) are inverted and the DRT is
checked against what is known about them: the delta function of an RC at tau = RC of weight R, the Cole-Cole
distribution of a ZARC, the impedance the distribution gives back; noise, inductance, refusals and the plot."""

from __future__ import annotations

import json
import math
import time
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.integrate import quad

from argyrodb.core.errors import ParameterError
from argyrodb.physics.drt import (
    MAX_POINTS,
    MAX_TAU_POINTS,
    MIN_PEAK_FRACTION,
    capacitive_tail,
    find_peaks,
    fit_drt,
    fit_spectrum,
    plot_drt,
    tau_grid,
)

# 1 MHz - 0.1 Hz, 10 points a decade: a pellet measurement's range and density
FREQUENCIES = np.logspace(6, -1, 71)
OMEGA = 2 * np.pi * FREQUENCIES
#: Grid step of the default tau grid: 10 points a decade, a factor 10^0.1 = 1.26 between neighbours. A peak could be
#: read off at the nearest grid point, up to half a step (12 %) away; the parabola through the three highest points
#: brings it within a few per cent, so 10 % fails when that refinement is lost without failing on the grid's phase.
TAU_TOLERANCE = 0.10


def rc(r_ohm, tau_s, omega=OMEGA):
    return r_ohm / (1 + 1j * omega * tau_s)


def zarc(r_ohm, tau0_s, alpha, omega=OMEGA):
    """R || CPE with Q = tau0^alpha / R: Z = R / (1 + (j omega tau0)^alpha)."""
    return r_ohm / (1 + (1j * omega * tau0_s) ** alpha)


def zarc_gamma(tau_s, r_ohm, tau0_s, alpha):
    """The ZARC's DRT, the Cole-Cole distribution (K. S. Cole & R. H. Cole, J. Chem. Phys. 9 (1941) 341; it follows from
    Z by the inversion of R. M. Fuoss & J. G. Kirkwood, J. Am. Chem. Soc. 63 (1941) 385), per unit of ln tau:
    gamma = R / (2 pi) sin((1 - alpha) pi) / (cosh(alpha ln(tau / tau0)) - cos((1 - alpha) pi)).
    test_zarc_distribution_formula checks it against the ZARC's closed form by quadrature."""
    return (r_ohm / (2 * np.pi) * np.sin((1 - alpha) * np.pi)
            / (np.cosh(alpha * np.log(tau_s / tau0_s)) - np.cos((1 - alpha) * np.pi)))


def noisy(z, relative, seed):
    """Gaussian noise of ``relative`` standard deviation on Z' and Z'' separately (seeded)."""
    rng = np.random.default_rng(seed)
    return z.real * (1 + relative * rng.standard_normal(z.size)) + 1j * z.imag * (1 + relative * rng.standard_normal(z.size))


@pytest.mark.parametrize("c_f", [1e-6, 10 ** 0.05 * 1e-6])
def test_single_rc_is_one_peak_at_rc_with_area_r(c_f):
    """R = 100 ohm with C = 1e-6 F (tau = 1e-4 s, 0.02 of a step from a grid point) and with C = 1.12e-6 F (tau
    half-way between two grid points). Measured: tau within 1.2 %, area within 0.2 %, residual 0.4-0.5 % of |Z| (a
    smooth gamma cannot be a delta function)."""
    r_ohm = 100.0
    result = fit_drt(FREQUENCIES, 10.0 + rc(r_ohm, r_ohm * c_f))
    assert len(result.peaks) == 1 and result.n_arcs == 1
    peak = result.peaks[0]
    assert peak.tau_s == pytest.approx(r_ohm * c_f, rel=TAU_TOLERANCE)
    # the area is R: regularisation spreads the delta function over a few grid points but keeps its weight
    assert peak.resistance_ohm == pytest.approx(r_ohm, rel=0.03)
    assert result.r_inf_ohm == pytest.approx(10.0, abs=0.5)
    assert result.polarization_resistance_ohm == pytest.approx(r_ohm, rel=0.03)
    assert peak.frequency_hz == pytest.approx(1 / (2 * np.pi * r_ohm * c_f), rel=TAU_TOLERANCE)
    assert not peak.at_edge and result.lambda_method == "mgcv" and result.notes == []


def test_two_rcs_a_decade_and_a_half_apart_and_more_are_two_peaks():
    # three decades apart, as the brief's example; and 1.5 decades
    for (r1, t1), (r2, t2) in [((100.0, 1e-6), (300.0, 1e-3)), ((100.0, 1e-5), (300.0, 10 ** -3.5))]:
        result = fit_drt(FREQUENCIES, 10.0 + rc(r1, t1) + rc(r2, t2))
        assert [p.at_edge for p in result.peaks] == [False, False]
        first, second = result.peaks
        assert first.tau_s == pytest.approx(t1, rel=TAU_TOLERANCE) and second.tau_s == pytest.approx(t2, rel=TAU_TOLERANCE)
        # 5 %: the peaks are split at the minimum between them, which takes nothing from well-separated delta functions
        assert first.resistance_ohm == pytest.approx(r1, rel=0.05) and second.resistance_ohm == pytest.approx(r2, rel=0.05)


def test_zarc_distribution_formula():
    """The Cole-Cole distribution integrates to the ZARC's impedance (quadrature, 1e-9) and to R."""
    r_ohm, tau0, alpha = 100.0, 1e-3, 0.8
    for f_hz in (1.0, 159.0, 1e4):
        omega = 2 * np.pi * f_hz

        def part(x, real, omega=omega):
            tau = math.exp(x)
            kernel = 1 / (1 + (omega * tau) ** 2) if real else -omega * tau / (1 + (omega * tau) ** 2)
            return zarc_gamma(tau, r_ohm, tau0, alpha) * kernel

        integral = (quad(part, -60, 60, args=(True,), limit=400, points=[math.log(tau0)])[0]
                    + 1j * quad(part, -60, 60, args=(False,), limit=400, points=[math.log(tau0)])[0])
        assert abs(integral - zarc(r_ohm, tau0, alpha, omega)) < 1e-9 * r_ohm
    assert quad(lambda x: zarc_gamma(math.exp(x), r_ohm, tau0, alpha), -80, 80, limit=400)[0] == pytest.approx(r_ohm, rel=1e-9)


@pytest.mark.parametrize(("noise", "shape_tolerance"), [(0.0, 0.10), (0.005, 0.20)])
def test_zarc_matches_the_analytic_distribution(noise, shape_tolerance):
    """A ZARC (alpha 0.8) gives the Cole-Cole distribution: its integral within 1 % (measured: 0.02 % exact, 0.1 % with
    noise), its maximum within 5 % in tau (a smooth peak: the parabola finds its top well inside the 26 % grid step;
    measured 0.04 %, 1.6 %) and the curve itself within 10 % (20 % with 0.5 % noise) of the peak height at every grid
    point: the smoothness penalty rounds the top (measured 5.6 % and 14 %)."""
    r_ohm, tau0, alpha = 100.0, 1e-3, 0.8
    result = fit_drt(FREQUENCIES, noisy(10.0 + zarc(r_ohm, tau0, alpha), noise, seed=0))
    exact = zarc_gamma(result.tau_s, r_ohm, tau0, alpha)
    assert result.n_arcs == 1
    assert result.polarization_resistance_ohm == pytest.approx(r_ohm, rel=0.01)
    assert result.peaks[0].resistance_ohm == pytest.approx(r_ohm, rel=0.01)
    assert result.peaks[0].tau_s == pytest.approx(tau0, rel=0.05)
    assert np.max(np.abs(result.gamma_ohm - exact)) < shape_tolerance * exact.max()
    assert result.r_inf_ohm == pytest.approx(10.0, rel=0.02)


@pytest.mark.parametrize("seed", range(5))
def test_half_percent_noise_keeps_two_peaks(seed):
    r1, t1, r2, t2 = 100.0, 1e-6, 300.0, 1e-3
    result = fit_drt(FREQUENCIES, noisy(10.0 + rc(r1, t1) + rc(r2, t2), 0.005, seed))
    assert result.n_arcs == 2 and len(result.peaks) == 2
    assert result.peaks[0].resistance_ohm == pytest.approx(r1, rel=0.05)
    assert result.peaks[1].resistance_ohm == pytest.approx(r2, rel=0.05)
    assert result.peaks[0].tau_s == pytest.approx(t1, rel=TAU_TOLERANCE)
    assert result.peaks[1].tau_s == pytest.approx(t2, rel=TAU_TOLERANCE)
    # the residual is the noise: 0.5 % on each part is ~0.7 % of |Z| rms
    assert result.residual_rms_percent < 1.0


def test_half_percent_noise_on_broad_arcs_adds_no_arc():
    """Ripples in the tails of broad arcs (alpha 0.7-0.9) are merged, not counted: two ZARCs 3 decades apart."""
    for seed in range(5):
        result = fit_drt(FREQUENCIES, noisy(5.0 + zarc(50.0, 1e-6, 0.9) + zarc(200.0, 1e-3, 0.7), 0.005, seed))
        assert result.n_arcs == 2, [(p.tau_s, p.resistance_ohm) for p in result.peaks]
        assert sum(p.resistance_ohm for p in result.peaks) == pytest.approx(result.polarization_resistance_ohm)


def test_reconstructed_impedance_equals_the_input():
    """Independent cross-check: Z rebuilt here from gamma (the rectangle rule, not DRTResult.impedance) equals the
    input within the reported residual, and between the measured frequencies it equals the closed form."""
    z = 10.0 + zarc(100.0, 1e-3, 0.8) + rc(40.0, 1e-6)
    result = fit_drt(FREQUENCIES, z)
    delta = math.log(result.tau_s[1] / result.tau_s[0])

    def rebuilt(f_hz):
        return result.r_inf_ohm + sum(g * delta / (1 + 2j * math.pi * f_hz * t) for g, t in zip(result.gamma_ohm, result.tau_s))

    relative = np.array([abs(rebuilt(f) - zf) / abs(zf) for f, zf in zip(FREQUENCIES, z)])
    assert 100 * math.sqrt(np.mean(relative ** 2)) == pytest.approx(result.residual_rms_percent, rel=1e-6)
    assert result.residual_rms_percent < 0.1  # exact data: the distribution reproduces it to 0.1 % of |Z|
    assert relative.max() < 3 * result.residual_rms_percent / 100
    between = np.sqrt(FREQUENCIES[1:] * FREQUENCIES[:-1])
    z_between = 10.0 + zarc(100.0, 1e-3, 0.8, 2 * np.pi * between) + rc(40.0, 1e-6, 2 * np.pi * between)
    assert np.max(np.abs(result.impedance(between) - z_between) / np.abs(z_between)) < 3 * result.residual_rms_percent / 100


def test_inductive_spectrum_fits_an_inductance():
    z = 0.1 + zarc(0.05, 1e-3, 0.85) + zarc(0.03, 0.3, 0.7) + 1j * OMEGA * 2e-7
    result = fit_drt(FREQUENCIES, z)
    assert result.inductance_h == pytest.approx(2e-7, rel=0.02)
    assert result.r_inf_ohm == pytest.approx(0.1, rel=0.02)
    assert result.n_arcs == 2 and any("inductance" in note for note in result.notes)
    assert fit_drt(FREQUENCIES, 0.1 + zarc(0.05, 1e-3, 0.85)).inductance_h == 0.0  # capacitive at 1 MHz: no L


def test_blocking_electrode_spike_is_flagged():
    spike = 20.0 + zarc(150.0, 3e-7, 0.9) + zarc(80.0, 2e-5, 0.8) + 1 / (2e-6 * (1j * OMEGA) ** 0.85)
    assert capacitive_tail(FREQUENCIES, spike)
    assert fit_drt(FREQUENCIES, spike).capacitive_tail
    assert not capacitive_tail(FREQUENCIES, 10.0 + rc(100.0, 1e-4))
    assert not capacitive_tail(FREQUENCIES, 20.0 + zarc(150.0, 3e-7, 0.9) + 50 * (1 - 1j) / np.sqrt(OMEGA))  # Warburg


def test_find_peaks_merges_ripples_and_shoulders():
    tau = np.logspace(-6, 0, 61)
    x = np.log10(tau)

    def bell(centre, height, width=0.3):
        return height * np.exp(-0.5 * ((x - centre) / width) ** 2)

    two = bell(-4, 100) + bell(-2, 50)
    assert len(find_peaks(tau, two)) == 2
    delta = math.log(tau[1] / tau[0])
    ripple = two + bell(-0.5, 2, 0.1)  # 0.3 % of the area: merged
    peaks = find_peaks(tau, ripple)
    assert len(peaks) == 2 and sum(p.resistance_ohm for p in peaks) == pytest.approx(ripple.sum() * delta)
    shoulder = bell(-4, 100) + bell(-3.4, 45)  # the dip between them stays above half the smaller one's height
    assert len(find_peaks(tau, shoulder)) == 1
    assert find_peaks(tau, np.zeros_like(tau)) == []
    assert MIN_PEAK_FRACTION == 0.05


def test_plain_gcv_and_given_lambda():
    z = 10.0 + rc(100.0, 1e-6) + rc(300.0, 1e-3)
    assert fit_drt(FREQUENCIES, z, lambda_method="gcv").n_arcs == 2
    given = fit_drt(FREQUENCIES, z, lambda_=1e-4)
    assert given.lambda_ == 1e-4 and given.lambda_method == "given" and given.n_arcs == 2
    assert fit_drt(FREQUENCIES, z, weighting="unit").n_arcs == 2


def test_fit_spectrum_and_json():
    spectrum = SimpleNamespace(name="pellet", frequency_hz=FREQUENCIES, z=10.0 + rc(100.0, 1e-4))
    result = fit_spectrum(spectrum)
    assert result.name == "pellet"
    data = json.loads(json.dumps(result.as_dict()))
    assert data["n_arcs"] == 1 and len(data["gamma_ohm"]) == len(data["tau_s"]) == result.tau_s.size


def test_tau_grid_spans_a_decade_beyond_the_frequencies():
    tau = tau_grid(FREQUENCIES)
    assert tau[0] == pytest.approx(0.1 / (2 * np.pi * 1e6)) and tau[-1] == pytest.approx(10 / (2 * np.pi * 0.1))
    assert np.log10(tau[1] / tau[0]) == pytest.approx(0.1)
    assert tau.size == 91


@pytest.mark.parametrize(("kwargs", "parameter"), [
    ({"frequency_hz": np.logspace(6, -1, MAX_POINTS + 1)}, "frequency_hz"),
    ({"points_per_decade": 50}, "points_per_decade"),  # 9 decades x 50 = 451 grid points
    ({"frequency_hz": np.logspace(6, -1, 5)}, "frequency_hz"),
    ({"frequency_hz": -FREQUENCIES}, "frequency_hz"),
    ({"z": np.full(FREQUENCIES.size, np.nan, dtype=complex)}, "z"),
    ({"z": np.ones(3, dtype=complex)}, "z"),
    ({"lambda_": -1.0}, "lambda_"),
    ({"lambda_": math.inf}, "lambda_"),
    ({"weighting": "proportional"}, "weighting"),
    ({"lambda_method": "lcurve"}, "lambda_method"),
    ({"min_peak_fraction": 0.7}, "min_peak_fraction"),
    ({"inductance": "yes"}, "inductance"),
    ({"extend_decades": 5}, "extend_decades"),
])
def test_refusals_are_one_line_parameter_errors(kwargs, parameter):
    arguments = {"frequency_hz": FREQUENCIES, "z": 10.0 + rc(100.0, 1e-4)}
    arguments.update(kwargs)
    if arguments["z"].shape != arguments["frequency_hz"].shape and "z" not in kwargs:
        arguments["z"] = 10.0 + rc(100.0, 1e-4, 2 * np.pi * np.abs(arguments["frequency_hz"]))
    frequency_hz, z = arguments.pop("frequency_hz"), arguments.pop("z")
    with pytest.raises(ParameterError) as caught:
        fit_drt(frequency_hz, z, **arguments)
    assert caught.value.parameter == parameter
    assert "\n" not in str(caught.value)
    if parameter == "points_per_decade":
        assert f"over the limit of {MAX_TAU_POINTS}" in str(caught.value)
    if kwargs.get("frequency_hz") is not None and kwargs["frequency_hz"].size > MAX_POINTS:
        assert "2,000" in str(caught.value)


def test_runtime_of_a_100_point_spectrum():
    f = np.logspace(6, -1, 100)
    z = 10.0 + rc(100.0, 1e-6, 2 * np.pi * f) + zarc(300.0, 1e-3, 0.8, 2 * np.pi * f)
    fit_drt(f, z)  # imports scipy's solvers once
    start = time.perf_counter()
    result = fit_drt(f, z)
    assert time.perf_counter() - start < 0.5  # measured 2-8 ms (one BLAS thread); 0.5 s leaves room for a loaded machine
    assert result.n_arcs == 2


def test_plot_is_written_atomically(tmp_path):
    result = fit_drt(FREQUENCIES, noisy(10.0 + rc(100.0, 1e-6) + rc(300.0, 1e-3), 0.005, seed=1), name="two RC")
    out = plot_drt(result, tmp_path / "drt.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["drt.png"]  # no temporary file left
