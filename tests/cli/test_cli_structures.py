"""`argyrodb build` and `density` as a user runs them: exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import json

import pytest

from argyrodb_testing import DATA, LMA, run

BUILD_KEYS = {"name", "nominal_formula", "formula_per_fu", "space_group_number", "a_angstrom", "a_source",
              "density_g_cm3", "charge_per_fu", "problems"}


def test_build_json(tmp_path):
    out = tmp_path / "lma.cif"
    result = run("build", str(LMA), "--json", "--cif", str(out))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) >= BUILD_KEYS
    assert payload["space_group_number"] == 216
    assert payload["formula_per_fu"]["Li"] == pytest.approx(6.5388, abs=1e-4)
    assert payload["charge_per_fu"] == pytest.approx(1.2241, abs=1e-4)
    assert {"site", "kind", "severity", "message"} <= set(payload["problems"][0])
    assert any(p["kind"] == "wyckoff_mismatch" and p["site"] == "S3" for p in payload["problems"])
    assert out.exists() and "data_LMA-Cl0.8I0.6" in out.read_text()


def test_build_text_report_and_a_override():
    result = run("build", str(LMA), "--a", "9.95")
    assert result.returncode == 0
    assert "9.95000 A  [given by the user]" in result.stdout
    assert "[wyckoff_mismatch] S3: reported '4c'" in result.stdout


def test_density_json():
    result = run("density", "Li6PS5Cl", "--a", "9.859", "--json")
    payload = json.loads(result.stdout)
    assert payload["density_g_cm3"] == pytest.approx(1.860, abs=6e-4)
    assert payload["molar_volume_cm3_mol"] == pytest.approx(6.02214076e23 * (9.859e-8) ** 3 / 4)
    result = run("density", str(LMA), "--json")
    payload = json.loads(result.stdout)
    assert {"density_g_cm3", "molar_volume_cm3_mol", "nominal_density_g_cm3"} <= set(payload)


def test_one_bad_file_writes_nothing_for_the_others(tmp_path):
    path = DATA / "bad_inputs" / "over_filled.yaml"
    out_dir = tmp_path / "cifs"
    result = run("build", str(LMA), str(path), "--cif-dir", str(out_dir))
    assert result.returncode == 2
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_cif_dir_names_stay_inside(tmp_path):
    text = LMA.read_text().replace("name: LMA-Cl0.8I0.6", "name: ../../escape")
    path = tmp_path / "evil.yaml"
    path.write_text(text)
    out_dir = tmp_path / "a" / "b"
    result = run("build", str(path), "--cif-dir", str(out_dir))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in out_dir.iterdir()] == ["escape.cif"]
    assert not (tmp_path / "escape.cif").exists()


def test_help_lists_commands():
    result = run("--help")
    assert result.returncode == 0
    assert "build" in result.stdout and "density" in result.stdout
