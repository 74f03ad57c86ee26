"""Plots people look at: simulated patterns with labelled reflection ticks, overlays, measured data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError

COLOURS = ["#1f4e79", "#c0392b", "#27864a", "#8e44ad", "#d35400", "#2c3e50"]


def _save(fig, out: str | Path) -> Path:
    """Write ``fig`` as PNG atomically and close it (also when writing fails)."""
    import matplotlib.pyplot as plt

    from .outputs import atomic_path

    out = Path(out)
    try:
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as fh:
                fig.savefig(fh, format="png", dpi=150)
    finally:
        plt.close(fig)
    return out


def plot_patterns(patterns, out: str | Path, measured=None, fit=None, title: str | None = None,
                  label_min_rel: float = 8.0, step_deg: float = 0.01) -> Path:
    """Stacked profiles of ``patterns`` (first at the bottom), reflection ticks for each, hkl labels
    on the strongest lines of the first, and optionally the measured pattern with the fitted
    simulation of the first and their difference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
            label = "/".join("".join(str(v) for v in fam) for fam in row.hkl)
            ax.annotate(label, (row.two_theta_deg, min(height, 1.0 + base) + 0.03), ha="center", fontsize=7, rotation=90)
    ax.set_xlabel("2θ (°)")
    lam = ", ".join(f"{c.name} {c.wavelength_angstrom:.4f} Å" for c in patterns[0].components)
    ax.set_ylabel("intensity (normalised, offset)")
    ax.set_title(title or f"Simulated powder XRD ({lam})", fontsize=10)
    ax.set_yticks([])
    ax.set_xlim(*patterns[0].two_theta_range)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return _save(fig, out)


def plot_literature(frame, out: str | Path, title: str | None = None) -> Path:
    """Two panels: sigma versus CCD for every measurement that has both, and sigma by primary phase;
    the source's own work highlighted. ``frame`` is a measurements DataFrame (queries.query_measurements)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    return _save(fig, out)


def plot_screen_series(screener, results, out_dir: str | Path, variable: str, references=(), max_patterns: int = 15,
                       step_deg: float = 0.01) -> list[Path]:
    """Three figures for a screened series: stacked simulated patterns with reference reflection ticks
    (like the source's Fig. S1), lattice parameter and density versus the variable, and a zoom on the
    strongest reflections showing their shift."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    written.append(_save(fig, out_dir / "series-patterns.png"))

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
    written.append(_save(fig, out_dir / "series-lattice-density.png"))

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
    written.append(_save(fig, out_dir / "series-zoom.png"))
    return written
