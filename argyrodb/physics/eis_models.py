"""Which circuit a solid-electrolyte cell's impedance spectrum supports, and what its arcs are (issue 22, items 2, 3, 5, 9).

A pressed pellet between blocking electrodes shows, from high to low frequency, a bulk arc, a grain-boundary arc and
the electrodes' capacitive spike; a room-temperature argyrodite's bulk arc (R_b C_b ~ 100 ohm x 5 pF: ~3e8 Hz) lies
above a 1 MHz analyser, so only the high-frequency intercept is left of it. :func:`fit_cell` fits every candidate
circuit the data call for (:func:`candidate_circuits`), scores each by AIC and BIC, chooses by BIC among those whose
parameters are all determined and whose arcs lie within the measured frequencies, assigns each arc by its capacitance
(Irvine, Sinclair & West 1990) and gives R_bulk, R_gb, R_total and, with the pellet's geometry, sigma = t / (R A).

The fits are :func:`argyrodb.physics.eis.fit`'s: complex non-linear least squares weighted by |Z| on log-parameters
with analytic derivatives, from several starts - a grid over the arcs' time constants whose linear coefficients are
solved by non-negative least squares (:func:`argyrodb.physics.eis_engine.multistart`, one engine for both). The lin-KK
check is ``eis``'s (:func:`argyrodb.physics.eis.kk_check`). impedance.py stays the reference: the tests check this
module's impedances against ``eis.simulate`` and its parameter names against impedance.py's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from ..core.errors import ParameterError
from .calculators import cpe_capacitance_F
from .circuits import _element_of, parameter_names
from .eis import (
    FIT_MAX_RMS_OVER_KK,
    FIT_MAX_RMS_PERCENT,
    FitResult,
    Spectrum,
    kk_check,
    residual_weights,
)
from .eis import _checked as _eis_checked
from .eis_engine import Block, model, multistart, series_blocks, tail_exponent


def _checked(spectrum: Spectrum) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and impedances of ``spectrum``, refused as ``eis.fit`` refuses (:func:`argyrodb.physics.eis._checked`)."""
    checked = _eis_checked(spectrum, spectrum.name)
    return checked.frequency_hz, checked.z


def _blocks(circuit: str) -> list[Block]:
    """The series blocks of ``circuit`` (:func:`argyrodb.physics.eis_engine.series_blocks`), a ParameterError for a
    circuit the engine does not take."""
    blocks = series_blocks(circuit)
    if blocks is None:
        raise ParameterError("circuit", f"{circuit!r}: the candidate fits take L, R, CPE, W and p(R,CPE) in series; "
                                        "fit other circuits with argyrodb.physics.eis.fit")
    return blocks



# --- candidates -------------------------------------------------------------------------------------------------------


@dataclass
class Candidate:
    """One candidate circuit fitted to the spectrum, and its scores.

    ``aic`` = n ln(chi2 / n) + 2k and ``bic`` = n ln(chi2 / n) + k ln n, with n = 2N (real and imaginary part of
    N points), k parameters and chi2 the weighted sum of squares: the maximised Gaussian log-likelihood of
    residuals whose common variance is estimated with the fit (Akaike, IEEE Trans. Autom. Control 19 (1974) 716;
    Schwarz, Ann. Stat. 6 (1978) 461), constants dropped (they cancel between candidates)."""

    circuit: str
    names: list[str]
    units: list[str]
    values: np.ndarray
    stderr: np.ndarray
    covariance: np.ndarray  # of ``values``: s^2 (J^T J)^-1 carried by the chain rule, s^2 = chi2 / (n - k)
    chi_square: float  # sum |Z_fit - Z|^2 / |Z|^2
    n_points: int
    converged: bool
    n_starts: int
    apex_hz: dict[str, float]  # each arc (by its R) -> apex frequency 1 / (2 pi (R Q)^(1/a))
    frequency_range_hz: tuple[float, float]
    residual_rms_ohm: float = math.nan
    kk_rms_percent: float = math.nan
    reasons: list[str] = field(default_factory=list)  # why it may not be chosen
    notes: list[str] = field(default_factory=list)  # what limits it without barring it (said when it is chosen)

    @property
    def n_parameters(self) -> int:
        return len(self.values)

    @property
    def residual_rms_percent(self) -> float:
        return 100 * math.sqrt(self.chi_square / self.n_points)

    @property
    def aic(self) -> float:
        n = 2 * self.n_points
        return n * math.log(self.chi_square / n) + 2 * self.n_parameters

    @property
    def bic(self) -> float:
        n = 2 * self.n_points
        return n * math.log(self.chi_square / n) + self.n_parameters * math.log(n)

    @property
    def undetermined(self) -> list[str]:
        """Parameters whose standard error reaches their value, R0 apart: a lead resistance near 0 ohm is physical
        and sharp in absolute terms, and does not make the circuit over-parametrised."""
        return [n for n, v, e in zip(self.names, self.values, self.stderr)
                if n != "R0" and not (math.isfinite(e) and e < abs(v))]

    @property
    def eligible(self) -> bool:
        return not self.reasons

    @property
    def rms_over_kk(self) -> float:
        """Residual rms over lin-KK's: about 1 for a circuit that describes every feature, more for one that misses one."""
        return self.residual_rms_percent / self.kk_rms_percent if self.kk_rms_percent > 0 else math.nan

    def value(self, name: str) -> float:
        return float(self.values[self.names.index(name)])

    def as_dict(self) -> dict:
        return {"circuit": self.circuit, "n_parameters": self.n_parameters, "chi_square": self.chi_square,
                "residual_rms_percent": self.residual_rms_percent, "rms_over_kk": self.rms_over_kk,
                "aic": self.aic, "bic": self.bic, "converged": self.converged, "undetermined": self.undetermined,
                "notes": list(self.notes),
                "eligible": self.eligible, "reasons": list(self.reasons),
                "parameters": {n: {"value": float(v), "stderr": float(e) if math.isfinite(e) else None}
                               for n, v, e in zip(self.names, self.values, self.stderr)}}


def fit_candidate(spectrum: Spectrum, circuit: str, kk_rms_percent: float = math.nan, keep: int = 3) -> Candidate:
    """Fit ``circuit`` (L, R, CPE, W and p(R,CPE) in series) to the spectrum by ``eis.fit``'s engine
    (:func:`argyrodb.physics.eis_engine.multistart`): complex least squares weighted by |Z| from the ``keep`` best
    grid starts, each refined 60 evaluations at most (a candidate is one of up to ten fitted for one answer, so its
    budget is smaller than ``eis.fit``'s), the best to convergence. ``reasons`` (empty when the candidate may be
    chosen) lists non-convergence, undetermined parameters (standard error >= value, R0 apart) and arcs whose apex
    lies outside the measured frequencies: such an arc is not identifiable (above f_max its resistance merges with
    R0, below f_min it is an extrapolation)."""
    blocks = _blocks(circuit)
    names, units = parameter_names(circuit)
    f, z = _checked(spectrum)
    omega = 2 * np.pi * f
    # modulus weighting: the AIC/BIC below take the weighted residuals as equal-variance Gaussian ones
    found = multistart(blocks, omega, z, residual_weights(z, "modulus"), keep=keep, trial_nfev=60, final_nfev=2000)
    values = found.values
    apex = {}
    for b in blocks:
        if b.kind == "arc":
            r, q, a = (values[i] for i in b.index)
            apex[b.name] = float(1 / (2 * np.pi * (r * q) ** (1 / a)))
    z_fit = model(found.theta, blocks, omega)[0]
    candidate = Candidate(circuit, names, units, values, found.stderr, found.covariance, found.chi_square, f.size,
                          found.converged, found.n_starts, apex, (float(f.min()), float(f.max())),
                          float(np.sqrt(np.mean(np.abs(z_fit - z) ** 2))), kk_rms_percent)
    if not candidate.converged:
        candidate.reasons.append("did not converge")
    # What is reported - the resistances - must be determined; an arc's CPE-T and exponent may not be (an arc at the
    # edge of the range: they trade off while its R, fixed by its low-frequency intercept, stays sharp)
    blocking = [n for n in candidate.undetermined if _element_of(n.split("_")[0]) == "R"]
    if blocking:
        candidate.reasons.append("undetermined (stderr >= value): " + ", ".join(candidate.undetermined))
    elif candidate.undetermined:
        candidate.notes.append("undetermined (stderr >= value), its resistances determined: " + ", ".join(candidate.undetermined))
    for name, f_apex in apex.items():
        if f_apex > APEX_ABOVE_RANGE_FACTOR * f.max():
            candidate.reasons.append(f"the {name} arc relaxes at {f_apex:.3g} Hz, above the measured range "
                                     f"(f_max {f.max():.3g} Hz): not identifiable")
        elif f_apex > f.max():
            candidate.notes.append(f"the {name} arc relaxes at {f_apex:.3g} Hz, just above f_max {f.max():.3g} Hz: "
                                   "only its low-frequency side is measured")
        elif f_apex < f.min():
            candidate.reasons.append(f"the {name} arc relaxes at {f_apex:.3g} Hz, below the measured range "
                                     f"(f_min {f.min():.3g} Hz): extrapolated")
    return candidate


def _inductive(spectrum: Spectrum) -> bool:
    """-Z'' < 0 at some of the highest-frequency half of the points (lead and cell inductance)."""
    f, z = np.asarray(spectrum.frequency_hz, dtype=float), np.asarray(spectrum.z, dtype=complex)
    high = np.argsort(-f)[: max(f.size // 2, 1)]
    return bool(np.any(z.imag[high] > 0))


def candidate_circuits(spectrum: Spectrum) -> list[str]:
    """The circuits worth fitting to ``spectrum``, cut by what it shows:

    * a low-frequency tail (-Z'' rising toward low frequency, exponent a > 0.2 over the four lowest frequencies):
      R0-CPE1 (intercept and spike only: bulk and grain-boundary arcs above the measured range),
      R0-p(R1,CPE1)-CPE2, R0-p(R1,CPE1)-p(R2,CPE2)-CPE3 (blocking electrodes: the spike is a CPE in series); when
      a < 0.75 also R0-p(R1,CPE1)-W1 and R0-p(R1,CPE1)-p(R2,CPE2)-W1 (non-blocking: semi-infinite diffusion,
      45 degrees; impedance.py's W);
    * no tail (the spectrum ends on an arc): R0-p(R1,CPE1) and R0-p(R1,CPE1)-p(R2,CPE2);
    * -Z'' < 0 in the high-frequency half: each of these also with a series inductor L0 in front (the candidates
      without it stay, to show what it changes).
    """
    f, z = np.asarray(spectrum.frequency_hz, dtype=float), np.asarray(spectrum.z, dtype=complex)
    alpha = tail_exponent(2 * np.pi * f, z)
    if alpha is None:
        circuits = ["R0-p(R1,CPE1)", "R0-p(R1,CPE1)-p(R2,CPE2)"]
    else:
        circuits = ["R0-CPE1", "R0-p(R1,CPE1)-CPE2", "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"]
        if alpha < 0.75:
            circuits += ["R0-p(R1,CPE1)-W1", "R0-p(R1,CPE1)-p(R2,CPE2)-W1"]
    if _inductive(spectrum):
        circuits += ["L0-" + c for c in circuits]
    return circuits


# --- capacitances and their assignment (item 3) -----------------------------------------------------------------------

#: Irvine, Sinclair & West, Adv. Mater. 2 (1990) 132, Table 1, capacitances for a cell constant t/A = 1 cm^-1 and the
#: phenomenon: 1e-12 F bulk; 1e-11 minor second phase; 1e-11-1e-8 grain boundary; 1e-10-1e-9 bulk ferroelectric;
#: 1e-9-1e-7 surface layer; 1e-7-1e-5 sample-electrode interface; 1e-4 electrochemical reactions. Bulk and grain
#: boundary are capacitors across the thickness and scale as A/t, so a pellet's comparable number is C t/A (F/cm);
#: a surface layer and the electrode interface lie on a face and scale as A alone, so theirs is C/A (F/cm^2, the
#: table's cell having A = 1 cm^2). Scaling a thin pellet's double layer by t/A would call it a grain boundary.
#: The edges below cut the table's ranges where the next begins: bulk below 1e-11 F/cm, grain boundary to 1e-8 F/cm
#: (C t/A); beyond that a surface layer ("interface") below 1e-7 F/cm^2 and the electrode above (C/A).
VOLUME_EDGES_F_CM = (("bulk", 1e-11), ("grain_boundary", 1e-8))
SURFACE_EDGES_F_CM2 = (("interface", 1e-7), ("electrode", math.inf))
#: A grain-boundary arc whose C/A reaches the surface-layer range (1e-9 F/cm^2 and up) could be either: it is kept as
#: grain boundary and marked ambiguous, naming the other reading.
SURFACE_LAYER_LOW_F_CM2 = 1e-9
#: Two arcs whose apex frequencies are closer than this factor overlap in the spectrum: their sum is well fixed, the
#: split between them rests on the R||CPE shape (a skewed, Havriliak-Negami-like arc is split wrongly with a good
#: residual), so the split is reported with that caution. Two ideal RC arcs a factor 20 apart share ~10 % of their
#: span on the real axis.
OVERLAP_APEX_RATIO = 20.0
#: A chosen circuit whose residual rms exceeds this (per cent of |Z|) is unreliable whatever lin-KK's residual: eis's
#: rule (poor when above both FIT_MAX_RMS_PERCENT and FIT_MAX_RMS_OVER_KK x lin-KK's) passes any fit of a spectrum
#: that lin-KK cannot fit either (too sparse or too scattered); a pellet's circuit misses its data by ~the noise.
FIT_MAX_RMS_ABSOLUTE_PERCENT = 5.0
#: An arc whose apex lies above f_max by at most this factor is partially measured: its low-frequency side, which
#: fixes R, lies in the data (a 190-200 C ceramic's bulk arc at 1.0-1.23 MHz on a 1 MHz analyser: R_bulk equals the
#: published fit's within its standard error); beyond it the arc merges with R0 and is not identifiable.
APEX_ABOVE_RANGE_FACTOR = 2.0
#: The cell constant assumed when the geometry is not known: a typical pressed pellet, 1 mm thick, 1 cm^2.
ASSUMED_THICKNESS_CM, ASSUMED_AREA_CM2 = 0.1, 1.0


def capacitance_label(c_per_cell_constant_F_cm: float, c_per_area_F_cm2: float | None = None) -> str:
    """bulk, grain_boundary, interface or electrode for an arc's capacitance: by C t/A (F/cm) when it is in the bulk
    or grain-boundary range, otherwise by C/A (F/cm^2; equal to C t/A for a 1 cm thick cell when not given)."""
    for label, edge in VOLUME_EDGES_F_CM:
        if c_per_cell_constant_F_cm < edge:
            return label
    per_area = c_per_cell_constant_F_cm if c_per_area_F_cm2 is None else c_per_area_F_cm2
    for label, edge in SURFACE_EDGES_F_CM2:
        if per_area < edge:
            return label
    return "electrode"


def conductivity_mS_cm(resistance_ohm: float, thickness_cm: float, area_cm2: float, resistance_stderr_ohm: float = 0.0,
                       thickness_stderr_cm: float = 0.0, area_stderr_cm2: float = 0.0) -> dict:
    """sigma = t / (R A) in mS/cm (S/cm x 1000) with its standard error to first order,
    sigma_err / sigma = sqrt((R_err / R)^2 + (t_err / t)^2 + (A_err / A)^2) (independent errors)."""
    for name, value in (("resistance_ohm", resistance_ohm), ("thickness_cm", thickness_cm), ("area_cm2", area_cm2)):
        if not (math.isfinite(value) and value > 0):
            raise ParameterError(name, f"must be a positive number, got {value!r}")
    for name, value in (("resistance_stderr_ohm", resistance_stderr_ohm), ("thickness_stderr_cm", thickness_stderr_cm),
                        ("area_stderr_cm2", area_stderr_cm2)):
        if not (math.isnan(value) or value >= 0):
            raise ParameterError(name, f"must be 0 or more, got {value!r}")
    sigma = 1000 * thickness_cm / (resistance_ohm * area_cm2)
    relative = math.sqrt((resistance_stderr_ohm / resistance_ohm) ** 2 + (thickness_stderr_cm / thickness_cm) ** 2
                         + (area_stderr_cm2 / area_cm2) ** 2)
    return {"value": sigma, "stderr": sigma * relative if math.isfinite(relative) else None}


@dataclass
class CellFit:
    """What :func:`fit_cell` found: resistances ({value, stderr}, ohm; grain boundary None when no grain-boundary arc
    is resolved), the assignment of each capacitive element, the chosen circuit and every candidate's scores, the
    method notes and, with the geometry, the conductivities ({value, stderr}, mS/cm)."""

    bulk_resistance_ohm: dict
    grain_boundary_resistance_ohm: dict
    total_resistance_ohm: dict
    bulk_method: str  # "arc" (R_bulk is the bulk arc's R) or "intercept" (the high-frequency intercept R0)
    assignments: dict[str, dict]
    chosen: dict
    candidates: list[dict]
    method: list[str]
    geometry: dict
    kramers_kronig: dict
    sigma_bulk_mS_cm: dict | None = None
    sigma_total_mS_cm: dict | None = None
    fit: FitResult | None = None  # the chosen circuit as eis.FitResult (for eis_plots and eis.fit's JSON)

    def as_dict(self) -> dict:
        return {"bulk_resistance_ohm": self.bulk_resistance_ohm,
                "grain_boundary_resistance_ohm": self.grain_boundary_resistance_ohm,
                "total_resistance_ohm": self.total_resistance_ohm, "bulk_method": self.bulk_method,
                "sigma_bulk_mS_cm": self.sigma_bulk_mS_cm, "sigma_total_mS_cm": self.sigma_total_mS_cm,
                "assignments": self.assignments, "chosen": self.chosen, "candidates": self.candidates,
                "method": list(self.method), "geometry": self.geometry, "kramers_kronig": self.kramers_kronig}


def _geometry(spectrum: Spectrum, thickness_cm, area_cm2, diameter_cm, thickness_stderr_cm, area_stderr_cm2,
              diameter_stderr_cm) -> dict:
    """The pellet's thickness and area (cm, cm^2) with their errors, from the arguments or the spectrum's file."""
    if area_cm2 is not None and diameter_cm is not None:
        raise ParameterError("diameter_cm", "give the area or the diameter, not both")
    for name, value in (("thickness_cm", thickness_cm), ("area_cm2", area_cm2), ("diameter_cm", diameter_cm)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ParameterError(name, f"must be a positive number, got {value!r}")
    for name, value in (("thickness_stderr_cm", thickness_stderr_cm), ("area_stderr_cm2", area_stderr_cm2),
                        ("diameter_stderr_cm", diameter_stderr_cm)):
        if not (math.isfinite(value) and value >= 0):
            raise ParameterError(name, f"must be 0 or more, got {value!r}")
    source = "arguments"
    if diameter_cm is not None:
        area_cm2 = math.pi * diameter_cm ** 2 / 4
        area_stderr_cm2 = 2 * area_cm2 * diameter_stderr_cm / diameter_cm
    if thickness_cm is None and area_cm2 is None:
        thickness_cm, area_cm2 = getattr(spectrum, "thickness_cm", None), getattr(spectrum, "area_cm2", None)
        source = "file"
    known = thickness_cm is not None and area_cm2 is not None
    if (thickness_cm is None) != (area_cm2 is None) and source == "arguments":
        raise ParameterError("thickness_cm" if thickness_cm is None else "area_cm2",
                             "the conductivity needs both the thickness and the area (or diameter)")
    return {"known": known, "source": source if known else "assumed", "thickness_cm": thickness_cm if known else ASSUMED_THICKNESS_CM,
            "area_cm2": area_cm2 if known else ASSUMED_AREA_CM2, "thickness_stderr_cm": thickness_stderr_cm if known else None,
            "area_stderr_cm2": area_stderr_cm2 if known else None}


def _arc_resistor(key: str) -> str:
    """R1 of the assignment key p(R1,CPE1)."""
    return key[2:].split(",")[0]


def _sum(candidate: Candidate, names: list[str]) -> dict:
    """{value, stderr} of the sum of the named parameters, the error from their covariance (correlations included)."""
    index = [candidate.names.index(n) for n in names]
    value = float(sum(candidate.values[i] for i in index))
    variance = float(candidate.covariance[np.ix_(index, index)].sum())
    return {"value": value, "stderr": math.sqrt(variance) if math.isfinite(variance) and variance >= 0 else None}


def _assign(candidate: Candidate, geometry: dict) -> tuple[dict[str, dict], list[str]]:
    """Each arc and the low-frequency element labelled. An arc by its capacitance per cell constant C t / A or per
    area C / A (:func:`capacitance_label`) with
    C = (Q R^(1-a))^(1/a): eis.fit's ``capacitances`` (calculators.cpe_capacitance_F, Hsu & Mansfeld, Corrosion 57
    (2001) 747), the same expression as Brug et al.'s for R || CPE (J. Electroanal. Chem. 176 (1984) 275)."""
    cell_constant = geometry["thickness_cm"] / geometry["area_cm2"]
    blocks = _blocks(candidate.circuit)
    arcs = sorted((b for b in blocks if b.kind == "arc"), key=lambda b: -candidate.apex_hz[b.name])
    assignments: dict[str, dict] = {}
    notes: list[str] = []
    series_r = sum(candidate.values[b.index[0]] for b in blocks if b.kind in ("R", "arc"))
    for b in arcs:
        r, q, a = (float(candidate.values[i]) for i in b.index)
        c = cpe_capacitance_F(r, q, a)
        per_cell, per_area = c * cell_constant, c / geometry["area_cm2"]
        entry = {"label": capacitance_label(per_cell, per_area), "resistance_ohm": r, "capacitance_F": c,
                 "capacitance_per_cell_constant_F_cm": per_cell, "capacitance_per_area_F_cm2": per_area,
                 "apex_frequency_hz": candidate.apex_hz[b.name], "alpha": a, "basis": "capacitance"}
        if entry["label"] == "grain_boundary" and per_area >= SURFACE_LAYER_LOW_F_CM2:
            alternative = "the electrode interface" if per_area >= SURFACE_EDGES_F_CM2[0][1] else "a surface layer"
            entry["ambiguous"] = (f"grain boundary (C t/A {per_cell:.2g} F/cm) or {alternative} (C/A {per_area:.2g} "
                                  "F/cm^2): Irvine et al.'s ranges overlap for this pellet's geometry")
        assignments[f"p({b.name},{b.cpe})"] = entry
    for faster, slower in pairwise(arcs):
        ratio = candidate.apex_hz[faster.name] / candidate.apex_hz[slower.name]
        if ratio < OVERLAP_APEX_RATIO:
            for one, other in ((faster, slower), (slower, faster)):
                assignments[f"p({one.name},{one.cpe})"]["overlaps"] = f"p({other.name},{other.cpe})"
            notes.append(f"caution: the arcs p({faster.name},{faster.cpe}) and p({slower.name},{slower.cpe}) relax "
                         f"only a factor {ratio:.3g} apart in frequency and overlap: their sum is well determined, the "
                         "split between them rests on the R||CPE arc shape and may be off by more than its standard "
                         "errors (a DRT, `eis drt`, shows whether two processes are there)")
    for b in blocks:
        if b.kind == "CPE":
            q, a = (float(candidate.values[i]) for i in b.index)
            # Brug et al., J. Electroanal. Chem. 176 (1984) 275, blocking electrode: C = Q^(1/a) R_s^((1-a)/a)
            c = float(q ** (1 / a) * series_r ** ((1 - a) / a))
            assignments[b.name] = {"label": "electrode", "capacitance_F": c,
                                   "capacitance_per_cell_constant_F_cm": c * cell_constant, "alpha": a,
                                   "basis": "a CPE in series (no parallel resistance): the blocking electrodes' "
                                            "spike; C from Brug's formula with the series resistance"}
        elif b.kind == "W":
            assignments[b.name] = {"label": "electrode", "capacitance_F": None,
                                   "capacitance_per_cell_constant_F_cm": None,
                                   "basis": "a Warburg element: diffusion at non-blocking electrodes"}
    bulk = [k for k, v in assignments.items() if v["label"] == "bulk"]
    for extra in bulk[1:]:
        assignments[extra]["label"] = "grain_boundary"
        notes.append(f"{extra} also has a bulk-like capacitance but relaxes later than {bulk[0]}: taken as grain "
                     "boundary (Irvine et al.: 1e-11 F/cm is also a minor second phase)")
    return assignments, notes


def _bulk(best: Candidate, assignments: dict[str, dict], geometry: dict, method: list[str]) -> tuple[list[str], str]:
    """The parameter(s) that are R_bulk and how they were found ("arc" or "intercept"); the reasoning goes first in
    ``method``. A bulk-labelled arc is the bulk, R0 the leads; without one the intercept R0 is, unless R0 is
    indistinguishable from 0 (then the first arc is, whatever its capacitance says)."""
    f_max = best.frequency_range_hz[1]
    bulk_arcs = [k for k, v in assignments.items() if v["label"] == "bulk"]
    arcs = [k for k in assignments if k.startswith("p(")]
    r0 = best.value("R0")
    i0 = best.names.index("R0")
    r0_zero = not (math.isfinite(best.stderr[i0]) and best.stderr[i0] < r0)
    if bulk_arcs:
        entry = assignments[bulk_arcs[0]]
        method.insert(0, f"R_bulk = {_arc_resistor(bulk_arcs[0])}, the arc at {entry['apex_frequency_hz']:.3g} Hz "
                         f"(C t/A = {entry['capacitance_per_cell_constant_F_cm']:.2g} F/cm: bulk); "
                         f"R0 = {r0:.4g} ohm is the lead and contact resistance, not the bulk")
        return [_arc_resistor(bulk_arcs[0])], "arc"
    if arcs and r0_zero:
        assignments[arcs[0]]["label"] = "bulk"
        assignments[arcs[0]]["basis"] = "the first arc: R0 is indistinguishable from 0, so the bulk is not above f_max"
        method.insert(0, f"R_bulk = {_arc_resistor(arcs[0])}: no arc has a bulk capacitance (C t/A < 1e-11 F/cm), but "
                         f"the high-frequency intercept R0 = {r0:.3g} ohm is indistinguishable from 0, so the bulk arc "
                         "is the first one (check the geometry: the capacitance scale rests on it)")
        return [_arc_resistor(arcs[0])], "arc"
    method.insert(0, f"intercept: no bulk arc within the measured range (f_max = {f_max:.3g} Hz; a bulk arc, "
                     "C t/A ~ 1e-12 F/cm, relaxes above it), so R_bulk is the high-frequency intercept R0, which "
                     "also holds the lead and contact resistance")
    if arcs:
        first = assignments[arcs[0]]
        if first["apex_frequency_hz"] > f_max / 10 and r0 < 0.05 * first["resistance_ohm"]:
            method.append(f"caution: the first arc relaxes within a decade of f_max and R0 = {r0:.3g} ohm is under "
                          f"5 % of its {first['resistance_ohm']:.3g} ohm; if that arc is the bulk (its C t/A "
                          f"{first['capacitance_per_cell_constant_F_cm']:.2g} F/cm rests on the "
                          f"{'given' if geometry['known'] else 'assumed'} geometry), R_bulk is its R")
    return ["R0"], "intercept"


def fit_cell(spectrum: Spectrum, thickness_cm: float | None = None, area_cm2: float | None = None,
             diameter_cm: float | None = None, thickness_stderr_cm: float = 0.0, area_stderr_cm2: float = 0.0,
             diameter_stderr_cm: float = 0.0, circuits: list[str] | None = None) -> CellFit:
    """Choose the circuit for a solid-electrolyte cell's spectrum and read the bulk and grain-boundary resistances
    (and conductivities) off it.

    1. Candidates: :func:`candidate_circuits` (or ``circuits``), each fitted by :func:`fit_candidate`.
    2. Choice by BIC among the eligible candidates (converged, every parameter but R0 determined, every arc's apex
       within the measured frequencies). BIC rather than AIC: its penalty k ln(2N) (about 5 per parameter for 60
       points) against AIC's 2k guards against the error that costs most here, a spurious arc (3 parameters) that
       splits or invents a grain-boundary resistance; BIC is consistent (it finds the true circuit as data grow),
       AIC tends to over-fit. With no eligible candidate the lowest BIC is taken and marked unreliable.
    3. Assignment (Irvine, Sinclair & West 1990): each arc by its capacitance C = (Q R^(1-a))^(1/a), per cell constant
       C t/A for bulk and grain boundary, per area C/A for a surface layer and the electrode (see
       :data:`VOLUME_EDGES_F_CM`), ambiguous overlaps named; arcs closer than :data:`OVERLAP_APEX_RATIO` in frequency
       are marked as overlapping (their split is uncertain); a series CPE is the electrode spike, a Warburg electrode
       diffusion.
    4. R_bulk: the bulk-labelled arc's R (R0 is then the lead and contact resistance, not the bulk). With no bulk arc
       (a room-temperature argyrodite at 1 MHz: the bulk arc relaxes above f_max) R_bulk is the high-frequency
       intercept R0, said in ``method`` and ``bulk_method`` = "intercept" (R0 then also holds the leads and any
       grain-boundary arc above f_max). If R0 is then not distinguishable from 0 the intercept cannot be the bulk:
       the first arc is taken instead, with a note. R_gb is the sum of the grain-boundary arcs (None without one),
       R_total = R_bulk + R_gb; errors from the fit's covariance, correlations included.
    5. sigma = t / (R A) for the bulk and the total when the geometry is given or the file gives it.
    6. Reliability: the chosen fit is unreliable if the spectrum fails lin-KK at :func:`argyrodb.physics.eis.kk_threshold_percent`, if
       no candidate was eligible, or if its residual exceeds both FIT_MAX_RMS_PERCENT and FIT_MAX_RMS_OVER_KK x
       lin-KK's (``eis``'s rule) or FIT_MAX_RMS_ABSOLUTE_PERCENT.
    """
    geometry = _geometry(spectrum, thickness_cm, area_cm2, diameter_cm, thickness_stderr_cm, area_stderr_cm2,
                         diameter_stderr_cm)
    check = kk_check(spectrum)
    kk_rms = check.kramers_kronig.residual_rms_percent
    circuits = list(circuits) if circuits else candidate_circuits(spectrum)
    for circuit in circuits:
        if not any(b.kind == "R" and b.name == "R0" for b in _blocks(circuit)):
            raise ParameterError("circuits", f"{circuit!r} has no series resistor R0 (the high-frequency intercept)")
    fitted = [fit_candidate(spectrum, c, kk_rms) for c in circuits]
    eligible = [c for c in fitted if c.eligible]
    best = min(eligible or fitted, key=lambda c: c.bic)
    reasons = []
    if not check.valid:
        reasons.append(f"the spectrum fails the Kramers-Kronig check: lin-KK residual rms {kk_rms:.2g} % of |Z| "
                       f"above its threshold {check.threshold_percent:.2g} % (noise {check.noise_percent:.2g} %)")
    if not eligible:
        reasons.append("no candidate circuit has every parameter determined and every arc within the measured "
                       f"frequencies; the lowest BIC is shown ({'; '.join(best.reasons)})")
    if best.residual_rms_percent > min(max(FIT_MAX_RMS_PERCENT, FIT_MAX_RMS_OVER_KK * kk_rms), FIT_MAX_RMS_ABSOLUTE_PERCENT):
        reasons.append(f"poor fit: residual rms {best.residual_rms_percent:.2g} % of |Z| (lin-KK {kk_rms:.2g} %)")
    assignments, method = _assign(best, geometry)
    bulk_names, bulk_method = _bulk(best, assignments, geometry, method)
    gb_names = [_arc_resistor(k) for k, v in assignments.items() if v["label"] == "grain_boundary"]
    bulk = _sum(best, bulk_names)
    if gb_names:
        grain_boundary = _sum(best, gb_names)
        total = _sum(best, bulk_names + gb_names)
    else:
        grain_boundary = {"value": None, "stderr": None}
        total = dict(bulk)
        method.append("no grain-boundary arc resolved: R_total = R_bulk" + (" (the intercept may hold a grain-boundary "
                      "arc above f_max too)" if bulk_method == "intercept" else ""))
    if not geometry["known"]:
        method.append(f"capacitances per cell constant assume a pellet {ASSUMED_THICKNESS_CM * 10:g} mm thick of "
                      f"{ASSUMED_AREA_CM2:g} cm^2 (t/A = {ASSUMED_THICKNESS_CM / ASSUMED_AREA_CM2:g} cm): give the "
                      "geometry to scale them, and for the conductivity")
    method.append(f"chosen by BIC among {len(eligible)} eligible of {len(fitted)} candidates")
    method.extend(best.notes)
    method += check.notes
    sigma_bulk = sigma_total = None
    if geometry["known"]:
        t, a = geometry["thickness_cm"], geometry["area_cm2"]
        te, ae = geometry["thickness_stderr_cm"], geometry["area_stderr_cm2"]
        sigma_bulk = conductivity_mS_cm(bulk["value"], t, a, bulk["stderr"] or math.nan, te, ae)
        sigma_total = conductivity_mS_cm(total["value"], t, a, total["stderr"] or math.nan, te, ae)
    capacitances = {f"C_{_arc_resistor(k)}": v["capacitance_F"] for k, v in assignments.items() if k.startswith("p(")}
    result = FitResult(best.circuit, list(best.names), list(best.units), best.values, best.stderr, capacitances,
                       best.residual_rms_ohm, best.chi_square, best.residual_rms_percent, check.kramers_kronig,
                       best.converged, best.n_starts, list(reasons))
    chosen = {"circuit": best.circuit, "criterion": "BIC", "aic": best.aic, "bic": best.bic, "reliable": not reasons,
              "reasons": reasons, "residual_rms_percent": best.residual_rms_percent,
              "parameters": best.as_dict()["parameters"], "undetermined": best.undetermined}
    scores = []
    for c in sorted(fitted, key=lambda c: c.bic):
        entry = c.as_dict()
        entry.update(delta_bic=c.bic - best.bic, delta_aic=c.aic - best.aic, chosen=c is best)
        scores.append(entry)
    return CellFit(bulk, grain_boundary, total, bulk_method, assignments, chosen, scores, method, geometry,
                   check.as_dict(), sigma_bulk, sigma_total, result)
