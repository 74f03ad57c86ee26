"""The public API (issue 21): few names, bound where static tools see them, documented, and agreeing with the CLI
- one rule in one place, one test each."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import subprocess
import sys
import warnings

import pytest

import argyrodb.api as api
from argyrodb.core.errors import InputError, ValidationFailed
from argyrodb_testing import DATA, LMA, REPO, ordered_li6ps5cl, run

API_SOURCE = REPO / "argyrodb" / "api.py"
MAX_PUBLIC_NAMES = 30


def _statically_bound() -> set[str]:
    """Names api.py binds by plain imports or inside its ``if TYPE_CHECKING:`` block (what ruff, mypy and IDEs see)."""
    tree = ast.parse(API_SOURCE.read_text())
    names: set[str] = set()
    for node in tree.body:
        body = node.body if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING" else [node]
        for statement in body:
            if isinstance(statement, ast.ImportFrom) and statement.module != "__future__":
                names.update(alias.asname or alias.name for alias in statement.names)
    return {n for n in names if not n.startswith("_")} - {"TYPE_CHECKING"}


def test_public_names_are_few_and_statically_bound():
    assert len(api.__all__) <= MAX_PUBLIC_NAMES
    assert len(set(api.__all__)) == len(api.__all__)
    assert set(api.__all__) == _statically_bound()
    lazy = set(api._LAZY)
    assert lazy <= set(api.__all__) and set(api.__all__) - lazy == {"ArgyrodbError", "InputError", "ParameterError",
                                                                      "ValidationFailed"}
    assert sorted(dir(api)) == sorted(api.__all__)


@pytest.mark.parametrize("name", sorted(api.__all__))
def test_every_public_name_resolves_to_what_type_checkers_see_and_is_documented(name):
    value = getattr(api, name)
    if name in api._LAZY:
        module, attribute = api._LAZY[name]
        assert getattr(sys.modules[module], attribute) is value
    assert inspect.getdoc(value), f"{name} has no docstring"
    if inspect.isclass(value):
        undocumented = [m for m, v in vars(value).items() if not m.startswith("_") and callable(v) and not inspect.getdoc(v)]
        assert not undocumented, f"{name}: methods without docstrings {undocumented}"


def test_importing_the_api_loads_no_science():
    code = ("import sys, argyrodb.api\n"
            "heavy = [m for m in ('numpy', 'pymatgen.core', 'scipy', 'pandas') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_three_nouns_work_together(tmp_path):
    lma = api.analyse(LMA)
    assert isinstance(lma, api.AnalysedStructure)
    # Table S2's refined composition (as printed) and its density at the predicted a
    assert lma.formula_per_fu["I"] == pytest.approx(0.8989, abs=1e-4)
    # 2.3339 at a = 9.988 before the Kraft 2017 end members and the OBELiX duplicates were excluded from the lattice fit
    assert lma.density().density_g_cm3 == pytest.approx(2.3391, abs=1e-4)
    conditions = api.PatternConditions(wavelength="CuKa1", two_theta_range=(10, 60))
    with pytest.raises(dataclasses.FrozenInstanceError):
        conditions.wavelength = "MoKa1"  # frozen: set once
    first = lma.pattern(conditions).peaks.iloc[0]
    moved = lma.at(10.0).pattern(conditions).peaks.iloc[0]
    # same reflection, Bragg's law at the new a: 2 asin(lambda sqrt(h^2+k^2+l^2) / 2a)
    assert (first.h, first.k, first.l) == (moved.h, moved.k, moved.l)
    import math

    expected = 2 * math.degrees(math.asin(1.5405929 * math.sqrt(first.h**2 + first.k**2 + first.l**2) / 20.0))
    assert moved.two_theta_deg == pytest.approx(expected, abs=1e-4)
    path = tmp_path / "lma.cif"
    assert lma.cif(path) == path.read_text()
    assert "data_LMA-Cl0.8I0.6" in path.read_text()


# --------------------------------------------------------------------------- API and CLI agree


def _nacl():
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_a_non_argyrodite_is_refused_on_every_path(tmp_path):
    """NaCl (Fm-3m, no F-43m setting at any tolerance): the pymatgen Structure, ASE Atoms and the CIF are refused
    alike, with or without force (was: api.xrd_pattern gave 14 peaks). Li2VCl4 (OBELiX yav, F-43m but no argyrodite
    framework): refused by default, analysed with a warning under force - through the API as through the CLI."""
    from pymatgen.io.ase import AseAtomsAdaptor

    nacl = _nacl()
    reasons = set()
    for source in (nacl, AseAtomsAdaptor.get_atoms(nacl)):
        for force in (False, True):
            with pytest.raises(InputError, match="not an argyrodite") as info:
                api.analyse(source, force=force)
            reasons.add(info.value.problem.split("not an argyrodite: ")[1])
    assert len(reasons) == 1, reasons  # one rule, one message
    path = tmp_path / "nacl.cif"
    nacl.to(filename=str(path))
    for command in ("build", "density", "xrd"):
        for force in ((), ("--force",)):
            result = run(command, str(path), *force)
            assert result.returncode == 2 and "not an argyrodite" in result.stderr, (command, force, result.stderr)
    framework = REPO / "db" / "obelix_cifs" / "yav.cif"
    with pytest.raises(InputError, match="not an argyrodite"):
        api.analyse(framework)
    forced = api.analyse(framework, force=True)
    assert forced.forced and {p.severity for p in forced.problems if p.kind == "not_argyrodite"} == {"warning"}
    for command in ("build", "density", "xrd"):
        assert run(command, str(framework)).returncode == 2, command
        assert run(command, str(framework), "--force").returncode == 0, command


def test_the_site_limit_holds_on_every_path(tmp_path):
    """A 3x3x3 supercell of ordered Li6PS5Cl has 1,404 sites: over the 500-site limit as a Structure, as ASE Atoms
    and as a CIF (was: 9-13 s of symmetry search through the API, refused by the CLI)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    big = ordered_li6ps5cl() * (3, 3, 3)
    assert len(big) == 1404
    for source in (big, AseAtomsAdaptor.get_atoms(big)):
        with pytest.raises(InputError, match="1404 sites, over the limit of 500"):
            api.analyse(source)
    path = tmp_path / "big.cif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        big.to(filename=str(path))
    result = run("build", str(path))
    assert result.returncode == 2 and "over the limit of 500" in result.stderr, result.stderr


def test_density_exits_2_wherever_build_does(tmp_path):
    """A file with validation errors: no density, CIF or pattern from the API (ValidationFailed naming the file
    and the first error), exit 2 with the same line from build, density and xrd."""
    path = DATA / "bad_inputs" / "over_filled.yaml"
    structure = api.analyse(path)  # analysed and reported ...
    assert structure.errors
    for method in (structure.density, structure.cif, structure.pattern):
        with pytest.raises(ValidationFailed, match=f"{structure.errors[0].kind}"):
            method()  # ... but nothing is derived from it
    lines = set()
    for command in ("build", "density", "xrd"):
        result = run(command, str(path))
        assert result.returncode == 2, (command, result.stdout)
        assert str(path) in result.stderr and structure.errors[0].kind in result.stderr, (command, result.stderr)
        lines.add(result.stderr.strip().replace(" (no CIF written)", ""))
    assert len(lines) == 1, lines


def test_density_names_the_refined_composition():
    result = run("density", str(LMA))
    assert result.returncode == 0
    first, second = result.stdout.splitlines()
    # Table S2's refined composition leads; the nominal one follows on its own line
    assert first.startswith("Li6.5388PS4.4825Cl0.4508I0.8989 (LMA-Cl0.8I0.6, ") and "rho = 2.3391 g/cm^3" in first
    assert second.strip().startswith("nominal composition Li5.6PS4.6Cl0.8I0.6: rho = 2.1500 g/cm^3")


def test_the_api_reference_documents_every_public_name(tmp_path):
    """`make docs` builds the reference with pdoc; every public name has its entry, with its docstring's first line."""
    import warnings

    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat="restructuredtext")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc("argyrodb.api", output_directory=tmp_path)
    page = (tmp_path / "argyrodb" / "api.html").read_text()
    for name in api.__all__:
        assert f'id="{name}"' in page, name
        first_line = inspect.getdoc(getattr(api, name)).splitlines()[0]
        words = first_line.split()[:3]  # rendered text: roles and markup change, the opening words stay
        assert all(word.strip(":`*") in page for word in words if word.isalpha()), (name, words)
    assert not [w for w in caught if "annotation" in str(w.message)], [str(w.message) for w in caught][:3]


def test_database_build_at_the_default_location_creates_its_folder(tmp_path, monkeypatch):
    """Database() on a new machine: the default location's folder does not exist yet; build() makes it (the CLI
    did; the API's Database resolved the default path first and lost that)."""
    target = tmp_path / "new" / "folder" / "argyrodb.sqlite"
    monkeypatch.setenv("ARGYRODB_DB", str(target))
    database = api.Database()
    assert database.path == target and not target.parent.exists()
    counts = database.build()
    assert target.is_file() and counts["measurements"] == 69  # Table S3 (27) + OBELiX (42)


def test_database_queries_leave_the_callers_filter_alone(fresh_db):
    """An expression given beside a MeasurementFilter is added to it (both must hold) in a copy."""
    database = api.Database(fresh_db)
    mine = api.MeasurementFilter(expression="I>0")
    everything_with_i = database.count(filters=mine)
    fast_with_i = database.count("sigma_mS_cm>=5", filters=mine)
    assert mine.expression == "I>0"  # unchanged
    assert 0 < fast_with_i < everything_with_i
    assert fast_with_i == database.count("I>0,sigma_mS_cm>=5") == len(database.query("sigma_mS_cm>=5", filters=mine))


def test_a_refused_structure_is_not_forced():
    """Li2VCl4 (OBELiX yav) analysed without force carries not_argyrodite as an error: it is not 'forced', and
    another lattice parameter keeps it refused (was: forced=True, and at() turned the error into a warning)."""
    from argyrodb.core.readers import read
    from argyrodb.physics.structure import analysed

    refused = analysed(read(REPO / "db" / "obelix_cifs" / "yav.cif"))
    assert {p.severity for p in refused.problems if p.kind == "not_argyrodite"} == {"error"}
    assert not refused.forced
    assert {p.severity for p in refused.at(10.5).problems if p.kind == "not_argyrodite"} == {"error"}
