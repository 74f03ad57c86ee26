"""The multistart fit of an equivalent circuit of blocks in series, shared by :func:`argyrodb.physics.eis.fit` (a
given circuit, ``argyrodb eis fit --circuit``) and :func:`argyrodb.physics.eis_models.fit_candidate` (the candidates
of the automatic choice).

A circuit it takes is any series (joined by ``-``) of

* ``R`` (Z = R), ``L`` (Z = j omega L) and ``W`` (impedance.py's semi-infinite Warburg, Z = A_w (1 - j) / sqrt(omega)),
  searched as ln R, ln L, ln A_w;
* ``CPE`` in series, the blocking electrodes' spike, Z = 1 / (Q (j omega)^alpha): ln Q and alpha;
* ``p(R,CPE)`` (or ``p(CPE,R)``), a depressed arc, Z = R / (1 + (j omega tau)^alpha) with tau = (R Q)^(1/alpha) its
  apex time constant (omega_apex = 1/tau): ln R, ln tau and alpha.

Logarithms keep the values positive and make a step in ohms and one in picofarads alike; tau in place of Q makes an
arc's position independent of its size, so that the bounds (:func:`bounds`) can keep it within the measured range.
The fit is complex non-linear least squares with the caller's residual weights (``eis.residual_weights``; Boukamp,
J. Electrochem. Soc. 142 (1995) 1885) and analytic derivatives. For several arcs its minimum is not unique, so it
starts from several points (:func:`multistart`): the caller's (values read off the spectrum, published ones, the
user's) and the best of a grid over the arcs' time constants whose linear coefficients are solved by non-negative
least squares (:func:`grid_starts`). Circuits of other shapes (a capacitor, a finite Warburg, nested elements) are
not parametrised here (:func:`series_blocks` returns None): ``eis.fit`` hands them to impedance.py.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .circuits import check_circuit

#: CPE exponent range of the fit (0.3: a CPE below it is no longer a depressed arc but a diffusion tail).
ALPHA_BOUNDS = (0.3, 1.0)
#: An arc's apex frequency may lie at most this factor (half a decade) outside the measured range.
TAU_MARGIN = 3.0
#: The arcs' exponent at the grid's points, within a ceramic's typical 0.7-0.95; the refinement moves it. (eis.fit's
#: grid had 0.8, eis_models' 0.85: with 0.85 for both, every candidate of fit_cell is unchanged, and fit()'s chi-square
#: on the real example files and on 16 simulated Fig. S9 spectra is the same to 1e-4 or lower.)
GRID_ALPHA = 0.85

_PART = re.compile(r"(?P<L>L[\d_]+)|(?P<R>R[\d_]+)|(?P<CPE>CPE[\d_]+)|(?P<W>W[\d_]+)"
                   r"|p\((?P<R1>R[\d_]+),(?P<Q1>CPE[\d_]+)\)|p\((?P<Q2>CPE[\d_]+),(?P<R2>R[\d_]+)\)")


@dataclass(frozen=True)
class Block:
    """One series block: its kind ("R", "L", "W", "CPE" or "arc" for p(R,CPE)), its name (an arc's by its resistor)
    and the positions of its parameters in impedance.py's parameter list - (value,), a CPE's (Q, alpha), an arc's
    (R, Q, alpha) whichever order the circuit names them in. The log-parameters sit at the same positions."""

    kind: str
    name: str
    index: tuple[int, ...]
    cpe: str = ""  # an arc's CPE


def series_blocks(circuit: str) -> list[Block] | None:
    """The series blocks of ``circuit``, or None when it is not a series of R, L, W, CPE and p(R,CPE) (a
    ParameterError for a circuit impedance.py would not take: :func:`argyrodb.physics.circuits.check_circuit`)."""
    check_circuit(circuit)
    parts: list[str] = []
    depth, current = 0, ""
    for char in circuit.replace(" ", ""):
        depth += (char == "(") - (char == ")")
        if char == "-" and depth == 0:
            parts, current = parts + [current], ""
        else:
            current += char
    blocks, start = [], 0
    for part in parts + [current]:
        match = _PART.fullmatch(part)
        if match is None:
            return None
        if match["R1"]:
            blocks.append(Block("arc", match["R1"], (start, start + 1, start + 2), match["Q1"]))
        elif match["R2"]:  # p(CPE,R): impedance.py lists the CPE's two parameters first
            blocks.append(Block("arc", match["R2"], (start + 2, start, start + 1), match["Q2"]))
        elif match["CPE"]:
            blocks.append(Block("CPE", part, (start, start + 1)))
        else:
            blocks.append(Block(str(match.lastgroup), part, (start,)))
        start += len(blocks[-1].index)
    return blocks


def _size(blocks: list[Block]) -> int:
    return sum(len(b.index) for b in blocks)


def model(theta: np.ndarray, blocks: list[Block], omega: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Impedance and its derivatives by the log-parameters (one column each). An arc, Z = R / (1 + u) with
    u = (j omega tau)^alpha: dZ/dln R = Z, dZ/dln tau = -alpha Z u / (1 + u), dZ/dalpha = -Z u ln(j omega tau) / (1 + u);
    a series CPE, Z = (j omega)^-alpha / Q: dZ/dln Q = -Z, dZ/dalpha = -Z ln(j omega); R, L, W: dZ/dln x = Z."""
    z = np.zeros(omega.size, dtype=complex)
    jac = np.zeros((omega.size, theta.size), dtype=complex)
    log_jw = np.log(omega) + 0.5j * np.pi
    for b in blocks:
        if b.kind == "R":
            jac[:, b.index[0]] = part = np.full(omega.size, math.exp(theta[b.index[0]]), dtype=complex)
        elif b.kind == "L":
            jac[:, b.index[0]] = part = 1j * omega * math.exp(theta[b.index[0]])
        elif b.kind == "W":
            jac[:, b.index[0]] = part = math.exp(theta[b.index[0]]) * (1 - 1j) / np.sqrt(omega)
        elif b.kind == "CPE":
            q, a = b.index
            part = np.exp(-theta[a] * log_jw - theta[q])
            jac[:, q], jac[:, a] = -part, -log_jw * part
        else:
            r, q, a = b.index
            log_jwt = log_jw + theta[q]
            u = np.exp(theta[a] * log_jwt)
            jac[:, r] = part = math.exp(theta[r]) / (1 + u)
            jac[:, q] = -theta[a] * part * u / (1 + u)
            jac[:, a] = -part * u * log_jwt / (1 + u)
        z += part
    return z, jac


def from_log(theta: np.ndarray, blocks: list[Block]) -> tuple[np.ndarray, np.ndarray]:
    """impedance.py's parameters from the log-parameters, and the chain-rule matrix d(parameter)/d(log-parameter)
    (an arc's Q = exp(alpha ln tau - ln R): dQ = Q (-dln R + alpha dln tau + ln tau dalpha))."""
    values = np.exp(np.minimum(theta, 700.0))
    chain = np.diag(values)
    for b in blocks:
        if b.kind == "CPE":
            a = b.index[1]
            values[a], chain[a, a] = theta[a], 1.0
        elif b.kind == "arc":
            r, q, a = b.index
            values[q], values[a] = math.exp(theta[a] * theta[q] - theta[r]), theta[a]
            chain[q, :] = 0.0
            chain[q, r], chain[q, q], chain[q, a] = -values[q], theta[a] * values[q], theta[q] * values[q]
            chain[a, a] = 1.0
    return values, chain


def to_log(values, blocks: list[Block]) -> np.ndarray:
    """The log-parameters of impedance.py's parameters ``values`` (:func:`from_log` inverted)."""
    p = np.asarray(values, dtype=float)
    theta = np.log(np.maximum(p, 1e-300))
    for b in blocks:
        if b.kind == "CPE":
            theta[b.index[1]] = p[b.index[1]]
        elif b.kind == "arc":
            r, q, a = b.index
            theta[q] = (theta[r] + theta[q]) / p[a]
            theta[a] = p[a]
    return theta


def bounds(blocks: list[Block], omega: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the log-parameters: resistances 1e-6..100 |Z|max; an inductance such that omega_max L is
    1e-6..100 |Z|max; the Warburg coefficient 1e-8..100 |Z|max sqrt(omega); a spike's Q such that |Z_CPE| is
    1e-6..1e4 |Z|max somewhere in the measured range; exponents in ALPHA_BOUNDS; arcs' apex frequencies within the
    measured range widened by TAU_MARGIN (an arc outside it is not resolved, and one far below it mimics the
    Warburg or the spike)."""
    z_max = float(np.abs(z).max())
    w_min, w_max = float(omega.min()), float(omega.max())
    lower, upper = np.zeros(_size(blocks)), np.zeros(_size(blocks))
    for b in blocks:
        i = b.index[0]
        if b.kind in ("R", "arc"):
            lower[i], upper[i] = math.log(1e-6 * z_max), math.log(100 * z_max)
        if b.kind == "L":
            lower[i], upper[i] = math.log(1e-6 * z_max / w_max), math.log(100 * z_max / w_max)
        elif b.kind == "W":
            lower[i], upper[i] = math.log(1e-8 * z_max * math.sqrt(w_min)), math.log(100 * z_max * math.sqrt(w_max))
        elif b.kind == "CPE":
            q, a = b.index
            ends = [-e * math.log(w) for e in ALPHA_BOUNDS for w in (w_min, w_max)]
            lower[q], upper[q] = -math.log(1e4 * z_max) + min(ends), -math.log(1e-6 * z_max) + max(ends)
            lower[a], upper[a] = ALPHA_BOUNDS
        elif b.kind == "arc":
            _, q, a = b.index
            lower[q], upper[q] = math.log(1 / (TAU_MARGIN * w_max)), math.log(TAU_MARGIN / w_min)
            lower[a], upper[a] = ALPHA_BOUNDS
    return lower, upper


def tail_exponent(omega: np.ndarray, z: np.ndarray) -> float | None:
    """The exponent a of the low-frequency tail, -d ln(-Z'') / d ln omega over the four lowest frequencies (a
    blocking spike 0.7-1, a Warburg 0.5); None when -Z'' does not rise toward low frequency there (the spectrum
    ends on an arc)."""
    low = np.argsort(omega)[:4]
    y = -np.asarray(z).imag[low]
    if np.any(y <= 0):
        return None
    slope = np.polyfit(np.log(omega[low]), np.log(y), 1)[0]
    return float(np.clip(-slope, *ALPHA_BOUNDS)) if -slope > 0.2 else None


def grid_starts(blocks: list[Block], omega: np.ndarray, z: np.ndarray, keep: int) -> list[np.ndarray]:
    """Global step: the arcs' time constants on a half-decade grid over the measured range (arcs a decade apart at
    least; closer ones come from the refinement), arc exponents GRID_ALPHA, a series CPE's exponent read off the
    spectrum's tail (:func:`tail_exponent`; 0.8 without a tail); for each combination the resistances, 1/Q, L and the
    Warburg coefficient enter linearly and are solved by non-negative least squares weighted by 1/|Z|. The ``keep``
    best combinations, as log-parameters."""
    from scipy.optimize import nnls

    tail_alpha = (tail_exponent(omega, z) or 0.8) if any(b.kind == "CPE" for b in blocks) else 0.8
    taus = np.logspace(math.log10(1 / omega.max()), math.log10(1 / omega.min()),
                       max(round(2 * math.log10(omega.max() / omega.min())) + 1, 2))
    arc_columns = 1 / (1 + (1j * np.outer(omega, taus)) ** GRID_ALPHA)
    fixed = {"R": np.ones(omega.size, dtype=complex), "L": 1j * omega, "W": (1 - 1j) / np.sqrt(omega),
             "CPE": (1j * omega) ** -tail_alpha}
    arcs = [b for b in blocks if b.kind == "arc"]
    others = [b for b in blocks if b.kind != "arc"]
    weight = 1 / np.abs(z)
    target = np.concatenate([(z * weight).real, (z * weight).imag])
    base = [fixed[b.kind] for b in others]
    scored = []
    for combo in combinations(range(taus.size), len(arcs)):
        if np.any(np.diff(combo) < 2):
            continue
        a = np.column_stack(base + [arc_columns[:, k] for k in combo]) * weight[:, None]
        coef, norm = nnls(np.vstack([a.real, a.imag]), target)
        scored.append((norm, combo, coef))
    floor = 1e-4 * float(np.abs(z).max())  # a coefficient nnls set to 0 starts small instead, its logarithm finite
    starts = []
    for _, combo, coef in sorted(scored, key=lambda item: item[0])[:keep]:
        values = np.zeros(_size(blocks))
        for b, c in zip(others, coef):
            i = b.index[0]
            if b.kind == "R":
                values[i] = max(c, floor)
            elif b.kind == "L":
                values[i] = max(c, floor / omega.max())
            elif b.kind == "W":
                values[i] = max(c, floor * math.sqrt(omega.min()))
            else:
                values[i], values[b.index[1]] = 1 / max(c, floor * omega.min() ** tail_alpha), tail_alpha
        for b, k, c in zip(arcs, combo, coef[len(others):]):
            r, q, a = b.index
            values[r] = max(c, floor)
            values[q], values[a] = taus[k] ** GRID_ALPHA / values[r], GRID_ALPHA
        starts.append(to_log(values, blocks))
    return starts


def refine(theta, blocks: list[Block], omega: np.ndarray, z: np.ndarray, limits, weights, max_nfev: int):
    """Least squares on log-parameters from ``theta`` within ``limits`` (:func:`bounds`): residuals (Z_model - Z)
    times ``weights`` (w', w'') on the real and imaginary parts, stacked, with the analytic Jacobian (scipy's
    trust-region reflective method)."""
    from scipy.optimize import least_squares

    lower, upper = limits
    w_re, w_im = weights

    def residual(t):
        d = model(t, blocks, omega)[0] - z
        return np.concatenate([d.real * w_re, d.imag * w_im])

    def jacobian(t):
        j = model(t, blocks, omega)[1]
        return np.vstack([j.real * w_re[:, None], j.imag * w_im[:, None]])

    margin = 1e-6 * (upper - lower)  # a start on a bound would leave trf no interior point
    return least_squares(residual, np.clip(theta, lower + margin, upper - margin), jac=jacobian, bounds=limits,
                         method="trf", max_nfev=max_nfev)


def sort_arcs(theta: np.ndarray, blocks: list[Block]) -> np.ndarray:
    """Arcs in series are interchangeable: the first arc of the circuit gets the shortest time constant."""
    arcs = [b for b in blocks if b.kind == "arc"]
    triples = sorted((theta[b.index[1]], theta[b.index[0]], theta[b.index[2]]) for b in arcs)
    out = theta.copy()
    for b, (tau, r, alpha) in zip(arcs, triples):
        r_i, q_i, a_i = b.index
        out[r_i], out[q_i], out[a_i] = r, tau, alpha
    return out


@dataclass
class Multistart:
    """The best fit of :func:`multistart`: log-parameters, impedance.py's parameters, their covariance and standard
    errors, the weighted chi-square, whether the last refinement converged and how many starts there were."""

    theta: np.ndarray
    values: np.ndarray
    covariance: np.ndarray
    stderr: np.ndarray
    chi_square: float  # sum of the squared weighted residuals
    converged: bool
    n_starts: int


def multistart(blocks: list[Block], omega: np.ndarray, z: np.ndarray, weights, starts=(), keep: int = 3,
               trial_nfev: int = 60, final_nfev: int = 2000) -> Multistart:
    """Fit the circuit of ``blocks``: ``starts`` (impedance.py's parameters) and the ``keep`` best grid points
    (:func:`grid_starts`) each refined ``trial_nfev`` evaluations at most, the best by chi-square, its arcs sorted by
    time constant, to convergence (``final_nfev``). The covariance of the log-parameters is s^2 (J^T J)^-1 with
    s^2 = chi^2 / (2N - n) (as scipy's curve_fit), carried to impedance.py's parameters by :func:`from_log`'s chain
    rule; a parameter whose variance is not a positive number gets an infinite standard error."""
    limits = bounds(blocks, omega, z)
    with np.errstate(all="ignore"):  # trial steps reach the bounds, where (j omega tau)^alpha over- or underflows
        thetas = [to_log(s, blocks) for s in starts] + grid_starts(blocks, omega, z, keep)
        trials = [refine(t, blocks, omega, z, limits, weights, trial_nfev) for t in thetas]
        best = min(trials, key=lambda solution: solution.cost)
        solution = refine(sort_arcs(best.x, blocks), blocks, omega, z, limits, weights, final_nfev)
    values, chain = from_log(solution.x, blocks)
    chi_square = float(2 * solution.cost)
    jac = solution.jac
    try:
        covariance = chain @ (np.linalg.inv(jac.T @ jac) * (chi_square / max(jac.shape[0] - jac.shape[1], 1))) @ chain.T
    except np.linalg.LinAlgError:
        covariance = np.full((values.size, values.size), np.inf)
    variance = np.diag(covariance)
    stderr = np.sqrt(np.where(variance >= 0, variance, np.inf))
    return Multistart(solution.x, values, covariance, stderr, chi_square, bool(solution.status > 0), len(thetas))
