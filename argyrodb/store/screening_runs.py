"""Screening runs in the database: one row per request (``screen_runs``), its results and peaks. Each
chunk of results is written in one transaction under the writers' lock, so an interrupted run resumes
where it stopped and a concurrent rebuild never loses rows.

Peaks are stored compactly (migration 0007): a run's lines once (``screen_lines``), and per composition one
JSON array of relative intensities over them (``screen_results.intensities_rel``); the ``screen_peaks`` view
gives one row per line, and :func:`peaks_in_window` answers 2theta windows through the index on a."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import ParameterError
from .connection import ReadOnlyDatabase, database_path, open_for_writing, writer_lock
from .expressions import Field, compile_expression, json_amount_field

RESULT_COLUMNS = ("variables_json", "formula", "status", "reason", "a_angstrom", "a_sigma_angstrom", "a_note", "volume_angstrom3",
                  "density_g_cm3", "charge_per_fu", "n_lines", "strongest_hkl", "strongest_two_theta_deg",
                  "nearest_formula", "nearest_distance", "nearest_n", "nearest_sigma_mS_cm", "nearest_sigma_min_mS_cm",
                  "nearest_sigma_max_mS_cm", "amounts_json")


@dataclass(frozen=True)
class LiteratureMaterial:
    """A literature composition and the spread of its measured conductivities (mS/cm)."""

    formula: str
    amounts: dict[str, float]
    n: int
    sigma_min: float | None
    sigma_median: float | None
    sigma_max: float | None


def literature_materials(db_path: str | Path | None = None) -> list[LiteratureMaterial]:
    """Every literature composition (duplicates and rows of other structure types excluded) with n and
    min/median/max sigma of its measurements."""
    import statistics

    with ReadOnlyDatabase(db_path) as db:
        _, rows = db.execute("SELECT formula, amounts_json, sigma_mS_cm FROM measurements_full WHERE duplicate_of IS NULL "
                             "AND structure_type IS NOT 'other' ORDER BY formula")
    grouped: dict[str, tuple[dict, list]] = {}
    for formula, amounts, sigma in rows:
        grouped.setdefault(formula, (json.loads(amounts), []))[1].append(sigma)
    out = []
    for formula, (amounts, sigmas) in grouped.items():
        values = [v for v in sigmas if v is not None]
        out.append(LiteratureMaterial(formula, amounts, len(sigmas), min(values) if values else None,
                                      statistics.median(values) if values else None, max(values) if values else None))
    return out


@dataclass(frozen=True)
class ScreenLines:
    """The powder lines of a chunk of screening results: their positions in the run's intensity arrays,
    h^2+k^2+l^2 (the cubic line), X-ray component and its wavelength, hkl label, multiplicity. A line's position
    depends only on the line (:func:`line_positions`), so workers anywhere encode intensities the same way."""

    position: tuple[int, ...]
    hkl_sq: tuple[int, ...]
    component: tuple[str, ...]
    wavelength_angstrom: tuple[float, ...]
    hkl: tuple[str, ...]
    multiplicity: tuple[int, ...]


#: Relative intensities (0-100) are stored to this many decimals.
INTENSITY_DECIMALS = 4


def line_positions(n_lines: int, n_components: int) -> np.ndarray:
    """Positions of the lines of a batch pattern laid out as ``XRDModel.batch_peak_arrays`` gives them (the F-43m
    lines in order of h^2+k^2+l^2, all of them up to the largest, for each X-ray component in turn): line k of
    component c is at k * n_components + c. The allowed h^2+k^2+l^2 values up to any bound are a prefix of one
    sequence, so a line keeps its position whatever lattice parameters a chunk holds."""
    return (np.tile(np.arange(n_lines), n_components) * n_components
            + np.repeat(np.arange(n_components), n_lines)).astype(np.int64)


def intensities_json(positions: np.ndarray, relative: np.ndarray) -> list[str | None]:
    """The ``intensities_rel`` texts of a chunk: row i of ``relative`` (compositions x lines, NaN: line absent)
    placed at ``positions`` of the run's lines, as a JSON array without its trailing absent lines (None for a
    row without any line)."""
    relative = np.atleast_2d(relative)
    width = int(positions.max()) + 1 if positions.size else 0
    full = np.full((len(relative), width), np.nan)
    full[:, positions] = relative
    present = ~np.isnan(full)
    ends = np.where(present.any(axis=1), width - np.argmax(present[:, ::-1], axis=1), 0)
    values = np.round(full, INTENSITY_DECIMALS).astype(object)
    values[~present] = None
    encode = json.JSONEncoder(separators=(",", ":")).encode
    return [encode(row[:end]) if end else None for row, end in zip(values.tolist(), ends.tolist())]


class RunWriter:
    """Writes one run's results: ``open`` registers (or finds) the run by its key; ``stored`` lists the
    compositions already computed; ``write`` stores one chunk."""

    def __init__(self, db_path: str | Path | None = None):
        self.path = database_path(db_path)
        self.conn = open_for_writing(self.path)

    def open(self, key: str, family: str, settings: dict, model: dict, version: str, n_points: int) -> int:
        with self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO screen_runs (key, family, settings_json, model_json, argyrodb_version, n_points) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, family, json.dumps(settings, default=list, sort_keys=True), json.dumps(model, sort_keys=True),
                 version, n_points))
        return self.conn.execute("SELECT id FROM screen_runs WHERE key = ?", (key,)).fetchone()[0]

    def stored(self, run_id: int) -> np.ndarray:
        """The point numbers of the run already stored (an array: a run may hold millions)."""
        cursor = self.conn.execute("SELECT idx FROM screen_results WHERE run_id = ?", (run_id,))
        return np.fromiter((r[0] for r in cursor), dtype=np.int64)

    def write(self, run_id: int, results: list[dict]) -> None:
        """One chunk: results (dicts with ``idx``, :data:`RESULT_COLUMNS` and, when their peaks are kept,
        ``intensities_rel`` over the lines of their ``lines`` (:class:`ScreenLines`)). Lines new to the run join
        ``screen_lines`` in the same transaction; a line stored at another position is refused (an error, not a
        silent mix-up)."""
        placeholders = ", ".join("?" * len(RESULT_COLUMNS))
        with writer_lock(self.path), self.conn:
            stored = {position: (hkl_sq, component) for position, hkl_sq, component in self.conn.execute(
                "SELECT position, hkl_sq, component FROM screen_lines WHERE run_id = ?", (run_id,))}
            new_lines = []
            for lines in {id(r["lines"]): r["lines"] for r in results if r.get("lines") is not None}.values():
                for k, position in enumerate(lines.position):
                    line = (lines.hkl_sq[k], lines.component[k])
                    if position not in stored:
                        stored[position] = line
                        new_lines.append((run_id, position, lines.hkl[k], lines.hkl_sq[k], lines.multiplicity[k],
                                          lines.component[k], lines.wavelength_angstrom[k]))
                    elif stored[position] != line:
                        raise RuntimeError(f"screening run {run_id}: line position {position} holds {stored[position]}, "
                                           f"not {line}: the run's lines were laid out by another argyrodb")
            self.conn.executemany("INSERT INTO screen_lines (run_id, position, hkl, hkl_sq, multiplicity, component, "
                                  "wavelength_angstrom) VALUES (?, ?, ?, ?, ?, ?, ?)", new_lines)
            self.conn.executemany(
                f"INSERT INTO screen_results (run_id, idx, {', '.join(RESULT_COLUMNS)}, intensities_rel) "
                f"VALUES (?, ?, {placeholders}, ?)",
                [(run_id, r["idx"], *[r.get(c) for c in RESULT_COLUMNS], r.get("intensities_rel")) for r in results])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_results(run_id: int, db_path: str | Path | None = None):
    """The stored results of a run as a DataFrame (variables expanded into columns)."""
    import pandas as pd

    with ReadOnlyDatabase(db_path) as db:
        frame = db.dataframe("SELECT * FROM screen_results WHERE run_id = ? ORDER BY idx", (run_id,))
    variables = pd.DataFrame([json.loads(v) for v in frame["variables_json"]], index=frame.index)
    return pd.concat([frame.drop(columns=["variables_json"]), variables], axis=1)


#: Names an expression over screening results may use (``argyrodb db query --screen RUN EXPR``).
SCREEN_FIELDS = {
    **{c: Field(c, "number") for c in ("idx", "a_angstrom", "a_sigma_angstrom", "volume_angstrom3", "density_g_cm3",
                                        "charge_per_fu", "n_lines", "strongest_two_theta_deg", "nearest_distance",
                                        "nearest_n", "nearest_sigma_mS_cm", "nearest_sigma_min_mS_cm",
                                        "nearest_sigma_max_mS_cm")},
    **{c: Field(c, "text") for c in ("formula", "status", "reason", "a_note", "strongest_hkl", "nearest_formula")},
}
SCREEN_COLUMNS = ("idx", "formula", "status", "a_angstrom", "a_sigma_angstrom", "density_g_cm3", "charge_per_fu",
                  "strongest_hkl", "strongest_two_theta_deg", "nearest_formula", "nearest_distance", "nearest_sigma_mS_cm",
                  "a_note", "reason")


def list_runs(db_path: str | Path | None = None):
    """Every screening run: id, family, points requested and stored, ok/skipped counts, a range and settings."""
    with ReadOnlyDatabase(db_path) as db:
        return db.dataframe(
            "SELECT r.id AS run, r.family, r.n_points, COUNT(s.idx) AS n_stored, "
            "SUM(s.status = 'ok') AS n_ok, SUM(s.status = 'skipped') AS n_skipped, "
            "MIN(s.a_angstrom) AS a_min_angstrom, MAX(s.a_angstrom) AS a_max_angstrom, r.argyrodb_version, "
            "r.settings_json FROM screen_runs r LEFT JOIN screen_results s ON s.run_id = r.id GROUP BY r.id ORDER BY r.id")


def query_screen(run: int, expression: str | None = None, columns=SCREEN_COLUMNS, sort: str | None = None,
                 limit: int | None = None, offset: int = 0, db_path: str | Path | None = None, count: bool = False):
    """Results of screening run ``run`` matching an expression (``a_angstrom<10.1,I>=0.6``; element symbols
    are amounts per formula unit; variables such as ``x`` are too, as ``x``). ``count``: the number only."""
    fields = dict(SCREEN_FIELDS)
    with ReadOnlyDatabase(db_path) as db:
        found = db.execute("SELECT settings_json FROM screen_runs WHERE id = ?", (int(run),))[1]
        if not found:
            runs = [str(r[0]) for r in db.execute("SELECT id FROM screen_runs ORDER BY id")[1]]
            raise ParameterError("run", f"no screening run {run}" + (f" (runs: {', '.join(runs)})" if runs else " (the database has none)"))
        first = db.execute("SELECT variables_json FROM screen_results WHERE run_id = ? LIMIT 1", (int(run),))[1]
        for name in (json.loads(first[0][0]) if first else {}):
            if name.isidentifier() and name not in fields:
                fields[name] = Field(f"json_extract(variables_json, '$.{name}')", "number")
        unknown = [c for c in columns if c not in fields and c != "variables_json"]
        if unknown:
            raise ParameterError("columns", f"unknown column {unknown[0]!r} (one of {', '.join(sorted(fields))})")
        where, params = compile_expression(expression or "", fields, json_amount_field("amounts_json"))
        condition = "run_id = ?" + (f" AND {where}" if where else "")
        if count:
            return int(db.execute(f"SELECT COUNT(*) FROM screen_results WHERE {condition}", [int(run), *params])[1][0][0])
        order = "idx"
        if sort:
            column = sort.lstrip("+-")
            if column not in fields:
                raise ParameterError("sort", f"cannot sort by {column!r} (one of {', '.join(sorted(fields))})")
            order = f"{fields[column].sql} IS NULL, {fields[column].sql} {'DESC' if sort.startswith('-') else 'ASC'}, idx"
        for name, value in (("limit", limit), ("offset", offset)):
            if value is not None and value < 0:
                raise ParameterError(name, f"must be >= 0, got {value}")
        select = ", ".join(f"{fields[c].sql} AS {c}" if c in fields else c for c in columns)
        return db.dataframe(f"SELECT {select} FROM screen_results WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?",
                            [int(run), *params, -1 if limit is None else int(limit), int(offset or 0)])


#: Columns of :func:`peaks_in_window` (those of the ``screen_peaks`` view, with the formula).
PEAK_COLUMNS = ("run_id", "idx", "formula", "a_angstrom", "position", "hkl", "component", "two_theta_deg", "d_angstrom",
                "multiplicity", "intensity_rel")


def window_sql(run: bool, count: bool = False) -> str:
    """SQL of the lines between 2theta ``:lo`` and ``:hi`` (degrees) with I_rel >= ``:min_intensity`` (of run
    ``:run`` when ``run``): for each line of a run, its 2theta window is the range of a

        a_lo = lambda sqrt(h^2+k^2+l^2) / (2 sin(hi / 2)) <= a <= lambda sqrt(h^2+k^2+l^2) / (2 sin(lo / 2)),

    one range scan of the index on screen_results(run_id, a_angstrom); the bounds are widened by 1e-12 and
    2theta itself checked, so rounding never decides which lines are in."""
    two_theta = "degrees(2 * asin(l.wavelength_angstrom * sqrt(l.hkl_sq) / (2 * r.a_angstrom)))"
    intensity = "json_extract(r.intensities_rel, '$[' || l.position || ']')"
    select = "COUNT(*)" if count else (
        f"r.run_id, r.idx, r.formula, r.a_angstrom, l.position, l.hkl, l.component, {two_theta} AS two_theta_deg, "
        f"r.a_angstrom / sqrt(l.hkl_sq) AS d_angstrom, l.multiplicity, {intensity} AS intensity_rel")
    return (f"SELECT {select} FROM screen_lines l JOIN screen_results r ON r.run_id = l.run_id "
            "AND r.a_angstrom BETWEEN l.wavelength_angstrom * sqrt(l.hkl_sq) / (2 * sin(radians(:hi) / 2)) * (1 - 1e-12) "
            "AND l.wavelength_angstrom * sqrt(l.hkl_sq) / (2 * sin(radians(:lo) / 2)) * (1 + 1e-12) "
            f"WHERE {'l.run_id = :run AND ' if run else ''}{two_theta} BETWEEN :lo AND :hi "
            f"AND {intensity} >= :min_intensity" + ("" if count else " ORDER BY two_theta_deg, r.run_id, r.idx"))


def peaks_in_window(two_theta_min_deg: float, two_theta_max_deg: float, min_intensity_rel: float = 0.0,
                    run: int | None = None, limit: int | None = None, count: bool = False,
                    db_path: str | Path | None = None):
    """Screening lines with 2theta in [min, max] degrees and relative intensity >= ``min_intensity_rel``, of one
    run or all, by 2theta (a DataFrame of :data:`PEAK_COLUMNS`; ``count``: their number only)."""
    lo, hi = float(two_theta_min_deg), float(two_theta_max_deg)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 < lo <= hi < 180.0):
        raise ParameterError("two_theta", f"2theta window {lo:g}-{hi:g} deg must satisfy 0 < min <= max < 180")
    if limit is not None and limit < 0:
        raise ParameterError("limit", f"must be >= 0, got {limit}")
    params = {"lo": lo, "hi": hi, "min_intensity": float(min_intensity_rel)}
    if run is not None:
        params["run"] = int(run)
    sql = window_sql(run is not None, count)
    with ReadOnlyDatabase(db_path) as db:
        if count:
            return int(db.execute(sql, params)[1][0][0])
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return db.dataframe(sql, params)
