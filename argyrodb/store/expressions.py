"""Query expressions in the style of ``ase db 'Li>5,bandgap>2'``, compiled to a parameterised SQLite
WHERE fragment; ``argyrodb db query "I>0,sigma_mS_cm>=5"`` and the Python API share this parser.

Grammar (whitespace is allowed between any two tokens)::

    expression := term ("," term)*           -- a comma means AND; an empty expression matches all
    term       := NAME                        -- bare name: the field is "present" (see below)
                | ("!" | "not") NAME          -- its negation
                | NAME OP VALUE | VALUE OP NAME              -- sigma_mS_cm>=5, 5<=sigma_mS_cm
                | VALUE OP NAME OP VALUE                     -- ranges: 2<sigma_mS_cm<10, 0.2<=I<=1.4
    OP         := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
    VALUE      := word | 'quoted' | "quoted"  -- a word: letters, digits and - + _ . /

Names are the database's column names (exact, case-sensitive: ``sigma_mS_cm``, ``anode``) or, where
the caller allows it, element symbols meaning the amount per formula unit (``Li>=6``, ``I>0``; an
absent element counts as 0, so ``Br=0`` finds bromine-free materials).

* number fields take numbers (``5``, ``-0.5``, ``1e-3``; never nan or inf); bare ``x`` means "x is
  known" (NOT NULL), bare ``Li`` means "contains Li" (amount > 0).
* text fields allow only = and !=, compared case-insensitively (``anode=li-in`` finds ``Li-In``);
  bare ``x`` means "x is set" (not NULL, not empty).
* yes/no fields take true/false/yes/no/1/0 with = and !=; bare ``x`` means "x is true".
* both ends of a range point the same way (``2<x<10``, ``10>x>2``); ``2<x>10`` is refused.
* a comparison never matches a row whose value is unknown (NULL), ``!=`` included - except a censored
  value kept as a bound (a conductivity printed "<1E-10"), which matches a comparison it proves
  (``sigma_mS_cm<0.001``) and no other.

:func:`compile_expression` returns ``(sql, params)``: every term in parentheses, joined by AND, every
value a ``?`` parameter; an empty (or blank) expression gives ``("", [])``, meaning "no condition".
Errors raise :class:`~argyrodb.core.errors.ParameterError` for parameter ``expression``, quoting the
expression and the (1-based) position of the problem.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, NoReturn, overload

from ..core.chemistry import is_element
from ..core.errors import ParameterError

KINDS = ("number", "text", "bool")
OPERATORS = ("=", "==", "!=", "<", "<=", ">", ">=")
_SQL_OP = {"=": "=", "==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "==": "==", "!=": "!="}
_TOKEN = re.compile(r"\s*(?:(?P<op>==|!=|<=|>=|[=<>!])|(?P<comma>,)|(?P<word>[A-Za-z0-9_.+/-]+)|(?P<quote>['\"]))")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BOOLS = {"true": 1, "yes": 1, "1": 1, "false": 0, "no": 0, "0": 0}


@dataclass(frozen=True)
class Field:
    """One name an expression may use: the SQL it stands for (trusted, from the caller) and its kind."""

    sql: str
    kind: str  # "number" | "text" | "bool"
    #: SQL of an upper / lower bound that stands in when the value itself is censored (NULL): a
    #: conductivity printed "<1E-10" satisfies ``sigma_mS_cm < 0.001`` (the bound proves it) and never
    #: ``sigma_mS_cm > 0.001``.
    upper_bound_sql: str | None = None
    lower_bound_sql: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ParameterError("kind", f"field kind must be one of {', '.join(KINDS)}, not {self.kind!r}")


def json_amount_field(column: str = "amounts_json") -> Callable[[str], Field]:
    """``element_field`` for an element -> amount JSON column; an absent element counts as 0."""
    def field(symbol: str) -> Field:
        if not is_element(symbol):  # the symbol goes into the SQL text, so only real symbols pass
            raise ParameterError("expression", f"{symbol!r} is not an element symbol")
        return Field(f"COALESCE(json_extract({column}, '$.{symbol}'), 0)", "number")
    return field


def _at(pos: int) -> str:
    return f"at position {pos + 1}"


@dataclass(frozen=True)
class _Token:
    kind: str  # "op" | "comma" | "word" | "string"
    text: str
    pos: int  # 0-based offset into the expression


def number_comparison(field: Field, op: str, number: float) -> tuple[str, list[float]]:
    """SQL and parameters of ``field op number`` for a number field; a censored value (``field.sql`` NULL, a bound
    in ``lower_bound_sql``/``upper_bound_sql``) matches when its bound proves the comparison: "< B" proves "< v" and
    "<= v" when B <= v; likewise for lower bounds."""
    bound = field.upper_bound_sql if op in ("<", "<=") else field.lower_bound_sql if op in (">", ">=") else None
    if bound is None:
        return f"({field.sql} {_SQL_OP[op]} ?)", [number]
    proven = "<=" if op in ("<", "<=") else ">="
    return f"({field.sql} {_SQL_OP[op]} ? OR ({field.sql} IS NULL AND {bound} {proven} ?))", [number, number]


class _Compiler:
    def __init__(self, text: str, fields: Mapping[str, Field], element_field: Callable[[str], Field] | None):
        self.text, self.fields, self.element_field = text, fields, element_field
        self.params: list = []

    def fail(self, problem: str) -> NoReturn:
        raise ParameterError("expression", f'"{self.text}": {problem}')

    def tokens(self) -> list[_Token]:
        tokens, pos, text = [], 0, self.text
        while text[pos:].strip():
            match = _TOKEN.match(text, pos)
            if match is None:
                start = len(text) - len(text[pos:].lstrip())
                self.fail(f"unexpected character {text[start]!r} {_at(start)}")
            kind = match.lastgroup
            assert kind is not None  # every alternative of _TOKEN is a named group, so one of them matched
            start, pos = match.start(kind), match.end()
            if kind == "quote":
                end = text.find(match["quote"], pos)
                if end < 0:
                    self.fail(f"unbalanced quote: the {match['quote']} {_at(start)} is never closed")
                tokens.append(_Token("string", text[pos:end], start))
                pos = end + 1
            else:
                tokens.append(_Token(kind, match[kind], start))
        return tokens

    def compile(self) -> tuple[str, list]:
        terms: list[list[_Token]] = [[]]
        for token in self.tokens():
            if token.kind == "comma":
                if not terms[-1]:
                    self.fail(f"empty term before the ',' {_at(token.pos)}")
                terms.append([])
            else:
                terms[-1].append(token)
        if terms == [[]]:
            return "", []
        if not terms[-1]:
            self.fail(f"empty term after the ',' {_at(len(self.text.rstrip()) - 1)}")
        return " AND ".join(self.term(term) for term in terms), self.params

    def term(self, tokens: list[_Token]) -> str:
        first, last = tokens[0], tokens[-1]
        if (first.kind == "op" and first.text == "!") or (first.kind == "word" and first.text == "not" and len(tokens) > 1):
            if len(tokens) == 1:
                self.fail(f"missing name after '!' {_at(first.pos + 1)}")
            if len(tokens) > 2 or tokens[1].kind != "word":
                bad = tokens[1] if tokens[1].kind != "word" else tokens[2]
                self.fail(f"'{first.text}' negates a bare name only; unexpected {bad.text!r} {_at(bad.pos)}")
            return self.bare(tokens[1], negate=True)
        if first.kind == "op":
            self.fail(f"missing name or value before '{first.text}' {_at(first.pos)}")
        for i, token in enumerate(tokens):
            if (token.kind == "op" and token.text != "!" if i % 2 else token.kind in ("word", "string")) is False:
                if token.kind == "op" and tokens[i - 1].kind == "op":
                    self.fail(f"unexpected {token.text!r} {_at(token.pos)}: '{tokens[i - 1].text}{token.text}' is not"
                              f" an operator (use {', '.join(OPERATORS)})")
                self.fail(f"unexpected {token.text!r} {_at(token.pos)}, expected {'a value' if i % 2 == 0 else 'an operator'}")
        operands, ops = tokens[0::2], tokens[1::2]
        if len(ops) == len(operands):
            self.fail(f"missing value after '{last.text}' {_at(last.pos + len(last.text))}")
        if not ops:
            return self.bare(first)
        if len(ops) == 1:
            left, right = operands
            if self.resolve(left, quiet=True):
                return self.compare(left, ops[0].text, right, ops[0])
            if self.resolve(right, quiet=True):
                return self.compare(right, _FLIP[ops[0].text], left, ops[0])
            for token in operands:
                if token.kind == "word" and not _NUMBER.fullmatch(token.text):
                    self.resolve(token)  # raises: unknown name
            quoted = " (names are never quoted)" if any(t.kind == "string" for t in operands) else ""
            self.fail(f"no field or element name in the term {_at(first.pos)}{quoted}")
        if len(ops) > 2:
            self.fail(f"a range has at most two comparisons; unexpected '{ops[2].text}' {_at(ops[2].pos)}")
        if len({op.text[0] for op in ops}) != 1 or ops[0].text[0] not in "<>":
            self.fail(f"a range needs two of '<', '<=' or two of '>', '>=', not '{ops[0].text}' then '{ops[1].text}'"
                      f" {_at(ops[1].pos)}")
        low, name, high = operands
        return f"{self.compare(name, _FLIP[ops[0].text], low, ops[0])} AND {self.compare(name, ops[1].text, high, ops[1])}"

    @overload
    def resolve(self, token: _Token, quiet: Literal[False] = False) -> tuple[Field, bool]: ...
    @overload
    def resolve(self, token: _Token, quiet: bool) -> tuple[Field, bool] | None: ...

    def resolve(self, token: _Token, quiet: bool = False) -> tuple[Field, bool] | None:
        """The field ``token`` names and whether it is an element amount; None (quiet) or an error if none."""
        name = token.text
        if token.kind == "word":
            if name in self.fields:
                return self.fields[name], False
            if self.element_field is not None and re.fullmatch(r"[A-Z][a-z]?", name) and is_element(name):
                return self.element_field(name), True
        if quiet:
            return None
        known = sorted(self.fields)
        guesses = [k for k in known if k.lower().startswith(name.lower())] if name else []
        guesses += [k for k in difflib.get_close_matches(name, known, n=3, cutoff=0.5) if k not in guesses]
        symbol = name[:1].upper() + name[1:].lower()
        if self.element_field is not None and re.fullmatch(r"[A-Z][a-z]?", symbol) and is_element(symbol):
            guesses.insert(0, symbol)
        more = ", ..." if len(known) > 12 else ""
        hint = f"did you mean {', '.join(guesses[:4])}?" if guesses else f"known names: {', '.join(known[:12])}{more}"
        kinds = " (a column name or an element symbol such as Li, Cl, I)" if self.element_field is not None else ""
        self.fail(f"unknown name {name!r} {_at(token.pos)}{kinds}; {hint}")

    def bare(self, token: _Token, negate: bool = False) -> str:
        field, element = self.resolve(token)
        if element:
            return f"(COALESCE({field.sql}, 0) <= 0)" if negate else f"({field.sql} > 0)"
        if field.kind == "number":
            return f"({field.sql} IS NULL)" if negate else f"({field.sql} IS NOT NULL)"
        if field.kind == "bool":
            return f"({field.sql} IS NOT 1)" if negate else f"({field.sql} = 1)"
        return f"({field.sql} IS NULL OR {field.sql} = '')" if negate else f"({field.sql} IS NOT NULL AND {field.sql} != '')"

    def compare(self, name: _Token, op: str, value: _Token, written: _Token) -> str:
        """``name op value``; ``written`` is the operator as the user wrote it (for messages)."""
        field, _ = self.resolve(name)
        raw = value.text.strip()
        if field.kind == "number":
            number = float(raw) if _NUMBER.fullmatch(raw) else None
            if number is None or not math.isfinite(number):
                finite = number is not None or raw.lstrip("+-").lower() in ("nan", "inf", "infinity")
                self.fail(f"{name.text} takes numbers and {value.text!r} {_at(value.pos)} is not a"
                          f"{' finite' if finite else ''} number")
            sql, params = number_comparison(field, op, number)
            self.params.extend(params)
            return sql
        if op not in ("=", "==", "!="):
            kind = "yes/no" if field.kind == "bool" else field.kind
            self.fail(f"{name.text} is {kind} and allows only = and !=, not '{written.text}' {_at(written.pos)}")
        if field.kind == "bool":
            if raw.lower() not in _BOOLS:
                self.fail(f"{name.text} is yes/no and takes true/false/yes/no/1/0, not {value.text!r} {_at(value.pos)}")
            self.params.append(_BOOLS[raw.lower()])
            return f"({field.sql} {_SQL_OP[op]} ?)"
        self.params.append(value.text)
        return f"({field.sql} {_SQL_OP[op]} ? COLLATE NOCASE)"


def compile_expression(text: str, fields: Mapping[str, Field],
                       element_field: Callable[[str], Field] | None = None) -> tuple[str, list]:
    """Compile a query expression (grammar in the module docstring) to ``(sql, params)``: a WHERE
    fragment such as ``"(sigma_mS_cm >= ?) AND (...)"`` and its bound parameters; ``("", [])`` for an
    empty expression. ``fields`` maps names to trusted column SQL; ``element_field``, if given, maps an
    element symbol to its amount per formula unit (see :func:`json_amount_field`)."""
    return _Compiler(text, fields, element_field).compile()
