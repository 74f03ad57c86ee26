"""Composition screening over halide-substituted argyrodite families.

Site-distribution model (documented, reported with every run):

* **Framework.** P and its substituents (Sn, Ge, Si, Sb, As, Al, Ga) share the 4b site in proportion
  to their amounts (1 per formula unit).
* **16e (PS4 corners, 4 per formula unit).** Filled with O and Se first (they substitute in the PS4
  tetrahedron), then S.
* **Free anion sites 4a + 4d (1 + 1 per formula unit).** The remaining S and all halides. Model
  ``template``: start from the template refinement's occupancies on 4a and 4d (Table S2 by default;
  a small floor for species absent there) and scale them by iterative proportional fitting until each
  site holds exactly 1 and each species its amount; ``random``: every species spread equally over 4a
  and 4d (statistical disorder).
* **Li.** The Li amount is spread over the template's Li sites in proportion to the template's Li
  (occupancy x multiplicity), no site above 1.
* **Lattice parameter.** The calibrated Vegard fit of :func:`argyrodb.lattice.vegard_fit`, with its
  uncertainty.

Compositions that are not charge-neutral, or whose anions do not fit the sites, are reported and
skipped, never built.

Fast path: all compositions of a family share the template's sites, so one :class:`XRDModel` with
cached phase sums serves every composition; only the occupancy matrix and a change.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .chemistry import AVOGADRO_PER_MOL, atomic_mass, format_formula, formal_charge
from .errors import InputError
from .paths import STRUCTURES_DIR

FRAMEWORK = ("P", "Sn", "Ge", "Si", "Sb", "As", "Al", "Ga")
TETRAHEDRAL_ANIONS = ("O", "Se")  # fill 16e before S
FREE_ANIONS = ("S", "F", "Cl", "Br", "I")
NEUTRAL_TOLERANCE = 0.01
IPF_FLOOR = 0.02
DEFAULT_TEMPLATE = STRUCTURES_DIR / "LMA-Cl0.8I0.6.yaml"


class Infeasible(Exception):
    """A composition that the site model cannot place (reported and skipped)."""


@dataclass
class SiteModel:
    """The template's sites and the rules above, as arrays ready for the XRD model."""

    template_name: str
    distribution: str
    groups: list  # xrd.ScatteringGroup, species filled per composition
    multiplicities: np.ndarray
    li_weights: np.ndarray  # per group: share of the Li amount (0 for non-Li groups)
    framework_group: int
    tetrahedral_group: int
    free_groups: tuple[int, int]  # (4a, 4d)
    template_free: dict[str, np.ndarray]  # species -> occupancy on (4a, 4d) in the template
    elements: list[str]

    @classmethod
    def from_template(cls, path: Path = DEFAULT_TEMPLATE, distribution: str = "template",
                      elements: tuple[str, ...] = ()) -> "SiteModel":
        from .build import positions
        from .reading import read_structure
        from .symmetry import primitive_orbit
        from .xrd import ScatteringGroup

        if distribution not in ("template", "random"):
            raise InputError("--sites", f"unknown site model {distribution!r} (template or random)")
        refinement = read_structure(path)
        pos = positions(refinement)
        letters = [p.wyckoff.letter for p in pos]
        try:
            framework = letters.index("b")
            free = (letters.index("a"), letters.index("d") if "d" in letters else letters.index("c"))
            tetrahedral = next(i for i, p in enumerate(pos) if p.wyckoff.letter == "e" and "S" in p.species())
        except (ValueError, StopIteration):
            raise InputError(path, "template needs P on 4b, S on 16e and anion sites 4a and 4c/4d") from None
        li = np.array([p.species().get("Li", 0.0) * p.multiplicity if set(p.species()) == {"Li"} else 0.0 for p in pos])
        if li.sum() <= 0:
            raise InputError(path, "template has no Li sites")
        template_free = {}
        for index, site in enumerate(free):
            for element, occ in pos[site].species().items():
                template_free.setdefault(element, np.zeros(2))[index] = occ
        all_elements = sorted(set(elements) | {"Li", "P", "S"} | {el for p in pos for el in p.species()})
        groups = []
        for p in pos:
            b = p.b_iso()
            groups.append(ScatteringGroup(p.name, {el: 0.0 for el in all_elements}, 0.0 if b is None else b,
                                          p.images, primitive_orbit(p.rows[0].xyz)))
        return cls(refinement.name, distribution, groups, np.array([p.multiplicity for p in pos], dtype=float),
                   li / li.sum(), framework, tetrahedral, free, template_free, all_elements)

    def occupancies(self, amounts: dict[str, float]) -> np.ndarray:
        """Occupancy matrix (groups x elements) placing ``amounts`` (per formula unit) on the sites."""
        index = {el: i for i, el in enumerate(self.elements)}
        unknown = [el for el in amounts if el not in index]
        if unknown:
            raise Infeasible(f"element {unknown[0]} is not in the model's element list")
        occ = np.zeros((len(self.groups), len(self.elements)))
        z = 4.0  # formula units per cell
        # framework 4b
        framework_total = sum(amounts.get(el, 0.0) for el in FRAMEWORK)
        if abs(framework_total - 1.0) > 1e-6:
            raise Infeasible(f"framework cations sum to {framework_total:g} per formula unit, not 1 (4b)")
        for el in FRAMEWORK:
            if amounts.get(el, 0.0) > 0:
                occ[self.framework_group, index[el]] = amounts[el]
        # 16e: O, Se first, then S
        capacity = 4.0
        remaining = dict(amounts)
        for el in (*TETRAHEDRAL_ANIONS, "S"):
            take = min(capacity, remaining.get(el, 0.0))
            if take > 0:
                occ[self.tetrahedral_group, index[el]] = take / 4.0
                remaining[el] = remaining.get(el, 0.0) - take
                capacity -= take
        if capacity > 1e-6:
            raise Infeasible(f"only {4 - capacity:g} S/Se/O per formula unit for the 4 PS4 corners (16e)")
        for el in TETRAHEDRAL_ANIONS:
            if remaining.get(el, 0.0) > 1e-9:
                raise Infeasible(f"{el} beyond the 16e site")
        free = {el: remaining.get(el, 0.0) for el in FREE_ANIONS if remaining.get(el, 0.0) > 1e-12}
        total_free = sum(free.values())
        if total_free > 2.0 + 1e-6:
            raise Infeasible(f"{total_free:g} anions per formula unit for the 2 sites 4a + 4d")
        shares = self._distribute(free, total_free)
        for el, (on_a, on_d) in shares.items():
            occ[self.free_groups[0], index[el]] = on_a
            occ[self.free_groups[1], index[el]] = on_d
        # Li over the template's Li sites, capped at 1
        li_total = amounts.get("Li", 0.0) * z
        per_site = self._spread_li(li_total)
        for g in np.flatnonzero(self.li_weights > 0):
            occ[g, index["Li"]] = per_site[g]
        placed = self.cell_amounts(occ)
        for el, n in amounts.items():
            if abs(placed.get(el, 0.0) - n * z) > 1e-6:
                raise Infeasible(f"{el} has no site in the model (only Li, the framework cations, O/Se/S and halides are placed)")
        return occ

    def _distribute(self, free: dict[str, float], total: float) -> dict[str, tuple[float, float]]:
        if not free:
            return {}
        fill = total / 2.0  # each site holds the same total: 1 when 2 anions per f.u.
        species = list(free)
        target = np.array([free[el] for el in species])  # amount per f.u. = occ_4a + occ_4d
        if self.distribution == "random":
            return {el: (t / 2.0, t / 2.0) for el, t in zip(species, target)}
        # Iterative proportional fitting of the template's 2 x k table to row sums (fill, fill) and column
        # sums ``target`` has the closed form m_0k = t_k a_k L / (a_k L + b_k), m_1k = t_k - m_0k, with
        # (a_k, b_k) the template's 4a/4d occupancies and L the root of sum_k m_0k = fill (Newton in log L).
        prior = [np.maximum(self.template_free.get(el, np.zeros(2)), IPF_FLOOR) for el in species]
        a_k = [float(p[0]) for p in prior]
        b_k = [float(p[1]) for p in prior]
        t_k = [float(t) for t in target]
        log_l = 0.0
        for _ in range(100):
            lam = math.exp(log_l)
            value = sum(t * a * lam / (a * lam + b) for t, a, b in zip(t_k, a_k, b_k))
            slope = sum(t * a * b * lam / (a * lam + b) ** 2 for t, a, b in zip(t_k, a_k, b_k))  # d value / d log L
            if slope <= 0:
                break
            step = (value - fill) / slope
            log_l -= max(-20.0, min(20.0, step))
            if abs(value - fill) < 1e-14:
                break
        lam = math.exp(log_l)
        row0 = np.array([t * a * lam / (a * lam + b) for t, a, b in zip(t_k, a_k, b_k)])
        matrix = np.vstack([row0, np.array(t_k) - row0])
        delta = matrix[0].sum() - fill  # remove the last rounding so the sites hold exactly ``fill``
        k = int(np.argmax(np.minimum(matrix[0], matrix[1])))
        matrix[0, k] -= delta
        matrix[1, k] += delta
        if np.any(matrix > 1 + 1e-9):
            raise Infeasible("anion occupancies above 1 on 4a/4d")
        return {el: (float(matrix[0, k]), float(matrix[1, k])) for k, el in enumerate(species)}

    def _spread_li(self, li_total: float) -> np.ndarray:
        occ = np.zeros(len(self.groups))
        capacity = np.where(self.li_weights > 0, self.multiplicities, 0.0)
        if li_total > capacity.sum() + 1e-9:
            raise Infeasible(f"{li_total / 4:g} Li per formula unit exceed the template's Li sites")
        remaining, active = li_total, self.li_weights > 0
        for _ in range(len(self.groups)):
            weights = np.where(active, self.li_weights, 0.0)
            if remaining <= 1e-12 or weights.sum() <= 0:
                break
            counts = remaining * weights / weights.sum()
            proposed = occ + counts / np.where(capacity > 0, capacity, 1.0)
            full = active & (proposed >= 1.0)
            if not full.any():
                return proposed
            occ[full] = 1.0
            remaining = li_total - float(np.sum(occ * capacity))
            active &= ~full
        return occ

    def cell_amounts(self, occupancy_matrix: np.ndarray) -> dict[str, float]:
        counts = (occupancy_matrix * self.multiplicities[:, None]).sum(axis=0)
        return {el: float(c) for el, c in zip(self.elements, counts) if c > 1e-12}


@dataclass
class ScreenSettings:
    family: str
    ranges: dict[str, list[float]] = field(default_factory=dict)
    formulas: list[str] | None = None
    distribution: str = "template"
    template: str = str(DEFAULT_TEMPLATE)
    wavelength: str = "CuKa1"
    two_theta_range: tuple[float, float] = (10.0, 80.0)
    anomalous_dispersion: bool = True
    store_peaks: bool = True

    def key(self) -> str:
        payload = {k: v for k, v in self.__dict__.items() if k != "store_peaks"}
        template = Path(self.template)
        payload["template"] = template.name
        payload["template_sha256"] = hashlib.sha256(template.read_bytes()).hexdigest() if template.is_file() else None
        payload["version"] = __version__
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()[:16]

    def compositions(self) -> list[tuple[dict[str, float], dict[str, float]]]:
        """(variable values, composition per formula unit) for every grid point or listed formula."""
        from .chemistry import parse_formula
        from .families import grid, parse_family

        if self.formulas:
            return [({}, parse_formula(f, source="formula list")) for f in self.formulas]
        family = parse_family(self.family)
        missing = [v for v in family.variables if v not in self.ranges]
        if missing:
            raise InputError(self.family, f"give a range for {', '.join('--' + v for v in missing)}")
        return [(values, family.composition(values)) for values in grid({v: self.ranges[v] for v in family.variables})]


class Screener:
    """Everything a composition needs, precomputed once per run (site model, XRD model, masses, fit)."""

    def __init__(self, settings: ScreenSettings):
        from .lattice import vegard_fit
        from .scattering import resolve_wavelength
        from .xrd import XRDModel

        self.settings = settings
        elements: set[str] = set()
        self.points = settings.compositions()
        for _, amounts in self.points:
            elements |= set(amounts)
        self.model = SiteModel.from_template(Path(settings.template), settings.distribution, tuple(sorted(elements)))
        self.xrd = XRDModel(self.model.groups, np.eye(3) * 10.0, name=settings.family, f43m=True)
        self.components = resolve_wavelength(settings.wavelength)
        self.fit = vegard_fit()
        self.masses = np.array([atomic_mass(el) for el in self.model.elements])

    def evaluate(self, index: int) -> dict:
        values, amounts = self.points[index]
        formula = format_formula(amounts)
        base = {"idx": index, "variables_json": json.dumps(values, sort_keys=True), "formula": formula}
        negative = [el for el, n in amounts.items() if n < -1e-12]
        if negative:
            return {**base, "status": "skipped", "reason": f"negative amount of {', '.join(negative)}"}
        amounts = {el: n for el, n in amounts.items() if n > 1e-12}
        charge, unknown = formal_charge(amounts)
        if unknown or abs(charge) > NEUTRAL_TOLERANCE:
            return {**base, "status": "skipped", "reason": f"not charge-neutral ({charge:+.3f} e per formula unit)"
                    if not unknown else f"no oxidation state for {', '.join(unknown)}"}
        try:
            occupancy = self.model.occupancies(amounts)
        except Infeasible as exc:
            return {**base, "status": "skipped", "reason": str(exc)}
        try:
            a, a_sigma = self.fit.predict(amounts)
        except InputError as exc:
            return {**base, "status": "skipped", "reason": f"no lattice parameter: {exc.problem}"}
        cell_mass = float((occupancy * self.model.multiplicities[:, None]).sum(axis=0) @ self.masses)
        density = cell_mass / (AVOGADRO_PER_MOL * a**3 * 1e-24)
        peaks = self.xrd.peak_arrays(wavelength=self.components, two_theta_range=self.settings.two_theta_range, a_angstrom=a,
                                     anomalous_dispersion=self.settings.anomalous_dispersion, occupancy_matrix=occupancy)
        strongest = int(np.argmax(peaks["intensity"])) if peaks["intensity"].size else None
        result = {
            **base, "status": "ok", "reason": None, "a_angstrom": a, "a_sigma_angstrom": a_sigma,
            "volume_angstrom3": a**3, "density_g_cm3": density, "charge_per_fu": charge,
            "n_lines": int(peaks["intensity"].size),
            "strongest_hkl": None if strongest is None else " ".join(
                "".join(str(v) for v in fam) for fam in self.xrd._cache.families[int(peaks["line_key"][strongest])]),
            "strongest_two_theta_deg": None if strongest is None else float(peaks["two_theta_deg"][strongest]),
        }
        if self.settings.store_peaks:
            rel = np.minimum(100.0, 100.0 * peaks["intensity"] / peaks["intensity"].max())
            labels = self._line_labels()
            result["peaks"] = [  # (hkl text, first family, 2theta, d, multiplicity, I_rel, component name)
                (*labels[int(k)], float(t), float(d), int(m), float(r), self.components[int(c)].name)
                for k, t, d, m, r, c in zip(peaks["line_key"], peaks["two_theta_deg"], peaks["d_angstrom"],
                                            peaks["multiplicity"], rel, peaks["component"])
            ]
        return result

    def _line_labels(self) -> dict[int, tuple[str, tuple[int, int, int]]]:
        cache = self.xrd._cache
        if getattr(self, "_labels_for", None) is not cache:
            self._labels = {key: (" ".join("".join(str(v) for v in fam) for fam in fams), tuple(fams[0]))
                            for key, fams in cache.families.items()}
            self._labels_for = cache
        return self._labels

    def structure(self, index: int):
        """The site-disordered pymatgen Structure of composition ``index`` (for checks and exports)."""
        from pymatgen.core import Lattice, Structure

        _, amounts = self.points[index]
        occupancy = self.model.occupancies(amounts)
        a, _ = self.fit.predict(amounts)
        species, coords, b_values = [], [], []
        for group, row in zip(self.model.groups, occupancy):
            mix = {el: float(o) for el, o in zip(self.model.elements, row) if o > 1e-12}
            if not mix:
                continue
            for image in group.images:
                species.append(mix)
                coords.append(image)
                b_values.append(group.b_iso_angstrom2)
        return Structure(Lattice.cubic(a), species, coords, site_properties={"b_iso": b_values})


# --------------------------------------------------------------------------- runs: stored, resumable


def _literature(db_path: Path) -> list[tuple[str, dict[str, float], float | None]]:
    """(formula, amounts, best sigma) of every literature material in the database."""
    from .database import ReadOnlyDatabase

    with ReadOnlyDatabase(db_path) as db:
        _, rows = db.execute(
            "SELECT formula, amounts_json, MAX(sigma_mS_cm) FROM measurements_full WHERE duplicate_of IS NULL GROUP BY formula ORDER BY formula")
    return [(formula, json.loads(amounts), sigma) for formula, amounts, sigma in rows]


def _nearest(amounts: dict[str, float], literature) -> tuple[str | None, float | None, float | None]:
    from .literature import composition_distance

    best = None
    for formula, other, sigma in literature:
        d = composition_distance(amounts, other)
        if best is None or d < best[1]:
            best = (formula, d, sigma)
    return best or (None, None, None)


_WORKER: dict = {}


def _worker_init(settings: ScreenSettings, literature) -> None:
    _WORKER["screener"] = Screener(settings)
    _WORKER["literature"] = literature


def _worker_chunk(indices: list[int]) -> list[dict]:
    screener, literature = _WORKER["screener"], _WORKER["literature"]
    out = []
    for index in indices:
        result = screener.evaluate(index)
        if result["status"] == "ok":
            result["nearest_formula"], result["nearest_distance"], result["nearest_sigma_mS_cm"] = _nearest(
                screener.points[index][1], literature)
        out.append(result)
    return out


RESULT_COLUMNS = ("variables_json", "formula", "status", "reason", "a_angstrom", "a_sigma_angstrom", "volume_angstrom3",
                  "density_g_cm3", "charge_per_fu", "n_lines", "strongest_hkl", "strongest_two_theta_deg",
                  "nearest_formula", "nearest_distance", "nearest_sigma_mS_cm")


def open_for_writing(db_path: Path):
    """A write connection with WAL, a busy timeout, foreign keys, and the schema migrated if needed."""
    import sqlite3

    from .database import migrate

    if not db_path.is_file():
        raise InputError(db_path, "no database here: run `argyrodb db build` first")
    conn = sqlite3.connect(db_path, timeout=60)
    conn.execute("PRAGMA busy_timeout = 60000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn, db_path)
    return conn


def run_screen(settings: ScreenSettings, db_path: str | Path | None = None, jobs: int = 1, show_progress: bool = True,
               chunk_size: int = 250) -> dict:
    """Compute every composition of ``settings`` not yet stored for the same run, in chunks; each chunk
    is written in one transaction, so an interrupted run resumes where it stopped."""
    from tqdm import tqdm

    from .database import DEFAULT_DB_PATH, writer_lock

    path = Path(db_path) if db_path is not None else DEFAULT_DB_PATH
    if jobs < 1:
        raise InputError("--jobs", f"need at least 1 job, got {jobs}")
    conn = open_for_writing(path)
    try:
        screener = Screener(settings)
        literature = _literature(path)
        key = settings.key()
        model = {
            "site_model": settings.distribution, "template": screener.model.template_name,
            "lattice": screener.fit.as_dict(), "xrd": {"wavelength": settings.wavelength,
                                                     "two_theta_range": list(settings.two_theta_range),
                                                     "anomalous_dispersion": settings.anomalous_dispersion},
        }
        with conn:
            conn.execute(
                "INSERT OR IGNORE INTO screen_runs (key, family, settings_json, model_json, argyrodb_version, n_points) VALUES (?, ?, ?, ?, ?, ?)",
                (key, settings.family, json.dumps(settings.__dict__, default=list, sort_keys=True), json.dumps(model, sort_keys=True),
                 __version__, len(screener.points)))
        run_id = conn.execute("SELECT id FROM screen_runs WHERE key = ?", (key,)).fetchone()[0]
        done = {r[0] for r in conn.execute("SELECT idx FROM screen_results WHERE run_id = ?", (run_id,))}
        todo = [i for i in range(len(screener.points)) if i not in done]
        chunks = [todo[k:k + chunk_size] for k in range(0, len(todo), chunk_size)]
        bar = tqdm(total=len(screener.points), initial=len(done), desc="screen", unit="comp", disable=not show_progress)
        counts = {"ok": 0, "skipped": 0}

        def store(results: list[dict]) -> None:
            with writer_lock(path), conn:
                conn.executemany(
                    f"INSERT INTO screen_results (run_id, idx, {', '.join(RESULT_COLUMNS)}) VALUES (?, ?, {', '.join('?' * len(RESULT_COLUMNS))})",
                    [(run_id, r["idx"], *[r.get(c) for c in RESULT_COLUMNS]) for r in results])
                peaks = []
                for r in results:
                    for position, (hkl, _, tt, d, mult, rel, comp) in enumerate(r.get("peaks") or []):
                        peaks.append((run_id, r["idx"], position, hkl, comp, tt, d, mult, rel))
                conn.executemany("INSERT INTO screen_peaks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", peaks)
            for r in results:
                counts[r["status"]] += 1
            bar.update(len(results))

        if jobs == 1:
            _WORKER["screener"], _WORKER["literature"] = screener, literature
            for chunk in chunks:
                store(_worker_chunk(chunk))
        else:
            import concurrent.futures
            import multiprocessing

            context = multiprocessing.get_context("fork")
            with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init,
                                                        initargs=(settings, literature)) as pool:
                for results in pool.map(_worker_chunk, chunks):
                    store(results)
        bar.close()
        return {"run_id": run_id, "key": key, "n_points": len(screener.points), "already_stored": len(done),
                "computed": len(todo), **counts}
    finally:
        conn.close()


def run_results(run_id: int, db_path: str | Path | None = None):
    """The stored results of a run as a DataFrame (variables expanded into columns)."""
    import pandas as pd

    from .database import ReadOnlyDatabase

    with ReadOnlyDatabase(db_path) as db:
        frame = db.dataframe("SELECT * FROM screen_results WHERE run_id = ? ORDER BY idx", (run_id,))
    variables = pd.DataFrame([json.loads(v) for v in frame["variables_json"]], index=frame.index)
    return pd.concat([frame.drop(columns=["variables_json"]), variables], axis=1)


def export_results(frame, out: str | Path) -> Path:
    from .outputs import atomic_path, atomic_write_text

    out = Path(out)
    check_export_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        with atomic_path(out) as tmp:
            frame.to_parquet(tmp, index=False)
        return out
    return atomic_write_text(out, frame.to_csv(index=False))


def check_export_path(out: Path) -> None:
    if Path(out).suffix.lower() not in (".csv", ".parquet"):
        raise InputError(out, "export to .csv or .parquet")
