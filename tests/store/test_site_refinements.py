"""A material page lists the powder refinements stored for it (issue 24 item 2): `argyrodb refine --db` on the
synthetic Li6PS5Cl pattern (tests/data/refine/cl_pure.xye, its truth a = 9.85 A) stores a refinement; the page of
Li6PS5Cl, served from that database, shows its date, a, wt %, R_wp, GoF as stored, with links to the row and to the
refined structure's CIF; a material with none says "None stored"."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.parse

import pytest

pytest.importorskip("datasette")

from test_serve_limits import _get, _port_answers, serving  # tests/store is on sys.path, as pytest runs it

from argyrodb_testing import DATA


@pytest.fixture(scope="module")
def refined_site(db_path, tmp_path_factory):
    """(base URL of the site, its database) after one `argyrodb refine --db`."""
    folder = tmp_path_factory.mktemp("refined-site")
    db = folder / "refined.sqlite"
    shutil.copy(db_path, db)
    result = subprocess.run([sys.executable, "-m", "argyrodb", "refine", str(DATA / "refine" / "cl_pure.xye"), "--start",
                             str(DATA / "refine" / "cl_pure.start.yaml"), "--db", str(db)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    with serving(db, folder) as (process, base):
        yield base.rsplit("/", 1)[0], db
    assert process.poll() is not None and not _port_answers(urllib.parse.urlsplit(base).port)


def test_the_material_page_shows_its_stored_refinement(refined_site):
    base, db = refined_site
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rid, name, gof, r_wp, a, a_esd, created, structure_id = conn.execute(
            "SELECT id, name, gof, r_wp, a_angstrom, a_esd_angstrom, created_at, structure_id FROM refinements").fetchone()
    assert a == pytest.approx(9.85, abs=0.01)  # the synthetic pattern's truth, so the row is the fit of that file
    status, body = _get(f"{base}/material/Li6PS5Cl1")  # any spelling
    assert status == 200
    html = body.decode()
    row = re.search(rf'<tr class="refinement" data-refinement="{rid}">(.*?)</tr>', html, flags=re.S)
    assert row, html[html.find('id="refinements"'):][:2000]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), flags=re.S)
    assert cells[0] == created[:10]
    assert f'href="/{db.stem}/refinements/{rid}">{name}</a>' in cells[1]
    assert cells[2] == "cl_pure.xye" and cells[3] == "rietveld"
    assert cells[4] == f"{float(f'{a:.6g}'):g} ± {float(f'{a_esd:.2g}'):g}"
    assert cells[5].endswith(" 100")  # one phase: 100 wt %
    assert cells[6] == f"{100 * r_wp:.3g}" and cells[7] == f"{gof:.3g}"  # R_wp stored as a fraction, shown in %
    assert f'href="/structure/{structure_id}.cif"' in cells[8]
    status, cif = _get(f"{base}/structure/{structure_id}.cif")
    assert status == 200 and b"_cell_length_a" in cif
    assert "Refinements and measured patterns (1)" in html


def test_a_material_without_refinements_says_none_stored(refined_site):
    base, _ = refined_site
    status, body = _get(f"{base}/material/Li6PS5Br")
    assert status == 200
    html = body.decode()
    assert "Refinements and measured patterns (0)" in html and 'class="none-stored">None stored' in html
    assert 'class="refinement"' not in html
