"""Schema migrations: numbered SQL files in ``store/migrations/`` (``0001_initial.sql``,
``0002_screening.sql``, ...), applied in order by one loop.

Each file's first line is ``-- NNNN: description``; the number is the schema version the file brings
the database to, and ``schema_version`` records every version applied. A new database is every
migration from the first; an older one gets those above its version (in one transaction); a newer one
is refused.
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


def migrate(conn: sqlite3.Connection, path: str | Path, create: bool = False) -> int:
    """Bring an open database to :data:`SCHEMA_VERSION` in place, in one transaction; returns the
    version found. A database written by a newer argyrodb is refused; an empty file is an argyrodb
    database only when ``create`` (a new build), never by accident. A lock held by another connection is
    raised as SQLite's error (the caller waits: :func:`argyrodb.store.connection.wait_for`)."""
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
        script = ["BEGIN;"]
        for m in pending:
            script.append(m.sql)
            script.append("INSERT INTO schema_version (version, description) VALUES ({}, '{}');".format(
                m.version, m.description.replace("'", "''")))
        script.append("COMMIT;")
        try:
            conn.executescript("\n".join(script))
        except sqlite3.Error:
            conn.rollback()
            raise
    return version
