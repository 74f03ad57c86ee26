"""Ordered approximants of a disordered composition for DFT or machine-learned-potential work.

A composition is placed on the template's sites by the screening site model (fractional occupancies);
an n x n x n supercell of the conventional cell (Z = 4 formula units per cell, N = 4 n^3 in the
supercell) then gets whole atoms:

1. **Composition.** Every non-Li site group g has expected counts E_ge = occupancy_ge x sites_g (vacancy
   included as one more entry, so each row sums to sites_g). Each E_ge is rounded down or up, the row
   kept whole; of all such roundings the one chosen minimises the squared *relative* deviation
   ``sum_e ((n_e - N x_e) / (N x_e))^2`` over the elements (Li included, set by step 2), so a minor
   species (a dopant) is kept as closely as the major ones; ties go to the rounding nearest to the
   expected site counts. When every N x_e is an integer the composition is exact (such a rounding always
   exists: Baranyai's matrix-rounding lemma); otherwise the deviation per formula unit is returned
   (:attr:`Approximant.composition_deviation`), warned about (:class:`CompositionWarning`), and the
   smallest exact supercell is suggested (the least n <= 4 with every 4 n^3 x_e an integer).
2. **Charge.** The Li count is -sum_e n_e q_e over the other elements (formal charges Li+, P5+, S2-,
   halide-...), so every cell is neutral.
3. **Exclusions.** Li sites closer than :data:`LI_LI_MIN_ANGSTROM` to each other (periodic images of the
   supercell included: the 48h doublet partners 1.8 A apart across 24g, 48h-24g 0.9 A, 48h-16e 1.7 A)
   are never occupied together, and a Li site is unusable while a site within argyrodb's contact limit
   ``0.80 x (r_Li + r_X)`` (Shannon radii, :func:`argyrodb.core.contacts.radii`) holds X (Li-S 1.94 A,
   Li-I 2.23 A). A Li site excluded by a site that is always filled (the 16e S of PS4) is dropped.
4. **Decorations.** Each candidate fills every non-Li group by a random permutation, then draws Li
   sequentially on the conflict graph: Li site groups by ascending target (the site model's share of
   the Li count, largest remainders), each site taken if still allowed, which blocks its conflicting
   neighbours; Li still missing go to any allowed site. A draw short of the Li count is restarted
   (:data:`DRAW_RESTARTS` times at most, then :class:`~argyrodb.core.errors.InputError`). One seeded
   generator drives everything: a fixed seed gives the same files.
5. **Ranking.** Ewald energy with formal charges, E = sum_ij q_i q_j Phi_ij, where Phi is pymatgen's
   EwaldSummation energy matrix of unit charges on every usable site of the supercell (computed once;
   the same sum as an EwaldSummation of each ordered structure, to its convergence accuracy). The lowest
   ``n_structures`` of ``candidates`` are kept and written through ASE, each file recording the
   composition, supercell, minimum Li-Li and Li-anion distances and the Ewald rank and energy.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.chemistry import format_formula, ordered_elements, oxidation_states
from ..core.contacts import radii
from ..core.errors import InputError, ParameterError
from ..core.files import atomic_path, safe_filename
from ..core.refinement import LatticeParameter

if TYPE_CHECKING:  # pymatgen is imported where a structure is built
    from pymatgen.core import Structure

FORMATS = {"poscar": ("vasp", ".POSCAR"), "extxyz": ("extxyz", ".extxyz"), "cif": ("cif", ".cif")}

#: Formula units per conventional F-43m argyrodite cell.
Z = 4
#: Li pairs closer than this are mutually exclusive: it separates the split-site distances of the
#: refinements (48h doublet 1.79-1.84 A, 48h-16e 1.65-1.69 A, 48h-24g 0.9 A), which are partial-occupancy
#: artefacts, from the shortest Li-Li distances of ordered Li sulfides (2.85 A in Li2S; 2.4 A between
#: neighbouring 48h doublets of a cage, the closest pair that real argyrodites occupy together).
LI_LI_MIN_ANGSTROM = 2.0
#: Largest supercell generated: 3 x 3 x 3 = 108 formula units (~1400 atoms) is already beyond routine DFT,
#: and its Ewald matrix over ~3100 usable sites takes ~1 GB while pymatgen computes it (~20 s).
MAX_SUPERCELL = 3
#: The exact-supercell suggestion looks up to 4 x 4 x 4 (256 formula units, machine-learned potentials).
EXACT_SEARCH_MAX = 4
#: Draws tried per candidate before giving up on the Li count: with the swap repair every argyrodite
#: tried (up to Li7GeS5I in 3x3x3) succeeds at the first draw, so 200 failures mean it (almost surely)
#: does not fit; a count above the clique bound (:func:`li_bound`) is refused before any draw.
DRAW_RESTARTS = 200
#: Roundings enumerated at most (product over site groups); beyond, each group takes its largest-remainder
#: rounding. Argyrodites need a few dozen.
MAX_ROUNDINGS = 100_000
#: Counts within this of an integer are integers (compositions are given to ~4 decimals).
INTEGER_TOLERANCE = 1e-6


class CompositionWarning(UserWarning):
    """The supercell cannot hold the requested composition exactly (the nearest one is built)."""


@dataclass
class Approximant:
    rank: int
    ewald_energy_eV: float
    formula: str  # of this structure, per formula unit
    structure: Structure  # ordered
    supercell: int = 1
    requested_formula: str = ""
    composition: dict = field(default_factory=dict)  # element -> amount per formula unit
    composition_deviation: dict = field(default_factory=dict)  # element -> built - requested, per formula unit
    exact_supercell: int | None = None  # least n <= EXACT_SEARCH_MAX holding the composition exactly
    min_li_li_angstrom: float = float("nan")
    min_li_anion_angstrom: float = float("nan")
    lattice: LatticeParameter | None = None  # the conventional cell's a (the lattice model's prediction)

    @property
    def exact(self) -> bool:
        return all(abs(d) < INTEGER_TOLERANCE for d in self.composition_deviation.values())

    def composition_note(self) -> str:
        """One line: exact, or the deviation per formula unit and the smallest exact supercell."""
        n = self.supercell
        if self.exact:
            return f"composition {self.formula} exact in the {n}x{n}x{n} supercell"
        exact = (f"smallest exact supercell {self.exact_supercell}x{self.exact_supercell}x{self.exact_supercell}"
                 if self.exact_supercell else f"no supercell up to {EXACT_SEARCH_MAX}x{EXACT_SEARCH_MAX}x{EXACT_SEARCH_MAX} is exact")
        return (f"{self.requested_formula} does not fit the {n}x{n}x{n} supercell: built {self.formula}, deviation per "
                f"formula unit {deviation_text(self.composition_deviation)}; {exact}")

    def summary(self) -> str:
        """One line for the file headers."""
        return (f"argyrodb approximant {self.formula} (requested {self.requested_formula}; deviation per f.u. "
                f"{deviation_text(self.composition_deviation) or 'none'}) supercell {self.supercell}x{self.supercell}x{self.supercell} "
                f"min Li-Li {self.min_li_li_angstrom:.3f} A min Li-anion {self.min_li_anion_angstrom:.3f} A "
                f"Ewald rank {self.rank} energy {self.ewald_energy_eV:.4f} eV{self.a_note()}")

    def a_note(self) -> str:
        """'; a = 9.9805 A (lattice model, extrapolated: halide excess +0.4)': where the cell's a comes from ('' when
        unknown)."""
        if self.lattice is None:
            return ""
        sigma = "" if self.lattice.sigma_angstrom is None else f" +- {self.lattice.sigma_angstrom:.3f}"
        return f"; a = {self.lattice.a_angstrom:.4f}{sigma} A ({self.lattice.label()})"


def deviation_text(deviation: dict) -> str:
    """``{'I': -0.1, 'S': 0.15}`` -> ``'S+0.15 I-0.1'`` (non-zero entries only, argyrodite order)."""
    return " ".join(f"{el}{deviation[el]:+.4g}" for el in ordered_elements(deviation) if abs(deviation[el]) >= INTEGER_TOLERANCE)


def exact_supercell(amounts: dict[str, float], largest: int = EXACT_SEARCH_MAX) -> int | None:
    """The least n <= ``largest`` for which every count 4 n^3 x_e of an n x n x n supercell is an integer."""
    for n in range(1, largest + 1):
        if all(abs(x * Z * n**3 - round(x * Z * n**3)) < INTEGER_TOLERANCE for x in amounts.values()):
            return n
    return None


def _largest_remainder(expected: np.ndarray, total: int) -> np.ndarray:
    floor = np.floor(expected + 1e-9).astype(int)
    missing = total - int(floor.sum())
    if missing > 0:
        order = np.argsort(-(expected - floor), kind="stable")
        floor[order[:missing]] += 1
    elif missing < 0:
        order = np.argsort(expected - floor, kind="stable")
        for index in order:
            if missing == 0:
                break
            if floor[index] > 0:
                floor[index] -= 1
                missing += 1
    return floor


def _roundings(expected: np.ndarray, n_sites: int) -> list[np.ndarray]:
    """Every rounding of one group's expected counts (vacancy last) to neighbouring integers summing to
    ``n_sites``, the largest-remainder one first."""
    floor = np.floor(expected + 1e-9).astype(int)
    fractional = [i for i in range(len(expected)) if expected[i] - floor[i] > 1e-9]
    up = n_sites - int(floor.sum())
    first = _largest_remainder(expected, n_sites)
    out = [first]
    for chosen in itertools.combinations(fractional, up):
        option = floor.copy()
        option[list(chosen)] += 1
        if not np.array_equal(option, first):
            out.append(option)
    return out


def nearest_counts(model, occupancy: np.ndarray, amounts: dict[str, float], cells: int,
                   source: str = "approximant") -> tuple[list[dict[str, int]], int]:
    """Per non-Li site group: element -> atoms in ``cells`` conventional cells (empty dict for Li groups),
    and the Li count, by rules 1 and 2 of the module docstring."""
    states = oxidation_states()
    elements = model.elements
    li_groups = [g for g in range(len(model.groups)) if model.li_weights[g] > 0]
    li_capacity = sum(len(model.groups[g].images) * cells for g in li_groups)
    target = np.array([amounts.get(el, 0.0) * Z * cells for el in elements])
    charge = np.array([states.get(el, 0) for el in elements])
    li = elements.index("Li")
    options, expected_rows, other = [], [], [g for g in range(len(model.groups)) if g not in li_groups]
    for g in other:
        n_sites = len(model.groups[g].images) * cells
        expected = occupancy[g] * n_sites
        expected = np.append(expected, max(0.0, n_sites - expected.sum()))  # vacancy
        options.append(_roundings(expected, n_sites))
        expected_rows.append(expected)
    if np.prod([len(o) for o in options], dtype=float) > MAX_ROUNDINGS:
        options = [o[:1] for o in options]
    best = None
    for combination in itertools.product(*options):
        totals = np.sum([row[:-1] for row in combination], axis=0)
        li_count = -int(totals @ charge)
        if li_count < 0 or li_count > li_capacity:
            continue
        totals[li] = li_count
        present = target > 0
        relative = float(np.sum(((totals[present] - target[present]) / target[present]) ** 2))
        sites = float(sum(np.sum((row - e) ** 2) for row, e in zip(combination, expected_rows)))
        key = (round(relative, 12), round(sites, 9))
        if best is None or key < best[0]:
            best = (key, combination, li_count)
    if best is None:
        raise InputError(source, f"no rounding of the {cells}-cell supercell is charge-neutral with at most {li_capacity} Li on the Li sites")
    counts: list[dict[str, int]] = [{} for _ in model.groups]
    for g, row in zip(other, best[1]):
        counts[g] = {el: int(n) for el, n in zip(elements, row[:-1]) if n > 0}
    return counts, best[2]


@dataclass
class _Cell:
    """Every site of the supercell that can hold an atom, with its exclusions."""

    frac: np.ndarray  # (N, 3) fractional coordinates of the supercell
    group: np.ndarray  # (N,) site group of the template
    sites_of: dict  # group -> site indices
    li_conflicts: list  # site -> Li sites closer than LI_LI_MIN_ANGSTROM
    contacts: tuple  # (Li site, other site, distance) closer than the largest Li contact limit


def _periodic_pairs(cart: np.ndarray, box: float, first: np.ndarray, second: np.ndarray, cutoff: float):
    """(i, j, d) for sites i in ``first`` and j in ``second`` closer than ``cutoff`` in a periodic cubic box
    (minimum image; i != j)."""
    from scipy.spatial import cKDTree

    if len(first) == 0 or len(second) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    cart = np.where(cart >= box, cart - box, cart)
    pairs = cKDTree(cart[first], boxsize=box).sparse_distance_matrix(cKDTree(cart[second], boxsize=box), cutoff,
                                                                      output_type="ndarray")
    i, j = first[pairs["i"]], second[pairs["j"]]
    keep = i != j
    return i[keep], j[keep], pairs["v"][keep]


def _build_cell(model, counts: list[dict[str, int]], a: float, supercell: int, limits: np.ndarray) -> _Cell:
    shifts = np.array(list(itertools.product(range(supercell), repeat=3)), dtype=float)
    frac_parts: list[np.ndarray] = []
    group_parts: list[np.ndarray] = []
    for g, site_group in enumerate(model.groups):
        frac_parts.append(((site_group.images[None, :, :] % 1.0 + shifts[:, None, :]) / supercell).reshape(-1, 3) % 1.0)
        group_parts.append(np.full(len(site_group.images) * len(shifts), g))
    frac, group = np.vstack(frac_parts), np.concatenate(group_parts)
    box = a * supercell
    is_li = model.li_weights[group] > 0
    li_sites, other_sites = np.flatnonzero(is_li), np.flatnonzero(~is_li)
    i, j, d = _periodic_pairs(frac * box, box, li_sites, other_sites, float(limits.max()))
    # a Li site closer to an always-filled site than any of its occupants allows is never usable
    n_sites = np.array([len(s.images) * supercell**3 for s in model.groups])
    full = np.array([sum(c.values()) == n for c, n in zip(counts, n_sites)])
    least = np.array([min((limits[model.elements.index(el)] for el in c), default=0.0) for c in counts])
    keep = np.ones(len(frac), bool)
    keep[i[full[group[j]] & (d < least[group[j]])]] = False
    new = np.cumsum(keep) - 1
    frac, group = frac[keep], group[keep]
    pair_kept = keep[i]
    contacts = (new[i[pair_kept]], new[j[pair_kept]], d[pair_kept])
    li_sites = np.flatnonzero(model.li_weights[group] > 0)
    li_i, li_j, _ = _periodic_pairs(frac * box, box, li_sites, li_sites, LI_LI_MIN_ANGSTROM)
    conflicts: list[list[int]] = [[] for _ in range(len(frac))]
    for p, q in zip(li_i.tolist(), li_j.tolist()):
        conflicts[p].append(q)
    sites_of = {g: np.flatnonzero(group == g) for g in range(len(model.groups))}
    return _Cell(frac, group, sites_of, [np.array(c, int) for c in conflicts], contacts)


def _li_targets(model, occupancy: np.ndarray, cell: _Cell, li_count: int) -> dict[int, int]:
    """Li per Li site group: the site model's shares (occupancy x usable sites), largest remainders."""
    li = model.elements.index("Li")
    groups = [g for g in range(len(model.groups)) if model.li_weights[g] > 0 and len(cell.sites_of[g])]
    if not groups:
        return {}
    share = np.array([occupancy[g, li] * len(cell.sites_of[g]) for g in groups])
    if share.sum() <= 0:
        share = np.array([len(cell.sites_of[g]) for g in groups], dtype=float)
    counts = _largest_remainder(share / share.sum() * li_count, li_count)
    return {g: int(n) for g, n in zip(groups, counts)}


def _draw(rng, cell: _Cell, counts: list[dict[int, int]], li_targets: dict[int, int], li_count: int, li: int,
          limits: np.ndarray):
    """One decoration: (element index per site, -1 empty; number of Li placed, short of ``li_count`` when
    the draw failed). Li sites go in sequentially (rule 4); when that falls short, (1,2)-swaps - empty one
    Li whose two non-conflicting neighbours then fit - add one Li each (the 2-improvement local search of
    independent sets, Andrade, Resende & Werneck, J. Heuristics 18 (2012) 525)."""
    occupant = np.full(len(cell.frac), -1)
    for g, group_counts in enumerate(counts):
        order = rng.permutation(cell.sites_of[g])
        start = 0
        for element, n in sorted(group_counts.items()):
            occupant[order[start:start + n]] = element
            start += n
    li_sites = np.concatenate([cell.sites_of[g] for g in li_targets])
    allowed = np.zeros(len(occupant), bool)
    allowed[li_sites] = True
    i, j, d = cell.contacts
    allowed[i[(occupant[j] >= 0) & (d < limits[occupant[j]])]] = False  # too close to an atom placed
    tight = np.zeros(len(occupant), int)  # Li neighbours closer than LI_LI_MIN_ANGSTROM

    def put(site, sign: int) -> None:
        occupant[site] = li if sign > 0 else -1
        tight[cell.li_conflicts[site]] += sign

    def take(sites, wanted: int) -> int:
        taken = 0
        for site in sites:
            if taken == wanted:
                break
            if allowed[site] and occupant[site] < 0 and tight[site] == 0:
                put(site, 1)
                taken += 1
        return taken

    placed = 0
    for g in sorted(li_targets, key=lambda g: (li_targets[g], g)):  # scarcest site group first
        placed += take(rng.permutation(cell.sites_of[g]), li_targets[g])
    placed += take(rng.permutation(li_sites), li_count - placed)
    improved = True
    while placed < li_count and improved:
        improved = False
        for v in rng.permutation(li_sites[occupant[li_sites] == li]):
            ones = [u for u in cell.li_conflicts[v] if allowed[u] and occupant[u] < 0 and tight[u] == 1]
            pair = next(((p, q) for p, q in itertools.combinations(ones, 2) if q not in cell.li_conflicts[p]), None)
            if pair is None:
                continue
            put(v, -1)
            put(pair[0], 1)
            put(pair[1], 1)
            placed += 1
            placed += take(ones, li_count - placed)
            improved = True
            if placed == li_count:
                break
    return occupant, placed


def li_bound(cell: _Cell, li_sites: np.ndarray) -> int:
    """An upper bound on the Li any decoration holds: the number of cliques of a greedy cover of the Li
    sites by cliques of the conflict graph (one Li per clique at most; a 48h doublet and the 24g site
    between its partners are one clique)."""
    covered = np.zeros(len(cell.frac), bool)
    cliques = 0
    for v in li_sites:
        if covered[v]:
            continue
        clique = [v]
        for u in cell.li_conflicts[v]:
            if not covered[u] and all(u in cell.li_conflicts[w] for w in clique[1:]):
                clique.append(u)
        covered[clique] = True
        cliques += 1
    return cliques


def _ewald_matrix(lattice, frac: np.ndarray) -> np.ndarray:
    """Phi_ij: pymatgen's Ewald energy matrix (eV) of unit charges on every site."""
    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.core import Species, Structure

    return EwaldSummation(Structure(lattice, [Species("Li", 1)] * len(frac), frac)).total_energy_matrix


def minimum_distances(structure) -> tuple[float, float]:
    """Shortest Li-Li and Li-anion distances (A) of an ordered structure, periodic images included."""
    from scipy.spatial import cKDTree

    states = oxidation_states()
    symbols = np.array([site.specie.symbol for site in structure])
    cart = structure.lattice.get_cartesian_coords(structure.frac_coords % 1.0)
    box = structure.lattice.a
    cart = np.where(cart >= box, cart - box, cart)
    li = cart[symbols == "Li"]
    anion = cart[np.array([states.get(s, 0) < 0 for s in symbols])]
    li_li = cKDTree(li, boxsize=box).query(li, k=2)[0][:, 1].min() if len(li) > 1 else float("inf")
    li_anion = cKDTree(anion, boxsize=box).query(li, k=1)[0].min() if len(li) and len(anion) else float("inf")
    return float(li_li), float(li_anion)


def check_arguments(n_structures: int, candidates: int, supercell: int, seed: int) -> None:
    if not 1 <= supercell <= MAX_SUPERCELL:
        raise ParameterError("supercell", f"supercell size must be 1 to {MAX_SUPERCELL}, got {supercell}")
    if not 1 <= n_structures <= 10_000:
        raise ParameterError("n_structures", f"need 1 <= n_structures <= 10000, got {n_structures}")
    if not n_structures <= candidates <= 10_000:
        raise ParameterError("candidates", f"need n_structures ({n_structures}) <= candidates <= 10000, got {candidates}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError("seed", f"seed must be a non-negative integer, got {seed}")


def generate(screener, index: int, n_structures: int = 5, candidates: int = 40, supercell: int = 1,
             seed: int = 0) -> list[Approximant]:
    """Ordered approximants of composition ``index`` of a :class:`~argyrodb.screening.Screener` (module
    docstring), lowest Ewald energy first. Warns (:class:`CompositionWarning`) when the supercell cannot
    hold the composition exactly."""
    from pymatgen.core import Lattice, Structure

    check_arguments(n_structures, candidates, supercell, seed)
    model = screener.model
    amounts = {el: n for el, n in screener.points[index][1].items() if n > 1e-12}
    requested = format_formula(amounts)
    occupancy = model.occupancies(amounts)
    lattice_parameter = screener.lattice(index)
    a = lattice_parameter.a_angstrom
    cells = supercell**3
    counts, li_count = nearest_counts(model, occupancy, amounts, cells, requested)
    table, states = radii(), oxidation_states()
    elements = model.elements
    li = elements.index("Li")
    limits = np.array([table.contact_factor * (table.radius("Li") + table.radius(el)) for el in elements])
    limits[li] = 0.0  # Li-Li is the conflict graph's business
    cell = _build_cell(model, counts, a, supercell, limits)
    li_targets = _li_targets(model, occupancy, cell, li_count)
    shape = f"{supercell}x{supercell}x{supercell}"
    bound = li_bound(cell, np.concatenate([cell.sites_of[g] for g in li_targets])) if li_targets else 0
    if li_count > bound:
        raise InputError(requested, f"{li_count} Li cannot fit the {shape} supercell: at most {bound} Li sites are "
                         f"{LI_LI_MIN_ANGSTROM} A or more apart")
    lattice = Lattice.cubic(a * supercell)
    phi = _ewald_matrix(lattice, cell.frac)
    charges = np.array([states.get(el, 0) for el in elements], dtype=float)
    by_index = [{elements.index(el): n for el, n in c.items()} for c in counts]
    rng = np.random.default_rng(seed)
    results = []
    for candidate in range(candidates):
        best = 0
        for _ in range(DRAW_RESTARTS):
            occupant, placed = _draw(rng, cell, by_index, li_targets, li_count, li, limits)
            if placed == li_count:
                break
            best = max(best, placed)
        else:
            raise InputError(requested, f"found no decoration of the {shape} supercell with {li_count} Li, every Li-Li >= "
                             f"{LI_LI_MIN_ANGSTROM} A and no Li-anion contact in {DRAW_RESTARTS} draws (best {best} Li; "
                             f"at most {bound} could fit)")
        filled = np.flatnonzero(occupant >= 0)
        q = charges[occupant[filled]]
        energy = float(q @ phi[np.ix_(filled, filled)] @ q)
        results.append((energy, candidate, filled, occupant[filled]))
    results.sort(key=lambda t: (t[0], t[1]))
    total = {el: sum(c.get(el, 0) for c in counts) for el in elements}
    total["Li"] = li_count
    composition = {el: n / (Z * cells) for el, n in total.items() if n > 0}
    deviation = {el: round(composition.get(el, 0.0) - amounts.get(el, 0.0), 12) for el in ordered_elements(set(composition) | set(amounts))}
    out = []
    for rank, (energy, _, filled, species) in enumerate(results[:n_structures], start=1):
        structure = Structure(lattice, [elements[s] for s in species], cell.frac[filled])
        li_li, li_anion = minimum_distances(structure)
        out.append(Approximant(rank, energy, format_formula(composition), structure, supercell, requested, composition,
                               deviation, exact_supercell(amounts), li_li, li_anion, lattice_parameter))
    if out and not out[0].exact:
        warnings.warn(out[0].composition_note(), CompositionWarning, stacklevel=2)
    return out


def _metadata(approximant: Approximant) -> dict:
    n = approximant.supercell
    return {"argyrodb_formula_per_fu": approximant.formula,
            "argyrodb_requested_formula": approximant.requested_formula,
            "argyrodb_composition_deviation": deviation_text(approximant.composition_deviation) or "none",
            "argyrodb_supercell": f"{n}x{n}x{n}",
            "argyrodb_exact_supercell": f"{approximant.exact_supercell}" if approximant.exact_supercell else "none",
            "argyrodb_min_li_li_angstrom": round(approximant.min_li_li_angstrom, 4),
            "argyrodb_min_li_anion_angstrom": round(approximant.min_li_anion_angstrom, 4),
            "argyrodb_ewald_rank": approximant.rank,
            "ewald_energy_eV": approximant.ewald_energy_eV,
            **({} if approximant.lattice is None else {
                "argyrodb_a_angstrom": round(approximant.lattice.a_angstrom, 6),
                "argyrodb_a_source": approximant.lattice.label(),
                "argyrodb_a_extrapolated": "yes" if approximant.lattice.extrapolated else "no"})}


def _annotate(path: Path, ase_format: str, approximant: Approximant) -> None:
    """POSCAR: the summary as the comment line; CIF: the metadata as ``_argyrodb_*`` data names."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if ase_format == "vasp":
        lines[0] = approximant.summary() + "\n"
    elif ase_format == "cif":
        tags = {"argyrodb_" + key.removeprefix("argyrodb_"): value for key, value in _metadata(approximant).items()}
        lines[1:1] = [f"_{name:<34} {value!r}\n" if isinstance(value, str) else f"_{name:<34} {value}\n"
                      for name, value in tags.items()]
        lines.insert(0, f"# {approximant.summary()}\n")
    path.write_text("".join(lines), encoding="utf-8")


def write(approximants: list[Approximant], out_dir: str | Path, stem: str, formats=("poscar", "extxyz", "cif")) -> list[Path]:
    """Write each approximant through ASE (atomically, names kept inside ``out_dir``), with its
    composition, supercell, minimum distances and Ewald rank/energy in the file (``atoms.info`` in
    extxyz, the comment line of POSCAR, ``_argyrodb_*`` data names in CIF)."""
    from ase.io import write as ase_write
    from pymatgen.io.ase import AseAtomsAdaptor

    check_formats(formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for approximant in approximants:
        atoms = AseAtomsAdaptor.get_atoms(approximant.structure)
        atoms.info.update(_metadata(approximant))
        for fmt in formats:
            ase_format, suffix = FORMATS[fmt]
            target = out / safe_filename(f"{stem}-{approximant.rank:02d}", suffix)
            with atomic_path(target) as tmp:
                if ase_format == "vasp":
                    ase_write(tmp, atoms, format=ase_format, sort=True)  # one block per element, POTCAR order
                else:
                    ase_write(tmp, atoms, format=ase_format)
                _annotate(Path(tmp), ase_format, approximant)
            written.append(target)
    return written


def check_formats(formats) -> None:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ParameterError("formats", f"unknown format {unknown[0]!r} ({', '.join(FORMATS)})" if unknown else "no format given")
