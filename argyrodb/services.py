"""What the command line needs beyond the public API (:mod:`argyrodb.api`): plots, exports, screening-run
queries, the audit's summaries. Internal - not a stable interface; a Python user starts from ``argyrodb.api``.

Bound on first use (PEP 562) like the API, so ``argyrodb --help`` imports none of the science; the
``TYPE_CHECKING`` block binds the same names for type checkers and linters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core.lazy import lazy_getattr as _lazy_getattr

if TYPE_CHECKING:
    from .audit import CONSISTENT
    from .audit import slips as audit_slips
    from .audit import summary as audit_summary
    from .core.refinement_writer import refinement_yaml
    from .core.resources import structure_file
    from .physics.drt import fit_spectrum as fit_drt
    from .physics.drt import plot_drt
    from .physics.eis import FIG_S9_CIRCUIT
    from .physics.eis_models import fit_cell
    from .physics.eis_plots import plot_cell, plot_fit
    from .physics.eis_series import fit_series, plot_arrhenius, stated_temperature
    from .physics.lattice import given as given_lattice
    from .physics.pattern_fit import fit_scale, read_xy
    from .physics.plots import describe_wavelength, plot_patterns, plot_refinement
    from .physics.scattering import resolve_wavelength
    from .physics.series_plots import plot_refinement_series
    from .physics.structure import analyse_blocks
    from .pipeline.series import refine_series
    from .screening.approximants import CompositionWarning, check_formats
    from .screening.approximants import generate as generate_approximants
    from .screening.approximants import write as write_approximants
    from .screening.plots import plot_screen_series
    from .screening.runs import check_export_path, export_results, run_results, run_screen
    from .screening.screener import Screener, default_template
    from .store.connection import database_path, migrate_file
    from .store.datasets import dataset_names
    from .store.export import export_tables
    from .store.literature import import_obelix, write_obelix_rows
    from .store.plots import plot_literature
    from .store.queries import MEASUREMENT_COLUMNS, compare, count_measurements, query_measurements, run_sql
    from .store.screening_runs import SCREEN_COLUMNS, index_peaks, peaks_in_window, query_screen
    from .store.screening_runs import list_runs as list_screen_runs
    from .store.serve import serve

#: name -> (module, attribute); kept equal to the TYPE_CHECKING block and to __all__ by tests/store/test_services_facade.py
_LAZY: dict[str, tuple[str, str]] = {
    "CONSISTENT": ("argyrodb.audit", "CONSISTENT"),
    "audit_slips": ("argyrodb.audit", "slips"),
    "audit_summary": ("argyrodb.audit", "summary"),
    "refinement_yaml": ("argyrodb.core.refinement_writer", "refinement_yaml"),
    "structure_file": ("argyrodb.core.resources", "structure_file"),
    "FIG_S9_CIRCUIT": ("argyrodb.physics.eis", "FIG_S9_CIRCUIT"),
    "fit_cell": ("argyrodb.physics.eis_models", "fit_cell"),
    "plot_cell": ("argyrodb.physics.eis_plots", "plot_cell"),
    "plot_fit": ("argyrodb.physics.eis_plots", "plot_fit"),
    "fit_drt": ("argyrodb.physics.drt", "fit_spectrum"),
    "plot_drt": ("argyrodb.physics.drt", "plot_drt"),
    "fit_series": ("argyrodb.physics.eis_series", "fit_series"),
    "plot_arrhenius": ("argyrodb.physics.eis_series", "plot_arrhenius"),
    "stated_temperature": ("argyrodb.physics.eis_series", "stated_temperature"),
    "fit_scale": ("argyrodb.physics.pattern_fit", "fit_scale"),
    "read_xy": ("argyrodb.physics.pattern_fit", "read_xy"),
    "given_lattice": ("argyrodb.physics.lattice", "given"),
    "describe_wavelength": ("argyrodb.physics.plots", "describe_wavelength"),
    "plot_patterns": ("argyrodb.physics.plots", "plot_patterns"),
    "plot_refinement": ("argyrodb.physics.plots", "plot_refinement"),
    "plot_refinement_series": ("argyrodb.physics.series_plots", "plot_refinement_series"),
    "resolve_wavelength": ("argyrodb.physics.scattering", "resolve_wavelength"),
    "analyse_blocks": ("argyrodb.physics.structure", "analyse_blocks"),
    "refine_series": ("argyrodb.pipeline.series", "refine_series"),
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
    "default_template": ("argyrodb.screening.screener", "default_template"),
    "database_path": ("argyrodb.store.connection", "database_path"),
    "migrate_file": ("argyrodb.store.connection", "migrate_file"),
    "dataset_names": ("argyrodb.store.datasets", "dataset_names"),
    "export_tables": ("argyrodb.store.export", "export_tables"),
    "import_obelix": ("argyrodb.store.literature", "import_obelix"),
    "write_obelix_rows": ("argyrodb.store.literature", "write_obelix_rows"),
    "plot_literature": ("argyrodb.store.plots", "plot_literature"),
    "MEASUREMENT_COLUMNS": ("argyrodb.store.queries", "MEASUREMENT_COLUMNS"),
    "compare": ("argyrodb.store.queries", "compare"),
    "count_measurements": ("argyrodb.store.queries", "count_measurements"),
    "query_measurements": ("argyrodb.store.queries", "query_measurements"),
    "run_sql": ("argyrodb.store.queries", "run_sql"),
    "SCREEN_COLUMNS": ("argyrodb.store.screening_runs", "SCREEN_COLUMNS"),
    "index_peaks": ("argyrodb.store.screening_runs", "index_peaks"),
    "list_screen_runs": ("argyrodb.store.screening_runs", "list_runs"),
    "peaks_in_window": ("argyrodb.store.screening_runs", "peaks_in_window"),
    "query_screen": ("argyrodb.store.screening_runs", "query_screen"),
    "serve": ("argyrodb.store.serve", "serve"),
}

__all__ = [
    "CONSISTENT",
    "FIG_S9_CIRCUIT",
    "MEASUREMENT_COLUMNS",
    "SCREEN_COLUMNS",
    "CompositionWarning",
    "Screener",
    "analyse_blocks",
    "audit_slips",
    "audit_summary",
    "check_export_path",
    "check_formats",
    "compare",
    "count_measurements",
    "database_path",
    "dataset_names",
    "default_template",
    "describe_wavelength",
    "export_results",
    "export_tables",
    "fit_cell",
    "fit_drt",
    "fit_scale",
    "fit_series",
    "generate_approximants",
    "given_lattice",
    "import_obelix",
    "index_peaks",
    "list_screen_runs",
    "migrate_file",
    "peaks_in_window",
    "plot_arrhenius",
    "plot_cell",
    "plot_drt",
    "plot_fit",
    "plot_literature",
    "plot_patterns",
    "plot_refinement",
    "plot_refinement_series",
    "plot_screen_series",
    "query_measurements",
    "query_screen",
    "read_xy",
    "refine_series",
    "refinement_yaml",
    "resolve_wavelength",
    "run_results",
    "run_screen",
    "run_sql",
    "serve",
    "stated_temperature",
    "structure_file",
    "write_approximants",
    "write_obelix_rows",
]


__getattr__ = _lazy_getattr(__name__, _LAZY, globals())
