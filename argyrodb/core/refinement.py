"""The in-memory model of a refined argyrodite structure as read from a file, shared by every reader,
and the lattice parameter with its provenance."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

from .errors import InputError, ParameterError

#: Range of cubic lattice parameters (A) accepted anywhere in argyrodb: argyrodites sit near 9.8-10.3 A;
#: anything outside 3-50 A is a typing or unit error (nm, pm), refused wherever a comes in.
A_MIN_ANGSTROM = 3.0
A_MAX_ANGSTROM = 50.0


def check_lattice_parameter(a: float | None, source: str, parameter: str | None = None) -> float | None:
    """``a`` unchanged, or an :class:`InputError` naming ``source`` (a :class:`ParameterError` naming
    ``parameter`` when given) when it is not plausible."""
    try:
        value = None if a is None else float(a)
    except (TypeError, ValueError):
        value = float("nan")
    if a is not None and not (isinstance(a, numbers.Real) and math.isfinite(value) and A_MIN_ANGSTROM < value < A_MAX_ANGSTROM):
        problem = f"lattice parameter a = {a!r} A is not plausible for an argyrodite"
        if parameter:
            raise ParameterError(parameter, problem)
        raise InputError(source, problem)
    return a


@dataclass(frozen=True)
class LatticeParameter:
    """A cubic lattice parameter and where it comes from.

    ``kind`` is ``reported`` (the file's value), ``given`` (the caller's) or ``predicted`` (the lattice
    model of :mod:`argyrodb.physics.lattice`, with ``sigma_angstrom`` its 1-sigma uncertainty).
    """

    a_angstrom: float
    source: str
    kind: str = "reported"
    sigma_angstrom: float | None = None
    #: Why a predicted a is an extrapolation of the lattice model (empty: inside its calibration, or not predicted),
    #: in full and in a few words for plot labels (same order).
    extrapolation: tuple[str, ...] = ()
    extrapolation_short: tuple[str, ...] = ()

    @property
    def extrapolated(self) -> bool:
        """True when a is the lattice model's prediction outside its calibration."""
        return bool(self.extrapolation)

    @property
    def extrapolated_because(self) -> str | None:
        """The reasons of :attr:`extrapolated` joined ('; '), None when a is not extrapolated."""
        return "; ".join(self.extrapolation) if self.extrapolation else None

    def label(self) -> str:
        """Where a comes from in a few words, for plots and one-line reports: 'reported', 'given', 'lattice
        model' or 'lattice model, extrapolated: halide excess +0.4'."""
        if self.kind != "predicted":
            return self.kind
        return "lattice model" + (f", extrapolated: {'; '.join(self.extrapolation_short)}" if self.extrapolated else "")

    def as_dict(self) -> dict:
        return {"a_angstrom": self.a_angstrom, "sigma_angstrom": self.sigma_angstrom, "kind": self.kind, "source": self.source,
                "extrapolated": self.extrapolated, "extrapolated_because": self.extrapolated_because}

    def json_fields(self) -> dict:
        """The a_* fields every JSON with a lattice parameter carries (build, density, xrd): its 1-sigma
        uncertainty, where it comes from (text), its kind (reported | given | predicted) and whether it is an
        extrapolation of the lattice model, with the reason."""
        return {"a_sigma_angstrom": None if self.sigma_angstrom is None else round(self.sigma_angstrom, 6),
                "a_source": self.source, "a_kind": self.kind, "a_extrapolated": self.extrapolated,
                "a_extrapolated_because": self.extrapolated_because}


@dataclass(frozen=True)
class RefinedSite:
    """One row of a refinement table: one element on one position.

    ``printed`` keeps the numbers' text as printed in the source (e.g. ``"2.6070"``) so that later
    checks can reason about the printed precision.
    """

    label: str
    element: str
    wyckoff_reported: str | None
    x: float
    y: float
    z: float
    occupancy: float
    b_iso_angstrom2: float | None
    source_row: int | None = None
    printed: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def xyz(self) -> tuple[float, float, float]:
        return (self.x, self.y, self.z)


@dataclass(frozen=True)
class OccupancyConstraint:
    """A constraint the refinement claims to have applied: occupancies of ``labels`` sum to ``value``."""

    labels: tuple[str, ...]
    value: float
    source: str = ""


@dataclass
class Refinement:
    """A refined (or published) site-disordered F-43m structure, as read from a file."""

    name: str
    nominal_formula: str
    sites: list[RefinedSite]
    a_angstrom: float | None = None
    a_note: str = ""
    space_group_symbol: str = "F-43m"
    space_group_number: int = 216
    provenance: dict[str, object] = field(default_factory=dict)
    constraints: list[OccupancyConstraint] = field(default_factory=list)
    source_path: str = ""

    def site(self, label: str) -> RefinedSite:
        """The site row labelled ``label`` (KeyError when there is none)."""
        for s in self.sites:
            if s.label == label:
                return s
        raise KeyError(label)
