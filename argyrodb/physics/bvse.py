"""Bond-valence site energy (BVSE) of a mobile Li+ and the energies at which its low-energy region percolates
in one, two and three dimensions: a physical descriptor of Li transport, cheap enough to screen with.

**Site energy.** A Li+ test ion at r in the framework (every atom but Li) has the energy (Chen, Wong & Adams, Acta
Cryst. B 75 (2019) 18, doi:10.1107/S2052520619003871, the softBV model)

    E(r) = sum_X (D0_X / 2) [ (exp(alpha_X (R_min,X - R_X)) - 1)^2 - 1 ]
         + sum_M 14.40 eV A  q_Li q_M / sqrt(n_Li n_M) / R_M  erfc(R_M / (f (rc_Li + rc_M)))

over the anions X (Morse-type bond term; D0, R_min, alpha = 1/b from the bond-softness-sensitive bond-valence
parameters, Chen & Adams, IUCrJ 4 (2017) 614, doi:10.1107/S2052252517007211) and the cations M (screened
Coulomb repulsion: formal charges q, principal quantum numbers n, covalent radii rc, f = 0.74) within
``r_cut_angstrom`` (10 A). The factor 1/2 of the bond term and every parameter (``data/bvse_li.yaml``, with
provenance) are BVlain's (the BVlain package's softBV parameter tables and potentials; tests/physics/test_bvse.py
checks argyrodb's energies against BVlain's at the same points).

**Disorder.** A site that several species share contributes the occupancy-weighted sum of their terms: the site
energy of the average structure (a mean-field, virtual-crystal BVSE, linear in the occupancies, so a screen
combines precomputed per-species fields). Ordered approximants (:mod:`argyrodb.screening.approximants`) give the
energy of explicit local configurations instead; ``bvse_ordered`` takes such a structure, and the disorder study
(benchmarks/bvse_disorder.py) compares the two for Li6PS5Cl with Cl on 4d from 0 to 1.

**Percolation energies.** On a grid of ``resolution_angstrom`` (0.2 A) over the cell, the region {E <= E_min + t}
is labelled (26-connected voxels, as BVlain and softBV) and its components joined across the periodic boundaries
with the cell offset of each crossing; the dimension of a component is the rank of the offsets of its closed loops
(1, 2 or 3: it reaches its own image along that many independent lattice directions). E_kD is the least t at
which some component has dimension >= k, found exactly on the grid (bisection over the sorted voxel energies)
up to ``encut_eV`` (5 eV; None above it: no percolation). Li6PS5X's barrier is that of the inter-cage jump.

Structures on the F-43m sites (every analysed argyrodite, every screened composition) are evaluated on the
orbit representatives of the grid under the 96 operations of F-43m only (about 1 voxel in 70), then spread to
the whole grid: the energy of the average structure has the space group's symmetry.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np

from .. import __version__
from ..core.errors import ParameterError
from ..core.resources import data_file, literature_folder
from ..core.symmetry import invariant_under_f43m, operations

#: The mobile ion: never part of the framework.
MOBILE = "Li"
RESOLUTION_ANGSTROM = 0.2
R_CUT_ANGSTROM = 10.0
ENCUT_EV = 5.0
#: Distances below this are taken at it: a voxel on an atom (P at 0,0,1/2 lies on the grid) would divide by zero;
#: the energy there is ~100 eV either way, far above any percolation energy.
R_FLOOR_ANGSTROM = 0.3
#: Grid points whose neighbour lists are held at once (~120 atoms each within 10 A: ~70 MB), so a supercell's
#: million-voxel grid runs in bounded memory.
POINTS_PER_CHUNK = 20_000
#: Published Li migration barriers and activation energies of the end members (``db/li_barriers_published.csv``).
PUBLISHED_FILE = "li_barriers_published.csv"
METHOD = "BVSE (softBV parameters, Chen, Wong & Adams 2019, doi:10.1107/S2052520619003871), argyrodb kernel"


@dataclass(frozen=True)
class Anion:
    charge: int
    d0_eV: float
    r_min_angstrom: float
    alpha_per_angstrom: float


@dataclass(frozen=True)
class Cation:
    charge: int
    principal_quantum_number: int
    covalent_radius_angstrom: float


@dataclass(frozen=True)
class Parameters:
    anions: dict[str, Anion]
    cations: dict[str, Cation]
    mobile: Cation
    screening_factor_f: float
    coulomb_eV_angstrom: float


@lru_cache(maxsize=1)
def parameters() -> Parameters:
    """The BVSE parameters for Li+ (``data/bvse_li.yaml``; source and DOI in the file)."""
    import yaml

    with open(data_file("bvse_li.yaml"), encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    anions = {el: Anion(int(p["charge"]), float(p["d0_eV"]), float(p["r_min_angstrom"]), float(p["alpha_per_angstrom"]))
              for el, p in raw["anions"].items()}
    cations = {el: Cation(int(p["charge"]), int(p["principal_quantum_number"]), float(p["covalent_radius_angstrom"]))
               for el, p in raw["cations"].items()}
    m = raw["mobile"]
    return Parameters(anions, cations, Cation(int(m["charge"]), int(m["principal_quantum_number"]), float(m["covalent_radius_angstrom"])),
                      float(raw["screening_factor_f"]), float(raw["coulomb_constant_eV_angstrom"]))


def pair_energy_eV(element: str, r_angstrom: np.ndarray) -> np.ndarray:
    """The energy of Li+ at distances ``r_angstrom`` from one ``element`` ion (the module docstring's terms)."""
    from scipy.special import erfc

    p = parameters()
    r = np.maximum(np.asarray(r_angstrom, dtype=float), R_FLOOR_ANGSTROM)
    if element in p.anions:
        x = p.anions[element]
        return 0.5 * x.d0_eV * ((np.exp(x.alpha_per_angstrom * (x.r_min_angstrom - r)) - 1.0) ** 2 - 1.0)
    if element in p.cations:
        c, li = p.cations[element], p.mobile
        prefactor = p.coulomb_eV_angstrom * li.charge * c.charge / np.sqrt(li.principal_quantum_number * c.principal_quantum_number)
        return prefactor / r * erfc(r / (p.screening_factor_f * (li.covalent_radius_angstrom + c.covalent_radius_angstrom)))
    raise ParameterError("bvse", f"no BVSE parameters for {element} with Li+ (data/bvse_li.yaml has "
                                 f"{', '.join([*p.anions, *p.cations])})")


def check_elements(elements) -> None:
    """A one-line ParameterError naming the first framework element without BVSE parameters."""
    p = parameters()
    for el in elements:
        if el != MOBILE and el not in p.anions and el not in p.cations:
            pair_energy_eV(el, np.ones(1))


# --------------------------------------------------------------------------- grids


def grid_points(a_angstrom: float, resolution_angstrom: float = RESOLUTION_ANGSTROM) -> int:
    """Voxels per cell edge: the multiple of 4 nearest a / resolution (F-43m's operations map such a grid onto
    itself)."""
    if not resolution_angstrom > 0:
        raise ParameterError("resolution", f"must be > 0 A, got {resolution_angstrom}")
    n = 4 * max(1, round(a_angstrom / resolution_angstrom / 4))
    if n > 256:
        raise ParameterError("resolution", f"{resolution_angstrom} A gives {n}^3 voxels for a = {a_angstrom:.3f} A: too fine")
    return n


@lru_cache(maxsize=4)
def orbit_representatives(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat indices of one voxel per orbit of F-43m on the n^3 grid, the orbit of every voxel as an index into
    the first array): energy_full = energy_representatives[inverse]."""
    rotations, translations, _ = operations()
    index = np.indices((n, n, n)).reshape(3, -1).T  # (n^3, 3) voxel indices i/n
    shift = np.rint(translations * n).astype(np.int64)
    if np.abs(translations * n - shift).max() > 1e-9:
        raise ValueError(f"grid {n} does not carry F-43m's translations")
    rot = np.rint(rotations).astype(np.int64)
    smallest = np.full(len(index), np.iinfo(np.int64).max)
    for r, t in zip(rot, shift):
        image = np.mod(index @ r.T + t, n)
        smallest = np.minimum(smallest, (image[:, 0] * n + image[:, 1]) * n + image[:, 2])
    representatives, inverse = np.unique(smallest, return_inverse=True)
    return representatives, inverse.reshape(-1)


def _cell_points(n: int, lattice: np.ndarray, flat: np.ndarray | None = None) -> np.ndarray:
    """Cartesian positions of voxels ``flat`` (all when None) of an n^3 grid over ``lattice`` (rows: vectors)."""
    if flat is None:
        flat = np.arange(n**3)
    ijk = np.stack(np.unravel_index(flat, (n, n, n)), axis=1) / n
    return ijk @ lattice


def _images_within(frac: np.ndarray, lattice: np.ndarray, r_cut: float) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian positions of the lattice images of ``frac`` (m, 3) that can lie within ``r_cut`` of a point of the
    cell, and the index of the site each image is of."""
    heights = 1.0 / np.linalg.norm(np.linalg.inv(lattice), axis=0)  # distances between opposite faces
    reach = np.ceil(r_cut / heights).astype(int)
    shifts = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in reach], indexing="ij"), axis=-1).reshape(-1, 3)
    frac = np.mod(np.asarray(frac, dtype=float).reshape(-1, 3), 1.0)
    cart = ((frac[None, :, :] + shifts[:, None, :]) @ lattice).reshape(-1, 3)
    owner = np.tile(np.arange(len(frac)), len(shifts))
    return cart, owner


def _pair_distances(points, frac: np.ndarray, lattice: np.ndarray, r_cut: float):
    """(point index, site index, distance) of every point-atom pair within ``r_cut`` (periodic images included);
    ``points`` (m, 3) or their ``cKDTree`` (one tree for several groups' queries)."""
    from scipy.spatial import cKDTree

    cart, owner = _images_within(frac, lattice, r_cut)
    tree = points if isinstance(points, cKDTree) else cKDTree(points)
    pairs = tree.sparse_distance_matrix(cKDTree(cart), r_cut, output_type="coo_matrix")
    return pairs.row.astype(np.int64), owner[pairs.col], np.maximum(pairs.data, 0.0)


@dataclass(frozen=True)
class SiteGroup:
    """Framework sites that share one species mix: fractional positions (m, 3) and element -> occupancy."""

    frac: np.ndarray
    species: dict[str, float]


def group_fields(groups: list[np.ndarray], elements: list[str], lattice: np.ndarray, n: int,
                 r_cut: float = R_CUT_ANGSTROM, symmetric: bool = False, needed: np.ndarray | None = None) -> np.ndarray:
    """E_ge on the grid: the energy (eV) of Li+ from group g's sites fully occupied by element e, for every group
    and element, as (groups, elements, voxels) where ``symmetric`` (every group F-43m-invariant: the voxels are
    the orbit representatives, :func:`orbit_representatives`) or (groups, elements, n^3). ``needed`` (groups x
    elements, bool): only those fields are computed, the others left 0 (an element absent from a group is weighed
    by occupancy 0 anyway)."""
    from scipy.spatial import cKDTree

    flat = orbit_representatives(n)[0] if symmetric else None
    points = _cell_points(n, lattice, flat)
    out = np.zeros((len(groups), len(elements), len(points)))
    for start in range(0, len(points), POINTS_PER_CHUNK):  # bounded memory: ~120 pairs a point at 10 A
        chunk = points[start:start + POINTS_PER_CHUNK]
        tree = cKDTree(chunk)  # once per chunk, shared by the groups' queries
        for g, frac in enumerate(groups):
            if not len(frac) or (needed is not None and not needed[g].any()):
                continue
            row, _, dist = _pair_distances(tree, frac, lattice, r_cut)
            for e, element in enumerate(elements):
                if element != MOBILE and (needed is None or needed[g, e]):
                    out[g, e, start:start + len(chunk)] = np.bincount(row, weights=pair_energy_eV(element, dist),
                                                                      minlength=len(chunk))
    return out


# --------------------------------------------------------------------------- percolation


@lru_cache(maxsize=4)
def _boundary_pairs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the 13 forward neighbour directions of a 26-connected n^3 grid, every pair of voxels joined across the
    cell boundary: (flat index of the voxel, flat index of its neighbour, the lattice offset crossed)."""
    index = np.indices((n, n, n)).reshape(3, -1).T
    first, second, offsets = [], [], []
    directions = [d for d in np.ndindex(3, 3, 3) if d != (1, 1, 1)]
    for d in directions[: len(directions) // 2]:  # one of each +-d pair
        step = np.array(d) - 1
        target = index + step
        crossed = np.floor_divide(target, n)
        across = np.any(crossed != 0, axis=1)
        wrapped = np.mod(target[across], n)
        first.append(index[across] @ np.array([n * n, n, 1]))
        second.append(wrapped @ np.array([n * n, n, 1]))
        offsets.append(crossed[across])
    return np.concatenate(first), np.concatenate(second), np.concatenate(offsets).astype(np.int64)


def percolation_dimension(mask: np.ndarray) -> int:
    """The largest dimension (0-3) of a periodic 26-connected component of ``mask`` (an n^3 boolean grid over one
    cell): the rank of the lattice offsets of the closed loops of the component."""
    from scipy import ndimage

    n = mask.shape[0]
    labels, count = ndimage.label(mask, structure=np.ones((3, 3, 3), dtype=bool))
    if count == 0:
        return 0
    first, second, offsets = _boundary_pairs(n)
    flat = labels.reshape(-1)
    u, v = flat[first], flat[second]
    keep = (u > 0) & (v > 0)
    if not keep.any():
        return 0
    # one integer per (label, label, offset) so np.unique sorts a vector, not rows (10x faster)
    code = ((u[keep].astype(np.int64) * (count + 1) + v[keep]) * 27
            + (offsets[keep] + 1) @ np.array([9, 3, 1], dtype=np.int64))
    code = np.unique(code)
    shift = code % 27
    pair = code // 27
    edges = np.column_stack([pair // (count + 1), pair % (count + 1), shift // 9 - 1, (shift // 3) % 3 - 1, shift % 3 - 1])
    parent = list(range(count + 1))
    position = [np.zeros(3, dtype=np.int64) for _ in range(count + 1)]  # cell of each label relative to its root

    def find(x: int) -> int:
        """The root of x; afterwards position[x] is x's cell relative to it (path compressed)."""
        path = []
        while parent[x] != x:
            path.append(x)
            x = parent[x]
        for node in reversed(path):  # nearest the root first: its parent's position is already relative to the root
            if parent[node] != x:
                position[node] = position[node] + position[parent[node]]
                parent[node] = x
        return x

    loops: dict[int, list[np.ndarray]] = {}
    for a, b, *offset in edges.tolist():
        ra, rb = find(a), find(b)
        pa, pb = position[a], position[b]  # a in cell 0 touches b in cell `offset`: cell(b) = cell(a) + offset
        shift = np.array(offset, dtype=np.int64)
        if ra == rb:
            loop = pa + shift - pb
            if loop.any():
                loops.setdefault(ra, []).append(loop)
        else:  # hang rb under ra: position[rb] is rb's cell relative to ra
            parent[rb] = ra
            position[rb] = pa + shift - pb
            loops.setdefault(ra, []).extend(loops.pop(rb, []))
    best = 0
    for vectors in loops.values():
        best = max(best, int(np.linalg.matrix_rank(np.array(vectors, dtype=float))))
        if best == 3:
            break
    return best


def percolation_energies(energy: np.ndarray, encut_eV: float = ENCUT_EV) -> tuple[float | None, float | None, float | None]:
    """(E_1D, E_2D, E_3D) in eV above the grid's minimum of an n^3 energy grid: the least threshold at which the
    region below it percolates in that many dimensions, exact on the grid (a voxel energy); None when it does not
    below ``encut_eV``."""
    energy = np.asarray(energy, dtype=float)
    relative = energy - energy.min()
    levels = np.unique(relative[relative <= encut_eV])
    lo = [-1, -1, -1]  # per dimension k = 1..3: the largest level index known not to percolate in k dimensions
    hi = [len(levels)] * 3  # ... and the smallest known to (len: not within encut)
    cache: dict[int, int] = {}

    def dimension(i: int) -> int:
        if i not in cache:
            cache[i] = percolation_dimension(relative <= levels[i])
        return cache[i]

    def learn(i: int) -> None:
        d = dimension(i)
        for k in range(3):
            if d >= k + 1:
                hi[k] = min(hi[k], i)
            else:
                lo[k] = max(lo[k], i)

    if len(levels):
        learn(len(levels) - 1)
    while True:
        open_k = [k for k in range(3) if hi[k] - lo[k] > 1 and hi[k] < len(levels)]
        if not open_k:
            break
        k = max(open_k, key=lambda j: hi[j] - lo[j])
        learn((lo[k] + hi[k]) // 2)
    return tuple(float(levels[hi[k]]) if hi[k] < len(levels) else None for k in range(3))  # type: ignore[return-value]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BVSEResult:
    """Percolation energies of Li+ (eV above the site-energy minimum; None: not below ``encut_eV``)."""

    e_1d_eV: float | None
    e_2d_eV: float | None
    e_3d_eV: float | None
    method: str = METHOD
    disorder: str = "site-average"  # or "ordered"
    parameters: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _settings(a_or_lattice, n: int, r_cut: float, encut: float, resolution: float) -> dict:
    return {"grid": n, "resolution_angstrom": resolution, "r_cut_angstrom": r_cut, "encut_eV": encut,
            "screening_factor_f": parameters().screening_factor_f, "parameters_file": "argyrodb/data/bvse_li.yaml",
            "connectivity": 26, "lattice": np.round(np.asarray(a_or_lattice, dtype=float), 6).tolist()}


def site_energy_at(points_angstrom: np.ndarray, groups: list[SiteGroup], lattice: np.ndarray,
                   r_cut_angstrom: float = R_CUT_ANGSTROM) -> np.ndarray:
    """The Li+ site energy (eV) at Cartesian ``points_angstrom`` (m, 3) of the periodic framework ``groups`` (Li left
    out) over ``lattice`` (rows: cell vectors, A)."""
    lattice = np.asarray(lattice, dtype=float)
    points = np.asarray(points_angstrom, dtype=float).reshape(-1, 3)
    points = np.mod(points @ np.linalg.inv(lattice), 1.0) @ lattice  # into the cell, which the images surround
    energy = np.zeros(len(points))
    for start in range(0, len(points), POINTS_PER_CHUNK):
        chunk = points[start:start + POINTS_PER_CHUNK]
        for group in groups:
            row, _, dist = _pair_distances(chunk, group.frac, lattice, r_cut_angstrom)
            for element, occupancy in group.species.items():
                if element != MOBILE and occupancy > 0:
                    energy[start:start + len(chunk)] += occupancy * np.bincount(
                        row, weights=pair_energy_eV(element, dist), minlength=len(chunk))
    return energy


def _merged(groups: list[SiteGroup]) -> list[SiteGroup]:
    """Groups with the same species mix joined (an ordered structure listed site by site is then tested for
    F-43m as a whole)."""
    joined: dict[tuple, list[np.ndarray]] = {}
    for g in groups:
        key = tuple(sorted((el, round(float(o), 12)) for el, o in g.species.items() if o > 0))
        joined.setdefault(key, []).append(np.asarray(g.frac, dtype=float).reshape(-1, 3))
    return [SiteGroup(np.vstack(frac), dict(key)) for key, frac in joined.items()]


def site_energy(groups: list[SiteGroup], lattice: np.ndarray, resolution_angstrom: float = RESOLUTION_ANGSTROM,
                r_cut_angstrom: float = R_CUT_ANGSTROM) -> np.ndarray:
    """The Li+ site-energy grid (n, n, n) in eV of framework ``groups`` (Li left out) over ``lattice`` (rows: the
    cell vectors in A; n voxels along each, spacing about ``resolution_angstrom``)."""
    lattice = np.asarray(lattice, dtype=float)
    n = grid_points(float(np.linalg.norm(lattice, axis=1).max()), resolution_angstrom)
    framework = _merged([g for g in groups if any(el != MOBILE and occ > 0 for el, occ in g.species.items())])
    elements = sorted({el for g in framework for el, occ in g.species.items() if el != MOBILE and occ > 0})
    check_elements(elements)
    cubic = np.allclose(lattice, np.eye(3) * lattice[0, 0], atol=1e-9)
    symmetric = cubic and invariant_under_f43m([g.frac for g in framework])
    occupancy = np.array([[g.species.get(el, 0.0) for el in elements] for g in framework]).reshape(len(framework), len(elements))
    return _energy_grid([g.frac for g in framework], elements, occupancy, lattice, n, r_cut_angstrom, symmetric)


def _energy_grid(groups: list[np.ndarray], elements: list[str], occupancy: np.ndarray, lattice: np.ndarray, n: int,
                 r_cut: float, symmetric: bool) -> np.ndarray:
    """The (n, n, n) site-energy grid: the per-species fields of the groups (those with occupancy only) weighed by
    ``occupancy`` (groups x elements), spread from the orbit representatives to the grid where ``symmetric``."""
    fields = group_fields(groups, elements, lattice, n, r_cut, symmetric, needed=occupancy != 0)
    energy = np.einsum("ge,gev->v", occupancy, fields)
    if symmetric:
        energy = energy[orbit_representatives(n)[1]]
    return energy.reshape(n, n, n)


def bvse(groups: list[SiteGroup], lattice: np.ndarray, resolution_angstrom: float = RESOLUTION_ANGSTROM,
         r_cut_angstrom: float = R_CUT_ANGSTROM, encut_eV: float = ENCUT_EV, disorder: str = "site-average") -> BVSEResult:
    """Percolation energies of Li+ in the framework ``groups`` over ``lattice`` (module docstring)."""
    lattice = np.asarray(lattice, dtype=float)
    energy = site_energy(groups, lattice, resolution_angstrom, r_cut_angstrom)
    e1, e2, e3 = percolation_energies(energy, encut_eV)
    return BVSEResult(e1, e2, e3, disorder=disorder,
                      parameters=_settings(lattice, energy.shape[0], r_cut_angstrom, encut_eV, resolution_angstrom))


def structure_groups(structure) -> list[SiteGroup]:
    """The site groups of an analysed structure (:class:`argyrodb.core.analysis.AnalysedStructure`): each
    position's images in the conventional cell and its species."""
    return [SiteGroup(np.asarray(pos.images, dtype=float), {el: float(o) for el, o in pos.species().items() if o > 0})
            for pos in structure.positions]


def bvse_of_structure(structure, resolution_angstrom: float = RESOLUTION_ANGSTROM, r_cut_angstrom: float = R_CUT_ANGSTROM,
                      encut_eV: float = ENCUT_EV) -> BVSEResult:
    """Percolation energies of an analysed argyrodite (the average structure: shared sites by occupancy)."""
    return bvse(structure_groups(structure), np.eye(3) * structure.a_angstrom, resolution_angstrom, r_cut_angstrom, encut_eV)


def bvse_ordered(structure, resolution_angstrom: float = RESOLUTION_ANGSTROM, r_cut_angstrom: float = R_CUT_ANGSTROM,
                 encut_eV: float = ENCUT_EV) -> BVSEResult:
    """Percolation energies of a pymatgen ``Structure`` (any cell; an ordered approximant, a supercell), each site
    its own group with its species' occupancies."""
    groups: dict[tuple, list] = {}
    for site in structure:
        key = tuple(sorted((el.symbol, round(float(occ), 9)) for el, occ in site.species.element_composition.items()))
        groups.setdefault(key, []).append(site.frac_coords)
    site_groups = [SiteGroup(np.array(frac), dict(key)) for key, frac in groups.items()]
    return bvse(site_groups, structure.lattice.matrix, resolution_angstrom, r_cut_angstrom, encut_eV, disorder="ordered")


class CompositionBVSE:
    """BVSE percolation energies of many compositions on one template's sites (a screen): the groups' fractional
    positions are fixed, each composition brings its occupancies (groups x elements) and lattice parameter. Per
    composition: the per-species fields of every group at its a (orbit representatives only), combined by
    occupancy, then the percolation search."""

    def __init__(self, groups: list[np.ndarray], elements: list[str], resolution_angstrom: float = RESOLUTION_ANGSTROM,
                 r_cut_angstrom: float = R_CUT_ANGSTROM, encut_eV: float = ENCUT_EV):
        self.groups = [np.asarray(g, dtype=float).reshape(-1, 3) for g in groups]
        self.elements = list(elements)
        self.resolution = resolution_angstrom
        self.r_cut = r_cut_angstrom
        self.encut = encut_eV
        self.symmetric = invariant_under_f43m(self.groups)

    def barriers(self, a_angstrom: float, occupancy: np.ndarray) -> BVSEResult:
        """Percolation energies at lattice parameter ``a_angstrom`` with ``occupancy`` (groups x elements)."""
        occupancy = np.asarray(occupancy, dtype=float)
        used = [e for e, el in enumerate(self.elements) if el != MOBILE and (occupancy[:, e] > 0).any()]
        check_elements([self.elements[e] for e in used])
        occupied = [g for g in range(len(self.groups)) if (occupancy[g, used] > 0).any()]  # Li sites add nothing
        lattice = np.eye(3) * a_angstrom
        n = grid_points(a_angstrom, self.resolution)
        energy = _energy_grid([self.groups[g] for g in occupied], [self.elements[e] for e in used],
                              occupancy[np.ix_(occupied, used)], lattice, n, self.r_cut, self.symmetric)
        e1, e2, e3 = percolation_energies(energy, self.encut)
        return BVSEResult(e1, e2, e3, parameters=_settings(a_angstrom, n, self.r_cut, self.encut, self.resolution))


# --------------------------------------------------------------------------- published values


@dataclass(frozen=True)
class PublishedBarrier:
    """One published barrier or activation energy (eV) with its provenance; ``bound`` '>' for a lower bound;
    ``halide_on_4d`` the fraction of the halide on 4d (the cage centre) where the source gives it."""

    material: str
    quantity: str
    method: str
    value_eV: float
    value_max_eV: float | None
    bound: str
    reference: str
    doi: str
    location: str
    transcription: str
    halide_on_4d: float | None = None
    temperature_K: float | None = None


def published_barriers(material: str | None = None) -> list[PublishedBarrier]:
    """The published Li barriers of ``db/li_barriers_published.csv`` (each row: value, method, reference, DOI, where
    in the paper and how it was transcribed), all or those of one ``material`` (formula as written there)."""
    import csv

    path = literature_folder() / PUBLISHED_FILE
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = [PublishedBarrier(r["material"], r["quantity"], r["method"], float(r["value_eV"]),
                            float(r["value_max_eV"]) if r["value_max_eV"] else None, r["bound"], r["reference"], r["doi"],
                            r["location"], r["transcription"], float(r["halide_on_4d"]) if r["halide_on_4d"] else None,
                            float(r["temperature_K"]) if r["temperature_K"] else None) for r in rows]
    return [b for b in out if material is None or b.material == material]


def published_spread(material: str) -> tuple[float, float]:
    """(lowest, highest) published barrier of ``material`` in eV over point values, ranges and lower bounds, a lower
    bound ('>') counted at its bound (the true spread is then at least this wide)."""
    rows = published_barriers(material)
    if not rows:
        raise ParameterError("material", f"no published barriers for {material!r} in {PUBLISHED_FILE}")
    return min(b.value_eV for b in rows), max(b.value_max_eV or b.value_eV for b in rows)


def stored_record(structure) -> dict:
    """What the database stores for an analysed structure (``structure_bvse``): status 'ok' and the energies, or
    'refused' and why (an element without parameters, an over-filled site)."""
    base = {"method": METHOD, "disorder": "site-average", "argyrodb_version": __version__}
    if not structure.buildable:
        return {**base, "status": "refused", "reason": "a site is over-filled", "e_1d_eV": None, "e_2d_eV": None,
                "e_3d_eV": None, "parameters_json": "{}"}
    try:
        result = bvse_of_structure(structure)
    except ParameterError as exc:
        return {**base, "status": "refused", "reason": exc.problem, "e_1d_eV": None, "e_2d_eV": None, "e_3d_eV": None,
                "parameters_json": "{}"}
    return {**base, "status": "ok", "reason": None, "e_1d_eV": result.e_1d_eV, "e_2d_eV": result.e_2d_eV,
            "e_3d_eV": result.e_3d_eV, "parameters_json": json.dumps(result.parameters, sort_keys=True)}
