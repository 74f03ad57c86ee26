"""Issue 20, item 4: every foreign key has an index whose leading columns are the key's columns.

SQLite enforces a foreign key from the child side: deleting a parent row looks up its children, a scan of the
whole child table per deleted row when the child columns have no index (`db remove` of a 3,000-row import took
150 s through measurements.duplicate_of). The check reads the schema itself, so a table added later without
its index fails here."""

from __future__ import annotations

import shutil
import sqlite3

from test_datasets import UNDO_9  # schema 9 back to 8

from argyrodb.store.connection import migrate_file
from argyrodb.store.migrations import SCHEMA_VERSION


def foreign_keys(conn: sqlite3.Connection) -> list[tuple[str, tuple[str, ...], str]]:
    """(table, child columns, parent table) of every foreign key of every table."""
    out = []
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        keys: dict[int, list[tuple[int, str, str]]] = {}
        for fk_id, seq, parent, child_column, *_ in conn.execute(f'PRAGMA foreign_key_list("{table}")'):
            keys.setdefault(fk_id, []).append((seq, child_column, parent))
        for columns in keys.values():
            columns.sort()
            out.append((table, tuple(c for _, c, _ in columns), columns[0][2]))
    return out


def leading_columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, ...]]:
    """The column lists of every index of ``table`` (explicit, UNIQUE and PRIMARY KEY autoindexes)."""
    out = []
    for _, name, *_ in conn.execute(f'PRAGMA index_list("{table}")'):
        out.append(tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{name}")')))
    return out


def unindexed(conn: sqlite3.Connection) -> list[tuple[str, tuple[str, ...], str]]:
    """Foreign keys without an index whose first len(key) columns are the key's columns (in any order: SQLite's
    child lookup is an equality on every one of them)."""
    missing = []
    for table, columns, parent in foreign_keys(conn):
        indexes = leading_columns(conn, table)
        if not any(set(index[:len(columns)]) == set(columns) for index in indexes):
            missing.append((table, columns, parent))
    return missing


def test_every_foreign_key_of_a_built_database_has_an_index(db_path):
    with sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True) as conn:
        keys = foreign_keys(conn)
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        missing = unindexed(conn)
    # the schema has foreign keys to check (measurements alone has five), and the self-reference is one of them
    assert len(keys) >= 15 and ("measurements", ("duplicate_of",), "measurements") in keys
    assert missing == []


def test_the_self_reference_lookup_uses_its_index(db_path):
    """What a delete of a measurement asks of its children, planned: an index search, not a scan."""
    with sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True) as conn:
        plan = " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN SELECT 1 FROM measurements WHERE duplicate_of = 1"))
    assert "USING COVERING INDEX idx_measurements_duplicate_of" in plan or "USING INDEX idx_measurements_duplicate_of" in plan, plan


#: Schema 8 back to 7: the indexes migration 0008 creates, dropped.
UNDO_8 = ("DROP INDEX idx_measurements_duplicate_of; DROP INDEX idx_measurements_source; DROP INDEX idx_measurements_structure; "
          "DROP INDEX idx_structures_material; DROP INDEX idx_structures_user_import; DROP INDEX idx_xrd_patterns_structure; "
          "DELETE FROM schema_version WHERE version = 8; ")


def test_a_version_7_database_gets_the_missing_indexes(db_path, tmp_path):
    old = tmp_path / "v7.sqlite"
    shutil.copy(db_path, old)
    with sqlite3.connect(old) as conn:
        conn.executescript(UNDO_9 + UNDO_8)
        before = unindexed(conn)
    # what issue 20 measured on schema 7: the self-reference and five more keys without an index
    assert ("measurements", ("duplicate_of",), "measurements") in before and len(before) == 6
    assert migrate_file(old) == (7, SCHEMA_VERSION)
    with sqlite3.connect(old) as conn:
        assert unindexed(conn) == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")] == list(range(1, SCHEMA_VERSION + 1))
