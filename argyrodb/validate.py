"""Validation report of a refined argyrodite structure: every inconsistency, reported, never raised.

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
* ``lattice_estimated`` (info) - no lattice parameter in the file; the value used and how.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from . import __version__
from .build import OCCUPANCY_SUM_TOLERANCE, Position, build_structure, cell_composition, positions
from .chemistry import format_formula, ordered_elements, parse_formula
from .errors import InputError
from .lattice import vegard_a
from .model import Refinement
from .properties import charge_per_fu, density_of_formula, formula_units_per_cell
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


@dataclass
class Problem:
    site: str | None
    kind: str
    severity: str  # "error", "warning" or "info"
    message: str
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SiteSummary:
    name: str
    labels: list[str]
    species: dict[str, float]
    wyckoff_reported: list[str | None]
    wyckoff: str
    multiplicity: int
    xyz: tuple[float, float, float]
    occupancy_sum: float
    vacancy: float
    b_iso_angstrom2: float | None


@dataclass
class Report:
    name: str
    source: str
    nominal_formula: str
    a_angstrom: float
    a_source: str
    z: float
    formula_per_fu: dict[str, float]
    nominal_per_fu: dict[str, float]
    charge_per_fu: float
    nominal_charge_per_fu: float
    density_g_cm3: float
    nominal_density_g_cm3: float
    molar_volume_cm3_mol: float
    molar_mass_g_mol: float
    space_group_number: int | None
    space_group_symbol: str | None
    spglib_types: dict[str, str]
    sites: list[SiteSummary]
    distances: list[dict]
    problems: list[Problem]
    provenance: dict
    structure: object = field(default=None, repr=False)  # pymatgen Structure (None if not buildable)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

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
            "a_source": self.a_source,
            "volume_angstrom3": round(self.a_angstrom**3, 4),
            "density_g_cm3": round(self.density_g_cm3, 6),
            "nominal_density_g_cm3": round(self.nominal_density_g_cm3, 6),
            "molar_mass_g_mol": round(self.molar_mass_g_mol, 5),
            "molar_volume_cm3_mol": round(self.molar_volume_cm3_mol, 5),
            "charge_per_fu": round(self.charge_per_fu, 6),
            "nominal_charge_per_fu": round(self.nominal_charge_per_fu, 6),
            "spglib_types": self.spglib_types,
            "sites": [asdict(s) for s in self.sites],
            "shortest_distances": self.distances,
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
                labels=[r.label for r in pos.rows],
                species={el: round(o, 6) for el, o in pos.species().items()},
                wyckoff_reported=[r.wyckoff_reported for r in pos.rows],
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


def _spglib_check(structure, problems: list[Problem]) -> tuple[int | None, str | None, dict[str, str]]:
    spglib = spglib_module()
    mixes: dict[str, int] = {}
    types = []
    for site in structure:
        key = ", ".join(f"{sp.symbol}:{occ:.6f}" for sp, occ in sorted(site.species.items(), key=lambda t: t[0].symbol))
        types.append(mixes.setdefault(key, len(mixes) + 1))
    cell = (structure.lattice.matrix, structure.frac_coords, types)
    try:
        dataset = spglib.get_symmetry_dataset(cell, symprec=SPGLIB_SYMPREC)
    except Exception as exc:  # spglib raises its own SpglibError for degenerate cells
        problems.append(Problem(None, "space_group", "error", f"spglib failed: {exc}"))
        return None, None, {}
    type_map = {f"type {v}": k for k, v in mixes.items()}
    if dataset is None:
        problems.append(Problem(None, "space_group", "error", "spglib could not determine a space group"))
        return None, None, type_map
    number, symbol = int(dataset.number), str(dataset.international)
    if number != SPACE_GROUP_NUMBER:
        severity = "warning"  # the structure still builds; a supergroup or subgroup is worth a look, not a refusal
        problems.append(
            Problem(None, "space_group", severity,
                    f"spglib finds {symbol} ({number}), not F-43m (216), for the expanded structure",
                    {"spglib_number": number})
        )
    return number, symbol, type_map


def _distances(structure, pos_list: list[Position], problems: list[Problem]) -> list[dict]:
    full = [p for p in pos_list if abs(p.occupancy_sum * p.normalisation - 1.0) < 1e-6]
    rows = []
    lattice = structure.lattice
    for i, first in enumerate(full):
        for second in full[i:]:
            d = lattice.get_all_distances(first.images, second.images)
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


def validate(refinement: Refinement, a_angstrom: float | None = None) -> Report:
    """Analyse ``refinement`` and return its :class:`Report` (never raises on inconsistent data).

    ``a_angstrom`` overrides the file's lattice parameter; with neither, ``a`` is estimated by the
    Vegard rule of :mod:`argyrodb.lattice` and a ``lattice_estimated`` note is added.
    """
    source = refinement.source_path or refinement.name
    problems: list[Problem] = []

    try:
        nominal = parse_formula(refinement.nominal_formula, source=f"{source} nominal_formula")
    except InputError as exc:
        nominal = {}
        problems.append(Problem(None, "nominal_formula", "error", exc.problem))

    if a_angstrom is not None:
        a, a_source = float(a_angstrom), "given by the user (--a)"
    elif refinement.a_angstrom is not None:
        a, a_source = refinement.a_angstrom, f"reported: {refinement.a_note}" if refinement.a_note else "reported"
    else:
        if not nominal:
            bad = next((p.message for p in problems if p.kind == "nominal_formula"), "no nominal formula")
            raise InputError(source, f"{bad}; no lattice parameter to fall back on: give --a")
        estimate = vegard_a(nominal, source=source)
        a, a_source = estimate.a_angstrom, estimate.source
        problems.append(
            Problem(None, "lattice_estimated", "info",
                    f"no lattice parameter in the file ({refinement.a_note or 'not reported'}); "
                    f"using a = {a:.4f} A, {a_source}")
        )

    pos_list = positions(refinement)
    sites = _check_positions(pos_list, problems)
    _check_constraints(refinement, problems)

    cell_amounts = cell_composition(refinement)
    z = formula_units_per_cell(cell_amounts, nominal)
    per_fu = {el: n / z for el, n in cell_amounts.items()}

    for element in ordered_elements(set(per_fu) | set(nominal)):
        refined_n, nominal_n = per_fu.get(element, 0.0), nominal.get(element, 0.0)
        if not nominal:
            break
        if abs(refined_n - nominal_n) > COMPOSITION_ABS_TOLERANCE + COMPOSITION_REL_TOLERANCE * nominal_n:
            problems.append(
                Problem(element, "composition_mismatch", "warning",
                        f"refined {refined_n:.4f} {element} per formula unit vs nominal {nominal_n:g} "
                        f"({refined_n - nominal_n:+.4f}, {100 * (refined_n - nominal_n) / nominal_n:+.1f} %)"
                        if nominal_n else f"refined {refined_n:.4f} {element} per formula unit, absent from the nominal formula",
                        {"refined": refined_n, "nominal": nominal_n})
            )

    charge, unknown = charge_per_fu(per_fu)
    nominal_charge, nominal_unknown = charge_per_fu(nominal) if nominal else (0.0, [])
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

    refined_density = density_of_formula(per_fu, a, z)
    nominal_density = density_of_formula(nominal, a, z) if nominal else refined_density

    structure = None
    number = symbol = None
    type_map: dict[str, str] = {}
    distances: list[dict] = []
    if not any(p.over_filled for p in pos_list):
        structure = build_structure(refinement, a)
        number, symbol, type_map = _spglib_check(structure, problems)
        distances = _distances(structure, pos_list, problems)

    problems.sort(key=lambda p: SEVERITY_ORDER.get(p.severity, 3))
    return Report(
        name=refinement.name,
        source=source,
        nominal_formula=refinement.nominal_formula,
        a_angstrom=a,
        a_source=a_source,
        z=z,
        formula_per_fu=per_fu,
        nominal_per_fu=nominal,
        charge_per_fu=charge,
        nominal_charge_per_fu=nominal_charge,
        density_g_cm3=refined_density.density_g_cm3,
        nominal_density_g_cm3=nominal_density.density_g_cm3,
        molar_volume_cm3_mol=refined_density.molar_volume_cm3_mol,
        molar_mass_g_mol=refined_density.molar_mass_g_mol,
        space_group_number=number,
        space_group_symbol=symbol,
        spglib_types=type_map,
        sites=sites,
        distances=distances,
        problems=problems,
        provenance=dict(refinement.provenance),
        structure=structure,
    )
