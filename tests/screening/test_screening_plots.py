"""Series plots of a screen: the zoom holds 311 and the whole 222 line of every composition and labels
them; the stacked patterns name every curve and reference row without overlaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from argyrodb.physics.plots import overlaps_data
from argyrodb.screening.families import parse_range
from argyrodb.screening.plots import (
    EXTRAPOLATED_FOOTNOTE,
    lattice_density_figure,
    plot_screen_series,
    series_figure,
    series_patterns,
    zoom_figure,
    zoom_lines,
    zoom_window,
)
from argyrodb.screening.screener import Screener, ScreenSettings


@pytest.fixture(scope="module")
def series():
    screener = Screener(ScreenSettings("Li5.6PS4.6Cl1.4-xIx", {"x": parse_range("0:1.4:0.35", "x")}))
    results = pd.DataFrame([{**screener.evaluate(i), **values} for i, (values, _) in enumerate(screener.points)])
    return screener, results


def _position(pattern, family):
    primary = pattern.peaks[pattern.peaks["component"] == pattern.components[0].name]
    return float(primary[[tuple(sorted(map(abs, h[0]), reverse=True)) == family for h in primary["hkl"]]]["two_theta_deg"].iloc[0])


def test_zoom_holds_and_labels_220_311_and_the_whole_222(series):
    screener, results = series
    patterns = series_patterns(screener, results, "x")
    assert [float(row.x) for row, _ in patterns] == [0.0, 0.35, 0.7, 1.05, 1.4]
    assert set(zoom_lines(patterns[0][1])) == {(2, 2, 0), (3, 1, 1), (2, 2, 2)}
    fig = zoom_figure(patterns, "x")
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert (lo, hi) == pytest.approx(zoom_window([p for _, p in patterns], {(2, 2, 0), (3, 1, 1), (2, 2, 2)}))
    for _, pattern in patterns:
        two_theta_222 = _position(pattern, (2, 2, 2))
        assert 30.0 < two_theta_222 < 31.6  # a = 9.86-10.15 A with Cu K-alpha1
        fwhm, _ = pattern.fwhm_deg(np.array([two_theta_222]))
        assert hi - two_theta_222 >= 3 * fwhm[0]  # the whole line, tails included
        assert lo <= _position(pattern, (2, 2, 0)) - 3 * pattern.fwhm_deg(np.array([25.0]))[0][0]
        # the profile has fallen to a few % of the 222 peak at the right edge
        _, y = pattern.profile(two_theta=np.array([two_theta_222, hi]))
        assert y[1] < 0.05 * y[0]
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_gid() == "hkl-label"]
    assert sorted(t.get_text() for t in labels) == ["220", "222", "311"]
    frame = ax.get_window_extent(renderer)
    title = ax.title.get_window_extent(renderer)
    boxes = [t.get_window_extent(renderer) for t in labels]
    for index, box in enumerate(boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and box.y1 <= frame.y1
        assert not box.overlaps(title) and not overlaps_data(ax, box, pad=0.0)
        assert not any(box.overlaps(other) for other in boxes[index + 1:])
    # each label sits over the span its line moves through across the series
    for text in labels:
        family = tuple(int(c) for c in text.get_text())
        ends = [_position(p, family) for _, p in (patterns[0], patterns[-1])]
        assert min(ends) <= text.xy[0] <= max(ends)
    assert "→" in ax.get_title()


def test_series_plots_are_written(series, tmp_path):
    screener, results = series
    written = plot_screen_series(screener, results, tmp_path, "x")
    assert [p.name for p in written] == ["series-patterns.png", "series-lattice-density.png", "series-zoom.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)


def test_stacked_patterns_name_every_curve_and_reference_without_overlaps(series):
    from argyrodb.api import PatternConditions, analyse
    from argyrodb.core.resources import structure_file

    screener, results = series
    patterns = series_patterns(screener, results, "x")
    references = [analyse(structure_file(name)).pattern(PatternConditions(two_theta_range=(10.0, 80.0))) for name in ("Li6PS5Cl", "Li6PS5I")]
    fig = series_figure(patterns, "x", screener.settings.family, references)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    texts = [t.get_text() for t in ax.texts]
    # every member of the source's series has the uncalibrated halide excess 0.4: each curve is marked
    assert texts == ["x = 0 †", "x = 0.35 †", "x = 0.7 †", "x = 1.05 †", "x = 1.4 †",
                     f"Li6PS5Cl, a = {references[0].a_angstrom:.4f} Å", f"Li6PS5I, a = {references[1].a_angstrom:.4f} Å"]
    assert all(line.get_linestyle() == "--" for line in ax.lines)
    assert [t.get_text() for t in fig.texts] == [EXTRAPOLATED_FOOTNOTE]
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    for index, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[index + 1:]), texts[index]
        assert box.x1 <= fig.bbox.x1 and box.y0 >= fig.bbox.y0  # nothing cut off
    assert ax.get_title() == "Li5.6PS4.6Cl1.4-xIx: simulated XRD (Cu Kα₁, λ = 1.5406 Å)"


def test_the_lattice_plot_tells_extrapolated_points_from_calibrated_ones():
    """Li6+xP1-xGexS5Cl0.5I0.5: up to x = 0.4 a mix of calibrated compositions (Li6PS5Cl and Li6.8P0.2Ge0.8S5I), from
    x = 0.5 on outside the calibrated hull (and beyond Ge 0.8 at x = 0.9, 1): open markers over a hatched band."""
    screener = Screener(ScreenSettings("Li6+xP1-xGexS5Cl0.5I0.5", {"x": parse_range("0:1:0.1", "x")}))
    results = pd.DataFrame([{**screener.evaluate(i), **values} for i, (values, _) in enumerate(screener.points)])
    assert results["extrapolated"].tolist() == [False] * 5 + [True] * 6
    fig = lattice_density_figure(results, "x", screener.settings.family)
    ax = fig.axes[0]
    labels = ax.get_legend().get_texts()
    assert [t.get_text() for t in labels] == ["± 1σ of the extrapolation", "a predicted (inside the calibration) ± 1σ",
                                              "a extrapolated (outside the calibration)", "X-ray density"]
    markers = {tuple(line.get_xdata()): line.get_markerfacecolor() for line in ax.lines if line.get_marker() == "o"}
    assert markers == {(0.0, 0.1, 0.2, 0.3, 0.4): markers[(0.0, 0.1, 0.2, 0.3, 0.4)], (0.5, 0.6, 0.7, 0.8, 0.9, 1.0): "white"}
    assert markers[(0.0, 0.1, 0.2, 0.3, 0.4)] != "white"
    band = [c for c in ax.collections if c.get_hatch()]
    assert len(band) == 1 and band[0].get_hatch() == "////"
    assert [t.get_text() for t in fig.texts] == ["extrapolated: several reasons (a_note of each row)"]


def test_a_calibrated_series_has_no_extrapolation_marks():
    screener = Screener(ScreenSettings("Li6PS5Cl1-xBrx", {"x": parse_range("0:1:0.25", "x")}))
    results = pd.DataFrame([{**screener.evaluate(i), **values} for i, (values, _) in enumerate(screener.points)])
    assert not results["extrapolated"].any()
    fig = lattice_density_figure(results, "x", screener.settings.family)
    assert not fig.texts and not [c for c in fig.axes[0].collections if c.get_hatch()]
    patterns = series_patterns(screener, results, "x")
    fig = series_figure(patterns, "x", screener.settings.family)
    assert [t.get_text() for t in fig.axes[0].texts] == ["x = 0", "x = 0.25", "x = 0.5", "x = 0.75", "x = 1"]
    assert not fig.texts and all(line.get_linestyle() == "-" for line in fig.axes[0].lines)
