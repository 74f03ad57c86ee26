"""`argyrodb db export`: every table and view of the database's schema (screening runs and their peaks, XRD
patterns, refused structures, the views; tables a later migration adds), streamed in chunks, all or nothing."""

from __future__ import annotations

import csv
import json
import math
import shutil
import sqlite3
import tracemalloc

import pytest

from argyrodb.core.errors import InputError, ParameterError
from argyrodb.screening.families import parse_range
from argyrodb.screening.runs import run_screen
from argyrodb.screening.screener import ScreenSettings
from argyrodb.store import export
from argyrodb.store.connection import ReadOnlyDatabase
from argyrodb.store.export import export_tables
from argyrodb_testing import run

#: What `db export` wrote before it read the tables from the schema.
OLD_EXPORT = {"table_s3", "measurements_full", "materials", "sources", "structures", "structure_sites",
              "structure_problems", "xrd_peaks", "milling", "conditions", "eis_fits"}


@pytest.fixture(scope="module")
def screened(tmp_path_factory, db_path):
    """A copy of the test database with one screening run (x = 0, 0.7, 1.4 of Li5.6PS4.6Cl1.4-xIx)."""
    path = tmp_path_factory.mktemp("screened") / "s.sqlite"
    shutil.copy(db_path, path)
    summary = run_screen(ScreenSettings("Li5.6PS4.6Cl1.4-xIx", {"x": parse_range("0:1.4:0.7", "x")}), path, show_progress=False)
    assert (summary["computed"], summary["ok"]) == (3, 3)
    return path


def _copy(path, tmp_path):
    copy = tmp_path / "copy.sqlite"
    shutil.copy(path, copy)
    return copy


def _count(path, table) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]


def _csv_rows(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _schema(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


def test_every_table_and_view_of_the_schema_is_exported(screened, tmp_path):
    written = export_tables(tmp_path / "out", db_path=screened)
    names = {p.stem for p in written}
    schema = _schema(screened)
    # everything but SQLite's own tables and the full-text indexes (materials_fts, sources_fts and their shadows)
    assert names == {n for n in schema if not n.startswith("sqlite_") and "_fts" not in n}
    assert {"materials_fts", "materials_fts_data", "sources_fts_idx"} <= schema - names
    assert names > OLD_EXPORT
    assert {"screen_runs", "screen_results", "screen_peaks", "xrd_patterns", "refused_structures",
            "measurement_structures", "measurements", "schema_version"} <= names - OLD_EXPORT
    for name in names:  # every row of every table, one CSV line each (plus the header)
        assert len(_csv_rows(tmp_path / "out" / f"{name}.csv")) == _count(screened, name) + 1, name
    counts = {name: _count(screened, name) for name in ("table_s3", "screen_runs", "screen_results", "xrd_patterns",
                                                        "refused_structures", "measurement_structures")}
    assert counts == {"table_s3": 16, "screen_runs": 1, "screen_results": 3, "xrd_patterns": 46,
                      "refused_structures": 3, "measurement_structures": 42}
    peaks = _csv_rows(tmp_path / "out" / "screen_peaks.csv")
    assert peaks[0][:4] == ["run_id", "idx", "position", "hkl"] and _count(screened, "screen_peaks") == 71
    assert "cif_text" not in _csv_rows(tmp_path / "out" / "structures.csv")[0]


def test_cli_export_lists_the_new_tables(screened, tmp_path):
    result = run("db", "export", "--db", str(screened), "--out", str(tmp_path / "x"))
    assert result.returncode == 0, result.stderr
    wrote = {line.split("/")[-1] for line in result.stdout.splitlines()}
    assert {"screen_runs.csv", "screen_results.csv", "screen_peaks.csv", "xrd_patterns.csv"} <= wrote
    assert (tmp_path / "x" / "table_s3.csv").read_text().count("\n") == 17


def test_a_table_a_later_migration_adds_is_exported(db_path, tmp_path):
    copy = _copy(db_path, tmp_path)
    with sqlite3.connect(copy) as conn:
        conn.execute("CREATE TABLE user_notes (id INTEGER PRIMARY KEY, note TEXT, value REAL, count INTEGER)")
        conn.executemany("INSERT INTO user_notes VALUES (?, ?, ?, ?)", [(1, "a, \"quoted\"\nnote", 0.1, None), (2, None, None, 7)])
    export_tables(tmp_path / "out", db_path=copy)
    assert _csv_rows(tmp_path / "out" / "user_notes.csv") == [
        ["id", "note", "value", "count"], ["1", "a, \"quoted\"\nnote", "0.1", ""], ["2", "", "", "7"]]
    export_tables(tmp_path / "json", "json", db_path=copy, tables=["user_notes"])
    assert json.loads((tmp_path / "json" / "user_notes.json").read_text()) == [
        {"id": 1, "note": "a, \"quoted\"\nnote", "value": 0.1, "count": None}, {"id": 2, "note": None, "value": None, "count": 7}]


def test_tables_parameter(screened, tmp_path):
    written = export_tables(tmp_path / "out", "json", db_path=screened, tables=["screen_results", "table_s3"])
    assert [p.name for p in written] == ["screen_results.json", "table_s3.json"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["screen_results.json", "table_s3.json"]
    results = json.loads((tmp_path / "out" / "screen_results.json").read_text())
    assert [r["formula"] for r in results] == ["Li5.6PS4.6Cl1.4", "Li5.6PS4.6Cl0.7I0.7", "Li5.6PS4.6I1.4"]
    assert export_tables(tmp_path / "one", db_path=screened, tables="table_s3") == [tmp_path / "one" / "table_s3.csv"]
    for bad in (["materials_fts"], ["sqlite_master"], ["no_such_table"]):
        with pytest.raises(ParameterError, match="unknown table"):
            export_tables(tmp_path / "bad", db_path=screened, tables=bad)
    assert not (tmp_path / "bad").exists()


def test_large_tables_are_streamed_in_chunks(db_path, tmp_path, monkeypatch):
    """200 000 screening peaks (the screen_peaks view over 2 000 compositions x 100 lines) go out in chunks of
    1 000 rows: peak Python memory stays far below what one DataFrame (or one fetchall) of them takes, and no
    DataFrame is built."""
    copy = _copy(db_path, tmp_path)
    n = 200_000
    with sqlite3.connect(copy) as conn:
        conn.execute("INSERT INTO screen_runs (id, key, family, settings_json, model_json, argyrodb_version, n_points) "
                     "VALUES (1, 'k', 'f', '{}', '{}', 'test', 0)")
        conn.execute("WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 99) "
                     "INSERT INTO screen_lines SELECT 1, i, 'l' || i, i + 1, 8, 'CuKa1', 1.0 FROM c")
        intensities = " 50.000" * 100
        conn.execute(f"WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {n // 100 - 1}) "
                     "INSERT INTO screen_results (run_id, idx, variables_json, formula, status, a_angstrom, intensities_rel) "
                     "SELECT 1, i, '{}', 'x', 'ok', 10.0, ? FROM c", (intensities,))
    monkeypatch.setattr(export, "EXPORT_CHUNK_ROWS", 1000)
    monkeypatch.setattr(ReadOnlyDatabase, "dataframe", lambda *a, **k: pytest.fail("export built a DataFrame"))
    tracemalloc.start()
    try:
        export_tables(tmp_path / "out", db_path=copy, tables=["screen_peaks"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rows = _csv_rows(tmp_path / "out" / "screen_peaks.csv")
    assert len(rows) == n + 1
    assert rows[1][:5] == ["1", "0", "0", "l0", "CuKa1"] and rows[1][7:] == ["8", "50.0"]  # the view reads " 50.000"
    assert float(rows[1][5]) == pytest.approx(2 * math.degrees(math.asin(1.0 / 20.0)), rel=1e-12)  # 2 asin(lambda/2a)
    assert rows[-1][:5] == ["1", "1999", "99", "l99", "CuKa1"] and float(rows[-1][6]) == pytest.approx(1.0)  # d = a/sqrt(100)
    assert peak < 4_000_000  # bytes; all 200 000 rows as Python tuples alone take ~40 MB


def test_a_failure_writes_nothing(screened, tmp_path, monkeypatch):
    real = export._write_table
    calls = []

    def failing(db, table, fmt, path):
        calls.append(table)
        if len(calls) == 5:
            raise OSError("disk full")
        return real(db, table, fmt, path)

    monkeypatch.setattr(export, "_write_table", failing)
    with pytest.raises(OSError, match="disk full"):
        export_tables(tmp_path / "new" / "out", db_path=screened)
    assert len(calls) == 5 and not (tmp_path / "new").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "table_s3.csv").write_text("kept\n")
    calls.clear()
    with pytest.raises(OSError, match="disk full"):
        export_tables(existing, db_path=screened)
    assert [p.name for p in existing.iterdir()] == ["table_s3.csv"] and (existing / "table_s3.csv").read_text() == "kept\n"


def test_a_database_missing_a_schema_table_is_refused(db_path, tmp_path):
    copy = _copy(db_path, tmp_path)
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TABLE screen_lines")
    with pytest.raises(InputError, match="lacks the table 'screen_lines'"):
        export_tables(tmp_path / "out", db_path=copy)
    assert not (tmp_path / "out").exists()


def test_every_file_comes_from_one_snapshot(screened, tmp_path, monkeypatch):
    """A writer committing while the export runs (a screening chunk) changes none of the files being written."""
    copy = _copy(screened, tmp_path)
    before = _count(copy, "xrd_peaks")
    real = export._write_table

    def write_then_change(db, table, fmt, path):
        if table == "conditions":  # the first file: delete rows of one written later
            with sqlite3.connect(copy, timeout=5) as conn:
                conn.execute("DELETE FROM xrd_peaks")
        return real(db, table, fmt, path)

    monkeypatch.setattr(export, "_write_table", write_then_change)
    export_tables(tmp_path / "out", db_path=copy)
    assert _count(copy, "xrd_peaks") == 0
    assert len(_csv_rows(tmp_path / "out" / "xrd_peaks.csv")) == before + 1 == 1934


#: Runs `argyrodb ARGS` in a fresh interpreter in which `import optimade` fails as it does without the extra
#: (None in sys.modules is how Python marks a module as not importable).
_WITHOUT_OPTIMADE = "import sys; sys.modules['optimade'] = None; from argyrodb.cli import main; main(sys.argv[1:])"


def _cli_without_optimade(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", _WITHOUT_OPTIMADE, *args], capture_output=True, text=True, timeout=120)


def _listing(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_optimade_missing_is_refused_before_anything_is_written(db_path, tmp_path):
    """`db export --optimade` without optimade-python-tools wrote or replaced every CSV, then exited 2."""
    previous = tmp_path / "previous"
    assert run("db", "export", "--db", str(db_path), "--out", str(previous)).returncode == 0
    (previous / "table_s3.csv").write_text("an older export\n")
    before = _listing(previous)
    result = _cli_without_optimade("db", "export", "--db", str(db_path), "--out", str(previous), "--optimade")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "argyrodb: error: --optimade: optimade-python-tools is not installed: pip install 'argyrodb[optimade]'"]
    assert _listing(previous) == before  # nothing replaced, no staging folder left
    fresh = tmp_path / "fresh"
    assert _cli_without_optimade("db", "export", "--db", str(db_path), "--out", str(fresh), "--optimade").returncode == 2
    assert not fresh.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["previous"]
    # the same interpreter trick leaves a plain export working: the blocker hides only optimade
    assert _cli_without_optimade("db", "export", "--db", str(db_path), "--out", str(fresh)).returncode == 0
    assert (fresh / "table_s3.csv").read_text().count("\n") == 17


def test_tables_and_optimade_file_are_written_together(screened, tmp_path, monkeypatch):
    """The OPTIMADE file is staged with the tables: a failure while making it keeps every table of an older
    export, and a success writes them all from one snapshot."""
    previous = tmp_path / "out"
    previous.mkdir()
    (previous / "table_s3.csv").write_text("kept\n")

    def invalid(**entry):
        raise ValueError("not valid OPTIMADE")

    monkeypatch.setattr(export, "_structure_resource", lambda: invalid)
    with pytest.raises(ValueError, match="not valid OPTIMADE"):
        export_tables(previous, db_path=screened, optimade=True)
    assert _listing(previous) == {"table_s3.csv": b"kept\n"}
    monkeypatch.undo()
    written = export_tables(previous, db_path=screened, tables=["table_s3"], optimade=True)
    assert [p.name for p in written] == ["table_s3.csv", "structures.optimade.json"]
    payload = json.loads((previous / "structures.optimade.json").read_text())
    assert payload["meta"]["data_returned"] == len(payload["data"]) == _count(screened, "structures")
    assert sorted(p.name for p in previous.iterdir()) == ["structures.optimade.json", "table_s3.csv"]


def test_an_output_below_a_file_is_refused_before_reading(db_path, tmp_path):
    """--out FILE/sub read every table into a staging folder, then failed to make the folder (exit 3)."""
    blocker = tmp_path / "file"
    blocker.write_text("a file\n")
    result = run("db", "export", "--db", str(db_path), "--out", str(blocker / "sub"), "--optimade")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"argyrodb: error: {blocker / 'sub'}: {blocker} is a file, not a folder"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"] and blocker.read_text() == "a file\n"
