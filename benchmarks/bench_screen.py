"""Screening speed: 10,000 compositions (Li7-yPS6-yCl(y(1-z))I(yz), 100 x 100 grid), each with its
peak list (10-80 deg, Cu K-alpha1) and density, on one core; against building each composition as a
pymatgen Structure and running XRDCalculator, measured in the same run on a sample of the grid.
Target: under 10 s for the 10,000."""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def main() -> int:
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    from argyrodb.screening.families import parse_range
    from argyrodb.screening.screener import ScreenSettings, Screener

    settings = ScreenSettings("Li7-yPS6-yCl(y*(1-z))I(y*z)", {"y": parse_range("1.0:1.594:0.006", "y"), "z": parse_range("0:0.99:0.01", "z")},
                              two_theta_range=(10.0, 80.0))
    start = time.perf_counter()
    screener = Screener(settings)
    setup_s = time.perf_counter() - start
    n = len(screener.points)
    start = time.perf_counter()
    ok = 0
    for start_index in range(0, n, 1000):  # chunks, as argyrodb screen computes them (batch patterns)
        ok += sum(r["status"] == "ok" for r in screener.evaluate_chunk(list(range(start_index, min(n, start_index + 1000)))))
    total_s = time.perf_counter() - start
    print(f"{n} compositions: set-up {setup_s:.2f} s, then {total_s:.2f} s ({1e3 * total_s / n:.3f} ms each, {ok} ok) "
          f"-> {'under' if setup_s + total_s < 10 else 'OVER'} the 10 s target")

    sample = np.random.default_rng(0).choice(n, 20, replace=False)
    calculator = XRDCalculator(wavelength="CuKa1")
    start = time.perf_counter()
    for index in sample:
        structure = screener.structure(int(index))
        calculator.get_pattern(structure, two_theta_range=(10, 80))
        _ = structure.density
    pymatgen_each = (time.perf_counter() - start) / len(sample)
    ours_each = total_s / n
    print(f"pymatgen (build Structure + XRDCalculator + density) on 20 sampled compositions: {1e3 * pymatgen_each:.1f} ms each; "
          f"argyrodb fast path {1e3 * ours_each:.3f} ms each: ratio {pymatgen_each / ours_each:.0f}x "
          f"(10,000 compositions with pymatgen would take ~{pymatgen_each * n / 60:.0f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
