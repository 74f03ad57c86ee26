"""Screening speed and memory (issue 15), measured in one run, each figure next to its target:

1. The issue's command as users run it, `argyrodb screen "Li5.6PS4.6Cl1.4-xIx" --x 0:1.4:0.00014 --db FILE`
   (10,001 compositions computed and stored), on a fresh copy of one empty database each time: wall clock from
   process start to exit (interpreter start and imports included), median of 3, against a bare `python -c pass`.
   Target < 3 s. Bytes per composition: the file's growth over the empty database, divided by the compositions.
2. In-process breakdown of the same grid (set-up, compute per composition, store) and the peer: building each
   composition as a pymatgen Structure and running XRDCalculator + density on 20 sampled compositions.
3. A 1,001,000-composition run (Li7-yPS6-yCl(y*(1-z))I(y*z), 1001 x 1000 grid) through the same command: wall
   time, peak resident memory of the process (measured from a small wrapper process) and bytes per composition, next to a 101,000-composition
   run's peak memory (bounded memory: the same, not ten times more). `--quick` skips it (~3 min).
4. Dask: the 101,000-composition run with `--dask local --jobs N` (a LocalCluster of N = CPUs worker processes,
   started and stopped by the run) and with `--jobs N` processes, against the single process: speed-ups.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

ISSUE_COMMAND = ("Li5.6PS4.6Cl1.4-xIx", "--x", "0:1.4:0.00014")  # 10,001 compositions
GRID_100K = ("Li7-yPS6-yCl(y*(1-z))I(y*z)", "--y", "1.0:1.6:0.006", "--z", "0:0.999:0.001")  # 101 x 1000
GRID_1M = ("Li7-yPS6-yCl(y*(1-z))I(y*z)", "--y", "1.0:1.6:0.0006", "--z", "0:0.999:0.001")  # 1001 x 1000
TARGET_S = 3.0


def argyrodb_command() -> list[str]:
    script = Path(sys.executable).parent / "argyrodb"
    return [str(script)] if script.exists() else [sys.executable, "-m", "argyrodb"]


#: Runs a command and prints its peak resident memory (kB) last on stderr. A fresh, small interpreter: Linux keeps
#: ru_maxrss across fork and exec, so a process started by this (large) benchmark process would report at least
#: the benchmark's own memory.
MEASURE = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(done.returncode)")


def screen_process(db: Path, grid: tuple[str, ...], *extra: str, memory: bool = False) -> tuple[float, float | None, str]:
    """`argyrodb screen GRID --db db EXTRA`: (wall seconds, peak resident memory in MB when ``memory``, stdout).
    The wall clock covers the process from start to exit; with ``memory`` it includes a small wrapper's start."""
    command = [*argyrodb_command(), "screen", *grid, "--db", str(db), *extra]
    if memory:
        command = [sys.executable, "-c", MEASURE, *command]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()}")
    peak_mb = int(done.stderr.strip().splitlines()[-1]) / 1024 if memory else None
    return wall, peak_mb, done.stdout


def fresh_copy(empty: Path, folder: Path, name: str) -> Path:
    target = folder / name
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(empty, target)
    return target


def bytes_per_composition(db: Path, empty: Path, n: int) -> float:
    return (db.stat().st_size - empty.stat().st_size) / n


def bare_python_s(repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_process_breakdown() -> None:
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    from argyrodb.screening.families import parse_range
    from argyrodb.screening.screener import Screener, ScreenSettings
    from argyrodb.store.screening_runs import RunWriter

    settings = ScreenSettings(ISSUE_COMMAND[0], {"x": parse_range(ISSUE_COMMAND[2], "x")})
    start = time.perf_counter()
    screener = Screener(settings)
    setup_s = time.perf_counter() - start
    n = len(screener.points)
    start = time.perf_counter()
    chunks = [screener.evaluate_chunk(np.arange(k, min(n, k + 1000))) for k in range(0, n, 1000)]
    compute_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "w.sqlite"
        subprocess.run([*argyrodb_command(), "db", "build", "--db", str(db), "--quiet"], check=True, stdout=subprocess.DEVNULL)
        with RunWriter(db) as writer:
            run_id = writer.open("bench", settings.family, {}, {}, "bench", n)
            start = time.perf_counter()
            for chunk in chunks:
                writer.write(run_id, chunk)
            store_s = time.perf_counter() - start
    print(f"  in process: set-up {setup_s:.2f} s, compute {compute_s:.2f} s ({1e3 * compute_s / n:.3f} ms per composition), "
          f"store {store_s:.2f} s ({1e3 * store_s / n:.3f} ms per composition)")
    sample = np.random.default_rng(0).choice(n, 20, replace=False)
    calculator = XRDCalculator(wavelength="CuKa1")
    start = time.perf_counter()
    for index in sample:
        structure = screener.structure(int(index))
        calculator.get_pattern(structure, two_theta_range=(10, 80))
        _ = structure.density
    pymatgen_each = (time.perf_counter() - start) / len(sample)
    ours_each = compute_s / n
    print(f"  peer: pymatgen (Structure + XRDCalculator + density) {1e3 * pymatgen_each:.1f} ms per composition on 20 sampled; "
          f"argyrodb {1e3 * ours_each:.3f} ms: ratio {pymatgen_each / ours_each:.0f}x "
          f"(the 10,001 with pymatgen: ~{pymatgen_each * n / 60:.0f} min)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1,001,000-composition run")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="argyrodb-bench-screen-") as name:
        folder = Path(name)
        empty = folder / "empty.sqlite"
        subprocess.run([*argyrodb_command(), "db", "build", "--db", str(empty), "--quiet"], check=True, stdout=subprocess.DEVNULL)
        bare = bare_python_s()

        print(f"1. argyrodb screen \"{ISSUE_COMMAND[0]}\" {' '.join(ISSUE_COMMAND[1:])} --db FILE (10,001 compositions), "
              "fresh database each time, wall clock including start-up:")
        walls = []
        for _k in range(3):
            db = fresh_copy(empty, folder, "issue.sqlite")
            wall, _, out = screen_process(db, ISSUE_COMMAND)
            walls.append(wall)
        wall = statistics.median(walls)
        per = bytes_per_composition(db, empty, 10_001)
        verdict = "PASS" if wall < TARGET_S else "FAIL"
        ok &= wall < TARGET_S
        print(f"  {wall:.2f} s wall (median of 3: {', '.join(f'{w:.2f}' for w in walls)}; bare python {1e3 * bare:.0f} ms) "
              f"target < {TARGET_S:g} s: {verdict}; {per:,.0f} bytes per composition stored")
        print(f"  ({out.strip().splitlines()[0]})")

        print("2. the same grid in one process, and the peer:")
        in_process_breakdown()

        print("3. bounded memory:")
        db = fresh_copy(empty, folder, "100k.sqlite")
        wall_100k, peak_100k, _ = screen_process(db, GRID_100K, "--quiet", memory=True)
        per_100k = bytes_per_composition(db, empty, 101_000)
        print(f"  101,000 compositions: {wall_100k:.1f} s wall ({1e3 * wall_100k / 101_000:.3f} ms each), peak memory "
              f"{peak_100k:.0f} MB, {per_100k:,.0f} bytes per composition")
        if args.quick:
            print("  1,001,000 compositions: skipped (--quick)")
        else:
            db = fresh_copy(empty, folder, "1m.sqlite")
            wall_1m, peak_1m, out = screen_process(db, GRID_1M, "--quiet", memory=True)
            per_1m = bytes_per_composition(db, empty, 1_001_000)
            bounded = peak_1m < 1.5 * peak_100k
            ok &= bounded
            print(f"  1,001,000 compositions: {wall_1m:.0f} s wall ({1e3 * wall_1m / 1_001_000:.3f} ms each), peak memory "
                  f"{peak_1m:.0f} MB = {peak_1m / peak_100k:.2f}x the 101,000 run's ({'bounded' if bounded else 'NOT BOUNDED'}); "
                  f"{per_1m:,.0f} bytes per composition, {db.stat().st_size / 1e6:.0f} MB file")
            db.unlink()

        cpus = os.cpu_count() or 1
        print(f"4. past one process: the 101,000-composition run on {cpus} CPUs (the command's process is the writer):")
        db = fresh_copy(empty, folder, "jobs.sqlite")
        wall_jobs, _, _ = screen_process(db, GRID_100K, "--quiet", "--jobs", str(cpus))
        db = fresh_copy(empty, folder, "dask.sqlite")
        try:
            wall_dask, _, _ = screen_process(db, GRID_100K, "--quiet", "--dask", "local", "--jobs", str(cpus))
        except SystemExit as exc:
            print(f"  --dask local: not run ({exc})")
            wall_dask = None
        print(f"  single process {wall_100k:.1f} s; --jobs {cpus}: {wall_jobs:.1f} s = {wall_100k / wall_jobs:.2f}x"
              + (f"; --dask local --jobs {cpus} (LocalCluster started and stopped in the run): {wall_dask:.1f} s = "
                 f"{wall_100k / wall_dask:.2f}x" if wall_dask else ""))
    print("screening targets met" if ok else "SCREENING TARGETS NOT MET")
    return 0


if __name__ == "__main__":
    sys.exit(main())
