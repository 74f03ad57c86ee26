"""Powder-pattern plots: simulated patterns with labelled reflection ticks, overlays, measured data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.files import pyplot, save_figure
from .xrd import hkl_label

COLOURS = ["#1f4e79", "#c0392b", "#27864a", "#8e44ad", "#d35400", "#2c3e50"]


def plot_patterns(patterns, out: str | Path, measured=None, fit=None, title: str | None = None,
                  label_min_rel: float = 8.0, step_deg: float = 0.01) -> Path:
    """Stacked profiles of ``patterns`` (first at the bottom), reflection ticks for each, hkl labels
    on the strongest lines of the first, and optionally the measured pattern with the fitted
    simulation of the first and their difference."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.2 + 1.3 * len(patterns)))
    offset = 0.0
    tick_base = -0.06
    first_peak_rows = None
    for index, pattern in enumerate(patterns):
        colour = COLOURS[index % len(COLOURS)]
        x, y = pattern.profile(step_deg=step_deg)
        if index == 0 and measured is not None and fit is not None:
            scale = 1.0 / max(measured.intensity.max(), 1e-12)
            ax.plot(measured.two_theta_deg, measured.intensity * scale, ".", ms=2, color="0.3", label=f"measured {measured.name}")
            xm = measured.two_theta_deg[(measured.two_theta_deg >= pattern.two_theta_range[0]) & (measured.two_theta_deg <= pattern.two_theta_range[1])]
            ax.plot(xm, fit.y_calc * scale, color=colour, lw=1, label=f"{pattern.name} (R_wp = {100 * fit.r_wp:.1f} %)")
            ym = np.interp(xm, measured.two_theta_deg, measured.intensity)
            ax.plot(xm, (ym - fit.y_calc) * scale - 0.15, color="0.5", lw=0.7, label="difference")
            top = 1.0
        else:
            ynorm = y / max(y.max(), 1e-12)
            ax.plot(x, ynorm + offset, color=colour, lw=1, label=f"{pattern.name} (a = {pattern.a_angstrom:.4f} Å)")
            top = 1.0 + offset
        primary = pattern.peaks[pattern.peaks["component"] == pattern.components[0].name]
        visible = primary[primary["intensity_rel"] >= 0.5]
        tick_y = tick_base - 0.07 * index
        ax.vlines(visible["two_theta_deg"], tick_y - 0.025, tick_y + 0.025, color=colour, lw=0.8)
        if index == 0:
            first_peak_rows = (visible, offset)
        offset = top + 0.25
    if first_peak_rows is not None:
        visible, base = first_peak_rows
        x0, y0 = patterns[0].profile(step_deg=step_deg)
        norm = max(y0.max(), 1e-12)
        for row in visible[visible["intensity_rel"] >= label_min_rel].itertuples():
            height = np.interp(row.two_theta_deg, x0, y0) / norm + base
            if measured is not None and fit is not None:
                height = 1.0
            label = hkl_label(row.hkl, "/")
            ax.annotate(label, (row.two_theta_deg, min(height, 1.0 + base) + 0.03), ha="center", fontsize=7, rotation=90)
    ax.set_xlabel("2θ (°)")
    lam = ", ".join(f"{c.name} {c.wavelength_angstrom:.4f} Å" if not c.name[0].isdigit() else f"λ = {c.wavelength_angstrom:.4f} Å"
                    for c in patterns[0].components)
    ax.set_ylabel("intensity (normalised, offset)")
    ax.set_title(title or f"Simulated powder XRD ({lam})", fontsize=10)
    ax.set_yticks([])
    ax.set_xlim(*patterns[0].two_theta_range)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, out)
