"""Command-line interface: a thin layer over :mod:`argyrodb.api` that parses and prints.

Command groups live in their own modules and are imported only when invoked, so ``argyrodb --help``
starts fast. argyrodb's own errors become a one-line message on stderr and exit status 2; a library
error about a Python parameter names the command's flag instead.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from .. import __version__
from ..core.errors import ArgyrodbError
from ..launcher import COMMANDS, TOP_HELP
from .common import Group


class UserError(click.ClickException):
    """An argyrodb error shown as one line with exit status 2 (bad input, validation errors)."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"argyrodb: error: {self.message}", err=True)


class InternalError(click.ClickException):
    """An unexpected error: one line and exit status 3 (``ARGYRODB_DEBUG=1`` shows the traceback)."""

    exit_code = 3

    def show(self, file=None) -> None:
        click.echo(f"argyrodb: internal error ({self.message}); set ARGYRODB_DEBUG=1 for the traceback", err=True)


class LazyGroup(Group):
    """The top-level group: commands are imported from their modules on first use; errors become
    one-line messages with exit status 2 (argyrodb's) or 3 (unexpected)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, BrokenPipeError):
            raise
        except ArgyrodbError as exc:
            raise UserError(str(exc)) from None
        except Exception as exc:
            if os.environ.get("ARGYRODB_DEBUG"):
                raise
            raise InternalError(f"{type(exc).__name__}: {' '.join(str(exc).split())}") from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str):
        if name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, spec[2]) for name, spec in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="argyrodb")
def cli() -> None:
    """argyrodb: refined structures, densities, XRD, literature and screening for lithium argyrodites (F-43m)."""


cli.help = TOP_HELP


def main(argv: list[str] | None = None) -> None:
    """Entry point (``argyrodb``): errors print one line (exit 2 for bad input, 3 for an internal error);
    an interrupt (Ctrl-C) exits with 130 like any Unix tool."""
    try:
        code = cli.main(args=argv, prog_name="argyrodb", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("argyrodb: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # the reader of our output went away (e.g. `| head`): stop quietly (Python's docs advise the devnull
        # swap). Exit 0: whether the pipe breaks depends only on how much output fits its buffer, and the same
        # command must not succeed for short output and fail for long.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)
