"""The audit: every derived number of the source recomputed, verdicts from the printed precision."""

from __future__ import annotations

import json

import pytest
from argyrodb_testing import run

from argyrodb.audit import CONSISTENT, INCONSISTENT, NOTE, printed_interval, run_audit
from argyrodb.core.errors import InputError


@pytest.fixture(scope="module")
def rows():
    return run_audit()


def _find(rows, table, row, column_start=""):
    return [r for r in rows if r.table == table and r.row == row and r.column.startswith(column_start)]


def test_printed_interval():
    assert printed_interval("30") == (29.5, 30.5)
    assert printed_interval("1.73E-08") == pytest.approx((1.725e-8, 1.735e-8))
    assert printed_interval("2.6070") == pytest.approx((2.60695, 2.60705))


def test_table_s1_reproduced(rows):
    s1 = [r for r in rows if r.table == "Table S1" and r.row.isdigit()]
    assert len(s1) == 6 and all(r.verdict == CONSISTENT for r in s1)
    header = _find(rows, "Table S1", "header")[0]
    assert header.verdict == INCONSISTENT and "radius" in header.reason


def test_every_table_s4_capacitance_is_reproduced_or_explained(rows):
    capacitances = [r for r in rows if r.table == "Table S4" and r.column.startswith("C_")]
    assert len(capacitances) == 30
    bad = {(r.row, r.column.split()[0]): r for r in capacitances if r.verdict == INCONSISTENT}
    assert set(bad) == {("LMA-Cl0.8I0.6 cycle 1", "C_i-1"), ("LMA-Cl0.8I0.6 cycle 80", "C_i-2"),
                        ("LMA-Cl0.8I0.6 cycle 100", "C_i-2"), ("LMA-Cl0.8I0.6 cycle 60", "C_i-4")}
    assert "CPE-T were 5.17E-05" in bad[("LMA-Cl0.8I0.6 cycle 80", "C_i-2")].reason
    assert "C = 2.15E-07 does" in bad[("LMA-Cl0.8I0.6 cycle 100", "C_i-2")].reason
    assert "cycle 1, where it does follow" in bad[("LMA-Cl0.8I0.6 cycle 60", "C_i-4")].reason
    assert "no single slip" in bad[("LMA-Cl0.8I0.6 cycle 1", "C_i-1")].reason
    assert all(r.reason for r in capacitances)


def test_cpe_p_below_the_stated_bound(rows):
    low = [r for r in rows if r.table == "Table S4" and r.column.startswith("CPE-P")]
    assert sorted(r.reported for r in low) == ["0.420", "0.448", "0.472", "0.486", "0.487", "0.492", "0.493", "0.493", "0.493", "0.496", "0.497"]


def test_table_s2_and_s3(rows):
    s2 = [r for r in rows if r.table == "Table S2"]
    assert {r.reported for r in s2 if r.column == "Site"} == {"4c"}
    assert any(r.reported == "0.8322" for r in s2) and any(r.reported == "1.0004" for r in s2)
    # Shannon-radii contacts: Li4 1.86 A from S1 is inconsistent; the split-site Li-Li contacts are notes
    contacts = [r for r in s2 if r.column == "short_distance"]
    assert sorted(r.verdict for r in contacts) == [INCONSISTENT, NOTE, NOTE]
    s3 = {r.row: r for r in rows if r.table == "Table S3"}
    assert {k for k, r in s3.items() if r.verdict == INCONSISTENT} == {"3", "5", "10", "11", "12", "13", "16"}


def test_printed_elastic_formulas(rows):
    formulas = {r.column: r for r in rows if r.table == "Experimental section" and r.column.endswith(("ratio", "modulus"))}
    assert formulas["shear_modulus"].verdict == CONSISTENT
    assert formulas["youngs_modulus"].verdict == CONSISTENT
    assert formulas["poisson_ratio"].verdict == INCONSISTENT and "density^1" in formulas["poisson_ratio"].reason
    assert formulas["bulk_modulus"].verdict == INCONSISTENT


def test_notes_and_naming(rows):
    assert sum(r.verdict == NOTE for r in rows) == 4 + 2  # 4 copied-looking Table S4 cells, 2 Li-Li split-site contacts
    assert sum(r.table == "naming" for r in rows) == 6


def test_audit_cli_json():
    result = run("audit", "--json")
    payload = json.loads(result.stdout)
    assert payload["summary"]["Table S1"] == {CONSISTENT: 6, INCONSISTENT: 1}
    assert len(payload["rows"]) == len(run_audit())
    result = run("audit", "--summary")
    assert "audit summary" in result.stdout and result.returncode == 0


def test_audit_expressions_accept_scientific_notation():
    from argyrodb.audit import _evaluate

    assert _evaluate("rho * vs**2 * 1e-9", rho=1900.0, vs=2200.0, vl=4000.0) == pytest.approx(9.196)
    with pytest.raises(InputError):
        _evaluate("__import__('os')", rho=1.0, vs=1.0, vl=1.0)
