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
from pathlib import Path

from .pipeline.build import add_user_data, build_database, remove_user_data
from .pipeline.refine import store_refinement
from .screening.runs import run_results, run_screen
from .screening.screener import ScreenSettings
from .store.connection import database_path, migrate_file
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
