"""Build the database: the literature data, the bundled refinements, the literature structures and every
user import and stored refinement, replayed into a fresh file (:class:`~argyrodb.store.ingest.DatabaseBuild`
stores what it is given); user CSV imports in and out.

Each structure is read and analysed by :func:`argyrodb.physics.structure.analyse` (the one path every
command takes), then stored with its CIF, densities and the stored powder pattern (:data:`STORED_XRD`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..core.cif_writer import display_path
from ..core.errors import InputError
from ..core.resources import (
    literature_folder,
    structure_files,
)
from ..physics import bvse
from ..physics.calculators import SOURCE_GRAVITY_M_S2, milling_gforce
from ..physics.structure import AnalysedStructure, analyse
from ..physics.xrd import Pattern, PatternConditions
from ..store.connection import database_path, signals_as_exit
from ..store.datasets import STRUCTURES, literature
from ..store.ingest import (
    DatabaseBuild,
    add_user_import,
    milling_rows,
    remove_user_import,
    stored_refinements,
    user_imports_of,
)
from ..store.user_data import UserImport, read_user_csv

#: The powder pattern stored for every structure in the database.
STORED_XRD = PatternConditions(wavelength="CuKa1", two_theta_range=(10.0, 120.0))


def stored_pattern(structure: AnalysedStructure) -> Pattern:
    """The powder pattern the database stores for every structure (:data:`STORED_XRD`), errors allowed: a
    literature structure with errors is stored too (OBELiX randomised its positions)."""
    return AnalysedStructure.of(structure).pattern(STORED_XRD, allow_errors=True)


def stored_structure(structure: AnalysedStructure, **fields) -> dict:
    """What the store's ``insert_structure`` takes for an analysed structure: it, its CIF, densities, stored
    pattern and BVSE Li percolation energies (:func:`argyrodb.physics.bvse.stored_record`, ~50 ms), plus ``fields``
    (name, source file, dataset ...)."""
    return {"structure": structure, "cif": structure.cif(allow_errors=True), "density": structure.density(allow_errors=True),
            "pattern": stored_pattern(structure), "bvse": bvse.stored_record(structure), **fields}



# --------------------------------------------------------------------------- database


@lru_cache(maxsize=256)
def _literature_structure(path: str, mtime_ns: int, size: int) -> dict | str:
    """:func:`stored_structure` of a literature CIF, or the reason it is refused; remembered per file version, so
    repeated builds in one process analyse each file once."""
    try:
        structure = analyse(path)
    except InputError as exc:
        return exc.problem
    # OBELiX randomised its positions: a structure with errors is kept, its problems stored with it
    return stored_structure(structure)


def literature_structures(folder: Path) -> list[tuple[str, Path, dict | str]]:
    """(dataset ID, path, :func:`stored_structure` or the reason it is refused) of every CIF in ``folder`` (the
    file name is the ID)."""
    out = []
    for path in sorted(folder.glob("*.cif")):
        stat = path.stat()
        out.append((path.stem, path, _literature_structure(str(path), stat.st_mtime_ns, stat.st_size)))
    return out


def build_database(db_path: str | Path | None = None, literature_dir: str | Path | None = None,
                   structure_paths: list[Path] | None = None, show_progress: bool = True,
                   literature_structures_included: bool = True) -> dict:
    """Build the database from the literature data (default: packaged; every literature dataset of the registry,
    :mod:`argyrodb.store.datasets`, by its reader), the refinement files (default: packaged) and the literature
    structures (the CIFs in each dataset's ``structures_folder``, e.g. OBELiX's ``<literature>/obelix_cifs``, each
    linked to its measurement by ID; files that are not argyrodites go to ``refused_structures`` with the reason),
    atomically; returns row counts per table."""
    from tqdm import tqdm

    folder = Path(literature_dir) if literature_dir is not None else literature_folder()
    paths = list(structure_paths) if structure_paths is not None else structure_files()
    if db_path is None:  # the default location: its folder may not exist yet on a new machine
        database_path(None).parent.mkdir(parents=True, exist_ok=True)
    imports = user_imports_of(db_path)  # replayed into the new database (checked again before it is installed)
    refinements = stored_refinements(db_path)
    with DatabaseBuild(db_path) as build:
        steps = tqdm(total=4 + len(paths), desc="db build", disable=not show_progress)
        build.insert_literature(folder)
        steps.update()
        for path in paths:
            structure = analyse(path)
            if structure.errors:
                raise InputError(path, f"{structure.errors[0].kind}: {structure.errors[0].message}")
            build.insert_structure(**stored_structure(structure, source_file=display_path(str(path))))
            steps.update()
        for dataset in literature(STRUCTURES):
            if not literature_structures_included or dataset.structures_folder is None:
                continue
            cifs = folder / dataset.structures_folder
            if not cifs.is_dir():
                continue
            names = build.dataset_materials(dataset.name)
            for dataset_id, path, analysis in literature_structures(cifs):
                where = f"{dataset.structures_folder}/{path.name}"
                if isinstance(analysis, str):
                    build.insert_refused(dataset.name, dataset_id, where, analysis, dataset.licence, dataset.attribution)
                    continue
                name = f"{dataset.title} {dataset_id} {names.get(dataset_id, analysis['structure'].name)}"
                build.insert_structure(**analysis, name=name, source_file=where, dataset=dataset.name, dataset_id=dataset_id,
                                       caveat=dataset.structure_caveat, licence=dataset.licence, attribution=dataset.attribution)
        steps.update()
        milling = [{**row, "gforce_computed": milling_gforce(row["rpm"], row["effective_diameter_printed_m"], SOURCE_GRAVITY_M_S2)}
                   for row in milling_rows(folder)]
        build.insert_lab_tables(folder, milling)
        for imp in imports:
            build.insert_user_import(imp, user_structures(imp))
        if imports:
            build.counts_extra["user_imports_kept"] = len(imports)
        for record in refinements:
            build.insert_refinement({k: v for k, v in record.items() if k != "structure_id"}, _refined_structure_args(record))
        if refinements:
            build.counts_extra["refinements_kept"] = len(refinements)
        steps.update()
    steps.update()
    steps.close()
    return build.counts


# --------------------------------------------------------------------------- user data

def user_structures(imp: UserImport) -> dict[int, dict]:
    """What the store needs for each structure a user row names: the analysed structure (it must be an
    argyrodite without errors), its CIF, density and stored pattern. Keyed by CSV line."""
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory(prefix="argyrodb-user-") as tmp:
        for row in imp.rows:
            if not row.structure_text:
                continue
            where = f"{imp.file_name}:{row.line}"
            if not row.structure_file:  # both are stored together; a database edited by hand may part them
                raise InputError(where, "a structure is stored without the name of its file")
            path = Path(tmp) / row.structure_file
            path.write_text(row.structure_text, encoding="utf-8")
            try:
                structure = analyse(path)
            except InputError as exc:
                raise InputError(where, f"structure {row.structure_file}: {exc.problem}") from None
            if structure.errors:
                raise InputError(where, f"structure {row.structure_file}: {structure.errors[0].kind}: {structure.errors[0].message}")
            out[row.line] = stored_structure(structure, name=f"user {where} {structure.name}",
                                             source_file=f"{where} {row.structure_file}")
    return out


def add_user_data(csv_path: str | Path, db_path: str | Path | None = None, force: bool = False) -> dict:
    """Validate a user CSV (every row, every structure) and store it; nothing is written on any error. A
    conductivity outside the plausible range is refused unless ``force``; the result's ``warnings`` list what was
    kept anyway and formulas that are not charge-neutral (:func:`argyrodb.store.user_data.plausibility`)."""
    with signals_as_exit():  # SIGTERM while structures are analysed in a temporary folder: it is removed too
        imp = read_user_csv(csv_path, force=force)
        return add_user_import(db_path, imp, user_structures(imp))


def remove_user_data(which: str, db_path: str | Path | None = None) -> dict:
    """Remove a user import (file name or import id) and everything stored from it."""
    return remove_user_import(db_path, which)



def _refined_structure_args(record: dict) -> dict | None:
    """Arguments to store a refinement's refined structure again (from its stored refinement YAML)."""
    import tempfile

    if not record.get("refined_yaml"):
        return None
    with tempfile.TemporaryDirectory(prefix="argyrodb-refined-") as tmp:
        path = Path(tmp) / "refined.yaml"
        path.write_text(record["refined_yaml"], encoding="utf-8")
        structure = analyse(path)
    return _refinement_structure(structure, record["data_file"])


def _refinement_structure(structure: AnalysedStructure, data_name: str) -> dict:
    """How a refined structure is stored (at the first refinement and when `db build` replays it)."""
    return stored_structure(structure, name=f"{structure.name} from {data_name}", source_file=f"argyrodb refine {data_name}",
                            dataset_id=f"refinement of {data_name}")
