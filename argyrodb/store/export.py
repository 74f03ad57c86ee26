"""Exports: tables as CSV/JSON, and structures as OPTIMADE structure entries.

OPTIMADE (v1.x structures endpoint): partial occupancy is written as species with
``concentration`` (a vacancy is the symbol ``"vacancy"``), ``structure_features`` holds
``"disorder"``, and argyrodb's own fields carry the provider prefix ``_argyrodb_`` in lower case.
Each entry is validated with optimade-python-tools' ``StructureResource`` model before writing.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import sqlite3
import tempfile
from fractions import Fraction
from functools import lru_cache, reduce
from pathlib import Path

import numpy as np

from ..core.errors import InputError, ParameterError
from ..core.files import atomic_write_text, finalize_mode
from ..core.refinement import RefinedSite, Refinement
from ..core.sites import positions as site_positions
from .connection import ReadOnlyDatabase
from .migrations import migrate

OPTIMADE_PREFIX = "_argyrodb_"
#: Fixed timestamp for reproducible exports: the data's transcription date, not the export time.
DATA_DATE = "2026-11-25T00:00:00Z"
#: Rows fetched and written at a time: a table of millions of rows (screen_peaks) is never held in memory whole.
EXPORT_CHUNK_ROWS = 20_000
#: Columns left out of the export (the CIF text is written by `argyrodb build --cif`, not as a CSV cell).
EXPORT_DROPPED_COLUMNS = {"structures": ("cif_text",)}


def _virtual_tables(listing: list[tuple[str, str, str]]) -> set[str]:
    return {name for kind, name, sql in listing if kind == "table" and (sql or "").upper().startswith("CREATE VIRTUAL TABLE")}


def _exportable(listing: list[tuple[str, str, str]]) -> list[str]:
    """The tables and views of a schema listing ((type, name, sql) rows of sqlite_master) worth exporting: all
    but SQLite's own (``sqlite_*``), full-text indexes (virtual tables such as ``materials_fts``, which copy
    columns of their table, and their shadow tables ``materials_fts_data``, ...)."""
    virtual = _virtual_tables(listing)
    names = []
    for kind, name, _ in listing:
        if kind not in ("table", "view") or name.startswith("sqlite_") or name in virtual:
            continue
        if any(name.startswith(f"{v}_") for v in virtual):
            continue
        names.append(name)
    return sorted(names)


@lru_cache(maxsize=1)
def schema_tables() -> tuple[str, ...]:
    """The tables and views the current migrations create (in an empty in-memory database): a database
    at the current schema version lacking one of them is damaged, and its export is refused."""
    conn = sqlite3.connect(":memory:")
    try:
        migrate(conn, ":memory:", create=True)
        return tuple(_exportable(conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()))
    finally:
        conn.close()


def exportable_tables(db: ReadOnlyDatabase) -> list[str]:
    """Every table and view of the open database that `export_tables` writes, by name: read from the
    database's own schema, so tables a newer migration adds are exported without a change here."""
    _, listing = db.execute("SELECT type, name, sql FROM sqlite_master")
    names = _exportable(listing)
    missing = sorted(set(schema_tables()) - set(names))
    if missing:
        raise InputError(db.path, f"the database lacks the table {missing[0]!r} of its schema version: "
                                  "rebuild it (`argyrodb db build`)")
    return names


def _cell(value):
    if isinstance(value, bytes):
        return value.hex()
    return value


def _json_cell(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None  # not representable in JSON
    return _cell(value)


def _write_table(db: ReadOnlyDatabase, table: str, fmt: str, path: Path) -> int:
    """Stream one table or view into ``path`` in chunks of :data:`EXPORT_CHUNK_ROWS` rows; returns the rows written.
    CSV: header, values as stored (integers stay integers, NULL is empty); JSON: an array of records."""
    cursor = None
    try:
        cursor = db.conn.execute(f'SELECT * FROM "{table}"')  # no query timeout: a large table takes as long as it takes
        columns = [d[0] for d in cursor.description]
        dropped = EXPORT_DROPPED_COLUMNS.get(table, ())
        keep = [i for i, name in enumerate(columns) if name not in dropped]
        names = [columns[i] for i in keep]
        n = 0
        with open(path, "w", encoding="utf-8", newline="") as fh:
            if fmt == "csv":
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(names)
            else:
                fh.write("[")
            while True:
                rows = cursor.fetchmany(EXPORT_CHUNK_ROWS)
                if not rows:
                    break
                if fmt == "csv":
                    writer.writerows([[_cell(row[i]) for i in keep] for row in rows])
                else:
                    fh.write("".join(
                        ("\n" if n + j == 0 else ",\n") + json.dumps(dict(zip(names, (_json_cell(row[i]) for i in keep))), ensure_ascii=False)
                        for j, row in enumerate(rows)))
                n += len(rows)
            if fmt == "json":
                fh.write("\n]\n" if n else "]\n")
            fh.flush()
            os.fsync(fh.fileno())
    except sqlite3.Error as exc:
        raise InputError(db.path, f"cannot read {table}: {exc}") from None
    finally:
        if cursor is not None:
            cursor.close()
    return n


def _staging_folder(out: Path) -> Path:
    """A new temporary folder on the file system ``out`` will be on: inside ``out`` if it exists, else in the
    nearest existing folder above it (so the files can be renamed into place)."""
    if out.exists() and not out.is_dir():
        raise InputError(out, "not a folder")
    # the nearest existing folder above: a file there would make out.mkdir fail after every table was written
    base = out if out.is_dir() else next((p for p in out.absolute().parents if p.exists()), Path("."))
    if not base.is_dir():
        raise InputError(out, f"{base} is a file, not a folder")
    if not os.access(base, os.W_OK):
        raise InputError(out, f"folder {base} is not writable")
    return Path(tempfile.mkdtemp(prefix=".argyrodb-export.", dir=base))


#: The OPTIMADE file ``export_tables(..., optimade=True)`` writes beside the tables.
OPTIMADE_FILE = "structures.optimade.json"


def _structure_resource():
    """optimade-python-tools' StructureResource model, or a one-line InputError when the extra is missing."""
    try:
        from optimade.models import StructureResource
    except ImportError:
        raise ParameterError("optimade", "optimade-python-tools is not installed: pip install 'argyrodb[optimade]'") from None
    return StructureResource


def export_tables(out_dir: str | Path, fmt: str = "csv", db_path=None, tables=None, optimade: bool = False) -> list[Path]:
    """Write tables and views of the database to ``out_dir`` as ``NAME.csv`` or ``NAME.json``, and with ``optimade``
    the structures as OPTIMADE entries (:data:`OPTIMADE_FILE`); returns the paths.

    ``tables``: names to write (default: every table and view of the database's schema but SQLite's own and the
    full-text indexes, see :func:`exportable_tables`). Each table is streamed in chunks, so a table of millions
    of rows is never held in memory. Every check comes first (format, the optimade extra, the database and its
    schema, the table names, the output folder); all files are read from one snapshot of the database and
    written into a temporary folder; only when every one is complete are they renamed into ``out_dir`` - a
    failure writes nothing (creates no ``out_dir`` and leaves a previous export as it was)."""
    out = Path(out_dir)
    if fmt not in ("csv", "json"):
        raise ParameterError("fmt", f"unknown export format {fmt!r} (csv or json)")
    structure_resource = _structure_resource() if optimade else None
    if isinstance(tables, str):
        tables = [tables]
    with ReadOnlyDatabase(db_path) as db:
        available = exportable_tables(db)
        chosen = available if tables is None else list(dict.fromkeys(tables))
        unknown = [t for t in chosen if t not in available]
        if unknown:
            raise ParameterError("tables", f"unknown table {unknown[0]!r} (known: {', '.join(available)})")
        staging = _staging_folder(out)
        try:
            # One read transaction for every file: an open statement keeps the snapshot (SQLite ends an
            # autocommit read transaction only when its last statement finishes), so a screening run
            # committing meanwhile cannot give screen_results without their screen_peaks.
            snapshot = db.conn.execute("SELECT version FROM schema_version UNION ALL SELECT version FROM schema_version")
            try:
                for table in chosen:
                    _write_table(db, table, fmt, staging / f"{table}.{fmt}")
                names = [f"{table}.{fmt}" for table in chosen]
                if structure_resource is not None:
                    _write_optimade(_optimade_entries(db, structure_resource), staging / OPTIMADE_FILE)
                    names.append(OPTIMADE_FILE)
            finally:
                snapshot.close()
            out.mkdir(parents=True, exist_ok=True)
            written = []
            for name in names:
                target = out / name
                finalize_mode(staging / name, target)
                os.replace(staging / name, target)
                written.append(target)
            return written
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _integer_formula(amounts: dict[str, float], decimals: int = 2) -> str:
    """Alphabetical reduced formula with integer counts (OPTIMADE ``chemical_formula_reduced``) of
    the composition rounded to ``decimals``."""
    counts = {el: Fraction(round(n, decimals)).limit_denominator(10**decimals) for el, n in amounts.items() if round(n, decimals) > 0}
    lcm = reduce(lambda a, b: a * b // math.gcd(a, b), (c.denominator for c in counts.values()), 1)
    ints = {el: int(c * lcm) for el, c in counts.items()}
    g = reduce(math.gcd, ints.values())
    return "".join(f"{el}{ints[el] // g if ints[el] // g != 1 else ''}" for el in sorted(ints))


def _anonymous(reduced: str) -> str:
    import re

    parts = sorted(((int(n) if n else 1) for _, n in re.findall(r"([A-Z][a-z]?)(\d*)", reduced)), reverse=True)
    letters = [chr(ord("A") + i) for i in range(26)]
    return "".join(f"{letters[i]}{n if n != 1 else ''}" for i, n in enumerate(parts))


def optimade_entries(db_path=None) -> list[dict]:
    """OPTIMADE structure entries of every structure in the database, validated."""
    structure_resource = _structure_resource()
    with ReadOnlyDatabase(db_path) as db:
        return _optimade_entries(db, structure_resource)


def _optimade_entries(db: ReadOnlyDatabase, structure_resource) -> list[dict]:
    entries = []
    structures = db.dataframe("SELECT * FROM structures ORDER BY id")
    sites = db.dataframe("SELECT * FROM structure_sites ORDER BY structure_id, rowid")
    measurements = db.dataframe("SELECT material_id, sigma_mS_cm, ccd_mA_cm2 FROM measurements_full WHERE own_work = 1")
    for row in structures.itertuples():
        a = float(row.a_angstrom)
        amounts = json.loads(row.refined_amounts_json)
        species, species_names, positions = [], [], []
        rows = [RefinedSite(label=r.label, element=r.element, wyckoff_reported=r.wyckoff_printed, x=r.x, y=r.y, z=r.z,
                            occupancy=r.occupancy, b_iso_angstrom2=None)
                for r in sites[sites["structure_id"] == row.id].itertuples()]
        # the same grouping into positions (and rounding normalisation) as the analysis that stored them
        for position in site_positions(Refinement(name=row.name, nominal_formula="", sites=rows)):
            mix = {el: round(occ, 6) for el, occ in position.species().items() if occ > 0}
            if not mix:
                continue
            symbols, concentration = list(mix), list(mix.values())
            vacancy = 1.0 - sum(concentration)
            if vacancy > 1e-6:
                symbols.append("vacancy")
                concentration.append(round(vacancy, 6))
            name = "_".join(r.label for r in position.rows)
            species.append({"name": name, "chemical_symbols": symbols, "concentration": concentration})
            positions.append(position.images * a)
            species_names.extend([name] * len(position.images))
        cartesian = np.vstack(positions)
        elements = sorted(amounts)
        total = sum(amounts.values())
        reduced = _integer_formula(amounts)
        own = measurements[measurements["material_id"] == row.material_id]
        attributes = {
            "last_modified": DATA_DATE,
            "elements": elements,
            "nelements": len(elements),
            "elements_ratios": [amounts[el] / total for el in elements],
            "chemical_formula_descriptive": row.refined_formula,
            "chemical_formula_reduced": reduced,
            "chemical_formula_anonymous": _anonymous(reduced),
            "dimension_types": [1, 1, 1],
            "nperiodic_dimensions": 3,
            "lattice_vectors": (np.eye(3) * a).tolist(),
            "cartesian_site_positions": cartesian.tolist(),
            "nsites": len(cartesian),
            "species": species,
            "species_at_sites": species_names,
            "structure_features": ["disorder"],
            "space_group_it_number": 216,
            "space_group_symbol_hermann_mauguin": "F -4 3 m",
            f"{OPTIMADE_PREFIX}nominal_formula": _plain(row.nominal_formula),
            f"{OPTIMADE_PREFIX}a_angstrom": _plain(row.a_angstrom),
            f"{OPTIMADE_PREFIX}a_source": _plain(row.a_source),
            f"{OPTIMADE_PREFIX}density_g_cm3": _plain(row.density_g_cm3),
            f"{OPTIMADE_PREFIX}source_file": _plain(row.source_file),
            f"{OPTIMADE_PREFIX}dataset": _plain(row.dataset),
            f"{OPTIMADE_PREFIX}dataset_id": _plain(row.dataset_id),
            f"{OPTIMADE_PREFIX}caveat": _plain(row.caveat),
            f"{OPTIMADE_PREFIX}licence": _plain(row.licence),
            f"{OPTIMADE_PREFIX}attribution": _plain(row.attribution),
            f"{OPTIMADE_PREFIX}sigma_ms_cm": None if own.empty else float(own["sigma_mS_cm"].iloc[0]),
            f"{OPTIMADE_PREFIX}ccd_ma_cm2": None if own.empty or own["ccd_mA_cm2"].isna().iloc[0] else float(own["ccd_mA_cm2"].iloc[0]),
        }
        entry = {"id": "argyrodb-" + "_".join(str(row.name).split()), "type": "structures", "attributes": attributes}
        structure_resource(**entry)  # raises pydantic.ValidationError when the entry is not valid OPTIMADE
        entries.append(entry)
    return entries


def _plain(value):
    """A database value as JSON has it: SQL NULL (pandas' NaN or None) as None, numpy scalars as Python's. A NaN
    left in made ``json.dumps`` write the bare token NaN, which is not JSON (OPTIMADE clients refuse the file)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_optimade(entries: list[dict], path: Path) -> Path:
    payload = {"data": entries, "meta": {"provider": {"prefix": "argyrodb", "name": "argyrodb"}, "data_returned": len(entries)}}
    # allow_nan=False: a non-finite number left anywhere is an error here, not an invalid file
    return atomic_write_text(path, json.dumps(payload, indent=1, allow_nan=False))


def export_optimade(out_path: str | Path, db_path=None) -> Path:
    """Only the OPTIMADE file (validated entries of every structure) at ``out_path``."""
    return _write_optimade(optimade_entries(db_path), Path(out_path))
