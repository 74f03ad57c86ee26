"""The Python API in one place (a facade: nothing inside argyrodb imports it).

>>> from argyrodb import api
>>> structure = api.analyse("LMA-Cl0.8I0.6.yaml")        # path, Refinement, pymatgen Structure or ASE Atoms
>>> structure.a_angstrom, structure.lattice.source       # predicted by the lattice model when not reported
>>> structure.formula_per_fu, structure.z, structure.problems
>>> api.density(structure).density_g_cm3
>>> api.write_cif(structure, "LMA.cif")
>>> pattern = api.xrd_pattern(structure, wavelength="CuKa12")
>>> api.build_database("argyrodb.sqlite")
"""

from __future__ import annotations

from pathlib import Path

from .audit import CONSISTENT, run_audit
from .audit import summary as audit_summary
from .core.analysis import AnalysedStructure, Problem
from .core.analysis import analyse as analyse_refinement
from .core.errors import ArgyrodbError, InputError, ParameterError, ValidationFailed
from .core.files import (
    atomic_write_text,
    check_output_paths,
    read_text_file,
    safe_filename,
)
from .core.readers import MAX_FILE_BYTES, is_pymatgen_structure, read, read_cif_blocks
from .core.refinement import LatticeParameter, Refinement
from .core.refinement_writer import refinement_yaml
from .core.resources import (
    default_database_path,
    phase_names,
    structure_file,
    structure_files,
)
from .physics import calculators
from .physics.density import StructureDensity, density_of_formula, structure_density
from .physics.eis import (
    FIG_S9_CIRCUIT,
    estimate_initial,
    kramers_kronig,
    plot_nyquist,
    read_spectrum,
)
from .physics.eis import fit as fit_eis
from .physics.lattice import analysed, lattice_for
from .physics.lattice import predict as predict_lattice
from .physics.pattern_fit import fit_scale, read_xy
from .physics.plots import describe_wavelength, plot_patterns, plot_refinement
from .physics.scattering import resolve_wavelength
from .physics.xrd import Pattern, XRDModel, simulate
from .pipeline import (
    add_user_data,
    build_database,
    density_report,
    refine_pattern,
    refinement_json,
    remove_user_data,
    report_dict,
    report_text,
    require_argyrodite,
    store_refinement,
    write_cif,
)
from .pipeline import cif_of as cif_text
from .screening.approximants import CompositionWarning, check_formats
from .screening.approximants import generate as generate_approximants
from .screening.approximants import write as write_approximants
from .screening.plots import plot_screen_series
from .screening.runs import check_export_path, export_results, run_results, run_screen
from .screening.screener import Screener, ScreenSettings, default_template
from .store.connection import database_path
from .store.export import export_optimade, export_tables
from .store.expressions import compile_expression
from .store.literature import import_obelix, write_obelix_rows
from .store.migrations import migrate_file
from .store.plots import plot_literature
from .store.queries import (
    MEASUREMENT_COLUMNS,
    MeasurementFilter,
    compare,
    count_measurements,
    query_measurements,
    run_sql,
)
from .store.screening_runs import SCREEN_COLUMNS, query_screen
from .store.screening_runs import list_runs as list_screen_runs
from .store.serve import serve, serve_command

__all__ = [
    "CONSISTENT", "CompositionWarning", "refine_pattern", "refinement_json", "refinement_yaml", "plot_refinement",
    "phase_names", "refined_structure", "wavelength_label", "store_refinement", "add_user_data", "remove_user_data", "compile_expression", "count_measurements",
    "MEASUREMENT_COLUMNS", "SCREEN_COLUMNS", "query_screen", "list_screen_runs", "atomic_write_text", "check_export_path", "check_formats", "check_output_paths", "database_path",
    "default_template", "import_obelix", "plot_literature", "plot_nyquist", "plot_patterns", "plot_screen_series",
    "read_text_file", "safe_filename", "serve", "serve_command", "write_obelix_rows",
    "AnalysedStructure", "analyse_all", "ArgyrodbError", "FIG_S9_CIRCUIT", "InputError", "LatticeParameter", "MeasurementFilter",
    "ParameterError", "Pattern", "Problem", "Refinement", "ScreenSettings", "Screener", "StructureDensity",
    "ValidationFailed", "XRDModel", "analyse", "analyse_refinement", "audit_summary", "build_database", "calculators",
    "cif_text", "compare", "default_database_path", "density", "density_of_formula", "density_report", "export_optimade",
    "estimate_initial", "export_results", "export_tables", "fit_eis", "fit_scale", "generate_approximants",
    "kramers_kronig", "lattice_for", "migrate_file",
    "predict_lattice", "query_measurements", "read", "read_spectrum", "read_xy", "report_dict", "report_text",
    "run_audit", "run_results", "run_screen", "run_sql", "structure_density", "structure_file", "structure_files",
    "write_approximants", "write_cif", "xrd_pattern",
]


def analyse(source, a_angstrom: float | None = None, block: str | None = None, force: bool = False) -> AnalysedStructure:
    """The analysed structure of ``source`` - a Refinement, a path (refinement file or CIF; ``block`` picks a
    data block), a pymatgen ``Structure`` or an ASE ``Atoms`` - at ``a_angstrom`` (default: reported, else
    predicted). A structure that is not an argyrodite raises InputError("not an argyrodite: ..."), unless
    ``force`` (then the reason is a warning in ``problems``)."""
    refinement = source if isinstance(source, Refinement) else read(source, block=block)
    return require_argyrodite(analysed(refinement, a_angstrom, force=force))


def analyse_all(source, a_angstrom: float | None = None, block: str | None = None, force: bool = False) -> list[AnalysedStructure]:
    """Every structure of ``source``: each data block of a CIF (or only ``block``), else the one structure."""
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() == ".cif" and block is None:
        return [require_argyrodite(analysed(r, a_angstrom, force=force))
                for r in read_cif_blocks(read_text_file(source, MAX_FILE_BYTES), source=str(source))]
    return [analyse(source, a_angstrom, block=block, force=force)]


def density(structure: AnalysedStructure) -> StructureDensity:
    """Refined and nominal X-ray densities of an analysed structure."""
    return structure_density(structure)


def xrd_pattern(source, a_angstrom: float | None = None, **options) -> Pattern:
    """Powder pattern of an analysed structure, a pymatgen ``Structure``, an ASE ``Atoms``, a Refinement or a path (see
    :func:`argyrodb.physics.xrd.simulate` for the options)."""
    if not isinstance(source, AnalysedStructure) and not is_pymatgen_structure(source):  # path, Refinement, ASE Atoms
        source = analyse(source, a_angstrom)
        a_angstrom = None
    return simulate(source, a_angstrom=a_angstrom, **options)


def refined_structure(refinement: Refinement) -> AnalysedStructure:
    """The analysed structure of a refined :class:`Refinement` (at its refined a)."""
    return analyse(refinement)


def wavelength_label(spec) -> str:
    """How plots name a wavelength specification (e.g. 'Cu Kα₁,₂, λ = 1.5406, 1.5444 Å')."""
    return describe_wavelength(resolve_wavelength(spec))
