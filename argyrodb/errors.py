"""The project's own exception types.

Every problem with user input becomes an :class:`InputError` whose message is one line naming the
file (or argument) and what is wrong; the CLI prints it and exits with status 2.
"""

from __future__ import annotations


class ArgyrodbError(Exception):
    """Base class of every error argyrodb raises on purpose."""


def _one_line_source(source: object) -> str:
    text = str(source)
    return text if text.isprintable() else repr(text)


class InputError(ArgyrodbError, ValueError):
    """Bad input: malformed file, unknown element, impossible number, wrong cell, missing column."""

    def __init__(self, source: object, problem: str):
        self.source = _one_line_source(source)
        self.problem = " ".join(str(problem).split())  # always one line
        super().__init__(f"{self.source}: {self.problem}")


class ValidationFailed(ArgyrodbError):
    """A structure was read but its validation found errors that make it unusable (e.g. a site
    whose occupancies sum clearly above 1)."""

    def __init__(self, source: object, problem: str):
        self.source = _one_line_source(source)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.source}: {self.problem}")
