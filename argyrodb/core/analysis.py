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
* ``short_distance`` (warning) - two fully occupied sites closer than ``MIN_CONTACT_ANGSTROM``;
* ``lattice_estimated`` (info) - no lattice parameter in the file; the value used and how;
* ``nominal_formula`` (error or info) - the nominal formula cannot be read, or there is none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np

from .. import __version__
from .chemistry import (
    formal_charge,
    format_formula,
    molar_mass,
    ordered_elements,
    parse_formula,
)
from .errors import InputError
from .refinement import LatticeParameter, Refinement
from .sites import OCCUPANCY_SUM_TOLERANCE, Position, cell_composition, positions
from .symmetry import SPACE_GROUP_NUMBER, parse_wyckoff_symbol, spglib_module

#: Refined and nominal amounts per formula unit may differ by this much (absolute, per f.u.) plus
#: 2 % of the nominal amount before a mismatch is reported.
COMPOSITION_ABS_TOLERANCE = 0.02
COMPOSITION_REL_TOLERANCE = 0.02
#: A net formal charge above this (e per formula unit) is reported; four-decimal occupancies give
#: at most ~0.01 e of rounding noise per formula unit.
CHARGE_TOLERANCE = 0.05
#: No two fully occupied sites in a thiophosphate are closer than a P-S bond (~2.03 A); anything
#: below this is a coordinate or cell error.
MIN_CONTACT_ANGSTROM = 1.8
#: spglib tolerance (A): printed coordinates carry 4 decimals, ~0.001 A at a = 10 A.
SPGLIB_SYMPREC = 1e-3
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
#: Cations of the PS4-type tetrahedra on 4b: exactly one per formula unit, so they count the formula units.
FRAMEWORK_CATIONS = ("P", "Sn", "Ge", "Si", "Sb", "As", "Al", "Ga")


@dataclass(frozen=True)
class Problem:
    site: str | None
    kind: str
    severity: str  # "error", "warning" or "info"
    message: str
    data: dict = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict:
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

    def at(self, lattice: LatticeParameter) -> "AnalysedStructure":
        """The same structure analysed at another lattice parameter."""
        return analyse(self.refinement, lattice)

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
            "a_sigma_angstrom": None if self.lattice.sigma_angstrom is None else round(self.lattice.sigma_angstrom, 6),
            "a_source": self.lattice.source,
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
            beyond = " (more than the printed digits' rounding, {:.5f}, can explain)".format(allowance) if (
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
    """Shortest distance between every pair of fully occupied positions (minimum image in the cubic cell)."""
    full = [p for p in pos_list if abs(p.occupancy_sum * p.normalisation - 1.0) < 1e-6]
    rows = []
    for i, first in enumerate(full):
        for second in full[i:]:
            diff = first.images[:, None, :] - second.images[None, :, :]
            diff -= np.round(diff)
            d = a * np.sqrt(np.sum(diff**2, axis=-1)).ravel()
            if first is second:
                d = d[~np.isclose(d, 0.0, atol=1e-6)]
            if d.size == 0:
                continue
            shortest = float(d.min())
            rows.append({"between": [first.name, second.name], "distance_angstrom": round(shortest, 4)})
            if shortest < MIN_CONTACT_ANGSTROM:
                problems.append(
                    Problem(f"{first.name} / {second.name}", "short_distance", "warning",
                            f"fully occupied sites only {shortest:.3f} A apart (< {MIN_CONTACT_ANGSTROM} A)",
                            {"distance_angstrom": shortest})
                )
    return rows


def formula_units_per_cell(cell_amounts: dict[str, float], nominal: dict[str, float]) -> float:
    """Z: framework cations (P, Sn, Ge, Si, Sb... on 4b) in the cell over those per formula unit (the
    nominal formula's, else 1: an argyrodite has exactly one per formula unit); 4 without any."""
    in_cell = sum(cell_amounts.get(el, 0.0) for el in FRAMEWORK_CATIONS)
    per_unit = sum(nominal.get(el, 0.0) for el in FRAMEWORK_CATIONS) or 1.0
    return in_cell / per_unit if in_cell > 0 else 4.0


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


def analyse(refinement: Refinement, lattice: LatticeParameter | None = None) -> AnalysedStructure:
    """Analyse ``refinement`` at ``lattice`` (default: the refinement's reported lattice parameter).

    Never raises on inconsistent data: every problem is in ``problems``. A refinement without a lattice
    parameter needs ``lattice`` (``argyrodb.api.analyse`` supplies the lattice model's prediction).
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
    z = formula_units_per_cell(cell_amounts, nominal)
    per_fu = {el: n / z for el, n in cell_amounts.items()}

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
    if nominal and abs(nominal_charge) > 1e-6:
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
