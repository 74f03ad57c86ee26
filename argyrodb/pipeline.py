"""The pipeline: read -> analyse -> density, CIF, powder pattern -> store.

Each step is one library call: :func:`argyrodb.core.readers.read` (file, pymatgen Structure or ASE
Atoms), the lattice parameter from :func:`argyrodb.physics.lattice.lattice_for` (given, reported, or
predicted), :func:`argyrodb.core.analysis.analyse`, then densities, the CIF and the stored pattern of
the analysed structure, and the store's :class:`~argyrodb.store.ingest.DatabaseBuild`, which stores what
it is given. Reports (the CLI's text and JSON) are made here too, from the analysed structure.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .core.analysis import AnalysedStructure, require_argyrodite
from .core.chemistry import format_formula, parse_formula
from .core.cif_writer import cif_text, display_path
from .core.errors import InputError, ParameterError
from .core.files import atomic_write_text, safe_filename
from .core.readers import read
from .core.refinement_writer import refinement_yaml
from .core.resources import (
    bundled_phase_file,
    literature_folder,
    phase_names,
    structure_files,
)
from .physics.calculators import SOURCE_GRAVITY_M_S2, milling_gforce
from .physics.density import density_of_formula, structure_density
from .physics.lattice import analysed, given, predict
from .physics.pattern_data import read_powder_data
from .physics.rietveld import (
    Refiner,
    argyrodite_phase,
    displacement_check,
    impurity_phase,
    refined_refinement,
)
from .physics.xrd import Pattern, XRDModel
from .store.connection import database_path, signals_as_exit
from .store.ingest import (
    DatabaseBuild,
    add_refinement,
    add_user_import,
    milling_rows,
    remove_user_import,
    stored_refinements,
    user_imports_of,
)
from .store.literature import OBELIX_ATTRIBUTION, OBELIX_LICENCE, obelix_rows
from .store.user_data import UserImport, read_user_csv

#: The powder pattern stored for every structure in the database.
STORED_XRD = {"wavelength": "CuKa1", "two_theta_range": (10.0, 120.0)}


def analyse_structure(source, a_angstrom: float | None = None, name: str | None = None, block: str | None = None,
                      force: bool = False) -> AnalysedStructure:
    """Read ``source`` (path, pymatgen Structure or ASE Atoms) and analyse it at ``a_angstrom`` (default:
    the reported lattice parameter, else the lattice model's prediction). Not an argyrodite: InputError,
    unless ``force``."""
    return require_argyrodite(analysed(read(source, name=name, block=block), a_angstrom, force=force))


# --------------------------------------------------------------------------- reports

_REPORT_ORDER = ("name", "source", "nominal_formula", "formula_per_fu", "nominal_formula_per_fu", "z", "space_group_number",
                 "space_group_symbol", "a_angstrom", "a_sigma_angstrom", "a_source", "volume_angstrom3", "density_g_cm3",
                 "nominal_density_g_cm3", "molar_mass_g_mol", "molar_volume_cm3_mol", "charge_per_fu",
                 "nominal_charge_per_fu", "spglib_types", "sites", "shortest_distances", "problems", "provenance",
                 "argyrodb_version")


def report_dict(structure: AnalysedStructure) -> dict:
    """The analysed structure and its densities as one JSON-ready mapping (keys in the README)."""
    merged = {**structure.as_dict(), **structure_density(structure).as_dict()}
    return {key: merged[key] for key in _REPORT_ORDER}


_MARK = {"error": "ERROR  ", "warning": "WARNING", "info": "info   "}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report_text(structure: AnalysedStructure) -> str:
    """The human-readable report (the CLI's default output of ``build``)."""
    density = structure_density(structure)
    nominal_density = "-" if density.nominal_density_g_cm3 is None else f"{density.nominal_density_g_cm3:.4f}"
    sigma = "" if structure.lattice.sigma_angstrom is None else f" +- {structure.lattice.sigma_angstrom:.4f}"
    lines = [
        f"== {structure.name}  ({structure.source})",
        f"   nominal formula   {structure.nominal_formula or '-'}",
        f"   refined per f.u.  {format_formula(structure.formula_per_fu)}   (Z = {structure.z:g})",
        f"   space group       {structure.space_group_symbol or '?'} ({structure.space_group_number or '?'}) by spglib",
        f"   a                 {structure.a_angstrom:.5f}{sigma} A  [{structure.lattice.source}]",
        f"   volume            {structure.volume_angstrom3:.2f} A^3",
        f"   density           {density.density_g_cm3:.4f} g/cm^3 refined composition, "
        f"{nominal_density} g/cm^3 nominal composition",
        f"   molar volume      {density.molar_volume_cm3_mol:.3f} cm^3/mol",
        f"   charge per f.u.   {structure.charge_per_fu:+.4f} e refined, {structure.nominal_charge_per_fu:+.4f} e nominal",
        "",
        "   site                      printed   actual  mult  occupancy sum  vacancy   B (A^2)",
    ]
    for s in structure.sites:
        printed = ",".join(sorted({w for w in s.wyckoff_reported if w})) or "-"
        lines.append(
            f"   {s.name:<25} {printed:>7}  {s.wyckoff:>7} {s.multiplicity:>5}  {s.occupancy_sum:>13.4f}  "
            f"{s.vacancy:>7.4f}   {_fmt(s.b_iso_angstrom2)}"
        )
    if structure.distances:
        shortest = sorted(structure.distances, key=lambda d: d["distance_angstrom"])[:3]
        lines.append("")
        lines.append("   shortest distances between fully occupied sites: " + "; ".join(
            f"{d['between'][0]} - {d['between'][1]} {d['distance_angstrom']:.3f} A" for d in shortest))
    lines.append("")
    counts = {sev: sum(p.severity == sev for p in structure.problems) for sev in ("error", "warning", "info")}
    lines.append(f"   problems: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)")
    for p in structure.problems:
        where = f"{p.site}: " if p.site else ""
        lines.append(f"   {_MARK.get(p.severity, p.severity)} [{p.kind}] {where}{p.message}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CIF, density, pattern


def cif_of(structure: AnalysedStructure) -> str:
    """The CIF text of an analysed structure, with its X-ray density."""
    return cif_text(structure, structure_density(structure).density_g_cm3)


def write_cif(structure: AnalysedStructure, target: str | Path, base_dir: str | Path | None = None) -> Path:
    """Write the CIF of ``structure`` atomically. With ``base_dir``, the file name is made from the
    structure's name, safe, inside ``base_dir``."""
    target = Path(target)
    if base_dir is not None:
        base = Path(base_dir)
        base.mkdir(parents=True, exist_ok=True)
        target = base / safe_filename(structure.name, ".cif")
    return atomic_write_text(target, cif_of(structure))


def stored_pattern(structure: AnalysedStructure) -> Pattern:
    """The powder pattern the database stores for every structure (:data:`STORED_XRD`)."""
    return XRDModel.from_analysed(structure).pattern(**STORED_XRD)


def stored_structure(structure: AnalysedStructure, **fields) -> dict:
    """What the store's ``insert_structure`` takes for an analysed structure: it, its CIF, densities and stored
    pattern, plus ``fields`` (name, source file, dataset ...)."""
    return {"structure": structure, "cif": cif_of(structure), "density": structure_density(structure),
            "pattern": stored_pattern(structure), **fields}


def density_report(file_or_formula: str, a_angstrom: float | None = None, z: float = 4.0, block: str | None = None,
                   force: bool = False) -> dict:
    """Density and molar volume of a structure file (refined and nominal composition) or a formula
    (Z = ``z``; a from the lattice model unless given)."""
    path = Path(file_or_formula)
    if path.suffix.lower() in (".yaml", ".yml", ".cif") or path.exists():
        structure = analyse_structure(path, a_angstrom, block=block, force=force)
        density = structure_density(structure)
        result = {
            "name": structure.name, "input": str(path), "formula": format_formula(structure.formula_per_fu),
            "z": structure.z, "a_angstrom": structure.a_angstrom, "a_sigma_angstrom": structure.lattice.sigma_angstrom,
            "a_source": structure.lattice.source, "volume_angstrom3": structure.volume_angstrom3,
            "molar_mass_g_mol": structure.molar_mass_g_mol, "density_g_cm3": density.density_g_cm3,
            "molar_volume_cm3_mol": density.molar_volume_cm3_mol,
        }
        if structure.nominal_per_fu:
            result.update(nominal_formula=structure.nominal_formula,
                          nominal_molar_mass_g_mol=density.nominal_molar_mass_g_mol,
                          nominal_density_g_cm3=density.nominal_density_g_cm3,
                          nominal_molar_volume_cm3_mol=density.molar_volume_cm3_mol)
        return result
    formula = parse_formula(file_or_formula, source=file_or_formula)
    lattice = given(a_angstrom) if a_angstrom is not None else predict(formula, file_or_formula)
    d = density_of_formula(formula, lattice.a_angstrom, z)
    return {
        "name": file_or_formula, "input": file_or_formula, "formula": format_formula(formula), "z": z,
        "a_angstrom": lattice.a_angstrom, "a_sigma_angstrom": lattice.sigma_angstrom, "a_source": lattice.source,
        "volume_angstrom3": d.volume_angstrom3, "molar_mass_g_mol": d.molar_mass_g_mol,
        "density_g_cm3": d.density_g_cm3, "molar_volume_cm3_mol": d.molar_volume_cm3_mol,
    }


# --------------------------------------------------------------------------- database

#: What every OBELiX structure carries: OBELiX randomised its CIFs' atomic positions for licensing.
OBELIX_STRUCTURE_CAVEAT = (
    "OBELiX CIF: standardised from ICSD or literature structures with atomic positions randomly perturbed "
    "(symmetry kept) for licensing; coordinates are close to, not equal to, the published ones")


@lru_cache(maxsize=256)
def _literature_structure(path: str, mtime_ns: int, size: int) -> tuple:
    """(analysed structure, CIF text, density, stored pattern) of a literature CIF, or (None, reason);
    remembered per file version, so repeated builds in one process analyse each file once."""
    try:
        structure = analyse_structure(path)
    except InputError as exc:
        return None, exc.problem
    return structure, cif_of(structure), structure_density(structure), stored_pattern(structure)


def literature_structures(folder: Path) -> list[tuple[str, Path, tuple]]:
    """(dataset ID, path, analysis) of every CIF in ``folder`` (the file name is the ID)."""
    out = []
    for path in sorted(folder.glob("*.cif")):
        stat = path.stat()
        out.append((path.stem, path, _literature_structure(str(path), stat.st_mtime_ns, stat.st_size)))
    return out


def build_database(db_path: str | Path | None = None, literature_dir: str | Path | None = None,
                   structure_paths: list[Path] | None = None, show_progress: bool = True,
                   literature_structures_included: bool = True) -> dict:
    """Build the database from the literature data (default: packaged), the refinement files (default:
    packaged) and the literature structures (the OBELiX CIFs in ``<literature>/obelix_cifs``, each linked
    to its measurement; files that are not argyrodites go to ``refused_structures`` with the reason),
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
            structure = analyse_structure(path)
            if structure.errors:
                raise InputError(path, f"{structure.errors[0].kind}: {structure.errors[0].message}")
            build.insert_structure(structure, source_file=display_path(str(path)), cif=cif_of(structure),
                                   density=structure_density(structure), pattern=stored_pattern(structure))
            steps.update()
        obelix_cifs = folder / "obelix_cifs"
        if literature_structures_included and obelix_cifs.is_dir():
            names = {row["obelix_id"]: row["reduced_composition"] for row in obelix_rows(folder)}
            for dataset_id, path, analysis in literature_structures(obelix_cifs):
                where = f"obelix_cifs/{path.name}"
                if analysis[0] is None:
                    build.insert_refused("obelix", dataset_id, where, analysis[1], OBELIX_LICENCE, OBELIX_ATTRIBUTION)
                    continue
                structure, cif, density, pattern = analysis
                build.insert_structure(structure, name=f"OBELiX {dataset_id} {names.get(dataset_id, structure.name)}",
                                       source_file=where, cif=cif,
                                       density=density, pattern=pattern, dataset="obelix", dataset_id=dataset_id,
                                       caveat=OBELIX_STRUCTURE_CAVEAT, licence=OBELIX_LICENCE, attribution=OBELIX_ATTRIBUTION)
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
            path = Path(tmp) / row.structure_file
            path.write_text(row.structure_text, encoding="utf-8")
            try:
                structure = analyse_structure(path)
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


# --------------------------------------------------------------------------- powder refinement

#: B (A^2) of an impurity site whose CIF gives none (the bundled lithium halides and Li2S: their sources publish
#: none). Held fixed, and said in the refinement's warnings: on the synthetic patterns of tests/data/refine the LiCl
#: weight fraction moved by 0.01-0.04 wt% between B = 1 and the truth (Li 1.8, Cl 1.1) or a refined B.
ASSUMED_IMPURITY_B_ANGSTROM2 = 1.0


def impurity_structure(name_or_path: str):
    """A second phase for a refinement: a bundled reference structure by name (``phase_names()``) or a CIF
    file, as a pymatgen Structure with B (``b_iso`` site property, from B or 8 pi^2 U in the CIF)."""
    import math

    import gemmi
    from pymatgen.core import Lattice, Structure

    path = bundled_phase_file(name_or_path)
    if path is None:
        path = Path(name_or_path)
        if path.suffix.lower() != ".cif":
            raise ParameterError("phases", f"{name_or_path!r} is neither a bundled phase ({', '.join(phase_names())}) nor a .cif file")
        if not path.is_file():
            raise InputError(path, "no such file")
    try:
        small = gemmi.read_small_structure(str(path))
    except (RuntimeError, ValueError) as exc:
        raise InputError(path, f"cannot read the CIF: {exc}") from None
    sites = small.get_all_unit_cell_sites()
    if not sites:
        raise InputError(path, "no atom sites")
    cell = small.cell
    lattice = Lattice.from_parameters(cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma)
    species = [{s.element.name: s.occ} for s in sites]
    coords = [[s.fract.x, s.fract.y, s.fract.z] for s in sites]
    b_iso = [8 * math.pi**2 * s.u_iso if s.u_iso > 0 else ASSUMED_IMPURITY_B_ANGSTROM2 for s in sites]
    name = Path(path).stem
    structure = Structure(lattice, species, coords, site_properties={"b_iso": b_iso})
    assumed = sorted({s.label for s in sites if not s.u_iso > 0})
    if assumed:
        structure.properties["b_iso_assumed"] = {"b_angstrom2": ASSUMED_IMPURITY_B_ANGSTROM2, "sites": assumed}
    return name, structure


#: Fewest data points a refinement's 2theta range may leave.
REFINE_MIN_POINTS = 50


def refine_pattern(data_path: str | Path, start, phases: tuple[str, ...] = (), mode: str = "rietveld",
                   wavelength: str | float | None = None, two_theta_range: tuple[float, float] | None = None,
                   refine: list[str] | None = None, background_terms: int = 12, tie_totals: tuple[str, ...] | None = None,
                   monochromator_two_theta_deg: float | None = None):
    """Refine a measured powder pattern from a start structure (path, pymatgen Structure, ASE Atoms or analysed
    structure) plus second phases (bundled names such as LiCl, or CIF files). Returns (result, refined
    Refinement or None in Pawley mode, PowderData); see :mod:`argyrodb.physics.rietveld`.

    ``wavelength`` None: the file's (XRDML states its anode, K-alpha1/2 and ratio), else Cu K-alpha1/2. Poisson
    weights need counts: counts/s are multiplied by the counting time; intensities that are not whole counts (and
    no sigma) are refined with a warning that R_exp and GoF assume counts."""
    import hashlib

    import numpy as np

    data = read_powder_data(data_path)
    if two_theta_range is not None:
        data = data.select(two_theta_range, min_points=REFINE_MIN_POINTS)
    x, y, sigma = data.two_theta_deg, data.counts, data.sigma
    notes = []
    if wavelength is None:
        wavelength = data.wavelength_components() or "CuKa12"
        notes.append(f"wavelength: {'from the file' if isinstance(wavelength, list) else 'Cu K-alpha1/2 (the file states none)'}")
    if data.kind == "counts_per_second" and sigma is None:
        total = data.counts_total()
        if total is not None:
            y = np.asarray(total, dtype=float)
            notes.append("counts/s multiplied by the counting time: Poisson weights on counts")
        else:
            notes.append("counts/s without a counting time: R_exp and GoF assume the values are counts")
    elif sigma is None and np.any(np.abs(y - np.round(y)) > 1e-6):
        notes.append("the intensities are not whole counts and the file gives no sigma: Poisson weights, R_exp and GoF "
                     "assume counts (give raw counts or an .xye with sigma)")
    structure = start if isinstance(start, AnalysedStructure) else analyse_structure(start)
    main = argyrodite_phase(structure, tie_totals=tie_totals)
    others = [impurity_phase(*impurity_structure(p)) for p in phases]
    names = [main.name] + [p.name for p in others]
    if len(set(names)) != len(names):
        raise ParameterError("phases", f"phase names must differ: {names}")
    refiner = Refiner(x, y, sigma, [main, *others], wavelength=wavelength, mode=mode, background_terms=background_terms,
                      monochromator_two_theta_deg=monochromator_two_theta_deg, refine=set(refine) if refine else None)
    result = refiner.run()
    if not np.all(np.isfinite(result.calculated)):  # before the displacement probes: they would refit a diverged fit
        raise InputError(data_path, "the refinement diverged (non-finite calculated pattern)")
    result.warnings.extend(n for n in notes if "assume" in n)
    result.settings["data_notes"] = notes
    if refine is None:  # default settings: say whether a hinges on the zero-shift/displacement choice
        note = displacement_check(refiner, result)
        if note:
            result.warnings.append(note)
    result.settings["pattern_file"] = str(data_path)
    digest = hashlib.sha256(Path(data_path).read_bytes()).hexdigest()
    result.settings["pattern_sha256"] = digest
    refined = refined_refinement(main, result, str(Path(data_path).name), digest) if mode == "rietveld" else None
    return result, refined, data


def refinement_json(result) -> dict:
    """The JSON of ``argyrodb refine --json`` (keys in the README)."""
    parameters = {name: {"value": p.value, "esd": p.esd, "refined": p.refine} for name, p in result.parameters.items()}
    return {
        "mode": result.mode, "r_p": result.r_p, "r_wp": result.r_wp, "r_exp": result.r_exp, "gof": result.gof,
        "zero_shift_deg": result.parameters["zero_shift_deg"].value,
        "zero_shift_esd": result.parameters["zero_shift_deg"].esd,
        "n_points": result.n_points, "n_parameters": result.n_parameters,
        "phases": result.phases, "parameters": parameters,
        "correlations": [{"a": a, "b": b, "r": r} for a, b, r in result.correlations],
        "warnings": result.warnings, "seconds": result.seconds, "settings": result.settings,
    }


def refinement_record(result, refined, data_name: str) -> dict:
    """The ``refinements`` row of a refinement (see migration 0006)."""
    import json

    main = result.phases[0]
    return {
        "name": refined.name if refined is not None else f"{main['name']} pawley",
        "data_file": data_name, "data_sha256": result.settings.get("pattern_sha256", ""), "mode": result.mode,
        "wavelength": str(result.settings.get("wavelength")), "two_theta_min_deg": float(result.two_theta_deg[0]),
        "two_theta_max_deg": float(result.two_theta_deg[-1]), "n_points": result.n_points,
        "n_parameters": result.n_parameters, "r_p": result.r_p, "r_wp": result.r_wp, "r_exp": result.r_exp,
        "gof": result.gof, "a_angstrom": main["a_angstrom"], "a_esd_angstrom": main["a_esd"],
        "zero_shift_deg": result.parameters["zero_shift_deg"].value,
        "parameters_json": json.dumps({n: {"value": p.value, "esd": p.esd, "refined": p.refine}
                                       for n, p in result.parameters.items()}),
        "phases_json": json.dumps(result.phases, default=float), "settings_json": json.dumps(result.settings, default=str),
        "warnings_json": json.dumps(result.warnings),
        "refined_yaml": refinement_yaml(refined) if refined is not None else None,
    }


def store_refinement(result, refined, structure: AnalysedStructure | None, data_path: str | Path,
                     db_path: str | Path | None = None) -> dict:
    """Store a refinement and its refined structure (dataset 'user') in the database."""
    record = refinement_record(result, refined, Path(data_path).name)
    args = None
    if structure is not None:
        args = _refinement_structure(structure, Path(data_path).name)
    return add_refinement(db_path, record, args)


def _refined_structure_args(record: dict) -> dict | None:
    """Arguments to store a refinement's refined structure again (from its stored refinement YAML)."""
    import tempfile

    if not record.get("refined_yaml"):
        return None
    with tempfile.TemporaryDirectory(prefix="argyrodb-refined-") as tmp:
        path = Path(tmp) / "refined.yaml"
        path.write_text(record["refined_yaml"], encoding="utf-8")
        structure = analyse_structure(path)
    return _refinement_structure(structure, record["data_file"])


def _refinement_structure(structure: AnalysedStructure, data_name: str) -> dict:
    """How a refined structure is stored (at the first refinement and when `db build` replays it)."""
    return stored_structure(structure, name=f"{structure.name} from {data_name}", source_file=f"argyrodb refine {data_name}",
                            dataset_id=f"refinement of {data_name}")
