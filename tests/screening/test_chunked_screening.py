"""Screening in arrays (issue 15): a chunk gives what one composition at a time gives, row by row (skip reasons
included); the lazy grid is the grid; the compact peak storage gives back the peak lists (screen_peaks view,
window queries through the index on a); a Dask LocalCluster run stores what a local run stores and resumes one."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest

from argyrodb.core.grids import GridPoints, grid
from argyrodb.pipeline.build import build_database
from argyrodb.screening.runs import run_screen
from argyrodb.screening.screener import Screener, ScreenSettings
from argyrodb.store.connection import ReadOnlyDatabase
from argyrodb.store.screening_runs import parse_intensities, peaks_in_window

MIXED = ["Li6PS5Cl", "Li7PS6", "Li6PS5Cl2", "Li4PS3Cl3", "Li5.5Na0.5PS5Cl", "Li5.6PS4.6Cl0.8I0.6", "Li6PS5Br", "Li5PS4Cl2"]


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if key == "intensities_rel":  # stored to 3 decimals: the last may differ where batch and single differ by 1e-12
            x, y = (np.array(parse_intensities(v), dtype=float) for v in (a[key], b[key]))
            assert np.array_equal(np.isnan(x), np.isnan(y)) and np.allclose(x, y, rtol=0, atol=1.01e-3, equal_nan=True), key
        elif isinstance(a[key], float):
            assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-12), key
        elif key != "lines":
            assert a[key] == b[key], key


def test_a_chunk_equals_one_composition_at_a_time():
    settings = ScreenSettings("Li7-yPS6-yCl(y*(1-z))I(y*z)", {"y": [0.0, 0.8, 1.2, 1.6, 2.4], "z": [0.0, 0.3, 1.0]})
    screener = Screener(settings)
    chunk = screener.evaluate_chunk(np.arange(len(screener.points))[::-1])
    reasons = {r["reason"] for r in chunk if r["status"] == "skipped"}
    assert {r["status"] for r in chunk} == {"ok", "skipped"} and len(reasons) >= 2  # y = 0: no halide; y = 2.4: 16e short
    for result in chunk:
        _same(result, screener.evaluate(result["idx"]))


def test_each_row_of_a_mixed_chunk_keeps_its_own_reason():
    screener = Screener(ScreenSettings("listed", formulas=MIXED))
    chunk = screener.evaluate_chunk(range(len(MIXED)))
    by_formula = {f: r for f, r in zip(MIXED, chunk)}
    assert by_formula["Li7PS6"]["reason"].startswith("no lattice parameter: Li7PS6: no Cl, Br or I")
    assert by_formula["Li6PS5Cl2"]["reason"] == "not charge-neutral (-1.000 e per formula unit)"
    assert by_formula["Li4PS3Cl3"]["reason"].startswith("only 3 S/Se/O per formula unit")
    assert by_formula["Li5.5Na0.5PS5Cl"]["reason"].startswith("Na has no site in the model")
    assert by_formula["Li5PS4Cl2"]["status"] == "ok"  # 2 anions on 4a + 4d: full, not crowded
    for index, result in enumerate(chunk):
        _same(result, screener.evaluate(index))


def test_the_lazy_grid_is_the_grid():
    ranges = {"x": [0.0, 0.5, 1.0], "z": [0.1, 0.2], "y": [1.0, 2.0, 3.0, 4.0]}
    points = GridPoints(ranges)
    assert len(points) == 24 and [points[i] for i in range(24)] == grid(ranges)
    assert points[-1] == grid(ranges)[-1]
    with pytest.raises(IndexError):
        points[24]


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    db = tmp_path_factory.mktemp("chunked") / "s.sqlite"
    build_database(db, show_progress=False, literature_structures_included=False)
    settings = ScreenSettings("Li5.6PS4.6Cl1.4-xIx", {"x": list(np.round(np.linspace(0, 1.4, 57), 6))}, wavelength="CuKa12")
    summary = run_screen(settings, db, show_progress=False, chunk_size=10)
    return db, settings, summary


def test_the_view_gives_back_every_peak_list(screened):
    db, settings, summary = screened
    screener = Screener(settings)
    with ReadOnlyDatabase(db) as conn:
        _columns, rows = conn.execute("SELECT idx, hkl, component, two_theta_deg, d_angstrom, multiplicity, intensity_rel "
                                     "FROM screen_peaks WHERE run_id = ? ORDER BY idx, two_theta_deg, component", (summary["run_id"],))
        n_lines = conn.execute("SELECT COUNT(*) FROM screen_lines WHERE run_id = ?", (summary["run_id"],))[1][0][0]
    expected = []
    for result in screener.evaluate_chunk(range(len(screener.points))):
        expected += [(result["idx"], p[0], p[6], p[2], p[3], p[4], p[5])
                     for p in sorted(screener.peaks(result), key=lambda p: (p[2], p[6]))]
    assert len(rows) == len(expected) > 57 * 40  # K-alpha1 and K-alpha2 lines
    direct = screener.xrd.batch_peak_arrays(np.array([r["a_angstrom"] for r in screener.evaluate_chunk([0, 56])]),
                                            np.stack([screener.model.occupancies(screener.points[i][1]) for i in (0, 56)]),
                                            wavelength=screener.components, two_theta_range=settings.two_theta_range)
    assert sum(1 for r in rows if r[0] in (0, 56)) == int(direct["present"].sum())
    assert n_lines == len({(e[1], e[2]) for e in expected})
    for got, want in zip(rows, expected):
        assert got[:3] == want[:3] and got[5] == want[5]
        # the view recomputes 2theta from a with SQLite's libm asin, the screener with numpy's: last bits differ
        assert got[3] == pytest.approx(want[3], abs=1e-9) and got[4] == pytest.approx(want[4], rel=1e-12)
        assert got[6] == want[6]


@pytest.mark.parametrize("lo, hi, i_min", [(29.0, 29.6, 5.0), (15.0, 45.0, 0.0), (50.0, 50.05, 1.0)])
def test_window_queries_equal_filtering_every_peak(screened, lo, hi, i_min):
    db, _, summary = screened
    with ReadOnlyDatabase(db) as conn:
        every = conn.execute("SELECT run_id, idx, position FROM screen_peaks WHERE two_theta_deg BETWEEN ? AND ? "
                             "AND intensity_rel >= ? ORDER BY two_theta_deg, run_id, idx", (lo, hi, i_min))[1]
    window = peaks_in_window(lo, hi, i_min, db_path=db)
    assert [tuple(r) for r in window[["run_id", "idx", "position"]].itertuples(index=False)] == [tuple(r) for r in every]
    assert peaks_in_window(lo, hi, i_min, run=summary["run_id"], count=True, db_path=db) == len(every)
    assert window["two_theta_deg"].between(lo, hi).all() and (window["intensity_rel"] >= i_min).all()


def test_a_dask_local_cluster_stores_what_a_local_run_stores_and_resumes_it(screened, tmp_path):
    pytest.importorskip("distributed")
    import multiprocessing

    db, settings, summary = screened
    resumed = tmp_path / "resumed.sqlite"
    shutil.copy(db, resumed)
    with sqlite3.connect(resumed) as conn:  # half the run lost: the cluster must compute exactly that half
        conn.execute("DELETE FROM screen_results WHERE idx % 2 = 1")
    again = run_screen(settings, resumed, show_progress=False, chunk_size=7, jobs=2, dask="local")
    assert (again["run_id"], again["key"]) == (summary["run_id"], summary["key"])  # the same run
    assert (again["already_stored"], again["computed"]) == (29, 28)
    query = "SELECT * FROM screen_results ORDER BY run_id, idx"
    with sqlite3.connect(db) as a, sqlite3.connect(resumed) as b:
        # chunks of 10 against chunks of 7 of other points: the batch shape picks the BLAS kernels, so floats to
        # rel 1e-12 and the 3-decimal intensities to one unit (_same), everything else exactly
        a.row_factory = b.row_factory = sqlite3.Row
        stored, again_stored = a.execute(query).fetchall(), b.execute(query).fetchall()
        assert len(stored) == len(again_stored)
        for x, y in zip(stored, again_stored):
            _same(dict(x), dict(y))
        assert a.execute("SELECT * FROM screen_lines").fetchall() == b.execute("SELECT * FROM screen_lines").fetchall()
    assert multiprocessing.active_children() == []  # the LocalCluster's workers are gone


def test_an_unreachable_dask_scheduler_is_a_parameter_error(screened, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setenv("ARGYRODB_DASK_CONNECT_TIMEOUT_S", "1")  # nothing listens on port 9: no need to wait 10 s
    from argyrodb_testing import run

    db, _settings, _ = screened
    copy = tmp_path / "c.sqlite"
    shutil.copy(db, copy)
    result = run("screen", "Li6PS5Cl", "--db", str(copy), "--dask", "tcp://127.0.0.1:9", "--quiet")
    assert result.returncode == 2 and "--dask: cannot reach a Dask scheduler at 'tcp://127.0.0.1:9'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_dask_worker_without_the_template_file_uses_the_text_it_was_sent(tmp_path):
    import dataclasses
    import pickle
    from pathlib import Path

    from argyrodb.screening.runs import _dask_chunk
    from argyrodb.screening.screener import default_template

    here = ScreenSettings("Li5.6PS4.6Cl1.4-xIx", {"x": [0.0, 0.6, 1.4]})
    elsewhere = dataclasses.replace(here, template=str(tmp_path / "on-the-client" / Path(default_template()).name))
    remote = pickle.loads(_dask_chunk(elsewhere, [], Path(default_template()).read_text(encoding="utf-8"), "test-key", [0, 1, 2]))
    local = Screener(here).evaluate_chunk([0, 1, 2])
    # exact: the same chunk through the same code in this process (the point is which template text was used)
    assert [r["a_angstrom"] for r in remote] == [r["a_angstrom"] for r in local]
    assert [r["intensities_rel"] for r in remote] == [r["intensities_rel"] for r in local]


def test_intensity_cells_compare_as_text_the_way_the_numbers_do():
    from argyrodb.store.screening_runs import ABSENT, intensities_text, intensity_cell

    rng = np.random.default_rng(7)
    values = np.round(np.concatenate([rng.uniform(0, 100, 300), [0.0, 0.0005, 5.0, 99.9995, 100.0]]), 3)
    cells = [intensity_cell(v) for v in values]
    assert {len(c) for c in cells} == {7}
    for i in range(len(values)):
        for j in range(0, len(values), 7):
            assert (cells[i] >= cells[j]) == (values[i] >= values[j])
        assert cells[i] > ABSENT and cells[i] > ""
    text = intensities_text(np.array([0, 2, 5]), np.array([[12.3456, np.nan, 100.0]]))[0]
    assert text == " 12.346" + ABSENT * 4 + "100.000"  # position 5 last; absent positions blank
    assert parse_intensities(text) == [12.346, None, None, None, None, 100.0]


def test_the_optional_2theta_index_gives_the_same_windows_and_follows_new_chunks(screened, tmp_path):
    from argyrodb.store.screening_runs import index_peaks, index_sql

    db, settings, summary = screened
    copy = tmp_path / "indexed.sqlite"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:  # a resumed run: the last compositions come after the index is built
        conn.execute("DELETE FROM screen_results WHERE idx >= 50")
    windows = [(29.0, 29.6, 5.0), (15.0, 45.0, 0.0), (50.0, 50.05, 1.0)]
    built = index_peaks(db_path=copy)
    assert built["runs"] == [summary["run_id"]] and built["peaks"] > 0
    again = run_screen(settings, copy, show_progress=False, chunk_size=3)
    assert (again["already_stored"], again["computed"]) == (50, 7)
    for lo, hi, i_min in windows:
        compact = peaks_in_window(lo, hi, i_min, db_path=db)
        indexed = peaks_in_window(lo, hi, i_min, db_path=copy)
        assert compact[["run_id", "idx", "position"]].values.tolist() == indexed[["run_id", "idx", "position"]].values.tolist()
        assert np.allclose(compact["two_theta_deg"].to_numpy(float), indexed["two_theta_deg"].to_numpy(float), rtol=0, atol=1e-12)
        assert peaks_in_window(lo, hi, i_min, db_path=copy, count=True) == len(compact)
        assert peaks_in_window(lo, hi, i_min, limit=5, db_path=copy)["idx"].tolist() == compact["idx"].tolist()[:5]
    with sqlite3.connect(copy) as conn:
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + index_sql(False, count=True),
                                                   {"lo": 29.0, "hi": 29.6, "min_value": 5.0}))
        assert "SEARCH p USING PRIMARY KEY (two_theta_deg>? AND two_theta_deg<?)" in plan
    dropped = index_peaks(drop=True, db_path=copy)
    assert dropped["dropped"] and peaks_in_window(29.0, 29.6, 5.0, db_path=copy, count=True) == len(peaks_in_window(29.0, 29.6, 5.0, db_path=db))
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT COUNT(*) FROM screen_peak_index").fetchone()[0] == 0


def test_a_window_of_a_run_that_does_not_exist_names_the_option(screened):
    from argyrodb_testing import run

    db, _, _ = screened
    result = run("db", "peaks", "--two-theta", "29", "29.6", "--run", "99", "--db", str(db))
    assert result.returncode == 2 and "--run: no screening run 99 (runs: 1)" in result.stderr
    bad = run("db", "peaks", "--two-theta", "29", "29.6", "--min-intensity", "150", "--db", str(db))
    assert bad.returncode == 2 and "--min-intensity: relative intensity 150 is not within 0-100" in bad.stderr
