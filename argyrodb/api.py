"""The Python API in one place: read, validate, build, write, density.

>>> from argyrodb.api import analyse
>>> refinement, report = analyse("structures/LMA-Cl0.8I0.6.yaml")
>>> report.structure          # pymatgen Structure with fractional occupancies, Z = 4
>>> report.as_dict()["problems"]
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import InputError
from .model import Refinement
from .reading import read_structure
from .validate import Report, validate


def analyse(path: str | Path, a_angstrom: float | None = None) -> tuple[Refinement, Report]:
    """Read ``path`` and validate it; returns the refinement and its report (with ``.structure``)."""
    refinement = read_structure(path)
    return refinement, validate(refinement, a_angstrom=a_angstrom)


def load_structure(path: str | Path, a_angstrom: float | None = None):
    """The site-disordered pymatgen ``Structure`` of a refinement file or CIF."""
    refinement, report = analyse(path, a_angstrom)
    if report.structure is None:
        raise InputError(path, report.errors[0].message if report.errors else "structure cannot be built")
    return report.structure


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_filename(name: str, suffix: str) -> str:
    """A file name made from a structure name that cannot leave its folder ('../../x' -> 'x')."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "structure"
    return cleaned + suffix


def write_cif(refinement: Refinement, report: Report, target: str | Path, base_dir: str | Path | None = None) -> Path:
    """Write the CIF of ``refinement`` atomically. With ``base_dir``, the file name is made safe and
    kept inside ``base_dir``."""
    from .cif_writer import cif_text
    from .outputs import atomic_write_text

    target = Path(target)
    if base_dir is not None:
        base = Path(base_dir)
        base.mkdir(parents=True, exist_ok=True)
        target = base / safe_filename(refinement.name, ".cif")
    return atomic_write_text(target, cif_text(refinement, report))


def density_of(file_or_formula: str, a_angstrom: float | None = None, z: float = 4.0) -> dict:
    """Density and molar volume of a structure file (refined and nominal composition) or a formula."""
    from .chemistry import format_formula, parse_formula
    from .lattice import vegard_a
    from .properties import density_of_formula

    path = Path(file_or_formula)
    if path.suffix.lower() in (".yaml", ".yml", ".cif") or path.exists():
        refinement, report = analyse(path, a_angstrom)
        nominal = report.nominal_per_fu
        nominal_result = density_of_formula(nominal, report.a_angstrom, report.z) if nominal else None
        result = {
            "name": report.name,
            "input": str(path),
            "formula": format_formula(report.formula_per_fu),
            "z": report.z,
            "a_angstrom": report.a_angstrom,
            "a_source": report.a_source,
            "volume_angstrom3": report.a_angstrom**3,
            "molar_mass_g_mol": report.molar_mass_g_mol,
            "density_g_cm3": report.density_g_cm3,
            "molar_volume_cm3_mol": report.molar_volume_cm3_mol,
        }
        if nominal_result is not None:
            result.update(
                nominal_formula=report.nominal_formula,
                nominal_molar_mass_g_mol=nominal_result.molar_mass_g_mol,
                nominal_density_g_cm3=nominal_result.density_g_cm3,
                nominal_molar_volume_cm3_mol=nominal_result.molar_volume_cm3_mol,
            )
        return result
    formula = parse_formula(file_or_formula, source=file_or_formula)
    if a_angstrom is None:
        estimate = vegard_a(formula, source=file_or_formula)
        a, a_source = estimate.a_angstrom, estimate.source
    else:
        a, a_source = a_angstrom, "given by the user (--a)"
    if not (z > 0):
        raise InputError("--z", f"formula units per cell must be positive, got {z:g}")
    d = density_of_formula(formula, a, z)
    return {
        "name": file_or_formula,
        "input": file_or_formula,
        "formula": format_formula(formula),
        "z": z,
        "a_angstrom": a,
        "a_source": a_source,
        "volume_angstrom3": d.volume_angstrom3,
        "molar_mass_g_mol": d.molar_mass_g_mol,
        "density_g_cm3": d.density_g_cm3,
        "molar_volume_cm3_mol": d.molar_volume_cm3_mol,
    }


def xrd_pattern(structure, a_angstrom: float | None = None, **options):
    """Powder pattern of a file, Refinement, Report or pymatgen Structure (see :func:`argyrodb.xrd.simulate`)."""
    from .xrd import simulate

    return simulate(structure, a_angstrom=a_angstrom, **options)
