"""The analysed structure with what physics gives it: density, CIF, powder pattern, another lattice parameter.

:class:`AnalysedStructure` is the public noun (``argyrodb.api.AnalysedStructure``): the core layer's analysed
structure (:class:`argyrodb.core.analysis.AnalysedStructure`, immutable, no physics) plus the methods a
researcher calls on it. :func:`analysed` is the one way every path - API, CLI, database build, screening -
goes from a :class:`~argyrodb.core.refinement.Refinement` to one.

One rule, in one place: a structure whose validation found errors (a site over-occupied, Li-Li 0.66 A,
a composition no argyrodite has) is reported but gives no density, CIF or pattern -
:meth:`AnalysedStructure.require_valid` raises :class:`~argyrodb.core.errors.ValidationFailed` naming the
file and the first error, wherever it is asked from.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import analysis as _core
from ..core.cif_writer import cif_text
from ..core.errors import ValidationFailed
from ..core.files import atomic_write_text, read_text_file
from ..core.readers import MAX_FILE_BYTES, read, read_cif_blocks
from ..core.refinement import LatticeParameter, Refinement
from .bvse import BVSEResult, bvse_of_structure
from .density import StructureDensity, structure_density
from .lattice import lattice_for
from .xrd import Pattern, PatternConditions, XRDModel

if TYPE_CHECKING:  # the inherited fields' annotations, for documentation tools (pdoc) and type checkers
    from ..core.analysis import Position, Problem, SiteSummary  # noqa: F401


@dataclass(frozen=True, eq=False)
class AnalysedStructure(_core.AnalysedStructure):
    """A refinement (occupancy table or CIF) analysed at one lattice parameter: composition per formula
    unit and per cell, Z, charge, space group, sites, distances and ``problems`` (each with a kind, a
    severity and a message). Immutable; ``a_angstrom`` and ``lattice.source`` say where a came from
    (reported, given, or predicted by the lattice model with its sigma).

    >>> s = analyse("LMA-Cl0.8I0.6.yaml")
    >>> s.density().density_g_cm3, s.pattern(PatternConditions(wavelength="CuKa12")).peaks
    """

    @classmethod
    def of(cls, structure: _core.AnalysedStructure) -> AnalysedStructure:
        """The public structure of a core-layer one (same fields, shared, not copied)."""
        if isinstance(structure, cls):
            return structure
        return cls(**{f.name: getattr(structure, f.name) for f in fields(_core.AnalysedStructure)})

    @property
    def forced(self) -> bool:
        """True when it failed the argyrodite framework check and was analysed anyway (``force``)."""
        return any(p.kind == "not_argyrodite" and p.severity == "warning" for p in self.problems)

    def require_valid(self) -> AnalysedStructure:
        """``self``, or :class:`ValidationFailed` ("FILE: KIND: message") when validation found an error."""
        if self.errors:
            first = self.errors[0]
            raise ValidationFailed(self.source, f"{first.kind}: {first.message}")
        return self

    def at(self, a_angstrom: float | LatticeParameter) -> AnalysedStructure:
        """The same refinement analysed at another lattice parameter: ``a_angstrom`` in Å (then "given"), or a
        :class:`~argyrodb.core.refinement.LatticeParameter` that says where it came from."""
        if isinstance(a_angstrom, LatticeParameter):
            return AnalysedStructure.of(super().at(a_angstrom))
        return analysed(self.refinement, a_angstrom, force=self.forced)

    def density(self, allow_errors: bool = False) -> StructureDensity:
        """X-ray density of the refined composition and, when the file states one, of the nominal
        composition: rho = Z M / (N_A a^3). ``allow_errors``: also for a structure with validation errors
        (a report that shows them)."""
        return structure_density(self if allow_errors else self.require_valid())

    def cif(self, path: str | Path | None = None, allow_errors: bool = False) -> str:
        """The symmetric F-43m CIF (with the X-ray density and every problem in its comment); written
        atomically to ``path`` when given. Returns the text. ``allow_errors``: also for a structure with
        validation errors (they are listed in the CIF's comment)."""
        text = cif_text(self if allow_errors else self.require_valid(), structure_density(self).density_g_cm3)
        if path is not None:
            atomic_write_text(Path(path), text)
        return text

    def pattern(self, conditions: PatternConditions | None = None, allow_errors: bool = False) -> Pattern:
        """The powder pattern under ``conditions`` (default: Cu K-alpha1, 10-120 deg 2theta, anomalous
        dispersion on, unpolarised beam). ``allow_errors``: also for a structure with validation errors (the
        database stores literature structures whatever they hold)."""
        conditions = conditions if conditions is not None else PatternConditions()
        pattern = XRDModel.from_analysed(self if allow_errors else self.require_valid()).pattern(**conditions.options())
        pattern.lattice = self.lattice  # plots, JSON and reports say where a comes from (predicted, extrapolated)
        return pattern

    def bvse(self, resolution_angstrom: float = 0.2, allow_errors: bool = False) -> BVSEResult:
        """Bond-valence site-energy Li+ percolation energies in 1D/2D/3D, eV (:mod:`argyrodb.physics.bvse`: softBV
        parameters, shared sites by occupancy, a grid of ``resolution_angstrom``); what ``db build`` stores in
        ``structure_bvse``. ``allow_errors``: also for a structure with validation errors."""
        return bvse_of_structure(self if allow_errors else self.require_valid(), resolution_angstrom)


def analysed(refinement: Refinement, a_angstrom: float | None = None, force: bool = False) -> AnalysedStructure:
    """``refinement`` analysed at the lattice parameter :func:`~argyrodb.physics.lattice.lattice_for` gives
    (``a_angstrom`` when given, else the file's, else the lattice model's prediction)."""
    return AnalysedStructure.of(_core.analyse(refinement, lattice_for(refinement, a_angstrom), force=force))


def analyse(source, a_angstrom: float | None = None, *, block: str | None = None, force: bool = False,
            name: str | None = None) -> AnalysedStructure:
    """Read and analyse ``source`` - a path (argyrodb refinement file ``.yaml`` or a CIF of any program;
    ``block`` names the data block of a CIF with several), a :class:`~argyrodb.core.refinement.Refinement`,
    a pymatgen ``Structure``, an ASE ``Atoms`` or an analysed structure - at ``a_angstrom`` (Å; default: the
    file's, else the lattice model's prediction). ``name`` names an in-memory structure.

    The same rules on every path: at most :data:`~argyrodb.core.readers.MAX_SITES` sites; a structure that
    is not an argyrodite raises InputError "not an argyrodite: ..." unless ``force`` (then that is a warning
    in ``problems``). Validation errors do not raise here (a report shows them); they stop ``density()``,
    ``cif()`` and ``pattern()``."""
    if isinstance(source, _core.AnalysedStructure):
        structure = AnalysedStructure.of(source)
        return structure if a_angstrom is None else structure.at(a_angstrom)
    refinement = source if isinstance(source, Refinement) else read(source, name=name, block=block)
    return _core.require_argyrodite(analysed(refinement, a_angstrom, force=force))


def analyse_blocks(source, a_angstrom: float | None = None, *, block: str | None = None,
                   force: bool = False) -> list[AnalysedStructure]:
    """Every structure of ``source`` (:func:`analyse`): each data block of a CIF, or only ``block``."""
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() == ".cif" and block is None:
        return [analyse(r, a_angstrom, force=force)
                for r in read_cif_blocks(read_text_file(source, MAX_FILE_BYTES), source=str(source))]
    return [analyse(source, a_angstrom, block=block, force=force)]
