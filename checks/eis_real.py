"""`argyrodb eis` against real instrument files and their published fits (`make check-eis-real EIS_REAL_DIR=...`).

The files are other people's (impedance.py's, galvani's and EISFitpython's example data); the search tool's rules keep
them out of this repository, so this check is run by hand on a folder holding them, laid out and verified as
`checks/eis_real_files.md` says (sources, commits, licences, SHA-256 of every file). It runs the installed `argyrodb`
command as a user would (a subprocess of ``python -m argyrodb``, JSON output) and compares:

- resistances with the published fits, within 5 % (the issue's criterion; the authors' own standard errors are
  0.6-10 %), and the Arrhenius activation energies within the published esd;
- the reliability verdict with the one each file deserves (lin-KK of the data itself decides: the files marked
  unreliable fail it, each for its stated reason);
- files that must be refused (exit 2, one line naming the file).

Prints a table and exits 1 if any row fails, 2 if the folder is missing or a file's bytes differ.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import real_files  # checks/real_files.py (the script's folder is on sys.path)

FILES_MD = Path(__file__).with_name("eis_real_files.md")
#: The issue's criterion for a resistance against a published or independent fit.
RESISTANCE_RTOL = 0.05


@dataclass
class Case:
    path: str
    reliable: bool | None  # None: the file must be refused with exit 2
    # parameter or result name -> published value (ohm); "bulk"/"gb"/"total" are eis fit's resistances
    expected: dict[str, float] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    source: str = ""


# EISFitpython Example_scripts/Example3/Batch_EISfit_Report.txt: (R1 bulk, R2 grain boundary) per temperature
S04147 = {140: (1.462e5, 2.012e6), 150: (1.123e5, 1.139e6), 160: (7.949e4, 6.673e5), 170: (5.605e4, 3.980e5),
          180: (3.984e4, 2.430e5), 190: (2.743e4, 1.526e5), 200: (2.246e4, 9.502e4)}
CASES = [
    Case("eisfitpython/Example2b.txt", True, {"bulk": 44712.503849276225, "gb": 47122.49108409747},
         source="EISFitpython Example2/EIS_fit_report.txt"),
    Case("eisfitpython/Example2a.txt", True),
    Case("eisfitpython/Example2c.txt", True),
    *[Case(f"eisfitpython/s04147-{t}deg.txt", True, {"bulk": rb, "gb": rgb},
           source="EISFitpython Example3/Batch_EISfit_Report.txt") for t, (rb, rgb) in S04147.items()],
    # impedance.py docs/source/examples/looping_files_example.ipynb, R0-p(R1,C1) (3 significant figures)
    *[Case(f"impedance_py/Circuit{n}_EIS_{k}.z", True, {"R0": r0, "R1": r1}, source="impedance.py looping example")
      for n, (r0, r1) in {1: (29.1, 46.7), 2: (150.0, 502.0), 3: (1510.0, 4630.0)}.items() for k in (1, 2)],
    # impedance.py JOSS paper: L_0-R_0-p(R_1,CPE_1)-p(R_2-Wo_1,CPE_2), R_0 = 1.49e-02 +- 8.31e-04 ohm
    Case("impedance_py/exampleData.csv", True, {"R0": 1.49e-2}, source="impedance.py JOSS paper"),
    Case("impedance_py/exampleDataZPlot.z", True),
    Case("impedance_py/exampleDataZPlot_noComments.z", True),
    Case("impedance_py/exampleDataBioLogic.mpt", True),
    Case("impedance_py/exampleDataAutolab.txt", True),
    # lin-KK fails on the data: residuals grow at low frequency (Gamry), 16 % scatter (Parstat), 46 % (PowerSuite)
    Case("impedance_py/exampleDataGamry.DTA", False),
    Case("impedance_py/exampleDataGamryABORT.DTA", False),
    Case("impedance_py/exampleDataCHInstruments.txt", False),
    Case("impedance_py/exampleDataParstat.txt", False),
    Case("impedance_py/exampleDataPowersuite.txt", False),
    Case("impedance_py/exampleDataVersaStudio.par", False),
    # made by impedance.py's authors to be unreadable (the freq/Hz header deleted, every column one off)
    Case("impedance_py/exampleDataBioLogic_MissingFreq.mpt", None),
    # four sweeps in one file: refused without --sweep, read with it
    Case("galvani/v1150_PEIS.mpr", None),
    Case("galvani/v1150_PEIS.mpr", True, args=("--sweep", "1")),
    Case("galvani/v1150_GEIS.mpr", None),
]
# EISFitpython Example3/Arrhenius_Analysis_Report.txt (unweighted lines, D 0.8 cm, l 0.21 cm): Ea and esd, eV
PUBLISHED_EA_EV = {"bulk": (0.5869, 0.0163), "total": (0.8555, 0.0006)}


def argyrodb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "argyrodb", *args], capture_output=True, text=True, timeout=120)


def value_of(payload: dict, name: str) -> float | None:
    key = {"bulk": "bulk_resistance_ohm", "gb": "grain_boundary_resistance_ohm", "total": "total_resistance_ohm"}
    if name in key:
        return payload[key[name]]["value"]
    return payload["chosen"]["parameters"][name]["value"]


def run_case(folder: Path, case: Case) -> tuple[bool, str]:
    done = argyrodb("eis", "fit", str(folder / case.path), *case.args, "--json")
    if case.reliable is None:
        lines = done.stderr.strip().splitlines()
        ok = done.returncode == 2 and len(lines) == 1 and case.path.split("/")[-1] in lines[0]
        return ok, f"exit {done.returncode}: {lines[-1] if lines else '(no message)'}"[:150]
    if done.returncode != 0:
        return False, f"exit {done.returncode}: {done.stderr.strip()[:150]}"
    payload = json.loads(done.stdout)
    chosen = payload["chosen"]
    parts = [f"{chosen['circuit']}", "reliable" if chosen["reliable"] else
             "unreliable: " + "; ".join(chosen["reasons"])[:90]]
    ok = chosen["reliable"] == case.reliable
    for name, published in case.expected.items():
        found = value_of(payload, name)
        error = abs(found / published - 1)
        ok &= error <= RESISTANCE_RTOL
        parts.append(f"{name} {found:.4g} vs {published:.4g} ({100 * error:.1f} %)")
    return ok, ", ".join(parts)


def run_arrhenius(folder: Path) -> tuple[bool, str]:
    files = [str(folder / f"eisfitpython/s04147-{t}deg.txt") for t in S04147]
    done = argyrodb("eis", "arrhenius", *files, "--temperature-c", *map(str, S04147), "--thickness-mm", "2.1",
                    "--diameter-mm", "8", "--json")
    if done.returncode != 0:
        return False, f"exit {done.returncode}: {done.stderr.strip()[:150]}"
    lines = json.loads(done.stdout)["arrhenius"]
    ok, parts = True, []
    for name, (ea, esd) in PUBLISHED_EA_EV.items():
        found = lines[name]["unweighted"]
        # the published line is an unweighted least-squares fit of the same points: within its own esd
        ok &= abs(found["ea_eV"] - ea) <= esd and abs(found["ea_stderr_eV"] / esd - 1) < 0.1
        parts.append(f"Ea {name} {found['ea_eV']:.4f} +- {found['ea_stderr_eV']:.4f} vs {ea} +- {esd} eV")
    return ok, ", ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the folder laid out as checks/eis_real_files.md describes")
    folder = parser.parse_args().folder
    if not folder.is_dir():
        print(f"eis_real: {folder}: no such folder (fetch the files listed in {FILES_MD})", file=sys.stderr)
        return 2
    problems = real_files.check_bytes(folder, FILES_MD)
    if problems:
        print("eis_real: " + "; ".join(problems), file=sys.stderr)
        return 2
    failures = 0
    for case in CASES:
        ok, text = run_case(folder, case)
        failures += not ok
        label = case.path + (" " + " ".join(case.args) if case.args else "")
        print(f"{'ok  ' if ok else 'FAIL'} {label:48s} {text}")
    ok, text = run_arrhenius(folder)
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {'s04147 140-200 C, eis arrhenius':48s} {text}")
    print(f"{len(CASES) + 1 - failures} of {len(CASES) + 1} checks pass")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
