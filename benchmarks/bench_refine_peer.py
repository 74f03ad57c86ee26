"""The peer baseline for ``argyrodb refine`` (issues 14, 23): rietx on the synthetic patterns of tests/data/refine
and on standards (synthetic Si, case h; the real LaB6 NIST SRM 660c pattern when ``$XRD_REAL_DIR`` is set).

Each pattern (made by xrayutilities, ``benchmarks/synthetic_patterns.py``; truth in ``<case>.truth.yaml``) is
refined by rietx (PyPI ``rietx``, a bench-only dependency) the way a careful user would:

* start from ``<case>.start.yaml``: a = true a + 0.02 A, Li, coordinates and B of the model, the anion
  distribution of the start file (the nominal one spread evenly over 4a and 4d, except case e, which starts
  from Table S2 as printed); impurities from their literature cells with B fixed: LiCl 5.12952 A (COD 1011314,
  B Li 1.8, Cl 1.1), Li2S 5.708 A (antifluorite, COD 9009060 as argyrodb's bundled Li2S; B Li 1.5, S 1.0 as
  the truth file says);
* Cu K-alpha1/K-alpha2 at the generator's wavelengths (from the truth file), ratio 0.5, Bragg-Brentano,
  R = 240 mm, unpolarised; Chebyshev background sized by ``rx.auto_background``; TCH widths seeded from
  ``rx.pick_peaks`` as the rietx manual says;
* a staged plan: scale + background, zero (+ specimen displacement), cell(s), W, U V X Y,
  [FCJ axial asymmetry], anion occupancies, B, then rietx's closing stage with everything free;
* anion sites: on 4a and on 4d the halides are free and S follows as ``1 - sum(halides)`` (``ref.tie``),
  one B per site (the species' B tied equal); B of P, S1, 4a, 4d free; Li, coordinates fixed.

Configurations (``--configs``; default: symmetric, axial, axial_clheld where Cl is present, axial_comp):
  symmetric   zero shift, symmetric TCH profile (no asymmetry model)          - what a first fit does
  axial       + Finger-Cox-Jephcoat axial asymmetry (S/L tied equal to H/L)
  axial_clheld  axial, Cl held at its start value on both sites (rietx flags Cl ~ S at rho ~ -0.997:
              S and Cl differ by one electron); the other halides free, S = 1 - sum(halides)
  axial_comp  axial + each halide's total over 4a + 4d held at the nominal composition (the start file's
              ``nominal_formula``; in cases a-d, f, g the start file's totals are the same numbers, in case e
              they are Table S2's refined Cl 0.451, I 0.899, not the nominal 0.8, 0.6): only the 4a
              occupancies are free, 4d and S follow. X-rays at one wavelength measure little more than the
              electron count of a site, so three species on a site need this relation
  axial_disp  axial + specimen displacement freed with the zero shift
  untied      S and every halide free on each site, no site-sum tie

Standards (``--standards``; default: si_standard, and lab6_srm660c when ``$XRD_REAL_DIR`` holds the file): a
fixed structure from its CIF (B held), rietx's own CIF reader; the same instrument model (Cu K-alpha1/2 2:1,
Bragg-Brentano, R = 240 mm, unpolarised, FCJ axial asymmetry, TCH profile) and the same staged plan without
occupancies and B:
  free_a      a free with the zero shift and the transparency (what ``argyrodb refine STD --start STD.cif``
              refines), compared with the certificate
  calibrate   a held at the certificate's, zero shift, displacement and transparency free (what
              ``argyrodb refine --calibrate`` refines)

Prints a recovered-vs-true table per case and writes everything as JSON to
``$ARGYRODB_BENCH_CACHE/refine_peer_rietx.json`` (default ``/tmp/argyrodb-bench``) or ``--json PATH``, so that
another script can print argyrodb's numbers beside rietx's. Usage::

    .venv/bin/python benchmarks/bench_refine_peer.py                       # all cases, default configs
    .venv/bin/python benchmarks/bench_refine_peer.py --cases lma_licl --configs axial
    .venv/bin/python benchmarks/bench_refine_peer.py --configs all --json /tmp/rietx.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

os.environ.setdefault("RIETX_TELEMETRY", "0")  # rietx otherwise records every fit under ./.rietx/runs

import numpy as np
import yaml

from argyrodb.core.chemistry import parse_formula

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "refine"
CASES = ["lma_licl", "bri_licl", "clbr_pure", "lma_licl10_disp", "lma_nominal", "cl_pure", "brcl_li2s"]
STANDARDS = ["si_standard", "lab6_srm660c"]
STANDARD_CONFIGS = ["free_a", "calibrate"]
ALL_CONFIGS = ["symmetric", "axial", "axial_clheld", "axial_comp", "axial_disp", "untied"]
DEFAULT_CONFIGS = ["symmetric", "axial", "axial_clheld", "axial_comp"]
#: the configuration a careful rietx user would quote per case (rietx's own advice: refine the zero shift OR
#: the displacement, never both on one uncalibrated pattern - measured here, freeing both made a worse)
#: and fix what the data cannot separate (rietx rule 7): Cl vs S on a site (HIGH_CORRELATION rho ~ -0.997) -> hold
#: Cl; two heavy halides and S on one site -> hold the halide totals at the nominal composition.
#: Cases e, f, g (issue 23) by the same rules, read off rietx's own diagnostics and not off the truth:
#: * lma_nominal (e, Cl + I + S from Table S2 as printed): "axial" aborts (S on 4a driven to -0.22 breaks its
#:   bounds), "axial_comp" (totals at the nominal) flags Cl(4a) ~ I(4a) at rho = -0.999 with Cl(4a) at its 0 bound;
#:   holding Cl (rule 7) is the fit rietx does not flag: axial_clheld, as cases a and d of the same chemistry. Its
#:   Cl is the start file's - Table S2 as printed, 0.451 per f.u. against the nominal 0.8: rietx knows no nominal
#:   composition, the start file is what its user has.
#: * cl_pure (f, Cl + S only): "axial" (Cl free on both sites, S = 1 - Cl) converges with no correlation flagged;
#:   holding Cl would leave no occupancy to refine, so nothing more is fixed: axial.
#: * brcl_li2s (g, Cl + Br + S): "axial" and "axial_comp" flag Cl ~ Br on 4a (and 4d) at rho = -0.999; with Cl
#:   held nothing is flagged: axial_clheld, as case c of the same chemistry.
BEST_CONFIG = {"lma_licl": "axial_clheld", "bri_licl": "axial_comp", "clbr_pure": "axial_clheld",
               "lma_licl10_disp": "axial_clheld", "lma_nominal": "axial_clheld", "cl_pure": "axial",
               "brcl_li2s": "axial_clheld"}
HALIDES = ("F", "Cl", "Br", "I")
#: Impurity models: space group, literature a (the start), atoms (label, element, x, y, z, B).
IMPURITIES = {
    # COD 1011314 (Ievins, Straumanis & Karlsons 1938); B chosen as in the generator (the source gives none)
    "LiCl": ("F m -3 m", 5.12952, [("Li1", "Li", 0, 0, 0, 1.8), ("Cl1", "Cl", 0.5, 0.5, 0.5, 1.1)]),
    # COD 9009060, antifluorite, as argyrodb's bundled Li2S; B as the truth file (chosen there: no source gives one)
    "Li2S": ("F m -3 m", 5.708, [("S1", "S", 0, 0, 0, 1.0), ("Li1", "Li", 0.25, 0.25, 0.25, 1.5)]),
}
#: The real standard: the GSAS-II tutorial's LaB6 NIST SRM 660c pattern (not in this repository; its SHA-256
#: is read from checks/xrd_real_files.md) and the committed structure with the certificate's a.
LAB6_FILE = "gsas2_tutorials/NIST660CBI.gsas"
LAB6_CIF = REPO / "benchmarks" / "data" / "LaB6_SRM660c.cif"
LAB6_A_CERTIFICATE = 4.156826  # NIST SRM 660c certificate (2014), 22.5 C
SI_A_CERTIFICATE = 5.43123  # NIST SRM 640d certificate (2010), 22.5 C: the truth of case h
#: Goniometer radius given to rietx for the standards (argyrodb's displacement is in degrees, D cos theta with
#: D = -2 s / R; rietx's s in mm is converted back with this R, so the comparison does not depend on it)
STANDARD_RADIUS_MM = 240.0


def cache_folder() -> Path:
    return Path(os.environ.get("ARGYRODB_BENCH_CACHE") or Path(tempfile.gettempdir()) / "argyrodb-bench")


def load_case(name: str) -> dict:
    truth = yaml.safe_load((DATA / f"{name}.truth.yaml").read_text())
    start = yaml.safe_load((DATA / f"{name}.start.yaml").read_text())
    return {"name": name, "truth": truth, "start": start, "data_path": DATA / f"{name}.xye"}


def real_standard_file() -> tuple[Path | None, str]:
    """The LaB6 SRM 660c pattern under ``$XRD_REAL_DIR`` with its SHA-256 checked, or None and why not."""
    import hashlib
    import re

    how = (f"set XRD_REAL_DIR to a folder holding {LAB6_FILE} (AdvancedPhotonSource/GSAS-II-tutorials, "
           "MDtutorials/CWInstDemo/data/NIST660CBI.gsas; checks/xrd_real_files.md gives the commit and SHA-256)")
    folder = os.environ.get("XRD_REAL_DIR")
    if not folder:
        return None, f"XRD_REAL_DIR is not set: {how}"
    path = Path(folder) / LAB6_FILE
    if not path.is_file():
        return None, f"{path} is missing: {how}"
    listed = re.findall(r"^([0-9a-f]{64})  (.+)$", (REPO / "checks" / "xrd_real_files.md").read_text(encoding="utf-8"),
                        flags=re.M)
    digest = {name: d for d, name in listed}.get(LAB6_FILE)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest is None or actual != digest:
        return None, f"{path}: SHA-256 {actual[:16]}... is not checks/xrd_real_files.md's {str(digest)[:16]}...: {how}"
    return path, f"{path} (SHA-256 {actual[:16]}... as checks/xrd_real_files.md)"


def load_standard(name: str) -> dict | None:
    """Si (case h, synthetic) or the real LaB6 pattern; None (with the reason printed) when it is not there."""
    if name == "si_standard":
        truth = yaml.safe_load((DATA / "si_standard.truth.yaml").read_text())
        return {"name": name, "truth": truth, "data_path": DATA / "si_standard.xye", "cif": DATA / "si_standard.start.cif",
                "a_certificate": SI_A_CERTIFICATE, "certificate": "NIST SRM 640d (synthetic pattern, case h)",
                "zero_true": truth["instrument"]["zero_shift_deg"], "real": False}
    path, why = real_standard_file()
    if path is None:
        print(f"\n== lab6_srm660c skipped: {why}")
        return None
    return {"name": name, "truth": None, "data_path": path, "cif": LAB6_CIF, "a_certificate": LAB6_A_CERTIFICATE,
            "certificate": "NIST SRM 660c (measured, GSAS-II tutorial NIST660CBI.gsas)", "zero_true": None,
            "real": True, "found": why}


# --------------------------------------------------------------------------------------------------------
# rietx model
# --------------------------------------------------------------------------------------------------------


def _par(rx, value, **kw):
    return rx.Parameter(value=float(value), **kw)


def _cubic(rx, a):
    return rx.Cell(a=_par(rx, a), b=_par(rx, a), c=_par(rx, a), alpha=_par(rx, 90), beta=_par(rx, 90),
                   gamma=_par(rx, 90))


def _atom(rx, label, element, x, y, z, occ, b):
    return rx.Atom(label=label, species=element, x=_par(rx, x), y=_par(rx, y), z=_par(rx, z),
                   occ=_par(rx, occ, min=0.0, max=1.0), biso=_par(rx, b))


def build_model(rx, case: dict):
    """Structure (argyrodite from the start file, impurities from the truth file's cell and literature B)
    and instrument (the generator's wavelengths and radius)."""
    truth, start = case["truth"], case["start"]
    cols = start["site_columns"]
    rows = [dict(zip(cols, r)) for r in start["sites"]]
    atoms = [_atom(rx, r["label"], r["element"], r["x"], r["y"], r["z"], r["occupancy"], r["b_iso"]) for r in rows]
    phases = [rx.Phase(name=truth["phases"][0]["name"], space_group="F -4 3 m",
                       cell=_cubic(rx, start["lattice"]["a_angstrom"]), atoms=atoms)]
    for ph in truth["phases"][1:]:
        if ph["name"] not in IMPURITIES:
            raise ValueError(f"no rietx model for impurity {ph['name']}")
        group, a, atoms = IMPURITIES[ph["name"]]
        phases.append(rx.Phase(name=ph["name"], space_group=group, cell=_cubic(rx, a),
                               atoms=[_atom(rx, label, el, x, y, z, 1.0, b) for label, el, x, y, z, b in atoms]))
    inst = rx.Instrument.bragg_brentano(radiation="CuKa", goniometer_radius_mm=truth["instrument"]["radius_mm"],
                                        ka2_ratio=truth["instrument"]["ka2_over_ka1"])
    wl = truth["instrument"]["wavelengths_angstrom"]
    inst.source.lines[0].wavelength.value = wl["CuKa1"]
    inst.source.lines[1].wavelength.value = wl["CuKa2"]
    return rx.Structure(phases=phases), inst, rows


def anion_layout(rows: list[dict]) -> dict:
    """{site: {"S": atom index, "halides": {el: atom index}}} for the mixed 4a / 4d sites."""
    out: dict = {}
    for i, r in enumerate(rows):
        if r["wyckoff"] in ("4a", "4d") and r["element"] != "Li":
            site = out.setdefault(r["wyckoff"], {"S": None, "halides": {}})
            if r["element"] == "S":
                site["S"] = i
            else:
                site["halides"][r["element"]] = i
    return out


def plan_for(rx, config: str, rows: list[dict], layout: dict):
    occ = "phases.0.atoms.{}.occ"
    if config == "untied":
        occ_paths = [occ.format(i) for s in layout.values() for i in [s["S"], *s["halides"].values()]]
    elif config == "axial_comp":
        occ_paths = [occ.format(i) for i in layout["4a"]["halides"].values()]
    elif config == "axial_clheld":
        occ_paths = [occ.format(i) for s in layout.values() for el, i in s["halides"].items() if el != "Cl"]
    else:
        occ_paths = [occ.format(i) for s in layout.values() for i in s["halides"].values()]
    b_paths = [f"phases.0.atoms.{i}.biso" for i, r in enumerate(rows) if r["label"] in ("P1", "S1")]
    b_paths += [f"phases.0.atoms.{s['S']}.biso" for s in layout.values()]
    zero = ["instrument.zero_shift"]
    if config == "axial_disp":
        zero.append("instrument.geometry.sample_displacement")
    stages = [
        rx.Stage("scale_bkg", ["phases.*.scale", "instrument.background.*"]),
        rx.Stage("zero", zero),
        rx.Stage("cell", ["phases.*.cell.*"]),
        rx.Stage("profile_w", ["instrument.profile.w"]),
        rx.Stage("profile", ["instrument.profile.u", "instrument.profile.v", "instrument.profile.x",
                             "instrument.profile.y"]),
    ]
    if config != "symmetric":
        stages.append(rx.Stage("axial", ["instrument.geometry.axial_sl"]))
    if occ_paths:  # none free: cl_pure with Cl held (S and Cl the only anions)
        stages.append(rx.Stage("occupancies", occ_paths))
    stages.append(rx.Stage("biso", b_paths))
    return rx.RefinementPlan(stages=stages)


def apply_ties(ref, config: str, layout: dict, totals: dict[str, float]) -> list[str]:
    """S = 1 - sum(halides) on each mixed site, one B per site; S/L = H/L; with ``axial_comp`` also
    occ(X, 4d) = total(X) - occ(X, 4a). Returns what was tied."""
    done = []
    occ = "phases.0.atoms.{}.occ"
    a, d = layout["4a"], layout["4d"]
    if config == "axial_comp":
        for el, i in d["halides"].items():
            ref.tie(occ.format(i), occ.format(a["halides"][el]), scale=-1.0, offset=totals[el])
            done.append(f"occ({el}, 4d) = {totals[el]:g} - occ({el}, 4a)")
        ref.tie(occ.format(a["S"]), {occ.format(i): -1.0 for i in a["halides"].values()}, offset=1.0)
        const = 1.0 - sum(totals[el] for el in d["halides"])
        ref.tie(occ.format(d["S"]), {occ.format(i): 1.0 for i in a["halides"].values()}, offset=const)
        done.append("occ(S, 4a) = 1 - sum occ(X, 4a); occ(S, 4d) = 1 - sum occ(X, 4d)")
    elif config != "untied":
        for site, s in layout.items():
            ref.tie(occ.format(s["S"]), {occ.format(i): -1.0 for i in s["halides"].values()}, offset=1.0)
            done.append(f"{site}: occ(S) = 1 - " + " - ".join(f"occ({el})" for el in s["halides"]))
    for site, s in layout.items():
        for i in s["halides"].values():
            ref.tie_equal([f"phases.0.atoms.{s['S']}.biso", f"phases.0.atoms.{i}.biso"])
        done.append(f"{site}: one B for " + "/".join(["S", *s["halides"]]))
    if config != "symmetric":
        ref.tie("instrument.geometry.axial_hl", "instrument.geometry.axial_sl")
        done.append("axial H/L = S/L (the pair is not separable: rho = -1.000 when both are free)")
    return done


def halide_totals(rows: list[dict]) -> dict[str, float]:
    """Per-formula-unit halide totals over 4a + 4d of the start file (multiplicity 4 = Z: occupancy = per f.u.)."""
    totals: dict[str, float] = {}
    for r in rows:
        if r["wyckoff"] in ("4a", "4d") and r["element"] in HALIDES:
            totals[r["element"]] = round(totals.get(r["element"], 0.0) + float(r["occupancy"]), 6)
    return totals



def nominal_totals(case: dict, rows: list[dict]) -> dict[str, float]:
    """The halide totals per f.u. a careful user holds: the sample's nominal composition (the start file's
    ``nominal_formula``), else the start file's own totals."""
    formula = case["start"].get("nominal_formula")
    if not formula:
        return halide_totals(rows)
    amounts = parse_formula(formula, source="nominal_formula")
    return {el: amounts[el] for el in halide_totals(rows) if el in amounts}


# --------------------------------------------------------------------------------------------------------
# One fit
# --------------------------------------------------------------------------------------------------------


def read_and_seed(rx, data_path, inst):
    """Read a pattern and seed ``inst`` as the rietx manual says: a Chebyshev background sized by
    ``rx.auto_background`` and TCH widths W, X from the median FWHM of the 12 strongest ``rx.pick_peaks`` peaks.
    Returns the pattern, its 2theta limits (the fit's range) and the median FWHM (deg)."""
    data = rx.read_pattern(str(data_path))
    limits = (float(np.min(data.two_theta)), float(np.max(data.two_theta)))
    inst.background = rx.auto_background(data, kind="chebyshev", two_theta_limits=limits).background
    strong = sorted(rx.pick_peaks(data, inst).peaks, key=lambda p: -p.intensity)[:12]
    h = float(np.median([p.fwhm for p in strong]))
    inst.profile.w.value, inst.profile.x.value = (0.6 * h) ** 2, 0.6 * h
    return data, limits, h


def run_one(case: dict, config: str) -> dict:
    import rietx as rx

    out: dict = {"case": case["name"], "config": config, "tool": "rietx", "version": rx.__version__}
    structure, inst, rows = build_model(rx, case)
    layout = anion_layout(rows)
    t0 = time.perf_counter()
    caught = warnings.catch_warnings(record=True)
    seen = caught.__enter__()
    warnings.simplefilter("always")
    try:
        data, limits, h = read_and_seed(rx, case["data_path"], inst)
        totals = nominal_totals(case, rows)
        if config == "axial_comp":  # keep occ(X, 4d) = total - occ(X, 4a) inside [0, 1]
            out["held_totals"] = totals
            for el, i in layout["4a"]["halides"].items():
                atom = structure.phases[0].atoms[i]
                atom.occ.max = min(1.0, totals[el])
                atom.occ.value = min(atom.occ.value, totals[el])
        ref = rx.Refinement(structure, inst, history=False)
        out["ties"] = apply_ties(ref, config, layout, totals)
        plan = plan_for(rx, config, rows, layout)
        out["plan"] = [{"stage": s.name, "free": list(s.turn_on)} for s in plan.stages]
        result = ref.fit(data, plan=plan, two_theta_limits=limits, telemetry=False)
    except Exception as exc:  # an abort is a result here
        caught.__exit__(None, None, None)
        out["python_warnings"] = sorted({str(w.message).split(":")[0] for w in seen})
        out["seconds"] = round(time.perf_counter() - t0, 2)
        out["status"] = "aborted"
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback_tail"] = traceback.format_exc().strip().splitlines()[-3:]
        return out
    out["seconds"] = round(time.perf_counter() - t0, 2)
    caught.__exit__(None, None, None)
    out["python_warnings"] = sorted({str(w.message).split(":")[0] for w in seen})
    out.update(summarise(result, case, rows, layout))
    out["n_background_terms"] = len(inst.background.coefficients)
    out["fwhm_seed_deg"] = round(h, 4)
    return out


def summarise(result, case: dict, rows: list[dict], layout: dict) -> dict:
    par = {p.path: p for p in result.parameters}
    held = {f"phases.0.atoms.{i}.occ": float(r["occupancy"]) for i, r in enumerate(rows)}
    held.update({f"phases.0.atoms.{i}.biso": float(r["b_iso"]) for i, r in enumerate(rows)})

    def val(path):
        p = par.get(path)
        if p is None:
            return {"value": held[path], "esd": None, "vary": False, "held": True} if path in held else None
        return {"value": p.value, "esd": p.stderr, "vary": p.vary}

    st = result.statistics
    out = {
        "status": result.status, "usable": bool(getattr(result, "usable", True)),
        "r_wp": st.rwp, "r_p": st.rp, "r_exp": st.rexp, "gof": st.gof, "chi2_reduced": st.chi2,
        "n_points": st.n_points, "n_free_parameters": st.n_free_parameters,
        "durbin_watson": st.durbin_watson, "esd_inflation": st.esd_inflation,
        "max_shift_over_esd": st.max_shift_over_esd,
        "zero_shift_deg": val("instrument.zero_shift"),
        "specimen_displacement_mm": val("instrument.geometry.sample_displacement"),
        "axial_sl": val("instrument.geometry.axial_sl"),
        "profile": {k: val(f"instrument.profile.{k}") for k in "uvwxy"},
        "phases": [],
        "diagnostics": [{"level": d.level, "code": d.code, "where": list(d.where), "message": d.message}
                        for d in result.diagnostics if d.level in ("warning", "error")],
    }
    qpa = {q.name: q for q in (result.qpa.phases if result.qpa else [])}
    for k, ph in enumerate(case["truth"]["phases"]):
        q = qpa.get(ph["name"])
        entry = {"name": ph["name"], "a_angstrom": val(f"phases.{k}.cell.a"), "scale": val(f"phases.{k}.scale"),
                 "weight_fraction": None if q is None else {"value": q.weight_fraction, "esd": q.weight_fraction_stderr}}
        if k == 0:
            entry["sites"] = {}
            for site, s in layout.items():
                members = {"S": s["S"], **s["halides"]}
                entry["sites"][site] = {
                    "occupancies": {el: val(f"phases.0.atoms.{i}.occ") for el, i in members.items()},
                    "b_iso": val(f"phases.0.atoms.{s['S']}.biso"),
                }
            entry["b_iso"] = {r["label"]: val(f"phases.0.atoms.{i}.biso") for i, r in enumerate(rows)
                              if r["label"] in ("P1", "S1")}
        out["phases"].append(entry)
    return out


# --------------------------------------------------------------------------------------------------------
# Standards: a fixed structure from its CIF
# --------------------------------------------------------------------------------------------------------


def run_standard(std: dict, config: str) -> dict:
    """rietx on a standard: ``free_a`` (a, zero, transparency) or ``calibrate`` (a held at the certificate's;
    zero, displacement, transparency). The rest as the argyrodite cases: background sized by rietx, TCH widths
    seeded from its peak picks, FCJ axial asymmetry with H/L = S/L, B held at the CIF's."""
    import rietx as rx
    from rietx.crystallography.cif import structure_from_cif

    out: dict = {"case": std["name"], "config": config, "tool": "rietx", "version": rx.__version__}
    t0 = time.perf_counter()
    try:
        structure = structure_from_cif(str(std["cif"]))
        phase = structure.phases[0]
        cell = phase.cell
        for name in ("a", "b", "c"):
            getattr(cell, name).value = std["a_certificate"]
        inst = rx.Instrument.bragg_brentano(radiation="CuKa", goniometer_radius_mm=STANDARD_RADIUS_MM)
        data, limits, _ = read_and_seed(rx, std["data_path"], inst)
        ref = rx.Refinement(structure, inst, history=False)
        ref.tie("instrument.geometry.axial_hl", "instrument.geometry.axial_sl")
        shifts = ["instrument.zero_shift", "instrument.geometry.sample_transparency"]
        if config == "calibrate":
            shifts.insert(1, "instrument.geometry.sample_displacement")
        stages = [rx.Stage("scale_bkg", ["phases.*.scale", "instrument.background.*"]), rx.Stage("zero", shifts)]
        if config == "free_a":
            stages.append(rx.Stage("cell", ["phases.*.cell.*"]))
        stages += [rx.Stage("profile_w", ["instrument.profile.w"]),
                   rx.Stage("profile", ["instrument.profile.u", "instrument.profile.v", "instrument.profile.x",
                                        "instrument.profile.y"]),
                   rx.Stage("axial", ["instrument.geometry.axial_sl"])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ref.fit(data, plan=rx.RefinementPlan(stages=stages), two_theta_limits=limits, telemetry=False)
    except Exception as exc:  # an abort is a result here
        out.update(status="aborted", seconds=round(time.perf_counter() - t0, 2), error=f"{type(exc).__name__}: {exc}")
        return out
    out["seconds"] = round(time.perf_counter() - t0, 2)
    par = {p.path: p for p in result.parameters}

    def val(path, held=None):
        p = par.get(path)
        if p is None:
            return None if held is None else {"value": held, "esd": None, "vary": False, "held": True}
        return {"value": p.value, "esd": p.stderr, "vary": p.vary}

    st = result.statistics
    disp = val("instrument.geometry.sample_displacement")
    transp = val("instrument.geometry.sample_transparency")
    out.update({
        "status": result.status, "r_wp": st.rwp, "r_exp": st.rexp, "gof": st.gof, "n_points": st.n_points,
        "two_theta_range": list(limits), "sigma": "from the file" if data.sigma is not None else "sqrt(counts) (rietx's default)",
        "a_angstrom": val("phases.0.cell.a", held=std["a_certificate"]),
        "zero_shift_deg": val("instrument.zero_shift"),
        "specimen_displacement_mm": disp,
        # argyrodb's D (deg): shift D cos(theta), D = -2 s / R
        "displacement_deg": None if disp is None else {
            "value": float(np.degrees(-2 * disp["value"] / STANDARD_RADIUS_MM)),
            "esd": None if disp["esd"] is None else float(np.degrees(2 * disp["esd"] / STANDARD_RADIUS_MM))},
        # argyrodb's T (deg): shift -T sin(2 theta); rietx's t is in radians
        "transparency_deg": None if transp is None else {
            "value": float(np.degrees(transp["value"])),
            "esd": None if transp["esd"] is None else float(np.degrees(transp["esd"]))},
        "axial_sl": val("instrument.geometry.axial_sl"),
        "profile": {k: val(f"instrument.profile.{k}") for k in "uvwxy"},
        "diagnostics": [{"level": d.level, "code": d.code, "message": d.message}
                        for d in result.diagnostics if d.level in ("warning", "error")],
    })
    return out


def print_standard(std: dict, runs: list[dict]) -> None:
    cert = std["a_certificate"]
    print(f"\n== {std['name']}: {std['certificate']}, certificate a = {cert} A")
    if std.get("found"):
        print(f"   file: {std['found']}")
    for r in runs:
        if r.get("status") == "aborted":
            print(f"  [{r['config']}] ABORTED: {r['error'][:300]}")
            continue
        a = r["a_angstrom"]
        da = a["value"] - cert
        parts = [f"a {a['value']:.6f}" + (f"({1e6 * a['esd']:.0f}e-6)" if a.get("esd") else " held"),
                 f"a - cert {da:+.6f} A ({1e6 * da / cert:+.0f} ppm)" if not a.get("held") else "",
                 f"zero {r['zero_shift_deg']['value']:+.4f} deg"]
        if r["displacement_deg"]:
            parts.append(f"displacement D {r['displacement_deg']['value']:+.4f} deg "
                         f"(s {r['specimen_displacement_mm']['value']:+.3f} mm at R {STANDARD_RADIUS_MM:g})")
        parts.append(f"transparency T {r['transparency_deg']['value']:.4f} deg")
        parts.append(f"GoF {r['gof']:.3f}, R_wp {100 * r['r_wp']:.2f} %, {r['seconds']:.1f} s")
        codes = sorted({d["code"] for d in r["diagnostics"]})
        print(f"  [{r['config']:<9}] " + "; ".join(x for x in parts if x) + (f"; warnings: {', '.join(codes)}" if codes else ""))


# --------------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------------


def _fmt(v, nd=4):
    return "-" if v is None else f"{v:.{nd}f}"


def truth_summary(truth: dict) -> dict:
    main = truth["phases"][0]
    return {
        "a_angstrom": main["a_angstrom"],
        "anion_sites": main["anion_sites"],
        "weight_fractions": {p["name"]: p["weight_fraction"] for p in truth["phases"]},
        "zero_shift_deg": truth["instrument"]["zero_shift_deg"],
        "specimen_displacement_mm": truth["instrument"]["specimen_displacement_mm"],
        "b_iso_by_site": main["b_iso_by_site"],
        "r_exp_percent_no_parameters": truth["data"]["r_exp_percent_no_parameters"],
    }


def print_case(case: dict, runs: list[dict]) -> None:
    truth = case["truth"]
    ts = truth_summary(truth)
    print(f"\n== {case['name']} ({truth['letter']}): {truth['description']}")
    configs = [r["config"] for r in runs]
    head = f"{'quantity':<22} {'true':>9} " + " ".join(f"{c:>22}" for c in configs)
    print(head)
    print("-" * len(head))

    def row(label, true, getter, nd=4, scale=1.0):
        cells = []
        for r in runs:
            if r.get("status") == "aborted":
                cells.append(f"{'aborted':>22}")
                continue
            got = getter(r)
            if got is None or got.get("value") is None:
                cells.append(f"{'-':>22}")
                continue
            v, e = got["value"] * scale, got.get("esd")
            txt = f"{v:.{nd}f}" + (f" ({e * scale:.{nd}f})" if e is not None else "")
            if got.get("held"):
                txt += " held"
            cells.append(f"{txt:>22}")
        print(f"{label:<22} {_fmt(true, nd) if true is not None else '-':>9} " + " ".join(cells))

    row("a (A)", ts["a_angstrom"], lambda r: r["phases"][0]["a_angstrom"], 5)
    for site, mix in (ts["anion_sites"] or {}).items():
        for el, occ in mix.items():
            row(f"{site} {el}", occ, lambda r, s=site, e=el: r["phases"][0]["sites"][s]["occupancies"][e], 3)
    for name, w in ts["weight_fractions"].items():
        if name != truth["phases"][0]["name"]:
            k = [p["name"] for p in truth["phases"]].index(name)
            row(f"{name} wt%", 100 * w, lambda r, k=k: r["phases"][k]["weight_fraction"], 2, 100.0)
    row("zero shift (deg)", ts["zero_shift_deg"], lambda r: r["zero_shift_deg"], 4)
    if any(r.get("config") == "axial_disp" for r in runs) or ts["specimen_displacement_mm"]:
        row("displacement (mm)", ts["specimen_displacement_mm"], lambda r: r["specimen_displacement_mm"], 4)
    for label, key in (("GoF", "gof"), ("R_wp (%)", "r_wp"), ("R_exp (%)", "r_exp")):
        scale = 100.0 if key != "gof" else 1.0
        cells = [f"{'-' if r.get(key) is None else format(r[key] * scale, '.3f'):>22}" for r in runs]
        print(f"{label:<22} {'':>9} " + " ".join(cells))
    print(f"{'time (s)':<22} {'':>9} " + " ".join(f"{r.get('seconds', 0):>22.1f}" for r in runs))
    print(f"{'status':<22} {'':>9} " + " ".join(f"{r.get('status', '?'):>22}" for r in runs))
    # deviations, the numbers that matter
    for r in runs:
        if r.get("status") == "aborted":
            print(f"  [{r['config']}] ABORTED: {r['error'][:300]}")
            continue
        ph = r["phases"][0]
        da = ph["a_angstrom"]["value"] - ts["a_angstrom"]
        ea = ph["a_angstrom"]["esd"]
        worst = {}
        for site, mix in (ts["anion_sites"] or {}).items():
            for el, occ in mix.items():
                got = ph["sites"][site]["occupancies"][el]["value"]
                worst[f"{site} {el}"] = got - occ
        parts = [f"a {da:+.5f} A ({abs(da) / ea:.1f} esd)" if ea else f"a {da:+.5f} A"]
        parts.append("occ " + ", ".join(f"{k} {v:+.3f}" for k, v in worst.items()))
        for k, p in enumerate(r["phases"][1:], start=1):
            true_w = truth["phases"][k]["weight_fraction"]
            if p["weight_fraction"]:
                parts.append(f"{p['name']} {100 * (p['weight_fraction']['value'] - true_w):+.2f} wt%")
        z = r["zero_shift_deg"]["value"] - ts["zero_shift_deg"] if r.get("zero_shift_deg") else None
        if z is not None:
            parts.append(f"zero {z:+.4f} deg")
        codes = sorted({d["code"] for d in r["diagnostics"]})
        print(f"  [{r['config']}] " + "; ".join(parts) + (f"; warnings: {', '.join(codes)}" if codes else ""))


def print_best(report: dict) -> None:
    """One line per case: the best configuration's deviations from the truth."""
    print("\n== rietx, best configuration per case (recovered - true)")
    print(f"{'case':<16} {'config':<13} {'da (A)':>9} {'max|docc| I/Br':>15} {'max|docc| S/Cl':>15} "
          f"{'dwt% imp.':>9} {'dzero':>8} {'GoF':>6} {'Rwp %':>6} {'s':>6}")
    for name, c in report["cases"].items():
        cfg = c.get("best")
        r = c["runs"].get(cfg)
        if r is None or r.get("status") == "aborted":
            print(f"{name:<16} {cfg!s:<13} {'(not run or aborted)'}")
            continue
        t = c["truth"]
        ph = r["phases"][0]
        heavy, light = 0.0, 0.0
        for site, mix in t["anion_sites"].items():
            for el, occ in mix.items():
                dev = abs(ph["sites"][site]["occupancies"][el]["value"] - occ)
                if el in ("Br", "I"):
                    heavy = max(heavy, dev)
                else:
                    light = max(light, dev)
        dw = "-"
        if len(r["phases"]) > 1 and r["phases"][1]["weight_fraction"]:
            true_w = list(t["weight_fractions"].values())[1]
            dw = f"{100 * (r['phases'][1]['weight_fraction']['value'] - true_w):+.2f}"
        print(f"{name:<16} {cfg:<13} {ph['a_angstrom']['value'] - t['a_angstrom']:>+9.5f} {heavy:>15.3f} "
              f"{light:>15.3f} {dw:>9} {r['zero_shift_deg']['value'] - t['zero_shift_deg']:>+8.4f} "
              f"{r['gof']:>6.3f} {100 * r['r_wp']:>6.2f} {r['seconds']:>6.1f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="rietx on the synthetic refinement patterns (peer baseline)")
    parser.add_argument("--cases", nargs="*", default=CASES, help=f"default: {' '.join(CASES)}")
    parser.add_argument("--configs", nargs="*", default=None,
                        help=f"from {' '.join(ALL_CONFIGS)} or 'all'; default: {' '.join(DEFAULT_CONFIGS)}")
    parser.add_argument("--standards", nargs="*", default=STANDARDS,
                        help=f"default: {' '.join(STANDARDS)} (lab6_srm660c needs $XRD_REAL_DIR); none: --standards")
    parser.add_argument("--json", type=Path, default=None, help="output JSON (default: the bench cache folder)")
    args = parser.parse_args(argv)
    try:
        import rietx
    except ImportError:
        print("rietx is not installed (a bench-only dependency): .venv/bin/pip install rietx")
        return 0
    out_path = args.json or cache_folder() / "refine_peer_rietx.json"
    report = {
        "tool": "rietx", "version": rietx.__version__, "data": str(DATA.relative_to(REPO)),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "rietx_compiled_threads": os.environ.get("RIETX_COMPILED_THREADS", "default (min(8, cpus))")},
        "best_config": BEST_CONFIG, "cases": {}, "standards": {},
    }
    print(f"rietx {rietx.__version__} on the synthetic patterns in {DATA.relative_to(REPO)} "
          f"(time = background + peak seeding + staged fit, {os.cpu_count()} CPUs)")
    for name in args.cases:
        case = load_case(name)
        if args.configs is None:
            configs = list(DEFAULT_CONFIGS)
        elif args.configs == ["all"]:
            configs = list(ALL_CONFIGS)
        else:
            configs = list(args.configs)
        has_cl = any(r[1] == "Cl" and r[2] in ("4a", "4d") for r in case["start"]["sites"])
        configs = [c for c in configs if c != "axial_clheld" or has_cl or args.configs]
        runs = [run_one(case, c) for c in configs]
        report["cases"][name] = {"truth": truth_summary(case["truth"]), "runs": {r["config"]: r for r in runs},
                                 "best": BEST_CONFIG.get(name)}
        print_case(case, runs)
    print_best(report)
    for name in args.standards:
        std = load_standard(name)
        if std is None:
            report["standards"][name] = {"skipped": real_standard_file()[1]}
            continue
        runs = [run_standard(std, c) for c in STANDARD_CONFIGS]
        report["standards"][name] = {"a_certificate": std["a_certificate"], "certificate": std["certificate"],
                                     "file": str(std["data_path"]), "runs": {r["config"]: r for r in runs}}
        print_standard(std, runs)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=1, default=float))
    print(f"\nwrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
