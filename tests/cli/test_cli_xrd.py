"""`argyrodb xrd` as a user runs it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from argyrodb_testing import LMA, run, structure


def test_xrd_json_shape():
    result = run("xrd", str(LMA), "--wavelength", "1.542", "--two-theta", "10", "60", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["wavelength_angstrom"] == 1.542
    assert {"form_factors", "anomalous_dispersion", "lorentz_polarisation"} <= set(payload["conventions"])
    peaks = payload["peaks"]
    assert {"hkl", "two_theta_deg", "d_angstrom", "multiplicity", "intensity_rel"} <= set(peaks[0])
    assert max(p["intensity_rel"] for p in peaks) == 100
    strongest = max(peaks, key=lambda p: p["intensity_rel"])
    assert strongest["hkl"] == [[2, 2, 0]]
    assert all(10 <= p["two_theta_deg"] <= 60 for p in peaks)


def test_xrd_no_anomalous_changes_intensities():
    on = json.loads(run("xrd", str(LMA), "--json").stdout)["peaks"]
    off = json.loads(run("xrd", str(LMA), "--json", "--no-anomalous").stdout)["peaks"]
    assert [p["two_theta_deg"] for p in on] == [p["two_theta_deg"] for p in off]
    assert any(abs(a["intensity_rel"] - b["intensity_rel"]) > 0.3 for a, b in zip(on, off))


def test_xrd_files(tmp_path):
    csv, xy, png = tmp_path / "p.csv", tmp_path / "p.xy", tmp_path / "p.png"
    result = run("xrd", str(LMA), "--wavelength", "CuKa12", "--size-nm", "80", "--csv", str(csv), "--xy", str(xy),
                 "--plot", str(png), "--compare", str(structure("Li6PS5Cl")), "--compare", str(structure("Li6PS5I")))
    assert result.returncode == 0, result.stderr
    import pandas as pd

    table = pd.read_csv(csv)
    assert {"h", "k", "l", "two_theta_deg", "d_angstrom", "multiplicity", "f_squared", "intensity", "intensity_rel"} <= set(table.columns)
    assert set(table["component"]) == {"CuKa1", "CuKa2"}
    data = np.loadtxt(xy)
    assert data.shape[1] == 2 and data[0, 0] == pytest.approx(10.0)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_xrd_measured_overlay(tmp_path):
    xy = tmp_path / "sim.xy"
    run("xrd", str(LMA), "--two-theta", "10", "60", "--xy", str(xy))
    result = run("xrd", str(LMA), "--two-theta", "10", "60", "--measured", str(xy), "--json")
    fit = json.loads(result.stdout)["measured"]
    assert fit["r_wp"] < 1e-3 and fit["scale"] == pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize("args, message", [
    (["--wavelength", "CuKz"], "unknown wavelength 'CuKz'"),
    (["--two-theta", "60", "10"], "0 < min < max < 180"),
    (["--size-nm", "-5"], "crystallite size must be positive"),
    (["--a", "-3"], "not plausible"),
    (["--compare", str(structure("Li6PS5I"))], "--compare: overlays are drawn on the plot: give --plot"),
])
def test_xrd_bad_options(args, message):
    result = run("xrd", str(LMA), *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_xrd_text_table_says_what_it_leaves_out(tmp_path):
    result = run("xrd", str(structure("Li6PS5Cl")), "--csv", str(tmp_path / "all.csv"))
    assert result.returncode == 0, result.stderr
    shown = [line for line in result.stdout.splitlines()[2:] if not line.startswith("(")]
    every = (tmp_path / "all.csv").read_text().strip().splitlines()[1:]
    hidden = len(every) - len(shown)
    assert hidden > 0  # Cu K-alpha 10-120 deg: the weakest lines of Li6PS5Cl are below 1 %
    assert result.stdout.strip().splitlines()[-1] == (
        f"({hidden} weaker lines below 1 % of the strongest not shown; --csv or --json lists every line)")


def test_build_refuses_one_a_for_several_files():
    result = run("build", str(structure("Li6PS5Cl")), str(structure("Li6PS5I")), "--a", "9.9")
    assert result.returncode == 2
    assert result.stderr.strip() == "argyrodb: error: --a: one lattice parameter for several files: build them one at a time"
