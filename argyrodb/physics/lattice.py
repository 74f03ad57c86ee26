"""The lattice-parameter model: one answer to "what is a for this composition?", used by every command.

    a = sum_X f_X a_X  +  sum_k c_k n_k  (+ halide excess, uncalibrated)

* f_X = n_X / (n_Cl + n_Br + n_I), X in (Cl, Br, I): Vegard's law over the halide fractions (solid
  solutions Li6PS5(Cl,Br,I) follow it closely: Kraft et al., J. Am. Chem. Soc. 139 (2017) 10909,
  doi:10.1021/jacs.7b06327);
* n_k per formula unit for the substituents with published series: Se on the PS4 corners
  (Li6PS5-xSexBr, doi:10.1021/acs.inorgchem.8b02443), Si and Ge on 4b with the Li excess that balances them
  (Li6+xP1-xSixS5Br, doi:10.1039/c7ta08581h; Li6+xP1-xGexS5I, doi:10.1021/jacs.8b10282).

a_X and c_k are fitted by least squares to the cited lattice parameters in ``structures/lattice_parameters.csv``
(this project's table and OBELiX's a column, each with its DOI; rows marked ``excluded`` say why).
:func:`predict` returns a with its 1-sigma uncertainty - the fit's parameter covariance (x^T C x) combined
with the scatter of the data about the fit - and the leave-one-out error per family is in :meth:`describe`.

A composition outside the calibrated range is *extrapolated*: a feature beyond the largest (or below the
smallest) calibrated value widens sigma by half the model's own shift beyond that range plus 0.01 A; the
halide excess y - 1 of halogen-rich Li(7-y)PS(6-y)X(y) has no calibration data (no cited lattice parameter
of such a phase is in the table), so it is not a model term: sigma grows by 0.05 A per unit of |y - 1|.
Elements without calibration data (F, O, Sn, Sb, ...) cannot be predicted: give the lattice parameter.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..core.analysis import nominal_composition, reported_lattice
from ..core.chemistry import HEAVY_HALIDES, parse_formula
from ..core.errors import InputError, ParameterError
from ..core.files import read_text_file
from ..core.refinement import LatticeParameter, Refinement, check_lattice_parameter
from ..core.resources import structures_folder
from ..core.sites import cell_composition, positions

#: Substituents that can become linear terms of the model (used only when the table has data for them).
SUBSTITUENTS = ("Se", "O", "Si", "Ge", "Sn", "Sb")
#: Elements every argyrodite composition may hold without a term of its own.
BASE_ELEMENTS = ("Li", "P", "S", *HEAVY_HALIDES)
#: sigma added per unit of halide excess |y - 1| (no calibration data; a Cl-rich phase is expected to shrink
#: by a few hundredths of an angstrom per 0.5 extra halide).
HALIDE_EXCESS_SIGMA_ANGSTROM = 0.05
#: Extrapolation beyond a calibrated range: sigma += EXTRAPOLATION_FRACTION x |model shift beyond it| + 0.01 A.
EXTRAPOLATION_FRACTION = 0.5


@dataclass(frozen=True)
class LatticeModel:
    """The fitted model (module docstring)."""

    features: tuple[str, ...]  # "f_Cl", "f_Br", "f_I", then substituent amounts
    coefficients: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    residual_std: float
    n_points: int
    ranges: dict[str, tuple[float, float]]
    loo_rms: dict[str, float]  # family -> leave-one-out RMS error (A)
    sources: tuple[str, ...]

    @property
    def halide_coefficients(self) -> tuple[float, float, float]:
        """a_Cl, a_Br, a_I (A): the model's Li6PS5X."""
        a_cl, a_br, a_i = (self.coefficients[self.features.index(f"f_{x}")] for x in HEAVY_HALIDES)
        return a_cl, a_br, a_i

    def predict(self, amounts: dict[str, float], source: str = "composition") -> tuple[float, float, list[str]]:
        """(a, sigma_a, extrapolation notes) in angstrom for ``amounts`` (element -> amount per formula unit)."""
        elements = list(amounts)
        a, sigma, notes, problems = self.predict_arrays(np.array([[amounts[el] for el in elements]], dtype=float), elements)
        if problems[0]:
            raise ParameterError("a_angstrom", f"{source}: {problems[0]}")
        return float(a[0]), float(sigma[0]), notes[0]

    def predict_arrays(self, matrix: np.ndarray, elements: list[str]):
        """:meth:`predict` of every row of ``matrix`` (compositions x ``elements``, amounts per formula unit) at once:
        (a (n,), sigma (n,), notes (list per row), problems (text or None per row; a and sigma are NaN there)).

        a = x . c and sigma^2 = x C x^T + s_res^2 (+ extrapolation terms), with x the features of a row."""
        matrix = np.asarray(matrix, dtype=float).reshape(-1, len(elements))
        n = len(matrix)
        column = {el: j for j, el in enumerate(elements)}

        def amount(el: str) -> np.ndarray:
            return matrix[:, column[el]] if el in column else np.zeros(n)

        problems: list[str | None] = [None] * n
        uncalibrated = [el for el in elements if el not in BASE_ELEMENTS and f"n_{el}" not in self.features]
        for row in np.flatnonzero((matrix[:, [column[el] for el in uncalibrated]] > 1e-9).any(axis=1)) if uncalibrated else ():
            unknown = sorted(el for el in uncalibrated if matrix[row, column[el]] > 1e-9)
            problems[row] = (f"the lattice model has no calibration data for {', '.join(unknown)}: give the lattice "
                             "parameter")
        total = sum((amount(x) for x in HEAVY_HALIDES), np.zeros(n))
        for row in np.flatnonzero(total <= 0):
            problems[row] = problems[row] or "no Cl, Br or I, so the lattice model cannot predict a: give the lattice parameter"
        safe_total = np.where(total > 0, total, 1.0)
        x = np.column_stack([amount(element) / safe_total if kind == "f" else amount(element)
                             for kind, element in (f.split("_", 1) for f in self.features)])
        coefficients = np.array(self.coefficients)
        a = x @ coefficients
        var = np.einsum("ni,ij,nj->n", x, np.array(self.covariance), x) + self.residual_std**2
        notes: list[list[str]] = [[] for _ in range(n)]
        for j, (feature, coefficient) in enumerate(zip(self.features, coefficients)):
            if not feature.startswith("n_"):
                continue
            low, high = self.ranges[feature]
            outside = np.maximum(np.maximum(x[:, j] - high, low - x[:, j]), 0.0)
            flagged = outside > 1e-6
            var = var + np.where(flagged, (EXTRAPOLATION_FRACTION * abs(coefficient) * outside + 0.01) ** 2, 0.0)
            for row in np.flatnonzero(flagged):
                notes[row].append(f"{feature[2:]} = {x[row, j]:g} outside the calibrated {low:g}-{high:g}")
        excess = total - 1.0
        flagged = np.abs(excess) > 1e-6
        var = var + np.where(flagged, (HALIDE_EXCESS_SIGMA_ANGSTROM * np.abs(excess)) ** 2, 0.0)
        for row in np.flatnonzero(flagged):
            notes[row].append(f"halide excess y - 1 = {excess[row]:+g} has no calibration data")
        bad = np.array([p is not None for p in problems])
        return np.where(bad, np.nan, a), np.where(bad, np.nan, np.sqrt(var)), notes, problems

    def describe(self) -> str:
        parts = ", ".join(f"a_{x} = {c:.4f}" for x, c in zip(HEAVY_HALIDES, self.halide_coefficients))
        terms = ", ".join(f"{f[2:]} {c:+.4f}" for f, c in zip(self.features, self.coefficients) if f.startswith("n_"))
        return (f"Vegard fit ({parts} A; per substituent atom {terms} A; {self.n_points} published values, "
                f"residual s.d. {self.residual_std:.3f} A)")

    def as_dict(self) -> dict:
        return {"model": "a = sum_X f_X a_X + sum_k c_k n_k (Vegard over halide fractions and substituents)",
                "features": list(self.features), "coefficients_angstrom": list(self.coefficients),
                "residual_std_angstrom": self.residual_std, "n_points": self.n_points,
                "calibrated_ranges": {k: list(v) for k, v in self.ranges.items()},
                "leave_one_out_rms_angstrom": self.loo_rms, "sources": list(self.sources)}


def _family(amounts: dict[str, float]) -> str:
    subs = [el for el in SUBSTITUENTS if amounts.get(el, 0.0) > 0]
    if subs:
        return subs[0]
    return "halides"


def fit_table(path: Path) -> LatticeModel:
    """Fit :class:`LatticeModel` to a lattice-parameter table (columns composition, a_angstrom, doi and
    optionally use: rows whose use is not 'fit' are left out)."""
    rows = [r for r in csv.DictReader(io.StringIO(read_text_file(path), newline="")) if (r.get("use") or "fit") == "fit"]
    compositions, target, sources = [], [], []
    for number, row in enumerate(rows, start=2):
        amounts = parse_formula(row["composition"], source=f"{path.name} line {number}")
        if sum(amounts.get(x, 0.0) for x in HEAVY_HALIDES) <= 0:
            raise InputError(path, f"line {number}: {row['composition']} has no Cl, Br or I")
        compositions.append(amounts)
        target.append(float(row["a_angstrom"]))
        sources.append(row["doi"])
    substituents = [el for el in SUBSTITUENTS if any(c.get(el, 0.0) > 0 for c in compositions)]
    features = tuple([f"f_{x}" for x in HEAVY_HALIDES] + [f"n_{el}" for el in substituents])
    design = []
    for amounts in compositions:
        total = sum(amounts.get(x, 0.0) for x in HEAVY_HALIDES)
        design.append([amounts.get(x, 0.0) / total for x in HEAVY_HALIDES] + [amounts.get(el, 0.0) for el in substituents])
    x, y = np.array(design), np.array(target)
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coefficients
    dof = max(len(y) - len(features), 1)
    s2 = float(residuals @ residuals) / dof
    inverse = np.linalg.inv(x.T @ x)
    leverage = np.einsum("ij,jk,ik->i", x, inverse, x)
    loo = residuals / np.clip(1.0 - leverage, 1e-9, None)  # leave-one-out residuals from the hat matrix
    families: dict[str, list[float]] = {}
    for amounts, error in zip(compositions, loo):
        families.setdefault(_family(amounts), []).append(float(error))
    ranges = {f"n_{el}": (float(min(c.get(el, 0.0) for c in compositions)), float(max(c.get(el, 0.0) for c in compositions)))
              for el in substituents}
    return LatticeModel(features, tuple(float(c) for c in coefficients), tuple(tuple(float(v) for v in r) for r in s2 * inverse),
                        math.sqrt(s2), len(y), ranges, {k: math.sqrt(float(np.mean(np.square(v)))) for k, v in families.items()},
                        tuple(sorted(set(sources))))


@lru_cache(maxsize=1)
def model() -> LatticeModel:
    """The lattice model calibrated on the packaged ``lattice_parameters.csv``."""
    return fit_table(structures_folder() / "lattice_parameters.csv")


def predict_values(composition: dict[str, float], source: str = "composition") -> tuple[float, float, list[str]]:
    """(a, sigma in angstrom, extrapolation notes) of the lattice model for ``composition`` - :func:`predict`
    without the provenance text (screening calls it for every grid point)."""
    return model().predict(composition, source)


def predict(composition: dict[str, float], source: str = "composition") -> LatticeParameter:
    """The predicted lattice parameter of ``composition`` (element -> amount per formula unit), with its
    uncertainty and provenance ("extrapolated" when outside the calibrated range)."""
    fit = model()
    a, sigma, notes = predict_values(composition, source)
    flag = f"extrapolated ({'; '.join(notes)}), " if notes else ""
    return LatticeParameter(a, f"predicted, {flag}{fit.describe()}: {a:.4f} +- {sigma:.4f} A; not a measurement",
                            "predicted", sigma)


def given(a_angstrom: float, source: str = "a_angstrom") -> LatticeParameter:
    """A lattice parameter the caller gives (checked for plausibility)."""
    check_lattice_parameter(a_angstrom, source, parameter="a_angstrom")
    return LatticeParameter(float(a_angstrom), "given by the user", "given")


def lattice_for(refinement: Refinement, a_angstrom: float | None = None) -> LatticeParameter:
    """The lattice parameter to analyse ``refinement`` at: ``a_angstrom`` when given, else the file's,
    else the prediction for its nominal composition (or, without one, its refined composition)."""
    if a_angstrom is not None:
        return given(a_angstrom)
    reported = reported_lattice(refinement)
    if reported is not None:
        return reported
    source = refinement.source_path or refinement.name
    composition = nominal_composition(refinement) or cell_composition(positions(refinement))
    return predict(composition, source)
