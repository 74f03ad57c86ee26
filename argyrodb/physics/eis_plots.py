"""Figures of impedance spectra and their fits (issue 22, items 6 and 7): Nyquist with each arc labelled by what it
is, Bode (|Z| and phase), and a summary of the numbers, laid out so that no text lies over the data.

:func:`plot_cell` draws an :func:`argyrodb.physics.eis_models.fit_cell` result: the arcs labelled by their
assignment (bulk, grain boundary, interface, electrode) with R and C, the resistances with their errors, the bulk
method, the chosen circuit, the lin-KK verdict and, when the fit is unreliable, why. :func:`plot_fit` draws a plain
:class:`argyrodb.physics.eis.FitResult` of a given circuit the same way (arcs named by their elements).

Layout: the panels and the summary sit at fixed places in inches; the summary, the title and the legend are outside
every axes. Arc labels go inside the arc (its interior is empty on a Nyquist plot of equal aspect) or around its
apex, at the first place where their box touches neither a data point, the fitted line nor another label; where none
is free the arc gets its number only (the summary lists every arc by number), and where even that does not fit it
gets nothing. When an electrode spike or diffusion tail dwarfs the arcs (|Z| at the lowest frequency over
SPIKE_DOMINANCE times the resistance where the arcs end) a second Nyquist panel shows the arcs alone.

The fitted line is evaluated from the closed forms of impedance.py's elements (R, C, L, CPE, W, Wo, Ws, La, G, K,
Zarc: :func:`circuit_impedance`), so that drawing a figure does not import impedance.py (over 1 s); a circuit with
another element falls back to :func:`argyrodb.physics.eis.simulate`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ParameterError
from ..core.files import pyplot, save_figure
from .circuits import _element_of as _kind
from .eis import KK_MAX_RMS_PERCENT, FitResult, Spectrum, simulate
from .eis_models import CellFit
from .plots import overlaps_data, publication_style

#: A second Nyquist panel limited to the arcs is drawn when |Z| at the lowest measured frequency exceeds this factor
#: times the real part where the arcs end (R0 + the arcs' R): the spike or tail then squeezes the arcs into a corner.
SPIKE_DOMINANCE = 5.0
DPI = 150
DATA_COLOUR, FIT_COLOUR, WARN_COLOUR = "#1f4e79", "#c0392b", "#b03a2e"
LABEL_FONTSIZE, SUMMARY_FONTSIZE = 7.5, 8.0
#: Axes gids, for callers and tests that look for a panel.
NYQUIST, NYQUIST_ARCS, BODE_MODULUS, BODE_PHASE = "nyquist", "nyquist-arcs", "bode-modulus", "bode-phase"
PRETTY_LABELS = {"bulk": "bulk", "grain_boundary": "grain boundary", "interface": "interface", "electrode": "electrode"}

# --- closed-form impedance of a circuit string ------------------------------------------------------------------------


def circuit_impedance(circuit: str, values, frequency_hz) -> np.ndarray:
    """Z(f) of an impedance.py circuit string with ``values`` in impedance.py's parameter order
    (:func:`argyrodb.physics.eis.simulate`: the elements' closed forms, impedance.py only for Gs, T, TLMQ)."""
    return simulate(np.asarray(frequency_hz, dtype=float), [float(v) for v in values], circuit)


# --- numbers as text --------------------------------------------------------------------------------------------------

_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"),
             (1e-15, "f"))
#: impedance.py's units as printed; units with a power are printed in scientific notation instead of with a prefix.
_UNITS = {"Ohm": "Ω", "F": "F", "H": "H", "sec": "s", "Hz": "Hz", "": "", "Ohm^-1 sec^a": "Ω⁻¹ sᵃ",
          "Ohm sec^-1/2": "Ω s⁻¹ᐟ²", "H sec": "H s", "F sec^(gamma - 1)": "F s^(γ-1)", "Ohm-m^2": "Ω m²"}
_PREFIXED = {"Ω", "F", "H", "s", "Hz"}


def _scale(value: float) -> tuple[float, str]:
    magnitude = abs(value)
    for factor, prefix in _PREFIXES:
        if magnitude >= factor * 0.9995:
            return factor, prefix
    return _PREFIXES[-1]


def determined(value: float | None, stderr: float | None) -> bool:
    """A value is determined when its standard error is known and below its magnitude (as ``FitResult.undetermined``
    and the candidates of ``fit_cell`` judge it)."""
    return value is not None and stderr is not None and math.isfinite(stderr) and stderr < abs(value)


def format_value(value: float | None, stderr: float | None = None, unit: str = "", undetermined: bool | None = None,
                 digits: int = 3) -> str:
    """``value ± stderr unit`` with an SI prefix for Ω, F, H, s and Hz ('44.83 ± 0.36 kΩ'), the error to two
    significant figures and the value to the same decimal place (seven significant figures at most); without an
    error, ``digits`` significant figures. ' (undetermined)' is appended when ``undetermined`` is true, or, when it
    is None and an error is given, when that error is not finite or not below the value's magnitude.
    Units are impedance.py's ('Ohm', 'Ohm^-1 sec^a', ...) or already printable ('Ω', 'mS/cm')."""
    if value is None or not math.isfinite(value):
        return "—"
    unit = _UNITS.get(unit, unit)
    if undetermined is None:
        undetermined = stderr is not None and not determined(value, stderr)
    mark = " (undetermined)" if undetermined else ""
    if unit == "mS/cm" and value != 0 and not 0.01 <= abs(value) < 1e4:  # (5.855 ± 0.011)e-04 mS/cm
        exponent = math.floor(math.log10(abs(value)))
        scaled_err = None if stderr is None or not math.isfinite(stderr) else stderr / 10 ** exponent
        inner = format_value(value / 10 ** exponent, scaled_err, "", False, digits)
        return (f"({inner})e{exponent:+03d} mS/cm" if scaled_err else f"{inner}e{exponent:+03d} mS/cm") + mark
    if unit in _PREFIXED or unit == "mS/cm":
        factor, prefix = _scale(value) if unit in _PREFIXED and value != 0 else (1.0, "")
        if stderr is not None and math.isfinite(stderr) and stderr >= abs(value) and unit in _PREFIXED:
            factor, prefix = _scale(stderr)  # an error above the value: both in the error's unit, two figures each
            return f"{_significant(value / factor, 2)} ± {_significant(stderr / factor, 2)} {prefix}{unit}{mark}"
        suffix = f" {prefix}{unit}"
        v = value / factor
        if stderr is None or not math.isfinite(stderr) or stderr <= 0:
            return f"{_significant(v, digits)}{suffix}{mark}"
        e = stderr / factor
        decimals = max(0, 1 - math.floor(math.log10(e)))
        if v != 0:
            decimals = min(decimals, max(0, 6 - math.floor(math.log10(abs(v)))))
        err = f"{e:.{decimals}f}" if round(e, decimals) > 0 else f"{e:.1g}"
        return f"{v:.{decimals}f} ± {err}{suffix}{mark}"
    suffix = f" {unit}" if unit else ""
    if unit == "" and 1e-3 <= abs(value) < 1e4:  # an exponent and the like: plain decimals
        if stderr is None or not math.isfinite(stderr) or stderr <= 0:
            return f"{value:.{digits}g}{mark}"
        decimals = min(max(0, 1 - math.floor(math.log10(stderr))), 6)
        err = f"{stderr:.{decimals}f}" if round(stderr, decimals) > 0 else f"{stderr:.1g}"
        return f"{value:.{decimals}f} ± {err}{mark}"
    if stderr is None or not math.isfinite(stderr) or stderr <= 0:
        return f"{value:.{digits}e}{suffix}{mark}" if digits > 3 else f"{value:.{digits - 1}e}{suffix}{mark}"
    return f"{value:.3e} ± {stderr:.2g}{suffix}{mark}"


def _significant(value: float, figures: int) -> str:
    """``value`` to ``figures`` significant figures without an exponent ('7.00', '180', '1200', '0.47')."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = figures - 1 - math.floor(math.log10(abs(value)))
    if decimals <= 0:
        return f"{round(value, decimals):.0f}"
    return f"{value:.{decimals}f}"


# --- what to label ----------------------------------------------------------------------------------------------------


@dataclass
class _Feature:
    """A labelled part of the spectrum: an arc (anchored at its apex), a tail (spike or Warburg, anchored along its
    low-frequency end) or the high-frequency intercept."""

    kind: str  # "arc", "tail", "intercept"
    number: int | None
    text: str
    apex_hz: float | None = None
    resistance_ohm: float = 0.0
    key: str = ""  # the arc's resistor (plot_fit) or the assignment key (plot_cell)
    placed: str = ""  # "label", "number" or "" after placement
    artists: list = field(default_factory=list)


@dataclass
class _Arc:
    resistor: str
    partner: str  # the CPE or C in parallel
    r: float
    q: float  # CPE-T, or C
    alpha: float


def _top_level(circuit: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in circuit.replace(" ", ""):
        depth += (char == "(") - (char == ")")
        if char == "-" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def _arcs_and_tails(fit: FitResult) -> tuple[list[_Arc], list[str], float]:
    """The top-level p(R,CPE) and p(R,C) blocks of the fitted circuit, its top-level CPE, W, Wo and Ws elements (the
    low-frequency tail) and the sum of its top-level resistors (R0)."""
    lookup = dict(zip(fit.names, (float(v) for v in fit.values)))
    arcs, tails, r_series = [], [], 0.0
    for part in _top_level(fit.circuit):
        match = re.fullmatch(r"p\((\w+),(\w+)\)", part)
        if match:
            a, b = match.groups()
            r_name, other = (a, b) if _kind(a) == "R" else (b, a)
            if _kind(r_name) != "R" or _kind(other) not in ("CPE", "C"):
                continue
            if _kind(other) == "CPE":
                arcs.append(_Arc(r_name, other, lookup[r_name], lookup[f"{other}_0"], lookup[f"{other}_1"]))
            else:
                arcs.append(_Arc(r_name, other, lookup[r_name], lookup[other], 1.0))
        elif _kind(part) == "R":
            r_series += lookup[part]
        elif _kind(part) in ("CPE", "W", "Wo", "Ws"):
            tails.append(part)
    return arcs, tails, r_series


def _apex_hz(arc: _Arc) -> float:
    with np.errstate(all="ignore"):
        return float(1 / (2 * np.pi * (arc.r * arc.q) ** (1 / arc.alpha)))


def _capacitance(arc: _Arc) -> float:
    if arc.alpha == 1.0 and _kind(arc.partner) == "C":
        return arc.q
    return float((arc.q * arc.r ** (1 - arc.alpha)) ** (1 / arc.alpha))


def _marks(fit: FitResult) -> set[str]:
    return set(fit.undetermined)


def _param_undetermined(marks: set[str], *names: str) -> bool:
    return any(n in marks or f"{n}_0" in marks or f"{n}_1" in marks for n in names)


def _arc_label_text(number: int, title: str, r: float, c: float | None, r_undetermined: bool, c_undetermined: bool) -> str:
    lines = [f"{_circled(number)} {title}", "R = " + format_value(r, None, "Ω", r_undetermined)]
    if c is not None and math.isfinite(c):
        lines.append("C = " + format_value(c, None, "F", c_undetermined))
    return "\n".join(lines)


def _circled(number: int) -> str:
    return chr(0x2460 + number - 1) if 1 <= number <= 20 else f"({number})"


# --- the summary ------------------------------------------------------------------------------------------------------


def _kk_line(fit: FitResult) -> str:
    kk = fit.kramers_kronig
    if kk is None:
        return "lin-KK: not run"
    threshold = getattr(kk, "threshold_percent", KK_MAX_RMS_PERCENT)
    verdict = "passes" if kk.valid else "FAILS"
    return (f"lin-KK: residual rms {kk.residual_rms_percent:.2g} % of |Z| {'≤' if kk.valid else '>'} threshold "
            f"{threshold:.2g} %: {verdict} ({kk.n_rc} RC elements)")


def _parameter_line(fit: FitResult) -> str:
    marks = _marks(fit)
    items = [f"{n} = {format_value(float(v), float(e), u, n in marks)}" for n, v, e, u in
             zip(fit.names, fit.values, fit.stderr, fit.units)]
    return "parameters: " + "; ".join(items)


def _resistance(name: str, entry: dict | None, unit: str = "Ω") -> str:
    if not entry or entry.get("value") is None:
        return f"{name}: —"
    return f"{name} = {format_value(entry['value'], entry.get('stderr'), unit, not determined(entry['value'], entry.get('stderr')))}"


def cell_summary(cell: CellFit, features: list[_Feature] | None = None) -> tuple[list[str], list[str]]:
    """The summary lines of a :func:`~argyrodb.physics.eis_models.fit_cell` result and its warning lines (the
    'UNRELIABLE: reasons' line when the chosen fit is unreliable, else none)."""
    fit = cell.fit
    assert fit is not None
    chosen = cell.chosen
    n_eligible = sum(1 for c in cell.candidates if c.get("eligible"))
    lines = [f"circuit: {fit.circuit}, chosen by {chosen.get('criterion', 'BIC')} ({n_eligible} eligible of "
             f"{len(cell.candidates)} candidates); residual rms {fit.residual_rms_percent:.2g} % of |Z|"]
    arcs = [k for k, v in cell.assignments.items() if k.startswith("p(") and v["label"] == "bulk"]
    if cell.bulk_method == "arc":
        how = f"bulk method: arc (the bulk arc's R, {arcs[0]})" if arcs else "bulk method: arc"
    else:
        how = "bulk method: intercept (the high-frequency intercept R0; no bulk arc below f_max)"
    lines.append(f"{_resistance('R_bulk', cell.bulk_resistance_ohm)}   [{how}]")
    if cell.grain_boundary_resistance_ohm.get("value") is None:
        lines.append("R_gb: no grain-boundary arc resolved")
    else:
        lines.append(_resistance("R_gb", cell.grain_boundary_resistance_ohm))
    lines.append(_resistance("R_total", cell.total_resistance_ohm))
    geometry = cell.geometry
    if cell.sigma_bulk_mS_cm or cell.sigma_total_mS_cm:
        lines.append(f"{_resistance('σ_bulk', cell.sigma_bulk_mS_cm, 'mS/cm')};  {_resistance('σ_total', cell.sigma_total_mS_cm, 'mS/cm')}"
                     f"   (t = {10 * geometry['thickness_cm']:.4g} mm, A = {geometry['area_cm2']:.4g} cm², "
                     f"from the {geometry['source']})")
    elif not geometry.get("known"):
        lines.append(f"no geometry: σ not computed; capacitances per cell constant assume t = "
                     f"{10 * geometry['thickness_cm']:g} mm, A = {geometry['area_cm2']:g} cm²")
    marks = _marks(fit)
    for number, (key, entry) in enumerate(_ordered_assignments(cell), start=1):
        label = PRETTY_LABELS.get(entry["label"], entry["label"])
        if key.startswith("p("):
            resistor = key[2:].split(",")[0]
            cpe = key[:-1].split(",")[1]
            text = (f"{_circled(number)} {label}{' *' if entry.get('ambiguous') else ''} {key}: R = "
                    f"{format_value(entry['resistance_ohm'], _stderr_of(fit, resistor), 'Ω', resistor in marks)}, "
                    f"C = {format_value(entry['capacitance_F'], None, 'F', _param_undetermined(marks, resistor, cpe))} "
                    f"(C t/A = {entry['capacitance_per_cell_constant_F_cm']:.2g} F/cm), apex "
                    f"{format_value(entry['apex_frequency_hz'], None, 'Hz')}, α = {entry['alpha']:.3g}")
        else:
            c = entry.get("capacitance_F")
            what = "Warburg (diffusion)" if _kind(key) == "W" else "series CPE (spike)"
            text = f"{_circled(number)} {label} {key}: {what}" + (
                f", C = {format_value(c, None, 'F', _param_undetermined(marks, key))}, α = {entry['alpha']:.3g}"
                if c is not None else "")
        lines.append(text)
    if any(v.get("ambiguous") for v in cell.assignments.values()):
        lines.append("* grain boundary by C t/A, surface layer or electrode by C/A: ambiguous for this geometry "
                     "(Irvine, Sinclair & West 1990)")
    lines += [m for m in cell.method if m.startswith("caution")]
    lines.append(_kk_line(fit))
    lines.append(_parameter_line(fit))
    warnings = [] if chosen.get("reliable", fit.reliable) else ["UNRELIABLE: " + "; ".join(chosen.get("reasons") or fit.reasons)]
    return lines, warnings


def fit_summary(fit: FitResult, features: list[_Feature] | None = None) -> tuple[list[str], list[str]]:
    """The summary lines of a plain :class:`~argyrodb.physics.eis.FitResult` and its warning lines."""
    lines = [f"circuit: {fit.circuit}; residual rms {fit.residual_rms_percent:.2g} % of |Z| ({fit.weighting} weighting, "
             f"{fit.n_starts} start{'s' if fit.n_starts != 1 else ''}{'' if fit.converged else ', NOT converged'})"]
    marks = _marks(fit)
    arcs = {a.resistor: a for a in _arcs_and_tails(fit)[0]}
    for feature in features or []:
        if feature.kind == "arc" and feature.number is not None and feature.key in arcs:
            arc = arcs[feature.key]
            lines.append(f"{_circled(feature.number)} p({arc.resistor},{arc.partner}): R = "
                         f"{format_value(arc.r, _stderr_of(fit, arc.resistor), 'Ω', arc.resistor in marks)}, C = "
                         f"{format_value(_capacitance(arc), None, 'F', _param_undetermined(marks, arc.resistor, arc.partner))}, "
                         f"apex {format_value(_apex_hz(arc), None, 'Hz')}")
    lines.append(_kk_line(fit))
    lines.append(_parameter_line(fit))
    warnings = [] if fit.reliable else ["UNRELIABLE: " + "; ".join(fit.reasons)]
    return lines, warnings


def _stderr_of(fit: FitResult, name: str) -> float | None:
    if name not in fit.names:
        return None
    e = float(fit.stderr[fit.names.index(name)])
    return e if math.isfinite(e) else math.inf


def _ordered_assignments(cell: CellFit) -> list[tuple[str, dict]]:
    """Arcs from high to low apex frequency, then the tail elements."""
    arcs = sorted(((k, v) for k, v in cell.assignments.items() if k.startswith("p(")), key=lambda kv: -kv[1]["apex_frequency_hz"])
    return arcs + [(k, v) for k, v in cell.assignments.items() if not k.startswith("p(")]


def _cell_features(cell: CellFit) -> list[_Feature]:
    fit = cell.fit
    assert fit is not None
    marks = _marks(fit)
    features = []
    for number, (key, entry) in enumerate(_ordered_assignments(cell), start=1):
        label = PRETTY_LABELS.get(entry["label"], entry["label"]) + (" *" if entry.get("ambiguous") else "")
        if key.startswith("p("):
            resistor, cpe = key[2:].split(",")[0], key[:-1].split(",")[1]
            text = _arc_label_text(number, label, entry["resistance_ohm"], entry["capacitance_F"], resistor in marks,
                                   _param_undetermined(marks, resistor, cpe))
            features.append(_Feature("arc", number, text, entry["apex_frequency_hz"], entry["resistance_ohm"], key=key))
        else:
            lines = [f"{_circled(number)} {label} ({key})"]
            if entry.get("capacitance_F") is not None:
                lines.append("C = " + format_value(entry["capacitance_F"], None, "F", _param_undetermined(marks, key)))
            features.append(_Feature("tail", number, "\n".join(lines), key=key))
    if cell.bulk_method == "intercept":
        features.append(_Feature("intercept", None, "R_bulk: intercept R0"))
    return features


def _fit_features(fit: FitResult) -> list[_Feature]:
    marks = _marks(fit)
    arcs, tails, _ = _arcs_and_tails(fit)
    features = []
    for number, arc in enumerate(sorted(arcs, key=lambda a: -_apex_hz(a)), start=1):
        text = _arc_label_text(number, f"p({arc.resistor},{arc.partner})", arc.r, _capacitance(arc), arc.resistor in marks,
                               _param_undetermined(marks, arc.resistor, arc.partner))
        features.append(_Feature("arc", number, text, _apex_hz(arc), arc.r, key=arc.resistor))
    for tail in tails:
        features.append(_Feature("tail", None, tail, key=tail))
    return features


# --- layout -----------------------------------------------------------------------------------------------------------

# inches: margins, panel sizes and gaps
_LEFT, _RIGHT, _GAP, _HEADER, _TITLE, _XLABEL, _BOTTOM = 0.8, 0.3, 0.95, 0.42, 0.3, 0.55, 0.12
_NYQ_W, _NYQ_H, _BODE_W, _BODE_GAP = 3.7, 3.3, 3.4, 0.12


def _ohm_scale(values: np.ndarray) -> tuple[float, str]:
    top = float(np.nanmax(np.abs(values))) if values.size else 1.0
    for factor, prefix in ((1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ")):
        if top >= factor:
            return factor, prefix
    return 1e-6, "µ"


def _wrap(renderer, lines: list[str], width_px: float, fontsize: float, weight: str = "normal") -> list[str]:
    """Greedy word wrap by measured text width (continuation lines indented)."""
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(size=fontsize, weight=weight)

    def width(text: str) -> float:
        return renderer.get_text_width_height_descent(text, prop, ismath=False)[0]

    out = []
    for line in lines:
        words, current = line.split(" "), ""
        for word in words:
            trial = word if not current else f"{current} {word}"
            if current and width(trial) > width_px:
                out.append(current)
                current = "      " + word
            else:
                current = trial
        out.append(current)
    return out


def _zoom_window(spectrum: Spectrum, fit: FitResult) -> tuple[float, float] | None:
    """Z' limits (ohm) of the arcs' panel, or None when the tail does not dwarf the arcs."""
    arcs, tails, r_series = _arcs_and_tails(fit)
    if not arcs and not tails:  # a circuit whose arcs are not R || CPE blocks in series: nothing known to zoom to
        return None
    r_end = r_series + sum(a.r for a in arcs)
    f, z = np.asarray(spectrum.frequency_hz, dtype=float), np.asarray(spectrum.z, dtype=complex)
    if not (r_end > 0 and math.isfinite(r_end)):
        return None
    if abs(z[np.argmin(f)]) <= SPIKE_DOMINANCE * r_end:
        return None
    lo = min(r_series, float(z.real.min()))
    if not arcs:  # intercept and spike only: the high-frequency points, |Z| up to SPIKE_DOMINANCE x R0
        near = np.abs(z) <= SPIKE_DOMINANCE * r_end
        if np.count_nonzero(near) < 2:
            return None
        r_end = float(z.real[near].max())
    span = max(r_end - lo, 0.2 * abs(r_end), 1e-12)
    return lo - 0.08 * span, r_end + 0.12 * span


def _equal_limits(ax, x_lo: float, x_hi: float, y_lo: float, y_hi: float) -> None:
    """Limits that contain the box and give one data unit the same length on both axes: the shorter side widened
    (x about its middle, y upward, so that the headroom above the arcs grows)."""
    box = ax.get_window_extent()
    x_span, y_span = max(x_hi - x_lo, 1e-300), max(y_hi - y_lo, 1e-300)
    per_px = max(x_span / box.width, y_span / box.height)
    x_mid = (x_lo + x_hi) / 2
    ax.set_xlim(x_mid - per_px * box.width / 2, x_mid + per_px * box.width / 2)
    ax.set_ylim(y_lo, y_lo + per_px * box.height)
    ax.set_aspect("equal", adjustable="box")


def _arcs_height(fit: FitResult, frequency_hz: np.ndarray) -> float:
    """The highest -Z'' (ohm) of the fitted arcs alone (R0 and the arcs in series, no tail) over ``frequency_hz``."""
    z = np.zeros(frequency_hz.size, dtype=complex)
    omega = 2 * np.pi * frequency_hz
    for arc in _arcs_and_tails(fit)[0]:
        z += arc.r / (1 + arc.r * arc.q * (1j * omega) ** arc.alpha)
    return float(np.max(-z.imag)) if z.size else 0.0


def _nyquist_limits(ax, z_data: np.ndarray, z_fit: np.ndarray, scale: float, window: tuple[float, float] | None,
                    grow: float = 1.0, arcs_height: float = 0.0) -> None:
    x, y = z_data.real / scale, -z_data.imag / scale
    xf, yf = z_fit.real / scale, -z_fit.imag / scale
    if window is None:
        x_lo, x_hi = min(x.min(), xf.min()), max(x.max(), xf.max())
        y_lo, y_hi = min(0.0, y.min(), yf.min()), max(y.max(), yf.max(), 0.0)
    else:
        x_lo, x_hi = window[0] / scale, window[1] / scale
        inside = (xf >= x_lo) & (xf <= x_hi)
        inside_data = (x >= x_lo) & (x <= x_hi)
        y_lo = min(0.0, yf[inside].min() if inside.any() else 0.0, y[inside_data].min() if inside_data.any() else 0.0)
        y_hi = max(1.1 * arcs_height / scale, 0.1 * (x_hi - x_lo))  # the arcs; the spike's rise is cut
    x_pad = 0.05 * (x_hi - x_lo) * grow + (grow - 1) * (x_hi - x_lo) / 2
    y_pad = 0.06 * (y_hi - y_lo)
    _equal_limits(ax, x_lo - x_pad, x_hi + x_pad, y_lo - y_pad, y_hi + y_pad + (grow - 1) * (y_hi - y_lo))


def _free(fig, ax, text, placed_boxes, pad: float = 4.0) -> bool:
    renderer = fig.canvas.get_renderer()
    box = text.get_window_extent(renderer)
    inside = ax.get_window_extent(renderer).padded(-2.0)
    if not (inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1):
        return False
    if overlaps_data(ax, box, pad=pad):
        return False
    return not any(box.padded(2.0).overlaps(other) for other in placed_boxes)


def _candidates(anchor_px: tuple[float, float], w: float, h: float, inside_arc: tuple[float, float] | None,
                max_radius: float) -> list[tuple[float, float]]:
    """Centres (display px) to try for a label of w x h px: inside the arc (between its chord and apex) first, then
    around the anchor at growing distance, above before the sides before below."""
    ax_, ay = anchor_px
    out = []
    if inside_arc is not None:
        base, apex = inside_arc
        out += [(ax_, base + frac * (apex - base)) for frac in (0.5, 0.42, 0.58, 0.34, 0.66, 0.26)]
    directions = ((0, 1), (-1, 1), (1, 1), (-1, 0), (1, 0), (-1, -1), (1, -1), (0, -1))
    radius = 3.0
    while radius <= max_radius:
        for dx, dy in directions:
            out.append((ax_ + dx * (w / 2 + radius), ay + dy * (h / 2 + radius)))
            if dy == 1 and dx == 0:
                for shift in (-0.35, 0.35):
                    out.append((ax_ + shift * w, ay + h / 2 + radius))
        radius *= 1.6
    return out


def _place(fig, ax, feature: _Feature, anchors_px: list[tuple[float, float]], inside_arc, placed_boxes) -> bool:
    """Put ``feature``'s label (or, failing that, its number) at the first free candidate place; True if placed."""
    renderer = fig.canvas.get_renderer()
    inverse = ax.transData.inverted()
    options = [(feature.text, LABEL_FONTSIZE, "label", 70.0)]
    if feature.number is not None:
        options.append((_circled(feature.number), LABEL_FONTSIZE + 1.5, "number", 45.0))
    for text_value, size, how, max_radius in options:
        text = ax.text(0, 0, text_value, fontsize=size, ha="center", va="center", color="0.1", linespacing=1.15,
                       gid=f"label-{feature.kind}", clip_on=False)
        box = text.get_window_extent(renderer)
        for i, anchor in enumerate(anchors_px):
            for centre in _candidates(anchor, box.width, box.height, inside_arc if i == 0 else None, max_radius):
                text.set_position(inverse.transform(centre))
                if _free(fig, ax, text, placed_boxes):
                    placed_boxes.append(text.get_window_extent(renderer))
                    feature.placed = how
                    feature.artists.append(text)
                    return True
        text.remove()
    return False


def _label_panel(fig, ax, features: list[_Feature], circuit: str, values, f_range: tuple[float, float], scale: float,
                 r0: float) -> None:
    """Place the labels of ``features`` in ``ax`` (a Nyquist panel in units of ``scale`` ohm)."""
    placed_boxes: list = []
    to_px = ax.transData.transform
    f_lo, f_hi = f_range
    for feature in features:
        if feature.kind == "arc" and feature.apex_hz is not None and math.isfinite(feature.apex_hz):
            f_apex = float(np.clip(feature.apex_hz, f_lo, f_hi))
            z = circuit_impedance(circuit, values, [f_apex])[0] / scale
            apex = to_px((z.real, -z.imag))
            base = to_px((z.real, 0.0))[1]
            inside = (base, apex[1]) if apex[1] - base > 20 else None
            _place(fig, ax, feature, [tuple(apex)], inside, placed_boxes)
        elif feature.kind == "tail":
            freqs = np.logspace(math.log10(f_lo), math.log10(f_hi), 40)[:12]
            zs = circuit_impedance(circuit, values, freqs) / scale
            anchors = [tuple(to_px((z.real, -z.imag))) for z in zs]
            view = ax.get_window_extent()
            anchors = [a for a in anchors if view.x0 <= a[0] <= view.x1 and view.y0 <= a[1] <= view.y1]
            anchors.sort(key=lambda a: -a[1])
            if anchors:
                _place(fig, ax, feature, anchors[::3][:4], None, placed_boxes)
        elif feature.kind == "intercept":
            _place(fig, ax, feature, [tuple(to_px((r0 / scale, 0.0)))], None, placed_boxes)


def _figure(spectrum: Spectrum, fit: FitResult, features: list[_Feature], summarise, bode: bool, title: str):
    """The figure (not saved): Nyquist panel(s), Bode panels, header and summary."""
    from matplotlib.lines import Line2D

    plt = pyplot()
    f = np.asarray(spectrum.frequency_hz, dtype=float)
    z = np.asarray(spectrum.z, dtype=complex)
    f_fine = np.logspace(math.log10(f.max()), math.log10(f.min()), 600)
    z_fine = circuit_impedance(fit.circuit, fit.values, f_fine)
    window = _zoom_window(spectrum, fit)
    widths = [_NYQ_W] + ([_NYQ_W] if window else []) + ([_BODE_W] if bode else [])
    fig_w = _LEFT + sum(widths) + _GAP * (len(widths) - 1) + _RIGHT
    with publication_style():
        fig = plt.figure(figsize=(fig_w, 6.0), dpi=DPI)
        renderer = fig.canvas.get_renderer()
        axes: dict[str, Any] = {}
        axes[NYQUIST] = fig.add_axes((0, 0, 0.1, 0.1), gid=NYQUIST)
        if window:
            axes[NYQUIST_ARCS] = fig.add_axes((0, 0, 0.1, 0.1), gid=NYQUIST_ARCS)
        if bode:
            axes[BODE_MODULUS] = fig.add_axes((0, 0, 0.1, 0.1), gid=BODE_MODULUS)
            axes[BODE_PHASE] = fig.add_axes((0, 0, 0.1, 0.1), gid=BODE_PHASE, sharex=axes[BODE_MODULUS])
        # the summary first: its height sets the figure's
        text_width_px = (fig_w - 2 * _RIGHT) * DPI
        summary_lines, warning_lines = summarise()
        summary = fig.text(0, 0, "\n".join(_wrap(renderer, summary_lines, text_width_px, SUMMARY_FONTSIZE)),
                           fontsize=SUMMARY_FONTSIZE, va="top", ha="left", linespacing=1.3, gid="summary", parse_math=False)
        warning = None
        if warning_lines:
            warning = fig.text(0, 0, "\n".join(_wrap(renderer, warning_lines, text_width_px, SUMMARY_FONTSIZE, "bold")),
                               fontsize=SUMMARY_FONTSIZE, va="top", ha="left", linespacing=1.3, color=WARN_COLOUR,
                               fontweight="bold", gid="unreliable", parse_math=False)
        summary_h = summary.get_window_extent(renderer).height / DPI
        warning_h = warning.get_window_extent(renderer).height / DPI + 0.08 if warning is not None else 0.0
        fig_h = _HEADER + _TITLE + _NYQ_H + _XLABEL + warning_h + summary_h + _BOTTOM
        fig.set_size_inches(fig_w, fig_h)

        def rect(x_in: float, y_top_in: float, w_in: float, h_in: float) -> tuple[float, float, float, float]:
            return x_in / fig_w, 1 - (y_top_in + h_in) / fig_h, w_in / fig_w, h_in / fig_h

        top = _HEADER + _TITLE
        x = _LEFT
        axes[NYQUIST].set_position(rect(x, top, _NYQ_W, _NYQ_H))
        x += _NYQ_W + _GAP
        if window:
            axes[NYQUIST_ARCS].set_position(rect(x, top, _NYQ_W, _NYQ_H))
            x += _NYQ_W + _GAP
        if bode:
            half = (_NYQ_H - _BODE_GAP) / 2
            axes[BODE_MODULUS].set_position(rect(x, top, _BODE_W, half))
            axes[BODE_PHASE].set_position(rect(x, top + half + _BODE_GAP, _BODE_W, half))
        y_text = _HEADER + _TITLE + _NYQ_H + _XLABEL
        if warning is not None:
            warning.set_position((_RIGHT / fig_w, 1 - y_text / fig_h))
            y_text += warning_h
        summary.set_position((_RIGHT / fig_w, 1 - y_text / fig_h))

        # Nyquist panels
        r_series = _arcs_and_tails(fit)[2]
        arcs_height = _arcs_height(fit, f_fine)
        panels = [(NYQUIST, None)] + ([(NYQUIST_ARCS, window)] if window else [])
        for gid, limits in panels:
            ax = axes[gid]
            shown = z if limits is None else z[(z.real >= limits[0]) & (z.real <= limits[1])]
            scale, prefix = _ohm_scale(np.concatenate([shown.real, shown.imag]) if shown.size else z.real)
            ax.plot(z.real / scale, -z.imag / scale, "o", ms=3.2, color=DATA_COLOUR, mfc="none", mew=0.9, gid="data",
                    label="measured")
            ax.plot(z_fine.real / scale, -z_fine.imag / scale, "-", lw=1.2, color=FIT_COLOUR, gid="fit", label="fit")
            ax.axhline(0.0, color="0.6", lw=0.5, zorder=0, gid="zero")
            ax.set_xlabel(f"Z' ({prefix}Ω)")
            ax.set_ylabel(f"−Z'' ({prefix}Ω)")
            zoom_title = "Nyquist: the arcs (zoom)" if _arcs_and_tails(fit)[0] else "Nyquist: the intercept (zoom)"
            ax.set_title("Nyquist" if limits is None else zoom_title, fontsize=9, loc="left")
            if window:
                mine = [ft for ft in features if (ft.kind == "tail") == (gid == NYQUIST)]
            else:
                mine = list(features)
            if any(ft.kind == "intercept" for ft in mine):
                ax.plot([r_series / scale], [0.0], ls="none", marker="|", ms=9, mew=1.4, color=FIT_COLOUR, gid="intercept")
            if gid == NYQUIST and window:
                x0, x1 = (v / scale for v in window)
                y0 = min(0.0, float(np.min(-z.imag)) / scale)
                ax.plot([x0, x1, x1, x0, x0], [y0, y0, 0.5 * (x1 - x0), 0.5 * (x1 - x0), y0], "--", lw=0.6, color="0.45",
                        gid="zoom-region")
            # zooming out frees room only at the edges and shrinks the arcs: taken only when it places more labels
            scores: list[tuple[int, float]] = []
            for attempt in (1.0, 1.3, 1.7, None):
                grow = attempt if attempt is not None else max(scores, key=lambda item: (item[0], -item[1]))[1]
                for ft in mine:
                    for artist in ft.artists:
                        artist.remove()
                    ft.artists, ft.placed = [], ""
                _nyquist_limits(ax, z, z_fine, scale, limits, grow, arcs_height)
                _label_panel(fig, ax, mine, fit.circuit, fit.values, (float(f.min()), float(f.max())), scale, r_series)
                score = sum(2 if ft.placed == "label" else 1 if ft.placed else 0 for ft in mine)
                if score == 2 * len(mine) or len(scores) == 3:
                    break
                scores.append((score, grow))
        # Bode panels
        if bode:
            mod, pha = axes[BODE_MODULUS], axes[BODE_PHASE]
            mod.loglog(f, np.abs(z), "o", ms=3.0, color=DATA_COLOUR, mfc="none", mew=0.9, gid="data")
            mod.loglog(f_fine, np.abs(z_fine), "-", lw=1.2, color=FIT_COLOUR, gid="fit")
            pha.semilogx(f, -np.degrees(np.angle(z)), "o", ms=3.0, color=DATA_COLOUR, mfc="none", mew=0.9, gid="data")
            pha.semilogx(f_fine, -np.degrees(np.angle(z_fine)), "-", lw=1.2, color=FIT_COLOUR, gid="fit")
            mod.set_ylabel("|Z| (Ω)")
            pha.set_ylabel("−phase (°)")
            pha.set_xlabel("frequency (Hz)")
            mod.tick_params(labelbottom=False)
            mod.set_title("Bode", fontsize=9, loc="left")
            for ax in (mod, pha):
                ax.margins(x=0.03, y=0.08)
            modulus = np.abs(np.concatenate([z, z_fine]))
            ratio = modulus.max() / modulus.min()
            if ratio < 30:  # a decade or so: plain numbers (not 2 x 10^-1), the minor ticks labelled at 2 and 5 only
                from matplotlib.ticker import FuncFormatter

                def plain(value: float, _pos) -> str:
                    lead = round(value / 10 ** math.floor(math.log10(value) + 1e-9))
                    return f"{value:g}" if ratio < 4 or lead in (1, 2, 5) else ""

                # under a decade matplotlib makes every 1..9 multiple a major tick: both get the filter
                mod.yaxis.set_major_formatter(FuncFormatter(plain))
                mod.yaxis.set_minor_formatter(FuncFormatter(plain))
        # header: title left, legend right (outside the axes)
        handles = [Line2D([], [], ls="none", marker="o", ms=3.2, color=DATA_COLOUR, mfc="none", mew=0.9),
                   Line2D([], [], color=FIT_COLOUR, lw=1.2)]
        legend = fig.legend(handles, ["measured", f"fit: {fit.circuit}"], loc="upper right", ncol=2, frameon=False,
                            bbox_to_anchor=(1 - _RIGHT / fig_w, 1 - 0.04 / fig_h), fontsize=8, handlelength=1.6)
        legend_w = legend.get_window_extent(renderer).width / DPI
        room_px = (fig_w - _RIGHT - legend_w - 0.3 - _RIGHT) * DPI
        title_text = title
        probe = fig.text(_RIGHT / fig_w, 1 - 0.06 / fig_h, title_text, fontsize=10, fontweight="bold", va="top",
                         ha="left", gid="title", parse_math=False)
        while probe.get_window_extent(renderer).width > room_px and len(title_text) > 8:
            title_text = title_text[: int(len(title_text) * 0.9) - 1] + "…"
            probe.set_text(title_text)
    return fig


# --- public functions -------------------------------------------------------------------------------------------------


def cell_figure(spectrum: Spectrum, cell: CellFit, bode: bool = True):
    """The figure of :func:`plot_cell`, not saved (for callers that add to it, and for tests)."""
    if cell.fit is None:
        raise ParameterError("cell", "the CellFit has no fit (fit_cell sets it)")
    features = _cell_features(cell)
    return _figure(spectrum, cell.fit, features, lambda: cell_summary(cell, features), bode, _title(spectrum))


def fit_figure(spectrum: Spectrum, fit_result: FitResult, bode: bool = True):
    """The figure of :func:`plot_fit`, not saved."""
    features = _fit_features(fit_result)
    return _figure(spectrum, fit_result, features, lambda: fit_summary(fit_result, features), bode, _title(spectrum))


def _title(spectrum: Spectrum) -> str:
    name = Path(str(spectrum.name)).name if spectrum.name else "spectrum"
    return f"{name}: {spectrum.frequency_hz.size} points, {format_value(float(np.max(spectrum.frequency_hz)), None, 'Hz')}" \
           f" – {format_value(float(np.min(spectrum.frequency_hz)), None, 'Hz')}"


def plot_cell(spectrum: Spectrum, cell: CellFit, out_path: str | Path, bode: bool = True) -> Path:
    """One PNG of a cell's spectrum and its :func:`~argyrodb.physics.eis_models.fit_cell` result: Nyquist (equal
    aspect, -Z'' up) of the data and the chosen circuit with each arc labelled by its assignment and its R and C
    (a second Nyquist panel limited to the arcs when the spike or tail dwarfs them), Bode panels (|Z| and phase
    against frequency; ``bode=False`` leaves them out) and, outside the axes, the resistances with their errors, the
    conductivities when the geometry is known, the bulk method, the chosen circuit, the lin-KK verdict, every
    parameter (those whose error reaches their value marked '(undetermined)') and, for an unreliable fit, a red
    'UNRELIABLE: reasons' line. Written atomically; returns the path."""
    return save_figure(cell_figure(spectrum, cell, bode), out_path, dpi=DPI)


def plot_fit(spectrum: Spectrum, fit_result: FitResult, out_path: str | Path, bode: bool = True) -> Path:
    """One PNG of a spectrum and an :func:`argyrodb.physics.eis.fit` result of a given circuit, laid out as
    :func:`plot_cell` (arcs named by their elements, no assignment). Written atomically; returns the path."""
    return save_figure(fit_figure(spectrum, fit_result, bode), out_path, dpi=DPI)
