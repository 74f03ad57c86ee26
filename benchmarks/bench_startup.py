"""Start-up time of light commands against importing pymatgen and against a bare interpreter, in the same run
(median of 7). Target (issue 15): `argyrodb --help` within 2x `python -c pass`. Target (issue 22): `argyrodb eis fit`
of a pellet spectrum (the generated ZPlot file, the circuit chosen) within 1.5 s wall, imports included, reported
beside `python -c pass` measured in the same run."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def timed(command: list[str], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    python = sys.executable
    peer = timed([python, "-c", "import pymatgen.core"])
    bare = timed([python, "-c", "pass"])
    print(f"python -c 'import pymatgen.core': {1e3 * peer:.0f} ms (bare interpreter {1e3 * bare:.0f} ms)")
    for label, args in (("argyrodb --help", ["--help"]), ("argyrodb calc gforce --rpm 550 --json", ["calc", "gforce", "--rpm", "550", "--json"]),
                        ("argyrodb calc cpe ...", ["calc", "cpe", "--r", "31.65", "--q", "6.32e-7", "--alpha", "0.729"])):
        t = timed([python, "-m", "argyrodb", *args])
        print(f"{label:<40} {1e3 * t:6.0f} ms = {t / peer:.2f} x the pymatgen import = {t / bare:.2f} x bare Python")
    script = [str(__import__("pathlib").Path(python).parent / "argyrodb"), "--help"]
    t = timed(script)
    print(f"{'argyrodb --help (console script)':<40} {1e3 * t:6.0f} ms = {t / bare:.2f} x bare Python (target <= 2x): "
          f"{'PASS' if t <= 2 * bare else 'FAIL'}")
    pellet = str(__import__("pathlib").Path(__file__).resolve().parent.parent / "tests" / "data" / "eis_formats" / "pellet.z")
    for label, args in (("argyrodb eis fit pellet.z", ["eis", "fit", pellet, "--json"]),
                        ("argyrodb eis fit pellet.z --circuit fig-s9", ["eis", "fit", pellet, "--circuit", "fig-s9", "--json"])):
        t = timed([str(__import__("pathlib").Path(python).parent / "argyrodb"), *args], repeat=5)
        verdict = "" if "circuit" in label else f" (target <= 1.5 s): {'PASS' if t <= 1.5 else 'FAIL'}"
        print(f"{label:<40} {1e3 * t:6.0f} ms = {t / bare:.1f} x bare Python{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
