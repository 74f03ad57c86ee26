"""Connections to the argyrodb database: read-only (authorizer-enforced, with a query timeout), writing
(WAL, busy timeout, foreign keys, schema migrated), the writers' advisory lock, and how a writer waits.

A writer that finds the database (or the advisory lock ``<db>.lock``) held by another process waits up to
:func:`busy_timeout_s` seconds (``$ARGYRODB_BUSY_TIMEOUT_S``, default 30); after :data:`LOCK_NOTICE_AFTER_S` it says
once what it waits for (a warning on the ``argyrodb`` logger, which reaches stderr when nothing else handles it),
and when the time is up it raises an :class:`InputError` naming the database or lock file and what to do.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

from ..core.errors import InputError
from ..core.resources import default_database_path
from .migrations import SCHEMA_VERSION, ensure_math_functions, is_busy, migrate

#: Where a waiting writer says what it waits for (no handler of its own: a program's logging decides; with none
#: configured, Python's last-resort handler prints the line to stderr, which is what the command line shows).
log = logging.getLogger("argyrodb")

#: Seconds a writer waits for a lock another process holds before it gives up (``$ARGYRODB_BUSY_TIMEOUT_S``):
#: long enough for another writer's import or screening chunk to commit, short enough that a forgotten open
#: transaction is reported rather than waited on forever.
DEFAULT_BUSY_TIMEOUT_S = 30.0
#: After this long a waiting writer says what it waits for (shorter waits are ordinary and pass silently).
LOCK_NOTICE_AFTER_S = 1.0
#: How often a writer tries the advisory lock again while another process holds it.
LOCK_POLL_S = 0.05


def database_path(db_path: str | Path | None) -> Path:
    """``db_path``, or the default database (``$ARGYRODB_DB`` or the user data folder)."""
    return Path(db_path) if db_path is not None else default_database_path()


def busy_timeout_s() -> float:
    """How long a writer waits for a lock: ``$ARGYRODB_BUSY_TIMEOUT_S`` seconds, else :data:`DEFAULT_BUSY_TIMEOUT_S`."""
    text = os.environ.get("ARGYRODB_BUSY_TIMEOUT_S", "").strip()
    if not text:
        return DEFAULT_BUSY_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        raise InputError("ARGYRODB_BUSY_TIMEOUT_S", f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise InputError("ARGYRODB_BUSY_TIMEOUT_S", f"must be a finite number of seconds >= 0, got {text!r}")
    return value


class LockWait:
    """One writer's wait for one lock: :meth:`tick` while waiting says once (after LOCK_NOTICE_AFTER_S) what it
    waits for and raises the InputError when the timeout is over."""

    def __init__(self, path: Path, timeout_s: float | None = None):
        self.path = Path(path)
        self.timeout_s = busy_timeout_s() if timeout_s is None else timeout_s
        self.started = time.monotonic()
        self.noticed = False

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def remaining_s(self) -> float:
        return self.timeout_s - self.elapsed_s()

    def tick(self, holder: str = "another process") -> None:
        if not self.noticed and self.elapsed_s() >= LOCK_NOTICE_AFTER_S:
            self.noticed = True
            log.warning(f"argyrodb: waiting for the lock on {self.path} held by {holder} "
                        f"(up to {self.timeout_s:g} s; ARGYRODB_BUSY_TIMEOUT_S sets the wait) ...")
        if self.remaining_s() <= 0:
            raise self.error(holder)

    def error(self, holder: str = "another process") -> InputError:
        return InputError(self.path, f"locked by {holder}: gave up after {self.timeout_s:g} s; let that writer finish "
                                     "(another argyrodb db build/add/remove/screen, or a program with an open write "
                                     "transaction) and try again, or wait longer with ARGYRODB_BUSY_TIMEOUT_S=SECONDS")


def wait_for(conn: sqlite3.Connection, wait: LockWait, step):
    """``step()`` (a statement that needs a lock on ``conn``'s database), retried while another connection holds
    the lock: SQLite's busy handler waits up to the notice, then to the timeout; a lock SQLite refuses at once (a
    stale WAL snapshot) is retried every LOCK_POLL_S. Afterwards ``conn``'s busy timeout is the whole wait, so a
    later COMMIT waiting for readers in rollback-journal mode has it too."""
    try:
        while True:
            budget_s = (LOCK_NOTICE_AFTER_S - wait.elapsed_s()) if not wait.noticed else wait.remaining_s()
            budget_s = max(LOCK_POLL_S, min(budget_s, wait.remaining_s()))
            conn.execute(f"PRAGMA busy_timeout = {int(budget_s * 1000)}")
            tried = time.monotonic()
            try:
                return step()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
            if time.monotonic() - tried < LOCK_POLL_S:
                time.sleep(LOCK_POLL_S)
            wait.tick()
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(wait.timeout_s * 1000)}")


def _lock_holder(handle) -> str:
    """Who holds ``<db>.lock``: the holder writes its process id into the file."""
    try:
        handle.seek(0)
        pid = handle.read().strip()
    except OSError:
        pid = ""
    return f"argyrodb process {pid}" if pid.isdigit() else "another argyrodb process"


@contextlib.contextmanager
def writer_lock(db_path: Path, timeout_s: float | None = None):
    """Exclusive advisory lock shared by argyrodb's writers of one database (``<db>.lock``): a rebuild
    waits for a screening chunk to commit, and a screening chunk waits for a rebuild to finish. A writer
    waits for it as for the database (see the module docstring), then gives up with an InputError."""
    import fcntl  # POSIX only; imported here so the module itself imports everywhere

    lock_path = Path(str(db_path) + ".lock")
    with open(lock_path, "a+") as handle:
        wait = None
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                wait = wait or LockWait(lock_path, timeout_s)
                wait.tick(_lock_holder(handle))
                time.sleep(LOCK_POLL_S)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")  # so that a waiting writer can say whom it waits for
            handle.flush()
            yield
        finally:
            with contextlib.suppress(OSError):
                handle.truncate(0)
                handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def open_for_writing(db_path: str | Path | None, wait: LockWait | None = None):
    """A write connection with WAL, a busy timeout, foreign keys, and the schema migrated if needed; a lock held
    by another connection is waited for as the module docstring says."""
    path = database_path(db_path)
    if not path.is_file():
        raise InputError(path, "no database here: run `argyrodb db build` first")
    wait = wait or LockWait(path)
    conn = sqlite3.connect(path, timeout=wait.timeout_s)
    try:
        # first: a file that is not an argyrodb database is refused before anything is written (migrate also
        # registers SQLite math functions where the build lacks them)
        wait_for(conn, wait, lambda: migrate(conn, path))
        wait_for(conn, wait, lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())  # switching needs the file alone
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection, path: Path, wait: LockWait | None = None):
    """One write transaction on ``conn``: the write lock taken first (BEGIN IMMEDIATE, waited for as the module
    docstring says: a deferred transaction that read first is refused the lock at once, without waiting, when
    another connection writes), committed at the end, rolled back on any exception (an interrupt included)."""
    wait = wait or LockWait(path)
    wait_for(conn, wait, lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        yield conn
        conn.commit()
    except BaseException as exc:
        if conn.in_transaction:
            conn.rollback()
        if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
            raise wait.error() from None
        raise


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)  # the shell's code for death by that signal; with-blocks and finally clauses run


@contextlib.contextmanager
def signals_as_exit():
    """While a writer has temporary files or a transaction to clean up: SIGTERM and SIGHUP (the default of both:
    die on the spot) raise SystemExit(128 + signal) instead, so cleanup runs as for Ctrl-C (KeyboardInterrupt).
    Only in the main thread (where Python runs signal handlers) and only where nobody installed a handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is signal.SIG_DFL:
            previous[number] = signal.signal(number, _exit_on_signal)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def signals_deferred():
    """Cleanup that a second signal must not cut short: SIGINT, SIGTERM and SIGHUP wait (blocked) until it is done."""
    block = {s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None}
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, block)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


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

    def __enter__(self) -> ReadOnlyDatabase:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def migrate_file(path: str | Path) -> tuple[int, int]:
    """Migrate the database file ``path`` in place; returns (version before, version after). A lock held by
    another process is waited for, then reported (:func:`wait_for`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such database")
    conn = sqlite3.connect(path)
    try:
        return wait_for(conn, LockWait(path), lambda: migrate(conn, path)), SCHEMA_VERSION
    finally:
        conn.close()
