"""Schema migrations: numbered SQL files in ``store/migrations/`` (``0001_initial.sql``,
``0002_screening.sql``, ...), applied in order by one loop.

Each file's first line is ``-- NNNN: description``; the number is the schema version the file brings
the database to, and ``schema_version`` records every version applied. A new database is every
migration from the first; an older one gets those above its version (in one transaction); a newer one
is refused.

Migrations run with foreign keys off (a table rebuild drops tables other tables reference, as SQLite's own
procedure for schema changes does), then the rows of the ``datasets`` table are written from the registry
(:func:`sync_datasets`) and the references to it checked, before the one commit. A database already at the
current version gets the registry's rows too, when they changed (a dataset added to
:data:`argyrodb.store.datasets.DATASETS` needs no migration).
"""

from __future__ import annotations

import math
import re
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..core.errors import InputError
from .datasets import all_datasets

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


@lru_cache(maxsize=1)
def migrations() -> tuple[Migration, ...]:
    """Every migration shipped with argyrodb, by version."""
    folder = resources.files("argyrodb.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if not match:
            continue
        sql = entry.read_text(encoding="utf-8")
        first = sql.splitlines()[0] if sql else ""
        header = re.match(r"--\s*(\d{4}):\s*(.+)$", first)
        if not header or int(header.group(1)) != int(match.group(1)):
            raise RuntimeError(f"migration {entry.name} must start with '-- {match.group(1)}: description'")
        found.append(Migration(int(match.group(1)), header.group(2).strip(), sql))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations are not numbered 1..n: {[m.version for m in found]}")
    return tuple(found)


SCHEMA_VERSION = migrations()[-1].version


def current_version(conn: sqlite3.Connection, path: str | Path, create: bool = False) -> int:
    """The schema version of an open database (0 for an empty one that is being ``create``-d)."""
    has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if not has_table:
        if create and not conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
            return 0
        raise InputError(path, "not an argyrodb database (no schema_version table)")
    version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    if version is None:
        raise InputError(path, "not an argyrodb database (empty schema_version)")
    return int(version)


#: SQLite's math functions the schema's views use (built in since SQLite 3.35 where compiled with
#: SQLITE_ENABLE_MATH_FUNCTIONS, as Python's and Debian's builds are), with Python stand-ins for builds without.
MATH_FUNCTIONS = {"sin": math.sin, "asin": math.asin, "sqrt": math.sqrt, "degrees": math.degrees, "radians": math.radians}


def ensure_math_functions(conn: sqlite3.Connection) -> None:
    """Register :data:`MATH_FUNCTIONS` on ``conn`` when its SQLite lacks them."""
    try:
        conn.execute("SELECT sin(0), asin(0), sqrt(1), degrees(0), radians(0)").fetchone()
    except sqlite3.OperationalError:
        for name, function in MATH_FUNCTIONS.items():
            conn.create_function(name, 1, lambda x, f=function: None if x is None else f(x), deterministic=True)


def is_busy(exc: BaseException) -> bool:
    """Whether a SQLite error means another connection holds a lock (SQLITE_BUSY / SQLITE_LOCKED, extended codes
    included): a condition to wait out or report, never a sign that the file is not a database."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


#: The first schema version with the ``datasets`` table (migration 0009).
DATASETS_VERSION = 9
#: The columns of ``datasets``, as :meth:`argyrodb.store.datasets.Dataset.row` fills them.
DATASET_COLUMNS = ("name", "kind", "title", "description", "source", "licence", "attribution", "reader",
                   "structures_folder", "user_supplied")


def _changed_datasets(conn: sqlite3.Connection) -> list[dict]:
    """The registry's datasets whose row in ``datasets`` is missing or differs."""
    columns = ", ".join(DATASET_COLUMNS)
    stored = {row[0]: row for row in conn.execute(f"SELECT {columns} FROM datasets")}
    rows = [d.row() for d in all_datasets()]
    return [r for r in rows if stored.get(r["name"]) != tuple(r[c] for c in DATASET_COLUMNS)]


def sync_datasets(conn: sqlite3.Connection) -> int:
    """Write the registry (:data:`argyrodb.store.datasets.DATASETS`) into the ``datasets`` table, in the caller's
    transaction: new datasets are inserted, changed ones updated in place (an upsert: a REPLACE would delete the
    row the measurements and structures reference). A row the registry no longer has stays. Returns the rows written."""
    changed = _changed_datasets(conn)
    if changed:
        names = ", ".join(DATASET_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in DATASET_COLUMNS if c != "name")
        conn.executemany(f"INSERT INTO datasets ({names}) VALUES ({', '.join(':' + c for c in DATASET_COLUMNS)}) "
                         f"ON CONFLICT (name) DO UPDATE SET {updates}", changed)
    return len(changed)


def _dataset_violations(conn: sqlite3.Connection) -> list[tuple]:
    """Rows whose ``dataset`` names no row of ``datasets`` (foreign_key_check, that parent only)."""
    return [r for r in conn.execute("PRAGMA foreign_key_check").fetchall() if r[2] == "datasets"]


def dataset_kind_violations(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(table, dataset, rows) for rows of ``measurements`` or ``structures`` whose dataset does not hold that table's rows
    (``datasets.kind``): what the schema's CHECK lists held before schema 9, checked at the end of every build and
    migration (a trigger would check every row as it is written, at 23 us a row)."""
    return conn.execute(
        "SELECT 'measurements', m.dataset, COUNT(*) FROM measurements m JOIN datasets d ON d.name = m.dataset "
        "WHERE d.kind NOT IN ('measurements', 'both') GROUP BY m.dataset "
        "UNION ALL SELECT 'structures', s.dataset, COUNT(*) FROM structures s JOIN datasets d ON d.name = s.dataset "
        "WHERE d.kind NOT IN ('structures', 'both') GROUP BY s.dataset").fetchall()


def migrate(conn: sqlite3.Connection, path: str | Path, create: bool = False) -> int:
    """Bring an open database to :data:`SCHEMA_VERSION` in place, in one transaction; returns the
    version found. A database written by a newer argyrodb is refused; an empty file is an argyrodb
    database only when ``create`` (a new build), never by accident. A lock held by another connection is
    raised as SQLite's error (the caller waits: :func:`argyrodb.store.connection.wait_for`). The ``datasets``
    table is brought up to the registry (:func:`sync_datasets`) in the same transaction, or in one of its own
    when nothing else is pending."""
    try:
        version = current_version(conn, path, create)
    except sqlite3.DatabaseError as exc:
        if is_busy(exc):
            raise
        raise InputError(path, f"not an argyrodb database ({exc})") from None
    if version > SCHEMA_VERSION:
        raise InputError(path, f"database schema version {version} is newer than this argyrodb's {SCHEMA_VERSION}: upgrade argyrodb")
    pending = [m for m in migrations() if m.version > version]
    ensure_math_functions(conn)
    if pending:
        if conn.in_transaction:
            conn.commit()  # PRAGMA foreign_keys is a no-op inside a transaction
        foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
        conn.execute("PRAGMA foreign_keys = OFF")
        script = ["BEGIN;"]
        for m in pending:
            script.append(m.sql)
            script.append("INSERT INTO schema_version (version, description) VALUES ({}, '{}');".format(
                m.version, m.description.replace("'", "''")))
        try:
            conn.executescript("\n".join(script))  # the transaction stays open: no COMMIT in the script
            if pending[-1].version >= DATASETS_VERSION:
                sync_datasets(conn)
                violations = _dataset_violations(conn)
                if violations:
                    raise InputError(path, f"{len(violations)} rows name a dataset argyrodb does not know "
                                           f"(table, rowid: {', '.join(f'{t} {r}' for t, r, *_ in violations[:5])})")
                wrong = dataset_kind_violations(conn)
                if wrong:
                    raise InputError(path, "rows in a table their dataset does not fill: "
                                           + ", ".join(f"{n} {t} of dataset {d}" for t, d, n in wrong))
            conn.commit()
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        finally:
            conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    elif version >= DATASETS_VERSION and _changed_datasets(conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            sync_datasets(conn)
            conn.commit()
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
    return version
