"""Powder-pattern plots: simulated patterns with labelled reflection ticks, overlays, measured data, and the
Rietveld/Pawley refinement figure (observed, calculated, background, difference, one tick row per phase).

Every figure is laid out so that no text runs into another or into the data: hkl labels sit above the
profile under their line (nudged sideways with a leader line, or left out, when two would touch), the plot
gets the headroom the labels need, and the legend (and the R-value box) go to the first corner where they
cover neither data nor labels, else outside the axes. The helpers doing this (``label_peaks``,
``place_box``, ``overlaps_data``) are shared with the screening and literature plots.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import ParameterError
from ..core.files import pyplot, save_figure
from .xrd import hkl_label

COLOURS = ["#1f4e79", "#c0392b", "#27864a", "#8e44ad", "#d35400", "#2c3e50"]

#: matplotlib settings of every figure here: one sans-serif family, 8-10 pt text, inward ticks on all sides.
PUBLICATION_STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.linewidth": 0.8,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "xtick.minor.visible": True,
    "legend.framealpha": 0.92,
    "legend.edgecolor": "0.75",
    "mathtext.default": "regular",
}

#: Locations tried, in order, for a legend or text box inside the axes.
BOX_LOCATIONS = ("upper right", "upper left", "upper center", "center right", "center left", "center")

HKL_GID = "hkl-label"

_EMISSION_LINE = re.compile(r"^([A-Z][a-z]?)K(a|b)([12]?)$")
_SUBSCRIPT = str.maketrans("12", "₁₂")


@contextlib.contextmanager
def publication_style():
    """Context in which new figures get :data:`PUBLICATION_STYLE`."""
    with pyplot().rc_context(PUBLICATION_STYLE):
        yield


def describe_wavelength(components) -> str:
    """The radiation in words for a title: 'Cu Kα₁, λ = 1.5406 Å', 'Cu Kα₁,₂, λ = 1.5406, 1.5444 Å',
    'λ = 1.5420 Å' (a wavelength given as a number)."""
    lambdas = ", ".join(f"{c.wavelength_angstrom:.4f}" for c in components) + " Å"
    found = [_EMISSION_LINE.match(c.name) for c in components]
    matches = [m for m in found if m is not None]
    if matches and len(matches) == len(found) and len({(m.group(1), m.group(2)) for m in matches}) == 1:
        element, series = matches[0].group(1), "α" if matches[0].group(2) == "a" else "β"
        suffixes = [m.group(3) for m in matches]
        line = f"K{series}" + (",".join(suffixes).translate(_SUBSCRIPT) if all(suffixes) else "")
        return f"{element} {line}, λ = {lambdas}"
    return f"λ = {lambdas}"


# --------------------------------------------------------------------------- layout helpers


def _renderer(fig):
    return fig.canvas.get_renderer()


def _segments_hit(points: np.ndarray, box, as_markers: bool) -> bool:
    """Whether a polyline (display coordinates) or its markers touch ``box``."""
    points = points[np.all(np.isfinite(points), axis=1)]
    if not len(points):
        return False
    if as_markers or len(points) == 1:
        x, y = points[:, 0], points[:, 1]
        return bool(np.any((x >= box.x0) & (x <= box.x1) & (y >= box.y0) & (y <= box.y1)))
    a, b = points[:-1], points[1:]
    x0, x1 = np.minimum(a[:, 0], b[:, 0]), np.maximum(a[:, 0], b[:, 0])
    y0, y1 = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    return bool(np.any((x0 <= box.x1) & (x1 >= box.x0) & (y0 <= box.y1) & (y1 >= box.y0)))


def overlaps_data(ax, box, pad: float = 2.0) -> bool:
    """Whether a display-space box (padded by ``pad`` pixels) touches any line, marker, tick row or
    scatter point drawn in ``ax``."""
    box = box.padded(pad)
    for line in ax.get_lines():
        if not line.get_visible():
            continue
        xy = np.asarray(line.get_xydata(), dtype=float)
        if not len(xy):
            continue
        points = line.get_transform().transform(xy)
        markers = line.get_linestyle() in ("None", "none", "", " ")
        radius = line.get_markersize() / 2 * ax.figure.dpi / 72 if markers else 0.0
        if _segments_hit(points, box.padded(radius), markers):
            return True
    for collection in ax.collections:
        if not collection.get_visible():
            continue
        if hasattr(collection, "get_segments"):
            transform = collection.get_transform()
            for segment in collection.get_segments():
                if len(segment) and _segments_hit(transform.transform(np.asarray(segment, dtype=float)), box, False):
                    return True
        else:
            offsets = collection.get_offsets()
            if len(offsets):
                points = collection.get_offset_transform().transform(np.asarray(offsets, dtype=float))
                sizes = collection.get_sizes()
                radius = float(np.sqrt(sizes.max()) / 2 * ax.figure.dpi / 72) if len(sizes) else 0.0
                if _segments_hit(points, box.padded(radius), True):
                    return True
    return False


def _extents(fig, avoid) -> list:
    """Display boxes of ``avoid``: artists (measured now, where they are) or boxes."""
    renderer = _renderer(fig)
    return [item.get_window_extent(renderer) if hasattr(item, "get_window_extent") else item for item in avoid]


def place_box(fig, ax, make, avoid=(), locations=BOX_LOCATIONS):
    """Add the artist ``make(loc)`` builds (a legend, an AnchoredText) at the first of ``locations`` where
    it covers no data and none of ``avoid`` (artists or display boxes); None when every location is taken
    (nothing is left added then)."""
    renderer = _renderer(fig)
    for loc in locations:
        artist = make(loc)
        box = artist.get_window_extent(renderer)
        if not overlaps_data(ax, box) and not any(box.overlaps(other) for other in _extents(fig, avoid)):
            return artist
        artist.remove()
    return None


def _outside_kwargs(ax) -> dict:
    return {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "bbox_transform": ax.transAxes, "borderaxespad": 0.0}


@dataclass
class PeakLabel:
    """A text to write above the profile at ``x`` (data units); higher ``priority`` is placed first."""

    x: float
    text: str
    priority: float
    colour: str = "black"


def label_peaks(fig, ax, labels, top_of, fontsize: float = 7.0, gap_pt: float = 2.5, avoid=(),
                rotation: float = 90) -> list:
    """Write ``labels`` (turned by ``rotation`` degrees) above the data: each sits ``gap_pt`` points above
    ``top_of(lo, hi)`` (the highest data, in data units, between 2θ lo and hi: the label's width around its
    line). A label that would touch one already placed (or one of ``avoid``, artists or display boxes) is
    moved sideways with a leader line, else left out. Returns the Text objects (gid 'hkl-label')."""
    renderer = _renderer(fig)
    px_per_pt = fig.dpi / 72.0
    placed, boxes = [], _extents(fig, avoid)
    for label in sorted(labels, key=lambda item: -item.priority):
        probe = ax.text(0, 0, label.text, rotation=rotation, fontsize=fontsize)
        width = probe.get_window_extent(renderer).width
        probe.remove()
        x_px = ax.transData.transform((label.x, 0.0))[0]
        for shift in (0.0, 0.75, -0.75, 1.5, -1.5):
            dx = shift * width
            lo = ax.transData.inverted().transform((min(x_px, x_px + dx - width / 2), 0.0))[0]
            hi = ax.transData.inverted().transform((max(x_px, x_px + dx + width / 2), 0.0))[0]
            base = top_of(lo, hi)
            arrow = {"arrowstyle": "-", "lw": 0.4, "color": "0.45", "shrinkA": 0, "shrinkB": 1} if shift else None
            text = ax.annotate(label.text, (label.x, base), xytext=(dx / px_per_pt, gap_pt + (2.0 if shift else 0.0)),
                               textcoords="offset points", rotation=rotation, ha="center", va="bottom", fontsize=fontsize,
                               color=label.colour, arrowprops=arrow, annotation_clip=False)
            text.set_gid(HKL_GID)
            box = text.get_window_extent(renderer)
            inside = ax.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in boxes) and inside.x0 <= box.x0 and box.x1 <= inside.x1:
                placed.append(text)
                boxes.append(box)
                break
            text.remove()
    return placed


def _ymax_for(ax, items_px_above: list[tuple[float, float]], pad_px: float) -> float:
    """The upper y limit at which every (y in data units, extent in pixels above it) fits under the top of
    the axes with ``pad_px`` to spare (linear y axis, lower limit kept)."""
    ymin, ymax = ax.get_ylim()
    height = ax.get_window_extent(_renderer(ax.figure)).height
    need = ymax
    for y, above in items_px_above:
        free = height - pad_px - above
        free = max(height * 0.2, free)
        need = max(need, ymin + (y - ymin) * height / free)
    return need


def _label_extents(fig, ax, texts) -> list[tuple[float, float]]:
    """(anchor y in data units, pixels from that anchor to the text's top) of placed labels."""
    renderer = _renderer(fig)
    out = []
    for text in texts:
        anchor_px = ax.transData.transform(text.xy)[1]
        out.append((text.xy[1], text.get_window_extent(renderer).y1 - anchor_px))
    return out


def fit_labels(fig, ax, labels, top_of, fontsize: float = 7.0, avoid=(), rotation: float = 90, rounds: int = 5) -> list:
    """Place ``labels`` with :func:`label_peaks` (clear of the boxes ``avoid``) and raise the top of the
    axes until they fit inside it."""
    texts: list = []
    for _ in range(rounds):
        for text in texts:
            text.remove()
        texts = label_peaks(fig, ax, labels, top_of, fontsize=fontsize, avoid=avoid, rotation=rotation)
        ymin, ymax = ax.get_ylim()
        need = _ymax_for(ax, _label_extents(fig, ax, texts), pad_px=fig.dpi * 0.15)
        if need <= ymax * (1 + 1e-3) + 1e-12 * abs(ymax):
            break
        ax.set_ylim(ymin, need)
    return texts


def _data_top_in(ax, x_lo: float, x_hi: float) -> float:
    """The highest data y (lines and markers in ``ax``) between x_lo and x_hi."""
    top = -np.inf
    for line in ax.get_lines():
        x, y = (np.asarray(v, dtype=float) for v in line.get_data())
        if x.size:
            inside = (x >= x_lo) & (x <= x_hi)
            if inside.any():
                top = max(top, float(np.nanmax(y[inside])))
    return top


def arrange_legend(fig, ax, avoid=(), max_headroom: float = 1.6, **legend_kwargs):
    """Put the legend where it covers neither data nor ``avoid`` (artists, e.g. labels, or display boxes):
    a free corner, else a corner freed by
    raising the top of the axes (up to ``max_headroom`` times the data height), else outside on the right.
    Returns the legend."""
    def build(loc):
        return ax.legend(loc=loc, **legend_kwargs)

    legend = place_box(fig, ax, build, avoid)
    if legend is not None:
        return legend
    renderer = _renderer(fig)
    ymin, ymax = ax.get_ylim()
    for loc in ("upper right", "upper left"):
        legend = build(loc)
        box = legend.get_window_extent(renderer)
        x_lo, x_hi = (ax.transData.inverted().transform((v, 0.0))[0] for v in (box.x0, box.x1))
        top = _data_top_in(ax, x_lo, x_hi)
        tops = [(top, 0.0)] if np.isfinite(top) else []
        tops += [(ax.transData.inverted().transform((0.0, b.y1))[1], 0.0) for b in _extents(fig, avoid)
                 if b.x1 >= box.x0 and b.x0 <= box.x1]
        need = _ymax_for(ax, [(y, box.height + 6.0) for y, _ in tops], pad_px=0.0) if tops else ymax
        legend.remove()
        if need <= ymin + (ymax - ymin) * max_headroom:
            ax.set_ylim(ymin, max(need, ymax))
            legend = place_box(fig, ax, build, avoid, locations=(loc,))
            if legend is not None:
                return legend
            ax.set_ylim(ymin, ymax)
    return ax.legend(**_outside_kwargs(ax), **legend_kwargs)


# --------------------------------------------------------------------------- simulated / measured patterns


def plot_patterns(patterns, out: str | Path, measured=None, fit=None, title: str | None = None,
                  label_min_rel: float = 8.0, step_deg: float = 0.01, dpi: int = 150) -> Path:
    """Stacked profiles of ``patterns`` (first at the bottom), reflection ticks for each, hkl labels
    on the strongest lines of the first, and optionally the measured pattern with the fitted
    simulation of the first and their difference. See :func:`pattern_figure`."""
    fig = pattern_figure(patterns, measured=measured, fit=fit, title=title, label_min_rel=label_min_rel, step_deg=step_deg)
    return save_figure(fig, out, dpi)


def _a_label(pattern) -> str:
    """The legend's 'a = 9.9805 Å', with '± 0.023 Å (lattice model, extrapolated: halide excess +0.4)' when a is a
    prediction (:meth:`~argyrodb.physics.xrd.Pattern.a_text`): an extrapolated a is never drawn as a measured one."""
    a_text = getattr(pattern, "a_text", None)
    return a_text() if a_text is not None else f"a = {pattern.a_angstrom:.4f} Å"


def pattern_figure(patterns, measured=None, fit=None, title: str | None = None, label_min_rel: float = 8.0,
                   step_deg: float = 0.01):
    """The figure of :func:`plot_patterns` (not saved): the first pattern at the bottom (as the fit to
    ``measured`` when given), the others stacked above it, one row of reflection ticks per pattern under
    the profiles, hkl labels above the first pattern's lines of at least ``label_min_rel`` % and the
    difference curve under the ticks."""
    if not patterns:
        raise ParameterError("patterns", "no pattern to plot")
    with_measured = measured is not None and fit is not None
    with publication_style():
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(10, 3.4 + 1.4 * len(patterns) + (0.8 if with_measured else 0.0)))
        first = patterns[0]
        lo, hi = first.two_theta_range
        gap = 0.25

        # the first pattern: simulated, or the measured data with the fitted simulation
        if with_measured:
            inside = (measured.two_theta_deg >= lo) & (measured.two_theta_deg <= hi)
            xm, ym = measured.two_theta_deg[inside], measured.intensity[inside]
            scale = 1.0 / max(float(ym.max()) if ym.size else 1.0, 1e-12)
            ax.plot(xm, ym * scale, "o", ms=2.0, mfc="none", mew=0.45, color="0.2", label=f"measured ({measured.name})", zorder=2)
            ax.plot(xm, fit.y_calc * scale, color=COLOURS[1], lw=0.9,
                    label=f"simulated {first.name} ({_a_label(first)}), $R_\\mathrm{{wp}}$ = {100 * fit.r_wp:.1f} %", zorder=3)
            first_x = xm
            first_y = np.maximum(ym, fit.y_calc) * scale
            difference = (ym - fit.y_calc) * scale
            bottom_of_first = float(min(np.min(ym * scale), np.min(fit.y_calc * scale), 0.0))
            tick_colour_first = COLOURS[1]
        else:
            x0, y0 = first.profile(step_deg=step_deg)
            first_x, first_y = x0, y0 / max(float(y0.max()), 1e-12)
            ax.plot(first_x, first_y, color=COLOURS[0], lw=0.9, label=f"{first.name} ({_a_label(first)})")
            difference = None
            bottom_of_first = 0.0
            tick_colour_first = COLOURS[0]

        # the others, stacked above (their offsets are set once the labels of the first are placed)
        palette = [c for c in COLOURS if c != tick_colour_first]
        colours = [tick_colour_first] + [palette[(k - 1) % len(palette)] for k in range(1, len(patterns))]
        stacked = []
        for index, pattern in enumerate(patterns[1:], start=1):
            x, y = pattern.profile(step_deg=step_deg)
            colour = colours[index]
            (line,) = ax.plot(x, y / max(float(y.max()), 1e-12), color=colour, lw=0.9,
                              label=f"{pattern.name} ({_a_label(pattern)})")
            stacked.append((line, line.get_ydata().copy()))

        # reflection ticks: one row per pattern under the first profile
        row_step, half = 0.075, 0.025
        for index, pattern in enumerate(patterns):
            colour = colours[index]
            centre = bottom_of_first - 0.06 - row_step * index
            lines = _primary_lines(pattern, 0.5)
            ax.vlines(lines["two_theta_deg"], centre - half, centre + half, color=colour, lw=0.8)
        tick_bottom = bottom_of_first - 0.06 - row_step * (len(patterns) - 1) - half
        ymin = tick_bottom - 0.05
        if difference is not None:
            offset = tick_bottom - 0.05 - float(difference.max())
            ax.plot(first_x, difference + offset, color="0.45", lw=0.7, label="difference (measured − simulated)")
            ax.axhline(offset, color="0.75", lw=0.5, ls=":", zorder=0)
            ymin = offset + float(difference.min()) - 0.05

        def restack(top_of_first: float) -> float:
            base = top_of_first + gap
            for line, y in stacked:
                line.set_ydata(y + base)
                base += 1.0 + gap
            return base - gap  # top of the stack

        ax.set_xlim(lo, hi)
        ax.set_xlabel("2θ (°)")
        ax.set_ylabel("Intensity (normalised to the measured maximum)" if with_measured
                      else "Intensity (normalised" + (", offset)" if len(patterns) > 1 else ")"))
        ax.set_yticks([])
        ax.tick_params(axis="y", which="both", left=False, right=False)
        lam = describe_wavelength(first.components)
        kind = "neutron diffraction" if str(first.conventions.get("radiation", "")).startswith("neutron") else "XRD"
        ax.set_title(title or (f"{first.name}: measured and simulated powder {kind} ({lam})" if with_measured
                               else f"Simulated powder {kind} ({lam})"))
        top = restack(1.0)
        ax.set_ylim(ymin, top + 0.1)
        fig.tight_layout()

        # hkl labels on the first pattern's strongest lines
        primary = _primary_lines(first, label_min_rel)
        labels = [PeakLabel(float(row.two_theta_deg), hkl_label(row.hkl, "/"), float(row.intensity_rel))
                  for row in primary.itertuples()]

        def top_of(a: float, b: float) -> float:
            inside = (first_x >= a) & (first_x <= b)
            return float(first_y[inside].max()) if inside.any() else float(np.interp((a + b) / 2, first_x, first_y))

        def place_labels() -> list:
            texts: list = []
            if not stacked:
                return fit_labels(fig, ax, labels, top_of)
            for _ in range(6):
                for text in texts:
                    text.remove()
                texts = label_peaks(fig, ax, labels, top_of)
                ymin_now, ymax_now = ax.get_ylim()
                per_px = (ymax_now - ymin_now) / ax.get_window_extent(_renderer(fig)).height
                label_top = max([1.0] + [y + above * per_px for y, above in _label_extents(fig, ax, texts)]) + 0.03
                new_top = restack(label_top)
                if abs(new_top + 0.1 - ymax_now) < 0.01:
                    break
                ax.set_ylim(ymin, new_top + 0.1)
            return texts

        texts = place_labels()
        legend = arrange_legend(fig, ax, avoid=texts, fontsize=8)
        if _outside(fig, ax, legend):
            fig.tight_layout()
            for text in texts:
                text.remove()
            place_labels()
    return fig


def _outside(fig, ax, artist) -> bool:
    renderer = _renderer(fig)
    return not ax.get_window_extent(renderer).contains(*artist.get_window_extent(renderer).p0)


def _primary_lines(pattern, min_rel: float):
    """The first wavelength component's lines of at least ``min_rel`` % (the Kα1 lines of a doublet)."""
    peaks = pattern.peaks
    primary = peaks[peaks["component"] == pattern.components[0].name]
    return primary[primary["intensity_rel"] >= min_rel]


# --------------------------------------------------------------------------- refinement (Fig. S2 style)


def plot_refinement(two_theta, observed, calculated, background, phases: list[dict], r_values: dict, title: str,
                    out_path: str | Path, wavelength_label: str | None = None, dpi: int = 300,
                    figsize: tuple[float, float] = (7.0, 4.8)) -> Path:
    """A Rietveld/Pawley fit drawn as refinement programs (TOPAS, GSAS-II) do, written as PNG at ``dpi``.

    ``two_theta`` (deg), ``observed``, ``calculated`` and ``background`` (counts) are arrays of one length;
    ``phases`` a list of ``{"name": str, "tick_positions_deg": array, "hkl_labels": list[str | None] | None}``
    (labels, when given, one per tick: None or '' leaves a line unlabelled); ``r_values`` holds ``r_wp``,
    ``r_p``, ``r_exp`` as fractions (0.081 is shown as 8.10 %) and ``gof`` (any may be missing);
    ``wavelength_label`` (e.g. :func:`describe_wavelength` of the components) is added to the title.
    Observed counts are open circles, the calculated pattern a line, the background dashed, the difference
    (observed - calculated) offset under one row of tick marks per phase, and the R values in a box placed
    where it covers no data. Returns ``out_path``."""
    fig = refinement_figure(two_theta, observed, calculated, background, phases, r_values, title,
                            wavelength_label=wavelength_label, figsize=figsize)
    return save_figure(fig, out_path, dpi)


def r_value_text(r_values: dict) -> str:
    r"""'$R_\mathrm{wp}$ = 8.10 %' ... one line per agreement factor present in ``r_values``."""
    lines = []
    for key, name in (("r_wp", r"$R_\mathrm{wp}$"), ("r_p", r"$R_\mathrm{p}$"), ("r_exp", r"$R_\mathrm{exp}$")):
        if r_values.get(key) is not None:
            lines.append(f"{name} = {100 * float(r_values[key]):.2f} %")
    if r_values.get("gof") is not None:
        lines.append(f"GoF = {float(r_values['gof']):.2f}")
    return "\n".join(lines)


def refinement_figure(two_theta, observed, calculated, background, phases: list[dict], r_values: dict, title: str,
                      wavelength_label: str | None = None, figsize: tuple[float, float] = (7.0, 4.8)):
    """The figure of :func:`plot_refinement` (not saved)."""
    from matplotlib.lines import Line2D
    from matplotlib.offsetbox import AnchoredText

    x = np.asarray(two_theta, dtype=float)
    arrays = {}
    for name, values in (("observed", observed), ("calculated", calculated), ("background", background)):
        arrays[name] = np.asarray(values, dtype=float)
        if arrays[name].shape != x.shape:
            raise ParameterError(name, f"{arrays[name].shape[0] if arrays[name].ndim else 0} values for {x.size} 2theta points")
    if x.size < 2:
        raise ParameterError("two_theta", "need at least two points")
    obs, calc, bg = arrays["observed"], arrays["calculated"], arrays["background"]
    for phase in phases:
        if "name" not in phase or "tick_positions_deg" not in phase:
            raise ParameterError("phases", "each phase needs 'name' and 'tick_positions_deg'")
        labels = phase.get("hkl_labels")
        if labels is not None and len(labels) != len(phase["tick_positions_deg"]):
            raise ParameterError("phases", f"{phase['name']}: {len(labels)} hkl labels for {len(phase['tick_positions_deg'])} ticks")

    with publication_style():
        plt = pyplot()
        fig, ax = plt.subplots(figsize=figsize)
        top_data = float(max(np.nanmax(obs), np.nanmax(calc)))
        floor = float(min(np.nanmin(obs), np.nanmin(calc), np.nanmin(bg)))
        span = max(top_data - min(floor, 0.0), 1e-12)
        ax.plot(x, obs, "o", ms=2.4, mfc="none", mew=0.5, color="#1f4e79", label="Observed", zorder=2)
        ax.plot(x, calc, "-", lw=0.9, color="#c0392b", label="Calculated", zorder=3)
        ax.plot(x, bg, "--", lw=0.8, color="#27864a", label="Background", zorder=2)

        tick_colours = ["#d35400", "#8e44ad", "#2c3e50", "#b7950b", "#16a085", "#7f8c8d"]
        row_step, half = 0.055 * span, 0.02 * span
        base = min(floor, 0.0) - 0.045 * span
        handles = []
        for index, phase in enumerate(phases):
            colour = tick_colours[index % len(tick_colours)]
            centre = base - row_step * index
            ticks = np.asarray(phase["tick_positions_deg"], dtype=float)
            ticks = ticks[(ticks >= x.min()) & (ticks <= x.max())]
            ax.vlines(ticks, centre - half, centre + half, color=colour, lw=0.8)
            handles.append(Line2D([], [], marker="|", ls="none", ms=9, mew=1.2, color=colour, label=phase["name"]))
        tick_bottom = base - row_step * max(len(phases) - 1, 0) - half
        difference = obs - calc
        offset = tick_bottom - 0.04 * span - float(np.nanmax(difference))
        ax.plot(x, difference + offset, "-", lw=0.7, color="0.4", label="Difference (obs − calc)", zorder=2)
        ax.axhline(offset, color="0.7", lw=0.5, ls=":", zorder=0)
        ymin = offset + float(np.nanmin(difference)) - 0.04 * span
        ax.set_ylim(ymin, top_data + 0.05 * span)
        ax.set_xlim(float(x.min()), float(x.max()))
        ax.set_xlabel("2θ (°)")
        ax.set_ylabel("Intensity (counts)")
        ax.set_title(f"{title} ({wavelength_label})" if wavelength_label else title, wrap=True)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 5), useMathText=True)
        fig.tight_layout()

        # hkl labels, per phase in its colour, on the strongest labelled lines
        labels = []
        for index, phase in enumerate(phases):
            for position, text in zip(phase["tick_positions_deg"], phase.get("hkl_labels") or []):
                if text and x.min() <= position <= x.max():
                    height = float(np.interp(position, x, calc))
                    labels.append(PeakLabel(float(position), str(text), height, tick_colours[index % len(tick_colours)]))
        upper = np.maximum(obs, calc)

        def top_of(a: float, b: float) -> float:
            inside = (x >= a) & (x <= b)
            return float(upper[inside].max()) if inside.any() else float(np.interp((a + b) / 2, x, upper))

        texts = fit_labels(fig, ax, labels, top_of) if labels else []
        legend_handles = ax.get_legend_handles_labels()[0] + handles
        legend = arrange_legend(fig, ax, avoid=texts, handles=legend_handles, fontsize=7.5)
        r_text = r_value_text(r_values)
        r_box = None
        if r_text:
            def make_box(loc):
                box = AnchoredText(r_text, loc=loc, prop={"fontsize": 8}, frameon=True, pad=0.3, borderpad=0.5)
                box.patch.set_boxstyle("round,pad=0.3")
                box.patch.set_edgecolor("0.75")
                return ax.add_artist(box)

            r_box = place_box(fig, ax, make_box, [*texts, legend])
            if r_box is None:  # no free corner for both: the R values head the legend
                legend.remove()
                legend = arrange_legend(fig, ax, avoid=texts, handles=legend_handles, fontsize=7.5, title=r_text,
                                        title_fontsize=8, alignment="left")
        if _outside(fig, ax, legend):
            fig.tight_layout()
            for text in texts:
                text.remove()
            if labels:
                fit_labels(fig, ax, labels, top_of, avoid=[r_box] if r_box is not None else [])
        # y ticks only where counts are (not beside the ticks and the offset difference curve)
        ax.set_yticks([t for t in ax.get_yticks() if min(floor, 0.0) - 1e-9 <= t <= ax.get_ylim()[1]])
    return fig
