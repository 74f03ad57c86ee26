"""Plots of the literature data: conductivity versus critical current density, and by primary phase."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..core.files import pyplot, save_figure
from ..physics.plots import overlaps_data, place_box, publication_style

SIGMA_LABEL = r"$\sigma_\mathrm{Li}$ (mS cm$^{-1}$)"
CCD_LABEL = r"CCD (mA cm$^{-2}$)"
OWN_COLOUR = "#c0392b"
OTHER_COLOUR = "#1f4e79"

#: Mantissas of the labelled ticks on a log axis, coarsest first: the first giving 3 or more labels is used.
LOG_TICK_MANTISSAS = ((1.0,), (1.0, 3.0), (1.0, 2.0, 5.0), (1.0, 2.0, 3.0, 5.0), tuple(float(m) for m in range(1, 10)))

_NUMBER = re.compile(r"(?<=[A-Za-z)\]])(\d+(?:\.\d+)?)")


def formula_text(formula: str) -> str:
    """A chemical formula with its amounts as subscripts (mathtext): 'Li6PS5Cl' -> 'Li$_{6}$PS$_{5}$Cl'."""
    if "$" in formula:
        return formula
    return _NUMBER.sub(lambda m: f"$_{{{m.group(1)}}}$", formula)


def log_ticks(lo: float, hi: float, minimum: int = 3, maximum: int = 8) -> list[float]:
    """Labelled ticks for a log axis from ``lo`` to ``hi``: the coarsest of :data:`LOG_TICK_MANTISSAS`
    with at least ``minimum`` ticks inside, thinned to at most ``maximum``."""
    lo, hi = sorted((float(lo), float(hi)))
    first, last = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    ticks: list[float] = []
    for mantissas in LOG_TICK_MANTISSAS:
        ticks = [m * 10.0**e for e in range(first, last + 1) for m in mantissas]
        ticks = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
        if len(ticks) >= minimum:
            break
    return ticks[::max(1, math.ceil(len(ticks) / maximum))]


def _format_log_axis(axis, limits) -> None:
    """Plain-number labels ('0.2', '1', '10') on the ticks of :func:`log_ticks`, unlabelled minor ticks."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(FixedLocator(log_ticks(*limits)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_locator(LogLocator(base=10.0, subs=tuple(range(2, 10)), numticks=50))
    axis.set_minor_formatter(NullFormatter())


def _annotate_clear(fig, ax, points, texts, colours, sizes, placed):
    """Label each point with its text at the first of a few offsets where the label stays inside the axes
    and touches neither another label nor a marker."""
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    offsets = [((5, 3), "left", "bottom"), ((5, -3), "left", "top"), ((-5, 3), "right", "bottom"),
               ((-5, -3), "right", "top"), ((0, 7), "center", "bottom"), ((0, -7), "center", "top")]
    for (x, y), text, colour, size in zip(points, texts, colours, sizes):
        fallback = None
        for offset, ha, va in offsets:
            label = ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=size,
                                color=colour)
            box = label.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not overlaps_data(ax, box, pad=0.5) and not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            if inside and fallback is None:
                fallback = (offset, ha, va)
            label.remove()
        else:
            offset, ha, va = fallback or offsets[0]
            label = ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=size,
                                color=colour)
            placed.append(label.get_window_extent(renderer))


def _pad_log_limits(values, factor: float = 1.6) -> tuple[float, float]:
    values = [v for v in values if v > 0 and np.isfinite(v)]
    if not values:
        return 0.1, 10.0
    return min(values) / factor, max(values) * factor


def plot_literature(frame, out: str | Path, title: str | None = None) -> Path:
    """Two panels: sigma versus CCD for every measurement that has both, and sigma by primary phase;
    the source's own work highlighted. ``frame`` is a measurements DataFrame (queries.query_measurements)."""
    return save_figure(literature_figure(frame, title), out)


def literature_figure(frame, title: str | None = None):
    """The figure of :func:`plot_literature` (not saved)."""
    from matplotlib.lines import Line2D

    plt = pyplot()
    with publication_style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.0), gridspec_kw={"width_ratios": [1.15, 1]})
        both = frame.dropna(subset=["sigma_mS_cm", "ccd_mA_cm2"])
        others = both[both["own_work"] == 0]
        own = both[both["own_work"] == 1]
        left.scatter(others["sigma_mS_cm"], others["ccd_mA_cm2"], s=30, color="#7f8c8d", label="literature (Table S3)", zorder=2)
        left.scatter(own["sigma_mS_cm"], own["ccd_mA_cm2"], s=110, marker="*", color=OWN_COLOUR, label="this work", zorder=3)
        left.set_xscale("log")
        left.set_yscale("log")
        xlim = _pad_log_limits(both["sigma_mS_cm"], 1.8)
        ylim = _pad_log_limits(both["ccd_mA_cm2"], 1.5)
        left.set_xlim(*xlim)
        left.set_ylim(*ylim)
        _format_log_axis(left.xaxis, xlim)
        _format_log_axis(left.yaxis, ylim)
        left.set_xlabel(SIGMA_LABEL)
        left.set_ylabel(CCD_LABEL)
        left.set_title("Conductivity vs critical current density")

        with_sigma = frame.dropna(subset=["sigma_mS_cm"])
        phases = sorted(p for p in with_sigma["primary_phase"].dropna().unique())
        for index, phase in enumerate(phases):
            group = with_sigma[with_sigma["primary_phase"] == phase]
            jitter = (np.arange(len(group)) % 5 - 2) * 0.06
            colours = [OWN_COLOUR if o else OTHER_COLOUR for o in group["own_work"]]
            sizes = [90 if o else 26 for o in group["own_work"]]
            right.scatter(index + jitter, group["sigma_mS_cm"], c=colours, s=sizes, marker="o", zorder=2)
        right.set_xticks(range(len(phases)))
        right.set_xticklabels([formula_text(p) for p in phases])
        right.tick_params(axis="x", which="both", top=False)
        right.set_yscale("log")
        ylim_right = _pad_log_limits(with_sigma["sigma_mS_cm"], 1.5)
        right.set_ylim(*ylim_right)
        right.set_xlim(-0.6, max(len(phases) - 1, 0) + 0.6)
        _format_log_axis(right.yaxis, ylim_right)
        right.set_ylabel(SIGMA_LABEL)
        right.set_xlabel("primary phase")
        right.set_title("Conductivity by primary phase")
        right.legend(handles=[Line2D([], [], marker="o", ls="none", color=OTHER_COLOUR, ms=5, label="literature (Table S3)"),
                              Line2D([], [], marker="o", ls="none", color=OWN_COLOUR, ms=9, label="this work")],
                     loc="best")
        if title:
            fig.suptitle(title, fontsize=11)
        fig.tight_layout()

        legend = place_box(fig, left, lambda loc: left.legend(loc=loc)) or left.legend(loc="best")
        placed = [legend.get_window_extent(fig.canvas.get_renderer())]
        _annotate_clear(fig, left, list(zip(own["sigma_mS_cm"], own["ccd_mA_cm2"])), [formula_text(f) for f in own["formula"]],
                        [OWN_COLOUR] * len(own), [8] * len(own), placed)
        _annotate_clear(fig, left, list(zip(others["sigma_mS_cm"], others["ccd_mA_cm2"])),
                        [formula_text(f) for f in others["formula"]], ["0.2"] * len(others), [6.5] * len(others), placed)
    return fig
