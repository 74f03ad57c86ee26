"""What every command module shares: click classes that translate a library ParameterError into the
command's own flag, JSON output without NaN, tables, the --db option."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..core.errors import InputError, ParameterError


def flag_for(command: click.Command, parameter: str) -> str:
    """The command-line name of the Python parameter ``parameter`` of ``command`` (``rpm`` -> ``--rpm``)."""
    for param in command.params:
        if param.name == parameter:
            if isinstance(param, click.Option):
                return max(param.opts, key=len)
            return param.human_readable_name
    return parameter


class Command(click.Command):
    """A command whose library errors name its flags instead of Python parameters."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ParameterError as exc:
            raise InputError(flag_for(self, exc.parameter), exc.problem) from None


class Group(click.Group):
    command_class = Command


Group.group_class = Group


def _finite(value):
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def emit_json(payload) -> None:
    click.echo(json.dumps(_finite(payload), indent=2, sort_keys=False, allow_nan=False))


def print_frame(frame, fmt: str) -> None:
    """A DataFrame as JSON records, CSV or an aligned table."""
    if fmt == "json":
        click.echo(frame.to_json(orient="records", indent=1))
    elif fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200,
                               "display.max_colwidth", 40):
            click.echo(frame.to_string(index=False) if len(frame) else "(no rows)")


def db_option(f):
    return click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="Database file (default $ARGYRODB_DB, else ~/.local/share/argyrodb/argyrodb.sqlite).")(f)


def wavelength_value(text: str):
    """'1.542' -> 1.542; names such as 'CuKa12' stay text."""
    try:
        return float(text)
    except ValueError:
        return text
