"""Refine a measured powder pattern (Rietveld or Pawley) from an analysed start structure and optional impurity
phases, and store the result (:func:`refine_pattern`, :func:`store_refinement`)."""

from __future__ import annotations

from pathlib import Path

from ..core.chemistry import parse_formula
from ..core.errors import InputError, NotArgyrodite, ParameterError
from ..core.refinement_writer import refinement_yaml
from ..core.resources import (
    bundled_phase_file,
    phase_names,
)
from ..physics.instrument import ASYMMETRY_VALUES, Instrument
from ..physics.parameters import ParameterKind
from ..physics.pattern_data import read_powder_data
from ..physics.rietveld import (
    RefinementSettings,
    Refiner,
    argyrodite_phase,
    displacement_check,
    impurity_phase,
    refined_refinement,
)
from ..physics.scattering import WavelengthComponent
from ..physics.structure import AnalysedStructure, analyse
from ..store.ingest import (
    add_refinement,
)
from .build import _refinement_structure

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
                   monochromator_two_theta_deg: float | None = None, nominal: str | dict[str, float] | None = None,
                   free_totals: bool = False, instrument: str | Path | Instrument | None = None,
                   calibrate: bool = False, start_values: dict[str, float] | None = None, radiation: str = "xray",
                   asymmetry: str = "axial"):
    """Refine a measured powder pattern from a start structure (path, pymatgen Structure, ASE Atoms or analysed
    structure) plus second phases (bundled names such as LiCl, or CIF files). Returns (result, refined
    Refinement or None in Pawley mode, PowderData); see :mod:`argyrodb.physics.rietveld`.

    ``wavelength`` None: the file's (XRDML states its anode, K-alpha1/2 and ratio), else Cu K-alpha1/2. Poisson
    weights need counts: counts/s are multiplied by the counting time; intensities that are not whole counts (and
    no sigma) are refined with a warning that R_exp and GoF assume counts.

    Composition (:func:`~argyrodb.physics.rietveld.held_composition`): by default the nominal, charge-neutral
    composition is held - ``nominal`` (a formula such as "Li5.6PS4.6Cl0.8I0.6", any element order, or element ->
    amount per formula unit), else the start's nominal formula - and only each halide's 4a/4d split is refined;
    ``tie_totals`` names the halides held (the others free); ``free_totals`` frees every total.

    Any crystal structure: a start CIF that is not an argyrodite (a standard, Si or LaB6) is refined as a fixed
    structure (scale, a, profile). ``calibrate``: the start is a standard, its a held at the CIF's (the
    certificate's); zero shift, displacement, transparency, U V W X Y and the axial divergence are refined and the
    result's ``calibration`` is the :class:`~argyrodb.physics.instrument.Instrument` to write. ``instrument``
    (a file or an Instrument): its zero shift, widths and axial divergence are held and the sizes and strains are
    the sample's (:mod:`argyrodb.physics.instrument`).

    ``start_values``: parameter name -> value to start from (a previous fit's, e.g. ``a:PHASE``, ``zero_shift_deg``,
    ``U:PHASE``, ``Y:PHASE``; :mod:`argyrodb.pipeline.series` passes the previous member's). A cubic phase's a
    becomes its start (the +-3 % bounds and the start scan centred there); another parameter starts there when this
    refinement refines it (held ones, an instrument's, keep their values); names of no parameter here are ignored.
    The values used are recorded in the result's ``settings['start_values']``.

    ``asymmetry``: the axial-divergence model, "axial" (one angle, ``axial_deg``) or "fcj" (Finger-Cox-Jephcoat S/L
    and H/L, H/L tied to S/L unless ``refine`` names it); a calibration writes the model's values, and an instrument
    file of either model is held under either (:mod:`argyrodb.physics.instrument`).

    ``radiation`` "neutron": constant-wavelength neutron data (Sears' scattering lengths, no polarisation); the
    ``wavelength`` in Å must then be given (a file's X-ray anode says nothing about a neutron monochromator)."""
    import hashlib

    import numpy as np

    data = read_powder_data(data_path)
    if two_theta_range is not None:
        data = data.select(two_theta_range, min_points=REFINE_MIN_POINTS)
    x, y, sigma = data.two_theta_deg, data.counts, data.sigma
    notes = list(data.metadata.get("notes", []))  # the reader's (several scans, negative intensities, ...)
    used_wavelength: str | float | tuple[WavelengthComponent, ...]
    if wavelength is None and radiation == "neutron":
        raise ParameterError("wavelength", "neutron data need the wavelength in angstrom (e.g. --wavelength 1.594)")
    if wavelength is None:
        components = data.wavelength_components()
        used_wavelength = tuple(components) if components else "CuKa12"
        notes.append(f"wavelength: {'from the file' if components else 'Cu K-alpha1/2 (the file states none)'}")
    else:
        used_wavelength = wavelength
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
    if calibrate and instrument is not None:
        raise ParameterError("instrument", "--calibrate makes an instrument file; --instrument uses one: not both")
    held_instrument = Instrument.read(instrument) if isinstance(instrument, (str, Path)) else instrument
    if free_totals and tie_totals is not None:
        raise ParameterError("free_totals", "give --free-totals or --tie-totals, not both")
    if free_totals and nominal is not None:
        raise ParameterError("nominal", "--nominal sets the composition to hold; with --free-totals nothing is held")
    nominal_amounts = parse_formula(nominal, source="--nominal") if isinstance(nominal, str) else nominal
    main = _main_phase(start, tie_totals=() if free_totals else tie_totals, nominal=nominal_amounts)
    if main.structure is None and (nominal is not None or free_totals or tie_totals is not None):
        raise ParameterError("nominal" if nominal is not None else "free_totals" if free_totals else "tie_totals",
                             f"{main.name} is not an argyrodite: it has no anion-site totals to hold or free")
    if calibrate and refine is None:
        # the standard's a is the certificate's: everything else that places and shapes its lines is refined
        refine = ["zero_shift_deg", "displacement_deg", "transparency_deg", "U", "V", "W", "X", "Y:",
                  "axial_deg" if asymmetry == "axial" else "S_L"]
    others = [impurity_phase(*impurity_structure(p)) for p in phases]
    names = [main.name] + [p.name for p in others]
    if len(set(names)) != len(names):
        raise ParameterError("phases", f"phase names must differ: {names}")
    given_start = dict(start_values or {})
    used_start: dict[str, float] = {}
    for phase in (main, *others):  # a previous fit's a: the start, the bounds and the scan centred there
        a_start = given_start.get(phase.key("a"))
        if phase.cubic and a_start is not None and np.isfinite(a_start) and a_start > 0:
            phase.a0 = used_start[phase.key("a")] = float(a_start)
    # the digest first: the result's settings record names exactly the bytes that were refined
    digest = hashlib.sha256(Path(data_path).read_bytes()).hexdigest()
    settings = RefinementSettings(
        mode=mode, wavelength=used_wavelength, background_terms=background_terms,
        monochromator_two_theta_deg=monochromator_two_theta_deg,
        refine=tuple(refine) if refine else None,  # read against the phases by RefinementSettings.selections
        data_notes=tuple(notes), pattern_file=str(data_path), pattern_sha256=digest, instrument=held_instrument,
        radiation=radiation, asymmetry=asymmetry)
    if held_instrument is not None and held_instrument.wavelength != settings.wavelength_text:
        raise ParameterError("instrument", f"{held_instrument.source}: calibrated with {held_instrument.wavelength}, "
                                           f"the data are refined with {settings.wavelength_text}")
    refiner = Refiner(x, y, sigma, [main, *others], settings)
    for name, value in given_start.items():
        parameter = refiner.params.get(name)
        if (parameter is not None and parameter.refine and name not in used_start and np.isfinite(value)
                and parameter.definition.kind is not ParameterKind.A):
            parameter.value = used_start[name] = float(np.clip(value, parameter.lower, parameter.upper))
    try:
        result = refiner.run()
    except InputError as exc:
        if exc.source == "data":  # the refiner's refusals of the data name the file
            raise InputError(data_path, exc.problem) from None
        raise
    if not np.all(np.isfinite(result.calculated)):  # before the displacement probes: they would refit a diverged fit
        raise InputError(data_path, "the refinement diverged (non-finite calculated pattern)")
    result.warnings.extend(n for n in notes if "assume" in n or n in data.metadata.get("notes", []))
    if used_start:
        result.settings["start_values"] = used_start
    if settings.refine is None and held_instrument is None:  # say whether a hinges on the zero/displacement choice
        note = displacement_check(refiner, result)
        if note:
            result.warnings.append(note)
    if calibrate:
        result.calibration = _calibration(refiner, result, main, data_path, digest)
    detected = result.phases[0].get("detected") is not False
    refined = (refined_refinement(main, result, str(Path(data_path).name), digest)
               if mode == "rietveld" and detected and main.structure is not None else None)
    return result, refined, data


def _main_phase(start, tie_totals, nominal):
    """The refinement's main phase: an argyrodite (occupancies, held composition) or, for a CIF of any other
    structure (a standard), a fixed structure."""
    try:
        structure = analyse(start)  # an analysed structure is returned as it is
    except NotArgyrodite as exc:
        if not (isinstance(start, (str, Path)) and Path(start).suffix.lower() == ".cif"):
            raise
        phase = impurity_phase(*impurity_structure(str(start)))
        phase.messages.insert(0, f"{phase.name}: not an argyrodite ({exc.problem.split(': ', 1)[-1].split(',')[0]}): "
                                 "refined as a fixed structure (scale, a, profile; no occupancies)")
        return phase
    return argyrodite_phase(structure, tie_totals=tie_totals, nominal=nominal)


def _calibration(refiner: Refiner, result, main, data_path, digest: str) -> Instrument:
    """The instrument a calibration on a standard found (values held for samples, see physics.instrument)."""
    p = result.parameters
    u = refiner.width_parameter(main, ParameterKind.U).name
    x = refiner.width_parameter(main, ParameterKind.X).name
    y = main.parameter(ParameterKind.Y).name
    names = {"zero_shift_deg": "zero_shift_deg", "U": u, "V": "V", "W": "W", "X": x, "Y": y}
    names.update({k: k for k in ASYMMETRY_VALUES[refiner.asymmetry]})
    entry = result.phases[0]
    return Instrument(
        values={k: float(p[n].value) for k, n in names.items()},
        # a tied H/L carries S/L's esd (the result's parameters): it is S/L's value
        esds={k: (None if p[n].esd is None or not (p[n].refine or n == "H_L") else float(p[n].esd)) for k, n in names.items()},
        asymmetry=refiner.asymmetry,
        wavelength=refiner.settings.wavelength_text, monochromator_two_theta_deg=refiner.monochromator,
        standard={"file": Path(data_path).name, "sha256": digest, "phase": main.name,
                  "a_angstrom_held": entry["a_angstrom"], "gof": round(result.gof, 4),
                  "two_theta_range_deg": [float(result.two_theta_deg[0]), float(result.two_theta_deg[-1])],
                  "displacement_deg": float(p["displacement_deg"].value),
                  "transparency_deg": float(p["transparency_deg"].value),
                  "note": "the standard's displacement and transparency are its own: samples refine theirs"})



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


