"""Ingest: write what it is given into a new database - literature records, analysed structures with
their CIF, density and simulated pattern, the source's lab tables - and install it atomically.

:class:`DatabaseBuild` writes into a temporary file next to the target; on success the user-computed
tables of the database being replaced (screening runs) are carried over and the new content installed
in one step under the writers' lock; on any failure - an exception, Ctrl-C, SIGTERM or SIGHUP - the
temporary file is removed and the previous database is untouched (only SIGKILL leaves one behind, removed by a
later build once it is STALE_TEMPORARY_S old). Building twice gives identical content. The store runs no physics: the
pipeline (:mod:`argyrodb.pipeline`) computes, the store stores.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from .. import __version__
from ..core.analysis import AnalysedStructure
from ..core.chemistry import format_formula, parse_formula
from ..core.errors import ArgyrodbError, InputError
from ..core.files import finalize_mode
from ..physics.density import StructureDensity
from ..physics.xrd import Pattern, hkl_label
from .connection import (
    LockWait,
    database_path,
    is_busy,
    open_for_writing,
    signals_as_exit,
    signals_deferred,
    write_transaction,
    writer_lock,
)
from .datasets import BUNDLED_STRUCTURES, STRUCTURES, USER, Dataset, get, literature, reader_of
from .literature import (
    find_duplicates,
    material_id,
    obelix_rows,
    optional_float,
    printed_resolution,
    read_csv_rows,
    references,
    significant,
    source_reference,
    structure_type_of_phase,
    structure_type_of_space_group,
    table_s3,
)
from .migrations import dataset_kind_violations, migrate
from .user_data import MAX_USER_ROWS_TOTAL, UserImport, insert_import, stored_imports

#: Tables whose rows are results computed by users (not rebuilt from data files): a rebuild keeps them.
CARRIED_OVER_TABLES = ("screen_runs", "screen_results", "screen_lines", "screen_peak_index")
#: Full-text indexes (table -> (columns, FTS5 tokenizer; None: the default)): built at the end of a build, rebuilt
#: after `db add`/`db remove`/a stored refinement.
FULL_TEXT: dict[str, tuple[tuple[str, ...], str | None]] = {
    "materials": (("formula", "chemical_system"), "trigram"),
    "sources": (("authors", "title", "journal", "doi"), None),
}
#: A build's temporary file older than this is a leftover of a killed build and is removed.
STALE_TEMPORARY_S = 600
#: Tables whose row counts a build reports.
COUNTED_TABLES = ("sources", "materials", "measurements", "structures", "refused_structures", "structure_sites", "user_imports",
                  "xrd_peaks", "milling", "conditions", "eis_fits")


def insert_sources(db, db_dir: Path) -> dict[str, int]:
    ids = {}
    for row in [source_reference(db_dir), *references(db_dir)]:
        ids[row["key"]] = db["sources"].insert(row).last_pk
    return ids


#: How the source measured its own conductivity (SI, "Ionic conductivity"): bulk resistance from EIS.
SOURCE_SIGMA_METHOD = ("EIS 1 MHz-0.1 Hz, 50 mV; bulk resistance from the high-frequency intercept; "
                       "0.1 g pellet, 6 mm, pressed at 504 MPa")


def insert_table_s3(db, db_dir: Path, source_ids: dict[str, int], materials: dict[str, int]) -> None:
    """The reader of dataset ``table_s3`` (:mod:`argyrodb.store.datasets`): Table S3, row for row."""
    dataset = get("table_s3")
    for row in table_s3(db_dir):
        source_key = "this-work" if row.own_work else f"si-ref-{int(row.ref)}"
        if source_key not in source_ids:
            raise InputError(db_dir / "table_s3.csv", f"row {row.row}: reference {row.ref!r} not in references.csv")
        structure_type = structure_type_of_phase(row.primary_phase)
        db["measurements"].insert({
            "material_id": material_id(db, row.formula, materials),
            "source_id": source_ids[source_key],
            "dataset": dataset.name,
            "dataset_row": row.row,
            "material_printed": row.material_printed,
            "correction_note": row.correction_note,
            "primary_phase": row.primary_phase,
            "primary_phase_printed": row.primary_phase_printed,
            "family": "argyrodite" if structure_type == "argyrodite" else None,
            "structure_type": structure_type,
            "process": row.process_printed,
            "processes": json.dumps(row.processes),
            "sigma_mS_cm": row.sigma_mS_cm,
            "sigma_printed": f"{row.sigma_printed} mS/cm" if row.sigma_printed else None,
            "sigma_kind": "bulk" if row.own_work else "unspecified",
            "sigma_method": SOURCE_SIGMA_METHOD if row.own_work else None,
            "temperature_note": "not stated in Table S3 (room temperature)",
            "ccd_mA_cm2": row.ccd_mA_cm2,
            "anode": row.anode,
            "role": row.role,
            "own_work": int(row.own_work),
            "note": row.note,
            "licence": dataset.licence,
            "attribution": dataset.attribution,
        })


def _licensed(dataset: Dataset, row: dict, where: str) -> tuple[str | None, str | None]:
    """The dataset's licence and attribution (the registry's), which a data file's own columns must repeat."""
    for column in ("licence", "attribution"):
        given, registered = row.get(column) or None, getattr(dataset, column)
        if given is not None and given != registered:
            raise InputError(where, f"{column} {given!r} is not the {dataset.name} dataset's ({registered!r}, "
                                    "argyrodb.store.datasets)")
    return dataset.licence, dataset.attribution


def insert_obelix(db, db_dir: Path, source_ids: dict[str, int], materials: dict[str, int]) -> None:
    """The reader of dataset ``obelix``: the OBELiX rows (duplicates are marked afterwards by :func:`mark_duplicates`),
    with the registry's licence and attribution."""
    dataset = get("obelix")
    for line, r in enumerate(obelix_rows(db_dir), start=2):
        licence, attribution = _licensed(dataset, r, f"obelix_argyrodites.csv line {line}")
        formula = parse_formula(r["formula"], source=f"obelix_argyrodites.csv line {line}")
        doi = r["doi"]
        key = f"doi:{doi}" if doi else f"obelix:{r['obelix_id']}"
        if key not in source_ids:
            source_ids[key] = db["sources"].insert({
                "key": key, "doi": doi, "licence": licence, "attribution": attribution,
                "provenance": "OBELiX all.csv (argyrodite family rows), via db/obelix_argyrodites.csv",
            }).last_pk
        censored = r["sigma_censored"]
        bound = censored[0] if censored else None
        bound_value = optional_float(censored[1:], f"obelix_argyrodites.csv line {line}", "sigma_censored") if censored else None
        db["measurements"].insert({
            "material_id": material_id(db, formula, materials),
            "source_id": source_ids[key],
            "dataset": dataset.name,
            "dataset_row": line,
            "dataset_id": r["obelix_id"],
            "material_printed": r["reduced_composition"],
            "family": r["family"],
            "structure_type": structure_type_of_space_group(r["space_group_number"]),
            "processes": "[]",
            "sigma_mS_cm": r["sigma_mS_cm"],
            "sigma_printed": f"{r['sigma_S_cm_printed']} S/cm" if r["sigma_S_cm_printed"] else None,
            "sigma_censored": censored,
            "sigma_bound": bound,
            "sigma_bound_mS_cm": None if bound_value is None else significant(bound_value * 1000.0),
            "sigma_kind": r["sigma_kind"],
            "temperature_note": "room temperature (OBELiX)",
            "doi": doi,
            "licence": licence,
            "attribution": attribution,
        })


def mark_duplicates(db) -> int:
    """Mark literature measurements that repeat another one (:func:`literature.find_duplicates`): the
    literature datasets in registry order (Table S3 first), each in file order. User data is never marked."""
    order = {d.name: i for i, d in enumerate(literature())}
    found = db.execute(
        "SELECT m.id, m.dataset, mat.element_fractions_key, m.sigma_mS_cm, m.sigma_printed, COALESCE(m.doi, s.doi), "
        "m.dataset_row FROM measurements m JOIN materials mat ON mat.id = m.material_id JOIN sources s ON s.id = m.source_id "
        f"WHERE m.dataset IN ({', '.join('?' * len(order))})", list(order)).fetchall()
    records = []
    for mid, dataset, key, sigma, printed, doi, _ in sorted(found, key=lambda r: (order[r[1]], r[6], r[0])):
        unit = 1000.0 if printed and printed.endswith(" S/cm") else 1.0
        records.append({"id": mid, "dataset": dataset, "key": key, "sigma_mS_cm": sigma, "doi": doi,
                        "resolution_mS_cm": printed_resolution(printed, unit)})
    duplicates = find_duplicates(records)
    for mid, (first, reason) in duplicates.items():
        db.execute("UPDATE measurements SET duplicate_of = ?, duplicate_reason = ? WHERE id = ?", [first, reason, mid])
    return len(duplicates)


def milling_rows(db_dir: Path) -> list[dict]:
    """Table S1 as records (``gforce_computed`` is left for the caller to compute)."""
    path = db_dir / "milling_table_s1.csv"
    rows = []
    for r in read_csv_rows(path):
        where = f"{path.name} row {r['row']}"
        rows.append({
            "row": int(r["row"]), "rpm": optional_float(r["rpm"], where, "rpm"),
            "effective_diameter_printed_m": optional_float(r["effective_diameter_printed_m"], where, "diameter"),
            "gforce_printed": optional_float(r["gforce_printed"], where, "gforce"), "notes": r["notes"] or None,
        })
    return rows


def insert_lab_tables(db, db_dir: Path, milling: list[dict]) -> None:
    """Table S1 (``milling``: records with their computed G-force), the experimental conditions and
    Table S4 (EIS fits)."""
    for row in milling:
        db["milling"].insert(row)
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


def _carry_over(conn: sqlite3.Connection, old_path: Path) -> int:
    """Copy the user-computed tables (screening runs) from the database being replaced; columns the old
    schema lacks stay NULL (an older database's screening results keep their rows)."""
    if not old_path.is_file():
        return 0
    conn.execute("ATTACH DATABASE ? AS old", (str(old_path),))
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM old.sqlite_master WHERE type = 'table'")}
        if not set(CARRIED_OVER_TABLES) <= tables:
            return 0
        with conn:
            for table in CARRIED_OVER_TABLES:
                new_columns = [r[1] for r in conn.execute(f'PRAGMA main.table_info("{table}")')]
                old_columns = {r[1] for r in conn.execute(f'PRAGMA old.table_info("{table}")')}
                columns = ", ".join(f'"{c}"' for c in new_columns if c in old_columns)
                conn.execute(f'INSERT INTO main."{table}" ({columns}) SELECT {columns} FROM old."{table}"')
        return conn.execute("SELECT COUNT(*) FROM screen_results").fetchone()[0]
    finally:
        conn.execute("DETACH DATABASE old")


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to the existing database ``path`` (a URI from the path, so '?', '#' and '%' in folder
    names are file-name characters, not URI syntax)."""
    return sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)


def _stored_import_hashes(path: Path) -> list[str]:
    """What a rebuild must have replayed: the user imports' hashes and the refinements' keys."""
    if not path.is_file():
        return []
    conn = _read_only(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        keys = []
        if "user_imports" in tables:
            keys += [r[0] for r in conn.execute("SELECT sha256 FROM user_imports")]
        if "refinements" in tables:
            keys += [f"refinement:{r[0]}" for r in conn.execute("SELECT id FROM refinements")]
        return sorted(keys)
    finally:
        conn.close()


def stored_refinements(db_path) -> list[dict]:
    """The refinements stored in the database at ``db_path`` (rows as dicts), to replay into a rebuild."""
    path = database_path(db_path)
    if not path.is_file():
        return []
    conn = _read_only(path)
    conn.row_factory = sqlite3.Row
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'refinements'").fetchone():
            return []
        return [dict(r) for r in conn.execute("SELECT * FROM refinements ORDER BY id")]
    finally:
        conn.close()


def _install(conn: sqlite3.Connection, tmp: Path, target: Path) -> None:
    """Make ``target`` hold the content of the finished temporary database. A new target is renamed
    into place (after an fsync: the build writes without syncing); an existing one is overwritten with SQLite's
    backup API in one write transaction, so connections that other processes hold on it (WAL included) stay
    consistent and a crash leaves the old or the new content. A write lock another connection holds on the target
    is waited for (LockWait), then reported: Python's backup would otherwise retry a busy target for ever."""
    if not target.exists():
        conn.close()
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        finalize_mode(tmp, target)
        os.replace(tmp, target)
        return
    wait = LockWait(target)

    def progress(status: int, remaining: int, total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            wait.tick()

    destination = sqlite3.connect(target, timeout=1.0)
    try:
        destination.execute("PRAGMA busy_timeout = 1000")  # each busy step waits up to 1 s, then progress() decides
        conn.backup(destination, progress=progress)
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            raise wait.error() from None
        raise
    finally:
        destination.close()


def _temporary_files(tmp: Path) -> list[Path]:
    """A temporary database and the files SQLite may keep beside it."""
    return [tmp] + [Path(f"{tmp}{suffix}") for suffix in ("-journal", "-wal", "-shm")]


def _remove_stale_temporaries(target: Path) -> None:
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_TEMPORARY_S:
                for path in _temporary_files(leftover):
                    path.unlink(missing_ok=True)
        except OSError:
            pass


def insert_structure(db, structure: AnalysedStructure, *, source_file: str, cif: str, density: StructureDensity,
                     pattern: Pattern, materials: dict[str, int], dataset: str = BUNDLED_STRUCTURES, dataset_id: str | None = None,
                     caveat: str | None = None, licence: str | None = None, attribution: str | None = None,
                     name: str | None = None, user_import_id: int | None = None, bvse: dict | None = None) -> int:
    """One analysed structure with its sites, problems, CIF text, density and simulated pattern (and, given, its
    BVSE record for ``structure_bvse``); for a literature structure also its dataset, ID, caveat, licence and
    attribution."""
    get(dataset, STRUCTURES)  # a dataset of structures in the registry, or a one-line ParameterError
    per_fu = structure.formula_per_fu
    heavy = sum(per_fu.get(x, 0.0) for x in ("Cl", "Br", "I"))
    provenance = structure.provenance
    structure_id = db["structures"].insert({
        "name": name or structure.name,
        "dataset": dataset,
        "dataset_id": dataset_id,
        "caveat": caveat,
        "licence": licence,
        "attribution": attribution,
        "user_import_id": user_import_id,
        "source_file": source_file,
        "material_id": material_id(db, structure.nominal_per_fu or per_fu, materials),
        "nominal_formula": structure.nominal_formula,
        "refined_formula": format_formula(per_fu),
        "refined_amounts_json": json.dumps({k: round(v, 6) for k, v in per_fu.items()}),
        "refined_i_fraction": round(per_fu.get("I", 0.0) / heavy, 6) if heavy else None,
        "z": structure.z,
        "space_group_number": structure.space_group_number,
        "space_group_symbol": structure.space_group_symbol,
        "a_angstrom": structure.a_angstrom,
        "a_source": structure.lattice.source,
        "volume_angstrom3": structure.volume_angstrom3,
        "density_g_cm3": density.density_g_cm3,
        "nominal_density_g_cm3": density.nominal_density_g_cm3,
        "molar_volume_cm3_mol": density.molar_volume_cm3_mol,
        "charge_per_fu": structure.charge_per_fu,
        "n_errors": sum(p.severity == "error" for p in structure.problems),
        "n_warnings": sum(p.severity == "warning" for p in structure.problems),
        "provenance_json": json.dumps(provenance, sort_keys=True, default=str),
        "doi": provenance.get("doi"),
        "cif_text": cif,
        "argyrodb_version": __version__,
    }).last_pk
    for pos in structure.positions:
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
        for i, p in enumerate(structure.problems)
    )
    if bvse is not None:
        db["structure_bvse"].insert({"structure_id": structure_id, **bvse})
    pattern_id = db["xrd_patterns"].insert({
        "structure_id": structure_id, "wavelength": "+".join(c.name for c in pattern.components),
        "two_theta_min_deg": pattern.two_theta_range[0], "two_theta_max_deg": pattern.two_theta_range[1],
        "a_angstrom": pattern.a_angstrom, "conventions_json": json.dumps(pattern.conventions, sort_keys=True),
    }).last_pk
    db["xrd_peaks"].insert_all(
        {
            "pattern_id": pattern_id, "position": i, "h": int(r.h), "k": int(r.k), "l": int(r.l),
            "hkl": hkl_label(r.hkl), "component": r.component,
            "wavelength_angstrom": float(r.wavelength_angstrom), "two_theta_deg": float(r.two_theta_deg),
            "d_angstrom": float(r.d_angstrom), "multiplicity": int(r.multiplicity), "f_squared": float(r.f_squared),
            "intensity": float(r.intensity), "intensity_rel": float(r.intensity_rel),
        }
        for i, r in enumerate(pattern.peaks.itertuples())
    )
    return structure_id


class DatabaseBuild:
    """A new database under construction (see the module docstring)::

        with DatabaseBuild(path) as build:
            build.insert_literature(folder)
            build.insert_structure(...)
            build.insert_lab_tables(folder)
        build.counts  # rows per table
    """

    def __init__(self, db_path: str | Path | None = None):
        self.target = database_path(db_path)
        self.counts: dict[str, int] = {}
        self.materials: dict[str, int] = {}
        self.duplicates = 0
        self.replayed_imports: list[str] = []
        self.counts_extra: dict[str, int] = {}

    def __enter__(self) -> DatabaseBuild:
        import sqlite_utils

        if not self.target.parent.is_dir():
            raise InputError(self.target, f"folder {self.target.parent} does not exist")
        _remove_stale_temporaries(self.target)
        self._signals = contextlib.ExitStack()
        with signals_deferred():  # an interrupt between creating the file and owning it would leave it behind
            self._signals.enter_context(signals_as_exit())
            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=self.target.parent)
            os.close(fd)
            self.tmp = Path(name)
        try:
            self.conn = sqlite3.connect(self.tmp)
            self.conn.execute("PRAGMA cache_size = -65536")  # 64 MB: bulk inserts touch many index pages
            # No fsync per transaction (sqlite-utils commits each insert of its own: ~0.9 ms a row) and the rollback
            # journal in memory: a temporary file that any failure discards needs no durability until it is
            # complete, and it is synced before it is installed (_install).
            self.conn.execute("PRAGMA synchronous = OFF")
            self.conn.execute("PRAGMA journal_mode = MEMORY")
            migrate(self.conn, self.tmp, create=True)
            self.db = sqlite_utils.Database(self.conn)
        except BaseException:
            self._discard()
            raise
        return self

    def insert_literature(self, db_dir: Path) -> None:
        """The source and its references, then every literature dataset's measurements by its reader
        (:mod:`argyrodb.store.datasets`, registry order), then the duplicates marked."""
        source_ids = insert_sources(self.db, db_dir)
        for dataset in literature():
            if dataset.reader is not None:
                reader_of(dataset)(self.db, db_dir, source_ids, self.materials)
        self.duplicates = mark_duplicates(self.db)

    def dataset_materials(self, dataset: str) -> dict[str, str]:
        """dataset ID -> the material as printed, for the measurements of ``dataset`` inserted so far."""
        return dict(self.conn.execute("SELECT dataset_id, material_printed FROM measurements WHERE dataset = ? "
                                      "AND dataset_id IS NOT NULL ORDER BY id", (dataset,)).fetchall())

    def insert_structure(self, structure: AnalysedStructure, **stored) -> int:
        return insert_structure(self.db, structure, materials=self.materials, **stored)

    def insert_user_import(self, imp, structures: dict[int, dict]) -> int:
        """Replay a user import (see :mod:`argyrodb.store.user_data`)."""
        self.replayed_imports.append(imp.sha256)
        return insert_import(self.db, imp, self.materials, self.insert_structure, structures)

    def insert_refinement(self, record: dict, structure_args: dict | None) -> int:
        """Replay a stored refinement (same id) with its refined structure stored again."""
        self.replayed_imports.append(f"refinement:{record['id']}")
        structure_id = None
        if structure_args is not None:
            name = _unique_structure_name(self.conn, structure_args.pop("name"))
            structure_id = self.insert_structure(dataset=USER, name=name, **structure_args)
        refinement_id = self.db.table("refinements").insert({**record, "structure_id": structure_id}).last_pk
        assert refinement_id is not None  # sqlite-utils sets it on every insert of one row
        return refinement_id

    def insert_refused(self, dataset: str, dataset_id: str, source_file: str, reason: str, licence: str | None = None,
                       attribution: str | None = None) -> None:
        self.db.table("refused_structures").insert({"dataset": dataset, "dataset_id": dataset_id, "source_file": source_file,
                                              "reason": reason, "licence": licence, "attribution": attribution})

    def insert_lab_tables(self, db_dir: Path, milling: list[dict]) -> None:
        insert_lab_tables(self.db, db_dir, milling)

    def _discard(self) -> None:
        with signals_deferred():  # a second Ctrl-C or SIGTERM must not cut the cleanup short
            conn = getattr(self, "conn", None)
            if conn is not None:
                conn.close()
            for path in _temporary_files(self.tmp):
                path.unlink(missing_ok=True)
            self._signals.close()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._discard()
            return
        try:
            self.conn.commit()
            for table, (columns, tokenize) in FULL_TEXT.items():
                self.db.table(table).enable_fts(list(columns), create_triggers=False, tokenize=tokenize)
            problems = self.conn.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise ArgyrodbError(f"{self.target}: foreign key violations {problems[:3]}")
            wrong = dataset_kind_violations(self.conn)
            if wrong:
                raise ArgyrodbError(f"{self.target}: rows in a table their dataset does not fill: "
                                    + ", ".join(f"{n} {t} of dataset {d}" for t, d, n in wrong))
            self.counts = {name: self.conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in COUNTED_TABLES}
            self.counts["literature_duplicates"] = self.duplicates
            self.counts.update(self.counts_extra)
            self.conn.commit()
            # From here on no argyrodb writer may touch the target: carry its screening results over and
            # install the new content in one step.
            with writer_lock(self.target):
                if sorted(self.replayed_imports) != _stored_import_hashes(self.target):
                    raise ArgyrodbError(f"{self.target}: user data was added or removed while the database was being "
                                        "rebuilt; nothing was changed - run `argyrodb db build` again")
                carried = _carry_over(self.conn, self.target)
                if carried:
                    self.counts["screen_results_kept"] = carried
                self.conn.commit()
                _install(self.conn, self.tmp, self.target)
        finally:
            self._discard()


# --------------------------------------------------------------------------- user data in an existing database

def _refresh_full_text(conn) -> None:
    """Re-index every full-text table (external content, no triggers) after rows were added or removed since the
    build, so that ``--text`` finds a user import's materials and its source (file name, DOIs)."""
    for table in FULL_TEXT:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (f"{table}_fts",)).fetchone():
            conn.execute(f"INSERT INTO {table}_fts({table}_fts) VALUES('rebuild')")


def add_user_import(db_path, imp: UserImport, structures: dict[int, dict]) -> dict:
    """Store a validated user import in an existing database, in one transaction under the writers' lock
    (a failure, an interrupt included, leaves the database as it was). The same file content or file name twice
    is refused, and so is an import that would take the database's user rows past MAX_USER_ROWS_TOTAL. The result
    carries the import's plausibility ``warnings``."""
    import sqlite_utils

    path = database_path(db_path)
    with signals_as_exit(), writer_lock(path):
        conn = open_for_writing(path)
        try:
            with write_transaction(conn, path):
                clash = conn.execute("SELECT id, file_name, imported_at FROM user_imports WHERE sha256 = ? OR file_name = ?",
                                     (imp.sha256, imp.file_name)).fetchone()
                if clash:
                    raise InputError(imp.file_name, f"already in {path} (import {clash[0]}, {clash[1]}, added {clash[2]}): "
                                                    f"`argyrodb db remove {clash[1]}` first to replace it")
                stored = conn.execute("SELECT COUNT(*) FROM user_rows").fetchone()[0]
                if stored + len(imp.rows) > MAX_USER_ROWS_TOTAL:
                    raise InputError(imp.source_name or imp.file_name,
                                     f"{len(imp.rows):,} row{'s' if len(imp.rows) != 1 else ''} would take the user data in {path} to "
                                     f"{stored + len(imp.rows):,} "
                                     f"rows, more than the {MAX_USER_ROWS_TOTAL:,} a database keeps (every `db build` "
                                     "replays them): `argyrodb db remove` an older import first")
                db = sqlite_utils.Database(conn)
                materials = dict(conn.execute("SELECT formula, id FROM materials").fetchall())
                import_id = insert_import(db, imp, materials,
                                          lambda **kw: insert_structure(db, materials=materials, **kw), structures)
                _refresh_full_text(conn)
                n_structures = conn.execute("SELECT COUNT(*) FROM structures WHERE user_import_id = ?", (import_id,)).fetchone()[0]
        finally:
            conn.close()
    return {"import_id": import_id, "file_name": imp.file_name, "sha256": imp.sha256, "measurements": len(imp.rows),
            "structures": n_structures, "warnings": list(imp.warnings)}


def remove_user_import(db_path, which: str) -> dict:
    """Remove one user import (by file name or import id) with its measurements, structures (sites,
    problems, patterns, peaks) and the materials only it used; one transaction."""
    path = database_path(db_path)
    with signals_as_exit(), writer_lock(path):
        conn = open_for_writing(path)
        try:
            with write_transaction(conn, path):
                found = conn.execute("SELECT id, file_name, n_rows FROM user_imports WHERE file_name = ? OR CAST(id AS TEXT) = ?",
                                     (which, which)).fetchall()
                if not found:
                    names = [r[0] for r in conn.execute("SELECT file_name FROM user_imports ORDER BY id")]
                    raise InputError(which, "no such user import" + (f" (there are: {', '.join(names)})" if names else
                                                                      " (the database holds no user data)"))
                import_id, file_name, n_rows = found[0]
                structures = "SELECT id FROM structures WHERE user_import_id = :i"
                patterns = f"SELECT id FROM xrd_patterns WHERE structure_id IN ({structures})"
                conn.execute(f"DELETE FROM xrd_peaks WHERE pattern_id IN ({patterns})", {"i": import_id})
                conn.execute(f"DELETE FROM xrd_patterns WHERE structure_id IN ({structures})", {"i": import_id})
                for table in ("structure_sites", "structure_problems", "structure_bvse"):
                    conn.execute(f"DELETE FROM {table} WHERE structure_id IN ({structures})", {"i": import_id})
                conn.execute("DELETE FROM measurements WHERE user_import_id = :i", {"i": import_id})
                n_structures = conn.execute("DELETE FROM structures WHERE user_import_id = :i", {"i": import_id}).rowcount
                conn.execute("DELETE FROM sources WHERE id NOT IN (SELECT source_id FROM measurements) AND key LIKE 'user:%'")
                conn.execute("DELETE FROM user_rows WHERE import_id = :i", {"i": import_id})
                conn.execute("DELETE FROM user_imports WHERE id = :i", {"i": import_id})
                n_materials = conn.execute(
                    "DELETE FROM materials WHERE id NOT IN (SELECT material_id FROM measurements) "
                    "AND id NOT IN (SELECT material_id FROM structures WHERE material_id IS NOT NULL)").rowcount
                _refresh_full_text(conn)
        finally:
            conn.close()
    return {"import_id": import_id, "file_name": file_name, "measurements": n_rows, "structures": n_structures,
            "materials": n_materials}


def user_imports_of(db_path) -> list[UserImport]:
    """The user imports stored in the database at ``db_path`` (none when there is no file yet)."""
    path = database_path(db_path)
    if not path.is_file():
        return []
    conn = _read_only(path)
    try:
        return stored_imports(conn)
    finally:
        conn.close()


# --------------------------------------------------------------------------- refinements

def _unique_structure_name(conn, base: str) -> str:
    """``base``, or ``base (2)``, ``base (3)``, ... when a structure of that name is stored already."""
    taken = {r[0] for r in conn.execute("SELECT name FROM structures WHERE name LIKE ?", (base + "%",))}
    return base if base not in taken else next(f"{base} ({i})" for i in range(2, 100_000) if f"{base} ({i})" not in taken)


def add_refinement(db_path, record: dict, structure_args: dict | None) -> dict:
    """Store a refinement (``record``: the columns of ``refinements`` but id/structure_id/created_at) and, for
    a Rietveld fit, its refined structure (``structure_args`` for :func:`insert_structure`, dataset 'user'), in
    one transaction under the writers' lock."""
    from datetime import UTC, datetime

    import sqlite_utils

    path = database_path(db_path)
    with signals_as_exit(), writer_lock(path):
        conn = open_for_writing(path)
        try:
            db = sqlite_utils.Database(conn)
            with write_transaction(conn, path):
                materials = dict(conn.execute("SELECT formula, id FROM materials").fetchall())
                structure_id = None
                if structure_args is not None:
                    name = _unique_structure_name(conn, structure_args.pop("name"))
                    structure_id = insert_structure(db, materials=materials, name=name, dataset=USER, **structure_args)
                    _refresh_full_text(conn)
                refinement_id = db.table("refinements").insert({
                    **record, "structure_id": structure_id,
                    "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(), "argyrodb_version": __version__,
                }).last_pk
        finally:
            conn.close()
    return {"refinement_id": refinement_id, "structure_id": structure_id, "database": str(path)}
