"""The public Python API of argyrodb: three nouns, a few verbs, four errors (``__all__``; nothing else here is
public, and nothing inside argyrodb imports this module).

>>> from argyrodb.api import Database, PatternConditions, analyse
>>> s = analyse("LMA-Cl0.8I0.6.yaml")           # a path (refinement file or any CIF), pymatgen Structure, ASE Atoms
>>> s.a_angstrom, s.lattice.source, s.formula_per_fu, s.problems
>>> s.density().density_g_cm3                    # X-ray density, g/cm^3
>>> s.cif("LMA.cif")                             # symmetric F-43m CIF that VESTA, pymatgen, ASE and gemmi read
>>> cu = PatternConditions(wavelength="CuKa12", two_theta_range=(10, 80))   # set once
>>> s.pattern(cu).peaks                          # pandas DataFrame of lines
>>> s.at(10.0).density()                         # the same refinement at another a (Å)
>>> db = Database("argyrodb.sqlite"); db.build(); db.query("I>0,sigma_mS_cm>=5"); db.compare("Li6PS5Cl")

Names are bound when first used (PEP 562), so ``import argyrodb.api`` and ``argyrodb --help`` stay fast; the
``TYPE_CHECKING`` block below binds the same names for type checkers, IDEs and linters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core.errors import ArgyrodbError, InputError, ParameterError, ValidationFailed
from .core.lazy import lazy_getattr as _lazy_getattr

if TYPE_CHECKING:
    from .audit import run_audit as audit
    from .core.analysis import Problem
    from .core.readers import read
    from .core.refinement import Refinement
    from .core.resources import structure_files
    from .database import Database, identify, screen
    from .physics.density import StructureDensity, density_of_formula
    from .physics.eis import fit as fit_eis
    from .physics.eis import read_spectrum
    from .physics.lattice import predict as predict_lattice
    from .physics.pattern_data import read_powder_data as read_pattern
    from .physics.structure import AnalysedStructure, analyse
    from .physics.xrd import Pattern, PatternConditions
    from .pipeline.refine import refine_pattern as refine
    from .screening.screener import ScreenSettings
    from .store.queries import MeasurementFilter

#: public name -> (module, attribute); kept equal to the TYPE_CHECKING block and to __all__ by tests/test_api.py
_LAZY: dict[str, tuple[str, str]] = {
    "AnalysedStructure": ("argyrodb.physics.structure", "AnalysedStructure"),
    "PatternConditions": ("argyrodb.physics.xrd", "PatternConditions"),
    "Pattern": ("argyrodb.physics.xrd", "Pattern"),
    "Database": ("argyrodb.database", "Database"),
    "Refinement": ("argyrodb.core.refinement", "Refinement"),
    "Problem": ("argyrodb.core.analysis", "Problem"),
    "StructureDensity": ("argyrodb.physics.density", "StructureDensity"),
    "ScreenSettings": ("argyrodb.screening.screener", "ScreenSettings"),
    "MeasurementFilter": ("argyrodb.store.queries", "MeasurementFilter"),
    "read": ("argyrodb.core.readers", "read"),
    "analyse": ("argyrodb.physics.structure", "analyse"),
    "refine": ("argyrodb.pipeline.refine", "refine_pattern"),
    "screen": ("argyrodb.database", "screen"),
    "identify": ("argyrodb.database", "identify"),
    "fit_eis": ("argyrodb.physics.eis", "fit"),
    "read_spectrum": ("argyrodb.physics.eis", "read_spectrum"),
    "read_pattern": ("argyrodb.physics.pattern_data", "read_powder_data"),
    "audit": ("argyrodb.audit", "run_audit"),
    "predict_lattice": ("argyrodb.physics.lattice", "predict"),
    "density_of_formula": ("argyrodb.physics.density", "density_of_formula"),
    "structure_files": ("argyrodb.core.resources", "structure_files"),
}

__all__ = [
    # nouns
    "AnalysedStructure",
    # errors
    "ArgyrodbError",
    "Database",
    "InputError",
    "MeasurementFilter",
    "ParameterError",
    "Pattern",
    "PatternConditions",
    "Problem",
    "Refinement",
    "ScreenSettings",
    "StructureDensity",
    "ValidationFailed",
    # verbs
    "analyse",
    "audit",
    "density_of_formula",
    "fit_eis",
    "identify",
    "predict_lattice",
    "read",
    "read_pattern",
    "read_spectrum",
    "refine",
    "screen",
    "structure_files",
]


__getattr__ = _lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
