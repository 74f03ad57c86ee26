"""Turn a :class:`Refinement` into positions (rows grouped by the crystallographic site they share)
and into a site-disordered pymatgen ``Structure`` in the conventional F-43m cell (Z = 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ValidationFailed
from .model import RefinedSite, Refinement
from .symmetry import WyckoffAssignment, orbit, orbit_key, periodic_close, wyckoff_of

#: A site's occupancies may sum above 1 by at most this much and still be taken as a rounding excess
#: (then normalised to 1 with a warning). Rietveld occupancies carry esds of ~0.005-0.01, and tables
#: print 3-4 decimals, so 0.005 admits rounding and refinement noise but not a real over-filling.
OCCUPANCY_SUM_TOLERANCE = 0.005


@dataclass
class Position:
    """All refinement rows on one crystallographic site (same orbit), e.g. S/Cl/I sharing 4a."""

    rows: list[RefinedSite]
    wyckoff: WyckoffAssignment
    images: np.ndarray  # (multiplicity, 3) fractional coordinates in the cell
    occupancy_sum: float = field(init=False)

    def __post_init__(self) -> None:
        self.occupancy_sum = float(sum(r.occupancy for r in self.rows))

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
    return [Position(rows=g, wyckoff=wyckoff_of(g[0].xyz), images=orbit(g[0].xyz)) for g in groups]


def cell_composition(refinement: Refinement) -> dict[str, float]:
    """Atoms per conventional cell: sum over rows of occupancy x multiplicity (after normalisation)."""
    amounts: dict[str, float] = {}
    for pos in positions(refinement):
        for element, occ in pos.species().items():
            amounts[element] = amounts.get(element, 0.0) + occ * pos.multiplicity
    return amounts


def build_structure(refinement: Refinement, a_angstrom: float):
    """A pymatgen ``Structure`` with fractional occupancies on every image of every position.

    Site properties: ``label`` (row labels joined by '/'), ``wyckoff`` (true letter from the
    coordinates) and ``b_iso`` (A^2). Raises :class:`ValidationFailed` when a site is over-filled
    beyond :data:`OCCUPANCY_SUM_TOLERANCE`.
    """
    from pymatgen.core import Lattice, Structure

    species, coords, labels, letters, b_values = [], [], [], [], []
    for pos in positions(refinement):
        if pos.over_filled:
            raise ValidationFailed(
                refinement.source_path or refinement.name,
                f"site {pos.name}: occupancies sum to {pos.occupancy_sum:.4f} > 1",
            )
        occupancy = {el: occ for el, occ in pos.species().items() if occ > 0}
        if not occupancy:
            continue
        b = pos.b_iso()
        for image in pos.images:
            species.append(occupancy)
            coords.append(image)
            labels.append("/".join(r.label for r in pos.rows))
            letters.append(pos.wyckoff.symbol)
            b_values.append(b)
    return Structure(
        Lattice.cubic(a_angstrom),
        species,
        coords,
        site_properties={"label": labels, "wyckoff": letters, "b_iso": b_values},
    )
