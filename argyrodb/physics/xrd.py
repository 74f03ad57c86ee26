"""Powder X-ray diffraction of (disordered) argyrodites: reflections, structure factors, intensities.

For every reflection h = (h, k, l) the structure factor is

    F(h) = sum_sites sum_elements occ * [f0_el(s) + f'_el + i f''_el] * exp(-B_site s^2) * exp(2 pi i h.r)

with s = sin(theta)/lambda = 1/(2d), per-site occupancy and per-site isotropic B (A^2), normal
scattering f0 from Waasmaier & Kirfel (1995) and anomalous f', f'' from Chantler (both via xraydb; see
:mod:`argyrodb.scattering`). A powder line collects all reflections with the same d (in a cubic cell:
the same h^2 + k^2 + l^2, so coincident families such as 511/333 and 600/442 are summed); its
integrated intensity is

    I = w_lambda * LP(2 theta) * sum_{h in line} |F(h)|^2,
    LP = (1 + K cos^2 2theta) / ((1 + K) sin^2 theta cos theta),   K = cos^2 2theta_M,

the Lorentz-polarisation factor of Bragg-Brentano geometry (K = 1: unpolarised beam, no monochromator;
2theta_M the monochromator's diffraction angle, e.g. 26.57 deg for graphite (002) with Cu K-alpha).
Relative intensities put the strongest line at 100.

Constant-wavelength neutrons (``radiation="neutron"``): the scattering factor of an element is its bound
coherent scattering length b_c (fm; Sears 1992, :mod:`argyrodb.physics.scattering`), the same at every s
(no form-factor fall-off, no anomalous dispersion; the Debye-Waller factor exp(-B s^2) stays), and a neutron beam
is not polarised, so the intensity carries the Lorentz factor of a constant-wavelength powder pattern alone,

    L = 1 / (sin^2 theta cos theta)

(the LP above with K = 0; Debye-Scherrer and Bragg-Brentano differ by a constant). b_Li < 0: Li sites scatter in
antiphase with the anions, and S (2.847 fm) and Cl (9.577 fm) differ by a factor 3.4, where for X-rays they
differ by one electron in 17.

Speed: for a structure with F-43m symmetry in the standard setting only reflections allowed by the
F-centring (h, k, l all odd or all even) and one representative per orbit of the point group -43m are
computed, each weighted by its orbit size. Because F-43m is acentric, h and -h are in different -43m
orbits, so Friedel mates are both computed and differ when f'' != 0. The phase sums
P(h, site) = sum_images exp(2 pi i h.r) do not depend on the lattice parameter, the occupancies or B and
are cached per model; a new pattern only re-evaluates scattering factors and a small matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from ..core.analysis import AnalysedStructure
from ..core.chemistry import is_element
from ..core.errors import InputError, ParameterError, ValidationFailed
from ..core.readers import is_pymatgen_structure
from ..core.refinement import LatticeParameter, check_lattice_parameter
from ..core.sites import OCCUPANCY_SUM_TOLERANCE
from ..core.symmetry import SPGLIB_SYMPREC, grid_keys, invariant_under_f43m, spglib_module
from .scattering import (
    SEARS_1992,
    WavelengthComponent,
    anomalous,
    check_radiation,
    coherent_scattering_length_fm,
    f0,
    f0_pymatgen,
    neutron_absorbers,
    resolve_wavelength,
    waasmaier_kirfel,
)

if TYPE_CHECKING:  # pandas is imported where a pattern is made
    import pandas as pd

FORM_FACTOR_TABLES = {
    "waasmaier-kirfel": "Waasmaier & Kirfel, Acta Cryst. A51 (1995) 416 (neutral atoms, via xraydb)",
    "pymatgen": "pymatgen XRDCalculator ATOMIC_SCATTERING_PARAMS (cross-check mode)",
}
#: Two reflections whose d differ by less than this (relative) belong to one powder line (non-cubic input).
LINE_D_TOLERANCE = 1e-7
#: Without known symmetry, a reflection with |F|^2 below this fraction of the strongest is absent.
ABSENT_F2_FRACTION = 1e-9
#: Tolerance when testing that a structure is invariant under F-43m (fractional coordinates).
SYMMETRY_TOLERANCE = 1e-4


def hkl_label(families, separator: str = " ") -> str:
    """Text of a powder line's coincident families: [(5, 1, 1), (3, 3, 3)] -> '511 333' (or '511/333').

    A family with an index of 10 or more is written with commas, [(10, 2, 2), (6, 6, 6)] -> '10,2,2/666', because
    '1022' could be (10 2 2) or (1 0 22)."""
    def one(family) -> str:
        values = [int(v) for v in family]
        return ",".join(map(str, values)) if any(abs(v) >= 10 for v in values) else "".join(map(str, values))

    return separator.join(one(family) for family in families)


@dataclass
class ScatteringGroup:
    """Sites sharing one species-occupancy mix and one B: their phase sums are computed together."""

    label: str
    species: dict[str, float]
    b_iso_angstrom2: float
    images: np.ndarray  # (m, 3) fractional coordinates
    primitive_images: np.ndarray | None = None  # one per F-centring coset, when known (F-43m)


@dataclass
class _ReflectionSet:
    hkl: np.ndarray  # (r, 3) representative reflections
    weight: np.ndarray  # (r,) reflections each stands for
    phases: np.ndarray  # (r, g) complex phase sums
    limit: float  # N_max (cubic) or g_max (general) covered
    n_index: np.ndarray  # (r,) h^2 + k^2 + l^2
    line_key: np.ndarray  # (r,) reflections with equal keys form one powder line
    families: dict  # line key -> [(h, k, l), ...] family labels, strongest-index first


def _all_reflections(limit: float, lattice: np.ndarray, cubic: bool) -> np.ndarray:
    """Every (h, k, l) != 0 with N <= limit (cubic, limit = N_max) or |g| <= limit (1/A)."""
    if cubic:
        h_max = int(np.floor(np.sqrt(limit + 1e-9)))
        r = np.arange(-h_max, h_max + 1)
        n = r[:, None, None] ** 2 + r[None, :, None] ** 2 + r[None, None, :] ** 2
        i, j, k = np.nonzero((n <= limit + 1e-9) & (n > 0))
        return np.column_stack([r[i], r[j], r[k]])
    h_max = int(np.ceil(limit * np.linalg.norm(lattice, axis=1)).max())
    rng = np.arange(-h_max, h_max + 1)
    hkl = np.stack(np.meshgrid(rng, rng, rng, indexing="ij"), axis=-1).reshape(-1, 3)
    hkl = hkl[np.any(hkl != 0, axis=1)]
    recip = np.linalg.inv(lattice).T
    return hkl[np.linalg.norm(hkl @ recip, axis=1) <= limit + 1e-12]


@lru_cache(maxsize=32)
def _f43m_representatives(n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """One reflection per -43m orbit among those allowed by F-centring with h^2+k^2+l^2 <= n_max,
    and the orbit sizes. Depends on nothing but n_max, so it is cached for every structure.

    -43m acting on (h, k, l) is every permutation combined with an even number of sign changes, so an
    orbit is labelled by the sorted |h|, |k|, |l| and, when no index is zero, the sign of h k l.
    """
    hkl = _all_reflections(float(n_max), np.eye(3), cubic=True)
    parity = np.mod(hkl, 2)
    hkl = hkl[np.all(parity == parity[:, :1], axis=1)]  # F-centring: h, k, l unmixed
    magnitude = np.sort(np.abs(hkl), axis=1)
    sign = np.sign(np.prod(hkl, axis=1))  # 0 when an index is zero: then both signs are one orbit
    width = int(magnitude.max()) + 1 if len(hkl) else 1
    keys = ((magnitude[:, 0] * width + magnitude[:, 1]) * width + magnitude[:, 2]) * 3 + (sign + 1)
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    return hkl[first], counts.astype(float)


def _families(line_key: np.ndarray, hkl: np.ndarray) -> dict[int, list]:
    """Line key -> the m-3m family labels (|h| >= |k| >= |l|) of its reflections, strongest index first."""
    labels = -np.sort(-np.abs(hkl), axis=1)
    pairs = np.unique(np.column_stack([line_key, labels]), axis=0)
    families: dict[int, list] = {}
    for key, h, k, l in pairs.tolist():
        families.setdefault(key, []).append((h, k, l))
    for fam in families.values():
        fam.sort(key=lambda t: (-t[0], -t[1], -t[2]))
    return families


@lru_cache(maxsize=32)
def _f43m_families(n_max: int) -> dict[int, list]:
    hkl, _ = _f43m_representatives(n_max)
    return _families(np.sum(hkl**2, axis=1).astype(np.int64), hkl)


class NoDisplacementWarning(UserWarning):
    """A structure without displacement parameters: its pattern assumes B = 0."""


_F_CENTRING = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])


def _centring_representatives(positions: np.ndarray) -> np.ndarray:
    """One position per F-centring coset (the four copies differ by the centring translations)."""
    copies = np.mod(positions[None, :, :] - _F_CENTRING[:, None, :], 1.0)  # (4, m, 3)
    canonical = grid_keys(copies.reshape(-1, 3)).reshape(4, -1).min(axis=0)
    _, first = np.unique(canonical, return_index=True)
    return positions[np.sort(first)]


def _point_group(groups: list[ScatteringGroup], lattice: np.ndarray) -> np.ndarray:
    """The distinct rotations of the structure's space group (spglib, each group one atom type)."""
    spglib = spglib_module()
    positions = np.vstack([g.images for g in groups])
    types = np.concatenate([[i + 1] * len(g.images) for i, g in enumerate(groups)])
    try:
        symmetry = spglib.get_symmetry((lattice, positions, types), symprec=SPGLIB_SYMPREC)
    except Exception:  # a degenerate cell: no reduction, every reflection computed
        symmetry = None
    if not symmetry:
        return np.eye(3, dtype=int)[None]
    return np.unique(np.asarray(symmetry["rotations"], dtype=int), axis=0)


def _orbit_representatives(hkl: np.ndarray, rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One reflection per orbit of the point group and the orbit sizes. For x' = R x + t, F(h R) =
    F(h) exp(2 pi i h.t): reflections h R (row vector) share |F|. Friedel mates are not merged."""
    images = np.einsum("nj,rjk->rnk", hkl, rotations)  # (rotations, reflections, 3)
    width = int(np.abs(hkl).max()) * 2 + 1 if len(hkl) else 1
    codes = ((images[..., 0] + width) * (2 * width + 1) + (images[..., 1] + width)) * (2 * width + 1) + (images[..., 2] + width)
    keys = codes.max(axis=0)
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    return hkl[first], counts.astype(float)


@dataclass
class _ComponentKernel:
    index: int
    weight: float
    wavelength: float
    keep: np.ndarray
    s2: np.ndarray
    scattering: np.ndarray  # (elements, reflections) complex f0 + f' + i f''
    phases: np.ndarray  # (reflections, groups)
    refl_weight: np.ndarray
    key: np.ndarray
    g: np.ndarray
    k_pol: float
    per_site_b: bool


class LineKernel:
    """Peak arrays of one model at one lattice parameter and wavelength for any occupancies and B (see
    :meth:`XRDModel.line_kernel`). Calling it returns the same dict as :meth:`XRDModel.peak_arrays`."""

    def __init__(self, parts: list[_ComponentKernel], f43m: bool):
        self.parts = parts
        self.f43m = f43m

    def __call__(self, occupancy_matrix: np.ndarray, b_iso: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, list] = {k: [] for k in ("line_key", "two_theta_deg", "d_angstrom", "multiplicity", "f_squared", "intensity", "component")}
        for part in self.parts:
            group_f = occupancy_matrix @ part.scattering  # (groups, reflections)
            if part.per_site_b:
                group_f = group_f * np.exp(-np.outer(b_iso, part.s2))
            structure_factor = np.einsum("gr,rg->r", group_f, part.phases)
            f2 = structure_factor.real**2 + structure_factor.imag**2
            weight, key, g = part.refl_weight, part.key, part.g
            if not self.f43m:
                # No space group known: reflections whose |F|^2 vanishes (systematic absences of
                # whatever symmetry the structure has) are dropped and not counted in multiplicities.
                present = f2 > ABSENT_F2_FRACTION * max(f2.max(), 1e-300)
                f2, weight, key, g = f2[present], weight[present], key[present], g[present]
            unique_keys, inverse = np.unique(key, return_inverse=True)
            counts = np.bincount(inverse)
            sum_f2 = np.bincount(inverse, weights=weight * f2)
            mult = np.bincount(inverse, weights=weight)
            g_line = np.bincount(inverse, weights=g) / counts
            theta = np.arcsin(part.wavelength * g_line / 2)
            lp = (1 + part.k_pol * np.cos(2 * theta) ** 2) / ((1 + part.k_pol) * np.sin(theta) ** 2 * np.cos(theta))
            out["line_key"].append(unique_keys)
            out["two_theta_deg"].append(2 * np.degrees(theta))
            out["d_angstrom"].append(1.0 / g_line)
            out["multiplicity"].append(np.rint(mult).astype(int))
            out["f_squared"].append(sum_f2 / mult)
            out["intensity"].append(part.weight * lp * sum_f2)
            out["component"].append(np.full(unique_keys.size, part.index))
        return {k: (np.concatenate(v) if v else np.empty(0)) for k, v in out.items()}


class XRDModel:
    """A structure prepared for fast repeated powder patterns (different a, occupancies, B, lambda)."""

    def __init__(self, groups: list[ScatteringGroup], lattice_matrix: np.ndarray, name: str = "", f43m: bool | None = None):
        if not groups:
            raise InputError(name or "structure", "no scattering sites")
        self.name = name
        self.groups = groups
        self.lattice_matrix = np.asarray(lattice_matrix, dtype=float)
        lengths = np.linalg.norm(self.lattice_matrix, axis=1)
        self.cubic = bool(np.allclose(self.lattice_matrix, np.diag(lengths), atol=1e-8) and np.ptp(lengths) < 1e-6)
        self.elements = sorted({el for g in groups for el in g.species})
        self.occupancy_matrix = np.array([[g.species.get(el, 0.0) for el in self.elements] for g in groups])
        self.b_iso = np.array([g.b_iso_angstrom2 for g in groups], dtype=float)
        self.f43m = bool(f43m) if f43m is not None else (self.cubic and invariant_under_f43m([g.images for g in groups]))
        self.point_group: np.ndarray | None = None  # rotations used to reduce reflections (general path)
        self.notes: dict[str, str] = {}
        self._cache: _ReflectionSet | None = None

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_analysed(cls, structure: AnalysedStructure) -> XRDModel:
        """From an analysed structure: its positions (per-site occupancies and B) and its lattice parameter."""
        groups = []
        for pos in structure.positions:
            if pos.over_filled:
                raise ValidationFailed(structure.source, f"site {pos.name}: occupancies sum to {pos.occupancy_sum:.4f} "
                                                         f"> 1 + {OCCUPANCY_SUM_TOLERANCE}")
            b = pos.b_iso()
            groups.append(ScatteringGroup(pos.name, pos.species(), 0.0 if b is None else b, pos.images, pos.primitive_images))
        model = cls(groups, np.eye(3) * structure.a_angstrom, name=structure.name, f43m=True)
        missing = [pos.name for pos in structure.positions if pos.b_iso() is None]
        if missing:  # the structure's problems say so too (no_displacement_parameters); the pattern must carry it
            model.notes["debye_waller"] = ("none given: B = 0 assumed for every site" if len(missing) == len(groups)
                                           else f"none given for {', '.join(missing)}: B = 0 assumed there")
        return model

    @classmethod
    def from_structure(cls, structure, name: str = "") -> XRDModel:
        """From a pymatgen Structure, any space group. Per-site B from the ``b_iso`` site property; without
        it B = 0, with a :class:`NoDisplacementWarning` and a note in the pattern's conventions.

        Symmetry is found once: a fast test for F-43m in the standard setting (every operation maps each
        species group onto itself), else spglib's point group, used to reduce the reflections to one per
        orbit (|F| is equal within an orbit of the point group; Friedel mates stay separate)."""
        import warnings

        raw_b = structure.site_properties.get("b_iso")
        b_values = raw_b or [None] * len(structure)
        frac = np.mod(structure.frac_coords, 1.0)
        keyed: dict[tuple, tuple[dict, float, list]] = {}
        for index, (site, b) in enumerate(zip(structure.sites, b_values)):
            pairs = tuple(sorted((sp.symbol, float(occ)) for sp, occ in site.species.items()))
            b = 0.0 if b is None else float(b)
            keyed.setdefault((pairs, b), (dict(pairs), b, []))[2].append(index)
        groups = [ScatteringGroup("/".join(species) + f" B={b:g}", species, b, frac[rows])
                  for species, b, rows in keyed.values()]
        lattice = np.asarray(structure.lattice.matrix, dtype=float)
        if not name:
            totals: dict[str, float] = {}
            for g in groups:
                for el, occ in g.species.items():
                    totals[el] = totals.get(el, 0.0) + occ * len(g.images)
            name = "".join(f"{el}{n:g}" for el, n in totals.items())
        model = cls(groups, lattice, name=name, f43m=False)
        if not raw_b or all(b is None for b in raw_b):
            warnings.warn(f"{model.name}: no displacement parameters (b_iso site property): B = 0 assumed for every site",
                          NoDisplacementWarning, stacklevel=2)
            model.notes["debye_waller"] = "none given: B = 0 assumed for every site (no b_iso site property)"
        if model.cubic and invariant_under_f43m([g.images for g in groups]):
            model.f43m = True
            for group in groups:
                group.primitive_images = _centring_representatives(group.images)
        else:
            model.point_group = _point_group(groups, lattice)
        return model

    # ----------------------------------------------------------------- reflections

    def _a(self, a_angstrom: float | None) -> float:
        if a_angstrom is None:
            return float(self.lattice_matrix[0, 0])
        if not self.cubic:
            raise ParameterError("a_angstrom", "a lattice parameter override needs a cubic cell")
        return float(a_angstrom)

    def _reflections(self, limit: float, lattice: np.ndarray) -> _ReflectionSet:
        """Representative reflections with N = h^2+k^2+l^2 <= limit (cubic) or |g| <= limit (general)."""
        wanted = float(np.floor(limit + 1e-9)) if self.cubic else float(limit)
        if self._cache is not None and self._cache.limit >= wanted - 1e-12:
            return self._cache
        if self.f43m:
            n_max = int(np.floor(limit + 1e-9))
            hkl, weight = _f43m_representatives(n_max)
            limit_used = float(n_max)
        else:
            hkl = _all_reflections(limit, lattice, self.cubic)
            weight = np.ones(len(hkl))
            if self.point_group is not None:
                hkl, weight = _orbit_representatives(hkl, self.point_group)
            limit_used = float(np.floor(limit + 1e-9)) if self.cubic else float(limit)
        phases = np.empty((len(hkl), len(self.groups)), dtype=complex)
        for j, group in enumerate(self.groups):
            if self.f43m and group.primitive_images is not None:
                # allowed reflections see the four F-centred copies in phase: sum one, times 4
                images = group.primitive_images
                phases[:, j] = (len(group.images) / len(images)) * np.exp(2j * np.pi * (hkl @ images.T)).sum(axis=1)
            else:
                phases[:, j] = np.exp(2j * np.pi * (hkl @ group.images.T)).sum(axis=1)
        n_index = np.sum(hkl**2, axis=1)
        if self.cubic:
            line_key = n_index.astype(np.int64)
        else:
            g = np.linalg.norm(hkl @ np.linalg.inv(lattice).T, axis=1)
            line_key = np.round(np.log(g) / LINE_D_TOLERANCE).astype(np.int64)
        families = _f43m_families(int(limit_used)) if self.f43m else _families(line_key, hkl)
        self._cache = _ReflectionSet(hkl=hkl, weight=weight, phases=phases, limit=limit_used,
                                     n_index=n_index, line_key=line_key, families=families)
        return self._cache

    # ----------------------------------------------------------------- patterns

    def peak_arrays(
        self,
        wavelength: str | float | list[WavelengthComponent] = "CuKa1",
        two_theta_range: tuple[float, float] = (10.0, 120.0),
        a_angstrom: float | None = None,
        anomalous_dispersion: bool = True,
        monochromator_two_theta_deg: float | None = None,
        form_factors: str = "waasmaier-kirfel",
        occupancy_matrix: np.ndarray | None = None,
        b_iso: np.ndarray | None = None,
        b_by_element: dict[str, float] | None = None,
        radiation: str = "xray",
        scattering_lengths_fm: dict[str, float] | None = None,
    ) -> dict[str, np.ndarray]:
        """The peak list as numpy arrays, one entry per (line, wavelength component): ``line_key``,
        ``two_theta_deg``, ``d_angstrom``, ``multiplicity``, ``f_squared`` (mean |F|^2 per reflection),
        ``intensity`` (integrated), ``component``. The fast path used for screening; see :meth:`pattern`."""
        kernel = self.line_kernel(wavelength, two_theta_range, a_angstrom, anomalous_dispersion,
                                  monochromator_two_theta_deg, form_factors, b_by_element, radiation,
                                  scattering_lengths_fm)
        occ = self.occupancy_matrix if occupancy_matrix is None else np.asarray(occupancy_matrix, dtype=float)
        b = self.b_iso if b_iso is None else np.asarray(b_iso, dtype=float)
        return kernel(occ, b)

    def line_kernel(
        self,
        wavelength: str | float | list[WavelengthComponent] = "CuKa1",
        two_theta_range: tuple[float, float] = (10.0, 120.0),
        a_angstrom: float | None = None,
        anomalous_dispersion: bool = True,
        monochromator_two_theta_deg: float | None = None,
        form_factors: str = "waasmaier-kirfel",
        b_by_element: dict[str, float] | None = None,
        radiation: str = "xray",
        scattering_lengths_fm: dict[str, float] | None = None,
    ) -> LineKernel:
        """Everything of :meth:`peak_arrays` that does not depend on occupancies and B, prepared once: a
        :class:`LineKernel` then gives the peak arrays for any occupancy matrix and B vector with one small
        matrix product per wavelength component (what a refinement's occupancy derivatives need).
        ``radiation`` "neutron": b_c for f, no polarisation (module docstring); ``scattering_lengths_fm`` (element ->
        b in fm) replaces Sears' b_c of those elements (an isotope-enriched sample: 7Li -2.22 fm)."""
        lo, hi = (float(v) for v in two_theta_range)
        if not (0.0 < lo < hi < 180.0):
            raise ParameterError("two_theta_range", f"2theta range {lo:g}-{hi:g} deg must satisfy 0 < min < max < 180")
        if form_factors not in FORM_FACTOR_TABLES:
            raise ParameterError("form_factors", f"unknown table {form_factors!r}")
        neutron = check_radiation_options(radiation, wavelength, monochromator_two_theta_deg, form_factors,
                                         scattering_lengths_fm)
        components = resolve_wavelength(wavelength) if not isinstance(wavelength, list) else wavelength
        a = self._a(a_angstrom)
        if self.cubic:
            check_lattice_parameter(a, "a_angstrom", parameter="a_angstrom")
        lattice = np.eye(3) * a if self.cubic else self.lattice_matrix
        s_max = np.sin(np.radians(hi / 2)) / min(c.wavelength_angstrom for c in components)
        refl = self._reflections((2 * a * s_max) ** 2 if self.cubic else 2 * s_max, lattice)
        if self.cubic:
            g = np.sqrt(refl.n_index) / a
        else:
            g = np.linalg.norm(refl.hkl @ np.linalg.inv(lattice).T, axis=1)
        s = g / 2.0
        form = f0_pymatgen if form_factors == "pymatgen" else f0
        k_pol = _polarisation_k(neutron, monochromator_two_theta_deg)
        parts = []
        for index, comp in enumerate(components):
            sin_theta = comp.wavelength_angstrom * s
            keep = sin_theta < 1.0
            two_theta = 2 * np.degrees(np.arcsin(np.where(keep, sin_theta, 0.0)))
            keep &= (two_theta >= lo) & (two_theta <= hi)
            if not keep.any():
                continue
            s_k = s[keep]
            s2 = s_k**2
            scattering = np.empty((len(self.elements), s_k.size), dtype=complex)
            for i, el in enumerate(self.elements):
                if neutron:  # b_c: the same at every s
                    value = np.full(s_k.shape, scattering_length_fm(el, scattering_lengths_fm), dtype=complex)
                else:
                    fp, fpp = anomalous(el, comp.wavelength_angstrom) if anomalous_dispersion else (0.0, 0.0)
                    value = form(el, s_k) + (fp + 1j * fpp)
                if b_by_element is not None:  # pymatgen's convention: one B per element
                    value = value * np.exp(-b_by_element.get(el, 0.0) * s2)
                scattering[i] = value
            parts.append(_ComponentKernel(index=index, weight=comp.weight, wavelength=comp.wavelength_angstrom,
                                          keep=np.flatnonzero(keep), s2=s2, scattering=scattering,
                                          phases=refl.phases[keep], refl_weight=refl.weight[keep], key=refl.line_key[keep],
                                          g=g[keep], k_pol=k_pol, per_site_b=b_by_element is None))
        return LineKernel(parts, f43m=self.f43m)

    def batch_peak_arrays(
        self,
        a_angstrom: np.ndarray,
        occupancy: np.ndarray,
        wavelength: str | float | list[WavelengthComponent] = "CuKa1",
        two_theta_range: tuple[float, float] = (10.0, 120.0),
        b_iso: np.ndarray | None = None,
        anomalous_dispersion: bool = True,
        monochromator_two_theta_deg: float | None = None,
        chunk: int = 512,
        radiation: str = "xray",
        scattering_lengths_fm: dict[str, float] | None = None,
    ) -> dict[str, np.ndarray]:
        """Peak lists of N variants of one F-43m model in one vectorised call: lattice parameters ``a_angstrom``
        (N,), occupancy matrices ``occupancy`` (N, groups, elements) in the model's group and element order, B
        (groups,) or (N, groups). Returns arrays over (N, lines x components): ``line_key`` and ``component``
        (lines x components,), ``two_theta_deg``, ``d_angstrom``, ``intensity`` (N, lines x components) with
        ``present`` (N, ...) False where a line falls outside the 2theta range for that variant, and
        ``multiplicity``. Row n equals :meth:`peak_arrays` for variant n (tests: 1e-9 relative).

        A compositions axis runs through the form factors (per a), the group scattering sums and the phase-sum
        product; the lines' |F|^2 sums are one matrix product with a (reflections x lines) incidence matrix."""
        if not (self.cubic and self.f43m):
            raise ParameterError("structure", "batch patterns need an F-43m model in the standard setting")
        a = np.atleast_1d(np.asarray(a_angstrom, dtype=float))
        occ = np.asarray(occupancy, dtype=float)
        n, n_groups, n_elements = len(a), len(self.groups), len(self.elements)
        if occ.shape != (n, n_groups, n_elements):
            raise ParameterError("occupancy", f"shape {occ.shape}, expected ({n}, {n_groups}, {n_elements})")
        b = self.b_iso if b_iso is None else np.asarray(b_iso, dtype=float)
        b = np.broadcast_to(b, (n, n_groups))
        # the plausibility check is a range: the smallest and largest a (or the first that is not finite) decide
        bad = a[~np.isfinite(a)]
        for value in (bad[:1] if bad.size else (a.min(), a.max())):
            check_lattice_parameter(float(value), "a_angstrom", parameter="a_angstrom")
        lo, hi = (float(v) for v in two_theta_range)
        if not (0.0 < lo < hi < 180.0):
            raise ParameterError("two_theta_range", f"2theta range {lo:g}-{hi:g} deg must satisfy 0 < min < max < 180")
        neutron = check_radiation_options(radiation, wavelength, monochromator_two_theta_deg,
                                         scattering_lengths_fm=scattering_lengths_fm)
        components = resolve_wavelength(wavelength) if not isinstance(wavelength, list) else wavelength
        s_max = np.sin(np.radians(hi / 2)) / min(c.wavelength_angstrom for c in components)
        refl = self._reflections((2 * a.max() * s_max) ** 2, np.eye(3) * a.max())
        keys, inverse = np.unique(refl.line_key, return_inverse=True)
        incidence = np.zeros((len(refl.n_index), keys.size))
        incidence[np.arange(len(refl.n_index)), inverse] = refl.weight
        multiplicity = incidence.sum(axis=0)
        n_line = keys.astype(float)  # h^2 + k^2 + l^2 of each line (the cubic line key)
        k_pol = _polarisation_k(neutron, monochromator_two_theta_deg)
        coefficients = [] if neutron else [waasmaier_kirfel(el) for el in self.elements]
        lengths = [scattering_length_fm(el, scattering_lengths_fm) for el in self.elements] if neutron else []
        out_tt, out_int, out_present = [], [], []
        for _index, comp in enumerate(components):
            lam = comp.wavelength_angstrom
            fp = np.array([anomalous(el, lam) if anomalous_dispersion and not neutron else (0.0, 0.0) for el in self.elements])
            sin_theta = lam * np.sqrt(n_line)[None, :] / (2 * a[:, None])  # (N, lines)
            present = (sin_theta < 1.0)
            theta = np.arcsin(np.where(present, sin_theta, 0.5))
            two_theta = 2 * np.degrees(theta)
            present &= (two_theta >= lo) & (two_theta <= hi)
            lp = (1 + k_pol * np.cos(2 * theta) ** 2) / ((1 + k_pol) * np.sin(theta) ** 2 * np.cos(theta))
            sum_f2 = np.empty((n, keys.size))
            for start in range(0, n, chunk):
                stop = min(n, start + chunk)
                # form factors and Debye-Waller factors depend on s only: evaluate them per line (a few dozen
                # values of N = h^2+k^2+l^2) and spread them over the line's reflections
                s2 = n_line[None, :] / (2 * a[start:stop, None]) ** 2  # s^2 = N / (4 a^2), (n, lines)
                form = np.empty((n_elements, stop - start, keys.size), dtype=complex)
                for e, length in enumerate(lengths):  # neutrons: b_c at every s
                    form[e] = length
                for e, (c, ca, cb) in enumerate(coefficients):
                    form[e] = c + np.exp(-s2[..., None] * cb) @ ca + (fp[e, 0] + 1j * fp[e, 1])
                group_f = np.einsum("nge,enl->ngl", occ[start:stop], form) * np.exp(-b[start:stop, :, None] * s2[:, None, :])
                structure_factor = np.einsum("ngr,rg->nr", group_f[:, :, inverse], refl.phases)
                sum_f2[start:stop] = (structure_factor.real**2 + structure_factor.imag**2) @ incidence
            out_tt.append(two_theta)
            out_int.append(np.where(present, comp.weight * lp * sum_f2, 0.0))
            out_present.append(present)
        return {
            "line_key": np.tile(keys, len(components)),
            "component": np.repeat(np.arange(len(components)), keys.size),
            "multiplicity": np.tile(np.rint(multiplicity).astype(int), len(components)),
            "two_theta_deg": np.hstack(out_tt),
            "d_angstrom": np.tile(a[:, None] / np.sqrt(n_line)[None, :], (1, len(components))),
            "intensity": np.hstack(out_int),
            "present": np.hstack(out_present),
        }

    def pattern(
        self,
        wavelength: str | float = "CuKa1",
        two_theta_range: tuple[float, float] = (10.0, 120.0),
        a_angstrom: float | None = None,
        anomalous_dispersion: bool = True,
        monochromator_two_theta_deg: float | None = None,
        form_factors: str = "waasmaier-kirfel",
        occupancy_matrix: np.ndarray | None = None,
        b_iso: np.ndarray | None = None,
        b_by_element: dict[str, float] | None = None,
        size_nm: float | None = None,
        caglioti_uvw: tuple[float, float, float] | None = None,
        radiation: str = "xray",
        scattering_lengths_fm: dict[str, float] | None = None,
    ) -> Pattern:
        """The powder pattern: peak list as a DataFrame plus conventions (equations in the module docstring).
        ``radiation`` "neutron" needs ``wavelength`` in Å (not a named X-ray line); ``scattering_lengths_fm``
        replaces Sears' b_c of the elements it names (neutrons only)."""
        import pandas as pd

        check_profile(two_theta_range, size_nm, caglioti_uvw)
        neutron = check_radiation_options(radiation, wavelength, monochromator_two_theta_deg, form_factors,
                                         scattering_lengths_fm)
        components = resolve_wavelength(wavelength)
        arrays = self.peak_arrays(
            wavelength=components, two_theta_range=two_theta_range, a_angstrom=a_angstrom,
            anomalous_dispersion=anomalous_dispersion, monochromator_two_theta_deg=monochromator_two_theta_deg,
            form_factors=form_factors, occupancy_matrix=occupancy_matrix, b_iso=b_iso, b_by_element=b_by_element,
            radiation=radiation, scattering_lengths_fm=scattering_lengths_fm)
        wavelengths = np.array([components[int(i)].wavelength_angstrom for i in arrays["component"]])
        order = np.lexsort((wavelengths, arrays["two_theta_deg"]))  # by 2theta, then K-alpha1 before K-alpha2
        families = [self._cache.families[key] for key in arrays["line_key"][order]] if self._cache else []
        intensity = arrays["intensity"][order]
        first = np.array([f[0] for f in families], dtype=int).reshape(-1, 3)
        peaks = pd.DataFrame({
            "h": first[:, 0],
            "k": first[:, 1],
            "l": first[:, 2],
            "hkl": [[list(t) for t in f] for f in families],
            "two_theta_deg": arrays["two_theta_deg"][order],
            "d_angstrom": arrays["d_angstrom"][order],
            "multiplicity": arrays["multiplicity"][order].astype(int),
            "f_squared": arrays["f_squared"][order],
            "intensity": intensity,
            "intensity_rel": np.minimum(100.0, 100.0 * intensity / intensity.max()) if intensity.size else intensity,
            "component": [components[int(i)].name for i in arrays["component"][order]],
            "wavelength_angstrom": wavelengths[order],
        })
        lo, hi = (float(v) for v in two_theta_range)
        conventions = {
            "radiation": "neutron (constant wavelength)" if neutron else "xray",
            "form_factors": FORM_FACTOR_TABLES[form_factors],
            "anomalous_dispersion": "Chantler f', f'' via xraydb at each wavelength" if anomalous_dispersion else "off",
            "debye_waller": "per element exp(-B_el s^2)" if b_by_element is not None else "per site exp(-B s^2), s = sin(theta)/lambda",
            "lorentz_polarisation": (
                "Bragg-Brentano, unpolarised: (1 + cos^2 2theta) / (2 sin^2 theta cos theta)"
                if monochromator_two_theta_deg is None else
                f"Bragg-Brentano with monochromator 2theta_M = {monochromator_two_theta_deg:g} deg: "
                "(1 + cos^2 2theta_M cos^2 2theta) / ((1 + cos^2 2theta_M) sin^2 theta cos theta)"
            ),
            "wavelength_components": [{"name": c.name, "wavelength_angstrom": c.wavelength_angstrom, "weight": c.weight} for c in components],
            "intensity": "integrated: weight x LP x sum over the line's reflections of |F|^2 (electrons^2)",
            "intensity_rel": "strongest line = 100",
            "reflections": "F-centring absences and -43m symmetry used; Friedel mates separate" if self.f43m else (
                f"one per orbit of the point group found by spglib ({len(self.point_group)} rotations); absences computed"
                if self.point_group is not None else "all reflections enumerated"),
            **self.notes,
        }
        if neutron:
            conventions.update(_neutron_conventions(self.elements, caglioti_uvw, scattering_lengths_fm))
        return Pattern(
            name=self.name, peaks=peaks, components=components, a_angstrom=self._a(a_angstrom), two_theta_range=(lo, hi),
            conventions=conventions, size_nm=size_nm, caglioti_uvw=caglioti_uvw or DEFAULT_CAGLIOTI_UVW,
        )


def check_profile(two_theta_range: tuple[float, float], size_nm: float | None = None,
                  caglioti_uvw: tuple[float, float, float] | None = None) -> None:
    """Refuse a profile that has no positive width: size_nm <= 0, or Caglioti U, V, W giving
    FWHM^2 = U tan^2 theta + V tan theta + W <= 0 at either end of the 2theta range."""
    if size_nm is not None and not size_nm > 0:
        raise ParameterError("size_nm", f"crystallite size must be positive, got {size_nm:g}")
    if caglioti_uvw:
        u, v, w = caglioti_uvw
        for two_theta in two_theta_range:
            t = np.tan(np.radians(two_theta / 2))
            if not u * t**2 + v * t + w > 0:
                raise ParameterError("caglioti_uvw", f"U, V, W = {u:g}, {v:g}, {w:g} give no positive FWHM^2 at 2theta = {two_theta:g} deg")


def check_radiation_options(radiation: str, wavelength, monochromator_two_theta_deg: float | None = None,
                           form_factors: str = "waasmaier-kirfel", scattering_lengths_fm: dict | None = None) -> bool:
    """True for neutrons (after refusing what does not apply to them: a named X-ray line, a monochromator's
    polarisation, pymatgen's X-ray form factors), False for X-rays; another radiation is refused, and so are
    scattering lengths given for X-rays or that are not finite numbers of an element."""
    neutron = check_radiation(radiation, wavelength)
    if scattering_lengths_fm:
        if not neutron:
            raise ParameterError("scattering_lengths_fm", "scattering lengths are for neutrons (radiation 'neutron')")
        for element, value in scattering_lengths_fm.items():
            if not is_element(str(element)):
                raise ParameterError("scattering_lengths_fm", f"{element!r} is not an element symbol")
            if not isinstance(value, (int, float)) or not np.isfinite(value) or not abs(value) < 100.0:
                raise ParameterError("scattering_lengths_fm", f"{element}: {value!r} is not a scattering length in fm "
                                                              "(|b| < 100)")
    if neutron and monochromator_two_theta_deg is not None:
        raise ParameterError("monochromator_two_theta_deg", "neutrons are not polarised by a monochromator: no "
                                                            "polarisation factor to set")
    if neutron and form_factors != "waasmaier-kirfel":
        raise ParameterError("form_factors", f"{form_factors!r} are X-ray form factors: neutrons use Sears' b_c")
    return neutron


def _polarisation_k(neutron: bool, monochromator_two_theta_deg: float | None) -> float:
    """K of LP = (1 + K cos^2 2theta) / ((1 + K) sin^2 theta cos theta): 1 for an unpolarised X-ray beam,
    cos^2 2theta_M behind a monochromator, 0 for neutrons (the Lorentz factor alone)."""
    if neutron:
        return 0.0
    return 1.0 if monochromator_two_theta_deg is None else float(np.cos(np.radians(monochromator_two_theta_deg)) ** 2)


def scattering_length_fm(element: str, given: dict[str, float] | None = None) -> float:
    """b (fm) of ``element``: the ``given`` value when there is one, else Sears' b_c."""
    if given and element in given:
        return float(given[element])
    return coherent_scattering_length_fm(element)


def _neutron_conventions(elements: list[str], caglioti_uvw, given: dict[str, float] | None = None) -> dict[str, str]:
    """What a neutron pattern's conventions say in place of the X-ray ones."""
    out = {
        "form_factors": f"none: bound coherent scattering lengths b_c (fm), independent of s; {SEARS_1992}",
        "scattering_lengths_fm": ", ".join(f"{el} {scattering_length_fm(el, given):g}" + (" (given)" if given and el in given else "")
                                           for el in elements),
        "anomalous_dispersion": "not applicable (neutrons)",
        "lorentz_polarisation": "constant-wavelength neutron powder: Lorentz 1 / (sin^2 theta cos theta), no polarisation",
        "intensity": "integrated: weight x L x sum over the line's reflections of |F|^2 (fm^2)",
        "absorption": "not modelled (nor extinction); natural Li absorbs (sigma_a 70.5 b at 1.798 A): correct the "
                      "data for it (mu R) before comparing intensities over a wide 2theta range",
    }
    absorbers = neutron_absorbers(elements)
    if absorbers:
        out["absorption"] = (f"{', '.join(absorbers)} absorb neutrons strongly (|b''| >= 0.1 fm): the imaginary part of "
                             "b and the sample's absorption are not modelled")
    elif "Li" not in elements:
        out["absorption"] = "not modelled (nor extinction)"
    if caglioti_uvw is None:
        out["profile"] = ("the default Caglioti U, V, W are a laboratory X-ray diffractometer's: give your neutron "
                          "instrument's (--caglioti) for its line widths")
    return out


#: Default Caglioti parameters (deg^2): FWHM^2 = U tan^2 theta + V tan theta + W, giving a
#: 0.05-0.08 deg FWHM over 10-120 deg, typical of a laboratory Bragg-Brentano diffractometer.
DEFAULT_CAGLIOTI_UVW = (0.004, -0.002, 0.0025)
#: Scherrer constant for spherical crystallites.
SCHERRER_K = 0.9


@dataclass(frozen=True)
class PatternConditions:
    """How a powder pattern is measured, set once and handed to every pattern (cf. pymatgen's
    ``XRDCalculator(wavelength=...)``). Checked when made: a bad value raises ParameterError naming it.

    ``wavelength``: 'CuKa1', 'CuKa12' (K-alpha1 + K-alpha2 at 2:1), 'MoKa1', ... or a value in Å;
    ``two_theta_range`` (deg, 0 < min < max < 180); ``anomalous_dispersion`` (Chantler f', f'' from xraydb);
    ``monochromator_two_theta_deg`` (None: unpolarised beam; graphite 002 with Cu: 26.57);
    ``size_nm`` (Scherrer broadening, K = 0.9) and ``caglioti_uvw`` (deg^2) for the profile;
    ``form_factors`` (a key of :data:`FORM_FACTOR_TABLES`); ``radiation``: 'xray' or 'neutron' (constant
    wavelength: Sears b_c, no polarisation; ``wavelength`` must then be a value in Å, e.g. 1.594, and
    ``monochromator_two_theta_deg`` None); ``scattering_lengths_fm``: element -> b (fm) in place of Sears' b_c
    (an isotope-enriched sample, e.g. {"Li": -2.22} for 7Li), neutrons only.
    """

    wavelength: str | float = "CuKa1"
    two_theta_range: tuple[float, float] = (10.0, 120.0)
    anomalous_dispersion: bool = True
    monochromator_two_theta_deg: float | None = None
    size_nm: float | None = None
    caglioti_uvw: tuple[float, float, float] | None = None
    form_factors: str = "waasmaier-kirfel"
    radiation: str = "xray"
    scattering_lengths_fm: dict[str, float] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        check_radiation_options(self.radiation, self.wavelength, self.monochromator_two_theta_deg, self.form_factors,
                               self.scattering_lengths_fm)
        if self.form_factors not in FORM_FACTOR_TABLES:
            raise ParameterError("form_factors", f"unknown table {self.form_factors!r} (one of {', '.join(FORM_FACTOR_TABLES)})")
        try:
            lo, hi = (float(v) for v in self.two_theta_range)
        except (TypeError, ValueError):
            raise ParameterError("two_theta_range", f"{self.two_theta_range!r} is not two numbers (deg)") from None
        if not (0.0 < lo < hi < 180.0):
            raise ParameterError("two_theta_range", f"2theta range {lo:g}-{hi:g} deg must satisfy 0 < min < max < 180")
        object.__setattr__(self, "two_theta_range", (lo, hi))
        if self.caglioti_uvw is not None:
            object.__setattr__(self, "caglioti_uvw", tuple(float(v) for v in self.caglioti_uvw))
        if self.monochromator_two_theta_deg is not None and not 0.0 < self.monochromator_two_theta_deg < 180.0:
            raise ParameterError("monochromator_two_theta_deg", f"{self.monochromator_two_theta_deg:g} deg is not a 2theta angle")
        resolve_wavelength(self.wavelength)
        check_profile((lo, hi), self.size_nm, self.caglioti_uvw)

    def options(self) -> dict:
        """The keyword arguments of :meth:`XRDModel.pattern`."""
        return {"wavelength": self.wavelength, "two_theta_range": self.two_theta_range,
                "anomalous_dispersion": self.anomalous_dispersion,
                "monochromator_two_theta_deg": self.monochromator_two_theta_deg, "form_factors": self.form_factors,
                "size_nm": self.size_nm, "caglioti_uvw": self.caglioti_uvw, "radiation": self.radiation,
                "scattering_lengths_fm": self.scattering_lengths_fm}


@dataclass
class Pattern:
    """A simulated powder pattern: the peak list (``peaks``, a pandas DataFrame) and how it was made."""

    name: str
    peaks: pd.DataFrame
    components: list[WavelengthComponent]
    a_angstrom: float
    two_theta_range: tuple[float, float]
    conventions: dict
    size_nm: float | None = None
    caglioti_uvw: tuple[float, float, float] = DEFAULT_CAGLIOTI_UVW
    extra: dict = field(default_factory=dict)
    #: Where a comes from (set for an analysed structure's pattern; None for a bare model's).
    lattice: LatticeParameter | None = None

    @property
    def wavelength_angstrom(self) -> float:
        return self.components[0].wavelength_angstrom

    def fwhm_deg(self, two_theta_deg: np.ndarray, size_nm: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(total FWHM, eta) of the Thompson-Cox-Hastings pseudo-Voigt at each 2theta.

        Gaussian part from Caglioti: Gamma_G^2 = U tan^2 theta + V tan theta + W (deg^2); Lorentzian part
        from Scherrer size broadening: Gamma_L = K lambda / (L cos theta) (rad -> deg). Combined by
        P. Thompson, D. E. Cox and J. B. Hastings, J. Appl. Cryst. 20 (1987) 79.
        """
        u, v, w = self.caglioti_uvw
        size = self.size_nm if size_nm is None else size_nm
        theta = np.radians(np.asarray(two_theta_deg) / 2)
        gauss = np.sqrt(np.clip(u * np.tan(theta) ** 2 + v * np.tan(theta) + w, 1e-8, None))
        if size:
            lorentz = np.degrees(SCHERRER_K * (self.wavelength_angstrom / 10.0) / (size * np.cos(theta)))
        else:
            lorentz = np.zeros_like(gauss)
        total = (gauss**5 + 2.69269 * gauss**4 * lorentz + 2.42843 * gauss**3 * lorentz**2
                 + 4.47163 * gauss**2 * lorentz**3 + 0.07842 * gauss * lorentz**4 + lorentz**5) ** 0.2
        q = lorentz / total
        eta = 1.36603 * q - 0.47719 * q**2 + 0.11116 * q**3
        return total, eta

    def profile(self, two_theta: np.ndarray | None = None, step_deg: float = 0.01, size_nm: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Pseudo-Voigt profile (area of each line = its integrated intensity) on a 2theta grid."""
        lo, hi = self.two_theta_range
        x = np.arange(lo, hi + step_deg / 2, step_deg) if two_theta is None else np.asarray(two_theta, dtype=float)
        y = np.zeros_like(x)
        if not len(self.peaks):
            return x, y
        centres = self.peaks["two_theta_deg"].to_numpy()
        areas = self.peaks["intensity"].to_numpy()
        fwhm, eta = self.fwhm_deg(centres, size_nm)
        for start in range(0, len(centres), 64):
            c, ar, f, e = (arr[start:start + 64, None] for arr in (centres, areas, fwhm, eta))
            dx = x[None, :] - c
            gauss = np.sqrt(4 * np.log(2) / np.pi) / f * np.exp(-4 * np.log(2) * dx**2 / f**2)
            lorentz = (2 / (np.pi * f)) / (1 + 4 * dx**2 / f**2)
            y += np.sum(ar * (e * lorentz + (1 - e) * gauss), axis=0)
        return x, y

    def a_text(self, digits: int = 4, unit: str = "Å") -> str:
        """'a = 9.9805 Å' with, for a predicted a, its sigma and where it comes from ('a = 9.9805 ± 0.023 Å
        (lattice model, extrapolated: halide excess +0.4)'): what plots and the xrd report say about a."""
        text = f"a = {self.a_angstrom:.{digits}f}"
        if self.lattice is None or self.lattice.kind != "predicted":
            return f"{text} {unit}"
        sigma = "" if self.lattice.sigma_angstrom is None else f" ± {self.lattice.sigma_angstrom:.3f}"
        if unit != "Å":
            sigma = sigma.replace("±", "+-")
        return f"{text}{sigma} {unit} ({self.lattice.label()})"

    def lines(self, min_intensity_rel: float = 0.0) -> list[dict]:
        """The peak list as rows (hkl as '511/333'), lines below ``min_intensity_rel`` left out."""
        return [{"hkl": hkl_label(row.hkl, "/"), "two_theta_deg": float(row.two_theta_deg), "d_angstrom": float(row.d_angstrom),
                 "multiplicity": int(row.multiplicity), "f_squared": float(row.f_squared),
                 "intensity_rel": float(row.intensity_rel), "component": row.component}
                for row in self.peaks.itertuples(index=False) if row.intensity_rel >= min_intensity_rel]

    def to_json_dict(self, min_intensity_rel: float = 0.0) -> dict:
        """The pattern as ``argyrodb xrd --json`` prints it (lines at least ``min_intensity_rel`` % of the strongest)."""
        peaks = []
        for row in self.peaks.itertuples(index=False):
            if row.intensity_rel < min_intensity_rel:
                continue
            peaks.append({
                "hkl": row.hkl,
                "two_theta_deg": round(float(row.two_theta_deg), 5),
                "d_angstrom": round(float(row.d_angstrom), 6),
                "multiplicity": int(row.multiplicity),
                "f_squared": float(row.f_squared),
                "intensity": float(row.intensity),
                "intensity_rel": round(float(row.intensity_rel), 4),
                "component": row.component,
                "wavelength_angstrom": float(row.wavelength_angstrom),
            })
        return {
            "name": self.name,
            "wavelength_angstrom": self.wavelength_angstrom,
            "a_angstrom": self.a_angstrom,
            **({} if self.lattice is None else self.lattice.json_fields()),
            "two_theta_range_deg": list(self.two_theta_range),
            "conventions": self.conventions,
            "peaks": peaks,
        }

    def peak_table_csv(self) -> str:
        """The peak list as CSV text (``argyrodb xrd --csv``), hkl families as labels."""
        frame = self.peaks.copy()
        frame["hkl"] = [hkl_label(fam) for fam in frame["hkl"]]
        return frame.to_csv(index=False, float_format="%.6g")

    def xy_text(self, step_deg: float = 0.01) -> str:
        """The simulated profile as two columns (2theta in deg, intensity) every ``step_deg``, with a header."""
        x, y = self.profile(step_deg=step_deg)
        header = (f"# argyrodb simulated powder pattern of {self.name}; {self.a_text(5, 'A')}; "
                  f"lambda = {', '.join(f'{c.name} {c.wavelength_angstrom:.6f} A' for c in self.components)}\n"
                  "# two_theta_deg intensity\n")
        return header + "\n".join(f"{a:.4f} {b:.6g}" for a, b in zip(x, y)) + "\n"


# --------------------------------------------------------------------------- entry point


#: Models of recently simulated pymatgen Structures, by content: the symmetry is found once per structure.
_STRUCTURE_MODELS: dict[tuple, XRDModel] = {}
_STRUCTURE_MODELS_MAX = 16


def _fingerprint(structure) -> tuple:
    """The content of a pymatgen Structure (lattice, positions, species and occupancies, B) as a dict key."""
    b_values = structure.site_properties.get("b_iso")
    return (np.ascontiguousarray(structure.lattice.matrix, dtype=float).tobytes(),
            np.ascontiguousarray(structure.frac_coords, dtype=float).tobytes(),
            tuple(structure.species_and_occu), None if b_values is None else tuple(b_values))


def model_for(structure) -> XRDModel:
    """An :class:`XRDModel` of an analysed structure or a pymatgen ``Structure`` (a Structure's model, with
    its symmetry and reflections, is reused while its content is unchanged)."""
    if isinstance(structure, AnalysedStructure):
        return XRDModel.from_analysed(structure)
    if is_pymatgen_structure(structure):
        key = _fingerprint(structure)
        model = _STRUCTURE_MODELS.get(key)
        if model is None:
            model = XRDModel.from_structure(structure)
            if len(_STRUCTURE_MODELS) >= _STRUCTURE_MODELS_MAX:
                _STRUCTURE_MODELS.pop(next(iter(_STRUCTURE_MODELS)))
            _STRUCTURE_MODELS[key] = model
        elif "debye_waller" in model.notes:
            import warnings

            warnings.warn(f"{model.name}: no displacement parameters (b_iso site property): B = 0 assumed for every site",
                          NoDisplacementWarning, stacklevel=3)
        return model
    raise InputError("structure", f"cannot simulate XRD of a {type(structure).__name__} (an AnalysedStructure or pymatgen Structure)")


def simulate(structure, a_angstrom: float | None = None, **options) -> Pattern:
    """The powder pattern of an analysed structure (or a pymatgen ``Structure``).

    Options are those of :meth:`XRDModel.pattern`: ``wavelength`` ('CuKa1', 'CuKa12', 'MoKa', 1.542, ...),
    ``two_theta_range`` (deg), ``anomalous_dispersion``, ``monochromator_two_theta_deg``,
    ``form_factors``, ``b_by_element``, ``size_nm``, ``caglioti_uvw``, ``radiation`` ('xray', 'neutron').
    """
    return model_for(structure).pattern(a_angstrom=a_angstrom, **options)
