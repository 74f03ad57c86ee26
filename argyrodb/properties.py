"""Composition per formula unit, formal charge, X-ray density and molar volume."""

from __future__ import annotations

from dataclasses import dataclass

from .chemistry import AVOGADRO_PER_MOL, formal_charge, molar_mass

#: 1 A^3 in cm^3.
CM3_PER_A3 = 1e-24


def formula_units_per_cell(cell_amounts: dict[str, float], nominal: dict[str, float]) -> float:
    """Z: P atoms in the cell over P per nominal formula unit (4 for an argyrodite).

    Argyrodites have exactly one P (on 4b) per formula unit, so P counts the formula units; for
    substituted formulas with less than one P per unit, P + the other tetrahedral cations are used.
    """
    framework = ("P", "Sn", "Ge", "Si", "Sb", "As", "Al", "Ga")
    in_cell = sum(cell_amounts.get(el, 0.0) for el in framework)
    per_unit = sum(nominal.get(el, 0.0) for el in framework)
    if in_cell > 0 and per_unit > 0:
        return in_cell / per_unit
    return 4.0


def density_g_cm3(cell_mass_g_mol: float, a_angstrom: float) -> float:
    """X-ray density rho = Z M / (N_A V) with Z M the mass of the cell contents (g/mol), V = a^3."""
    return cell_mass_g_mol / (AVOGADRO_PER_MOL * a_angstrom**3 * CM3_PER_A3)


def molar_volume_cm3_mol(a_angstrom: float, z: float) -> float:
    """V_m = N_A V / Z in cm^3 per mole of formula units."""
    return AVOGADRO_PER_MOL * a_angstrom**3 * CM3_PER_A3 / z


@dataclass(frozen=True)
class DensityResult:
    formula: dict[str, float]  # per formula unit
    z: float
    a_angstrom: float
    molar_mass_g_mol: float
    density_g_cm3: float
    molar_volume_cm3_mol: float
    volume_angstrom3: float

    def as_dict(self) -> dict:
        return {
            "formula_per_fu": {k: round(v, 6) for k, v in self.formula.items()},
            "z": self.z,
            "a_angstrom": self.a_angstrom,
            "volume_angstrom3": self.volume_angstrom3,
            "molar_mass_g_mol": self.molar_mass_g_mol,
            "density_g_cm3": self.density_g_cm3,
            "molar_volume_cm3_mol": self.molar_volume_cm3_mol,
        }


def density_of_formula(formula: dict[str, float], a_angstrom: float, z: float = 4.0) -> DensityResult:
    """Density and molar volume of ``z`` formula units of ``formula`` in a cubic cell of edge ``a``."""
    mass = molar_mass(formula)
    return DensityResult(
        formula=dict(formula),
        z=z,
        a_angstrom=a_angstrom,
        molar_mass_g_mol=mass,
        density_g_cm3=density_g_cm3(z * mass, a_angstrom),
        molar_volume_cm3_mol=molar_volume_cm3_mol(a_angstrom, z),
        volume_angstrom3=a_angstrom**3,
    )


def charge_per_fu(formula: dict[str, float]) -> tuple[float, list[str]]:
    """Net formal charge per formula unit (Li+, P5+, S2-, halide-, ...) and unknown elements."""
    return formal_charge(formula)
