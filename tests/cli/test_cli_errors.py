"""Bad input from the command line: one line, exit status 2, nothing half-written."""

from __future__ import annotations

import sqlite3

import pytest

from argyrodb_testing import DATA, structure


def _cli(*args):
    from argyrodb_testing import run

    return run(*args)


def test_multiline_texts_still_give_readable_cifs(tmp_path):
    import gemmi

    text = structure("Li6PS5Cl").read_text().replace("name: Li6PS5Cl", "name: |-\n  Li6PS5Cl\n  second line")
    text = text.replace("  note: >-\n    9.84988 A, Rao & Adams 2011 (ICSD 142473), room temperature",
                        "  note: |-\n    9.84988 A, Rao & Adams 2011 (ICSD 142473),\n    room temperature")
    source = tmp_path / "multi.yaml"
    source.write_text(text)
    out = tmp_path / "multi.cif"
    assert _cli("build", str(source), "--cif", str(out)).returncode == 0
    assert gemmi.read_small_structure(str(out)).spacegroup.number == 216


def test_no_partial_outputs(tmp_path):
    csv = tmp_path / "p.csv"
    result = _cli("xrd", str(structure("Li6PS5Cl")), "--csv", str(csv), "--plot", str(tmp_path / "missing" / "p.png"))
    assert result.returncode == 2 and not csv.exists()
    result = _cli("approximants", "Li6PS5Cl", "-n", "1", "--candidates", "2", "--format", "poscar,xyz", "--out", str(tmp_path / "ap"))
    assert result.returncode == 2 and "unknown format 'xyz'" in result.stderr and not (tmp_path / "ap").exists()


def test_export_is_all_or_nothing(db_path, tmp_path):
    import shutil

    old = tmp_path / "old.sqlite"
    shutil.copy(db_path, old)
    with sqlite3.connect(old) as conn:
        conn.execute("DROP TABLE eis_fits")
    result = _cli("db", "export", "--db", str(old), "--out", str(tmp_path / "exp"))
    assert result.returncode == 2 and not (tmp_path / "exp").exists()


def test_obelix_import_refuses_wrong_files_and_keeps_the_target(tmp_path):
    target = tmp_path / "ob.csv"
    target.write_text("kept\n")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("foo,bar\n1,2\n")
    result = _cli("db", "import-obelix", str(wrong), "--out", str(target))
    assert result.returncode == 2 and "missing column 'ID'" in result.stderr and target.read_text() == "kept\n"
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"ID,Family\n\xe9,x\n")
    assert "not UTF-8" in _cli("db", "import-obelix", str(latin), "--out", str(target)).stderr
    sample = DATA / "obelix_sample.csv"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + sample.read_bytes())
    assert _cli("db", "import-obelix", str(bom), "--out", str(target)).returncode == 0
    zero = tmp_path / "z0.csv"
    zero.write_text(sample.read_text().replace(",4,Li24.0P4.0S20.0Cl4.0,", ",0,Li24.0P4.0S20.0Cl4.0,", 1))
    assert "Z must be positive" in _cli("db", "import-obelix", str(zero), "--out", str(target)).stderr


@pytest.mark.parametrize("args, message", [
    (["calc", "ccd", "--step", "1", "--max", "0.5"], "below one step"),
    (["calc", "gforce", "--table", "nan:800:50"], "START <= STOP"),
    (["calc", "gforce", "--table", "550:inf:50"], "STEP"),
    (["db", "compare", "Li0"], "no atoms"),
    (["db", "compare", "Li6PS5Cl", "--nearest", "-3"], "at least 1"),
    (["db", "compare", "Li6PS5Cl", "--sigma", "-1"], "must be positive"),
    (["xrd", str(structure("Li6PS5Cl")), "--caglioti", "-1", "-1", "-1"], "no positive FWHM"),
    (["build", str(structure("Li6PS5Cl")), "--cif", "x.cif", "--cif-dir", "d"], "not both"),
    (["screen", "", "--x", "0:1:0.5"], "give a family expression"),  # crashed with exit 3 (issue 12)
])
def test_more_bad_input_gets_one_line_and_exit_2(args, message):
    result = _cli(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_gforce_table_stops_at_stop():
    import json

    rows = json.loads(_cli("calc", "gforce", "--table", "550:800:300", "--json").stdout)
    assert [r["rpm"] for r in rows] == [550]


def test_non_utf8_inputs_and_zero_patterns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"temperature_K,sigma_S_cm\n300,\xff\n")
    assert "not UTF-8" in _cli("calc", "arrhenius", str(bad)).stderr
    zero = tmp_path / "zero.xy"
    zero.write_text("\n".join(f"{10 + 0.1 * i:.1f} 0" for i in range(100)))
    result = _cli("xrd", str(structure("Li6PS5Cl")), "--two-theta", "10", "19", "--measured", str(zero), "--json")
    assert result.returncode == 2 and "R_wp is undefined" in result.stderr


def test_duplicate_cif_targets_are_refused(tmp_path):
    copy = tmp_path / "copy.yaml"
    copy.write_text(structure("Li6PS5Cl").read_text())
    result = _cli("build", str(structure("Li6PS5Cl")), str(copy), "--cif-dir", str(tmp_path / "d"))
    assert result.returncode == 2 and "same structure name" in result.stderr and not (tmp_path / "d").exists()


def _cases():
    import yaml

    from argyrodb_testing import DATA

    return yaml.safe_load((DATA / "bad_inputs" / "cases.yaml").read_text())


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c['args'][0]}-{c['file']}")
def test_bad_input_files_get_one_line_exit_2_and_no_output(case, tmp_path):
    """Each data file in tests/data/bad_inputs/ with its command and the message cases.yaml expects."""
    from argyrodb_testing import DATA, LMA, run

    path = DATA / "bad_inputs" / case["file"]
    out = tmp_path / "out"
    out.mkdir()
    args = [a.format(file=path, out=out, lma=LMA) for a in case["args"]]
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert case["message"] in lines[0] and str(path) in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["calc", "conductivity", "--resistance", "73.3", "--thickness-mm", "-0.6", "--diameter-mm", "10"], "--thickness-mm: must be positive, got -0.6"),
    (["calc", "conductivity", "--resistance", "73.3", "--thickness-mm", "0.6", "--diameter-mm", "-10"], "--diameter-mm: must be positive"),
    (["calc", "conductivity", "--resistance", "73.3", "--thickness-mm", "0.6"], "give --diameter-mm or --area-cm2"),
    (["approximants", "Li6PS5Cl", "--candidates", "0"], "--candidates: need"),
    (["density", "Li6PS5F"], "--a: Li6PS5F: the lattice model has no calibration data for F"),
    (["density", "Li3PS4"], "--a: Li3PS4: no Cl, Br or I"),
])
def test_messages_name_the_flag_the_user_gave(args, message):
    from argyrodb_testing import run

    result = run(*args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_arrhenius_fit_errors_name_the_data_file(tmp_path):
    from argyrodb_testing import run

    data = tmp_path / "two.csv"
    data.write_text("temperature_K,sigma_S_cm\n300,1e-3\n320,2e-3\n")
    result = run("calc", "arrhenius", str(data))
    assert result.returncode == 2 and f"{data}: need at least 3" in result.stderr


def test_interrupt_exits_130():
    import signal
    import subprocess
    import sys
    import time

    # the child says when it is inside the command: a fixed sleep raced the imports on a loaded machine (exit 3)
    process = subprocess.Popen([sys.executable, "-c", "import sys, time, argyrodb.cli as c\n"
                                "import argyrodb.physics.calculators as k\n"
                                "k.gforce_table = lambda *a, **kw: (print('inside', flush=True), time.sleep(30))\n"
                                "c.main(['calc', 'gforce', '--table', '1:2:1'])"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               # a shell's background job (`make test &`, a CI runner) inherits SIGINT ignored, and
                               # Python then never raises KeyboardInterrupt: give the child Ctrl-C as a terminal has it
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout.readline().strip() == "inside"
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "argyrodb: aborted" in err
