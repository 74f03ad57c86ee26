"""Issue 21, item 3: one declarative dataset registry (argyrodb.store.datasets) drives the schema's ``datasets``
lookup table (which measurements.dataset and structures.dataset reference since schema 9, instead of CHECK lists),
the build's literature readers, the CLI's --dataset choices and the licence and attribution of literature rows.

A dataset added to the registry is accepted by an existing database with no migration; an unknown name is refused
in one line everywhere; a schema-8 database migrates in place with every row (counts and digests before and after)."""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from argyrodb.core.errors import InputError, ParameterError
from argyrodb.store import datasets as registry
from argyrodb.store.connection import migrate_file, open_for_writing
from argyrodb.store.datasets import MEASUREMENTS, STRUCTURES, Dataset
from argyrodb.store.migrations import (
    DATASET_COLUMNS,
    SCHEMA_VERSION,
    dataset_kind_violations,
    ensure_math_functions,
    migrations,
)
from argyrodb_testing import LMA, REPO, run

#: The OBELiX attribution exactly as argyrodb carried it before the registry (argyrodb.store.literature).
OBELIX_ATTRIBUTION_BEFORE = (
    "F. Therrien et al., OBELiX: A Curated Dataset of Crystal Structures and Experimentally Measured Ionic "
    "Conductivities for Lithium Solid-State Electrolytes, arXiv:2502.14234 (2025); data tag v1.2.0-data of "
    "NRC-Mila/OBELiX"
)


# --------------------------------------------------------------------------- schema 9 back to 8

def _schema_8() -> dict[str, tuple[str, str, str | None]]:
    """name -> (type, table, SQL) of every object of a genuine schema-8 database: migrations 1-8 applied."""
    conn = sqlite3.connect(":memory:")
    ensure_math_functions(conn)
    for m in migrations()[:8]:
        conn.executescript(m.sql)
    objects = {name: (kind, table, sql) for kind, name, table, sql in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")}
    conn.close()
    return objects


def _undo_9() -> str:
    """SQL that turns a schema-9 database into schema 8 as migrations 1-8 leave it: measurements and structures
    rebuilt with the CHECK lists, their indexes and the views recreated from schema 8's own SQL, the datasets table
    dropped. Every row stays."""
    schema = _schema_8()
    script = ["DROP VIEW measurements_full; DROP VIEW table_s3; DROP VIEW measurement_structures;"]
    for table in ("structures", "measurements"):
        create = schema[table][2]
        assert create is not None and create.startswith(f'CREATE TABLE "{table}" (')
        script.append(create.replace(f'"{table}"', f'"{table}_v8"', 1) + ";")
        script.append(f'INSERT INTO "{table}_v8" SELECT * FROM "{table}"; DROP TABLE "{table}"; '
                      f'ALTER TABLE "{table}_v8" RENAME TO "{table}";')
        script += [sql + ";" for kind, owner, sql in schema.values() if kind == "index" and owner == table and sql]
    script += [schema[view][2] + ";" for view in ("measurements_full", "table_s3", "measurement_structures")]
    script.append("DROP TABLE datasets; DELETE FROM schema_version WHERE version = 9;")
    return "\n".join(script) + "\n"


#: Schema 10 back to 9 (migration 0010, BVSE): its table dropped and screen_results' three columns (SQLite restores
#: the table's SQL text exactly).
UNDO_10 = ("DROP TABLE structure_bvse; " + " ".join(f"ALTER TABLE screen_results DROP COLUMN bvse_e_{d}d_eV;" for d in (1, 2, 3))
           + " DELETE FROM schema_version WHERE version = 10;\n")

#: The current schema back to 8 (tests/store/test_faults.py and test_foreign_key_indexes.py put it before their
#: UNDO_8): 10 -> 9 -> 8.
UNDO_9 = UNDO_10 + _undo_9()


def _objects(conn: sqlite3.Connection) -> dict[str, tuple[str, str, str | None]]:
    """The schema's objects but the full-text tables (a build adds them; no migration touches them)."""
    return {name: (kind, table, sql) for kind, name, table, sql in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
            if not table.endswith("_fts") and "_fts_" not in table}


def _digest(conn: sqlite3.Connection, name: str) -> tuple[int, str]:
    """Row count and SHA-256 of every row of a table or view, every column, in id order."""
    columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')]
    rows = conn.execute(f'SELECT {", ".join(columns)} FROM "{name}" ORDER BY {columns[0]}').fetchall()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


#: What the migration must keep row for row.
KEPT = ("measurements", "structures", "structure_sites", "structure_problems", "xrd_patterns", "xrd_peaks", "sources",
        "materials", "user_imports", "user_rows", "refused_structures", "measurements_full", "measurement_structures", "table_s3")


def _registry_rows() -> list[tuple]:
    return sorted(tuple(d.row()[c] for c in DATASET_COLUMNS) for d in registry.DATASETS)


def _stored_rows(conn: sqlite3.Connection) -> list[tuple]:
    return sorted(conn.execute(f"SELECT {', '.join(DATASET_COLUMNS)} FROM datasets").fetchall())


@pytest.fixture()
def user_db(fresh_db, tmp_path):
    """A copy of the session's database with a user import (two measurements, one structure)."""
    from argyrodb.pipeline.build import add_user_data

    shutil.copy(LMA, tmp_path / "lma.yaml")
    (tmp_path / "mine.csv").write_text("formula,sigma_mS_cm,temperature_K,structure\n"
                                       "Li5.5PS4.5Cl0.9I0.6,3.1,298,lma.yaml\nLi6PS5Br,<1e-4,303,\n")
    add_user_data(tmp_path / "mine.csv", fresh_db)
    return fresh_db


# --------------------------------------------------------------------------- the registry

def test_the_registry_holds_every_dataset_with_its_licence():
    assert registry.dataset_names(MEASUREMENTS) == ["table_s3", "obelix", "user"]
    assert registry.dataset_names(STRUCTURES) == ["obelix", "argyrodb", "user"]
    obelix = registry.get("obelix")
    assert obelix.licence == "CC BY 4.0" and obelix.attribution == OBELIX_ATTRIBUTION_BEFORE and obelix.kind == "both"
    assert [d.name for d in registry.DATASETS if d.user_supplied] == [registry.USER]
    assert [d.name for d in registry.literature(MEASUREMENTS)] == ["table_s3", "obelix"]
    for dataset in registry.DATASETS:  # every reader named exists and lives in the store layer
        if dataset.reader is not None:
            assert callable(registry.reader_of(dataset)) and dataset.reader.startswith("argyrodb.store.")
    from argyrodb.store.literature import OBELIX_ATTRIBUTION, OBELIX_LICENCE

    assert (obelix.licence, obelix.attribution) == (OBELIX_LICENCE, OBELIX_ATTRIBUTION)


@pytest.mark.parametrize("call, match", [
    (lambda: registry.get("nope"), "dataset: unknown dataset 'nope' (there are: table_s3, obelix, argyrodb, user)"),
    (lambda: registry.get("argyrodb", MEASUREMENTS), "unknown dataset of measurements 'argyrodb'"),
    (lambda: registry.dataset_names("peaks"), "kind: 'peaks' is not one of measurements, structures"),
    (lambda: Dataset("Mine!", (MEASUREMENTS,), "m", "d", "s"), "must be lower case"),
    (lambda: Dataset("mine", ("peaks",), "m", "d", "s"), "kinds must be one or both"),
    (lambda: Dataset("mine", (STRUCTURES,), "m", "d", "s", reader="a.b:c"), "reads measurements"),
    (lambda: registry.reader_of(Dataset("mine", (MEASUREMENTS,), "m", "d", "s", reader="argyrodb.pipeline.build:x")),
     "not in argyrodb.store"),
])
def test_an_unknown_or_malformed_dataset_is_one_line(call, match):
    with pytest.raises(ParameterError, match=re.escape(match)) as caught:
        call()
    assert "\n" not in str(caught.value)


def test_the_registry_and_the_datasets_table_agree_after_a_build(db_path):
    with sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True) as conn:
        assert _stored_rows(conn) == _registry_rows()
        used = {r[0] for r in conn.execute("SELECT dataset FROM measurements UNION SELECT dataset FROM structures")}
        licences = set(conn.execute("SELECT licence, attribution FROM measurements WHERE dataset = 'obelix' "
                                    "UNION SELECT licence, attribution FROM structures WHERE dataset = 'obelix'").fetchall())
        references = {table: {(r[2], r[3], r[4]) for r in conn.execute(f'PRAGMA foreign_key_list("{table}")')}
                      for table in ("measurements", "structures")}
        checks = conn.execute("SELECT sql FROM sqlite_master WHERE name IN ('measurements', 'structures')").fetchall()
    assert used <= set(registry.dataset_names()) and used >= {"table_s3", "obelix", "argyrodb"}
    assert licences == {("CC BY 4.0", OBELIX_ATTRIBUTION_BEFORE)}
    assert all(("datasets", "dataset", "name") in keys for keys in references.values())
    assert all("dataset IN (" not in sql for (sql,) in checks)  # no CHECK list left


def test_write_connections_enforce_the_foreign_keys(fresh_db):
    conn = open_for_writing(fresh_db)
    try:
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            conn.execute("DELETE FROM datasets WHERE name = 'obelix'")  # rows reference it
        conn.rollback()
    finally:
        conn.close()


# --------------------------------------------------------------------------- a new dataset: one registry entry

MINE_LAB = Dataset(name="mine_lab", kinds=(MEASUREMENTS,), title="My lab", description="a test dataset",
                   source="a test", licence="CC0 1.0", attribution="me")


def _measurement(conn: sqlite3.Connection, dataset: str, row: int = 1) -> None:
    conn.execute("INSERT INTO measurements (material_id, source_id, dataset, dataset_row, material_printed, sigma_kind) "
                 "VALUES ((SELECT MIN(id) FROM materials), (SELECT MIN(id) FROM sources), ?, ?, 'x', 'total')", (dataset, row))


def test_a_dataset_added_to_the_registry_is_accepted_with_no_migration(fresh_db, monkeypatch):
    from argyrodb.store.queries import MeasurementFilter, query_measurements

    with sqlite3.connect(fresh_db) as conn:
        schema_before = _objects(conn)
    monkeypatch.setattr(registry, "DATASETS", (*registry.DATASETS, MINE_LAB))
    conn = open_for_writing(fresh_db)  # writes the new registry row: no migration, no table rebuilt
    try:
        assert _objects(conn) == schema_before and _stored_rows(conn) == _registry_rows()
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        _measurement(conn, "mine_lab")
        conn.commit()
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"):
            _measurement(conn, "nope")
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"):
            conn.execute("UPDATE structures SET dataset = 'nope' WHERE id = 1")
        conn.rollback()
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert dataset_kind_violations(conn) == []
        conn.execute("UPDATE structures SET dataset = 'mine_lab' WHERE id = 1")  # a dataset of measurements only
        assert dataset_kind_violations(conn) == [("structures", "mine_lab", 1)]  # what a build's last check refuses
        conn.rollback()
    finally:
        conn.close()
    rows = query_measurements(MeasurementFilter(dataset="mine_lab"), db_path=fresh_db)
    assert list(rows["dataset"]) == ["mine_lab"]
    monkeypatch.undo()
    with pytest.raises(ParameterError, match="unknown dataset of measurements 'mine_lab'"):
        MeasurementFilter(dataset="mine_lab")


def insert_mine(db, folder: Path, source_ids: dict[str, int], materials: dict[str, int]) -> None:
    """The reader of the test's dataset: mine.csv in the literature folder (formula, sigma_mS_cm, ID)."""
    from argyrodb.core.chemistry import parse_formula
    from argyrodb.store.literature import material_id, read_csv_rows

    dataset = registry.get("mine_lab")
    source_ids["mine"] = db["sources"].insert({"key": "mine", "provenance": "test", "licence": dataset.licence}).last_pk
    for line, row in enumerate(read_csv_rows(folder / "mine.csv"), start=2):
        db["measurements"].insert({
            "material_id": material_id(db, parse_formula(row["formula"], source="mine.csv"), materials),
            "source_id": source_ids["mine"], "dataset": dataset.name, "dataset_row": line, "dataset_id": row["id"],
            "material_printed": row["formula"], "sigma_mS_cm": float(row["sigma_mS_cm"]),
            "sigma_printed": f"{row['sigma_mS_cm']} mS/cm", "sigma_kind": "total",
            "licence": dataset.licence, "attribution": dataset.attribution})


def test_a_new_literature_dataset_is_its_registry_entry_and_its_reader(tmp_path, monkeypatch):
    """A dataset with measurements and CIFs: `db build` reads it through its reader, stores its structures linked by
    ID (measurement_structures), marks the rows that repeat an earlier dataset's as duplicates, and the CLI and the
    Python filters take its name. No SQL, no CLI edit, no migration."""
    from argyrodb.pipeline.build import build_database
    from argyrodb.store.queries import MeasurementFilter, query_measurements

    folder = tmp_path / "literature"
    shutil.copytree(REPO / "db", folder, ignore=shutil.ignore_patterns("obelix_cifs"))
    (folder / "mine_cifs").mkdir()
    shutil.copy(REPO / "db" / "obelix_cifs" / "122.cif", folder / "mine_cifs" / "m1.cif")  # Li6PS5Cl
    (folder / "mine.csv").write_text("id,formula,sigma_mS_cm\nm1,Li6PS5Cl,2.5\nm2,Li5.6PS4.6Cl0.8I0.6,2.44\n")
    mine = Dataset(name="mine_lab", kinds=(MEASUREMENTS, STRUCTURES), title="My lab", description="a test dataset",
                   source="mine.csv, mine_cifs/", licence="CC0 1.0", attribution="me", reader="test_datasets:insert_mine",
                   structures_folder="mine_cifs", structure_caveat="made up")
    monkeypatch.setattr(registry, "DATASETS", (*registry.DATASETS, mine))
    db = tmp_path / "new.sqlite"
    build_database(db, literature_dir=folder, show_progress=False)
    with sqlite3.connect(db) as conn:
        assert _stored_rows(conn) == _registry_rows()
        assert conn.execute("SELECT dataset_id, material_printed, sigma_mS_cm, licence FROM measurements WHERE dataset = 'mine_lab' "
                            "ORDER BY dataset_row").fetchall() == [("m1", "Li6PS5Cl", 2.5, "CC0 1.0"),
                                                                   ("m2", "Li5.6PS4.6Cl0.8I0.6", 2.44, "CC0 1.0")]
        assert conn.execute("SELECT name, caveat, licence, attribution FROM structures WHERE dataset = 'mine_lab'").fetchall() == [
            ("My lab m1 Li6PS5Cl", "made up", "CC0 1.0", "me")]
        assert conn.execute("SELECT dataset_id, structure_name FROM measurement_structures WHERE dataset = 'mine_lab'").fetchall() == [
            ("m1", "My lab m1 Li6PS5Cl")]
        # Table S3 row 1 is the source's own LMA-Cl0.8I0.6 at 2.44 mS/cm: the later dataset's m2 repeats it
        assert conn.execute("SELECT m.dataset_id, d.dataset, d.dataset_row FROM measurements m "
                            "JOIN measurements d ON d.id = m.duplicate_of WHERE m.dataset = 'mine_lab'").fetchall() == [("m2", "table_s3", 1)]
    assert list(query_measurements(MeasurementFilter(dataset="mine_lab"), db_path=db)["dataset_id"]) == ["m1"]


def insert_misfiled(db, folder: Path, source_ids: dict[str, int], materials: dict[str, int]) -> None:
    """A faulty reader: a measurement filed under the dataset of the bundled structures."""
    db["measurements"].insert({"material_id": 1, "source_id": 1, "dataset": registry.BUNDLED_STRUCTURES, "dataset_row": 1,
                               "material_printed": "x", "sigma_kind": "total"})


def test_a_build_refuses_rows_their_dataset_does_not_fill(tmp_path, monkeypatch):
    """What the CHECK lists held (a measurement's dataset holds measurements) is the build's last check."""
    from argyrodb.core.errors import ArgyrodbError
    from argyrodb.pipeline.build import build_database

    faulty = Dataset(name="mine_lab", kinds=(MEASUREMENTS,), title="My lab", description="d", source="s",
                     reader="test_datasets:insert_misfiled")
    monkeypatch.setattr(registry, "DATASETS", (*registry.DATASETS, faulty))
    with pytest.raises(ArgyrodbError, match="rows in a table their dataset does not fill: 1 measurements of dataset argyrodb"):
        build_database(tmp_path / "new.sqlite", show_progress=False, literature_structures_included=False)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- unknown names, one line

def test_an_unknown_dataset_is_refused_in_one_line(fresh_db):
    from argyrodb.pipeline.build import stored_structure
    from argyrodb.store.ingest import insert_structure
    from argyrodb.store.queries import MeasurementFilter, compare

    for command in (["db", "query"], ["db", "compare", "Li6PS5Cl"]):
        result = run(*command, "--dataset", "obelx", "--db", str(fresh_db))
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
        assert result.returncode == 2 and errors == [
            "Error: Invalid value for '--dataset': 'obelx' is not one of 'table_s3', 'obelix', 'user'."], result.stderr
    for call in (lambda: MeasurementFilter(dataset="obelx"), lambda: compare("Li6PS5Cl", dataset="obelx", db_path=fresh_db)):
        with pytest.raises(ParameterError, match=r"^dataset: unknown dataset of measurements 'obelx' \(there are: table_s3, obelix, user\)$"):
            call()
    assert len(MeasurementFilter(dataset="OBELIX").where()[1]) == 1  # the filter compares without case, as before
    from argyrodb.api import analyse

    with pytest.raises(ParameterError, match="unknown dataset of structures 'table_s3'"):
        insert_structure(None, materials={}, dataset="table_s3", **stored_structure(analyse(LMA), source_file="x"))


def test_db_help_lists_the_registry_and_imports_nothing_heavy():
    code = ("import sys, runpy\nsys.argv = ['argyrodb', 'db', 'query', '--help']\n"
            "try:\n    runpy.run_module('argyrodb', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(','.join(m for m in ('numpy', 'pandas', 'sqlite_utils') if m in sys.modules), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "--dataset [table_s3|obelix|user]" in result.stdout and result.stderr.strip() == ""


# --------------------------------------------------------------------------- schema 8 -> 9 in place

def test_the_undo_gives_a_genuine_schema_8(fresh_db):
    with sqlite3.connect(fresh_db) as conn:
        conn.executescript(UNDO_9)
        assert _objects(conn) == _schema_8()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_schema_8_database_migrates_in_place_with_every_row(user_db, db_path):
    with sqlite3.connect(user_db) as conn:
        before = {name: _digest(conn, name) for name in KEPT}
        conn.executescript(UNDO_9)
        assert {name: _digest(conn, name) for name in KEPT} == before  # the undo itself kept every row
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 8
    assert before["measurements"][0] == 71 and before["structures"][0] == 47  # 69 + 2 user rows, 46 + 1 user structure
    assert migrate_file(user_db) == (8, SCHEMA_VERSION)
    with sqlite3.connect(user_db) as conn, sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True) as built:
        assert {name: _digest(conn, name) for name in KEPT} == before
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert _objects(conn) == _objects(built)  # the same schema as a new build: tables, columns, indexes, views
        assert _stored_rows(conn) == _registry_rows()
    assert run("db", "query", "dataset=user", "--count", "--db", str(user_db)).stdout.strip() == "2"


@pytest.mark.parametrize("registry_of, match", [
    (lambda datasets: tuple(d for d in datasets if d.name != "user"),
     r"3 rows name a dataset argyrodb does not know \(table, rowid: "),
    (lambda datasets: tuple(replace(d, kinds=(MEASUREMENTS,)) if d.name == "user" else d for d in datasets),
     "rows in a table their dataset does not fill: 1 structures of dataset user"),
], ids=["dataset-missing", "kind-narrowed"])
def test_a_migration_that_would_orphan_rows_changes_nothing(user_db, monkeypatch, registry_of, match):
    """A registry without a dataset the rows use, or whose kind leaves some out: the migration is refused in one line
    and rolled back (still schema 8, the file unchanged)."""
    with sqlite3.connect(user_db) as conn:
        conn.executescript(UNDO_9)
    before = hashlib.sha256(user_db.read_bytes()).hexdigest()
    monkeypatch.setattr(registry, "DATASETS", registry_of(registry.DATASETS))
    with pytest.raises(InputError, match=match) as caught:
        migrate_file(user_db)
    assert "\n" not in str(caught.value)
    assert hashlib.sha256(user_db.read_bytes()).hexdigest() == before
    with sqlite3.connect(user_db) as conn:
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 0
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 8
