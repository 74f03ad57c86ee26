"""Formulas, elements, masses and formal charges.

Atomic masses are IUPAC standard atomic weights as tabulated by pymatgen; formal oxidation states
come from ``argyrodb/data/oxidation_states.yaml`` (with its references).
"""

from __future__ import annotations

import re
from functools import lru_cache

from .errors import InputError
from .resources import data_file

_GROUP = re.compile(r"\(([^()]*)\)(\d+(?:\.\d+)?)?")
_TOKEN = re.compile(r"([A-Z][a-z]?)(\d+(?:\.\d+)?|\.\d+)?")
_FORMULA = re.compile(r"^(?:[A-Z][a-z]?(?:\d+(?:\.\d+)?|\.\d+)?)+$")

HALOGENS = ("F", "Cl", "Br", "I")
HEAVY_HALIDES = ("Cl", "Br", "I")

#: A formula whose net formal charge is within this of zero (e per formula unit) counts as neutral;
#: literature formulas print 2-3 decimals.
NEUTRAL_TOLERANCE = 0.01

#: Avogadro constant (CODATA 2018, exact), 1/mol.
AVOGADRO_PER_MOL = 6.02214076e23


@lru_cache(maxsize=1)
def element_symbols() -> frozenset[str]:
    from pymatgen.core.periodic_table import Element

    return frozenset(e.symbol for e in Element)


def is_element(symbol: str) -> bool:
    return symbol in element_symbols()


def atomic_mass(symbol: str) -> float:
    """Standard atomic weight in g/mol."""
    from pymatgen.core.periodic_table import Element

    if not is_element(symbol):
        raise InputError("formula", f"unknown element {symbol!r}")
    return float(Element(symbol).atomic_mass)


def parse_formula(text: str, source: str = "formula") -> dict[str, float]:
    """Parse a formula such as ``Li5.6PS4.6Cl0.8I0.6`` or ``Li5PS4(BH4)2`` into element -> amount.

    Element symbols with optional decimal amounts, and parenthesised groups with a multiplier (nested
    groups too); no charges or hydrates: anything else is an :class:`InputError` naming ``source``.
    """
    cleaned = "".join(str(text).split())
    if not cleaned or cleaned.count("(") != cleaned.count(")"):
        raise InputError(source, f"cannot parse formula {text!r}")
    expanded = cleaned
    while "(" in expanded:
        match = _GROUP.search(expanded)
        if not match:
            raise InputError(source, f"cannot parse formula {text!r}")
        inner, multiplier = match.group(1), float(match.group(2) or 1.0)
        if not inner or not _FORMULA.match(inner):
            raise InputError(source, f"cannot parse formula {text!r}")
        scaled = "".join(el + format((float(n) if n else 1.0) * multiplier, ".12f").rstrip("0").rstrip(".")
                         for el, n in _TOKEN.findall(inner))
        expanded = expanded[:match.start()] + scaled + expanded[match.end():]
    if not _FORMULA.match(expanded):
        raise InputError(source, f"cannot parse formula {text!r}")
    amounts: dict[str, float] = {}
    for symbol, number in _TOKEN.findall(expanded):
        if not is_element(symbol):
            raise InputError(source, f"unknown element {symbol!r} in formula {text!r}")
        amounts[symbol] = amounts.get(symbol, 0.0) + (float(number) if number else 1.0)
    if sum(amounts.values()) <= 0:
        raise InputError(source, f"formula {text!r} has no atoms (all amounts zero)")
    return amounts


#: Order of elements in written formulas: argyrodite convention Li-P-S-X (cations, framework, anions).
FORMULA_ORDER = ("Li", "Na", "Ag", "Cu", "Mg", "Zn", "P", "As", "Sb", "Si", "Ge", "Sn", "Ti", "Al", "Ga", "B",
                 "S", "Se", "O", "N", "F", "Cl", "Br", "I")


def _formula_key(element: str) -> tuple[int, str]:
    if element in FORMULA_ORDER:
        return FORMULA_ORDER.index(element), element
    return len(FORMULA_ORDER), element


def ordered_elements(elements) -> list[str]:
    """Elements in argyrodite formula order: Li, P, S, then halides (others after, alphabetically)."""
    return sorted(elements, key=_formula_key)


def format_formula(amounts: dict[str, float], decimals: int = 4) -> str:
    """Formula text in argyrodite order, e.g. ``Li5.6PS4.6Cl0.8I0.6``; amounts rounded to ``decimals``."""
    elements = list(amounts)
    return format_formulas([[amounts[el] for el in elements]], elements, decimals)[0]


def format_formulas(matrix, elements: list[str], decimals: int = 4) -> list[str]:
    """:func:`format_formula` of every row of ``matrix`` (compositions x ``elements``, amounts per formula unit):
    one pass per element column instead of one dict per composition (screening formats millions)."""
    rows = matrix.tolist() if hasattr(matrix, "tolist") else matrix
    if not rows:
        return []
    columns = list(zip(*rows))
    parts = []
    for j in sorted(range(len(elements)), key=lambda j: _formula_key(elements[j])):
        el = elements[j]
        seen: dict[float, str] = {}  # a grid repeats values: format each once
        texts = []
        for value in map(float, columns[j]):
            text = seen.get(value)
            if text is None:
                n = round(value, decimals)
                if n == 0:
                    text = ""
                elif abs(n - 1) < 10**-decimals:
                    text = el
                else:
                    text = el + f"{n:.{decimals}f}".rstrip("0").rstrip(".")
                seen[value] = text
            texts.append(text)
        parts.append(texts)
    return ["".join(row) for row in zip(*parts)] if parts else [""] * len(matrix)


def molar_mass(amounts: dict[str, float]) -> float:
    """Molar mass in g/mol of the formula unit ``amounts``."""
    return sum(n * atomic_mass(el) for el, n in amounts.items())


@lru_cache(maxsize=1)
def oxidation_states() -> dict[str, int]:
    import yaml

    with open(data_file("oxidation_states.yaml"), encoding="utf-8") as fh:
        return {str(k): int(v) for k, v in yaml.safe_load(fh).items()}


@lru_cache(maxsize=1)
def polyatomic_ions() -> dict[str, tuple[int, dict[str, float]]]:
    """Polyatomic ions (``data/polyatomic_ions.yaml``): name -> (charge, element ratio)."""
    import yaml

    with open(data_file("polyatomic_ions.yaml"), encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return {str(name): (int(ion["charge"]), {str(el): float(n) for el, n in ion["elements"].items()})
            for name, ion in data.items()}


def formal_charge(amounts: dict[str, float]) -> tuple[float, list[str]]:
    """Net formal charge (e per formula unit) and the elements with no tabulated oxidation state.

    Polyatomic ions come first: when every element of an ion (e.g. BH4-: B:H = 1:4) is present in the
    ion's ratio, those atoms carry the ion's charge (Li5PS4(BH4)2: 5 + 5 - 8 - 2 = 0). The rest is
    summed from the single-element oxidation states."""
    elements = list(amounts)
    charge, unknown = formal_charges([[amounts[el] for el in elements]], elements)
    return float(charge[0]), sorted(el for el, flag in zip(elements, unknown[0]) if flag)


def formal_charges(matrix, elements: list[str]):
    """:func:`formal_charge` of every row of ``matrix`` (compositions x ``elements``): (charge (n,), unknown (n,
    elements) True where an element present in the row has no oxidation state and is in no polyatomic ion)."""
    import numpy as np

    rest = np.array(matrix, dtype=float).reshape(-1, len(elements))
    column = {el: j for j, el in enumerate(elements)}
    charge = np.zeros(len(rest))
    for ion_charge, ratio in polyatomic_ions().values():
        if not all(el in column for el in ratio):
            continue
        anchor, anchor_ratio = next(iter(ratio.items()))
        units = rest[:, column[anchor]] / anchor_ratio
        match = units > 0
        for el, n in ratio.items():
            match &= np.abs(rest[:, column[el]] - units * n) <= 1e-6 * np.maximum(1.0, units * n)
        charge += np.where(match, units * ion_charge, 0.0)
        for el in ratio:
            rest[match, column[el]] = 0.0
    table = oxidation_states()
    states = np.array([table.get(el, 0) for el in elements], dtype=float)
    known = np.array([el in table for el in elements])
    charge += rest @ states
    return charge, (rest != 0) & ~known
