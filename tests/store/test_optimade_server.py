"""The OPTIMADE API of `argyrodb db serve` (issue 24 item 5): optimade-python-tools' own validator against the
running server, finding no failure; the filter language against the database's contents read with SQL (which
structures contain iodine, how many elements each has, ...); the site disorder of the served entries against the
stored occupancies; pagination, response_fields, and every unsupported or bad request answered with an OPTIMADE
error document (400, 404, 501, 553), never 500."""

from __future__ import annotations

import json
import random
import sqlite3
import urllib.parse
import urllib.request
from collections import defaultdict

import pytest

pytest.importorskip("datasette")
pytest.importorskip("optimade")

from test_serve_limits import _get, _port_answers, serving  # tests/store is on sys.path, as pytest runs it

from argyrodb.store import optimade_server
from argyrodb.store.export import optimade_entries


@pytest.fixture(scope="module")
def api(db_path, tmp_path_factory):
    """The versioned base URL of the running server's OPTIMADE API."""
    with serving(db_path, tmp_path_factory.mktemp("optimade-logs")) as (process, base):
        yield base.rsplit("/", 1)[0] + "/optimade/v1"
    port = urllib.parse.urlsplit(base).port
    assert process.poll() is not None and not _port_answers(port)


@pytest.fixture(scope="module")
def served(db_path):
    return optimade_server.entries(db_path)


def _json(url: str) -> tuple[int, dict]:
    status, body = _get(url)
    return status, json.loads(body)


def _ids(api: str, text: str) -> set[str]:
    status, doc = _json(f"{api}/structures?" + urllib.parse.urlencode({"filter": text, "page_limit": 100, "response_fields": "id"}))
    assert status == 200, doc
    assert doc["meta"]["data_returned"] == len(doc["data"]) and not doc["meta"]["more_data_available"]
    return {e["id"] for e in doc["data"]}


def _entry_id(name: str) -> str:
    return "argyrodb-" + "_".join(name.split())  # as export.optimade_entries names them


def _sql_ids(db_path, sql: str, params=()) -> set[str]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return {_entry_id(r[0]) for r in conn.execute(sql, params)}


def _refined_elements(db_path) -> dict[str, set[str]]:
    """Entry ID -> the elements of the structure's refined composition, read with SQLite's json_each (not the
    Python code the entries come from)."""
    out: dict[str, set[str]] = defaultdict(set)
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        for name, element in conn.execute("SELECT s.name, j.key FROM structures s, json_each(s.refined_amounts_json) j "
                                          "WHERE j.value > 0"):
            out[_entry_id(name)].add(element)
    return out


def test_optimade_validator_finds_no_failure(api, capsys):
    from optimade.validator import ImplementationValidator

    random.seed(24)  # the validator builds its filters from a randomly chosen entry
    validator = ImplementationValidator(base_url=api, verbosity=-1, respond_json=True, run_optional_tests=True)
    validator.validate_implementation()
    results = validator.results
    summary = (f"passed {results.success_count} of {results.success_count + results.failure_count + results.internal_failure_count}, "
               f"optional {results.optional_success_count} of {results.optional_success_count + results.optional_failure_count}")
    with capsys.disabled():
        print(f"\noptimade-validator against {api}: {summary}")
    assert results.failure_count == 0, results.failure_messages
    assert results.internal_failure_count == 0, results.internal_failure_messages
    assert results.optional_failure_count == 0, results.optional_failure_messages
    assert validator.valid is True
    assert results.success_count >= 40  # the whole suite ran: info, versions, paging, one entry, every property's filters


def test_the_api_serves_the_entries_db_export_writes(api, db_path):
    status, doc = _json(f"{api}/structures?page_limit=100")
    assert status == 200
    exported = optimade_entries(db_path)
    assert [e["id"] for e in doc["data"]] == [e["id"] for e in exported] and len(exported) == doc["meta"]["data_available"]
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        assert len(exported) == conn.execute("SELECT COUNT(*) FROM structures").fetchone()[0]
    for served, written in zip(doc["data"], exported):
        for key, value in written["attributes"].items():
            if isinstance(value, float) and value != value:  # NaN (a NULL text column through pandas) is served as null
                assert served["attributes"][key] is None
            else:
                assert served["attributes"][key] == value, (served["id"], key)


def test_elements_has_i_gives_exactly_the_iodine_structures_of_the_structures_table(api, db_path):
    refined = _refined_elements(db_path)
    iodine = {i for i, els in refined.items() if "I" in els}
    assert 5 <= len(iodine) < len(refined)
    assert _ids(api, 'elements HAS "I"') == iodine
    # the nominal materials' element lists (materials.elements, which `db query --contains` searches) agree here
    assert iodine == _sql_ids(db_path, "SELECT s.name FROM structures s JOIN materials m ON m.id = s.material_id "
                                       "WHERE m.elements LIKE '%,I,%'")


@pytest.mark.parametrize(("text", "expected"), [
    ('elements HAS ALL "Li","P"', lambda els: {"Li", "P"} <= els),
    ('elements HAS ANY "Br","I"', lambda els: bool({"Br", "I"} & els)),
    ('elements HAS ONLY "Li","P","S","Cl"', lambda els: els <= {"Li", "P", "S", "Cl"}),
    ("nelements=4", lambda els: len(els) == 4),
    ("nelements>=5", lambda els: len(els) >= 5),
    ("4 < nelements", lambda els: len(els) > 4),
    ("elements LENGTH 5", lambda els: len(els) == 5),
    ('elements HAS "Cl" AND elements HAS "I"', lambda els: {"Cl", "I"} <= els),
    ('elements HAS "Cl" OR elements HAS "I"', lambda els: bool({"Cl", "I"} & els)),
    ('NOT elements HAS "Br"', lambda els: "Br" not in els),
    ('elements HAS "Br" AND NOT (elements HAS "Si" OR elements HAS "Se")', lambda els: "Br" in els and not {"Si", "Se"} & els),
    ('nelements=3 OR nelements=4 AND elements HAS "Cl"', lambda els: len(els) == 4 and "Cl" in els),  # AND binds tighter
])
def test_filters_on_elements_agree_with_the_stored_compositions(api, db_path, text, expected):
    refined = _refined_elements(db_path)
    wanted = {i for i, els in refined.items() if expected(els)}
    assert wanted, "the comparison needs structures"
    assert _ids(api, text) == wanted


def test_formula_and_id_filters(api, db_path, served):
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        name, refined_formula = conn.execute("SELECT name, refined_formula FROM structures WHERE name = 'Li6PS5Cl'").fetchone()
    # Li6PS5Cl's reduced formula, written out: elements alphabetically, integer counts (Cl 1, Li 6, P 1, S 5)
    reduced = _ids(api, 'chemical_formula_reduced="ClLi6PS5"')
    assert _entry_id(name) in reduced
    assert reduced == {e["id"] for e in served if e["attributes"]["chemical_formula_reduced"] == "ClLi6PS5"}
    assert _ids(api, f'chemical_formula_descriptive="{refined_formula}"') == {e["id"] for e in served
                                                                          if e["attributes"]["chemical_formula_descriptive"] == refined_formula}
    assert _ids(api, f'id="{_entry_id(name)}"') == {_entry_id(name)}
    assert _ids(api, f'"{_entry_id(name)}" = id') == {_entry_id(name)}
    assert _ids(api, 'id STARTS WITH "argyrodb-OBELiX"') == _sql_ids(db_path, "SELECT name FROM structures WHERE name LIKE 'OBELiX%'")
    assert _ids(api, 'chemical_formula_anonymous="A6B5CD"') >= {_entry_id(name)}


def test_provider_fields_filter_and_unknown_values(api, db_path):
    """_argyrodb_sigma_ms_cm is known for the structures whose material has a measurement of the source's own work."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        own = {_entry_id(n) for n, in conn.execute(
            "SELECT s.name FROM structures s WHERE EXISTS (SELECT 1 FROM measurements_full m WHERE m.material_id = s.material_id "
            "AND m.own_work = 1 AND m.sigma_mS_cm IS NOT NULL)")}
        high = {_entry_id(n) for n, in conn.execute(
            "SELECT s.name FROM structures s WHERE (SELECT m.sigma_mS_cm FROM measurements_full m WHERE m.material_id = s.material_id "
            "AND m.own_work = 1 LIMIT 1) > 2")}
    assert own and high
    assert _ids(api, "_argyrodb_sigma_ms_cm IS KNOWN") == own
    assert _ids(api, "_argyrodb_sigma_ms_cm > 2") == high
    everything = _ids(api, "")
    assert _ids(api, "_argyrodb_sigma_ms_cm IS UNKNOWN") == everything - own
    # another provider's property is unknown for every entry: comparisons false, no error
    assert _ids(api, "_otherdb_band_gap > 1") == set()
    assert _ids(api, "NOT _otherdb_band_gap > 1") == everything


def test_species_carry_the_stored_site_disorder(served, db_path):
    """Each position's species: its elements with the stored occupancies (rounded to 1e-6) and the vacancy that fills
    it to 1; here the S/Cl/I mixing at 4a and 4c of the source's own LMA-Cl0.8I0.6 structure. The stored 4a occupancies
    add up to 1.0004 (each printed to 4 decimals): the position is scaled to 1, as the analysis that stored it does."""
    entry = next(e for e in served if e["id"] == "argyrodb-LMA-Cl0.8I0.6")
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT ss.label, ss.element, ss.occupancy FROM structure_sites ss JOIN structures s "
                            "ON s.id = ss.structure_id WHERE s.name = 'LMA-Cl0.8I0.6'").fetchall()
    stored = {label: (element, occupancy) for label, element, occupancy in rows}
    mixed = [s for s in entry["attributes"]["species"] if len([x for x in s["chemical_symbols"] if x != "vacancy"]) > 1]
    assert mixed, "no mixed site"
    for species in entry["attributes"]["species"]:
        assert sum(species["concentration"]) == pytest.approx(1.0, abs=2e-6)
        labels = [label for label in stored if label in species["name"].split("_")]
        assert labels
        scale = min(1.0, 1.0 / sum(stored[label][1] for label in labels))
        for label in labels:
            element, occupancy = stored[label]
            i = species["chemical_symbols"].index(element)
            assert species["concentration"][i] == pytest.approx(occupancy * scale, abs=1e-6)
    assert set(entry["attributes"]["species_at_sites"]) == {s["name"] for s in entry["attributes"]["species"]}


def test_pages_follow_next_links_through_every_entry_once(api, served):
    url = f"{api}/structures?page_limit=7&response_fields=nelements"
    seen: list[str] = []
    while url:
        status, doc = _json(url)
        assert status == 200 and len(doc["data"]) <= 7
        assert all(set(e["attributes"]) == {"nelements"} for e in doc["data"])
        seen.extend(e["id"] for e in doc["data"])
        url = doc["links"]["next"]
    assert seen == [e["id"] for e in served]
    status, doc = _json(f"{api}/structures?page_offset=1000")
    assert status == 200 and doc["data"] == [] and doc["meta"]["data_returned"] == len(served)
    status, doc = _json(f"{api}/structures?sort=-nelements,id&page_limit=100&response_fields=nelements")
    keys = [(-e["attributes"]["nelements"], e["id"]) for e in doc["data"]]
    assert keys == sorted(keys)


def test_single_entry_info_versions_and_links(api, db_path, served):
    odd = next(e["id"] for e in served if "(" in e["id"])  # IDs with parentheses, URL-encoded
    status, doc = _json(f"{api}/structures/{urllib.parse.quote(odd)}")
    assert status == 200 and doc["data"]["id"] == odd
    status, doc = _json(f"{api}/info")
    assert status == 200 and doc["data"]["attributes"]["available_api_versions"] == [{"url": api, "version": "1.2.0"}]
    status, doc = _json(f"{api}/info/structures")
    assert status == 200 and doc["data"]["properties"]["_argyrodb_sigma_ms_cm"]["unit"] == "mS/cm"
    assert doc["data"]["properties"]["nelements"]["type"] == "integer"
    status, doc = _json(f"{api}/links")
    assert status == 200 and doc["data"] == []
    with urllib.request.urlopen(api.rsplit("/", 1)[0] + "/versions", timeout=30) as response:
        assert response.read().decode().split() == ["version", "1"]
        assert response.headers["content-type"].replace(" ", "") == "text/csv;header=present"


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/structures?filter=nelements>=", 400, "does not parse"),
    ("/structures?filter=crazyfield = 2", 400, "not a known property"),
    ("/structures?filter=_argyrodb_nothing = 2", 400, "not a known property"),
    ('/structures?filter=nelements = "4"', 400, "compare it with a number"),
    ('/structures?filter=elements = "I"', 400, "use HAS"),
    ("/structures?filter=id > 3", 400, "is a string"),
    ('/structures?filter=last_modified > "yesterday"', 400, "not a timestamp"),
    ('/structures?filter=nelements HAS 3', 400, "applies to lists"),
    ("/structures?filter=references.id = 1", 501, "nested properties"),
    ('/structures?filter=elements:elements_ratios HAS "Li":>0.4', 501, "zipped lists"),
    ('/structures?filter="a" = "b"', 501, "two constants"),
    ('/structures?filter=species HAS "I"', 501, "species"),
    ("/structures?filter=nelements = TRUE", 501, "boolean"),
    ("/structures?filter=nelements = nsites", 501, "another property"),
    ("/structures?page_limit=0", 400, "page_limit=0"),
    ("/structures?page_limit=101", 400, "out of range"),
    ("/structures?page_offset=-1", 400, "not a non-negative integer"),
    ("/structures?page_number=2", 501, "page_offset"),
    ("/structures?colour=red", 400, "unknown query parameter"),
    ("/structures?response_format=xml", 400, "only json"),
    ("/structures?response_fields=colour", 400, "not a property"),
    ("/structures?sort=elements", 400, "does not sort"),
    ("/structures?filter=1&filter=2", 400, "given 2 times"),
    ("/structures/nothing-here", 404, "no structure with ID"),
    ("/calculations", 404, "not an endpoint"),
    ("/versions", 404, "not an endpoint"),
    ("/../v2/info", 553, "not served"),
    # hostile filters: 2,000 nested parentheses overflowed the compiler's recursion (HTTP 500 after 5 s); 5,000 ORs
    # (75 kB) kept lark's parser 7 s
    ("/structures?filter=" + "(" * 2000 + "nelements=4" + ")" * 2000, 400, "at most 4000"),
    ("/structures?filter=" + "(" * 70 + "nelements=4" + ")" * 70, 400, "nested 70 deep"),
    ("/structures?filter=" + "NOT " * 65 + "nelements=4", 400, "nested 65 deep"),
    ("/structures?filter=" + " OR ".join(f"nelements={i}" for i in range(5000)), 400, "at most 4000"),
])
def test_bad_requests_answer_an_optimade_error_document(api, path, status, message):
    from optimade.models import ErrorResponse

    url = api + urllib.parse.quote(path, safe="/?=&")
    if path.startswith("/.."):
        url = api.rsplit("/", 1)[0] + path[3:]
    got, body = _get(url)
    assert got == status, (path, got, body[:300])
    doc = json.loads(body)
    ErrorResponse(**doc)  # a valid OPTIMADE error document
    assert doc["errors"][0]["status"] == str(status) and message in doc["errors"][0]["detail"], doc["errors"]


def test_compile_filter_without_a_server(served):
    """The filter module on its own (what the server calls): the same answers as over HTTP, a bad filter raised."""
    # parentheses inside a quoted string are not nesting; 60 levels are taken
    assert optimade_server._nesting('id = "((((((" AND NOT nelements = 3') == 1
    nested = optimade_server.select(served, "(" * 60 + "nelements >= 5" + ")" * 60)
    assert nested == optimade_server.select(served, "nelements >= 5")
    iodine = optimade_server.select(served, 'elements HAS "I" AND nelements >= 5')
    assert iodine and all("I" in e["attributes"]["elements"] and e["attributes"]["nelements"] >= 5 for e in iodine)
    with pytest.raises(optimade_server.OptimadeError) as error:
        optimade_server.select(served, "nelements >>= 3")
    assert error.value.status == 400
