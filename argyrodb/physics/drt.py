"""Distribution of relaxation times (DRT) of an impedance spectrum by Tikhonov-regularised non-negative least squares.

Model. The spectrum is a series resistance, an optional series inductance and a continuum of RC relaxations whose
time constants tau are distributed as gamma(ln tau) (ohm per unit of ln tau):

    Z(f) = R_inf + j omega L + integral gamma(ln tau) / (1 + j omega tau) d ln tau,     omega = 2 pi f.

An ideal RC element (R, tau = RC) is a delta function of weight R at ln tau, an R||CPE arc (ZARC) a bell of area R;
the polarisation resistance is R_pol = integral gamma d ln tau = Z(0) - R_inf.

Discretisation. gamma is taken at K points tau_k log-spaced with step Delta = ln(tau_{k+1} / tau_k), from
``extend_decades`` (one) decade below 1 / (2 pi f_max) to one decade above 1 / (2 pi f_min), ``points_per_decade``
(10) a decade, and the integral by the rectangle rule:

    Z_m = R_inf + j omega_m L + sum_k A_mk gamma_k,     A_mk = Delta / (1 + j omega_m tau_k).

Fit. Real and imaginary parts are fitted together, each point weighted by w_m = 1 / |Z_m| (``weighting='modulus'``:
relative errors) or w_m = 1 / max|Z| (``'unit'``), with the roughness of gamma as the penalty:

    min  sum_m w_m^2 |Z_m(x) - Z_m|^2  +  lambda sum_k Delta [(g_{k-1} - 2 g_k + g_{k+1}) / Delta^2]^2
    subject to  gamma_k >= 0,  R_inf >= 0,  L >= 0,

with g = gamma / max|Z|, so lambda is dimensionless and does not depend on the grid: the penalty is the rectangle
rule of lambda * integral (d^2 g / d(ln tau)^2)^2 d ln tau. This is ridge (Tikhonov) regression with a
second-derivative operator, as in Saccoccio, Wan, Chen & Ciucci, Electrochim. Acta 147 (2014) 470 ("Optimal
regularization in distribution of relaxation times applied to electrochemical impedance spectroscopy: ridge and
lasso regression methods") and Wan, Saccoccio, Chen & Ciucci, Electrochim. Acta 184 (2015) 483 ("Influence of the
discretization methods on the distribution of relaxation times deconvolution", which compares piecewise-linear
and radial-basis-function discretisations; the rectangle rule here is the simplest of the kind). The
non-negativity constraint makes it one non-negative least-squares problem on the stacked system
(scipy.optimize.nnls):

    [ W A_re ; W A_im ; sqrt(lambda) D2 ] x = [ W Z' ; W Z'' ; 0 ],     x = (R_inf, L omega_max, g) / max|Z| >= 0.

Lambda. Unless given, lambda minimises the (modified) generalised cross-validation score of the unconstrained ridge
solution (Golub, Heath & Wahba, Technometrics 21 (1979) 215; for the DRT, Maradesa, Py, Wan, Effat & Ciucci,
J. Electrochem. Soc. 170 (2023) 030502, who found GCV and modified GCV the most accurate of the choices they tried):

    mGCV(lambda) = (1/n) ||(I - H) b||^2 / [(1/n) trace(I - rho H)]^2,
    H = A_w (A_w^T A_w + lambda M)^{-1} A_w^T,   M = D2^T D2 (zero on R_inf and L),   n = 2N,

with A_w, b the weighted stacked matrix and data. rho = 1 is plain GCV (``lambda_method='gcv'``); the default
``'mgcv'`` takes rho = MGCV_RHO = 2, which penalises the effective number of parameters more (Kim & Gu,
J. R. Statist. Soc. B 66 (2004) 337; Maradesa et al. take 2 from 50 frequencies, 1.3 below). On 527 synthetic
spectra (one or two ZARCs, CPE exponents 0.6-1, noise 0-1 %) plain GCV chose smaller lambdas whose ripples gave
the wrong number of arcs for 3 % of them at 71 points and 8 % at 36 points, rho = 1.3 for 2.5 %, rho = 2 for 0.6 %
at 36, 71 and 141 points: rho = 2 is used at every size. Every lambda is scored at once from one generalised eigendecomposition
A_w^T A_w v = mu (M + eps I) v: trace(H) = sum mu_i / (mu_i + lambda). The search spans [LAMBDA_MIN, LAMBDA_MAX].

Peaks (:func:`find_peaks`). gamma is split at the lowest point between neighbouring local maxima. A peak is kept
when its area is at least ``min_peak_fraction`` (MIN_PEAK_FRACTION, 5 %) of the polarisation resistance inside the
window (R_pol less the peaks whose maximum is on an end of the grid) and its dip to each neighbour goes below
(1 - MIN_PROMINENCE) = half its height; otherwise it is merged into the neighbour across the higher minimum (so
peak areas still add up to R_pol). Why 5 % and a half: with 0.5-1 % noise, regularisation leaves ripples in the
tails of broad (CPE exponent 0.6-0.9) arcs of up to 8 % of R_pol (99 % of them under 5 %, over 1,066 ripples
counted on the synthetic spectra above), and shoulders whose dip is shallow; an arc under 5 % of the total is hardly seen in a Nyquist plot either.
Two equal arcs are resolved from 0.75 decade apart for ideal RCs, 1 decade for CPE exponent 0.9, 1.25 decades
for 0.8. Each peak reports tau at its maximum (the vertex of a parabola in ln tau through the three highest
points), its resistance (sum of gamma_k Delta over the peak) and ``at_edge`` when its maximum sits on an end of the
grid: the tail of something outside the window (a blocking electrode's capacitance, a diffusion tail), not an arc.
:attr:`DRTResult.n_arcs` counts the peaks inside the grid: the arcs the spectrum proposes to a circuit fit.

Limits. A series capacitance or the CPE spike of blocking electrodes (-Z'' growing without bound as f falls) has no
finite DRT: gamma piles up towards long tau, and noise on the spike's large |Z| turns into peaks of kilo-ohms there.
Such a spectrum is flagged (:attr:`DRTResult.capacitive_tail`, :func:`capacitive_tail`) and its peaks are not to be
trusted. (A series CPE in the model, its exponent from the spike's slope or from the residual, recovered the arcs of
noise-free spectra but gave the right number of arcs for under 40 % of spectra with 0.5-1 % noise, so it is not
offered.) At most MAX_POINTS data points and MAX_TAU_POINTS grid points are accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Protocol

import numpy as np

from ..core.errors import ParameterError
from ..core.files import pyplot, save_figure
from .plots import COLOURS, publication_style

#: Largest spectrum accepted (measured spectra have 30-200 points).
MAX_POINTS = 2000
#: Largest tau grid accepted (40 points a decade over 10 decades); the solution costs ~K^3.
MAX_TAU_POINTS = 400
#: Fewest distinct frequencies accepted.
MIN_POINTS = 8
#: Default density of the tau grid: 10 points a decade (a step of 26 % in tau), as dense as measured spectra.
POINTS_PER_DECADE = 10.0
#: Default extension of the grid beyond 1/(2 pi f_max) .. 1/(2 pi f_min), in decades on each side.
EXTEND_DECADES = 1.0
#: A peak under this fraction of the polarisation resistance inside the window is merged into a neighbour.
MIN_PEAK_FRACTION = 0.05
#: A peak whose dip to a neighbour stays above (1 - this) of its height is a shoulder, merged into that neighbour.
MIN_PROMINENCE = 0.5
#: rho of the modified GCV score (1 = plain GCV).
MGCV_RHO = 2.0
#: Range of the lambda search (dimensionless; the chosen values were 1e-7 .. 1e-2 on synthetic spectra with 0-1 % noise).
LAMBDA_MIN, LAMBDA_MAX = 1e-9, 10.0
#: A spectrum ends in a capacitive spike (blocking electrodes) when, at its TAIL_POINTS lowest frequencies, -Z''
#: rises as f falls with a log-log slope of TAIL_MIN_SLOPE at least (a Warburg tail has 0.5, a blocking CPE 0.7-1).
TAIL_POINTS = 4
TAIL_MIN_SLOPE = 0.6
WEIGHTINGS = ("modulus", "unit")
LAMBDA_METHODS = ("mgcv", "gcv")


class SpectrumLike(Protocol):
    """What :func:`fit_spectrum` reads: a name, frequencies (Hz) and complex impedances (ohm)."""

    name: str
    frequency_hz: np.ndarray
    z: np.ndarray


@dataclass
class DRTPeak:
    """One resolved peak of the DRT: tau at its maximum, its resistance (area), its extent, and whether its maximum
    is on an end of the tau grid (then it is a tail, not an arc)."""

    tau_s: float
    resistance_ohm: float
    gamma_max_ohm: float
    tau_range_s: tuple[float, float]
    at_edge: bool = False

    @property
    def frequency_hz(self) -> float:
        """1 / (2 pi tau): the apex frequency of the arc in a Nyquist plot."""
        return 1.0 / (2 * math.pi * self.tau_s)

    def as_dict(self) -> dict:
        return {"tau_s": self.tau_s, "frequency_hz": self.frequency_hz, "resistance_ohm": self.resistance_ohm,
                "gamma_max_ohm": self.gamma_max_ohm, "tau_range_s": list(self.tau_range_s), "at_edge": self.at_edge}


#: A DRT fit whose residual rms (per cent of |Z|) exceeds this is not trusted (DRTResult.reasons): 3x the worst noise
#: of a working potentiostat, ~5x what the fit leaves on a real pellet (0.59 %); random numbers leave 77 %.
DRT_MAX_RESIDUAL_PERCENT = 3.0


@dataclass
class DRTResult:
    """The DRT of a spectrum: gamma (ohm per unit of ln tau) on the tau grid (s), the series resistance and
    inductance, the lambda used, the residual rms 100 sqrt(mean |Z_fit - Z|^2 / |Z|^2) (per cent of |Z|) and the
    resolved peaks, ordered by tau."""

    tau_s: np.ndarray
    gamma_ohm: np.ndarray
    r_inf_ohm: float
    inductance_h: float
    lambda_: float
    residual_rms_percent: float
    peaks: list[DRTPeak]
    name: str = ""
    lambda_method: str = "mgcv"
    weighting: str = "modulus"
    min_peak_fraction: float = MIN_PEAK_FRACTION
    #: the spectrum ends in a capacitive spike (blocking electrodes): the long-tau peaks and n_arcs are not to be trusted
    capacitive_tail: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def delta_ln_tau(self) -> float:
        return float(np.log(self.tau_s[1] / self.tau_s[0]))

    @property
    def polarization_resistance_ohm(self) -> float:
        """R_pol = sum gamma_k Delta (edge tails included)."""
        return float(np.sum(self.gamma_ohm) * self.delta_ln_tau)

    @property
    def n_arcs(self) -> int:
        """The peaks whose maximum lies inside the tau grid: the number of arcs the spectrum shows."""
        return sum(not p.at_edge for p in self.peaks)

    @property
    def reasons(self) -> list[str]:
        """Why the peaks cannot be trusted (empty when they can): a distribution of RC elements reproduces any
        Kramers-Kronig-consistent spectrum to its noise (0.59 % on EISFitpython's LAGP pellet; a potentiostat's noise
        is 0.1-1 % of |Z|), so a residual above DRT_MAX_RESIDUAL_PERCENT means the data are not one (drift, scatter,
        a misread column) and its peaks are shapes of that misfit; a blocking-electrode spike has no finite DRT."""
        reasons = []
        if not self.residual_rms_percent <= DRT_MAX_RESIDUAL_PERCENT:
            reasons.append(f"residual rms {self.residual_rms_percent:.2g} % of |Z| (above {DRT_MAX_RESIDUAL_PERCENT:g} %): "
                           "the spectrum is not described by any distribution of relaxation times")
        if self.capacitive_tail:
            reasons.append("a blocking-electrode spike has no finite DRT: the peak count is not to be trusted")
        return reasons

    @property
    def reliable(self) -> bool:
        return not self.reasons

    def impedance(self, frequency_hz) -> np.ndarray:
        """The impedance of the fitted distribution at ``frequency_hz`` (Hz)."""
        omega = 2 * np.pi * np.asarray(frequency_hz, dtype=float)
        kernel = self.delta_ln_tau / (1 + 1j * np.outer(omega, self.tau_s))
        return self.r_inf_ohm + 1j * omega * self.inductance_h + kernel @ self.gamma_ohm

    def as_dict(self) -> dict:
        return {"name": self.name, "r_inf_ohm": self.r_inf_ohm, "inductance_h": self.inductance_h,
                "polarization_resistance_ohm": self.polarization_resistance_ohm, "lambda": self.lambda_,
                "lambda_method": self.lambda_method, "weighting": self.weighting,
                "residual_rms_percent": self.residual_rms_percent, "n_arcs": self.n_arcs, "capacitive_tail": self.capacitive_tail,
                "min_peak_fraction": self.min_peak_fraction, "peaks": [p.as_dict() for p in self.peaks],
                "tau_s": self.tau_s.tolist(), "gamma_ohm": self.gamma_ohm.tolist(), "notes": list(self.notes),
                "reliable": self.reliable, "reasons": self.reasons}


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _checked_input(frequency_hz, z) -> tuple[np.ndarray, np.ndarray]:
    try:
        f = np.asarray(frequency_hz, dtype=float)
        zz = np.asarray(z, dtype=complex)
    except (TypeError, ValueError):
        raise ParameterError("frequency_hz", "frequencies and impedances must be numbers") from None
    if f.ndim != 1 or zz.shape != f.shape:
        raise ParameterError("z", f"must be a 1-D array as long as frequency_hz ({f.shape} frequencies, {zz.shape} impedances)")
    if f.size > MAX_POINTS:
        raise ParameterError("frequency_hz", f"{f.size:,} points, over the DRT's limit of {MAX_POINTS:,}")
    if not (np.all(np.isfinite(f)) and np.all(f > 0)):
        raise ParameterError("frequency_hz", "frequencies must be finite and positive")
    if np.unique(f).size < MIN_POINTS:
        raise ParameterError("frequency_hz", f"only {np.unique(f).size} distinct frequencies (the DRT needs at least {MIN_POINTS})")
    if not (np.all(np.isfinite(zz)) and np.all(np.abs(zz) > 0)):
        raise ParameterError("z", "impedances must be finite and non-zero")
    return f, zz


def tau_grid(frequency_hz, points_per_decade: float = POINTS_PER_DECADE, extend_decades: float = EXTEND_DECADES) -> np.ndarray:
    """The log-spaced tau grid (s) of :func:`fit_drt`: from 10^-extend / (2 pi f_max) to 10^extend / (2 pi f_min),
    at least ``points_per_decade`` points a decade; refused when over MAX_TAU_POINTS points."""
    if not (_is_number(points_per_decade) and points_per_decade > 0):
        raise ParameterError("points_per_decade", f"must be a positive number, not {points_per_decade!r}")
    if not (_is_number(extend_decades) and 0 <= extend_decades <= 3):
        raise ParameterError("extend_decades", f"must be 0 to 3 decades, not {extend_decades!r}")
    f = np.asarray(frequency_hz, dtype=float)
    log_lo = math.log10(1 / (2 * math.pi * float(f.max()))) - extend_decades
    log_hi = math.log10(1 / (2 * math.pi * float(f.min()))) + extend_decades
    n = math.ceil(round((log_hi - log_lo) * points_per_decade, 9)) + 1
    if n > MAX_TAU_POINTS:
        raise ParameterError("points_per_decade", f"{points_per_decade:g} points a decade over {log_hi - log_lo:.1f} decades make a tau grid "
                             f"of {n} points, over the limit of {MAX_TAU_POINTS}")
    return np.logspace(log_lo, log_hi, max(n, 3))


def _second_difference(k: int, delta: float) -> np.ndarray:
    """(k-2) x k rows (g_{i-1} - 2 g_i + g_{i+1}) / Delta^2 * sqrt(Delta): squared and summed, the rectangle rule of
    integral (d^2 g / d(ln tau)^2)^2 d ln tau."""
    d2 = np.zeros((k - 2, k))
    rows = np.arange(k - 2)
    d2[rows, rows], d2[rows, rows + 1], d2[rows, rows + 2] = 1.0, -2.0, 1.0
    return d2 * (math.sqrt(delta) / delta ** 2)


def _cv_lambda(a_w: np.ndarray, b: np.ndarray, m: np.ndarray, rho: float) -> float:
    """The lambda in [LAMBDA_MIN, LAMBDA_MAX] minimising the (modified, rho > 1) GCV score of the ridge solution."""
    from scipy.linalg import eigh
    from scipy.optimize import minimize_scalar

    n = b.size
    eps = 1e-9 * float(np.max(np.diag(m)))  # M is singular on R_inf, L and linear gamma: a vanishing penalty there
    mu, v = eigh(a_w.T @ a_w, m + eps * np.eye(m.shape[0]))
    mu = np.clip(mu, 0.0, None)
    p = a_w @ v  # the ridge fit is P diag(1 / (mu + lambda)) P^T b
    c = p.T @ b

    def scores(log_lambdas: np.ndarray) -> np.ndarray:
        filt = 1.0 / (mu[:, None] + np.exp(log_lambdas)[None, :])
        residual = b[:, None] - p @ (c[:, None] * filt)
        trace = n - rho * np.sum(mu[:, None] * filt, axis=0)
        score = (np.sum(residual ** 2, axis=0) / n) / (trace / n) ** 2
        return np.where(trace > 0, score, np.inf)

    grid = np.linspace(math.log(LAMBDA_MIN), math.log(LAMBDA_MAX), 45)
    values = scores(grid)
    best = int(np.argmin(values))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    refined = minimize_scalar(lambda x: float(scores(np.array([x]))[0]), bounds=(lo, hi), method="bounded", options={"xatol": 0.01})
    x = float(refined.x) if float(refined.fun) <= values[best] else float(grid[best])
    return math.exp(x)


def fit_drt(frequency_hz, z, *, lambda_: float | None = None, lambda_method: str = "mgcv", points_per_decade: float = POINTS_PER_DECADE,
            extend_decades: float = EXTEND_DECADES, inductance: bool | None = None,
            weighting: str = "modulus", min_peak_fraction: float = MIN_PEAK_FRACTION, name: str = "") -> DRTResult:
    """The DRT of a spectrum (``frequency_hz`` in Hz, ``z`` complex in ohm, Z'' < 0 for a capacitive arc) by
    Tikhonov-regularised NNLS; the equations and references are in the module docstring.

    ``lambda_``: the regularisation parameter; None (default) chooses it by ``lambda_method``, 'mgcv' (modified
    generalised cross-validation, rho = 2) or 'gcv'. ``inductance``: fit a series inductance L >= 0; None (default)
    fits it when the highest-frequency point is inductive (Z'' > 0). ``weighting``: 'modulus' (1/|Z|) or 'unit'.
    Refuses with a ParameterError more than MAX_POINTS points, fewer than MIN_POINTS distinct frequencies, a tau grid
    of more than MAX_TAU_POINTS points and arguments outside their domain."""
    from scipy.optimize import nnls

    f, zz = _checked_input(frequency_hz, z)
    if weighting not in WEIGHTINGS:
        raise ParameterError("weighting", f"unknown weighting {weighting!r} (known: {', '.join(WEIGHTINGS)})")
    if lambda_method not in LAMBDA_METHODS:
        raise ParameterError("lambda_method", f"unknown method {lambda_method!r} (known: {', '.join(LAMBDA_METHODS)})")
    if lambda_ is not None and not (_is_number(lambda_) and lambda_ > 0):
        raise ParameterError("lambda_", f"must be a positive number, or None to choose it by cross-validation, not {lambda_!r}")
    if not (_is_number(min_peak_fraction) and 0 <= min_peak_fraction < 0.5):
        raise ParameterError("min_peak_fraction", f"must be a fraction in [0, 0.5), not {min_peak_fraction!r}")
    if inductance is not None and not isinstance(inductance, bool):
        raise ParameterError("inductance", f"must be True, False or None (automatic), not {inductance!r}")
    if inductance is None:
        inductance = bool(zz[int(np.argmax(f))].imag > 0)
    tau = tau_grid(f, points_per_decade, extend_decades)
    k = tau.size
    delta = float(np.log(tau[1] / tau[0]))

    scale = float(np.max(np.abs(zz)))  # ohm: gamma = scale g, R_inf = scale r, L = scale l / omega_max
    omega = 2 * np.pi * f
    omega_max = float(omega.max())
    weights = 1.0 / np.abs(zz) if weighting == "modulus" else np.full(f.size, 1.0 / scale)
    columns = np.empty((f.size, k + 2), dtype=complex)  # r, l, g_1 .. g_K
    columns[:, 0] = 1.0
    columns[:, 1] = 1j * omega / omega_max if inductance else 0.0
    columns[:, 2:] = delta / (1 + 1j * np.outer(omega, tau))
    columns *= (weights * scale)[:, None]
    a_w = np.vstack([columns.real, columns.imag])
    b = np.concatenate([(weights * zz).real, (weights * zz).imag])
    d2 = np.zeros((k - 2, k + 2))
    d2[:, 2:] = _second_difference(k, delta)

    notes = []
    if lambda_ is None:
        free = [0] + [1] * inductance + list(range(2, k + 2))
        m = d2.T @ d2
        lambda_ = _cv_lambda(a_w[:, free], b, m[np.ix_(free, free)], MGCV_RHO if lambda_method == "mgcv" else 1.0)
        if not LAMBDA_MIN * 1.01 < lambda_ < LAMBDA_MAX / 1.01:
            notes.append(f"lambda at the end of its search range ({lambda_:.2g}): the cross-validation found no optimum")
    else:
        lambda_method = "given"
    x, _ = nnls(np.vstack([a_w, math.sqrt(lambda_) * d2]), np.concatenate([b, np.zeros(k - 2)]), maxiter=50 * (k + 2))
    result = DRTResult(tau_s=tau, gamma_ohm=x[2:] * scale, r_inf_ohm=float(x[0] * scale),
                       inductance_h=float(x[1] * scale / omega_max) if inductance else 0.0, lambda_=float(lambda_),
                       residual_rms_percent=math.nan, peaks=[], name=name, lambda_method=lambda_method, weighting=weighting,
                       min_peak_fraction=float(min_peak_fraction), capacitive_tail=capacitive_tail(f, zz), notes=notes)
    result.residual_rms_percent = float(100 * np.sqrt(np.mean(np.abs(result.impedance(f) - zz) ** 2 / np.abs(zz) ** 2)))
    result.peaks = find_peaks(tau, result.gamma_ohm, min_peak_fraction)
    if inductance:
        notes.append("series inductance fitted: the highest-frequency point is inductive")
    if result.capacitive_tail:
        notes.append("the spectrum ends in a capacitive spike (blocking electrodes), which has no finite DRT: the peaks and "
                     "n_arcs are unreliable (use the equivalent-circuit fit)")
    if any(p.at_edge and p.tau_s >= tau[-1] for p in result.peaks):
        notes.append("gamma rises to the long-tau end of the grid: a low-frequency tail (blocking electrode, diffusion), not an arc")
    if any(p.at_edge and p.tau_s <= tau[0] for p in result.peaks):
        notes.append("gamma rises to the short-tau end of the grid: a process faster than the highest frequency")
    return result


def capacitive_tail(frequency_hz, z) -> bool:
    """Whether the spectrum ends in a capacitive spike (blocking electrodes: -Z'' ~ omega^-alpha, alpha 0.7-1): at the
    TAIL_POINTS lowest frequencies -Z'' rises as f falls, with a log-log slope of TAIL_MIN_SLOPE at least (steeper
    than a Warburg tail's 0.5; the low-frequency side of an arc falls instead)."""
    f, z = np.asarray(frequency_hz, dtype=float), np.asarray(z, dtype=complex)
    order = np.argsort(f)[:TAIL_POINTS]
    minus_z2 = -z[order].imag
    if order.size < TAIL_POINTS or not (np.all(minus_z2 > 0) and np.all(np.diff(minus_z2) < 0)):
        return False
    return -float(np.polyfit(np.log(f[order]), np.log(minus_z2), 1)[0]) >= TAIL_MIN_SLOPE


def fit_spectrum(spectrum: SpectrumLike, **options) -> DRTResult:
    """:func:`fit_drt` of a :class:`~argyrodb.physics.eis_readers.Spectrum` (any object with ``name``,
    ``frequency_hz`` and ``z``); ``options`` are fit_drt's keywords."""
    options.setdefault("name", spectrum.name)
    return fit_drt(spectrum.frequency_hz, spectrum.z, **options)


def _vertex(tau: np.ndarray, gamma: np.ndarray, i: int) -> float:
    """tau at the vertex of the parabola (in ln tau) through gamma[i-1], gamma[i], gamma[i+1]; tau[i] at the ends."""
    if i == 0 or i == gamma.size - 1:
        return float(tau[i])
    left, mid, right = gamma[i - 1], gamma[i], gamma[i + 1]
    curvature = left - 2 * mid + right
    shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return float(tau[i] * (tau[1] / tau[0]) ** min(max(shift, -0.5), 0.5))


def find_peaks(tau, gamma, min_peak_fraction: float = MIN_PEAK_FRACTION) -> list[DRTPeak]:
    """The resolved peaks of gamma(tau), ordered by tau (the rules and their reasons are in the module docstring):
    gamma split at the lowest point between neighbouring maxima; a piece under ``min_peak_fraction`` of the area
    inside the window, or whose dip to a neighbour stays above (1 - MIN_PROMINENCE) of its height, is merged into
    the neighbour across the higher minimum, the smallest first, until every piece passes."""
    tau, gamma = np.asarray(tau, dtype=float), np.asarray(gamma, dtype=float)
    if gamma.size < 3 or not np.any(gamma > 0):
        return []
    delta = float(np.log(tau[1] / tau[0]))
    last = gamma.size - 1
    padded = np.concatenate([[-1.0], gamma, [-1.0]])
    floor = 1e-9 * float(gamma.max())
    maxima = [i for i in range(gamma.size) if gamma[i] > floor and padded[i + 1] > padded[i] and padded[i + 1] >= padded[i + 2]]
    bounds = [0] + [left + int(np.argmin(gamma[left:right + 1])) for left, right in pairwise(maxima)] + [gamma.size]
    segments = [[start, stop, peak] for start, stop, peak in zip(bounds[:-1], bounds[1:], maxima)]  # [start, stop), maximum

    def area(segment: list[int]) -> float:
        return float(np.sum(gamma[segment[0]:segment[1]]) * delta)

    inside = sum(area(s) for s in segments if s[2] not in (0, last))
    reference = inside if inside > 0 else area([0, gamma.size, 0])

    def shoulder(j: int) -> bool:
        dips = [gamma[segments[j][0]]] if j > 0 else []
        dips += [gamma[segments[j + 1][0]]] if j + 1 < len(segments) else []
        return max(dips) > (1 - MIN_PROMINENCE) * gamma[segments[j][2]]

    while len(segments) > 1:
        areas = [area(s) for s in segments]
        weak = [j for j in range(len(segments)) if areas[j] < min_peak_fraction * reference or shoulder(j)]
        if not weak:
            break
        j = min(weak, key=lambda i: areas[i])
        neighbours = [i for i in (j - 1, j + 1) if 0 <= i < len(segments)]
        into = max(neighbours, key=lambda i: gamma[segments[max(i, j)][0]])  # the minimum between i and j is at the later one's start
        merged, other = segments[into], segments[j]
        merged[0], merged[1] = min(merged[0], other[0]), max(merged[1], other[1])
        if gamma[other[2]] > gamma[merged[2]]:
            merged[2] = other[2]
        del segments[j]
    return [DRTPeak(tau_s=_vertex(tau, gamma, i), resistance_ohm=area([start, stop, i]), gamma_max_ohm=float(gamma[i]),
                    tau_range_s=(float(tau[start]), float(tau[stop - 1])), at_edge=i in (0, last))
            for start, stop, i in segments]


def plot_drt(result: DRTResult, out_path: str | Path, title: str | None = None) -> Path:
    """gamma against tau (log axis) with each peak marked and numbered; the peaks' R, tau and f and the fit's summary
    are listed in a legend to the right of the axes (constrained layout makes room for it), never over the data.
    Written atomically as PNG."""
    plt = pyplot()
    with publication_style():
        # tall enough for the legend beside the axes: two lines per peak and ~14 summary lines at 7.5 pt
        height = max(4.2, 0.19 * (2 * len(result.peaks) + 16))
        fig, ax = plt.subplots(figsize=(9.0, height), layout="constrained")
        ax.plot(result.tau_s, result.gamma_ohm, "-", color=COLOURS[0], lw=1.4, label="γ(τ)")
        ax.fill_between(result.tau_s, result.gamma_ohm, color=COLOURS[0], alpha=0.12, lw=0)
        # a tail at the grid's end (blocking electrodes) can be 100x the arcs: scale to the arcs and say the tail is cut
        inner = [p.gamma_max_ohm for p in result.peaks if not p.at_edge]
        top = max(float(result.gamma_ohm.max()), 1e-12)
        clipped = bool(inner) and top > 3 * max(inner)
        if clipped:
            top = 1.5 * max(inner)
        markers = "ovs^Dp<>h*"
        for number, peak in enumerate(result.peaks, start=1):
            kind = "grid end: a tail, not an arc" if peak.at_edge else f"f = {peak.frequency_hz:.3g} Hz"
            label = f"{number}: R = {peak.resistance_ohm:.3g} Ω, τ = {peak.tau_s:.3g} s\n     {kind}"
            # a peak above the cut axis is marked at its top edge (a marker drawn outside would squeeze the axes)
            ax.plot([peak.tau_s], [min(peak.gamma_max_ohm, top * 1.1)], markers[(number - 1) % len(markers)], ms=7, mfc="white",
                    mec=COLOURS[number % len(COLOURS)], mew=1.6, label=label, ls="none", clip_on=False, zorder=3)
        ax.set_xscale("log")
        ax.set_xlabel("τ (s)")
        ax.set_ylabel("γ (Ω)")
        pad = 10 ** 0.15  # room for the markers of peaks on the grid's ends
        ax.set_xlim(float(result.tau_s[0]) / pad, float(result.tau_s[-1]) * pad)
        ax.set_ylim(0, top * 1.1)
        ax.set_title(title if title is not None else "DRT" + (f" of {result.name}" if result.name else ""))
        lines = [f"R∞ = {result.r_inf_ohm:.3g} Ω", f"R_pol = {result.polarization_resistance_ohm:.3g} Ω"]
        if result.inductance_h:
            lines.append(f"L = {result.inductance_h:.3g} H")
        lines += [f"λ = {result.lambda_:.2g} ({result.lambda_method})", f"residual rms {result.residual_rms_percent:.2g} % of |Z|",
                  f"{result.n_arcs} arc(s); peaks under {100 * result.min_peak_fraction:g} %", "of R_pol merged"]
        if result.capacitive_tail:
            lines += ["capacitive tail (blocking", "electrodes): peaks unreliable"]
        if clipped:
            lines += ["axis cut: the tail rises", f"to γ = {float(result.gamma_ohm.max()):.3g} Ω"]
        handles, labels = ax.get_legend_handles_labels()
        blank = plt.Line2D([], [], ls="none")
        fig.legend(handles + [blank], labels + ["\n".join(lines)], loc="outside right upper", fontsize=7.5, handlelength=1.5)
    return save_figure(fig, out_path)
