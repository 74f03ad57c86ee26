"""Powder-pattern and refinement figures: what a reader sees is checked on the laid-out figure (text
extents from matplotlib's renderer), not only that a PNG was written."""

from __future__ import annotations

import numpy as np
import pytest

from argyrodb.api import PatternConditions, analyse
from argyrodb.core.errors import ParameterError
from argyrodb.physics.pattern_fit import MeasuredPattern, fit_scale
from argyrodb.physics.plots import (
    HKL_GID,
    describe_wavelength,
    overlaps_data,
    pattern_figure,
    plot_patterns,
    plot_refinement,
    r_value_text,
    refinement_figure,
)
from argyrodb.physics.scattering import resolve_wavelength
from argyrodb_testing import LMA, structure


@pytest.fixture(scope="module")
def lma_pattern():
    return analyse(LMA).pattern()


@pytest.fixture(scope="module")
def measured(lma_pattern):
    """The simulated pattern as Poisson counts on a background: a 'measured' file named meas.xy."""
    x, y = lma_pattern.profile(step_deg=0.01)
    counts = np.random.default_rng(3).poisson(y / y.max() * 5000 + 50).astype(float)
    return MeasuredPattern("meas", x, counts)


def _boxes(fig, artists):
    renderer = fig.canvas.get_renderer()
    return [a.get_window_extent(renderer) for a in artists]


def _hkl_texts(ax):
    return [t for t in ax.texts if t.get_gid() == HKL_GID]


def _assert_readable(fig, ax, min_labels: int):
    """hkl labels: enough of them, inside the axes, clear of each other, the title, the legend and the data."""
    renderer = fig.canvas.get_renderer()
    labels = _hkl_texts(ax)
    assert len(labels) >= min_labels
    boxes = _boxes(fig, labels)
    frame = ax.get_window_extent(renderer)
    title = ax.title.get_window_extent(renderer)
    legend = ax.get_legend().get_window_extent(renderer)
    for index, box in enumerate(boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, labels[index].get_text()
        assert not box.overlaps(title), labels[index].get_text()
        assert not box.overlaps(legend), labels[index].get_text()
        assert not overlaps_data(ax, box, pad=0.0), labels[index].get_text()
        for other in boxes[index + 1:]:
            assert not box.overlaps(other)
    assert not overlaps_data(ax, legend, pad=0.0)
    assert not legend.overlaps(title)


@pytest.mark.parametrize("spec, expected", [
    ("CuKa1", "Cu Kα₁, λ = 1.5406 Å"),
    ("CuKa12", "Cu Kα₁,₂, λ = 1.5406, 1.5444 Å"),
    ("CuKa", "Cu Kα, λ = 1.5419 Å"),
    ("MoKa12", "Mo Kα₁,₂, λ = 0.7093, 0.7136 Å"),
    (1.542, "λ = 1.5420 Å"),
])
def test_wavelength_is_described_once(spec, expected):
    assert describe_wavelength(resolve_wavelength(spec)) == expected


def test_measured_plot_says_measured_and_keeps_labels_clear(lma_pattern, measured):
    fit = fit_scale(measured, lma_pattern)
    fig = pattern_figure([lma_pattern], measured=measured, fit=fit)
    ax = fig.axes[0]
    title = ax.get_title()
    assert "measured" in title and "Simulated" not in title
    assert title.endswith("(Cu Kα₁, λ = 1.5406 Å)") and " A " not in title
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "measured (meas)", f"simulated LMA-Cl0.8I0.6 (a = {lma_pattern.a_angstrom:.4f} ± {lma_pattern.lattice.sigma_angstrom:.3f} Å "
        f"(lattice model, extrapolated: halide excess +0.4)), $R_\\mathrm{{wp}}$ = {100 * fit.r_wp:.1f} %",
        "difference (measured − simulated)"]
    _assert_readable(fig, ax, min_labels=8)
    assert {"220", "311", "222"} <= {t.get_text() for t in _hkl_texts(ax)}
    # the difference curve lies under the reflection ticks
    difference = next(line for line in ax.get_lines() if line.get_label().startswith("difference"))
    ticks = ax.collections[0].get_segments()
    assert np.max(difference.get_ydata()) < min(seg[:, 1].min() for seg in ticks)


def test_compare_plot_keeps_labels_off_the_other_patterns(lma_pattern):
    others = [analyse(structure(name)).pattern() for name in ("Li6PS5Cl", "Li6PS5I")]
    fig = pattern_figure([lma_pattern, *others])
    ax = fig.axes[0]
    assert ax.get_title() == "Simulated powder XRD (Cu Kα₁, λ = 1.5406 Å)"
    # LMA's a is the lattice model's, extrapolated (Table S2 prints none); the end members' are published
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"LMA-Cl0.8I0.6 (a = {lma_pattern.a_angstrom:.4f} ± {lma_pattern.lattice.sigma_angstrom:.3f} Å (lattice model, "
        "extrapolated: halide excess +0.4))"] + [f"{p.name} (a = {p.a_angstrom:.4f} Å)" for p in others]
    _assert_readable(fig, ax, min_labels=8)
    assert len(ax.collections) == 3  # one tick row per pattern


def test_dense_labels_are_nudged_or_left_out_never_overlapped(lma_pattern, tmp_path):
    doublet = analyse(LMA).pattern(PatternConditions(wavelength="CuKa12", size_nm=50))
    fig = pattern_figure([doublet], label_min_rel=0.5)
    _assert_readable(fig, fig.axes[0], min_labels=20)
    out = plot_patterns([lma_pattern], tmp_path / "p.png", dpi=300)
    from PIL import Image

    assert Image.open(out).size == (3000, 1440)  # 10 in x 4.8 in at 300 dpi


def _synthetic_refinement():
    rng = np.random.default_rng(1)
    x = np.arange(10, 90, 0.01)
    a, lam = 9.98, 1.5406
    hkls = [(1, 1, 1), (2, 0, 0), (2, 2, 0), (3, 1, 1), (2, 2, 2), (4, 0, 0), (4, 2, 2), (5, 1, 1), (4, 4, 0), (6, 2, 0), (6, 4, 2), (7, 3, 1)]
    heights = [8, 8, 100, 92, 35, 3, 38, 32, 35, 12, 9, 8]
    positions = [2 * np.degrees(np.arcsin(lam * np.sqrt(h * h + k * k + l * l) / (2 * a))) for h, k, l in hkls]
    background = 60 + 40 * np.exp(-(x - 10) / 15) + 0.2 * (x - 10)
    calculated = background + sum(60 * h * np.exp(-4 * np.log(2) * (x - c) ** 2 / 0.1**2) for h, c in zip(heights, positions))
    impurity = [2 * np.degrees(np.arcsin(lam * np.sqrt(n) / (2 * 5.13))) for n in (3, 4, 8, 11)]
    calculated += sum(150 * np.exp(-4 * np.log(2) * (x - c) ** 2 / 0.1**2) for c in impurity)
    observed = rng.poisson(calculated).astype(float)
    phases = [{"name": "Li5.6PS4.6Cl0.8I0.6", "tick_positions_deg": positions,
               "hkl_labels": ["".join(map(str, hkl)) if h >= 10 else None for hkl, h in zip(hkls, heights)]},
              {"name": "LiCl", "tick_positions_deg": impurity, "hkl_labels": None}]
    r_values = {"r_wp": 0.0812, "r_p": 0.0611, "r_exp": 0.0531, "gof": 1.53}
    return x, observed, calculated, background, phases, r_values


def test_refinement_figure_is_laid_out_like_a_refinement_program():
    x, observed, calculated, background, phases, r_values = _synthetic_refinement()
    fig = refinement_figure(x, observed, calculated, background, phases, r_values, "LMA-Cl0.8I0.6, Rietveld",
                            wavelength_label="Cu Kα₁, λ = 1.5406 Å")
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    assert ax.get_xlabel() == "2θ (°)" and ax.get_ylabel() == "Intensity (counts)"
    assert ax.get_title() == "LMA-Cl0.8I0.6, Rietveld (Cu Kα₁, λ = 1.5406 Å)"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "Observed", "Calculated", "Background", "Difference (obs − calc)", "Li5.6PS4.6Cl0.8I0.6", "LiCl"]
    observed_line, calculated_line, background_line = ax.get_lines()[:3]
    assert observed_line.get_marker() == "o" and observed_line.get_markerfacecolor() == "none"
    assert observed_line.get_linestyle() == "None" and calculated_line.get_linestyle() == "-"
    assert background_line.get_linestyle() == "--"
    # one tick row per phase, in distinct colours, all under the pattern; the difference under the ticks
    assert len(ax.collections) == 2
    colours = {tuple(np.round(c.get_colors()[0], 3)) for c in ax.collections}
    assert len(colours) == 2
    tick_low = min(seg[:, 1].min() for c in ax.collections for seg in c.get_segments())
    tick_high = max(seg[:, 1].max() for c in ax.collections for seg in c.get_segments())
    assert tick_high < min(observed.min(), background.min())
    difference = next(line for line in ax.get_lines() if line.get_label().startswith("Difference"))
    assert np.max(difference.get_ydata()) < tick_low
    np.testing.assert_allclose(difference.get_ydata() - np.median(difference.get_ydata() - (observed - calculated)),
                               observed - calculated, atol=1e-9)
    # the R values in a box over no data, clear of the legend and labels
    r_box = next(a for a in ax.artists if hasattr(a, "txt"))
    assert r_box.txt.get_text() == r_value_text(r_values)
    assert r_value_text(r_values).splitlines() == [r"$R_\mathrm{wp}$ = 8.12 %", r"$R_\mathrm{p}$ = 6.11 %",
                                                   r"$R_\mathrm{exp}$ = 5.31 %", "GoF = 1.53"]
    box = r_box.get_window_extent(renderer)
    assert not overlaps_data(ax, box, pad=0.0)
    assert not box.overlaps(legend.get_window_extent(renderer))
    assert not overlaps_data(ax, legend.get_window_extent(renderer), pad=0.0)
    for label in _boxes(fig, _hkl_texts(ax)):
        assert not label.overlaps(box)
    _assert_readable(fig, ax, min_labels=6)
    # y tick labels only where there are counts
    assert min(ax.get_yticks()) >= 0


def test_refinement_plot_is_written_at_300_dpi(tmp_path):
    x, observed, calculated, background, phases, r_values = _synthetic_refinement()
    out = plot_refinement(x, observed, calculated, background, phases, r_values, "fit", tmp_path / "fit.png", None)
    from PIL import Image

    assert out == tmp_path / "fit.png" and Image.open(out).size == (2100, 1440)
    narrow = (x > 24) & (x < 33)  # the strong lines reach into every upper corner: labels and boxes still clear
    fig = refinement_figure(x[narrow], observed[narrow], calculated[narrow], background[narrow], phases, r_values, "zoom")
    _assert_readable(fig, fig.axes[0], min_labels=3)


def test_refinement_refuses_mismatched_arrays():
    x, observed, calculated, background, phases, r_values = _synthetic_refinement()
    with pytest.raises(ParameterError, match="calculated"):
        refinement_figure(x, observed, calculated[:-1], background, phases, r_values, "t")
    with pytest.raises(ParameterError, match="phases"):
        refinement_figure(x, observed, calculated, background, [{"name": "x", "tick_positions_deg": [20.0], "hkl_labels": ["1", "2"]}],
                          r_values, "t")
