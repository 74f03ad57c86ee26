"""What every command module shares: click classes that translate a library ParameterError into the
command's own flag, JSON output without NaN, tables, the --db option."""

from __future__ import annotations

import json
import os
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


#: Output formats of tables: aligned text, CSV, TSV, JSON (one array) and newline-delimited JSON.
FORMATS = ("table", "csv", "tsv", "json", "nl")


def format_option(f):
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="table, csv, tsv, json (one array) or nl (one JSON object per line).")(f)


def print_frame(frame, fmt: str) -> None:
    """A DataFrame as JSON records, newline-delimited JSON, CSV, TSV or an aligned table."""
    if fmt == "json":
        click.echo(frame.to_json(orient="records", indent=1))
    elif fmt == "nl":
        if len(frame):
            click.echo(frame.to_json(orient="records", lines=True).rstrip("\n"))
    elif fmt in ("csv", "tsv"):
        click.echo(frame.to_csv(index=False, sep="," if fmt == "csv" else "\t"), nl=False)
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200,
                               "display.max_colwidth", 40):
            click.echo(_with_one_missing_marker(frame).to_string(index=False, float_format="{:.10g}".format) if len(frame) else "(no rows)")


#: What a missing value looks like in a text table (pandas would print None, NaN or <NA> by column type).
MISSING = "-"


def _with_one_missing_marker(frame):
    """``frame`` for display: every missing value shown as MISSING, other values as stored (columns with a
    gap become text, so 1e-07 and 1.86 keep their own digits instead of a shared exponent format)."""
    shown = frame.copy()
    for column in shown.columns:
        missing = shown[column].isna()
        if missing.any():
            shown[column] = [MISSING if gap else value for gap, value in zip(missing, shown[column].astype(object))]
    return shown


def db_option(f):
    return click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="Database file (default $ARGYRODB_DB, else ~/.local/share/argyrodb/argyrodb.sqlite).")(f)


def wavelength_value(text: str):
    """'1.542' -> 1.542; names such as 'CuKa12' stay text."""
    try:
        return float(text)
    except ValueError:
        return text


def gather_option_values(args: list[str], option: str, is_value) -> list[str]:
    """``OPTION V1 V2 V3`` as ``OPTION V1,V2,V3``: the tokens after the flag for which ``is_value(token)`` holds (up
    to the next option, a ``--``, an existing file or a token that is not a value) are its values, so that a
    command with variadic file arguments does not take them for files. The first token after the flag is always
    its value (click then checks it)."""
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            out += args[i:]
            break
        if token == option or token.startswith(option + "="):
            values = [token.split("=", 1)[1]] if "=" in token else []
            i += 1
            if not values and i < len(args):
                values.append(args[i])
                i += 1
            while (i < len(args) and not args[i].startswith("--") and is_value(args[i].strip())
                   and not Path(args[i]).exists()):
                values.append(args[i])
                i += 1
            out += [option, ",".join(v.strip().strip(",") for v in values)] if values else [token]
            continue
        out.append(token)
        i += 1
    return out


def one_blas_thread() -> None:
    """OpenBLAS/OpenMP/MKL to one thread unless set explicitly. For commands (refine, identify) whose linear algebra
    is many small products of a few thousand points by a few dozen columns, where BLAS threads only contend (refine's
    lma_nominal: 4.8 s CPU with them, 3.2 s without; identify's Le Bail stage on a loaded 2-core machine: 22 s with
    them, 2 s without). Effective only before numpy is imported: call it at the top of the command module (this
    module is imported by the CLI before any command module, and imports no numpy)."""
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
