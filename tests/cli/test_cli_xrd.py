"""`argyrodb xrd` as a user runs it."""

from __future__ import annotations

import json
import warnings

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
        f"({len(shown)} of {len(every)} lines shown: {hidden} weaker than 1 % of the strongest are not; "
        "--csv or --json lists every line)")


def test_xrd_text_table_says_where_it_stops_for_mo_k_alpha(tmp_path):
    """Mo K-alpha1 over 10-120 deg: 191 lines, of which only the 42 below 2theta = 54.19 deg reach 1 %. The table
    used to end at 54.19 deg with '149 weaker lines ... not shown', as if the pattern stopped there."""
    result = run("xrd", str(structure("Li6PS5Cl")), "--wavelength", "MoKa1", "--csv", str(tmp_path / "all.csv"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    shown = [line for line in lines[2:] if not line.startswith("(")]
    import pandas as pd

    every = pd.read_csv(tmp_path / "all.csv")
    assert (len(shown), len(every)) == (42, 191)
    assert float(shown[-1].split()[1]) == pytest.approx(54.1876, abs=1e-4)
    assert every["two_theta_deg"].max() == pytest.approx(119.572, abs=1e-3)
    assert int((every["two_theta_deg"] > 54.19).sum()) == 139
    assert lines[-1] == ("(42 of 191 lines shown: 149 weaker than 1 % of the strongest are not; the table stops at "
                         "2theta = 54.19 deg but the pattern has 139 more lines up to 119.57 deg; --csv or --json lists every line)")


def test_xrd_mo_k_alpha_lines_match_pymatgen():
    """Every reflection pymatgen's XRDCalculator finds for Mo K-alpha1 over 10-120 deg (up to 24 0 0) is in the pattern,
    at the same 2theta; the two lines pymatgen leaves out are near-absent ones (below its 0.001 % cut-off with its form
    factors, 0.02 % and 0.01 % with argyrodb's). So the reflection generator misses nothing at short wavelengths."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    from argyrodb.api import analyse

    wavelength = 0.7093172  # argyrodb's MoKa1 (Deslattes et al. 2003); pymatgen's own table has 0.7093
    payload = json.loads(run("xrd", str(structure("Li6PS5Cl")), "--wavelength", "MoKa1", "--json").stdout)
    assert payload["wavelength_angstrom"] == wavelength
    ours = np.array([p["two_theta_deg"] for p in payload["peaks"]])
    rel = np.array([p["intensity_rel"] for p in payload["peaks"]])
    report = analyse(structure("Li6PS5Cl"))
    b_total: dict[str, float] = {}
    occupancy: dict[str, float] = {}
    for site in report.refinement.sites:  # pymatgen takes one B per element: the occupancy-weighted mean
        b_total[site.element] = b_total.get(site.element, 0.0) + site.occupancy * site.b_iso_angstrom2
        occupancy[site.element] = occupancy.get(site.element, 0.0) + site.occupancy
    b_by_element = {el: b_total[el] / occupancy[el] for el in b_total}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = XRDCalculator(wavelength=wavelength, debye_waller_factors=b_by_element).get_pattern(
            report.pymatgen, two_theta_range=(10, 120))
    theirs = np.asarray(reference.x)
    assert (len(ours), len(theirs)) == (191, 189)
    # the same wavelength and cell: --json writes 2theta to 5 decimals (<= 5e-6 deg), pymatgen's differs from
    # ours by rounding only, so 1e-5 deg; the nearest distinct lines here are far more than that apart
    assert max(np.abs(ours - t).min() for t in theirs) < 1e-5
    missing = np.array([np.abs(theirs - t).min() > 1e-5 for t in ours])
    assert missing.sum() == 2 and rel[missing].max() < 0.1  # near-absent: 0.02 % and 0.01 % here
    assert payload["peaks"][-1]["hkl"] == [[24, 0, 0], [16, 16, 8]]


def test_build_refuses_one_a_for_several_files():
    result = run("build", str(structure("Li6PS5Cl")), str(structure("Li6PS5I")), "--a", "9.9")
    assert result.returncode == 2
    assert result.stderr.strip() == "argyrodb: error: --a: one lattice parameter for several files: build them one at a time"
