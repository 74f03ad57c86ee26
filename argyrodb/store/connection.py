"""Connections to the argyrodb database: read-only (authorizer-enforced, with a query timeout), writing
(WAL, busy timeout, foreign keys, schema migrated) and the writers' advisory lock."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from ..core.errors import InputError
from ..core.resources import default_database_path
from .migrations import SCHEMA_VERSION, ensure_math_functions, migrate


def database_path(db_path: str | Path | None) -> Path:
    """``db_path``, or the default database (``$ARGYRODB_DB`` or the user data folder)."""
    return Path(db_path) if db_path is not None else default_database_path()


@contextlib.contextmanager
def writer_lock(db_path: Path):
    """Exclusive advisory lock shared by argyrodb's writers of one database (``<db>.lock``): a rebuild
    waits for a screening chunk to commit, and a screening chunk waits for a rebuild to finish."""
    import fcntl  # POSIX only; imported here so the module itself imports everywhere

    lock_path = Path(str(db_path) + ".lock")
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def open_for_writing(db_path: str | Path | None):
    """A write connection with WAL, a busy timeout, foreign keys, and the schema migrated if needed."""
    path = database_path(db_path)
    if not path.is_file():
        raise InputError(path, "no database here: run `argyrodb db build` first")
    conn = sqlite3.connect(path, timeout=60)
    try:
        conn.execute("PRAGMA busy_timeout = 60000")
        migrate(conn, path)  # (also registers SQLite math functions where the build lacks them)  # first: a file that is not an argyrodb database is refused before anything is written
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


#: Largest string or blob a read-only query may build (bytes).
MAX_VALUE_BYTES = 50_000_000

#: What a read-only connection may do: read tables and columns, run SELECTs (also recursive ones) and
#: call functions. Everything else - writes, schema changes, ATTACH, PRAGMA, transactions - is denied by
#: the connection's authorizer before it runs, whatever the SQL text looks like.
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}


#: PRAGMAs that only read (virtual tables such as FTS5 and json_each issue some internally); setting
#: any pragma (a value given) stays denied.
_READING_PRAGMAS = {"data_version", "database_list", "schema_version", "compile_options", "encoding"}
#: PRAGMAs whose argument names a table or index (they only read the schema).
_SCHEMA_PRAGMAS = {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list"}


def _read_only_authorizer(action, arg1, arg2, db_name, trigger):
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:
        name = str(arg1).lower()
        if name in _SCHEMA_PRAGMAS or (name in _READING_PRAGMAS and arg2 is None):
            return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


class ReadOnlyDatabase:
    """A connection that cannot write: the file is opened read-only (``mode=ro``) and
    ``PRAGMA query_only`` is set, so the connection itself refuses INSERT, UPDATE, DROP...; a query
    running longer than ``timeout_s`` is interrupted by a progress handler."""

    def __init__(self, db_path: str | Path | None = None, timeout_s: float = 10.0):
        self.path = database_path(db_path)
        if not self.path.is_file():
            raise InputError(self.path, "no database here: run `argyrodb db build` first")
        self.timeout_s = timeout_s
        self._deadline: float | None = None
        self._clock = time.monotonic
        self.conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)  # no randomblob(1e9) in one step
        self.conn.execute("PRAGMA query_only = ON")
        ensure_math_functions(self.conn)  # the screen_peaks view computes 2theta
        try:
            version = self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise InputError(self.path, f"not an argyrodb database ({exc})") from None
        if version != SCHEMA_VERSION:
            self.conn.close()
            if version is not None and version < SCHEMA_VERSION:
                raise InputError(self.path, f"database schema version {version} is older than {SCHEMA_VERSION}: run `argyrodb db migrate`")
            raise InputError(self.path, f"database schema version {version} is newer than this argyrodb's {SCHEMA_VERSION}: upgrade argyrodb")
        self.conn.set_progress_handler(self._check_deadline, 10_000)
        # Virtual tables (FTS5, json_each) are constructed on first use through internal statements the
        # authorizer would refuse; construct them now, then lock the connection down.
        for (name,) in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'").fetchall():
            self.conn.execute(f'SELECT * FROM "{name}" LIMIT 0').fetchall()
        self.conn.execute("SELECT * FROM json_each('[]'), json_tree('[]')").fetchall()
        for pragma in sorted(_SCHEMA_PRAGMAS):
            self.conn.execute(f"SELECT * FROM pragma_{pragma}('schema_version') LIMIT 0").fetchall()
        self.conn.set_authorizer(_read_only_authorizer)

    def _check_deadline(self) -> int:
        return int(self._deadline is not None and self._clock() > self._deadline)

    def execute(self, sql: str, params=(), max_rows: int | None = None) -> tuple[list[str], list[tuple]]:
        """Run one statement; returns (column names, rows) - at most ``max_rows`` rows when given (the
        rest is never fetched). Errors become one-line InputErrors."""
        self._deadline = self._clock() + self.timeout_s
        try:
            cursor = self.conn.execute(sql, params)
            rows = cursor.fetchall() if max_rows is None else cursor.fetchmany(max_rows)
            columns = [d[0] for d in cursor.description or []]
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "interrupted" in text:
                raise InputError("sql", f"query interrupted after {self.timeout_s:g} s") from None
            if "readonly" in text or "query_only" in text or "read-only" in text or "not authorized" in text:
                raise InputError("sql", f"the database is read-only here ({text})") from None
            raise InputError("sql", text) from None
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "not authorized" in text:
                raise InputError("sql", f"the database is read-only here ({text})") from None
            raise InputError("sql", text) from None
        except sqlite3.Error as exc:
            raise InputError("sql", str(exc)) from None
        finally:
            self._deadline = None
        return columns, rows

    def dataframe(self, sql: str, params=(), max_rows: int | None = None):
        import pandas as pd

        columns, rows = self.execute(sql, params, max_rows)
        return pd.DataFrame(rows, columns=columns)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "ReadOnlyDatabase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
