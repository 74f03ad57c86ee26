"""Regression tests for the bugs a code review found (each failed before its fix)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from argyrodb.database import ReadOnlyDatabase, build_database
from argyrodb.errors import InputError
from argyrodb_testing import MINIMAL_CIF


def test_rebuild_during_a_running_screen_keeps_every_row(tmp_path):
    db = tmp_path / "race.sqlite"
    build_database(db, show_progress=False)
    command = [sys.executable, "-m", "argyrodb", "screen", "Li5.6PS4.6Cl1.4-xIx", "--x", "0:1.4:0.0005", "--db", str(db), "--quiet", "--no-peaks"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sqlite3.connect(db, timeout=30) as conn:
            if conn.execute("SELECT name FROM sqlite_master WHERE name = 'screen_results'").fetchone() and \
                    conn.execute("SELECT COUNT(*) FROM screen_results").fetchone()[0] > 0:
                break
        time.sleep(0.05)
    build_database(db, show_progress=False)  # while the screen goes on writing
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM screen_results").fetchone()[0] == 2801
        assert conn.execute("SELECT COUNT(*) FROM table_s3").fetchone()[0] == 16


def test_halide_free_grid_point_is_skipped_not_fatal():
    from argyrodb.screening import ScreenSettings, Screener

    screener = Screener(ScreenSettings("Li7-xPS6-xClx", {"x": [0.0, 1.0]}))
    first, second = screener.evaluate(0), screener.evaluate(1)
    assert first["status"] == "skipped" and "no lattice parameter" in first["reason"]
    assert second["status"] == "ok"


def test_run_key_follows_the_template_content(tmp_path):
    from argyrodb.screening import DEFAULT_TEMPLATE, ScreenSettings

    a, b = tmp_path / "a" / "t.yaml", tmp_path / "b" / "t.yaml"
    for path, occupancy in ((a, "0.5252"), (b, "0.0500")):
        path.parent.mkdir()
        path.write_text(DEFAULT_TEMPLATE.read_text().replace("0.0148, 0.5252", f"0.0148, {occupancy}"))
    keys = {ScreenSettings("Li6PS5Cl", formulas=["Li6PS5Cl"], template=str(p)).key() for p in (a, b)}
    assert len(keys) == 2


def test_nominal_density_uses_the_cell_z(tmp_path):
    from argyrodb.api import analyse

    path = tmp_path / "double.yaml"
    path.write_text(Path("structures/Li6PS5Cl.yaml").read_text().replace("nominal_formula: Li6PS5Cl", "nominal_formula: Li12P2S10Cl2"))
    _, report = analyse(path)
    assert report.z == 2
    assert report.nominal_density_g_cm3 == pytest.approx(report.density_g_cm3)


@pytest.mark.parametrize("folder", ["run #1", "what?", "pct%41"])
def test_read_only_open_of_paths_with_uri_characters(tmp_path, folder):
    target = tmp_path / folder / "argyrodb.sqlite"
    target.parent.mkdir()
    build_database(target, show_progress=False)
    with ReadOnlyDatabase(target) as db:
        assert db.execute("SELECT COUNT(*) FROM table_s3")[1][0][0] == 16
    assert sorted(p.name for p in target.parent.iterdir()) == ["argyrodb.sqlite", "argyrodb.sqlite.lock"]


def test_schema_reading_pragmas_and_short_text(db_path):
    from argyrodb.queries import MeasurementFilter, query_measurements, run_sql

    assert "sigma_mS_cm" in run_sql("SELECT name FROM pragma_table_info('measurements')", db_path)["name"].tolist()
    assert len(run_sql("PRAGMA index_list(measurements)", db_path)) >= 6
    with pytest.raises(InputError):
        run_sql("PRAGMA schema_version = 5", db_path)
    with pytest.raises(InputError):
        run_sql("SELECT length(randomblob(999999999))", db_path)
    rows = query_measurements(MeasurementFilter(dataset="table_s3", text="Br"), db_path=db_path)
    assert sorted(rows["dataset_row"]) == [14]


def test_audit_expressions_accept_scientific_notation():
    from argyrodb.audit import _evaluate

    assert _evaluate("rho * vs**2 * 1e-9", rho=1900.0, vs=2200.0, vl=4000.0) == pytest.approx(9.196)
    with pytest.raises(InputError):
        _evaluate("__import__('os')", rho=1.0, vs=1.0, vl=1.0)


def test_cif_listing_the_whole_cell_is_read_as_its_asymmetric_unit():
    from argyrodb.reading import read_cif_text

    copies = MINIMAL_CIF.replace("P1 P5+ 0 0 0.5 1 0.011", "P1 P5+ 0 0 0.5 1 0.011\nP2 P5+ 0.5 0.5 0.5 1 0.011\nP3 P5+ 0 0.5 0 1 0.011")
    refinement = read_cif_text(copies, source="full.cif")
    assert [s.label for s in refinement.sites if s.element == "P"] == ["P1"]
    assert refinement.provenance["symmetry_equivalent_rows_dropped"] == "P2, P3"
