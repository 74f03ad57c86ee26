"""Start-up cost: light commands import no heavy library (real processes)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pymatgen", "numpy", "pandas", "scipy", "matplotlib", "gemmi", "spglib", "ase", "xraydb", "impedance")


@pytest.mark.parametrize("args", [["--help"], ["calc", "gforce", "--rpm", "550"],
                                  ["calc", "cpe", "--r", "31.65", "--q", "6.32e-7", "--alpha", "0.729"]])
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


def test_top_level_help_is_clicks_text_without_importing_click():
    """`argyrodb --help` comes from argyrodb.launcher (no click import: start-up within 2x bare Python); its text
    is exactly what click prints for the application."""
    import subprocess
    import sys

    from click.testing import CliRunner

    from argyrodb.cli import cli
    from argyrodb.launcher import help_text

    assert CliRunner().invoke(cli, ["--help"], prog_name="argyrodb", terminal_width=80).output == help_text()
    code = ("import sys\nimport argyrodb.launcher as launcher\ntry:\n    launcher.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m == 'click' or m.startswith('argyrodb.cli')), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == help_text() and result.stderr.strip() == "[]"
