"""Regression tests for the bugs a code review found (each failed before its fix)."""

from __future__ import annotations

import os
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


# --------------------------------------------------------------------------- second review


def _cli(*args):
    from argyrodb_testing import run

    return run(*args)


def test_multiline_texts_still_give_readable_cifs(tmp_path):
    import gemmi

    text = Path("structures/Li6PS5Cl.yaml").read_text().replace("name: Li6PS5Cl", "name: |-\n  Li6PS5Cl\n  second line")
    text = text.replace("  note: >-\n    9.84988 A, Rao & Adams 2011 (ICSD 142473), room temperature",
                        "  note: |-\n    9.84988 A, Rao & Adams 2011 (ICSD 142473),\n    room temperature")
    source = tmp_path / "multi.yaml"
    source.write_text(text)
    out = tmp_path / "multi.cif"
    assert _cli("build", str(source), "--cif", str(out)).returncode == 0
    assert gemmi.read_small_structure(str(out)).spacegroup.number == 216


def test_outputs_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        from argyrodb.outputs import atomic_write_text

        path = atomic_write_text(tmp_path / "a.csv", "x\n")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_elements_without_a_site_are_refused_not_dropped(tmp_path):
    from argyrodb.screening import ScreenSettings, Screener

    result = Screener(ScreenSettings("x", formulas=["Li5.5Na0.5PS5Cl"])).evaluate(0)
    assert result["status"] == "skipped" and "Na has no site" in result["reason"]
    cli = _cli("approximants", "Li5.5Na0.5PS5Cl", "-n", "1", "--candidates", "2", "--out", str(tmp_path / "ap"))
    assert cli.returncode == 2 and "Na has no site" in cli.stderr and not (tmp_path / "ap").exists()


def test_no_partial_outputs(tmp_path):
    csv = tmp_path / "p.csv"
    result = _cli("xrd", "structures/Li6PS5Cl.yaml", "--csv", str(csv), "--plot", str(tmp_path / "missing" / "p.png"))
    assert result.returncode == 2 and not csv.exists()
    result = _cli("approximants", "Li6PS5Cl", "-n", "1", "--candidates", "2", "--format", "poscar,xyz", "--out", str(tmp_path / "ap"))
    assert result.returncode == 2 and "unknown format 'xyz'" in result.stderr and not (tmp_path / "ap").exists()


def test_export_is_all_or_nothing(db_path, tmp_path):
    import shutil

    old = tmp_path / "old.sqlite"
    shutil.copy(db_path, old)
    with sqlite3.connect(old) as conn:
        conn.execute("DROP TABLE eis_fits")
    result = _cli("db", "export", "--db", str(old), "--out", str(tmp_path / "exp"))
    assert result.returncode == 2 and not (tmp_path / "exp").exists()


def test_obelix_import_refuses_wrong_files_and_keeps_the_target(tmp_path):
    target = tmp_path / "ob.csv"
    target.write_text("kept\n")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("foo,bar\n1,2\n")
    result = _cli("db", "import-obelix", str(wrong), "--out", str(target))
    assert result.returncode == 2 and "missing column 'ID'" in result.stderr and target.read_text() == "kept\n"
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"ID,Family\n\xe9,x\n")
    assert "not UTF-8" in _cli("db", "import-obelix", str(latin), "--out", str(target)).stderr
    sample = Path(__file__).parent / "data" / "obelix_sample.csv"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + sample.read_bytes())
    assert _cli("db", "import-obelix", str(bom), "--out", str(target)).returncode == 0
    zero = tmp_path / "z0.csv"
    zero.write_text(sample.read_text().replace(",4,Li24.0P4.0S20.0Cl4.0,", ",0,Li24.0P4.0S20.0Cl4.0,", 1))
    assert "Z must be positive" in _cli("db", "import-obelix", str(zero), "--out", str(target)).stderr


@pytest.mark.parametrize("args, message", [
    (["calc", "ccd", "--step", "1", "--max", "0.5"], "below one step"),
    (["calc", "gforce", "--table", "nan:800:50"], "START <= STOP"),
    (["calc", "gforce", "--table", "550:inf:50"], "STEP"),
    (["db", "compare", "Li0"], "no atoms"),
    (["db", "compare", "Li6PS5Cl", "--nearest", "-3"], "at least 1"),
    (["db", "compare", "Li6PS5Cl", "--sigma", "-1"], "must be positive"),
    (["xrd", "structures/Li6PS5Cl.yaml", "--caglioti", "-1", "-1", "-1"], "no positive FWHM"),
    (["build", "structures/Li6PS5Cl.yaml", "--cif", "x.cif", "--cif-dir", "d"], "not both"),
])
def test_more_bad_input_gets_one_line_and_exit_2(args, message):
    result = _cli(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_gforce_table_stops_at_stop():
    import json

    rows = json.loads(_cli("calc", "gforce", "--table", "550:800:300", "--json").stdout)
    assert [r["rpm"] for r in rows] == [550]


def test_non_utf8_inputs_and_zero_patterns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"temperature_K,sigma_S_cm\n300,\xff\n")
    assert "not UTF-8" in _cli("calc", "arrhenius", str(bad)).stderr
    zero = tmp_path / "zero.xy"
    zero.write_text("\n".join(f"{10 + 0.1 * i:.1f} 0" for i in range(100)))
    result = _cli("xrd", "structures/Li6PS5Cl.yaml", "--two-theta", "10", "19", "--measured", str(zero), "--json")
    assert result.returncode == 2 and "R_wp is undefined" in result.stderr


def test_duplicate_cif_targets_are_refused(tmp_path):
    copy = tmp_path / "copy.yaml"
    copy.write_text(Path("structures/Li6PS5Cl.yaml").read_text())
    result = _cli("build", "structures/Li6PS5Cl.yaml", str(copy), "--cif-dir", str(tmp_path / "d"))
    assert result.returncode == 2 and "same structure name" in result.stderr and not (tmp_path / "d").exists()


def test_formula_text_keeps_its_decimals():
    from argyrodb.chemistry import format_formula, parse_formula

    text = format_formula({"Li": 123.4567891, "Cl": 1e-5}, decimals=6)
    assert text == "Li123.456789Cl0.00001" and parse_formula(text) == pytest.approx({"Li": 123.456789, "Cl": 1e-5})
