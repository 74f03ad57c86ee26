"""Lattice parameter when a refinement does not report one: a Vegard-type rule on halide content.

Rule (documented in the README and stamped into every CIF that uses it):

    a(Li_{7-y} P S_{6-y} X_y) ~= sum_X f_X * a(Li6PS5X),   f_X = n_X / (n_Cl + n_Br + n_I)

i.e. linear interpolation in the halide fractions between the end members shipped in
``structures/`` (each with its published, cited lattice parameter). Solid solutions Li6PS5(Cl,Br,I)
follow Vegard's law closely (Kraft et al., J. Am. Chem. Soc. 2017, 139, 10909,
doi:10.1021/jacs.7b06327). The rule ignores the halide excess y - 1 and the Li deficit; treat the
result as an estimate good to a few hundredths of an angstrom, never as a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .chemistry import HEAVY_HALIDES
from .errors import InputError
from .paths import STRUCTURES_DIR


@dataclass(frozen=True)
class LatticeEstimate:
    a_angstrom: float
    source: str  # human-readable description of how a was obtained


@lru_cache(maxsize=None)
def end_member_a(halide: str) -> tuple[float, str] | None:
    """(a in A, file name) of the Li6PS5X end member shipped in ``structures/``, if there is one."""
    from .reading import read_structure

    path = STRUCTURES_DIR / f"Li6PS5{halide}.yaml"
    if not path.exists():
        return None
    refinement = read_structure(path)
    if refinement.a_angstrom is None:
        return None
    return refinement.a_angstrom, path.name


def vegard_a(amounts: dict[str, float], source: str = "formula") -> LatticeEstimate:
    """Estimate a (A) for a formula from the halide fractions (see the module docstring)."""
    halides = {x: amounts.get(x, 0.0) for x in HEAVY_HALIDES if amounts.get(x, 0.0) > 0}
    total = sum(halides.values())
    if total <= 0:
        raise InputError(source, "no Cl, Br or I in the formula: cannot estimate a; give --a")
    a = 0.0
    parts = []
    for halide, n in halides.items():
        member = end_member_a(halide)
        if member is None:
            raise InputError(source, f"no Li6PS5{halide} end member in structures/ to estimate a; give --a")
        fraction = n / total
        a += fraction * member[0]
        parts.append(f"{fraction:.4f} x {member[0]:.5f} A (Li6PS5{halide}, {member[1]})")
    return LatticeEstimate(
        a_angstrom=a,
        source="estimated (Vegard rule on halide fractions: " + " + ".join(parts) + "); not a measurement",
    )
