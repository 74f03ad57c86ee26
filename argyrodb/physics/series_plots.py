"""The figure of a refined series (``argyrodb refine --series --plot``): four panels against the series variable -
the main phase's lattice parameter, the halides' occupancies on the anion sites, the crystallite size, and the
second phases' weight fractions (the GoF when there are none) - each point with its esd, the unreliable fits marked.

It takes the series table (:meth:`argyrodb.pipeline.series.SeriesResult.table`: one flat row per member) and says
nothing of how it was refined; the legends go where they cover no data (:func:`~argyrodb.physics.plots.arrange_legend`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.errors import ParameterError
from ..core.files import pyplot, save_figure
from .plots import COLOURS, arrange_legend, publication_style

#: Marker and line style of each anion site in the occupancy panel.
SITE_STYLE = {"4a": ("o", "-"), "4c": ("^", "-."), "4d": ("s", "--")}
UNRELIABLE_COLOUR = "#c0392b"


def _values(table: Sequence[dict], key: str) -> np.ndarray:
    return np.array([np.nan if row.get(key) is None else float(row[key]) for row in table], dtype=float)


def _series(ax, x: np.ndarray, y: np.ndarray, err: np.ndarray, reliable: np.ndarray, colour: str, marker: str = "o",
            linestyle: str = "-", label: str | None = None, alpha: float = 1.0) -> bool:
    """Points with error bars joined by a line; the unreliable ones hollow, ringed in red. Whether any was."""
    shown = np.isfinite(y)
    if not shown.any():
        return False
    order = np.argsort(x[shown], kind="stable")
    xs, ys = x[shown][order], y[shown][order]
    ax.plot(xs, ys, linestyle=linestyle, lw=1.0, color=colour, alpha=alpha, zorder=2)
    es = np.where(np.isfinite(err[shown][order]), err[shown][order], 0.0)
    good = reliable[shown][order]
    if good.any():
        ax.errorbar(xs[good], ys[good], yerr=es[good], fmt=marker, ms=5, color=colour, ecolor=colour, elinewidth=0.8,
                    capsize=2, alpha=alpha, label=label, zorder=3)
    if (~good).any():
        ax.errorbar(xs[~good], ys[~good], yerr=es[~good], fmt=marker, ms=5, mfc="white", mec=colour, ecolor=colour,
                    elinewidth=0.8, capsize=2, alpha=alpha, label=None if good.any() else label, zorder=3)
        ax.plot(xs[~good], ys[~good], "o", ms=10, mfc="none", mec=UNRELIABLE_COLOUR, mew=1.0, zorder=4)
    return bool((~good).any())


def _legend(fig, ax, handles, ncols: int) -> None:
    """The legend where it covers no data (a corner, or one freed by more headroom); inside the panel over the data
    ("best") rather than outside, where it would run into the next panel."""
    legend = arrange_legend(fig, ax, handles=handles, fontsize=7, ncols=ncols)
    renderer = fig.canvas.get_renderer()
    box, frame = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
    if box.x0 < frame.x0 - 1 or box.x1 > frame.x1 + 1 or box.y0 < frame.y0 - 1 or box.y1 > frame.y1 + 1:
        legend.remove()
        ax.legend(handles=handles, fontsize=7, ncols=ncols, loc="best", framealpha=0.92)


def _member_axis(ax, x: np.ndarray, members: Sequence[int]) -> None:
    """The member numbers along the top of a panel, at their x."""
    positions: dict[float, list[str]] = {}
    for value, number in zip(x, members):
        if np.isfinite(value):
            positions.setdefault(round(float(value), 9), []).append(str(number))
    top = ax.secondary_xaxis("top")
    top.set_xticks(list(positions), labels=[",".join(v) for v in positions.values()])
    top.tick_params(axis="x", labelsize=7, direction="in", which="both")
    top.minorticks_off()
    top.set_xlabel("member", fontsize=8)


def refinement_series_figure(table: Sequence[dict], variable: dict, occupancy_columns: Sequence[tuple[str, str]],
                             second_phases: Sequence[str], title: str | None = None,
                             figsize: tuple[float, float] = (9.0, 7.4)):
    """The figure of :func:`plot_refinement_series` (not saved)."""
    from matplotlib.lines import Line2D

    if not table:
        raise ParameterError("table", "a series plot needs at least one member")
    x = np.array([float(v) for v in variable["values"]], dtype=float)
    if x.size != len(table):
        raise ParameterError("variable", f"{x.size} series values for {len(table)} members")
    reliable = np.array([bool(row.get("reliable")) for row in table])
    members = [int(row["member"]) for row in table]
    with publication_style():
        plt = pyplot()
        fig, axes = plt.subplots(2, 2, figsize=figsize, sharex=True)
        ax_a, ax_occ, ax_size, ax_wt = axes.ravel()

        ringed = {ax_a: _series(ax_a, x, _values(table, "a_angstrom"), _values(table, "a_esd_angstrom"), reliable,
                                COLOURS[0])}
        ax_a.set_ylabel("a (Å)")
        ax_a.ticklabel_format(axis="y", useOffset=False)

        elements = list(dict.fromkeys(el for el, _ in occupancy_columns))
        for el, wyckoff in occupancy_columns:
            colour = COLOURS[elements.index(el) % len(COLOURS)]
            marker, linestyle = SITE_STYLE.get(wyckoff, ("D", ":"))
            undetermined = any(f"{el} {wyckoff}" in (row.get("undetermined") or "").split(", ") for row in table)
            # an undetermined split (S/Cl, one electron apart) is drawn faint and without its esd, which measures the
            # noise and not what the data can tell
            esd = np.full(x.size, np.nan) if undetermined else _values(table, f"{el}_{wyckoff}_esd")
            ringed[ax_occ] = _series(ax_occ, x, _values(table, f"{el}_{wyckoff}"), esd, reliable, colour, marker,
                                     linestyle, label=f"{el} on {wyckoff}" + (" (undetermined)" if undetermined else ""),
                                     alpha=0.45 if undetermined else 1.0) or ringed.get(ax_occ, False)
        ax_occ.set_ylabel("occupancy (fraction of the site)")
        ax_occ.set_ylim(-0.04, 1.04)
        if not occupancy_columns:
            ax_occ.text(0.5, 0.5, "no halide occupancies refined", transform=ax_occ.transAxes, ha="center", va="center",
                        color="0.4")

        kinds = {row.get("size_kind") for row in table if row.get("size_kind")}
        ringed[ax_size] = _series(ax_size, x, _values(table, "size_nm"), _values(table, "size_esd_nm"), reliable, COLOURS[2])
        ax_size.set_ylabel("crystallite size (nm" + (f", {kinds.pop()})" if len(kinds) == 1 else ")"))

        if second_phases:
            # a member whose main phase is not detected has no weight fractions to speak of (its bounds reach 100 %)
            main_seen = np.array([row.get("detected") is not False for row in table])
            for index, name in enumerate(second_phases):
                colour = COLOURS[(index + 3) % len(COLOURS)]
                wt = np.where(main_seen, _values(table, f"{name}_wt_percent"), np.nan)
                ringed[ax_wt] = _series(ax_wt, x, wt, np.full(x.size, np.nan), reliable, colour, label=name) or ringed.get(ax_wt, False)
                bound = np.where(main_seen, _values(table, f"{name}_wt_percent_upper_bound"), np.nan)
                shown = np.isfinite(bound)
                if shown.any():
                    ax_wt.plot(x[shown], bound[shown], "v", ms=6, mfc="white", mec=colour, ls="none",
                               label=f"{name} not detected (upper bound)", zorder=3)
                if (shown & ~reliable).any():
                    ax_wt.plot(x[shown & ~reliable], bound[shown & ~reliable], "o", ms=10, mfc="none",
                               mec=UNRELIABLE_COLOUR, mew=1.0, zorder=4)
                    ringed[ax_wt] = True
            ax_wt.set_ylabel("weight fraction (wt %)")
            ax_wt.set_ylim(bottom=-0.04 * ax_wt.get_ylim()[1])
        else:
            ringed[ax_wt] = _series(ax_wt, x, _values(table, "gof"), np.full(x.size, np.nan), reliable, COLOURS[4])
            ax_wt.set_ylabel("GoF (no second phase)")

        for ax in axes.ravel():
            ax.grid(alpha=0.3)
            ax.set_xticks(sorted(set(x[np.isfinite(x)])))
            ax.tick_params(axis="x", which="minor", bottom=False, top=False)
        for ax in axes[1]:
            ax.set_xlabel(variable["label"])
        for ax in axes[0]:
            if variable.get("element"):  # against a composition: the member numbers along the top
                _member_axis(ax, x, members)
                ax.tick_params(axis="x", top=False)
        for ax in axes[1]:
            ax.tick_params(axis="x", top=False)
        span = float(np.nanmax(x) - np.nanmin(x)) if np.isfinite(x).any() else 1.0
        pad = 0.08 * (span if span > 0 else 1.0)
        ax_a.set_xlim(float(np.nanmin(x)) - pad, float(np.nanmax(x)) + pad)
        not_refined = [f"{row['member']} ({Path(row['file']).name})" for row in table if row.get("reliable") is None]
        not_seen = [f"{row['member']} ({Path(row['file']).name})" for row in table if row.get("detected") is False]
        heading = title or "Sequential refinement"
        if not_refined:
            heading += "\nnot refined: member " + ", ".join(not_refined)
        if not_seen:
            heading += ("; " if not_refined else "\n") + "main phase not detected: member " + ", ".join(not_seen)
        fig.suptitle(heading, fontsize=10)
        fig.tight_layout()
        unreliable = Line2D([], [], marker="o", ms=10, mfc="none", mec=UNRELIABLE_COLOUR, ls="none", label="unreliable fit")
        for ax in axes.ravel():
            handles = ax.get_legend_handles_labels()[0]
            if ax is ax_wt:  # each phase, then its upper bounds
                handles = sorted(handles, key=lambda h: h.get_label())
            if ringed.get(ax):
                handles = [*handles, unreliable]
            if handles:
                _legend(fig, ax, handles, ncols=2 if len(handles) > 3 else 1)
    return fig


def plot_refinement_series(table: Sequence[dict], variable: dict, occupancy_columns: Sequence[tuple[str, str]],
                           second_phases: Sequence[str], out: str | Path, title: str | None = None, dpi: int = 150) -> Path:
    """Write the series figure (:func:`refinement_series_figure`) as a PNG, atomically."""
    return save_figure(refinement_series_figure(table, variable, occupancy_columns, second_phases, title), out, dpi=dpi)
