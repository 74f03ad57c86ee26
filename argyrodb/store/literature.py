"""Literature and measurement data as records: the source's tables (``db/*.csv``, packaged as
``argyrodb/data/literature``), its reference list, and external datasets (OBELiX), with the derived
columns computed, never typed. Every reader takes the data folder (default: the packaged one).

Derived columns of a formula (:func:`formula_facts`): elements, chemical system (``Cl-I-Li-P-S``),
amounts per formula unit, halide content F+Cl+Br+I, I/(Cl+Br+I), normalised element fractions (the
key used to detect duplicates), formal charge per formula unit and a neutrality flag.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..core.chemistry import (
    HALOGENS,
    HEAVY_HALIDES,
    NEUTRAL_TOLERANCE,
    formal_charge,
    format_formula,
    ordered_elements,
    parse_formula,
)
from ..core.errors import InputError
from ..core.files import atomic_write_text, read_text_file
from ..core.resources import literature_folder
from .datasets import get as get_dataset

#: Element fractions are rounded to this many decimals in the duplicate-detection key.
FRACTION_DECIMALS = 3
#: Columns of per-element amounts stored on every material.
AMOUNT_COLUMNS = ("Li", "P", "S", "O", "Se", "F", "Cl", "Br", "I", "Si", "Ge", "Sn", "Sb")

#: The OBELiX dataset's licence and attribution, as its registry entry has them (:mod:`argyrodb.store.datasets`):
#: every row :func:`import_obelix` writes carries them.
OBELIX_LICENCE = get_dataset("obelix").licence
OBELIX_ATTRIBUTION = get_dataset("obelix").attribution


def formula_facts(formula: dict[str, float]) -> dict:
    """Derived, queryable facts of a formula (see the module docstring)."""
    elements = ordered_elements(formula)
    total = sum(formula.values())
    heavy = sum(formula.get(x, 0.0) for x in HEAVY_HALIDES)
    charge, unknown = formal_charge(formula)
    fractions = {el: round(formula[el] / total, FRACTION_DECIMALS) for el in sorted(formula)}
    facts = {
        "formula": format_formula(formula),
        "elements": "," + ",".join(sorted(elements)) + ",",
        "chemical_system": "-".join(sorted(elements)),
        "n_elements": len(elements),
        "amounts_json": json.dumps({el: formula[el] for el in elements}),
        "halide_total": round(sum(formula.get(x, 0.0) for x in HALOGENS), 6),
        "i_fraction": round(formula.get("I", 0.0) / heavy, 6) if heavy > 0 else None,
        "element_fractions_key": json.dumps(fractions, sort_keys=True),
        "charge_per_fu": round(charge, 6),
        "charge_neutral": int(abs(charge) <= NEUTRAL_TOLERANCE and not unknown),
        "unknown_oxidation_states": ",".join(unknown) or None,
    }
    for el in AMOUNT_COLUMNS:
        facts[el.lower()] = formula.get(el)
    return facts


def material_id(db, formula: dict[str, float], cache: dict[str, int]) -> int:
    """The ``materials`` row of ``formula`` (sqlite-utils database ``db``), inserted when new; ``cache``
    maps formula text to id (pre-fill it from the table when adding to an existing database)."""
    key = format_formula(formula)  # the facts (a charge model per call) only for a formula not seen yet
    if key not in cache:
        facts = formula_facts(formula)
        cache[key] = db["materials"].insert(facts).last_pk
    return cache[key]


def material_ids(conn, formulas: list[dict[str, float]], cache: dict[str, int]) -> list[int]:
    """:func:`material_id` of every formula in ``formulas`` (sqlite3 connection ``conn``), for bulk imports: each
    distinct formula is formatted, and when new analysed and inserted, once (a 50,000-row import of 1,000
    compositions computes 1,000 sets of facts, not 50,000)."""
    by_amounts: dict[tuple, int] = {}
    out = []
    for formula in formulas:
        amounts = tuple(formula.items())
        found = by_amounts.get(amounts)
        if found is None:
            key = format_formula(formula)
            found = cache.get(key)
            if found is None:
                facts = formula_facts(formula)
                columns = list(facts)
                found = conn.execute(f"INSERT INTO materials ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                                     [facts[c] for c in columns]).lastrowid
                cache[key] = found
            by_amounts[amounts] = found
        out.append(found)
    return out


def element_fractions(formula: dict[str, float]) -> dict[str, float]:
    total = sum(formula.values())
    return {el: n / total for el, n in formula.items()}


def composition_distance(a: dict[str, float], b: dict[str, float]) -> float:
    """Total-variation distance between two compositions' element fractions (0 = same, 1 = disjoint)."""
    fa, fb = element_fractions(a), element_fractions(b)
    return 0.5 * sum(abs(fa.get(el, 0.0) - fb.get(el, 0.0)) for el in set(fa) | set(fb))


def printed_resolution(printed: str | None, to_mS_cm: float = 1.0) -> float | None:
    """The unit of the last printed digit of a value, in mS/cm: '2.44' -> 0.01, '1.8E-3' (S/cm, ``to_mS_cm``
    1000) -> 0.1. None when nothing numeric was printed."""
    import re
    from decimal import Decimal, InvalidOperation

    if not printed:
        return None
    match = re.search(r"[0-9.]+(?:[eE][-+]?\d+)?", printed)
    if not match:
        return None
    try:
        exponent = Decimal(match.group(0)).as_tuple().exponent
    except InvalidOperation:
        return None
    if not isinstance(exponent, int):  # 'n', 'N', 'F': a NaN or an infinity has no last digit (the pattern admits none)
        return None
    return float(Decimal(1).scaleb(exponent)) * to_mS_cm


def same_within_printed_precision(a: float, resolution_a: float | None, b: float, resolution_b: float | None) -> bool:
    """Two printed values are the same number when they differ by at most half a unit of the coarser
    one's last digit (2.05 and 2.0500 are; 2.05 and 2.06 are not)."""
    coarse = max(r for r in (resolution_a, resolution_b, 0.0) if r is not None)
    return abs(a - b) <= 0.5 * coarse * (1 + 1e-9) + 1e-12 * max(abs(a), abs(b))


def find_duplicates(records: list[dict]) -> dict[int, tuple[int, str]]:
    """Measurements that repeat another one: ``{id: (id of the first, reason)}``.

    Two measurements are the same when their compositions are equal (normalised element fractions, so
    'Li6PS5Cl' and 'Li24P4S20Cl4' match), their conductivities agree within the printed precision of the
    coarser one, and - when both carry a DOI - the DOIs are equal (a different DOI is another
    measurement). Records: dicts with ``id, dataset, key, sigma_mS_cm, resolution_mS_cm, doi``; the first
    in list order is kept, so pass Table S3 before external datasets. Censored values are never
    duplicates (a bound is not a value).
    """
    kept: dict[str, list[dict]] = {}
    out = {}
    for record in records:
        sigma = record["sigma_mS_cm"]
        if sigma is None:
            continue
        match = None
        for earlier in kept.get(record["key"], []):
            if record["doi"] and earlier["doi"] and record["doi"].lower() != earlier["doi"].lower():
                continue
            if same_within_printed_precision(sigma, record["resolution_mS_cm"], earlier["sigma_mS_cm"], earlier["resolution_mS_cm"]):
                match = earlier
                break
        if match is None:
            kept.setdefault(record["key"], []).append(record)
            continue
        same_doi = bool(record["doi"] and match["doi"])
        out[record["id"]] = (match["id"], (
            f"same composition, sigma {sigma:g} vs {match['sigma_mS_cm']:g} mS/cm (equal within the printed precision)"
            + ("" if same_doi else "; no DOI on one side to tell them apart")
            + ("; same DOI" if same_doi else "")))
    return out


def structure_type_of_phase(primary_phase: str | None) -> str | None:
    """'argyrodite' for a Li6PS5X-type primary phase, 'other' for any other named phase, None if unknown."""
    if not primary_phase:
        return None
    return "argyrodite" if primary_phase.replace(" ", "").startswith("Li6PS5") else "other"


def structure_type_of_space_group(space_group_number) -> str | None:
    """Cubic argyrodites crystallise in F-43m (216); any other reported space group is another structure
    type (OBELiX's "argyrodite" family also holds Li6SiO4Cl2 in Pna2_1 and LiCe(BH4)3Cl in I-43m)."""
    try:
        number = int(float(space_group_number))
    except (TypeError, ValueError):
        return None
    return "argyrodite" if number == 216 else "other"


def read_csv_rows(path: Path, required: tuple[str, ...] = ()) -> list[dict[str, str]]:
    import io

    text = read_text_file(path)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV: {exc}") from None
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(path, f"missing column {missing[0]!r}")
    if not rows:
        raise InputError(path, "no rows")
    return rows


def significant(value: float, digits: int = 12) -> float:
    """``value`` to ``digits`` significant digits: a unit conversion's binary noise (2.0500000000000003) goes,
    the printed precision of any literature value stays."""
    return float(f"{value:.{digits}g}")


def optional_float(text: str | None, source: str, what: str) -> float | None:
    if text is None or text.strip() in ("", "-", "–"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(source, f"{what}: not a number: {text!r}") from None
    if not math.isfinite(value):
        raise InputError(source, f"{what}: not finite: {text!r}")
    return value


@dataclass
class LiteratureRow:
    """One Table S3 row with its provenance."""

    row: int
    material_printed: str
    formula: dict[str, float]
    correction_note: str | None
    primary_phase_printed: str
    primary_phase: str
    process_printed: str
    processes: list[str]
    sigma_mS_cm: float | None
    sigma_printed: str | None
    ccd_mA_cm2: float | None
    anode: str
    role: str
    ref: str
    own_work: bool
    note: str | None


def table_s3(db_dir: Path | None = None) -> list[LiteratureRow]:
    db_dir = Path(db_dir) if db_dir is not None else literature_folder()
    path = db_dir / "table_s3.csv"
    out = []
    for r in read_csv_rows(path):
        where = f"{path.name} row {r['row']}"
        out.append(
            LiteratureRow(
                row=int(r["row"]),
                material_printed=r["material_printed"],
                formula=parse_formula(r["formula_normalised"], source=where),
                correction_note=r["correction_note"] or None,
                primary_phase_printed=r["primary_phase_printed"],
                primary_phase=r["primary_phase"],
                process_printed=r["process_printed"],
                processes=[p for p in r["processes"].split(";") if p],
                sigma_mS_cm=optional_float(r["sigma_mS_cm"], where, "sigma_mS_cm"),
                sigma_printed=r["sigma_mS_cm"].strip() or None,
                ccd_mA_cm2=optional_float(r["ccd_mA_cm2"], where, "ccd_mA_cm2"),
                anode=r["anode"],
                role=r["role"],
                ref=r["ref"],
                own_work=r["own_work"].strip().lower() == "true",
                note=r["note"] or None,
            )
        )
    return out


def references(db_dir: Path | None = None) -> list[dict]:
    db_dir = Path(db_dir) if db_dir is not None else literature_folder()
    rows = read_csv_rows(db_dir / "references.csv")
    out = []
    for r in rows:
        out.append({
            "key": f"si-ref-{int(r['ref_number'])}",
            "ref_number": int(r["ref_number"]),
            "authors": r["authors"],
            "title": r["title"] or None,
            "journal": r["journal"],
            "year": int(r["year"]),
            "volume": r["volume"],
            "pages": r["pages"],
            "doi": r["doi"].strip().lower() or None,
            "licence": None,
            "attribution": None,
            "provenance": f"source SI reference list, entry {int(r['ref_number'])}",
        })
    return out


def source_reference(db_dir: Path | None = None) -> dict:
    db_dir = Path(db_dir) if db_dir is not None else literature_folder()
    import yaml

    with open(db_dir / "source.yaml", encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return {
        "key": data["key"], "ref_number": None, "authors": data["authors"], "title": " ".join(data["title"].split()),
        "journal": data.get("journal"), "year": data.get("year"), "volume": None, "pages": None,
        "doi": data.get("doi"), "licence": None, "attribution": None, "provenance": data["provenance"],
    }


# --------------------------------------------------------------------------- OBELiX

#: OBELiX "Family" values that mean argyrodite (the column is not a controlled vocabulary).
ARGYRODITE_FAMILY_NAMES = {"argyrodite", "argyrodites"}

OBELIX_COLUMNS = ("obelix_id", "formula", "reduced_composition", "true_composition", "z", "sigma_S_cm_printed",
                  "sigma_mS_cm", "sigma_censored", "sigma_kind", "space_group_number", "a_angstrom", "family_printed",
                  "family", "doi", "icsd_id", "licence", "attribution")


def normalise_family(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = " ".join(str(text).strip().lower().split())
    if cleaned in ARGYRODITE_FAMILY_NAMES:
        return "argyrodite"
    return cleaned or None


def _obelix_formula(row: dict, source: str) -> dict[str, float]:
    """Per formula unit: 'True Composition' (cell contents) divided by Z (parentheses-free)."""
    true = parse_formula(row["True Composition"], source=source)
    z = optional_float(row.get("Z"), source, "Z")
    if z is None:
        z = 1.0
    if z <= 0:
        raise InputError(source, f"Z must be positive, got {row.get('Z')!r}")
    return {el: round(n / z, 6) for el, n in true.items()}


def import_obelix(csv_path: Path) -> list[dict]:
    """Argyrodite-family rows of OBELiX's all.csv as argyrodb rows (licence and attribution on each).

    Conductivity: S/cm -> mS/cm; censored values such as '<1E-10' become NULL plus the printed text in
    ``sigma_censored``. ``sigma_kind`` is 'bulk' or 'total' when OBELiX fills those columns, else
    'unspecified'.
    """
    dataset = get_dataset("obelix")
    out = []
    required = ("ID", "Reduced Composition", "Z", "True Composition", "Ionic conductivity (S cm-1)", "Family", "DOI")
    for index, r in enumerate(read_csv_rows(Path(csv_path), required), start=2):
        family = normalise_family(r.get("Family"))
        if family != "argyrodite":
            continue
        where = f"{Path(csv_path).name} line {index} ({r.get('ID')})"
        printed = (r.get("Ionic conductivity (S cm-1)") or "").strip()
        censored = printed if printed.startswith(("<", ">")) else None
        sigma = None if censored else optional_float(printed, where, "ionic conductivity")
        if sigma is not None and sigma <= 0:
            censored, sigma = printed, None
        kind = "unspecified"
        if (r.get("IC (Bulk)") or "").strip():
            kind = "bulk"
        elif (r.get("IC (Total)") or "").strip():
            kind = "total"
        formula = _obelix_formula(r, where)
        icsd = optional_float(r.get("ICSD ID"), where, "ICSD ID")
        out.append({
            "obelix_id": r["ID"],
            "formula": format_formula(formula, decimals=6),
            "reduced_composition": r["Reduced Composition"],
            "true_composition": r["True Composition"],
            "z": r.get("Z"),
            "sigma_S_cm_printed": printed,
            "sigma_mS_cm": None if sigma is None else significant(sigma * 1000.0),
            "sigma_censored": censored,
            "sigma_kind": kind,
            "space_group_number": r.get("Space group #"),
            "a_angstrom": r.get("a"),
            "family_printed": r.get("Family"),
            "family": family,
            "doi": (r.get("DOI") or "").strip().lower() or None,
            "icsd_id": None if icsd is None else str(int(icsd)),
            "licence": dataset.licence,
            "attribution": dataset.attribution,
        })
    if not out:
        raise InputError(csv_path, "no argyrodite-family rows: is this OBELiX's all.csv?")
    return out


def write_obelix_rows(rows: list[dict], out_path: Path) -> Path:
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=OBELIX_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in OBELIX_COLUMNS})
    return atomic_write_text(out_path, buffer.getvalue())


def obelix_rows(db_dir: Path | None = None) -> list[dict]:
    """The OBELiX argyrodite rows shipped in db/obelix_argyrodites.csv."""
    db_dir = Path(db_dir) if db_dir is not None else literature_folder()
    path = db_dir / "obelix_argyrodites.csv"
    rows: list[dict[str, str | float | None]] = []
    for r in read_csv_rows(path):
        row: dict[str, str | float | None] = dict(r)
        for key in ("sigma_mS_cm",):
            value = optional_float(r[key], str(path), key)
            row[key] = None if value is None else significant(value)
        for key in ("sigma_censored", "doi", "icsd_id"):
            row[key] = r[key] or None
        rows.append(row)
    return rows
