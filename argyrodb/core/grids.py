"""Grids of numbers: ``START:STOP:STEP`` ranges (inclusive of STOP) and their Cartesian products."""

from __future__ import annotations

import itertools
import math

from .errors import ParameterError

#: Variables a family expression or grid may use, in grid order.
GRID_VARIABLES = ("x", "y", "z", "w")


def parse_range(text: str, name: str) -> list[float]:
    """``START:STOP:STEP`` (inclusive of STOP), or a single value."""
    parts = str(text).split(":")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ParameterError(name, f"expected START:STOP:STEP or a number, got {text!r}") from None
    if len(numbers) == 1:
        return numbers
    if len(numbers) != 3:
        raise ParameterError(name, f"expected START:STOP:STEP, got {text!r}")
    start, stop, step = numbers
    if step <= 0 or stop < start or not all(math.isfinite(v) for v in numbers):
        raise ParameterError(name, f"expected START <= STOP and STEP > 0, got {text!r}")
    n = math.floor((stop - start) / step + 1e-9) + 1
    if n > 1_000_000:
        raise ParameterError(name, f"{n} values is too many")
    return [round(start + k * step, 10) for k in range(n)]


def grid(ranges: dict[str, list[float]]) -> list[dict[str, float]]:
    """Cartesian product of the variables' values, in a stable order."""
    names = [v for v in GRID_VARIABLES if v in ranges]
    return [dict(zip(names, combo)) for combo in itertools.product(*(ranges[v] for v in names))]


class GridPoints:
    """The Cartesian product of :func:`grid` without building it: point ``i`` is found from its index
    (C order, the order of :func:`grid` and ``itertools.product``), so a grid of millions of points costs
    only its axes' memory."""

    def __init__(self, ranges: dict[str, list[float]]):
        import numpy as np  # here, not at the top: light commands (calc) import this module

        self.names = [v for v in GRID_VARIABLES if v in ranges]
        self.axes = [np.asarray(ranges[v], dtype=float) for v in self.names]
        self.shape = tuple(len(axis) for axis in self.axes)

    def __len__(self) -> int:
        return math.prod(self.shape)

    def arrays(self, indices) -> dict:
        """Variable name -> values (arrays) of the points ``indices`` (an array of point numbers)."""
        import numpy as np

        indices = np.asarray(indices, dtype=np.int64)
        if not self.names:
            return {}
        positions = np.unravel_index(indices, self.shape)
        return {name: axis[p] for name, axis, p in zip(self.names, self.axes, positions)}

    def __getitem__(self, index: int) -> dict[str, float]:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return {name: float(v[0]) for name, v in self.arrays([index % len(self)]).items()}
