"""The in-memory model of a refined argyrodite structure, shared by every reader and writer."""

from __future__ import annotations

from dataclasses import dataclass, field


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
        for s in self.sites:
            if s.label == label:
                return s
        raise KeyError(label)
