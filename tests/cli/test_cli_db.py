"""`argyrodb db ...` as a user runs it, including Datasette on localhost."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from argyrodb_testing import REPO, run


def test_db_query_formats(db_path):
    result = run("db", "query", "--db", str(db_path), "--dataset", "table_s3", "--anode", "In", "--format", "json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [r["dataset_row"] for r in payload] == [16]
    result = run("db", "query", "--db", str(db_path), "--dataset", "table_s3", "--role", "Interlayer", "--format", "csv")
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("measurement_id,dataset,dataset_row") and len(lines) == 3


@pytest.mark.parametrize("args, message", [
    (["query", "--sigma-min", "nan"], "--sigma-min: must be a finite number, got nan"),
    (["query", "--ccd-max", "inf"], "--ccd-max: must be a finite number, got inf"),
    (["query", "--sigma-min", "5", "--sigma-max", "1"], "--sigma-min: the minimum 5 is greater than the maximum 1"),
    (["query", "--i-fraction-min", "0.8", "--i-fraction-max", "0.2"], "--i-fraction-min: the minimum 0.8"),
    # I/(Cl+Br+I) above 1 matched no row and printed "(no rows)" with exit 0 (the site refused it, db query did not)
    (["query", "--i-fraction-min", "1.5"], "--i-fraction-min: 1.5 is not a fraction I/(Cl+Br+I) between 0 and 1"),
    (["sql", "--timeout", "0", "SELECT 1"], "--timeout: must be a positive number of seconds, got 0"),
    (["sql", "--timeout", "nan", "SELECT 1"], "--timeout: must be a positive number of seconds, got nan"),
])
def test_db_bad_numbers_exit_2_naming_the_option(db_path, args, message):
    # a NaN bound matches no row: without the check `--sigma-min nan` printed "(no rows)" and exited 0
    result = run("db", args[0], "--db", str(db_path), *args[1:])
    assert result.returncode == 2
    assert result.stderr.strip() == f"argyrodb: error: {message}" or message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not result.stdout


def test_db_query_bounds_still_filter(db_path):
    result = run("db", "query", "--db", str(db_path), "--dataset", "table_s3", "--sigma-min", "5", "--sigma-max", "5.9",
                 "--format", "json")
    assert result.returncode == 0, result.stderr
    found = sorted(r["sigma_mS_cm"] for r in json.loads(result.stdout))
    assert found == [5.7, 5.9, 5.9]  # Table S3 rows 10, 13 and 14
    assert found == sorted(
        v for (v,) in sqlite3.connect(db_path).execute(
            "SELECT sigma_mS_cm FROM measurements WHERE dataset = 'table_s3' AND sigma_mS_cm BETWEEN 5 AND 5.9"))


def test_db_sql_refuses_writes(db_path):
    result = run("db", "sql", "--db", str(db_path), "DELETE FROM milling")
    assert result.returncode == 2
    assert "read-only" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = run("db", "sql", "--db", str(db_path), "SELECT COUNT(*) AS n FROM table_s3", "--format", "json")
    assert json.loads(result.stdout) == [{"n": 16}]


def test_db_compare_json(db_path):
    result = run("db", "compare", "Li5.6PS4.6Cl0.8I0.6", "--db", str(db_path), "--dataset", "table_s3", "--json")
    payload = json.loads(result.stdout)
    assert (payload["sigma_rank"], payload["sigma_of"], payload["ccd_rank"]) == (5, 12, 4)  # among argyrodites
    assert payload["nearest"][0]["formula"] == "Li6PS5Cl0.7I0.3"
    result = run("db", "compare", "Li5.6PS4.6Cl0.8I0.6", "--db", str(db_path), "--dataset", "table_s3", "--json",
                 "--structure-type", "any")
    assert (json.loads(result.stdout)["sigma_rank"], json.loads(result.stdout)["sigma_of"]) == (8, 16)


def test_db_export_and_plot(db_path, tmp_path):
    result = run("db", "export", "--db", str(db_path), "--out", str(tmp_path / "x"), "--optimade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x" / "table_s3.csv").read_text().count("\n") == 17
    def not_json(token):
        raise ValueError(f"{token} is not JSON (RFC 8259 has no NaN or Infinity)")

    # strict JSON: Python's json module reads the bare NaN that a NULL licence or caveat once became; clients do not
    payload = json.loads((tmp_path / "x" / "structures.optimade.json").read_text(), parse_constant=not_json)
    assert payload["meta"]["data_returned"] == 4 + 42
    licences = [entry["attributes"]["_argyrodb_licence"] for entry in payload["data"]]
    assert None in licences and all(v is None or isinstance(v, str) for v in licences)
    png = tmp_path / "lit.png"
    assert run("db", "plot", "--db", str(db_path), "--out", str(png)).returncode == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_missing_database_is_a_clean_error(tmp_path):
    result = run("db", "query", "--db", str(tmp_path / "none.sqlite"))
    assert result.returncode == 2 and "run `argyrodb db build` first" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_db_serve_with_datasette(db_path):
    pytest.importorskip("datasette")
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "argyrodb", "db", "serve", "--db", str(db_path), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/{db_path.stem}/table_s3.json?_shape=array"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    data = json.loads(response.read())
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        assert [row["row"] for row in data] == list(range(1, 17))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/metadata.json", timeout=5) as response:
            meta = json.loads(response.read())
        tables = meta["databases"][db_path.stem]["tables"]
        assert tables["table_s3"]["title"] == "Table S3 of the source"
        assert tables["measurements"]["columns"]["sigma_mS_cm"].endswith("[mS/cm]")
        assert "ITA setting" in tables["structure_sites"]["columns"]["wyckoff"]
        assert tables["table_s3"]["columns"]["ccd_mA_cm2"].startswith("critical current density")
        # the HTML pages people open: every table and view answers 200, values shown as stored
        names = [r[0] for r in sqlite3.connect(db_path).execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE '%_fts%' "
            "AND name NOT LIKE 'sqlite_%'")]
        assert len(names) > 15
        for name in names:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{db_path.stem}/{name}", timeout=20) as response:
                assert response.status == 200, name
                html = response.read().decode()
            if name == "table_s3":
                row_1 = html[html.index('class="col-row'):]
                assert ">2.44<" in row_1 and "mS/m" not in html and "A/m" not in html
        queries = {"table_s3_as_printed": "", "where_does_a_material_stand": "?formula=Li6PS5Cl",
                   "structures_with_element_on_4c_4d": "?element=I&min_occupancy=0.4",
                   "screening_peaks_in_window": "?run_id=1&two_theta_min=20&two_theta_max=30"}
        for query, params in queries.items():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{db_path.stem}/{query}{params}", timeout=20) as response:
                assert response.status == 200, query
                html = response.read().decode()
            if query == "where_does_a_material_stand":
                assert "10.1002/pssa.201001117" in html  # one of the three Li6PS5Cl measurements
            if query == "structures_with_element_on_4c_4d":
                assert "LMA-Cl0.8I0.6" in html
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{db_path.stem}/measurements", timeout=20) as response:
            assert "Li5.6PS4.6Cl0.8I0.6" in response.read().decode()  # the foreign key shows the material's formula
    finally:
        process.terminate()
        started = time.monotonic()
        process.wait(timeout=20)
    # SIGTERM frees the port within 5 s
    while time.monotonic() - started < 5:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                break
        time.sleep(0.1)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    # stopping `argyrodb db serve` stops Datasette too, and its temporary metadata goes with it
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"--port {port}" not in listing
    assert not list(Path(tempfile.gettempdir()).glob("argyrodb-serve-*"))


def test_text_tables_show_one_missing_marker(db_path):
    # OBELiX rows have no process, anode or reference number: pandas printed None, NaN and <NA> side by side
    result = run("db", "query", "--db", str(db_path), "--dataset", "obelix", "--limit", "5")
    assert result.returncode == 0, result.stderr
    for marker in ("None", "NaN", "<NA>"):
        assert marker not in result.stdout
    _header, first = result.stdout.splitlines()[:2]
    assert " - " in first
    # values keep their own digits (no shared exponent format): 1e-07 beside 1.86
    result = run("db", "sql", "--db", str(db_path), "SELECT 1.23456789 AS x, NULL AS y, 1e-7 AS z")
    assert result.stdout.split() == ["x", "y", "z", "1.23456789", "-", "1e-07"]


def test_a_reader_that_stops_early_is_not_an_error(db_path):
    # `argyrodb db sql ... | head -1`: ~1.3 MB of output cannot fit the pipe's buffer, so the write fails; the
    # command stops quietly with status 0, as it does when the output is short enough to fit
    sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 200000) SELECT x FROM c"
    process = subprocess.Popen([sys.executable, "-m", "argyrodb", "db", "sql", "--db", str(db_path), "--limit", "0", sql],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout.readline().split() == [b"x"]
        process.stdout.close()
        assert process.wait(timeout=60) == 0
        assert process.stderr.read() == b""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()


def test_the_readme_text_query_finds_its_rows(db_path):
    # the README's example once combined --not-neutral with two neutral compounds and returned nothing
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    line = next(l for l in readme.splitlines() if l.startswith("argyrodb db query") and "--text Li7P2S8" in l)
    args = line.split("#")[0].split()[1:]
    result = run(*args, "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    assert [r["dataset_row"] for r in json.loads(result.stdout)] == [14, 15]
