"""Composition families with variables, e.g. ``Li5.6PS4.6Cl1.4-xIx`` or ``Li7-yPS6-yCl(y*(1-z))I(y*z)``,
and grids over their variables.

Grammar: a formula is a sequence of element symbols each followed by an optional amount; an amount is
a number, an expression of the variables x, y, z, w with + - * / (e.g. ``1.4-x``, ``x``), or any such
expression in parentheses. Expressions are evaluated with a small AST walker (no ``eval``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..core.chemistry import is_element
from ..core.errors import InputError
from ..core.grids import GRID_VARIABLES, GridPoints, grid, parse_range

__all__ = ["VARIABLES", "Family", "GridPoints", "grid", "parse_family", "parse_range"]

VARIABLES = GRID_VARIABLES
_AMOUNT_CHARS = set("0123456789.+-*/" + "".join(VARIABLES))


def _evaluate(node: ast.AST, values: dict, source: str):
    """The amount expression ``node`` at ``values`` (variable -> number, or -> array: then an array)."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, values, source)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise InputError(source, f"variable {node.id!r} has no value (give a value or range for {node.id})")
        return values[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, values, source)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        left, right = _evaluate(node.left, values, source), _evaluate(node.right, values, source)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if np.any(np.asarray(right) == 0):
            raise InputError(source, "division by zero in an amount")
        return left / right
    raise InputError(source, "amounts may only use numbers, x, y, z, w, + - * / and parentheses")


@dataclass(frozen=True)
class Family:
    text: str
    terms: tuple[tuple[str, str], ...]  # (element, amount expression text)

    @property
    def variables(self) -> tuple[str, ...]:
        used = set()
        for _, expr in self.terms:
            used |= set(re.findall(r"[a-z]", expr))
        return tuple(v for v in VARIABLES if v in used)

    @property
    def elements(self) -> list[str]:
        """The family's elements, in the order they are written."""
        return list(dict.fromkeys(element for element, _ in self.terms))

    def composition(self, values: dict[str, float]) -> dict[str, float]:
        """Element -> amount per formula unit at one point (variable -> value)."""
        matrix = self.amount_matrix({name: np.array([value], dtype=float) for name, value in values.items()}, 1)
        return {el: float(v) for el, v in zip(self.elements, matrix[0])}

    def amount_matrix(self, values: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Amounts per formula unit of ``n`` points at once (variable -> array of n values): an (n, elements)
        matrix in the order of :attr:`elements`, each amount rounded to 10 decimals."""
        elements = self.elements
        matrix = np.zeros((n, len(elements)))
        for element, expr in self.terms:
            value = _evaluate(_parsed(expr), values, self.text) if expr else 1.0
            value = np.broadcast_to(np.asarray(value, dtype=float), (n,))
            if not np.isfinite(value).all():
                raise InputError(self.text, f"amount of {element} is not finite")
            matrix[:, elements.index(element)] += np.round(value, 10)
        return matrix


@lru_cache(maxsize=256)
def _parsed(expr: str) -> ast.Expression:
    """The parsed amount expression (parsed once: a screen evaluates it for every grid point)."""
    return ast.parse(expr, mode="eval")


def parse_family(text: str) -> Family:
    """Parse a family expression (see the module docstring)."""
    source = text
    s = "".join(str(text).split())
    if not s or len(s) > 500:
        raise InputError(source, "empty or over-long family expression")
    terms = []
    i = 0
    while i < len(s):
        if not s[i].isupper():
            raise InputError(source, f"expected an element symbol at position {i + 1}: {s[i:i + 8]!r}")
        symbol = s[i:i + 2] if i + 1 < len(s) and s[i + 1].islower() and is_element(s[i:i + 2]) else s[i]
        if not is_element(symbol):
            raise InputError(source, f"unknown element {symbol!r}")
        i += len(symbol)
        if i < len(s) and s[i] == "(":
            depth, j = 0, i
            while j < len(s):
                depth += s[j] == "("
                depth -= s[j] == ")"
                if depth == 0:
                    break
                j += 1
            if depth != 0:
                raise InputError(source, "unbalanced parentheses")
            expr = s[i + 1:j]
            i = j + 1
            if not expr:
                raise InputError(source, f"empty parentheses after {symbol}")
        else:
            j = i
            while j < len(s) and s[j] in _AMOUNT_CHARS:
                j += 1
            expr = s[i:j]
            i = j
        if expr:
            try:
                tree = ast.parse(expr, mode="eval")
            except SyntaxError:
                raise InputError(source, f"cannot read the amount {expr!r} of {symbol}") from None
            _evaluate(tree, {v: 0.5 for v in VARIABLES}, source)  # validates the node types
        terms.append((symbol, expr))
    return Family(text, tuple(terms))
