"""Read a refinement into a :class:`Refinement`: an argyrodb YAML refinement file, a CIF with partial
occupancies, a pymatgen ``Structure`` or an ASE ``Atoms``.

One entry point, :func:`read`, picks the reader from the input. Readers check what an input must get
right to be usable at all (parseable, known elements, finite numbers, occupancies in [0, 1], cubic
F-43m cell, every required column) and raise :class:`InputError` naming the file. Everything that is a
matter of crystallographic consistency (occupancy sums, Wyckoff letters, composition, charge) is left
to :mod:`argyrodb.core.analysis`, which reports instead of refusing.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from .chemistry import format_formula, is_element, parse_formula
from .errors import InputError, ParameterError
from .files import read_text_file
from .refinement import (
    OccupancyConstraint,
    RefinedSite,
    Refinement,
    check_lattice_parameter,
)
from .setting import (
    FRAMEWORK_CATIONS,
    CellListing,
    CellSite,
    Standardised,
    expand,
    merge_shared_positions,
    standardise,
)
from .symmetry import SPACE_GROUP_NUMBER, operations, same_orbit, xyz_triple

#: Files larger than this are refused before parsing (a refinement table is a few kB).
MAX_FILE_BYTES = 5_000_000
#: More site rows than this cannot be an argyrodite refinement.
MAX_SITES = 500
#: Isotropic displacement parameters above this (A^2) are not physical for a crystalline solid
#: (room-temperature B of mobile Li in argyrodites is 2-10 A^2).
MAX_B_ISO = 100.0

SITE_COLUMNS = ("label", "element", "wyckoff", "x", "y", "z", "occupancy", "b_iso", "source_row")
REQUIRED_SITE_COLUMNS = ("label", "element", "x", "y", "z", "occupancy")

#: U_iso -> B_iso: B = 8 pi^2 U (both in Angstrom^2).
B_PER_U = 8.0 * math.pi**2


def is_pymatgen_structure(obj) -> bool:
    """Duck-typed: a pymatgen ``Structure`` (without importing pymatgen)."""
    return hasattr(obj, "lattice") and hasattr(obj, "frac_coords") and hasattr(obj, "sites")


def read(source, name: str | None = None, block: str | None = None) -> Refinement:
    """A :class:`Refinement` from a path (``.yaml``/``.yml`` refinement file or ``.cif``; ``block`` names the
    CIF data block when there are several), a pymatgen ``Structure`` or an ASE ``Atoms``. ``name`` overrides
    the name of an in-memory structure."""
    if isinstance(source, (str, Path)):
        return read_file(source, block=block)
    if is_pymatgen_structure(source):
        return refinement_from_pymatgen(source, name=name)
    if hasattr(source, "get_scaled_positions") and hasattr(source, "cell"):
        return refinement_from_ase(source, name=name)
    raise InputError("structure", f"cannot read a {type(source).__name__} (a path, pymatgen Structure or ASE Atoms)")


def read_file(path: str | Path, block: str | None = None) -> Refinement:
    """Read ``path`` (``.yaml``/``.yml`` refinement file or ``.cif``, ``block`` its data block) into a
    :class:`Refinement`."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise InputError(path, "not a regular file")
    text = read_text_file(path, MAX_FILE_BYTES)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return read_refinement_text(text, source=str(path))
    if suffix == ".cif":
        return read_cif_text(text, source=str(path), block=block)
    raise InputError(path, f"unknown file type {suffix!r} (expected .yaml, .yml or .cif)")


# --------------------------------------------------------------------------- numbers and checks


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "?", ".", "null"))


def _optional_number(value, source: str, what: str) -> float | None:
    """None when ``value`` is missing (None, '', '?', '.', 'null'), else :func:`_number`."""
    return None if _is_missing(value) else _number(value, source, what)


def _number(value, source: str, what: str) -> float:
    if _is_missing(value):
        raise InputError(source, f"{what} is missing")
    if isinstance(value, bool):
        raise InputError(source, f"{what} is not a number: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(source, f"{what} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise InputError(source, f"{what} is not finite: {value!r}")
    return number


def _check_site(site: RefinedSite, source: str) -> None:
    where = f"site {site.label}"
    for what, value in (("occupancy", site.occupancy), ("x", site.x), ("y", site.y), ("z", site.z), ("B_iso", site.b_iso_angstrom2)):
        if value is not None and not math.isfinite(value):
            raise InputError(source, f"{where}: {what} is not finite ({value!r})")
    if not is_element(site.element):
        raise InputError(source, f"{where}: unknown element {site.element!r}")
    if site.occupancy < 0 or site.occupancy > 1 + 1e-9:
        raise InputError(source, f"{where}: occupancy {site.occupancy:g} outside [0, 1]")
    if site.b_iso_angstrom2 is not None and site.b_iso_angstrom2 < 0:
        raise InputError(source, f"{where}: negative B_iso {site.b_iso_angstrom2:g} A^2")
    if site.b_iso_angstrom2 is not None and site.b_iso_angstrom2 > MAX_B_ISO:
        raise InputError(source, f"{where}: B_iso {site.b_iso_angstrom2:g} A^2 is not physical (> {MAX_B_ISO:g})")
    for axis, value in zip("xyz", site.xyz):
        if abs(value) > 10:
            raise InputError(source, f"{where}: fractional coordinate {axis} = {value:g} is not a fraction")


def _check_site_count(n_sites: int, source: str) -> None:
    """More than MAX_SITES sites is refused before any symmetry work (spglib on 1,404 sites: ~10 s): a refinement
    table's rows, a CIF's rows and an in-memory cell's sites alike."""
    if n_sites > MAX_SITES:
        raise InputError(source, f"{n_sites} sites, over the limit of {MAX_SITES}")


def _check_sites(sites: list[RefinedSite], source: str) -> None:
    if not sites:
        raise InputError(source, "no atom sites")
    _check_site_count(len(sites), source)
    seen: set[str] = set()
    for site in sites:
        if site.label in seen:
            raise InputError(source, f"duplicate site label {site.label!r}")
        seen.add(site.label)
        _check_site(site, source)


# --------------------------------------------------------------------------- YAML refinement files


def _printed_site_rows(text: str) -> list[list[str]] | None:
    """The ``sites`` rows as the scalar texts written in the file (keeps '2.6070' as printed)."""
    import yaml

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if getattr(key, "value", None) == "sites" and isinstance(value, yaml.SequenceNode):
            rows = []
            for row in value.value:
                if isinstance(row, yaml.SequenceNode):
                    rows.append([getattr(cell, "value", "") for cell in row.value])
                else:
                    rows.append([])
            return rows
    return None


#: Refinement files nest flow collections two levels deep; far deeper nesting is refused before the
#: YAML parser spends seconds on it.
MAX_YAML_DEPTH = 50


def _flow_depth(text: str) -> int:
    """Deepest nesting of [ and { in the text (quotes ignored: an upper bound for the check)."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
    return deepest


def read_refinement_text(text: str, source: str = "<refinement>") -> Refinement:
    """Parse an argyrodb refinement file (format documented in ``structures/README.md``)."""
    import yaml

    if _flow_depth(text) > MAX_YAML_DEPTH:
        raise InputError(source, f"malformed YAML: nested too deeply (more than {MAX_YAML_DEPTH} levels)")
    try:
        data = yaml.safe_load(text)
        printed_rows = _printed_site_rows(text)
    except RecursionError:
        raise InputError(source, "malformed YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(source, f"malformed YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise InputError(source, "malformed refinement file: expected a mapping at the top level")
    for key in ("name", "nominal_formula", "sites"):
        if key not in data:
            raise InputError(source, f"missing required key {key!r}")

    columns = tuple(data.get("site_columns") or SITE_COLUMNS)
    if not all(isinstance(c, str) for c in columns):
        raise InputError(source, "site_columns must be a list of column names")
    unknown = [c for c in columns if c not in SITE_COLUMNS]
    if unknown:
        raise InputError(source, f"unknown site column {unknown[0]!r} (known: {', '.join(SITE_COLUMNS)})")
    missing = [c for c in REQUIRED_SITE_COLUMNS if c not in columns]
    if missing:
        raise InputError(source, f"missing site column {missing[0]!r}")

    rows = data["sites"]
    if not isinstance(rows, list):
        raise InputError(source, "'sites' must be a list of rows")
    sites = []
    for index, row in enumerate(rows, start=1):
        if isinstance(row, dict):
            values = {c: row.get(c) for c in columns}
            printed = {c: str(row.get(c)) for c in columns if row.get(c) is not None}
        elif isinstance(row, list):
            if len(row) != len(columns):
                raise InputError(
                    source, f"site row {index} has {len(row)} values, expected {len(columns)} ({', '.join(columns)})"
                )
            values = dict(zip(columns, row))
            texts = printed_rows[index - 1] if printed_rows and index - 1 < len(printed_rows) else []
            printed = dict(zip(columns, texts)) if len(texts) == len(columns) else {}
        else:
            raise InputError(source, f"site row {index} is neither a list nor a mapping")
        where = f"site row {index}"
        label = values.get("label")
        element = values.get("element")
        if label is None or str(label).strip() == "":
            raise InputError(source, f"{where}: missing label")
        if element is None or str(element).strip() == "":
            raise InputError(source, f"{where}: missing element")
        b_iso = _optional_number(values.get("b_iso"), source, f"{where} b_iso")
        source_row = values.get("source_row")
        sites.append(
            RefinedSite(
                label=str(label),
                element=str(element).strip(),
                wyckoff_reported=None if values.get("wyckoff") is None else str(values.get("wyckoff")),
                x=_number(values["x"], source, f"{where} x"),
                y=_number(values["y"], source, f"{where} y"),
                z=_number(values["z"], source, f"{where} z"),
                occupancy=_number(values["occupancy"], source, f"{where} occupancy"),
                b_iso_angstrom2=b_iso,
                source_row=None if source_row is None else int(_number(source_row, source, f"{where} source_row")),
                printed=printed,
            )
        )
    _check_sites(sites, source)

    lattice = data.get("lattice") or {}
    if not isinstance(lattice, dict):
        raise InputError(source, "'lattice' must be a mapping with a_angstrom and note")
    a = _optional_number(lattice.get("a_angstrom"), source, "lattice a_angstrom")
    check_lattice_parameter(a, source)
    group = data.get("space_group") or {}
    number = group.get("number", SPACE_GROUP_NUMBER) if isinstance(group, dict) else SPACE_GROUP_NUMBER
    if number != SPACE_GROUP_NUMBER:
        raise InputError(source, f"space group number {number} is not F-43m (216)")

    constraints = []
    labels = {s.label for s in sites}
    for c in data.get("constraints") or []:
        if not isinstance(c, dict) or "labels" not in c:
            raise InputError(source, "each constraint needs 'labels' and 'value'")
        missing_labels = [lab for lab in c["labels"] if lab not in labels]
        if missing_labels:
            raise InputError(source, f"constraint names unknown site {missing_labels[0]!r}")
        constraints.append(
            OccupancyConstraint(
                labels=tuple(str(lab) for lab in c["labels"]),
                value=_number(c.get("value", 1), source, "constraint value"),
                source=str(c.get("source", "")),
            )
        )

    provenance = data.get("provenance") or {}
    if not isinstance(provenance, dict):
        raise InputError(source, "'provenance' must be a mapping")
    rotations, translations, _ = operations()
    sites, settled, _ = settle_rows(sites, np.eye(3) * (a or 10.0), rotations, translations, source)
    provenance = {**provenance, **standardising_provenance(settled)}
    if settled.transformation:
        labels = {s.label for s in sites}
        constraints = [c for c in constraints if set(c.labels) <= labels]
    return Refinement(
        name=str(data["name"]),
        nominal_formula=str(data["nominal_formula"]),
        sites=sites,
        a_angstrom=a,
        a_note=str(lattice.get("note", "")),
        space_group_symbol=str(group.get("symbol", "F-43m")) if isinstance(group, dict) else "F-43m",
        space_group_number=SPACE_GROUP_NUMBER,
        provenance=provenance,
        constraints=constraints,
        source_path=source,
    )


# --------------------------------------------------------------------------- any setting -> argyrodb's


def rows_from_cell(sites: list[CellSite]) -> list[RefinedSite]:
    """Refinement rows from a cell listing in argyrodb's setting: one row per element on each distinct
    site (the first image of each orbit)."""
    rows: list[RefinedSite] = []
    kept: list[CellSite] = []
    used: set[str] = set()
    for index, site in enumerate(sites, start=1):
        if any(k.mix_key() == site.mix_key() and same_orbit(k.xyz, site.xyz) for k in kept):
            continue
        kept.append(site)
        species = sorted((el, occ) for el, occ in site.species.items() if occ > 0)
        parts = site.label.split("/")
        for k, (element, occupancy) in enumerate(species):
            label = parts[k] if len(parts) == len(species) and parts[k] else f"{element}{index}"
            while label in used:
                label += "'"
            used.add(label)
            rows.append(RefinedSite(label=label, element=element, wyckoff_reported=None, x=site.xyz[0], y=site.xyz[1],
                                    z=site.xyz[2], occupancy=occupancy, b_iso_angstrom2=site.b_iso_angstrom2,
                                    source_row=None))
    return rows


def settle_rows(rows: list[RefinedSite], lattice: np.ndarray, rotations: np.ndarray, translations: np.ndarray,
                source: str) -> tuple[list[RefinedSite], Standardised, list[str]]:
    """Rows read in some description (the file's lattice and symmetry operations) -> rows in argyrodb's
    F-43m setting (see :mod:`argyrodb.core.setting`). Returns (rows, what standardising did - the
    transformation, the conventional cubic a, the spglib tolerance -, the labels of dropped symmetry copies).
    Rows already in the setting are kept as read, symmetry copies dropped."""
    sites = merge_shared_positions([CellSite({r.element: r.occupancy}, r.xyz, r.b_iso_angstrom2, r.label) for r in rows])
    listing = CellListing(np.asarray(lattice, dtype=float), expand(sites, rotations, translations), source)
    result = standardise(listing)
    if result.transformation is None:
        kept, dropped = _drop_symmetry_copies(rows)
        return kept, result, dropped
    return rows_from_cell(result.sites), result, []


def standardising_provenance(result: Standardised) -> dict[str, object]:
    """The provenance entries that say what standardising did: the transformation, and the spglib tolerance
    with the largest displacement when F-43m needed more than the strict one (the analysis reports both)."""
    out: dict[str, object] = {}
    if result.transformation:
        out["setting_transformation"] = result.transformation
    note = result.tolerance_note()
    if note:
        out["symmetry_tolerance"] = note
        out["symmetry_tolerance_angstrom"] = result.symprec_angstrom
        out["symmetrisation_max_displacement_angstrom"] = result.max_displacement_angstrom
    return out


# --------------------------------------------------------------------------- CIF


_ELEMENT_PREFIX = re.compile(r"^([A-Z][a-z]?)")


def _element_from_type(text: str) -> str:
    """'Li1+' -> 'Li', 'S2-' -> 'S', 'CL' -> 'Cl'."""
    cleaned = text.strip()
    if len(cleaned) >= 2 and cleaned[:2].isupper() and cleaned[:2].isalpha():
        candidate = cleaned[0] + cleaned[1].lower()
        if is_element(candidate):
            return candidate
    match = _ELEMENT_PREFIX.match(cleaned)
    return match.group(1) if match else cleaned


def _cif_value(block, tag: str):
    import gemmi

    value = block.find_value(tag)
    if value is None or gemmi.cif.is_null(value):
        return None
    return value


def _cif_text(block, tag: str) -> str | None:
    import gemmi

    value = _cif_value(block, tag)
    return None if value is None else " ".join(gemmi.cif.as_string(value).split())


def _cif_numeric_text(text) -> str | None:
    """A CIF value without its standard uncertainty ("9.8499(3)" -> "9.8499"); None when absent, '?' or '.'."""
    if text is None:
        return None
    import gemmi

    stripped = gemmi.cif.as_string(text).strip()
    if stripped in ("?", "."):
        return None
    return re.sub(r"\(\d+\)$", "", stripped)


def _cif_number(text, source: str, what: str) -> float:
    return _number(_cif_numeric_text(text), source, what)


def _optional_cif_number(text, source: str, what: str) -> float | None:
    return _optional_number(_cif_numeric_text(text), source, what)


def _spaced_formula(text: str) -> str:
    """'Cl I Li6 P S5' or 'Li6 P S5 Cl' -> 'Li6PS5ClI' style (whitespace removed)."""
    return "".join(text.split())


def _drop_symmetry_copies(sites: list[RefinedSite]) -> tuple[list[RefinedSite], list[str]]:
    """CIFs that list a whole unit cell repeat each site at its symmetry-equivalent positions: keep the
    first row of each (element, occupancy, orbit) and name the dropped ones."""
    kept: list[RefinedSite] = []
    dropped: list[str] = []
    for site in sites:
        if any(k.element == site.element and abs(k.occupancy - site.occupancy) < 1e-6 and k.xyz != site.xyz
               and same_orbit(k.xyz, site.xyz) for k in kept):
            dropped.append(site.label)
        else:
            kept.append(site)
    return kept, dropped


_SYMOP_TAGS = ("_space_group_symop_operation_xyz", "_symmetry_equiv_pos_as_xyz")
_HALL_TAGS = ("_space_group_name_Hall", "_symmetry_space_group_name_Hall")
_HM_TAGS = ("_space_group_name_H-M_alt", "_symmetry_space_group_name_H-M", "_space_group_name_H-M")
_NUMBER_TAGS = ("_space_group_IT_number", "_symmetry_Int_Tables_number")


def _cif_operations(block, source: str) -> tuple[np.ndarray, np.ndarray, str, int | None]:
    """The file's symmetry operations (rotations, translations), a description, and the declared space
    group number: from the symmetry-operation loop, else the Hall symbol, else the H-M symbol or number."""
    import gemmi

    def arrays(ops) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([np.array(op.rot, dtype=float) / op.DEN for op in ops]),
                np.array([np.array(op.tran, dtype=float) / op.DEN for op in ops]))

    number = None
    for tag in _NUMBER_TAGS:
        value = _cif_value(block, tag)
        if value is not None:
            number = int(_cif_number(value, source, tag))
            break
    for tag in _SYMOP_TAGS:
        triplets = block.find_values(tag)
        if len(triplets):
            try:
                ops = [gemmi.Op(gemmi.cif.as_string(t)) for t in triplets]
            except (RuntimeError, ValueError) as exc:
                raise InputError(source, f"cannot read symmetry operation in {tag}: {exc}") from None
            return (*arrays(ops), f"{len(ops)} operations from {tag}", number)
    for tag in _HALL_TAGS:
        hall = _cif_text(block, tag)
        if hall:
            try:
                hall_ops = gemmi.symops_from_hall(hall)
            except (RuntimeError, ValueError):
                raise InputError(source, f"unknown Hall symbol {hall!r}") from None
            return (*arrays(list(hall_ops)), f"Hall symbol {hall}", number)
    group = None
    for tag in _HM_TAGS:
        name = _cif_text(block, tag)
        if name:
            group = gemmi.find_spacegroup_by_name(name)
            if group is None:
                raise InputError(source, f"unknown space group {name!r}")
            break
    if group is None and number is not None:
        group = gemmi.find_spacegroup_by_number(number)
    if group is None:
        raise InputError(source, "no space group given (symmetry operations, Hall or H-M symbol, or IT number)")
    return (*arrays(list(group.operations())), f"space group {group.hm} ({group.number})", number or group.number)


_ATOM_COLUMNS = {  # fract_x first: gemmi's find() needs a required leading tag
    "x": "_atom_site_fract_x",
    "label": "_atom_site_label",
    "type": "_atom_site_type_symbol",
    "y": "_atom_site_fract_y",
    "z": "_atom_site_fract_z",
    "occupancy": "_atom_site_occupancy",
    "b_iso": "_atom_site_B_iso_or_equiv",
    "u_iso": "_atom_site_U_iso_or_equiv",
    "wyckoff": "_atom_site_Wyckoff_symbol",
    "multiplicity": "_atom_site_symmetry_multiplicity",
}


def _aniso_b(block, source: str) -> dict[str, float]:
    """B_eq = 8 pi^2 (U11 + U22 + U33) / 3 per label from an anisotropic loop (cubic metric), or from
    B11, B22, B33 directly."""
    import gemmi

    out: dict[str, float] = {}
    for prefix, factor in (("_atom_site_aniso_U_", 8 * math.pi**2), ("_atom_site_aniso_B_", 1.0)):
        table = block.find("_atom_site_aniso_", ["label", prefix[len("_atom_site_aniso_"):] + "11",
                                                 prefix[len("_atom_site_aniso_"):] + "22", prefix[len("_atom_site_aniso_"):] + "33"])
        for row in table:
            values = [_optional_cif_number(row[i], source, f"{prefix}ii") for i in (1, 2, 3)]
            given = [v for v in values if v is not None]
            if len(given) == len(values):
                out[gemmi.cif.as_string(row[0])] = factor * sum(given) / 3
    return out


def number_repeated_labels(labels: list[str]) -> tuple[list[str], dict[str, int]]:
    """Labels with every repeated one numbered in file order ('Li', 'Li', 'S' -> 'Li1', 'Li2', 'S'; 'Li1' repeated
    -> 'Li1_1', 'Li1_2'), skipping names the file already uses; and how often each repeated label occurred."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    repeated = {label: n for label, n in counts.items() if n > 1}
    if not repeated:
        return list(labels), {}
    taken = set(counts)
    next_number = dict.fromkeys(repeated, 1)
    out = []
    for label in labels:
        if label not in repeated:
            out.append(label)
            continue
        stem = f"{label}_" if label[-1:].isdigit() else label
        while f"{stem}{next_number[label]}" in taken:
            next_number[label] += 1
        name = f"{stem}{next_number[label]}"
        taken.add(name)
        out.append(name)
    return out, repeated


def _atom_rows(block, source: str) -> tuple[list[RefinedSite], str | None]:
    """The atom-site rows of a CIF block, and a note when repeated labels were numbered (None otherwise)."""
    import gemmi

    columns = _ATOM_COLUMNS
    if block.find_loop("_atom_site_fract_x") is None and block.find_value("_atom_site_fract_x") is None:
        raise InputError(source, "missing column _atom_site_fract_x (no _atom_site_ loop)")
    tags = [tag[len("_atom_site_"):] if key == "x" else "?" + tag[len("_atom_site_"):] for key, tag in columns.items()]
    table = block.find("_atom_site_", tags)
    present = {key: table.has_column(i) for i, key in enumerate(columns)} if table is not None else {}
    if table is None or not len(table):
        raise InputError(source, "no _atom_site_ loop")
    for key in ("x", "y", "z"):
        if not present[key]:
            raise InputError(source, f"missing column {columns[key]}")
    if not present["label"] and not present["type"]:
        raise InputError(source, "missing column _atom_site_label (and no _atom_site_type_symbol)")
    aniso = _aniso_b(block, source)
    keys = list(columns)
    label_column = keys.index("label")
    read_labels = [gemmi.cif.as_string(row[label_column]) if present["label"] else f"site{index}"
                   for index, row in enumerate(table, start=1)]
    labels, repeated = number_repeated_labels(read_labels)
    ambiguous_aniso = sorted(label for label in repeated if label in aniso)
    rows = []
    for index, row in enumerate(table, start=1):
        cell_text = {key: (row[i] if present[key] else None) for i, key in enumerate(keys)}
        read_label, label = read_labels[index - 1], labels[index - 1]
        where = f"site {read_label} (row {index})" if read_label in repeated else f"site {label}"
        type_text = gemmi.cif.as_string(cell_text["type"]) if cell_text["type"] is not None else read_label
        element = _element_from_type(type_text)
        occupancy = _optional_cif_number(cell_text["occupancy"], source, f"{where} occupancy")
        b_iso = _optional_cif_number(cell_text["b_iso"], source, f"{where} B_iso")
        if b_iso is None:
            u_iso = _optional_cif_number(cell_text["u_iso"], source, f"{where} U_iso")
            b_iso = None if u_iso is None else u_iso * B_PER_U
        if b_iso is None and read_label not in repeated:  # a repeated label's aniso row fits any of its sites
            b_iso = aniso.get(read_label)
        wyckoff = None
        if cell_text["wyckoff"] is not None and not gemmi.cif.is_null(cell_text["wyckoff"]):
            wyckoff = gemmi.cif.as_string(cell_text["wyckoff"])
            if cell_text["multiplicity"] is not None and not gemmi.cif.is_null(cell_text["multiplicity"]):
                wyckoff = gemmi.cif.as_string(cell_text["multiplicity"]) + wyckoff
        rows.append(
            RefinedSite(
                label=label,
                element=element,
                wyckoff_reported=wyckoff,
                x=_cif_number(cell_text["x"], source, f"{where} x"),
                y=_cif_number(cell_text["y"], source, f"{where} y"),
                z=_cif_number(cell_text["z"], source, f"{where} z"),
                occupancy=1.0 if occupancy is None else occupancy,
                b_iso_angstrom2=b_iso,
                source_row=index,
                printed={k: gemmi.cif.as_string(v) for k, v in cell_text.items() if v is not None},
            )
        )
    note = None
    if repeated:
        renamed = []
        for label, n in repeated.items():
            names = [new for old, new in zip(read_labels, labels) if old == label]
            renamed.append(f"{label} x{n} -> {names[0]}..{names[-1]}")
        shown = ", ".join(renamed[:8]) + (f", and {len(renamed) - 8} more" if len(renamed) > 8 else "")
        note = (f"the file repeats atom-site labels; they were numbered in file order: {shown}"
                + (f"; the anisotropic displacement rows of {', '.join(ambiguous_aniso)} were not used (which site each "
                   "belongs to is ambiguous)" if ambiguous_aniso else ""))
    return rows, note


def _cell(block, source: str) -> tuple[dict[str, float], np.ndarray]:
    cell: dict[str, float] = {}
    for tag in ("a", "b", "c"):
        cell[tag] = _cif_number(_cif_value(block, f"_cell_length_{tag}"), source, f"_cell_length_{tag}")
        if not cell[tag] > 0:
            raise InputError(source, f"_cell_length_{tag} must be positive")
    for tag in ("alpha", "beta", "gamma"):
        cell[tag] = _optional_cif_number(_cif_value(block, f"_cell_angle_{tag}"), source, f"_cell_angle_{tag}") or 90.0
    import gemmi

    try:
        unit = gemmi.UnitCell(cell["a"], cell["b"], cell["c"], cell["alpha"], cell["beta"], cell["gamma"])
        matrix = np.array(unit.orth.mat.tolist()).T  # rows = lattice vectors a, b, c in angstrom
    except (RuntimeError, ValueError) as exc:
        raise InputError(source, f"impossible cell: {exc}") from None
    if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-6:
        raise InputError(source, "impossible cell (zero volume)")
    return cell, matrix


def cif_blocks(text: str, source: str = "<cif>") -> list:
    """The data blocks of a CIF that describe a structure (a cell and atom sites)."""
    import gemmi

    try:
        doc = gemmi.cif.read_string(text)
    except (RuntimeError, ValueError) as exc:
        raise InputError(source, f"malformed CIF: {str(exc).splitlines()[0] if str(exc) else 'parse error'}") from None
    blocks = [b for b in doc if b.find_value("_cell_length_a") is not None or b.find_loop("_atom_site_fract_x")]
    if not blocks:
        raise InputError(source, "malformed CIF: no data block with a cell and atom sites")
    return blocks


def read_cif_text(text: str, source: str = "<cif>", block: str | None = None) -> Refinement:
    """Parse a CIF with (possibly partial) occupancies of an F-43m structure in any description: the
    asymmetric unit with the file's symmetry (operation loop, Hall or H-M symbol, or number), a whole cell
    in P1, another origin or an inverted setting - all brought to argyrodb's setting
    (:mod:`argyrodb.core.setting`). A file with several structures needs ``block``."""
    blocks = cif_blocks(text, source)
    if block is not None:
        chosen = [b for b in blocks if b.name == block]
        if not chosen:
            raise ParameterError("block", f"{source} has no data block {block!r} (blocks: {', '.join(b.name for b in blocks)})")
        return refinement_from_block(chosen[0], source)
    if len(blocks) > 1:
        raise ParameterError("block", f"{source} holds {len(blocks)} structures ({', '.join(b.name for b in blocks)}): choose one")
    return refinement_from_block(blocks[0], source)


def read_cif_blocks(text: str, source: str = "<cif>") -> list[Refinement]:
    """Every structure of a CIF (one per data block)."""
    return [refinement_from_block(b, source) for b in cif_blocks(text, source)]


def _nominal_from_tag(formula: str, z_text: str | None) -> str:
    """The formula tag as a nominal formula when it is per formula unit of an argyrodite: divided by the
    file's Z, it holds one framework cation. '' otherwise (pymatgen writes the cell content there)."""
    try:
        amounts = parse_formula(formula, source="formula tag")
        z = float(str(z_text).split("(")[0]) if z_text else 1.0
    except (InputError, ValueError):
        return ""
    if not z > 0:
        return ""
    framework = sum(amounts.get(el, 0.0) for el in FRAMEWORK_CATIONS) / z
    if abs(framework - 1.0) > 0.02:
        return ""
    return format_formula({el: n / z for el, n in amounts.items()}, decimals=6)


def refinement_from_block(block, source: str) -> Refinement:
    """One CIF data block -> a :class:`Refinement` in argyrodb's setting."""
    cell, lattice = _cell(block, source)
    rotations, translations, symmetry, declared = _cif_operations(block, source)
    if declared is not None and 195 <= declared <= 230:
        lengths = (cell["a"], cell["b"], cell["c"])
        if max(lengths) - min(lengths) > 1e-3 or any(abs(cell[t] - 90.0) > 1e-3 for t in ("alpha", "beta", "gamma")):
            raise InputError(
                source,
                "non-cubic cell (a, b, c = {a:g}, {b:g}, {c:g} A; angles {alpha:g}, {beta:g}, {gamma:g}) for cubic "
                "space group {n}".format(n=declared, **cell),
            )
    rows, labels_numbered = _atom_rows(block, source)
    _check_sites(rows, source)  # elements, occupancies, numbers: before any symmetry work
    rows, settled, dropped = settle_rows(rows, lattice, rotations, translations, source)
    a = settled.a_angstrom
    check_lattice_parameter(a, source)
    _check_sites(rows, source)

    formula_sum = _cif_text(block, "_chemical_formula_sum")
    provenance: dict[str, object] = {"file": Path(source).name, "cif_block": block.name, "cif_symmetry": symmetry}
    texts: dict[str, str] = {}
    for tag, key in (
        ("_publ_section_title", "title"),
        ("_journal_name_full", "journal"),
        ("_journal_year", "year"),
        ("_journal_paper_doi", "doi"),
        ("_database_code_ICSD", "icsd"),
        ("_cod_database_code", "cod"),
        ("_argyrodb_provenance", "provenance"),
        ("_chemical_formula_sum", "cif_formula_sum"),
        ("_cell_formula_units_Z", "cif_formula_units_z"),
        ("_argyrodb_nominal_formula", "cif_argyrodb_nominal_formula"),
    ):
        value = _cif_text(block, tag)
        if value is not None:
            texts[key] = value
    provenance.update(texts)
    provenance.update(standardising_provenance(settled))
    if labels_numbered:
        provenance["labels_numbered"] = labels_numbered
    if dropped:
        provenance["symmetry_equivalent_rows_dropped"] = ", ".join(dropped)
    # The nominal formula: argyrodb's own tag, else the formula tag when it is per formula unit, else none -
    # then the refined composition stands alone.
    nominal = texts.get("cif_argyrodb_nominal_formula") or (
        _nominal_from_tag(formula_sum, texts.get("cif_formula_units_z")) if formula_sum else "")
    name = _cif_text(block, "_chemical_name_common") or block.name
    return Refinement(
        name=name,
        nominal_formula=str(nominal),
        sites=rows,
        a_angstrom=a,
        a_note=f"from the CIF ({Path(source).name})",
        provenance=provenance,
        source_path=source,
    )


# --------------------------------------------------------------------------- in-memory structures


def _listing_refinement(sites: list[CellSite], lattice: np.ndarray, name: str, source: str, provenance: dict) -> Refinement:
    """A whole cell (any setting) -> a Refinement in argyrodb's setting."""
    _check_site_count(len(sites), source)
    for site in sites:
        for element, occupancy in site.species.items():
            if not is_element(element):
                raise InputError(source, f"unknown element {element!r}")
            if not math.isfinite(occupancy):
                raise InputError(source, f"site {site.label}: occupancy is not finite ({occupancy!r})")
        for what, value in (("position", sum(site.xyz)), ("B_iso", site.b_iso_angstrom2)):
            if value is not None and not math.isfinite(value):
                raise InputError(source, f"site {site.label}: {what} is not finite ({value!r})")
    result = standardise(CellListing(np.asarray(lattice, dtype=float), merge_shared_positions(sites), source))
    rows = rows_from_cell(result.sites)
    check_lattice_parameter(result.a_angstrom, source)
    _check_sites(rows, source)
    provenance = {**provenance, **standardising_provenance(result)}
    return Refinement(name=name, nominal_formula="", sites=rows, a_angstrom=result.a_angstrom, a_note=f"from the {source}",
                      provenance=provenance, source_path=source)


def refinement_from_pymatgen(structure, name: str | None = None, source: str | None = None) -> Refinement:
    """A :class:`Refinement` from a (site-disordered) pymatgen ``Structure`` of an F-43m arrangement in any
    setting (whole cell, primitive cell, another origin). B (A^2) comes from the ``b_iso`` site property."""
    source = source or name or "pymatgen Structure"
    b_values = structure.site_properties.get("b_iso") or [None] * len(structure)
    sites = []
    for index, (site, b) in enumerate(zip(structure, b_values), start=1):
        species: dict[str, float] = {}
        for specie, occupancy in site.species.items():
            symbol = getattr(specie, "symbol", str(specie))
            species[symbol] = species.get(symbol, 0.0) + float(occupancy)
        label = site.properties.get("label") or f"{'/'.join(species)}{index}"
        sites.append(CellSite(species, xyz_triple(np.mod(site.frac_coords, 1.0)), None if b is None else float(b), str(label)))
    formula = "".join(f"{el}{n:g}" for el, n in structure.composition.get_el_amt_dict().items())
    return _listing_refinement(sites, np.asarray(structure.lattice.matrix, dtype=float), name or structure.composition.reduced_formula,
                               source, {"converted_from": source, "cell_content": formula,
                                        "displacement_parameters": "b_iso site property" if any(b is not None for b in b_values) else "none"})


def refinement_from_ase(atoms, name: str | None = None) -> Refinement:
    """A :class:`Refinement` from an ASE ``Atoms`` of an F-43m arrangement in any setting. Partial
    occupancies are kept when ``atoms.info['occupancy']`` can be assigned through the atoms' tags."""
    source = name or "ASE Atoms"
    occupancy_info = atoms.info.get("occupancy") if hasattr(atoms, "info") else None
    if occupancy_info and all(abs(float(occ) - 1.0) < 1e-9 for kind in occupancy_info.values() for occ in kind.values()):
        occupancy_info = None  # every site fully occupied: the atoms say it all
    tags = atoms.get_tags()
    if occupancy_info and not all(str(tag) in occupancy_info and symbol in occupancy_info[str(tag)]
                                  for tag, symbol in zip(tags, atoms.get_chemical_symbols())):
        # ASE's CIF reader keeps partial occupancies per site kind but (in ASE 3.2x) does not tag the atoms
        # with their kind: guessing would silently give a wrong composition
        raise InputError(source, "ASE Atoms with partial occupancies (atoms.info['occupancy']) whose atoms carry no "
                                 "matching tags: the occupancies cannot be assigned; read the CIF with argyrodb instead")
    sites = []
    for index, (symbol, xyz) in enumerate(zip(atoms.get_chemical_symbols(), atoms.get_scaled_positions(wrap=True)), start=1):
        species = {symbol: 1.0}
        if occupancy_info:
            species = {str(el): float(occ) for el, occ in occupancy_info[str(tags[index - 1])].items()}
        sites.append(CellSite(species, xyz_triple(xyz), None, f"{symbol}{index}"))
    return _listing_refinement(sites, np.asarray(atoms.cell[:], dtype=float), name or atoms.get_chemical_formula(mode="reduce"),
                               source, {"converted_from": source, "displacement_parameters": "none"})
