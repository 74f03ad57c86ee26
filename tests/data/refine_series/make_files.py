"""Write the composition series of tests/data/refine_series: Li6PS5Cl(1-x)Br(x), x = 0.2, 0.4, 0.6, 0.8, simulated by
xrayutilities (the independent simulator of tests/data/refine, through benchmarks/synthetic_patterns.py's helpers) on
the instrument of case si_standard (tests/data/refine/si_standard.xye calibrates it), for `argyrodb refine --series`.

    .venv/bin/python tests/data/refine_series/make_files.py          # write the files (~20 s)
    .venv/bin/python tests/data/refine_series/make_files.py --check  # compare with the stored files, write nothing

Each member (README.md beside this file says more):

* a by Vegard's law between Li6PS5Cl 9.84988 A and Li6PS5Br 9.97873 A (Rao & Adams, phys. status solidi a 208 (2011)
  1804, doi:10.1002/pssa.201001117; structures/lattice_parameters.csv), as case brcl_li2s of tests/data/refine;
* the nominal, charge-neutral composition Li6PS5Cl(1-x)Br(x): Br 78 % on 4a (Li6PS5Br, ICSD 234584: 4a Br 0.78 /
  S 0.22), Cl 40 % on 4a (as case cl_pure), S filling both sites; Li 48h 0.44 + 24g 0.12 (6 per f.u.), coordinates
  and B of Table S2 (as every case of tests/data/refine);
* Li2S 4, 2, 1 and 0 wt % (the last member has none: it must come out "not detected");
* crystallite size 150, 120, 100, 80 nm and microstrain 6, 7, 8, 9 x 1e-4 (a ball-milling series);
* the sample displacement of each loading: 0, +0.04, -0.03, +0.02 mm; zero shift +0.020 deg and Soller slits
  2.5 / 2.5 deg as si_standard (the instrument the calibration finds).

2theta 10-90 deg in steps of 0.02 deg (4001 points: half of tests/data/refine's, the same profiles; a lab step).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import synthetic_patterns as sp  # noqa: E402  (the repository root first on sys.path)

STEP_DEG = 0.02
N_POINTS = 4001
CL_A, BR_A = 9.84988, 9.97873  # Rao & Adams 2011 (structures/lattice_parameters.csv)
A_SOURCE = ("Vegard between Li6PS5Cl 9.84988 A and Li6PS5Br 9.97873 A (Rao & Adams, phys. status solidi a 208 (2011) "
            "1804, doi:10.1002/pssa.201001117; structures/lattice_parameters.csv)")
BR_ON_4A, CL_ON_4A = 0.78, 0.40  # Li6PS5Br ICSD 234584 (4a Br 0.78 / S 0.22); case cl_pure (Cl 0.40 / 0.60)
LI_ROWS = [("Li1", "Li", "48h", 0.3142, 0.6858, 0.0148, 0.44, 2.607),
           ("Li2", "Li", "24g", 0.0250, 0.2500, 0.7500, 0.12, 2.607)]
#: x, Li2S weight fraction, size (nm), microstrain, specimen displacement (mm), seed
MEMBERS = ((0.2, 0.04, 150.0, 0.0006, 0.00, 23101), (0.4, 0.02, 120.0, 0.0007, 0.04, 23102),
           (0.6, 0.01, 100.0, 0.0008, -0.03, 23103), (0.8, 0.0, 80.0, 0.0009, 0.02, 23104))
START_X, START_A_OFFSET = 0.5, 0.02
SI = sp.CASES["si_standard"]  # the instrument: zero shift, Soller slits (radius, slits and tube are common)


def vegard_a(x: float) -> float:
    return round(CL_A + x * (BR_A - CL_A), 5)


def formula(x: float) -> str:
    return f"Li6PS5Cl{1 - x:g}Br{x:g}"


def anion_sites(x: float) -> tuple[dict[str, float], dict[str, float]]:
    """4a and 4d of Li6PS5Cl(1-x)Br(x): Br 78 % and Cl 40 % on 4a, S fills (4 decimals, sums exactly 1)."""
    br_4a, cl_4a = round(BR_ON_4A * x, 4), round(CL_ON_4A * (1 - x), 4)
    br_4d, cl_4d = round(x - br_4a, 4), round(1 - x - cl_4a, 4)
    return ({"S": round(1 - br_4a - cl_4a, 4), "Cl": cl_4a, "Br": br_4a},
            {"S": round(1 - br_4d - cl_4d, 4), "Cl": cl_4d, "Br": br_4d})


def member_name(x: float) -> str:
    return formula(x)


def member_spec(k: int) -> sp.CaseSpec:
    x, li2s, size, strain, displacement, seed = MEMBERS[k]
    site_4a, site_4d = anion_sites(x)
    main = sp.PhaseSpec(
        formula(x), "main", "F -4 3 m", 216, vegard_a(x), sp.argyrodite_rows(LI_ROWS, site_4a, site_4d), 1.0 - li2s,
        size, strain,
        {"structure": f"modelled {formula(x)}: coordinates and B of Table S2; 4a {site_4a}, 4d {site_4d} (Br 78 % on 4a "
                      "as Li6PS5Br, ICSD 234584; Cl 40 % on 4a as case cl_pure); Li 48h 0.44 + 24g 0.12 = 6 per f.u. "
                      "Not a measurement.",
         "a": f"{vegard_a(x)} A: {A_SOURCE}, x = {x:g}"})
    phases = [main]
    if li2s > 0:
        phases.append(sp.PhaseSpec("Li2S", "impurity", "F m -3 m", 225, sp.LI2S_A, sp.li2s_rows(), li2s, 150.0, 0.0003,
                                   {"a": sp.LI2S_SOURCE, "structure": "antifluorite: S 4a (0,0,0), Li 8c (1/4,1/4,1/4)"}))
    return sp.CaseSpec(
        member_name(x), f"s{k + 1}", f"series member {k + 1} of {len(MEMBERS)}: {formula(x)}"
        + (f" + {100 * li2s:g} wt% Li2S" if li2s else " (no Li2S)") + f", displacement {displacement:+g} mm",
        phases, seed=seed, zero_shift_deg=SI.zero_shift_deg, specimen_displacement_mm=displacement,
        soller_incident_deg=SI.soller_incident_deg, soller_diffracted_deg=SI.soller_diffracted_deg,
        target_peak_counts=30000.0, background={"b0": 180.0, "A": 900.0, "tau": 7.0, "H": 350.0, "c": 23.0, "w": 7.0},
        start={"file": "series.start.yaml", "note": f"one start for the series: {formula(START_X)}, halides spread "
                                                   "evenly over 4a and 4d, a = Vegard + 0.02 A"},
        notes=["a composition series on si_standard's instrument: refine with --instrument from si_standard.xye"])


def two_theta_grid() -> np.ndarray:
    return np.round(sp.TWO_THETA_MIN + STEP_DEG * np.arange(N_POINTS), 4)


def make_member(k: int) -> tuple[str, str, dict]:
    """The member's .xye text, its truth (as tests/data/refine's truth files), its name."""
    return sp.member_files(member_spec(k), two_theta_grid(), STEP_DEG, "tests/data/refine_series/make_files.py",
                           {"series": {"member": k + 1, "x_br": MEMBERS[k][0], "nominal_formula": formula(MEMBERS[k][0])}})


def start_text() -> str:
    """The series' start: Li6PS5Cl0.5Br0.5, halides spread evenly over 4a and 4d, a = Vegard + 0.02 A."""
    a = vegard_a(START_X) + START_A_OFFSET
    main = sp.PhaseSpec(formula(START_X), "main", "F -4 3 m", 216, vegard_a(START_X), [], 1.0, 0.0, 0.0)
    spec = sp.CaseSpec("series", "s", "", [main], 0, 0.0, 0.0, 2.5, 2.5, 0.0, {},
                       start={"a_angstrom": a, "4a": {"S": 0.5, "Cl": 0.25, "Br": 0.25},
                              "4d": {"S": 0.5, "Cl": 0.25, "Br": 0.25}, "li": LI_ROWS,
                              "note": f"{formula(START_X)} spread evenly over 4a and 4d; Li as the members"})
    text = sp.start_yaml_text(spec)
    _, body = text.split("format: argyrodb-refinement/1\n", 1)
    body = body.replace(f"  note: start value for a refinement test (true a {vegard_a(START_X):.4f} A + +0.0200 A)",
                        f"  note: start value for the series (Vegard a of {formula(START_X)} {vegard_a(START_X):.4f} A + 0.02 A)")
    body = body.replace("(tests/data/refine/README.md)", "(tests/data/refine_series/README.md)")
    return ("# START structure of the synthetic series in tests/data/refine_series (not any member's truth).\n"
            "# Written by tests/data/refine_series/make_files.py: Li6PS5Cl0.5Br0.5, halides spread evenly over 4a and\n"
            "# 4d, a = Vegard + 0.02 A; Li, coordinates and B as the members.\n"
            "format: argyrodb-refinement/1\n" + body)


def files() -> dict[str, str]:
    return {**{"series.start.yaml": start_text()}, **sp.member_texts(make_member, len(MEMBERS), "tests/data/refine_series/README.md")}


def main(argv=None) -> int:
    return sp.data_set_main(HERE, files, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
