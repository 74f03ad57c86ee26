"""The README documents every command and option of `argyrodb --help`, and its examples run."""

from __future__ import annotations

import re
import shlex
import shutil

import click
import pytest

from argyrodb.cli import cli
from argyrodb_testing import REPO, run

README = (REPO / "README.md").read_text()


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


COMMANDS = list(_commands(cli))


def test_readme_opens_with_exactly_the_two_commands():
    first_block = README.split("```")[1]
    assert [line for line in first_block.splitlines() if line.strip()] == ["make demo", "make test"]


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_and_option_is_in_the_readme(path, command):
    assert f"argyrodb {' '.join(path)}" in README, f"`argyrodb {' '.join(path)}` is not in the README"
    for param in command.params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        for flag in param.opts + param.secondary_opts:
            pattern = rf"(?<![\w-]){re.escape(flag)}(?![\w-])"
            assert re.search(pattern, README), f"argyrodb {' '.join(path)}: {flag} is not in the README"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_python_examples_run(monkeypatch, capsys):
    blocks = _blocks("python")
    assert blocks
    monkeypatch.chdir(REPO)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert "9.98" in capsys.readouterr().out


def test_readme_quick_tour_runs(tmp_path):
    lines = [line for block in _blocks("sh") for line in block.splitlines() if line.strip()]
    assert len(lines) >= 8
    shutil.copytree(REPO / "structures", tmp_path / "structures")
    for line in lines:
        words = shlex.split(line)
        if words[:2] == ["mkdir", "-p"]:
            (tmp_path / words[2]).mkdir(parents=True, exist_ok=True)
            continue
        assert words[0] == "argyrodb", f"the quick tour runs argyrodb commands only: {line}"
        result = run(*words[1:], cwd=tmp_path)
        assert result.returncode == 0, f"{line}\n{result.stderr}"
    assert (tmp_path / "out" / "LMA-Cl0.8I0.6.cif").is_file() and (tmp_path / "out" / "lma-peaks.csv").is_file()
