"""Write the synthetic patterns of tests/data/identify: three halide series of argyrodites, some with an impurity,
simulated by xrayutilities (the independent simulator of tests/data/refine, through benchmarks/synthetic_patterns.py's
helpers), for `argyrodb identify`. Nothing of argyrodb makes them, and identify was not tuned on them: they were
written before its first run and kept as they were.

    .venv/bin/python tests/data/identify/make_files.py          # write the files (~40 s)
    .venv/bin/python tests/data/identify/make_files.py --check  # compare with the stored files, write nothing

Series and truths (README.md beside this file has the table of what identify finds):

* Li6PS5Cl(1-x)Br(x): a by Vegard between Li6PS5Cl 9.84988 and Li6PS5Br 9.97873 A (Rao & Adams, phys. status solidi a
  208 (2011) 1804, doi:10.1002/pssa.201001117; structures/lattice_parameters.csv); Br 78 % on 4a (Li6PS5Br, ICSD
  234584: 4a Br 0.78 / S 0.22) and Cl 40 % on 4a (as tests/data/refine's cl_pure), S filling both sites;
* Li6PS5Br(1-x)I(x): a by Vegard between Li6PS5Br 9.97873 and Li6PS5I 10.1448 A (Rao & Adams 2011); I all on 4a (the
  ordered Li6PS5I), Br 78 % on 4a as above;
* Li5.6PS4.6Cl(1.4-x)I(x) (the source's series, 1.4 halide per formula unit): a by Vegard in the I share of the halides
  between Li6PS5Cl and Li6PS5I (an assumption: no published lattice parameters of the series; identify leaves a free
  within +-1 %); Cl 44 % and I 47.5 % on 4a, the shares of Table S2 (LMA-Cl0.8I0.6), S filling both sites;
* Li on 48h and 24g in the ratio 0.44 : 0.12 (tests/data/refine_series) scaled to the formula's Li, coordinates and B of
  Table S2 (as every case of tests/data/refine);
* impurities from 2 wt %: LiCl, LiBr, LiI (rock salt) and Li2S (antifluorite) at the bundled phases' lattice parameters
  (argyrodb/data/phases/phases.yaml), B chosen (Li 1.8, halide 1.1; Li2S Li 1.5, S 1.0 A^2: the sources give none);
* si_standard's instrument (zero shift +0.020 deg, Soller slits 2.5 / 2.5 deg), sizes 80-150 nm, microstrain
  6-9 x 1e-4, sample displacements up to 0.04 mm, the curved background of tests/data/refine_series, Poisson noise;
  2theta 10-90 deg in steps of 0.02 deg (4001 points).
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
CL_A, BR_A, I_A = 9.84988, 9.97873, 10.1448  # Rao & Adams 2011 (structures/lattice_parameters.csv)
A_SOURCE = "Rao & Adams, phys. status solidi a 208 (2011) 1804, doi:10.1002/pssa.201001117 (structures/lattice_parameters.csv)"
LIBR_A, LII_A = 5.5154, 6.0257  # Fischer, Mueller & Jansen 2004 (argyrodb/data/phases/phases.yaml)
LI_48H, LI_24G = 0.44, 0.12  # per 6 Li per formula unit (tests/data/refine_series)

#: (series, x, impurity or None, impurity weight fraction, size nm, microstrain, displacement mm, seed)
MEMBERS = (
    ("ClBr", 0.3, None, 0.0, 150.0, 0.0006, 0.00, 25101),
    ("ClBr", 0.7, "LiCl", 0.02, 100.0, 0.0008, 0.03, 25102),
    ("BrI", 0.25, "LiBr", 0.02, 120.0, 0.0007, -0.02, 25103),
    ("BrI", 0.6, None, 0.0, 90.0, 0.0009, 0.01, 25104),
    ("ClI", 0.2, "Li2S", 0.03, 130.0, 0.0006, 0.02, 25105),
    ("ClI", 0.6, "LiI", 0.02, 100.0, 0.0008, 0.00, 25106),
    ("ClI", 1.1, None, 0.0, 80.0, 0.0009, -0.03, 25107),
)
SI = sp.CASES["si_standard"]  # the instrument: zero shift, Soller slits


def formula(series: str, x: float) -> str:
    if series == "ClBr":
        return f"Li6PS5Cl{1 - x:g}Br{x:g}"
    if series == "BrI":
        return f"Li6PS5Br{1 - x:g}I{x:g}"
    return f"Li5.6PS4.6Cl{round(1.4 - x, 4):g}I{x:g}"


def family(series: str) -> str:
    return {"ClBr": "Li6PS5Cl1-xBrx", "BrI": "Li6PS5Br1-xIx", "ClI": "Li5.6PS4.6Cl1.4-xIx"}[series]


def lattice_a(series: str, x: float) -> float:
    if series == "ClBr":
        return round(CL_A + x * (BR_A - CL_A), 5)
    if series == "BrI":
        return round(BR_A + x * (I_A - BR_A), 5)
    return round(CL_A + (x / 1.4) * (I_A - CL_A), 5)


def anion_sites(series: str, x: float) -> tuple[dict[str, float], dict[str, float]]:
    """4a and 4d mixes (4 decimals, each site sums to 1)."""
    if series == "ClBr":
        on_4a = {"Cl": 0.40 * (1 - x), "Br": 0.78 * x}
        totals = {"Cl": 1 - x, "Br": x}
    elif series == "BrI":
        on_4a = {"Br": 0.78 * (1 - x), "I": x}
        totals = {"Br": 1 - x, "I": x}
    else:
        on_4a = {"Cl": 0.44 * (1.4 - x), "I": 0.475 * x}
        totals = {"Cl": 1.4 - x, "I": x}
    site_4a = {el: round(v, 4) for el, v in on_4a.items()}
    site_4d = {el: round(totals[el] - site_4a[el], 4) for el in totals}
    site_4a = {"S": round(1 - sum(site_4a.values()), 4), **site_4a}
    site_4d = {"S": round(1 - sum(site_4d.values()), 4), **site_4d}
    return site_4a, site_4d


def li_rows(series: str) -> list:
    li = 5.6 if series == "ClI" else 6.0
    return [("Li1", "Li", "48h", 0.3142, 0.6858, 0.0148, round(LI_48H * li / 6, 4), 2.607),
            ("Li2", "Li", "24g", 0.0250, 0.2500, 0.7500, round(LI_24G * li / 6, 4), 2.607)]


def impurity(name: str, fraction: float) -> sp.PhaseSpec:
    if name == "Li2S":
        return sp.PhaseSpec("Li2S", "impurity", "F m -3 m", 225, sp.LI2S_A, sp.li2s_rows(), fraction, 150.0, 0.0003,
                            {"a": sp.LI2S_SOURCE, "structure": "antifluorite: S 4a (0,0,0), Li 8c (1/4,1/4,1/4)"})
    a, halide, source = {"LiCl": (sp.LICL_A, "Cl", sp.LICL_SOURCE),
                         "LiBr": (LIBR_A, "Br", "a = 5.5154 A: Fischer, Mueller & Jansen, Z. anorg. allg. Chem. 2004, "
                                               "doi:10.1002/zaac.200400352 (argyrodb/data/phases/phases.yaml)"),
                         "LiI": (LII_A, "I", "a = 6.0257 A: Fischer, Mueller & Jansen, Z. anorg. allg. Chem. 2004, "
                                            "doi:10.1002/zaac.200400352 (argyrodb/data/phases/phases.yaml)")}[name]
    rows = [("Li1", "Li", "4a", 0.0, 0.0, 0.0, 1.0, 1.8), (f"{halide}1", halide, "4b", 0.5, 0.5, 0.5, 1.0, 1.1)]
    return sp.PhaseSpec(name, "impurity", "F m -3 m", 225, a, rows, fraction, 150.0, 0.0003,
                        {"a": source, "structure": f"rock salt: Li 4a, {halide} 4b; B Li 1.8, {halide} 1.1 A^2 chosen"})


def member_spec(k: int) -> sp.CaseSpec:
    series, x, other, fraction, size, strain, displacement, seed = MEMBERS[k]
    site_4a, site_4d = anion_sites(series, x)
    name = formula(series, x)
    main = sp.PhaseSpec(
        name, "main", "F -4 3 m", 216, lattice_a(series, x), sp.argyrodite_rows(li_rows(series), site_4a, site_4d),
        1.0 - fraction, size, strain,
        {"structure": f"modelled {name}: coordinates and B of Table S2; 4a {site_4a}, 4d {site_4d}; Li on 48h and 24g "
                      "as tests/data/refine_series. Not a measurement.",
         "a": f"{lattice_a(series, x)} A: Vegard between end members of {A_SOURCE}"})
    phases = [main] + ([impurity(other, fraction)] if other else [])
    return sp.CaseSpec(
        name, f"i{k + 1}", f"{name}" + (f" + {100 * fraction:g} wt% {other}" if other else " (single phase)"),
        phases, seed=seed, zero_shift_deg=SI.zero_shift_deg, specimen_displacement_mm=displacement,
        soller_incident_deg=SI.soller_incident_deg, soller_diffracted_deg=SI.soller_diffracted_deg,
        target_peak_counts=30000.0, background={"b0": 180.0, "A": 900.0, "tau": 7.0, "H": 350.0, "c": 23.0, "w": 7.0},
        start={"note": "none: argyrodb identify starts from nothing but the database and the family"},
        notes=["argyrodb identify test pattern (tests/data/identify/README.md)"])


def two_theta_grid() -> np.ndarray:
    return np.round(sp.TWO_THETA_MIN + STEP_DEG * np.arange(N_POINTS), 4)


def make_member(k: int) -> tuple[str, str, dict]:
    """The member's .xye text, its truth (as tests/data/refine's truth files), its name."""
    series, x, other, fraction = MEMBERS[k][:4]
    return sp.member_files(member_spec(k), two_theta_grid(), STEP_DEG, "tests/data/identify/make_files.py",
                           {"identify": {"family": family(series), "x": x, "formula": formula(series, x),
                                         "impurity": other, "impurity_weight_fraction": fraction}})


def files() -> dict[str, str]:
    return sp.member_texts(make_member, len(MEMBERS), "tests/data/identify/README.md")


def main(argv=None) -> int:
    return sp.data_set_main(HERE, files, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
