"""argyrodb identify (issue 25 item 1): the right composition and impurity of synthetic patterns made by another program.

The patterns of tests/data/identify are xrayutilities' (fundamental-parameter profiles, Soller-slit asymmetry, sample
displacement, curved background, Poisson noise; tests/data/identify/make_files.py), with site distributions of their
own (Br 78 % on 4a, I ordered on 4a, Table S2's shares for the Cl/I series): none of it is argyrodb's, and identify was
not tuned on them. Targets (issue 25): x within 0.1 across the halide series, impurities found from 2 wt %.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from argyrodb.core.grids import parse_range
from argyrodb.database import identify
from argyrodb.pipeline import identify as engine
from argyrodb.store.screening_runs import intensities_text, line_positions, parse_intensities

DATA = Path(__file__).parent / "data" / "identify"
PATTERNS = sorted(DATA.glob("*.xye"))


def truth_of(pattern: Path) -> dict:
    return yaml.safe_load(pattern.with_suffix(".truth.yaml").read_text())["identify"]


def x_range(family: str) -> dict:
    return {"x": parse_range("0:1.4:0.05" if family.startswith("Li5.6") else "0:1:0.05", "x")}


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    """A database as `db build` makes it (46 structures), and a stored screening run of the Cl/Br series."""
    path = tmp_path_factory.mktemp("identify") / "argyrodb.sqlite"
    subprocess.run([sys.executable, "-m", "argyrodb", "db", "build", "--db", str(path), "--quiet"], check=True)
    subprocess.run([sys.executable, "-m", "argyrodb", "screen", "Li6PS5Cl1-xBrx", "--x", "0:1:0.1", "--two-theta", "10", "90",
                    "--db", str(path), "--quiet"], check=True, capture_output=True)
    return path


def test_the_data_are_what_the_generator_writes():
    """Every pattern has its truth, and the truths are the series the README's table lists (7 patterns, 3 series)."""
    assert len(PATTERNS) == 7
    families = {truth_of(p)["family"] for p in PATTERNS}
    assert families == {"Li6PS5Cl1-xBrx", "Li6PS5Br1-xIx", "Li5.6PS4.6Cl1.4-xIx"}


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.stem)
def test_x_recovered_within_0_1(pattern, database):
    """The family screened on the fly (x step 0.05, each halide's 4a share 0-1 in 0.1): the best candidate is of the
    family and its x within 0.1 of the truth; its a within 0.1 % of the generator's (a displacement and the asymmetry
    of the real profiles shift lines a little: the generator's a is the true one)."""
    truth = truth_of(pattern)
    out = identify(pattern, db=database, family=truth["family"], ranges=x_range(truth["family"]), find_impurities=False)
    best = out["candidates"][0]
    assert best["kind"] == "family", best
    assert abs(best["x"] - truth["x"]) <= 0.1 + 1e-9, (best, truth)
    true_a = yaml.safe_load(pattern.with_suffix(".truth.yaml").read_text())["phases"][0]["a_angstrom"]
    assert abs(best["a_angstrom"] / true_a - 1) < 1e-3
    # the score is a weighted R of the background-free pattern: the Le Bail fit (free intensities) is its floor
    assert out["lebail"]["score"] <= best["score"] + 1e-4
    assert not any("no candidate explains" in note for note in out["notes"])  # within 1.25x the floor
    assert out["reliable"] and out["reasons"] == []
    assert [c["score"] for c in out["candidates"] if c["stage"] == "full"] == sorted(
        c["score"] for c in out["candidates"] if c["stage"] == "full")


def test_a_pattern_of_no_candidate_is_not_reliable(database):
    """The synthetic Si standard (tests/data/refine/si_standard.xye, Fd-3m, not an argyrodite): some argyrodite still
    ranks first, but its score is far above the Le Bail floor and its a sits at the edge of the +-1 % window, so the
    answer says reliable: false with both reasons."""
    out = identify(Path(__file__).parent / "data" / "refine" / "si_standard.xye", db=database, find_impurities=False)
    assert out["reliable"] is False
    assert any("no candidate explains the intensities" in r for r in out["reasons"])
    assert out["best"]["score"] > engine.FLOOR_RATIO_NOTE * out["lebail"]["score"]
    assert set(out["reasons"]) <= set(out["notes"])


def test_a_stored_structure_that_is_not_charge_neutral_carries_the_builds_warning(database):
    """OBELiX 9yt's CIF gives 11.47 Li per formula unit (the build's structure_problems: charge +5.47 e); as a
    candidate it carries that warning in its ref, and identify would give it as a reason were it the best."""
    measured = engine.read_measured(PATTERNS[0], None)
    candidates, _notes = engine.stored_structures(database, measured)
    caveats = {ref["name"]: ref["caveat"] for ref in candidates.refs if "caveat" in ref}
    assert "OBELiX 9yt Li6PS5Cl0.25Br0.75" in caveats and "+5.4720 e per formula unit" in caveats["OBELiX 9yt Li6PS5Cl0.25Br0.75"]
    # a neutral structure carries none
    assert not any(name.startswith("Li6PS5Cl") for name in caveats)


IMPURE = [p for p in PATTERNS if truth_of(p)["impurity"]]
CLEAN = [p for p in PATTERNS if not truth_of(p)["impurity"]]


@pytest.mark.parametrize("pattern", IMPURE[:2] + CLEAN[:1], ids=lambda p: p.stem)
def test_impurities_from_2_wt_percent(pattern, database):
    """The impurity present (2-3 wt %) is detected at >= 3 sigma with its weight fraction within 0.5 wt % (the
    refinement's Hill-Howard fraction), every other bundled phase is not detected and has an upper bound below 1 wt %."""
    truth = truth_of(pattern)
    out = identify(pattern, db=database, family=truth["family"], ranges=x_range(truth["family"]))
    rows = {r["name"]: r for r in out["impurities"]}
    assert set(rows) == set(engine.IMPURITY_PHASES)
    for name, row in rows.items():
        if name == truth["impurity"]:
            assert row["detected"] and row["significance"] >= 3 and row["method"] == "refinement", row
            assert abs(row["weight_fraction"] - truth["impurity_weight_fraction"]) < 0.005, row
        else:
            assert not row["detected"], row
            assert row["weight_fraction_upper_bound"] is not None and row["weight_fraction_upper_bound"] < 0.01, row


def test_coarse_score_is_the_least_squares_scale_fit(database):
    """Stage 2's closed form chi^2 = y'Wy - (b.J)^2 / J'GJ equals an explicit weighted least-squares fit of the scale
    (numpy.linalg.lstsq on the same profile matrix) for candidates of the stored run."""
    measured = engine.read_measured(PATTERNS[0])
    runs, _ = engine.stored_runs(database, measured)
    (stored,) = runs
    base, _ = engine.lebail(measured, 9.7, 10.1)
    net = measured.counts - base.background
    chi2, a_used = engine.coarse_scores(measured, net, base.profile, stored)
    sqrt_w = np.sqrt(measured.weights)
    for i in (0, 5, 10):
        profile = engine.Profile(float(a_used[i]), base.profile.zero_deg, base.profile.u, base.profile.w, base.profile.y)
        column = engine.profile_matrix(measured.two_theta_deg, stored.n_index, profile, measured.components) @ np.nan_to_num(stored.j[i])
        scale, *_ = np.linalg.lstsq((column * sqrt_w)[:, None], net * sqrt_w, rcond=None)
        direct = float(np.sum(measured.weights * (net - scale[0] * column) ** 2))
        assert chi2[i] == pytest.approx(direct, rel=1e-9)


def test_stored_intensities_read_back_as_written():
    """The fast reader of stored intensity texts gives what the store's own parser does (absent lines NaN)."""
    rng = np.random.default_rng(1)
    relative = rng.uniform(0, 100, (5, 12))
    relative[1, 3] = relative[4, 10:] = np.nan
    texts = intensities_text(line_positions(12, 1), relative)
    fast = engine.parse_intensity_texts(texts, 12)
    for row, text in zip(fast, texts):
        slow = [np.nan if v is None else v for v in parse_intensities(text)]
        np.testing.assert_array_equal(row[:len(slow)], slow)
        assert np.all(np.isnan(row[len(slow):]))
    np.testing.assert_allclose(fast, np.round(relative, 3), atol=5e-4)


def test_stored_run_candidates_are_ranked(database):
    """Without --family the stored run's compositions (and the structures) are the candidates; a stored one carries its
    run and point and its x."""
    pattern = next(p for p in PATTERNS if truth_of(p)["family"] == "Li6PS5Cl1-xBrx")
    out = identify(pattern, db=database, find_impurities=False)
    assert out["n_candidates"] == 46 + 11
    stored = [c for c in out["candidates"] if c["kind"] == "screened"]
    assert stored and all("run" in c["ref"] and "x" in c for c in stored)


@pytest.fixture(scope="module")
def halide_rich_run(database, tmp_path_factory) -> Path:
    """The module's database with a stored run of the halide-rich Cl/I argyrodites, Li7-yPS6-yCl(y(1-z))I(yz) over
    y 1.0-1.6 and z 0-0.99 (1300 compositions): the source's Li5.6PS4.6Cl1.4-xIx series is its y = 1.4 row."""
    path = tmp_path_factory.mktemp("halide-rich") / "argyrodb.sqlite"
    shutil.copy(database, path)
    subprocess.run([sys.executable, "-m", "argyrodb", "screen", "Li7-yPS6-yCl(y*(1-z))I(y*z)", "--y", "1.0:1.6:0.05",
                    "--z", "0:0.99:0.01", "--two-theta", "10", "90", "--db", str(path), "--quiet"], check=True,
                   capture_output=True)
    return path


def test_stored_run_is_rescored_and_an_undetermined_halide_excess_said(halide_rich_run):
    """Li5.6PS4.6Cl0.8I0.6 + 2 wt % LiI (y = 1.4, I 0.6, Table S2's 4a shares) against the stored halide-rich run,
    without --family. The run holds one template 4a/4d distribution per composition; its best 20 are re-scored with
    every halide's 4a share. The I content (the family's x) is recovered within 0.1. The halide excess y is not: S and
    Cl differ by one electron and Li scatters little, so y = 1.6 (the grid's edge, template shares) and y = 1.35-1.45
    (shares tried) fit within the score's noise - measured: even the truth's own shares at y = 1.4 fit 48 chi^2 worse
    than y = 1.6's template. identify must say so: reliable false, a reason naming the tied compositions of the same
    run, and among the best and its tied rivals one within 0.1 of the true y and I."""
    pattern = DATA / "Li5.6PS4.6Cl0.8I0.6.xye"
    out = identify(pattern, db=halide_rich_run, find_impurities=False)
    best = out["best"]
    assert best["kind"] == "screened" and abs(best["y"] * best["z"] - 0.6) <= 0.1, best
    assert best["halide_share_4a"] and best["distribution"] in ("template", "tried")
    assert any(c.get("distribution") == "tried" for c in out["candidates"])  # re-scored compositions are ranked
    tied = [r for r in out["rivals"] if r["tied"] and r["differs_in"] == "composition" and r["same_source"]]
    if abs(best["y"] - 1.4) > 0.1 + 1e-9:  # the halide excess missed: never silently
        assert out["reliable"] is False, out["reasons"]
        assert any(r.startswith("the composition is not determined") for r in out["reasons"])
        assert tied and all(r["composition_difference"] > engine.COMPOSITION_TOLERANCE for r in tied)
        assert any(abs(r["y"] - 1.4) <= 0.1 + 1e-9 and abs(r["y"] * r["z"] - 0.6) <= 0.1 for r in tied), tied
        assert all(r["difference_sigma"] < engine.TIE_Z for r in tied)
    assert set(out["reasons"]) <= set(out["notes"])


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "argyrodb", "identify", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_cli_json_refine_and_plot(database, tmp_path):
    """--json has the candidates (formula, x, a_angstrom, score) best first and the impurities (name, weight_fraction,
    significance); --refine adds refine's JSON of the best with the impurity found; --plot writes the PNG."""
    pattern = next(p for p in IMPURE if truth_of(p)["impurity"] == "LiCl")
    plot = tmp_path / "identify.png"
    done = run_cli(pattern, "--db", database, "--family", "Li6PS5Cl1-xBrx", "--x", "0.5:0.9:0.1", "--json", "--refine",
                   "--plot", plot, "--top", "3")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    first = out["candidates"][0]
    assert {"formula", "x", "a_angstrom", "score"} <= set(first)
    assert abs(first["x"] - truth_of(pattern)["x"]) <= 0.1 + 1e-9
    assert {"name", "weight_fraction", "significance", "detected"} <= set(out["impurities"][0])
    assert out["impurities"][0]["name"] == "LiCl" and out["impurities"][0]["detected"]
    refinement = out["refinement"]
    assert [p["name"] for p in refinement["phases"]][1:] == ["LiCl"]  # the impurity found, nothing else
    assert {"r_wp", "gof", "phases", "parameters", "reliable"} <= set(refinement)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_errors_one_line_exit_2(database, tmp_path):
    """A Q axis, too few points, no candidates: exit 2, one line naming the file and the problem, nothing written."""
    q_file = tmp_path / "q.xy"
    q = np.linspace(0.5, 6.0, 2000)
    q_file.write_text("Q (1/A) intensity\n" + "\n".join(f"{v:.5f} {100 + 50 * np.sin(7 * v) ** 2:.1f}" for v in q) + "\n")
    short = tmp_path / "short.xy"
    short.write_text("\n".join(f"{10 + 0.5 * k:.2f} {100 + k}" for k in range(50)) + "\n")
    empty = tmp_path / "empty.sqlite"  # an argyrodb database without structures or screening runs
    shutil.copy(database, empty)
    with sqlite3.connect(empty) as conn:
        conn.executescript("PRAGMA foreign_keys = OFF; DELETE FROM structure_sites; DELETE FROM structures; "
                           "DELETE FROM screen_results; DELETE FROM screen_lines; DELETE FROM screen_runs;")
    plot = tmp_path / "never.png"
    for args, words in (((q_file, "--db", database), "Q or d axis"),
                        ((short, "--db", database), "only 50 data points"),
                        ((PATTERNS[0], "--db", empty, "--plot", plot), "no candidates"),
                        ((PATTERNS[0], "--db", database, "--x", "0:1:0.1"), "--family")):
        done = run_cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert not plot.exists()
