"""Issue 13: user data (`db add` / `db remove`, kept across `db build`), query expressions against the
equivalent SQL, notes for rows a filter cannot match, `db sql` parameters and row cap, screening queries,
indexes (EXPLAIN QUERY PLAN), polyatomic ions in the charge model."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3

import pytest

from argyrodb.core.chemistry import formal_charge, parse_formula
from argyrodb.core.errors import InputError
from argyrodb.pipeline.build import add_user_data, build_database, user_structures
from argyrodb.store.ingest import user_imports_of
from argyrodb.store.queries import MeasurementFilter, query_measurements, run_sql
from argyrodb.store.screening_runs import window_sql
from argyrodb_testing import LMA, run

MINE = """formula,sigma_mS_cm,temperature_K,ccd_mA_cm2,process,anode,doi,note,structure
Li5.5PS4.5Cl0.9I0.6,3.1,298,1.2,MM + HT,Li,,my best batch,lma.yaml
Li6PS5Br,<1e-4,303,,SS,,https://doi.org/10.1000/XYZ,,
"""


@pytest.fixture()
def user_db(db_path, tmp_path):
    """A copy of the session database and a user CSV beside a refinement file."""
    path = tmp_path / "a.sqlite"
    shutil.copy(db_path, path)
    shutil.copy(LMA, tmp_path / "lma.yaml")
    (tmp_path / "mine.csv").write_text(MINE)
    return path


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_db_add_then_query_compare_build_and_remove(user_db, tmp_path):
    result = run("db", "add", str(tmp_path / "mine.csv"), "--db", str(user_db))
    assert result.returncode == 0, result.stderr
    assert "2 measurements, 1 structures" in result.stdout
    # found by full-text search (the FTS index is refreshed) and by expressions
    found = json.loads(run("db", "query", "--text", "Li5.5PS4.5Cl0.9I0.6", "--db", str(user_db), "--format", "json").stdout)
    assert [(r["dataset"], r["sigma_mS_cm"], r["temperature_K"], r["structure_type"]) for r in found] == [("user", 3.1, 298.0, "argyrodite")]
    assert run("db", "query", "dataset=user,temperature_K>300", "--count", "--db", str(user_db)).stdout.strip() == "1"
    stored = run_sql("SELECT sigma_bound, sigma_bound_mS_cm, doi, processes FROM measurements WHERE dataset = 'user' ORDER BY dataset_row", user_db)
    assert stored["sigma_bound"].isna().tolist() == [True, False] and stored["sigma_bound"][1] == "<"
    assert stored["sigma_bound_mS_cm"][1] == pytest.approx(1e-4)
    assert stored["doi"][1] == "10.1000/xyz" and json.loads(stored["processes"][0]) == ["MM", "HT"]
    provenance = run_sql("SELECT file_name, sha256, imported_at, n_rows FROM user_imports", user_db)
    assert provenance["file_name"][0] == "mine.csv" and provenance["n_rows"][0] == 2
    assert provenance["sha256"][0] == hashlib.sha256(MINE.encode()).hexdigest()
    # the structure is analysed and stored like any other, with its pattern, linked to the measurement
    linked = run_sql("SELECT structure_name, a_angstrom FROM measurement_structures WHERE dataset = 'user'", user_db)
    assert len(linked) == 1 and linked["a_angstrom"][0] == pytest.approx(9.99, abs=0.05)
    # compare ranks against it: 3.1 mS/cm among all rows of other compositions
    ranked = json.loads(run("db", "compare", "Li5.5PS4.5Cl0.9I0.6", "--db", str(user_db), "--json").stdout)
    assert ranked["sigma_mS_cm"] == 3.1 and "user mine.csv:2" in ranked["values_from"]
    others = query_measurements(MeasurementFilter(structure_type="argyrodite"), db_path=user_db)
    others = others[others["formula"] != "Li5.5PS4.5Cl0.9I0.6"]["sigma_mS_cm"].dropna()
    assert ranked["sigma_rank"] == int((others > 3.1).sum()) + 1 and ranked["sigma_of"] == len(others) + 1
    # a rebuild keeps the user data (replayed from user_rows)
    counts = build_database(user_db, show_progress=False)
    assert counts["user_imports"] == 1 and counts.get("user_imports_kept") == 1
    assert len(run_sql("SELECT * FROM measurements WHERE dataset = 'user'", user_db)) == 2
    assert len(run_sql("SELECT * FROM structures WHERE dataset = 'user'", user_db)) == 1
    # the same file twice is refused, naming the way out
    again = run("db", "add", str(tmp_path / "mine.csv"), "--db", str(user_db))
    assert again.returncode == 2 and "db remove mine.csv" in again.stderr
    removed = run("db", "remove", "mine.csv", "--db", str(user_db))
    assert removed.returncode == 0 and "2 measurements, 1 structures" in removed.stdout
    for table in ("user_imports", "user_rows"):
        assert run_sql(f"SELECT COUNT(*) AS n FROM {table}", user_db)["n"][0] == 0
    assert run_sql("SELECT COUNT(*) AS n FROM measurements WHERE dataset = 'user'", user_db)["n"][0] == 0
    assert run_sql("SELECT COUNT(*) AS n FROM structures", user_db)["n"][0] == 4 + 42
    assert run_sql("SELECT COUNT(*) AS n FROM materials WHERE formula = 'Li5.5PS4.5Cl0.9I0.6'", user_db)["n"][0] == 0
    assert run("db", "query", "--text", "Li5.5PS4.5Cl0.9I0.6", "--db", str(user_db), "--count").stdout.strip() == "0"
    gone = run("db", "remove", "mine.csv", "--db", str(user_db))
    assert gone.returncode == 2 and "no user data" in gone.stderr


@pytest.mark.parametrize("text, message", [
    ("formula,sigma_mS_cm\nLi6PS5Cl,2\nLi6PS5Qq,3\n", "bad.csv:3: formula: unknown element 'Qq'"),
    ("formula,sigma_mS_cm\nLi6PS5Cl,-2\n", "bad.csv:2: sigma_mS_cm: must be greater than 0"),
    ("formula,sigma_mS_cm\nLi6PS5Cl,nan\n", "bad.csv:2: sigma_mS_cm: must be finite"),
    ("formula,sigma_mS_cm,temperature_K\nLi6PS5Cl,2,25000\n", "bad.csv:2: temperature_K: must be less than 2000"),
    ("formula,sigma_mS_cm,process\nLi6PS5Cl,2,MM + XX\n", "bad.csv:2: process: 'XX' is not one of MM"),
    ("formula,sigma_ms_cm\nLi6PS5Cl,2\n", "bad.csv:1: missing column 'sigma_mS_cm'"),
    ("formula,sigma_mS_cm,sigma_ms_cm\nLi6PS5Cl,2,3\n", "bad.csv:1: unknown column 'sigma_ms_cm'"),
    ("formula,sigma_mS_cm,doi\nLi6PS5Cl,2,not-a-doi\n", "bad.csv:2: doi: 'not-a-doi' is not a DOI"),
    ("formula,sigma_mS_cm,structure\nLi6PS5Cl,2,missing.cif\n", "bad.csv:2: structure: no such file 'missing.cif'"),
    ("formula,sigma_mS_cm\nLi6PS5Cl,2,7\n", "bad.csv:2: 3 fields, the header has 2"),
])
def test_a_bad_row_names_file_and_line_and_writes_nothing(user_db, tmp_path, text, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    before = _digest(user_db)
    result = run("db", "add", str(bad), "--db", str(user_db))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message.replace("bad.csv", str(bad)) in lines[0], lines
    assert _digest(user_db) == before


def test_a_structure_that_is_not_an_argyrodite_is_refused_with_its_line(user_db, tmp_path):
    from argyrodb_testing import DATA

    shutil.copy(DATA / "bad_inputs" / "non_cubic.cif", tmp_path / "odd.cif")
    (tmp_path / "odd.csv").write_text("formula,sigma_mS_cm,structure\nLi6PS5Cl,2,\nLi6PS5Cl,2.1,odd.cif\n")
    before = _digest(user_db)
    result = run("db", "add", str(tmp_path / "odd.csv"), "--db", str(user_db))
    assert result.returncode == 2 and "odd.csv:3: structure odd.cif:" in result.stderr, result.stderr
    assert _digest(user_db) == before


def test_a_stored_structure_without_its_file_name_is_refused_with_its_line(user_db, tmp_path):
    """user_rows keeps a structure's file name beside its text; a database edited by hand (sqlite3)
    may keep the text alone. The rebuild then names the row (it raised TypeError on ``Path / None`` before)."""
    add_user_data(tmp_path / "mine.csv", user_db)
    with sqlite3.connect(user_db) as conn:
        assert conn.execute("UPDATE user_rows SET structure_file = NULL WHERE structure_text IS NOT NULL").rowcount == 1
    conn.close()
    [stored] = user_imports_of(user_db)
    with pytest.raises(InputError, match=r"^mine\.csv:2: a structure is stored without the name of its file$"):
        user_structures(stored)


def test_expression_query_returns_exactly_the_rows_of_the_equivalent_sql(db_path):
    got = json.loads(run("db", "query", "I>0,sigma_mS_cm>=5", "--format", "json", "--db", str(db_path),
                         "--columns", "measurement_id").stdout)
    sql = ("SELECT measurement_id FROM measurements_full WHERE json_extract(amounts_json, '$.I') > 0 "
           "AND sigma_mS_cm >= 5 AND duplicate_of IS NULL ORDER BY measurement_id")
    expected = run_sql(sql, db_path)["measurement_id"].tolist()
    assert sorted(r["measurement_id"] for r in got) == expected and len(expected) == 7
    # ranges, text and element amounts, each against its SQL
    for expression, where in [
        ("2<sigma_mS_cm<10,Cl>0", "sigma_mS_cm > 2 AND sigma_mS_cm < 10 AND json_extract(amounts_json, '$.Cl') > 0"),
        ("anode=li-in", "anode = 'Li-In'"),
        ("0.2<=I<=1.4,Br=0", "json_extract(amounts_json, '$.I') BETWEEN 0.2 AND 1.4 AND json_extract(amounts_json, '$.Br') IS NULL"),
        ("Se,dataset=obelix", "json_extract(amounts_json, '$.Se') > 0 AND dataset = 'obelix'"),
    ]:
        ids = sorted(query_measurements(MeasurementFilter(expression=expression), db_path=db_path)["measurement_id"])
        expected = run_sql(f"SELECT measurement_id FROM measurements_full WHERE {where} AND duplicate_of IS NULL "
                           "ORDER BY measurement_id", db_path)["measurement_id"].tolist()
        assert ids == expected and ids, expression


def test_filters_say_how_many_rows_they_could_not_match(db_path):
    frame = query_measurements(MeasurementFilter(anode="Li"), db_path=db_path)
    assert len(frame) == 9 and frame.attrs["notes"] == ["left out 53 rows that do not record an anode (obelix 53)"]
    result = run("db", "query", "--process", "HT", "--db", str(db_path))
    assert "note: left out 53 rows that do not record a process (obelix 53)" in result.stderr
    assert query_measurements(MeasurementFilter(dataset="table_s3"), db_path=db_path).attrs["notes"] == []


def test_columns_offset_count_and_formats(db_path):
    base = ["db", "query", "--dataset", "table_s3", "--db", str(db_path)]
    assert run(*base, "--count").stdout.strip() == "16"
    page = run(*base, "--columns", "dataset_row,formula", "--offset", "3", "--limit", "2", "--format", "tsv").stdout
    assert page.splitlines() == ["dataset_row\tformula", "4\tLi6PS5F0.25I0.75", "5\tLi6.24P0.823Sn0.177S4.58I0.9"]
    lines = run(*base, "--format", "nl", "--columns", "dataset_row,sigma_mS_cm", "--limit", "2").stdout.splitlines()
    assert [json.loads(line) for line in lines] == [{"dataset_row": 1, "sigma_mS_cm": 2.44}, {"dataset_row": 2, "sigma_mS_cm": 2.04}]
    bad = run(*base, "--columns", "formula,sigma")
    assert bad.returncode == 2 and "--columns: unknown column 'sigma'" in bad.stderr
    assert run(*base, "--offset", "-1").returncode == 2


def test_db_sql_parameters_and_row_cap(db_path):
    result = run("db", "sql", "SELECT formula FROM materials WHERE i > :i AND li >= :li ORDER BY formula", "-p", "i", "0.9",
                 "-p", "li", "5.6", "--db", str(db_path), "--format", "csv")
    expected = run_sql("SELECT formula FROM materials WHERE i > 0.9 AND li >= 5.6 ORDER BY formula", db_path)
    assert result.stdout.splitlines()[1:] == expected["formula"].tolist() and len(expected) > 0
    capped = run("db", "sql", "SELECT * FROM xrd_peaks", "--limit", "5", "--db", str(db_path), "--format", "csv")
    assert len(capped.stdout.splitlines()) == 6 and "stopped at 5 rows" in capped.stderr
    frame = run_sql("SELECT * FROM xrd_peaks", db_path)
    assert len(frame) == min(10_000, run_sql("SELECT COUNT(*) AS n FROM xrd_peaks", db_path)["n"][0])


def test_screens_and_screen_queries(user_db):
    assert run("screen", "Li5.6PS4.6Cl1.4-xIx", "--x", "0:1.4:0.1", "--db", str(user_db), "--quiet").returncode == 0
    runs = json.loads(run("db", "screens", "--db", str(user_db), "--format", "json").stdout)
    assert len(runs) == 1 and (runs[0]["n_points"], runs[0]["n_ok"]) == (15, 15)
    run_id = str(runs[0]["run"])
    rows = json.loads(run("db", "query", "--screen", run_id, "I>=0.6,a_angstrom<10.05", "--db", str(user_db),
                          "--columns", "idx,x,a_angstrom", "--format", "json").stdout)
    expected = run_sql("SELECT idx, a_angstrom FROM screen_results WHERE run_id = :r AND json_extract(amounts_json, '$.I') >= 0.6 "
                       "AND a_angstrom < 10.05 ORDER BY idx", user_db, params={"r": int(run_id)})
    assert [r["idx"] for r in rows] == expected["idx"].tolist() and len(rows) >= 3
    assert all(r["x"] >= 0.6 - 1e-9 and r["a_angstrom"] < 10.05 for r in rows)
    assert run("db", "query", "--screen", run_id, "x>1", "--count", "--db", str(user_db)).stdout.strip() == "4"
    wrong = run("db", "query", "--screen", "99", "--db", str(user_db))
    assert wrong.returncode == 2 and "--screen: no screening run 99" in wrong.stderr


def test_the_filters_people_use_have_indexes(db_path):
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        def plan(sql, params=()):
            return " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))

        window = {"lo": 29.0, "hi": 29.6, "min_cell": "  5.000", "run": 1}
        # a 2theta window is a range of a per line: a range scan of the index on a, all runs or one
        for sql in (window_sql(run=False), window_sql(run=True), window_sql(run=False, count=True)):
            assert "USING INDEX idx_screen_results_run_a (run_id=? AND a_angstrom>? AND a_angstrom<?)" in plan(sql, window)
        assert "idx_screen_results_run_a" in plan("SELECT idx FROM screen_results WHERE run_id = 1 AND a_angstrom < 10")
        assert "idx_measurements_sigma" in plan("SELECT id FROM measurements WHERE sigma_mS_cm > 5")
        assert "idx_sites_element_wyckoff" in plan("SELECT structure_id FROM structure_sites WHERE element = 'Cl' AND wyckoff = '4d'")
    finally:
        conn.close()


@pytest.mark.parametrize("formula, charge", [
    ("Li5PS4(BH4)2", 0.0),        # OBELiX xnb: BH4- is one anion (H was counted +1: +8 e)
    ("Li5PB2S4H8", 0.0),          # the same from OBELiX's cell contents / Z
    ("LiCe(BH4)3Cl", 0.0),        # Ce3+
    ("Li6PS5Cl", 0.0),
    ("Li5.6PS4.6Cl0.8I0.6", 0.0),
])
def test_polyatomic_ions_in_the_charge_model(formula, charge):
    value, unknown = formal_charge(parse_formula(formula))
    assert value == pytest.approx(charge, abs=1e-9) and unknown == []


def test_formulas_with_parentheses():
    assert parse_formula("Li5PS4(BH4)2") == {"Li": 5, "P": 1, "S": 4, "B": 2, "H": 8}
    assert parse_formula("Li6PS5(Cl0.5Br0.5)") == {"Li": 6, "P": 1, "S": 5, "Cl": 0.5, "Br": 0.5}
    for bad in ("Li(PS", "Li()2", "Li)(S", "Li((S)2"):
        with pytest.raises(Exception, match="cannot parse formula"):
            parse_formula(bad)


def test_obelix_borohydride_row_is_neutral_in_the_database(db_path):
    row = run_sql("SELECT charge_per_fu, charge_neutral, unknown_oxidation_states FROM materials WHERE formula = 'Li5PB2S4H8'", db_path)
    assert (row["charge_per_fu"][0], row["charge_neutral"][0], row["unknown_oxidation_states"][0]) == (0.0, 1, None)


def test_text_search_finds_a_user_import_by_its_source(user_db, tmp_path):
    """`db add` re-indexes every full-text table: the import's source ("user data mine.csv") is found too."""
    assert run("db", "add", str(tmp_path / "mine.csv"), "--db", str(user_db)).returncode == 0
    assert run("db", "query", "--text", "user data mine.csv", "--count", "--db", str(user_db)).stdout.strip() == "2"
    assert run("db", "remove", "mine.csv", "--db", str(user_db)).returncode == 0
    assert run("db", "query", "--text", "user data mine.csv", "--count", "--db", str(user_db)).stdout.strip() == "0"


@pytest.mark.parametrize("flag", [["--not-neutral"], ["--include-duplicates"], ["--structure-type", "argyrodite"],
                                  ["--text", "Li6PS5"], ["--anode", "Li"]])
def test_every_literature_filter_is_refused_with_screen(user_db, flag):
    assert run("screen", "Li6PS5Cl", "--db", str(user_db), "--quiet").returncode == 0
    result = run("db", "query", "--screen", "1", *flag, "--db", str(user_db))
    assert result.returncode == 2 and "filters literature rows; with --screen use the expression" in result.stderr
    assert flag[0] in result.stderr


def test_a_database_in_a_folder_named_with_uri_characters(tmp_path):
    """'?', '#' and '%' are file-name characters: adding, rebuilding (which replays the import) and querying work."""
    folder = tmp_path / "runs?v=2#100%"
    folder.mkdir()
    db = folder / "a.sqlite"
    build_database(db, show_progress=False, literature_structures_included=False)
    (tmp_path / "mine.csv").write_text("formula,sigma_mS_cm\nLi6PS5Cl,2.5\n")
    assert run("db", "add", str(tmp_path / "mine.csv"), "--db", str(db)).returncode == 0
    build_database(db, show_progress=False, literature_structures_included=False)
    assert run("db", "query", "dataset=user", "--count", "--db", str(db)).stdout.strip() == "1"
