"""Issue 20, item 5: a writer that finds the database or <db>.lock held by another process waits (with a busy
timeout, saying what it waits for after a second), then exits 2 with one line naming the lock and what to do;
the database is unchanged. The waits here are shortened through ARGYRODB_BUSY_TIMEOUT_S."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from argyrodb.store.connection import writer_lock
from argyrodb_testing import run

CSV = "formula,sigma_mS_cm\nLi6PS5Cl,2.2\nLi6PS5Br,1.1\n"


@pytest.fixture()
def db(db_path, tmp_path):
    path = tmp_path / "locked.sqlite"
    shutil.copy(db_path, path)
    (tmp_path / "mine.csv").write_text(CSV)
    return path


def argyrodb(*args: str, timeout_s: float) -> tuple[subprocess.CompletedProcess, float]:
    """The command in a process of its own (a lock in this process must be another process's lock to it), with
    ARGYRODB_BUSY_TIMEOUT_S = ``timeout_s``; returns the result and its wall time."""
    env = {**os.environ, "ARGYRODB_BUSY_TIMEOUT_S": f"{timeout_s:g}"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "argyrodb", *args], capture_output=True, text=True, env=env, timeout=120)
    return done, time.monotonic() - started


def state(path: Path) -> tuple:
    # closed at once: an open reader blocks a journal-mode switch
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return tuple(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("user_imports", "measurements", "materials"))


def hold_write_transaction(path: Path, journal_mode: str) -> sqlite3.Connection:
    """Another connection with an open write transaction (what `sqlite3 db.sqlite` + BEGIN IMMEDIATE, or a
    program in the middle of its writes, does)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    assert conn.execute(f"PRAGMA journal_mode = {journal_mode}").fetchone()[0] == journal_mode
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO conditions (id, procedure, quantity, value, source_text) VALUES (999, 'p', 'q', 1.0, 'held')")
    return conn


def startup_s() -> float:
    """What a bare `argyrodb db ... --help` costs here (imports): the lock tests' time budgets sit on top of it."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "argyrodb", "db", "add", "--help"], capture_output=True, check=True)
    return time.monotonic() - started


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
@pytest.mark.parametrize("command", ["add", "remove"])
def test_a_write_transaction_of_another_process_makes_add_and_remove_exit_2_with_one_line(db, tmp_path, journal_mode, command):
    if command == "remove":
        assert run("db", "add", str(tmp_path / "mine.csv"), "--db", str(db)).returncode == 0
    before = state(db)
    args = ["db", "add", str(tmp_path / "mine.csv")] if command == "add" else ["db", "remove", "mine.csv"]
    holder = hold_write_transaction(db, journal_mode)
    try:
        # under the notice threshold: the error alone, one line
        quick, quick_s = argyrodb(*args, "--db", str(db), timeout_s=0.5)
        # over it: one line saying what it waits for, then the error
        slow, slow_s = argyrodb(*args, "--db", str(db), timeout_s=1.5)
    finally:
        holder.rollback()
        holder.close()
    base_s = startup_s()
    for result, wait_s, elapsed_s in ((quick, 0.5, quick_s), (slow, 1.5, slow_s)):
        assert result.returncode == 2, result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr and "internal error" not in result.stderr
        assert elapsed_s >= wait_s and elapsed_s < base_s + wait_s + 5  # it waited, and not much longer
    error = f"argyrodb: error: {db}: locked by another process: gave up after "
    assert quick.stderr.splitlines() == [quick.stderr.strip()] and quick.stderr.startswith(error + "0.5 s; let that writer finish")
    lines = slow.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == (f"argyrodb: waiting for the lock on {db} held by another process (up to 1.5 s; ARGYRODB_BUSY_TIMEOUT_S "
                        "sets the wait) ...")
    assert lines[1].startswith(error + "1.5 s; let that writer finish") and "ARGYRODB_BUSY_TIMEOUT_S=SECONDS" in lines[1]
    assert state(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_writer_waits_for_a_lock_that_is_released_in_time(db, tmp_path):
    holder = hold_write_transaction(db, "wal")
    # released once the writer says it is waiting (a fixed 2.5 s timer was shorter than the child's start-up on a
    # loaded machine: the lock was gone before it was tried, and nothing was said); a writer that never says so
    # gives up after its 90 s and fails the test
    env = {**os.environ, "ARGYRODB_BUSY_TIMEOUT_S": "90"}
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "argyrodb", "db", "add", str(tmp_path / "mine.csv"), "--db", str(db)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first_line = process.stderr.readline()
        time.sleep(0.5)  # it keeps waiting while the lock is held
        assert process.poll() is None
    finally:
        holder.rollback()
        holder.close()
    out, rest = process.communicate(timeout=60)
    elapsed_s = time.monotonic() - started
    assert process.returncode == 0, first_line + rest
    assert "2 measurements" in out and elapsed_s < 90
    assert first_line.startswith(f"argyrodb: waiting for the lock on {db} held by another process")
    assert rest.strip() == ""  # said once, however long it waited


def test_the_writers_advisory_lock_is_waited_for_then_named(db, tmp_path):
    before = state(db)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    with writer_lock(db):  # what a running `db build` or screening chunk holds
        added, elapsed_s = argyrodb("db", "add", str(tmp_path / "mine.csv"), "--db", str(db), timeout_s=1.5)
        built, _ = argyrodb("db", "build", "--db", str(db), "--quiet", timeout_s=1.5)
    assert added.returncode == 2 and elapsed_s >= 1.5, added.stderr
    lines = added.stderr.strip().splitlines()
    assert lines == [
        f"argyrodb: waiting for the lock on {db}.lock held by argyrodb process {os.getpid()} (up to 1.5 s; "
        "ARGYRODB_BUSY_TIMEOUT_S sets the wait) ...",
        f"argyrodb: error: {db}.lock: locked by argyrodb process {os.getpid()}: gave up after 1.5 s; let that writer finish "
        "(another argyrodb db build/add/remove/screen, or a program with an open write transaction) and try again, or "
        "wait longer with ARGYRODB_BUSY_TIMEOUT_S=SECONDS",
    ]
    # a build waits at its install step: it gives up the same way, and takes its temporary file with it
    assert built.returncode == 2 and f"{db}.lock: locked by argyrodb process {os.getpid()}" in built.stderr
    assert sorted(db.parent.glob(f".{db.name}.*")) == []
    assert state(db) == before and hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_a_build_waits_for_a_write_transaction_on_the_target_then_exits_2(db):
    """The build's install (SQLite's backup into the existing file) retried a busy target for ever in Python's
    backup loop; now it waits like the other writers."""
    holder = hold_write_transaction(db, "delete")
    try:
        built, _elapsed_s = argyrodb("db", "build", "--db", str(db), "--quiet", timeout_s=2)
    finally:
        holder.rollback()
        holder.close()
    assert built.returncode == 2, built.stderr
    lines = built.stderr.strip().splitlines()
    assert lines[-1].startswith(f"argyrodb: error: {db}: locked by another process: gave up after 2 s")
    assert len(lines) == 2 and lines[0].startswith(f"argyrodb: waiting for the lock on {db}")
    assert sorted(db.parent.glob(f".{db.name}.*")) == []


def test_a_bad_busy_timeout_is_a_one_line_error(db, tmp_path):
    env = {**os.environ, "ARGYRODB_BUSY_TIMEOUT_S": "soon"}
    done = subprocess.run([sys.executable, "-m", "argyrodb", "db", "add", str(tmp_path / "mine.csv"), "--db", str(db)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "argyrodb: error: ARGYRODB_BUSY_TIMEOUT_S: not a number of seconds: 'soon'"

