"""Ordered approximants of a disordered composition for DFT or machine-learned-potential work.

For a composition placed on the template's sites by the screening site model, an n x n x n supercell
of the conventional cell gets integer site occupations:

1. each site group's expected counts (occupancy x sites, vacancies included) are rounded by the
   largest-remainder rule, so every group is filled exactly and the composition is kept as closely as
   the cell allows;
2. the Li count is then set to make the cell charge-neutral (Li+, P5+, S2-, halide-...), and spread
   over the Li sites by the same rule;
3. ``candidates`` random decorations (fixed seed) are generated and ranked by Ewald energy (pymatgen
   EwaldSummation with formal charges); the lowest ``n_structures`` are kept and written through ASE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.chemistry import format_formula, oxidation_states
from ..core.errors import InputError, ParameterError
from ..core.files import atomic_path, safe_filename

FORMATS = {"poscar": ("vasp", ".POSCAR"), "extxyz": ("extxyz", ".extxyz"), "cif": ("cif", ".cif")}


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


@dataclass
class Approximant:
    rank: int
    ewald_energy_eV: float
    formula: str
    structure: object  # pymatgen Structure (ordered)


def integer_counts(model, occupancy: np.ndarray, cells: int) -> list[dict[str, int]]:
    """Per site group: element -> number of atoms in the supercell (``cells`` conventional cells),
    charge-neutral by the Li count."""
    states = oxidation_states()
    counts: list[dict[str, int]] = []
    for g, group in enumerate(model.groups):
        n_sites = len(group.images) * cells
        expected = occupancy[g] * n_sites
        vacancy = max(0.0, n_sites - expected.sum())
        rounded = _largest_remainder(np.append(expected, vacancy), n_sites)[:-1]
        counts.append({el: int(c) for el, c in zip(model.elements, rounded) if c > 0})
    li_groups = [g for g in range(len(model.groups)) if model.li_weights[g] > 0]
    charge = sum(n * states[el] for g, c in enumerate(counts) if g not in li_groups for el, n in c.items())
    li_needed = -charge
    capacity = np.array([len(model.groups[g].images) * cells for g in li_groups])
    if li_needed < 0 or li_needed > capacity.sum():
        raise InputError("approximant", f"cannot balance the charge with {li_needed} Li on {capacity.sum()} Li sites")
    share = np.array([occupancy[g][model.elements.index("Li")] * capacity[k] for k, g in enumerate(li_groups)])
    expected = share / share.sum() * li_needed if share.sum() > 0 else capacity / capacity.sum() * li_needed
    li_counts = _largest_remainder(expected, li_needed)
    for k, g in enumerate(li_groups):
        if li_counts[k] > capacity[k]:
            raise InputError("approximant", "Li counts exceed a Li site's capacity")
        counts[g] = {"Li": int(li_counts[k])} if li_counts[k] else {}
    return counts


def generate(screener, index: int, n_structures: int = 5, candidates: int = 40, supercell: int = 1, seed: int = 0) -> list[Approximant]:
    """Ordered approximants of composition ``index`` of a :class:`~argyrodb.screening.Screener`."""
    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.core import Lattice, Structure

    if not (1 <= supercell <= 3):
        raise ParameterError("supercell", f"supercell size must be 1, 2 or 3, got {supercell}")
    if not 1 <= n_structures <= 10_000:
        raise ParameterError("n_structures", f"need 1 <= n_structures <= 10000, got {n_structures}")
    if not n_structures <= candidates <= 10_000:
        raise ParameterError("candidates", f"need n_structures ({n_structures}) <= candidates <= 10000, got {candidates}")
    _, amounts = screener.points[index]
    occupancy = screener.model.occupancies(amounts)
    a = screener.lattice(index).a_angstrom
    cells = supercell**3
    counts = integer_counts(screener.model, occupancy, cells)
    shifts = np.array([(i, j, k) for i in range(supercell) for j in range(supercell) for k in range(supercell)], dtype=float)
    sites = []
    for g, group in enumerate(screener.model.groups):
        coords = ((group.images[None, :, :] + shifts[:, None, :]) / supercell).reshape(-1, 3)
        sites.append(coords)
    states = oxidation_states()
    rng = np.random.default_rng(seed)
    lattice = Lattice.cubic(a * supercell)
    results = []
    for _ in range(candidates):
        species, coords = [], []
        for g, group_coords in enumerate(sites):
            order = rng.permutation(len(group_coords))
            start = 0
            for element, n in sorted(counts[g].items()):
                for site in order[start:start + n]:
                    species.append(element)
                    coords.append(group_coords[site])
                start += n
        structure = Structure(lattice, species, coords)
        structure.add_oxidation_state_by_element({el: states[el] for el in set(species)})
        energy = EwaldSummation(structure).total_energy
        structure.remove_oxidation_states()
        results.append((energy, structure))
    results.sort(key=lambda t: t[0])
    out = []
    for rank, (energy, structure) in enumerate(results[:n_structures], start=1):
        comp = structure.composition.get_el_amt_dict()
        out.append(Approximant(rank, float(energy), format_formula({el: n / (4 * cells) for el, n in comp.items()}), structure))
    return out


def write(approximants: list[Approximant], out_dir: str | Path, stem: str, formats=("poscar", "extxyz", "cif")) -> list[Path]:
    """Write each approximant through ASE (atomically, names kept inside ``out_dir``)."""
    from ase.io import write as ase_write
    from pymatgen.io.ase import AseAtomsAdaptor

    check_formats(formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for approximant in approximants:
        atoms = AseAtomsAdaptor.get_atoms(approximant.structure)
        atoms.info["ewald_energy_eV"] = approximant.ewald_energy_eV
        atoms.info["argyrodb_formula_per_fu"] = approximant.formula
        for fmt in formats:
            ase_format, suffix = FORMATS[fmt]
            target = out / safe_filename(f"{stem}-{approximant.rank:02d}", suffix)
            with atomic_path(target) as tmp:
                if ase_format == "vasp":
                    ase_write(tmp, atoms, format=ase_format, sort=True)  # one block per element, POTCAR order
                else:
                    ase_write(tmp, atoms, format=ase_format)
            written.append(target)
    return written


def check_formats(formats) -> None:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ParameterError("formats", f"unknown format {unknown[0]!r} ({', '.join(FORMATS)})" if unknown else "no format given")
