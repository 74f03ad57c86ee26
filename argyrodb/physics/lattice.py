"""The lattice-parameter model: one answer to "what is a for this composition?", used by every command.

    a = sum_X f_X a_X  +  sum_k c_k n_k  +  c_y (y - 1)

* f_X = n_X / (n_Cl + n_Br + n_I), X in (Cl, Br, I): Vegard's law over the halide fractions (solid
  solutions Li6PS5(Cl,Br,I) follow it closely: Kraft et al., J. Am. Chem. Soc. 139 (2017) 10909,
  doi:10.1021/jacs.7b06327);
* n_k per formula unit for the substituents with published series: Se on the PS4 corners
  (Li6PS5-xSexBr, doi:10.1021/acs.inorgchem.8b02443), Si and Ge on 4b with the Li excess that balances them
  (Li6+xP1-xSixS5Br, doi:10.1039/c7ta08581h; Li6+xP1-xGexS5I, doi:10.1021/jacs.8b10282);
* y - 1 = n_Cl + n_Br + n_I - 1, the halide excess of halogen-rich Li(7-y)PS(6-y)X(y) (Li6-zPS5-zX1+z with
  z = y - 1: Li5.5PS4.5Cl1.5, Adeli et al., Angew. Chem. Int. Ed. 58 (2019) 8681, doi:10.1002/anie.201814222).
  Like a substituent, it is a term of the fit only when the table holds cited halide-rich lattice parameters
  (:data:`EXCESS_FEATURE`); a halide-rich composition is then a family of its own ("halide-rich") whose
  predictions carry that family's leave-one-out error.

Every term is fitted by least squares to the cited lattice parameters in ``structures/lattice_parameters.csv``
(this project's table and OBELiX's a column, each with its DOI; rows marked ``excluded`` say why).
:func:`predict` returns a with its 1-sigma uncertainty - the fit's parameter covariance (x^T C x) combined
with the scatter of the data about the fit (for halide-rich compositions the larger of that scatter and the
halide-rich family's leave-one-out RMS) - and the leave-one-out error per family is in :meth:`describe`
(:func:`leave_one_out` gives the table per family, with and without the halide-excess term).

A composition outside the calibration is *extrapolated*, and says so:

* a feature beyond its largest (or below its smallest) calibrated value widens sigma by half the model's own
  shift beyond that range plus 0.01 A;
* features each inside their ranges but in a combination no calibration point spans (outside the convex hull
  of the calibration compositions in the model's features, e.g. Ge in a chloride when Ge is calibrated only in
  Li6+xP1-xGexS5I) add 0.01 A: the model's additivity there is an assumption, not a measurement;
* without halide-rich calibration data the halide excess is not a term: sigma grows by 0.05 A per unit of
  |y - 1| (no cited lattice parameter of such a phase could be verified for the table: see
  ``structures/README.md``).

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
#: The halide-excess feature y - 1 = n_Cl + n_Br + n_I - 1 (a term only when the table holds halide-rich rows).
EXCESS_FEATURE = "y_excess"
#: Family name of a halide-rich composition (halide excess, no substituent).
HALIDE_RICH = "halide-rich"
#: sigma added per unit of halide excess |y - 1| while the table has no halide-rich rows (a Cl-rich phase is
#: expected to shrink by a few hundredths of an angstrom per 0.5 extra halide).
HALIDE_EXCESS_SIGMA_ANGSTROM = 0.05
#: Extrapolation beyond a calibrated range: sigma += EXTRAPOLATION_FRACTION x |model shift beyond it| + 0.01 A.
EXTRAPOLATION_FRACTION = 0.5
#: The fixed part of every extrapolation's sigma (A), alone for a composition outside the calibrated hull
#: whose features are each inside their ranges.
EXTRAPOLATION_FLOOR_ANGSTROM = 0.01
#: Tolerance of the hull test in feature units (amounts per formula unit): far below any composition step.
HULL_TOLERANCE = 1e-7


class Note(str):
    """An extrapolation note of :meth:`LatticeModel.predict_arrays`: the full sentence (the str itself, what
    reports, JSON and the screening row's a_note carry) and ``short``, a few words for plot labels."""

    short: str

    def __new__(cls, text: str, short: str) -> Note:
        note = super().__new__(cls, text)
        note.short = short
        return note


@dataclass(frozen=True)
class CalibrationHull:
    """The convex hull of the calibration compositions in the model's features: their affine span (``origin``
    + rows of ``basis``) and, inside it, the hull's facets ``equations`` (rows [normal, offset]; inside: normal .
    coords + offset <= 0). ``low``/``high`` bound a one-dimensional span (then ``equations`` is empty)."""

    origin: tuple[float, ...]
    basis: tuple[tuple[float, ...], ...]
    equations: tuple[tuple[float, ...], ...]
    low: float
    high: float
    n_vertices: int

    @classmethod
    def of(cls, points: np.ndarray) -> CalibrationHull:
        points = np.unique(np.asarray(points, dtype=float), axis=0)
        origin = points.mean(axis=0)
        _, singular, vt = np.linalg.svd(points - origin, full_matrices=False)
        rank = int(np.sum(singular > 1e-9 * max(float(singular.max(initial=0.0)), 1.0)))
        basis = vt[:rank]
        coords = (points - origin) @ basis.T
        equations: np.ndarray = np.zeros((0, rank + 1))
        low = high = 0.0
        n_vertices = len(points)
        if rank == 1:
            low, high = float(coords.min()), float(coords.max())
            n_vertices = 2
        elif rank >= 2:
            from scipy.spatial import ConvexHull  # here, not at module top: scipy.spatial costs ~0.3 s of start-up

            hull = ConvexHull(coords)
            equations, n_vertices = hull.equations, len(hull.vertices)
        return cls(tuple(origin.tolist()), tuple(map(tuple, basis.tolist())), tuple(map(tuple, equations.tolist())),
                   low, high, n_vertices)

    def contains(self, x: np.ndarray) -> np.ndarray:
        """Which rows of ``x`` (compositions x features) lie in the hull (within :data:`HULL_TOLERANCE`)."""
        basis = np.array(self.basis).reshape(-1, len(self.origin))
        d = np.atleast_2d(x) - np.array(self.origin)
        coords = d @ basis.T
        inside = np.linalg.norm(d - coords @ basis, axis=1) <= HULL_TOLERANCE  # in the affine span
        if basis.shape[0] == 1:
            inside &= (coords[:, 0] >= self.low - HULL_TOLERANCE) & (coords[:, 0] <= self.high + HULL_TOLERANCE)
        elif basis.shape[0] >= 2:
            eq = np.array(self.equations)
            inside &= (coords @ eq[:, :-1].T + eq[:, -1] <= HULL_TOLERANCE).all(axis=1)
        return inside


@dataclass(frozen=True)
class LatticeModel:
    """The fitted model (module docstring)."""

    features: tuple[str, ...]  # "f_Cl", "f_Br", "f_I", then substituent amounts "n_X", then "y_excess" if fitted
    coefficients: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    residual_std: float
    n_points: int
    ranges: dict[str, tuple[float, float]]
    loo_rms: dict[str, float]  # family -> leave-one-out RMS error (A)
    sources: tuple[str, ...]
    hull: CalibrationHull | None = None
    n_excluded: int = 0  # rows of the table kept for provenance but not fitted (each with its reason)

    @property
    def halide_coefficients(self) -> tuple[float, float, float]:
        """a_Cl, a_Br, a_I (A): the model's Li6PS5X."""
        a_cl, a_br, a_i = (self.coefficients[self.features.index(f"f_{x}")] for x in HEAVY_HALIDES)
        return a_cl, a_br, a_i

    @property
    def has_excess_term(self) -> bool:
        return EXCESS_FEATURE in self.features

    def predict(self, amounts: dict[str, float], source: str = "composition") -> tuple[float, float, list[str]]:
        """(a, sigma_a, extrapolation notes) in angstrom for ``amounts`` (element -> amount per formula unit)."""
        elements = list(amounts)
        a, sigma, notes, problems = self.predict_arrays(np.array([[amounts[el] for el in elements]], dtype=float), elements)
        if problems[0]:
            raise ParameterError("a_angstrom", f"{source}: {problems[0]}")
        return float(a[0]), float(sigma[0]), notes[0]

    def design(self, matrix: np.ndarray, elements: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(features x (n, len(features)), halide total (n,)) of every row of ``matrix`` (compositions x
        ``elements``, amounts per formula unit); fractions are 0 where there is no halide."""
        matrix = np.asarray(matrix, dtype=float).reshape(-1, len(elements))
        column = {el: j for j, el in enumerate(elements)}

        def amount(el: str) -> np.ndarray:
            return matrix[:, column[el]] if el in column else np.zeros(len(matrix))

        total = sum((amount(x) for x in HEAVY_HALIDES), np.zeros(len(matrix)))
        safe_total = np.where(total > 0, total, 1.0)
        columns = []
        for feature in self.features:
            if feature == EXCESS_FEATURE:
                columns.append(total - 1.0)
            elif feature.startswith("f_"):
                columns.append(amount(feature[2:]) / safe_total)
            else:
                columns.append(amount(feature[2:]))
        return np.column_stack(columns), total

    def predict_arrays(self, matrix: np.ndarray, elements: list[str]):
        """:meth:`predict` of every row of ``matrix`` (compositions x ``elements``, amounts per formula unit) at once:
        (a (n,), sigma (n,), notes (list per row; non-empty: extrapolated), problems (text or None per row; a and
        sigma are NaN there)).

        a = x . c and sigma^2 = x C x^T + s^2 (+ extrapolation terms), with x the features of a row and s the
        residual s.d. (for a calibrated halide-rich row, the larger of it and the halide-rich leave-one-out RMS)."""
        matrix = np.asarray(matrix, dtype=float).reshape(-1, len(elements))
        n = len(matrix)
        column = {el: j for j, el in enumerate(elements)}
        problems: list[str | None] = [None] * n
        uncalibrated = [el for el in elements if el not in BASE_ELEMENTS and f"n_{el}" not in self.features]
        for row in np.flatnonzero((matrix[:, [column[el] for el in uncalibrated]] > 1e-9).any(axis=1)) if uncalibrated else ():
            unknown = sorted(el for el in uncalibrated if matrix[row, column[el]] > 1e-9)
            problems[row] = (f"the lattice model has no calibration data for {', '.join(unknown)}: give the lattice "
                             "parameter")
        x, total = self.design(matrix, elements)
        for row in np.flatnonzero(total <= 0):
            problems[row] = problems[row] or "no Cl, Br or I, so the lattice model cannot predict a: give the lattice parameter"
        coefficients = np.array(self.coefficients)
        a = x @ coefficients
        excess = total - 1.0
        flagged_excess = np.abs(excess) > 1e-6
        scatter = np.full(n, self.residual_std)
        if self.has_excess_term and HALIDE_RICH in self.loo_rms and np.isfinite(self.loo_rms[HALIDE_RICH]):
            scatter = np.where(flagged_excess, max(self.residual_std, self.loo_rms[HALIDE_RICH]), scatter)
        var = np.einsum("ni,ij,nj->n", x, np.array(self.covariance), x) + scatter**2
        notes: list[list[str]] = [[] for _ in range(n)]
        out_of_range = np.zeros(n, dtype=bool)  # beyond a calibrated range, hence outside the hull too
        for j, (feature, coefficient) in enumerate(zip(self.features, coefficients)):
            if feature.startswith("f_"):
                continue
            low, high = self.ranges[feature]
            outside = np.maximum(np.maximum(x[:, j] - high, low - x[:, j]), 0.0)
            flagged = outside > 1e-6
            out_of_range |= flagged
            var = var + np.where(flagged, (EXTRAPOLATION_FRACTION * abs(coefficient) * outside
                                           + EXTRAPOLATION_FLOOR_ANGSTROM) ** 2, 0.0)
            name = "halide excess y - 1" if feature == EXCESS_FEATURE else feature[2:]
            short = "halide excess" if feature == EXCESS_FEATURE else feature[2:]
            for row in np.flatnonzero(flagged):
                notes[row].append(Note(f"{name} = {x[row, j]:g} outside the calibrated {low:g}-{high:g}",
                                       f"{short} {x[row, j]:g} beyond {low:g}-{high:g}"))
        if not self.has_excess_term:
            var = var + np.where(flagged_excess, (HALIDE_EXCESS_SIGMA_ANGSTROM * np.abs(excess)) ** 2, 0.0)
            for row in np.flatnonzero(flagged_excess):
                notes[row].append(Note(f"halide excess y - 1 = {excess[row]:+g} has no calibration data",
                                       f"halide excess {excess[row]:+g}"))
        if self.hull is not None:
            outside_hull = ~self.hull.contains(x) & ~out_of_range
            var = var + np.where(outside_hull, EXTRAPOLATION_FLOOR_ANGSTROM**2, 0.0)
            for row in np.flatnonzero(outside_hull):
                notes[row].append(Note("a combination of halides and substituents outside the calibrated compositions "
                                       "(each is calibrated, not together)", "untried halide-substituent combination"))
        bad = np.array([p is not None for p in problems])
        return np.where(bad, np.nan, a), np.where(bad, np.nan, np.sqrt(var)), notes, problems

    def describe(self) -> str:
        parts = ", ".join(f"a_{x} = {c:.4f}" for x, c in zip(HEAVY_HALIDES, self.halide_coefficients))
        terms = ", ".join(f"{f[2:]} {c:+.4f}" for f, c in zip(self.features, self.coefficients) if f.startswith("n_"))
        excess = (f"; per unit of halide excess {self.coefficients[self.features.index(EXCESS_FEATURE)]:+.4f} A"
                  if self.has_excess_term else "; halide excess uncalibrated")
        return (f"Vegard fit ({parts} A; per substituent atom {terms} A{excess}; {self.n_points} published values, "
                f"residual s.d. {self.residual_std:.3f} A)")

    def as_dict(self) -> dict:
        return {"model": "a = sum_X f_X a_X + sum_k c_k n_k (+ c_y (y - 1) when calibrated): Vegard over halide "
                         "fractions, substituents and the halide excess",
                "features": list(self.features), "coefficients_angstrom": list(self.coefficients),
                "residual_std_angstrom": self.residual_std, "n_points": self.n_points,
                "calibrated_ranges": {k: list(v) for k, v in self.ranges.items()},
                "calibrated_hull_vertices": None if self.hull is None else self.hull.n_vertices,
                "halide_excess_calibrated": self.has_excess_term, "n_excluded": self.n_excluded,
                "leave_one_out_rms_angstrom": self.loo_rms, "sources": list(self.sources)}


def _family(amounts: dict[str, float]) -> str:
    subs = [el for el in SUBSTITUENTS if amounts.get(el, 0.0) > 0]
    if subs:
        return subs[0]
    if abs(sum(amounts.get(x, 0.0) for x in HEAVY_HALIDES) - 1.0) > 1e-6:
        return HALIDE_RICH
    return "halides"


@dataclass(frozen=True)
class _Table:
    compositions: list[dict[str, float]]
    target: np.ndarray
    sources: list[str]


#: Values of the table's ``use`` column: fitted, or kept for provenance with the reason in ``note``.
USES = ("fit", "excluded")


def _table_rows(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) of every row of a lattice-parameter table; ``use`` must be 'fit' (or empty) or
    'excluded', and an excluded row must say why in ``note`` (a value left out without a reason is a silent edit of
    the calibration)."""
    rows = list(enumerate(csv.DictReader(io.StringIO(read_text_file(path), newline="")), start=2))
    for number, row in rows:
        use = row.get("use") or "fit"
        if use not in USES:
            raise InputError(path, f"line {number}: use {use!r} is not one of {', '.join(USES)}")
        if use == "excluded" and len((row.get("note") or "").strip()) < 10:
            raise InputError(path, f"line {number}: {row['composition']} is excluded without a reason in note")
    return rows


def excluded_rows(path: Path | None = None) -> list[dict]:
    """The rows of the lattice-parameter table kept for provenance but not fitted: composition, a_angstrom, doi
    and the reason (their ``note``)."""
    return [{"composition": r["composition"], "a_angstrom": float(r["a_angstrom"]), "doi": r["doi"], "reason": r["note"]}
            for _, r in _table_rows(path or structures_folder() / "lattice_parameters.csv") if r.get("use") == "excluded"]


def _read_table(path: Path) -> _Table:
    rows = [(n, r) for n, r in _table_rows(path) if (r.get("use") or "fit") == "fit"]
    compositions, target, sources = [], [], []
    for number, row in rows:
        amounts = parse_formula(row["composition"], source=f"{path.name} line {number}")
        if sum(amounts.get(x, 0.0) for x in HEAVY_HALIDES) <= 0:
            raise InputError(path, f"line {number}: {row['composition']} has no Cl, Br or I")
        compositions.append(amounts)
        target.append(float(row["a_angstrom"]))
        sources.append(row["doi"])
    return _Table(compositions, np.array(target), sources)


def _features(table: _Table, excess_term: bool) -> tuple[str, ...]:
    substituents = [el for el in SUBSTITUENTS if any(c.get(el, 0.0) > 0 for c in table.compositions)]
    rich = excess_term and any(_family(c) == HALIDE_RICH or abs(sum(c.get(x, 0.0) for x in HEAVY_HALIDES) - 1) > 1e-6
                               for c in table.compositions)
    return tuple([f"f_{x}" for x in HEAVY_HALIDES] + [f"n_{el}" for el in substituents] + ([EXCESS_FEATURE] if rich else []))


def _design(table: _Table, features: tuple[str, ...]) -> np.ndarray:
    elements = sorted({el for c in table.compositions for el in c})
    matrix = np.array([[c.get(el, 0.0) for el in elements] for c in table.compositions])
    probe = LatticeModel(features, (0.0,) * len(features), (), 0.0, 0, {}, {}, ())
    return probe.design(matrix, elements)[0]


def _loo_residuals(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coefficients, residuals, leave-one-out residuals) of the least-squares fit of y on x. The leave-one-out
    residual of point i is e_i / (1 - h_ii) (h: the hat matrix x (x^T x)^-1 x^T), exactly the error of the fit
    without point i (Cook & Weisberg, Residuals and Influence in Regression, 1982); NaN where h_ii = 1 (the
    point alone determines a coefficient, so the fit without it predicts nothing)."""
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coefficients
    leverage = np.einsum("ij,jk,ik->i", x, np.linalg.pinv(x.T @ x), x)
    determined = leverage < 1.0 - 1e-9
    loo = np.where(determined, residuals / np.where(determined, 1.0 - leverage, 1.0), np.nan)
    return coefficients, residuals, loo


def _family_rms(compositions, loo) -> dict[str, float]:
    families: dict[str, list[float]] = {}
    for amounts, error in zip(compositions, loo):
        families.setdefault(_family(amounts), []).append(float(error))
    return {k: math.sqrt(float(np.mean(np.square(v)))) for k, v in families.items()}


def fit_table(path: Path, excess_term: bool = True) -> LatticeModel:
    """Fit :class:`LatticeModel` to a lattice-parameter table (columns composition, a_angstrom, doi and
    optionally use: rows whose use is not 'fit' are left out). ``excess_term``: fit the halide-excess term when
    the table has halide-rich rows (False: the model without it, for the comparison in :func:`leave_one_out`)."""
    table = _read_table(path)
    features = _features(table, excess_term)
    x, y = _design(table, features), table.target
    coefficients, residuals, loo = _loo_residuals(x, y)
    dof = max(len(y) - len(features), 1)
    s2 = float(residuals @ residuals) / dof
    inverse = np.linalg.inv(x.T @ x)
    ranges = {f: (float(x[:, j].min()), float(x[:, j].max())) for j, f in enumerate(features) if not f.startswith("f_")}
    return LatticeModel(features, tuple(float(c) for c in coefficients), tuple(tuple(float(v) for v in r) for r in s2 * inverse),
                        math.sqrt(s2), len(y), ranges, _family_rms(table.compositions, loo), tuple(sorted(set(table.sources))),
                        CalibrationHull.of(x), len(excluded_rows(path)))


def leave_one_out(path: Path | None = None) -> list[dict]:
    """Leave-one-out errors of the lattice model per family (and overall), fitted without and with the
    halide-excess term: one row per (family, model) with n, RMS and largest |error| (A), and n_undetermined
    (points that alone determine a coefficient). Exact (hat-matrix) leave-one-out of the least-squares fit."""
    table = _read_table(path or structures_folder() / "lattice_parameters.csv")
    rows = []
    for label, excess_term in (("without halide-excess term", False), ("with halide-excess term", True)):
        features = _features(table, excess_term)
        _, _, loo = _loo_residuals(_design(table, features), table.target)
        families: dict[str, list[float]] = {"overall": []}
        for amounts, error in zip(table.compositions, loo):
            families.setdefault(_family(amounts), []).append(float(error))
            families["overall"].append(float(error))
        for family, errors in families.items():
            values = np.array(errors)
            known = values[np.isfinite(values)]
            rows.append({"model": label, "family": family, "n": len(values), "n_undetermined": int((~np.isfinite(values)).sum()),
                         "loo_rms_angstrom": math.sqrt(float(np.mean(known**2))) if known.size else math.nan,
                         "loo_max_abs_angstrom": float(np.abs(known).max()) if known.size else math.nan})
    return rows


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
    return LatticeParameter(a, f"{PREDICTED_PREFIX}{flag}{fit.describe()}: {a:.4f} +- {sigma:.4f} A; not a measurement",
                            "predicted", sigma, tuple(str(n) for n in notes),
                            tuple(getattr(n, "short", str(n)) for n in notes))


#: How :func:`predict` starts its source text (read back by :func:`source_flags`).
PREDICTED_PREFIX = "predicted, "
EXTRAPOLATED_PREFIX = "predicted, extrapolated ("


def source_flags(a_source: str | None) -> tuple[bool, str | None]:
    """(predicted, extrapolation reason or None) of a stored ``a_source`` text - the database's structures rows
    keep :func:`predict`'s text, not the LatticeParameter - so that pages showing a stored a can say it is the
    lattice model's and, when so, an extrapolation."""
    text = a_source or ""
    if not text.startswith(PREDICTED_PREFIX):
        return False, None
    if not text.startswith(EXTRAPOLATED_PREFIX):
        return True, None
    end = text.rfind("), Vegard fit")
    return True, text[len(EXTRAPOLATED_PREFIX):end] if end > 0 else "outside the calibration"


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
