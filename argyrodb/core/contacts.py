"""Species-aware distance checks: bonds where bonds belong, no impossible contacts.

For every pair of positions (and every pair of images of one position) and every pair of elements on them,
the shortest distance d is compared with Shannon's effective ionic radii (``argyrodb/data/ionic_radii.yaml``,
R. D. Shannon, Acta Cryst. A32 (1976) 751):

* a framework cation (P, Si, Ge, Sn, Sb, As, Al, Ga) and a chalcogen (S, Se, O, Te): a *bond* of expected
  length r_c + r_a; d below the bond window's lower end (0.85 x expected) is too short, d inside the window is
  fine (P-S 2.04 A, P-O 1.50-1.54 A, P-Se 2.2 A are bonds);
* any other pair: a *contact*; d < 0.80 x (r_1 + r_2) is too close (anion-anion well under ~3 A, Li-anion
  under ~2 A).

Severity weighs the occupancies p_1, p_2 of the two elements on their sites: if p_1 + p_2 <= 1 the two can
be avoided by any real decoration (info); if both are mostly occupied (p >= 0.5) the structure cannot be
right (error); otherwise a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .resources import data_file
from .setting import CHALCOGENS, FRAMEWORK_CATIONS
from .sites import Position


@dataclass(frozen=True)
class Radii:
    radius_angstrom: dict[str, float]
    bond_window: tuple[float, float]
    contact_factor: float
    default_radius_angstrom: float

    def radius(self, element: str) -> float:
        return self.radius_angstrom.get(element, self.default_radius_angstrom)


@lru_cache(maxsize=1)
def radii() -> Radii:
    import yaml

    with open(data_file("ionic_radii.yaml"), encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return Radii({str(k): float(v) for k, v in data["radius_angstrom"].items()}, tuple(data["bond_window"]),
                 float(data["contact_factor"]), float(data["default_radius_angstrom"]))


def is_bond(first: str, second: str) -> bool:
    return (first in FRAMEWORK_CATIONS and second in CHALCOGENS) or (second in FRAMEWORK_CATIONS and first in CHALCOGENS)


def shortest_distance(first: Position, second: Position, a_angstrom: float) -> float | None:
    """Shortest distance (A) between images of two positions of a cubic cell (minimum image); between
    distinct images when both are the same position; None when there is none."""
    diff = first.images[:, None, :] - second.images[None, :, :]
    diff -= np.round(diff)
    d = a_angstrom * np.sqrt(np.sum(diff**2, axis=-1)).ravel()
    if first is second:
        d = d[d > 1e-6]
    return float(d.min()) if d.size else None


@dataclass(frozen=True)
class Contact:
    first: str  # position name
    second: str
    first_element: str
    second_element: str
    distance_angstrom: float
    limit_angstrom: float
    kind: str  # "bond" or "contact"
    severity: str
    occupancies: tuple[float, float]

    def message(self) -> str:
        what = (f"{self.first_element}-{self.second_element} bond of {self.distance_angstrom:.3f} A is shorter than "
                f"{self.limit_angstrom:.2f} A" if self.kind == "bond" else
                f"{self.first_element}-{self.second_element} contact of {self.distance_angstrom:.3f} A is closer than "
                f"{self.limit_angstrom:.2f} A")
        p1, p2 = self.occupancies
        why = {"info": f"occupancies {p1:.3g} + {p2:.3g} <= 1: the two need not be occupied together",
               "warning": f"occupancies {p1:.3g} and {p2:.3g}: partly occupied together",
               "error": f"occupancies {p1:.3g} and {p2:.3g}: both mostly occupied, the structure cannot be right"}[self.severity]
        return f"{what} (0.80 x Shannon radii sum; {why})" if self.kind == "contact" else f"{what} ({why})"


def _severity(p1: float, p2: float) -> str:
    if p1 + p2 <= 1.0 + 1e-6:
        return "info"
    if min(p1, p2) >= 0.5:
        return "error"
    return "warning"


def check_contacts(positions: list[Position], a_angstrom: float) -> list[Contact]:
    """Every too-short bond and too-close contact (module docstring), the worst per element pair and
    position pair."""
    table = radii()
    low, _ = table.bond_window
    found: list[Contact] = []
    for i, first in enumerate(positions):
        for second in positions[i:]:
            d = shortest_distance(first, second, a_angstrom)
            if d is None:
                continue
            for e1, p1 in first.species().items():
                for e2, p2 in second.species().items():
                    if p1 <= 0 or p2 <= 0 or (first is second and e2 < e1):
                        continue
                    r = table.radius(e1) + table.radius(e2)
                    bond = is_bond(e1, e2)
                    limit = low * r if bond else table.contact_factor * r
                    if d < limit:
                        found.append(Contact(first.name, second.name, e1, e2, d, limit, "bond" if bond else "contact",
                                             _severity(p1, p2), (p1, p2)))
    return found
