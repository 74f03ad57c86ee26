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

import importlib
from pathlib import Path

from .core.errors import ArgyrodbError, InputError, ParameterError, ValidationFailed

#: The API's names and where they live: imported on first use (PEP 562 module __getattr__), so a command pays
#: only for the layers it uses (``argyrodb screen`` no longer imports the audit, the EIS fits or Datasette).
_LAZY = {
    "CONSISTENT": ("argyrodb.audit", "CONSISTENT"),
    "run_audit": ("argyrodb.audit", "run_audit"),
    "audit_summary": ("argyrodb.audit", "summary"),
    "audit_slips": ("argyrodb.audit", "slips"),
    "AnalysedStructure": ("argyrodb.core.analysis", "AnalysedStructure"),
    "Problem": ("argyrodb.core.analysis", "Problem"),
    "analyse_refinement": ("argyrodb.core.analysis", "analyse"),
    "atomic_write_text": ("argyrodb.core.files", "atomic_write_text"),
    "check_output_paths": ("argyrodb.core.files", "check_output_paths"),
    "read_text_file": ("argyrodb.core.files", "read_text_file"),
    "safe_filename": ("argyrodb.core.files", "safe_filename"),
    "MAX_FILE_BYTES": ("argyrodb.core.readers", "MAX_FILE_BYTES"),
    "is_pymatgen_structure": ("argyrodb.core.readers", "is_pymatgen_structure"),
    "read": ("argyrodb.core.readers", "read"),
    "read_cif_blocks": ("argyrodb.core.readers", "read_cif_blocks"),
    "LatticeParameter": ("argyrodb.core.refinement", "LatticeParameter"),
    "Refinement": ("argyrodb.core.refinement", "Refinement"),
    "refinement_yaml": ("argyrodb.core.refinement_writer", "refinement_yaml"),
    "default_database_path": ("argyrodb.core.resources", "default_database_path"),
    "phase_names": ("argyrodb.core.resources", "phase_names"),
    "structure_file": ("argyrodb.core.resources", "structure_file"),
    "structure_files": ("argyrodb.core.resources", "structure_files"),
    "calculators": ("argyrodb.physics", "calculators"),
    "StructureDensity": ("argyrodb.physics.density", "StructureDensity"),
    "density_of_formula": ("argyrodb.physics.density", "density_of_formula"),
    "structure_density": ("argyrodb.physics.density", "structure_density"),
    "FIG_S9_CIRCUIT": ("argyrodb.physics.eis", "FIG_S9_CIRCUIT"),
    "estimate_initial": ("argyrodb.physics.eis", "estimate_initial"),
    "kramers_kronig": ("argyrodb.physics.eis", "kramers_kronig"),
    "plot_nyquist": ("argyrodb.physics.eis", "plot_nyquist"),
    "read_spectrum": ("argyrodb.physics.eis", "read_spectrum"),
    "fit_eis": ("argyrodb.physics.eis", "fit"),
    "analysed": ("argyrodb.physics.lattice", "analysed"),
    "lattice_for": ("argyrodb.physics.lattice", "lattice_for"),
    "predict_lattice": ("argyrodb.physics.lattice", "predict"),
    "fit_scale": ("argyrodb.physics.pattern_fit", "fit_scale"),
    "read_xy": ("argyrodb.physics.pattern_fit", "read_xy"),
    "describe_wavelength": ("argyrodb.physics.plots", "describe_wavelength"),
    "plot_patterns": ("argyrodb.physics.plots", "plot_patterns"),
    "plot_refinement": ("argyrodb.physics.plots", "plot_refinement"),
    "resolve_wavelength": ("argyrodb.physics.scattering", "resolve_wavelength"),
    "Pattern": ("argyrodb.physics.xrd", "Pattern"),
    "XRDModel": ("argyrodb.physics.xrd", "XRDModel"),
    "simulate": ("argyrodb.physics.xrd", "simulate"),
    "add_user_data": ("argyrodb.pipeline", "add_user_data"),
    "build_database": ("argyrodb.pipeline", "build_database"),
    "density_report": ("argyrodb.pipeline", "density_report"),
    "refine_pattern": ("argyrodb.pipeline", "refine_pattern"),
    "refinement_json": ("argyrodb.pipeline", "refinement_json"),
    "remove_user_data": ("argyrodb.pipeline", "remove_user_data"),
    "report_dict": ("argyrodb.pipeline", "report_dict"),
    "report_text": ("argyrodb.pipeline", "report_text"),
    "require_argyrodite": ("argyrodb.pipeline", "require_argyrodite"),
    "store_refinement": ("argyrodb.pipeline", "store_refinement"),
    "write_cif": ("argyrodb.pipeline", "write_cif"),
    "cif_text": ("argyrodb.pipeline", "cif_of"),
    "CompositionWarning": ("argyrodb.screening.approximants", "CompositionWarning"),
    "check_formats": ("argyrodb.screening.approximants", "check_formats"),
    "generate_approximants": ("argyrodb.screening.approximants", "generate"),
    "write_approximants": ("argyrodb.screening.approximants", "write"),
    "plot_screen_series": ("argyrodb.screening.plots", "plot_screen_series"),
    "check_export_path": ("argyrodb.screening.runs", "check_export_path"),
    "export_results": ("argyrodb.screening.runs", "export_results"),
    "run_results": ("argyrodb.screening.runs", "run_results"),
    "run_screen": ("argyrodb.screening.runs", "run_screen"),
    "Screener": ("argyrodb.screening.screener", "Screener"),
    "ScreenSettings": ("argyrodb.screening.screener", "ScreenSettings"),
    "default_template": ("argyrodb.screening.screener", "default_template"),
    "database_path": ("argyrodb.store.connection", "database_path"),
    "export_optimade": ("argyrodb.store.export", "export_optimade"),
    "export_tables": ("argyrodb.store.export", "export_tables"),
    "compile_expression": ("argyrodb.store.expressions", "compile_expression"),
    "import_obelix": ("argyrodb.store.literature", "import_obelix"),
    "write_obelix_rows": ("argyrodb.store.literature", "write_obelix_rows"),
    "migrate_file": ("argyrodb.store.connection", "migrate_file"),
    "plot_literature": ("argyrodb.store.plots", "plot_literature"),
    "MEASUREMENT_COLUMNS": ("argyrodb.store.queries", "MEASUREMENT_COLUMNS"),
    "MeasurementFilter": ("argyrodb.store.queries", "MeasurementFilter"),
    "compare": ("argyrodb.store.queries", "compare"),
    "count_measurements": ("argyrodb.store.queries", "count_measurements"),
    "query_measurements": ("argyrodb.store.queries", "query_measurements"),
    "run_sql": ("argyrodb.store.queries", "run_sql"),
    "SCREEN_COLUMNS": ("argyrodb.store.screening_runs", "SCREEN_COLUMNS"),
    "query_screen": ("argyrodb.store.screening_runs", "query_screen"),
    "peaks_in_window": ("argyrodb.store.screening_runs", "peaks_in_window"),
    "index_peaks": ("argyrodb.store.screening_runs", "index_peaks"),
    "list_screen_runs": ("argyrodb.store.screening_runs", "list_runs"),
    "serve": ("argyrodb.store.serve", "serve"),
}


def __getattr__(name: str):
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'argyrodb.api' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


#: The functions below look their helpers up here (a module's own globals do not go through __getattr__).
_api = __getattr__


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CONSISTENT", "CompositionWarning", "refine_pattern", "refinement_json", "refinement_yaml", "plot_refinement",
    "phase_names", "refined_structure", "wavelength_label", "store_refinement", "add_user_data", "remove_user_data", "compile_expression", "count_measurements",
    "MEASUREMENT_COLUMNS", "SCREEN_COLUMNS", "query_screen", "peaks_in_window", "index_peaks", "list_screen_runs", "atomic_write_text", "check_export_path", "check_formats", "check_output_paths", "database_path",
    "default_template", "import_obelix", "plot_literature", "plot_nyquist", "plot_patterns", "plot_screen_series",
    "read_text_file", "safe_filename", "serve", "write_obelix_rows",
    "AnalysedStructure", "analyse_all", "ArgyrodbError", "FIG_S9_CIRCUIT", "InputError", "LatticeParameter", "MeasurementFilter",
    "ParameterError", "Pattern", "Problem", "Refinement", "ScreenSettings", "Screener", "StructureDensity",
    "ValidationFailed", "XRDModel", "analyse", "analyse_refinement", "audit_summary", "build_database", "calculators",
    "cif_text", "compare", "default_database_path", "density", "density_of_formula", "density_report", "export_optimade",
    "estimate_initial", "export_results", "export_tables", "fit_eis", "fit_scale", "generate_approximants",
    "kramers_kronig", "lattice_for", "migrate_file",
    "predict_lattice", "query_measurements", "read", "read_spectrum", "read_xy", "report_dict", "report_text",
    "run_audit", "audit_slips", "run_results", "run_screen", "run_sql", "structure_density", "structure_file", "structure_files",
    "write_approximants", "write_cif", "xrd_pattern",
]


def analyse(source, a_angstrom: float | None = None, block: str | None = None, force: bool = False) -> AnalysedStructure:
    """The analysed structure of ``source`` - a Refinement, a path (refinement file or CIF; ``block`` picks a
    data block), a pymatgen ``Structure`` or an ASE ``Atoms`` - at ``a_angstrom`` (default: reported, else
    predicted). A structure that is not an argyrodite raises InputError("not an argyrodite: ..."), unless
    ``force`` (then the reason is a warning in ``problems``)."""
    refinement = source if isinstance(source, _api("Refinement")) else _api("read")(source, block=block)
    return _api("require_argyrodite")(_api("analysed")(refinement, a_angstrom, force=force))


def analyse_all(source, a_angstrom: float | None = None, block: str | None = None, force: bool = False) -> list[AnalysedStructure]:
    """Every structure of ``source``: each data block of a CIF (or only ``block``), else the one structure."""
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() == ".cif" and block is None:
        require_argyrodite, analysed = _api("require_argyrodite"), _api("analysed")
        return [require_argyrodite(analysed(r, a_angstrom, force=force))
                for r in _api("read_cif_blocks")(_api("read_text_file")(source, _api("MAX_FILE_BYTES")), source=str(source))]
    return [analyse(source, a_angstrom, block=block, force=force)]


def density(structure: AnalysedStructure) -> StructureDensity:
    """Refined and nominal X-ray densities of an analysed structure."""
    return _api("structure_density")(structure)


def xrd_pattern(source, a_angstrom: float | None = None, **options) -> Pattern:
    """Powder pattern of an analysed structure, a pymatgen ``Structure``, an ASE ``Atoms``, a Refinement or a path (see
    :func:`argyrodb.physics.xrd.simulate` for the options)."""
    if not isinstance(source, _api("AnalysedStructure")) and not _api("is_pymatgen_structure")(source):  # path, Refinement, ASE Atoms
        source = analyse(source, a_angstrom)
        a_angstrom = None
    return _api("simulate")(source, a_angstrom=a_angstrom, **options)


def refined_structure(refinement: Refinement) -> AnalysedStructure:
    """The analysed structure of a refined :class:`Refinement` (at its refined a)."""
    return analyse(refinement)


def wavelength_label(spec) -> str:
    """How plots name a wavelength specification (e.g. 'Cu Kα₁,₂, λ = 1.5406, 1.5444 Å')."""
    return _api("describe_wavelength")(_api("resolve_wavelength")(spec))
