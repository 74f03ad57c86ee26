"""Impedance figures (argyrodb.physics.eis_plots): panels, summary text, reliability line, undetermined marks, and no
text over data, measured on the rendered figure.

Spectra are written from the closed forms of their elements with seeded noise of 0.3 % of |Z| (as in
test_eis_models.py), then fitted by eis_models.fit_cell."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.text import Text

from argyrodb.physics import eis_plots
from argyrodb.physics.eis import FitResult, KramersKronig, Spectrum
from argyrodb.physics.eis_models import fit_cell
from argyrodb.physics.eis_plots import (
    BODE_MODULUS,
    BODE_PHASE,
    NYQUIST,
    NYQUIST_ARCS,
    cell_figure,
    circuit_impedance,
    fit_figure,
    format_value,
    plot_cell,
    plot_fit,
)
from argyrodb_testing import cell_impedance as impedance
from argyrodb_testing import noisy_spectrum as noisy

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# bulk arc visible (5 kohm || 5 pF at 6.4 MHz), grain boundary 1.5 kohm || 5 nF, blocking electrodes: the spike dwarfs
# the arcs (|Z| at 0.1 Hz ~ 1.5 Mohm against 6.5 kohm)
SPIKE_F = np.logspace(7, -1, 81)
SPIKE = {"r0": 3.0, "arcs": [(5000.0, 5e-12, 0.95), (1500.0, 5e-9, 0.9)], "spike": (1e-6, 0.9)}
# two arcs and no electrode response (10 MHz - 1 Hz)
ARCS_F = np.logspace(7, 0, 71)
ARCS = {"r0": 3.0, "arcs": [(5000.0, 5e-12, 0.95), (3000.0, 5e-9, 0.9)]}
# a Li-ion-like cell with inductive high-frequency points and a Warburg tail
INDUCTIVE_F = np.logspace(5, -2, 71)
INDUCTIVE = {"r0": 0.11, "arcs": [(0.05, 1 / (2 * np.pi * 500 * 0.05), 0.85)], "warburg": 0.01, "inductance": 1.5e-7}


@pytest.fixture(autouse=True)
def _close_figures():
    """cell_figure and fit_figure return open pyplot figures: closed after each test."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def spike_case():
    spectrum = noisy(SPIKE_F, impedance(SPIKE_F, **SPIKE), 11, name="spike")
    return spectrum, fit_cell(spectrum)


@pytest.fixture(scope="module")
def arcs_case():
    spectrum = noisy(ARCS_F, impedance(ARCS_F, **ARCS), 5, name="arcs")
    return spectrum, fit_cell(spectrum)


@pytest.fixture(scope="module")
def inductive_case():
    spectrum = noisy(INDUCTIVE_F, impedance(INDUCTIVE_F, **INDUCTIVE), 21, name="inductive")
    return spectrum, fit_cell(spectrum)


def _gids(fig) -> set[str]:
    return {ax.get_gid() for ax in fig.axes}


def _texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _all_text(fig) -> str:
    return "\n".join(t.get_text() for t in _texts(fig))


def text_over_data(fig) -> list[tuple[str, str]]:
    """(text, axes gid) of every visible text whose rendered box holds a data point (a marker, with its radius) or a
    vertex of the fitted line that is drawn inside an axes."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(fig)]
    hits = []
    for ax in fig.axes:
        view = ax.get_window_extent(renderer)
        for line in ax.get_lines():
            if line.get_gid() not in ("data", "fit"):
                continue
            points = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
            shown = points[(points[:, 0] >= view.x0) & (points[:, 0] <= view.x1) & (points[:, 1] >= view.y0)
                           & (points[:, 1] <= view.y1)]
            radius = line.get_markersize() / 2 * fig.dpi / 72 if line.get_gid() == "data" else 0.0
            for text, box in boxes:
                grown = box.padded(radius)
                inside = ((shown[:, 0] >= grown.x0) & (shown[:, 0] <= grown.x1) & (shown[:, 1] >= grown.y0)
                          & (shown[:, 1] <= grown.y1))
                if inside.any():
                    hits.append((text, ax.get_gid()))
    return hits


# --- the circuit's impedance without impedance.py -------------------------------------------------------------------


@pytest.mark.parametrize(("circuit", "values"), [
    ("R0-p(R1,CPE1)-p(R2,CPE2)-p(R3,CPE3)-W1", [73.26, 26.31, 6.34e-7, 0.751, 27.89, 5.48e-5, 0.521, 19.65, 3.57e-2, 0.486, 10.0]),
    ("L0-R0-p(R1,CPE1)-p(R2-Wo1,CPE2)", [1.3e-7, 0.015, 0.006, 0.5, 0.8, 0.01, 2.0, 50.0, 5.0, 0.75]),
    ("R0-p(R1,C1)-Ws1-La1-G1-K1-Zarc1", [10.0, 100.0, 1e-6, 5.0, 0.1, 1e-3, 0.8, 3.0, 0.01, 4.0, 1e-4, 2.0, 1e-3, 0.7]),
])
def test_circuit_impedance_is_impedance_py_s(circuit, values):
    from argyrodb.physics.eis import simulate

    f = np.logspace(6, -2, 41)
    np.testing.assert_allclose(circuit_impedance(circuit, values, f), simulate(f, values, circuit), rtol=1e-10)


# --- numbers ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "text"), [
    ((44830.97, 356.2, "Ω"), "44.83 ± 0.36 kΩ"),
    ((25.000002, 0.000199, "Ohm"), "25.00000 ± 0.00020 Ω"),
    ((180.0, None, "Ω"), "180 Ω"),
    ((6.996e-12, None, "F"), "7.00 pF"),
    ((0.4727, 99.5, "Ohm"), "0.47 ± 100 Ω (undetermined)"),
    ((0.8495, 0.0044, ""), "0.8495 ± 0.0044"),
    ((1.0, 0.1, "mS/cm"), "1.00 ± 0.10 mS/cm"),
    ((5.855e-4, 1.1e-6, "mS/cm"), "(5.855 ± 0.011)e-04 mS/cm"),
    ((64300.0, None, "Hz"), "64.3 kHz"),
    ((1.0, None, "Ω", True), "1.00 Ω (undetermined)"),
])
def test_format_value(args, text):
    assert format_value(*args) == text


# --- panels -------------------------------------------------------------------------------------------------------------


def test_spike_dominated_spectrum_gets_an_arcs_panel(spike_case):
    spectrum, cell = spike_case
    fig = cell_figure(spectrum, cell)
    assert _gids(fig) == {NYQUIST, NYQUIST_ARCS, BODE_MODULUS, BODE_PHASE}
    axes = {ax.get_gid(): ax for ax in fig.axes}
    for gid in (NYQUIST, NYQUIST_ARCS):
        assert axes[gid].get_aspect() == 1.0  # equal aspect
        assert axes[gid].get_ylabel().startswith("−Z''")  # -Z'' up
    # the arcs' panel spans R0 .. R_total (plus a margin) in its own unit
    x_lo, x_hi = axes[NYQUIST_ARCS].get_xlim()
    unit = {"kΩ": 1e3, "Ω": 1.0}[axes[NYQUIST_ARCS].get_xlabel().split("(")[1].rstrip(")")]
    assert x_lo * unit < 100 and 6487 < x_hi * unit < 2 * 6487
    assert axes[BODE_MODULUS].get_xscale() == "log" and axes[BODE_MODULUS].get_yscale() == "log"
    assert axes[BODE_PHASE].get_xscale() == "log" and axes[BODE_PHASE].get_yscale() == "linear"
    # each arc labelled by its assignment in the arcs' panel (or at least numbered there), the spike in the full one
    labels = [t.get_text() for t in axes[NYQUIST_ARCS].texts]
    assert any("bulk" in t for t in labels) or any(t.startswith("①") for t in labels)
    assert any(t.startswith("②") for t in labels)
    assert any("electrode" in t for t in (t.get_text() for t in axes[NYQUIST].texts))
    assert not text_over_data(fig)


def test_arcs_without_spike_get_one_nyquist_panel(arcs_case):
    spectrum, cell = arcs_case
    fig = cell_figure(spectrum, cell)
    assert _gids(fig) == {NYQUIST, BODE_MODULUS, BODE_PHASE}
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any("① bulk" in t for t in labels) and any("② grain boundary" in t for t in labels)
    assert not text_over_data(fig)
    fig_nyquist_only = cell_figure(spectrum, cell, bode=False)
    assert _gids(fig_nyquist_only) == {NYQUIST}


def test_intercept_and_spike_only_get_an_intercept_panel():
    """R0-CPE1 (bulk and grain boundary above f_max): no arc to zoom to, so the second panel shows the high-frequency
    points up to |Z| = SPIKE_DOMINANCE x R0, where the intercept can be read."""
    f = np.logspace(6, -1, 71)
    spectrum = noisy(f, impedance(f, 25.0, [], (2e-6, 0.85)), 3)
    cell = fit_cell(spectrum)
    assert cell.fit.circuit == "R0-CPE1"
    fig = cell_figure(spectrum, cell)
    axes = {ax.get_gid(): ax for ax in fig.axes}
    assert set(axes) == {NYQUIST, NYQUIST_ARCS, BODE_MODULUS, BODE_PHASE}
    assert "intercept" in axes[NYQUIST_ARCS].get_title(loc="left")
    x_lo, x_hi = axes[NYQUIST_ARCS].get_xlim()
    assert x_lo < 25.0 < x_hi < 100.0  # ohm: the intercept, not the 700 kohm spike
    assert not text_over_data(fig)


def test_inductive_spectrum(inductive_case):
    spectrum, cell = inductive_case
    assert cell.fit.circuit.startswith("L0-")
    fig = cell_figure(spectrum, cell)
    nyquist = next(ax for ax in fig.axes if ax.get_gid() == NYQUIST)
    assert nyquist.get_ylim()[0] < 0  # the inductive points below the axis are shown
    assert not text_over_data(fig)


# --- the summary ----------------------------------------------------------------------------------------------------------


def test_summary_gives_the_cell_fit_s_numbers(spike_case):
    spectrum, cell = spike_case
    text = _all_text(cell_figure(spectrum, cell))
    for name, entry in (("R_bulk", cell.bulk_resistance_ohm), ("R_gb", cell.grain_boundary_resistance_ohm),
                        ("R_total", cell.total_resistance_ohm)):
        assert f"{name} = {format_value(entry['value'], entry['stderr'], 'Ω')}" in text
    assert "bulk method: arc" in text
    assert cell.fit.circuit in text
    assert "lin-KK: residual rms" in text and "passes" in text
    assert cell.chosen["reliable"] and "UNRELIABLE" not in text


def test_summary_gives_sigma_with_the_geometry():
    spectrum = noisy(SPIKE_F, impedance(SPIKE_F, **SPIKE), 11)
    cell = fit_cell(spectrum, thickness_cm=0.1, area_cm2=0.785)
    lines, _ = eis_plots.cell_summary(cell)
    sigma = cell.sigma_bulk_mS_cm
    assert any(format_value(sigma["value"], sigma["stderr"], "mS/cm") in line for line in lines)


def test_intercept_case_says_so():
    f = np.logspace(6, -1, 71)
    spectrum = noisy(f, impedance(f, 0.0, [(150.0, 5e-12, 0.95), (500.0, 5e-9, 0.9)], (1e-6, 0.9)), 12)
    cell = fit_cell(spectrum)
    assert cell.bulk_method == "intercept"
    fig = cell_figure(spectrum, cell)
    text = _all_text(fig)
    assert "bulk method: intercept" in text
    assert f"R_bulk = {format_value(cell.bulk_resistance_ohm['value'], cell.bulk_resistance_ohm['stderr'], 'Ω')}" in text
    assert not text_over_data(fig)


def test_unreliable_appears_exactly_when_the_fit_is_unreliable(arcs_case):
    spectrum, good = arcs_case
    bad = fit_cell(spectrum, circuits=["R0-p(R1,CPE1)"])  # one arc for two: a poor fit
    assert good.chosen["reliable"] and not bad.chosen["reliable"]
    fig = cell_figure(spectrum, bad)
    warnings = [t for t in _texts(fig) if "UNRELIABLE" in t.get_text()]
    assert len(warnings) == 1 and "poor fit" in warnings[0].get_text()
    assert "UNRELIABLE" not in _all_text(cell_figure(spectrum, good))
    assert not text_over_data(fig)


def test_undetermined_parameters_are_marked():
    """No lead resistance: R0 is indistinguishable from 0 (its error exceeds it) and is marked; the sharp ones not."""
    spectrum = noisy(SPIKE_F, impedance(SPIKE_F, **{**SPIKE, "r0": 0.0}), 11)
    cell = fit_cell(spectrum)
    assert "R0" in cell.fit.undetermined
    lines, _ = eis_plots.cell_summary(cell)
    parameters = next(line for line in lines if line.startswith("parameters:"))
    r0_text = parameters.split("R0 = ")[1].split(";")[0]
    r1_text = parameters.split("R1 = ")[1].split(";")[0]
    assert r0_text.endswith("(undetermined)") and "undetermined" not in r1_text


def _plain_fit(undetermined_r1: bool, reasons=()) -> tuple[Spectrum, FitResult]:
    f = ARCS_F
    values = np.array([3.0, 5000.0, 5e-12 ** 0.95 * 5000.0 ** -0.05, 0.95, 3000.0, 5e-9 ** 0.9 * 3000.0 ** -0.1, 0.9])
    stderr = values * 0.01
    if undetermined_r1:
        stderr[1] = 2 * values[1]
    names = ["R0", "R1", "CPE1_0", "CPE1_1", "R2", "CPE2_0", "CPE2_1"]
    units = ["Ohm", "Ohm", "Ohm^-1 sec^a", "", "Ohm", "Ohm^-1 sec^a", ""]
    circuit = "R0-p(R1,CPE1)-p(R2,CPE2)"
    spectrum = noisy(f, circuit_impedance(circuit, values, f), 3, name="plain")
    result = FitResult(circuit, names, units, values, stderr, {"C_R1": 5e-12, "C_R2": 5e-9}, 1.0, 1e-3, 0.3,
                       KramersKronig(20, 0.8, 0.3, 0.9), True, 5, list(reasons))
    return spectrum, result


def test_plot_fit_marks_undetermined_and_unreliable():
    spectrum, result = _plain_fit(undetermined_r1=True, reasons=["poor fit: made up"])
    fig = fit_figure(spectrum, result)
    text = _all_text(fig)
    assert "R1 = " in text and "(undetermined)" in text.split("parameters:")[1].split("R1 = ")[1].split(";")[0]
    arc_label = next(t.get_text() for t in fig.axes[0].texts if "p(R1,CPE1)" in t.get_text())
    assert "R = 5 kΩ (undetermined)" in arc_label or arc_label.startswith("①")
    assert "UNRELIABLE: poor fit: made up" in text
    assert not text_over_data(fig)
    spectrum, result = _plain_fit(undetermined_r1=False)
    text = _all_text(fit_figure(spectrum, result))
    assert "UNRELIABLE" not in text and "(undetermined)" not in text


# --- files --------------------------------------------------------------------------------------------------------------


def test_plot_cell_and_plot_fit_write_pngs(tmp_path, spike_case):
    spectrum, cell = spike_case
    out = plot_cell(spectrum, cell, tmp_path / "cell.png")
    assert out == tmp_path / "cell.png" and out.read_bytes()[:8] == PNG_MAGIC
    out = plot_fit(spectrum, cell.fit, tmp_path / "fit.png")
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cell.png", "fit.png"]  # no temporary files left


def test_the_overlap_check_sees_text_over_data(arcs_case):
    """The geometric check itself: a text written on the data is found."""
    spectrum, cell = arcs_case
    fig = cell_figure(spectrum, cell)
    ax = fig.axes[0]
    z = spectrum.z[len(spectrum.z) // 2]
    scale = 1e3 if "kΩ" in ax.get_xlabel() else 1.0
    ax.text(z.real / scale, -z.imag / scale, "over the data", ha="center", va="center")
    assert ("over the data", NYQUIST) in text_over_data(fig)
    assert math.isfinite(scale)
