"""Start-up cost: light commands import no heavy library (real processes)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pymatgen", "numpy", "pandas", "scipy", "matplotlib", "gemmi", "spglib", "ase", "xraydb", "impedance")


@pytest.mark.parametrize("args", [["--help"], ["calc", "gforce", "--rpm", "550"], ["calc", "cpe", "--r", "31.65", "--q", "6.32e-7", "--alpha", "0.729"]])
def test_light_commands_do_not_import_heavy_modules(args):
    code = ("import sys, runpy\n"
            f"sys.argv = ['argyrodb', *{args!r}]\n"
            "try:\n    runpy.run_module('argyrodb', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stderr.strip() == ""


def test_the_command_list_matches_each_command():
    """The short help listed by `argyrodb --help` (kept in argyrodb.cli.COMMANDS so listing imports
    nothing) is each command's own first docstring line."""
    import click

    from argyrodb.cli import COMMANDS, cli

    ctx = click.Context(cli)
    for name, (_, _, short) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command.help.strip().splitlines()[0] == short, name
