"""Plots of a screened series: stacked simulated patterns, lattice parameter and density versus the
variable, and the shift of the strongest reflections."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.files import pyplot, save_figure
from ..physics.plots import COLOURS


def plot_screen_series(screener, results, out_dir: str | Path, variable: str, references=(), max_patterns: int = 15,
                       step_deg: float = 0.01) -> list[Path]:
    """Three figures for a screened series: stacked simulated patterns with reference reflection ticks
    (like the source's Fig. S1), lattice parameter and density versus the variable, and a zoom on the
    strongest reflections showing their shift."""
    plt = pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ok = results[results["status"] == "ok"].sort_values(variable)
    if ok.empty:
        raise InputError("screen plots", "no computed compositions to plot")
    pick = ok.iloc[np.unique(np.linspace(0, len(ok) - 1, min(max_patterns, len(ok))).round().astype(int))]
    patterns = []
    for row in pick.itertuples():
        _, amounts = screener.points[int(row.idx)]
        pattern = screener.xrd.pattern(wavelength=screener.settings.wavelength, two_theta_range=screener.settings.two_theta_range,
                                       a_angstrom=row.a_angstrom, anomalous_dispersion=screener.settings.anomalous_dispersion,
                                       occupancy_matrix=screener.model.occupancies(amounts), size_nm=60)
        patterns.append((row, pattern))
    written = []

    # 1. stacked patterns with reference ticks
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.55 * len(patterns) + 0.4 * len(references)))
    for k, (row, pattern) in enumerate(patterns):
        x, y = pattern.profile(step_deg=step_deg)
        ax.plot(x, y / y.max() * 0.9 + k, lw=0.8, color=plt.cm.viridis(k / max(len(patterns) - 1, 1)))
        ax.text(pattern.two_theta_range[1], k + 0.2, f" {variable} = {getattr(row, variable):g}", fontsize=7, va="bottom")
    for j, ref in enumerate(references):
        peaks = ref.peaks[(ref.peaks["component"] == ref.components[0].name) & (ref.peaks["intensity_rel"] >= 1)]
        base = -0.35 - 0.35 * j
        ax.vlines(peaks["two_theta_deg"], base, base + 0.08 + 0.22 * peaks["intensity_rel"] / 100, color=COLOURS[(j + 1) % len(COLOURS)], lw=1)
        ax.text(patterns[0][1].two_theta_range[0] + 0.3, base + 0.12, f"{ref.name} (a = {ref.a_angstrom:.4f} Å)", fontsize=7)
    ax.set_xlim(*patterns[0][1].two_theta_range)
    ax.set_yticks([])
    ax.set_xlabel("2θ (°)")
    ax.set_title(f"{screener.settings.family}: simulated XRD ({screener.settings.wavelength})", fontsize=10)
    fig.tight_layout()
    written.append(save_figure(fig, out_dir / "series-patterns.png"))

    # 2. a and density versus the variable
    fig, ax1 = plt.subplots(figsize=(6.5, 4))
    ax1.errorbar(ok[variable], ok["a_angstrom"], yerr=ok["a_sigma_angstrom"], fmt="o-", ms=3, color=COLOURS[0], capsize=2)
    ax1.set_xlabel(variable)
    ax1.set_ylabel("a (Å), Vegard fit ± 1σ", color=COLOURS[0])
    ax2 = ax1.twinx()
    ax2.plot(ok[variable], ok["density_g_cm3"], "s--", ms=3, color=COLOURS[1])
    ax2.set_ylabel("X-ray density (g/cm³)", color=COLOURS[1])
    ax1.set_title(f"{screener.settings.family}: lattice parameter and density", fontsize=10)
    fig.tight_layout()
    written.append(save_figure(fig, out_dir / "series-lattice-density.png"))

    # 3. zoom on the strongest reflections
    first = patterns[0][1].peaks
    strongest = first[first["component"] == first["component"].iloc[0]].nlargest(2, "intensity_rel")["two_theta_deg"]
    lo, hi = strongest.min() - 1.2, strongest.max() + 1.0
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, (row, pattern) in enumerate(patterns):
        x, y = pattern.profile(two_theta=np.arange(lo - 0.5, hi + 0.5, 0.002))
        ax.plot(x, y / y.max(), lw=0.9, color=plt.cm.viridis(k / max(len(patterns) - 1, 1)), label=f"{variable} = {getattr(row, variable):g}")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("2θ (°)")
    ax.set_ylabel("intensity (normalised)")
    ax.legend(fontsize=6, ncol=2)
    ax.set_title("Shift of the strongest reflections", fontsize=10)
    fig.tight_layout()
    written.append(save_figure(fig, out_dir / "series-zoom.png"))
    return written
