"""Plots of the literature data: conductivity versus critical current density, and by primary phase."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.files import pyplot, save_figure


def plot_literature(frame, out: str | Path, title: str | None = None) -> Path:
    """Two panels: sigma versus CCD for every measurement that has both, and sigma by primary phase;
    the source's own work highlighted. ``frame`` is a measurements DataFrame (queries.query_measurements)."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.1, 1]})
    both = frame.dropna(subset=["sigma_mS_cm", "ccd_mA_cm2"])
    others = both[both["own_work"] == 0]
    own = both[both["own_work"] == 1]
    left.scatter(others["sigma_mS_cm"], others["ccd_mA_cm2"], s=36, color="#7f8c8d", label="literature (Table S3)")
    for row in others.itertuples():
        left.annotate(row.formula, (row.sigma_mS_cm, row.ccd_mA_cm2), fontsize=6.5, xytext=(4, 3), textcoords="offset points")
    left.scatter(own["sigma_mS_cm"], own["ccd_mA_cm2"], s=110, marker="*", color="#c0392b", label="this work", zorder=3)
    for row in own.itertuples():
        left.annotate(row.formula, (row.sigma_mS_cm, row.ccd_mA_cm2), fontsize=8, color="#c0392b", xytext=(5, -10), textcoords="offset points")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("σ_Li (mS/cm)")
    left.set_ylabel("CCD (mA/cm²)")
    left.legend(fontsize=8)
    left.set_title("Conductivity vs critical current density", fontsize=10)

    with_sigma = frame.dropna(subset=["sigma_mS_cm"])
    phases = sorted(p for p in with_sigma["primary_phase"].dropna().unique())
    for index, phase in enumerate(phases):
        group = with_sigma[with_sigma["primary_phase"] == phase]
        jitter = (np.arange(len(group)) % 5 - 2) * 0.06
        colours = ["#c0392b" if o else "#1f4e79" for o in group["own_work"]]
        sizes = [110 if o else 30 for o in group["own_work"]]
        right.scatter(index + jitter, group["sigma_mS_cm"], c=colours, s=sizes, marker="o")
    right.set_xticks(range(len(phases)))
    right.set_xticklabels(phases, fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("σ_Li (mS/cm)")
    right.set_xlabel("primary phase")
    right.set_title("Conductivity by primary phase (red: this work)", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, out)
