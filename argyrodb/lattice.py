"""Lattice parameter when a refinement does not report one: a Vegard-type rule on halide content.

Rule (documented in the README and stamped into every CIF that uses it):

    a(Li_{7-y} P S_{6-y} X_y) ~= sum_X f_X * a(Li6PS5X),   f_X = n_X / (n_Cl + n_Br + n_I)

i.e. linear interpolation in the halide fractions between the end members shipped in
``structures/`` (each with its published, cited lattice parameter). Solid solutions Li6PS5(Cl,Br,I)
follow Vegard's law closely (Kraft et al., J. Am. Chem. Soc. 2017, 139, 10909,
doi:10.1021/jacs.7b06327). The rule ignores the halide excess y - 1 and the Li deficit; treat the
result as an estimate good to a few hundredths of an angstrom, never as a measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from functools import lru_cache

from .chemistry import HEAVY_HALIDES
from .errors import InputError
from .paths import STRUCTURES_DIR


#: Range of cubic lattice parameters (A) accepted anywhere in argyrodb: argyrodites sit near 9.8-10.2 A;
#: anything outside 3-50 A is a typing or unit error (nm, pm), refused wherever a comes in.
A_MIN_ANGSTROM = 3.0
A_MAX_ANGSTROM = 50.0


def check_lattice_parameter(a: float | None, source: str) -> float | None:
    """``a`` unchanged, or an :class:`InputError` naming ``source`` when it is not plausible."""
    if a is not None and not (A_MIN_ANGSTROM < a < A_MAX_ANGSTROM):
        raise InputError(source, f"lattice parameter a = {a:g} A is not plausible for an argyrodite")
    return a


@dataclass(frozen=True)
class LatticeEstimate:
    a_angstrom: float
    source: str  # human-readable description of how a was obtained


@lru_cache(maxsize=None)
def end_member_a(halide: str) -> tuple[float, str] | None:
    """(a in A, file name) of the Li6PS5X end member shipped in ``structures/``, if there is one."""
    from .reading import read_structure

    path = STRUCTURES_DIR / f"Li6PS5{halide}.yaml"
    if not path.exists():
        return None
    refinement = read_structure(path)
    if refinement.a_angstrom is None:
        return None
    return refinement.a_angstrom, path.name


def vegard_a(amounts: dict[str, float], source: str = "formula") -> LatticeEstimate:
    """Estimate a (A) for a formula from the halide fractions (see the module docstring)."""
    halides = {x: amounts.get(x, 0.0) for x in HEAVY_HALIDES if amounts.get(x, 0.0) > 0}
    total = sum(halides.values())
    if total <= 0:
        raise InputError(source, "no Cl, Br or I in the formula: cannot estimate a; give --a")
    a = 0.0
    parts = []
    for halide, n in halides.items():
        member = end_member_a(halide)
        if member is None:
            raise InputError(source, f"no Li6PS5{halide} end member in structures/ to estimate a; give --a")
        fraction = n / total
        a += fraction * member[0]
        parts.append(f"{fraction:.4f} x {member[0]:.5f} A (Li6PS5{halide}, {member[1]})")
    return LatticeEstimate(
        a_angstrom=a,
        source="estimated (Vegard rule on halide fractions: " + " + ".join(parts) + "); not a measurement",
    )


# --------------------------------------------------------------------------- calibrated Vegard fit


@dataclass(frozen=True)
class VegardFit:
    """a = sum_X f_X a_X over X in (Cl, Br, I), f_X = n_X / (n_Cl + n_Br + n_I), fitted by least squares
    to the published lattice parameters in ``structures/lattice_parameters.csv`` (each with its DOI).

    ``predict`` returns (a, sigma_a): sigma_a combines the fit's parameter covariance (f^T C f) with
    the scatter of the data about the fit (residual standard deviation), the honest uncertainty of a
    prediction for a new composition. The halide excess y of Li(7-y)PS(6-y)X(y) is not a variable:
    no published lattice parameters of halide-rich members were found to calibrate it.
    """

    halides: tuple[str, ...]
    coefficients: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    residual_std: float
    n_points: int
    sources: tuple[str, ...]

    def predict(self, amounts: dict[str, float]) -> tuple[float, float]:
        import numpy as np

        total = sum(amounts.get(x, 0.0) for x in self.halides)
        if total <= 0:
            raise InputError("lattice", "no Cl, Br or I: the Vegard fit cannot predict a")
        unknown = [x for x in ("F",) if amounts.get(x, 0.0) > 0]
        f = np.array([amounts.get(x, 0.0) / total for x in self.halides])
        a = float(f @ np.array(self.coefficients))
        var = float(f @ np.array(self.covariance) @ f) + self.residual_std**2
        if unknown:
            var += 0.05**2  # F is outside the calibration: widen by 0.05 A
        return a, math.sqrt(var)

    def as_dict(self) -> dict:
        return {"model": "a = sum_X f_X a_X (Vegard over halide fractions)", "halides": list(self.halides),
                "a_X_angstrom": list(self.coefficients), "residual_std_angstrom": self.residual_std,
                "n_points": self.n_points, "sources": list(self.sources)}


def vegard_fit(path: Path | None = None) -> VegardFit:
    """Fit :class:`VegardFit` to the lattice-parameter data file."""
    import csv

    import numpy as np

    from .chemistry import parse_formula

    path = path or STRUCTURES_DIR / "lattice_parameters.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    halides = ("Cl", "Br", "I")
    design, target, sources = [], [], []
    for number, row in enumerate(rows, start=2):
        amounts = parse_formula(row["composition"], source=f"{path.name} line {number}")
        total = sum(amounts.get(x, 0.0) for x in halides)
        design.append([amounts.get(x, 0.0) / total for x in halides])
        target.append(float(row["a_angstrom"]))
        sources.append(row["doi"])
    x, y = np.array(design), np.array(target)
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coefficients
    dof = max(len(y) - len(halides), 1)
    s2 = float(residuals @ residuals) / dof
    covariance = s2 * np.linalg.inv(x.T @ x)
    return VegardFit(halides, tuple(float(c) for c in coefficients), tuple(tuple(float(v) for v in r) for r in covariance),
                     math.sqrt(s2), len(y), tuple(sorted(set(sources))))
