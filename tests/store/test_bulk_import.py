"""Issue 20, items 4 and 6: bulk user imports within limits, temporary files gone on every exit path, plausibility.

The 50,000-row timings live in benchmarks/bench_db.py; here a 5,000-row import goes through add, rebuild and
remove as a functional check (values stored as given, every row and material accounted for, no temporary file)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from argyrodb.core.chemistry import format_formula, parse_formula
from argyrodb.core.errors import InputError
from argyrodb.core.resources import literature_folder
from argyrodb.pipeline.build import add_user_data, build_database
from argyrodb.store import ingest, user_data
from argyrodb.store.ingest import DatabaseBuild, add_user_import
from argyrodb.store.user_data import (
    MAX_USER_CSV_BYTES,
    MAX_USER_ROWS,
    MAX_USER_ROWS_TOTAL,
    SIGMA_MAX_MS_CM,
    SIGMA_MIN_MS_CM,
    read_user_csv,
)
from argyrodb_testing import REPO, run

HEADER = "formula,sigma_mS_cm,temperature_K,activation_energy_eV,sigma_kind,ccd_mA_cm2,process,anode,doi,note\n"


def bulk_csv(path: Path, n_rows: int, seed: int = 0) -> list[tuple[str, float]]:
    """A user CSV of ``n_rows`` Li(7-y)PS(6-y)Cl(y-z)Iz rows (about one distinct formula in five rows repeated);
    returns (formula, sigma) of every row."""
    rng = random.Random(seed)
    rows = []
    with open(path, "w") as fh:
        fh.write(HEADER)
        for i in range(n_rows):
            y = rng.choice((1.0, 1.2, 1.4, 1.6))
            z = round(rng.randrange(0, 1000) / 1000 * y, 3)
            formula = f"Li{7 - y:g}PS{6 - y:g}Cl{round(y - z, 3):g}" + (f"I{z:g}" if z else "")
            sigma = float(f"{10 ** rng.uniform(-3, 1.2):.4g}")
            rows.append((formula, sigma))
            fh.write(f"{formula},{sigma!r},298,0.3,bulk,1.0,MM + HT,Li,10.1000/b{i % 7},row {i}\n")
    return rows


def temporaries(db: Path) -> list[Path]:
    """A build's temporary files beside ``db`` (and any SQLite file beside one)."""
    return sorted(db.parent.glob(f".{db.name}.*"))


def counts(db: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("user_imports", "user_rows", "measurements", "materials", "sources", "structures")}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def copy_db(db_path, tmp_path):
    path = tmp_path / "bulk.sqlite"
    shutil.copy(db_path, path)
    return path


def test_5000_rows_added_rebuilt_and_removed_as_given_leaving_no_temporary_file(copy_db, tmp_path):
    csv = tmp_path / "bulk.csv"
    given = bulk_csv(csv, 5000)
    before = counts(copy_db)
    added = run("db", "add", str(csv), "--db", str(copy_db))
    assert added.returncode == 0 and "5000 measurements" in added.stdout, added.stderr
    assert added.stderr == ""  # every formula is charge-neutral, every sigma plausible: no warning
    distinct = {format_formula(parse_formula(f)) for f, _ in given}
    with sqlite3.connect(copy_db) as conn:
        stored = conn.execute("SELECT m.dataset_row, mat.formula, m.sigma_mS_cm, m.temperature_K, m.process, m.doi, "
                              "mat.charge_neutral FROM measurements m JOIN materials mat ON mat.id = m.material_id "
                              "WHERE m.dataset = 'user' ORDER BY m.dataset_row").fetchall()
        new_materials = conn.execute("SELECT COUNT(*) FROM materials").fetchone()[0] - before["materials"]
        known = {r[0] for r in conn.execute("SELECT formula FROM materials")}
    # row for row: line k+2 of the file is the k-th row given, with its own material (one per distinct formula)
    assert [r[0] for r in stored] == list(range(2, 5002))
    assert [(r[1], r[2]) for r in stored] == [(format_formula(parse_formula(f)), s) for f, s in given]
    assert {(r[3], r[4], r[6]) for r in stored} == {(298.0, "MM + HT", 1)} and stored[8][5] == "10.1000/b1"
    assert distinct <= known and 0 < new_materials <= len(distinct) < 5000

    counts_added = build_database(copy_db, show_progress=False)  # the rebuild replays the import
    assert counts_added["user_imports_kept"] == 1 and counts_added["measurements"] == before["measurements"] + 5000
    assert temporaries(copy_db) == []
    with sqlite3.connect(copy_db) as conn:
        replayed = conn.execute("SELECT m.dataset_row, mat.formula, m.sigma_mS_cm FROM measurements m JOIN materials mat "
                                "ON mat.id = m.material_id WHERE m.dataset = 'user' ORDER BY m.dataset_row").fetchall()
    assert replayed == [r[:3] for r in stored]

    removed = run("db", "remove", "bulk.csv", "--db", str(copy_db))
    assert removed.returncode == 0 and "5000 measurements" in removed.stdout
    assert counts(copy_db) == before  # its materials and source went with it
    assert temporaries(copy_db) == []


def test_a_file_over_the_row_limit_is_refused_before_anything_is_written(copy_db, tmp_path):
    csv = tmp_path / "huge.csv"
    with open(csv, "w") as fh:
        fh.write("formula,sigma_mS_cm\n")
        fh.write("Li6PS5Cl,2.5\n" * (MAX_USER_ROWS + 1))
    before = digest(copy_db)
    result = run("db", "add", str(csv), "--db", str(copy_db))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert f"{csv}:{MAX_USER_ROWS + 2}: more than {MAX_USER_ROWS:,} data rows" in lines[0]
    assert digest(copy_db) == before and temporaries(copy_db) == []
    # exactly the limit is accepted (read and validated; nothing stored here)
    csv.write_text("formula,sigma_mS_cm\n" + "Li6PS5Cl,2.5\n" * MAX_USER_ROWS)
    assert len(read_user_csv(csv).rows) == MAX_USER_ROWS


def test_a_file_over_the_byte_limit_is_refused_with_one_line(copy_db, tmp_path):
    csv = tmp_path / "wide.csv"
    with open(csv, "w") as fh:
        fh.write("formula,sigma_mS_cm,note\n")
        fh.write(f"Li6PS5Cl,2.5,{'x' * 1000}\n" * (MAX_USER_CSV_BYTES // 1000 + 1))
    result = run("db", "add", str(csv), "--db", str(copy_db))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"over the {MAX_USER_CSV_BYTES:,}-byte limit of `db add`" in result.stderr


def test_the_database_total_of_user_rows_is_bounded(copy_db, tmp_path, monkeypatch):
    """The total limit, at a small value (the check is the same arithmetic at 250,000)."""
    monkeypatch.setattr(ingest, "MAX_USER_ROWS_TOTAL", 5)
    (tmp_path / "one.csv").write_text("formula,sigma_mS_cm\nLi6PS5Cl,1\nLi6PS5Cl,2\nLi6PS5Cl,3\n")
    (tmp_path / "two.csv").write_text("formula,sigma_mS_cm\nLi6PS5Br,1\nLi6PS5Br,2\nLi6PS5Br,3\n")
    assert add_user_data(tmp_path / "one.csv", copy_db)["measurements"] == 3
    before = counts(copy_db)
    with pytest.raises(InputError, match=r"3 rows would take the user data .* to 6 rows, more than the 5 a database keeps"):
        add_user_data(tmp_path / "two.csv", copy_db)
    assert counts(copy_db) == before
    assert MAX_USER_ROWS_TOTAL >= 2 * MAX_USER_ROWS  # two full files fit


def test_the_limits_and_range_are_documented_as_enforced():
    help_text = " ".join(run("db", "add", "--help").stdout.split())
    readme = " ".join((REPO / "README.md").read_text().split())
    for text in (help_text, readme):
        assert f"{MAX_USER_ROWS:,} data rows" in text and f"{MAX_USER_ROWS_TOTAL:,} user rows" in text
        assert f"{MAX_USER_CSV_BYTES // 1_000_000} MB" in text
        assert f"{SIGMA_MIN_MS_CM:g} to 1e3 mS/cm" in text and SIGMA_MAX_MS_CM == 1e3


# --------------------------------------------------------------------------- temporary files on every exit path

def _broken_import(n_rows: int, bad_line: int):
    """A 'validated' import whose row at ``bad_line`` breaks a CHECK of the schema (temperature_K < 2000) - what a
    bug between validation and storage would do: the insert raises midway through the rows."""
    csv_rows = [("Li6PS5Cl", 2.0)] * n_rows
    imp = user_data.UserImport(file_name="broken.csv", sha256="0" * 64)
    for line, (formula, sigma) in enumerate(csv_rows, start=2):
        given = {"formula": formula, "sigma_mS_cm": str(sigma)}
        parsed, values = user_data.validate_row(given, f"broken.csv:{line}")
        if line == bad_line:
            values["temperature_K"] = 5000.0
        imp.rows.append(user_data.UserRow(line=line, given=given, formula=parsed, values=values))
    return imp


def test_an_insert_failing_midway_through_a_build_leaves_no_temporary_file(copy_db):
    before = digest(copy_db)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed: temperature_K"), DatabaseBuild(copy_db) as build:
        build.insert_literature(literature_folder())
        assert len(temporaries(copy_db)) == 1  # it was there while building
        build.insert_user_import(_broken_import(3000, 1500), {})
    assert temporaries(copy_db) == [] and digest(copy_db) == before


def test_an_interrupt_during_a_build_leaves_no_temporary_file(copy_db):
    before = digest(copy_db)
    with pytest.raises(KeyboardInterrupt), DatabaseBuild(copy_db) as build:
        build.insert_literature(literature_folder())
        raise KeyboardInterrupt  # where Ctrl-C lands: between two inserts
    assert temporaries(copy_db) == [] and digest(copy_db) == before


def test_an_insert_failing_midway_through_an_add_leaves_the_database_as_it_was(copy_db):
    before = counts(copy_db)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed: temperature_K"):
        add_user_import(copy_db, _broken_import(3000, 1500), {})
    assert counts(copy_db) == before and temporaries(copy_db) == []


def _argyrodb(*args: str) -> subprocess.Popen:
    # SIGINT as a terminal has it: a shell's background job (`make test &`, a CI runner) inherits it ignored
    return subprocess.Popen([sys.executable, "-m", "argyrodb", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            text=True)


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130)])
def test_a_signal_during_a_build_removes_its_temporary_file(copy_db, tmp_path, signum, code):
    bulk_csv(tmp_path / "bulk.csv", 20_000)
    assert add_user_data(tmp_path / "bulk.csv", copy_db)["measurements"] == 20_000  # so the build has rows to replay
    before = digest(copy_db)
    process = _argyrodb("db", "build", "--db", str(copy_db), "--quiet")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not temporaries(copy_db) and process.poll() is None:
        time.sleep(0.005)
    assert temporaries(copy_db), "the build never created its temporary file"
    time.sleep(0.05)  # let it write into the temporary file (on a loaded machine 0.2 s was once the whole rest of the build)
    assert process.poll() is None, "the build ended before the signal could be sent"
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert temporaries(copy_db) == [] and digest(copy_db) == before
    with sqlite3.connect(copy_db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_sigterm_during_an_add_rolls_it_back(copy_db, tmp_path):
    """SIGTERM once the add holds the writers' lock (it writes its process id into <db>.lock): nothing stored."""
    bulk_csv(tmp_path / "bulk.csv", 30_000)
    before = counts(copy_db)
    lock = Path(f"{copy_db}.lock")
    process = _argyrodb("db", "add", str(tmp_path / "bulk.csv"), "--db", str(copy_db))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and not (lock.is_file() and lock.read_text().strip()):
        time.sleep(0.002)
    assert lock.read_text().strip() == str(process.pid), "the add never took the writers' lock"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert counts(copy_db) == before and temporaries(copy_db) == []
    assert lock.read_text() == ""  # the lock file says nobody holds it
    # and the database takes the same file afterwards
    assert run("db", "add", str(tmp_path / "bulk.csv"), "--db", str(copy_db)).returncode == 0


# --------------------------------------------------------------------------- plausibility

def test_a_formula_that_is_not_charge_neutral_is_added_with_a_warning_naming_line_and_charge(copy_db, tmp_path):
    csv = tmp_path / "charge.csv"
    csv.write_text("formula,sigma_mS_cm\nLi6PS5Cl,2\nLi6PS5Cl2,2.1\n" + "Li6PS5Br2,1\n" * 12)
    result = run("db", "add", str(csv), "--db", str(copy_db))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"argyrodb: warning: {csv}:3: formula Li6PS5Cl2: not charge-neutral (-1.000 e per formula unit)"
    listed = ", ".join(f"{csv}:{line}" for line in range(4, 14))
    assert lines[1] == (f"argyrodb: warning: {listed} and 2 more rows: formula Li6PS5Br2: not charge-neutral "
                        "(-1.000 e per formula unit)")
    assert len(lines) == 2
    with sqlite3.connect(copy_db) as conn:
        stored = conn.execute("SELECT mat.formula, mat.charge_per_fu, mat.charge_neutral FROM measurements m JOIN materials mat "
                              "ON mat.id = m.material_id WHERE m.dataset = 'user' AND m.dataset_row = 3").fetchone()
    assert stored == ("Li6PS5Cl2", -1.0, 0)  # the stored charge is the warning's


@pytest.mark.parametrize("sigma, accepted", [
    ("1e30", False), ("1001", False), ("1e-13", False), (">2e3", False), ("<1e-15", False),
    ("1000", True), ("1e-12", True), ("<1e-5", True), ("25", True),
])
def test_sigma_outside_the_physical_range_is_refused_unless_forced(copy_db, tmp_path, sigma, accepted):
    csv = tmp_path / "sigma.csv"
    csv.write_text(f"formula,sigma_mS_cm\nLi6PS5Cl,2\nLi6PS5Br,{sigma}\n")
    before = counts(copy_db)
    result = run("db", "add", str(csv), "--db", str(copy_db))
    if accepted:
        assert result.returncode == 0 and result.stderr == "", result.stderr
        return
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"argyrodb: error: {csv}:3: sigma_mS_cm: {sigma} mS/cm is outside the plausible range "
                               f"{SIGMA_MIN_MS_CM:g} to {SIGMA_MAX_MS_CM:g} mS/cm")
    assert "--force" in lines[0] and counts(copy_db) == before
    forced = run("db", "add", str(csv), "--db", str(copy_db), "--force")
    assert forced.returncode == 0
    assert forced.stderr.strip() == (f"argyrodb: warning: sigma_mS_cm outside the plausible range {SIGMA_MIN_MS_CM:g} to "
                                     f"{SIGMA_MAX_MS_CM:g} mS/cm, added because forced: {csv}:3")
    assert counts(copy_db)["measurements"] == before["measurements"] + 2


def test_the_api_applies_the_cli_rules_and_a_rebuild_keeps_a_forced_import(copy_db, tmp_path):
    csv = tmp_path / "odd.csv"
    csv.write_text("formula,sigma_mS_cm\nLi6PS5Cl2,1e30\n")
    with pytest.raises(InputError, match=r"odd.csv:2: sigma_mS_cm: 1e30 mS/cm is outside the plausible range"):
        add_user_data(csv, copy_db)
    result = add_user_data(csv, copy_db, force=True)
    assert len(result["warnings"]) == 2 and "not charge-neutral (-1.000 e per formula unit)" in result["warnings"][1]
    rebuilt = build_database(copy_db, show_progress=False)  # replay re-validates the rows, but does not refuse them
    assert rebuilt["user_imports_kept"] == 1
    with sqlite3.connect(copy_db) as conn:
        assert conn.execute("SELECT sigma_mS_cm FROM measurements WHERE dataset = 'user'").fetchall() == [(1e30,)]


def test_stored_values_follow_the_json_given(copy_db, tmp_path):
    """The batched insert keeps each row's given fields (user_rows) beside its measurement, line for line."""
    csv = tmp_path / "few.csv"
    csv.write_text("formula,sigma_mS_cm,doi,note\nLi6PS5Cl,<1e-4,doi:10.1000/A,first\nLi6PS5I,0.5,,second\n")
    add_user_data(csv, copy_db)
    with sqlite3.connect(copy_db) as conn:
        rows = conn.execute("SELECT r.line, r.row_json, m.sigma_bound, m.sigma_bound_mS_cm, m.sigma_mS_cm, m.doi, m.note "
                            "FROM user_rows r JOIN measurements m ON m.user_import_id = r.import_id AND m.dataset_row = r.line "
                            "ORDER BY r.line").fetchall()
    assert [(r[0], json.loads(r[1])["note"]) for r in rows] == [(2, "first"), (3, "second")]
    assert rows[0][2:] == ("<", 1e-4, None, "10.1000/a", "first") and rows[1][2:] == (None, None, 0.5, None, "second")
