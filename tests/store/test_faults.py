"""Database faults and safety: killed builds, concurrent writers, schema versions, read-only SQL, paths."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_datasets import UNDO_9  # schema 9 back to 8
from test_foreign_key_indexes import UNDO_8  # schema 8 back to 7

from argyrodb.core.errors import InputError
from argyrodb.pipeline.build import build_database
from argyrodb.store.connection import ReadOnlyDatabase, migrate_file
from argyrodb.store.migrations import SCHEMA_VERSION
from argyrodb_testing import run

HEAVY = ("pymatgen", "numpy", "pandas", "scipy", "matplotlib", "gemmi", "spglib", "ase", "xraydb", "impedance")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_killed_build_leaves_the_old_database(fresh_db):
    before = _sha(fresh_db)
    process = subprocess.Popen([sys.executable, "-m", "argyrodb", "db", "build", "--db", str(fresh_db), "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(fresh_db.parent.glob(f".{fresh_db.name}.*.tmp")):
        time.sleep(0.01)
    time.sleep(0.3)  # let it write into the temporary file
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert _sha(fresh_db) == before
    with sqlite3.connect(fresh_db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert run("db", "build", "--db", str(fresh_db), "--quiet").returncode == 0


def test_concurrent_screens_and_readers_lose_no_rows(fresh_db):
    families = [("Li5.6PS4.6Cl1.4-xIx", "0:1.4:0.002"), ("Li5.6PS4.6Cl1.4-xBrx", "0:1.4:0.002"), ("Li5.6PS4.6Br1.4-xIx", "0:1.4:0.002")]
    writers = [subprocess.Popen([sys.executable, "-m", "argyrodb", "screen", family, "--x", grid, "--db", str(fresh_db), "--quiet", "--no-peaks"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for family, grid in families]
    reader = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from argyrodb.store.queries import run_sql\n"
        "n = 0\n"
        "end = time.monotonic() + 8\n"
        "while time.monotonic() < end:\n"
        "    run_sql('SELECT COUNT(*) FROM screen_results', sys.argv[1]); n += 1\n"
        "print(n)\n"), str(fresh_db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [w.communicate(timeout=300) for w in writers]
    reads, reader_err = reader.communicate(timeout=120)
    assert all(w.returncode == 0 for w in writers), [o[1] for o in outputs]
    assert reader.returncode == 0, reader_err
    assert int(reads) > 5
    with sqlite3.connect(fresh_db) as conn:
        counts = conn.execute("SELECT r.family, r.n_points, COUNT(s.idx) FROM screen_runs r JOIN screen_results s ON s.run_id = r.id "
                              "GROUP BY r.id").fetchall()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(counts) == 3 and all(n == stored == 701 for _, n, stored in counts)


def test_newer_schema_is_refused_and_older_is_migrated(fresh_db, tmp_path):
    newer = tmp_path / "newer.sqlite"
    shutil.copy(fresh_db, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'from the future')")
    with pytest.raises(InputError, match="newer than this argyrodb"):
        ReadOnlyDatabase(newer)
    result = run("screen", "Li6PS5Cl", "--formulas", str(_formulas(tmp_path)), "--db", str(newer), "--quiet")
    assert result.returncode == 2 and "newer than this argyrodb" in result.stderr

    older = tmp_path / "older.sqlite"
    shutil.copy(fresh_db, older)
    with sqlite3.connect(older) as conn:  # undo migrations 3 and 2: a database written by argyrodb 0.1's first schema
        conn.executescript(UNDO_9 + UNDO_8 + UNDO_7 + UNDO_6 + UNDO_5 + UNDO_4 + UNDO_3
                           + "DROP TABLE screen_peaks; DROP TABLE screen_results; DROP TABLE screen_runs; "
                           "ALTER TABLE milling DROP COLUMN gforce_computed; DELETE FROM schema_version WHERE version = 2;")
    with pytest.raises(InputError, match="run `argyrodb db migrate`"):
        ReadOnlyDatabase(older)
    result = run("db", "migrate", "--db", str(older))
    assert result.returncode == 0 and f"schema version 1 -> {SCHEMA_VERSION}" in result.stdout
    with ReadOnlyDatabase(older) as db:
        assert db.execute("SELECT COUNT(*) FROM table_s3")[1][0][0] == 16
    assert run("screen", "x", "--formulas", str(_formulas(tmp_path)), "--db", str(older), "--quiet").returncode == 0


#: Back to version 4 as far as the test needs: the new tables, indexes and the screen_results column go; the new
#: measurements/structures columns stay (SQLite cannot drop a column with a foreign key), which migration 5 copes with.
UNDO_7 = ("DROP VIEW screen_peaks; DROP TABLE screen_lines; ALTER TABLE screen_results DROP COLUMN intensities_rel; "
          "DROP TABLE screen_peak_index; ALTER TABLE screen_runs DROP COLUMN peaks_indexed; "
          "CREATE TABLE screen_peaks (run_id INTEGER NOT NULL, idx INTEGER NOT NULL, position INTEGER NOT NULL, "
          "hkl TEXT NOT NULL, component TEXT NOT NULL, two_theta_deg REAL NOT NULL, d_angstrom REAL NOT NULL CHECK (d_angstrom > 0), "
          "multiplicity INTEGER NOT NULL CHECK (multiplicity > 0), "
          "intensity_rel REAL NOT NULL CHECK (intensity_rel >= 0 AND intensity_rel <= 100), PRIMARY KEY (run_id, idx, position), "
          "FOREIGN KEY (run_id, idx) REFERENCES screen_results(run_id, idx)); "
          "CREATE INDEX idx_screen_peaks_window ON screen_peaks(two_theta_deg, intensity_rel); "
          "CREATE INDEX idx_screen_peaks_run_window ON screen_peaks(run_id, two_theta_deg); "
          "DELETE FROM schema_version WHERE version = 7; ")
UNDO_6 = "DROP TABLE refinements; DELETE FROM schema_version WHERE version = 6; "
UNDO_5 = ("DROP VIEW measurements_full; DROP VIEW table_s3; DROP VIEW measurement_structures; DROP TABLE user_rows; "
          "DROP TABLE user_imports; DROP INDEX idx_screen_results_run_a; DROP INDEX idx_screen_peaks_window; DROP INDEX idx_screen_peaks_run_window; "
          "ALTER TABLE screen_results DROP COLUMN amounts_json; DROP INDEX idx_measurements_user_import; "
          "DELETE FROM schema_version WHERE version = 5; ")
UNDO_4 = ("".join(f"ALTER TABLE screen_results DROP COLUMN {c}; " for c in
                  ("a_note", "nearest_n", "nearest_sigma_min_mS_cm", "nearest_sigma_max_mS_cm"))
          + "DELETE FROM schema_version WHERE version = 4; ")
UNDO_3 = ("DROP VIEW IF EXISTS measurement_structures; DROP TABLE refused_structures; DROP INDEX idx_structures_dataset; "
          "DELETE FROM xrd_peaks WHERE pattern_id IN (SELECT p.id FROM xrd_patterns p JOIN structures s ON s.id = p.structure_id "
          "WHERE s.dataset != 'argyrodb'); "
          "DELETE FROM xrd_patterns WHERE structure_id IN (SELECT id FROM structures WHERE dataset != 'argyrodb'); "
          "DELETE FROM structure_sites WHERE structure_id IN (SELECT id FROM structures WHERE dataset != 'argyrodb'); "
          "DELETE FROM structure_problems WHERE structure_id IN (SELECT id FROM structures WHERE dataset != 'argyrodb'); "
          "DELETE FROM structures WHERE dataset != 'argyrodb'; "
          + "".join(f"ALTER TABLE structures DROP COLUMN {c}; " for c in ("dataset", "dataset_id", "caveat", "licence", "attribution"))
          + "DELETE FROM schema_version WHERE version = 3; ")


def test_a_version_2_database_gets_every_later_migration(fresh_db, tmp_path):
    from argyrodb_testing import run

    v2 = tmp_path / "v2.sqlite"
    shutil.copy(fresh_db, v2)
    with sqlite3.connect(v2) as conn:
        conn.executescript(UNDO_9 + UNDO_8 + UNDO_7 + UNDO_6 + UNDO_5 + UNDO_4 + UNDO_3)
    assert f"schema version 2 -> {SCHEMA_VERSION}" in run("db", "migrate", "--db", str(v2)).stdout
    with ReadOnlyDatabase(v2) as db:
        versions = db.execute("SELECT version, description FROM schema_version ORDER BY version")[1]
        assert [v for v, _ in versions] == list(range(1, SCHEMA_VERSION + 1)) and "literature structures" in versions[2][1]
        assert db.execute("SELECT COUNT(*) FROM structures WHERE dataset = 'argyrodb'")[1][0][0] == 4
        assert db.execute("SELECT COUNT(*) FROM measurements_full")[1][0][0] == 69
        assert db.execute("SELECT COUNT(*) FROM measurement_structures")[1][0][0] == 0  # OBELiX structures were undone


def _formulas(tmp_path: Path) -> Path:
    path = tmp_path / "formulas.txt"
    path.write_text("Li6PS5Cl\nLi6PS5I\n")
    return path


def test_sql_cannot_write_even_through_pragmas_or_attach(fresh_db, tmp_path):
    from argyrodb.store.queries import run_sql

    for statement in ("UPDATE materials SET formula = 'x'", "PRAGMA query_only = OFF; DELETE FROM milling",
                      f"ATTACH DATABASE '{tmp_path / 'evil.sqlite'}' AS evil", "CREATE TABLE t (x)", "PRAGMA query_only = OFF",
                      "BEGIN", "VACUUM"):
        with pytest.raises(InputError):
            run_sql(statement, fresh_db)
    assert not (tmp_path / "evil.sqlite").exists()
    assert run_sql("SELECT COUNT(*) AS n FROM milling", fresh_db)["n"][0] == 6


def test_serve_binds_localhost_read_only_by_default(fresh_db):
    # read-only through the served connections (query_only), not Datasette's immutable mode: see test_serve_limits
    pytest.importorskip("datasette")
    from argyrodb.store.datasette_plugin import ArgyrodbPlugin

    for writable in (False, True):
        conn = sqlite3.connect(fresh_db)
        try:
            ArgyrodbPlugin(fresh_db.stem, writable, {}).prepare_connection(conn, fresh_db.stem, None)
            assert conn.execute("PRAGMA query_only").fetchone()[0] == (not writable)
        finally:
            conn.close()
    result = run("db", "serve", "--help")
    assert "default: 127.0.0.1" in result.stdout


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
    _out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM screen_results").fetchone()[0] == 2801
        assert conn.execute("SELECT COUNT(*) FROM table_s3").fetchone()[0] == 16


@pytest.mark.parametrize("folder", ["run #1", "what?", "pct%41"])
def test_read_only_open_of_paths_with_uri_characters(fresh_db, tmp_path, folder):
    target = tmp_path / folder / "argyrodb.sqlite"
    target.parent.mkdir()
    fresh_db.rename(target)
    with ReadOnlyDatabase(target) as db:
        assert db.execute("SELECT COUNT(*) FROM table_s3")[1][0][0] == 16
    # a URI read wrongly would create a file named by the part before "#", "?" or "%41"
    assert sorted(p.name for p in target.parent.iterdir()) == ["argyrodb.sqlite"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder]


def test_schema_reading_pragmas_and_short_text(db_path):
    from argyrodb.store.queries import MeasurementFilter, query_measurements, run_sql

    assert "sigma_mS_cm" in run_sql("SELECT name FROM pragma_table_info('measurements')", db_path)["name"].tolist()
    assert len(run_sql("PRAGMA index_list(measurements)", db_path)) >= 6
    with pytest.raises(InputError):
        run_sql("PRAGMA schema_version = 5", db_path)
    with pytest.raises(InputError):
        run_sql("SELECT length(randomblob(999999999))", db_path)
    rows = query_measurements(MeasurementFilter(dataset="table_s3", text="Br"), db_path=db_path)
    assert sorted(rows["dataset_row"]) == [14]


def test_an_empty_file_is_never_taken_for_a_database(tmp_path):
    from argyrodb_testing import run

    empty = tmp_path / "empty.sqlite"
    empty.touch()
    for args in (["db", "migrate", "--db", str(empty)], ["screen", "Li6PS5Cl", "--formulas", str(_formulas(tmp_path)), "--db", str(empty)]):
        result = run(*args)
        assert result.returncode == 2 and "not an argyrodb database" in result.stderr, args
    assert empty.stat().st_size == 0


def test_optimade_species_follow_the_analysed_positions(tmp_path):
    """Rows of one element split on one site, and two elements on one site at rounding-different
    coordinates, are one OPTIMADE species each - as the analysis groups them."""
    import json

    from argyrodb.pipeline.build import build_database
    from argyrodb.store.export import optimade_entries
    from argyrodb_testing import structure

    text = structure("Li6PS5Cl").read_text()
    text = text.replace("  - [Li1, Li, 48h, 0.3142, 0.6858, 0.0148, 0.419, 2.6070, null]",
                        "  - [Li1a, Li, 48h, 0.3142, 0.6858, 0.0148, 0.200, 2.6070, null]\n"
                        "  - [Li1b, Li, 48h, 0.3142, 0.6858, 0.0148, 0.219, 2.6070, null]")
    assert "Li1b" in text
    path = tmp_path / "Li6PS5Cl.yaml"
    path.write_text(text)
    db = tmp_path / "o.sqlite"
    build_database(db, structure_paths=[path], show_progress=False)
    entry = optimade_entries(db)[0]["attributes"]
    li = next(s for s in entry["species"] if s["name"] == "Li1a_Li1b")
    assert li["chemical_symbols"] == ["Li", "vacancy"] and li["concentration"] == pytest.approx([0.419, 0.581])
    li_per_cell = sum(dict(zip(s["chemical_symbols"], s["concentration"])).get("Li", 0) * entry["species_at_sites"].count(s["name"])
                      for s in entry["species"])
    assert li_per_cell == pytest.approx(24.0) and json.dumps(entry)


def test_peaks_of_a_version_6_database_move_into_the_compact_form(fresh_db, tmp_path):
    """Migration 7 turns a run's stored peak rows into screen_lines + intensities_rel; the screen_peaks view then
    gives back every row (2theta and d recomputed from a, to 1e-9) of a real screening run stored the old way."""
    import numpy as np

    from argyrodb.screening.screener import Screener, ScreenSettings

    v6 = tmp_path / "v6.sqlite"
    shutil.copy(fresh_db, v6)
    screener = Screener(ScreenSettings("Li5.6PS4.6Cl1.4-xIx", {"x": [0.0, 0.35, 0.7, 1.4]}, wavelength="CuKa12"))
    results = screener.evaluate_chunk(range(4))
    old_rows = [(1, r["idx"], position, hkl, component, tt, d, mult, rel)
                for r in results for position, (hkl, _, tt, d, mult, rel, component) in enumerate(screener.peaks(r))]
    with sqlite3.connect(v6) as conn:
        conn.executescript(UNDO_9 + UNDO_8 + UNDO_7)
        conn.execute("INSERT INTO screen_runs (id, key, family, settings_json, model_json, argyrodb_version, n_points) "
                     "VALUES (1, 'k', 'f', '{}', '{}', 'old', 4)")
        conn.executemany("INSERT INTO screen_results (run_id, idx, variables_json, formula, status, a_angstrom) VALUES (1, ?, '{}', ?, 'ok', ?)",
                         [(r["idx"], r["formula"], r["a_angstrom"]) for r in results])
        conn.executemany("INSERT INTO screen_peaks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", old_rows)
    migrate_file(v6)
    with ReadOnlyDatabase(v6) as db:
        lines = db.execute("SELECT position, hkl, component FROM screen_lines WHERE run_id = 1 ORDER BY position")[1]
        new_rows = db.execute("SELECT run_id, idx, hkl, component, two_theta_deg, d_angstrom, multiplicity, intensity_rel "
                              "FROM screen_peaks ORDER BY idx, two_theta_deg, component")[1]
    assert len(new_rows) == len(old_rows) > 100
    assert len(lines) == len({(r[3], r[4]) for r in old_rows})  # one line per (hkl, K-alpha component)
    expected = sorted(old_rows, key=lambda r: (r[1], r[5], r[4]))
    for old, new in zip(expected, new_rows):
        assert (old[1], old[3], old[4], old[7]) == (new[1], new[2], new[3], new[6])
        assert np.allclose([old[5], old[6]], new[4:6], rtol=1e-9, atol=1e-9)
        assert new[7] == pytest.approx(old[8], abs=5.01e-4)  # intensities kept to 3 decimals
