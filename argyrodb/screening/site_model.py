"""The site-distribution model of composition screening: where each element of a composition goes on
the template's sites (documented, reported with every run).

* **Framework.** P and its substituents (Sn, Ge, Si, Sb, As, Al, Ga) share the 4b site in proportion
  to their amounts (1 per formula unit).
* **16e (PS4 corners, 4 per formula unit).** Filled with O and Se first (they substitute in the PS4
  tetrahedron), then S.
* **Free anion sites 4a + 4d (1 + 1 per formula unit).** The remaining S and all halides. Model
  ``template``: start from the template refinement's occupancies on 4a and 4d (Table S2 by default;
  a small floor for species absent there) and scale them by iterative proportional fitting until each
  site holds exactly 1 and each species its amount; ``random``: every species spread equally over 4a
  and 4d (statistical disorder).
* **Li.** The Li amount is spread over the template's Li sites in proportion to the template's Li
  (occupancy x multiplicity), no site above 1.
Compositions that are not charge-neutral, or whose anions do not fit the sites, are reported and
skipped, never built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.analysis import AnalysedStructure
from ..core.errors import InputError, ParameterError
from ..core.setting import FRAMEWORK_CATIONS
from ..physics.xrd import ScatteringGroup

FRAMEWORK = FRAMEWORK_CATIONS
TETRAHEDRAL_ANIONS = ("O", "Se")  # fill 16e before S
FREE_ANIONS = ("S", "F", "Cl", "Br", "I")
IPF_FLOOR = 0.02


class Infeasible(Exception):
    """A composition that the site model cannot place (reported and skipped)."""


@dataclass
class SiteModel:
    """The template's sites and the rules above, as arrays ready for the XRD model."""

    template_name: str
    distribution: str
    groups: list  # xrd.ScatteringGroup, species filled per composition
    multiplicities: np.ndarray
    li_weights: np.ndarray  # per group: share of the Li amount (0 for non-Li groups)
    framework_group: int
    tetrahedral_group: int
    free_groups: tuple[int, int]  # (4a, 4d)
    template_free: dict[str, np.ndarray]  # species -> occupancy on (4a, 4d) in the template
    elements: list[str]

    @classmethod
    def from_template(cls, template: AnalysedStructure, distribution: str = "template",
                      elements: tuple[str, ...] = ()) -> "SiteModel":
        """The model on the sites of an analysed template structure (P on 4b, S on 16e, anions on 4a and
        4c/4d, Li sites)."""
        if distribution not in ("template", "random"):
            raise ParameterError("distribution", f"unknown site model {distribution!r} (template or random)")
        pos = list(template.positions)
        letters = [p.wyckoff.letter for p in pos]
        try:
            framework = letters.index("b")
            free = (letters.index("a"), letters.index("d") if "d" in letters else letters.index("c"))
            tetrahedral = next(i for i, p in enumerate(pos) if p.wyckoff.letter == "e" and "S" in p.species())
        except (ValueError, StopIteration):
            raise InputError(template.source, "template needs P on 4b, S on 16e and anion sites 4a and 4c/4d") from None
        li = np.array([p.species().get("Li", 0.0) * p.multiplicity if set(p.species()) == {"Li"} else 0.0 for p in pos])
        if li.sum() <= 0:
            raise InputError(template.source, "template has no Li sites")
        template_free = {}
        for index, site in enumerate(free):
            for element, occ in pos[site].species().items():
                template_free.setdefault(element, np.zeros(2))[index] = occ
        all_elements = sorted(set(elements) | {"Li", "P", "S"} | {el for p in pos for el in p.species()})
        groups = []
        for p in pos:
            b = p.b_iso()
            groups.append(ScatteringGroup(p.name, {el: 0.0 for el in all_elements}, 0.0 if b is None else b,
                                          p.images, p.primitive_images))
        return cls(template.name, distribution, groups, np.array([p.multiplicity for p in pos], dtype=float),
                   li / li.sum(), framework, tetrahedral, free, template_free, all_elements)

    def occupancies(self, amounts: dict[str, float]) -> np.ndarray:
        """Occupancy matrix (groups x elements) placing ``amounts`` (per formula unit) on the sites."""
        index = {el: i for i, el in enumerate(self.elements)}
        unknown = [el for el in amounts if el not in index]
        if unknown:
            raise Infeasible(f"element {unknown[0]} is not in the model's element list")
        occ = np.zeros((len(self.groups), len(self.elements)))
        z = 4.0  # formula units per cell
        # framework 4b
        framework_total = sum(amounts.get(el, 0.0) for el in FRAMEWORK)
        if abs(framework_total - 1.0) > 1e-6:
            raise Infeasible(f"framework cations sum to {framework_total:g} per formula unit, not 1 (4b)")
        for el in FRAMEWORK:
            if amounts.get(el, 0.0) > 0:
                occ[self.framework_group, index[el]] = amounts[el]
        # 16e: O, Se first, then S
        capacity = 4.0
        remaining = dict(amounts)
        for el in (*TETRAHEDRAL_ANIONS, "S"):
            take = min(capacity, remaining.get(el, 0.0))
            if take > 0:
                occ[self.tetrahedral_group, index[el]] = take / 4.0
                remaining[el] = remaining.get(el, 0.0) - take
                capacity -= take
        if capacity > 1e-6:
            raise Infeasible(f"only {4 - capacity:g} S/Se/O per formula unit for the 4 PS4 corners (16e)")
        for el in TETRAHEDRAL_ANIONS:
            if remaining.get(el, 0.0) > 1e-9:
                raise Infeasible(f"{el} beyond the 16e site")
        free = {el: remaining.get(el, 0.0) for el in FREE_ANIONS if remaining.get(el, 0.0) > 1e-12}
        total_free = sum(free.values())
        if total_free > 2.0 + 1e-6:
            raise Infeasible(f"{total_free:g} anions per formula unit for the 2 sites 4a + 4d")
        shares = self._distribute(free, total_free)
        for el, (on_a, on_d) in shares.items():
            occ[self.free_groups[0], index[el]] = on_a
            occ[self.free_groups[1], index[el]] = on_d
        # Li over the template's Li sites, capped at 1
        li_total = amounts.get("Li", 0.0) * z
        per_site = self._spread_li(li_total)
        for g in np.flatnonzero(self.li_weights > 0):
            occ[g, index["Li"]] = per_site[g]
        placed = self.cell_amounts(occ)
        for el, n in amounts.items():
            if abs(placed.get(el, 0.0) - n * z) > 1e-6:
                raise Infeasible(f"{el} has no site in the model (only Li, the framework cations, O/Se/S and halides are placed)")
        return occ

    def _distribute(self, free: dict[str, float], total: float) -> dict[str, tuple[float, float]]:
        if not free:
            return {}
        fill = total / 2.0  # each site holds the same total: 1 when 2 anions per f.u.
        species = list(free)
        target = np.array([free[el] for el in species])  # amount per f.u. = occ_4a + occ_4d
        if self.distribution == "random":
            return {el: (t / 2.0, t / 2.0) for el, t in zip(species, target)}
        # Iterative proportional fitting of the template's 2 x k table to row sums (fill, fill) and column
        # sums ``target`` has the closed form m_0k = t_k a_k L / (a_k L + b_k), m_1k = t_k - m_0k, with
        # (a_k, b_k) the template's 4a/4d occupancies and L the root of sum_k m_0k = fill (Newton in log L).
        prior = [np.maximum(self.template_free.get(el, np.zeros(2)), IPF_FLOOR) for el in species]
        a_k = [float(p[0]) for p in prior]
        b_k = [float(p[1]) for p in prior]
        t_k = [float(t) for t in target]
        log_l = 0.0
        for _ in range(100):
            lam = math.exp(log_l)
            value = sum(t * a * lam / (a * lam + b) for t, a, b in zip(t_k, a_k, b_k))
            slope = sum(t * a * b * lam / (a * lam + b) ** 2 for t, a, b in zip(t_k, a_k, b_k))  # d value / d log L
            if slope <= 0:
                break
            step = (value - fill) / slope
            log_l -= max(-20.0, min(20.0, step))
            if abs(value - fill) < 1e-14:
                break
        lam = math.exp(log_l)
        row0 = np.array([t * a * lam / (a * lam + b) for t, a, b in zip(t_k, a_k, b_k)])
        matrix = np.vstack([row0, np.array(t_k) - row0])
        delta = matrix[0].sum() - fill  # remove the last rounding so the sites hold exactly ``fill``
        k = int(np.argmax(np.minimum(matrix[0], matrix[1])))
        matrix[0, k] -= delta
        matrix[1, k] += delta
        if np.any(matrix > 1 + 1e-9):
            raise Infeasible("anion occupancies above 1 on 4a/4d")
        return {el: (float(matrix[0, k]), float(matrix[1, k])) for k, el in enumerate(species)}

    def _spread_li(self, li_total: float) -> np.ndarray:
        occ = np.zeros(len(self.groups))
        capacity = np.where(self.li_weights > 0, self.multiplicities, 0.0)
        if li_total > capacity.sum() + 1e-9:
            raise Infeasible(f"{li_total / 4:g} Li per formula unit exceed the template's Li sites")
        remaining, active = li_total, self.li_weights > 0
        for _ in range(len(self.groups)):
            weights = np.where(active, self.li_weights, 0.0)
            if remaining <= 1e-12 or weights.sum() <= 0:
                break
            counts = remaining * weights / weights.sum()
            proposed = occ + counts / np.where(capacity > 0, capacity, 1.0)
            full = active & (proposed >= 1.0)
            if not full.any():
                return proposed
            occ[full] = 1.0
            remaining = li_total - float(np.sum(occ * capacity))
            active &= ~full
        return occ

    def cell_amounts(self, occupancy_matrix: np.ndarray) -> dict[str, float]:
        counts = (occupancy_matrix * self.multiplicities[:, None]).sum(axis=0)
        return {el: float(c) for el, c in zip(self.elements, counts) if c > 1e-12}
