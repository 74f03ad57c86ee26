"""argyrodb's diffractometer readers on real files, against other readers (`make check-xrd-real XRD_REAL_DIR=...`).

The files are other people's (xylib's samples, GSAS-II's tutorial data, FAIRmat's and other projects' test files);
the search tool's rules keep them out of this repository, so this check runs by hand on a folder laid out as
`checks/xrd_real_files.md` says (sources, commits, licences, SHA-256 of every file). For each file it:

- reads it through the installed package (``argyrodb.api.read_pattern``) and compares the number of points, the
  2theta range and every 2theta and count (so the first and last) with what independent readers give: xylib's
  ``xyconv`` (LGPL, Debian's ``libxy-bin``; Bruker RAW1.01), geddes 1.0.1 (MIT; every format), openreadout 0.4.0
  (MIT/Apache; RAW, BRML, RAS, RASX) and xrayutilities (GPL; RAS, run in this venv). geddes and openreadout run in
  a separate interpreter (``--reference-python``, the venv the Makefile target makes), so they never enter
  argyrodb's lock;
- compares the wavelength (anode, K-alpha1, K-alpha2, K-beta, K-alpha2/K-alpha1 ratio) with openreadout's and
  xylib's reading of the same header fields, and a GSAS file's with the value in its own comment;
- runs ``python -m argyrodb xrd <structure> --measured FILE --json`` (the command a user runs) on it: exit 0 and
  the same points inside the simulated range;
- for the files that must be refused (scrambled intensities with negative counts), exit 2 with one line naming the
  file, and the value it names is the one the other readers decode at that point;
- for the two measurements saved both as .brml and as RAW4 (.raw), the two files agree with each other.

Tolerances, and why: 2theta to 1e-9 deg and counts to a relative 1e-12 where both readers decode the same stored
numbers (float32 counts and float64 start/step in RAW; printed decimals in BRML, RAS, RASX, GSAS) - any layout error
is far larger; 2theta to 5e-7 deg against xylib, which prints 6 decimals (counts there are whole numbers, printed
exactly); wavelengths to 1e-9 A (the same stored numbers) or a relative 1e-5 against xylib's 6 printed digits. A
.brml and the .raw of the same measurement agree to 5e-5 deg (the .brml prints 2theta to 4 decimals; the .raw stores
start and step) with equal counts. Where argyrodb leaves points out on purpose (GSAS points of count 0 or sigma 0,
which have no weight in GSAS; its notes say so), the other reader's array is compared without those points.

Prints a table and exits 1 if any row fails, 2 if the folder, a file's bytes or a reference reader are missing.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import real_files  # checks/real_files.py (the script's folder is on sys.path)

FILES_MD = Path(__file__).with_name("xrd_real_files.md")
ROOT = Path(__file__).resolve().parent.parent
STRUCTURE = ROOT / "structures" / "Li6PS5Cl.yaml"
EXACT_X, XYLIB_X, PAIR_X = 1e-9, 5e-7, 5e-5
EXACT_Y_REL = 1e-12
EXACT_WAVELENGTH, XYLIB_WAVELENGTH_REL = 1e-9, 1e-5


@dataclass
class Case:
    path: str
    scan: int | None = None
    refs: tuple[str, ...] = ("geddes",)
    refused: str | None = None  # the message a file that must be refused gives
    kalpha1_only: bool = False  # the file says K-alpha1 alone (monochromator, wave type Ka1, ratio 0)
    notes: dict = field(default_factory=dict)


RAW3 = ("xylib", "geddes", "openreadout")
BRUKER = ("geddes", "openreadout")
CASES = [
    Case("xylib/BT86.raw", refs=RAW3), Case("xylib/Cu3Au-1.raw", refs=RAW3), Case("xylib/Cu3Au-2.raw", refs=RAW3),
    *[Case("xylib/format1.raw", scan=k, refs=RAW3) for k in (0, 1, 2)],
    Case("gsas2_tutorials/KGA1-CONT.RAW", refs=RAW3),
    *[Case("gsas2_tutorials/Keokuk kaolinite.RAW", scan=k, refs=RAW3) for k in (0, 1)],
    Case("gsas2_tutorials/LaB6_Jan2018.raw", refs=RAW3), Case("project_chameleon/brukerraw_test.RAW", refs=RAW3),
    Case("xrdconversion/BaZrS3.raw", refs=BRUKER), Case("xrdconversion/SbI3.raw", refs=BRUKER),
    Case("nomad_measurements/TwoTheta_scan_scrambled.raw", refs=BRUKER, refused="counts must not be negative"),
    Case("xrdconversion/BaZrS3.brml", refs=BRUKER), Case("xrdconversion/SbI3.brml", refs=BRUKER),
    Case("project_chameleon/standard.brml", refs=BRUKER),
    Case("nomad_measurements/23-012-AG_2thomegascan_long.brml", refs=BRUKER, kalpha1_only=True),
    *[Case("dxtools/Temperature.brml", scan=k, refs=BRUKER, kalpha1_only=True) for k in (0, 21)],
    *[Case("dxtools/Sin2Psi.brml", scan=k, refs=BRUKER) for k in (0, 17)],
    *[Case("dxtools/Yscan.brml", scan=k, refs=BRUKER, kalpha1_only=True) for k in (0, 80)],
    Case("mdac_xrd/XRD_RIGAKU.ras", refs=("xrayutilities", "geddes", "openreadout")),
    Case("nomad_measurements/TwoTheta_scan_powder.rasx", refs=BRUKER, kalpha1_only=True),
    Case("nomad_measurements/Omega-2Theta_scan_high_temperature.rasx", refs=BRUKER, kalpha1_only=True),
    Case("readers_xrd/ZnO-ALD-training_001_1_0-000_0-000.rasx", refs=BRUKER),
    Case("gsas2_tutorials/FAP.XRA"), Case("gsas2_tutorials/PBSO4.XRA"), Case("gsas2_tutorials/NIST660CBI.gsas"),
    Case("gsas2_tutorials/11bmb_6231.fxye", refs=("geddes", "comment")),
]
#: the same measurement saved by DIFFRAC.SUITE as .brml and converted to RAW4 (BrmlToV4Converter)
PAIRS = [("xrdconversion/SbI3.brml", "xrdconversion/SbI3.raw"), ("xrdconversion/BaZrS3.brml", "xrdconversion/BaZrS3.raw")]

# Run by --reference-python (geddes and openreadout installed there): reads the cases named on stdin, prints JSON.
REFERENCE_SCRIPT = r'''
import json, sys
import numpy as np
requests = json.load(sys.stdin)
out = {}
for key, path, scan, refs in requests:
    entry = {}
    if "geddes" in refs:
        try:
            import geddes
            pattern = geddes.read(path, index=scan or 0)
            entry["geddes"] = {"x": list(map(float, pattern.x)), "y": list(map(float, pattern.y))}
        except Exception as exc:
            entry["geddes"] = {"error": f"{type(exc).__name__}: {exc}"}
    if "openreadout" in refs:
        try:
            import openreadout
            info = openreadout.info(path)
            trace = info["traces"][scan or 0]
            names = [c["name"] for c in trace["channels"]]
            with openreadout.File(path) as handle:
                data = np.asarray(handle.read_trace(scan or 0))
                axis = np.asarray(handle.trace_axis(scan or 0))
            parameters = info.get("experiment", {}).get("method", {}).get("parameters", {})
            entry["openreadout"] = {"x": axis.tolist(), "y": data[names.index("intensity")].tolist(), "channels": names,
                                    "wavelength": {k: v.get("value") for k, v in parameters.items()
                                                   if k.startswith("wavelength") or k in ("anode", "kalpha2_kalpha1_ratio")}}
        except Exception as exc:
            entry["openreadout"] = {"error": f"{type(exc).__name__}: {exc}"}
    out[key] = entry
print(json.dumps(out))
'''


def key(case: Case) -> str:
    return case.path + ("" if case.scan is None else f"[{case.scan}]")


def references(folder: Path, python: str) -> dict:
    requests = [[key(c), str(folder / c.path), c.scan, list(c.refs)] for c in CASES if {"geddes", "openreadout"} & set(c.refs)]
    done = subprocess.run([python, "-c", REFERENCE_SCRIPT], input=json.dumps(requests), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"xrd_real: the reference readers failed in {python}: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout)


def xylib_blocks(path: Path) -> tuple[dict, list[np.ndarray]]:
    """xyconv's reading of a file: the file's metadata and each block's (x, y) rows."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "input.raw"
        shutil.copyfile(path, copy)
        done = subprocess.run(["xyconv", "-t", "bruker_raw", str(copy), "-"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise ValueError(done.stderr.strip() or done.stdout.strip())
    meta: dict[str, str] = {}
    blocks: list[list[list[float]]] = []
    rows: list[list[float]] | None = None
    for line in done.stdout.splitlines():
        if line.startswith("### block") or (line.startswith("# column_") and rows is None):
            rows = []  # a file of one block has no "### block" line, only its column names
            blocks.append(rows)
        elif line.startswith("# ") and ": " in line and rows is None:
            name, value = line[2:].split(": ", 1)
            meta[name] = value.strip()
        elif line and not line.startswith("#") and rows is not None:
            rows.append([float(v) for v in line.split()])
    return meta, [np.array(b) for b in blocks]


def compare(ours_x, ours_y, ref_x, ref_y, x_tol: float, y_rel: float) -> tuple[bool, str]:
    ref_x, ref_y = np.asarray(ref_x, float), np.asarray(ref_y, float)
    if ref_x.size != ours_x.size:
        return False, f"{ours_x.size} points vs {ref_x.size}"
    dx = float(np.max(np.abs(ours_x - ref_x)))
    dy = float(np.max(np.abs(ours_y - ref_y) / np.maximum(np.abs(ref_y), 1.0)))
    return dx <= x_tol and dy <= y_rel, f"max |d2theta| {dx:.1e}, max rel |dy| {dy:.1e}"


def dropped(data, ref_x, ref_y) -> tuple[np.ndarray, np.ndarray]:
    """The reference arrays without the points argyrodb leaves out on purpose (GSAS count 0), when its notes say so."""
    ref_x, ref_y = np.asarray(ref_x, float), np.asarray(ref_y, float)
    if any("count 0 (no weight in GSAS)" in n for n in data.metadata.get("notes", [])):
        keep = ref_y != 0
        return ref_x[keep], ref_y[keep]
    return ref_x, ref_y


def compare_wavelength(ours: dict, ref: dict, tolerance: float, relative: bool) -> tuple[bool, str]:
    pairs = {"wavelength_kalpha1": "kalpha1_angstrom", "wavelength_kalpha2": "kalpha2_angstrom",
             "wavelength_kbeta": "kbeta_angstrom", "kalpha2_kalpha1_ratio": "ratio_kalpha2_kalpha1"}
    ok, worst = True, 0.0
    for ref_key, our_key in pairs.items():
        value = ref.get(ref_key)
        if value is None:
            continue
        mine = ours.get(our_key, 0.0)  # a zero the file stores (K-alpha2 behind a monochromator) is left out here
        diff = abs(mine - value) / (abs(value) if relative and value else 1.0)
        worst = max(worst, diff)
        ok &= diff <= tolerance
    anode = ref.get("anode")
    ok &= anode is None or str(anode).lower() == str(ours.get("anode", "")).lower()
    return ok, f"wavelengths within {worst:.0e}{' (rel.)' if relative else ' A'}"


def run_cli(path: Path, data) -> tuple[bool, str]:
    """``argyrodb xrd --measured`` over the file's range (within 5-150 deg); the CLI reads the first scan."""
    if data.metadata.get("scan_index", 0):
        return True, "xrd --measured reads scan 0 (it has no --scan)"
    lo, hi = data.two_theta_range
    lo, hi = max(lo, 5.0), min(hi, 150.0)
    done = subprocess.run([sys.executable, "-m", "argyrodb", "xrd", str(STRUCTURE), "--two-theta", repr(lo), repr(hi),
                           "--measured", str(path), "--json"], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        return False, f"xrd --measured exit {done.returncode}: {done.stderr.strip()[:120]}"
    inside = int(np.sum((data.two_theta_deg >= lo) & (data.two_theta_deg <= hi)))
    found = json.loads(done.stdout)["measured"]["n_points"]
    return found == inside, f"xrd --measured {found} points"


def run_case(folder: Path, case: Case, refs: dict) -> tuple[bool, str]:
    from argyrodb.api import InputError, read_pattern

    path = folder / case.path
    entry = refs.get(key(case), {})
    if case.refused:
        done = subprocess.run([sys.executable, "-m", "argyrodb", "xrd", str(STRUCTURE), "--measured", str(path)],
                              capture_output=True, text=True, timeout=300)
        lines = done.stderr.strip().splitlines()
        ok = done.returncode == 2 and len(lines) == 1 and path.name in lines[0] and case.refused in lines[0]
        text = f"refused (exit {done.returncode}): {lines[-1] if lines else '(no message)'}"
        named = re.search(r"point (\d+): (\S+)\)", lines[-1] if lines else "")
        for name in ("geddes", "openreadout"):
            ref = entry.get(name, {})
            if named and "y" in ref:
                i, value = int(named.group(1)) - 1, float(named.group(2))
                first = int(np.argmax(np.asarray(ref["y"]) < 0))
                agree = first == i and abs(ref["y"][i] - value) <= 1e-3 * abs(value)
                ok &= agree
                text += f"; {name}: first negative at point {first + 1} ({ref['y'][first]:.6g})"
        return ok, text
    try:
        data = read_pattern(path, scan=case.scan)
    except InputError as exc:
        return False, f"refused: {exc}"
    x, y = data.two_theta_deg, data.counts
    components = data.wavelength_components() or []
    parts = [f"{data.n_points} pts {x[0]:.4f}-{x[-1]:.4f} deg, y {y[0]:g}..{y[-1]:g}",
             " + ".join(f"{c.name} {c.wavelength_angstrom:g} x{c.weight:g}" for c in components) or "no wavelength"]
    ok = True
    if case.kalpha1_only:
        ok &= len(components) == 1
    info = data.metadata.get("wavelength", {})
    for name in case.refs:
        if name in ("geddes", "openreadout"):
            ref = entry.get(name, {})
            if "error" in ref or not ref:
                ok = False
                parts.append(f"{name}: {ref.get('error', 'no answer')[:80]}")
                continue
            same, text = compare(x, y, *dropped(data, ref["x"], ref["y"]), EXACT_X, EXACT_Y_REL)
            if name == "openreadout":
                wl_ok, wl_text = compare_wavelength(info, ref["wavelength"], EXACT_WAVELENGTH, relative=False)
                same &= wl_ok
                text += ", " + wl_text
            ok &= same
            parts.append(f"{name}: {text}")
        elif name == "xylib":
            try:
                meta, blocks = xylib_blocks(path)
            except (OSError, ValueError) as exc:
                ok = False
                parts.append(f"xylib: {exc}")
                continue
            block = blocks[case.scan or 0]
            same, text = compare(x, y, block[:, 0], block[:, 1], XYLIB_X, EXACT_Y_REL)
            wl = {"wavelength_kalpha1": float(meta["ALPHA1"]), "wavelength_kalpha2": float(meta["ALPHA2"]),
                  "wavelength_kbeta": float(meta["BETA"]), "kalpha2_kalpha1_ratio": float(meta["ALPHA_RATIO"]),
                  "anode": meta["ANODE_MATERIAL"]}
            wl_ok, wl_text = compare_wavelength(info, wl, XYLIB_WAVELENGTH_REL, relative=True)
            ok &= same and wl_ok
            parts.append(f"xylib: {text}, {wl_text}")
        elif name == "xrayutilities":
            import xrayutilities

            scan = xrayutilities.io.RASFile(str(path)).scans[case.scan or 0]
            table = scan.data
            same, text = compare(x, y, table[scan.scan_axis], table["int"] * table["att"], EXACT_X, EXACT_Y_REL)
            ok &= same
            parts.append(f"xrayutilities: {text}")
        elif name == "comment":
            stated = re.search(r"Calibrated wavelength\s*=\s*([0-9.]+)", path.read_text(errors="replace"))
            same = stated is not None and abs(info.get("wavelength_angstrom", 0.0) - float(stated.group(1))) <= EXACT_WAVELENGTH
            ok &= same
            parts.append(f"comment: lambda {stated.group(1) if stated else '?'} A")
    cli_ok, cli_text = run_cli(path, data)
    ok &= cli_ok
    parts.append(cli_text)
    notes = data.metadata.get("notes", [])
    if notes:
        parts.append("notes: " + "; ".join(n[:70] for n in notes))
    return ok, " | ".join(parts)


def run_pair(folder: Path, brml: str, raw: str) -> tuple[bool, str]:
    from argyrodb.api import read_pattern

    a, b = read_pattern(folder / brml), read_pattern(folder / raw)
    same, text = compare(a.two_theta_deg, a.counts, b.two_theta_deg, b.counts, PAIR_X, EXACT_Y_REL)
    same &= a.wavelength_components() == b.wavelength_components()
    return same, text + ", same wavelength components"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the folder laid out as checks/xrd_real_files.md describes")
    parser.add_argument("--reference-python", default=sys.executable,
                        help="an interpreter with geddes and openreadout installed (the Makefile target makes one)")
    args = parser.parse_args()
    folder = args.folder
    if not folder.is_dir():
        print(f"xrd_real: {folder}: no such folder (fetch the files listed in {FILES_MD})", file=sys.stderr)
        return 2
    problems = real_files.check_bytes(folder, FILES_MD)
    if shutil.which("xyconv") is None:
        problems.append("xyconv (Debian package libxy-bin) is not installed")
    if problems:
        print("xrd_real: " + "; ".join(problems), file=sys.stderr)
        return 2
    refs = references(folder, args.reference_python)
    failures = 0
    for case in CASES:
        ok, text = run_case(folder, case, refs)
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {key(case):60s} {text}")
    for brml, raw in PAIRS:
        ok, text = run_pair(folder, brml, raw)
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {brml + ' = ' + Path(raw).name:60s} {text}")
    total = len(CASES) + len(PAIRS)
    print(f"{total - failures} of {total} checks pass")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
