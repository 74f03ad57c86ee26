"""Screenshots of the Datasette pages people open, for a person to look at (`make check-web`).

Serves a copy of the given database with `argyrodb db serve` on a free localhost port, takes a headless-Chromium
screenshot of each main page into the output folder, stops the server (and checks that its port is free again), and
prints the files. The copy first gets one stored refinement - `argyrodb refine --db` on the synthetic Li6PS5Cl
pattern of the tests (tests/data/refine/cl_pure.xye) - so the material page's refinement section is shown filled;
the database given is not changed. Needs Debian's chromium (`make check-web` installs chromium and chromium-driver
when missing).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from argyrodb.store.site import measurements_view_path

#: Page name -> path on the server ({db}: the database's name in Datasette; {measurements}: the measurements view with
#: the site's narrow column set). The researcher's pages first (issue 24).
PAGES = {
    "landing": "",
    "search_elements_sigma": "search?elements=Cl&elements=I&sigma_min=2",
    "material_Li5.6PS4.6I0.6Cl0.8": "material/Li5.6PS4.6I0.6Cl0.8",
    "material_Li6PS5Cl1": "material/Li6PS5Cl1",  # with the refinement stored into the copy
    "search_halide_fraction": "search?elements=Cl&i_fraction_min=0.5&i_fraction_max=0.9",
    "row_measurement_labels": "{db}/measurements/1",
    "chart": "chart",
    "bad_parameter_400": "search?sigma_min=abc",
    "index": "{db}",
    "table_s3": "{db}/table_s3",
    "measurements": "{measurements}",
    "measurements_full": "{db}/measurements_full?_sort_desc=sigma_mS_cm",
    "structures": "{db}/structures",
    "measurement_structures": "{db}/measurement_structures",
    "where_does_a_material_stand": "{db}/where_does_a_material_stand?formula=Li6PS5Cl",
}
#: Window heights (pixels) of the long pages; every other page is shot at 1400 x 1000.
HEIGHTS = {"material_Li5.6PS4.6I0.6Cl0.8": 2000, "material_Li6PS5Cl1": 2600, "search_elements_sigma": 1500, "chart": 1700,
           "search_halide_fraction": 1500}


#: The refinement stored into the copy: the synthetic Li6PS5Cl pattern the tests refine (truth a = 9.85 A).
REFINE_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "refine"


def store_refinement(db: Path) -> None:
    """`argyrodb refine cl_pure.xye --start cl_pure.start.yaml --db db` (about 15 s)."""
    subprocess.run([sys.executable, "-m", "argyrodb", "refine", str(REFINE_DATA / "cl_pure.xye"), "--start",
                    str(REFINE_DATA / "cl_pure.start.yaml"), "--db", str(db)], check=True, capture_output=True, timeout=600)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shoot(chromium: str, db: Path, port: int, out: Path) -> int:
    """Serve ``db`` on ``port`` and screenshot every page of :data:`PAGES` into ``out``; 0, or 1 when the server does
    not start. The server is stopped on the way out."""
    server = subprocess.Popen([sys.executable, "-m", "argyrodb", "db", "serve", "--db", str(db), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}/"
    base = root + db.stem
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base, timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print("check-web: the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.3)
        narrow = measurements_view_path(db.stem).lstrip("/")
        for name, path in PAGES.items():
            target = out / f"{name}.png"
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                            "--disable-background-networking", "--disable-component-update", "--disable-sync",
                            f"--user-data-dir={out / '.chromium'}", f"--window-size=1400,{HEIGHTS.get(name, 1000)}",
                            f"--screenshot={target.resolve()}", root + path.format(db=db.stem, measurements=narrow)],
                           check=True, capture_output=True, timeout=120)
            print(f"wrote {target}")
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(out / ".chromium", ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--out", default=Path("out/web"), type=Path)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("check-web: chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="check-web-"))
    try:
        db = scratch / args.db.name
        source, copy = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True), sqlite3.connect(db)
        try:
            source.backup(copy)  # the WAL of a database being written is included
        finally:
            source.close()
            copy.close()
        store_refinement(db)
        port = free_port()
        status = shoot(chromium, db, port, args.out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if status:
        return status
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            print(f"check-web: port {port} still answers after SIGTERM", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
