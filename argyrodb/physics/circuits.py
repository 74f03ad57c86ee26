"""Impedance.py's circuit strings, checked without importing impedance.py (over 1 s at import): the elements and
their parameters, and one-line errors that name an unknown element or a bad starting value (issue 22, item 9).
Used by :func:`argyrodb.physics.eis.fit` and :mod:`argyrodb.physics.eis_models` alike."""

from __future__ import annotations

import math
import re

import numpy as np

from ..core.errors import ParameterError

#: impedance.py 1.7.1's circuit elements (``impedance.models.circuits.elements``): name -> units of its parameters.
#: Written out so that validating a circuit does not import impedance.py (over 1 s); a test compares it with the
#: library's own table.
ELEMENTS: dict[str, tuple[str, ...]] = {
    "R": ("Ohm",), "C": ("F",), "L": ("H",), "W": ("Ohm sec^-1/2",), "Wo": ("Ohm", "sec"), "Ws": ("Ohm", "sec"),
    "CPE": ("Ohm^-1 sec^a", ""), "La": ("H sec", ""), "G": ("Ohm", "sec"), "Gs": ("Ohm", "sec", ""),
    "K": ("Ohm", "sec"), "Zarc": ("Ohm", "sec", ""), "TLMQ": ("Ohm", "F sec^(gamma - 1)", ""),
    "T": ("Ohm-m^2", "Ohm-m^2", "", "sec"),
}
#: The index of the parameter that is an exponent (CPE-P, La's and Zarc's alpha, Gs's phi, TLMQ's gamma): starting
#: values in (0, 1].
_EXPONENTS = {"CPE": 1, "La": 1, "Zarc": 2, "Gs": 2, "TLMQ": 2}
_TOKEN = re.compile(r"[A-Za-z]+[0-9_]*")


def _element_of(name: str) -> str:
    """impedance.py's ``get_element_from_name``: the name without its digits and underscores."""
    return "".join(c for c in name if c not in "0123456789_")


def check_circuit(circuit: str) -> list[str]:
    """The element names of ``circuit`` in order (``R0``, ``CPE1``, ...); a ParameterError of ``circuit`` (one line)
    for an unknown element, naming it and listing impedance.py's elements, for unbalanced parentheses, a repeated
    name or an element without a number."""
    text = str(circuit).replace(" ", "")
    valid = ", ".join(ELEMENTS)
    if not text:
        raise ParameterError("circuit", "empty circuit: give elements joined by - (series) and p(a,b) (parallel)")
    depth = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            break
    if depth != 0:
        raise ParameterError("circuit", f"unbalanced parentheses in {text!r}")
    names = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("p", "s") and text[match.end():match.end() + 1] == "(":
            continue
        element = _element_of(token)
        if element not in ELEMENTS:
            raise ParameterError("circuit", f"unknown circuit element {token!r} in {text!r}; valid elements: {valid} "
                                            "(each with a number, e.g. R0, CPE1), joined by - and p(a,b)")
        if token == element:
            raise ParameterError("circuit", f"element {token!r} in {text!r} needs a number (e.g. {token}1)")
        if token in names:
            raise ParameterError("circuit", f"element {token!r} appears twice in {text!r}")
        names.append(token)
    rest = _TOKEN.sub("", text).replace("p(", "(").replace("s(", "(")
    if set(rest) - set("-,()"):
        raise ParameterError("circuit", f"cannot read {text!r}: use elements ({valid}) joined by - and p(a,b)")
    return names


def parameter_names(circuit: str) -> tuple[list[str], list[str]]:
    """impedance.py's parameter names and units of ``circuit`` (``CPE1_0``, ``CPE1_1`` for a two-parameter element),
    after :func:`check_circuit`."""
    names, units = [], []
    for element_name in check_circuit(circuit):
        element_units = ELEMENTS[_element_of(element_name)]
        if len(element_units) == 1:
            names.append(element_name)
        else:
            names += [f"{element_name}_{i}" for i in range(len(element_units))]
        units += list(element_units)
    return names, units


def check_initial(circuit: str, initial: list[float]) -> None:
    """A ParameterError of ``initial`` (one line) naming the first bad starting value: the count must match the
    circuit's parameters, every value must be a finite number above 0 (the fits bound resistances, capacitances,
    CPE-T, inductances and Warburg coefficients below by 0, and a start on that bound is refused by the optimiser),
    and exponents (CPE-P and the like) must lie in (0, 1]."""
    names, _ = parameter_names(circuit)
    values = list(initial)
    if len(values) != len(names):
        raise ParameterError("initial", f"{len(values)} starting values for the {len(names)} parameters of "
                                        f"{circuit.replace(' ', '')} ({', '.join(names)})")
    for name, value in zip(names, values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ParameterError("initial", f"{name} = {value!r} is not a number") from None
        if not math.isfinite(number):
            raise ParameterError("initial", f"{name} = {value!r}: starting values must be finite")
        if number <= 0:
            raise ParameterError("initial", f"{name} = {number:g}: starting values must be above 0 "
                                            "(the fit's lower bound is 0, and a start on a bound is refused)")
        element, _, index = name.rpartition("_")
        if index.isdigit() and _EXPONENTS.get(_element_of(element)) == int(index) and number > 1:
            raise ParameterError("initial", f"{name} = {number:g}: an exponent (CPE-P) must lie in (0, 1]")


# --- closed-form impedance of a circuit string ------------------------------------------------------------------------


def _element_impedance(kind: str, p: list[float], omega: np.ndarray) -> np.ndarray:
    """impedance.py 1.7.1's element formulas (``impedance.models.circuits.elements``)."""
    jw = 1j * omega
    if kind == "R":
        return np.full(omega.size, p[0], dtype=complex)
    if kind == "C":
        return 1 / (p[0] * jw)
    if kind == "L":
        return p[0] * jw
    if kind == "W":
        return p[0] * (1 - 1j) / np.sqrt(omega)
    if kind == "Wo":
        s = np.sqrt(jw * p[1])
        return p[0] / (s * np.tanh(s))
    if kind == "Ws":
        s = np.sqrt(jw * p[1])
        return p[0] * np.tanh(s) / s
    if kind == "CPE":
        return 1 / (p[0] * jw ** p[1])
    if kind == "La":
        return (p[0] * jw) ** p[1]
    if kind == "G":
        return p[0] / np.sqrt(1 + jw * p[1])
    if kind == "K":
        return p[0] / (1 + jw * p[1])
    if kind == "Zarc":
        return p[0] / (1 + (jw * p[1]) ** p[2])
    raise NotImplementedError(kind)


_SIZES = {"R": 1, "C": 1, "L": 1, "W": 1, "Wo": 2, "Ws": 2, "CPE": 2, "La": 2, "G": 2, "K": 2, "Zarc": 3}
_TOKENS = re.compile(r"[ps]\(|[A-Za-z]+[0-9_]*|[-,()]")


def closed_form_impedance(circuit: str, values, frequency_hz) -> np.ndarray:
    """Z(f) of an impedance.py circuit string (elements joined by ``-`` in series and ``p(a,b,...)`` in parallel) with
    ``values`` in impedance.py's parameter order (the elements' order in the string), from the elements' closed forms.
    NotImplementedError for an element not written out here (Gs, T, TLMQ): impedance.py evaluates those
    (:func:`argyrodb.physics.eis.simulate` falls back to it)."""
    check_circuit(circuit)
    text = circuit.replace(" ", "")
    omega = 2 * np.pi * np.asarray(frequency_hz, dtype=float)
    tokens = _TOKENS.findall(text)
    params = [float(v) for v in values]
    position = {"token": 0, "param": 0}

    def series() -> np.ndarray:
        z = parallel_or_element()
        while position["token"] < len(tokens) and tokens[position["token"]] == "-":
            position["token"] += 1
            z = z + parallel_or_element()
        return z

    def parallel_or_element() -> np.ndarray:
        token = tokens[position["token"]]
        position["token"] += 1
        if token in ("p(", "s("):
            parts = [series()]
            while tokens[position["token"]] == ",":
                position["token"] += 1
                parts.append(series())
            position["token"] += 1  # ")"
            if token == "s(":
                return np.sum(parts, axis=0)
            return 1 / np.sum([1 / part for part in parts], axis=0)
        kind = _element_of(token)
        if kind not in _SIZES:
            raise NotImplementedError(kind)
        start = position["param"]
        position["param"] += _SIZES[kind]
        return _element_impedance(kind, params[start:position["param"]], omega)

    with np.errstate(all="ignore"):
        z = series()
    if position["param"] != len(params):
        raise ParameterError("values", f"{len(params)} values for the {position['param']} parameters of {text}")
    return np.asarray(z, dtype=complex)
