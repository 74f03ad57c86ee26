"""Browse the database with Datasette (optional extra: pip install 'argyrodb[serve]'), read-only, on
localhost by default, with titles, units and descriptions of every table and column."""

from __future__ import annotations

from pathlib import Path

from .database import DEFAULT_DB_PATH
from .errors import InputError

COLUMN_UNITS = {
    "sigma_mS_cm": "mS/cm", "ccd_mA_cm2": "mA/cm^2", "a_angstrom": "angstrom", "volume_angstrom3": "angstrom^3",
    "density_g_cm3": "g/cm^3", "nominal_density_g_cm3": "g/cm^3", "molar_volume_cm3_mol": "cm^3/mol",
    "b_iso_angstrom2": "angstrom^2", "two_theta_deg": "degree", "d_angstrom": "angstrom", "wavelength_angstrom": "angstrom",
    "r_ohm": "ohm", "c_F": "F", "cpe_t_F_s_alpha_minus_1": "F s^(alpha-1)", "rpm": "1/min",
    "effective_diameter_printed_m": "m", "charge_per_fu": "e per formula unit",
}
TABLE_DESCRIPTIONS = {
    "table_s3": ("Table S3 of the source", "Previously reported I-based argyrodites, row for row, with normalised formula and charge-neutrality flag."),
    "measurements_full": ("Measurements", "Every conductivity/CCD measurement with its material and reference."),
    "measurements": ("Measurements (raw)", "One material, many measurements: route, cell, reference, licence."),
    "materials": ("Materials", "One row per normalised formula with derived columns (elements, halide content, I/(Cl+Br+I), charge)."),
    "sources": ("References", "The source, its reference list, and external datasets' references (with licence/attribution)."),
    "structures": ("Structures", "Refined and reference F-43m structures with computed density and validation counts."),
    "structure_sites": ("Structure sites", "One row per refined site and species (Wyckoff letter from the coordinates)."),
    "structure_problems": ("Validation problems", "Every inconsistency the validator found, per structure."),
    "xrd_patterns": ("XRD patterns", "Settings and conventions of each stored simulated pattern."),
    "xrd_peaks": ("XRD peaks", "Simulated powder lines (Cu K-alpha1, 10-120 deg)."),
    "milling": ("Table S1", "Milling G-force table as printed."),
    "conditions": ("Experimental conditions", "Synthesis, pellet and cell conditions from the experimental section."),
    "eis_fits": ("Table S4", "Equivalent-circuit fits of the cells' impedance spectra."),
    "screen_runs": ("Screening runs", "One row per composition-screening request (settings, models, version)."),
    "screen_results": ("Screening results", "Per composition: lattice parameter, density, strongest line, nearest literature."),
    "screen_peaks": ("Screening peaks", "Simulated powder lines of every screened composition."),
    "schema_version": ("Schema version", "Versions of the database schema applied (see argyrodb/schema.sql)."),
}


def column_descriptions() -> dict[str, dict[str, str]]:
    """table -> column -> description, from schema.sql (a column's trailing comment) with the unit
    from its name where there is no comment."""
    import re

    from .database import SCHEMA_PATH

    out: dict[str, dict[str, str]] = {}
    table = None
    for line in SCHEMA_PATH.read_text(encoding="utf-8").splitlines():
        start = re.match(r"CREATE (?:TABLE|VIEW) (\w+)", line)
        if start:
            table = start.group(1)
            out[table] = {}
            continue
        if table is None or line.startswith(")"):
            table = None if line.startswith(")") else table
            continue
        column = re.match(r"\s+(\w+)\s+(INTEGER|REAL|TEXT)\b[^-]*(?:--\s*(.*))?$", line)
        if column and column.group(1).upper() not in ("PRIMARY", "UNIQUE", "FOREIGN", "CHECK"):
            name, _, comment = column.groups()
            text = comment or name.replace("_", " ")
            if name in COLUMN_UNITS:
                text += f" [{COLUMN_UNITS[name]}]"
            out[table][name] = text
    out["table_s3"] = {
        "row": "row of Table S3 (printed order)", "material": "material as printed", "primary_phase": "primary phase as printed",
        "process": "MM mechanical milling, HT heat treatment, SS solid-state synthesis", "sigma_mS_cm": "Li-ion conductivity [mS/cm]",
        "ccd_mA_cm2": "critical current density [mA/cm^2]; empty where the table has '-'", "anode": "anode material",
        "role": "role in a full cell", "ref": "reference number in the source (or This work)",
        "formula_normalised": "machine-readable formula (corrected where the printed one is garbled)",
        "charge_per_fu": "formal charge of the normalised formula [e per formula unit]",
        "charge_neutral": "1 if the normalised formula is charge-neutral", "correction_note": "why the formula was corrected",
    }
    return out


def datasette_metadata(database_name: str = "argyrodb") -> dict:
    tables = {}
    columns = column_descriptions()
    for name, (title, description) in TABLE_DESCRIPTIONS.items():
        tables[name] = {"title": title, "description": description, "units": {}, "columns": columns.get(name, {})}
    for table in tables.values():
        table["units"] = dict(COLUMN_UNITS)
    return {
        "title": "argyrodb",
        "description": "Lithium argyrodite solid electrolytes: literature, measurements, structures (read-only).",
        "license": "project data; OBELiX rows CC BY 4.0 (see attribution column)",
        "databases": {database_name: {"tables": tables}},
    }


def serve_command(db_path: str | Path | None, host: str, port: int, writable: bool) -> list[str]:
    """The datasette command line (immutable mode unless ``writable``)."""
    import importlib.util
    import json
    import sys
    import tempfile

    if importlib.util.find_spec("datasette") is None:
        raise InputError("db serve", "Datasette is not installed: pip install 'argyrodb[serve]'")
    path = Path(db_path) if db_path else DEFAULT_DB_PATH
    if not path.is_file():
        raise InputError(path, "no database here: run `argyrodb db build` first")
    meta = Path(tempfile.mkstemp(prefix="argyrodb-meta-", suffix=".json")[1])
    meta.write_text(json.dumps(datasette_metadata(path.stem)))
    mode = [str(path)] if writable else ["-i", str(path)]
    return [sys.executable, "-m", "datasette", "serve", *mode, "--host", host, "--port", str(port), "--metadata", str(meta)]
