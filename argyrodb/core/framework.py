"""Is it an argyrodite? The framework check every structure goes through.

An argyrodite (Li6PS5X type, F-43m) has, in argyrodb's setting (:mod:`argyrodb.core.setting`):

1. a tetrahedral framework cation (P, Si, Ge, Sn, Sb, As, Al, Ga) filling 4b;
2. its four chalcogen neighbours (S, Se, O, Te) filling 16e at bonding distance (the PS4-type tetrahedra);
3. anions (chalcogen or halide) on 4a and 4c/4d;
4. mobile cations (Li, Na, Ag, Cu) on the cage sites (48h, 24g, 16e, and the 96i, 24f splits some refinements
   use), and no other elements.

:func:`framework_reasons` returns why a structure is not one (empty when it is); a framework cation on a
mobile-cation site (e.g. Ge on 48h in Li7Ge3PS12) is reported by :func:`framework_remarks` but allowed.
"""

from __future__ import annotations

from .chemistry import HALOGENS as HALIDES
from .contacts import radii, shortest_distance
from .setting import CHALCOGENS, FRAMEWORK_CATIONS
from .sites import Position

MOBILE_CATIONS = ("Li", "Na", "Ag", "Cu")
ANIONS = (*CHALCOGENS, *HALIDES)
CAGE_SITES = ("h", "g", "e", "i", "f")
#: A site "holds" an element group when their occupancies sum to at least this.
FILLED = 0.5


def _share(position: Position, elements) -> float:
    return sum(occ for el, occ in position.species().items() if el in elements)


def framework_reasons(positions: list[Position], a_angstrom: float) -> list[str]:
    """Why the structure is not an argyrodite (an empty list when it is one)."""
    reasons: list[str] = []
    framework = [p for p in positions if p.wyckoff.letter == "b" and _share(p, FRAMEWORK_CATIONS) >= FILLED]
    if not framework:
        reasons.append(f"no tetrahedral framework cation ({', '.join(FRAMEWORK_CATIONS[:6])}) on 4b")
    else:
        table = radii()
        cation = framework[0]
        corners = []
        for p in positions:
            if p.wyckoff.letter != "e" or _share(p, CHALCOGENS) < FILLED:
                continue
            d = shortest_distance(cation, p, a_angstrom)
            bond = max(table.radius(c) for c in cation.species() if c in FRAMEWORK_CATIONS) + \
                max(table.radius(x) for x in p.species() if x in CHALCOGENS)
            if d is not None and d <= table.bond_window[1] * bond:
                corners.append(p)
        if not corners:
            reasons.append("the 4b cation has no four chalcogen (S, Se, O) neighbours on 16e at bonding distance")
    free = [p for p in positions if p.wyckoff.letter in "acd" and _share(p, ANIONS) >= FILLED]
    if not free:
        reasons.append("no anions on 4a, 4c or 4d")
    elements = {el for p in positions for el, occ in p.species().items() if occ > 0}
    strangers = sorted(elements - set(MOBILE_CATIONS) - set(FRAMEWORK_CATIONS) - set(ANIONS))
    if strangers:
        reasons.append(f"{', '.join(strangers)} belong(s) to no argyrodite site (mobile cation, framework cation or anion)")
    if not elements & set(MOBILE_CATIONS):
        reasons.append(f"no mobile cations ({', '.join(MOBILE_CATIONS)})")
    for p in positions:
        if _share(p, MOBILE_CATIONS) > 0 and p.wyckoff.letter not in CAGE_SITES:
            reasons.append(f"mobile cations on {p.wyckoff.symbol} ({p.name}), not on a cage site (48h, 24g, 16e)")
    return reasons


def framework_remarks(positions: list[Position]) -> list[str]:
    """Allowed but unusual: framework cations sharing a mobile-cation site."""
    remarks = []
    for p in positions:
        if p.wyckoff.letter in CAGE_SITES and _share(p, MOBILE_CATIONS) > 0 and _share(p, FRAMEWORK_CATIONS) > 0:
            shared = ", ".join(el for el in p.species() if el in FRAMEWORK_CATIONS)
            remarks.append(f"{shared} shares the mobile-cation site {p.name} with {', '.join(el for el in p.species() if el in MOBILE_CATIONS)}")
    return remarks
