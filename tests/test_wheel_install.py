"""argyrodb as users install it: a wheel (not editable) in a fresh virtual environment, run from an empty
folder outside the repository. The wheel must carry every data file the library needs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from argyrodb_testing import LMA, REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = tmp_path_factory.mktemp("build-tree")
    # build from a copy of the checkout's files (tracked, and new ones not ignored): the repository gets no build/ or egg-info
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        target = build / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(build)],
                   check=True, capture_output=True)
    return next(out.glob("argyrodb-*.whl"))


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    """A new venv with the wheel installed (no editable link to the checkout); its third-party
    dependencies come from the test environment's site-packages through a .pth file, so no download."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # .pth files inside the added folder (the editable argyrodb of the test environment) are not run
    (site / "argyrodb-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_wheel_carries_the_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("argyrodb/data/structures/LMA-Cl0.8I0.6.yaml", "argyrodb/data/structures/lattice_parameters.csv",
                     "argyrodb/data/literature/table_s3.csv", "argyrodb/data/literature/obelix_argyrodites.csv",
                     "argyrodb/data/oxidation_states.yaml", "argyrodb/data/wavelengths.yaml",
                     "argyrodb/store/migrations/0001_initial.sql", "argyrodb/store/datasette.yaml"):
        assert required in names, required
    assert not any(n.endswith((".sqlite", ".lock")) for n in names)


def test_installed_wheel_works_from_an_empty_folder(fresh_venv, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    shutil.copy(LMA, work / "LMA-Cl0.8I0.6.yaml")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ARGYRODB_DB")}
    env["HOME"] = str(tmp_path / "home")  # the default database would go here; nothing may need the checkout
    argyrodb = fresh_venv / "bin" / "argyrodb"

    def run(*args):
        result = subprocess.run([str(argyrodb), *args], capture_output=True, text=True, cwd=work, env=env)
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return result.stdout

    where = subprocess.run([str(fresh_venv / "bin" / "python"), "-c",
                            "import argyrodb, argyrodb.core.resources as r; print(argyrodb.__file__); print(r.structures_folder())"],
                           capture_output=True, text=True, cwd=work, env=env, check=True).stdout.split()
    assert all(str(fresh_venv) in w for w in where), where  # the wheel's package and data, not the checkout's

    report = run("build", "LMA-Cl0.8I0.6.yaml")
    assert "[predicted" in report and "Vegard fit" in report and "F-43m (216)" in report
    built = run("db", "build", "--db", "x.sqlite", "--quiet")
    assert "structures 4" in built
    table_s3 = run("db", "sql", "--db", "x.sqlite", "SELECT COUNT(*) AS n FROM table_s3", "--format", "csv")
    assert table_s3.split() == ["n", "16"]
    screened = run("screen", "Li5.6PS4.6Cl1.4-xIx", "--x", "0:1.4:0.1", "--db", "x.sqlite", "--quiet")
    assert "15 compositions" in screened and "(15 ok, 0 skipped)" in screened
    density = run("density", "Li5.6PS4.6Cl0.8I0.6", "--json")
    row = run("db", "sql", "--db", "x.sqlite", "SELECT a_angstrom FROM screen_results WHERE formula = 'Li5.6PS4.6Cl0.8I0.6'",
              "--format", "json")
    import json

    # one lattice model behind density and screening (the screening table stores a to 1e-10 A)
    assert json.loads(row)[0]["a_angstrom"] == pytest.approx(json.loads(density)["a_angstrom"], abs=1e-9)
    assert "audit summary" in run("audit", "--summary")
    run("xrd", "LMA-Cl0.8I0.6.yaml", "--csv", "p.csv")
    assert sorted(p.name for p in work.iterdir() if not p.name.startswith("x.sqlite")) == ["LMA-Cl0.8I0.6.yaml", "p.csv"]
