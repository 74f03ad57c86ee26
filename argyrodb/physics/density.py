"""X-ray density and molar volume - the one place argyrodb computes them.

    rho = Z M / (N_A V),   V_m = N_A V / Z,   V = a^3

with Z formula units of molar mass M (g/mol) in a cubic cell of edge a (A; 1 A^3 = 1e-24 cm^3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np

from ..core.analysis import AnalysedStructure
from ..core.chemistry import AVOGADRO_PER_MOL, molar_mass
from ..core.errors import ParameterError

#: 1 A^3 in cm^3.
CM3_PER_A3 = 1e-24


@overload
def xray_density_g_cm3(cell_mass_g_mol: float, a_angstrom: float) -> float: ...
@overload
def xray_density_g_cm3(cell_mass_g_mol: np.ndarray, a_angstrom: np.ndarray) -> np.ndarray: ...


def xray_density_g_cm3(cell_mass_g_mol: float | np.ndarray, a_angstrom: float | np.ndarray) -> float | np.ndarray:
    """rho = (mass of the cell contents, g/mol) / (N_A a^3); elementwise for arrays."""
    return cell_mass_g_mol / (AVOGADRO_PER_MOL * a_angstrom**3 * CM3_PER_A3)


def molar_volume_cm3_mol(a_angstrom: float, z: float) -> float:
    """V_m = N_A a^3 / Z in cm^3 per mole of formula units."""
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


def density_of_formula(formula: dict[str, float], a_angstrom: float, z: float = 4.0) -> DensityResult:
    """Density and molar volume of ``z`` formula units of ``formula`` in a cubic cell of edge ``a``."""
    if not z > 0:
        raise ParameterError("z", f"formula units per cell must be positive, got {z:g}")
    mass = molar_mass(formula)
    return DensityResult(
        formula=dict(formula), z=z, a_angstrom=a_angstrom, molar_mass_g_mol=mass,
        density_g_cm3=xray_density_g_cm3(z * mass, a_angstrom),
        molar_volume_cm3_mol=molar_volume_cm3_mol(a_angstrom, z), volume_angstrom3=a_angstrom**3,
    )


@dataclass(frozen=True)
class StructureDensity:
    """Densities of an analysed structure: of its refined composition and of its nominal formula
    (both with the structure's Z and a)."""

    density_g_cm3: float
    nominal_density_g_cm3: float | None
    molar_volume_cm3_mol: float
    nominal_molar_mass_g_mol: float | None

    def as_dict(self) -> dict:
        """The densities as a JSON-ready mapping (g/cm^3 to 6 decimals, cm^3/mol to 5)."""
        return {"density_g_cm3": round(self.density_g_cm3, 6),
                "nominal_density_g_cm3": None if self.nominal_density_g_cm3 is None else round(self.nominal_density_g_cm3, 6),
                "molar_volume_cm3_mol": round(self.molar_volume_cm3_mol, 5)}


def structure_density(structure: AnalysedStructure) -> StructureDensity:
    """Refined and nominal X-ray densities of ``structure``."""
    refined = density_of_formula(structure.formula_per_fu, structure.a_angstrom, structure.z)
    nominal = density_of_formula(structure.nominal_per_fu, structure.a_angstrom, structure.z) if structure.nominal_per_fu else None
    return StructureDensity(refined.density_g_cm3, None if nominal is None else nominal.density_g_cm3,
                            refined.molar_volume_cm3_mol, None if nominal is None else nominal.molar_mass_g_mol)
