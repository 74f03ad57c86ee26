"""Synthetic Bragg-Brentano powder patterns with known truth, made by an INDEPENDENT simulator.

The patterns validate ``argyrodb refine`` (issue 14) and the peer baseline (``bench_refine_peer.py``).
They are simulated by xrayutilities' ``PowderModel`` with its fundamental-parameters (FP) line profiles
(NIST FPA convolvers: Cu K-alpha1/K-alpha2 emission, full axial-divergence model with Soller slits,
flat-specimen and sample-transparency aberrations, receiver slit, tube tails), crystallite size and
microstrain broadening, a zero shift (and, in one case, a specimen displacement), a curved background
(decaying exponential + broad amorphous hump + constant, not a polynomial) and Poisson noise. Nothing of
argyrodb is used to make them: the structures are read from the refinement YAML files with PyYAML, written
as CIF text here and parsed by xrayutilities' own CIF reader; form factors, structure factors,
Lorentz-polarisation and profiles are all xrayutilities'.

Python::

    from benchmarks.synthetic_patterns import make_pattern, CASES
    two_theta_deg, counts, sigma, truth = make_pattern("lma_licl", seed=None)   # None: the case's seed

Command line (regenerates the files in tests/data/refine/, byte-identical for the same versions)::

    .venv/bin/python benchmarks/synthetic_patterns.py --out tests/data/refine
    .venv/bin/python benchmarks/synthetic_patterns.py --list
    .venv/bin/python benchmarks/synthetic_patterns.py --check-argyrodb   # cross-check line intensities

Conventions worked out from xrayutilities 1.8 (``simpack/powder.py``, ``simpack/powdermodel.py``) and
checked numerically (see ``--conventions`` and the README next to the data):

* Line strength: ``r = |F|^2 * m * LP / V_cell^2`` (PowderDiffraction.init_powder_lines), with
  ``LP = (1 + cos^2 2theta) / (2 sin^2 theta cos theta)`` (no monochromator), F at the K-alpha1 energy with
  f0 (International Tables, DABAX) + f' + i f'' (Kissel), ``exp(-B s^2)`` per site, occupancy per row.
* Phase amounts: ``PowderModel.simulate`` sums ``Calculate(phase) * volume_p / sum(volume)``: ``Powder(volume=)``
  is a VOLUME fraction. Since r carries 1/V^2, the Rietveld scale of a phase (y = S * sum m |F|^2 LP P) is
  ``S_p = I0 * v_p / V_p^2``, and Hill-Howard ``W_p = S_p (ZMV)_p / sum_i S_i (ZMV)_i = v_p rho_p / sum v_i rho_i``.
  So the volume fractions passed are ``v_p = (W_p / rho_p) / sum_i (W_i / rho_i)`` for the true weight fractions.
* Line profiles are renormalised here to unit area (in degrees 2theta, K-alpha1 + K-alpha2 together): the
  full axial-divergence convolver of xrayutilities is not area-normalised (with 2.5 deg Sollers the line
  area grows by ~7 % from 15 to 82 deg 2theta), an angle-dependent intensity factor no Rietveld program
  models; without the renormalisation it would leak into B and occupancies. Line SHAPES are untouched.
* Zero shift: ``displacement.zero_error_deg = Z`` moves every line to 2theta_Bragg + Z (checked: +0.100 ->
  +0.1000 deg). Specimen displacement s: 2theta shift = -2 s cos(theta) / R (rad); s > 0 moves lines down.
* Size: ``crystallite_size_lor = D`` gives a Lorentzian FWHM(2theta, rad) = lambda / (D cos theta).
  Microstrain is given here as the apparent strain eps (FWHM(2theta, rad) = 4 eps tan theta, Stokes-Wilson)
  and passed as ``strain_gauss = degrees(8 eps)``, because xrayutilities' Gaussian strain term is
  FWHM = radians(strain_gauss)/2 * tan theta (its Lorentzian strain term is radians(strain_lor) * tan theta,
  a factor 2 apart for the same number).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import math
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xrayutilities as _XU

REPO = Path(__file__).resolve().parents[1]
STRUCTURES = REPO / "structures"
DEFAULT_OUT = REPO / "tests" / "data" / "refine"

TWO_THETA_MIN, TWO_THETA_MAX, TWO_THETA_STEP = 10.0, 90.0, 0.01
N_POINTS = 8001
AVOGADRO = 6.02214076e23
PACKING_FRACTION = 0.6  # powder in a flat holder: effective linear attenuation = 0.6 x that of the solid

LICL_A = 5.12952
LICL_SOURCE = (
    "a = 5.12952(4) A: A. F. Ievins, M. Straumanis, K. Karlsons, Z. Phys. Chem. B 40 (1938) 146-150, "
    "COD 1011314 (rock salt, Fm-3m, room temperature). B values (Li 1.8, Cl 1.1 A^2) are chosen as typical for an "
    "alkali halide at room temperature: the source gives none."
)

# --------------------------------------------------------------------------------------------------------
# Structures
# --------------------------------------------------------------------------------------------------------

#: site row: (label, element, wyckoff, x, y, z, occupancy, B)
SiteRow = tuple


def _load_yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def _rows_from_refinement(name: str) -> list[SiteRow]:
    """The site table of structures/NAME.yaml as printed (argyrodb-refinement/1 site_columns)."""
    doc = _load_yaml(STRUCTURES / f"{name}.yaml")
    cols = doc["site_columns"]
    rows = []
    for row in doc["sites"]:
        rec = dict(zip(cols, row))
        wyck = rec["wyckoff"]
        if name == "LMA-Cl0.8I0.6" and wyck == "4c":
            wyck = "4d"  # (1/4, 1/4, 3/4) is 4d in F-43m; the source prints 4c
        rows.append((rec["label"], rec["element"], wyck, float(rec["x"]), float(rec["y"]), float(rec["z"]),
                     float(rec["occupancy"]), float(rec["b_iso"])))
    return rows


def _table_s2_framework() -> dict[str, SiteRow]:
    """Table S2 (LMA-Cl0.8I0.6) rows by label: coordinates and B of the framework (P, S1 and the anion sites)."""
    return {r[0]: r for r in _rows_from_refinement("LMA-Cl0.8I0.6")}


def _anion_rows(site: str, occupancies: dict[str, float], coords, b_iso: float) -> list[SiteRow]:
    n = 1 if site == "4a" else 2
    return [(f"{el}{site}", el, site, *coords, occ, b_iso) for el, occ in occupancies.items() if occ > 0] or [
        (f"S{n}", "S", site, *coords, 1.0, b_iso)]


def argyrodite_rows(li_rows: list[SiteRow], site_4a: dict[str, float], site_4d: dict[str, float]) -> list[SiteRow]:
    """An argyrodite: given Li rows, Table S2's P, S1 and anion-site coordinates and B, and the given
    anion-site mixes (element -> occupancy) on 4a (0,0,0) and 4d (1/4,1/4,3/4)."""
    s2 = _table_s2_framework()
    p1, s1, s4a, s4d = s2["P1"], s2["S1"], s2["S2"], s2["S3"]
    rows = list(li_rows) + [p1, s1]
    rows += _anion_rows("4a", site_4a, s4a[3:6], s4a[7])
    rows += _anion_rows("4d", site_4d, s4d[3:6], s4d[7])
    return rows


def licl_rows() -> list[SiteRow]:
    return [("Li1", "Li", "4a", 0.0, 0.0, 0.0, 1.0, 1.8), ("Cl1", "Cl", "4b", 0.5, 0.5, 0.5, 1.0, 1.1)]


def _normalised(mix: dict[str, float]) -> dict[str, float]:
    total = sum(mix.values())
    out = {el: round(v / total, 4) for el, v in mix.items()}
    # put the rounding remainder on the largest entry so the site sums to exactly 1
    big = max(out, key=out.get)
    out[big] = round(out[big] + 1.0 - sum(out.values()), 4)
    return out


def _lma_truth_sites() -> tuple[list[SiteRow], dict, dict]:
    """LMA-Cl0.8I0.6: Table S2 as printed for Li/P/S1, the 4a and 4d mixes normalised to a site sum of 1
    (Table S2 prints 1.0004 on 4a and 0.8322 on 4d, although the source says the sums were set to 1)."""
    rows = _rows_from_refinement("LMA-Cl0.8I0.6")
    li = [r for r in rows if r[1] == "Li"]
    mix = {"4a": {}, "4d": {}}
    for r in rows:
        if r[2] in mix and r[1] != "Li":
            mix[r[2]][r[1]] = r[6]
    return li, _normalised(mix["4a"]), _normalised(mix["4d"])


# --------------------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------------------


@dataclass
class PhaseSpec:
    name: str
    role: str  # "main" | "impurity"
    space_group: str  # Hermann-Mauguin, for the CIF
    sg_number: int
    a: float
    rows: list
    weight_fraction: float
    size_nm: float
    microstrain: float  # apparent strain eps: FWHM(2theta, rad) = 4 eps tan(theta)
    provenance: dict = field(default_factory=dict)
    z: int = 4


@dataclass
class CaseSpec:
    name: str
    letter: str
    description: str
    phases: list
    seed: int
    zero_shift_deg: float
    specimen_displacement_mm: float
    soller_incident_deg: float
    soller_diffracted_deg: float
    target_peak_counts: float
    background: dict
    start: dict  # suggested nominal start for refinements
    notes: list = field(default_factory=list)


def _background(two_theta: np.ndarray, p: dict) -> np.ndarray:
    """b0 + A exp(-(2theta - 10)/tau) + H exp(-(2theta - c)^2 / (2 w^2)), 2theta in degrees."""
    return (p["b0"] + p["A"] * np.exp(-(two_theta - 10.0) / p["tau"])
            + p["H"] * np.exp(-0.5 * ((two_theta - p["c"]) / p["w"]) ** 2))


BACKGROUND_FORMULA = "b0 + A*exp(-(2theta-10)/tau) + H*exp(-(2theta-c)^2/(2*w^2)), 2theta in deg, counts"


def _cases() -> dict[str, CaseSpec]:
    li_lma, lma_4a, lma_4d = _lma_truth_sites()
    lma_rows = argyrodite_rows(li_lma, lma_4a, lma_4d)
    lma_prov = {
        "structure": "structures/LMA-Cl0.8I0.6.yaml (Table S2 of the source): Li, P, S1 rows, all coordinates "
                     "and B as printed; 4a and 4d mixes normalised to a site sum of 1 (printed sums 1.0004 and "
                     "0.8322; the source states the sums were constrained to 1). Li kept as printed (6.54 Li "
                     "per f.u., not charge balanced) so that a refinement with Li fixed at the start file's "
                     "values has the exact Li.",
        "a": "chosen: the source reports no a (argyrodb's Vegard estimate is 9.988 +- 0.025 A)",
    }
    licl = PhaseSpec("LiCl", "impurity", "F m -3 m", 225, LICL_A, licl_rows(), 0.030, 200.0, 0.0003,
                     {"a": LICL_SOURCE, "structure": "rock salt: Li 4a (0,0,0), Cl 4b (1/2,1/2,1/2)"})

    # (b) Li6PS5Br0.5I0.5: I stays on 4a (Li6PS5I is anion-ordered), Br partly disordered as in Li6PS5Br
    # (ICSD 234584: 4a Br 0.78 / S 0.22). Li: between Li6PS5Br (48h 0.44, 24g 0.12) and Li6PS5I (0.37, 0.26).
    li_bri = [("Li1", "Li", "48h", 0.3142, 0.6858, 0.0148, 0.40, 2.607),
              ("Li2", "Li", "24g", 0.0250, 0.2500, 0.7500, 0.20, 2.607)]
    bri_4a, bri_4d = {"S": 0.20, "Br": 0.35, "I": 0.45}, {"S": 0.80, "Br": 0.15, "I": 0.05}
    bri_rows = argyrodite_rows(li_bri, bri_4a, bri_4d)
    bri_prov = {
        "structure": "modelled Li6PS5Br0.5I0.5: coordinates and B of Table S2 (as argyrodb's end members); "
                     "4a S 0.20 / Br 0.35 / I 0.45 and 4d S 0.80 / Br 0.15 / I 0.05, chosen so that I stays on "
                     "4a (Li6PS5I is anion-ordered, ICSD 418489) and Br is partly site-disordered as in "
                     "Li6PS5Br (ICSD 234584: 4a Br 0.78 / S 0.22); totals S 5, Br 0.5, I 0.5 per f.u.; Li 48h "
                     "0.40 + 24g 0.20 = 6 per f.u. (between Li6PS5Br and Li6PS5I), charge balanced. Not a "
                     "measurement.",
        "a": "10.109 A, Li6PS5Br0.5I0.5, Kraft et al., J. Am. Chem. Soc. 139 (2017) 10909, doi:10.1021/jacs.7b06327 "
             "(structures/lattice_parameters.csv)",
    }

    # (c) Li6PS5Cl0.5Br0.5, no impurity
    li_clbr = [("Li1", "Li", "48h", 0.3142, 0.6858, 0.0148, 0.44, 2.607),
               ("Li2", "Li", "24g", 0.0250, 0.2500, 0.7500, 0.12, 2.607)]
    clbr_4a, clbr_4d = {"S": 0.45, "Cl": 0.20, "Br": 0.35}, {"S": 0.55, "Cl": 0.30, "Br": 0.15}
    clbr_rows = argyrodite_rows(li_clbr, clbr_4a, clbr_4d)
    clbr_prov = {
        "structure": "modelled Li6PS5Cl0.5Br0.5: coordinates and B of Table S2; 4a S 0.45 / Cl 0.20 / Br 0.35, "
                     "4d S 0.55 / Cl 0.30 / Br 0.15 (halide/sulfide site disorder of the order seen in "
                     "Li6PS5Cl and Li6PS5Br: Br prefers 4a, Cl slightly 4d as in Li6PS5Cl, ICSD 142473); totals S 5, Cl 0.5, Br 0.5; "
                     "Li 48h 0.44 + 24g 0.12 "
                     "= 6 per f.u. (as Li6PS5Br, ICSD 234584). Not a measurement.",
        "a": "9.952 A, Li6PS5Cl0.5Br0.5, Kraft et al., J. Am. Chem. Soc. 139 (2017) 10909, doi:10.1021/jacs.7b06327 "
             "(structures/lattice_parameters.csv)",
    }

    nominal_lma = {"S": 0.3, "Cl": 0.4, "I": 0.3}  # Li5.6PS4.6Cl0.8I0.6: 0.6 S, 0.8 Cl, 0.6 I over 4a + 4d
    cases = [
        CaseSpec(
            "lma_licl", "a", "LMA-Cl0.8I0.6 (Table S2, site sums 1) + 3.0 wt% LiCl",
            [PhaseSpec("LMA-Cl0.8I0.6", "main", "F -4 3 m", 216, 10.0030, lma_rows, 0.970, 120.0, 0.0008, lma_prov),
             licl],
            seed=14001, zero_shift_deg=0.030, specimen_displacement_mm=0.0,
            soller_incident_deg=2.5, soller_diffracted_deg=2.5, target_peak_counts=30000.0,
            background={"b0": 180.0, "A": 900.0, "tau": 7.0, "H": 350.0, "c": 23.0, "w": 7.0},
            start={"a_angstrom": 10.0230, "4a": dict(nominal_lma), "4d": dict(nominal_lma),
                   "note": "nominal Li5.6PS4.6Cl0.8I0.6 spread evenly over 4a and 4d; Li, P, S1, B as Table S2"},
        ),
        CaseSpec(
            "bri_licl", "b", "Li6PS5Br0.5I0.5 (Br and I mixed on 4a/4d) + 3.0 wt% LiCl",
            [PhaseSpec("Li6PS5Br0.5I0.5", "main", "F -4 3 m", 216, 10.109, bri_rows, 0.970, 90.0, 0.0010, bri_prov),
             copy.deepcopy(licl)],
            seed=14002, zero_shift_deg=-0.020, specimen_displacement_mm=0.0,
            soller_incident_deg=2.5, soller_diffracted_deg=5.0, target_peak_counts=45000.0,
            background={"b0": 220.0, "A": 1400.0, "tau": 5.0, "H": 500.0, "c": 20.0, "w": 8.0},
            start={"a_angstrom": 10.129, "4a": {"S": 0.5, "Br": 0.25, "I": 0.25},
                   "4d": {"S": 0.5, "Br": 0.25, "I": 0.25},
                   "note": "nominal Li6PS5Br0.5I0.5 spread evenly over 4a and 4d; Li as the truth (fixed)"},
        ),
        CaseSpec(
            "clbr_pure", "c", "Li6PS5Cl0.5Br0.5 alone (no impurity), a = 9.952 A",
            [PhaseSpec("Li6PS5Cl0.5Br0.5", "main", "F -4 3 m", 216, 9.952, clbr_rows, 1.0, 150.0, 0.0005, clbr_prov)],
            seed=14003, zero_shift_deg=0.045, specimen_displacement_mm=0.0,
            soller_incident_deg=2.5, soller_diffracted_deg=5.0, target_peak_counts=22000.0,
            background={"b0": 120.0, "A": 600.0, "tau": 9.0, "H": 250.0, "c": 26.0, "w": 6.0},
            start={"a_angstrom": 9.972, "4a": {"S": 0.5, "Cl": 0.25, "Br": 0.25},
                   "4d": {"S": 0.5, "Cl": 0.25, "Br": 0.25},
                   "note": "nominal Li6PS5Cl0.5Br0.5 spread evenly over 4a and 4d; Li as the truth (fixed)"},
        ),
        CaseSpec(
            "lma_licl10_disp", "d", "LMA-Cl0.8I0.6 + 10.0 wt% LiCl, specimen displacement +0.10 mm (extra case)",
            [PhaseSpec("LMA-Cl0.8I0.6", "main", "F -4 3 m", 216, 10.0030, lma_rows, 0.900, 100.0, 0.0008, lma_prov),
             PhaseSpec("LiCl", "impurity", "F m -3 m", 225, LICL_A, licl_rows(), 0.100, 200.0, 0.0003,
                       dict(licl.provenance))],
            seed=14004, zero_shift_deg=0.010, specimen_displacement_mm=0.10,
            soller_incident_deg=2.5, soller_diffracted_deg=2.5, target_peak_counts=35000.0,
            background={"b0": 200.0, "A": 1000.0, "tau": 6.0, "H": 400.0, "c": 22.0, "w": 7.0},
            start={"a_angstrom": 10.0230, "4a": dict(nominal_lma), "4d": dict(nominal_lma),
                   "note": "as case a"},
            notes=["zero shift and specimen displacement together: a refinement must free displacement (cos theta) "
                   "to recover a; they are separable only through the angular dependence"],
        ),
    ]
    cases += _nominal_cases(li_lma, lma_prov, licl)
    cases.append(_si_standard_case())
    return {c.name: c for c in cases}


#: NIST SRM 640d silicon, certificate (revised 26 May 2010): a = 0.543123(8) nm at 22.5 C (the certification paper,
#: Black et al., Powder Diffr. 25 (2010) 187, gives 0.543159(20) nm; the certificate's revision supersedes it).
SI_A = 5.43123
#: Si B at room temperature (A^2): Sears & Shelley, Acta Cryst. A47 (1991) 441.
SI_B = 0.4632


def si_cif_text() -> str:
    """The Si standard as a CIF in Fd-3m (origin choice 2, Si on 8a at 1/8, 1/8, 1/8), as a user would give it."""
    return "\n".join([
        "# Si, NIST SRM 640d: a = 5.43123(8) A at 22.5 C (certificate, revised 26 May 2010); B = 0.4632 A^2 at room",
        "# temperature (Sears & Shelley, Acta Cryst. A47 (1991) 441). Written by benchmarks/synthetic_patterns.py.",
        "data_Si_SRM640d",
        f"_cell_length_a {SI_A}", f"_cell_length_b {SI_A}", f"_cell_length_c {SI_A}",
        "_cell_angle_alpha 90", "_cell_angle_beta 90", "_cell_angle_gamma 90",
        "_symmetry_space_group_name_H-M 'F d -3 m :2'", "_space_group_IT_number 227",
        "loop_", "_space_group_symop_operation_xyz", *[f"'{op}'" for op in _fd3m_operations()],
        "loop_", "_atom_site_label", "_atom_site_type_symbol", "_atom_site_fract_x", "_atom_site_fract_y",
        "_atom_site_fract_z", "_atom_site_occupancy", "_atom_site_B_iso_or_equiv",
        f"Si1 Si 0.125 0.125 0.125 1.0 {SI_B}", ""])


def _fd3m_operations() -> list[str]:
    """The 192 general positions of Fd-3m (origin choice 2) as CIF xyz strings, from gemmi's tables."""
    import gemmi

    return [op.triplet() for op in gemmi.find_spacegroup_by_name("F d -3 m:2").operations()]


def _si_standard_case() -> CaseSpec:
    """(h) The Si standard measured on case e's instrument (same optics, zero shift): a calibration pattern. Si as
    its F-43m description (4a + 4c = the diamond structure's 8a) for xrayutilities' P1 expansion; the size (10 um)
    and strain (0) add no broadening, so the lines are the instrument's."""
    rows = [("Si1", "Si", "4a", 0.0, 0.0, 0.0, 1.0, SI_B), ("Si2", "Si", "4c", 0.25, 0.25, 0.25, 1.0, SI_B)]
    return CaseSpec(
        "si_standard", "h", "Si standard (NIST SRM 640d a and B) on case e's instrument, for calibration",
        [PhaseSpec("Si", "main", "F -4 3 m", 216, SI_A, rows, 1.0, 10000.0, 0.0,
                   {"a": "5.43123 A, NIST SRM 640d certificate (revised 26 May 2010), 22.5 C",
                    "structure": "diamond: Si 8a of Fd-3m, written as 4a + 4c of F-43m"}, z=8)],
        seed=23004, zero_shift_deg=0.020, specimen_displacement_mm=0.0,
        soller_incident_deg=2.5, soller_diffracted_deg=2.5, target_peak_counts=40000.0,
        background={"b0": 150.0, "A": 400.0, "tau": 7.0, "H": 100.0, "c": 25.0, "w": 8.0},
        start={"cif": si_cif_text(), "note": "the certificate's a and Sears & Shelley's B (a CIF, not a refinement file)"},
        notes=["a calibration pattern: no size or strain broadening; refined with --calibrate on the CIF's a"],
    )


LI2S_A = 5.708
LI2S_SOURCE = ("a = 5.708 A: COD 9009060 (after R. W. G. Wyckoff, Crystal Structures, 2nd ed., 1963), antifluorite "
               "Fm-3m, as argyrodb's bundled Li2S (argyrodb/data/phases/phases.yaml); B (Li 1.5, S 1.0 A^2) chosen, "
               "the source gives none.")


def li2s_rows() -> list[SiteRow]:
    return [("S1", "S", "4a", 0.0, 0.0, 0.0, 1.0, 1.0), ("Li1", "Li", "8c", 0.25, 0.25, 0.25, 1.0, 1.5)]


def _nominal_cases(li_lma: list[SiteRow], lma_prov: dict, licl: PhaseSpec) -> list[CaseSpec]:
    """Cases whose truth IS the nominal, charge-neutral composition (issue 23: the defaults hold it), each started
    from a file whose totals are not the truth's."""
    # (e) LMA-Cl0.8I0.6 at its nominal composition: I 0.50/0.10, Cl 0.30/0.50 on 4a/4d, Li Table S2's distribution
    # scaled to 5.6 per f.u. (charge balanced). Started from Table S2 as printed (Cl 0.451, I 0.899, 4d sum 0.8322,
    # Li 6.54): the start file's totals are the wrong ones to hold.
    li_printed = sum(r[6] * {"48h": 48, "24g": 24, "16e": 16}[r[2]] for r in li_lma) / 4
    li_nominal = [(*r[:6], round(r[6] * 5.6 / li_printed, 4), r[7]) for r in li_lma]
    lma_nom_4a, lma_nom_4d = {"S": 0.20, "Cl": 0.30, "I": 0.50}, {"S": 0.40, "Cl": 0.50, "I": 0.10}
    table_s2 = {r[0]: r for r in _rows_from_refinement("LMA-Cl0.8I0.6")}
    printed_4a = {el: table_s2[label][6] for el, label in (("S", "S2"), ("Cl", "Cl1"), ("I", "I1"))}
    printed_4d = {el: table_s2[label][6] for el, label in (("S", "S3"), ("Cl", "Cl2"), ("I", "I2"))}
    lma_nom_prov = dict(lma_prov, structure=(
        "LMA-Cl0.8I0.6 at its nominal composition (Li5.6PS4.6Cl0.8I0.6): coordinates and B of Table S2; 4a S 0.20 / "
        "Cl 0.30 / I 0.50, 4d S 0.40 / Cl 0.50 / I 0.10 (totals S 4.6, Cl 0.8, I 0.6 per f.u.); Li rows of Table S2 "
        "scaled to 5.6 per f.u., charge balanced. Not a measurement."))
    # (f) Li6PS5Cl with Cl 0.40 / 0.60 on 4a / 4d (as issue 23's Li6PS5Cl case), Li 6 as Li6PS5Br's rows
    li_six = [("Li1", "Li", "48h", 0.3142, 0.6858, 0.0148, 0.44, 2.607),
              ("Li2", "Li", "24g", 0.0250, 0.2500, 0.7500, 0.12, 2.607)]
    cl_4a, cl_4d = {"S": 0.60, "Cl": 0.40}, {"S": 0.40, "Cl": 0.60}
    # (g) Li6PS5Br0.7Cl0.3 + 5 wt% Li2S: Br prefers 4a as in Li6PS5Br, Cl as in Li6PS5Cl
    brcl_4a, brcl_4d = {"S": 0.35, "Cl": 0.10, "Br": 0.55}, {"S": 0.65, "Cl": 0.20, "Br": 0.15}
    return [
        CaseSpec(
            "lma_nominal", "e", "LMA-Cl0.8I0.6 at its nominal composition + 3.0 wt% LiCl, started from Table S2 as printed",
            [PhaseSpec("LMA-Cl0.8I0.6", "main", "F -4 3 m", 216, 10.0030, argyrodite_rows(li_nominal, lma_nom_4a, lma_nom_4d),
                       0.970, 120.0, 0.0008, lma_nom_prov),
             copy.deepcopy(licl)],
            seed=23001, zero_shift_deg=0.020, specimen_displacement_mm=0.0,
            soller_incident_deg=2.5, soller_diffracted_deg=2.5, target_peak_counts=30000.0,
            background={"b0": 180.0, "A": 900.0, "tau": 7.0, "H": 350.0, "c": 23.0, "w": 7.0},
            start={"a_angstrom": 10.0230, "4a": printed_4a, "4d": printed_4d, "li": li_lma,
                   "note": "Table S2 as printed (Cl 0.451, I 0.899 per f.u., 4d sum 0.8322, Li 6.54 per f.u.)"},
        ),
        CaseSpec(
            "cl_pure", "f", "Li6PS5Cl, Cl 0.40 on 4a / 0.60 on 4d, no impurity",
            [PhaseSpec("Li6PS5Cl", "main", "F -4 3 m", 216, 9.8499, argyrodite_rows(li_six, cl_4a, cl_4d), 1.0, 150.0,
                       0.0005, {"structure": "modelled Li6PS5Cl: coordinates and B of Table S2; 4a S 0.60 / Cl 0.40, 4d "
                                             "S 0.40 / Cl 0.60; Li 48h 0.44 + 24g 0.12 = 6 per f.u. Not a measurement.",
                                "a": "9.84988 A, Rao & Adams, phys. status solidi a 208 (2011) 1804, "
                                     "doi:10.1002/pssa.201001117 (structures/lattice_parameters.csv)"})],
            seed=23002, zero_shift_deg=-0.015, specimen_displacement_mm=0.0,
            soller_incident_deg=2.5, soller_diffracted_deg=5.0, target_peak_counts=25000.0,
            background={"b0": 150.0, "A": 700.0, "tau": 8.0, "H": 300.0, "c": 24.0, "w": 6.0},
            start={"a_angstrom": 9.8699, "4a": {"S": 0.5, "Cl": 0.5}, "4d": {"S": 0.5, "Cl": 0.5},
                   "note": "nominal Li6PS5Cl spread evenly over 4a and 4d; Li as the truth"},
        ),
        CaseSpec(
            "brcl_li2s", "g", "Li6PS5Br0.7Cl0.3 + 5.0 wt% Li2S",
            [PhaseSpec("Li6PS5Br0.7Cl0.3", "main", "F -4 3 m", 216, 9.940, argyrodite_rows(li_six, brcl_4a, brcl_4d), 0.95,
                       110.0, 0.0008,
                       {"structure": "modelled Li6PS5Br0.7Cl0.3: coordinates and B of Table S2; 4a S 0.35 / Cl 0.10 / "
                                     "Br 0.55, 4d S 0.65 / Cl 0.20 / Br 0.15 (totals S 5, Br 0.7, Cl 0.3); Li 6 per f.u. "
                                     "Not a measurement.",
                        "a": "9.940 A: Vegard between Li6PS5Cl 9.84988 and Li6PS5Br 9.97873 A (Rao & Adams 2011), "
                             "0.3 : 0.7"}),
             PhaseSpec("Li2S", "impurity", "F m -3 m", 225, LI2S_A, li2s_rows(), 0.05, 150.0, 0.0003,
                       {"a": LI2S_SOURCE, "structure": "antifluorite: S 4a (0,0,0), Li 8c (1/4,1/4,1/4)"})],
            seed=23003, zero_shift_deg=0.025, specimen_displacement_mm=0.0,
            soller_incident_deg=2.5, soller_diffracted_deg=5.0, target_peak_counts=30000.0,
            background={"b0": 200.0, "A": 1000.0, "tau": 6.0, "H": 400.0, "c": 22.0, "w": 7.0},
            start={"a_angstrom": 9.960, "4a": {"S": 0.5, "Cl": 0.15, "Br": 0.35}, "4d": {"S": 0.5, "Cl": 0.15, "Br": 0.35},
                   "note": "nominal Li6PS5Br0.7Cl0.3 spread evenly over 4a and 4d; Li as the truth"},
        ),
    ]


CASES = _cases()
ALIASES = {c.letter: c.name for c in CASES.values()}

# --------------------------------------------------------------------------------------------------------
# Instrument
# --------------------------------------------------------------------------------------------------------

RADIUS_M = 0.240
EQUATORIAL_DIVERGENCE_DEG = 0.5
SOURCE_LENGTH_M = 12e-3  # tube focus length (long fine focus)
SAMPLE_LENGTH_M = 15e-3  # irradiated sample length along the axis
RECEIVER_LENGTH_M = 16e-3  # detector window length along the axis (must differ from the source length:
#                            equal lengths crash xrayutilities' full axial model with an IndexError)
RECEIVER_SLIT_M = 0.1e-3
AXIAL_INTEGRAL_POINTS = 20


def _fp_settings(case: CaseSpec, mu_eff_per_m: float) -> dict:
    return {
        "global": {"geometry": "symmetric", "diffractometer_radius": RADIUS_M,
                   "equatorial_divergence_deg": EQUATORIAL_DIVERGENCE_DEG},
        "emission": {"emiss_wavelengths": (_XU.utilities.wavelength("CuKa1") * 1e-10,
                                           _XU.utilities.wavelength("CuKa2") * 1e-10),
                     "emiss_intensities": (1.0, 0.5),
                     "emiss_gauss_widths": (3e-14, 3e-14), "emiss_lor_widths": (3e-14, 3e-14)},
        "axial": {"axDiv": "full", "slit_length_source": SOURCE_LENGTH_M, "slit_length_target": RECEIVER_LENGTH_M,
                  "length_sample": SAMPLE_LENGTH_M, "angI_deg": case.soller_incident_deg,
                  "angD_deg": case.soller_diffracted_deg, "n_integral_points": AXIAL_INTEGRAL_POINTS},
        "absorption": {"absorption_coefficient": mu_eff_per_m},
        "displacement": {"zero_error_deg": case.zero_shift_deg,
                         "specimen_displacement": case.specimen_displacement_mm * 1e-3},
        "receiver_slit": {"slit_width": RECEIVER_SLIT_M},
    }


# --------------------------------------------------------------------------------------------------------
# xrayutilities plumbing
# --------------------------------------------------------------------------------------------------------


def _xu():
    _XU.config.NTHREADS = 1  # one worker per phase; all profiles are computed in this process ("local")
    return _XU


class UnitAreaFP(_XU.simpack.FP_profile):
    """FP_profile whose every line profile has unit area in degrees 2theta (see module docstring). Module
    level so that xrayutilities' worker processes can unpickle it."""

    def compute_line_profile(self, *args, **kwargs):
        result = super().compute_line_profile(*args, **kwargs)
        step = result.twotheta_deg[1] - result.twotheta_deg[0]
        area = float(np.sum(result.peak)) * step
        result.peak = result.peak / area
        return result


def _unit_area_fp_class():
    return UnitAreaFP


def cif_text(phase: PhaseSpec) -> str:
    """A minimal CIF (no symmetry-operator loop: xrayutilities expands with its own tables)."""
    lines = [f"data_{phase.name.replace(' ', '_')}", f"_symmetry_space_group_name_H-M '{phase.space_group}'",
             f"_symmetry_Int_Tables_number {phase.sg_number}"]
    for k in "abc":
        lines.append(f"_cell_length_{k} {phase.a:.6f}")
    for k in ("alpha", "beta", "gamma"):
        lines.append(f"_cell_angle_{k} 90")
    lines += ["", "loop_", "_atom_site_label", "_atom_site_type_symbol", "_atom_site_fract_x", "_atom_site_fract_y",
              "_atom_site_fract_z", "_atom_site_occupancy", "_atom_site_B_iso_or_equiv"]
    for label, el, _w, x, y, z, occ, b in phase.rows:
        lines.append(f"{label} {el} {x:.6f} {y:.6f} {z:.6f} {occ:.6f} {b:.4f}")
    return "\n".join(lines) + "\n\n"


def build_crystal(phase: PhaseSpec):
    """xrayutilities Crystal in P1 with every position explicit (xrayutilities 1.8 cannot assign S1 at
    (0.12, -0.12, 0.62) to 16e and would fall back to P1 anyway). Checks that each site row expanded to its
    Wyckoff multiplicity."""
    xu = _xu()
    from xrayutilities.materials import cif

    cf = cif.CIFFile(cif_text(phase))
    data = cf.data[cf.default_dataset]
    for (label, _el, wyck, *_rest), (_e, positions, _o, _b) in zip(phase.rows, data.unique_positions):
        mult = int("".join(ch for ch in wyck if ch.isdigit()))
        if len(positions) != mult:
            raise RuntimeError(f"{phase.name} {label}: {len(positions)} positions, Wyckoff {wyck} has {mult}")
    return xu.materials.Crystal(phase.name, cf.SGLattice(use_p1=True))


def _mass_per_cell_gmol(crystal) -> float:
    return crystal.density * crystal.lattice.UnitCellVolume() * 1e-30 * AVOGADRO * 1e3  # density kg/m^3


def phase_numbers(phase: PhaseSpec, crystal, energy_ev: float) -> dict:
    v = crystal.lattice.UnitCellVolume()
    m_cell = _mass_per_cell_gmol(crystal)
    mu = 1.0 / (crystal.absorption_length(energy_ev) * 1e-6)  # absorption_length in micrometres
    return {"V": v, "M_cell": m_cell, "M_fu": m_cell / phase.z, "rho": crystal.density / 1e3, "mu": mu}


def composition_per_fu(phase: PhaseSpec) -> dict[str, float]:
    comp: dict[str, float] = {}
    for _label, el, wyck, _x, _y, _z, occ, _b in phase.rows:
        mult = int("".join(ch for ch in wyck if ch.isdigit()))
        comp[el] = comp.get(el, 0.0) + mult * occ / phase.z
    return {el: round(n, 6) for el, n in comp.items()}


# --------------------------------------------------------------------------------------------------------
# The simulation
# --------------------------------------------------------------------------------------------------------


def two_theta_grid() -> np.ndarray:
    return np.round(TWO_THETA_MIN + TWO_THETA_STEP * np.arange(N_POINTS), 4)


def resolve_case(case) -> CaseSpec:
    if isinstance(case, CaseSpec):
        return case
    name = ALIASES.get(case, case)
    if name not in CASES:
        raise KeyError(f"unknown case {case!r}; known: {', '.join(CASES)} (or {', '.join(ALIASES)})")
    return CASES[name]


def simulate_net(case: CaseSpec, two_theta: np.ndarray, *, mu_eff_per_m: float | None = None):
    """Noise-free Bragg intensity (no background) for I0 = 1, plus the per-phase numbers."""
    xu = _xu()
    crystals = [build_crystal(p) for p in case.phases]
    energy = xu.utilities.energy("CuKa1")
    nums = [phase_numbers(p, c, energy) for p, c in zip(case.phases, crystals)]
    # volume fractions from the true weight fractions (Hill-Howard / density)
    w_over_rho = [p.weight_fraction / n["rho"] for p, n in zip(case.phases, nums)]
    vfrac = [x / sum(w_over_rho) for x in w_over_rho]
    mu_solid = sum(v * n["mu"] for v, n in zip(vfrac, nums))
    mu_eff = PACKING_FRACTION * mu_solid if mu_eff_per_m is None else mu_eff_per_m
    powders = [
        xu.simpack.Powder(c, v, crystallite_size_lor=p.size_nm * 1e-9, strain_gauss=math.degrees(8 * p.microstrain))
        for p, c, v in zip(case.phases, crystals, vfrac)
    ]
    settings = _fp_settings(case, mu_eff)
    model = xu.simpack.PowderModel(*powders, fpclass=_unit_area_fp_class(), fpsettings=copy.deepcopy(settings), I0=1.0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = model.simulate(two_theta, background=np.zeros_like(two_theta), mode="local")
        per_phase = []
        for pd, v in zip(model.pdiff, vfrac):
            lines = sorted((2 * d["ang"], d["r"], tuple(int(i) for i in h)) for h, d in pd.data.items() if d["active"])
            per_phase.append({"volume_fraction": v, "lines": lines, "wavelength": pd.wavelength})
    finally:
        model.close()
    return net, nums, vfrac, mu_solid, mu_eff, settings, per_phase


def make_pattern(case: str | CaseSpec, seed: int | None = None, *, noiseless: bool = False
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Simulate one case. Returns ``(two_theta_deg, counts, sigma, truth_dict)``.

    ``case``: a name from ``CASES`` ("lma_licl", "bri_licl", "clbr_pure", "lma_licl10_disp") or its letter
    ("a".."d"). ``seed``: Poisson-noise seed (None: the case's own, which made the files in tests/data/refine).
    ``noiseless=True`` returns the expected counts (floats) instead of a Poisson draw, sigma = sqrt(expected).
    """
    import xrayutilities as xu

    spec = resolve_case(case)
    seed = spec.seed if seed is None else int(seed)
    tt = two_theta_grid()
    net, nums, vfrac, mu_solid, mu_eff, settings, per_phase = simulate_net(spec, tt)
    i0 = spec.target_peak_counts / float(net.max())
    background = _background(tt, spec.background)
    expected = i0 * net + background
    if noiseless:
        counts = expected.copy()
    else:
        counts = np.random.default_rng(seed).poisson(expected).astype(float)
    sigma = np.sqrt(np.maximum(counts, 1.0))
    truth = _plain(_truth(spec, seed, i0, nums, vfrac, mu_solid, mu_eff, settings, per_phase, counts, expected,
                          background, xu.__version__, noiseless))
    return tt, counts, sigma, truth


def _truth(spec, seed, i0, nums, vfrac, mu_solid, mu_eff, settings, per_phase, counts, expected, background,
           xu_version, noiseless) -> dict:
    lam1 = 12398.419843320026 / 8047.82310  # xrayutilities' CuKa1 energy (utilities_noconf), in A
    lam2 = 12398.419843320026 / 8027.9117
    phases = []
    for p, n, v, pp in zip(spec.phases, nums, vfrac, per_phase):
        sites = [{"label": r[0], "element": r[1], "wyckoff": r[2], "x": r[3], "y": r[4], "z": r[5],
                  "occupancy": r[6], "b_iso": r[7]} for r in p.rows]
        mixed = {}
        for r in p.rows:
            if r[2] in ("4a", "4d") and p.sg_number == 216:
                mixed.setdefault(r[2], {})[r[1]] = r[6]
        b_groups = {}
        for r in p.rows:
            if p.sg_number == 216 and r[1] == "Li":
                key = "Li (all sites)"
            elif p.sg_number == 216 and r[2] in ("4a", "4d"):
                key = f"{r[2]} (mixed anion site)"
            else:
                key = f"{r[1]} {r[2]}"
            b_groups.setdefault(key, r[7])
        entry = {
            "name": p.name, "role": p.role, "space_group": p.space_group.replace(" ", ""), "sg_number": p.sg_number,
            "a_angstrom": p.a, "Z": p.z, "formula_per_fu": composition_per_fu(p),
            "M_fu_g_per_mol": round(n["M_fu"], 4), "V_cell_A3": round(n["V"], 4),
            "ZMV": round(p.z * n["M_fu"] * n["V"], 1), "density_g_cm3": round(n["rho"], 5),
            "weight_fraction": p.weight_fraction, "volume_fraction": round(v, 6),
            "xrayutilities_powder_volume": round(v, 6),
            "rietveld_scale_equivalent": float(f"{i0 * v / n['V'] ** 2:.6g}"),
            "mu_solid_per_m_CuKa1": round(n["mu"], 1),
            "crystallite_size_nm": p.size_nm, "size_broadening": "Lorentzian, FWHM(2theta, rad) = lambda/(D cos theta)",
            "microstrain_eps": p.microstrain,
            "strain_broadening": "Gaussian, FWHM(2theta, rad) = 4 eps tan theta "
                                 f"(xrayutilities strain_gauss = degrees(8 eps) = {math.degrees(8 * p.microstrain):.6f})",
            "anion_sites": mixed or None, "b_iso_by_site": b_groups, "sites": sites,
            "provenance": p.provenance, "n_lines_in_range": sum(1 for l in pp["lines"] if 10 < l[0] < 90),
        }
        phases.append(entry)
    n_pts = len(counts)
    rexp = math.sqrt(n_pts / float(np.sum(counts))) if not noiseless else None
    return {
        "format": "argyrodb-synthetic-truth/1",
        "case": spec.name, "letter": spec.letter, "description": spec.description,
        "generator": {
            "program": "benchmarks/synthetic_patterns.py (xrayutilities PowderModel, fundamental parameters)",
            "regenerate": f".venv/bin/python benchmarks/synthetic_patterns.py --out tests/data/refine --case {spec.name}",
            "xrayutilities_version": xu_version, "numpy_version": np.__version__,
            "seed": seed, "noise": "none (expected counts)" if noiseless else
            "Poisson, numpy.random.default_rng(seed).poisson(expected counts)",
        },
        "data": {"two_theta_min_deg": TWO_THETA_MIN, "two_theta_max_deg": TWO_THETA_MAX,
                 "step_deg": TWO_THETA_STEP, "n_points": n_pts, "columns": "2theta_deg counts sigma",
                 "sigma": "sqrt(counts) (1 for a zero count)", "max_counts": float(np.max(counts)),
                 "total_counts": float(np.sum(counts)), "r_exp_percent_no_parameters": None if rexp is None else round(100 * rexp, 3)},
        "intensity": {
            "model": "y(2theta) = background + I0 * sum_p v_p * sum_lines r * P(2theta - 2theta_line), "
                     "r = |F|^2 m LP / V_cell^2 (V in A^3), LP = (1 + cos^2 2theta)/(2 sin^2 theta cos theta), "
                     "P of unit area in deg 2theta (K-alpha1 + K-alpha2 together)",
            "I0": float(f"{i0:.8g}"), "target_max_net_counts": spec.target_peak_counts,
            "structure_factor": "xrayutilities: f0 International Tables (DABAX) + f' + i f'' (Kissel) at the CuKa1 "
                                "energy 8047.8231 eV for both lines; neutral atoms; exp(-B s^2) per row; occupancy per row",
            "weight_fractions": "Hill-Howard: W_p = S_p (ZMV)_p / sum S_i (ZMV)_i with S_p = I0 v_p / V_p^2 "
                                "(equivalently v_p rho_p / sum v_i rho_i); xrayutilities Powder(volume=) takes the "
                                "VOLUME fraction v_p = (W_p/rho_p) / sum(W_i/rho_i)",
            "microabsorption": "none (no Brindley correction)",
            "preferred_orientation": "none",
        },
        "instrument": {
            "geometry": "Bragg-Brentano, symmetric reflection, flat plate", "radius_mm": RADIUS_M * 1e3,
            "wavelengths_angstrom": {"CuKa1": round(lam1, 7), "CuKa2": round(lam2, 7)},
            "ka2_over_ka1": 0.5,
            "emission_widths_m": {"gauss": [3e-14, 3e-14], "lorentz": [3e-14, 3e-14]},
            "polarisation": "unpolarised beam, no monochromator: (1 + cos^2 2theta)/2",
            "zero_shift_deg": spec.zero_shift_deg,
            "zero_shift_convention": "lines at 2theta_Bragg + zero_shift (xrayutilities displacement.zero_error_deg)",
            "specimen_displacement_mm": spec.specimen_displacement_mm,
            "specimen_displacement_convention": "2theta shift = -2 s cos(theta) / R (rad): s > 0 moves lines to lower 2theta",
            "axial_divergence": {"model": "xrayutilities/NIST FPA full axial model (axDiv='full')",
                                 "soller_incident_deg": spec.soller_incident_deg,
                                 "soller_diffracted_deg": spec.soller_diffracted_deg,
                                 "source_length_mm": SOURCE_LENGTH_M * 1e3, "sample_length_mm": SAMPLE_LENGTH_M * 1e3,
                                 "receiver_length_mm": RECEIVER_LENGTH_M * 1e3,
                                 "n_integral_points": AXIAL_INTEGRAL_POINTS},
            "equatorial_divergence_deg": EQUATORIAL_DIVERGENCE_DEG,
            "flat_specimen_aberration": "on (equatorial divergence)",
            "receiver_slit_mm": RECEIVER_SLIT_M * 1e3,
            "tube_tails": "xrayutilities defaults (main width 0.2 mm, tails -1..+1 mm, intensity 0.001)",
            "sample_transparency": {"mu_eff_per_m": round(mu_eff, 1), "mu_solid_mixture_per_m": round(mu_solid, 1),
                                    "packing_fraction": PACKING_FRACTION, "thickness": "infinite",
                                    "max_shift_deg_at_90": round(-math.degrees(1 / (2 * mu_eff * RADIUS_M)), 5),
                                    "convention": "2theta shift = -sin(2theta)/(2 mu_eff R) (rad), asymmetric"},
            "profile_normalisation": "each line profile renormalised to unit area (xrayutilities' axial convolver "
                                     "is not area-normalised)",
            "xrayutilities_fpsettings": _plain(settings),
        },
        "background": {"formula": BACKGROUND_FORMULA, **spec.background,
                       "at_deg": {str(t): round(float(_background(np.array([t]), spec.background)[0]), 2)
                                  for t in (10, 20, 30, 45, 60, 90)}},
        "phases": phases,
        "start": ({**spec.start, "a_offset_angstrom": round(spec.start["a_angstrom"] - spec.phases[0].a, 6)}
                  if "a_angstrom" in spec.start else {k: v for k, v in spec.start.items() if k != "cif"}),
        "notes": list(spec.notes),
    }


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


# --------------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------------


def member_files(spec: CaseSpec, tt: np.ndarray, step_deg: float, program: str, extra: dict) -> tuple[str, str, dict]:
    """A data set's member made as tests/data/refine's cases are: ``simulate_net`` scaled to the spec's peak counts
    over its background, seeded Poisson counts, the truth (``program``: the generating script, relative to the
    repository; ``extra``: the data set's own keys, merged into the truth) and the .xye text with its SHA-256.
    Returns (name, text, truth)."""
    import xrayutilities as xu

    net, nums, vfrac, mu_solid, mu_eff, settings, per_phase = simulate_net(spec, tt)
    i0 = spec.target_peak_counts / float(net.max())
    background = _background(tt, spec.background)
    expected = i0 * net + background
    counts = np.random.default_rng(spec.seed).poisson(expected).astype(float)
    sigma = np.sqrt(np.maximum(counts, 1.0))
    truth = _plain(_truth(spec, spec.seed, i0, nums, vfrac, mu_solid, mu_eff, settings, per_phase, counts,
                          expected, background, xu.__version__, False))
    truth["generator"]["program"] = (f"{program} with benchmarks/synthetic_patterns.py's "
                                     "simulate_net (xrayutilities PowderModel, fundamental parameters)")
    truth["generator"]["regenerate"] = f".venv/bin/python {program}"
    truth["data"]["step_deg"] = step_deg
    truth.update(extra)
    text = xye_text(tt, counts, sigma, truth)
    truth["data"]["file"] = f"{spec.name}.xye"
    truth["data"]["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    return spec.name, text, truth


def truth_text(truth: dict, readme: str) -> str:
    """A truth file's text: its header naming the data set's README, then the truth as YAML."""
    import yaml

    return (f"# Truth of a synthetic pattern ({readme}). Generated; do not edit.\n"
            + yaml.safe_dump(truth, sort_keys=False, width=110, allow_unicode=False))


def member_texts(make_member, count: int, readme: str) -> dict[str, str]:
    """name -> text of a data set's members: each ``make_member(k)``'s .xye and its truth file."""
    out = {}
    for k in range(count):
        name, text, truth = make_member(k)
        out[f"{name}.xye"] = text
        out[f"{name}.truth.yaml"] = truth_text(truth, readme)
    return out


def data_set_main(folder: Path, files, description: str, argv=None) -> int:
    """The command line of a data set's make_files.py: write ``files()`` (name -> text) into ``folder``, or with
    ``--check`` compare them with the stored files and write nothing (exit 1 when any differs)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="compare with the stored files, write nothing")
    args = parser.parse_args(argv)
    made = files()
    if args.check:
        differ = [name for name, text in made.items() if not (folder / name).is_file() or (folder / name).read_text() != text]
        print("differ: " + ", ".join(differ) if differ else f"all {len(made)} files as stored")
        return 1 if differ else 0
    for name, text in made.items():
        (folder / name).write_text(text)
        print(f"wrote {name}")
    return 0


def xye_text(tt, counts, sigma, truth) -> str:
    out = io.StringIO()
    out.write(f"# {truth['description']}; synthetic, truth in {truth['case']}.truth.yaml\n")
    out.write(f"# xrayutilities {truth['generator']['xrayutilities_version']} PowderModel (FPA), Cu Ka1/Ka2, "
              f"seed {truth['generator']['seed']}; columns: 2theta_deg counts sigma\n")
    for t, c, s in zip(tt, counts, sigma):
        out.write(f"{t:.2f} {c:.0f} {s:.3f}\n")
    return out.getvalue()


def start_yaml_text(spec: CaseSpec) -> str:
    """The nominal start structure as an argyrodb refinement file (argyrodb-refinement/1), a = truth + 0.02."""
    main = spec.phases[0]
    li = spec.start.get("li") or [r for r in main.rows if r[1] == "Li"]
    rows = argyrodite_rows(li, spec.start["4a"], spec.start["4d"])
    lines = [
        f"# Nominal START structure for the synthetic pattern {spec.name}.xye (not the truth: see {spec.name}.truth.yaml).",
        "# Written by benchmarks/synthetic_patterns.py. a = true a + 0.02 A; anion sites at the nominal composition",
        "# spread evenly over 4a and 4d; Li, coordinates and B as in the truth.",
        "format: argyrodb-refinement/1",
        f"name: {main.name}-start",
        f"nominal_formula: {_nominal_formula(main.name)}",
        "space_group: {symbol: F-43m, number: 216}",
        "lattice:",
        f"  a_angstrom: {spec.start['a_angstrom']:.4f}",
        f"  note: start value for a refinement test (true a {main.a:.4f} A + {spec.start['a_angstrom'] - main.a:+.4f} A)",
        "provenance:",
        f"  reference: synthetic validation start structure for case {spec.name} (tests/data/refine/README.md)",
        "  doi: null",
        f"  method: {spec.start['note']}",
        "constraints:",
        f"  - labels: [{', '.join(r[0] for r in rows if r[2] == '4a')}]",
        "    value: 1",
        "    source: site sum of 4a",
        f"  - labels: [{', '.join(r[0] for r in rows if r[2] == '4d')}]",
        "    value: 1",
        "    source: site sum of 4d",
        "site_columns: [label, element, wyckoff, x, y, z, occupancy, b_iso, source_row]",
        "sites:",
    ]
    for r in rows:
        lines.append(f"  - [{r[0]}, {r[1]}, {r[2]}, {r[3]:.4f}, {r[4]:.4f}, {r[5]:.4f}, {r[6]:.4f}, {r[7]:.4f}, null]")
    return "\n".join(lines) + "\n"


def _nominal_formula(name: str) -> str:
    return {"LMA-Cl0.8I0.6": "Li5.6PS4.6Cl0.8I0.6"}.get(name, name)


def write_case(name: str, out_dir: Path) -> dict:
    tt, counts, sigma, truth = make_pattern(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    xye = xye_text(tt, counts, sigma, truth)
    (out_dir / f"{name}.xye").write_text(xye)
    truth["data"]["file"] = f"{name}.xye"
    truth["data"]["sha256"] = hashlib.sha256(xye.encode()).hexdigest()
    (out_dir / f"{name}.truth.yaml").write_text(truth_text(truth, "tests/data/refine/README.md"))
    if "cif" in CASES[name].start:
        (out_dir / f"{name}.start.cif").write_text(CASES[name].start["cif"])
    else:
        (out_dir / f"{name}.start.yaml").write_text(start_yaml_text(CASES[name]))
    return truth


# --------------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------------


def check_against_argyrodb(name: str = "lma_licl") -> int:
    """Cross-check (not used to make the data): xrayutilities' integrated line intensities of the main phase
    against ``argyrodb xrd`` on the same structure (K-alpha1, unpolarised), both normalised to the strongest
    line. Differences of ~1 % are expected from the different f0 / f', f'' tables."""
    import json
    import subprocess
    import tempfile

    spec = resolve_case(name)
    main = spec.phases[0]
    _net, _nums, _vfrac, *_rest, per_phase = simulate_net(spec, two_theta_grid())
    lines = [(t, r) for t, r, _h in per_phase[0]["lines"] if 10 < t < 90]
    # group by 2theta (coincident families are already merged by xrayutilities)
    xu_lines = {round(t, 3): r for t, r in lines}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "truth.yaml"
        path.write_text(start_yaml_text(spec).replace(f"a_angstrom: {spec.start['a_angstrom']:.4f}",
                                                      f"a_angstrom: {main.a:.4f}"))
        # the truth occupancies, not the start ones
        truth_rows = main.rows
        text = path.read_text().split("sites:\n")[0] + "sites:\n" + "".join(
            f"  - [{r[0]}, {r[1]}, {r[2]}, {r[3]:.4f}, {r[4]:.4f}, {r[5]:.4f}, {r[6]:.6f}, {r[7]:.4f}, null]\n"
            for r in truth_rows)
        path.write_text(text)
        exe = REPO / ".venv" / "bin" / "argyrodb"
        out = subprocess.run([str(exe), "xrd", str(path), "--wavelength", "CuKa1", "--two-theta", "10", "90", "--json"],
                             capture_output=True, text=True, check=True).stdout
    peaks = json.loads(out)["peaks"]
    key_t = "two_theta_deg"
    key_i = "intensity"
    ag = {round(p[key_t], 3): p[key_i] for p in peaks}
    xmax, amax = max(xu_lines.values()), max(ag.values())
    worst = 0.0
    print(f"{'2theta':>8} {'xrayutilities':>14} {'argyrodb':>9} {'ratio':>7}")
    for t in sorted(xu_lines):
        match = min(ag, key=lambda u: abs(u - t))
        if abs(match - t) > 0.01:
            continue
        x, a = 100 * xu_lines[t] / xmax, 100 * ag[match] / amax
        if a > 1.0:
            worst = max(worst, abs(x / a - 1))
            print(f"{t:8.3f} {x:14.2f} {a:9.2f} {x / a:7.3f}")
    print(f"largest relative difference among lines above 1 %: {100 * worst:.1f} %")
    return 0


def print_conventions() -> int:
    """Numerical checks of the conventions stated in the module docstring."""
    xu = _xu()
    spec = CASES["clbr_pure"]
    crystal = build_crystal(spec.phases[0])
    tt = two_theta_grid()

    def run(settings, fpclass=None):
        kw = {"fpclass": fpclass} if fpclass else {}
        model = xu.simpack.PowderModel(xu.simpack.Powder(crystal, 1, crystallite_size_lor=150e-9),
                                       fpsettings=settings, I0=1.0, **kw)
        try:
            y = model.simulate(tt, background=np.zeros_like(tt), mode="local")
            pd = model.pdiff[0]
            areas = []
            for _h, d in sorted(pd.data.items(), key=lambda t: t[1]["ang"]):
                if d["active"] and 12 < 2 * d["ang"] < 88:
                    d["conv"].set_parameters(twotheta0_deg=2 * d["ang"])
                    res = d["conv"].compute_line_profile()
                    areas.append((2 * d["ang"], float(np.sum(res.peak)) * (res.twotheta_deg[1] - res.twotheta_deg[0])))
        finally:
            model.close()
        return y, areas

    def peak(y, lo, hi):
        m = np.where((tt > lo) & (tt < hi))[0]
        i = m[np.argmax(y[m])]
        a, b, c = y[i - 1], y[i], y[i + 1]
        return tt[i] + TWO_THETA_STEP * 0.5 * (a - c) / (a - 2 * b + c)

    base = {"emission": {"emiss_intensities": (1.0, 0.0)}, "axial": {"axDiv": None},
            "absorption": {"absorption_coefficient": 1e12}, "global": {"diffractometer_radius": RADIUS_M}}
    y0, a0 = run(base)
    s = copy.deepcopy(base)
    s["displacement"] = {"zero_error_deg": 0.1}
    y1, _ = run(s)
    s = copy.deepcopy(base)
    s["displacement"] = {"specimen_displacement": 1e-3}
    y2, _ = run(s)
    for lo, hi in ((29, 31.5), (49, 52)):
        p0 = peak(y0, lo, hi)
        th = math.radians(p0 / 2)
        print(f"line at {p0:.3f}: zero +0.1 -> {peak(y1, p0, p0 + 0.3) - p0:+.4f} deg; displacement +1 mm -> "
              f"{peak(y2, p0 - 0.7, p0) - p0:+.4f} deg (-2 s cos(theta)/R = {-math.degrees(2e-3 * math.cos(th) / RADIUS_M):+.4f})")
    ax = copy.deepcopy(base)
    ax["axial"] = {"axDiv": "full", "angI_deg": 2.5, "angD_deg": 2.5, "slit_length_source": SOURCE_LENGTH_M,
                   "slit_length_target": RECEIVER_LENGTH_M, "length_sample": SAMPLE_LENGTH_M}
    _, a1 = run(ax)
    _, a2 = run(ax, _unit_area_fp_class())
    print("line areas without axial:", " ".join(f"{t:.0f}:{a:.4e}" for t, a in a0[::5]))
    print("line areas with axial 2.5/2.5:", " ".join(f"{t:.0f}:{a:.4e}" for t, a in a1[::5]),
          f"(last/first {a1[-1][1] / a1[0][1]:.3f})")
    print("line areas with axial, UnitAreaFP:", " ".join(f"{t:.0f}:{a:.4f}" for t, a in a2[::5]))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="write .xye, .truth.yaml and .start.yaml here")
    parser.add_argument("--case", action="append", help="only this case (repeatable; name or letter)")
    parser.add_argument("--list", action="store_true", help="list the cases")
    parser.add_argument("--check-argyrodb", action="store_true", help="cross-check line intensities with argyrodb xrd")
    parser.add_argument("--conventions", action="store_true", help="print the numerical convention checks")
    args = parser.parse_args(argv)
    if args.list:
        for c in CASES.values():
            print(f"{c.letter}  {c.name:<16} {c.description}")
        return 0
    if args.conventions:
        return print_conventions()
    if args.check_argyrodb:
        for name in [resolve_case(c).name for c in (args.case or ["lma_licl", "bri_licl"])]:
            print(f"== {name}")
            check_against_argyrodb(name)
        return 0
    names = [resolve_case(c).name for c in (args.case or list(CASES))]
    out = args.out or DEFAULT_OUT
    for name in names:
        truth = write_case(name, out)
        main_phase = truth["phases"][0]
        print(f"{name}: {truth['data']['n_points']} points, max {truth['data']['max_counts']:.0f} counts, "
              f"I0 {truth['intensity']['I0']:.4g}, a {main_phase['a_angstrom']} A, "
              f"weights {[p['weight_fraction'] for p in truth['phases']]} -> volumes "
              f"{[p['volume_fraction'] for p in truth['phases']]}, mu_eff {truth['instrument']['sample_transparency']['mu_eff_per_m']} /m")
    return 0


if __name__ == "__main__":
    sys.exit(main())
