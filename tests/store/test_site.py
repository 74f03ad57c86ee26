"""The researcher's pages of `argyrodb db serve` (issue 24), over HTTP from a real server on a free loopback port:
a page per material at /material/<formula> in any spelling with the numbers `db compare` gives, its CIF as a
download pymatgen reads, its simulated pattern as a plot; the landing page and its search answering what `db query`
answers; a bad parameter answers 400 with a message, never 500. The server is stopped and its port free after."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from fnmatch import fnmatch
from pathlib import Path

import pytest

pytest.importorskip("datasette")

from test_serve_limits import _get, _port_answers, serving  # tests/store is on sys.path, as pytest runs it

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(db_path, tmp_path_factory):
    """(base URL of the site, process); the test database is only read."""
    with serving(db_path, tmp_path_factory.mktemp("site-logs")) as (process, base):
        yield base.rsplit("/", 1)[0], process
    port = int(urllib.parse.urlsplit(base).port)
    assert process.poll() is not None and not _port_answers(port), "the server still answers after the tests"


def _page(url: str) -> str:
    status, body = _get(url)
    assert status == 200, (url, status, body[:500])
    return body.decode()


def _measurement_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="measurement" data-measurement="(\d+)"', html)]


def _cli(*args: str, db: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "argyrodb", *args, "--db", str(db)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.parametrize(("written", "normalised", "sigma"), [
    ("Li6PS5Cl1", "Li6PS5Cl", "2.05"),
    ("Li5.6PS4.6I0.6Cl0.8", "Li5.6PS4.6Cl0.8I0.6", "2.44"),
    ("ClLi6PS5", "Li6PS5Cl", "2.05"),
])
def test_a_material_page_in_any_spelling_shows_what_db_compare_shows(site, db_path, written, normalised, sigma):
    base, _ = site
    html = _page(f"{base}/material/{urllib.parse.quote(written)}")
    assert f"<h1>{normalised}</h1>" in html
    compared = json.loads(_cli("db", "compare", written, "--json", db=db_path))
    assert compared["formula"] == normalised
    values = [f"{m['sigma_mS_cm']:g}" for m in compared["exact_matches"]]
    assert sigma in values
    # every measurement of the composition, each σ shown in mS/cm, in the order highest first
    cells = re.findall(r'<tr class="measurement".*?<td class="num">([^<]*)</td>', html, flags=re.S)
    assert sorted(cells, key=float, reverse=True) == sorted(values, key=float, reverse=True)
    assert f"σ = {compared['sigma_mS_cm']:g} mS/cm: rank {compared['sigma_rank']} of {compared['sigma_of']}" in html
    assert "σ (mS/cm)" in html
    # the rank of each measurement among the argyrodite measurements, as the canned query counts it
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        higher = conn.execute("SELECT COUNT(*) FROM measurements_full WHERE sigma_mS_cm > ? AND duplicate_of IS NULL "
                              "AND structure_type IS NOT 'other'", [float(sigma)]).fetchone()[0]
    assert re.search(rf'<td class="num">{re.escape(sigma)}</td>.*?<td class="num">{higher + 1}</td>', html, flags=re.S)
    # the pattern plot (inline SVG with its axis) and the nearest literature materials
    assert "<svg" in html and "2θ (degrees)" in html
    for near in compared["nearest"][:3]:
        assert f">{near['formula']}</a>" in html


def test_a_predicted_a_is_marked_on_the_material_page_and_a_published_one_is_not(site):
    """LMA-Cl0.8I0.6's stored a is the lattice model's, extrapolated (Table S2 prints none): its cell says so, with
    the reason; Li6PS5Cl's structures carry published a values and no such note."""
    base, _ = site
    html = _page(f"{base}/material/Li5.6PS4.6Cl0.8I0.6")
    cell = re.search(r'<td class="num">(9\.98\d*)<br><span class="a-source note">([^<]*)</span></td>', html)
    assert cell, html[html.index("<h2 id=\"structures\""):][:2000]
    assert cell.group(2) == "lattice model, extrapolated: halide excess y - 1 = +0.4 has no calibration data"
    assert 'class="a-source' not in _page(f"{base}/material/Li6PS5Cl")


def test_the_cif_link_downloads_the_whole_file_which_pymatgen_reads(site, db_path, tmp_path):
    from pymatgen.core import Structure

    base, _ = site
    html = _page(f"{base}/material/Li5.6PS4.6I0.6Cl0.8")
    links = re.findall(r'href="(/structure/\d+\.cif)"', html)
    assert links
    with urllib.request.urlopen(base + links[0], timeout=30) as response:
        assert response.headers.get_content_type() == "chemical/x-cif"
        assert "attachment" in response.headers["content-disposition"]
        text = response.read().decode()
    structure_id = int(re.search(r"(\d+)\.cif", links[0]).group(1))
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        stored = conn.execute("SELECT cif_text FROM structures WHERE id = ?", [structure_id]).fetchone()[0]
    assert text == stored and len(text) > 1000  # the whole file, not the table cell's 120 characters
    path = tmp_path / "downloaded.cif"
    path.write_text(text)
    structure = Structure.from_file(path)
    assert structure.lattice.a == pytest.approx(9.9805, abs=0.01)  # the lattice model's a (9.988 before Kraft 2017's end members were excluded)
    assert {"Li", "P", "S", "Cl", "I"} <= {el.symbol for el in structure.composition.elements}


def test_the_landing_page_links_the_main_views_and_offers_element_chips(site):
    base, _ = site
    html = _page(base + "/")
    for link in ("/table_s3_as_printed", "/chart", "/measurements_full", "/screen_runs", 'action="/search"'):
        assert link in html, link
    for element in ("Cl", "Br", "I"):
        assert f'name="elements" value="{element}"' in html
    chart = _page(base + "/chart")
    assert 'src="/chart.png"' in chart
    assert 'src="/chart/composition.png"' in chart
    for png in ("/chart.png", "/chart/composition.png"):
        with urllib.request.urlopen(base + png, timeout=60) as response:
            assert response.headers.get_content_type() == "image/png" and response.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("written", ["Cl1Li6PS5", "li6ps5cl", " Li6PS5Cl "])
def test_a_formula_search_redirects_to_the_material_page(site, written):
    base, _ = site
    opener = urllib.request.build_opener(_NoRedirect)
    url = f"{base}/search?{urllib.parse.urlencode({'formula': written})}"
    if written == "li6ps5cl":  # lower case is not a formula: 400 with the parser's message
        status, body = _get(url)
        assert status == 400 and b"cannot parse formula" in body
        return
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(url, timeout=30)
    assert answer.value.code == 302 and answer.value.headers["location"].endswith("/material/Li6PS5Cl")


def test_a_formula_not_in_the_database_lists_its_nearest_materials(site):
    base, _ = site
    html = _page(f"{base}/search?formula=Li6PS5Cl0.9I0.1")
    assert "is not in the database" in html and ">Li6PS5Cl</a>" in html


@pytest.mark.parametrize(("query", "options"), [
    ({"elements": "I"}, ["--contains", "I"]),
    ({"elements": "Cl,I"}, ["--contains", "Cl", "--contains", "I"]),
    ({"elements": "Br", "sigma_min": "2"}, ["--contains", "Br", "--sigma-min", "2"]),
    ({"sigma_min": "1", "sigma_max": "5"}, ["--sigma-min", "1", "--sigma-max", "5"]),
    ({"process": "MM", "anode": "Li"}, ["--process", "MM", "--anode", "Li"]),
    ({"i_fraction_min": "0.4", "i_fraction_max": "0.8"}, ["--i-fraction-min", "0.4", "--i-fraction-max", "0.8"]),
    ({"elements": "Cl", "i_fraction_min": "0.5", "sigma_min": "1"}, ["--contains", "Cl", "--i-fraction-min", "0.5", "--sigma-min", "1"]),
    ({"i_fraction_max": "0"}, ["--i-fraction-max", "0"]),
])
def test_element_and_sigma_searches_return_what_db_query_returns(site, db_path, query, options):
    base, _ = site
    html = _page(f"{base}/search?{urllib.parse.urlencode(query)}")
    rows = json.loads(_cli("db", "query", *options, "--format", "json", "--columns", "measurement_id", db=db_path))
    expected = {r["measurement_id"] for r in rows}
    assert expected, "the comparison needs rows"
    assert sorted(_measurement_ids(html)) == sorted(expected)
    assert f"{len(expected)} measurement" in html
    # the I fraction each row shows lies in the range asked for (3 significant figures shown)
    cells = re.findall(r'<td class="num ifrac">([^<]*)</td>', html)
    assert len(cells) == len(expected)
    fractions = [float(f) for f in cells if f or "i_fraction_min" in query or "i_fraction_max" in query]  # no halide: blank
    assert all(float(query.get("i_fraction_min", 0)) - 5e-4 <= f <= float(query.get("i_fraction_max", 1)) + 5e-4 for f in fractions)


def test_chips_as_repeated_parameters_search_as_one_list(site):
    base, _ = site
    repeated = _measurement_ids(_page(f"{base}/search?elements=Cl&elements=I"))
    assert repeated == _measurement_ids(_page(f"{base}/search?elements=Cl+I"))


@pytest.mark.parametrize(("path", "message"), [
    ("/material/Xx9", "unknown element 'Xx'"),
    ("/material/", "cannot parse formula"),
    ("/material/Li6PS5Cl(", "cannot parse formula"),
    ("/structure/abc.cif", "is not a structure ID"),
    ("/search?elements=Qq", "'Qq' is not an element"),
    ("/search?sigma_min=abc", "sigma_min: 'abc' is not a number"),
    ("/search?sigma_min=nan", "not a finite number"),
    ("/search?sigma_min=5&sigma_max=1", "greater than the maximum"),
    ("/search?process=XX", "unknown process"),
    ("/search?sigma_min=1&sigma_min=2", "given 2 times"),
    ("/search?i_fraction_min=1.5", "1.5 is not a fraction I/(Cl+Br+I) between 0 and 1"),
    ("/search?i_fraction_max=abc", "i_fraction_max: 'abc' is not a number"),
    ("/search?i_fraction_min=0.8&i_fraction_max=0.2", "greater than the maximum"),
    ("/search?colour=red", "unknown search parameter"),
    ("/{db}/measurements_full?_next=abc", "_next='abc'"),
    ("/{db}/materials?_through=abc", "_through: 'abc' is not a JSON object"),
    ("/{db}/materials?_timelimit=abc", "_timelimit: 'abc' is not a positive integer"),
    ("/{db}/materials.json?_through=abc", "_through"),
    ("/{db}/materials?_through=[]", "is not a JSON object"),
    ('/{db}/materials?_through={{"table":1,"column":2,"value":3}}', "is not a JSON object"),
    ('/{db}/materials?_through={{"table":"nonexistent","column":"id","value":"1"}}', "could not find corresponding foreign key"),
    ("/{db}/materials.csv?_timelimit=-1", "_timelimit: '-1' is not a positive integer"),
    ("/{db}/materials?_timelimit=0", "_timelimit: '0' is not a positive integer"),
    ("/{db}/where_does_a_material_stand?formula=Xx", "unknown element 'Xx'"),
])
def test_bad_parameters_answer_400_with_a_message(site, db_path, path, message):
    base, _ = site
    status, body = _get(base + urllib.parse.quote(path.format(db=db_path.stem), safe="/?=&_.,"))
    assert status == 400, (path, status, body[:300])
    text = body.decode().replace("&#39;", "'")
    assert message in text, text[-1500:]


@pytest.mark.parametrize(("written", "normalised"), [("Li6PS5Cl1", "Li6PS5Cl"), ("Li5.6PS4.6I0.6Cl0.8", "Li5.6PS4.6Cl0.8I0.6")])
def test_the_canned_query_takes_any_spelling_of_a_formula(site, db_path, written, normalised):
    """It matched the exact normalised string and gave "0 results" silently for Li6PS5Cl1; now it redirects."""
    base, _ = site
    url = f"{base}/{db_path.stem}/where_does_a_material_stand.json?" + urllib.parse.urlencode({"formula": written, "_shape": "array"})
    with urllib.request.urlopen(url, timeout=30) as response:
        rows = json.load(response)
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(response.url).query)["formula"] == [normalised]
    compared = json.loads(_cli("db", "compare", written, "--json", db=db_path))
    assert sorted(r["sigma_mS_cm"] for r in rows) == sorted(m["sigma_mS_cm"] for m in compared["exact_matches"])


@pytest.mark.parametrize("path", ["/material/Li6PS5Cl/extra", "/nothing/here/at/all", "/structure/999999.cif"])
def test_unknown_pages_answer_404_not_500(site, path):
    """/material/Li5.6PS4.6I0.6Cl0.8 answered 500 before: no route matched and Datasette's 404 handler failed."""
    base, _ = site
    status, _ = _get(base + path)
    assert status == 404


def test_the_templates_ship_in_the_wheel():
    """setuptools takes only the package data pyproject.toml names: every template must match a pattern there."""
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["argyrodb.store"]
    store = REPO / "argyrodb" / "store"
    files = [p.relative_to(store).as_posix() for p in (store / "templates").iterdir() if p.is_file()]
    assert files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []


# --- readable tables (item 4) -------------------------------------------------------------------------------------

def _cell(html: str, column: str) -> list[str]:
    return re.findall(rf'<td class="col-{column} type-\w+">([^<]*)</td>', html)


def test_table_numbers_are_shown_to_their_column_precision_and_json_keeps_them(site, db_path):
    base, _ = site
    db = db_path.stem
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        a, z = conn.execute("SELECT a_angstrom, z FROM structures WHERE id = 1").fetchone()
    html = _page(f"{base}/{db}/structures?id=1")
    assert _cell(html, "a_angstrom") == [f"{a:.5f}".rstrip("0").rstrip(".")] and len(repr(a)) > 9  # 9.98842310115908
    assert _cell(html, "z") == ["4"] and z == 4.0
    sites = _page(f"{base}/{db}/structure_sites?_size=5")
    occupancies = [r["occupancy"] for r in json.loads(_page(f"{base}/{db}/structure_sites.json?_size=5&_shape=array"))]
    assert _cell(sites, "occupancy") == [f"{o:.4f}".rstrip("0").rstrip(".") for o in occupancies]
    rows = json.loads(_page(f"{base}/{db}/structures.json?id=1&_shape=array"))
    assert rows[0]["a_angstrom"] == a  # the stored value, unrounded


def test_a_structure_row_links_its_whole_cif(site, db_path):
    base, _ = site
    html = _page(f"{base}/{db_path.stem}/structures/1")
    assert 'href="/structure/1.cif"' in html


def test_every_column_with_a_unit_is_described_with_it_and_the_main_views_come_first(site, db_path):
    base, _ = site
    db = db_path.stem
    metadata = json.loads(_page(f"{base}/-/metadata.json"))["databases"][db]["tables"]
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        view_columns = [r[1] for r in conn.execute("PRAGMA table_info(measurements_full)")]
    described = metadata["measurements_full"]["columns"]
    assert [c for c in view_columns if c not in described] == []
    assert described["sigma_mS_cm"].endswith("[mS/cm]")
    for table, spec in metadata.items():
        for column, text in spec.get("columns", {}).items():
            if column.endswith(("_mS_cm", "_angstrom", "_deg", "_g_cm3")):
                assert "[" in text and text.split(" [")[0] != column.replace("_", " "), (table, column, text)
    index = _page(f"{base}/{db}")
    assert index.index("Start here") < index.index(">conditions</a>")
    assert f'href="/{db}/table_s3_as_printed"' in index.split("Start here")[1].split("</section>")[0]


def test_the_site_links_a_narrow_measurements_view_with_sigma_on_screen_and_formulas_linked(site, db_path):
    base, _ = site
    landing = _page(base + "/")
    url = re.search(r'href="([^"]*measurements_full\?[^"]*)"', landing).group(1).replace("&amp;", "&")
    html = _page(base + url)
    headers = re.findall(r'<th [^>]*data-column="(\w+)"', html)
    assert headers.index("sigma_mS_cm") < 4 and len(headers) <= 15
    assert 'href="/material/Li5.6PS4.6Cl0.8I0.6"' in html


def test_the_researchers_canned_queries_hide_their_sql(site, db_path):
    base, _ = site
    html = _page(f"{base}/{db_path.stem}/where_does_a_material_stand?formula=Li6PS5Cl")
    assert '<pre id="sql-query"' not in html and "_show_sql=1" in html and '<td class="col-sigma_mS_cm">2.05</td>' in html
    table = _page(f"{base}/{db_path.stem}/table_s3_as_printed")
    assert '<pre id="sql-query"' not in table and "_show_sql=1" in table


def test_row_pages_show_foreign_keys_by_their_label(site, db_path):
    """Datasette 0.65 expands foreign keys on table pages only; a measurement's row page showed material_id "1"."""
    base, _ = site
    db = db_path.stem
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        mid, material_id, formula, source_id, key = conn.execute(
            "SELECT m.id, m.material_id, mat.formula, m.source_id, s.key FROM measurements m JOIN materials mat ON mat.id = m.material_id "
            "JOIN sources s ON s.id = m.source_id WHERE m.id = 5").fetchone()
        structure_id, structure_material, structure_formula = conn.execute(
            "SELECT s.id, s.material_id, mat.formula FROM structures s JOIN materials mat ON mat.id = s.material_id LIMIT 1").fetchone()
    html = _page(f"{base}/{db}/measurements/{mid}")
    assert f'<td class="col-material_id type-int"><a href="/{db}/materials/{material_id}">{formula}</a>&nbsp;<em>{material_id}</em></td>' in html
    assert f'<a href="/{db}/sources/{source_id}">{key}</a>&nbsp;<em>{source_id}</em>' in html
    html = _page(f"{base}/{db}/structures/{structure_id}")
    assert f'<a href="/{db}/materials/{structure_material}">{structure_formula}</a>&nbsp;<em>{structure_material}</em>' in html
    # the JSON keeps the stored number
    rows = json.loads(_page(f"{base}/{db}/measurements/{mid}.json?_shape=array"))
    assert rows[0]["material_id"] == material_id


# --- units in the JSON, filters with units, descriptions (item 5) --------------------------------------------------

def test_the_json_gives_units_pint_reads_and_cells_stay_as_stored(site, db_path):
    from datasette.views.base import ureg

    base, _ = site
    db = db_path.stem
    data = json.loads(_page(f"{base}/{db}/measurements_full.json?_size=1&_extra=units"))
    units = data["units"]
    assert units["sigma_mS_cm"] == "mS/cm" and units["ccd_mA_cm2"] == "mA/cm^2" and units["temperature_K"] == "K"
    for table in ("structures", "xrd_peaks", "refinements", "milling"):
        table_units = json.loads(_page(f"{base}/{db}/{table}.json?_size=0&_extra=units"))["units"]
        assert table_units, table
        for column, unit in table_units.items():
            assert ureg(unit).magnitude == 1, (table, column, unit)
    structures = json.loads(_page(f"{base}/{db}/structures.json?_size=0&_extra=units"))["units"]
    assert structures["a_angstrom"] == "angstrom" and structures["density_g_cm3"] == "g/cm^3"
    assert "charge_per_fu" not in structures  # 'e per formula unit' is no pint unit: in the description only
    eis = json.loads(_page(f"{base}/{db}/eis_fits.json?_size=0&_extra=units"))["units"]
    assert eis.get("r_ohm") == "ohm" and "cpe_t_F_s_alpha_minus_1" not in eis  # pint reads 'alpha' as a constant
    # the page shows Table S3's 2.44 as stored, not Datasette's pint rendering (0.244 S/m)
    html = _page(f"{base}/{db}/measurements_full?dataset=table_s3&dataset_row=1&_col=sigma_mS_cm")
    assert _cell(html, "sigma_mS_cm") == ["2.44"]


def test_a_filter_may_give_a_quantity_in_other_units(site, db_path):
    base, _ = site
    db = db_path.stem

    def ids(query: str) -> list[int]:
        rows = json.loads(_page(f"{base}/{db}/measurements_full.json?_shape=array&_col=measurement_id&_col=sigma_mS_cm&_size=max&{query}"))
        return sorted(r["measurement_id"] for r in rows)

    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        expected = sorted(r[0] for r in conn.execute("SELECT measurement_id FROM measurements_full WHERE sigma_mS_cm > 2"))
    assert expected
    assert ids("sigma_mS_cm__gt=2") == expected
    assert ids("sigma_mS_cm__gt=" + urllib.parse.quote("0.002 S/cm")) == expected  # 0.002 S/cm = 2 mS/cm
    assert ids("sigma_mS_cm__gt=" + urllib.parse.quote("0.2 S/m")) == expected


@pytest.mark.parametrize(("query", "message"), [
    ("sigma_mS_cm__gt=abc", "'abc' is not a number or a number with a unit"),
    ("sigma_mS_cm__gt=1 K", "'1 K' is neither a number nor a quantity in mS/cm"),
    ("sigma_mS_cm=1,5", "'1,5' is not a number"),  # pint would read 15
    ("sigma_mS_cm__in=1,2", "sigma_mS_cm has a unit (mS/cm)"),
    ("sigma_mS_cm__contains=2", "sigma_mS_cm has a unit (mS/cm)"),
])
def test_bad_filters_on_columns_with_units_answer_400(site, db_path, query, message):
    base, _ = site
    column, value = query.split("=", 1)
    status, body = _get(f"{base}/{db_path.stem}/measurements_full?{column}={urllib.parse.quote(value)}")
    assert status == 400, (query, status)
    assert message in body.decode().replace("&#39;", "'")


def test_every_column_is_described_and_no_description_repeats_its_name(db_path):
    """Descriptions like `z: z` or `material_id: material id` said nothing; every column of every table and view of the
    database is described, in words other than its name."""
    from argyrodb.store.serve import column_descriptions

    described = column_descriptions()
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                                              "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_fts%'")]
        columns = {t: [r[0] for r in conn.execute("SELECT name FROM pragma_table_info(?)", [t])] for t in tables}

    def letters(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", text.lower())

    undescribed = [(t, c) for t in tables for c in columns[t] if c not in described.get(t, {})]
    assert undescribed == []
    repeats = [(t, c) for t in tables for c in columns[t]
               if letters(described[t][c].split(" [")[0].split(" (page:")[0]) in (letters(c), letters(c) + "s")]
    assert repeats == []
