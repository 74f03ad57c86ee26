"""Activation energy from a temperature series of impedance spectra (issue 22, item 4).

Each spectrum is fitted by :func:`argyrodb.physics.eis_models.fit_cell` (circuit chosen by BIC, arcs assigned by
capacitance, sigma = t / (R A) with its standard error), and the conductivities are fitted by the Arrhenius law in
the form used for ionic conductors, where the prefactor holds 1/T (Nernst-Einstein: sigma = n q^2 D / (k_B T)):

    sigma T = A exp(-Ea / (k_B T)),   i.e.   ln(sigma T) = ln A - (Ea / k_B) (1 / T)

with T in K, sigma in S/cm, A in S K/cm and k_B = 8.617333262e-5 eV/K (CODATA 2018). It is the form of
:func:`argyrodb.physics.calculators.arrhenius_fit` (``calc arrhenius``), which fits it unweighted; here the line is
weighted (:func:`arrhenius_line`): y_i = ln(sigma_i T_i) has the standard error s_i = se(sigma_i) / sigma_i (T exact),
the weights are 1 / s_i^2 and the covariance of (slope, intercept) is (X^T W X)^-1 scaled by the reduced chi-square
when that exceeds 1 (the Birge ratio: scatter beyond what the fits' errors explain widens the errors, never narrows
them). Ea = -k_B slope, its esd k_B sqrt(cov_11); sigma(25 C) = exp(ln A - Ea / (k_B T0)) / T0 with T0 = 298.15 K,
its esd sigma(T0) sqrt(g^T cov g), g = (1 / T0, 1), to first order (the interval exp(y0 +- s) / T0 is also given,
since an extrapolation over 100 K is not symmetric). The unweighted fit (calculators.arrhenius_fit) is reported
beside it, for comparison with papers, which mostly fit unweighted.

A temperature series of one pellet has the same physics at each temperature, but the arcs move through the
frequency window: as T rises the bulk arc leaves it at the top and BIC may merge bulk and grain boundary into one
arc that the capacitance then labels "bulk" (R_bulk would be R_bulk + R_gb there). So by default
(``same_circuit``) a spectrum whose chosen circuit differs from the series' (the one chosen most often among the
reliable fits, then among all) is fitted again with the series' circuit alone, and said so.

Temperatures come from the caller or from a header line of the file that states one with its unit
("Temperature [°C]: 25", "Temp = 298.15 K"); a title or a file name such as "s04147-140deg" is not read as one. A
series whose temperatures are not known is refused, naming the file.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import InputError, ParameterError
from ..core.files import pyplot, save_figure
from .calculators import BOLTZMANN_EV_K, arrhenius_fit
from .eis_models import CellFit, fit_cell
from .eis_readers import Spectrum, text_lines

#: The temperature sigma is extrapolated (or interpolated) to: 25 C.
REFERENCE_K = 298.15
ZERO_CELSIUS_K = 273.15
#: Temperatures a header may state (K): db add takes 0-2000 K.
TEMPERATURE_RANGE_K = (1.0, 2000.0)
FORM = "ln(sigma T) = ln A - Ea / (k_B T); sigma in S/cm, T in K, A in S K/cm"
#: The columns of the CSV that `argyrodb db add` reads (argyrodb.store.user_data's; a test keeps them a subset).
DB_COLUMNS = ("formula", "sigma_mS_cm", "temperature_K", "activation_energy_eV", "sigma_kind", "sigma_method",
              "process", "anode", "doi", "note")
KINDS = ("bulk", "total", "grain_boundary")


# --- the weighted Arrhenius line --------------------------------------------------------------------------------------


@dataclass
class ArrheniusLine:
    """ln(sigma T) = ln_prefactor - Ea / (k_B T) fitted to ``n_points`` points (:func:`arrhenius_line`)."""

    ea_eV: float
    ea_stderr_eV: float
    ln_prefactor: float  # ln(A / (S K cm^-1))
    ln_prefactor_stderr: float
    covariance: np.ndarray  # of (slope in K, intercept), as used for the errors
    temperatures_K: np.ndarray
    sigma_S_cm: np.ndarray
    residuals: np.ndarray  # ln(sigma T) - the line, at each point
    weighted: bool
    chi2_reduced: float  # sum w r^2 / (n - 2); for an unweighted line the residual variance
    error_scale: float  # the factor the covariance (X^T W X)^-1 was multiplied by
    ea_stderr_scatter_eV: float  # the esd from the points' scatter alone: (X^T W X)^-1 scaled by chi2_reduced
    r_squared: float
    unweighted: dict  # calculators.arrhenius_fit of the same points
    notes: list[str] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        return int(self.temperatures_K.size)

    def ln_sigma_t(self, temperature_K) -> np.ndarray:
        """ln(sigma T / (S K cm^-1)) of the line at ``temperature_K``."""
        return self.ln_prefactor - self.ea_eV / (BOLTZMANN_EV_K * np.asarray(temperature_K, dtype=float))

    def sigma_mS_cm(self, temperature_K: float) -> dict:
        """sigma of the line at ``temperature_K`` (mS/cm) with its esd from the covariance (first order), the
        1-sigma interval exp(y +- s) / T, and whether ``temperature_K`` lies outside the fitted temperatures."""
        t = float(temperature_K)
        g = np.array([1 / t, 1.0])
        y = float(self.ln_sigma_t(t))
        s = float(math.sqrt(max(g @ self.covariance @ g, 0.0)))
        value = 1000 * math.exp(y) / t
        low, high = float(self.temperatures_K.min()), float(self.temperatures_K.max())
        outside = t < low - 1e-9 or t > high + 1e-9
        return {"value": value, "stderr": value * s, "interval": [1000 * math.exp(y - s) / t, 1000 * math.exp(y + s) / t],
                "temperature_K": t, "extrapolated": outside,
                "how": (f"extrapolated {low - t:.0f} K below the lowest temperature" if t < low - 1e-9 else
                        f"extrapolated {t - high:.0f} K above the highest temperature" if outside else
                        "interpolated within the fitted temperatures")}

    def as_dict(self) -> dict:
        return {"ea_eV": self.ea_eV, "ea_stderr_eV": self.ea_stderr_eV, "ln_prefactor": self.ln_prefactor,
                "ln_prefactor_stderr": self.ln_prefactor_stderr, "prefactor_S_K_cm": math.exp(self.ln_prefactor),
                "n_points": self.n_points, "temperature_range_K": [float(self.temperatures_K.min()), float(self.temperatures_K.max())],
                "weighted": self.weighted, "chi2_reduced": self.chi2_reduced, "error_scale": self.error_scale,
                "ea_stderr_scatter_eV": self.ea_stderr_scatter_eV,
                "r_squared": self.r_squared, "covariance_slope_intercept": self.covariance.tolist(),
                "residuals": self.residuals.tolist(), "sigma_25C_mS_cm": self.sigma_mS_cm(REFERENCE_K),
                "unweighted": self.unweighted, "notes": list(self.notes)}


def arrhenius_line(temperature_K, sigma_S_cm, sigma_stderr_S_cm=None) -> ArrheniusLine:
    """The Arrhenius line ln(sigma T) = ln A - Ea / (k_B T) through (T, sigma), weighted by 1 / (se(sigma) / sigma)^2
    when every point has a positive finite standard error, else unweighted (then equal to
    :func:`argyrodb.physics.calculators.arrhenius_fit`). See the module docstring for the equations and errors.
    At least 3 points and 2 distinct temperatures (an esd needs a degree of freedom)."""
    t = np.asarray(temperature_K, dtype=float)
    s = np.asarray(sigma_S_cm, dtype=float)
    if t.ndim != 1 or t.shape != s.shape:
        raise ParameterError("sigma_S_cm", f"{s.size} conductivities for {t.size} temperatures")
    if t.size < 3:
        raise ParameterError("temperature_K", f"need at least 3 (T, sigma) points, got {t.size}")
    if not (np.all(np.isfinite(t)) and np.all(t > 0)):
        raise ParameterError("temperature_K", "temperatures must be positive and finite (K)")
    if not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ParameterError("sigma_S_cm", "conductivities must be positive and finite (S/cm)")
    if np.ptp(t) == 0:
        raise ParameterError("temperature_K", "all temperatures are equal: no slope")
    notes = []
    weights = np.ones_like(t)
    weighted = False
    if sigma_stderr_S_cm is not None:
        e = np.asarray([math.nan if v is None else v for v in sigma_stderr_S_cm], dtype=float)
        if e.shape != t.shape:
            raise ParameterError("sigma_stderr_S_cm", f"{e.size} standard errors for {t.size} points")
        if np.all(np.isfinite(e)) and np.all(e > 0):
            weights = (s / e) ** 2
            weighted = True
        else:
            notes.append("unweighted: not every conductivity has a standard error")
    x, y = 1 / t, np.log(s * t)
    design = np.column_stack([x, np.ones_like(x)])
    root_w = np.sqrt(weights)
    beta, *_ = np.linalg.lstsq(design * root_w[:, None], y * root_w, rcond=None)
    residuals = y - design @ beta
    dof = t.size - 2
    chi2_reduced = float(np.sum(weights * residuals ** 2) / dof)
    base = np.linalg.inv((design * weights[:, None]).T @ design)
    scale = max(1.0, chi2_reduced) if weighted else chi2_reduced
    if weighted and chi2_reduced > 1:
        notes.append(f"the points scatter {math.sqrt(chi2_reduced):.2g} times more than their errors say "
                     f"(reduced chi-square {chi2_reduced:.3g}): the errors are widened by that factor")
    covariance = base * scale
    mean = np.sum(weights * y) / np.sum(weights)
    ss_tot = float(np.sum(weights * (y - mean) ** 2))
    r_squared = 1 - float(np.sum(weights * residuals ** 2)) / ss_tot if ss_tot > 0 else 1.0
    plain = arrhenius_fit(t, s)
    return ArrheniusLine(ea_eV=float(-beta[0] * BOLTZMANN_EV_K), ea_stderr_eV=float(math.sqrt(covariance[0, 0]) * BOLTZMANN_EV_K),
                         ln_prefactor=float(beta[1]), ln_prefactor_stderr=float(math.sqrt(covariance[1, 1])),
                         covariance=covariance, temperatures_K=t, sigma_S_cm=s, residuals=residuals, weighted=weighted,
                         chi2_reduced=chi2_reduced, error_scale=float(scale),
                         ea_stderr_scatter_eV=float(math.sqrt(base[0, 0] * chi2_reduced) * BOLTZMANN_EV_K), r_squared=r_squared,
                         unweighted={"ea_eV": plain["ea_eV"], "ea_stderr_eV": plain["ea_stderr_eV"],
                                     "r_squared": plain["r_squared"]},
                         notes=notes)


# --- temperatures stated in a file's header ---------------------------------------------------------------------------

_TEMPERATURE = re.compile(
    r"(?<![A-Za-z])(?P<key>temp(?:erature)?)\.?(?![A-Za-z])"
    r"[ \t]*(?:[\[(](?P<u1>[^\])]*)[\])]|/[ \t]*(?P<u3>°[ \t]?C|℃|deg[ \t]?C|K|C)(?![A-Za-z]))?"
    r"[ \t]*[:=]?[ \t]*"
    r"(?P<value>[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?)"
    r"(?:[ \t]*(?P<u2>°[ \t]?C|℃|deg(?:rees?)?[ \t]?C|Celsius|K|Kelvin|C)(?![A-Za-z]))?", re.I)
_DATA_FIELD = re.compile(r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?")


def _celsius_or_kelvin(unit: str | None) -> str | None:
    """"C" or "K" for a temperature unit as written, None for none or another (deg alone, F)."""
    if unit is None:
        return None
    text = re.sub(r"[ \t°]", "", unit).lower()
    if text in ("c", "℃", "degc", "degreec", "degreesc", "celsius"):
        return "C"
    if text in ("k", "kelvin"):
        return "K"
    return None


def _is_data_row(line: str) -> bool:
    fields = [f for f in re.split(r"[\s;,]+", line.strip()) if f]
    return len(fields) >= 3 and all(_DATA_FIELD.fullmatch(f) for f in fields)


def stated_temperature(spectrum: Spectrum) -> dict | None:
    """The temperature the spectrum's file states in its header (the lines before its first data row), as
    {"temperature_K", "line", "text"}; None when it states none or the spectrum has no readable text file.
    A header line counts when it labels the value "Temp" or "Temperature" and gives its unit (°C, C, degC, K),
    after the label ("Temperature [°C]: 25", "Temp/K 298") or after the value ("Temperature: 25 °C"). A value
    without a unit, two different temperatures, or one outside 1-2000 K is an InputError naming the file and line."""
    source = getattr(spectrum, "source", "") or ""
    path = Path(source)
    if not source or not path.is_file():
        return None
    lines = text_lines(path)  # decoded as the reader decoded it (UTF-16 included)
    if lines is None:
        return None  # a binary file (BioLogic .mpr): no header text
    found: list[tuple[float, int, str]] = []
    for number, line in enumerate(lines, start=1):
        if _is_data_row(line):
            break
        for m in _TEMPERATURE.finditer(line):
            shown = line.strip() if len(line.strip()) <= 80 else line.strip()[:77] + "..."
            unit_text = m["u1"] if m["u1"] is not None else m["u3"] if m["u3"] is not None else m["u2"]
            unit = _celsius_or_kelvin(unit_text)
            if unit is None:
                raise InputError(f"{source}:{number}", f"temperature {m['value']} "
                                 + (f"in {unit_text!r}, not °C or K" if unit_text else "without a unit (°C or K?)")
                                 + f": not used ({shown!r}); give the temperatures explicitly")
            value = float(m["value"].replace(",", "."))
            kelvin = value + ZERO_CELSIUS_K if unit == "C" else value
            if not TEMPERATURE_RANGE_K[0] <= kelvin <= TEMPERATURE_RANGE_K[1]:
                raise InputError(f"{source}:{number}", f"temperature {kelvin:g} K is outside {TEMPERATURE_RANGE_K[0]:g}-"
                                                       f"{TEMPERATURE_RANGE_K[1]:g} K ({shown!r})")
            found.append((kelvin, number, shown))
    if not found:
        return None
    first = found[0]
    for other in found[1:]:
        if not math.isclose(other[0], first[0], rel_tol=0, abs_tol=1e-6):
            raise InputError(source, f"two temperatures in the header, {first[0]:g} K (line {first[1]}: {first[2]!r}) "
                                     f"and {other[0]:g} K (line {other[1]}: {other[2]!r}): give the temperatures explicitly")
    return {"temperature_K": first[0], "line": first[1], "text": first[2]}


# --- the series ------------------------------------------------------------------------------------------------------


@dataclass
class SeriesPoint:
    """One spectrum of the series: its temperature and where it came from, the chosen fit and its conductivities
    ({value, stderr}, mS/cm; the grain boundary's with the pellet's cell constant, an apparent one)."""

    name: str
    source: str
    temperature_K: float
    temperature_source: str
    frequency_range_hz: tuple[float, float]
    circuit: str
    bulk_method: str
    reliable: bool
    reasons: list[str]
    resistances_ohm: dict[str, dict]
    sigma_mS_cm: dict[str, dict | None]
    geometry: dict
    notes: list[str] = field(default_factory=list)
    excluded: bool = False
    cell: CellFit | None = None

    def sigma(self, kind: str) -> dict:
        """{value, stderr} of ``kind`` (mS/cm); {} when the fit gives none (no geometry, no grain-boundary arc)."""
        entry = self.sigma_mS_cm.get(kind)
        return entry if entry and entry.get("value") else {}

    def as_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "temperature_K": self.temperature_K,
                "temperature_C": self.temperature_K - ZERO_CELSIUS_K, "temperature_source": self.temperature_source,
                "frequency_range_hz": list(self.frequency_range_hz), "circuit": self.circuit, "bulk_method": self.bulk_method,
                "reliable": self.reliable, "reasons": list(self.reasons), "excluded": self.excluded,
                "resistances_ohm": self.resistances_ohm, "sigma_mS_cm": self.sigma_mS_cm,
                "geometry": {k: self.geometry.get(k) for k in ("source", "thickness_cm", "area_cm2")}, "notes": list(self.notes)}


@dataclass
class SeriesResult:
    """What :func:`fit_series` found: each spectrum's point and the Arrhenius lines ("bulk", "total" and, when every
    used point resolves a grain-boundary arc, "grain_boundary"; a kind is missing when fewer than 3 points have it)."""

    points: list[SeriesPoint]
    lines: dict[str, ArrheniusLine]
    series_circuit: str
    notes: list[str] = field(default_factory=list)
    form: str = FORM

    @property
    def unreliable(self) -> list[str]:
        return [p.name for p in self.points if not p.reliable]

    @property
    def excluded(self) -> list[str]:
        return [p.name for p in self.points if p.excluded]

    def as_dict(self) -> dict:
        return {"form": self.form, "boltzmann_eV_K": BOLTZMANN_EV_K, "series_circuit": self.series_circuit,
                "n_spectra": len(self.points), "unreliable": self.unreliable, "excluded": self.excluded,
                "arrhenius": {kind: line.as_dict() for kind, line in self.lines.items()},
                "points": [p.as_dict() for p in self.points], "notes": list(self.notes)}

    def rows_for_db(self, formula: str, kinds: Sequence[str] = ("bulk", "total"), process: str = "", anode: str = "",
                    doi: str = "", note: str = "") -> list[dict[str, str]]:
        """The rows of a CSV that ``argyrodb db add`` accepts (columns :data:`DB_COLUMNS`): one per used point
        (excluded points are left out) and kind ("bulk" and/or "total": db add's sigma_kind), with the
        temperature in K, the kind's activation energy on every row (blank when its line could not be fitted or
        Ea is not in db add's 0-5 eV), the method (frequency range, circuit, how R was read) and a note saying
        where the row came from, the line (Ea, points, sigma(25 °C)) and, for an unreliable fit, why."""
        if not str(formula).strip():
            raise ParameterError("formula", "empty: the database needs the material's formula")
        for kind in kinds:
            if kind not in ("bulk", "total"):
                raise ParameterError("kinds", f"{kind!r}: db add's sigma_kind is bulk or total")
        rows = []
        for point in self.points:
            if point.excluded:
                continue
            for kind in kinds:
                sigma = point.sigma(kind)
                if not sigma:
                    continue
                line = self.lines.get(kind)
                ea = "" if line is None or not 0 < line.ea_eV < 5 else f"{line.ea_eV:.4f}"
                read = ("the bulk arc" if point.bulk_method == "arc" else "the high-frequency intercept")
                how = f"R_bulk from {read}" if kind == "bulk" else f"R_bulk ({read}) + R_gb"
                method = (f"EIS {point.frequency_range_hz[1]:.3g}-{point.frequency_range_hz[0]:.3g} Hz, "
                          f"{point.circuit}; {how}; sigma = t/(R A)")
                parts = [f"argyrodb eis arrhenius: {point.name} at {point.temperature_K:.2f} K ({point.temperature_source})"]
                if sigma.get("stderr") is not None:
                    parts.append(f"sigma +- {sigma['stderr']:.2g} mS/cm")
                if line is not None:
                    at25 = line.sigma_mS_cm(REFERENCE_K)
                    parts.append(f"{kind} Ea {plus_minus(line.ea_eV, line.ea_stderr_eV).replace('±', '+-')} eV from {line.n_points} points "
                                 f"{line.temperatures_K.min():.0f}-{line.temperatures_K.max():.0f} K "
                                 f"({'weighted' if line.weighted else 'unweighted'} ln(sigma T) vs 1/T); sigma(25 C) "
                                 f"{at25['value']:.3g} +- {at25['stderr']:.2g} mS/cm ({at25['how']})")
                if not point.reliable:
                    parts.append("UNRELIABLE fit: " + "; ".join(point.reasons))
                if note:
                    parts.append(note)
                rows.append({"formula": str(formula).strip(), "sigma_mS_cm": f"{sigma['value']:.6g}",
                             "temperature_K": f"{point.temperature_K:.6g}", "activation_energy_eV": ea,
                             "sigma_kind": kind, "sigma_method": method, "process": process, "anode": anode, "doi": doi,
                             "note": "; ".join(parts)})
        return rows


def plus_minus(value: float, error: float) -> str:
    """"value ± error" with the error to 2 significant figures and the value to the same decimal place."""
    if not (math.isfinite(error) and error > 0):
        return f"{value:.4g}"
    digits = max(0, 1 - math.floor(math.log10(error)))
    return f"{value:.{digits}f} ± {error:.{digits}f}"


def _circuit_key(circuit: str) -> str:
    """A circuit without its inductor: spectra that differ only by L0 have the same arcs."""
    return circuit.removeprefix("L0-")


def _temperatures(spectra: Sequence[Spectrum], temperatures_K) -> list[tuple[float, str]]:
    if temperatures_K is None:
        temperatures_K = [None] * len(spectra)
    temperatures = list(temperatures_K)
    if len(temperatures) != len(spectra):
        raise ParameterError("temperatures_K", f"{len(temperatures)} temperatures for {len(spectra)} spectra: give one "
                                               "per spectrum, in the same order")
    out = []
    for spectrum, t in zip(spectra, temperatures):
        if t is None:
            stated = stated_temperature(spectrum)
            if stated is None:
                raise InputError(spectrum.source or spectrum.name, "no temperature stated in its header (a line such as "
                                 "'Temperature [°C]: 25'; a title or file name is not read as one): give the temperatures")
            out.append((stated["temperature_K"], f"file line {stated['line']}: {stated['text']!r}"))
            continue
        try:
            value = float(t)
        except (TypeError, ValueError):
            raise ParameterError("temperatures_K", f"{t!r} is not a number") from None
        if not (math.isfinite(value) and TEMPERATURE_RANGE_K[0] <= value <= TEMPERATURE_RANGE_K[1]):
            raise ParameterError("temperatures_K", f"{t!r} K is outside {TEMPERATURE_RANGE_K[0]:g}-{TEMPERATURE_RANGE_K[1]:g} K")
        out.append((value, "given"))
    return out


def _point(spectrum: Spectrum, cell: CellFit, temperature: tuple[float, str]) -> SeriesPoint:
    geometry = cell.geometry
    f = np.asarray(spectrum.frequency_hz, dtype=float)
    resistances = {"bulk": cell.bulk_resistance_ohm, "grain_boundary": cell.grain_boundary_resistance_ohm,
                   "total": cell.total_resistance_ohm}
    sigma_gb = None
    r_gb = cell.grain_boundary_resistance_ohm
    if r_gb and r_gb.get("value") and r_gb["value"] > 0:
        value = 1000 * geometry["thickness_cm"] / (r_gb["value"] * geometry["area_cm2"])
        sigma_gb = {"value": value, "stderr": None if r_gb.get("stderr") is None else value * r_gb["stderr"] / r_gb["value"]}
    return SeriesPoint(name=spectrum.name, source=spectrum.source, temperature_K=temperature[0],
                       temperature_source=temperature[1], frequency_range_hz=(float(f.min()), float(f.max())),
                       circuit=cell.chosen["circuit"], bulk_method=cell.bulk_method, reliable=bool(cell.chosen["reliable"]),
                       reasons=list(cell.chosen["reasons"]), resistances_ohm=resistances,
                       sigma_mS_cm={"bulk": cell.sigma_bulk_mS_cm, "total": cell.sigma_total_mS_cm, "grain_boundary": sigma_gb},
                       geometry=geometry, cell=cell)


def fit_series(spectra: Sequence[Spectrum], temperatures_K: Sequence[float | None] | None = None,
               thickness_cm: float | None = None, area_cm2: float | None = None, diameter_cm: float | None = None,
               exclude_unreliable: bool = False, same_circuit: bool = True) -> SeriesResult:
    """Fit each spectrum of a temperature series (:func:`fit_cell`) and the Arrhenius lines of its bulk, total and
    (apparent) grain-boundary conductivities (:func:`arrhenius_line`, weighted by the conductivities' errors).

    ``temperatures_K``: one per spectrum (None, or a None entry: the temperature its file states,
    :func:`stated_temperature`; none stated is an InputError naming the file). The geometry (thickness and area or
    diameter, cm) applies to every spectrum; without it each file's own is used, and a file that states none is
    refused. ``same_circuit``: spectra whose BIC choice differs from the series' circuit are refitted with it
    (module docstring). Unreliable fits are kept and flagged (``SeriesResult.unreliable``), or with
    ``exclude_unreliable`` left out of the lines. A line needs 3 points; a kind with fewer is left out, with a note."""
    spectra = list(spectra)
    if len(spectra) < 3:
        raise ParameterError("spectra", f"{len(spectra)} spectra: an activation energy with an error needs at least 3 temperatures")
    temperatures = _temperatures(spectra, temperatures_K)
    if len({round(t, 6) for t, _ in temperatures}) < 2:
        raise ParameterError("temperatures_K", "every spectrum has the same temperature: no Arrhenius slope")
    given = (thickness_cm, area_cm2, diameter_cm)
    if all(v is None for v in given):
        for spectrum in spectra:
            if spectrum.thickness_cm is None or spectrum.area_cm2 is None:
                missing = "thickness" if spectrum.thickness_cm is None else "area"
                raise InputError(spectrum.source or spectrum.name, f"the file states no pellet {missing}: give the "
                                 "thickness and the diameter or area for the conductivity")
    cells = [fit_cell(s, thickness_cm=thickness_cm, area_cm2=area_cm2, diameter_cm=diameter_cm) for s in spectra]
    notes: list[str] = []
    reliable_keys = Counter(_circuit_key(c.chosen["circuit"]) for c in cells if c.chosen["reliable"])
    keys = reliable_keys or Counter(_circuit_key(c.chosen["circuit"]) for c in cells)
    series_key = max(keys, key=lambda k: (keys[k], k.count("-") + k.count(",")))
    refitted = {}
    if same_circuit:
        for i, (spectrum, cell) in enumerate(zip(spectra, cells)):
            own = cell.chosen["circuit"]
            if _circuit_key(own) == series_key:
                continue
            circuit = ("L0-" + series_key) if own.startswith("L0-") else series_key
            cells[i] = fit_cell(spectrum, thickness_cm=thickness_cm, area_cm2=area_cm2, diameter_cm=diameter_cm, circuits=[circuit])
            refitted[i] = (f"refitted with the series' circuit {circuit} (chosen at {keys[series_key]} of "
                           f"{sum(keys.values())} {'reliable ' if reliable_keys else ''}fits); BIC alone chose {own}, "
                           f"R_bulk {cell.bulk_resistance_ohm['value']:.4g} ohm")
    points = [_point(s, c, t) for s, c, t in zip(spectra, cells, temperatures)]
    for i, note in refitted.items():
        points[i].notes.append(note)
    if refitted:
        notes.append(f"{len(refitted)} spectra refitted with the series' circuit {series_key}: "
                     + ", ".join(points[i].name for i in refitted))
    elif len(set(_circuit_key(c.chosen["circuit"]) for c in cells)) > 1:
        notes.append("the chosen circuits differ across the series: " + ", ".join(f"{p.name} {p.circuit}" for p in points))
    methods = {p.bulk_method for p in points}
    if len(methods) > 1:
        notes.append("R_bulk is the bulk arc's R at " + ", ".join(p.name for p in points if p.bulk_method == "arc")
                     + " and the high-frequency intercept at " + ", ".join(p.name for p in points if p.bulk_method == "intercept")
                     + ": the bulk line mixes two readings")
    if exclude_unreliable:
        for p in points:
            p.excluded = not p.reliable
    lines: dict[str, ArrheniusLine] = {}
    for kind in KINDS:
        used = [p for p in points if not p.excluded and p.sigma(kind)]
        if kind == "grain_boundary" and len(used) < len([p for p in points if not p.excluded]):
            if used:
                notes.append(f"grain_boundary: a grain-boundary arc at {len(used)} of the {len(points)} temperatures "
                             "only; no grain-boundary line")
            continue
        if len({round(p.temperature_K, 6) for p in used}) < 2 or len(used) < 3:
            notes.append(f"{kind}: {len(used)} usable points, fewer than 3 (or one temperature): no line")
            continue
        sigma = [p.sigma(kind) for p in used]
        errors = [None if e.get("stderr") is None else e["stderr"] / 1000 for e in sigma]
        lines[kind] = arrhenius_line([p.temperature_K for p in used], [e["value"] / 1000 for e in sigma], errors)
    if not lines:
        raise InputError(", ".join(p.name for p in points), "no Arrhenius line: fewer than 3 usable points "
                         + ("after leaving out the unreliable fits" if exclude_unreliable else ""))
    unreliable = [p.name for p in points if not p.reliable]
    if unreliable:
        notes.append(f"unreliable fits ({'left out' if exclude_unreliable else 'kept, weighted by their errors'}): "
                     + ", ".join(unreliable))
    return SeriesResult(points, lines, series_key, notes)


# --- the plot ------------------------------------------------------------------------------------------------------

_STYLE = {"bulk": ("#1f4e79", "o", "bulk"), "total": ("#c0392b", "s", "total (bulk + grain boundary)")}


def plot_arrhenius(result: SeriesResult, out: str | Path, title: str | None = None) -> Path:
    """log10(sigma T / (S K cm^-1)) against 1000 / T of the bulk and total conductivities with their fitted lines,
    each line's Ea +- esd in the legend (below the axes, off the data), the unreliable fits as open markers, left-out
    points crossed, and the line extended (dashed) to 25 °C with sigma(25 °C) marked when that is an extrapolation.
    Written atomically (PNG)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 6.2), layout="constrained")
    x_all = [1000 / REFERENCE_K]
    for kind, (color, marker, label) in _STYLE.items():
        pts = [p for p in result.points if p.sigma(kind)]
        if not pts:
            continue
        t = np.array([p.temperature_K for p in pts])
        s = np.array([p.sigma(kind)["value"] / 1000 for p in pts])
        e = np.array([np.nan if p.sigma(kind).get("stderr") is None else p.sigma(kind)["stderr"] / 1000 for p in pts])
        x, y = 1000 / t, np.log10(s * t)
        dy = e / (s * math.log(10))
        x_all += list(x)
        line = result.lines.get(kind)
        if line is not None:
            at25 = line.sigma_mS_cm(REFERENCE_K)
            text = (f"{label}: Ea = {plus_minus(line.ea_eV, line.ea_stderr_eV)} eV ({line.n_points} points, "
                    f"{'weighted' if line.weighted else 'unweighted'})\n    σ(25 °C) = {at25['value']:.3g} ± {at25['stderr']:.2g} mS/cm"
                    + (" (extrapolated)" if at25["extrapolated"] else ""))
            span = np.linspace(line.temperatures_K.min(), line.temperatures_K.max(), 50)
            ax.plot(1000 / span, line.ln_sigma_t(span) / math.log(10), "-", color=color, lw=1.4, label=text)
            if at25["extrapolated"]:
                ends = np.array([REFERENCE_K, line.temperatures_K.min() if line.temperatures_K.min() > REFERENCE_K
                                 else line.temperatures_K.max()])
                ax.plot(1000 / ends, line.ln_sigma_t(ends) / math.log(10), "--", color=color, lw=1.0)
                y25 = math.log10(at25["value"] / 1000 * REFERENCE_K)
                band = np.log10(np.array(at25["interval"]) / 1000 * REFERENCE_K)
                ax.errorbar([1000 / REFERENCE_K], [y25], yerr=[[y25 - band[0]], [band[1] - y25]], marker="*", ms=11,
                            color=color, ls="none", capsize=3, elinewidth=0.8)
        groups = ((lambda p: p.reliable and not p.excluded, color, f"{kind} points", False),
                  (lambda p: not p.reliable and not p.excluded, "none", f"{kind}: unreliable fit (kept)", False),
                  (lambda p: p.excluded, "none", f"{kind}: unreliable fit (left out: crossed)", True))
        for group, face, lbl, crossed in groups:
            keep = np.array([group(p) for p in pts])
            if keep.any():
                ax.errorbar(x[keep], y[keep], yerr=np.where(np.isfinite(dy[keep]), dy[keep], 0), fmt=marker, ms=6,
                            mfc=face, mec=color, ecolor=color, elinewidth=0.8, capsize=2, label=lbl)
                if crossed:
                    ax.plot(x[keep], y[keep], "x", color="black", ms=7, ls="none")
    if any(line.sigma_mS_cm(REFERENCE_K)["extrapolated"] for kind, line in result.lines.items() if kind in _STYLE):
        ax.plot([], [], marker="*", ms=11, ls="none", color="0.4", label="σ(25 °C) extrapolated along the line (dashed), ± 1 esd")
    ax.set_xlabel("1000 / T (K⁻¹)")
    ax.set_ylabel("log₁₀(σ T / (S K cm⁻¹))")
    top = ax.secondary_xaxis("top", functions=(lambda v: 1000 / np.maximum(v, 1e-9) - ZERO_CELSIUS_K,
                                               lambda c: 1000 / np.maximum(c + ZERO_CELSIUS_K, 1e-9)))
    top.set_xlabel("T (°C)")
    lo, hi = min(x_all), max(x_all)
    pad = 0.04 * (hi - lo if hi > lo else 1)
    ax.set_xlim(lo - pad, hi + pad)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    fig.legend(loc="outside lower center", fontsize=7.5, ncols=1, frameon=False)
    return save_figure(fig, out)
