"""Screening runs in the database: one row per request (``screen_runs``), its results and peaks. Each
chunk of results is written in one transaction under the writers' lock, so an interrupted run resumes
where it stopped and a concurrent rebuild never loses rows.

Peaks are stored compactly (migration 0007): a run's lines once (``screen_lines``), and per composition one
text of fixed-width relative intensities over them (``screen_results.intensities_rel``, :data:`INTENSITY_WIDTH`
characters a line, read in SQL with substr: a JSON array cost 2.5 us a line to parse, 25 times the index
search); the ``screen_peaks`` view gives one row per line, and :func:`peaks_in_window` answers 2theta windows
through the index on a."""

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
                  "nearest_sigma_max_mS_cm", "amounts_json", "bvse_e_1d_eV", "bvse_e_2d_eV", "bvse_e_3d_eV")


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


#: Relative intensities (0-100) are stored as text, INTENSITY_WIDTH characters a line ("%7.3f"; blanks: the
#: line is outside the 2theta range); line k occupies characters INTENSITY_WIDTH * k + 1 ... (1-based, as SQL).
INTENSITY_WIDTH = 7
INTENSITY_FORMAT = "%7.3f"
ABSENT = " " * INTENSITY_WIDTH

#: SQL of line ``l``'s cell in ``r.intensities_rel`` ('' past the end), and its relative intensity (NULL when absent).
CELL_SQL = f"substr(r.intensities_rel, {INTENSITY_WIDTH} * l.position + 1, {INTENSITY_WIDTH})"
INTENSITY_SQL = f"CAST(NULLIF(NULLIF({CELL_SQL}, '{ABSENT}'), '') AS REAL)"


def intensity_cell(value: float) -> str:
    """``value`` as a stored cell. Cells are right-aligned, of one width and one number of decimals, and a space
    sorts before '.' and the digits, so comparing cells as text compares the numbers, and an absent line (blanks,
    or '' past the end) is below every value: ``cell >= intensity_cell(t)`` is "present with I_rel >= t" at the
    stored precision, without converting a cell to a number."""
    return INTENSITY_FORMAT % max(0.0, float(value))


def line_positions(n_lines: int, n_components: int) -> np.ndarray:
    """Positions of the lines of a batch pattern laid out as ``XRDModel.batch_peak_arrays`` gives them (the F-43m
    lines in order of h^2+k^2+l^2, all of them up to the largest, for each X-ray component in turn): line k of
    component c is at k * n_components + c. The allowed h^2+k^2+l^2 values up to any bound are a prefix of one
    sequence, so a line keeps its position whatever lattice parameters a chunk holds."""
    return (np.tile(np.arange(n_lines), n_components) * n_components
            + np.repeat(np.arange(n_components), n_lines)).astype(np.int64)


def intensities_text(positions: np.ndarray, relative: np.ndarray) -> list[str | None]:
    """The ``intensities_rel`` texts of a chunk: row i of ``relative`` (compositions x lines, NaN: line absent)
    placed at ``positions`` of the run's lines, without its trailing absent lines (None for a row without any)."""
    relative = np.atleast_2d(relative)
    width = int(positions.max()) + 1 if positions.size else 0
    full = np.full((len(relative), width), np.nan)
    full[:, positions] = relative
    present = ~np.isnan(full)
    ends = np.where(present.any(axis=1), width - np.argmax(present[:, ::-1], axis=1), 0)
    cells = np.char.mod(INTENSITY_FORMAT, np.nan_to_num(full))
    cells[~present] = ABSENT
    return ["".join(row[:end]) if end else None for row, end in zip(cells.tolist(), ends.tolist())]


def parse_intensities(text: str | None) -> list[float | None]:
    """The relative intensities of an ``intensities_rel`` text, None where a line is absent."""
    if not text:
        return []
    cells = [text[k:k + INTENSITY_WIDTH] for k in range(0, len(text), INTENSITY_WIDTH)]
    return [None if cell == ABSENT else float(cell) for cell in cells]


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
            indexed = self.conn.execute("SELECT peaks_indexed FROM screen_runs WHERE id = ?", (run_id,)).fetchone()
            if indexed and indexed[0] and results:  # a run with a 2theta index keeps it complete
                done = [r["idx"] for r in results]
                self.conn.execute(f"INSERT OR IGNORE INTO screen_peak_index {INDEX_ROWS} AND idx BETWEEN ? AND ?",
                                  (run_id, min(done), max(done)))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_results(run_id: int, db_path: str | Path | None = None):
    """The stored results of a run as a DataFrame (variables expanded into columns)."""
    import pandas as pd

    with ReadOnlyDatabase(db_path) as db:
        frame = db.dataframe(f"SELECT *, {EXTRAPOLATED_SQL} AS extrapolated FROM screen_results WHERE run_id = ? ORDER BY idx",
                             (run_id,))
    variables = pd.DataFrame([json.loads(v) for v in frame["variables_json"]], index=frame.index)
    return pd.concat([frame.drop(columns=["variables_json"]), variables], axis=1)


def require_run(run: int, runs: list[int]) -> int:
    """``run`` when it is one of the stored ``runs``, else a ParameterError naming them."""
    if int(run) not in runs:
        raise ParameterError("run", f"no screening run {run}" + (f" (runs: {', '.join(map(str, runs))})" if runs
                                                                   else " (the database has none)"))
    return int(run)


#: SQL of a result's ``extrapolated`` flag, from the lattice model's note (stored since migration 0004).
EXTRAPOLATED_SQL = "(CASE WHEN a_angstrom IS NULL THEN NULL WHEN a_note LIKE 'extrapolated%' THEN 1 ELSE 0 END)"

#: Names an expression over screening results may use (``argyrodb db query --screen RUN EXPR``).
SCREEN_FIELDS = {
    **{c: Field(c, "number") for c in ("idx", "a_angstrom", "a_sigma_angstrom", "volume_angstrom3", "density_g_cm3",
                                        "charge_per_fu", "n_lines", "strongest_two_theta_deg", "nearest_distance",
                                        "nearest_n", "nearest_sigma_mS_cm", "nearest_sigma_min_mS_cm",
                                        "nearest_sigma_max_mS_cm", "bvse_e_1d_eV", "bvse_e_2d_eV", "bvse_e_3d_eV")},
    **{c: Field(c, "text") for c in ("formula", "status", "reason", "a_note", "strongest_hkl", "nearest_formula")},
    # 1 when a is the lattice model's extrapolation (its a_note says so), 0 when inside its calibration, NULL without a
    "extrapolated": Field(EXTRAPOLATED_SQL, "number"),
}
SCREEN_COLUMNS = ("idx", "formula", "status", "a_angstrom", "a_sigma_angstrom", "extrapolated", "density_g_cm3", "charge_per_fu",
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
        require_run(run, [r[0] for r in db.execute("SELECT id FROM screen_runs ORDER BY id")[1]])
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


def window_sql(run: bool, count: bool = False, first: list[tuple[int, int]] | None = None) -> str:
    """SQL of the lines between 2theta ``:lo`` and ``:hi`` (degrees) with a stored cell >= ``:min_cell``
    (:func:`intensity_cell`: I_rel at least that) (of run
    ``:run`` when ``run``), by 2theta. For each line of a run its 2theta window is a range of a,

        a_lo = lambda sqrt(h^2+k^2+l^2) / (2 sin(hi / 2)) <= a <= lambda sqrt(h^2+k^2+l^2) / (2 sin(lo / 2)),

    one range scan of the index on screen_results(run_id, a_angstrom) (widened by 1e-12; sin(theta) =
    lambda sqrt(h^2+k^2+l^2) / 2a itself decides). ``first``: the (run, position) lines to read when only the first
    ``:n`` lines by 2theta are wanted - each line's first ``:n`` in index order (2theta rises as a falls), then
    merged, so a page does not sort the whole window."""
    sin_theta = "l.wavelength_angstrom * sqrt(l.hkl_sq) / (2 * r.a_angstrom)"
    a_range = ("r.a_angstrom BETWEEN l.wavelength_angstrom * sqrt(l.hkl_sq) / (2 * sin(radians(:hi) / 2)) * (1 - 1e-12) "
               "AND l.wavelength_angstrom * sqrt(l.hkl_sq) / (2 * sin(radians(:lo) / 2)) * (1 + 1e-12)")
    keep = f"{sin_theta} BETWEEN sin(radians(:lo) / 2) AND sin(radians(:hi) / 2) AND {CELL_SQL} >= :min_cell"
    columns = (f"r.run_id, r.idx, r.formula, r.a_angstrom, l.position, l.hkl, l.component, degrees(2 * asin({sin_theta})) "
               f"AS two_theta_deg, r.a_angstrom / sqrt(l.hkl_sq) AS d_angstrom, l.multiplicity, {INTENSITY_SQL} AS intensity_rel")
    if count:
        return (f"SELECT COUNT(*) FROM screen_lines l JOIN screen_results r ON r.run_id = l.run_id AND {a_range} "
                f"WHERE {'l.run_id = :run AND ' if run else ''}{keep}")
    if first is None:
        return (f"SELECT {columns} FROM screen_lines l JOIN screen_results r ON r.run_id = l.run_id AND {a_range} "
                f"WHERE {'l.run_id = :run AND ' if run else ''}{keep} ORDER BY two_theta_deg, r.run_id, r.idx")
    parts = [f"SELECT * FROM (SELECT {columns} FROM screen_lines l JOIN screen_results r ON r.run_id = l.run_id AND {a_range} "
             f"WHERE l.run_id = {int(run_id)} AND l.position = {int(position)} AND {keep} "
             "ORDER BY r.a_angstrom DESC, r.idx LIMIT :n)" for run_id, position in first]
    return " UNION ALL ".join(parts) + " ORDER BY two_theta_deg, run_id, idx LIMIT :n"


#: Rows of screen_peak_index from the screen_peaks view (one run: ``run_id = ?``).
INDEX_ROWS = "SELECT two_theta_deg, intensity_rel, run_id, idx, position FROM screen_peaks WHERE run_id = ?"


def index_peaks(run: int | None = None, drop: bool = False, db_path: str | Path | None = None) -> dict:
    """Build (or with ``drop``, remove) the 2theta index of screening run ``run`` (default: every run): one row per
    line in screen_peak_index, ordered by 2theta, so that 2theta windows are an index range (:func:`peaks_in_window`
    uses it when every run it reads is indexed). Returns the runs and peaks indexed and the seconds taken."""
    import time

    started = time.perf_counter()
    path = database_path(db_path)
    conn = open_for_writing(path)
    try:
        runs = [r[0] for r in conn.execute("SELECT id FROM screen_runs ORDER BY id")]
        if run is not None:
            runs = [require_run(run, runs)]
        n = 0
        with writer_lock(path), conn:
            for run_id in runs:
                conn.execute("DELETE FROM screen_peak_index WHERE run_id = ?", (run_id,))
                if not drop:
                    n += conn.execute(f"INSERT INTO screen_peak_index {INDEX_ROWS}", (run_id,)).rowcount
                conn.execute("UPDATE screen_runs SET peaks_indexed = ? WHERE id = ?", (0 if drop else 1, run_id))
    finally:
        conn.close()
    return {"runs": runs, "peaks": n, "seconds": time.perf_counter() - started, "dropped": drop}


def index_sql(run: bool, count: bool = False, limit: bool = False) -> str:
    """:func:`window_sql` on screen_peak_index: a range of its primary key (2theta first)."""
    where = "p.two_theta_deg BETWEEN :lo AND :hi AND p.intensity_rel >= :min_value" + (" AND p.run_id = :run" if run else "")
    if count:
        return f"SELECT COUNT(*) FROM screen_peak_index p WHERE {where}"
    return ("SELECT p.run_id, p.idx, r.formula, r.a_angstrom, p.position, l.hkl, l.component, p.two_theta_deg, "
            "r.a_angstrom / sqrt(l.hkl_sq) AS d_angstrom, l.multiplicity, p.intensity_rel FROM screen_peak_index p "
            "JOIN screen_results r ON r.run_id = p.run_id AND r.idx = p.idx "
            "JOIN screen_lines l ON l.run_id = p.run_id AND l.position = p.position "
            f"WHERE {where} ORDER BY p.two_theta_deg, p.run_id, p.idx" + (" LIMIT :n" if limit else ""))


#: A page of a window reads each line's first rows (window_sql ``first``) up to this many lines; beyond, one
#: sorted query (SQLite caps a compound SELECT at 500 terms).
MAX_LINES_MERGED = 400


def peaks_in_window(two_theta_min_deg: float, two_theta_max_deg: float, min_intensity: float = 0.0,
                    run: int | None = None, limit: int | None = None, count: bool = False,
                    db_path: str | Path | None = None):
    """Screening lines with 2theta in [min, max] degrees and relative intensity (0-100) >= ``min_intensity``, of one
    run or all, by 2theta (a DataFrame of :data:`PEAK_COLUMNS`; ``count``: their number only). Through the 2theta
    index when every run read has one (:func:`index_peaks`), else as ranges of a (:func:`window_sql`): the same
    rows either way."""
    lo, hi = float(two_theta_min_deg), float(two_theta_max_deg)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 < lo <= hi < 180.0):
        raise ParameterError("two_theta", f"2theta window {lo:g}-{hi:g} deg must satisfy 0 < min <= max < 180")
    if limit is not None and limit < 0:
        raise ParameterError("limit", f"must be >= 0, got {limit}")
    if not (math.isfinite(float(min_intensity)) and 0.0 <= float(min_intensity) <= 100.0):
        raise ParameterError("min_intensity", f"relative intensity {min_intensity:g} is not within 0-100")
    params = {"lo": lo, "hi": hi, "min_cell": intensity_cell(min_intensity),
              "min_value": float(intensity_cell(min_intensity)), "n": -1 if limit is None else int(limit)}
    if run is not None:
        params["run"] = int(run)
    with ReadOnlyDatabase(db_path) as db:
        if run is not None:
            require_run(run, [r[0] for r in db.execute("SELECT id FROM screen_runs ORDER BY id")[1]])
        unindexed = db.execute("SELECT COUNT(*) FROM screen_runs WHERE peaks_indexed = 0"
                               + (" AND id = :run" if run is not None else ""), params)[1][0][0]
        if not unindexed:  # every run read has its 2theta index (argyrodb db index-peaks)
            if count:
                return int(db.execute(index_sql(run is not None, count=True), params)[1][0][0])
            return db.dataframe(index_sql(run is not None, limit=limit is not None), params)
        if count:
            return int(db.execute(window_sql(run is not None, count=True), params)[1][0][0])
        if limit is None:
            return db.dataframe(window_sql(run is not None), params)
        lines = db.execute("SELECT run_id, position FROM screen_lines" + (" WHERE run_id = :run" if run is not None else "")
                           + " ORDER BY run_id, position", params)[1]
        if not lines or len(lines) > MAX_LINES_MERGED:
            return db.dataframe(window_sql(run is not None) + " LIMIT :n", params)
        return db.dataframe(window_sql(run is not None, first=lines), params)
