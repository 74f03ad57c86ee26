"""The argyrodb database as one object, in the style of ``sqlite_utils.Database``.

>>> db = Database("argyrodb.sqlite")       # nothing is opened or written until asked
>>> db.build()                             # literature, structures, replayed user imports and refinements
>>> db.add("my_cells.csv")                 # validated, all or nothing
>>> db.query("I>0,sigma_mS_cm>=5")         # pandas DataFrame of measurements
>>> db.compare("Li5.6PS4.6Cl0.8I0.6")      # where a material stands among the literature
>>> db.refinements, db.screens             # stored powder refinements and screening runs

Every method goes through the same functions as ``argyrodb db ...``, with the same rules (locks waited for,
limits, plausibility, read-only queries with a time limit).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .core.errors import ArgyrodbError, InputError
from .pipeline import identify as _identify
from .pipeline.build import add_user_data, build_database, remove_user_data
from .pipeline.refine import store_refinement
from .screening.runs import run_results, run_screen
from .screening.screener import Screener, ScreenSettings
from .store.connection import ReadOnlyDatabase, database_path, migrate_file
from .store.export import export_optimade, export_tables
from .store.queries import MeasurementFilter, compare, count_measurements, query_measurements, run_sql
from .store.screening_runs import list_runs, query_screen


class Database:
    """The SQLite database at ``path`` (default: ``ARGYRODB_DB``, else the user's data folder)."""

    def __init__(self, path: str | Path | None = None):
        self._given = path  # None: the default location, whose folder the build may create on a new machine
        self.path: Path = database_path(path)

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"

    # ------------------------------------------------------------------ writing

    def build(self, show_progress: bool = False) -> dict:
        """(Re)build the database atomically from the packaged data, keeping user imports, refinements and
        screening runs; returns row counts per table."""
        return build_database(self._given, show_progress=show_progress)

    def migrate(self) -> tuple[int, int]:
        """Bring an older database to this version's schema in place: (version before, version after)."""
        return migrate_file(self.path)

    def add(self, csv_path: str | Path, force: bool = False) -> dict:
        """Validate a user CSV (every row and structure) and store it, all or nothing. Conductivities outside
        the plausible range are refused unless ``force``; the result's ``warnings`` say what was kept anyway."""
        return add_user_data(csv_path, self.path, force=force)

    def remove(self, name: str) -> dict:
        """Remove a user import (its file name or import id) and everything stored from it."""
        return remove_user_data(name, self.path)

    def screen(self, settings: ScreenSettings, jobs: int = 1, show_progress: bool = False) -> dict:
        """Compute and store a screening run (resumed where an earlier one stopped); returns its summary."""
        return run_screen(settings, self.path, jobs=jobs, show_progress=show_progress)

    def store_refinement(self, result, refined, structure=None, data_path: str | Path = "") -> dict:
        """Store the result of :func:`argyrodb.api.refine` and its refined structure (dataset 'user')."""
        return store_refinement(result, refined, structure, data_path, self.path)

    # ------------------------------------------------------------------ reading

    def query(self, expression: str | None = None, filters: MeasurementFilter | None = None,
              sort: str | None = None, limit: int | None = None):
        """Measurements (with material and reference) matching an expression such as ``"I>0,sigma_mS_cm>=5"``
        (element symbols are amounts per formula unit) and/or ``filters`` (both must hold), as a pandas DataFrame."""
        return query_measurements(_combined(expression, filters), sort=sort, limit=limit, db_path=self.path)

    def count(self, expression: str | None = None, filters: MeasurementFilter | None = None) -> int:
        """How many measurements :meth:`query` would return."""
        return count_measurements(_combined(expression, filters), db_path=self.path)

    def compare(self, formula: str, sigma_mS_cm: float | None = None, ccd_mA_cm2: float | None = None,
                n_nearest: int = 5) -> dict:
        """Where ``formula`` (any spelling) stands among the literature measurements: exact matches with their
        spread, the rank of a value (given, the source's own, or the median) and the nearest compositions."""
        return compare(formula, sigma_mS_cm=sigma_mS_cm, ccd_mA_cm2=ccd_mA_cm2, n_nearest=n_nearest, db_path=self.path)

    def sql(self, sql: str, params: dict | None = None, timeout_s: float = 10.0):
        """Any read-only SQL (writes refused, interrupted after ``timeout_s``) as a DataFrame."""
        return run_sql(sql, self.path, timeout_s=timeout_s, params=params)

    @property
    def refinements(self):
        """The stored powder refinements (one row each: data file, mode, R factors, a, warnings) as a DataFrame."""
        return run_sql("SELECT id, name, data_file, mode, wavelength, n_points, r_wp, gof, a_angstrom, a_esd_angstrom, "
                       "warnings_json FROM refinements ORDER BY id", self.path, limit=None)

    @property
    def screens(self):
        """The stored screening runs (id, family, grid, number of compositions stored) as a DataFrame."""
        return list_runs(self.path)

    def screen_results(self, run: int, expression: str | None = None):
        """The compositions of screening run ``run``, all or those matching ``expression``
        (``"a_angstrom<10.1,I>=0.6"``), as a DataFrame."""
        if expression is None:
            return run_results(run, self.path)
        return query_screen(run, expression, db_path=self.path)

    def identify(self, pattern: str | Path, **options) -> dict:
        """Rank every structure and stored screened composition of this database against a measured pattern
        (:func:`identify`)."""
        return identify(pattern, db=self, **options)

    # ------------------------------------------------------------------ out

    def export(self, out_dir: str | Path, fmt: str = "csv", tables=None, optimade: bool = False) -> list[Path]:
        """Write tables and views as CSV or JSON (and OPTIMADE structures) to ``out_dir``; nothing is replaced
        when anything fails."""
        return export_tables(out_dir, fmt, self.path, tables=tables, optimade=optimade)

    def export_optimade(self, out_path: str | Path) -> Path:
        """The structures as OPTIMADE entries (JSON) in one file."""
        return export_optimade(out_path, self.path)


def _combined(expression: str | None, filters: MeasurementFilter | None) -> MeasurementFilter:
    """``filters`` (a copy: the caller's object is not changed) with ``expression`` added to its own expression."""
    filters = filters if filters is not None else MeasurementFilter()
    if not expression:
        return filters
    return dataclasses.replace(filters, expression=",".join(e for e in (filters.expression, expression) if e))


def screen(settings: ScreenSettings, db: str | Path | Database | None = None, jobs: int = 1,
           show_progress: bool = False) -> dict:
    """Screen the compositions of ``settings`` (a family and its grid, or formulas) and store the run in ``db``
    (a path or :class:`Database`; default: the default database); returns the run's summary (``run_id``, counts).
    Read the rows with ``Database(db).screen_results(run_id)``."""
    database = db if isinstance(db, Database) else Database(db)
    return database.screen(settings, jobs=jobs, show_progress=show_progress)


def identify(pattern: str | Path, db: str | Path | Database | None = None, family: str | None = None,
             ranges: dict[str, list[float]] | None = None, wavelength: str | float | None = None, top: int = 10,
             find_impurities: bool = True, refine: bool = False, show_progress: bool = False) -> dict:
    """Which argyrodite is the measured ``pattern``? Every structure and stored screened composition of ``db`` and,
    with ``family`` (and its ``ranges``, e.g. ``{"x": [0, 0.05, ..., 1]}``), a grid screened here (not stored), ranked
    by :mod:`argyrodb.pipeline.identify` (the module docstring has the model and the score); the best refined with the
    bundled impurity phases to name them (``find_impurities``); ``refine``: the best refined with the impurities
    found, as ``argyrodb refine`` would (``refinement_result``).

    Returns a dict: ``candidates`` (best first: formula, the family's variables, a_angstrom, score, ...), ``impurities``
    (name, weight_fraction, significance, detected, weight_fraction_upper_bound), ``best``, ``fit`` (arrays of the best
    candidate's fit: two_theta_deg, observed, calculated, background), ``refinement_result`` (the impurity refinement's
    or, with ``refine``, the final refinement's RefinementResult), ``rivals`` (other compositions and the best's next
    distribution, each with ``difference_sigma`` and ``tied``), ``reliable`` and ``reasons`` (a tied composition of
    the best's own run or grid is one), ``notes``, ``seconds``. The best 20 stored compositions are re-scored with
    every halide's 4a share (:func:`_stored_variants`)."""
    database = db if isinstance(db, Database) else Database(db)
    started = time.perf_counter()
    measured = _identify.read_measured(pattern, wavelength)
    sets = []
    structures, notes = _identify.stored_structures(database.path, measured)
    sets.append(structures)
    runs, run_notes = _identify.stored_runs(database.path, measured)
    sets += runs
    notes += run_notes + measured.notes
    screener = None
    if family is not None:
        screener, found = _screen_on_the_fly(family, ranges or {}, measured)
        sets.append(found)
    t_read = time.perf_counter()

    screeners: dict[int, Screener | None] = {}  # one per stored run, built when first needed (None: it cannot be)

    def expand(picks):
        return _stored_variants(database, picks, measured, screeners)

    ranking = _identify.rank(measured, [s for s in sets if s is not None], top_k=top, show_progress=show_progress,
                             expand=expand)
    notes += ranking.notes
    _add_template_shares(database, [*ranking.candidates, *ranking.rivals], screeners)
    notes += [f"screening run {run_id}: its compositions were not re-scored with each halide's 4a share (its screener "
              "cannot be rebuilt here: its template file or grid is not available)" for run_id, sc in screeners.items()
              if sc is None]
    best = ranking.best
    reasons: list[str] = []  # why the best candidate is not to be trusted as the answer (reliable: false)
    if best is None:
        reasons.append("no candidate could be fitted")
    elif best["score"] > _identify.FLOOR_RATIO_NOTE * ranking.lebail.score:
        reasons.append(f"the best candidate scores {best['score']:.4f}, more than {_identify.FLOOR_RATIO_NOTE:g}x the Le Bail "
                       f"fit's {ranking.lebail.score:.4f} (free line intensities): no candidate explains the intensities well - "
                       "the material may not be among them (screen its family with --family)")
    if best is not None and best.get("warning"):  # its a at the edge of the +-1 % window
        reasons.append(f"the best candidate's {best['warning']}")
    if best is not None and (best.get("ref") or {}).get("caveat"):  # the database's own warning on that structure
        reasons.append(f"the best candidate, structure {best['ref']['name']}: {best['ref']['caveat']}")
    tied = [r for r in ranking.rivals if r["tied"]]
    for kind, same_source in (("composition", True), ("composition", False), ("distribution", True)):
        same = [r for r in tied if r["differs_in"] == kind and r["same_source"] == same_source]
        if not same or best is None:
            continue
        listed = "; ".join(f"{r['formula']}{_described(r)} scores {r['score']:.4f} ({r['difference_sigma']:.2f} sigma, "
                           f"{r['source']})" for r in same)
        text = (f"{best['formula']}{_described(best)} is not told apart from {listed}: its chi^2 exceeds the best's by "
                f"less than {_identify.TIE_Z:g} standard deviations (chi^2 difference test scaled by the best's chi^2 per "
                "degree of freedom and corrected for the residuals' serial correlation, Berar & Lelann 1991)")
        if kind == "distribution":
            notes.append(f"the 4a/4d distribution is not determined: {text}")
        elif same_source:  # the composition asked for (the best's own run or family grid) is not determined
            reasons.append(f"the composition is not determined: {text}")
        else:
            notes.append(f"another source's composition fits as well: {text}")
    notes += reasons
    out = {"pattern": str(pattern), "wavelength": measured.wavelength_text, "n_candidates": ranking.n_candidates,
           "n_rescored": ranking.n_rescored,
           "two_theta_range_scored_deg": [round(v, 4) for v in ranking.two_theta_range],
           "lebail": {"a_angstrom": round(ranking.lebail.profile.a_angstrom, 5),
                      "zero_shift_deg": round(ranking.lebail.profile.zero_deg, 4), "score": round(ranking.lebail.score, 5),
                      "r_exp": round(ranking.lebail.r_exp, 5)},
           "candidates": ranking.candidates, "best": best, "rivals": ranking.rivals, "impurities": [], "notes": notes,
           "reliable": not reasons, "reasons": reasons}
    if ranking.best_fit is not None:
        m = ranking.measured
        out["fit"] = {"two_theta_deg": m.two_theta_deg, "observed": m.counts, "calculated": ranking.best_fit.calculated,
                      "background": ranking.best_fit.background, "score": ranking.best_fit.score, "ticks": ranking.best_ticks,
                      "r_exp": ranking.best_fit.r_exp}
    t_rank = time.perf_counter()
    refinement: Any = None
    if best is not None and ranking.best_fit is not None and (find_impurities or refine):
        start = _start_structure(best, database, screener, screeners)
        rows, refinement = _identify.impurities(pattern, ranking.measured, start, best["formula"], ranking.best_fit,
                                                wavelength, final=refine)
        out["impurities"] = rows
        out["start"] = start
        if refine:
            detected = tuple(r["name"] for r in rows if r["detected"])
            out["refinement_phases"] = list(detected)
            refined_with = tuple(p["name"] for p in refinement.phases[1:]) if refinement is not None else None
            if refined_with != detected:  # the impurity refinement held a phase it did not detect: refine as a user would
                refinement = _identify.refine_best(pattern, start, best["formula"], wavelength, detected)
    out["refinement_result"] = refinement
    out["seconds"] = {"read": round(t_read - started, 3), "rank": round(t_rank - t_read, 3),
                      "impurities": round(time.perf_counter() - t_rank, 3), **{f"rank_{k}": round(v, 3) for k, v in
                                                                             ranking.seconds.items()}}
    return out


#: Halide shares on 4a tried for each composition of an on-the-fly family grid (each halide its own share, S filling
#: the rest of 4a): argyrodites' 4a/4d anion disorder depends on the synthesis (Li6PS5Br: 78 % Br on 4a; Li6PS5I: I
#: ordered on 4a; milled samples near random), so the screen's one template distribution is not assumed.
HALIDE_SHARES = tuple(round(0.1 * k, 1) for k in range(11))
HALIDES = ("F", "Cl", "Br", "I")


def _screen_on_the_fly(family: str, ranges: dict[str, list[float]], measured) -> tuple[Screener, _identify.CandidateSet]:
    """A family grid screened here (not stored) at the measured wavelength (K-alpha1) and 2theta range: every
    composition the screen builds (charge-neutral, sites filled), its lattice parameter from the lattice model, and
    its lines for every combination of :data:`HALIDE_SHARES` of its halides on 4a (the batch pattern engine)."""
    lo, hi = float(measured.two_theta_deg[0]), float(measured.two_theta_deg[-1])
    lam = measured.components[0].wavelength_angstrom
    two_theta_range = (max(lo - 1.0, 1.0), min(hi + 1.0, 179.0))
    settings = ScreenSettings(family=family, ranges=ranges, wavelength=lam, two_theta_range=two_theta_range, store_peaks=False)
    screener = Screener(settings)
    n = len(screener.points)
    ok_rows: list[dict] = []
    for start in range(0, n, 1000):
        ok_rows += [r for r in screener.evaluate_chunk(range(start, min(n, start + 1000))) if r["status"] == "ok"]
    if not ok_rows:
        raise InputError(family, f"no composition of the grid ({n} points) could be built (argyrodb screen shows why)")
    found = _share_variants(screener, ok_rows, lam, two_theta_range, f"family {family}", "family",
                            [{"family": family, "idx": r["idx"]} for r in ok_rows])
    return screener, found


def _share_variants(screener: Screener, ok_rows: list[dict], lam: float, two_theta_range: tuple[float, float],
                    source: str, kind: str, refs: list[dict], a_angstrom=None) -> _identify.CandidateSet:
    """The compositions ``ok_rows`` (the screener's results, status ok) with every combination of
    :data:`HALIDE_SHARES` of their halides on 4a (S filling the rest of 4a; a distribution that needs more S on 4a
    than the composition has is left out), their lines at ``lam`` over ``two_theta_range`` (the batch pattern engine,
    K-alpha1). ``a_angstrom``: each composition's a (default: the screener's, the lattice model's now)."""
    model = screener.model
    occupancy, amounts = _occupancy(screener, [r["idx"] for r in ok_rows])  # amounts: per f.u. on 4a + 4d
    site_a, site_d = model.free_groups
    s_col = model.elements.index("S")
    halides = [model.elements.index(el) for el in HALIDES if el in model.elements
               and amounts[:, model.elements.index(el)].max() > 1e-12]
    a = np.array([r["a_angstrom"] for r in ok_rows]) if a_angstrom is None else np.asarray(a_angstrom, dtype=float)
    variants, rows, shares_of = [], [], []
    for shares in itertools.product(HALIDE_SHARES, repeat=len(halides)):
        occ = occupancy.copy()
        for col, share in zip(halides, shares):
            occ[:, site_a, col] = share * amounts[:, col]
            occ[:, site_d, col] = (1 - share) * amounts[:, col]
        others = occ[:, site_a, :].sum(axis=1) - occ[:, site_a, s_col]
        s_on_a = 1.0 - others  # S fills 4a
        feasible = (s_on_a >= -1e-9) & (s_on_a <= amounts[:, s_col] + 1e-9)
        occ[:, site_a, s_col] = np.clip(s_on_a, 0.0, None)
        occ[:, site_d, s_col] = np.clip(amounts[:, s_col] - s_on_a, 0.0, None)
        keep = np.flatnonzero(feasible)
        variants.append(occ[keep])
        rows.append(keep)
        shares_of += [dict(zip((model.elements[c] for c in halides), shares))] * keep.size
    rows_all = np.concatenate(rows)
    occ_all = np.concatenate(variants)
    batch = screener.xrd.batch_peak_arrays(a[rows_all], occ_all, wavelength=lam, two_theta_range=two_theta_range)
    first = batch["component"] == 0
    n_index = batch["line_key"][first].astype(float)
    intensity = np.where(batch["present"][:, first], batch["intensity"][:, first], 0.0)
    j = _identify.j_from_intensities(intensity, n_index, a[rows_all], lam)
    results = [ok_rows[r] for r in rows_all]
    variables = [{**json.loads(r["variables_json"]), "halide_share_4a": shares} for r, shares in zip(results, shares_of)]
    return _identify.CandidateSet(
        source, n_index, j, a[rows_all], [r["formula"] for r in results], variables, kind, [refs[r] for r in rows_all],
        _identify.s_range_of(lam, two_theta_range), a_notes=[r.get("a_note") for r in results])


def _described(candidate: dict) -> str:
    """' (y=1.6, z=0.375; 4a: Cl0.4, I0.5)': a candidate's variables and halide shares on 4a, if any."""
    variables = [f"{k}={candidate[k]:g}" for k in ("x", "y", "z", "w") if candidate.get(k) is not None]
    shares = candidate.get("halide_share_4a")
    text = ", ".join(variables)
    if shares:
        text += ("; " if text else "") + "4a: " + ", ".join(f"{el}{v:g}" for el, v in shares.items())
    return f" ({text})" if text else ""


def _run_screener(database: Database, run_id: int, screeners: dict) -> Screener | None:
    """The screener of stored run ``run_id`` (built once), or None when it cannot be rebuilt here."""
    if run_id not in screeners:
        try:
            screeners[run_id] = Screener(_run_settings(database, run_id, store_peaks=False, bvse=False))
        except (ArgyrodbError, OSError, TypeError, ValueError):
            screeners[run_id] = None
    return screeners[run_id]


def _add_template_shares(database: Database, candidates: list[dict], screeners: dict) -> None:
    """``halide_share_4a`` of stored screened candidates shown without one (the run's template distribution, each
    halide's share on 4a to 3 decimals) and ``distribution`` 'template' (re-scored ones: 'tried')."""
    for c in candidates:
        ref = c.get("ref") or {}
        if "run" not in ref:
            continue
        if c.get("halide_share_4a") is not None:
            c.setdefault("distribution", "tried")
            continue
        screener = _run_screener(database, int(ref["run"]), screeners)
        if screener is None:
            continue
        c["halide_share_4a"] = _halide_shares(screener, [int(ref["idx"])])[0]
        c["distribution"] = "template"


def _occupancy(screener: Screener, indices):
    """(occupancy (n, groups, elements), per-formula-unit amounts on the free-anion sites (n, elements)) of the
    screener's compositions ``indices`` as its site model places them (the template distribution)."""
    model = screener.model
    _, matrix = screener.points.batch(np.asarray(indices))
    columns = [model.elements.index(el) for el in screener.points.elements]
    in_model = np.zeros((len(indices), len(model.elements)))
    in_model[:, columns] = np.where(matrix > 1e-12, matrix, 0.0)
    occupancy, _ = model.occupancy_arrays(in_model, order=columns)
    site_a, site_d = model.free_groups
    return occupancy, occupancy[:, site_a, :] + occupancy[:, site_d, :]


def _halide_shares(screener: Screener, indices) -> list[dict[str, float]]:
    """Each halide's share on 4a of the compositions ``indices`` in the screener's template distribution."""
    occupancy, amounts = _occupancy(screener, indices)
    site_a = screener.model.free_groups[0]
    elements = screener.model.elements
    return [{el: round(float(occupancy[n, site_a, c] / amounts[n, c]), 3) for c, el in enumerate(elements)
             if el in HALIDES and amounts[n, c] > 1e-12} for n in range(len(indices))]


def _stored_variants(database: Database, picks: list, measured, screeners: dict) -> list[_identify.CandidateSet]:
    """Stored screened compositions (``picks``: (CandidateSet, index) of stored runs) with every halide's 4a share of
    :data:`HALIDE_SHARES`, each at its stored a, at the measured wavelength (K-alpha1) and range: one candidate set per
    run (:func:`_share_variants`). A run holds the screen's one template distribution per composition."""
    lo, hi = float(measured.two_theta_deg[0]), float(measured.two_theta_deg[-1])
    lam = measured.components[0].wavelength_angstrom
    two_theta_range = (max(lo - 1.0, 1.0), min(hi + 1.0, 179.0))
    by_run: dict[int, list] = {}
    for s, i in picks:
        by_run.setdefault(int(s.refs[i]["run"]), []).append((s, i))
    out = []
    for run_id, chosen in by_run.items():
        screener = _run_screener(database, run_id, screeners)
        if screener is None:
            continue
        stored = {int(s.refs[i]["idx"]): (s, i) for s, i in chosen}
        ok_rows = [r for r in screener.evaluate_chunk(sorted(stored)) if r["status"] == "ok"]
        if not ok_rows:
            continue
        refs = [stored[r["idx"]][0].refs[stored[r["idx"]][1]] for r in ok_rows]
        a = [float(stored[r["idx"]][0].a_angstrom[stored[r["idx"]][1]]) for r in ok_rows]
        source = f"{chosen[0][0].source}, each halide's 4a share"
        out.append(_share_variants(screener, ok_rows, lam, two_theta_range, source, "screened", refs, a_angstrom=a))
    return out


def _run_settings(database: Database, run_id: int, **changes) -> ScreenSettings:
    """The settings of stored screening run ``run_id`` (``changes`` replacing some)."""
    with ReadOnlyDatabase(database.path) as db:
        settings = json.loads(db.execute("SELECT settings_json FROM screen_runs WHERE id = ?", (run_id,))[1][0][0])
    known = {f.name for f in dataclasses.fields(ScreenSettings)}
    given: dict = {k: (tuple(v) if k == "two_theta_range" else v) for k, v in settings.items() if k in known}
    return ScreenSettings(**{**given, **changes})


def _start_structure(best: dict, database: Database, screener, screeners: dict):
    """The best candidate as a structure to refine: a database structure's CIF, a screened composition built by the
    screener of its run (the one re-scoring built, ``screeners``; its store_peaks and bvse do not change a structure)
    or of the on-the-fly grid."""
    ref = best["ref"]
    if "structure_id" in ref:
        return _identify.structure_from_database(database.path, ref["structure_id"])
    if "run" in ref:
        run_id = int(ref["run"])
        # a run whose screener could not be rebuilt: built again here, so that its error is the one raised
        run_screener = _run_screener(database, run_id, screeners) or Screener(_run_settings(database, run_id))
        return _identify.named(run_screener.structure(int(ref["idx"])), best["formula"])
    return _identify.named(screener.structure(int(ref["idx"])), best["formula"])
