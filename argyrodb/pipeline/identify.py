"""Which argyrodite is this? Rank every candidate composition against a measured powder pattern (``argyrodb identify``).

Candidates are the database's structures (their CIFs, :class:`~argyrodb.physics.xrd.XRDModel`), every stored screened
composition (``screen_results``: its a and the relative line intensities the screen stored) and any list of screening
results handed in (a family grid screened on the fly, :func:`candidates_from_results`). All are F-43m argyrodites, so
for one a their lines sit at the same places, 2theta_N = 2 asin(lambda sqrt(N) / 2a) + zero with N = h^2+k^2+l^2
(h, k, l unmixed); a composition only changes the line intensities J_N = m_N |F_N|^2 (stored intensities divided by
the Lorentz-polarisation factor of the wavelength they were computed at).

The model of the background-free pattern for one candidate (a Rietveld-lite fit: the structure fixed, a, zero shift,
widths, scale and background free)::

    y(2theta) = b(2theta) + s sum_N J_N sum_c w_c LP(theta_cN) PV(2theta - 2theta_cN; FWHM, eta),

c the wavelength components (K-alpha1, K-alpha2 with their weights), LP = (1 + cos^2 2theta) / (sin^2 theta cos theta),
PV the Thompson-Cox-Hastings pseudo-Voigt of :mod:`argyrodb.physics.rietveld` (Gamma_G^2 = U tan^2 theta + W,
Gamma_L = Y / cos theta), b a Chebyshev polynomial.

Three stages (the cost is the first two's, whatever the number of candidates):

1. **Lattice and profile, composition-free.** A comb search (the net pattern, smoothed, read at the line positions of
   each trial a and zero) then a Le Bail-type fit (every line's intensity and the background linear, a, zero, U, W, Y
   by :func:`scipy.optimize.least_squares`) give a*, the zero shift, the widths and the background. A. Le Bail,
   H. Duroy & J. L. Fourquet, Mat. Res. Bull. 23 (1988) 447; G. S. Pawley, J. Appl. Cryst. 14 (1981) 357.
2. **Coarse score of every candidate.** Its a is free within +-1 % of its own (the screen's prediction or the
   structure's): the best is a* when a* is in the window (lines place a, intensities do not), else the window's edge.
   With a, zero, widths and background held, the scale is the only parameter left and the weighted residual has a
   closed form: with P the profile matrix (points x lines) at that a, b = P^T W y and G = P^T W P (lines x lines),

       chi^2(J) = y^T W y - (b . J)^2 / (J^T G J),   s = (b . J) / (J^T G J) > 0,

   one matrix product over all candidates sharing an a (:func:`coarse_scores`).
3. **Full fit of the best k.** Each refines its own a (within +-1 %), zero shift, U, W, Y with the scale and the
   background solved linearly at every step (variable projection, as :mod:`argyrodb.physics.rietveld`).
   Between 2 and 3, the best :data:`RESCORE_STORED` stored compositions are scored again with every halide's 4a share
   (a stored run holds one template distribution per composition; the caller's ``expand``). After 3, the best
   candidates of other compositions (:data:`RIVALS`) and the best's composition with its next-best distribution are
   fully fitted and tested against the best (:func:`tie_z`, a chi^2 difference test): ``Ranking.rivals``.

The score is the weighted R of the background-free pattern, R = sqrt(chi^2 / sum w (y - b)^2): 0 for a perfect fit,
sqrt(N / sum w (y - b)^2) (its R_exp, reported) for a fit to within the noise. Lower is better.

Impurities are named by :mod:`argyrodb.pipeline.refine`'s refinement of the best candidate with the bundled phases
(LiCl, LiBr, LiI, Li2S, beta-Li3PS4): the refinement's 3-esd detection (its ``significance_sigma``), weight fraction
(Hill-Howard) and upper bound when not detected (:func:`impurities`).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.chemistry import atomic_mass, parse_formula
from ..core.errors import ArgyrodbError, InputError, ParameterError
from ..core.readers import read_cif_text
from ..core.resources import phase_names
from ..physics.pattern_data import read_powder_data
from ..physics.rietveld import DETECTION_ESDS, _significance_sigma, _smoothed, chebyshev_basis, pseudo_voigt, tch_widths
from ..physics.scattering import WavelengthComponent, resolve_wavelength
from ..physics.structure import analyse, analysed
from ..physics.xrd import XRDModel
from ..store.connection import ReadOnlyDatabase, database_path
from ..store.screening_runs import INTENSITY_WIDTH
from .refine import impurity_structure, refine_pattern

#: Fewest data points identify accepts (a lab scan of 10-90 deg in 0.02 deg steps has 4001).
MIN_POINTS = 200
#: Fewest argyrodite lines (F-centred cubic, a = 9.6 A) the scored 2theta range must hold.
MIN_LINES = 6
#: Each candidate's a is free within this fraction of its own.
A_WINDOW = 0.01
#: Chebyshev background terms of the Le Bail and full fits.
BACKGROUND_TERMS = 10
#: Candidates whose full fit is made (stage 3).
TOP_K = 10
#: Stored screened compositions re-scored with every halide's 4a share (:data:`argyrodb.database.HALIDE_SHARES`): a
#: stored run holds the screen's one template 4a/4d distribution per composition, and a wrong distribution is made up
#: for by a wrong composition (Li5.6PS4.6Cl0.8I0.6 + 2 wt % LiI against the 101,000-composition run: the best 20 by the
#: template all at the grid's y = 1.6 edge, for a true 1.4).
RESCORE_STORED = 20
#: Compositions re-scored differ from each other by at least this much of some element per formula unit (a grid
#: finer than the composition target would send 20 neighbours of one point): half of COMPOSITION_TOLERANCE.
RESCORE_SPACING = 0.05
#: Two compositions are the same answer when no element differs by more than this per formula unit (issue 25's
#: target: x within 0.1).
COMPOSITION_TOLERANCE = 0.1
#: Best candidates of other compositions (each differing from the best and from each other by more than
#: COMPOSITION_TOLERANCE) fully fitted to test whether the pattern tells them from the best.
RIVALS = 4
#: A rival whose fit is worse than the best's by less than this many standard deviations (:func:`tie_z`) is not told
#: apart from it by the pattern: 1.96, chi^2 difference below 3.84 (5 %, one degree of freedom).
TIE_Z = 1.96
#: A best score above this multiple of the Le Bail fit's (its floor) is said in the notes: the intensities are not
#: explained. On tests/data/identify the right family came within 1.03-1.13x; Li6PS5Br's structure scored 1.42x on
#: Li6PS5Cl0.3Br0.7.
FLOOR_RATIO_NOTE = 1.25
#: Clipped lattice parameters (a window without a*) are evaluated on a grid of this relative step: a line at 80 deg
#: moves by 2 tan(theta) x 2e-4 rad = 0.02 deg, a quarter of a lab FWHM.
A_GRID_STEP = 2e-4
#: A stored run is scored when the 2theta range its lines cover keeps at least this share of the measured range.
MIN_COVERAGE = 0.6
#: The bundled impurity phases identify looks for (argyrodb/data/phases).
IMPURITY_PHASES = ("LiCl", "LiBr", "LiI", "Li2S", "Li3PS4")
#: Start values of the profile (deg^2, deg): a lab instrument and ~100 nm crystallites.
START_WIDTHS = {"U": 0.004, "W": 0.0025, "Y": 0.05}
#: Each line's profile is evaluated within this many FWHM of its centre (at most 3 deg): a Lorentzian keeps 2.1 % of
#: its area beyond 15 FWHM, which the background polynomial takes; identify ranks, it does not refine occupancies.
WINDOW_FWHM = 15.0
#: Stored screened compositions read per query (:func:`stored_runs`): a run's rows are turned into arrays a page at a
#: time, so that a 100,000-composition run's text rows (tuples, then dicts) are not all held at once.
READ_PAGE = 20_000
#: Refused axis labels in a text file's header: a pattern on a Q or d axis is not a 2theta scan.
_NON_TWO_THETA = ("q (", "q(", "q_", " q ", "1/a", "a^-1", "nm^-1", "d-spacing", "d_spacing", "d (a", "d(a", "dspacing")


@dataclass
class Measured:
    """The measured pattern identify works on: 2theta (deg), counts, weights 1/sigma^2, wavelength components."""

    path: Path
    two_theta_deg: np.ndarray
    counts: np.ndarray
    weights: np.ndarray
    components: list[WavelengthComponent]
    wavelength_text: str
    notes: list[str] = field(default_factory=list)

    def select(self, lo: float, hi: float) -> Measured:
        keep = (self.two_theta_deg >= lo) & (self.two_theta_deg <= hi)
        return Measured(self.path, self.two_theta_deg[keep], self.counts[keep], self.weights[keep], self.components,
                        self.wavelength_text, list(self.notes))


def read_measured(path: str | Path, wavelength: str | float | None = None) -> Measured:
    """The pattern at ``path`` (any format :func:`~argyrodb.physics.pattern_data.read_powder_data` reads), checked: a
    2theta axis (a text header naming Q or d is refused), at least :data:`MIN_POINTS` points. ``wavelength`` None: the
    file's, else Cu K-alpha1/2."""
    path = Path(path)
    data = read_powder_data(path)
    header = " ".join(str(h) for h in (data.metadata.get("header") or [])).lower()
    if any(tag in f" {header} " for tag in _NON_TWO_THETA):
        raise InputError(path, f"the header names a Q or d axis ({header.strip()[:60]!r}): identify needs 2theta (deg)")
    if data.n_points < MIN_POINTS:
        raise InputError(path, f"only {data.n_points} data points: identify needs at least {MIN_POINTS}")
    notes = []
    if wavelength is None:
        components = data.wavelength_components()
        if components:
            spec: str | float | list = list(components)
            text = ", ".join(f"{c.name} {c.wavelength_angstrom:.5f} A" for c in components)
        else:
            spec, text = "CuKa12", "CuKa12"
            notes.append("wavelength: Cu K-alpha1/2 (the file states none)")
    else:
        spec, text = wavelength, str(wavelength)
    components = list(spec) if isinstance(spec, list) else resolve_wavelength(spec)
    y = np.asarray(data.counts, dtype=float)
    if data.kind == "counts_per_second" and data.sigma is None and data.counts_total() is not None:
        y = np.asarray(data.counts_total(), dtype=float)
    sigma = np.asarray(data.sigma, dtype=float) if data.sigma is not None else np.sqrt(np.maximum(y, 1.0))
    return Measured(path, np.asarray(data.two_theta_deg, dtype=float), y, 1.0 / sigma**2, components, text, notes)


# --------------------------------------------------------------------------- candidates


@dataclass
class CandidateSet:
    """Candidates sharing one list of lines: ``n_index`` (L,) h^2+k^2+l^2, ``j`` (n, L) line intensities m |F|^2 (any
    scale per row; NaN where not known), ``a_angstrom`` (n,), and per candidate its formula, variables (a family's x,
    y, ...), kind ('structure' | 'screened' | 'family') and reference (structure id, or run and point number).
    ``s_range`` (1/A): the sin(theta)/lambda range over which every candidate's lines are known."""

    source: str
    n_index: np.ndarray
    j: np.ndarray
    a_angstrom: np.ndarray
    formulas: list[str]
    variables: list[dict]
    kind: str
    refs: list
    s_range: tuple[float, float]
    notes: list[str] = field(default_factory=list)
    a_notes: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.formulas)


def lorentz_polarisation(theta_rad: np.ndarray) -> np.ndarray:
    """(1 + cos^2 2theta) / (sin^2 theta cos theta): Bragg-Brentano, unpolarised beam (as the batch engine's, K = 1,
    without its constant 1/2)."""
    return (1 + np.cos(2 * theta_rad) ** 2) / (np.sin(theta_rad) ** 2 * np.cos(theta_rad))


def j_from_intensities(relative: np.ndarray, n_index: np.ndarray, a: np.ndarray, wavelength: float) -> np.ndarray:
    """Line intensities m |F|^2 from intensities (relative or absolute) computed with LP at ``wavelength``."""
    sin_theta = wavelength * np.sqrt(n_index)[None, :] / (2 * a[:, None])
    theta = np.arcsin(np.clip(sin_theta, 1e-9, 1 - 1e-12))
    return relative / lorentz_polarisation(theta)


def parse_intensity_texts(texts: list[str | None], width: int) -> np.ndarray:
    """``intensities_rel`` texts (fixed-width cells, blank: absent) as an (n, width) array, NaN where absent: the
    texts padded to one length and converted in one step (100,000 compositions in ~1 s)."""
    cell = INTENSITY_WIDTH
    n = len(texts)
    if not n:
        return np.empty((0, width))
    blank = b" " * cell
    joined = b"".join((t or "").encode("ascii")[:cell * width].ljust(cell * width) for t in texts)
    cells = np.frombuffer(joined, dtype=f"S{cell}").reshape(n, width).copy()
    absent = cells == blank
    cells[absent] = b"nan"
    return cells.astype(float)


def candidates_from_results(rows: list[dict], lines: list[tuple[int, int, str, float]], source: str, kind: str,
                            s_range: tuple[float, float]) -> CandidateSet | None:
    """A candidate set from screening results: ``rows`` (dicts with formula, a_angstrom, variables_json, intensities_rel
    and ``ref``), ``lines`` the run's (position, hkl_sq, component, wavelength) rows. Only the first wavelength
    component's lines are used (K-alpha2 is the profile's)."""
    if not rows or not lines:
        return None
    first = min(lines, key=lambda r: r[0])[2]
    own = sorted((r for r in lines if r[2] == first), key=lambda r: r[1])
    positions = np.array([r[0] for r in own])
    n_index = np.array([r[1] for r in own], dtype=float)
    wavelength = float(own[0][3])
    width = int(max(r[0] for r in lines)) + 1
    relative = parse_intensity_texts([r["intensities_rel"] for r in rows], width)[:, positions]
    a = np.array([float(r["a_angstrom"]) for r in rows])
    j = j_from_intensities(relative, n_index, a, wavelength)
    variables = [json.loads(r["variables_json"]) if r.get("variables_json") else {} for r in rows]
    return CandidateSet(source, n_index, j, a, [r["formula"] for r in rows], variables, kind, [r["ref"] for r in rows],
                        s_range, a_notes=[r.get("a_note") for r in rows])


def s_range_of(wavelength: str | float, two_theta_range) -> tuple[float, float]:
    lam = min(c.wavelength_angstrom for c in resolve_wavelength(wavelength))
    lo, hi = (float(v) for v in two_theta_range)
    return math.sin(math.radians(lo / 2)) / lam, math.sin(math.radians(hi / 2)) / lam


def stored_runs(db_path: str | Path | None, measured: Measured) -> tuple[list[CandidateSet], list[str]]:
    """Every stored screening run's ok compositions with peaks, as candidate sets (runs covering less than
    :data:`MIN_COVERAGE` of the measured range are left out, said in the notes)."""
    sets, notes = [], []
    if db_path is not None and not database_path(db_path).exists():
        raise InputError(db_path, "no such database (argyrodb db build --db PATH makes one)")
    with ReadOnlyDatabase(db_path, timeout_s=600.0) as db:
        runs = db.execute("SELECT id, family, settings_json FROM screen_runs ORDER BY id")[1]
        for run_id, family, settings_json in runs:
            settings = json.loads(settings_json)
            s_range = s_range_of(settings.get("wavelength", "CuKa1"), settings.get("two_theta_range", (10.0, 80.0)))
            share = _coverage_share(measured, s_range)
            if share < MIN_COVERAGE:
                notes.append(f"screening run {run_id} ({family}) left out: its lines cover {100 * share:.0f} % of the "
                             f"measured 2theta range (re-screen with --two-theta covering the data)")
                continue
            lines = db.execute("SELECT position, hkl_sq, component, wavelength_angstrom FROM screen_lines WHERE run_id = ?",
                               (run_id,))[1]
            source = f"screening run {run_id} ({family})"
            pages: list[CandidateSet] = []
            last_idx = -1
            while True:  # a page at a time (keyset on the primary key): the text rows never all in memory at once
                rows = db.execute("SELECT idx, formula, a_angstrom, a_note, variables_json, intensities_rel FROM "
                                  "screen_results WHERE run_id = ? AND idx > ? AND status = 'ok' AND intensities_rel IS "
                                  "NOT NULL ORDER BY idx LIMIT ?", (run_id, last_idx, READ_PAGE))[1]
                if not rows:
                    break
                last_idx = rows[-1][0]
                dicts = [{"ref": {"run": run_id, "idx": idx}, "formula": f, "a_angstrom": a, "a_note": note,
                          "variables_json": v, "intensities_rel": t} for idx, f, a, note, v, t in rows]
                page = candidates_from_results(dicts, lines, source, "screened", s_range)
                if page is not None:
                    pages.append(page)
                if len(rows) < READ_PAGE:
                    break
            if pages:
                sets.append(_concatenated(pages))
    return sets, notes


def _concatenated(pages: list[CandidateSet]) -> CandidateSet:
    """Candidate sets of one source and one list of lines (pages of one stored run) as one set, in order."""
    if len(pages) == 1:
        return pages[0]
    first = pages[0]
    return CandidateSet(first.source, first.n_index, np.concatenate([p.j for p in pages]),
                        np.concatenate([p.a_angstrom for p in pages]), [f for p in pages for f in p.formulas],
                        [v for p in pages for v in p.variables], first.kind, [r for p in pages for r in p.refs],
                        first.s_range, a_notes=[n for p in pages for n in p.a_notes])


def stored_structures(db_path: str | Path | None, measured: Measured) -> tuple[CandidateSet | None, list[str]]:
    """The database's structures (their stored CIFs), each pattern computed at its own a over the measured range."""
    with ReadOnlyDatabase(db_path) as db:
        rows = db.execute("SELECT id, name, refined_formula, a_angstrom, cif_text FROM structures ORDER BY id")[1]
        # the build's own verdict on each structure: a composition that is not charge-neutral (an OBELiX CIF with
        # 11.5 Li per formula unit) is not a formula to hand on as an answer
        unbalanced = dict(db.execute("SELECT structure_id, message FROM structure_problems WHERE kind = 'charge_imbalance'")[1])
    lam = measured.components[0].wavelength_angstrom
    lo, hi = float(measured.two_theta_deg[0]), float(measured.two_theta_deg[-1])
    n_all = allowed_n(4 * (2 * 10.8 * math.sin(math.radians(min(hi, 179.0) / 2)) / lam) ** 2)
    js, a_values, formulas, refs, notes = [], [], [], [], []
    for structure_id, name, formula, _a, cif in rows:
        try:
            structure = analysed(read_cif_text(cif, source=name))
            arrays = XRDModel.from_analysed(structure).peak_arrays(wavelength=lam, two_theta_range=(max(lo - 2, 1.0), min(hi + 2, 179.0)))
        except ArgyrodbError as exc:
            notes.append(f"structure {structure_id} ({name}) left out: {exc}")
            continue
        row = np.full(n_all.size, np.nan)
        found = np.searchsorted(n_all, arrays["line_key"])
        ok = (found < n_all.size) & (n_all[np.minimum(found, n_all.size - 1)] == arrays["line_key"])
        row[found[ok]] = arrays["intensity"][ok]
        row = j_from_intensities(row[None, :], n_all, np.array([structure.a_angstrom]), lam)[0]
        js.append(row)
        a_values.append(structure.a_angstrom)
        formulas.append(formula)
        refs.append({"structure_id": structure_id, "name": name}
                    | ({"caveat": unbalanced[structure_id]} if structure_id in unbalanced else {}))
    if not js:
        return None, notes
    j = np.array(js)
    s_lo = math.sin(math.radians(max(lo - 2, 1.0) / 2)) / lam
    s_hi = math.sin(math.radians(min(hi + 2, 179.0) / 2)) / lam
    # a line outside a structure's computed range (its a differs) is absent there: zero within the range it covers
    j = np.where(np.isnan(j), 0.0, j)
    return CandidateSet("database structures", n_all, j, np.array(a_values), formulas, [{}] * len(formulas), "structure",
                        refs, (s_lo, s_hi)), notes


def _coverage_share(measured: Measured, s_range: tuple[float, float]) -> float:
    lo, hi = _two_theta_window(measured, s_range)
    span = measured.two_theta_deg[-1] - measured.two_theta_deg[0]
    return max(0.0, hi - lo) / span if span > 0 else 0.0


def _two_theta_window(measured: Measured, s_range: tuple[float, float]) -> tuple[float, float]:
    """The part of the measured range whose sin(theta)/lambda (K-alpha1) lies in ``s_range``."""
    lam = measured.components[0].wavelength_angstrom
    lo = 2 * math.degrees(math.asin(min(1.0, s_range[0] * lam)))
    hi = 2 * math.degrees(math.asin(min(1.0, s_range[1] * lam)))
    return max(lo, float(measured.two_theta_deg[0])), min(hi, float(measured.two_theta_deg[-1]))


def allowed_n(n_max: float) -> np.ndarray:
    """Every N = h^2 + k^2 + l^2 <= n_max of an F-centred cubic lattice (h, k, l all odd or all even), ascending."""
    h_max = math.isqrt(int(n_max)) + 1
    r = np.arange(0, h_max + 1)
    h, k, l = np.meshgrid(r, r, r, indexing="ij")
    n = h**2 + k**2 + l**2
    unmixed = ((h % 2) == (k % 2)) & ((k % 2) == (l % 2))
    return np.unique(n[unmixed & (n > 0) & (n <= n_max)]).astype(float)


# --------------------------------------------------------------------------- profile


@dataclass
class Profile:
    """The composition-free part of a fit: a, zero shift (deg), TCH widths U, W (deg^2), Y (deg)."""

    a_angstrom: float
    zero_deg: float
    u: float
    w: float
    y: float


def profile_matrix(two_theta: np.ndarray, n_index: np.ndarray, profile: Profile, components: list[WavelengthComponent]
                   ) -> np.ndarray:
    """(points, lines): column N = sum_c w_c LP(theta_cN) PV(2theta - 2theta_cN - zero) (module docstring)."""
    out = np.zeros((two_theta.size, n_index.size))
    lo, hi = two_theta[0], two_theta[-1]
    for comp in components:
        sin_theta = comp.wavelength_angstrom * np.sqrt(n_index) / (2 * profile.a_angstrom)
        ok = sin_theta < 1
        theta = np.arcsin(np.where(ok, sin_theta, 0.5))
        centre = 2 * np.degrees(theta) + profile.zero_deg
        fwhm, eta = tch_widths(centre, profile.u, 0.0, profile.w, 0.0, profile.y)
        half = np.minimum(WINDOW_FWHM * fwhm, 3.0)
        near = ok & (centre + half > lo) & (centre - half < hi)
        if not near.any():
            continue
        cols = np.flatnonzero(near)
        # each line only within its window: (row, column) pairs of every line, one vectorised evaluation
        first = np.searchsorted(two_theta, centre[cols] - half[cols])
        last = np.searchsorted(two_theta, centre[cols] + half[cols], side="right")
        counts = last - first
        col_of = np.repeat(cols, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = np.repeat(first, counts) + offsets
        values = pseudo_voigt(two_theta[rows] - centre[col_of], fwhm[col_of], eta[col_of])
        out[rows, col_of] += comp.weight * lorentz_polarisation(theta[col_of]) * values
    return out


def _lines_in(n_index: np.ndarray, a: float, lam: float, lo: float, hi: float) -> np.ndarray:
    sin_theta = lam * np.sqrt(n_index) / (2 * a)
    ok = sin_theta < 1
    tt = 2 * np.degrees(np.arcsin(np.where(ok, sin_theta, 0.0)))
    return ok & (tt >= lo) & (tt <= hi)


def _comb_start(m: Measured, a_lo: float, a_hi: float) -> tuple[float, float]:
    """(a, zero) whose line positions best meet the net pattern's peaks: the pattern minus a running minimum, smoothed
    and scaled by sigma, averaged over the lines of each trial a (step 1e-4 relative) and zero (+-0.2 deg)."""
    x, y = m.two_theta_deg, m.counts
    step = float(np.median(np.diff(x)))
    half = max(1, round(1.0 / step))  # 2 deg window: wider than any line, narrower than the background's bends
    padded = np.pad(y, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    base = windows.min(axis=1)
    base = _smoothed(base, half)
    net = _smoothed(np.maximum(y - base, 0.0) * np.sqrt(m.weights), max(1, round(0.03 / step)))
    lam = m.components[0].wavelength_angstrom
    n_index = allowed_n(4 * (a_hi * math.sin(math.radians(min(x[-1], 179.0) / 2)) / lam) ** 2)
    a_grid = np.exp(np.arange(math.log(a_lo), math.log(a_hi), 1e-4))
    zeros = np.arange(-0.2, 0.2001, 0.02)
    best = (-np.inf, float(a_grid[0]), 0.0)
    # the trial lattices' line positions do not depend on the zero shift: computed once
    sin_theta = lam * np.sqrt(n_index)[None, :] / (2 * a_grid[:, None])
    ok = sin_theta < 1
    tt_lines = 2 * np.degrees(np.arcsin(np.where(ok, sin_theta, 0.0)))
    for zero in zeros:
        tt = tt_lines + zero
        inside = ok & (tt > x[0] + 0.3) & (tt < x[-1] - 0.3)
        value = np.where(inside, np.interp(tt, x, net), 0.0)
        score = value.sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
        score[inside.sum(axis=1) < MIN_LINES] = -np.inf
        k = int(np.argmax(score))
        if score[k] > best[0]:
            best = (float(score[k]), float(a_grid[k]), float(zero))
    return best[1], best[2]


@dataclass
class Fit:
    """One fit: the profile, chi^2, the score R (module docstring), its R_exp, the calculated pattern and background."""

    profile: Profile
    chi2: float
    score: float
    r_exp: float
    scale: float
    calculated: np.ndarray
    background: np.ndarray
    n_parameters: int


def _solve(columns: np.ndarray, y: np.ndarray, sqrt_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted linear least squares: (coefficients, weighted residual)."""
    import scipy.linalg

    a = columns * sqrt_w[:, None]
    b = y * sqrt_w
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    a_scaled = a / scale
    # normal equations of the column-scaled system (a few columns against thousands of points: LAPACK's SVD solver
    # took 30x longer); a singular system (two lines on one spot) falls back to the minimum-norm solution
    try:
        coef = scipy.linalg.solve(a_scaled.T @ a_scaled, a_scaled.T @ b, assume_a="pos", check_finite=False)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        coef, *_ = np.linalg.lstsq(a_scaled, b, rcond=None)
    coef = coef / scale
    return coef, b - a @ coef


def _nonlinear(residual, start: np.ndarray, lower: np.ndarray, upper: np.ndarray, diff_step: np.ndarray) -> np.ndarray:
    from scipy.optimize import least_squares

    start = np.clip(start, lower + 1e-12 * np.abs(lower), upper - 1e-12 * np.abs(upper))
    solution = least_squares(residual, start, bounds=(lower, upper), x_scale=diff_step, diff_step=None, max_nfev=200,
                             xtol=1e-8, ftol=1e-9)
    return solution.x


def _profile_of(p: np.ndarray) -> Profile:
    return Profile(float(p[0]), float(p[1]), float(p[2]), float(p[3]), float(p[4]))


_WIDTH_BOUNDS = (np.array([0.0, 1e-6, 0.0]), np.array([0.5, 0.2, 1.0]))
_PARAMETER_STEPS = np.array([1e-3, 1e-2, 1e-3, 1e-3, 1e-2])


def lebail(m: Measured, a_lo: float, a_hi: float) -> tuple[Fit, np.ndarray]:
    """Stage 1: a, zero, U, W, Y with every line's intensity and the background free (linear). Returns the fit and the
    lines' N."""
    a0, zero0 = _comb_start(m, a_lo, a_hi)
    x, y = m.two_theta_deg, m.counts
    sqrt_w = np.sqrt(m.weights)
    lam = min(c.wavelength_angstrom for c in m.components)
    n_index = allowed_n(4 * (a_hi * math.sin(math.radians(min(x[-1] + 1, 179.0) / 2)) / lam) ** 2)
    background = chebyshev_basis(x, BACKGROUND_TERMS)

    def residual(p):
        prof = _profile_of(p)
        cols = profile_matrix(x, n_index, prof, m.components)
        used = cols.any(axis=0)
        return _solve(np.hstack([cols[:, used], background]), y, sqrt_w)[1]

    lower = np.array([max(a_lo, a0 * 0.997), -0.5, *_WIDTH_BOUNDS[0]])
    upper = np.array([min(a_hi, a0 * 1.003), 0.5, *_WIDTH_BOUNDS[1]])
    start = np.array([a0, zero0, START_WIDTHS["U"], START_WIDTHS["W"], START_WIDTHS["Y"]])
    p = _nonlinear(residual, start, lower, upper, _PARAMETER_STEPS)
    prof = _profile_of(p)
    cols = profile_matrix(x, n_index, prof, m.components)
    used = cols.any(axis=0)
    design = np.hstack([cols[:, used], background])
    coef, res = _solve(design, y, sqrt_w)
    bkg = background @ coef[-BACKGROUND_TERMS:]
    calc = design @ coef
    return _fit(prof, res, y, bkg, calc, m.weights, 5 + int(used.sum()) + BACKGROUND_TERMS, 1.0), n_index


def _fit(prof: Profile, res: np.ndarray, y: np.ndarray, bkg: np.ndarray, calc: np.ndarray, weights: np.ndarray,
         n_parameters: int, scale: float) -> Fit:
    chi2 = float(res @ res)
    net = float(np.sum(weights * (y - bkg) ** 2))
    return Fit(prof, chi2, math.sqrt(chi2 / net) if net > 0 else math.inf, math.sqrt(max(y.size - n_parameters, 1) / net)
               if net > 0 else math.inf, scale, calc, bkg, n_parameters)


def coarse_scores(m: Measured, net: np.ndarray, base: Profile, candidates: CandidateSet) -> tuple[np.ndarray, np.ndarray]:
    """Stage 2: (chi^2, a) of every candidate of a set, a* (``base``) when within its +-1 % window, else the window's
    edge on a grid of :data:`A_GRID_STEP`; zero shift, widths and background (``net`` = counts - background) held; the
    scale in closed form (module docstring)."""
    a_c = candidates.a_angstrom
    best_a = np.clip(base.a_angstrom, a_c * (1 - A_WINDOW), a_c * (1 + A_WINDOW))
    clipped = np.abs(best_a - base.a_angstrom) > 1e-12
    step = A_GRID_STEP * base.a_angstrom
    best_a = np.where(clipped, base.a_angstrom + np.round((best_a - base.a_angstrom) / step) * step, base.a_angstrom)
    sqrt_w = np.sqrt(m.weights)
    yw = net * sqrt_w
    yy = float(yw @ yw)
    chi2 = np.full(len(candidates), yy)
    j = np.nan_to_num(candidates.j, nan=0.0)
    for a in np.unique(best_a):
        rows = np.flatnonzero(best_a == a)
        prof = Profile(float(a), base.zero_deg, base.u, base.w, base.y)
        pw = profile_matrix(m.two_theta_deg, candidates.n_index, prof, m.components) * sqrt_w[:, None]
        used = np.flatnonzero(pw.any(axis=0))
        pw = pw[:, used]
        b = pw.T @ yw
        g = pw.T @ pw
        jr = j[np.ix_(rows, used)]
        num = jr @ b
        den = np.einsum("nl,nl->n", jr @ g, jr)
        good = (num > 0) & (den > 0)
        chi2[rows[good]] = yy - num[good] ** 2 / den[good]
    return chi2, best_a


def full_fit(m: Measured, base: Profile, n_index: np.ndarray, j: np.ndarray, a_own: float) -> Fit:
    """Stage 3: one candidate's own a (within +-1 % of ``a_own``), zero shift, U, W, Y; scale and background linear."""
    x, y = m.two_theta_deg, m.counts
    sqrt_w = np.sqrt(m.weights)
    background = chebyshev_basis(x, BACKGROUND_TERMS)
    j = np.nan_to_num(j, nan=0.0)

    def design(p):
        column = profile_matrix(x, n_index, _profile_of(p), m.components) @ j
        return np.hstack([column[:, None], background])

    def residual(p):
        return _solve(design(p), y, sqrt_w)[1]

    lower = np.array([a_own * (1 - A_WINDOW), -0.5, *_WIDTH_BOUNDS[0]])
    upper = np.array([a_own * (1 + A_WINDOW), 0.5, *_WIDTH_BOUNDS[1]])
    start = np.array([np.clip(base.a_angstrom, lower[0], upper[0]), base.zero_deg, base.u, base.w, base.y])
    p = _nonlinear(residual, start, lower, upper, _PARAMETER_STEPS)
    d = design(p)
    coef, res = _solve(d, y, sqrt_w)
    return _fit(_profile_of(p), res, y, d[:, 1:] @ coef[1:], d @ coef, m.weights, 6 + BACKGROUND_TERMS, float(coef[0]))


# --------------------------------------------------------------------------- ranking


@dataclass
class Ranking:
    """What :func:`rank` found: the candidates (best first, dicts), the best one's fit, the Le Bail fit, the scored
    range and notes."""

    candidates: list[dict]
    best_fit: Fit | None
    best: dict | None
    best_ticks: np.ndarray
    lebail: Fit
    measured: Measured
    two_theta_range: tuple[float, float]
    n_candidates: int
    seconds: dict
    notes: list[str]
    #: Fully fitted candidates of other compositions (or the best's composition with another 4a/4d distribution) with
    #: their :func:`tie_z` against the best (:func:`rank`).
    rivals: list[dict] = field(default_factory=list)
    #: Candidates added by re-scoring stored compositions with every halide's 4a share.
    n_rescored: int = 0


def scored_range(measured: Measured, sets: list[CandidateSet]) -> tuple[float, float]:
    """The 2theta range every candidate set's lines cover (the measured one, cut to each set's sin(theta)/lambda)."""
    lo, hi = float(measured.two_theta_deg[0]), float(measured.two_theta_deg[-1])
    for s in sets:
        s_lo, s_hi = _two_theta_window(measured, s.s_range)
        lo, hi = max(lo, s_lo), min(hi, s_hi)
    return lo, hi


def rank(measured: Measured, sets: list[CandidateSet], top_k: int = TOP_K, show_progress: bool = False,
         expand=None) -> Ranking:
    """Rank every candidate of ``sets`` against ``measured`` (stages 1-3 of the module docstring).

    ``expand``: called with the best :data:`RESCORE_STORED` stored screened compositions after stage 2 (a list of
    (CandidateSet, index), each differing from the others by :data:`RESCORE_SPACING` or more of some element per
    formula unit), it returns candidate sets (those compositions with every halide's 4a share) that are scored beside
    them: the best distribution of a composition counts. After stage 3 the best :data:`RIVALS` candidates of other
    compositions are fully fitted too and tested against the best (:func:`tie_z`): ``Ranking.rivals``."""
    from tqdm import tqdm

    started = time.perf_counter()
    sets = [s for s in sets if s is not None and len(s)]
    n_total = sum(len(s) for s in sets)
    if not n_total:
        raise InputError("candidates", "no candidates: the database holds no structures or screened compositions "
                                       "(argyrodb db build; argyrodb screen ...), and no --family was given")
    lo, hi = scored_range(measured, sets)
    m = measured.select(lo, hi)
    if m.two_theta_deg.size < MIN_POINTS:
        raise InputError(measured.path, f"only {m.two_theta_deg.size} data points in the 2theta range {lo:.2f}-{hi:.2f} deg "
                                        f"the candidates' lines cover: identify needs at least {MIN_POINTS}")
    a_all = np.concatenate([s.a_angstrom for s in sets])
    a_lo, a_hi = float(a_all.min()) * (1 - A_WINDOW), float(a_all.max()) * (1 + A_WINDOW)
    lam = m.components[0].wavelength_angstrom
    if _lines_in(allowed_n(1000.0), a_hi, lam, lo, hi).sum() < MIN_LINES:
        raise InputError(measured.path, f"the 2theta range {lo:.2f}-{hi:.2f} deg holds fewer than {MIN_LINES} argyrodite "
                                        f"lines at lambda = {lam:.4f} A: is the axis 2theta (deg) and the wavelength right?")
    base, _ = lebail(m, a_lo, a_hi)
    t_lebail = time.perf_counter()
    net = m.counts - base.background
    entries = []
    for s in tqdm(sets, desc="identify", unit="set", disable=not show_progress):
        chi2, a_used = coarse_scores(m, net, base.profile, s)
        entries.append((s, chi2, a_used))
    amounts: dict[tuple[int, int], dict[str, float] | None] = {}
    rescored = 0
    if expand is not None:
        picks = _stored_picks(entries, amounts)
        for s in expand([(entries[k][0], i) for k, i in picks]) if picks else []:
            if s is not None and len(s):
                chi2, a_used = coarse_scores(m, net, base.profile, s)
                entries.append((s, chi2, a_used))
                rescored += len(s)
    t_coarse = time.perf_counter()
    yy = float(np.sum(m.weights * net**2))
    distinct = _distinct(entries)
    flat: list[tuple[float, int, int]] = list(itertools.islice(distinct, 4 * top_k))
    fits = [_fitted(m, base.profile, entries, k, i) for _, k, i in flat[:top_k]]
    fits.sort(key=lambda t: t[0])
    # rivals: the best (by stage 2) of other compositions, each unlike the best and the rivals taken, fully fitted;
    # then the best's composition with its next-best 4a/4d distribution (the better of the two is the best)
    other_distribution = None
    if fits:
        best_amounts = _amounts(entries, fits[0][1], fits[0][2], amounts)
        taken = [best_amounts]
        fitted = {(k, i) for _, k, i, _ in fits}
        n_rivals = 0
        for looked, (_, k, i) in enumerate(itertools.chain(flat[top_k:], distinct)):
            if best_amounts is None or n_rivals >= RIVALS or looked >= 20_000:
                break
            own = _amounts(entries, k, i, amounts)
            if own is None or any(t is not None and _distance(own, t) <= COMPOSITION_TOLERANCE + 1e-9 for t in taken):
                continue
            taken.append(own)
            n_rivals += 1
            if (k, i) not in fitted:
                fits.append(_fitted(m, base.profile, entries, k, i))
                fitted.add((k, i))
        fits.sort(key=lambda t: t[0])
        other = _other_distribution(entries, fits[0][1], fits[0][2])
        if other is not None:
            other_distribution = _fitted(m, base.profile, entries, *other)
            if other_distribution[0] < fits[0][0]:
                fits[0], other_distribution = other_distribution, fits[0]
    t_full = time.perf_counter()
    candidates = [_entry(entries[k][0], i, fit.score, fit.profile, "full") for _, k, i, fit in fits]
    full_keys = {_key(entries, k, i) for _, k, i, _ in fits}
    for chi2_value, k, i in flat[top_k:]:
        if _key(entries, k, i) in full_keys:
            continue
        s, _, a_used = entries[k]
        prof = Profile(float(a_used[i]), base.profile.zero_deg, base.profile.u, base.profile.w, base.profile.y)
        candidates.append(_entry(s, i, math.sqrt(max(chi2_value, 0.0) / yy) if yy > 0 else math.inf, prof, "coarse"))
    rival_rows = _rivals(m, entries, fits, other_distribution, amounts) if fits else []
    notes = [n for s in sets for n in s.notes]
    seconds = {"lebail": t_lebail - started, "coarse": t_coarse - t_lebail, "full": t_full - t_coarse,
               "total": t_full - started}
    best_fit = fits[0][3] if fits else None
    ticks = np.empty(0)
    if fits:
        s_best = entries[fits[0][1]][0]
        ticks = tick_positions(s_best.n_index, fits[0][3].profile, m.components[0].wavelength_angstrom, lo, hi)
    return Ranking(candidates, best_fit, candidates[0] if candidates else None, ticks, base, m, (lo, hi), n_total, seconds,
                   notes, rival_rows, rescored)


def _source_key(entries, k: int, i: int) -> tuple:
    """The question a candidate answers: its stored run (re-scored distributions included), its family grid, or its
    candidate set (the database's structures)."""
    return _key(entries, k, i)[:2]


def _key(entries, k: int, i: int) -> tuple:
    """One composition of one source: a stored run's compositions and their re-scored distributions share their run's
    key, a family's come once per distribution tried (the best one counts)."""
    s = entries[k][0]
    ref = s.refs[i]
    if isinstance(ref, dict) and "run" in ref:
        return ("run", ref["run"], s.formulas[i])
    if s.kind == "family":
        return ("family", s.source, s.formulas[i])
    return (k, s.formulas[i])


def _distinct(entries):
    """(chi^2, set, index) of every candidate by stage 2's chi^2 (ties: set, then index), the best of each composition
    (:func:`_key`) only: a generator, read as far as needed."""
    chi2 = np.concatenate([e[1] for e in entries])
    set_of = np.concatenate([np.full(len(e[1]), k) for k, e in enumerate(entries)])
    index_of = np.concatenate([np.arange(len(e[1])) for e in entries])
    seen = set()
    for n in np.lexsort((index_of, set_of, chi2)):
        k, i = int(set_of[n]), int(index_of[n])
        key = _key(entries, k, i)
        if key not in seen:
            seen.add(key)
            yield float(chi2[n]), k, i


#: Elements that are neither Li nor an anion: their sum is one per argyrodite formula unit (P, or P + Ge, Si, Sn, ...).
_ANIONS = frozenset({"F", "Cl", "Br", "I", "O", "S", "Se", "Te", "N", "H", "B"})


def _amounts(entries, k: int, i: int, cache: dict) -> dict[str, float] | None:
    """Element -> amount per formula unit (the non-Li cations summing to 1) of a candidate's formula, or None when its
    formula does not parse."""
    if (k, i) not in cache:
        try:
            amounts = parse_formula(entries[k][0].formulas[i], source="formula")
        except ArgyrodbError:
            cache[(k, i)] = None
            return None
        per = sum(v for el, v in amounts.items() if el != "Li" and el not in _ANIONS) or 1.0
        cache[(k, i)] = {el: v / per for el, v in amounts.items()}
    return cache[(k, i)]


def _distance(a: dict[str, float], b: dict[str, float]) -> float:
    """The largest difference of an element's amount per formula unit."""
    return max(abs(a.get(el, 0.0) - b.get(el, 0.0)) for el in set(a) | set(b))


def _stored_picks(entries, cache: dict) -> list[tuple[int, int]]:
    """The best :data:`RESCORE_STORED` stored screened compositions by stage 2, each differing from those picked by
    :data:`RESCORE_SPACING` or more (at most 20,000 looked at)."""
    sets = [k for k, (s, _, _) in enumerate(entries) if s.kind == "screened"]
    if not sets:
        return []
    chi2 = np.concatenate([entries[k][1] for k in sets])
    set_of = np.concatenate([np.full(len(entries[k][1]), k) for k in sets])
    index_of = np.concatenate([np.arange(len(entries[k][1])) for k in sets])
    picks: list[tuple[int, int]] = []
    chosen: list[dict[str, float]] = []
    for n in np.lexsort((index_of, set_of, chi2))[:20_000]:
        k, i = int(set_of[n]), int(index_of[n])
        own = _amounts(entries, k, i, cache)
        if own is None or any(_distance(own, c) < RESCORE_SPACING for c in chosen):
            continue
        picks.append((k, i))
        chosen.append(own)
        if len(picks) >= RESCORE_STORED:
            break
    return picks


def tie_z(m: Measured, best: Fit, other: Fit) -> float:
    """How many standard deviations ``other``'s fit is worse than ``best``'s: the chi^2 difference test, sqrt of

        D = (chi^2_other - chi^2_best) / (chi^2_best / (N - P)) x (1 - rho) / (1 + rho),

    against chi^2 with one degree of freedom (D < 3.84: not worse at 5 %; sqrt(D) < 1.96). chi^2_best / (N - P) scales
    the Poisson weights to the misfit the best fit leaves (R 3.4x R_exp on xrayutilities' patterns: the profile's misfit,
    not counting noise); (1 - rho) / (1 + rho), rho the lag-1 autocorrelation of the best fit's weighted residuals, is
    the serial-correlation correction of J.-F. Berar & P. Lelann, J. Appl. Cryst. 24 (1991) 1,
    doi:10.1107/S0021889890008391 (an AR(1) residual has (1 + rho) / (1 - rho) times fewer independent points; rho ~0.9
    here, a factor ~19). Negative when ``other`` fits better."""
    sqrt_w = np.sqrt(m.weights)
    r = (m.counts - best.calculated) * sqrt_w
    rr = float(r @ r)
    if rr <= 0:
        return math.inf if other.chi2 > best.chi2 else 0.0
    rho = min(max(float(r[:-1] @ r[1:]) / rr, 0.0), 0.99)
    nu = max(r.size - best.n_parameters, 1)
    d = (other.chi2 - best.chi2) / (best.chi2 / nu) * (1 - rho) / (1 + rho)
    return math.copysign(math.sqrt(abs(d)), d)


def _fitted(m: Measured, base: Profile, entries, k: int, i: int) -> tuple[float, int, int, Fit]:
    s = entries[k][0]
    fit = full_fit(m, base, s.n_index, s.j[i], float(s.a_angstrom[i]))
    return (fit.score, k, i, fit)


def _other_distribution(entries, k0: int, i0: int) -> tuple[int, int] | None:
    """(set, index) of the best's composition (its :func:`_key`) with the next-best 4a/4d distribution by stage 2, or
    None when it was tried with one distribution only."""
    key = _key(entries, k0, i0)
    formula = entries[k0][0].formulas[i0]
    shares = entries[k0][0].variables[i0].get("halide_share_4a")
    best: tuple[float, int, int] | None = None
    for k, (s, chi2, _) in enumerate(entries):
        for i in (i for i, f in enumerate(s.formulas) if f == formula):
            if (k, i) == (k0, i0) or _key(entries, k, i) != key or s.variables[i].get("halide_share_4a") == shares:
                continue
            if best is None or chi2[i] < best[0]:
                best = (float(chi2[i]), k, i)
    return None if best is None else (best[1], best[2])


def _rivals(m: Measured, entries, fits: list[tuple], other_distribution: tuple | None, cache: dict) -> list[dict]:
    """Every fully fitted candidate of another composition than the best (``fits[0]``; more than
    :data:`COMPOSITION_TOLERANCE` of some element per formula unit away) and the best's composition with its next-best
    4a/4d distribution, best first, each with its z (:func:`tie_z`) against the best, ``tied`` (z < :data:`TIE_Z`) and
    ``same_source`` (the best's stored run, family grid or the structures: the same question)."""
    _, k0, i0, best_fit = fits[0]
    best_amounts = _amounts(entries, k0, i0, cache)
    chosen = []
    for score, k, i, fit in fits[1:]:
        own = _amounts(entries, k, i, cache)
        if own is not None and best_amounts is not None and _distance(own, best_amounts) > COMPOSITION_TOLERANCE + 1e-9:
            chosen.append(("composition", _distance(own, best_amounts), score, k, i, fit))
    if other_distribution is not None:
        chosen.append(("distribution", 0.0, *other_distribution))
    out = []
    for kind, distance, score, k, i, fit in sorted(chosen, key=lambda c: c[2]):
        s = entries[k][0]
        z = tie_z(m, best_fit, fit)
        out.append({"formula": s.formulas[i], **s.variables[i], "source": s.source, "ref": s.refs[i], "score": round(score, 5),
                    "differs_in": kind, "composition_difference": round(distance, 4), "difference_sigma": round(z, 2),
                    "tied": bool(z < TIE_Z), "same_source": _source_key(entries, k, i) == _source_key(entries, k0, i0)})
    return out


def tick_positions(n_index: np.ndarray, profile: Profile, wavelength: float, lo: float, hi: float) -> np.ndarray:
    """2theta (deg, with the zero shift) of the F-centred lines of ``profile``'s a within lo-hi (K-alpha1)."""
    sin_theta = wavelength * np.sqrt(n_index) / (2 * profile.a_angstrom)
    tt = 2 * np.degrees(np.arcsin(sin_theta[sin_theta < 1])) + profile.zero_deg
    return tt[(tt >= lo) & (tt <= hi)]


def _entry(s: CandidateSet, i: int, score: float, prof: Profile, stage: str) -> dict:
    a_own = float(s.a_angstrom[i])
    entry = {"formula": s.formulas[i], "kind": s.kind, "source": s.source, **s.variables[i],
             "a_angstrom": round(prof.a_angstrom, 5), "a_model_angstrom": round(a_own, 5),
             "a_shift_percent": round(100 * (prof.a_angstrom / a_own - 1), 3), "score": round(score, 5), "stage": stage}
    if stage == "full":
        entry.update({"zero_shift_deg": round(prof.zero_deg, 4), "U": round(prof.u, 6), "W": round(prof.w, 6),
                      "Y": round(prof.y, 5)})
    if abs(entry["a_shift_percent"]) >= 100 * A_WINDOW - 1e-3:
        entry["warning"] = "a at the edge of its +-1 % window: the pattern's lattice is outside it"
    if s.a_notes and i < len(s.a_notes) and s.a_notes[i]:
        entry["a_note"] = s.a_notes[i]
    entry["ref"] = s.refs[i]
    return entry


def candidate_set(s: CandidateSet, index: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(n_index, j, a) of one candidate (for a caller's own fit)."""
    return s.n_index, s.j[index], float(s.a_angstrom[index])


# --------------------------------------------------------------------------- impurities


#: An impurity whose screen (:func:`screen_impurities`) finds it at this significance (Gaussian sigma) or more is
#: refined (:func:`impurities`); below, the screen's upper bound is reported. The refinement's own detection rule (3
#: esd): a phase the screen does not find at 3 sigma with its cell free would not be detected by the refinement either.
REFINE_FROM_SIGMA = DETECTION_ESDS
#: A phase the screen finds at 3 sigma but below this weight fraction is not refined (reported with its upper bound
#: and a note): the screen's model (the candidate's fixed intensities, symmetric profiles, the phase's cell free
#: within +-1 %) leaves systematic residuals that a phase's lines at ~0.1 wt % can take up (on the Li5.6PS4.6Cl0.8I0.6 +
#: 2 wt % LiI pattern: LiBr 4.0 sigma at 0.06 wt %, Li2S 4.5 sigma at 0.18 wt %, neither present), and a refinement
#: holding an absent phase costs 20-130 s. identify's target is impurities from 2 wt %.
SCREEN_MIN_WEIGHT_FRACTION = 0.005
#: Relative steps of an impurity's cell scanned by the screen (its lattice within +-1 % of the bundled one).
IMPURITY_CELL_SCAN = np.linspace(0.99, 1.01, 41)


def _phase_lines(structure, lam: float, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """(d (A), m |F|^2) of every line of a pymatgen Structure or analysed structure within lo-hi at ``lam``."""
    model = XRDModel.from_analysed(structure) if hasattr(structure, "positions") else XRDModel.from_structure(structure)
    arrays = model.peak_arrays(wavelength=lam, two_theta_range=(max(lo - 2, 1.0), min(hi + 2, 179.0)))
    d = np.asarray(arrays["d_angstrom"], dtype=float)
    theta = np.arcsin(np.clip(lam / (2 * d), 0, 1 - 1e-12))
    return d, np.asarray(arrays["intensity"], dtype=float) / lorentz_polarisation(theta)


def profile_matrix_d(two_theta: np.ndarray, d_angstrom: np.ndarray, zero_deg: float, profile: Profile,
                     components: list[WavelengthComponent]) -> np.ndarray:
    """:func:`profile_matrix` for lines given by their d (any crystal system): a cubic cell of a = 1 A and N = 1/d^2."""
    unit = Profile(1.0, zero_deg, profile.u, profile.w, profile.y)
    return profile_matrix(two_theta, 1.0 / np.asarray(d_angstrom) ** 2, unit, components)


def screen_impurities(m: Measured, main_structure, main_cell_mass: float, fit: Fit, phases: tuple[str, ...]) -> list[dict]:
    """A fast first look for the bundled phases: the best candidate's lines (their intensities computed from its
    structure, in electrons^2 per cell) and a phase's lines (its bundled structure, the cell scanned within +-1 %) with
    a scale each and the background linear, zero shift and widths from the candidate's full fit. The phase's scale s,
    its esd (covariance x chi^2 / (N - P)), significance by the refinement's rule (2 parameters: scale and cell), and
    the weight fraction by Hill-Howard, W_p = S_p (ZMV)_p / sum_i S_i (ZMV)_i (J. Appl. Cryst. 20 (1987) 467), or its
    upper bound from s + 3 esd when s is not 3 esd.

    Forward selection: the most significant phase at :data:`REFINE_FROM_SIGMA` or more joins the model and the others
    are tested again beside it, until none does. Tested alone, a phase soaks up another impurity's lines (on the
    Li5.6PS4.6Cl0.8I0.6 + 2 wt % LiI pattern LiCl, Li2S and Li3PS4 reached 3.5, 2.4 and 5.3 sigma beside unmodelled
    LiI)."""
    x, y = m.two_theta_deg, m.counts
    lam = m.components[0].wavelength_angstrom
    lo, hi = float(x[0]), float(x[-1])
    sqrt_w = np.sqrt(m.weights)
    background = chebyshev_basis(x, BACKGROUND_TERMS)
    d_main, j_main = _phase_lines(main_structure, lam, lo, hi)
    main_column = profile_matrix_d(x, d_main * fit.profile.a_angstrom / float(main_structure.a_angstrom),
                                   fit.profile.zero_deg, fit.profile, m.components) @ j_main
    main_mv = main_cell_mass * fit.profile.a_angstrom**3
    lines = {}
    for name in phases:
        _, structure = impurity_structure(name)
        lines[name] = (structure, *_phase_lines(structure, lam, lo, hi))
    included: list[np.ndarray] = []
    rows: dict[str, dict] = {}
    remaining = list(phases)
    while remaining:
        tested = {}
        for name in remaining:
            structure, d_imp, j_imp = lines[name]
            tested[name] = _screen_one(x, y, sqrt_w, m.components, fit.profile, main_column, included, background,
                                       structure, d_imp, j_imp, main_mv)
            tested[name]["row"]["name"] = name
        for name in remaining:
            rows[name] = tested[name]["row"]
        candidates = [n for n in remaining if rows[n]["detected"] and rows[n]["significance"] >= REFINE_FROM_SIGMA]
        if not candidates:
            break
        best = max(candidates, key=lambda n: rows[n]["significance"])
        included.append(tested[best]["column"])
        remaining.remove(best)
    return [rows[name] for name in phases]


def _screen_one(x, y, sqrt_w, components, profile: Profile, main_column, included, background, structure, d_imp, j_imp,
                main_mv: float) -> dict:
    """One phase of :func:`screen_impurities`: its best cell factor, scale, esd, significance and weight fraction."""
    best: tuple | None = None
    for factor in IMPURITY_CELL_SCAN:
        column = profile_matrix_d(x, d_imp * factor, profile.zero_deg, profile, components) @ j_imp
        design = np.column_stack([main_column, column, *included, background])
        coef, res = _solve(design, y, sqrt_w)
        chi2 = float(res @ res)
        if best is None or chi2 < best[0]:
            best = (chi2, factor, coef, design, column)
    assert best is not None  # the scan has steps
    chi2, factor, coef, design, column = best
    a_w = design * sqrt_w[:, None]
    try:
        cov = np.linalg.inv(a_w.T @ a_w) * chi2 / max(x.size - design.shape[1] - 6, 1)
        esd = float(math.sqrt(max(cov[1, 1], 0.0)))
    except np.linalg.LinAlgError:
        esd = math.inf
    scale_main, scale = float(coef[0]), float(coef[1])
    # the refinement's rule (2 parameters the phase brings: its scale and cell); no esd: not significant
    significance = (_significance_sigma(scale, esd, 2) or 0.0) if scale > 0 else 0.0
    mv = structure.composition.weight * structure.lattice.volume * factor**3
    total = max(scale_main, 0.0) * main_mv
    fraction = _hill_howard(scale, mv, total)
    bound = _hill_howard(max(scale, 0.0) + DETECTION_ESDS * esd, mv, total)
    detected = significance >= DETECTION_ESDS
    row: dict = {"name": "", "detected": detected, "weight_fraction": fraction if detected else None,
                 "weight_fraction_upper_bound": None if detected else bound,
                 "significance": significance, "a_angstrom": float(structure.lattice.a * factor), "method": "screen"}
    if detected and (fraction or 0.0) < SCREEN_MIN_WEIGHT_FRACTION:
        row.update({"detected": False, "weight_fraction": None, "weight_fraction_upper_bound": bound,
                    "note": f"screen: {significance:.1f} sigma at {100 * (fraction or 0.0):.2g} wt %, below "
                            f"the {100 * SCREEN_MIN_WEIGHT_FRACTION:g} wt % screening limit: not refined"})
    return {"row": row, "column": column}


def _hill_howard(scale: float, mv: float, total: float) -> float | None:
    """Weight fraction of a phase of scale ``scale`` and cell mass x volume ``mv`` beside ``total`` = sum S M V."""
    value = max(scale, 0.0) * mv
    return value / (value + total) if total > 0 else None


def impurities(data_path: str | Path, m: Measured, start, nominal: str, fit: Fit, wavelength: str | float | None,
               phases: tuple[str, ...] = IMPURITY_PHASES, final: bool = False) -> tuple[list[dict], object]:
    """The bundled impurity phases in the pattern: each screened (:func:`screen_impurities`), and those at
    :data:`REFINE_FROM_SIGMA` or more refined together with the best candidate (``start``, its composition ``nominal``
    held) by :func:`~argyrodb.pipeline.refine.refine_pattern`, whose detection decides for them (significance in
    Gaussian sigma, detected at >= 3; weight fraction by Hill-Howard, or the upper bound of one not detected). The
    others keep the screen's upper bound (``method`` 'screen'). Why not refine all five: a refinement holding a phase
    that is absent took 20-130 s (its a and widths wander; 2,800 model evaluations) against 2.4 s for one present.

    ``final``: the refinement is made even when no phase reaches the screen's threshold (``identify --refine``).
    Returns (rows, the refinement or None): each row ``name``, ``detected``, ``weight_fraction``,
    ``weight_fraction_upper_bound``, ``significance``, ``a_angstrom``, ``method`` ('refinement' or 'screen')."""
    known = set(phase_names())
    unknown = [p for p in phases if p not in known]
    if unknown:
        raise ParameterError("phases", f"not a bundled phase: {', '.join(unknown)} (bundled: {', '.join(sorted(known))})")
    structure = analyse(start)
    amounts = parse_formula(nominal, source="formula")
    cell_mass = 4 * sum(atomic_mass(el) * n for el, n in amounts.items())  # Z = 4 formula units per F-43m cell
    rows = {r["name"]: r for r in screen_impurities(m, structure, cell_mass, fit, phases)}
    chosen = tuple(p for p in phases if rows[p]["detected"])
    refinement = None
    if chosen or final:
        refinement, _, _ = refine_pattern(data_path, start, chosen, wavelength=wavelength, nominal=nominal)
        for entry in refinement.phases[1:]:
            rows[entry["name"]] = _impurity_row(entry)
    out = sorted(rows.values(), key=lambda r: (not r["detected"], -(r["significance"] or 0.0)))
    return out, refinement


def _impurity_row(phase: dict) -> dict:
    return {"name": phase["name"], "detected": bool(phase.get("detected")), "weight_fraction": phase.get("weight_fraction"),
            "weight_fraction_upper_bound": phase.get("weight_fraction_upper_bound"),
            "significance": phase.get("significance_sigma"), "a_angstrom": phase.get("a_angstrom"), "method": "refinement"}


def named(structure, formula: str):
    """A screened composition's site-disordered pymatgen Structure, analysed under its formula (the refinement's phase
    name; a Structure alone would be named by its cell content, Li24P4S20Br2.8Cl1.2)."""
    return analyse(structure, name=formula)


def structure_from_database(db_path: str | Path | None, structure_id: int):
    """A stored structure (its CIF), analysed."""
    with ReadOnlyDatabase(db_path) as db:
        rows = db.execute("SELECT name, cif_text FROM structures WHERE id = ?", (int(structure_id),))[1]
    if not rows:
        raise InputError("structure", f"no structure {structure_id} in the database")
    name, cif = rows[0]
    return analysed(read_cif_text(cif, source=name))


def refine_best(data_path: str | Path, start, nominal: str | None, wavelength: str | float | None,
                phases: tuple[str, ...]):
    """The best candidate refined with the impurity phases found, as ``argyrodb refine DATA --start BEST --phase ...``
    does (:func:`~argyrodb.pipeline.refine.refine_pattern`): its RefinementResult."""
    result, _, _ = refine_pattern(data_path, start, tuple(phases), wavelength=wavelength, nominal=nominal)
    return result
