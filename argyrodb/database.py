"""The argyrodb SQLite database: schema (``schema.sql``, versioned), atomic and idempotent build from
the project's data files, and read-only connections.

``build_database()`` writes into a temporary file next to the target and renames it into place, so a
failed build leaves the previous database untouched; building twice gives identical content.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from pathlib import Path

from . import __version__
from .errors import ArgyrodbError, InputError
from .paths import DB_DIR, structure_files

SCHEMA_VERSION = 2
#: Tables whose rows are results computed by users (not rebuilt from data files): a rebuild keeps them.
CARRIED_OVER_TABLES = ("screen_runs", "screen_results", "screen_peaks")
SCHEMA_PATH = Path(__file__).resolve().parent / "schema.sql"
DEFAULT_DB_PATH = DB_DIR / "argyrodb.sqlite"
#: The XRD pattern stored for every structure.
STORED_XRD = {"wavelength": "CuKa1", "two_theta_range": (10.0, 120.0)}


def _material_rows(db, formula: dict[str, float], cache: dict[str, int]) -> int:
    from .literature import formula_facts

    facts = formula_facts(formula)
    key = facts["formula"]
    if key not in cache:
        cache[key] = db["materials"].insert(facts).last_pk
    return cache[key]


def _insert_sources(db, db_dir: Path) -> dict[str, int]:
    from .literature import references, source_reference

    ids = {}
    for row in [source_reference(db_dir), *references(db_dir)]:
        ids[row["key"]] = db["sources"].insert(row).last_pk
    return ids


def _insert_table_s3(db, db_dir: Path, source_ids: dict[str, int], materials: dict[str, int]) -> None:
    from .literature import table_s3

    for row in table_s3(db_dir):
        source_key = "this-work" if row.own_work else f"si-ref-{int(row.ref)}"
        if source_key not in source_ids:
            raise InputError(db_dir / "table_s3.csv", f"row {row.row}: reference {row.ref!r} not in references.csv")
        db["measurements"].insert({
            "material_id": _material_rows(db, row.formula, materials),
            "source_id": source_ids[source_key],
            "dataset": "table_s3",
            "dataset_row": row.row,
            "material_printed": row.material_printed,
            "correction_note": row.correction_note,
            "primary_phase": row.primary_phase,
            "primary_phase_printed": row.primary_phase_printed,
            "family": "argyrodite" if row.primary_phase.startswith("Li6PS5") else None,
            "process": row.process_printed,
            "processes": json.dumps(row.processes),
            "sigma_mS_cm": row.sigma_mS_cm,
            "sigma_kind": "unspecified",
            "temperature_note": "room temperature (not stated in Table S3)",
            "ccd_mA_cm2": row.ccd_mA_cm2,
            "anode": row.anode,
            "role": row.role,
            "own_work": int(row.own_work),
            "note": row.note,
        })


def _insert_obelix(db, db_dir: Path, source_ids: dict[str, int], materials: dict[str, int]) -> int:
    """OBELiX rows; a row whose element fractions and DOI both match a Table S3 measurement is marked
    ``duplicate_of`` that measurement (formula strings are never compared)."""
    from .chemistry import parse_formula
    from .literature import formula_facts, obelix_rows

    table_s3_keys = {}
    for row in db.execute(
        "SELECT m.id, mat.element_fractions_key, COALESCE(m.doi, s.doi) FROM measurements m "
        "JOIN materials mat ON mat.id = m.material_id JOIN sources s ON s.id = m.source_id WHERE m.dataset = 'table_s3'"
    ).fetchall():
        if row[2]:
            table_s3_keys[(row[1], row[2].lower())] = row[0]
    duplicates = 0
    for line, r in enumerate(obelix_rows(db_dir), start=2):
        formula = parse_formula(r["formula"], source=f"obelix_argyrodites.csv line {line}")
        doi = r["doi"]
        key = f"doi:{doi}" if doi else f"obelix:{r['obelix_id']}"
        if key not in source_ids:
            source_ids[key] = db["sources"].insert({
                "key": key, "doi": doi, "licence": r["licence"], "attribution": r["attribution"],
                "provenance": "OBELiX all.csv (argyrodite family rows), via db/obelix_argyrodites.csv",
            }).last_pk
        duplicate_of = table_s3_keys.get((formula_facts(formula)["element_fractions_key"], doi)) if doi else None
        duplicates += duplicate_of is not None
        db["measurements"].insert({
            "material_id": _material_rows(db, formula, materials),
            "source_id": source_ids[key],
            "dataset": "obelix",
            "dataset_row": line,
            "dataset_id": r["obelix_id"],
            "material_printed": r["reduced_composition"],
            "family": r["family"],
            "processes": "[]",
            "sigma_mS_cm": r["sigma_mS_cm"],
            "sigma_censored": r["sigma_censored"],
            "sigma_kind": r["sigma_kind"],
            "temperature_note": "room temperature (OBELiX)",
            "doi": doi,
            "duplicate_of": duplicate_of,
            "licence": r["licence"],
            "attribution": r["attribution"],
        })
    return duplicates


def _insert_structures(db, materials: dict[str, int], progress) -> None:
    from .api import analyse
    from .chemistry import parse_formula
    from .cif_writer import cif_text, display_path
    from .xrd import XRDModel

    for path in progress(structure_files(), desc="structures"):
        refinement, report = analyse(path)
        if report.errors:
            raise InputError(path, f"{report.errors[0].kind}: {report.errors[0].message}")
        per_fu = report.formula_per_fu
        heavy = sum(per_fu.get(x, 0.0) for x in ("Cl", "Br", "I"))
        provenance = dict(refinement.provenance)
        structure_id = db["structures"].insert({
            "name": refinement.name,
            "source_file": display_path(str(path)),
            "material_id": _material_rows(db, parse_formula(refinement.nominal_formula), materials),
            "nominal_formula": refinement.nominal_formula,
            "refined_formula": _formula_text(per_fu),
            "refined_amounts_json": json.dumps({k: round(v, 6) for k, v in per_fu.items()}),
            "refined_i_fraction": round(per_fu.get("I", 0.0) / heavy, 6) if heavy else None,
            "z": report.z,
            "space_group_number": report.space_group_number,
            "space_group_symbol": report.space_group_symbol,
            "a_angstrom": report.a_angstrom,
            "a_source": report.a_source,
            "volume_angstrom3": report.a_angstrom**3,
            "density_g_cm3": report.density_g_cm3,
            "nominal_density_g_cm3": report.nominal_density_g_cm3,
            "molar_volume_cm3_mol": report.molar_volume_cm3_mol,
            "charge_per_fu": report.charge_per_fu,
            "n_errors": sum(p.severity == "error" for p in report.problems),
            "n_warnings": sum(p.severity == "warning" for p in report.problems),
            "provenance_json": json.dumps(provenance, sort_keys=True, default=str),
            "doi": provenance.get("doi"),
            "cif_text": cif_text(refinement, report),
            "argyrodb_version": __version__,
        }).last_pk
        from .build import positions

        for pos in positions(refinement):
            for row in pos.rows:
                db["structure_sites"].insert({
                    "structure_id": structure_id, "label": row.label, "element": row.element,
                    "wyckoff_printed": row.wyckoff_reported, "wyckoff": pos.wyckoff.symbol,
                    "multiplicity": pos.multiplicity, "x": row.x, "y": row.y, "z": row.z,
                    "occupancy": row.occupancy, "site_occupancy_sum": pos.occupancy_sum,
                    "b_iso_angstrom2": row.b_iso_angstrom2, "source_row": row.source_row,
                })
        db["structure_problems"].insert_all(
            {"structure_id": structure_id, "position": i, "site": p.site, "kind": p.kind, "severity": p.severity, "message": p.message}
            for i, p in enumerate(report.problems)
        )
        pattern = XRDModel.from_refinement(refinement, report.a_angstrom).pattern(**STORED_XRD)
        pattern_id = db["xrd_patterns"].insert({
            "structure_id": structure_id, "wavelength": STORED_XRD["wavelength"],
            "two_theta_min_deg": STORED_XRD["two_theta_range"][0], "two_theta_max_deg": STORED_XRD["two_theta_range"][1],
            "a_angstrom": pattern.a_angstrom, "conventions_json": json.dumps(pattern.conventions, sort_keys=True),
        }).last_pk
        db["xrd_peaks"].insert_all(
            {
                "pattern_id": pattern_id, "position": i, "h": int(r.h), "k": int(r.k), "l": int(r.l),
                "hkl": " ".join("".join(str(v) for v in fam) for fam in r.hkl), "component": r.component,
                "wavelength_angstrom": float(r.wavelength_angstrom), "two_theta_deg": float(r.two_theta_deg),
                "d_angstrom": float(r.d_angstrom), "multiplicity": int(r.multiplicity), "f_squared": float(r.f_squared),
                "intensity": float(r.intensity), "intensity_rel": float(r.intensity_rel),
            }
            for i, r in enumerate(pattern.peaks.itertuples())
        )


def _formula_text(amounts: dict[str, float]) -> str:
    from .chemistry import format_formula

    return format_formula(amounts)


def _insert_measurement_tables(db, db_dir: Path) -> None:
    from .calculators import SOURCE_GRAVITY_M_S2, milling_gforce
    from .literature import optional_float, read_csv_rows

    path = db_dir / "milling_table_s1.csv"
    for r in read_csv_rows(path):
        where = f"{path.name} row {r['row']}"
        db["milling"].insert({
            "row": int(r["row"]), "rpm": optional_float(r["rpm"], where, "rpm"),
            "effective_diameter_printed_m": optional_float(r["effective_diameter_printed_m"], where, "diameter"),
            "gforce_printed": optional_float(r["gforce_printed"], where, "gforce"), "notes": r["notes"] or None,
            "gforce_computed": milling_gforce(float(r["rpm"]), float(r["effective_diameter_printed_m"]), SOURCE_GRAVITY_M_S2),
        })
    path = db_dir / "conditions.csv"
    for r in read_csv_rows(path):
        where = f"{path.name} id {r['id']}"
        db["conditions"].insert({
            "id": int(r["id"]), "procedure": r["procedure"], "quantity": r["quantity"],
            "value": optional_float(r["value"], where, "value"), "unit": r["unit"] or None,
            "applies_to": r["applies_to"] or None, "source_text": r["source_text"],
        })
    path = db_dir / "eis_table_s4.csv"
    for r in read_csv_rows(path):
        where = f"{path.name} {r['sample']} cycle {r['cycle']} {r['element']}"
        db["eis_fits"].insert({
            "sample": r["sample"], "cycle": int(r["cycle"]), "element": r["element"],
            "r_label_printed": r["r_label_printed"], "r_ohm": optional_float(r["r_ohm"], where, "R"),
            "cpe_t_F_s_alpha_minus_1": optional_float(r["cpe_t_printed"], where, "CPE-T"),
            "cpe_p": optional_float(r["cpe_p"], where, "CPE-P"),
            "c_F": optional_float(r["c_F_printed"], where, "C"), "source_column": int(r["source_column"]),
        })


def migrate(conn: sqlite3.Connection, path: str | Path) -> int:
    """Bring an open database to SCHEMA_VERSION in place (one transaction); returns the version found.
    A database written by a newer argyrodb is refused."""
    try:
        version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise InputError(path, f"not an argyrodb database ({exc})") from None
    if version is None:
        raise InputError(path, "not an argyrodb database (empty schema_version)")
    if version > SCHEMA_VERSION:
        raise InputError(path, f"database schema version {version} is newer than this argyrodb's {SCHEMA_VERSION}: upgrade argyrodb")
    if version < SCHEMA_VERSION:
        script = SCHEMA_PATH.read_text(encoding="utf-8").split("-- version 2\n", 1)[1]
        with conn:
            conn.executescript("BEGIN;\n" + script + "\nINSERT INTO schema_version VALUES (2, 'composition screening runs');\nCOMMIT;")
    return version


def _carry_over(conn: sqlite3.Connection, old_path: Path) -> int:
    """Copy the user-computed tables (screening runs) from the database being replaced."""
    if not old_path.is_file():
        return 0
    conn.execute("ATTACH DATABASE ? AS old", (str(old_path),))
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM old.sqlite_master WHERE type = 'table'")}
        if not set(CARRIED_OVER_TABLES) <= tables:
            return 0
        with conn:
            for table in CARRIED_OVER_TABLES:
                conn.execute(f'INSERT INTO main."{table}" SELECT * FROM old."{table}"')
        return conn.execute("SELECT COUNT(*) FROM screen_results").fetchone()[0]
    finally:
        conn.execute("DETACH DATABASE old")


@contextlib.contextmanager
def writer_lock(db_path: Path):
    """Exclusive advisory lock shared by argyrodb's writers of one database (``<db>.lock``): a rebuild
    waits for a screening chunk to commit, and a screening chunk waits for a rebuild to finish."""
    import fcntl

    lock_path = Path(str(db_path) + ".lock")
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _install(conn: sqlite3.Connection, tmp: Path, target: Path) -> None:
    """Make ``target`` hold the content of the finished temporary database. A new target is renamed
    into place; an existing one is overwritten with SQLite's backup API in one write transaction, so
    connections that other processes hold on it (WAL included) stay consistent and a crash leaves the
    old or the new content."""
    if not target.exists():
        from .outputs import finalize_mode

        conn.close()
        finalize_mode(tmp, target)
        os.replace(tmp, target)
        return
    destination = sqlite3.connect(target, timeout=60)
    try:
        destination.execute("PRAGMA busy_timeout = 60000")
        conn.backup(destination)
    finally:
        destination.close()


#: A build's temporary file older than this is a leftover of a killed build and is removed.
STALE_TEMPORARY_S = 600


def _remove_stale_temporaries(target: Path) -> None:
    import time

    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_TEMPORARY_S:
                leftover.unlink()
        except OSError:
            pass


def build_database(db_path: str | Path | None = None, db_dir: Path = DB_DIR, show_progress: bool = True) -> dict:
    """Build the database from the project's data files into ``db_path`` (default db/argyrodb.sqlite)
    atomically. Returns row counts per table."""
    import sqlite_utils
    from tqdm import tqdm

    target = Path(db_path) if db_path is not None else DEFAULT_DB_PATH
    if not target.parent.is_dir():
        raise InputError(target, f"folder {target.parent} does not exist")

    def progress(items, desc):
        return tqdm(items, desc=desc, disable=not show_progress, leave=False)

    _remove_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("PRAGMA cache_size = -65536")  # 64 MB: bulk inserts touch many index pages
            conn.executescript(SCHEMA_PATH.read_text(encoding="utf-8"))
            db = sqlite_utils.Database(conn)
            db["schema_version"].insert_all([
                {"version": 1, "description": "literature, measurements, structures, XRD peaks, Tables S1/S4"},
                {"version": 2, "description": "composition screening runs"},
            ])
            steps = ["sources", "Table S3", "OBELiX", "structures and XRD", "Tables S1, S4, conditions", "indexes"]
            bar = tqdm(total=len(steps), desc="db build", disable=not show_progress)
            materials: dict[str, int] = {}
            with conn:
                source_ids = _insert_sources(db, db_dir)
                bar.update()
                _insert_table_s3(db, db_dir, source_ids, materials)
                bar.update()
                duplicates = _insert_obelix(db, db_dir, source_ids, materials)
                bar.update()
                _insert_structures(db, materials, progress)
                bar.update()
                _insert_measurement_tables(db, db_dir)
                bar.update()
            db["materials"].enable_fts(["formula", "chemical_system"], tokenize="trigram", create_triggers=False)
            db["sources"].enable_fts(["authors", "title", "journal", "doi"], create_triggers=False)
            bar.update()
            bar.close()
            problems = conn.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise ArgyrodbError(f"{target}: foreign key violations {problems[:3]}")
            counts = {name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in
                      ("sources", "materials", "measurements", "structures", "structure_sites", "xrd_peaks", "milling", "conditions", "eis_fits")}
            counts["obelix_duplicates_of_table_s3"] = duplicates
            conn.commit()
            # From here on no argyrodb writer may touch the target: carry its screening results over and
            # install the new content in one step.
            with writer_lock(target):
                carried = _carry_over(conn, target)
                if carried:
                    counts["screen_results_kept"] = carried
                conn.commit()
                _install(conn, tmp, target)
        finally:
            conn.close()
        if tmp.exists():
            tmp.unlink()
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return counts


#: Largest string or blob a read-only query may build (bytes).
MAX_VALUE_BYTES = 50_000_000

#: What a read-only connection may do: read tables and columns, run SELECTs (also recursive ones) and
#: call functions. Everything else - writes, schema changes, ATTACH, PRAGMA, transactions - is denied by
#: the connection's authorizer before it runs, whatever the SQL text looks like.
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}


#: PRAGMAs that only read (virtual tables such as FTS5 and json_each issue some internally); setting
#: any pragma (a value given) stays denied.
_READING_PRAGMAS = {"data_version", "database_list", "schema_version", "compile_options", "encoding"}
#: PRAGMAs whose argument names a table or index (they only read the schema).
_SCHEMA_PRAGMAS = {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list"}


def _read_only_authorizer(action, arg1, arg2, db_name, trigger):
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:
        name = str(arg1).lower()
        if name in _SCHEMA_PRAGMAS or (name in _READING_PRAGMAS and arg2 is None):
            return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


class ReadOnlyDatabase:
    """A connection that cannot write: the file is opened read-only (``mode=ro``) and
    ``PRAGMA query_only`` is set, so the connection itself refuses INSERT, UPDATE, DROP...; a query
    running longer than ``timeout_s`` is interrupted by a progress handler."""

    def __init__(self, db_path: str | Path | None = None, timeout_s: float = 10.0):
        import time

        self.path = Path(db_path) if db_path is not None else DEFAULT_DB_PATH
        if not self.path.is_file():
            raise InputError(self.path, "no database here: run `argyrodb db build` first")
        self.timeout_s = timeout_s
        self._deadline: float | None = None
        self._clock = time.monotonic
        self.conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)  # no randomblob(1e9) in one step
        self.conn.execute("PRAGMA query_only = ON")
        try:
            version = self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise InputError(self.path, f"not an argyrodb database ({exc})") from None
        if version != SCHEMA_VERSION:
            self.conn.close()
            if version is not None and version < SCHEMA_VERSION:
                raise InputError(self.path, f"database schema version {version} is older than {SCHEMA_VERSION}: run `argyrodb db migrate`")
            raise InputError(self.path, f"database schema version {version} is newer than this argyrodb's {SCHEMA_VERSION}: upgrade argyrodb")
        self.conn.set_progress_handler(self._check_deadline, 10_000)
        # Virtual tables (FTS5, json_each) are constructed on first use through internal statements the
        # authorizer would refuse; construct them now, then lock the connection down.
        for (name,) in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'").fetchall():
            self.conn.execute(f'SELECT * FROM "{name}" LIMIT 0').fetchall()
        self.conn.execute("SELECT * FROM json_each('[]'), json_tree('[]')").fetchall()
        for pragma in sorted(_SCHEMA_PRAGMAS):
            self.conn.execute(f"SELECT * FROM pragma_{pragma}('schema_version') LIMIT 0").fetchall()
        self.conn.set_authorizer(_read_only_authorizer)

    def _check_deadline(self) -> int:
        return int(self._deadline is not None and self._clock() > self._deadline)

    def execute(self, sql: str, params=()) -> tuple[list[str], list[tuple]]:
        """Run one statement; returns (column names, rows). Errors become one-line InputErrors."""
        self._deadline = self._clock() + self.timeout_s
        try:
            cursor = self.conn.execute(sql, params)
            rows = cursor.fetchall()
            columns = [d[0] for d in cursor.description or []]
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "interrupted" in text:
                raise InputError("sql", f"query interrupted after {self.timeout_s:g} s") from None
            if "readonly" in text or "query_only" in text or "read-only" in text or "not authorized" in text:
                raise InputError("sql", f"the database is read-only here ({text})") from None
            raise InputError("sql", text) from None
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "not authorized" in text:
                raise InputError("sql", f"the database is read-only here ({text})") from None
            raise InputError("sql", text) from None
        except sqlite3.Error as exc:
            raise InputError("sql", str(exc)) from None
        finally:
            self._deadline = None
        return columns, rows

    def dataframe(self, sql: str, params=()):
        import pandas as pd

        columns, rows = self.execute(sql, params)
        return pd.DataFrame(rows, columns=columns)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "ReadOnlyDatabase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
