"""Powder refinement of argyrodites: Rietveld (structure) and Pawley (free line intensities).

Model of the observed counts at 2theta_i (Bragg-Brentano, Cu K-alpha1/K-alpha2 by default)::

    y_calc(2theta_i) = b(2theta_i) + sum_phases S_p sum_lines I_pl  Phi(2theta_i - 2theta_pl - dz - D cos theta_pl)

* I_pl: the phase's integrated line intensities from :class:`argyrodb.physics.xrd.XRDModel` (component weight x
  Lorentz-polarisation x sum |F|^2, with the refined lattice parameter, site occupancies and B; the cached
  phase sums make a new structure factor a small matrix product). Pawley mode replaces S_p I_pl by free,
  non-negative line intensities (K-alpha2 follows K-alpha1 by the weight and LP ratio).
* Phi: Thompson-Cox-Hastings pseudo-Voigt PV (J. Appl. Cryst. 20 (1987) 79) with
  Gamma_G^2 = U_p tan^2 theta + V tan theta + W and Gamma_L = X tan theta + Y_p / cos theta (U_p per phase:
  Gaussian microstrain, so a sharp impurity is not given the main phase's strain width; Y_p per phase:
  crystallite size, apparent size = K lambda / (Y_p [rad]) with K = 0.9 and no instrument subtracted; V, W, X
  shared; ``phase_widths`` chooses which of U, X are per phase), convolved with the axial-divergence aberration
  (:class:`AxialAberration`). A ray that leaves the sample at axial height z and passes the receiving slit at
  height h is tilted out of the equatorial plane by nu = (h - z) / L (L the goniometer radius); a line at 2theta is
  then recorded at 2phi with::

      cos 2phi = sqrt(1 + nu^2) cos 2theta                                         (exact)
      2phi = 2theta - (nu^2 / 2) cot 2theta                                        (small-angle)

  A sample of half-height S and a slit of half-height H, uniformly lit, spread |nu| over [0, (S + H)/L] with the
  density W(nu) = min(2 min(S, H), S + H - nu L) (flat up to |H - S|/L, then falling linearly: two boxes
  convolved), and::

      Phi(2theta_i) = int W(nu) J(nu) PV(2theta_i - 2phi(nu)) dnu / int W(nu) J(nu) dnu.

  ``RefinementSettings.asymmetry`` chooses the model:

  - "axial" (default): Cheary & Coelho's one parameter (J. Appl. Cryst. 31 (1998) 851): the small-angle 2phi,
    J = 1, S = H, so nu is spread triangularly over [0, A] (``axial_deg``, A = (S + H)/L in deg).
  - "fcj": Finger, Cox & Jephcoat (J. Appl. Cryst. 27 (1994) 892): the exact 2phi and J = 1 / ((1 + nu^2)
    sin 2phi), the solid angle of the slit element over d(2phi). In 2phi (nu = 1/F) this is their eq. 7 as GSAS-II
    codes it (fsource/powsubs/psvfcjo.for, PSVFCJO: S/L and H/L separate; psvfcj.for takes one SH/L = S/L + H/L,
    S = H): D(2phi) = min(2 min(S, H)/L F, (S + H)/L F - 1) / |cos 2phi|, F = |cos 2theta| / sqrt(cos^2 2phi -
    cos^2 2theta), between 2phi_min (nu = (S + H)/L, eq. 4) and 2theta, the first term from 2phi_infl
    (nu = |H - S|/L, eq. 5) on.
    Parameters ``S_L`` and ``H_L`` (S/L, H/L); they enter as (S + H)/L and |H - S|/L, and H/L is tied to S/L
    (H/L = S/L) unless ``refine`` names it: at S = H the profile does not change to first order in H - S, so a
    fit cannot separate them (:mod:`argyrodb.physics.parameters`).

  Both give lines below 90 deg a low-angle tail and lines above 90 deg a high-angle one.

  Quadrature (:func:`line_profiles`): nu's range is cut where W has its kink (|H - S|/L) and each part into equal
  bins. Over a bin W J is taken linear in nu and the shift linear (its chord, with every knot moved by -1/12 of the
  shift's second difference, so that each bin's mean shift is exact: -c dnu^2 / 6 for the shift c nu^2), and the
  pseudo-Voigt is integrated over the bin in closed form (its CDF, arctan and erf, and the antiderivative of
  y PV(y), log and exp; 2- or 3-point Gauss-Legendre over bins too narrow for it). The error falls as bins^-4,
  ~0.1 (r / bins^2)^2 of the peak for r = largest shift / FWHM, and the bins follow the line: 2 to 32
  (:data:`AXIAL_LEVELS`, :func:`_bin_levels`), ~1e-4 of the peak (<= 7e-4 on a count, <= 1e-3 where a line is
  blended between two counts by weights smooth in r; 32 bins reach 1e-3 at r = 100). A point quadrature needs
  nodes closer than a FWHM in shift: 4 Gauss-Legendre nodes over A (the model before) left a low-angle line whose
  tail is several FWHM long lumpy (on the LaB6 SRM 660c pattern GoF 1.53 against 1.41, a 7e-5 A lower), and a
  node count chosen from A would jump with it; here the bins scale with (S + H)/L and the counts are blended, so
  the model is smooth in every parameter. A bin costs ~30 array operations against ~8 a node; with few bins far
  from the low angles a model evaluation took 1.1-1.5x the CPU time of the 4-node model's in the synthetic and
  LaB6 refinements (a loaded 2-core machine: noisy), the LaB6 fit half the time (300 evaluations, not 780).
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
from typing import Any

import numpy as np

from ..core.analysis import AnalysedStructure
from ..core.chemistry import atomic_mass, formal_charge
from ..core.errors import InputError, ParameterError
from .instrument import Instrument
from .parameters import (
    KIND_SPECS,
    ParameterKind,
    ParameterSelection,
    RefinementParameter,
    parse_parameter,
    selected,
)
from .scattering import WavelengthComponent, resolve_wavelength
from .xrd import NoDisplacementWarning, XRDModel, check_radiation_options

#: Profiles are evaluated within this many FWHM of each line (the truncated area is restored). A Lorentzian keeps
#: 2.3 % of its area beyond 14 FWHM; those tails went into the background and shifted the weak lines that carry
#: the 4a/4d contrast. Measured on the four xrayutilities patterns of tests/data/refine (14 -> 25): GoF lower in
#: every case (1.083 -> 1.056, 1.045 -> 1.028, 1.101 -> 1.075, 1.042 -> 1.018), the largest Br/I occupancy
#: error 0.025 -> 0.020, LiCl 2.90/2.84 -> 2.95/2.88 wt% of 3.0, for ~1.4x the time; 40 and 60 change little more.
WINDOW_FWHM = 25.0
#: Bins of axial angle a line may get per smooth range of its density (line_profiles, _bin_levels): the error of a
#: profile is ~0.1 (r / n^2)^2 of its peak for r = largest shift / FWHM (module docstring), so a line far from
#: 90 deg at a large axial divergence needs 32 (1e-4 at r = 32), one near it 2.
AXIAL_LEVELS = (2, 4, 8, 16, 32)
#: A bin whose shift range is narrower than this fraction of the line's FWHM (no asymmetry, or a line within ~1e-3
#: deg of 90 deg) is integrated by 2-point Gauss-Legendre: the closed form divides by the width.
LORENTZ_NARROW_FWHM = 1e-6
#: The Gaussian part of a bin narrower than this fraction of the FWHM (0.007 sigma) is integrated by 3-point
#: Gauss-Legendre (error ~1e-18 of the peak there): the differences of erf and exp at its knots lose digits as the
#: bin narrows. Measured on 200 lines (12-89 deg, A = 2 deg): finite-difference derivatives (step 1e-6) of the
#: pattern with respect to A are off by 7e-7 of the largest as with the point quadrature before, 2e-6 with 0.001,
#: 8e-5 without the rule.
GAUSS_NARROW_FWHM = 0.003
#: The Gaussian's integrals are evaluated within this many units of z = y sqrt(ln 2) 2 / FWHM of its centre
#: (|z| < 6: erf(6) = 1 - 2e-17, exp(-36) = 2e-16); beyond, erf = +-1 and exp = 0.
GAUSS_CORE = 6.0
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
#: A phase less significant than this (Gaussian sigma, :func:`_significance_sigma`) is not detected: its weight
#: fraction is an upper bound.
DETECTION_ESDS = 3.0
#: Fewest data points per refined parameter (linear ones included) a refinement accepts.
MIN_POINTS_PER_PARAMETER = 3
#: Fewest reflections of the main phase inside the data range (K-alpha1 lines).
MIN_MAIN_REFLECTIONS = 3


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


@dataclass(frozen=True)
class AxialAberration:
    """The axial divergence as a distribution of axial angles: a ray that leaves the sample at height z and passes
    the receiving slit at height h left the equatorial plane by nu = (h - z) / L (L the goniometer radius); with the
    sample (half-height S) and the slit (half-height H) uniformly illuminated, |nu| is spread over [0, (S + H) / L]
    with a density flat up to |H - S| / L and falling linearly to 0 at (S + H) / L (the convolution of two boxes).

    ``total`` = (S + H) / L and ``plateau`` = |H - S| / L (rad). ``exact`` says how a line at 2theta moves: the
    Finger-Cox-Jephcoat geometry (cos 2phi = sqrt(1 + nu^2) cos 2theta, density W(nu) / ((1 + nu^2) sin 2phi))
    or Cheary & Coelho's small-angle form (2phi = 2theta - (nu^2 / 2) cot 2theta, density W(nu)); see the module
    docstring. The one-parameter ``axial`` model is the second with S = H: a triangle over [0, A]."""

    total: float
    plateau: float = 0.0
    exact: bool = False

    @classmethod
    def axial(cls, a_deg: float) -> AxialAberration:
        """Cheary & Coelho's one-parameter model: axial angles spread triangularly over [0, A] (A in deg)."""
        return cls(math.radians(max(a_deg, 0.0)))

    @classmethod
    def fcj(cls, s_l: float, h_l: float) -> AxialAberration:
        """Finger, Cox & Jephcoat's model with S/L and H/L (sample and receiving-slit half-heights over L)."""
        s_l, h_l = max(s_l, 0.0), max(h_l, 0.0)
        return cls(s_l + h_l, abs(h_l - s_l), exact=True)

    def partitions(self) -> list[tuple[float, float]]:
        """The ranges of nu over which the density is smooth (its kink at the plateau's end is a bin edge)."""
        if 0.0 < self.plateau < self.total:
            return [(0.0, self.plateau), (self.plateau, self.total)]
        return [(0.0, self.total)]

    def density(self, nu: np.ndarray, shift_deg: np.ndarray, two_theta_deg: np.ndarray) -> np.ndarray:
        """Density of nu (unnormalised; ``shift_deg`` = 2theta - 2phi at nu), per line (rows)."""
        half_min = (self.total - self.plateau) / 2.0  # min(S, H) / L
        # S or H = 0: a box over [0, total] (each partition takes its one-sided value at its ends)
        flat = np.clip((self.total - nu) / (2.0 * half_min), 0.0, 1.0) if half_min > 0 else np.ones_like(nu)
        if not self.exact:
            return flat
        two_phi = np.radians(two_theta_deg[:, None] - shift_deg)
        sin_tt = np.abs(np.sin(np.radians(two_theta_deg)))[:, None]
        # a cone that only just reaches the slit (sin 2phi -> 0, lines below ~(S+H)/L rad) keeps a finite weight
        return flat * sin_tt / ((1.0 + nu**2) * np.maximum(np.abs(np.sin(two_phi)), 0.1 * sin_tt))

    def shift_deg(self, nu: np.ndarray, two_theta_deg: np.ndarray) -> np.ndarray:
        """2theta - 2phi (deg) at axial angles ``nu`` (rows: lines): > 0 below 90 deg (to lower angle)."""
        tt = np.radians(np.clip(two_theta_deg, 1.0, 179.0))[:, None]
        if not self.exact:
            return np.degrees(nu**2 / 2.0 / np.tan(tt))
        return np.degrees(tt - np.arccos(np.clip(np.sqrt(1.0 + nu**2) * np.cos(tt), -1.0, 1.0)))

    def limit(self, two_theta_deg: np.ndarray) -> np.ndarray:
        """The largest nu whose cone reaches the slit (|tan 2theta| in the exact geometry), per line."""
        if not self.exact:
            return np.full(two_theta_deg.shape, np.inf)
        return np.abs(np.tan(np.radians(np.clip(two_theta_deg, 1.0, 179.0))))


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


#: Gauss-Legendre nodes on [0, 1] (2 points, weights 1/2; 3 points) for a bin too narrow for the closed form.
_GL2_NODES = (0.5 - 0.5 / math.sqrt(3.0), 0.5 + 0.5 / math.sqrt(3.0))
_GL3_NODES = np.array([0.5 - math.sqrt(0.15), 0.5, 0.5 + math.sqrt(0.15)])
_GL3_WEIGHTS = np.array([5.0, 8.0, 5.0]) / 18.0


def line_profiles(two_theta: np.ndarray, centres: np.ndarray, fwhm: np.ndarray, eta: np.ndarray,
                  aberration: AxialAberration | float = 0.0, bins: int | None = None) -> LineProfiles:
    """Profiles of lines at ``centres`` (deg) on the grid ``two_theta`` (increasing), each of unit area: the
    pseudo-Voigt (``fwhm``, ``eta`` per line) convolved with the axial ``aberration`` (an
    :class:`AxialAberration`, or the one-parameter model's A in deg) over bins of axial angle (the module docstring
    says how): ``bins`` for every line, or by default as many as each line needs (:func:`_bin_levels`)."""
    n = two_theta.size
    if centres.size == 0:
        return LineProfiles(np.empty(0, int), np.empty(0, int), np.empty(0), n)
    if not isinstance(aberration, AxialAberration):
        aberration = AxialAberration.axial(float(aberration))
    if bins is not None and int(bins) < 2:
        raise ParameterError("bins", f"the axial quadrature needs at least 2 bins, got {bins}")
    half = WINDOW_FWHM * fwhm
    # the largest shift (at the largest axial angle whose cone reaches the slit): the window reaches past it
    if aberration.total > 0:
        reach = np.minimum(aberration.total, aberration.limit(centres))[:, None]
        far = aberration.shift_deg(reach, centres)[:, 0]
    else:
        far = np.zeros(centres.size)
    lo = np.searchsorted(two_theta, centres - half - np.maximum(far, 0.0), side="left")
    hi = np.searchsorted(two_theta, centres + half + np.maximum(-far, 0.0), side="right")
    counts = np.maximum(hi - lo, 0)
    lines = np.repeat(np.arange(centres.size), counts)
    first_pair = np.concatenate(([0], np.cumsum(counts)[:-1]))  # each line's first pair
    points = np.arange(lines.size) + np.repeat(lo - first_pair, counts)
    dx = two_theta[points] - centres[lines]
    area = _window_area(half, fwhm, eta)
    if aberration.total <= 0:
        inv_hw = (2.0 / fwhm)[lines]
        u2 = (dx * inv_hw) ** 2
        lorentz = (eta * 2.0 / fwhm / (np.pi * area))[lines]
        gauss = ((1.0 - eta) * _GAUSS_NORM * 2.0 / fwhm / area)[lines]
        return LineProfiles(points, lines, lorentz / (1.0 + u2) + gauss * np.exp(-_LN2 * u2), n)
    values = np.zeros(dx.size)
    for level_bins, chosen, weight in _bin_levels(np.abs(far) / fwhm, bins):
        own = counts[chosen]
        pairs = np.arange(own.sum()) + np.repeat(first_pair[chosen] - np.cumsum(own) + own, own)
        profile = _binned_profiles(two_theta, centres[chosen], fwhm[chosen], eta[chosen], area[chosen], lo[chosen],
                                   hi[chosen], own, dx[pairs], aberration, level_bins)
        values[pairs] += profile if weight is None else np.repeat(weight, own) * profile
    return LineProfiles(points, lines, values, n)


def _bin_levels(ratio: np.ndarray, bins: int | None) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
    """Which lines get how many bins: (bins, line indices, weights or None). Given ``bins``: every line. Else by
    r = largest shift / FWHM (``ratio``): a line needs n >= 5.6 sqrt(r) bins for 0.1 (r / n^2)^2 <= 1e-4 of its peak;
    it takes the level of AXIAL_LEVELS below that until it needs 2^0.7 = 1.6 times the level's bins (error <= 7e-4)
    and is blended into the next level over the last 30 % of the octave (weights by a smoothstep, so the profile
    stays a smooth function of the parameters: no bin count jumps; <= 1e-3 in a blend, measured 9e-4)."""
    every = np.arange(ratio.size)
    if bins is not None:
        return [(int(bins), every, None)]
    levels = AXIAL_LEVELS
    position = np.clip(np.log2(np.maximum(5.6 * np.sqrt(ratio), levels[0]) / levels[0]), 0.0, len(levels) - 1)
    level = np.minimum(np.floor(position).astype(int), len(levels) - 1)
    t = np.clip((position - level - 0.7) / 0.3, 0.0, 1.0)
    upper = t * t * (3.0 - 2.0 * t)  # smoothstep: 0 and 1 with zero slope at both ends
    plan = []
    for k, level_bins in enumerate(levels):
        weight = np.where(level == k, 1.0 - upper, 0.0) + np.where(level == k - 1, upper, 0.0)
        chosen = np.flatnonzero(weight > 0)
        if chosen.size:
            plan.append((level_bins, chosen, None if np.all(weight[chosen] == 1.0) else weight[chosen]))
    return plan


def _binned_profiles(two_theta: np.ndarray, centres: np.ndarray, fwhm: np.ndarray, eta: np.ndarray, area: np.ndarray,
                     lo: np.ndarray, hi: np.ndarray, counts: np.ndarray, dx: np.ndarray, aberration: AxialAberration,
                     bins: int) -> np.ndarray:
    """The profiles of these lines at their points (``dx`` from the centre, ``counts`` a line, from grid index
    ``lo`` to ``hi``), unit area within the window (``area``), over ``bins`` bins of each smooth part of the axial
    angle's range (module docstring)."""
    from scipy.special import erf

    lines = np.repeat(np.arange(centres.size), counts)
    first_pair = np.concatenate(([0], np.cumsum(counts)[:-1]))
    inv_hw = (2.0 / fwhm)[lines]
    lorentz = (eta * 2.0 / fwhm / (np.pi * area))[lines]
    gauss = ((1.0 - eta) * _GAUSS_NORM * 2.0 / fwhm / area)[lines]

    def shape(offset: np.ndarray, sel: np.ndarray) -> np.ndarray:
        u2 = (offset * inv_hw[sel]) ** 2
        return lorentz[sel] / (1.0 + u2) + gauss[sel] * np.exp(-_LN2 * u2)

    knots: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    limit = aberration.limit(centres)[:, None]
    steps = np.arange(bins + 1) / bins
    for start, end in aberration.partitions():
        first, last = np.minimum(start, limit), np.minimum(end, limit)  # a cone reaches the slit up to limit
        nu = first + (last - first) * steps[None, :]  # (lines, bins + 1), uniform per line
        shift = aberration.shift_deg(nu, centres)
        density = aberration.density(nu, shift, centres)
        # each bin maps nu -> shift by its chord; moving every knot by -1/12 of the shift's second difference
        # makes each bin's mean shift exact (for a parabola, -c dnu^2 / 6), so the error is O(bins^-4)
        second = np.diff(shift, 2, axis=1)
        second = np.concatenate([second[:, :1], second, second[:, -1:]], axis=1)
        knots.append((nu, shift - second / 12.0, density))
    # Over a bin the density is p0 + slope t and the shift knot + width t (t in [0, 1]); with y = offset + width t
    # its contribution is c0 dF0 + c1 (dF1 - offset dF0), c0 = p0 / width, c1 = slope / width^2, where dF0 and dF1
    # are the differences across the bin of the pseudo-Voigt's CDF F0 and of F1 (the antiderivative of y PV(y)).
    # Lorentzian (u = 2 y / FWHM): dF0 = arctan(du / (1 + u_a u_b)) (+-pi when 1 + u_a u_b < 0) / pi and
    # dF1 = FWHM / (4 pi) log1p(du (u_a + u_b) / (1 + u_a^2)), forms that do not cancel as du -> 0 (differences of
    # arctan(u) and log1p(u^2) at the knots would: their rounding made finite-difference derivatives 5e-3 wrong).
    # Gaussian (z = u sqrt(ln 2)): differences of erf(z) and exp(-z^2), only at the points where the bin meets
    # |z| < GAUSS_CORE (elsewhere they are 0, or erf's +-2 for a bin wider than the core, to double precision); over
    # a bin narrower than GAUSS_NARROW_FWHM they would lose digits, and its Gaussian part is integrated by 3-point
    # Gauss-Legendre instead.
    lorentz_f0 = (eta / area)[lines] / np.pi
    lorentz_f1 = lorentz_f0 / (2.0 * inv_hw)
    gauss_f0_line = (1.0 - eta) / area / 2.0
    gauss_f1_line = -gauss_f0_line * fwhm / (2.0 * math.sqrt(math.pi * _LN2))
    z_scale = 2.0 * math.sqrt(_LN2) / fwhm  # z per deg, per line
    core_half = GAUSS_CORE / z_scale  # deg
    # every array of the loop is one of these, written in place: a fresh array of this size per operation cost more
    # in page faults than the arithmetic (8x on a loaded machine)
    size = dx.size
    u_a, u_b, q_a, q_b, f0, f1, work = (np.empty(size) for _ in range(7))
    flag = np.empty(size, dtype=bool)

    def knot(at: np.ndarray, u: np.ndarray, q: np.ndarray) -> None:
        """u = 2 y / FWHM and 1 / (1 + u^2) at the offsets ``at``."""
        np.multiply(at, inv_hw, out=u)
        np.multiply(u, u, out=q)
        q += 1.0
        np.divide(1.0, q, out=q)

    values = np.zeros(size)
    mass = np.zeros(centres.size)
    for nu, shift, density in knots:
        # per line and bin (lines, bins): the bin's mass terms, width, c0, c1 and the points where it meets the
        # Gaussian's core
        d_nu = np.diff(nu, axis=1)
        p0_all, slope_all = d_nu * density[:, :-1], d_nu * np.diff(density, axis=1)
        mass += (p0_all + slope_all / 2.0).sum(axis=1)
        width_all = np.diff(shift, axis=1)
        narrow_all = np.abs(width_all) < LORENTZ_NARROW_FWHM * fwhm[:, None]
        thin_all = (np.abs(width_all) < GAUSS_NARROW_FWHM * fwhm[:, None]) & ~narrow_all
        w_all = np.where(narrow_all, 1.0, width_all)
        c0_all = np.where(narrow_all, 0.0, p0_all / w_all)
        c1_all = np.where(narrow_all, 0.0, slope_all / (w_all * w_all))
        near_lo_all = np.searchsorted(two_theta, (centres - core_half)[:, None] - np.maximum(shift[:, :-1], shift[:, 1:]))
        near_hi_all = np.searchsorted(two_theta, (centres + core_half)[:, None] - np.minimum(shift[:, :-1], shift[:, 1:]),
                                      side="right")
        near_lo_all = np.minimum(np.maximum(near_lo_all, lo[:, None]), hi[:, None])
        near_hi_all = np.minimum(np.maximum(near_hi_all, near_lo_all), hi[:, None])
        offset = np.repeat(shift[:, 0], counts)  # per line -> per point: np.repeat is 4x np.take here
        offset += dx
        knot(offset, u_a, q_a)
        for j in range(bins):
            p0, slope, width, narrow = p0_all[:, j], slope_all[:, j], width_all[:, j], narrow_all[:, j]
            c0, c1, s_b = c0_all[:, j], c1_all[:, j], shift[:, j + 1]
            following = np.repeat(s_b, counts)
            following += dx
            knot(following, u_b, q_b)
            d_u = np.repeat(width, counts)
            d_u *= inv_hw
            # the Lorentzian's dF0 into f0, dF1 into f1
            np.multiply(u_a, u_b, out=work)
            work += 1.0
            np.less(work, 0.0, out=flag)
            np.divide(d_u, work, out=f0)
            np.arctan(f0, out=f0)
            wrapped = np.flatnonzero(flag)
            f0[wrapped] += np.copysign(np.pi, d_u[wrapped])
            f0 *= lorentz_f0
            np.add(u_a, u_b, out=f1)
            f1 *= d_u
            f1 *= q_a
            np.log1p(f1, out=f1)
            f1 *= lorentz_f1
            # c0 dF0 + c1 (dF1 - offset dF0)
            np.multiply(offset, f0, out=work)
            f1 -= work
            f1 *= np.repeat(c1, counts)
            values += f1
            f0 *= np.repeat(c0, counts)
            values += f0
            # the Gaussian, at the points where the bin meets its core (a contiguous range of each line's points)
            near_lo = near_lo_all[:, j]
            near = near_hi_all[:, j] - near_lo
            if near.any():
                on = np.repeat(np.arange(centres.size), near)
                sel = np.arange(on.size) + np.repeat(first_pair + near_lo - lo - np.cumsum(near) + near, near)
                y_a = offset[sel]
                thin = thin_all[on, j]
                if thin.any():
                    # bins narrower than GAUSS_NARROW_FWHM: 3-point Gauss-Legendre
                    t_sel, t_on = sel[thin], on[thin]
                    u_t = (y_a[thin, None] + width[t_on, None] * _GL3_NODES) * inv_hw[t_sel, None]
                    weight = (p0[t_on, None] + slope[t_on, None] * _GL3_NODES) * _GL3_WEIGHTS
                    values[t_sel] += gauss[t_sel] * (weight * np.exp(-_LN2 * u_t * u_t)).sum(axis=1)
                    keep = ~thin
                    sel, on, y_a = sel[keep], on[keep], y_a[keep]
                z_a, z_b = y_a * z_scale[on], following[sel] * z_scale[on]
                d_f0 = gauss_f0_line[on] * (erf(z_b) - erf(z_a))
                d_f1 = gauss_f1_line[on] * (np.exp(-z_b * z_b) - np.exp(-z_a * z_a))
                values[sel] += c0[on] * d_f0 + c1[on] * (d_f1 - y_a * d_f0)
            if narrow.any():
                # a bin narrower than LORENTZ_NARROW_FWHM of its line (within ~1e-3 deg of 90 deg, or no
                # asymmetry): 2-point Gauss-Legendre over it
                sel = np.flatnonzero(narrow[lines])
                on = lines[sel]
                for t in _GL2_NODES:
                    values[sel] += 0.5 * (p0[on] + slope[on] * t) * shape(offset[sel] + width[on] * t, sel)
            offset, following, u_a, u_b, q_a, q_b = following, offset, u_b, u_a, q_b, q_a
    return values / np.where(mass > 0, mass, 1.0)[lines]


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
S_L = RefinementParameter(ParameterKind.S_L)
H_L = RefinementParameter(ParameterKind.H_L)


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
        #: the structure's own a (A): a0 may become a previous fit's (a series' start), this stays the file's
        self.reference_a = float(a_angstrom)
        self.z = z_formula_units
        self.structure = structure
        self.base_occupancy = xrd.occupancy_matrix.copy()
        self.base_b = xrd.b_iso.copy()
        self.multiplicities = multiplicities if multiplicities is not None else np.array([len(g.images) for g in xrd.groups], float)
        self.rules: list[OccupancyRule] = []
        self.b_groups: dict[RefinementParameter, list[int]] = {}
        self.site_sums = self.base_occupancy.sum(axis=1)
        self.messages: list[str] = []
        self.held: HeldComposition | None = None  # an argyrodite's held composition (None: totals free)

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
#: A composition whose net formal charge is within this (e per formula unit) is neutral.
NEUTRAL_TOLERANCE_E = 0.05
#: Held totals that differ from the start file's by more than this (per formula unit) are said.
TOTAL_DIFFERENCE_REPORTED = 0.01
#: A refined total further from the nominal than this many esds is reported (free totals).
NOMINAL_DEVIATION_ESDS = 3.0


def _scattering_class(element: str) -> int:
    return next((i for i, c in enumerate(SCATTERING_CLASSES) if element in c), 100 + hash(element) % 1000)


#: What neutrons cannot tell apart on one site (Sears b_c within 3 %): O 5.803 and F 5.654 fm. S 2.847 / Cl 9.577,
#: Se 7.97 / Br 6.795 and I 5.28 fm they separate.
NEUTRON_SCATTERING_CLASSES = ({"O", "F"},)
#: How the message on X-rays' S/Cl contrast begins (left out of a neutron refinement's warnings).
S_CL_XRAY_MESSAGE_START = "S and Cl differ by one electron"


def _neutron_scattering_class(element: str) -> int:
    return next((i for i, c in enumerate(NEUTRON_SCATTERING_CLASSES) if element in c), 100 + hash(element) % 1000)


def _amounts_per_fu(structure: AnalysedStructure, occupancy: np.ndarray, elements: list[str], groups) -> dict[str, float]:
    """Amount of each element per formula unit on the given site groups for an occupancy matrix (group, element)."""
    out: dict[str, float] = {}
    for g in groups:
        m = structure.positions[g].multiplicity / structure.z
        for j, el in enumerate(elements):
            if occupancy[g, j] != 0:
                out[el] = out.get(el, 0.0) + float(occupancy[g, j]) * m
    return out


def _formula_text(amounts: dict[str, float]) -> str:
    return ", ".join(f"{el} {amounts[el]:.4g}" for el in sorted(amounts))


@dataclass(frozen=True)
class HeldComposition:
    """The composition a default refinement holds (:func:`held_composition`): each held halide's total per formula
    unit, the anion sites' occupancy sums, the Li scale applied to the start's Li rows (1: none), where the numbers
    come from, and what a person must be told about them."""

    totals_per_fu: dict[str, float]
    site_sums: dict[int, float]
    li_scale: float
    source: str
    messages: tuple[str, ...]


def held_composition(structure: AnalysedStructure, occupancy: np.ndarray, elements: list[str],
                     nominal: dict[str, float] | None = None, held: tuple[str, ...] | None = None) -> HeldComposition:
    """What a refinement holds by default: the **nominal, charge-neutral** composition, not the start file's totals.

    ``nominal``: the composition per formula unit to hold (``--nominal``), else the start's ``nominal_formula``,
    else the start's own composition when it is charge-neutral; a start that is neither is refused (ParameterError
    naming ``nominal``: hold what? give the nominal formula, or free the totals). ``held``: the halides whose totals
    are held (None: every halide on the anion sites). Held are then:

    * each held halide's total per formula unit (an element on two anion sites keeps only its 4a/4d split free,
      one on a single site is fixed);
    * the anion sites' occupancy sums: full (1) when the nominal's S + halides beyond the framework's S fill the
      anion sites (Li6PS5X: 2 per f.u.), else the start's;
    * Li: the start's Li rows scaled to the nominal Li (X-rays barely see Li: the distribution is the start's, the
      amount the nominal's), so that the refined composition is the nominal's and neutral.

    X-ray intensities fix each anion site's electron count; with S/Cl (one electron apart) or S/Br/I on one site the
    totals are not determined by the data, and a free refinement drifts (Li6PS5Cl: 1.62 Cl per f.u.)."""
    anion = [g for g, p in enumerate(structure.positions) if p.wyckoff.symbol in ANION_WYCKOFF]
    col = {el: j for j, el in enumerate(elements)}
    start_anion = _amounts_per_fu(structure, occupancy, elements, anion)
    on_anion_sites = {el for el in HALIDES if start_anion.get(el, 0) > 0}
    messages: list[str] = []
    if nominal:
        source = "nominal formula " + (structure.nominal_formula if nominal is structure.nominal_per_fu else "given")
        amounts = dict(nominal)
    elif structure.nominal_per_fu:
        source, amounts = f"nominal formula {structure.nominal_formula}", dict(structure.nominal_per_fu)
    elif abs(structure.charge_per_fu) <= NEUTRAL_TOLERANCE_E:
        source, amounts = "the start structure (charge-neutral; it states no nominal formula)", dict(structure.formula_per_fu)
    else:
        raise ParameterError("nominal", f"{structure.source}: the start structure is not charge-neutral "
                                        f"({structure.charge_per_fu:+.3g} e per formula unit) and states no nominal formula: "
                                        "give the composition to hold (--nominal FORMULA) or free the totals (--free-totals)")
    charge, unknown = formal_charge(amounts)
    if abs(charge) > NEUTRAL_TOLERANCE_E and not unknown:
        messages.append(f"the held composition ({source}) is not charge-neutral: {charge:+.3g} e per formula unit")
    halides_nominal = {el for el in HALIDES if amounts.get(el, 0) > 0}
    held_set = set(on_anion_sites | halides_nominal) if held is None else set(held)
    for el in sorted(held_set):
        if held is not None and el not in on_anion_sites:
            raise ParameterError("tie_totals", f"{el} is on 0 anion sites of {structure.name}: only a halide on the "
                                               f"anion sites ({', '.join(sorted(on_anion_sites)) or 'none'}) has a total to hold")
        if el not in on_anion_sites and amounts.get(el, 0) > 0:
            raise ParameterError("nominal", f"{structure.source}: the {source} holds {el} {amounts[el]:g} per formula "
                                            f"unit, but the start structure has no {el} on its anion sites")
        if el in on_anion_sites and amounts.get(el, 0) <= 0:
            raise ParameterError("nominal", f"{structure.source}: the start structure has {el} on its anion sites, "
                                            f"the {source} none: start from a structure of the nominal composition "
                                            "or free the totals (--free-totals)")
        sites = [g for g in anion if occupancy[g, col[el]] > 0]
        if len(sites) > 2:
            raise ParameterError("tie_totals", f"{el} is on {len(sites)} anion sites of {structure.name}; a total can be "
                                               "held only for an element on one or two sites")
    totals = {el: float(amounts.get(el, 0.0)) for el in sorted(held_set)}
    # the anion sites' sums: full when the nominal's anions beyond the framework S fill them
    other_s = sum(float(occupancy[g, col["S"]]) * structure.positions[g].multiplicity / structure.z
                  for g in range(len(structure.positions)) if g not in anion and "S" in col)
    capacity = sum(structure.positions[g].multiplicity / structure.z for g in anion)
    anion_nominal = amounts.get("S", 0.0) - other_s + sum(amounts.get(el, 0.0) for el in HALIDES)
    start_sums = {g: float(occupancy[g].sum()) for g in anion}
    if held is None and "S" in amounts and abs(anion_nominal - capacity) <= 0.02:
        sums = {g: 1.0 for g in anion}
        changed = {structure.positions[g].wyckoff.symbol: v for g, v in start_sums.items() if abs(v - 1.0) > 1e-3}
        if changed:
            messages.append("the anion sites are held full, as the nominal composition needs (the start file's sums: "
                            + ", ".join(f"{w} {v:.4g}" for w, v in changed.items()) + ")")
    else:
        sums = start_sums
    if sum(totals.values()) > sum(sums[g] * structure.positions[g].multiplicity / structure.z for g in anion) + 1e-6:
        raise ParameterError("nominal", f"{structure.source}: the held halides ({_formula_text(totals)} per formula unit) "
                                        "do not fit on the anion sites")
    # Li: the start's distribution at the nominal amount
    li_scale = 1.0
    li_groups = [g for g, p in enumerate(structure.positions) if "Li" in col and occupancy[g, col["Li"]] > 0]
    li_start = sum(float(occupancy[g, col["Li"]]) * structure.positions[g].multiplicity / structure.z for g in li_groups)
    if held is None and amounts.get("Li", 0) > 0 and li_start > 0 and abs(amounts["Li"] / li_start - 1) > 1e-3:
        scale = amounts["Li"] / li_start
        if max(float(occupancy[g].sum()) - float(occupancy[g, col["Li"]]) + scale * float(occupancy[g, col["Li"]])
               for g in li_groups) <= 1.0 + 1e-6:
            li_scale = scale
            messages.append(f"Li is held at the nominal {amounts['Li']:.4g} per formula unit (the start file has "
                            f"{li_start:.4g}; its distribution over the Li sites is kept, X-rays barely see Li)")
        else:
            messages.append(f"Li stays at the start file's {li_start:.4g} per formula unit: scaling it to the nominal "
                            f"{amounts['Li']:.4g} would overfill a Li site")
    start_totals = {el: start_anion.get(el, 0.0) for el in totals}
    if totals:
        messages.insert(0, f"held at the {source}: {_formula_text(totals)} per formula unit"
                           + ("; only the 4a/4d split of each is refined" if len(anion) > 1 else "")
                           + " (--free-totals frees them)")
        differ = {el for el in totals if abs(totals[el] - start_totals[el]) > TOTAL_DIFFERENCE_REPORTED}
        if differ:
            messages.insert(1, f"the start file's totals ({_formula_text({el: start_totals[el] for el in sorted(differ)})}) "
                               f"differ from the held ones ({_formula_text({el: totals[el] for el in sorted(differ)})}): "
                               "the held composition is refined, not the start file's")
    return HeldComposition(totals, sums, li_scale, source, tuple(messages))


def _start_occupancies(phase: Phase, held: HeldComposition, anion: list[int], sites_of: dict[str, list[int]]) -> None:
    """The phase's start occupancies moved onto the held composition: each held halide's start split scaled to its
    held total (an even split when that overfills a site), the anion sites' sums, Li scaled. S is each site's filler."""
    col = {el: j for j, el in enumerate(phase.xrd.elements)}
    occ = phase.base_occupancy
    per_fu = {g: phase.multiplicities[g] / phase.z for g in anion}
    for g, total in held.site_sums.items():
        phase.site_sums[g] = total
    if "Li" in col and held.li_scale != 1.0:
        occ[:, col["Li"]] *= held.li_scale
        for g in range(occ.shape[0]):
            if g not in held.site_sums:  # a Li site's sum follows its Li (the penalty keeps occupancies within sums)
                phase.site_sums[g] = occ[g].sum()
    for el, total in held.totals_per_fu.items():
        sites = sites_of[el]
        start = sum(occ[g, col[el]] * per_fu[g] for g in sites)
        for g in sites:
            occ[g, col[el]] = occ[g, col[el]] * total / start if start > 0 else total / (len(sites) * per_fu[g])
    halide_cols = [col[el] for el in HALIDES if el in col]
    if any(occ[g, halide_cols].sum() > phase.site_sums[g] + 1e-9 for g in anion):
        for el, total in held.totals_per_fu.items():
            capacity = sum(phase.site_sums[g] * per_fu[g] for g in sites_of[el])
            for g in sites_of[el]:
                occ[g, col[el]] = total * phase.site_sums[g] / capacity
    for g in anion:  # S fills every anion site up to its (held) sum
        if "S" in col:
            others = sum(occ[g, j] for j in range(len(phase.xrd.elements)) if j != col["S"])
            occ[g, col["S"]] = max(phase.site_sums[g] - others, 0.0)


def argyrodite_phase(structure: AnalysedStructure, tie_totals: tuple[str, ...] | None = None,
                     nominal: dict[str, float] | None = None) -> Phase:
    """The argyrodite of a refinement: Cl/Br/I occupancies on the anion sites 4a/4c/4d, S filling each site.

    ``tie_totals`` None (the default): the nominal, charge-neutral composition is held (:func:`held_composition`,
    ``nominal`` overriding the start's formula): each halide's total per formula unit, the anion sites' sums and Li;
    only each halide's 4a/4d split is refined. A tuple of halides holds just those totals (at the nominal), the
    others free; ``()`` frees every total (``--free-totals``): each occupancy refined, each site's sum the start's.
    One B per non-Li site; Li fixed."""
    xrd = XRDModel.from_analysed(structure)
    phase = Phase(structure.name, xrd, structure.a_angstrom, structure.z, structure=structure,
                  multiplicities=np.array([p.multiplicity for p in structure.positions], float))
    wyckoff = [p.wyckoff.symbol for p in structure.positions]
    anion_groups = [i for i, w in enumerate(wyckoff) if w in ANION_WYCKOFF]
    col = {el: i for i, el in enumerate(xrd.elements)}
    sites_of = {el: [g for g in anion_groups if el in col and phase.base_occupancy[g, col[el]] > 0] for el in xrd.elements}
    held = None
    if tie_totals != ():
        held = held_composition(structure, phase.base_occupancy, list(xrd.elements), nominal,
                                None if tie_totals is None else tuple(tie_totals))
        _start_occupancies(phase, held, anion_groups, sites_of)
        phase.messages.extend(held.messages)
    phase.held = held
    ties = tuple(held.totals_per_fu) if held is not None else ()
    for g in anion_groups:
        present = [el for el in xrd.elements if phase.base_occupancy[g, col[el]] > 0 or (el in sites_of and g in sites_of[el])]
        if len(present) < 2:
            continue
        filler = "S" if "S" in present else present[0]
        phase.rules.append(OccupancyRule(g, filler, "filler"))
        for el in present:
            if el == filler:
                continue
            if el in ties and len(sites_of[el]) == 1:
                phase.rules.append(OccupancyRule(g, el, "fixed"))
            elif el in ties and g == sites_of[el][1]:
                phase.rules.append(OccupancyRule(g, el, "tied", tied_to=(sites_of[el][0], el),
                                                 total_per_fu=held.totals_per_fu[el] if held else None))
            else:
                phase.rules.append(OccupancyRule(g, el, "free", parameter=RefinementParameter.occupancy(
                    phase.name, wyckoff[g], el, phase.site_sums[g])))
    if tie_totals == ():
        phase.messages.append("totals free (--free-totals): every anion-site occupancy is refined and each site's sum "
                              "is the start file's; the refined composition is compared with the nominal afterwards")
        if any(len({_scattering_class(el) for el in sites_of if g in sites_of[el]}) >= 3 for g in anion_groups):
            phase.messages.append("a site holds three scatterers (S, Br and I): X-ray intensities fix its electron count, "
                                  "not two occupancies, so free totals are not determined by the data")
    cl_sites = sites_of.get("Cl", [])
    if cl_sites and any("S" in structure.positions[g].species() for g in cl_sites) and len(cl_sites) > 1:
        phase.messages.append(
            "S and Cl differ by one electron (16 vs 17): the Cl split between the anion sites (and S, which fills each "
            "site) is not determined by X-ray data - its esd measures the noise, not the one-electron contrast it rests "
            "on (on synthetic patterns it came out 0.3 off with an esd of 0.04); it is marked undetermined. Neutrons "
            "(Cl 9.58 fm vs S 2.85 fm) tell them apart")
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
    reliable: bool = True
    reasons: list[str] = field(default_factory=list)
    calibration: Instrument | None = None  # what --calibrate found on a standard


#: Refinement modes: Rietveld (the structure's intensities) or Pawley (free line intensities).
MODES = ("rietveld", "pawley")
#: Axial-divergence asymmetry models (module docstring): the one-parameter "axial" (axial_deg) or Finger-Cox-Jephcoat
#: "fcj" (S_L, H_L).
ASYMMETRIES = ("axial", "fcj")


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
      ``settings`` record (None: left out).
    * ``instrument``: a calibration (:class:`~argyrodb.physics.instrument.Instrument`) whose zero shift, widths and
      axial divergence are held; U, X, Y are then the sample's increments and sizes instrument-corrected.
    * ``asymmetry``: the axial-divergence model, "axial" (Cheary & Coelho's one parameter, ``axial_deg``) or "fcj"
      (Finger, Cox & Jephcoat's S/L and H/L, ``S_L`` and ``H_L``; H/L is tied to S/L unless ``refine`` names it).
    * ``radiation``: "xray" or "neutron" (constant wavelength: Sears' b_c, the Lorentz factor alone; ``wavelength``
      in Å, see :mod:`argyrodb.physics.xrd`)."""

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
    instrument: Instrument | None = None
    asymmetry: str = "axial"
    radiation: str = "xray"

    def __post_init__(self) -> None:
        check_radiation_options(self.radiation, self.wavelength, self.monochromator_two_theta_deg)
        if self.mode not in MODES:
            raise ParameterError("mode", f"{self.mode!r} is not rietveld or pawley")
        if self.asymmetry not in ASYMMETRIES:
            raise ParameterError("asymmetry", f"{self.asymmetry!r} is not {' or '.join(ASYMMETRIES)}")
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
        #: second phases whose own parameters run() held because they were not there at their starts: name -> how
        #: many parameters (the final detection test counts them as the phase's degrees of freedom all the same)
        self.held_absent: dict[str, int] = {}
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
        self.asymmetry = self.settings.asymmetry
        # the asymmetry's parameters: A (axial), or S/L and H/L (fcj; H/L tied to S/L unless refined by name)
        self._asymmetry_parameters = (AXIAL,) if self.asymmetry == "axial" else (S_L, H_L)
        for parameter in self._asymmetry_parameters:
            self._add(parameter, start[parameter.kind], refine=parameter is not H_L)
        self.notes: list[str] = []  # said with the result's warnings
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
                self.width_parameter(phase, ParameterKind.X), phase.parameter(ParameterKind.Y), *self._asymmetry_parameters)
        self.instrument = self.settings.instrument
        if self.instrument is not None:
            self._hold_instrument(self.instrument)
        if refine is not None:
            chosen = set(selected(refine, self.parameters))
            for p in self.params.values():
                p.refine = p.definition in chosen
        self.default_refined = refine is None
        # H/L follows S/L unless it is refined itself (parameters.py: at S = H the fit cannot separate them) or an
        # instrument holds both
        self.tied_h_l = self.asymmetry == "fcj" and not self.params[H_L.name].refine and self.instrument is None

    def _hold_instrument(self, instrument: Instrument) -> None:
        """Hold the calibration's zero shift, V, W and axial divergence; U, X, Y become the sample's increments
        (start 0, >= 0) over the instrument's; the sample's displacement and transparency are refined."""
        held = {ZERO_SHIFT.name: instrument.values["zero_shift_deg"], V.name: instrument.values["V"],
                W.name: instrument.values["W"]}
        if self.asymmetry == "axial":
            held[AXIAL.name] = instrument.axial_deg()
            if instrument.asymmetry == "fcj":  # the triangle of axial angles with the same extent
                s_l, h_l = instrument.s_h_over_l()
                self.notes.append(f"the instrument's FCJ S/L = {s_l:.4g}, H/L = {h_l:.4g} are held as the axial model's "
                                  f"A = (S + H)/L = {held[AXIAL.name]:.4g} deg"
                                  + ("" if abs(s_l - h_l) <= 1e-6 else ": S/L != H/L, whose trapezoid the axial model "
                                     "cannot hold (give --asymmetry fcj)"))
        else:
            held[S_L.name], held[H_L.name] = instrument.s_h_over_l()
            if instrument.asymmetry == "axial":  # a triangle over [0, A] is S/L = H/L = A/2 (rad)
                self.notes.append(f"the instrument's axial divergence A = {instrument.values['axial_deg']:.4g} deg is "
                                  f"held as S/L = H/L = A/2 = {held[S_L.name]:.4g} (FCJ; the same triangle of axial angles)")
        for name, value in held.items():
            self.params[name].value, self.params[name].refine = float(value), False
        self.params[DISPLACEMENT.name].refine = True
        for p in self.params.values():
            if p.definition.kind in (ParameterKind.U, ParameterKind.X, ParameterKind.Y):
                p.value = 0.0

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
                                               a_angstrom=a, monochromator_two_theta_deg=self.monochromator,
                                               radiation=self.settings.radiation)
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
        """The phase's U, X or Y as the profile uses it: its own when refined per phase (phase_widths), else the
        shared one; with an instrument, the instrument's plus the sample's increment."""
        kind = ParameterKind(term)
        parameter = phase.parameter(kind) if kind is ParameterKind.Y else self.width_parameter(phase, kind)
        offset = self.instrument.values[term] if self.instrument is not None else 0.0
        return offset + values[parameter.name]

    def _profiles(self, phase: Phase, lines: dict[str, np.ndarray], values: dict[str, float]) -> LineProfiles:
        # the profiles follow from the line positions (a and the shifts) and the widths: their values are the key
        key = (phase.name, *(values.get(p.name) for p in self._profile_parameters[phase.name]))
        cached = self._profile_cache.get(key)
        if cached is None:
            tt = lines["two_theta_deg"]
            centres = tt + self.shift(tt, values)
            u, x, y = (self.width(phase, term, values) for term in ("U", "X", "Y"))
            fwhm, eta = tch_widths(tt, u, values[V.name], values[W.name], x, y)
            cached = line_profiles(self.x, centres, fwhm, eta, self.aberration(values))
            if len(self._profile_cache) > 64:
                self._profile_cache.clear()
            self._profile_cache[key] = cached
        return cached

    def aberration(self, values: dict[str, float]) -> AxialAberration:
        """The axial aberration the profiles use for the parameter ``values`` (by name)."""
        if self.asymmetry == "axial":
            return AxialAberration.axial(values[AXIAL.name])
        s_l = values[S_L.name]
        return AxialAberration.fcj(s_l, s_l if self.tied_h_l else values[H_L.name])

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
        for phase in self.phases:  # neutrons see S and Cl apart: X-rays' S/Cl caveat does not apply to them
            warnings.extend(m for m in phase.messages
                            if not (self.settings.radiation == "neutron" and m.startswith(S_CL_XRAY_MESSAGE_START)))
        warnings.extend(self.notes)

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

        self._check_observations(names)
        if scan_lattice:
            self._start_lattice(names, values_of, weights)
            if self.mode == "rietveld" and len(self.phases) > 1:
                absent = self._hold_absent_phases(names, weights)
                if absent:
                    names[:] = [n for n in names if self.params[n].refine]
                    warnings.extend(f"{phase}: below {ABSENT_AT_START_ESDS:g} sigma with its a and widths at their starts "
                                    f"({significance:.1f} sigma): held there, only its scale refined"
                                    for phase, significance in absent.items())
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
        at_bound = [name for name, v, lo, hi in zip(names, best.x, lower, upper)
                    if min(v - lo, hi - v) <= 1e-9 * max(abs(lo), abs(hi), 1.0) + 1e-12]
        esd, correlations, cov = _esds(best.jac[: self.y.size], names, gof, warnings, at_bound)
        for name in at_bound:
            if not name.startswith(("occ:", "U", "X", "Y")):  # a width or an occupancy at 0 is an ordinary answer
                parameter = self.params[name]
                bound = parameter.lower if values[name] <= parameter.lower + 1e-9 else parameter.upper
                warnings.append(f"{name} ran to its bound ({bound:g}) and is held there: no esd")
        for name, e in zip(names, esd):
            self.params[name].value = values[name]
            self.params[name].esd = e
        for name, p_ in self.params.items():
            if not p_.refine:
                p_.value = values[name]
        if self.tied_h_l:  # H/L is S/L's: its value and esd
            tied = self.params[H_L.name]
            tied.value, tied.esd, tied.note = self.params[S_L.name].value, self.params[S_L.name].esd, "tied to S_L"
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
        scale_esds, significance = (self._significances(coef, matrix, weights, gof, names) if self.mode == "rietveld"
                                    else ({}, {}))
        detected = {k: self.mode != "rietveld" or (significance.get(k) or 0.0) >= DETECTION_ESDS for k in scales}
        undetected_why: dict[str, str] = {}  # a second phase above the threshold that a closer look set aside
        for phase in self.phases[1:]:
            if detected[phase.name] and self.mode == "rietveld":
                note = (self._broad_lines_check(phase, values, names)
                        or self._moved_lines_check(phase, values, weights, gof, names)
                        or self._clean_lines_check(phase, phase_patterns, scales[phase.name], calc, weights, gof, names))
                if note:
                    detected[phase.name] = False
                    warnings.append(note)
                    undetected_why[phase.name] = note
        total = sum((scales[k] or 0.0) * masses[k] for k in masses if detected[k]) if self.mode == "rietveld" else 0.0
        reasons: list[str] = []
        for phase in self.phases:
            lattice = phase.lattice_parameter
            phase_scale = scales[phase.name]
            if self.mode == "rietveld" and not detected[phase.name]:
                phases_out.append(self._undetected(phase, phase_scale, scale_esds.get(phase.name), masses, total))
                phases_out[-1]["significance_sigma"] = significance.get(phase.name)
                if phase is self.phases[0]:
                    reasons.append(f"the main phase {phase.name} is not detected (significance below "
                                   f"{DETECTION_ESDS:g} sigma): a wrong wavelength, a wrong phase, or not a powder "
                                   "pattern of it")
                else:
                    bound = phases_out[-1]["weight_fraction_upper_bound"]
                    phases_out[-1]["not_detected_because"] = undetected_why.get(phase.name, f"significance below {DETECTION_ESDS:g} sigma")
                    if phase.name not in undetected_why:
                        warnings.append(f"{phase.name} is not detected (significance below {DETECTION_ESDS:g} sigma)"
                                        + (f": at most {100 * bound:.2g} wt %" if bound is not None else ""))
                    elif bound is not None:
                        warnings.append(f"{phase.name}: at most {100 * bound:.2g} wt % (its scale's upper bound)")
                continue
            entry = {"name": phase.name, "scale": phase_scale, "scale_esd": scale_esds.get(phase.name),
                     "detected": True if self.mode == "rietveld" else None,
                     "significance_sigma": significance.get(phase.name),
                     "weight_fraction": (phase_scale * masses[phase.name] / total) if phase_scale is not None and total > 0 else None,
                     "a_angstrom": phase.a(values) if phase.cubic else None,
                     "a_esd": self.params[lattice.name].esd if lattice is not None and lattice.name in self.params else None,
                     **self._size_and_strain(phase, values),
                     "sites": _sites(phase, values, self.mode, _occupancy_esds(phase, names, cov), self.settings.radiation)}
            if phase.structure is not None and self.mode == "rietveld":
                composition, notes = _composition_report(phase, values, names, cov)
                entry.update(composition)
                warnings.extend(notes)
                warnings.extend(_undetermined_at_bound(phase.name, entry["sites"]))
            phases_out.append(entry)
        if gof > 2.0:
            warnings.append(f"GoF {gof:.2f} > 2: the model does not describe the data within its noise (missing phase, "
                            "texture, wrong profile); look at the difference curve")
        if best.status == 0:
            reasons.append(f"the solver stopped at its evaluation limit ({best.nfev} evaluations) before converging")
        broken = [(a, b, r) for a, b, r in correlations if abs(r) > 1.0 + 1e-6]
        if broken:
            reasons.append(f"the covariance is numerically broken (correlation {broken[0][2]:+.3f} between "
                           f"{broken[0][0]} and {broken[0][1]}): the parameters are not determined by the data")
        for phase in self.phases:
            lattice = phase.lattice_parameter
            if lattice is not None and lattice.name in names and detected.get(phase.name, True):
                value = values[lattice.name]
                if min(value - lattice.lower, lattice.upper - value) < 1e-6 * value:
                    reasons.append(f"a of {phase.name} ran to its bound ({value:.5f} A, start {phase.a0:.5f} A +- 3 %): "
                                   "a wrong start structure, wavelength or x axis")
        record = {"mode": self.mode, "radiation": self.settings.radiation, "wavelength": self.settings.wavelength_text,
                  "weighting": weighting,
                  "asymmetry": (self.asymmetry if self.asymmetry == "axial" else
                                "fcj (S_L, H_L tied: H/L = S/L)" if self.tied_h_l else "fcj (S_L, H_L)"),
                  "instrument": None if self.instrument is None else (self.instrument.source or "given"),
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
            warnings=warnings, seconds=time.perf_counter() - started, settings=record, reliable=not reasons,
            reasons=reasons)

    def _size_and_strain(self, phase: Phase, values: dict[str, float]) -> dict:
        """The phase's crystallite size (nm, Scherrer with K = 0.9 from its Lorentzian Y) and, with an instrument,
        its Gaussian microstrain e = sqrt(U_s) pi/720 (Stokes-Wilson, FWHM = 4 e tan theta); with esds propagated
        from Y's and U's (sigma_D = D sigma_Y / Y). Without an instrument the size is "apparent": Y also holds the
        instrument's Lorentzian width, so the size is a lower bound."""
        y_name = phase.parameter(ParameterKind.Y).name
        y, y_esd = values[y_name], self.params[y_name].esd
        size = _size_nm(y, self.components[0].wavelength_angstrom)
        out: dict[str, Any] = {"size_nm": size, "size_esd_nm": None if size is None or y_esd is None else size * y_esd / y,
                               "size_kind": "instrument-corrected" if self.instrument is not None else "apparent",
                               # the shape factor the size assumes: sizes by K = 1 (integral-breadth, xrayutilities)
                               # are this size / K
                               "scherrer_k": SCHERRER_K if size is not None else None}
        if self.instrument is not None:
            u_name = self.width_parameter(phase, ParameterKind.U).name
            u, u_esd = values[u_name], self.params[u_name].esd
            strain = math.sqrt(max(u, 0.0)) * math.pi / 720.0
            out["microstrain"] = strain
            out["microstrain_esd"] = (None if u_esd is None or u <= 0 else math.pi / 720.0 * u_esd / (2 * math.sqrt(u)))
        return out

    def _check_observations(self, names: list[str]) -> None:
        """Refuse a problem the data cannot determine: fewer than MIN_POINTS_PER_PARAMETER points per parameter
        (the scales, background and Pawley intensities counted), or fewer than MIN_MAIN_REFLECTIONS reflections of
        the main phase within the data's range (an x axis that is not 2theta in degrees, or the wrong wavelength)."""
        values = {k: p.value for k, p in self.params.items()}
        matrix, _, info = self.design(values)
        n_parameters = len(names) + matrix.shape[1]
        if self.y.size < MIN_POINTS_PER_PARAMETER * n_parameters:
            raise InputError("data", f"{self.y.size} points for {n_parameters} parameters: a refinement needs at least "
                                     f"{MIN_POINTS_PER_PARAMETER} points a parameter "
                                     f"({MIN_POINTS_PER_PARAMETER * n_parameters}); give more data or refine less")
        main = self.phases[0]
        lines = info[main.name]
        inside = (lines["two_theta_deg"] >= self.x[0]) & (lines["two_theta_deg"] <= self.x[-1]) & (lines["component"] == 0)
        n_lines = int(np.unique(lines["line_key"][inside]).size) if "line_key" in lines else int(inside.sum())
        if n_lines < MIN_MAIN_REFLECTIONS:
            raise InputError("data", f"{n_lines} reflection(s) of {main.name} (a = {main.a0:.4f} A) fall in "
                                     f"{self.x[0]:.4g}-{self.x[-1]:.4g} deg 2theta at {self.components[0].wavelength_angstrom:.4f} A: "
                                     "is the x axis 2theta in degrees (not d-spacing or Q) and the wavelength right?")

    def _scale_esds(self, matrix: np.ndarray, weights: np.ndarray, gof: float) -> dict[str, float | None]:
        """esd of each phase's scale from the linear problem at the refined non-linear parameters:
        cov = (A^T W A)^-1 GoF^2 over the scale and background columns (their correlation with the non-linear
        parameters left out: a detection test, not a final error)."""
        a = matrix * np.sqrt(weights)[:, None]
        norms = np.linalg.norm(a, axis=0)
        norms[norms == 0] = 1.0
        try:
            cov = np.linalg.pinv((a / norms).T @ (a / norms)) * gof**2
        except np.linalg.LinAlgError:
            return {}
        esd = np.sqrt(np.clip(np.diag(cov), 0, None)) / norms
        return {phase.name: float(esd[i]) if np.isfinite(esd[i]) else None for i, phase in enumerate(self.phases)}

    def _degrees_of_freedom(self, phase: Phase, names: list[str]) -> int:
        """The degrees of freedom of a phase's detection test (:func:`_significance_sigma`): its scale, its parameters
        among the refined ``names`` and those :meth:`_hold_absent_phases` held (:attr:`held_absent`), which the
        phase would bring were it there."""
        own = sum(1 for n in names if self.params[n].definition.phase == phase.name)
        return 1 + own + self.held_absent.get(phase.name, 0)

    def _significances(self, coef: np.ndarray, matrix: np.ndarray, weights: np.ndarray, gof: float, names: list[str]
                       ) -> tuple[dict[str, float | None], dict[str, float | None]]:
        """(scale esds, significances) of every phase from a solved linear problem (``coef``, ``matrix``; Rietveld:
        column i is phase i's scale): the one detection test that the start's hold, the final report and the
        moved-lines check all apply (:meth:`_scale_esds`, :func:`_significance_sigma`)."""
        esds = self._scale_esds(matrix, weights, gof)
        return esds, {phase.name: _significance_sigma(coef[i], esds.get(phase.name), self._degrees_of_freedom(phase, names))
                      for i, phase in enumerate(self.phases)}

    def _undetected(self, phase: Phase, scale: float | None, scale_esd: float | None, masses: dict, total: float) -> dict:
        """A phase below the detection limit: no a, size or occupancies, an upper bound on its weight fraction from
        scale + DETECTION_ESDS esd (Hill-Howard against the detected phases)."""
        upper = None
        if scale_esd is not None:
            bound = max(scale or 0.0, 0.0) + DETECTION_ESDS * scale_esd
            upper = bound * masses[phase.name] / (bound * masses[phase.name] + total) if total > 0 else 1.0
        return {"name": phase.name, "scale": scale, "scale_esd": scale_esd, "detected": False, "weight_fraction": None,
                "weight_fraction_upper_bound": upper, "a_angstrom": None, "a_esd": None, "size_nm": None, "sites": []}

    def _broad_lines_check(self, phase: Phase, values: dict[str, float], names: list[str]) -> str | None:
        """A second phase whose line widths (its U or Y) ran to their upper bounds has no lines the data resolve: its
        "lines" fit a broad hump of the background or of another phase's tails (synthetic Li6PS5Cl0.5Br0.5 with no
        impurity: "Li2S" of 4 nm crystallites, U and Y at their bounds, 0.8 wt % at 7 sigma on a 2-deg-wide
        excess at 26.5-28.5 deg)."""
        broad = [n for n in names
                 if self.params[n].definition.phase == phase.name
                 and self.params[n].definition.kind in (ParameterKind.U, ParameterKind.X, ParameterKind.Y)
                 and values[n] >= self.params[n].upper * (1 - 1e-4)]
        if not broad:
            return None
        size = _size_nm(values[phase.parameter(ParameterKind.Y).name], self.components[0].wavelength_angstrom)
        return (f"{phase.name} is not detected: its line widths ran to their upper bounds ({', '.join(broad)}"
                + (f"; crystallites of {size:.0f} nm" if size is not None else "")
                + "): what it fits is a broad hump (background, another phase's tails), not lines of a crystalline phase")

    def _clean_lines_check(self, phase: Phase, phase_patterns: dict[str, np.ndarray], scale: float | None, calc: np.ndarray,
                           weights: np.ndarray, gof: float, names: list[str]) -> str | None:
        """A second phase must also stand on its own lines: the points where the other phases' lines are below the
        noise (their calculated intensity under CLEAN_LINE_NOISE standard deviations of a point). Where its lines
        lie under the main phase's, its scale can take up the misfit of the main phase's intensities (X-rays' S/Cl
        split, a profile shape), which the Wald test of the whole pattern counts as signal: the synthetic
        Li6PS5Cl0.5Br0.5 with no impurity gave Li2S at 7 sigma on its (200) and (220), which lie 0.2-0.3 deg from
        the argyrodite's (222) and (422), with nothing at its clean (111).

        On the clean points the scale is re-estimated with everything else held at the fit, s = s_fit + sum(w P r) /
        sum(w P^2) (P the phase's pattern per unit scale, r = y - y_calc) with esd GoF / sqrt(sum(w P^2)), and tested
        as the whole-pattern scale is (_significance_sigma with the phase's parameters as degrees of freedom).
        A phase with no clean line at all is not confirmed either: the note says its lines all overlap."""
        if scale is None or not scale > 0:
            return None
        own = phase_patterns[phase.name] / scale
        others = sum((pattern for name, pattern in phase_patterns.items() if name != phase.name), np.zeros_like(calc))
        noise = 1.0 / np.sqrt(weights)
        clean = (others < CLEAN_LINE_NOISE * noise) & (own * scale > 0.1 * noise)
        count = self._degrees_of_freedom(phase, names)
        information = float(np.sum(weights[clean] * own[clean] ** 2))
        if information <= 0:
            return (f"{phase.name} is not detected: every line of it lies under another phase's, where its scale takes up "
                    "misfit of those lines; nothing of it stands apart from them")
        estimate = scale + float(np.sum(weights[clean] * own[clean] * (self.y - calc)[clean])) / information
        esd = gof / math.sqrt(information)
        significance = _significance_sigma(estimate, esd, count) or 0.0
        if significance >= DETECTION_ESDS:
            return None
        return (f"{phase.name} is not detected: on its own lines (apart from the other phases') it stands at "
                f"{significance:.1f} sigma; its whole-pattern scale came from lines under the other phases', whose misfit it "
                "takes up")

    def _moved_lines_check(self, phase: Phase, values: dict[str, float], weights: np.ndarray, gof: float,
                           names: list[str]) -> str | None:
        """A second phase whose a moved more than REFERENCE_A_SHIFT from its structure's is tested again with its
        lines where its structure puts them: a free a over +-3 % lets its lines take up the misfit of the other
        phases' lines (synthetic Li6PS5Cl0.5Br0.5 with no impurity: Li2S "detected" at 7-11 sigma with a 2.6 % below
        its 5.71 A, LiI at 6.6 sigma with a 1.5 % above). The Wald test counts a as one degree of freedom, which
        underrates that search (Davies' problem). The phase is "not detected" when its scale, solved with a at the
        reference and everything else at the fit, is below DETECTION_ESDS; the note says so."""
        lattice = phase.lattice_parameter
        if lattice is None or lattice.name not in names:
            return None
        shift = values[lattice.name] / phase.reference_a - 1.0
        if abs(shift) <= REFERENCE_A_SHIFT:
            return None
        _, coef, matrix, _, _ = self.calculate({**values, lattice.name: phase.reference_a}, weights)
        at_reference = self._significances(coef, matrix, weights, gof, names)[1][phase.name] or 0.0
        if at_reference >= DETECTION_ESDS:
            return None
        return (f"{phase.name} is not detected: its lines fit only with a = {values[lattice.name]:.4f} A, {100 * shift:+.1f} % "
                f"from its structure's {phase.reference_a:.4f} A, where they take up misfit of the other phases' lines; at "
                f"its own a it stands at {at_reference:.1f} sigma (give a structure with the a you expect if it is a "
                "solid solution)")

    def _hold_absent_phases(self, names: list[str], weights: np.ndarray) -> dict[str, float]:
        """Hold the a, widths and B of second phases that are not there, so that the refinement does not spend its
        iterations moving lines of nothing (an absent phase doubled to tripled the solver's iterations: its a and
        widths wander where its lines fit noise).

        At the start values (every a from the lattice scan), with the scales and background solved, each second
        phase's significance is the Wald test of its scale against chi^2 with as many degrees of freedom as it
        would bring (its scale and own parameters, as the final detection counts them). The start's misfit of the
        main phase (its widths and occupancies not yet refined) leaves structure in the residual that a phase's
        lines can take up, so the test errs towards "there": a phase held here is far from it. Phases below
        ABSENT_AT_START_ESDS keep their own parameters held (refine off; :attr:`held_absent` counts them for the
        final test, which decides what is reported). Returns {phase name: significance} of the held ones."""
        extra = {phase.name for phase in self.phases[1:]}
        own = [n for n in names if self.params[n].definition.phase in extra]
        if not own:
            return {}
        values = {k: p.value for k, p in self.params.items()}
        calc, coef, matrix, _, _ = self.calculate(values, weights)
        dof = max(self.y.size - len(names) - matrix.shape[1], 1)
        gof = math.sqrt(float(np.sum(weights * (self.y - calc) ** 2)) / dof)
        _, significances = self._significances(coef, matrix, weights, gof, names)
        held: dict[str, float] = {}
        for phase in self.phases[1:]:
            significance = significances[phase.name]
            if (significance or 0.0) < ABSENT_AT_START_ESDS:
                held[phase.name] = significance or 0.0
                self.held_absent[phase.name] = self._degrees_of_freedom(phase, names) - 1
                for n in own:
                    if self.params[n].definition.phase == phase.name:
                        self.params[n].refine = False
        return held

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


def _significance_sigma(scale: float | None, esd: float | None, n_parameters: int) -> float | None:
    """How significant a phase is, as the Gaussian sigma of equal two-sided probability: the Wald statistic
    (scale / esd)^2 against chi^2 with one degree of freedom per parameter the phase brings (its scale, a, widths,
    occupancies). A phase whose a and widths are free can place its lines on any bump of the residual, so its
    scale alone at 3 esd is not 3 sigma (the look-elsewhere effect; counting its parameters as degrees of freedom
    is the conservative side of Davies' problem, Biometrika 74 (1987) 33)."""
    from scipy.stats import chi2, norm

    if scale is None or esd is None or not esd > 0:
        return None
    wald = (max(scale, 0.0) / esd) ** 2
    p = float(chi2.sf(wald, n_parameters))
    # beyond double precision's tail the Wald statistic's own sqrt is the sigma (they agree to 1 % from ~8 sigma)
    return float(norm.isf(p / 2)) if p > 1e-300 else math.sqrt(wald)


def _smoothed(y: np.ndarray, half: int = 3) -> np.ndarray:
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.convolve(np.pad(y, half, mode="edge"), kernel, mode="valid")


def _perturbed(x, steps, lower, upper, attempt) -> np.ndarray:
    """A restart's start: ``x`` moved by a normal deviate of 3 steps per parameter (seeded by the attempt)."""
    rng = np.random.default_rng(attempt)
    return np.clip(x + rng.normal(0, 3, size=x.size) * steps, lower, upper)


def _esds(jac: np.ndarray, names: list[str], gof: float, warnings: list[str], at_bound: list[str] | None = None
          ) -> tuple[list[float | None], list, np.ndarray | None]:
    """esds (covariance (J^T J)^-1 GoF^2), the correlations above CORRELATION_REPORTED and the covariance. A parameter
    at a bound is held there for the covariance (its row and column zero, esd None): at a bound the curvature says
    nothing about its uncertainty, and its near-zero column made pinv return correlations beyond +-1."""
    free = np.array([name not in (at_bound or ()) for name in names], dtype=bool)
    cov = np.zeros((len(names), len(names)))
    try:
        sub = jac[:, free]
        cov[np.ix_(free, free)] = np.linalg.pinv(sub.T @ sub) * gof**2
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
    return [float(e) if keep else None for e, keep in zip(esd, free)], pairs, cov


#: A second phase less significant than this at the start values is held (Refiner._hold_absent_phases).
ABSENT_AT_START_ESDS = 3.0
#: A point is clean of the other phases' lines when their calculated intensity there is below this many standard
#: deviations of the point (Refiner._clean_lines_check).
CLEAN_LINE_NOISE = 1.0
#: A second phase whose a moved further than this (fraction) from its structure's is tested again at that a
#: (Refiner._moved_lines_check); thermal expansion from 25 to 100 C is ~0.2 % for the lithium halides.
REFERENCE_A_SHIFT = 0.005


#: An occupancy this close to 0 or to its site's sum is at the bound the refinement keeps it within.
OCCUPANCY_AT_BOUND = 1e-4


def _undetermined_at_bound(phase_name: str, sites: list[dict]) -> list[str]:
    """Warnings for a split the data cannot determine (``undetermined``: S/Cl for X-rays) that ran to a bound (0 or
    the site's sum) on a site where other splits are refined: the bound, not the data, then decides it, and the
    other elements' splits on the site absorb the difference. Their esds come from the curvature at the bound and
    do not include that bias (synthetic Li6PS5Cl0.8Br0.2, tests/data/refine_series: Cl driven to 0 on 4a against a
    true 0.32, Br 4a 0.176 against 0.156, 5 esd off)."""
    out = []
    for site in sites:
        occupancies = site["occupancies"]
        total = sum(occupancies.values())
        pinned = [el for el in site["undetermined"]
                  if not OCCUPANCY_AT_BOUND <= occupancies.get(el, 0.0) <= total - OCCUPANCY_AT_BOUND]
        others = [el for el in site.get("occupancy_esds", {}) if el not in site["undetermined"]]
        if pinned and others:
            out.append(f"{phase_name}: {'/'.join(pinned)} on {site['wyckoff']} ran to a bound "
                       f"({', '.join(f'{el} {occupancies.get(el, 0.0):.3f}' for el in pinned)}) in a split the data cannot "
                       f"determine ({'/'.join(site['undetermined'])}): the bound decides it, and "
                       f"{', '.join(others)} on {site['wyckoff']} may be off by more than {'its' if len(others) == 1 else 'their'} "
                       "esd (hold that split, or refine neutron data, which tell S from Cl)")
    return out


def _size_nm(y_deg: float, wavelength_angstrom: float) -> float | None:
    """Scherrer size K lambda / Y (Y in rad) in nm; None without size broadening (Y ~ 0)."""
    if y_deg <= 1e-6:
        return None
    return SCHERRER_K * wavelength_angstrom / np.radians(y_deg) / 10.0


def _occupancy_esds(phase: Phase, names: list[str], cov: np.ndarray | None) -> dict[tuple[int, str], float]:
    """esd of every refined or derived occupancy (group, element) from the covariance through
    :func:`_occupancy_gradients`."""
    if cov is None:
        return {}
    out: dict[tuple[int, str], float] = {}
    for site, grad in _occupancy_gradients(phase, names).items():
        if grad:
            idx = np.array(list(grad))
            g = np.array(list(grad.values()))
            out[site] = float(np.sqrt(max(g @ cov[np.ix_(idx, idx)] @ g, 0.0)))
    return out


def _composition_report(phase: Phase, values: dict[str, float], names: list[str], cov: np.ndarray | None
                        ) -> tuple[dict, list[str]]:
    """The refined composition per formula unit (every element, from the occupancies), the anion-site totals' esds
    (from the covariance through each occupancy's gradient), the net formal charge, what was held, and the warnings:
    a composition that is not neutral (beyond NEUTRAL_TOLERANCE_E), and - totals free - a halide total further from
    the nominal than NOMINAL_DEVIATION_ESDS esds."""
    structure = phase.structure
    assert structure is not None
    occ = phase.occupancies(values)
    elements = list(phase.xrd.elements)
    composition = _amounts_per_fu(structure, occ, elements, range(len(structure.positions)))
    esds = _occupancy_gradients(phase, names)
    total_esd: dict[str, float] = {}
    if cov is not None:
        for el in composition:
            gradient: dict[int, float] = {}
            for (g, element), grad in esds.items():
                if element == el:
                    for i, v in grad.items():
                        gradient[i] = gradient.get(i, 0.0) + v * phase.multiplicities[g] / phase.z
            if gradient:
                idx = np.array(list(gradient))
                vec = np.array(list(gradient.values()))
                total_esd[el] = float(np.sqrt(max(vec @ cov[np.ix_(idx, idx)] @ vec, 0.0)))
    charge, unknown = formal_charge(composition)
    held = phase.held
    report = {"composition_per_fu": {el: round(v, 6) for el, v in sorted(composition.items())},
              "composition_esd_per_fu": {el: total_esd[el] for el in sorted(total_esd)},
              "charge_per_fu": None if unknown else round(charge, 6),
              "held": None if held is None else {"source": held.source, "totals_per_fu": held.totals_per_fu}}
    notes: list[str] = []
    if not unknown and abs(charge) > NEUTRAL_TOLERANCE_E:
        notes.append(f"{phase.name}: the refined composition is not charge-neutral: {charge:+.3g} e per formula unit "
                     f"({_formula_text(composition)})")
    nominal = structure.nominal_per_fu
    if nominal:
        for el in HALIDES:
            if held is not None and el in held.totals_per_fu:
                continue
            found, expected = composition.get(el, 0.0), nominal.get(el, 0.0)
            if found == 0 and expected == 0:
                continue
            esd = total_esd.get(el)
            if esd is not None and abs(found - expected) > NOMINAL_DEVIATION_ESDS * esd:
                notes.append(f"{phase.name}: refined {el} {found:.3f} +- {esd:.3f} per formula unit, "
                             f"{abs(found - expected) / esd:.1f} esd from the nominal {expected:g} "
                             f"({structure.nominal_formula})")
    return report, notes


def _occupancy_gradients(phase: Phase, names: list[str]) -> dict[tuple[int, str], dict[int, float]]:
    """d occupancy(group, element) / d parameter for the refined parameters ``names`` (by index): free ones 1, a tied
    one its partner's times minus the multiplicity ratio, a filler minus the sum of its site's others."""
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
    return gradient


def _sites(phase: Phase, own: dict[str, float], mode: str, esds: dict | None = None, radiation: str = "xray") -> list[dict]:
    if phase.structure is None:
        return []
    esds = esds or {}
    occ = phase.occupancies(own) if mode == "rietveld" else phase.base_occupancy
    b = phase.b_values(own) if mode == "rietveld" else phase.base_b
    out = []
    varied = {(r.group, r.element) for r in phase.rules if r.kind in ("free", "tied")}
    for g, pos in enumerate(phase.structure.positions):
        present = [el for i, el in enumerate(phase.xrd.elements) if phase.base_occupancy[g, i] > 0 or occ[g, i] > 0]
        # two scatterers of one class (S/Cl: 16 and 17 electrons) on a site whose split is refined: their amounts
        # trade one electron each, which the data cannot weigh against the other scatterers' splits and B
        same = _scattering_class if radiation == "xray" else _neutron_scattering_class
        undetermined = sorted({el for el in present for other in present if other != el
                               and same(el) == same(other)
                               and ((g, el) in varied or (g, other) in varied)}) if mode == "rietveld" else []
        out.append({"label": "/".join(r.label for r in pos.rows), "wyckoff": pos.wyckoff.symbol,
                    "undetermined": undetermined,
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
PROBE_TOLERANCE = 1e-8


def displacement_probes(refiner: Refiner, result: RefinementResult, displacements_deg=(-DISPLACEMENT_PROBE_DEG, DISPLACEMENT_PROBE_DEG)
                        ) -> list[tuple[float, float, float]]:
    """(displacement, a, GoF) of the main phase were the sample displacement held at each of ``displacements_deg``
    and the line positions refitted: the zero shift, transparency and every phase's a that the fit refined start
    from the fit's values; widths, asymmetry, occupancies and B are held at the fit's.

    A displacement moves lines (D cos theta), which only the position parameters can follow; the others are
    nearly orthogonal to it, so holding them changes the probe's a by little while a 4-parameter fit costs a few
    dozen model evaluations instead of a full refit's hundreds. On the displaced synthetic case
    (tests/physics/test_rietveld.py) the probes agree with two full refits within 2e-4 A in a and 0.01 in GoF."""
    name = DISPLACEMENT.name
    position_kinds = (ParameterKind.ZERO_SHIFT, ParameterKind.TRANSPARENCY, ParameterKind.A)
    saved = {k: (p.value, p.esd, p.refine, p.note) for k, p in refiner.params.items()}
    probes = []
    try:
        for d in displacements_deg:
            for k, (value, _, refine, _) in saved.items():
                parameter = refiner.params[k]
                parameter.value = value
                parameter.refine = refine and parameter.definition.kind in position_kinds
            refiner.params[name].value, refiner.params[name].refine = float(d), False
            if not any(p.refine and p.definition.kind is ParameterKind.A and p.definition.phase == refiner.phases[0].name
                       for p in refiner.params.values()):
                return []
            other = refiner.run(restarts=0, scan_lattice=False, tolerance=PROBE_TOLERANCE)
            # chi^2 against the full fit's N - P: the probe's own GoF would count only its few free parameters
            probes.append((float(d), other.phases[0]["a_angstrom"], other.r_wp / result.r_exp))
    finally:
        for k, (value, esd, refine, note) in saved.items():
            parameter = refiner.params[k]
            parameter.value, parameter.esd, parameter.refine, parameter.note = value, esd, refine, note
    return probes


def displacement_check(refiner: Refiner, result: RefinementResult) -> str | None:
    """Probe the sample displacement at +-0.05 deg (0.1 mm at R = 240 mm; :func:`displacement_probes`, linearised
    about the fit) and say so when the fit cannot tell those apart but the lattice parameter moves.

    Over a 10-90 deg pattern zero shift, displacement (cos theta), transparency (sin 2theta) and a (tan theta) are
    nearly collinear: on synthetic patterns a moves by up to 0.003 A along that valley at equal chi^2, so a
    displacement the data cannot see still decides a at the 1e-3 A level."""
    name = DISPLACEMENT.name
    if name not in refiner.params or refiner.params[name].refine or refiner.mode != "rietveld":
        return None
    main = result.phases[0]
    if main["a_angstrom"] is None:
        return None
    probes = displacement_probes(refiner, result)
    if not probes:
        return None
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
