"""Any description of an F-43m arrangement -> the one setting argyrodb uses.

A structure may come as the asymmetric unit in the standard setting (refinement tables, most CIFs), as
the whole cell in P1 (pymatgen's ``CifWriter`` without symprec, ASE, VESTA exports), in another origin,
or inverted. Everything is first written as a *cell listing* - every site of the cell with its species
and occupancies - and then:

1. spglib (Togo et al., Sci. Technol. Adv. Mater. Meth. 4 (2024) 2384822) finds the space group of the
   listing, each distinct species-occupancy mix (and B) one atom type, at 0.001 A and, when that is not F-43m,
   at wider tolerances up to 0.01 A (``SPGLIB_SYMPREC_STEPS``: cells relaxed by DFT are off F-43m by ~0.001 A);
   the first that finds F-43m (216) is used - if it is not the strict one, the positions are symmetrised and
   the tolerance and the largest displacement of an atom from its symmetrised position are reported; a
   listing that is not F-43m at any of them is refused, naming what each tolerance found;
2. spglib's standardised conventional cell gives the ITA setting of F-43m;
3. F-43m's Euclidean normaliser (International Tables A, Table 3.5.2.4: inversion and translations by
   (1/4, 1/4, 1/4)) permutes the descriptions that are the same crystal - 4a -> 4c -> 4b -> 4d by
   (1/4, 1/4, 1/4), 4c <-> 4d and x -> -x on 16e by inversion. argyrodb's setting, that of the source's
   Table S2 and of ICSD 418490 (Li6PS5Cl), puts the tetrahedral framework cation (P, Si, Ge, Sn, Sb) on 4b
   (1/2, 1/2, 1/2) and its four chalcogen neighbours on 16e (x, x, x) with x < 1/2 (x = 0.38 for
   Li6PS5Cl); the free anion sites are then 4a and 4d.

A listing already in that setting keeps its rows as read (labels, printed numbers, printed Wyckoff
letters); any other is rebuilt from the transformed cell, and the transformation is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError, NotArgyrodite
from .symmetry import (
    SPACE_GROUP_NUMBER,
    SPGLIB_SYMPREC,
    SPGLIB_SYMPREC_STEPS,
    invariant_under_f43m,
    spglib_module,
    wyckoff_of,
    xyz_triple,
)

#: Cations of the PS4-type tetrahedra on 4b.
FRAMEWORK_CATIONS = ("P", "Sn", "Ge", "Si", "Sb", "As", "Al", "Ga")
#: Tetrahedron corners (16e).
CHALCOGENS = ("S", "Se", "O", "Te")
#: Two sites of a listing closer than this (fractional, per coordinate) are the same site.
SAME_SITE = 1e-4


@dataclass
class CellSite:
    """One site of a cell listing: element -> occupancy, fractional position, B (A^2), label."""

    species: dict[str, float]
    xyz: tuple[float, float, float]
    b_iso_angstrom2: float | None
    label: str

    def mix_key(self) -> tuple:
        species = tuple(sorted((el, round(occ, 6)) for el, occ in self.species.items() if occ > 0))
        return species, None if self.b_iso_angstrom2 is None else round(self.b_iso_angstrom2, 6)


@dataclass
class CellListing:
    """Every site of a cell (lattice vectors as rows, in angstrom)."""

    lattice: np.ndarray
    sites: list[CellSite]
    source: str


@dataclass(frozen=True)
class Standardised:
    """A listing brought to argyrodb's setting: its conventional cubic a, the sites of the cell, the
    transformation applied (None: the listing was already in the setting), the spglib tolerance (A) that found
    F-43m and, when that was wider than the strict ``SPGLIB_SYMPREC``, the largest distance (A) of a listed
    site from its symmetrised position and what the stricter tolerances found."""

    a_angstrom: float
    sites: list[CellSite]
    transformation: str | None
    input_space_group: str
    symprec_angstrom: float = SPGLIB_SYMPREC
    max_displacement_angstrom: float | None = None
    stricter_results: str | None = None

    @property
    def tolerance_widened(self) -> bool:
        return self.symprec_angstrom > SPGLIB_SYMPREC

    def tolerance_note(self) -> str | None:
        """One sentence for the user when F-43m needed a wider tolerance than the strict one (else None)."""
        if not self.tolerance_widened:
            return None
        moved = ("" if self.max_displacement_angstrom is None
                 else f"; the largest displacement of an atom from its symmetrised position is {self.max_displacement_angstrom:.5f} A")
        return (f"F-43m found by spglib at a tolerance of {self.symprec_angstrom:g} A, not at the strict "
                f"{SPGLIB_SYMPREC:g} A ({self.stricter_results}){moved}; the positions were symmetrised")


def expand(sites: list[CellSite], rotations: np.ndarray, translations: np.ndarray) -> list[CellSite]:
    """Apply a space group's operations (fractional rotations (n,3,3) and translations (n,3)) to each site
    and keep the distinct images. Images of two listed sites that fall on one point are one site: the same
    species (a symmetry copy listed twice) are kept once; different species (a mixed site written at two
    equivalent positions) are merged."""
    out: list[CellSite] = []
    index: dict[tuple[int, int, int], list[int]] = {}

    def cell_key(xyz: np.ndarray) -> tuple[int, int, int]:
        i, j, k = np.floor(np.mod(xyz, 1.0) * 50) % 50
        return int(i), int(j), int(k)

    for site in sites:
        images = np.mod(np.einsum("nij,j->ni", rotations, np.asarray(site.xyz, dtype=float)) + translations, 1.0)
        mine: list[int] = []
        for image in images:
            found = None
            key = cell_key(image)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for dz in (-1, 0, 1):
                        near = ((key[0] + dx) % 50, (key[1] + dy) % 50, (key[2] + dz) % 50)
                        for k in index.get(near, ()):
                            d = image - np.asarray(out[k].xyz)
                            if np.all(np.abs(d - np.round(d)) < SAME_SITE * 10):
                                found = k
            if found is None:
                out.append(CellSite(dict(site.species), xyz_triple(image), site.b_iso_angstrom2, site.label))
                index.setdefault(key, []).append(len(out) - 1)
                mine.append(len(out) - 1)
            elif found not in mine and out[found].mix_key()[0] != CellSite(site.species, site.xyz, None, "").mix_key()[0]:
                merged = out[found]
                for el, occ in site.species.items():
                    merged.species[el] = merged.species.get(el, 0.0) + occ
                if site.label not in merged.label.split("/"):
                    merged.label = f"{merged.label}/{site.label}"
                mine.append(found)
    return out


def merge_shared_positions(sites: list[CellSite]) -> list[CellSite]:
    """Rows of different elements on one position (mixed sites listed element by element) become one
    site with all its species; labels are joined with '/'."""
    merged: list[CellSite] = []
    for site in sites:
        for other in merged:
            d = np.asarray(site.xyz) - np.asarray(other.xyz)
            if np.all(np.abs(d - np.round(d)) < SAME_SITE * 10):
                for el, occ in site.species.items():
                    other.species[el] = other.species.get(el, 0.0) + occ
                other.label = f"{other.label}/{site.label}"
                if other.b_iso_angstrom2 is None:
                    other.b_iso_angstrom2 = site.b_iso_angstrom2
                break
        else:
            merged.append(CellSite(dict(site.species), xyz_triple(site.xyz), site.b_iso_angstrom2, site.label))
    return merged


def _is_cubic(lattice: np.ndarray) -> bool:
    lengths = np.linalg.norm(lattice, axis=1)
    return bool(np.ptp(lengths) < 1e-3 and np.allclose(lattice @ lattice.T, np.diag(lengths**2), atol=1e-3 * lengths.max()))


def _framework_sites(sites: list[CellSite]) -> list[CellSite]:
    return [s for s in sites if sum(s.species.get(el, 0.0) for el in FRAMEWORK_CATIONS) >= 0.5]


def in_argyrodb_setting(listing: CellListing) -> bool:
    """True when the listing is a cubic cell invariant under F-43m in the standard setting, with the
    framework cation on 4b and its chalcogen neighbours on 16e with x < 1/2."""
    if not _is_cubic(listing.lattice):
        return False
    groups: dict[tuple, list] = {}
    for site in listing.sites:
        groups.setdefault(site.mix_key(), []).append(site.xyz)
    if not invariant_under_f43m([np.array(g) for g in groups.values()]):
        return False
    return _oriented(listing.sites, float(np.linalg.norm(listing.lattice[0])))


def _oriented(sites: list[CellSite], a: float) -> bool:
    framework = _framework_sites(sites)
    if not framework:
        return True  # nothing to orient by: the framework check reports it
    if any(wyckoff_of(s.xyz).letter != "b" for s in framework):
        return False
    corners = _corner_site(sites, framework[0], a)
    return corners is None or wyckoff_of(corners.xyz).standard_xyz[0] < 0.5


def _corner_site(sites: list[CellSite], cation: CellSite, a: float) -> CellSite | None:
    """The chalcogen site nearest to a framework cation (its tetrahedron corners)."""
    best, best_d = None, None
    for site in sites:
        if not any(site.species.get(el, 0.0) > 0 for el in CHALCOGENS):
            continue
        d = np.asarray(site.xyz) - np.asarray(cation.xyz)
        d = a * float(np.linalg.norm(d - np.round(d)))
        if best_d is None or d < best_d:
            best, best_d = site, d
    return best


_NORMALISER = [(sign, shift) for sign in (1.0, -1.0) for shift in (0.0, 0.25, 0.5, 0.75)]


def _found(dataset) -> str:
    return f"{dataset.international} ({dataset.number})"


def _describe_attempts(attempts: list[tuple[float, str]]) -> str:
    """'R3m (160) at 0.001, 0.0015 A; Cm (8) at 0.002 A' - what each tolerance found, in order."""
    runs: list[tuple[str, list[float]]] = []
    for tolerance, found in attempts:
        if runs and runs[-1][0] == found:
            runs[-1][1].append(tolerance)
        else:
            runs.append((found, [tolerance]))
    return "; ".join(f"{found} at {', '.join(f'{t:g}' for t in tolerances)} A" for found, tolerances in runs)


def symmetrisation_displacements(lattice: np.ndarray, positions: np.ndarray, rotations: np.ndarray,
                                 translations: np.ndarray) -> np.ndarray:
    """The distance (A) of each site from its symmetrised position: the average over the operations g (of the
    listed cell, fractional; spglib's at the tolerance that found the group) of g applied to the site g brings
    onto it, each operation's translation fitted to all sites (least squares) - so the result does not depend on
    how spglib fitted it (to the rarest element's sites) and the arrangement may move as a whole. This is the
    symmetric arrangement nearest to the listed one: one atom moved by d from an exact cell of N sites, on a site
    with no free direction, is d (1 - 1/N) from its symmetrised position."""
    from scipy.spatial import cKDTree

    def unit(frac: np.ndarray) -> np.ndarray:
        wrapped = np.mod(frac, 1.0)
        return np.where(wrapped >= 1.0, 0.0, wrapped)  # np.mod(-1e-17, 1.0) is 1.0: outside cKDTree's box

    frac = unit(np.asarray(positions, dtype=float))
    tree = cKDTree(frac, boxsize=1.0)
    moved = np.zeros_like(frac)
    for rotation, translation in zip(rotations, translations):
        image = unit(frac @ np.asarray(rotation, dtype=float).T + translation)
        _, index = tree.query(image)
        delta = image - frac[index]
        delta -= np.round(delta)
        moved[index] += delta - delta.mean(axis=0)
    return np.linalg.norm((moved / len(rotations)) @ np.asarray(lattice, dtype=float), axis=1)


def standardise(listing: CellListing) -> Standardised:
    """Bring ``listing`` to argyrodb's F-43m setting (module docstring); InputError when it is not F-43m at any
    tolerance of ``SPGLIB_SYMPREC_STEPS``."""
    if not listing.sites:
        raise InputError(listing.source, "no atom sites")
    kinds: dict[tuple, int] = {}
    types = [kinds.setdefault(site.mix_key(), len(kinds) + 1) for site in listing.sites]
    by_type = {kinds[s.mix_key()]: s for s in listing.sites}
    positions = np.array([s.xyz for s in listing.sites], dtype=float)
    spglib = spglib_module()
    attempts: list[tuple[float, str]] = []
    dataset = None
    for symprec in SPGLIB_SYMPREC_STEPS:
        try:
            candidate = spglib.get_symmetry_dataset((listing.lattice, positions, types), symprec=symprec)
        except Exception as exc:  # spglib raises its own SpglibError for degenerate cells
            if symprec == SPGLIB_SYMPREC:
                raise InputError(listing.source, f"spglib could not analyse the cell: {exc}") from None
            attempts.append((symprec, "no space group (spglib failed)"))
            continue
        if candidate is None:
            if symprec == SPGLIB_SYMPREC:
                raise InputError(listing.source, "spglib could not determine a space group")
            attempts.append((symprec, "no space group"))
            continue
        if int(candidate.number) == SPACE_GROUP_NUMBER:
            dataset = candidate
            break
        attempts.append((symprec, _found(candidate)))
    if dataset is None:
        raise NotArgyrodite(listing.source, f"not an argyrodite: space group {attempts[0][1]}, not F-43m (216), at any spglib "
                                         f"tolerance from {SPGLIB_SYMPREC_STEPS[0]:g} to {SPGLIB_SYMPREC_STEPS[-1]:g} A "
                                         f"({_describe_attempts(attempts)})")
    found = _found(dataset)
    widened = symprec > SPGLIB_SYMPREC
    displacement = stricter = None
    if widened:  # the listed positions are not what F-43m says: report by how much, and rebuild them symmetrised
        displacement = float(symmetrisation_displacements(listing.lattice, positions, dataset.rotations,
                                                          dataset.translations).max())
        stricter = _describe_attempts(attempts)
    if not widened and in_argyrodb_setting(listing):
        return Standardised(float(np.linalg.norm(listing.lattice[0])), listing.sites, None, found)
    lattice = np.asarray(dataset.std_lattice, dtype=float)
    a = float(np.linalg.norm(lattice[0]))
    std = [CellSite(dict(by_type[t].species), xyz_triple(np.mod(xyz, 1.0)), by_type[t].b_iso_angstrom2,
                    by_type[t].label) for xyz, t in zip(dataset.std_positions, dataset.std_types)]
    for sign, shift in _NORMALISER:
        moved = [CellSite(s.species, xyz_triple(np.mod(sign * np.asarray(s.xyz) + shift, 1.0)), s.b_iso_angstrom2,
                          s.label) for s in std]
        if _oriented(moved, a):
            break
    else:
        sign, shift, moved = 1.0, 0.0, std
    n_input, n_std = len(listing.sites), len(std)
    how = [f"spglib standard setting of {found} (transformation matrix {np.round(dataset.transformation_matrix, 6).tolist()}, "
           f"origin shift {np.round(dataset.origin_shift, 6).tolist()}; {n_input} listed sites -> {n_std} in the conventional cell)"]
    if sign < 0 or shift:
        how.append(("inversion, then " if sign < 0 else "") + f"origin shift ({shift:g}, {shift:g}, {shift:g}) to put the "
                   "framework cation on 4b with its tetrahedron corners at 16e x < 1/2")
    return Standardised(a, moved, "; ".join(how), found, symprec, displacement, stricter)


