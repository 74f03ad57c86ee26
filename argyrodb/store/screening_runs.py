"""Screening runs in the database: one row per request (``screen_runs``), its results and peaks. Each
chunk of results is written in one transaction under the writers' lock, so an interrupted run resumes
where it stopped and a concurrent rebuild never loses rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .connection import ReadOnlyDatabase, database_path, open_for_writing, writer_lock

RESULT_COLUMNS = ("variables_json", "formula", "status", "reason", "a_angstrom", "a_sigma_angstrom", "a_note", "volume_angstrom3",
                  "density_g_cm3", "charge_per_fu", "n_lines", "strongest_hkl", "strongest_two_theta_deg",
                  "nearest_formula", "nearest_distance", "nearest_n", "nearest_sigma_mS_cm", "nearest_sigma_min_mS_cm",
                  "nearest_sigma_max_mS_cm")


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
    """Every literature composition (duplicates excluded) with n and min/median/max sigma of its measurements."""
    import statistics

    with ReadOnlyDatabase(db_path) as db:
        _, rows = db.execute("SELECT formula, amounts_json, sigma_mS_cm FROM measurements_full WHERE duplicate_of IS NULL "
                             "ORDER BY formula")
    grouped: dict[str, tuple[dict, list]] = {}
    for formula, amounts, sigma in rows:
        grouped.setdefault(formula, (json.loads(amounts), []))[1].append(sigma)
    out = []
    for formula, (amounts, sigmas) in grouped.items():
        values = [v for v in sigmas if v is not None]
        out.append(LiteratureMaterial(formula, amounts, len(sigmas), min(values) if values else None,
                                      statistics.median(values) if values else None, max(values) if values else None))
    return out


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

    def stored(self, run_id: int) -> set[int]:
        return {r[0] for r in self.conn.execute("SELECT idx FROM screen_results WHERE run_id = ?", (run_id,))}

    def write(self, run_id: int, results: list[dict]) -> None:
        """One chunk: results (dicts with ``idx`` and :data:`RESULT_COLUMNS`) and their ``peaks``
        ((hkl, first family, 2theta, d, multiplicity, I_rel, component) tuples)."""
        placeholders = ", ".join("?" * len(RESULT_COLUMNS))
        with writer_lock(self.path), self.conn:
            self.conn.executemany(
                f"INSERT INTO screen_results (run_id, idx, {', '.join(RESULT_COLUMNS)}) VALUES (?, ?, {placeholders})",
                [(run_id, r["idx"], *[r.get(c) for c in RESULT_COLUMNS]) for r in results])
            peaks = [(run_id, r["idx"], position, hkl, comp, tt, d, mult, rel)
                     for r in results for position, (hkl, _, tt, d, mult, rel, comp) in enumerate(r.get("peaks") or [])]
            self.conn.executemany("INSERT INTO screen_peaks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", peaks)

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
