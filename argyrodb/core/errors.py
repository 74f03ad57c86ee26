"""The project's own exception types.

Every problem with user input becomes an :class:`InputError` whose message is one line naming the
file (or argument) and what is wrong; the CLI prints it and exits with status 2.

A library function that refuses one of its own arguments raises :class:`ParameterError` naming the
Python parameter (``rpm``, ``two_theta_range``); the CLI translates the parameter to its flag
(``--rpm``, ``--two-theta``), so a Python caller is never told about command-line options.
"""

from __future__ import annotations


class ArgyrodbError(Exception):
    """Base class of every error argyrodb raises on purpose."""


def _one_line(text: object) -> str:
    value = str(text)
    return value if value.isprintable() else repr(value)


class InputError(ArgyrodbError, ValueError):
    """Bad input: malformed file, unknown element, impossible number, wrong cell, missing column."""

    def __init__(self, source: object, problem: str):
        self.source = _one_line(source)
        self.problem = " ".join(str(problem).split())  # always one line
        super().__init__(f"{self.source}: {self.problem}")


class NotArgyrodite(InputError):
    """A structure that fails the argyrodite framework check (``not_argyrodite``): callers that take any structure
    (a refinement's standard) catch this, not a message."""


class ParameterError(InputError):
    """A function argument out of its domain; ``parameter`` is the Python parameter's name."""

    def __init__(self, parameter: str, problem: str):
        self.parameter = parameter
        super().__init__(parameter, problem)


class ValidationFailed(ArgyrodbError):
    """A structure was read but its validation found errors that make it unusable (e.g. a site
    whose occupancies sum clearly above 1)."""

    def __init__(self, source: object, problem: str):
        self.source = _one_line(source)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.source}: {self.problem}")
