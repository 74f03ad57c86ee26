"""The lattice-parameter model: one answer to "what is a for this composition?", used by every command.

    a(Li_{7-y} P S_{6-y} X_y) = sum_X f_X a_X,   f_X = n_X / (n_Cl + n_Br + n_I),  X in (Cl, Br, I)

Vegard's law over the halide fractions (solid solutions Li6PS5(Cl,Br,I) follow it closely: Kraft et al.,
J. Am. Chem. Soc. 139 (2017) 10909, doi:10.1021/jacs.7b06327), with a_Cl, a_Br, a_I fitted by least
squares to the published lattice parameters in ``structures/lattice_parameters.csv`` (each row with its
DOI). :func:`predict` returns the value with its 1-sigma uncertainty: the fit's parameter covariance
(f^T C f) combined with the scatter of the data about the fit (residual standard deviation).

Not modelled: the halide excess y - 1 and the Li deficit of halide-rich members, and substitution on the
framework (Ge, Si, Sn) or the PS4 corners (O, Se) - no calibration data in the table. F is outside the
calibration: it is ignored in the fractions and widens sigma by 0.05 A. A prediction is an estimate good
to a few hundredths of an angstrom, never a measurement, and every output says so.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..core.analysis import (
    AnalysedStructure,
    analyse,
    nominal_composition,
    reported_lattice,
)
from ..core.chemistry import HEAVY_HALIDES, parse_formula
from ..core.errors import InputError, ParameterError
from ..core.files import read_text_file
from ..core.refinement import LatticeParameter, Refinement, check_lattice_parameter
from ..core.resources import structures_folder
from ..core.sites import cell_composition, positions

#: Extra uncertainty (A) for fluorine, which the calibration does not cover.
FLUORINE_SIGMA_ANGSTROM = 0.05


@dataclass(frozen=True)
class VegardFit:
    """a = sum_X f_X a_X over X in (Cl, Br, I), fitted to published lattice parameters (module docstring)."""

    halides: tuple[str, ...]
    coefficients: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    residual_std: float
    n_points: int
    sources: tuple[str, ...]

    def predict(self, amounts: dict[str, float], source: str = "composition") -> tuple[float, float]:
        """(a, sigma_a) in angstrom for ``amounts`` (element -> amount per formula unit)."""
        total = sum(amounts.get(x, 0.0) for x in self.halides)
        if total <= 0:
            raise ParameterError("a_angstrom", f"{source}: no Cl, Br or I, so the lattice model cannot predict a: give the lattice parameter")
        f = np.array([amounts.get(x, 0.0) / total for x in self.halides])
        a = float(f @ np.array(self.coefficients))
        var = float(f @ np.array(self.covariance) @ f) + self.residual_std**2
        if amounts.get("F", 0.0) > 0:
            var += FLUORINE_SIGMA_ANGSTROM**2
        return a, math.sqrt(var)

    def describe(self) -> str:
        parts = ", ".join(f"a_{x} = {c:.4f}" for x, c in zip(self.halides, self.coefficients))
        return (f"Vegard fit over halide fractions ({parts} A; {self.n_points} published values, "
                f"residual s.d. {self.residual_std:.3f} A)")

    def as_dict(self) -> dict:
        return {"model": "a = sum_X f_X a_X (Vegard over halide fractions)", "halides": list(self.halides),
                "a_X_angstrom": list(self.coefficients), "residual_std_angstrom": self.residual_std,
                "n_points": self.n_points, "sources": list(self.sources)}


def fit_table(path: Path) -> VegardFit:
    """Fit :class:`VegardFit` to a lattice-parameter table (columns composition, a_angstrom, doi)."""
    rows = list(csv.DictReader(io.StringIO(read_text_file(path), newline="")))
    design, target, sources = [], [], []
    for number, row in enumerate(rows, start=2):
        amounts = parse_formula(row["composition"], source=f"{path.name} line {number}")
        total = sum(amounts.get(x, 0.0) for x in HEAVY_HALIDES)
        if total <= 0:
            raise InputError(path, f"line {number}: {row['composition']} has no Cl, Br or I")
        design.append([amounts.get(x, 0.0) / total for x in HEAVY_HALIDES])
        target.append(float(row["a_angstrom"]))
        sources.append(row["doi"])
    x, y = np.array(design), np.array(target)
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coefficients
    dof = max(len(y) - len(HEAVY_HALIDES), 1)
    s2 = float(residuals @ residuals) / dof
    covariance = s2 * np.linalg.inv(x.T @ x)
    return VegardFit(HEAVY_HALIDES, tuple(float(c) for c in coefficients),
                     tuple(tuple(float(v) for v in r) for r in covariance), math.sqrt(s2), len(y), tuple(sorted(set(sources))))


@lru_cache(maxsize=1)
def model() -> VegardFit:
    """The lattice model calibrated on the packaged ``lattice_parameters.csv``."""
    return fit_table(structures_folder() / "lattice_parameters.csv")


def predict_values(composition: dict[str, float], source: str = "composition") -> tuple[float, float]:
    """(a, sigma) in angstrom of the lattice model for ``composition`` - :func:`predict` without the
    provenance text (screening calls it for every grid point)."""
    return model().predict(composition, source)


def predict(composition: dict[str, float], source: str = "composition") -> LatticeParameter:
    """The predicted lattice parameter of ``composition`` (element -> amount per formula unit), with its
    uncertainty and provenance."""
    fit = model()
    a, sigma = predict_values(composition, source)
    return LatticeParameter(a, f"predicted ({fit.describe()}): {a:.4f} +- {sigma:.4f} A; not a measurement",
                            "predicted", sigma)


def given(a_angstrom: float, source: str = "a_angstrom") -> LatticeParameter:
    """A lattice parameter the caller gives (checked for plausibility)."""
    check_lattice_parameter(a_angstrom, source, parameter="a_angstrom")
    return LatticeParameter(float(a_angstrom), "given by the user", "given")


def analysed(refinement: Refinement, a_angstrom: float | None = None, force: bool = False) -> AnalysedStructure:
    """``refinement`` analysed at the lattice parameter :func:`lattice_for` gives - the one way every
    command goes from a refinement to an analysed structure."""
    return analyse(refinement, lattice_for(refinement, a_angstrom), force=force)


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
