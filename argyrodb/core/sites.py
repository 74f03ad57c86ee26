"""Group a :class:`Refinement`'s rows into positions: the crystallographic sites they share (e.g. S, Cl
and I on one 4a site), with Wyckoff assignment, images in the cell and rounding normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .refinement import RefinedSite, Refinement
from .symmetry import (
    WyckoffAssignment,
    orbit,
    orbit_key,
    periodic_close,
    primitive_orbit,
    wyckoff_of,
)

#: A site's occupancies may sum above 1 by at most this much and still be taken as a rounding excess
#: (then normalised to 1 with a warning). Rietveld occupancies carry esds of ~0.005-0.01, and tables
#: print 3-4 decimals, so 0.005 admits rounding and refinement noise but not a real over-filling.
OCCUPANCY_SUM_TOLERANCE = 0.005


@dataclass(frozen=True, eq=False)
class Position:
    """All refinement rows on one crystallographic site (same orbit), e.g. S/Cl/I sharing 4a."""

    rows: tuple[RefinedSite, ...]
    wyckoff: WyckoffAssignment
    images: np.ndarray  # (multiplicity, 3) fractional coordinates in the cell
    primitive_images: np.ndarray  # one image per F-centring coset (multiplicity / 4)
    occupancy_sum: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "occupancy_sum", float(sum(r.occupancy for r in self.rows)))

    @property
    def name(self) -> str:
        return "/".join(r.label for r in self.rows) + f" @ {self.wyckoff.symbol}"

    @property
    def multiplicity(self) -> int:
        return self.wyckoff.multiplicity

    @property
    def normalisation(self) -> float:
        """Factor applied to this position's occupancies: 1, or 1/sum for a rounding excess."""
        excess = self.occupancy_sum - 1.0
        if 0 < excess <= OCCUPANCY_SUM_TOLERANCE:
            return 1.0 / self.occupancy_sum
        return 1.0

    @property
    def over_filled(self) -> bool:
        return self.occupancy_sum - 1.0 > OCCUPANCY_SUM_TOLERANCE

    def species(self) -> dict[str, float]:
        """Element -> occupancy on this position after any rounding normalisation."""
        amounts: dict[str, float] = {}
        for r in self.rows:
            amounts[r.element] = amounts.get(r.element, 0.0) + r.occupancy * self.normalisation
        return amounts

    def b_iso(self) -> float | None:
        """Occupancy-weighted B_iso (A^2) of the position (rows on one site normally share one B)."""
        weighted = [(r.occupancy, r.b_iso_angstrom2) for r in self.rows if r.b_iso_angstrom2 is not None]
        total = sum(w for w, _ in weighted)
        if not weighted:
            return None
        if total == 0:
            return float(np.mean([b for _, b in weighted]))
        return float(sum(w * b for w, b in weighted) / total)


def positions(refinement: Refinement) -> list[Position]:
    """Group the refinement's rows by the site they occupy (rows on symmetry-equivalent points)."""
    by_key: dict[tuple, list[RefinedSite]] = {}
    groups: list[list[RefinedSite]] = []
    images: list[np.ndarray] = []  # every image of every group so far, for the exact test
    owners: list[int] = []
    for site in refinement.sites:
        key = orbit_key(site.xyz)
        group = by_key.get(key)
        if group is None:
            # a rounding boundary can split one orbit between two keys: confirm with the exact test
            if images:
                hits = np.flatnonzero(periodic_close(np.vstack(images), np.asarray(site.xyz, dtype=float)))
                group = groups[owners[hits[0]]] if hits.size else None
            if group is None:
                group = []
                groups.append(group)
                new_images = orbit(site.xyz)
                images.append(new_images)
                owners.extend([len(groups) - 1] * len(new_images))
            by_key[key] = group
        group.append(site)
    return [Position(rows=tuple(g), wyckoff=wyckoff_of(g[0].xyz), images=orbit(g[0].xyz), primitive_images=primitive_orbit(g[0].xyz))
            for g in groups]


def cell_composition(position_list: list[Position]) -> dict[str, float]:
    """Atoms per conventional cell: sum over rows of occupancy x multiplicity (after normalisation)."""
    amounts: dict[str, float] = {}
    for pos in position_list:
        for element, occ in pos.species().items():
            amounts[element] = amounts.get(element, 0.0) + occ * pos.multiplicity
    return amounts
