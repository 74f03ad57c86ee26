"""The architecture as checked facts: layers (import-linter), no import cycles (function-level imports
included), argyrodb's own imports at module top, nothing inside importing the API facade, and library
errors that name Python parameters, never command-line flags."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from argyrodb_testing import REPO

PACKAGE = REPO / "argyrodb"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_layers_contract_is_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(REPO / "pyproject.toml")], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_no_import_cycles():
    import grimp

    graph = grimp.build_graph("argyrodb")
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in edges.get(module, ()):
            if state.get(target) == 1:
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph.modules):
        if module not in state:
            visit(module)
    assert len(graph.modules) > 40


def _internal_imports_in_functions(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                relative_or_ours = isinstance(inner, ast.ImportFrom) and (inner.level > 0 or (inner.module or "").startswith("argyrodb"))
                if relative_or_ours or (isinstance(inner, ast.Import) and any(a.name.startswith("argyrodb") for a in inner.names)):
                    lines.append(inner.lineno)
    return lines


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_argyrodb_imports_are_at_module_top(path):
    tree = ast.parse(path.read_text())
    assert _internal_imports_in_functions(tree) == [], f"{path.name}: argyrodb imports inside functions"


def test_nothing_inside_imports_the_api():
    importers = []
    for path in SOURCES:
        module = _module(path)
        if module.startswith("argyrodb.cli") or module == "argyrodb.api":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (isinstance(node, ast.ImportFrom) and (node.module or "").endswith("api")) or (
                    isinstance(node, ast.ImportFrom) and any(a.name == "api" for a in node.names)):
                importers.append(module)
    assert importers == []


def test_library_errors_name_parameters_not_flags():
    """Outside the CLI no error names a command-line flag ('--rpm', '--two-theta')."""
    offenders = []
    for path in SOURCES:
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("InputError", "ParameterError") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value.startswith("-"):
                    offenders.append(f"{path.name}:{node.lineno} {first.value}")
    assert offenders == []


def test_python_callers_hear_parameters_and_the_cli_its_flags():
    from argyrodb.core.errors import ParameterError
    from argyrodb.physics.calculators import milling_gforce
    from argyrodb_testing import run

    with pytest.raises(ParameterError) as info:
        milling_gforce(-1, 0.089)
    assert info.value.parameter == "rpm" and str(info.value).startswith("rpm: ")
    result = run("calc", "gforce", "--rpm", "-1")
    assert result.returncode == 2 and result.stderr.startswith("argyrodb: error: --rpm: ")
    result = run("xrd", str(REPO / "structures" / "Li6PS5Cl.yaml"), "--two-theta", "60", "10")
    assert result.returncode == 2 and "--two-theta: 2theta range" in result.stderr
