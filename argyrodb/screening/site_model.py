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
                      elements: tuple[str, ...] = ()) -> SiteModel:
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
        template_free: dict[str, np.ndarray] = {}
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
        """Occupancy matrix (groups x elements) placing ``amounts`` (per formula unit) on the sites; an
        :class:`Infeasible` saying why when they cannot be placed."""
        unknown = [el for el in amounts if el not in self.elements]
        if unknown:
            raise Infeasible(f"element {unknown[0]} is not in the model's element list")
        row = np.array([[amounts.get(el, 0.0) for el in self.elements]])
        occupancy, problems = self.occupancy_arrays(row, order=[self.elements.index(el) for el in amounts])
        if problems[0]:
            raise Infeasible(problems[0])
        return occupancy[0]

    def occupancy_arrays(self, matrix: np.ndarray, order: list[int] | None = None) -> tuple[np.ndarray, list[str | None]]:
        """:meth:`occupancies` of every row of ``matrix`` (compositions x the model's elements, amounts per formula
        unit) at once: the (n, groups, elements) occupancies and, per row, None or the reason it cannot be placed
        (its occupancies are then meaningless). ``order``: the element columns in the order a missing site is
        reported (default: the model's)."""
        amounts = np.asarray(matrix, dtype=float).reshape(-1, len(self.elements))
        n = len(amounts)
        index = {el: i for i, el in enumerate(self.elements)}
        occ = np.zeros((n, len(self.groups), len(self.elements)))
        problems: list[str | None] = [None] * n

        def refuse(rows: np.ndarray, text) -> None:
            for row in np.flatnonzero(rows):
                if problems[row] is None:
                    problems[row] = text(row) if callable(text) else text

        def amount(el: str) -> np.ndarray:
            return amounts[:, index[el]] if el in index else np.zeros(n)

        # framework 4b
        framework_total = sum((amount(el) for el in FRAMEWORK), np.zeros(n))
        refuse(np.abs(framework_total - 1.0) > 1e-6,
               lambda r: f"framework cations sum to {framework_total[r]:g} per formula unit, not 1 (4b)")
        for el in FRAMEWORK:
            if el in index:
                occ[:, self.framework_group, index[el]] = np.where(amount(el) > 0, amount(el), 0.0)
        # 16e: O, Se first, then S
        capacity = np.full(n, 4.0)
        remaining = {el: amount(el).copy() for el in self.elements}
        for el in (*TETRAHEDRAL_ANIONS, "S"):
            if el not in index:
                continue
            take = np.minimum(capacity, remaining[el])
            placed = take > 0
            occ[:, self.tetrahedral_group, index[el]] = np.where(placed, take / 4.0, 0.0)
            remaining[el] = np.where(placed, remaining[el] - take, remaining[el])
            capacity = np.where(placed, capacity - take, capacity)
        refuse(capacity > 1e-6, lambda r: f"only {4 - capacity[r]:g} S/Se/O per formula unit for the 4 PS4 corners (16e)")
        for el in TETRAHEDRAL_ANIONS:
            if el in index:
                refuse(remaining[el] > 1e-9, f"{el} beyond the 16e site")
        species = [el for el in FREE_ANIONS if el in index]
        free = np.column_stack([np.where(remaining[el] > 1e-12, remaining[el], 0.0) for el in species]) if species \
            else np.zeros((n, 0))
        total_free = free.sum(axis=1)
        refuse(total_free > 2.0 + 1e-6, lambda r: f"{total_free[r]:g} anions per formula unit for the 2 sites 4a + 4d")
        on_a, on_d, crowded = self._distribute(free, total_free, species)
        refuse(crowded, "anion occupancies above 1 on 4a/4d")
        for k, el in enumerate(species):
            occ[:, self.free_groups[0], index[el]] = on_a[:, k]
            occ[:, self.free_groups[1], index[el]] = on_d[:, k]
        # Li over the template's Li sites, capped at 1
        li_total = amount("Li") * 4.0  # 4 formula units per cell
        capacity_li = np.where(self.li_weights > 0, self.multiplicities, 0.0)
        refuse(li_total > capacity_li.sum() + 1e-9, lambda r: f"{li_total[r] / 4:g} Li per formula unit exceed the template's Li sites")
        per_site = self._spread_li(li_total, capacity_li)
        for g in np.flatnonzero(self.li_weights > 0):
            if "Li" in index:
                occ[:, g, index["Li"]] = per_site[:, g]
        placed = (occ * self.multiplicities[None, :, None]).sum(axis=1)
        for j in (order if order is not None else range(len(self.elements))):
            el = self.elements[j]
            refuse((np.abs(placed[:, j] - amounts[:, j] * 4.0) > 1e-6) & (amounts[:, j] != 0),
                   f"{el} has no site in the model (only Li, the framework cations, O/Se/S and halides are placed)")
        return occ, problems

    def _distribute(self, free: np.ndarray, total: np.ndarray, species: list[str]):
        """(4a share, 4d share, crowded) of the free anions ``free`` (n, species) with row sums ``total``."""
        n = len(free)
        if free.shape[1] == 0:
            return np.zeros((n, 0)), np.zeros((n, 0)), np.zeros(n, dtype=bool)
        fill = total / 2.0  # each site holds the same total: 1 when 2 anions per f.u.
        if self.distribution == "random":
            return free / 2.0, free / 2.0, np.zeros(n, dtype=bool)
        # Iterative proportional fitting of the template's 2 x k table to row sums (fill, fill) and column
        # sums t_k has the closed form m_0k = t_k a_k L / (a_k L + b_k), m_1k = t_k - m_0k, with (a_k, b_k) the
        # template's 4a/4d occupancies and L the root of sum_k m_0k = fill (Newton in log L, every row at once).
        prior = np.array([np.maximum(self.template_free.get(el, np.zeros(2)), IPF_FLOOR) for el in species])
        a_k, b_k = prior[:, 0][None, :], prior[:, 1][None, :]
        log_l = np.zeros(n)
        active = total > 1e-12
        for _ in range(100):
            if not active.any():
                break
            lam = np.exp(log_l)[:, None]
            value = (free * a_k * lam / (a_k * lam + b_k)).sum(axis=1)
            slope = (free * a_k * b_k * lam / (a_k * lam + b_k) ** 2).sum(axis=1)  # d value / d log L
            active &= slope > 0
            step = np.where(active, (value - fill) / np.where(slope > 0, slope, 1.0), 0.0)
            log_l -= np.clip(step, -20.0, 20.0)
            active &= np.abs(value - fill) >= 1e-14
        lam = np.exp(log_l)[:, None]
        on_a = free * a_k * lam / (a_k * lam + b_k)
        on_d = free - on_a
        # remove the last rounding so the sites hold exactly ``fill``: on the species with the largest min(4a, 4d)
        delta = on_a.sum(axis=1) - fill
        smaller = np.where(free > 1e-12, np.minimum(on_a, on_d), -np.inf)
        k = np.argmax(smaller, axis=1)
        rows = np.arange(n)
        on_a[rows, k] -= np.where(total > 1e-12, delta, 0.0)
        on_d[rows, k] += np.where(total > 1e-12, delta, 0.0)
        crowded = (on_a > 1 + 1e-9).any(axis=1) | (on_d > 1 + 1e-9).any(axis=1)
        return on_a, on_d, crowded

    def _spread_li(self, li_total: np.ndarray, capacity: np.ndarray) -> np.ndarray:
        """Li occupancies (n, groups): ``li_total`` Li per cell spread over the Li sites in proportion to
        :attr:`li_weights`; a site that would go above 1 is filled and the rest spread again."""
        n = len(li_total)
        occ = np.zeros((n, len(self.groups)))
        remaining = li_total.astype(float).copy()
        active = np.tile(self.li_weights > 0, (n, 1))
        done = np.zeros(n, dtype=bool)
        safe_capacity = np.where(capacity > 0, capacity, 1.0)
        for _ in range(len(self.groups)):
            weights = np.where(active, self.li_weights[None, :], 0.0)
            total_weight = weights.sum(axis=1)
            going = ~done & (remaining > 1e-12) & (total_weight > 0)
            if not going.any():
                break
            counts = remaining[:, None] * weights / np.where(total_weight > 0, total_weight, 1.0)[:, None]
            proposed = occ + counts / safe_capacity
            full = active & (proposed >= 1.0) & going[:, None]
            settled = going & ~full.any(axis=1)
            occ[settled] = proposed[settled]
            done |= settled
            occ[full] = 1.0
            refill = full.any(axis=1)
            remaining = np.where(refill, li_total - (occ * capacity).sum(axis=1), remaining)
            active &= ~full
        return occ

    def cell_amounts(self, occupancy_matrix: np.ndarray) -> dict[str, float]:
        counts = (occupancy_matrix * self.multiplicities[:, None]).sum(axis=0)
        return {el: float(c) for el, c in zip(self.elements, counts) if c > 1e-12}
