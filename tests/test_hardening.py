"""Hardening: limits, database faults (kill, concurrency, versions), security, atomic outputs, start-up."""

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

from argyrodb.database import SCHEMA_VERSION, ReadOnlyDatabase, build_database
from argyrodb.errors import InputError
from argyrodb.reading import MAX_FILE_BYTES, read_cif_text, read_refinement_text, read_structure
from argyrodb_testing import LMA, MINIMAL_CIF, run

HEAVY = ("pymatgen", "numpy", "pandas", "scipy", "matplotlib", "gemmi", "spglib", "ase", "xraydb", "impedance")


# --------------------------------------------------------------------------- limits


def test_oversized_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * (MAX_FILE_BYTES + 10))
    start = time.perf_counter()
    with pytest.raises(InputError, match="over the 5000000-byte limit"):
        read_structure(path)
    assert time.perf_counter() - start < 1.0


def test_absurd_site_count_and_non_finite_numbers():
    rows = "\n".join(f"  - [L{i}, Li, 48h, 0.31, 0.69, 0.01, 0.001, 2.0]" for i in range(600))
    text = f"name: many\nnominal_formula: Li6PS5Cl\nsite_columns: [label, element, wyckoff, x, y, z, occupancy, b_iso]\nsites:\n{rows}\n"
    with pytest.raises(InputError, match="600 sites, over the limit of 500"):
        read_refinement_text(text, source="many.yaml")
    for bad in ("nan", "inf", "-inf"):
        with pytest.raises(InputError, match="not finite"):
            read_cif_text(MINIMAL_CIF.replace("Li1 Li1+ 0.3142", f"Li1 Li1+ {bad}"), source="nf.cif")
    with pytest.raises(InputError, match="not physical"):
        read_refinement_text(LMA.read_text().replace("0.5252, 2.6070, 1]", "0.5252, 1e300, 1]"), source="b.yaml")
    with pytest.raises(InputError, match="nested too deeply"):
        read_refinement_text("name: " + "[" * 50000 + "]" * 50000, source="deep.yaml")


# --------------------------------------------------------------------------- database faults


@pytest.fixture
def fresh_db(tmp_path):
    path = tmp_path / "argyrodb.sqlite"
    build_database(path, show_progress=False)
    return path


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
        "from argyrodb.queries import run_sql\n"
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
        counts = conn.execute("SELECT r.family, r.n_points, COUNT(s.idx) FROM screen_runs r JOIN screen_results s ON s.run_id = r.id GROUP BY r.id").fetchall()
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
    with sqlite3.connect(older) as conn:
        conn.executescript("DROP TABLE screen_peaks; DROP TABLE screen_results; DROP TABLE screen_runs; "
                           "ALTER TABLE milling DROP COLUMN gforce_computed; DELETE FROM schema_version WHERE version = 2;")
    with pytest.raises(InputError, match="run `argyrodb db migrate`"):
        ReadOnlyDatabase(older)
    result = run("db", "migrate", "--db", str(older))
    assert result.returncode == 0 and f"schema version 1 -> {SCHEMA_VERSION}" in result.stdout
    with ReadOnlyDatabase(older) as db:
        assert db.execute("SELECT COUNT(*) FROM table_s3")[1][0][0] == 16
    assert run("screen", "x", "--formulas", str(_formulas(tmp_path)), "--db", str(older), "--quiet").returncode == 0


def _formulas(tmp_path: Path) -> Path:
    path = tmp_path / "formulas.txt"
    path.write_text("Li6PS5Cl\nLi6PS5I\n")
    return path


# --------------------------------------------------------------------------- security


def test_sql_cannot_write_even_through_pragmas_or_attach(fresh_db, tmp_path):
    from argyrodb.queries import run_sql

    for statement in ("UPDATE materials SET formula = 'x'", "PRAGMA query_only = OFF; DELETE FROM milling",
                      f"ATTACH DATABASE '{tmp_path / 'evil.sqlite'}' AS evil", "CREATE TABLE t (x)", "PRAGMA query_only = OFF",
                      "BEGIN", "VACUUM"):
        with pytest.raises(InputError):
            run_sql(statement, fresh_db)
    assert not (tmp_path / "evil.sqlite").exists()
    assert run_sql("SELECT COUNT(*) AS n FROM milling", fresh_db)["n"][0] == 6


def test_serve_binds_localhost_read_only_by_default(fresh_db):
    pytest.importorskip("datasette")
    from argyrodb.serve import serve_command

    command = serve_command(fresh_db, "127.0.0.1", 8001, writable=False)
    assert command[command.index("--host") + 1] == "127.0.0.1" and "-i" in command
    assert "-i" not in serve_command(fresh_db, "127.0.0.1", 8001, writable=True)
    result = run("db", "serve", "--help")
    assert "default: 127.0.0.1" in result.stdout


def test_names_from_data_never_leave_the_output_folder(tmp_path):
    from argyrodb.approximants import generate, write
    from argyrodb.screening import ScreenSettings, Screener

    screener = Screener(ScreenSettings("x", formulas=["Li6PS5Cl"]))
    found = generate(screener, 0, n_structures=1, candidates=2)
    out = tmp_path / "a" / "b"
    paths = write(found, out, "../../../escape", ["cif"])
    assert all(p.resolve().parent == out.resolve() for p in paths)
    assert not list(tmp_path.glob("escape*"))


# --------------------------------------------------------------------------- atomic outputs


def test_interrupted_writes_leave_nothing(tmp_path, monkeypatch):
    from argyrodb import outputs
    from argyrodb.plotting import _save

    target = tmp_path / "peaks.csv"
    target.write_text("old content\n")

    def fail(_fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.os, "fsync", fail)
    with pytest.raises(KeyboardInterrupt):
        outputs.atomic_write_text(target, "new content that must not appear half-written\n" * 1000)
    assert target.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["peaks.csv"]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        _save(fig, tmp_path / "plot.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["peaks.csv"]


# --------------------------------------------------------------------------- start-up


@pytest.mark.parametrize("args", [["--help"], ["calc", "gforce", "--rpm", "550"], ["calc", "cpe", "--r", "31.65", "--q", "6.32e-7", "--alpha", "0.729"]])
def test_light_commands_do_not_import_heavy_modules(args):
    code = ("import sys, runpy\n"
            f"sys.argv = ['argyrodb', *{args!r}]\n"
            "try:\n    runpy.run_module('argyrodb', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stderr.strip() == ""
