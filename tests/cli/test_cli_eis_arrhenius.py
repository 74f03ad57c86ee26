"""`argyrodb eis arrhenius` as a user runs it (issue 22, item 4): a temperature series of files in, Ea and sigma(25 °C)
out, a CSV that `argyrodb db add` takes, one-line errors that name the flag.

The files are written here from the closed forms of tests/physics/test_eis_series.py (a pellet with bulk Ea 0.35 eV
and grain-boundary Ea 0.45 eV, 0.3 % noise), as text tables with a title, a temperature line and the geometry.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from argyrodb import services
from argyrodb.cli.common import gather_option_values
from argyrodb.cli.eis import eis
from argyrodb.cli.eis_series import _NUMBERS, arrhenius
from argyrodb.physics import eis_series
from argyrodb.physics.calculators import BOLTZMANN_EV_K
from argyrodb_testing import run

T0 = 298.15
CELSIUS = [25, 40, 55, 70, 85, 100]
FREQUENCIES = np.logspace(6, -1, 71)


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    """The command in the `eis` group and the services names it uses (as the lead registers them)."""
    monkeypatch.setitem(eis.commands, "arrhenius", arrhenius)
    for name in ("fit_series", "plot_arrhenius", "stated_temperature"):
        monkeypatch.setattr(services, name, getattr(eis_series, name), raising=False)


def _impedance(t: float, seed: int) -> np.ndarray:
    omega = 2 * np.pi * FREQUENCIES
    z = 5.0 + 0j * omega
    for r25, ea, c, a in ((6e5, 0.35, 2e-11, 0.95), (2e6, 0.45, 2e-9, 0.9)):
        r = r25 * (t / T0) * math.exp(ea / BOLTZMANN_EV_K * (1 / t - 1 / T0))
        z = z + r / (1 + r * c ** a * r ** (a - 1) * (1j * omega) ** a)
    z = z + 1 / (5e-6 * (1j * omega) ** 0.85)
    rng = np.random.default_rng(seed)
    return z + 0.003 * np.abs(z) * (rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size))


def _write(folder, header_temperature: bool, geometry: bool = True) -> list[str]:
    paths = []
    for i, celsius in enumerate(CELSIUS):
        z = _impedance(celsius + 273.15, i)
        header = [f"pellet-{celsius}deg"]
        if header_temperature:
            header.append(f"Temperature [°C]: {celsius}")
        if geometry:
            header.append("Diameter[mm]: 11.2837917  Thickness[mm]: 1.0")
        lines = [*header, "Freq.[Hz]\tZs'[ohm]\tZs''[ohm]"]
        lines += [f"{f:.9e}\t{v.real:.9e}\t{v.imag:.9e}" for f, v in zip(FREQUENCIES, z)]
        path = folder / f"pellet-{celsius}deg.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths


def test_temperatures_and_geometry_from_the_files(tmp_path):
    files = _write(tmp_path, header_temperature=True)
    result = run("eis", "arrhenius", *files, "--json")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    payload = json.loads(result.stdout)
    bulk = payload["arrhenius"]["bulk"]
    assert bulk["ea_eV"] == pytest.approx(0.35, abs=0.005) and bulk["n_points"] == 6
    assert bulk["sigma_25C_mS_cm"]["value"] == pytest.approx(1000 * 0.1 / 6e5, rel=0.01)
    assert payload["points"][0]["temperature_source"] == "file line 2: 'Temperature [°C]: 25'"
    text = run("eis", "arrhenius", *files)
    bulk_line = next(line for line in text.stdout.splitlines() if line.startswith("  bulk: Ea = "))
    assert float(bulk_line.split()[3]) == pytest.approx(0.35, abs=0.005) and "6 points, 298.15-373.15 K, weighted" in bulk_line
    assert "(interpolated within the fitted temperatures)" in text.stdout


@pytest.mark.parametrize("order", ["after", "before", "commas", "repeated"])
def test_temperature_c_in_every_spelling(tmp_path, order):
    files = _write(tmp_path, header_temperature=False)
    values = [str(c) for c in CELSIUS]
    flags = {"after": [*files, "--temperature-c", *values], "before": ["--temperature-c", *values, *files],
             "commas": [*files, "--temperature-c", ",".join(values)],
             "repeated": [*files, *[x for v in values for x in ("--temperature-c", v)]]}[order]
    result = run("eis", "arrhenius", *flags, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [p["temperature_C"] for p in payload["points"]] == pytest.approx(CELSIUS)
    assert payload["arrhenius"]["bulk"]["ea_eV"] == pytest.approx(0.35, abs=0.005)


def _gather_temperatures(args: list[str]) -> list[str]:
    return gather_option_values(args, "--temperature-c", _NUMBERS.fullmatch)


def test_gathering_stops_at_options_and_files(tmp_path):
    existing = tmp_path / "150"
    existing.write_text("x")
    assert _gather_temperatures(["a", "--temperature-c", "1", "2", "--json", "3"]) == ["a", "--temperature-c", "1,2", "--json", "3"]
    assert _gather_temperatures(["--temperature-c=-20", "-10", str(existing)]) == ["--temperature-c", "-20,-10", str(existing)]
    assert _gather_temperatures(["--temperature-c", "1", "--", "2"]) == ["--temperature-c", "1", "--", "2"]


@pytest.mark.parametrize("extra, flag", [
    (["--temperature-c", "25", "40", "55"], "--temperature-c: 3 temperatures for 6 FILE arguments"),
    (["--temperature-c", "25,40,x,70,85,100"], "--temperature-c: not a number: 'x'"),
    (["--temperature-c", "-300,40,55,70,85,100"], "--temperature-c: -300 °C is not a temperature"),
    (["--thickness-mm", "1"], "--diameter-mm: the conductivity needs the thickness and the diameter"),
    (["--diameter-mm", "10", "--area-cm2", "1"], "--area-cm2: give the area or the diameter, not both"),
    (["--csv", "out.csv"], "--formula: the --csv rows"),
])
def test_one_line_errors_name_the_flag(tmp_path, extra, flag):
    files = _write(tmp_path, header_temperature=True)
    result = run("eis", "arrhenius", *files, *extra, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"argyrodb: error: {flag}") and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_unknown_temperature_names_the_file_and_the_flag(tmp_path):
    files = _write(tmp_path, header_temperature=False)
    result = run("eis", "arrhenius", *files)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"argyrodb: error: {files[0]}: no temperature stated") and "--temperature-c" in result.stderr


def test_csv_goes_into_the_database(tmp_path, fresh_db):
    """--csv writes what `db add` takes: added (exit 0) into a built database and found by `db query`."""
    files = _write(tmp_path, header_temperature=True)
    out, plot = tmp_path / "series.csv", tmp_path / "series.png"
    result = run("eis", "arrhenius", *files, "--formula", "Li6PS5Cl", "--csv", str(out), "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 12 rows" in result.stdout and plot.read_bytes()[:4] == b"\x89PNG"
    header = out.read_text().splitlines()[0]
    assert header == "formula,sigma_mS_cm,temperature_K,activation_energy_eV,sigma_kind,sigma_method,note"
    added = run("db", "add", str(out), "--db", str(fresh_db))
    assert added.returncode == 0 and "12 measurements" in added.stdout, added.stderr
    query = run("db", "query", "--db", str(fresh_db), "--dataset", "user", "--format", "json",
                "--columns", "material_printed,sigma_mS_cm,temperature_K,activation_energy_eV,sigma_kind")
    rows = json.loads(query.stdout)
    assert len(rows) == 12 and {r["material_printed"] for r in rows} == {"Li6PS5Cl"}
    assert sorted({r["temperature_K"] for r in rows}) == pytest.approx([c + 273.15 for c in CELSIUS])
    bulk = [r for r in rows if r["sigma_kind"] == "bulk"]
    assert len({r["activation_energy_eV"] for r in bulk}) == 1 and bulk[0]["activation_energy_eV"] == pytest.approx(0.35, abs=0.005)
