"""Space group F-43m (No. 216): symmetry operations, orbits and Wyckoff positions.

The operations come from gemmi's space-group tables (96 = 24 point operations x 4 F-centring
translations). Wyckoff positions follow International Tables for Crystallography Vol. A (2016),
space group 216, standard setting:

====  ====  ========  =====================
 a     4    -43m      0, 0, 0
 b     4    -43m      1/2, 1/2, 1/2
 c     4    -43m      1/4, 1/4, 1/4
 d     4    -43m      3/4, 3/4, 3/4
 e    16    .3m       x, x, x
 f    24    2.mm      x, 0, 0
 g    24    2.mm      x, 1/4, 1/4
 h    48    ..m       x, x, z
 i    96    1         x, y, z
====  ====  ========  =====================

c and d are distinct in F-43m (the group has no inversion): a point written as (1/4, 1/4, 3/4) is
equivalent to (3/4, 3/4, 3/4) by the centring (1/2, 1/2, 0) and therefore belongs to 4d, not 4c.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SPACE_GROUP_SYMBOL = "F-43m"
SPACE_GROUP_HM_SPACED = "F -4 3 m"
SPACE_GROUP_NUMBER = 216

#: spglib's distance tolerance (angstrom) wherever argyrodb asks it for symmetry: printed coordinates carry 4
#: decimals, ~0.001 A at a = 10 A.
SPGLIB_SYMPREC = 1e-3
#: The tolerances (angstrom) tried in turn when a whole cell is brought to argyrodb's setting
#: (:func:`argyrodb.core.setting.standardise`): the strict one first, then wider, up to pymatgen's default 0.01 A.
#: Cells relaxed by DFT or taken from MD carry displacements of ~0.001 A that break F-43m at the strict
#: tolerance (a relaxed 2x2x2 Li6PS5Cl: R3m at 1e-3, F-43m at 1.5e-3); the first that finds F-43m is used and
#: reported with the largest displacement it implies. Beyond 0.01 A an F-43m description would move atoms
#: further than any refinement would.
SPGLIB_SYMPREC_STEPS = (SPGLIB_SYMPREC, 1.5e-3, 2e-3, 3e-3, 5e-3, 7e-3, 1e-2)
#: Two fractional positions closer than this (per coordinate, modulo 1) are the same point. The
#: source prints 4 decimals, so 1e-3 separates rounding from genuinely different positions.
POSITION_TOLERANCE = 1e-3


def xyz_triple(values) -> tuple[float, float, float]:
    """Three coordinates (a sequence or array of length 3) as a tuple of Python floats."""
    x, y, z = values
    return float(x), float(y), float(z)


@dataclass(frozen=True)
class WyckoffPosition:
    letter: str
    multiplicity: int
    site_symmetry: str
    representative: str


WYCKOFF_216 = {
    "a": WyckoffPosition("a", 4, "-43m", "0,0,0"),
    "b": WyckoffPosition("b", 4, "-43m", "1/2,1/2,1/2"),
    "c": WyckoffPosition("c", 4, "-43m", "1/4,1/4,1/4"),
    "d": WyckoffPosition("d", 4, "-43m", "3/4,3/4,3/4"),
    "e": WyckoffPosition("e", 16, ".3m", "x,x,x"),
    "f": WyckoffPosition("f", 24, "2.mm", "x,0,0"),
    "g": WyckoffPosition("g", 24, "2.mm", "x,1/4,1/4"),
    "h": WyckoffPosition("h", 48, "..m", "x,x,z"),
    "i": WyckoffPosition("i", 96, "1", "x,y,z"),
}


@lru_cache(maxsize=1)
def operations() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """All 96 operations of F-43m as (rotations (n,3,3), translations (n,3), xyz triplets)."""
    import gemmi

    group = gemmi.SpaceGroup(SPACE_GROUP_HM_SPACED)
    rotations, translations, triplets = [], [], []
    for op in group.operations():
        rotations.append(np.array(op.rot, dtype=float) / op.DEN)
        translations.append(np.array(op.tran, dtype=float) / op.DEN)
        triplets.append(op.triplet())
    return np.array(rotations), np.array(translations), tuple(triplets)


def _wrap(frac: np.ndarray) -> np.ndarray:
    wrapped = np.mod(frac, 1.0)
    wrapped[np.isclose(wrapped, 1.0, atol=POSITION_TOLERANCE / 10)] = 0.0
    return wrapped


def periodic_close(a: np.ndarray, b: np.ndarray, tol: float = POSITION_TOLERANCE) -> np.ndarray:
    """Element-wise: are fractional positions ``a`` and ``b`` the same point modulo lattice translations?"""
    diff = a - b
    diff -= np.round(diff)
    return np.all(np.abs(diff) < tol, axis=-1)


def orbit(xyz) -> np.ndarray:
    """The distinct images of a fractional position under F-43m, wrapped into [0, 1)."""
    key = tuple(round(float(v), 6) for v in xyz)
    return _orbit_cached(key).copy()


@lru_cache(maxsize=4096)
def _orbit_cached(xyz: tuple[float, float, float]) -> np.ndarray:
    rotations, translations, _ = operations()
    images = _wrap(np.einsum("nij,j->ni", rotations, np.asarray(xyz, dtype=float)) + translations)
    diff = images[:, None, :] - images[None, :, :]
    diff -= np.round(diff)
    close = np.all(np.abs(diff) < POSITION_TOLERANCE, axis=-1)
    duplicate_of_earlier = np.tril(close, k=-1).any(axis=1)
    return images[~duplicate_of_earlier]


def primitive_orbit(xyz) -> np.ndarray:
    """One image per F-centring coset of the orbit of ``xyz`` (multiplicity / 4 points)."""
    key = tuple(round(float(v), 6) for v in xyz)
    return _primitive_orbit_cached(key).copy()


@lru_cache(maxsize=4096)
def _primitive_orbit_cached(xyz: tuple[float, float, float]) -> np.ndarray:
    images = _orbit_cached(xyz)
    centring = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    keep: list[int] = []
    for index, image in enumerate(images):
        related = False
        for other in keep:
            diff = image - images[other]
            if periodic_close(centring, diff).any():
                related = True
                break
        if not related:
            keep.append(index)
    return images[keep]


def _matches(letter: str, points: np.ndarray) -> np.ndarray:
    """Which of ``points`` (n, 3) have the representative form of Wyckoff ``letter``."""

    def eq(u, v):
        d = u - v
        return np.abs(d - np.round(d)) < POSITION_TOLERANCE

    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    fixed = {"a": (0, 0, 0), "b": (0.5, 0.5, 0.5), "c": (0.25, 0.25, 0.25), "d": (0.75, 0.75, 0.75)}
    if letter in fixed:
        u, v, w = fixed[letter]
        return eq(x, u) & eq(y, v) & eq(z, w)
    if letter == "e":
        return eq(x, y) & eq(y, z)
    if letter == "f":
        return eq(y, 0) & eq(z, 0)
    if letter == "g":
        return eq(y, 0.25) & eq(z, 0.25)
    if letter == "h":
        return eq(x, y)
    return np.ones(len(points), dtype=bool)


@dataclass(frozen=True)
class WyckoffAssignment:
    letter: str
    multiplicity: int
    standard_xyz: tuple[float, float, float]  # the orbit member in the ITA representative form

    @property
    def symbol(self) -> str:
        return f"{self.multiplicity}{self.letter}"


def wyckoff_of(xyz) -> WyckoffAssignment:
    """The Wyckoff position that fractional coordinates ``xyz`` really occupy in F-43m (ITA setting).

    The orbit is generated; the letter is the first (lowest multiplicity) whose representative form
    matches one orbit member and whose multiplicity equals the orbit size.
    """
    return _wyckoff_cached(tuple(round(float(v), 6) for v in xyz))


@lru_cache(maxsize=4096)
def _wyckoff_cached(xyz: tuple[float, float, float]) -> WyckoffAssignment:
    images = _orbit_cached(xyz)
    size = len(images)
    for letter, position in WYCKOFF_216.items():
        if position.multiplicity != size:
            continue
        hits = np.flatnonzero(_matches(letter, images))
        if hits.size:
            return WyckoffAssignment(letter, size, xyz_triple(images[hits[0]]))
    # Unreachable for a true F-43m orbit; kept so a tolerance edge case reports, not crashes.
    return WyckoffAssignment("?", size, xyz_triple(images[0]))


def orbit_key(xyz) -> tuple[float, float, float]:
    """A label shared by all symmetry-equivalent points: the smallest orbit member, rounded to the
    position tolerance (points closer than that to a rounding boundary may get different keys)."""
    key = tuple(round(float(v), 6) for v in xyz)
    return _orbit_key_cached(key)


@lru_cache(maxsize=4096)
def _orbit_key_cached(xyz: tuple[float, float, float]) -> tuple[float, float, float]:
    decimals = round(-np.log10(POSITION_TOLERANCE))
    rounded = np.round(_orbit_cached(xyz), decimals) % 1.0
    rounded[np.isclose(rounded, 1.0)] = 0.0
    return min(xyz_triple(row) for row in rounded)


def same_orbit(xyz_a, xyz_b) -> bool:
    """True when two fractional positions are symmetry-equivalent in F-43m."""
    return bool(periodic_close(orbit(xyz_a), np.asarray(xyz_b, dtype=float)).any())


def parse_wyckoff_symbol(text: str | None) -> tuple[int | None, str | None]:
    """Split a printed Wyckoff symbol such as ``"48h"``, ``"48 h"`` or ``"h"`` into (multiplicity, letter)."""
    if text is None:
        return None, None
    cleaned = "".join(str(text).split()).lower()
    digits = "".join(ch for ch in cleaned if ch.isdigit())
    letters = "".join(ch for ch in cleaned if ch.isalpha())
    return (int(digits) if digits else None), (letters or None)


def spglib_module():
    """spglib, set to raise its errors (``SpglibError``) instead of returning None with a warning."""
    import spglib

    error_module = getattr(spglib, "error", None)
    if error_module is not None and hasattr(error_module, "OLD_ERROR_HANDLING"):
        error_module.OLD_ERROR_HANDLING = False
    return spglib


def grid_keys(frac: np.ndarray, steps: int = 10_000) -> np.ndarray:
    """Fractional positions as integers on a 1e-4 grid (one int64 per position, periodic)."""
    cells = np.mod(np.rint(np.mod(np.asarray(frac, dtype=float), 1.0) * steps).astype(np.int64), steps)
    return (cells[:, 0] * steps + cells[:, 1]) * steps + cells[:, 2]


#: Generators of F-43m in the standard setting: -4 along z (y, -x, -z) and 3 along [111] (z, x, y) -
#: together the point group -43m - and two F-centring translations.
F43M_GENERATORS = (
    (np.array([[0, 1, 0], [-1, 0, 0], [0, 0, -1]], dtype=float), np.zeros(3)),
    (np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=float), np.zeros(3)),
    (np.eye(3), np.array([0.0, 0.5, 0.5])),
    (np.eye(3), np.array([0.5, 0.0, 0.5])),
)


def invariant_under_f43m(groups: list[np.ndarray]) -> bool:
    """True when F-43m in the standard setting maps each group of fractional positions (one group per
    kind of site) onto itself - tested on the generators, which is enough. Positions are compared on a
    1e-4 grid, so the test can say False for coordinates that sit on a grid boundary; callers then take
    the general path."""
    if not groups or not sum(len(g) for g in groups):
        return False
    rotations = np.array([r for r, _ in F43M_GENERATORS])
    translations = np.array([t for _, t in F43M_GENERATORS])
    positions = np.vstack([np.asarray(g, dtype=float).reshape(-1, 3) for g in groups])
    owner = np.concatenate([[i] * len(g) for i, g in enumerate(groups)]).astype(np.int64)
    images = np.einsum("nij,mj->nmi", rotations, positions) + translations[:, None, :]
    listed = grid_keys(positions) * len(groups) + owner
    mapped = grid_keys(images.reshape(-1, 3)) * len(groups) + np.tile(owner, len(rotations))
    return bool(np.isin(mapped, listed).all())
