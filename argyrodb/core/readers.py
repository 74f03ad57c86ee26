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

from .chemistry import is_element
from .errors import InputError
from .files import read_text_file
from .refinement import (
    OccupancyConstraint,
    RefinedSite,
    Refinement,
    check_lattice_parameter,
)
from .symmetry import SPACE_GROUP_NUMBER, orbit, orbit_key, same_orbit

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


def read(source, name: str | None = None) -> Refinement:
    """A :class:`Refinement` from a path (``.yaml``/``.yml`` refinement file or ``.cif``), a pymatgen
    ``Structure`` or an ASE ``Atoms``. ``name`` overrides the name of an in-memory structure."""
    if isinstance(source, (str, Path)):
        return read_file(source)
    if hasattr(source, "lattice") and hasattr(source, "frac_coords") and hasattr(source, "sites"):
        return refinement_from_pymatgen(source, name=name)
    if hasattr(source, "get_scaled_positions") and hasattr(source, "cell"):
        return refinement_from_ase(source, name=name)
    raise InputError("structure", f"cannot read a {type(source).__name__} (a path, pymatgen Structure or ASE Atoms)")


def read_file(path: str | Path) -> Refinement:
    """Read ``path`` (``.yaml``/``.yml`` refinement file or ``.cif``) into a :class:`Refinement`."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise InputError(path, "not a regular file")
    text = read_text_file(path, MAX_FILE_BYTES)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return read_refinement_text(text, source=str(path))
    if suffix == ".cif":
        return read_cif_text(text, source=str(path))
    raise InputError(path, f"unknown file type {suffix!r} (expected .yaml, .yml or .cif)")


# --------------------------------------------------------------------------- numbers and checks


def _number(value, source: str, what: str, allow_none: bool = False) -> float | None:
    if value is None or (isinstance(value, str) and value.strip() in ("", "?", ".", "null")):
        if allow_none:
            return None
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


def _check_sites(sites: list[RefinedSite], source: str) -> None:
    if not sites:
        raise InputError(source, "no atom sites")
    if len(sites) > MAX_SITES:
        raise InputError(source, f"{len(sites)} sites, over the limit of {MAX_SITES}")
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
        b_iso = _number(values.get("b_iso"), source, f"{where} b_iso", allow_none=True)
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
    a = _number(lattice.get("a_angstrom"), source, "lattice a_angstrom", allow_none=True)
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
    value = block.find_value(tag)
    if value is None:
        return None
    import gemmi

    if gemmi.cif.is_null(value):
        return None
    return value


def _cif_number(text, source: str, what: str, allow_none: bool = False) -> float | None:
    if text is None:
        return _number(None, source, what, allow_none)
    import gemmi

    stripped = gemmi.cif.as_string(text).strip()
    if stripped in ("?", "."):
        return _number(None, source, what, allow_none)
    numeric = re.sub(r"\(\d+\)$", "", stripped)  # strip a standard uncertainty "9.8499(3)"
    return _number(numeric, source, what, allow_none)


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


def read_cif_text(text: str, source: str = "<cif>") -> Refinement:
    """Parse a CIF with (possibly partial) occupancies in space group F-43m."""
    import gemmi

    try:
        doc = gemmi.cif.read_string(text)
    except (RuntimeError, ValueError) as exc:
        raise InputError(source, f"malformed CIF: {str(exc).splitlines()[0] if str(exc) else 'parse error'}") from None
    blocks = [b for b in doc if b.find_value("_cell_length_a") is not None or b.find_loop("_atom_site_fract_x")]
    if not blocks:
        raise InputError(source, "malformed CIF: no data block with a cell and atom sites")
    block = blocks[0]

    cell = {}
    for tag in ("a", "b", "c"):
        cell[tag] = _cif_number(_cif_value(block, f"_cell_length_{tag}"), source, f"_cell_length_{tag}")
    for tag in ("alpha", "beta", "gamma"):
        cell[tag] = _cif_number(_cif_value(block, f"_cell_angle_{tag}"), source, f"_cell_angle_{tag}", True) or 90.0
    if max(cell["a"], cell["b"], cell["c"]) - min(cell["a"], cell["b"], cell["c"]) > 1e-3 or any(
        abs(cell[t] - 90.0) > 1e-3 for t in ("alpha", "beta", "gamma")
    ):
        raise InputError(
            source,
            "non-cubic cell (a, b, c = {a:g}, {b:g}, {c:g} A; angles {alpha:g}, {beta:g}, {gamma:g}): "
            "an F-43m argyrodite needs a = b = c and 90 degree angles".format(**cell),
        )
    check_lattice_parameter(cell["a"], source)

    number = None
    for tag in ("_space_group_IT_number", "_symmetry_Int_Tables_number"):
        value = _cif_value(block, tag)
        if value is not None:
            number = int(_cif_number(value, source, tag))
            break
    if number is None:
        for tag in ("_space_group_name_H-M_alt", "_symmetry_space_group_name_H-M"):
            value = _cif_value(block, tag)
            if value is not None:
                group = gemmi.find_spacegroup_by_name(gemmi.cif.as_string(value))
                if group is None:
                    raise InputError(source, f"unknown space group {gemmi.cif.as_string(value)!r}")
                number = group.number
                break
    if number is None:
        raise InputError(source, "no space group given (_space_group_IT_number or H-M symbol)")
    if number != SPACE_GROUP_NUMBER:
        raise InputError(source, f"space group {number} is not F-43m (216)")

    columns = {  # fract_x first: gemmi's find() needs a required leading tag
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

    keys = list(columns)
    sites = []
    for index, row in enumerate(table, start=1):
        cell_text = {key: (row[i] if present[key] else None) for i, key in enumerate(keys)}
        label = gemmi.cif.as_string(cell_text["label"]) if cell_text["label"] is not None else f"site{index}"
        where = f"site {label}"
        type_text = gemmi.cif.as_string(cell_text["type"]) if cell_text["type"] is not None else label
        element = _element_from_type(type_text)
        occupancy = _cif_number(cell_text["occupancy"], source, f"{where} occupancy", allow_none=True)
        b_iso = _cif_number(cell_text["b_iso"], source, f"{where} B_iso", allow_none=True)
        if b_iso is None:
            u_iso = _cif_number(cell_text["u_iso"], source, f"{where} U_iso", allow_none=True)
            b_iso = None if u_iso is None else u_iso * B_PER_U
        wyckoff = None
        if cell_text["wyckoff"] is not None and not gemmi.cif.is_null(cell_text["wyckoff"]):
            wyckoff = gemmi.cif.as_string(cell_text["wyckoff"])
            if cell_text["multiplicity"] is not None and not gemmi.cif.is_null(cell_text["multiplicity"]):
                wyckoff = gemmi.cif.as_string(cell_text["multiplicity"]) + wyckoff
        sites.append(
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
    sites, merged = _drop_symmetry_copies(sites)
    _check_sites(sites, source)

    formula_value = _cif_value(block, "_chemical_formula_sum")
    nominal = _spaced_formula(gemmi.cif.as_string(formula_value)) if formula_value is not None else ""
    provenance: dict[str, object] = {"file": Path(source).name, "cif_block": block.name}
    for tag, key in (
        ("_publ_section_title", "title"),
        ("_journal_name_full", "journal"),
        ("_journal_year", "year"),
        ("_journal_paper_doi", "doi"),
        ("_database_code_ICSD", "icsd"),
        ("_cod_database_code", "cod"),
        ("_argyrodb_provenance", "provenance"),
    ):
        value = _cif_value(block, tag)
        if value is not None:
            provenance[key] = " ".join(gemmi.cif.as_string(value).split())
    if merged:
        provenance["symmetry_equivalent_rows_dropped"] = ", ".join(merged)
    name_value = _cif_value(block, "_chemical_name_common")
    name = " ".join(gemmi.cif.as_string(name_value).split()) if name_value is not None else block.name
    return Refinement(
        name=name,
        nominal_formula=nominal,
        sites=sites,
        a_angstrom=cell["a"],
        a_note=f"from the CIF ({Path(source).name})",
        provenance=provenance,
        source_path=source,
    )


# --------------------------------------------------------------------------- in-memory structures


def _check_cubic(lengths, angles, source: str) -> float:
    a, b, c = (float(v) for v in lengths)
    if max(a, b, c) - min(a, b, c) > 1e-3 or any(abs(float(t) - 90.0) > 1e-3 for t in angles):
        raise InputError(source, f"non-cubic cell (a, b, c = {a:g}, {b:g}, {c:g} A; angles "
                                 f"{', '.join(f'{float(t):g}' for t in angles)}): an F-43m argyrodite needs a = b = c and 90 degree angles")
    return check_lattice_parameter(a, source)


def _rows_from_sites(sites: list[tuple[dict[str, float], tuple[float, float, float], float | None]], source: str) -> list[RefinedSite]:
    """Refinement rows from a full list of (species -> occupancy, fractional xyz, B) in the cell: one row
    per element on each distinct site. The listed sites must be whole F-43m orbits in the standard
    setting; anything else (another origin or setting, an ordered decoration) is refused here."""
    rows: list[RefinedSite] = []
    seen: dict[tuple, tuple[str, ...]] = {}
    listed_images = 0
    for index, (species, xyz, b) in enumerate(sites, start=1):
        xyz = tuple(float(v) % 1.0 for v in xyz)
        mix = tuple(sorted((el, round(occ, 6)) for el, occ in species.items() if occ > 0))
        key = (mix, orbit_key(xyz))
        listed_images += 1
        if key in seen:
            continue
        labels = []
        for element, occupancy in sorted((el, occ) for el, occ in species.items() if occ > 0):
            label = f"{element}{index}"
            labels.append(label)
            rows.append(RefinedSite(label=label, element=element, wyckoff_reported=None, x=xyz[0], y=xyz[1], z=xyz[2],
                                    occupancy=occupancy, b_iso_angstrom2=b, source_row=index))
        seen[key] = tuple(labels)
    orbit_images = sum(len(orbit(next(r.xyz for r in rows if r.label == labels[0]))) for labels in seen.values())
    if orbit_images != listed_images:
        raise InputError(source, f"{listed_images} sites listed, but the F-43m orbits of its {len(seen)} distinct sites "
                                 f"hold {orbit_images}: not an F-43m structure in the standard setting")
    return rows


def refinement_from_pymatgen(structure, name: str | None = None, source: str | None = None) -> Refinement:
    """A :class:`Refinement` from a (site-disordered) pymatgen ``Structure`` listing the whole cell in the
    standard F-43m setting. B (A^2) comes from the ``b_iso`` site property when present."""
    source = source or name or "pymatgen Structure"
    lattice = structure.lattice
    a = _check_cubic(lattice.abc, lattice.angles, source)
    b_values = structure.site_properties.get("b_iso") or [None] * len(structure)
    sites = []
    for site, b in zip(structure, b_values):
        species = {}
        for specie, occupancy in site.species.items():
            symbol = getattr(specie, "symbol", str(specie))
            if not is_element(symbol):
                raise InputError(source, f"unknown element {symbol!r}")
            species[symbol] = species.get(symbol, 0.0) + float(occupancy)
        sites.append((species, tuple(site.frac_coords), None if b is None else float(b)))
    rows = _rows_from_sites(sites, source)
    _check_sites(rows, source)
    formula = "".join(f"{el}{n:g}" for el, n in structure.composition.get_el_amt_dict().items())
    return Refinement(name=name or structure.composition.reduced_formula, nominal_formula="", sites=rows, a_angstrom=a,
                      a_note=f"from the {source}", provenance={"converted_from": source, "cell_content": formula},
                      source_path=source)


def refinement_from_ase(atoms, name: str | None = None) -> Refinement:
    """A :class:`Refinement` from an ASE ``Atoms`` (whole cell, standard F-43m setting). Partial
    occupancies written by ASE's CIF reader (``atoms.info['occupancy']`` keyed by atom tag) are kept."""
    source = name or "ASE Atoms"
    lengths = atoms.cell.cellpar()
    occupancy_info = atoms.info.get("occupancy") if hasattr(atoms, "info") else None
    tags = atoms.get_tags()
    if occupancy_info and not all(str(tag) in occupancy_info and symbol in occupancy_info[str(tag)]
                                  for tag, symbol in zip(tags, atoms.get_chemical_symbols())):
        # ASE's CIF reader keeps partial occupancies per site kind but (in ASE 3.2x) does not tag the atoms
        # with their kind: guessing would silently give a wrong composition
        raise InputError(source, "ASE Atoms with partial occupancies (atoms.info['occupancy']) whose atoms carry no "
                                 "matching tags: the occupancies cannot be assigned; read the CIF with argyrodb instead")
    sites = []
    for index, (symbol, xyz) in enumerate(zip(atoms.get_chemical_symbols(), atoms.get_scaled_positions(wrap=True))):
        species = {symbol: 1.0}
        if occupancy_info and str(tags[index]) in occupancy_info:
            species = {str(el): float(occ) for el, occ in occupancy_info[str(tags[index])].items()}
        sites.append((species, tuple(xyz), None))
    _check_cubic(lengths[:3], lengths[3:], source)
    rows = _rows_from_sites(sites, source)
    _check_sites(rows, source)
    return Refinement(name=name or atoms.get_chemical_formula(mode="reduce"), nominal_formula="", sites=rows,
                      a_angstrom=float(lengths[0]), a_note=f"from the {source}", provenance={"converted_from": source},
                      source_path=source)
