"""The analysed structure: a refinement with everything argyrodb derives from it, and every
inconsistency found, reported, never raised.

:func:`analyse` returns an immutable :class:`AnalysedStructure` - positions (rows grouped by site), the
lattice parameter with its source and uncertainty, Z, the composition per formula unit, the formal
charge, the space group found by spglib, the shortest distances and the list of problems. Every
consumer (the CIF writer, the XRD model, densities, the store, screening, exports) takes it.

Checks (each a named ``kind`` of :class:`Problem`):

* ``occupancy_sum_excess`` (error) - a site's occupancies sum clearly above 1;
* ``occupancy_normalised`` (warning) - a rounding excess within ``OCCUPANCY_SUM_TOLERANCE``,
  normalised to 1;
* ``vacancy`` (info) - a site's occupancies sum below 1: the vacancy fraction;
* ``constraint_violated`` (warning) - a constraint the refinement states (e.g. "total occupancy at
  each anion site set to unity") is not met by the printed numbers beyond their rounding;
* ``wyckoff_mismatch`` (warning) - the printed Wyckoff letter/multiplicity is not the one the
  coordinates have in the ITA setting of F-43m;
* ``space_group`` (error/warning) - spglib does not find F-43m (216) for the expanded structure,
  each distinct species-occupancy mix being one atom type;
* ``composition_mismatch`` (warning) - refined amount per formula unit differs from the nominal one;
* ``charge_imbalance`` (warning) - the refined (or nominal) formula is not neutral with Li+, P5+, S2-,
  halide-; ``unknown_oxidation_state`` (warning) when an element has no tabulated state;
* ``short_distance`` (info/warning/error) - a bond shorter or a contact closer than Shannon's radii allow,
  severity weighted by the occupancies (:mod:`argyrodb.core.contacts`);
* ``not_argyrodite`` (error; warning with ``force``) - the framework check fails (:mod:`argyrodb.core.framework`);
  ``unusual_site_sharing`` (warning) - a framework cation on a mobile-cation site;
* ``setting_transformed`` (info) - the input was in another setting, origin or cell; the transformation;
* ``symmetry_tolerance`` (info) - spglib found F-43m only at a tolerance wider than the strict 0.001 A (a cell
  relaxed by DFT): the tolerance, what the stricter ones found and the largest displacement of an atom from its
  symmetrised position;
* ``labels_numbered`` (info) - a CIF repeated atom-site labels (Multiwfn writes the bare element symbol); they
  were numbered;
* ``formula_tag_mismatch`` (warning), ``formula_tag_per_cell`` and ``z_differs`` (info) - a CIF's
  ``_chemical_formula_sum`` / ``_cell_formula_units_Z`` against the sites (Z counts framework cations);
* ``no_displacement_parameters`` (warning) - no B anywhere: powder patterns assume B = 0;
* ``lattice_estimated`` (info) - no lattice parameter in the file; the value used and how;
* ``nominal_formula`` (error or info) - the nominal formula cannot be read, or there is none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TypeVar

import numpy as np

from .. import __version__
from .chemistry import (
    formal_charge,
    format_formula,
    molar_mass,
    ordered_elements,
    parse_formula,
)
from .contacts import check_contacts, shortest_distance
from .errors import InputError, NotArgyrodite
from .framework import framework_reasons, framework_remarks
from .refinement import LatticeParameter, Refinement
from .setting import FRAMEWORK_CATIONS
from .sites import OCCUPANCY_SUM_TOLERANCE, Position, cell_composition, positions
from .symmetry import SPACE_GROUP_NUMBER, SPGLIB_SYMPREC, parse_wyckoff_symbol, spglib_module

#: Refined and nominal amounts per formula unit may differ by this much (absolute, per f.u.) plus
#: 2 % of the nominal amount before a mismatch is reported.
COMPOSITION_ABS_TOLERANCE = 0.02
COMPOSITION_REL_TOLERANCE = 0.02
#: A net formal charge above this (e per formula unit) is reported; four-decimal occupancies give
#: at most ~0.01 e of rounding noise per formula unit.
CHARGE_TOLERANCE = 0.05
#: A nominal formula's net formal charge beyond this (e per formula unit) is reported (formulas print
#: 2-3 decimals; OBELiX's per-cell tags give e.g. Li24.024 for Li6PS5Br, +0.006 e).
NOMINAL_CHARGE_TOLERANCE = 0.01
#: A CIF's formula tag and the sites agree when every amount does within this (relative) plus 0.02.
FORMULA_TAG_TOLERANCE = 0.02
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Problem:
    site: str | None
    kind: str
    severity: str  # "error", "warning" or "info"
    message: str
    data: dict = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict:
        """The problem as a JSON-ready mapping (site, kind, severity, message, data)."""
        return asdict(self)


@dataclass(frozen=True)
class SiteSummary:
    name: str
    labels: tuple[str, ...]
    species: dict[str, float]
    wyckoff_reported: tuple[str | None, ...]
    wyckoff: str
    multiplicity: int
    xyz: tuple[float, float, float]
    occupancy_sum: float
    vacancy: float
    b_iso_angstrom2: float | None


@dataclass(frozen=True, eq=False)
class AnalysedStructure:
    """A refinement analysed at one lattice parameter (see the module docstring). Immutable."""

    refinement: Refinement
    lattice: LatticeParameter
    positions: tuple[Position, ...]
    z: float
    cell_amounts: dict[str, float]
    formula_per_fu: dict[str, float]
    nominal_per_fu: dict[str, float]
    charge_per_fu: float
    nominal_charge_per_fu: float
    space_group_number: int | None
    space_group_symbol: str | None
    spglib_types: dict[str, str]
    sites: tuple[SiteSummary, ...]
    distances: tuple[dict, ...]
    problems: tuple[Problem, ...]

    @property
    def name(self) -> str:
        return self.refinement.name

    @property
    def source(self) -> str:
        return self.refinement.source_path or self.refinement.name

    @property
    def nominal_formula(self) -> str:
        return self.refinement.nominal_formula

    @property
    def provenance(self) -> dict:
        return dict(self.refinement.provenance)

    @property
    def a_angstrom(self) -> float:
        return self.lattice.a_angstrom

    @property
    def volume_angstrom3(self) -> float:
        return self.lattice.a_angstrom**3

    @property
    def molar_mass_g_mol(self) -> float:
        """Molar mass of the refined formula unit (g/mol)."""
        return molar_mass(self.formula_per_fu)

    @property
    def nominal_molar_mass_g_mol(self) -> float | None:
        return molar_mass(self.nominal_per_fu) if self.nominal_per_fu else None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def buildable(self) -> bool:
        """False when a site is over-filled: no structure (CIF, pattern, pymatgen) can be made of it."""
        return not any(p.over_filled for p in self.positions)

    def at(self, lattice: LatticeParameter) -> AnalysedStructure:
        """The same structure analysed at another lattice parameter (forced past the framework check if this
        one was)."""
        forced = any(p.kind == "not_argyrodite" and p.severity == "warning" for p in self.problems)
        return analyse(self.refinement, lattice, force=forced)

    @cached_property
    def pymatgen(self):
        """The site-disordered pymatgen ``Structure`` (conventional cell, Z = 4) with site properties
        ``label`` (row labels joined by '/'), ``wyckoff`` (from the coordinates) and ``b_iso`` (A^2)."""
        from pymatgen.core import Lattice, Structure

        if not self.buildable:
            raise InputError(self.source, "a site is over-filled: no structure can be built")
        species, coords, labels, letters, b_values = [], [], [], [], []
        for pos in self.positions:
            occupancy = {el: occ for el, occ in pos.species().items() if occ > 0}
            if not occupancy:
                continue
            b = pos.b_iso()
            for image in pos.images:
                species.append(occupancy)
                coords.append(image)
                labels.append("/".join(r.label for r in pos.rows))
                letters.append(pos.wyckoff.symbol)
                b_values.append(b)
        return Structure(Lattice.cubic(self.a_angstrom), species, coords,
                         site_properties={"label": labels, "wyckoff": letters, "b_iso": b_values})

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "nominal_formula": self.nominal_formula,
            "formula_per_fu": {k: round(v, 6) for k, v in self.formula_per_fu.items()},
            "nominal_formula_per_fu": self.nominal_per_fu,
            "z": self.z,
            "space_group_number": self.space_group_number,
            "space_group_symbol": self.space_group_symbol,
            "a_angstrom": round(self.a_angstrom, 6),
            **self.lattice.json_fields(),  # a_sigma_angstrom, a_source, a_kind, a_extrapolated(_because)
            "volume_angstrom3": round(self.volume_angstrom3, 4),
            "molar_mass_g_mol": round(self.molar_mass_g_mol, 5),
            "charge_per_fu": round(self.charge_per_fu, 6),
            "nominal_charge_per_fu": round(self.nominal_charge_per_fu, 6),
            "spglib_types": self.spglib_types,
            "sites": [asdict(s) for s in self.sites],
            "shortest_distances": list(self.distances),
            "problems": [p.as_dict() for p in self.problems],
            "provenance": self.provenance,
            "argyrodb_version": __version__,
        }


def _half_ulp(printed: str | None) -> float:
    """Half a unit in the last printed decimal ('0.3744' -> 5e-5); 5e-7 when the text is unknown."""
    if not printed:
        return 5e-7
    text = printed.split("(")[0].strip()
    if "." not in text:
        return 0.5
    return 0.5 * 10.0 ** (-len(text.split(".")[1]))


def _check_positions(pos_list: list[Position], problems: list[Problem]) -> list[SiteSummary]:
    summaries = []
    for pos in pos_list:
        summaries.append(
            SiteSummary(
                name=pos.name,
                labels=tuple(r.label for r in pos.rows),
                species={el: round(o, 6) for el, o in pos.species().items()},
                wyckoff_reported=tuple(r.wyckoff_reported for r in pos.rows),
                wyckoff=pos.wyckoff.symbol,
                multiplicity=pos.multiplicity,
                xyz=pos.rows[0].xyz,
                occupancy_sum=round(pos.occupancy_sum, 6),
                vacancy=round(max(0.0, 1.0 - pos.occupancy_sum), 6),
                b_iso_angstrom2=pos.b_iso(),
            )
        )
        for row in pos.rows:
            mult, letter = parse_wyckoff_symbol(row.wyckoff_reported)
            if letter is None and mult is None:
                continue
            wrong_letter = letter is not None and letter != pos.wyckoff.letter
            wrong_mult = mult is not None and mult != pos.multiplicity
            if wrong_letter or wrong_mult:
                problems.append(
                    Problem(
                        row.label,
                        "wyckoff_mismatch",
                        "warning",
                        f"reported {row.wyckoff_reported!r} but ({row.x:g}, {row.y:g}, {row.z:g}) is "
                        f"{pos.wyckoff.symbol} in F-43m (equivalent to "
                        f"({', '.join(f'{v:g}' for v in pos.wyckoff.standard_xyz)}), multiplicity {pos.multiplicity})",
                        {"reported": row.wyckoff_reported, "actual": pos.wyckoff.symbol},
                    )
                )
        total = pos.occupancy_sum
        if pos.over_filled:
            problems.append(
                Problem(pos.name, "occupancy_sum_excess", "error",
                        f"occupancies sum to {total:.4f} > 1 (beyond the rounding tolerance "
                        f"{OCCUPANCY_SUM_TOLERANCE}): the site is over-filled",
                        {"occupancy_sum": total})
            )
        elif total > 1.0 + 1e-9:
            allowance = sum(_half_ulp(r.printed.get("occupancy")) for r in pos.rows)
            beyond = f" (more than the printed digits' rounding, {allowance:.5f}, can explain)" if (
                total - 1.0 > allowance + 1e-12) else ""
            problems.append(
                Problem(pos.name, "occupancy_normalised", "warning",
                        f"occupancies sum to {total:.4f}; excess {total - 1:.4f}{beyond} normalised to 1",
                        {"occupancy_sum": total, "rounding_allowance": allowance})
            )
        elif total < 1.0 - 1e-9:
            problems.append(
                Problem(pos.name, "vacancy", "info",
                        f"occupancies sum to {total:.4f}: vacancy fraction {1 - total:.4f}",
                        {"occupancy_sum": total, "vacancy": 1 - total})
            )
    return summaries


def _check_constraints(refinement: Refinement, problems: list[Problem]) -> None:
    for constraint in refinement.constraints:
        rows = [refinement.site(label) for label in constraint.labels]
        total = sum(r.occupancy for r in rows)
        allowance = sum(_half_ulp(r.printed.get("occupancy")) for r in rows)
        if abs(total - constraint.value) > allowance + 1e-12:
            problems.append(
                Problem("/".join(constraint.labels), "constraint_violated", "warning",
                        f"stated constraint sum = {constraint.value:g} ({constraint.source or 'refinement file'}) "
                        f"but the printed occupancies sum to {total:.4f} (deviation {total - constraint.value:+.4f}, "
                        f"rounding allows {allowance:.5f})",
                        {"expected": constraint.value, "actual": total, "rounding_allowance": allowance})
            )


def _species_key(pos: Position) -> str:
    return ", ".join(f"{el}:{occ:.6f}" for el, occ in sorted(pos.species().items()) if occ > 0)


def _spglib_check(pos_list: list[Position], a: float, problems: list[Problem]) -> tuple[int | None, str | None, dict[str, str]]:
    """spglib on the expanded cell, each distinct species-occupancy mix one atom type."""
    spglib = spglib_module()
    mixes: dict[str, int] = {}
    coords, types = [], []
    for pos in pos_list:
        key = _species_key(pos)
        if not key:
            continue
        kind = mixes.setdefault(key, len(mixes) + 1)
        coords.append(pos.images)
        types.extend([kind] * len(pos.images))
    type_map = {f"type {v}": k for k, v in mixes.items()}
    if not coords:
        problems.append(Problem(None, "space_group", "error", "no occupied sites"))
        return None, None, type_map
    cell = (np.eye(3) * a, np.vstack(coords), types)
    try:
        dataset = spglib.get_symmetry_dataset(cell, symprec=SPGLIB_SYMPREC)
    except Exception as exc:  # spglib raises its own SpglibError for degenerate cells
        problems.append(Problem(None, "space_group", "error", f"spglib failed: {exc}"))
        return None, None, type_map
    if dataset is None:
        problems.append(Problem(None, "space_group", "error", "spglib could not determine a space group"))
        return None, None, type_map
    number, symbol = int(dataset.number), str(dataset.international)
    if number != SPACE_GROUP_NUMBER:
        # the structure still builds; a supergroup or subgroup is worth a look, not a refusal
        problems.append(
            Problem(None, "space_group", "warning",
                    f"spglib finds {symbol} ({number}), not F-43m (216), for the expanded structure",
                    {"spglib_number": number})
        )
    return number, symbol, type_map


def _distances(pos_list: list[Position], a: float, problems: list[Problem]) -> list[dict]:
    """Shortest distance between every pair of fully occupied positions (the report's list), and every
    bond or contact that Shannon's radii do not allow (problems, :mod:`argyrodb.core.contacts`)."""
    full = [p for p in pos_list if abs(p.occupancy_sum * p.normalisation - 1.0) < 1e-6]
    rows = []
    for i, first in enumerate(full):
        for second in full[i:]:
            d = shortest_distance(first, second, a)
            if d is not None:
                rows.append({"between": [first.name, second.name], "distance_angstrom": round(d, 4)})
    for contact in check_contacts(pos_list, a):
        problems.append(
            Problem(f"{contact.first} / {contact.second}", "short_distance", contact.severity,
                    f"{contact.first} and {contact.second}: {contact.message()}",
                    {"distance_angstrom": contact.distance_angstrom, "limit_angstrom": contact.limit_angstrom,
                     "elements": [contact.first_element, contact.second_element], "bond": contact.kind == "bond"})
        )
    return rows


def formula_units_per_cell(pos_list: list[Position], cell_amounts: dict[str, float], nominal: dict[str, float]) -> float:
    """Z. With a nominal formula: framework cations (P, Sn, Ge, Si, Sb... wherever they sit) in the cell over
    those per nominal formula unit. Without one: the framework cations on 4b (one per formula unit of an
    argyrodite); 4 when there are none (the framework check reports it)."""
    per_unit = sum(nominal.get(el, 0.0) for el in FRAMEWORK_CATIONS)
    if per_unit > 0:
        in_cell = sum(cell_amounts.get(el, 0.0) for el in FRAMEWORK_CATIONS)
        return in_cell / per_unit if in_cell > 0 else 4.0
    on_4b = sum(occ * p.multiplicity for p in pos_list if p.wyckoff.letter == "b"
                for el, occ in p.species().items() if el in FRAMEWORK_CATIONS)
    return on_4b if on_4b > 0 else 4.0


def _formula_units_in_tag(amounts: dict[str, float], cell_amounts: dict[str, float], z: float) -> float | None:
    """How many of argyrodb's formula units a formula tag counts, when its element ratios are those of the sites
    (each amount within ``FORMULA_TAG_TOLERANCE`` and 0.02, compared at the conventional cell's scale); None
    when the ratios differ."""
    per_fu_total = sum(cell_amounts.values()) / z if z else 0.0
    tag_total = sum(amounts.values())
    if not per_fu_total > 0 or not tag_total > 0:
        return None
    units = tag_total / per_fu_total
    scale = z / units
    keys = set(amounts) | set(cell_amounts)
    if all(abs(amounts.get(el, 0.0) * scale - cell_amounts.get(el, 0.0))
           <= 0.02 + FORMULA_TAG_TOLERANCE * cell_amounts.get(el, 0.0) for el in keys):
        return units
    return None


def _whole(value: float) -> bool:
    """A whole number (or the reciprocal of one) within ``FORMULA_TAG_TOLERANCE``."""
    for candidate in (value, 1.0 / value if value else 0.0):
        if candidate >= 1.0 - FORMULA_TAG_TOLERANCE and abs(candidate - round(candidate)) <= FORMULA_TAG_TOLERANCE * candidate:
            return True
    return False


def _formula_tag_problems(refinement: Refinement, cell_amounts: dict[str, float], z: float, problems: list[Problem]) -> None:
    """A CIF's _chemical_formula_sum and _cell_formula_units_Z against the sites.

    The tag agrees when it is the formula unit (Z of them per cell), the content of the conventional cell, the
    content of the cell the file describes (a supercell: pymatgen writes the whole cell, Li192P32S160Br32 with
    Z = 32 for 2x2x2 cells of Li6PS5Br), or any whole number of formula units (or a whole fraction of one) with
    the sites' element ratios. It disagrees - a warning - when the ratios differ or it counts a fractional
    number of formula units."""
    provenance = refinement.provenance
    tag = provenance.get("cif_formula_sum")
    z_text = provenance.get("cif_formula_units_z")
    z_file = None
    if z_text is not None:
        try:
            z_file = float(str(z_text).split("(")[0])
        except ValueError:
            z_file = None
    if tag:
        try:
            amounts = parse_formula(str(tag), source="_chemical_formula_sum")
        except InputError:
            amounts = {}

        def agrees(scale: float) -> bool:
            keys = set(amounts) | set(cell_amounts)
            return all(abs(amounts.get(el, 0.0) * scale - cell_amounts.get(el, 0.0))
                       <= 0.02 + FORMULA_TAG_TOLERANCE * cell_amounts.get(el, 0.0) for el in keys)

        units = _formula_units_in_tag(amounts, cell_amounts, z) if amounts else None
        if amounts and z_file and agrees(z_file):
            pass  # the CIF convention: Z formula units of the tag per cell
        elif amounts and agrees(1.0):
            if z_file not in (None, 1.0):
                problems.append(Problem(None, "formula_tag_per_cell", "info",
                                        f"_chemical_formula_sum '{tag}' is the content of the whole cell although "
                                        f"_cell_formula_units_Z = {z_file:g} (pymatgen's convention); Z = {z:g} from the framework"))
        elif units is not None and z_file not in (None, 1.0) and abs(units - z_file) <= FORMULA_TAG_TOLERANCE * z_file:
            problems.append(Problem(None, "formula_tag_per_cell", "info",
                                    f"_chemical_formula_sum '{tag}' is the content of the whole cell the file describes "
                                    f"({units:g} formula units, {units / z:g} conventional cells) although _cell_formula_units_Z = "
                                    f"{z_file:g} (pymatgen's convention); Z = {z:g} per conventional cell from the framework",
                                    {"tag": tag, "z_file": z_file, "formula_units_in_tag": units}))
        elif units is not None and _whole(units):
            pass  # a whole number of formula units (or a whole fraction of one) with the sites' ratios
        elif amounts:
            why = ("the element ratios differ" if units is None
                   else f"it counts {units:.4g} formula units, not a whole number")
            problems.append(Problem(None, "formula_tag_mismatch", "warning",
                                    f"_chemical_formula_sum '{tag}' (Z = {z_file if z_file is not None else '?'}) does not match "
                                    f"the sites ({why}): the cell holds {format_formula(cell_amounts)}",
                                    {"tag": tag, "z_file": z_file}))
    if z_file is not None and abs(z_file - z) > 1e-6:
        problems.append(Problem(None, "z_differs", "info",
                                f"the file's _cell_formula_units_Z = {z_file:g}; argyrodb counts Z = {z:g} formula units "
                                "(one framework cation on 4b each) and gives every amount per such unit"))


def reported_lattice(refinement: Refinement) -> LatticeParameter | None:
    """The refinement's own lattice parameter, if it has one."""
    if refinement.a_angstrom is None:
        return None
    note = f"reported: {refinement.a_note}" if refinement.a_note else "reported"
    return LatticeParameter(refinement.a_angstrom, note, "reported")


def nominal_composition(refinement: Refinement) -> dict[str, float]:
    """The nominal formula per formula unit ({} when the refinement has none); InputError when unreadable."""
    if not refinement.nominal_formula.strip():
        return {}
    return parse_formula(refinement.nominal_formula, source=f"{refinement.source_path or refinement.name} nominal_formula")


def analyse(refinement: Refinement, lattice: LatticeParameter | None = None, force: bool = False) -> AnalysedStructure:
    """Analyse ``refinement`` at ``lattice`` (default: the refinement's reported lattice parameter).

    Never raises on inconsistent data: every problem is in ``problems``. A refinement without a lattice
    parameter needs ``lattice`` (``argyrodb.api.analyse`` supplies the lattice model's prediction). A
    structure that is not an argyrodite gets an error problem ``not_argyrodite``; with ``force`` a warning.
    """
    source = refinement.source_path or refinement.name
    problems: list[Problem] = []
    try:
        nominal = nominal_composition(refinement)
        if not nominal:
            problems.append(Problem(None, "nominal_formula", "info",
                                    "no nominal formula: the refined composition is not compared with one"))
    except InputError as exc:
        nominal = {}
        problems.append(Problem(None, "nominal_formula", "error", exc.problem))

    if lattice is None:
        lattice = reported_lattice(refinement)
    if lattice is None:
        raise InputError(source, "no lattice parameter in the file and none given")
    if lattice.kind == "predicted":
        problems.append(
            Problem(None, "lattice_estimated", "info",
                    f"no lattice parameter in the file ({refinement.a_note or 'not reported'}); "
                    f"using a = {lattice.a_angstrom:.4f} A, {lattice.source}")
        )
    a = lattice.a_angstrom

    pos_list = positions(refinement)
    sites = _check_positions(pos_list, problems)
    _check_constraints(refinement, problems)

    cell_amounts = cell_composition(pos_list)
    z = formula_units_per_cell(pos_list, cell_amounts, nominal)
    per_fu = {el: n / z for el, n in cell_amounts.items()}
    _formula_tag_problems(refinement, cell_amounts, z, problems)
    for reason in framework_reasons(pos_list, a):
        problems.append(Problem(None, "not_argyrodite", "warning" if force else "error",
                                f"not an argyrodite: {reason}" + (" (proceeding because forced)" if force else "")))
    for remark in framework_remarks(pos_list):
        problems.append(Problem(None, "unusual_site_sharing", "warning", remark))
    transformation = refinement.provenance.get("setting_transformation")
    if transformation:
        problems.append(Problem(None, "setting_transformed", "info", f"brought to argyrodb's F-43m setting: {transformation}"))
    tolerance = refinement.provenance.get("symmetry_tolerance")
    if tolerance:
        problems.append(Problem(None, "symmetry_tolerance", "info", str(tolerance),
                                {"symprec_angstrom": refinement.provenance.get("symmetry_tolerance_angstrom"),
                                 "max_displacement_angstrom": refinement.provenance.get("symmetrisation_max_displacement_angstrom")}))
    numbered = refinement.provenance.get("labels_numbered")
    if numbered:
        problems.append(Problem(None, "labels_numbered", "info", str(numbered)))
    if all(r.b_iso_angstrom2 is None for r in refinement.sites):
        problems.append(Problem(None, "no_displacement_parameters", "warning",
                                "no displacement parameters (B or U) in the input: B = 0 assumed in powder patterns"))

    if nominal:
        for element in ordered_elements(set(per_fu) | set(nominal)):
            refined_n, nominal_n = per_fu.get(element, 0.0), nominal.get(element, 0.0)
            if abs(refined_n - nominal_n) > COMPOSITION_ABS_TOLERANCE + COMPOSITION_REL_TOLERANCE * nominal_n:
                problems.append(
                    Problem(element, "composition_mismatch", "warning",
                            f"refined {refined_n:.4f} {element} per formula unit vs nominal {nominal_n:g} "
                            f"({refined_n - nominal_n:+.4f}, {100 * (refined_n - nominal_n) / nominal_n:+.1f} %)"
                            if nominal_n else f"refined {refined_n:.4f} {element} per formula unit, absent from the nominal formula",
                            {"refined": refined_n, "nominal": nominal_n})
                )

    charge, unknown = formal_charge(per_fu)
    nominal_charge, nominal_unknown = formal_charge(nominal) if nominal else (0.0, [])
    for element in sorted(set(unknown) | set(nominal_unknown)):
        problems.append(Problem(element, "unknown_oxidation_state", "warning",
                                f"no formal oxidation state for {element}; charge balance ignores it"))
    if abs(charge) > CHARGE_TOLERANCE:
        problems.append(
            Problem(None, "charge_imbalance", "warning",
                    f"refined composition {format_formula(per_fu)} carries {charge:+.4f} e per formula unit "
                    f"(Li+, P5+, S2-, halide-)", {"charge_per_fu": charge})
        )
    if nominal and abs(nominal_charge) > NOMINAL_CHARGE_TOLERANCE:
        problems.append(
            Problem(None, "charge_imbalance", "warning",
                    f"nominal formula {refinement.nominal_formula} carries {nominal_charge:+.4f} e per formula unit",
                    {"nominal_charge_per_fu": nominal_charge})
        )

    number = symbol = None
    type_map: dict[str, str] = {}
    distances: list[dict] = []
    if not any(p.over_filled for p in pos_list):
        number, symbol, type_map = _spglib_check(pos_list, a, problems)
        distances = _distances(pos_list, a, problems)

    problems.sort(key=lambda p: SEVERITY_ORDER.get(p.severity, 3))
    return AnalysedStructure(
        refinement=refinement,
        lattice=lattice,
        positions=tuple(pos_list),
        z=z,
        cell_amounts=cell_amounts,
        formula_per_fu=per_fu,
        nominal_per_fu=nominal,
        charge_per_fu=charge,
        nominal_charge_per_fu=nominal_charge,
        space_group_number=number,
        space_group_symbol=symbol,
        spglib_types=type_map,
        sites=tuple(sites),
        distances=tuple(distances),
        problems=tuple(problems),
    )


#: An analysed structure of any subclass (the physics layer's public one): returned as given.
_Analysed = TypeVar("_Analysed", bound="AnalysedStructure")


def require_argyrodite(structure: _Analysed) -> _Analysed:
    """``structure``, or a :class:`~argyrodb.core.errors.NotArgyrodite` (an InputError) "not an argyrodite: <why>" (one
    line) when the framework check failed."""
    failed = [p for p in structure.problems if p.kind == "not_argyrodite" and p.severity == "error"]
    if failed:
        reasons = "; ".join(p.message.removeprefix("not an argyrodite: ") for p in failed)
        raise NotArgyrodite(structure.source, f"not an argyrodite: {reasons} (force=True / --force proceeds anyway)")
    return structure
