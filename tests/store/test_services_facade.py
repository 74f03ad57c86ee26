"""argyrodb.services binds its names lazily (PEP 562); ``__all__``, the ``_LAZY`` table and the ``TYPE_CHECKING``
imports that ruff, mypy and IDEs read name the same things, and each name resolves to what the checkers see."""

from __future__ import annotations

import ast
import sys

import pytest

import argyrodb.services as services
from argyrodb_testing import REPO

SERVICES_SOURCE = REPO / "argyrodb" / "services.py"


def _type_checking_imports() -> dict[str, tuple[str, str]]:
    """name bound -> (absolute module, attribute) for each import inside the ``if TYPE_CHECKING:`` block."""
    tree = ast.parse(SERVICES_SOURCE.read_text())
    bound: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.level == 1, ast.dump(statement)
                for alias in statement.names:
                    name = alias.asname or alias.name
                    assert name not in bound, f"{name} bound twice"
                    bound[name] = (f"argyrodb.{statement.module}", alias.name)
    return bound


def test_all_equals_the_lazy_table_and_the_type_checking_imports():
    assert len(set(services.__all__)) == len(services.__all__)
    assert sorted(services.__all__) == sorted(services._LAZY)
    assert _type_checking_imports() == services._LAZY


@pytest.mark.parametrize("name", sorted(services._LAZY))
def test_every_name_resolves(name):
    value = getattr(services, name)
    module, attribute = services._LAZY[name]
    assert getattr(sys.modules[module], attribute) is value


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = services.nothing_here
