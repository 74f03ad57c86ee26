"""A user's own measurements: ``argyrodb db add FILE.csv`` reads a CSV, validates it row by row, and
stores it as user data with its provenance (file name, SHA-256, date); ``db remove`` takes it out again.

Columns (header names, any order): ``formula`` and ``sigma_mS_cm`` are required; optional are
``temperature_K``, ``activation_energy_eV``, ``sigma_kind`` (total, bulk), ``sigma_method``,
``ccd_mA_cm2``, ``process`` (MM, HT, SS, combined with ``+``), ``anode``, ``doi``, ``note`` and
``structure`` (a CIF or refinement YAML, relative to the CSV). A conductivity may be a bound
(``<1e-5``). An unknown column is refused (a typo would otherwise drop a value silently).

What ``db add`` was given is kept verbatim in ``user_imports`` and ``user_rows`` (with the structure
file's text): ``db build`` replays it into the new database, so user data survives rebuilds.

Limits: a file holds at most :data:`MAX_USER_ROWS` data rows and :data:`MAX_USER_CSV_BYTES` bytes (a larger one
is refused before anything is written: split it). Plausibility: a conductivity (or a bound) outside
:data:`SIGMA_MIN_MS_CM`-:data:`SIGMA_MAX_MS_CM` mS/cm is refused unless forced (then kept, with a warning); a
formula that is not charge-neutral is kept with a warning naming its line and charge (the audit's charge model).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .. import __version__
from ..core.chemistry import parse_formula
from ..core.errors import InputError
from ..core.files import read_bytes_file
from .datasets import USER
from .literature import formula_facts, material_ids

REQUIRED_COLUMNS = ("formula", "sigma_mS_cm")
OPTIONAL_COLUMNS = ("temperature_K", "activation_energy_eV", "sigma_kind", "sigma_method", "ccd_mA_cm2", "process",
                    "anode", "doi", "note", "structure")
PROCESS_NAMES = ("MM", "HT", "SS")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_BOUND = re.compile(r"^\s*([<>])\s*(.+)$")

#: Most data rows one `db add` takes. On a 2-core machine (benchmarks/bench_db.py) 50,000 rows are added in 3-5 s,
#: removed in ~1 s and replayed by `db build` in 5-6 s; 100,000 rows are added in ~6 s. The limit keeps one file's
#: import, its removal and every later rebuild within seconds; a larger data set goes in as several files.
MAX_USER_ROWS = 100_000
#: Most user rows one database keeps over all its imports: `db build` replays every one of them (250,000 rows:
#: a 16 s rebuild, 0.9 GB peak memory, as the stored imports are read back whole before they are replayed).
MAX_USER_ROWS_TOTAL = 250_000
#: Largest user CSV (bytes): 100,000 rows with notes and DOIs fit in well under this.
MAX_USER_CSV_BYTES = 20_000_000
#: Plausible ionic conductivity (mS/cm) of a pellet: below 1e-12 mS/cm (1e-15 S/cm) no impedance measurement of a
#: pellet resolves an ionic conductivity (the sample is an insulator to the instrument); above 1e3 mS/cm (1 S/cm)
#: lies beyond every known lithium-ion conductor, solid or liquid (the best sulfides, Li10GeP2S12-type, reach
#: ~25 mS/cm; liquid electrolytes ~10-20 mS/cm): a value outside is a unit slip (S/cm for mS/cm, S/m, log10)
#: until the user says otherwise (``force``).
SIGMA_MIN_MS_CM = 1e-12
SIGMA_MAX_MS_CM = 1e3
#: How many rows a warning lists by file:line before it counts the rest.
MAX_LISTED_WARNINGS = 10


@dataclass
class UserRow:
    """One validated row: ``line`` is the CSV line (1 = header); ``values`` the cleaned fields."""

    line: int
    given: dict[str, str]
    formula: dict[str, float]
    values: dict
    structure_file: str | None = None
    structure_text: str | None = None


@dataclass
class UserImport:
    file_name: str
    sha256: str
    rows: list[UserRow] = field(default_factory=list)
    imported_at: str | None = None
    source_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)
    source_name: str | None = None  # the CSV as the user named it, for file:line in messages


def _number(text: str, where: str, column: str, low: float | None = None, high: float | None = None) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(where, f"{column}: not a number: {text!r}") from None
    if not math.isfinite(value):
        raise InputError(where, f"{column}: must be finite, got {text!r}")
    if low is not None and not value > low:
        raise InputError(where, f"{column}: must be greater than {low:g}, got {text!r}")
    if high is not None and not value < high:
        raise InputError(where, f"{column}: must be less than {high:g}, got {text!r}")
    return value


def validate_row(given: dict[str, str], where: str, formulas: dict[str, dict[str, float]] | None = None
                 ) -> tuple[dict[str, float], dict]:
    """(formula, measurement values) of one CSV row, or an :class:`InputError` naming ``where`` (file:line).
    ``formulas`` (formula text -> parsed formula), when given, parses each distinct text once over many rows."""
    formula_text = (given.get("formula") or "").strip()
    if not formula_text:
        raise InputError(where, "formula: empty")
    formula = formulas.get(formula_text) if formulas is not None else None
    if formula is None:
        formula = parse_formula(formula_text, source=f"{where}: formula")
        if formulas is not None:
            formulas[formula_text] = formula
    sigma_text = (given.get("sigma_mS_cm") or "").strip()
    if not sigma_text:
        raise InputError(where, "sigma_mS_cm: empty (give the conductivity in mS/cm, or a bound such as <1e-5)")
    values: dict = {"material_printed": formula_text, "sigma_printed": f"{sigma_text} mS/cm"}
    bound = _BOUND.match(sigma_text)
    if bound:
        values["sigma_bound"] = bound.group(1)
        values["sigma_bound_mS_cm"] = _number(bound.group(2), where, "sigma_mS_cm", low=0.0)
        values["sigma_censored"] = sigma_text
        values["sigma_mS_cm"] = None
    else:
        values["sigma_mS_cm"] = _number(sigma_text, where, "sigma_mS_cm", low=0.0)
    values["temperature_K"] = _number(given.get("temperature_K") or "", where, "temperature_K", low=0.0, high=2000.0)
    values["activation_energy_eV"] = _number(given.get("activation_energy_eV") or "", where, "activation_energy_eV",
                                             low=0.0, high=5.0)
    values["ccd_mA_cm2"] = _number(given.get("ccd_mA_cm2") or "", where, "ccd_mA_cm2", low=0.0)
    kind = (given.get("sigma_kind") or "").strip().lower() or "unspecified"
    if kind not in ("total", "bulk", "unspecified"):
        raise InputError(where, f"sigma_kind: {kind!r} is not total, bulk or unspecified")
    values["sigma_kind"] = kind
    process = (given.get("process") or "").strip()
    steps = [p.strip().upper() for p in process.split("+")] if process else []
    unknown = [p for p in steps if p not in PROCESS_NAMES]
    if unknown:
        raise InputError(where, f"process: {unknown[0]!r} is not one of MM (mechanical milling), HT (heat treatment), "
                                "SS (solid state); combine with +")
    values["process"] = process or None
    values["processes"] = json.dumps(steps)
    doi = (given.get("doi") or "").strip()
    if doi.lower().startswith(("https://doi.org/", "http://doi.org/", "doi:")):
        doi = doi.split("doi.org/", 1)[-1] if "doi.org/" in doi else doi[4:]
    if doi and not _DOI.match(doi):
        raise InputError(where, f"doi: {doi!r} is not a DOI (10.NNNN/...)")
    values["doi"] = doi.lower() or None
    for column in ("sigma_method", "anode", "note"):
        values[column] = (given.get(column) or "").strip() or None
    values["temperature_note"] = None if values["temperature_K"] is not None else "not given"
    return formula, values


def _sigma_out_of_range(values: dict) -> float | None:
    """The conductivity or bound (mS/cm) of a validated row when it lies outside the plausible range, else None."""
    sigma = values["sigma_mS_cm"] if values["sigma_mS_cm"] is not None else values.get("sigma_bound_mS_cm")
    if sigma is not None and not SIGMA_MIN_MS_CM <= sigma <= SIGMA_MAX_MS_CM:
        return sigma
    return None


def _listed(where: list[str]) -> str:
    shown = ", ".join(where[:MAX_LISTED_WARNINGS])
    return shown + (f" and {len(where) - MAX_LISTED_WARNINGS} more rows" if len(where) > MAX_LISTED_WARNINGS else "")


def plausibility(imp: UserImport, force: bool = False) -> list[str]:
    """Check an import's rows against what a measurement can be; returns warnings (one line each).

    A conductivity or bound outside SIGMA_MIN_MS_CM-SIGMA_MAX_MS_CM is an :class:`InputError` naming file:line and
    the column, or with ``force`` a warning. A formula that is not charge-neutral (the formal charge of the audit
    and of ``materials.charge_per_fu``, beyond its tolerance) or that has an element without an oxidation state is a
    warning naming its rows and the charge; each distinct formula is checked once."""
    warnings = []
    implausible = []
    for row in imp.rows:
        sigma = _sigma_out_of_range(row.values)
        if sigma is None:
            continue
        where = f"{imp.source_name or imp.file_name}:{row.line}"
        if not force:
            raise InputError(where, f"sigma_mS_cm: {row.given.get('sigma_mS_cm', '').strip()} mS/cm is outside the plausible "
                                    f"range {SIGMA_MIN_MS_CM:g} to {SIGMA_MAX_MS_CM:g} mS/cm (below: not measurable in a "
                                    "pellet; above 1 S/cm: beyond every known Li-ion conductor, a unit slip?); "
                                    "force=True / --force adds it anyway")
        implausible.append(where)
    if implausible:
        warnings.append(f"sigma_mS_cm outside the plausible range {SIGMA_MIN_MS_CM:g} to {SIGMA_MAX_MS_CM:g} mS/cm, "
                        f"added because forced: {_listed(implausible)}")
    by_text: dict[str, list[str]] = {}
    formulas: dict[str, dict[str, float]] = {}
    for row in imp.rows:
        text = row.values["material_printed"]
        by_text.setdefault(text, []).append(f"{imp.source_name or imp.file_name}:{row.line}")
        formulas.setdefault(text, row.formula)
    for text, places in by_text.items():
        facts = formula_facts(formulas[text])
        if facts["unknown_oxidation_states"]:
            warnings.append(f"{_listed(places)}: formula {text}: charge balance not checked (no oxidation state for "
                            f"{facts['unknown_oxidation_states']})")
        elif not facts["charge_neutral"]:
            warnings.append(f"{_listed(places)}: formula {text}: not charge-neutral ({facts['charge_per_fu']:+.3f} e per "
                            "formula unit)")
    return warnings


def read_user_csv(path: str | Path, force: bool = False) -> UserImport:
    """Read and validate a user CSV (see the module docstring); every problem is an :class:`InputError`
    naming ``file:line``, and a file beyond :data:`MAX_USER_ROWS` rows or :data:`MAX_USER_CSV_BYTES` bytes is
    refused. Implausible values are refused unless ``force`` (:func:`plausibility`); the import's ``warnings``
    say what was kept anyway. Structure files are read (not analysed) here."""
    import csv

    path = Path(path)
    size = path.stat().st_size if path.is_file() else 0
    if size > MAX_USER_CSV_BYTES:
        raise InputError(path, f"{size:,} bytes, over the {MAX_USER_CSV_BYTES:,}-byte limit of `db add`: split the file "
                               "and add the parts")
    data = read_bytes_file(path, MAX_USER_CSV_BYTES)  # the bytes: hashed as given (read_text would change CRLF inside quoted fields)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise InputError(f"{path}:1", "empty file: the first line must name the columns (formula,sigma_mS_cm,...)")
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{path}:1", f"missing column {missing[0]!r} (required: {', '.join(REQUIRED_COLUMNS)})")
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise InputError(f"{path}:1", f"unknown column {unknown[0]!r} (allowed: {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)})")
    result = UserImport(file_name=path.name, sha256=hashlib.sha256(data).hexdigest(), source_dir=path.parent)
    result.source_name = str(path)
    formulas: dict[str, dict[str, float]] = {}
    try:
        for row in reader:
            line = reader.line_num
            where = f"{path}:{line}"
            if None in row:
                raise InputError(where, f"{len(header) + len(row[None])} fields, the header has {len(header)}")
            given = {k: (v or "") for k, v in row.items()}
            if not any(v.strip() for v in given.values()):
                continue
            if len(result.rows) == MAX_USER_ROWS:
                raise InputError(where, f"more than {MAX_USER_ROWS:,} data rows: `db add` takes at most {MAX_USER_ROWS:,} "
                                        "rows a file; split the file and add the parts")
            formula, values = validate_row(given, where, formulas)
            user_row = UserRow(line=line, given=given, formula=formula, values=values)
            structure = given.get("structure", "").strip()
            if structure:
                structure_path = (path.parent / structure).resolve()
                if not structure_path.is_file():
                    raise InputError(where, f"structure: no such file {structure!r} (paths are relative to the CSV)")
                if structure_path.suffix.lower() not in (".cif", ".yaml", ".yml"):
                    raise InputError(where, f"structure: {structure!r} is not a .cif or refinement .yaml file")
                user_row.structure_file = structure_path.name
                user_row.structure_text = structure_path.read_text(encoding="utf-8")
            result.rows.append(user_row)
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}", f"malformed CSV: {exc}") from None
    if not result.rows:
        raise InputError(path, "no data rows")
    result.warnings = plausibility(result, force)
    return result


def stored_imports(conn) -> list[UserImport]:
    """The user imports stored in an open database (to replay them into a rebuilt one)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "user_imports" not in tables:
        return []
    out = []
    for import_id, file_name, sha256, imported_at in conn.execute(
            "SELECT id, file_name, sha256, imported_at FROM user_imports ORDER BY id").fetchall():
        imp = UserImport(file_name=file_name, sha256=sha256, imported_at=imported_at)
        formulas: dict[str, dict[str, float]] = {}
        for line, row_json, structure_file, structure_text in conn.execute(
                "SELECT line, row_json, structure_file, structure_text FROM user_rows WHERE import_id = ? ORDER BY line",
                (import_id,)).fetchall():
            given = json.loads(row_json)
            formula, values = validate_row(given, f"{file_name}:{line} (stored)", formulas)
            imp.rows.append(UserRow(line=line, given=given, formula=formula, values=values,
                                    structure_file=structure_file, structure_text=structure_text))
        out.append(imp)
    return out


#: The measurements columns a user row fills: validate_row's values, then the links insert_import adds.
MEASUREMENT_VALUE_COLUMNS = ("material_printed", "sigma_printed", "sigma_bound", "sigma_bound_mS_cm", "sigma_censored",
                             "sigma_mS_cm", "temperature_K", "activation_energy_eV", "ccd_mA_cm2", "sigma_kind", "process",
                             "processes", "doi", "sigma_method", "anode", "note", "temperature_note")
_LINK_COLUMNS = ("material_id", "source_id", "dataset", "dataset_row", "dataset_id", "structure_type", "structure_id",
                 "user_import_id")


def insert_import(db, imp: UserImport, materials: dict[str, int], insert_structure, structures: dict[int, dict]) -> int:
    """Store one import: its provenance, its rows as given, a source, and one measurement per row (with
    its structure, stored by ``insert_structure(**structures[line])``). Returns the import's id.

    Rows go in as batches (executemany) and each distinct formula is looked up once: a row costs a few
    microseconds, where one sqlite-utils insert per row (a savepoint each, a table lookup each) cost ~0.3 ms."""
    conn = db.conn
    imported_at = imp.imported_at or datetime.now(UTC).replace(microsecond=0).isoformat()
    import_id = db["user_imports"].insert({
        "file_name": imp.file_name, "sha256": imp.sha256, "imported_at": imported_at, "n_rows": len(imp.rows),
        "argyrodb_version": __version__,
    }).last_pk
    source_id = db["sources"].insert({
        "key": f"user:{imp.sha256[:16]}", "title": f"user data {imp.file_name}",
        "provenance": f"user data: {imp.file_name} (SHA-256 {imp.sha256}), added {imported_at} with `argyrodb db add`",
    }).last_pk
    conn.executemany("INSERT INTO user_rows (import_id, line, row_json, structure_file, structure_text) VALUES (?, ?, ?, ?, ?)",
                     ((import_id, row.line, json.dumps(row.given), row.structure_file, row.structure_text) for row in imp.rows))
    structure_ids = {}
    for row in imp.rows:
        if row.line in structures:
            structure_ids[row.line] = insert_structure(**structures[row.line], dataset=USER,
                                                       dataset_id=f"{imp.file_name}:{row.line}", user_import_id=import_id)
    material_of_row = material_ids(conn, [row.formula for row in imp.rows], materials)
    columns = MEASUREMENT_VALUE_COLUMNS + _LINK_COLUMNS
    conn.executemany(
        f"INSERT INTO measurements ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        ((*(row.values.get(c) for c in MEASUREMENT_VALUE_COLUMNS),
          material, source_id, USER, row.line, imp.file_name,
          "argyrodite" if row.line in structure_ids else None,  # a structure is analysed and required to be one
          structure_ids.get(row.line), import_id)
         for row, material in zip(imp.rows, material_of_row)))
    return import_id
