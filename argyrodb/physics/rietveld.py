"""Powder refinement of argyrodites: Rietveld (structure) and Pawley (free line intensities).

Model of the observed counts at 2theta_i (Bragg-Brentano, Cu K-alpha1/K-alpha2 by default)::

    y_calc(2theta_i) = b(2theta_i) + sum_phases S_p sum_lines I_pl  Phi(2theta_i - 2theta_pl - dz - D cos theta_pl)

* I_pl: the phase's integrated line intensities from :class:`argyrodb.physics.xrd.XRDModel` (component weight x
  Lorentz-polarisation x sum |F|^2, with the refined lattice parameter, site occupancies and B; the cached
  phase sums make a new structure factor a small matrix product). Pawley mode replaces S_p I_pl by free,
  non-negative line intensities (K-alpha2 follows K-alpha1 by the weight and LP ratio).
* Phi: Thompson-Cox-Hastings pseudo-Voigt (J. Appl. Cryst. 20 (1987) 79) with
  Gamma_G^2 = U_p tan^2 theta + V tan theta + W and Gamma_L = X tan theta + Y_p / cos theta (U_p per phase:
  Gaussian microstrain, so a sharp impurity is not given the main phase's strain width; Y_p per phase:
  crystallite size, apparent size = K lambda / (Y_p [rad]) with K = 0.9 and no instrument subtracted; V, W, X
  shared; ``phase_widths`` chooses which of U, X are per phase), folded
  with a one-parameter axial-divergence aberration: rays at an axial angle eps diffract at
  2theta - (eps^2 / 2) cot 2theta (Cheary & Coelho, J. Appl. Cryst. 31 (1998) 851), eps spread
  triangularly over [0, A] (two Soller slits) and integrated by Gauss-Legendre quadrature. Low-angle lines
  get a low-angle tail, lines above 90 deg a high-angle one.
* dz zero shift, D cos theta the sample-displacement shift (D = -2 s / R in degrees for displacement s at
  goniometer radius R), -T sin 2theta the sample-transparency shift (T = 1 / (2 mu R), mu the sample's linear
  absorption coefficient; Klug & Alexander, X-ray Diffraction Procedures, 1974).
* b: Chebyshev polynomial of the first kind in x = 2 (2theta - min) / (max - min) - 1 with n terms.

The scale factors S_p (or Pawley intensities) and the background coefficients enter linearly: for any
values of the other parameters they are solved by bounded linear least squares (scales >= 0), and
:func:`scipy.optimize.least_squares` ("trf", bounds) refines the rest (variable projection: Golub & Pereyra,
SIAM J. Numer. Anal. 10 (1973) 413). Derivatives are finite differences of the model; a change of an
occupancy or B re-evaluates only line intensities (cached profiles), a change of a profile parameter only
the profiles (cached intensities). The non-linear parameters are typed
(:class:`~argyrodb.physics.parameters.RefinementParameter`: kind, phase, site, element, step, bounds); their names
are the JSON's and ``--refine``'s, and a :class:`RefinementSettings` made once says how a pattern is refined.

Weights: 1/sigma^2 from the data file, else Poisson weights from the model (1/max(y_calc, 1)), iterated;
never 1/y_obs (which biases the background low). Agreement factors as TOPAS and GSAS report them::

    R_p = sum |y_o - y_c| / sum y_o,   R_wp = sqrt(sum w (y_o - y_c)^2 / sum w y_o^2),
    R_exp = sqrt((N - P) / sum w y_o^2),   GoF = R_wp / R_exp = sqrt(chi^2 / (N - P)).

esds: square roots of the covariance diagonal (J^T J)^-1 scaled by GoF^2. Weight fractions by the
Hill-Howard relation W_p = S_p (Z M V)_p / sum_i S_i (Z M V)_i (J. Appl. Cryst. 20 (1987) 467), with
(Z M) the cell mass and V the cell volume.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from ..core.analysis import AnalysedStructure
from ..core.chemistry import atomic_mass
from ..core.errors import InputError, ParameterError
from .parameters import (
    KIND_SPECS,
    ParameterKind,
    ParameterSelection,
    RefinementParameter,
    parse_parameter,
    selected,
)
from .scattering import WavelengthComponent, resolve_wavelength
from .xrd import NoDisplacementWarning, XRDModel

#: Profiles are evaluated within this many FWHM of each line (the truncated area is restored). A Lorentzian keeps
#: 2.3 % of its area beyond 14 FWHM; those tails went into the background and shifted the weak lines that carry
#: the 4a/4d contrast. Measured on the four xrayutilities patterns of tests/data/refine (14 -> 25): GoF lower in
#: every case (1.083 -> 1.056, 1.045 -> 1.028, 1.101 -> 1.075, 1.042 -> 1.018), the largest Br/I occupancy
#: error 0.025 -> 0.020, LiCl 2.90/2.84 -> 2.95/2.88 wt% of 3.0, for ~1.4x the time; 40 and 60 change little more.
WINDOW_FWHM = 25.0
#: Quadrature nodes over the axial divergence (4 and 6 give a within 2e-5 A on the synthetic patterns).
AXIAL_NODES = 4
#: TCH width terms refined per phase (sample broadening: U Gaussian and X Lorentzian microstrain, ~tan theta);
#: V, W (instrument) are shared, Y (crystallite size) is always per phase.
PHASE_WIDTHS: tuple[str, ...] = ("U",)
#: Scherrer constant for the apparent crystallite size.
SCHERRER_K = 0.9
#: Anion sites of an argyrodite whose S/halide occupancies may be refined.
ANION_WYCKOFF = ("4a", "4c", "4d")
HALIDES = ("F", "Cl", "Br", "I")
#: Correlations above this are reported.
CORRELATION_REPORTED = 0.9


# --------------------------------------------------------------------------- profile


def tch_widths(two_theta_deg: np.ndarray, u: float, v: float, w: float, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    """TCH pseudo-Voigt: total FWHM (deg) and Lorentzian fraction eta at each 2theta."""
    theta = np.radians(two_theta_deg / 2.0)
    tan = np.tan(theta)
    gauss = np.sqrt(np.maximum(u * tan**2 + v * tan + w, 1e-10))
    lorentz = np.maximum(x * tan + y / np.cos(theta), 0.0)
    total = (gauss**5 + 2.69269 * gauss**4 * lorentz + 2.42843 * gauss**3 * lorentz**2 + 4.47163 * gauss**2 * lorentz**3
             + 0.07842 * gauss * lorentz**4 + lorentz**5) ** 0.2
    q = lorentz / total
    eta = np.clip(1.36603 * q - 0.47719 * q**2 + 0.11116 * q**3, 0.0, 1.0)
    return total, eta


_LN2 = math.log(2.0)
_GAUSS_NORM = math.sqrt(math.log(2.0) / math.pi)


def pseudo_voigt(dx: np.ndarray, fwhm: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Unit-area pseudo-Voigt at offsets ``dx`` (deg)."""
    inv_hw = 2.0 / fwhm
    u2 = (dx * inv_hw) ** 2
    return inv_hw * (eta / (np.pi * (1.0 + u2)) + (1.0 - eta) * _GAUSS_NORM * np.exp(-_LN2 * u2))


@lru_cache(maxsize=4)
def _axial_quadrature(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes t in [0, 1] and weights of the triangular density 2 (1 - t), Gauss-Legendre."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    t = (nodes + 1.0) / 2.0
    density = (1.0 - t) * weights
    return t, density / density.sum()


def _window_area(half_window: np.ndarray, fwhm: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Area of the unit pseudo-Voigt within +-half_window (to restore what the window cuts off)."""
    from scipy.special import erf

    ratio = half_window / (fwhm / 2.0)
    return eta * (2.0 / np.pi) * np.arctan(ratio) + (1.0 - eta) * erf(np.sqrt(np.log(2.0)) * ratio)


@dataclass
class LineProfiles:
    """Sparse profile matrix of a set of lines on the data's 2theta grid: (point, line, value) triples."""

    points: np.ndarray
    lines: np.ndarray
    values: np.ndarray
    n_points: int

    def pattern(self, intensities: np.ndarray) -> np.ndarray:
        return np.bincount(self.points, weights=self.values * intensities[self.lines], minlength=self.n_points)

    def columns(self, groups: np.ndarray, n_groups: int, weights: np.ndarray) -> np.ndarray:
        """Dense (points, n_groups) matrix: column g sums the profiles of lines with ``groups == g`` times ``weights``."""
        flat = self.points * n_groups + groups[self.lines]
        return np.bincount(flat, weights=self.values * weights[self.lines],
                           minlength=self.n_points * n_groups).reshape(self.n_points, n_groups)


def line_profiles(two_theta: np.ndarray, centres: np.ndarray, fwhm: np.ndarray, eta: np.ndarray,
                  axial_deg: float) -> LineProfiles:
    """Profiles of lines at ``centres`` (deg) on the grid ``two_theta`` (increasing), each of unit area."""
    n = two_theta.size
    if centres.size == 0:
        return LineProfiles(np.empty(0, int), np.empty(0, int), np.empty(0), n)
    eps_max = np.radians(max(axial_deg, 0.0))
    cot = 1.0 / np.tan(np.radians(np.clip(centres, 1.0, 179.0)))
    max_shift = np.degrees(eps_max**2 / 2.0 * np.abs(cot))
    half = WINDOW_FWHM * fwhm
    lo = np.searchsorted(two_theta, centres - half - max_shift * (cot > 0), side="left")
    hi = np.searchsorted(two_theta, centres + half + max_shift * (cot < 0), side="right")
    counts = np.maximum(hi - lo, 0)
    lines = np.repeat(np.arange(centres.size), counts)
    starts = np.repeat(lo - np.cumsum(np.concatenate(([0], counts[:-1]))), counts)
    points = np.arange(lines.size) + starts
    dx = two_theta[points] - centres[lines]
    # pseudo_voigt with its per-line factors (2/FWHM, the Lorentz and Gauss weights, the window's area) taken
    # once per line instead of once per point and axial node: this is the refinement's innermost loop
    inv_hw_line = 2.0 / fwhm
    area = _window_area(half, fwhm, eta)
    inv_hw = inv_hw_line[lines]
    lorentz = (eta * inv_hw_line / (np.pi * area))[lines]
    gauss = ((1.0 - eta) * _GAUSS_NORM * inv_hw_line / area)[lines]

    def shape(offset: np.ndarray) -> np.ndarray:
        u2 = (offset * inv_hw) ** 2
        return lorentz / (1.0 + u2) + gauss * np.exp(-_LN2 * u2)

    if eps_max <= 0:
        return LineProfiles(points, lines, shape(dx), n)
    t, density = _axial_quadrature(AXIAL_NODES)
    values = np.zeros(dx.size)
    shift_scale = np.degrees(eps_max**2 / 2.0) * cot[lines]
    for tk, wk in zip(t, density):
        values += wk * shape(dx + tk**2 * shift_scale)
    return LineProfiles(points, lines, values, n)


def chebyshev_basis(two_theta: np.ndarray, n_terms: int) -> np.ndarray:
    x = 2.0 * (two_theta - two_theta[0]) / (two_theta[-1] - two_theta[0]) - 1.0
    return np.polynomial.chebyshev.chebvander(x, n_terms - 1)


# --------------------------------------------------------------------------- parameters


#: The parameters of the whole pattern (the instrument and the sample's position); U and X are added per phase or
#: shared as ``phase_widths`` says.
ZERO_SHIFT = RefinementParameter(ParameterKind.ZERO_SHIFT)
DISPLACEMENT = RefinementParameter(ParameterKind.DISPLACEMENT)
TRANSPARENCY = RefinementParameter(ParameterKind.TRANSPARENCY)
V = RefinementParameter(ParameterKind.V)
W = RefinementParameter(ParameterKind.W)
AXIAL = RefinementParameter(ParameterKind.AXIAL)


@dataclass
class Parameter:
    """One parameter of a refinement: its ``definition`` (a :class:`~argyrodb.physics.parameters.RefinementParameter`:
    kind, phase, site, element, step, bounds), its value, whether it is refined, and its esd after the fit."""

    definition: RefinementParameter
    value: float
    refine: bool = True
    esd: float | None = None
    note: str = ""

    @property
    def name(self) -> str:
        """The name in the refinement's JSON and in ``--refine`` (e.g. ``a:LMA``, ``occ:4a:Cl@LMA``)."""
        return self.definition.name

    @property
    def lower(self) -> float:
        """Lower bound, in the kind's unit."""
        return self.definition.lower

    @property
    def upper(self) -> float:
        """Upper bound, in the kind's unit."""
        return self.definition.upper

    @property
    def step(self) -> float:
        """The solver's scale of this parameter (see :mod:`argyrodb.physics.parameters`)."""
        return self.definition.step


@dataclass
class OccupancyRule:
    """How one element's occupancy on an anion site follows the parameters: free (``parameter``), the site's
    filler (``site_sum`` minus the others: S), or tied to a free one on another site so that the element's
    total amount per formula unit stays ``total_per_fu`` (``tied_to``)."""

    group: int
    element: str
    kind: str  # "free" | "filler" | "tied" | "fixed"
    parameter: RefinementParameter | None = None
    tied_to: tuple[int, str] | None = None
    total_per_fu: float | None = None

    def tie(self) -> tuple[tuple[int, str], float]:
        """A tied rule's partner (group, element) and the total per formula unit it keeps."""
        if self.tied_to is None or self.total_per_fu is None:
            raise ParameterError("rules", f"the tied rule of {self.element} on site group {self.group} needs tied_to and total_per_fu")
        return self.tied_to, self.total_per_fu


class Phase:
    """A crystalline phase in a refinement: its structure-factor engine, parameters and cell mass."""

    def __init__(self, name: str, xrd: XRDModel, a_angstrom: float, z_formula_units: float, structure: AnalysedStructure | None = None,
                 multiplicities: np.ndarray | None = None):
        self.name = name
        self.xrd = xrd
        self.a0 = float(a_angstrom)
        self.z = z_formula_units
        self.structure = structure
        self.base_occupancy = xrd.occupancy_matrix.copy()
        self.base_b = xrd.b_iso.copy()
        self.multiplicities = multiplicities if multiplicities is not None else np.array([len(g.images) for g in xrd.groups], float)
        self.rules: list[OccupancyRule] = []
        self.b_groups: dict[RefinementParameter, list[int]] = {}
        self.site_sums = self.base_occupancy.sum(axis=1)
        self.messages: list[str] = []

    @property
    def cubic(self) -> bool:
        return self.xrd.cubic

    @property
    def lattice_parameter(self) -> RefinementParameter | None:
        """The refinable lattice parameter (a cubic phase's a, bounds +-3 % of the start), else None."""
        return RefinementParameter.lattice(self.name, self.a0) if self.cubic else None

    def parameter(self, kind: ParameterKind) -> RefinementParameter:
        """This phase's parameter of ``kind`` (a, U, X or Y) with the kind's step and bounds."""
        if kind is ParameterKind.A:
            return RefinementParameter.lattice(self.name, self.a0)
        return RefinementParameter(kind, self.name)

    def key(self, what: str) -> str:
        """The name of this phase's parameter ``what`` (a, U, X or Y), e.g. ``a:LMA``."""
        return RefinementParameter(ParameterKind(what), self.name).name

    def occupancies(self, values: dict[str, float]) -> np.ndarray:
        """Occupancy matrix (group, element) for the parameter ``values`` (by name; missing ones: the start's)."""
        occ = self.base_occupancy.copy()
        col = {el: i for i, el in enumerate(self.xrd.elements)}
        for rule in self.rules:
            if rule.kind == "free" and rule.parameter is not None and rule.parameter.name in values:
                occ[rule.group, col[rule.element]] = values[rule.parameter.name]
        for rule in self.rules:
            if rule.kind == "tied":
                (other_group, _), total_per_fu = rule.tie()
                amount_other = occ[other_group, col[rule.element]] * self.multiplicities[other_group] / self.z
                occ[rule.group, col[rule.element]] = (total_per_fu - amount_other) * self.z / self.multiplicities[rule.group]
        for rule in self.rules:
            if rule.kind == "filler":
                others = sum(occ[rule.group, col[r.element]] for r in self.rules if r.group == rule.group and r.kind != "filler")
                occ[rule.group, col[rule.element]] = self.site_sums[rule.group] - others
        return occ

    def b_values(self, values: dict[str, float]) -> np.ndarray:
        """B (A^2) of every group for the parameter ``values`` (by name; missing ones: the start's)."""
        b = self.base_b.copy()
        for parameter, groups in self.b_groups.items():
            if parameter.name in values:
                b[groups] = values[parameter.name]
        return b

    def cell_mass(self, values: dict[str, float]) -> float:
        """Cell contents' mass in g/mol (Z M of Hill-Howard)."""
        occ = self.occupancies(values)
        masses = np.array([atomic_mass(el) for el in self.xrd.elements])
        return float(np.sum(self.multiplicities[:, None] * occ * masses[None, :]))

    def a(self, values: dict[str, float]) -> float:
        """The lattice parameter (A) for the parameter ``values`` (missing: the start's)."""
        return values.get(self._a_name, self.a0)

    @property
    def _a_name(self) -> str:
        return RefinementParameter(ParameterKind.A, self.name).name

    def volume(self, values: dict[str, float]) -> float:
        """Cell volume (A^3)."""
        if self.cubic:
            return self.a(values) ** 3
        return float(abs(np.linalg.det(self.xrd.lattice_matrix)))


#: Scatterers X-rays cannot tell apart on one site (electron counts within 2): one "class" each.
SCATTERING_CLASSES = ({"O", "F"}, {"S", "Cl"}, {"Se", "Br"}, {"I"})


def _scattering_class(element: str) -> int:
    return next((i for i, c in enumerate(SCATTERING_CLASSES) if element in c), 100 + hash(element) % 1000)


def automatic_ties(structure: AnalysedStructure) -> tuple[str, ...]:
    """Elements whose total per formula unit a refinement keeps by default: a site that holds three or more
    distinguishable scatterers (S, Br and I) has one electron count but two free occupancies, so the halides
    it shares with another anion site keep their totals (the start's composition) and only their 4a/4d split
    is refined. Sites of two scatterers (S/Cl and I) need no tie."""
    anion = [p for p in structure.positions if p.wyckoff.symbol in ANION_WYCKOFF]
    ambiguous = any(len({_scattering_class(el) for el in p.species() if p.species()[el] > 0}) >= 3 for p in anion)
    if not ambiguous:
        return ()
    shared = [el for el in HALIDES if el != "Cl" and sum(1 for p in anion if p.species().get(el, 0) > 0) >= 2]
    return tuple(shared)


def argyrodite_phase(structure: AnalysedStructure, tie_totals: tuple[str, ...] | None = None) -> Phase:
    """The argyrodite of a refinement: free Cl/Br/I occupancies on the anion sites 4a/4c/4d with each site's
    sum kept (S fills); elements in ``tie_totals`` keep their total per formula unit (the start structure's)
    and only their split between two sites is refined (None: :func:`automatic_ties`). One B per non-Li site;
    Li fixed."""
    xrd = XRDModel.from_analysed(structure)
    phase = Phase(structure.name, xrd, structure.a_angstrom, structure.z, structure=structure,
                  multiplicities=np.array([p.multiplicity for p in structure.positions], float))
    wyckoff = [p.wyckoff.symbol for p in structure.positions]
    anion_groups = [i for i, w in enumerate(wyckoff) if w in ANION_WYCKOFF]
    col = {el: i for i, el in enumerate(xrd.elements)}
    automatic = tie_totals is None
    ties = automatic_ties(structure) if tie_totals is None else tuple(tie_totals)
    sites_of = {el: [g for g in anion_groups if el in col and phase.base_occupancy[g, col[el]] > 0] for el in xrd.elements}
    for el in ties:
        if len(sites_of.get(el, [])) != 2:
            raise ParameterError("tie_totals", f"{el} is on {len(sites_of.get(el, []))} anion sites of {structure.name}; "
                                               "a total can be kept only for an element on two sites")
    totals = {el: sum(phase.base_occupancy[g, col[el]] * phase.multiplicities[g] / phase.z for g in sites_of[el]) for el in ties}
    for g in anion_groups:
        present = [el for el in xrd.elements if phase.base_occupancy[g, col[el]] > 0]
        if len(present) < 2:
            continue
        filler = "S" if "S" in present else present[0]
        phase.rules.append(OccupancyRule(g, filler, "filler"))
        for el in present:
            if el == filler:
                continue
            if el in ties and g == sites_of[el][1]:
                phase.rules.append(OccupancyRule(g, el, "tied", tied_to=(sites_of[el][0], el), total_per_fu=totals[el]))
            else:
                phase.rules.append(OccupancyRule(g, el, "free", parameter=RefinementParameter.occupancy(
                    phase.name, wyckoff[g], el, phase.site_sums[g])))
    if ties:
        kept = ", ".join(f"{el} {totals[el]:.4g}" for el in ties)
        why = ("a site holds S, Br and I: X-ray intensities fix its electron count, not two occupancies, so "
               if automatic else "")
        phase.messages.append(f"{why}the totals per formula unit {kept} (from the start structure) are kept and only "
                              "the 4a/4d split is refined" + (" (--tie-totals none frees them)" if automatic else ""))
    cl_sites = sites_of.get("Cl", [])
    if cl_sites and any("S" in structure.positions[g].species() for g in cl_sites) and "Cl" not in ties:
        phase.messages.append(
            "S and Cl differ by one electron (16 vs 17): X-rays barely tell them apart, so the Cl occupancies "
            "(and S, which fills each site) are poorly determined - see their esds. If the composition is known, "
            "--tie-totals Cl keeps Cl's total at the start value")
    # one B per site that X-rays see well (every non-Li position: P on 4b, S on 16e, the anion sites); Li fixed
    for i, pos in enumerate(structure.positions):
        species = pos.species()
        if set(species) == {"Li"} or not species:
            continue
        # the anion sites and 4b by their Wyckoff symbol (B:4a@...), the others with their species (B:16e:S@...)
        named = pos.wyckoff.symbol in ANION_WYCKOFF + ("4b",)
        parameter = RefinementParameter(ParameterKind.B, phase.name, pos.wyckoff.symbol,
                                        None if named else "/".join(sorted(species)))
        phase.b_groups[parameter] = [i]
    return phase


def impurity_phase(name: str, pymatgen_structure) -> Phase:
    """A second phase from a pymatgen Structure (b_iso site property for B; fixed structure, refinable a if cubic)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDisplacementWarning)
        xrd = XRDModel.from_structure(pymatgen_structure, name=name)
    lattice = np.asarray(pymatgen_structure.lattice.matrix)
    z = 1.0
    phase = Phase(name, xrd, float(lattice[0, 0]) if xrd.cubic else float(np.linalg.norm(lattice[0])), z)
    assumed = (pymatgen_structure.properties or {}).get("b_iso_assumed")
    if assumed:
        phase.messages.append(f"{name}: no displacement parameters in its structure file: B = {assumed['b_angstrom2']:g} A^2 "
                              f"held for {', '.join(assumed['sites'])} (not refined)")
    return phase


# --------------------------------------------------------------------------- the refinement


@dataclass
class RefinementResult:
    """What a refinement hands on: the agreement factors, every parameter with its esd, per-phase results
    (scale, weight fraction, refined occupancies), the calculated pattern and warnings a person must see."""

    mode: str
    r_p: float
    r_wp: float
    r_exp: float
    gof: float
    n_points: int
    n_parameters: int
    parameters: dict[str, Parameter]
    phases: list[dict]
    two_theta_deg: np.ndarray
    observed: np.ndarray
    calculated: np.ndarray
    background: np.ndarray
    phase_patterns: dict[str, np.ndarray]
    tick_positions: dict[str, np.ndarray]
    correlations: list[tuple[str, str, float]]
    warnings: list[str]
    seconds: float
    settings: dict = field(default_factory=dict)


#: Refinement modes: Rietveld (the structure's intensities) or Pawley (free line intensities).
MODES = ("rietveld", "pawley")


@dataclass(frozen=True)
class RefinementSettings:
    """How a pattern is refined, set once and handed to :class:`Refiner` (every field has the default
    ``argyrodb refine`` uses).

    * ``mode``: "rietveld" or "pawley"; ``wavelength``: a name (CuKa12, CuKa1, MoKa12, ...), angstrom, or the
      file's components (a sequence of :class:`~argyrodb.physics.scattering.WavelengthComponent`);
      ``background_terms``: Chebyshev terms (1-30); ``monochromator_two_theta_deg``: 2theta_M (deg) of the
      polarisation factor, None without a monochromator; ``phase_widths``: which of U, X are refined per phase.
    * ``refine``: what is refined - :class:`~argyrodb.physics.parameters.ParameterSelection` objects (from
      :func:`~argyrodb.physics.parameters.parse_parameters`) or ``--refine`` items as text, read against the
      refinement's phases; None: every parameter but the sample displacement.
    * ``restarts``, ``scan_lattice``, ``tolerance``: the solver's perturbed restarts (taken only while the fit is
      poor), the start scan of a over +-1.5 %, and its ftol/xtol.
    * ``data_notes``, ``pattern_file``, ``pattern_sha256``: the data's provenance, copied into the result's
      ``settings`` record (None: left out)."""

    mode: str = "rietveld"
    wavelength: str | float | tuple[WavelengthComponent, ...] = "CuKa12"
    background_terms: int = 12
    monochromator_two_theta_deg: float | None = None
    refine: tuple[ParameterSelection | str, ...] | None = None
    phase_widths: tuple[str, ...] = PHASE_WIDTHS
    restarts: int = 2
    scan_lattice: bool = True
    tolerance: float = 1e-8
    data_notes: tuple[str, ...] | None = None
    pattern_file: str | None = None
    pattern_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ParameterError("mode", f"{self.mode!r} is not rietveld or pawley")
        if self.background_terms < 1 or self.background_terms > 30:
            raise ParameterError("background_terms", f"must be 1-30, got {self.background_terms}")
        if self.restarts < 0:
            raise ParameterError("restarts", f"must be 0 or more, got {self.restarts}")
        unknown = set(self.phase_widths) - {"U", "X"}
        if unknown:
            raise ParameterError("phase_widths", f"only U and X can be refined per phase, not {sorted(unknown)}")
        object.__setattr__(self, "phase_widths", tuple(self.phase_widths))
        if isinstance(self.wavelength, (list, tuple)):
            object.__setattr__(self, "wavelength", tuple(self.wavelength))
        if self.refine is not None:
            items = self.refine
            if isinstance(items, str):
                items = items.split(",")
            elif isinstance(items, (set, frozenset)):
                items = sorted(items, key=str)
            object.__setattr__(self, "refine", tuple(items))
        if self.data_notes is not None:
            object.__setattr__(self, "data_notes", tuple(self.data_notes))

    @property
    def components(self) -> list[WavelengthComponent]:
        """The wavelength's components (angstrom, weight)."""
        return list(self.wavelength) if isinstance(self.wavelength, tuple) else resolve_wavelength(self.wavelength)

    @property
    def wavelength_text(self) -> str:
        """The wavelength as the result's settings record states it."""
        if isinstance(self.wavelength, tuple):
            return " + ".join(f"{c.name} {c.wavelength_angstrom:.6f} A x{c.weight:g}" for c in self.wavelength)
        return str(self.wavelength)

    def selections(self, phases: Iterable) -> tuple[ParameterSelection, ...] | None:
        """``refine`` as selections (text items read against ``phases``), None for the default."""
        if self.refine is None:
            return None
        return tuple(item if isinstance(item, ParameterSelection) else parse_parameter(item, phases)
                     for item in self.refine if not isinstance(item, str) or item.strip())


class Refiner:
    """A refinement problem: data, phases, instrument and the parameters to refine (see the module docstring).

    ``settings`` (a :class:`RefinementSettings`) says how; the keywords ``wavelength``, ``mode``,
    ``background_terms``, ``monochromator_two_theta_deg``, ``refine`` (a set of ``--refine`` items) and
    ``phase_widths`` are the older way to say the same and make the settings when none are given."""

    def __init__(self, two_theta_deg: np.ndarray, counts: np.ndarray, sigma: np.ndarray | None, phases: list[Phase],
                 settings: RefinementSettings | None = None, *, wavelength: str | float | list | None = None,
                 mode: str | None = None, background_terms: int | None = None,
                 monochromator_two_theta_deg: float | None = None, refine: Iterable[str] | None = None,
                 phase_widths: tuple[str, ...] | None = None):
        legacy = {"wavelength": wavelength, "mode": mode, "background_terms": background_terms,
                  "monochromator_two_theta_deg": monochromator_two_theta_deg, "refine": refine, "phase_widths": phase_widths}
        given: dict[str, Any] = {k: v for k, v in legacy.items() if v is not None}
        if settings is None:
            settings = RefinementSettings(**given)
        elif given:
            raise TypeError(f"Refiner: give the settings or the keywords {sorted(given)}, not both")
        self.settings = settings
        self.x = np.asarray(two_theta_deg, float)
        self.y = np.asarray(counts, float)
        self.sigma = None if sigma is None else np.asarray(sigma, float)
        self.phases = phases
        self.mode = settings.mode
        self.components: list[WavelengthComponent] = settings.components
        self.wavelength = settings.wavelength
        self.monochromator = settings.monochromator_two_theta_deg
        self.phase_widths = settings.phase_widths
        self.basis = chebyshev_basis(self.x, settings.background_terms)
        self.params: dict[str, Parameter] = {}
        self._intensity_cache: dict = {}
        self._kernel_cache: dict = {}
        self._profile_cache: dict = {}
        self._setup(settings.selections(phases))

    # ------------------------------------------------------------ parameters

    @property
    def parameters(self) -> tuple[RefinementParameter, ...]:
        """Every parameter of this refinement (refined or held), in the solver's order."""
        return tuple(p.definition for p in self.params.values())

    def _add(self, definition: RefinementParameter, value: float, refine: bool = True) -> None:
        self.params[definition.name] = Parameter(definition, float(value), refine)

    def width_parameter(self, phase: Phase, kind: ParameterKind) -> RefinementParameter:
        """The U or X that ``phase``'s lines use: its own when refined per phase (``phase_widths``), else the
        shared one."""
        return phase.parameter(kind) if kind.value in self.phase_widths else RefinementParameter(kind)

    def _setup(self, refine: tuple[ParameterSelection, ...] | None) -> None:
        start = {kind: spec.start for kind, spec in KIND_SPECS.items() if spec.start is not None}
        self._add(ZERO_SHIFT, start[ZERO_SHIFT.kind])
        # Over 10-90 deg, cos(theta) varies from 1.0 to 0.7: the displacement correlates with the zero shift (-0.99)
        # and moves a; it is refined only when asked (--refine displacement_deg)
        self._add(DISPLACEMENT, start[DISPLACEMENT.kind], refine=False)
        self._add(TRANSPARENCY, start[TRANSPARENCY.kind])
        # Caglioti U, V, W (deg^2): V's bounds keep the Gaussian variance positive across the pattern together with
        # the penalty in _penalty (a negative variance would be clipped, a silent kink in the model)
        # U (Gaussian tan^2) and X (Lorentzian tan) carry the sample's microstrain: one per phase when named in
        # phase_widths, else shared. A shared U gave LiCl (strain 0.0003) the argyrodite's strain width (0.001):
        # its lines, fitted too Gaussian, lost 4-5 % of their area and the LiCl weight fraction came out
        # 0.10-0.12 wt% low on the xrayutilities patterns of tests/data/refine (noise-free bri_licl 2.75 -> 2.87 of 3.0)
        if "U" not in self.phase_widths:
            self._add(RefinementParameter(ParameterKind.U), start[ParameterKind.U])
        self._add(V, start[V.kind])
        self._add(W, start[W.kind])
        if "X" not in self.phase_widths:
            self._add(RefinementParameter(ParameterKind.X), start[ParameterKind.X])
        self._add(AXIAL, start[AXIAL.kind])
        # what each phase's line intensities and profiles depend on: their cache keys are these parameters' values
        self._lattice_parameters: dict[str, tuple[RefinementParameter, ...]] = {}
        self._intensity_parameters: dict[str, tuple[RefinementParameter, ...]] = {}
        self._profile_parameters: dict[str, tuple[RefinementParameter, ...]] = {}
        for phase in self.phases:
            lattice = phase.lattice_parameter
            if lattice is not None:
                self._add(lattice, phase.a0)
            for kind in (ParameterKind.U, ParameterKind.X):
                if kind.value in self.phase_widths:
                    self._add(phase.parameter(kind), start[kind])
            self._add(phase.parameter(ParameterKind.Y), start[ParameterKind.Y])
            structural: list[RefinementParameter] = []
            if self.mode == "rietveld":
                for rule in phase.rules:
                    if rule.kind == "free" and rule.parameter is not None:
                        self._add(rule.parameter, phase.base_occupancy[rule.group, phase.xrd.elements.index(rule.element)])
                        structural.append(rule.parameter)
                for parameter, groups in phase.b_groups.items():
                    self._add(parameter, float(np.mean(phase.base_b[groups])))
                    structural.append(parameter)
            own_a = () if lattice is None else (lattice,)
            self._lattice_parameters[phase.name] = own_a
            self._intensity_parameters[phase.name] = (*own_a, *structural)
            self._profile_parameters[phase.name] = (
                *own_a, ZERO_SHIFT, DISPLACEMENT, TRANSPARENCY, self.width_parameter(phase, ParameterKind.U), V, W,
                self.width_parameter(phase, ParameterKind.X), phase.parameter(ParameterKind.Y), AXIAL)
        if refine is not None:
            chosen = set(selected(refine, self.parameters))
            for p in self.params.values():
                p.refine = p.definition in chosen
        self.default_refined = refine is None

    # ------------------------------------------------------------ model

    def _lines(self, phase: Phase, values: dict[str, float]) -> dict[str, np.ndarray]:
        key = (phase.name, *(values.get(p.name) for p in self._intensity_parameters[phase.name]))
        cached = self._intensity_cache.get(key)
        if cached is None:
            occ = phase.occupancies(values) if self.mode == "rietveld" else phase.base_occupancy
            b = phase.b_values(values) if self.mode == "rietveld" else phase.base_b
            a = phase.a(values) if phase.cubic else None
            kernel_key = (phase.name, *(values.get(p.name) for p in self._lattice_parameters[phase.name]))
            kernel = self._kernel_cache.get(kernel_key)
            if kernel is None:
                lo, hi = float(self.x[0]) - 3.0, float(self.x[-1]) + 3.0
                kernel = phase.xrd.line_kernel(wavelength=self.components, two_theta_range=(max(lo, 0.5), min(hi, 179.0)),
                                               a_angstrom=a, monochromator_two_theta_deg=self.monochromator)
                if len(self._kernel_cache) > 16:
                    self._kernel_cache.clear()
                self._kernel_cache[kernel_key] = kernel
            cached = kernel(occ, b)
            if len(self._intensity_cache) > 64:
                self._intensity_cache.clear()
            self._intensity_cache[key] = cached
        return cached

    @staticmethod
    def shift(two_theta_deg: np.ndarray, values: dict[str, float]) -> np.ndarray:
        """Line shift (deg): zero + displacement D cos(theta) - transparency T sin(2 theta)."""
        return (values[ZERO_SHIFT.name] + values[DISPLACEMENT.name] * np.cos(np.radians(two_theta_deg / 2.0))
                - values[TRANSPARENCY.name] * np.sin(np.radians(two_theta_deg)))

    def width(self, phase: Phase, term: str, values: dict[str, float]) -> float:
        """The phase's U or X: its own when refined per phase (phase_widths), else the shared one."""
        return values[self.width_parameter(phase, ParameterKind(term)).name]

    def _profiles(self, phase: Phase, lines: dict[str, np.ndarray], values: dict[str, float]) -> LineProfiles:
        # the profiles follow from the line positions (a and the shifts) and the widths: their values are the key
        key = (phase.name, *(values.get(p.name) for p in self._profile_parameters[phase.name]))
        cached = self._profile_cache.get(key)
        if cached is None:
            tt = lines["two_theta_deg"]
            centres = tt + self.shift(tt, values)
            u, x = self.width(phase, "U", values), self.width(phase, "X", values)
            y = values[phase.parameter(ParameterKind.Y).name]
            fwhm, eta = tch_widths(tt, u, values[V.name], values[W.name], x, y)
            cached = line_profiles(self.x, centres, fwhm, eta, values[AXIAL.name])
            if len(self._profile_cache) > 64:
                self._profile_cache.clear()
            self._profile_cache[key] = cached
        return cached

    def design(self, values: dict[str, float]) -> tuple[np.ndarray, list[tuple[str, int]], dict]:
        """Columns of the linear problem: one per phase (Rietveld) or per line (Pawley), then the background."""
        columns, labels, info = [], [], {}
        for phase in self.phases:
            lines = self._lines(phase, values)
            profiles = self._profiles(phase, lines, values)
            info[phase.name] = lines
            if self.mode == "rietveld":
                columns.append(profiles.pattern(lines["intensity"])[:, None])
                labels.append((phase.name, -1))
            else:
                keys, groups = np.unique(lines["line_key"], return_inverse=True)
                # K-alpha2 follows K-alpha1: both share the line's free |F|^2, each with its weight x LP
                weight = lines["intensity"] / np.maximum(lines["f_squared"] * lines["multiplicity"], 1e-300)
                columns.append(profiles.columns(groups, keys.size, weight))
                labels.extend((phase.name, int(k)) for k in keys)
        columns.append(self.basis)
        labels.extend(("background", i) for i in range(self.basis.shape[1]))
        return np.hstack(columns), labels, info

    def solve_linear(self, matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Scales (>= 0) and background coefficients by weighted linear least squares: the unconstrained solution
        when its scales are all >= 0 (the usual case, ~1 ms), else bounded-variable least squares."""
        n_structural = matrix.shape[1] - self.basis.shape[1]
        sw = np.sqrt(weights)
        a = matrix * sw[:, None]
        norms = np.linalg.norm(a, axis=0)
        norms[norms == 0] = 1.0
        a /= norms
        b = self.y * sw
        if n_structural <= 8:
            # normal equations of the column-normalised problem: a few columns, well conditioned
            try:
                solution = np.linalg.solve(a.T @ a, a.T @ b)
            except np.linalg.LinAlgError:
                solution = np.linalg.lstsq(a, b, rcond=None)[0]
            if np.all(solution[:n_structural] >= 0):
                return solution / norms
        from scipy.optimize import lsq_linear

        lower = np.concatenate([np.zeros(n_structural), np.full(self.basis.shape[1], -np.inf)])
        result = lsq_linear(a, b, bounds=(lower, np.full(matrix.shape[1], np.inf)), method="bvls", lsq_solver="exact")
        return result.x / norms

    def calculate(self, values: dict[str, float], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list, dict]:
        self.n_evaluations = getattr(self, "n_evaluations", 0) + 1
        matrix, labels, info = self.design(values)
        coef = self.solve_linear(matrix, weights)
        return matrix @ coef, coef, matrix, labels, info

    def _penalty(self, values: dict[str, float]) -> np.ndarray:
        """Occupancies a tie or a filler would push below 0 or above the site sum, and a Gaussian variance
        U tan^2 + V tan + W that would go negative inside the data range (bounds cannot say so)."""
        tan = np.tan(np.radians(np.array([self.x[0], self.x[-1], *np.linspace(self.x[0], self.x[-1], 9)]) / 2))
        out = [1e4 * np.minimum(self.width(phase, "U", values) * tan**2 + values[V.name] * tan + values[W.name] - 1e-6, 0.0)
               for phase in (self.phases if "U" in self.phase_widths else self.phases[:1])]
        for phase in self.phases:
            if self.mode != "rietveld" or not phase.rules:
                continue
            occ = phase.occupancies(values)
            out.append(1e4 * np.minimum(occ, 0.0).ravel())
            out.append(1e4 * np.minimum(phase.site_sums[:, None] - occ, 0.0).ravel())
        return np.concatenate(out)

    # ------------------------------------------------------------ solver

    def run(self, restarts: int | None = None, scan_lattice: bool | None = None, tolerance: float | None = None
            ) -> RefinementResult:
        """Refine (see the module docstring). ``restarts``, ``scan_lattice``, ``tolerance``: the settings' unless
        given (the displacement probes of :func:`displacement_check` refit with fewer)."""
        from scipy.optimize import least_squares

        restarts = self.settings.restarts if restarts is None else restarts
        scan_lattice = self.settings.scan_lattice if scan_lattice is None else scan_lattice
        tolerance = self.settings.tolerance if tolerance is None else tolerance
        started = time.perf_counter()
        free = [p for p in self.params.values() if p.refine]
        names = [p.name for p in free]
        warnings: list[str] = []
        for phase in self.phases:
            warnings.extend(phase.messages)

        def values_of(vector) -> dict[str, float]:
            values = {k: p.value for k, p in self.params.items()}
            values.update(zip(names, vector))
            return values

        if self.sigma is not None:
            if np.any(self.sigma <= 0):
                raise InputError("sigma", "sigma must be positive")
            weights = 1.0 / self.sigma**2
            weighting = "1/sigma^2 from the data"
        else:
            weights = 1.0 / np.maximum(_smoothed(self.y), 1.0)
            weighting = "Poisson from the model, 1/max(y_calc, 1) (first pass: smoothed data)"

        def residual(vector):
            values = values_of(vector)
            calc, *_ = self.calculate(values, weights)
            return np.concatenate([(self.y - calc) * np.sqrt(weights), self._penalty(values)])

        if scan_lattice:
            self._start_lattice(names, values_of, weights)
        x0 = np.array([self.params[n].value for n in names])
        lower = np.array([self.params[n].lower for n in names])
        upper = np.array([self.params[n].upper for n in names])
        x0 = np.clip(x0, lower + 1e-12 * (np.abs(lower) + 1), upper - 1e-12 * (np.abs(upper) + 1))
        scale = np.array([self.params[n].step for n in names])
        best = None
        for attempt in range(restarts + 1):
            start = x0 if best is None else _perturbed(best.x, scale, lower, upper, attempt)
            fit = least_squares(residual, start, bounds=(lower, upper), x_scale=scale, method="trf", diff_step=1e-6,
                                max_nfev=60 * len(names), ftol=tolerance, xtol=tolerance)
            if self.sigma is None:  # Poisson weights from the model, then once more
                calc, *_ = self.calculate(values_of(fit.x), weights)
                weights = 1.0 / np.maximum(calc, 1.0)
                fit = least_squares(residual, fit.x, bounds=(lower, upper), x_scale=scale, method="trf", diff_step=1e-6,
                                    max_nfev=20 * len(names), ftol=1e-9, xtol=1e-9)
            if best is None or fit.cost < best.cost * (1 - 1e-6):
                best = fit
            # a restart only when the fit is poor: a good fit (chi^2/(N-P) near 1) is the minimum
            if 2 * best.cost / max(self.y.size - len(names), 1) < 1.5**2:
                break
        if best is None:  # no attempt at all
            raise ParameterError("restarts", f"must be 0 or more, got {restarts}")
        values = values_of(best.x)
        calc, coef, matrix, labels, info = self.calculate(values, weights)
        n, p = self.y.size, len(names) + matrix.shape[1]
        sw_sum = float(np.sum(weights * self.y**2))
        chi2 = float(np.sum(weights * (self.y - calc) ** 2))
        r_wp = math.sqrt(chi2 / sw_sum)
        r_exp = math.sqrt(max(n - p, 1) / sw_sum)
        r_p = float(np.sum(np.abs(self.y - calc)) / np.sum(self.y))
        gof = r_wp / r_exp
        esd, correlations, cov = _esds(best.jac[: self.y.size], names, gof, warnings)
        for name, e in zip(names, esd):
            self.params[name].value = values[name]
            self.params[name].esd = e
        for name, p_ in self.params.items():
            if not p_.refine:
                p_.value = values[name]
        n_structural = matrix.shape[1] - self.basis.shape[1]
        background = self.basis @ coef[n_structural:]
        phase_patterns, ticks, phases_out = {}, {}, []
        scales = {}
        column = 0
        for phase in self.phases:
            width = 1 if self.mode == "rietveld" else sum(1 for lab in labels if lab[0] == phase.name)
            phase_patterns[phase.name] = matrix[:, column:column + width] @ coef[column:column + width]
            scales[phase.name] = coef[column] if self.mode == "rietveld" else None
            column += width
            lines = info[phase.name]
            inside = (lines["two_theta_deg"] >= self.x[0]) & (lines["two_theta_deg"] <= self.x[-1]) & (lines["component"] == 0)
            ticks[phase.name] = lines["two_theta_deg"][inside] + self.shift(lines["two_theta_deg"][inside], values)
        masses = {ph.name: ph.cell_mass(values) * ph.volume(values) for ph in self.phases}
        total = sum((scales[k] or 0.0) * masses[k] for k in masses) if self.mode == "rietveld" else 0.0
        for phase in self.phases:
            lattice = phase.lattice_parameter
            phase_scale = scales[phase.name]
            entry = {"name": phase.name, "scale": phase_scale,
                     "weight_fraction": (phase_scale * masses[phase.name] / total) if phase_scale is not None and total > 0 else None,
                     "a_angstrom": phase.a(values) if phase.cubic else None,
                     "a_esd": self.params[lattice.name].esd if lattice is not None and lattice.name in self.params else None,
                     "size_nm": _size_nm(values[phase.parameter(ParameterKind.Y).name], self.components[0].wavelength_angstrom),
                     "sites": _sites(phase, values, self.mode, _occupancy_esds(phase, names, cov))}
            phases_out.append(entry)
        if gof > 2.0:
            warnings.append(f"GoF {gof:.2f} > 2: the model does not describe the data within its noise (missing phase, "
                            "texture, wrong profile); look at the difference curve")
        record = {"mode": self.mode, "wavelength": self.settings.wavelength_text, "weighting": weighting,
                  "background_terms": self.basis.shape[1], "refined": names,
                  "two_theta_range": [float(self.x[0]), float(self.x[-1])], "restarts": restarts,
                  "model_evaluations": self.n_evaluations}
        # the data's provenance, when the settings carry it
        for key in ("data_notes", "pattern_file", "pattern_sha256"):
            given = getattr(self.settings, key)
            if given is not None:
                record[key] = list(given) if isinstance(given, tuple) else given
        return RefinementResult(
            mode=self.mode, r_p=r_p, r_wp=r_wp, r_exp=r_exp, gof=gof, n_points=n, n_parameters=p,
            parameters=dict(self.params), phases=phases_out, two_theta_deg=self.x, observed=self.y, calculated=calc,
            background=background, phase_patterns=phase_patterns, tick_positions=ticks, correlations=correlations,
            warnings=warnings, seconds=time.perf_counter() - started, settings=record)

    def _start_lattice(self, names, values_of, weights) -> None:
        """Start values for the lattice parameters: scan a +-1.5 % around the start with the current profile and keep
        the a whose pattern matches the data best (the refinement's basin is a few 0.1 % wide)."""
        for phase in self.phases:
            lattice = phase.lattice_parameter
            if lattice is None or lattice.name not in names:
                continue
            key = lattice.name
            base = self.params[key].value
            best_a, best_cost = base, np.inf
            for factor in np.linspace(0.985, 1.015, 31):
                values = values_of([self.params[n].value for n in names])
                values[key] = base * factor
                calc, *_ = self.calculate(values, weights)
                cost = float(np.sum(weights * (self.y - calc) ** 2))
                if cost < best_cost:
                    best_a, best_cost = base * factor, cost
            self.params[key].value = best_a


def _smoothed(y: np.ndarray, half: int = 3) -> np.ndarray:
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.convolve(np.pad(y, half, mode="edge"), kernel, mode="valid")


def _perturbed(x, steps, lower, upper, attempt) -> np.ndarray:
    """A restart's start: ``x`` moved by a normal deviate of 3 steps per parameter (seeded by the attempt)."""
    rng = np.random.default_rng(attempt)
    return np.clip(x + rng.normal(0, 3, size=x.size) * steps, lower, upper)


def _esds(jac: np.ndarray, names: list[str], gof: float, warnings: list[str]) -> tuple[list[float | None], list, np.ndarray | None]:
    try:
        jtj = jac.T @ jac
        cov = np.linalg.pinv(jtj) * gof**2
    except np.linalg.LinAlgError:
        warnings.append("the covariance matrix is singular: no esds")
        return [None] * len(names), [], None
    esd = np.sqrt(np.clip(np.diag(cov), 0, None))
    safe = np.where(esd > 0, esd, 1.0)
    corr = cov / np.outer(safe, safe)
    pairs = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if abs(corr[i, j]) > CORRELATION_REPORTED:
                pairs.append((names[i], names[j], float(corr[i, j])))
    pairs.sort(key=lambda t: -abs(t[2]))
    return [float(e) for e in esd], pairs, cov


def _size_nm(y_deg: float, wavelength_angstrom: float) -> float | None:
    if y_deg <= 1e-6:
        return None
    return SCHERRER_K * wavelength_angstrom / np.radians(y_deg) / 10.0


def _occupancy_esds(phase: Phase, names: list[str], cov: np.ndarray | None) -> dict[tuple[int, str], float]:
    """esd of every refined or derived occupancy (group, element): free ones from the covariance, a tied one as its
    partner's (times the multiplicity ratio), a filler as the esd of the sum it completes."""
    if cov is None:
        return {}
    index = {n: i for i, n in enumerate(names)}
    gradient: dict[tuple[int, str], dict[int, float]] = {}
    for rule in phase.rules:
        key = rule.parameter.name if rule.parameter else None
        if rule.kind == "free" and key in index:
            gradient[(rule.group, rule.element)] = {index[key]: 1.0}
    for rule in phase.rules:
        if rule.kind == "tied":
            partner_site, _ = rule.tie()
            partner = gradient.get(partner_site, {})
            ratio = phase.multiplicities[partner_site[0]] / phase.multiplicities[rule.group]
            gradient[(rule.group, rule.element)] = {i: -ratio * v for i, v in partner.items()}
    for rule in phase.rules:
        if rule.kind == "filler":
            total: dict[int, float] = {}
            for other in phase.rules:
                if other.group == rule.group and other.kind != "filler":
                    for i, v in gradient.get((other.group, other.element), {}).items():
                        total[i] = total.get(i, 0.0) - v
            gradient[(rule.group, rule.element)] = total
    out: dict[tuple[int, str], float] = {}
    for site, grad in gradient.items():
        if grad:
            idx = np.array(list(grad))
            g = np.array(list(grad.values()))
            out[site] = float(np.sqrt(max(g @ cov[np.ix_(idx, idx)] @ g, 0.0)))
    return out


def _sites(phase: Phase, own: dict[str, float], mode: str, esds: dict | None = None) -> list[dict]:
    if phase.structure is None:
        return []
    esds = esds or {}
    occ = phase.occupancies(own) if mode == "rietveld" else phase.base_occupancy
    b = phase.b_values(own) if mode == "rietveld" else phase.base_b
    out = []
    for g, pos in enumerate(phase.structure.positions):
        out.append({"label": "/".join(r.label for r in pos.rows), "wyckoff": pos.wyckoff.symbol,
                    "occupancies": {el: float(occ[g, i]) for i, el in enumerate(phase.xrd.elements) if phase.base_occupancy[g, i] > 0
                                    or occ[g, i] > 0},
                    "occupancy_esds": {el: esds[(g, el)] for el in phase.xrd.elements if (g, el) in esds},
                    "b_iso": float(b[g])})
    return out


# --------------------------------------------------------------------------- the refined structure


def refined_refinement(phase: Phase, result: RefinementResult, data_source: str, data_sha256: str):
    """The argyrodite's refinement with the refined occupancies, B and a, its provenance naming the data
    file (SHA-256), the settings and the agreement factors (a :class:`~argyrodb.core.refinement.Refinement`)."""
    structure = phase.structure
    if structure is None:
        raise ParameterError("phase", f"{phase.name} carries no argyrodite structure (a second phase): there is no refinement to write")
    start = structure.refinement
    entry = next(p for p in result.phases if p["name"] == phase.name)
    by_group = {}
    for g, pos in enumerate(structure.positions):
        for row in pos.rows:
            by_group[row.label] = (g, pos)
    occupancy = {s["label"]: s for s in entry["sites"]}
    rows = []
    for row in start.sites:
        g, pos = by_group[row.label]
        site = occupancy["/".join(r.label for r in pos.rows)]
        same = [r for r in pos.rows if r.element == row.element]
        share = row.occupancy / sum(r.occupancy for r in same) if sum(r.occupancy for r in same) > 0 else 1.0 / len(same)
        value = site["occupancies"].get(row.element, 0.0) * share
        if -1e-4 < value < 0:  # a filler at its bound (the fit keeps it >= 0 to within its tolerance)
            value = 0.0
        rows.append(replace(row, occupancy=round(float(value), 6), b_iso_angstrom2=round(float(site["b_iso"]), 4),
                            printed={}))
    a = entry["a_angstrom"]
    esd = entry["a_esd"]
    provenance = {
        "refined_by": "argyrodb refine",
        "mode": result.mode,
        "pattern_file": data_source,
        "pattern_sha256": data_sha256,
        "start_structure": start.source_path or start.name,
        "r_p": round(result.r_p, 6), "r_wp": round(result.r_wp, 6), "r_exp": round(result.r_exp, 6),
        "gof": round(result.gof, 4),
        "settings": result.settings,
        "weight_fraction": entry["weight_fraction"],
    }
    return replace(start, name=f"{start.name}-refined", sites=rows, a_angstrom=round(float(a), 6),
                   a_note=f"refined by argyrodb ({result.mode}) from {data_source}: a = {a:.5f}"
                          + (f" +- {esd:.5f} A (esd x GoF)" if esd else " A"),
                   provenance=provenance, constraints=start.constraints, source_path="")


#: Sample displacement probed by :func:`displacement_check` (deg): 0.1 mm at a 240 mm goniometer radius.
DISPLACEMENT_PROBE_DEG = 0.05


#: Stopping tolerance (scipy least_squares ftol, xtol) of the displacement probes.
PROBE_TOLERANCE = 1e-5


def displacement_check(refiner: Refiner, result: RefinementResult) -> str | None:
    """Refit with the sample displacement fixed at +-0.05 deg (0.1 mm at R = 240 mm; the other parameters from the
    fitted values) and say so when the fit cannot tell those apart but the lattice parameter moves.

    Over a 10-90 deg pattern zero shift, displacement (cos theta), transparency (sin 2theta) and a (tan theta) are
    nearly collinear: on synthetic patterns a moves by up to 0.003 A along that valley at equal chi^2, so a
    displacement the data cannot see still decides a at the 1e-3 A level."""
    name = DISPLACEMENT.name
    if name not in refiner.params or refiner.params[name].refine or refiner.mode != "rietveld":
        return None
    main = result.phases[0]
    if main["a_angstrom"] is None:
        return None
    saved = {k: (p.value, p.esd, p.refine) for k, p in refiner.params.items()}
    probes = []
    try:
        for d in (-DISPLACEMENT_PROBE_DEG, DISPLACEMENT_PROBE_DEG):
            for k, (value, _, _) in saved.items():
                refiner.params[k].value = value
            refiner.params[name].value = d
            # a probe only asks how far a moves (against 3 esds, ~1e-4 A): a looser stop is enough
            other = refiner.run(restarts=0, scan_lattice=False, tolerance=PROBE_TOLERANCE)
            probes.append((d, other.phases[0]["a_angstrom"], other.gof))
    finally:
        for k, (value, esd, refine) in saved.items():
            refiner.params[k].value, refiner.params[k].esd, refiner.params[k].refine = value, esd, refine
    a_values = [a for _, a, _ in probes]
    spread = max(a_values) - min(a_values)
    equal_fit = all(g <= result.gof * 1.01 for _, _, g in probes)
    if not equal_fit or spread <= max(3 * (main["a_esd"] or 0.0), 2e-4):
        return None
    return (f"a = {main['a_angstrom']:.5f} A assumes no sample displacement: with a displacement of "
            f"{probes[0][0]:+.2f} / {probes[1][0]:+.2f} deg (0.1 mm at R = 240 mm) the fit is as good (GoF "
            f"{probes[0][2]:.3f} / {probes[1][2]:.3f} vs {result.gof:.3f}) and a = {probes[0][1]:.5f} / {probes[1][1]:.5f} A: "
            "zero shift, displacement, transparency and a are nearly collinear over this range - calibrate with a "
            "standard (Si, LaB6) or refine the displacement if the zero shift is known")
