"""Exports: tables as CSV/JSON, and structures as OPTIMADE structure entries.

OPTIMADE (v1.x structures endpoint): partial occupancy is written as species with
``concentration`` (a vacancy is the symbol ``"vacancy"``), ``structure_features`` holds
``"disorder"``, and argyrodb's own fields carry the provider prefix ``_argyrodb_`` in lower case.
Each entry is validated with optimade-python-tools' ``StructureResource`` model before writing.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from functools import reduce
from pathlib import Path

import numpy as np

from ..core.errors import InputError, ParameterError
from ..core.files import atomic_write_text
from ..core.refinement import RefinedSite, Refinement
from ..core.sites import positions as site_positions
from .connection import ReadOnlyDatabase

EXPORT_TABLES = ("table_s3", "measurements_full", "materials", "sources", "structures", "structure_sites",
                 "structure_problems", "xrd_peaks", "milling", "conditions", "eis_fits")
OPTIMADE_PREFIX = "_argyrodb_"
#: Fixed timestamp for reproducible exports: the data's transcription date, not the export time.
DATA_DATE = "2026-11-25T00:00:00Z"


def export_tables(out_dir: str | Path, fmt: str = "csv", db_path=None, tables=EXPORT_TABLES) -> list[Path]:
    out = Path(out_dir)
    if fmt not in ("csv", "json"):
        raise ParameterError("fmt", f"unknown export format {fmt!r} (csv or json)")
    unknown = [t for t in tables if t not in EXPORT_TABLES]
    if unknown:
        raise ParameterError("tables", f"unknown table {unknown[0]!r}")
    texts = {}
    with ReadOnlyDatabase(db_path) as db:  # read everything first: a failure writes nothing
        for table in tables:
            frame = db.dataframe(f'SELECT * FROM "{table}"')
            if table == "structures":
                frame = frame.drop(columns=["cif_text"])
            texts[table] = frame.to_csv(index=False) if fmt == "csv" else frame.to_json(orient="records", indent=1)
    out.mkdir(parents=True, exist_ok=True)
    return [atomic_write_text(out / f"{table}.{fmt}", text) for table, text in texts.items()]


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
    try:
        from optimade.models import StructureResource
    except ImportError:
        raise InputError("optimade", "optimade-python-tools is not installed: pip install 'argyrodb[optimade]'") from None

    entries = []
    with ReadOnlyDatabase(db_path) as db:
        structures = db.dataframe("SELECT * FROM structures ORDER BY id")
        sites = db.dataframe("SELECT * FROM structure_sites ORDER BY structure_id, rowid")
        measurements = db.dataframe(
            "SELECT material_id, sigma_mS_cm, ccd_mA_cm2 FROM measurements_full WHERE own_work = 1")
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
            "nsites": int(len(cartesian)),
            "species": species,
            "species_at_sites": species_names,
            "structure_features": ["disorder"],
            "space_group_it_number": 216,
            "space_group_symbol_hermann_mauguin": "F -4 3 m",
            f"{OPTIMADE_PREFIX}nominal_formula": row.nominal_formula,
            f"{OPTIMADE_PREFIX}a_angstrom": row.a_angstrom,
            f"{OPTIMADE_PREFIX}a_source": row.a_source,
            f"{OPTIMADE_PREFIX}density_g_cm3": row.density_g_cm3,
            f"{OPTIMADE_PREFIX}source_file": row.source_file,
            f"{OPTIMADE_PREFIX}dataset": row.dataset,
            f"{OPTIMADE_PREFIX}dataset_id": row.dataset_id,
            f"{OPTIMADE_PREFIX}caveat": row.caveat,
            f"{OPTIMADE_PREFIX}licence": row.licence,
            f"{OPTIMADE_PREFIX}attribution": row.attribution,
            f"{OPTIMADE_PREFIX}sigma_ms_cm": None if own.empty else float(own["sigma_mS_cm"].iloc[0]),
            f"{OPTIMADE_PREFIX}ccd_ma_cm2": None if own.empty or own["ccd_mA_cm2"].isna().iloc[0] else float(own["ccd_mA_cm2"].iloc[0]),
        }
        entry = {"id": "argyrodb-" + "_".join(str(row.name).split()), "type": "structures", "attributes": attributes}
        StructureResource(**entry)  # raises pydantic.ValidationError when the entry is not valid OPTIMADE
        entries.append(entry)
    return entries


def export_optimade(out_path: str | Path, db_path=None) -> Path:
    entries = optimade_entries(db_path)
    payload = {"data": entries, "meta": {"provider": {"prefix": "argyrodb", "name": "argyrodb"}, "data_returned": len(entries)}}
    return atomic_write_text(out_path, json.dumps(payload, indent=1))
