"""Plots of a screened series: stacked simulated patterns, lattice parameter and density versus the
variable, and the shift of the strongest reflections."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.files import pyplot, save_figure
from ..physics.plots import (
    COLOURS,
    PeakLabel,
    describe_wavelength,
    fit_labels,
    publication_style,
)
from ..physics.xrd import hkl_label

#: hkl families the zoom always shows next to the two strongest lines, when present (222 beside 311).
ZOOM_EXTRA_FAMILIES = ((2, 2, 2),)
#: Full widths at half maximum kept on each side of the outermost zoomed line.
ZOOM_MARGIN_FWHM = 4.0
#: Mark of a curve or label at an extrapolated lattice parameter, explained in a footnote of the figure.
EXTRAPOLATED_MARK = "†"
#: The footnote of a figure holding patterns at extrapolated lattice parameters.
EXTRAPOLATED_FOOTNOTE = (f"{EXTRAPOLATED_MARK} dashed: a extrapolated by the lattice model (outside its calibrated "
                         "compositions), peak positions uncertain")


def extrapolated(row) -> bool:
    """Whether a result row's lattice parameter is the lattice model's extrapolation (its ``extrapolated``
    flag, else its ``a_note``)."""
    flag = row.get("extrapolated") if hasattr(row, "get") else getattr(row, "extrapolated", None)
    if flag is not None and flag == flag:  # not None / NaN
        return bool(flag)
    note = row.get("a_note") if hasattr(row, "get") else getattr(row, "a_note", None)
    return isinstance(note, str) and note.startswith("extrapolated")


def extrapolation_mask(results) -> np.ndarray:
    """:func:`extrapolated` of every row of a results DataFrame."""
    return np.array([extrapolated(row) for _, row in results.iterrows()], dtype=bool)


def series_patterns(screener, results, variable: str, max_patterns: int = 15) -> list:
    """(result row, simulated Pattern) of up to ``max_patterns`` computed compositions spread evenly over
    the series, in the order of ``variable``."""
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
    return patterns


def plot_screen_series(screener, results, out_dir: str | Path, variable: str, references=(), max_patterns: int = 15,
                       step_deg: float = 0.01) -> list[Path]:
    """Three figures for a screened series: stacked simulated patterns with reference reflection ticks
    (like the source's Fig. S1, :func:`series_figure`), lattice parameter and density versus the variable,
    and a zoom on the strongest reflections and 222 showing their shift (:func:`zoom_figure`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ok = results[results["status"] == "ok"].sort_values(variable)
    patterns = series_patterns(screener, results, variable, max_patterns)
    written = []

    # 1. stacked patterns with reference ticks
    fig = series_figure(patterns, variable, screener.settings.family, references, step_deg)
    written.append(save_figure(fig, out_dir / "series-patterns.png"))

    # 2. a and density versus the variable
    fig = lattice_density_figure(ok, variable, screener.settings.family)
    written.append(save_figure(fig, out_dir / "series-lattice-density.png"))

    # 3. zoom on the strongest reflections and 222, labelled
    fig = zoom_figure(patterns, variable, step_deg=min(step_deg, 0.002))
    written.append(save_figure(fig, out_dir / "series-zoom.png"))
    return written


def lattice_density_figure(ok, variable: str, family: str):
    """The predicted lattice parameter (± 1σ of the lattice model) and the X-ray density against ``variable``.
    Points the lattice model extrapolates are open markers over a hatched ± 1σ band, apart from the filled
    calibrated ones, with a legend entry each and the model's reason under the axes."""
    plt = pyplot()
    ok = ok.sort_values(variable)
    x = ok[variable].to_numpy(dtype=float)
    a = ok["a_angstrom"].to_numpy(dtype=float)
    sigma = ok["a_sigma_angstrom"].to_numpy(dtype=float)
    outside = extrapolation_mask(ok)
    fig, ax1 = plt.subplots(figsize=(6.5, 4.4 if outside.any() else 4))
    ax1.plot(x, a, "-", lw=0.8, color=COLOURS[0], zorder=1)
    if (~outside).any():
        ax1.errorbar(x[~outside], a[~outside], yerr=sigma[~outside], fmt="o", ms=4, color=COLOURS[0], capsize=2,
                     label="a predicted (inside the calibration) ± 1σ", zorder=3)
    if outside.any():
        ax1.fill_between(x, a - sigma, a + sigma, where=outside, interpolate=False, facecolor="none", edgecolor=COLOURS[0],
                         hatch="////", lw=0.0, alpha=0.6, label="± 1σ of the extrapolation", zorder=0)
        ax1.errorbar(x[outside], a[outside], yerr=sigma[outside], fmt="o", ms=5, mfc="white", mec=COLOURS[0], color=COLOURS[0],
                     capsize=2, label="a extrapolated (outside the calibration)", zorder=3)
        notes = ok["a_note"][outside].dropna().astype(str).str.removeprefix("extrapolated: ")
        reason = notes.iloc[0] if len(notes) and (notes == notes.iloc[0]).all() else "several reasons (a_note of each row)"
        fig.text(0.01, 0.01, f"extrapolated: {reason}", fontsize=7, color="0.3", ha="left", va="bottom")
    ax1.set_xlabel(variable)
    ax1.set_ylabel("a (Å), lattice model ± 1σ", color=COLOURS[0])
    ax2 = ax1.twinx()
    ax2.plot(x, ok["density_g_cm3"], "s--", ms=3, color=COLOURS[1], label="X-ray density")
    ax2.set_ylabel("X-ray density (g/cm³)", color=COLOURS[1])
    handles, labels = ax1.get_legend_handles_labels()
    more_handles, more_labels = ax2.get_legend_handles_labels()
    ax1.legend(handles + more_handles, labels + more_labels, fontsize=7, loc="best", framealpha=0.9)
    ax1.set_title(f"{family}: lattice parameter and density", fontsize=10)
    fig.tight_layout(rect=(0, 0.04 if outside.any() else 0, 1, 1))
    return fig


def series_figure(patterns, variable: str, family: str, references=(), step_deg: float = 0.01):
    """Stacked simulated patterns of the series (like the source's Fig. S1), each named on the right, with
    one row of reflection ticks per reference pattern under them. ``patterns`` as :func:`series_patterns`."""
    plt = pyplot()
    values = [float(getattr(row, variable)) for row, _ in patterns]
    colour_of = _colour_scale(plt, values)
    lam = describe_wavelength(patterns[0][1].components)
    with publication_style():
        fig, ax = plt.subplots(figsize=(9, 1.6 + 0.55 * len(patterns) + 0.3 * len(references)))
        marked = [extrapolated(row) for row, _ in patterns]
        for k, (_row, pattern) in enumerate(patterns):
            x, y = pattern.profile(step_deg=step_deg)
            ax.plot(x, y / y.max() * 0.9 + k, lw=0.8, color=colour_of(values[k]), ls="--" if marked[k] else "-")
            ax.text(1.005, k + 0.05, f"{variable} = {values[k]:g}" + (f" {EXTRAPOLATED_MARK}" if marked[k] else ""), fontsize=7,
                    va="bottom", transform=ax.get_yaxis_transform())
        for j, ref in enumerate(references):
            peaks = ref.peaks[(ref.peaks["component"] == ref.components[0].name) & (ref.peaks["intensity_rel"] >= 1)]
            base = -0.35 - 0.3 * j
            colour = COLOURS[(j + 1) % len(COLOURS)]
            ax.vlines(peaks["two_theta_deg"], base, base + 0.06 + 0.18 * peaks["intensity_rel"] / 100, color=colour, lw=1)
            ax.text(1.005, base + 0.08, f"{ref.name}, a = {ref.a_angstrom:.4f} Å", fontsize=7, va="center", color=colour,
                    transform=ax.get_yaxis_transform())
        ax.set_xlim(*patterns[0][1].two_theta_range)
        ax.set_ylim(-0.45 - 0.3 * max(len(references) - 1, 0) if references else -0.1, len(patterns) - 1 + 1.0)
        ax.set_yticks([])
        ax.tick_params(axis="y", which="both", left=False, right=False)
        ax.set_xlabel("2θ (°)")
        ax.set_ylabel("Intensity (normalised, offset)")
        ax.set_title(f"{family}: simulated XRD ({lam})")
        if any(marked):
            fig.text(0.01, 0.005, EXTRAPOLATED_FOOTNOTE, fontsize=7, color="0.3", ha="left", va="bottom")
            fig.tight_layout(rect=(0, 0.03, 1, 1))
        else:
            fig.tight_layout()
    return fig


def _colour_scale(plt, values):
    """Colour of a value of the series variable (viridis from the smallest to the largest)."""
    lo, hi = min(values), max(values)
    return lambda v: plt.cm.viridis(0.0 if hi == lo else (v - lo) / (hi - lo))


def _family_of(hkl_families) -> tuple[int, ...]:
    return tuple(sorted((abs(int(v)) for v in hkl_families[0]), reverse=True))


def _line_position(pattern, family: tuple[int, ...]) -> float:
    """2θ of the line ``family`` for the first wavelength component of ``pattern``."""
    primary = pattern.peaks[pattern.peaks["component"] == pattern.components[0].name]
    return float(primary[[_family_of(h) == family for h in primary["hkl"]]]["two_theta_deg"].iloc[0])


def zoom_lines(pattern, extra_families=ZOOM_EXTRA_FAMILIES) -> list[tuple[int, ...]]:
    """The hkl families the zoom shows: the two strongest lines of ``pattern`` and ``extra_families``
    (222 next to 311 in an argyrodite) where present."""
    primary = pattern.peaks[pattern.peaks["component"] == pattern.components[0].name]
    families = [_family_of(row.hkl) for row in primary.nlargest(2, "intensity_rel").itertuples()]
    present = {_family_of(row.hkl) for row in primary.itertuples()}
    return families + [f for f in extra_families if f in present and f not in families]


def zoom_window(patterns, families) -> tuple[float, float]:
    """2θ limits holding the lines ``families`` of every pattern (every wavelength component) with
    :data:`ZOOM_MARGIN_FWHM` widths to spare on each side."""
    lo, hi = np.inf, -np.inf
    for pattern in patterns:
        rows = pattern.peaks[[_family_of(h) in families for h in pattern.peaks["hkl"]]]
        if rows.empty:
            continue
        positions = rows["two_theta_deg"].to_numpy(dtype=float)
        fwhm, _ = pattern.fwhm_deg(positions)
        lo = min(lo, float(np.min(positions - ZOOM_MARGIN_FWHM * fwhm)))
        hi = max(hi, float(np.max(positions + ZOOM_MARGIN_FWHM * fwhm)))
    if not np.isfinite(lo):
        raise InputError("screen plots", "no reflections to zoom on")
    return lo, hi


def zoom_figure(patterns, variable: str, step_deg: float = 0.002):
    """The zoom of the series on its strongest lines and 222: profiles coloured by the variable (colour
    bar), each line labelled with its hkl above an arrow from its position in the first pattern to the
    last (the shift across the series). ``patterns`` are (row, Pattern) pairs in the order of the variable."""
    plt = pyplot()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    values = [float(getattr(row, variable)) for row, _ in patterns]
    colour_of = _colour_scale(plt, values)
    families = sorted(zoom_lines(patterns[0][1]), key=lambda f: _line_position(patterns[0][1], f))
    lo, hi = zoom_window([p for _, p in patterns], families)
    with publication_style():
        fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
        grid = np.arange(lo, hi + step_deg / 2, step_deg)
        profiles = []
        marked = [extrapolated(row) for row, _ in patterns]
        for k, (_, pattern) in enumerate(patterns):
            x, y = pattern.profile(two_theta=grid)
            y = y / max(float(y.max()), 1e-12)
            profiles.append(y)
            ax.plot(x, y, lw=0.9, color=colour_of(values[k]), ls="--" if marked[k] else "-")
        if any(marked):
            which = "every curve dashed" if all(marked) else f"dashed curves ({sum(marked)} of {len(marked)})"
            fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))
            fig.text(0.01, 0.005, f"{which.capitalize()}: a extrapolated by the lattice model (outside its calibrated "
                     "compositions), the shift is a prediction", fontsize=7, color="0.3", ha="left", va="bottom")
        upper = np.max(profiles, axis=0)
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.03, 1.12)
        ax.set_xlabel("2θ (°)")
        ax.set_ylabel("Intensity (normalised)")
        ax.set_title(f"Shift of the {', '.join(hkl_label([f]) for f in families)} lines "
                     f"(arrows: {variable} = {values[0]:g} → {values[-1]:g})")
        bar = fig.colorbar(ScalarMappable(norm=Normalize(min(values), max(values)), cmap="viridis"), ax=ax, pad=0.02)
        bar.set_label(variable)
        fig.draw_without_rendering()  # lay the figure out before measuring the labels

        # one label per line, over the span the line moves through
        labels: list[PeakLabel] = []
        arrows: list[list[float]] = []
        for family in families:
            ends = [_line_position(pattern, family) for _, pattern in (patterns[0], patterns[-1])]
            labels.append(PeakLabel(sum(ends) / 2, hkl_label([family]), 100.0 - len(labels)))
            arrows.append(ends)

        def top_of(a: float, b: float) -> float:
            inside = (grid >= a) & (grid <= b)
            return float(upper[inside].max()) if inside.any() else 0.0

        arrow_y = []
        for start, stop in arrows:
            height = top_of(min(start, stop) - 0.05, max(start, stop) + 0.05) + 0.03
            arrow_y.append(height)
            ax.annotate("", (stop, height), xytext=(start, height),
                        arrowprops={"arrowstyle": "->", "lw": 0.7, "color": "0.3", "shrinkA": 0, "shrinkB": 0})

        def label_base(a: float, b: float) -> float:
            """Above the profiles and above any shift arrow under the label."""
            return max([top_of(a, b)] + [y + 0.01 for (s, e), y in zip(arrows, arrow_y) if min(s, e) <= b and max(s, e) >= a])

        fit_labels(fig, ax, labels, label_base, fontsize=8, rotation=0)
    return fig
