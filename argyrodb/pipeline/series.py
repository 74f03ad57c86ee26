"""Sequential refinement of a series of powder patterns (``argyrodb refine --series``): a composition series
(one nominal formula per pattern), or a temperature or time series (one for all), each pattern refined as
:func:`~argyrodb.pipeline.refine.refine_pattern` refines one, in order, each starting from the previous one's fit.

* Member 1 is refined exactly as a single ``refine`` would (the start file's a and the default profile).
* Member k >= 2 starts from the last **reliable** member's fit: its lattice parameters (each detected phase's a,
  which also re-centres the +-3 % bounds and the start scan of a) and the profile and shift parameters (zero shift,
  displacement, transparency, U V W X Y, axial divergence) - the names match, as every member is built from the
  same start file and second phases (:data:`CARRIED`). Its occupancies are the start file's moved onto the
  member's own nominal composition (:func:`~argyrodb.physics.rietveld.held_composition`), B the start file's: the
  composition changes from member to member, the instrument and the powder's line shapes change little.
* A member that is refused (a file that cannot be read or refined: :class:`~argyrodb.core.errors.InputError`) is
  kept with its error; an unreliable one (``result.reliable`` false) is kept and stored with its reasons; neither
  is started from. Options that are wrong for every member (a formula that does not parse, a nominal the start
  cannot hold, an unknown phase or ``--refine`` item, a missing file or database) are refused before anything
  is refined.
* ``db_path``: each member is stored as it is done (:func:`~argyrodb.pipeline.refine.store_refinement`), so an
  interrupted series keeps the members before it.

The series variable (:func:`series_variable`) is the nominal amount of the halide that varies most across the
members (the heavier one when two vary as much: Br in Li6PS5Cl(1-x)Br(x)), else the member's number.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.chemistry import parse_formula
from ..core.errors import InputError, ParameterError
from ..physics.instrument import Instrument
from ..physics.parameters import ParameterKind
from ..physics.rietveld import ANION_WYCKOFF, HALIDES, RefinementResult, RefinementSettings, impurity_phase
from ..physics.structure import analyse
from ..store.connection import database_path
from .refine import _main_phase, impurity_structure, refine_pattern, store_refinement

#: The parameters a member takes from the previous reliable member's fit (by name): lattice, line positions, widths.
CARRIED = frozenset({ParameterKind.A, ParameterKind.ZERO_SHIFT, ParameterKind.DISPLACEMENT, ParameterKind.TRANSPARENCY,
                     ParameterKind.U, ParameterKind.V, ParameterKind.W, ParameterKind.X, ParameterKind.Y,
                     ParameterKind.AXIAL, ParameterKind.S_L, ParameterKind.H_L})
#: Fewest patterns in a series.
MIN_MEMBERS = 2


@dataclass
class SeriesMember:
    """One pattern of a series: its number (from 1), file, the nominal formula held (as given, or the start's) and
    its amounts per formula unit, the member it started from (None: the start file), and its result - or the
    error that refused it."""

    index: int
    data_path: Path
    nominal: str | None
    nominal_per_fu: dict[str, float]
    started_from: int | None = None
    result: RefinementResult | None = None
    refined: Any = None
    error: str | None = None
    stored: dict | None = None
    seconds: float = 0.0

    @property
    def reliable(self) -> bool:
        return self.result is not None and self.result.reliable


@dataclass
class SeriesResult:
    """A refined series: the start, each member in order, the series variable (:func:`series_variable`), and the
    columns its table has (the second phases, and the halide/site occupancies)."""

    start: str
    members: list[SeriesMember]
    variable: dict
    second_phases: list[str] = field(default_factory=list)
    occupancy_columns: list[tuple[str, str]] = field(default_factory=list)  # (halide, Wyckoff symbol)
    seconds: float = 0.0

    @property
    def refined_members(self) -> list[SeriesMember]:
        return [m for m in self.members if m.result is not None]

    def table(self) -> list[dict]:
        """One flat row per member (the CSV's and the JSON's ``table``; None where a member has no value)."""
        return [_row(m, self, x) for m, x in zip(self.members, self.variable["values"])]


def series_nominals(nominal: str | Sequence[str] | None, n: int) -> list[str | None]:
    """One nominal formula (or None: the start's) per member: none, one for all, or one each."""
    if nominal is None:
        return [None] * n
    given: list[str | None] = [nominal] if isinstance(nominal, str) else [str(f) for f in nominal]
    if not given:
        return [None] * n
    if len(given) == 1:
        return given * n
    if len(given) != n:
        raise ParameterError("nominal", f"{len(given)} formulas for {n} patterns: give one per pattern, in the same "
                                        "order, or one for all")
    return given


def series_variable(members: Sequence[SeriesMember]) -> dict:
    """What the series varies: the nominal amount per formula unit of the halide whose amount spans the widest range
    across the members (the heavier of two that span the same), else the member number."""
    ranges: dict[str, float] = {}
    for el in HALIDES:
        amounts = [m.nominal_per_fu.get(el, 0.0) for m in members]
        if max(amounts) - min(amounts) > 1e-9:
            ranges[el] = max(amounts) - min(amounts)
    if ranges:
        widest = max(ranges.values())
        element = [el for el in HALIDES if el in ranges and ranges[el] >= widest - 1e-9][-1]
        return {"element": element, "label": f"{element} per formula unit (nominal)", "column": f"nominal_{element}_per_fu",
                "values": [m.nominal_per_fu.get(element, 0.0) for m in members]}
    return {"element": None, "label": "member", "column": None, "values": [float(m.index) for m in members]}


def start_values(result: RefinementResult) -> dict[str, float]:
    """The parameters of ``result`` the next member starts from (:data:`CARRIED`; a phase's only when it was
    detected)."""
    detected = {p["name"] for p in result.phases if p.get("detected") is not False}
    return {name: float(p.value) for name, p in result.parameters.items()
            if p.definition.kind in CARRIED and (p.definition.phase is None or p.definition.phase in detected)
            and math.isfinite(p.value)}


def refine_series(data_paths: Sequence[str | Path], start, nominal: str | Sequence[str] | None = None,
                  phases: tuple[str, ...] = (), mode: str = "rietveld", wavelength: str | float | None = None,
                  two_theta_range: tuple[float, float] | None = None, refine: list[str] | None = None,
                  background_terms: int = 12, tie_totals: tuple[str, ...] | None = None,
                  monochromator_two_theta_deg: float | None = None, free_totals: bool = False,
                  instrument: str | Path | Instrument | None = None, db_path: str | Path | None = None,
                  show_progress: bool = False, asymmetry: str = "axial") -> SeriesResult:
    """Refine ``data_paths`` in order, each from the previous reliable fit (module docstring); the other arguments
    are :func:`~argyrodb.pipeline.refine.refine_pattern`'s, for every member. ``nominal``: one formula per pattern,
    one for all, or None (each member holds the start's nominal formula). ``db_path``: store every refined member
    there. ``show_progress``: a tqdm bar over the members on stderr."""
    from tqdm import tqdm

    paths = [Path(p) for p in data_paths]
    if len(paths) < MIN_MEMBERS:
        raise ParameterError("data_paths", f"a series needs at least {MIN_MEMBERS} patterns, got {len(paths)}")
    nominals = series_nominals(nominal, len(paths))
    _check_options(paths, nominals, free_totals, tie_totals, two_theta_range, db_path)
    held_instrument = Instrument.read(instrument) if isinstance(instrument, (str, Path)) else instrument
    amounts = [parse_formula(f, source="--nominal") if f else None for f in nominals]
    # every member's main phase, built now: a nominal the start cannot hold is refused before anything is refined
    others = [impurity_phase(*impurity_structure(p)) for p in phases]
    ties = () if free_totals else tie_totals
    mains = {}
    for path, text, per_fu in zip(paths, nominals, amounts):
        if text not in mains:
            try:
                mains[text] = _main_phase(start, tie_totals=ties, nominal=per_fu)
            except ParameterError as exc:
                if exc.parameter != "nominal" or text is None:
                    raise
                raise ParameterError("nominal", f"{text} (for {path.name}): {exc.problem}") from None
            if mains[text].structure is None and (per_fu is not None or free_totals or tie_totals is not None):
                raise ParameterError("nominal" if per_fu is not None else "free_totals" if free_totals else "tie_totals",
                                     f"{mains[text].name} is not an argyrodite: it has no anion-site totals to hold or free")
    main = next(iter(mains.values()))
    if refine:  # an unknown item, or one of the other asymmetry model's, is refused here
        RefinementSettings(refine=tuple(refine), asymmetry=asymmetry).selections([main, *others])
    names = [main.name] + [p.name for p in others]
    if len(set(names)) != len(names):
        raise ParameterError("phases", f"phase names must differ: {names}")
    start_structure = main.structure
    start_nominal = start_structure.nominal_formula if start_structure is not None else None
    start_per_fu = dict(start_structure.nominal_per_fu) if start_structure is not None else {}
    members = [SeriesMember(k + 1, path, text or start_nominal or None, dict(per_fu) if per_fu else start_per_fu)
               for k, (path, text, per_fu) in enumerate(zip(paths, nominals, amounts))]
    started = time.perf_counter()
    last_reliable: SeriesMember | None = None
    bar = tqdm(members, desc="refine series", unit="pattern", disable=not show_progress)
    for member, per_fu in zip(bar, amounts):
        bar.set_postfix_str(member.data_path.name, refresh=False)
        member.started_from = None if last_reliable is None else last_reliable.index
        begun = time.perf_counter()
        try:
            result, refined, _ = refine_pattern(
                member.data_path, start, tuple(phases), mode=mode, wavelength=wavelength, two_theta_range=two_theta_range,
                refine=refine, background_terms=background_terms, tie_totals=tie_totals,
                monochromator_two_theta_deg=monochromator_two_theta_deg, nominal=per_fu, free_totals=free_totals,
                instrument=held_instrument, asymmetry=asymmetry,
                start_values=None if last_reliable is None or last_reliable.result is None else start_values(last_reliable.result))
        except InputError as exc:
            # the member's own file (its points, its wavelength against the instrument's): a row with its error
            member.error = f"{member.data_path}: {exc.problem}" if isinstance(exc, ParameterError) else str(exc)
            member.seconds = time.perf_counter() - begun
            continue
        member.seconds = time.perf_counter() - begun
        result.settings["series"] = {"member": member.index, "of": len(members), "nominal": member.nominal,
                                     "started_from": None if last_reliable is None else last_reliable.data_path.name}
        member.result, member.refined = result, refined
        if db_path is not None:
            member.stored = store_refinement(result, refined, analyse(refined) if refined is not None else None,
                                             member.data_path, db_path)
        if result.reliable:
            last_reliable = member
    bar.close()
    series = SeriesResult(str(start), members, series_variable(members), second_phases=[p.name for p in others],
                          seconds=time.perf_counter() - started)
    series.occupancy_columns = _occupancy_columns(series)
    return series


def _check_options(paths: list[Path], nominals: list[str | None], free_totals: bool, tie_totals, two_theta_range,
                   db_path) -> None:
    """What would refuse every member, refused before the first is refined."""
    for path in paths:
        if not path.is_file():
            raise InputError(path, "no such file")
    if free_totals and tie_totals is not None:
        raise ParameterError("free_totals", "give --free-totals or --tie-totals, not both")
    if free_totals and any(nominals):
        raise ParameterError("nominal", "--nominal sets the composition to hold; with --free-totals nothing is held")
    if two_theta_range is not None and not float(two_theta_range[0]) < float(two_theta_range[1]):
        raise ParameterError("two_theta_range", f"minimum {two_theta_range[0]:g} must be below maximum {two_theta_range[1]:g}")
    if db_path is not None and not database_path(db_path).is_file():
        raise InputError(db_path, "no database here: run `argyrodb db build` first")


def _occupancy_columns(series: SeriesResult) -> list[tuple[str, str]]:
    """(halide, site) of every halide on an anion site of any refined member: the series' halide first, the others
    in the order F, Cl, Br, I; sites in Wyckoff order."""
    found: set[tuple[str, str]] = set()
    for member in series.refined_members:
        for site in member.result.phases[0].get("sites", []) if member.result else []:
            if site["wyckoff"] in ANION_WYCKOFF:
                found.update((el, site["wyckoff"]) for el in site["occupancies"] if el in HALIDES)
    first = series.variable["element"]
    order = [first] + [el for el in HALIDES if el != first] if first else list(HALIDES)
    return sorted(found, key=lambda t: (order.index(t[0]), ANION_WYCKOFF.index(t[1])))


def _row(member: SeriesMember, series: SeriesResult, x: float) -> dict:
    row: dict[str, Any] = {"member": member.index, "file": str(member.data_path), "nominal": member.nominal}
    if series.variable["column"]:
        row[series.variable["column"]] = x
    row["started_from"] = member.started_from
    result = member.result
    main = result.phases[0] if result is not None else {}
    sites = {s["wyckoff"]: s for s in main.get("sites", [])}
    row.update(detected=main.get("detected") if result is not None else None, a_angstrom=main.get("a_angstrom"),
               a_esd_angstrom=main.get("a_esd"))
    undetermined = []
    for el, wyckoff in series.occupancy_columns:
        site = sites.get(wyckoff, {})
        row[f"{el}_{wyckoff}"] = site.get("occupancies", {}).get(el)
        row[f"{el}_{wyckoff}_esd"] = site.get("occupancy_esds", {}).get(el)
        if el in site.get("undetermined", ()):
            undetermined.append(f"{el} {wyckoff}")
    row["undetermined"] = ", ".join(undetermined) or None
    row.update(size_nm=main.get("size_nm"), size_esd_nm=main.get("size_esd_nm"),
               size_kind=main.get("size_kind") if main.get("size_nm") is not None else None,
               microstrain=main.get("microstrain"), microstrain_esd=main.get("microstrain_esd"))
    phases = {p["name"]: p for p in (result.phases[1:] if result is not None else [])}
    for name in series.second_phases:
        phase = phases.get(name, {})
        wf, bound = phase.get("weight_fraction"), phase.get("weight_fraction_upper_bound")
        row[f"{name}_detected"] = phase.get("detected") if phase else None
        row[f"{name}_wt_percent"] = None if wf is None else 100 * wf
        row[f"{name}_wt_percent_upper_bound"] = None if bound is None or phase.get("detected") is not False else 100 * bound
    row.update(gof=None if result is None else result.gof, r_wp=None if result is None else result.r_wp,
               reliable=None if result is None else result.reliable,
               reasons="; ".join(result.reasons) if result is not None and result.reasons else None,
               error=member.error, seconds=round(member.seconds, 3),
               refinement_id=None if member.stored is None else member.stored["refinement_id"])
    return {k: _plain(v) for k, v in row.items()}


def _plain(value):
    """numpy scalars as Python numbers (the table goes to JSON and CSV)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if hasattr(value, "item"):
        value = value.item()
    return float(value) if isinstance(value, float) else value
