"""Module attributes bound on first use (PEP 562), for the facades whose import must stay cheap.

``argyrodb.api`` and ``argyrodb.services`` name what they offer in a table (public name -> (module, attribute))
and bind the same names in a ``TYPE_CHECKING`` block for type checkers and linters; at run time the module's
``__getattr__`` imports the module behind a name the first time it is asked for, so ``import argyrodb.api`` and
``argyrodb --help`` import none of the science.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping


def lazy_getattr(module_name: str, table: Mapping[str, tuple[str, str]],
                 namespace: MutableMapping[str, object]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``module_name``: ``table[name]`` is imported on first use and kept in
    ``namespace`` (the module's globals), so later look-ups do not come here again."""

    def __getattr__(name: str) -> object:
        try:
            module, attribute = table[name]
        except KeyError:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), attribute)
        namespace[name] = value
        return value

    return __getattr__
