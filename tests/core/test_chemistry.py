"""Formulas, masses, charges."""

from __future__ import annotations

import pytest


def test_formula_text_keeps_its_decimals():
    from argyrodb.core.chemistry import format_formula, parse_formula

    text = format_formula({"Li": 123.4567891, "Cl": 1e-5}, decimals=6)
    assert text == "Li123.456789Cl0.00001" and parse_formula(text) == pytest.approx({"Li": 123.456789, "Cl": 1e-5})
