"""The audit: every derived number of the source recomputed, verdicts from the printed precision."""

from __future__ import annotations

import itertools
import json

import pytest

from argyrodb.audit import CONSISTENT, INCONSISTENT, NOTE, printed_interval, run_audit
from argyrodb.core.errors import InputError
from argyrodb_testing import run


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


def _groups(rows):
    from argyrodb.audit import slips

    return {group[0].slip: group for group in slips(rows)}


def test_one_slip_seen_in_several_rows_is_one_slip(rows):
    groups = _groups(rows)
    sizes = {key: len(group) for key, group in groups.items() if len(group) > 1}
    assert sizes == {
        "gforce_radius_vs_diameter: Table S1 header": 2,  # Table S1 header + the naming row (naming.yaml check)
        "Table S2 | S2/Cl1/I1 @ 4a | occupancy sum": 2,  # 1.0004: normalised, and the stated sum = 1 broken
        "table_s2_wyckoff: S3/Cl2/I2 @ 4d printed 4c": 4,  # S3, Cl2, I2 rows + the naming row
        "Table S2 | all sites | refined composition differs from the nominal one": 5,  # Li, S, Cl, I + the charge
        "Table S4 | CPE-P [every element] | below the stated bound 0.5 <= CPE-P <= 1": 11,
        "Table S4 | LMA-Cl0.8I0.6 cycle 60 | C [element I-3]": 2,  # copied C: fails the recomputation + repeats cycle 1
    }
    wyckoff = groups["table_s2_wyckoff: S3/Cl2/I2 @ 4d printed 4c"]
    assert [(r.table, r.row) for r in wyckoff] == [("Table S2", "S3 (source row 10)"), ("Table S2", "Cl2 (source row 11)"),
                                                  ("Table S2", "I2 (source row 12)"), ("naming", "anion site at (1/4, 1/4, 3/4)")]
    copied = groups["Table S4 | LMA-Cl0.8I0.6 cycle 60 | C [element I-3]"]
    assert [r.verdict for r in copied] == [INCONSISTENT, NOTE] and "probably copied" in copied[0].reason
    # the exponent slip of cycle 80 is blamed on its CPE-T cell, that of cycle 100 on its C cell
    assert len(groups["Table S4 | LMA-Cl0.8I0.6 cycle 80 | CPE-T [element I-2]"]) == 1
    assert groups["Table S4 | LMA-Cl0.8I0.6 cycle 100 | C [element I-2]"][0].verdict == INCONSISTENT
    # run_audit hands each slip's rows over together, most severe first
    runs = [key for key, _ in itertools.groupby(r.slip for r in rows)]
    assert len(runs) == len(set(runs))
    assert len(groups) == 74 and len(rows) == 94


def test_summary_counts_slips_not_rows(rows):
    from argyrodb.audit import summary

    slips = summary(rows)
    assert slips == {
        "Table S1": {CONSISTENT: 6, INCONSISTENT: 1},
        "Experimental section": {CONSISTENT: 4, INCONSISTENT: 2},
        "Table S2": {INCONSISTENT: 5, NOTE: 2},
        "Table S3": {CONSISTENT: 9, INCONSISTENT: 7},
        "Table S4": {CONSISTENT: 26, INCONSISTENT: 5, NOTE: 3},
        "naming": {INCONSISTENT: 4},
    }
    by_row = summary(rows, by="row")  # what the summary used to count: 43 inconsistent rows for 24 slips
    assert by_row["Table S2"] == {INCONSISTENT: 12, NOTE: 2} and by_row["Table S4"] == {CONSISTENT: 26, INCONSISTENT: 15, NOTE: 4}
    assert sum(v.get(INCONSISTENT, 0) for v in by_row.values()) == 43
    assert sum(v.get(INCONSISTENT, 0) for v in slips.values()) == 24


def test_audit_cli_lists_the_rows_under_each_slip():
    text = run("audit").stdout
    assert "[inconsistent] Table S2 | S3 (source row 10) | Site\n" in text
    block = text.split("[inconsistent] Table S2 | S3 (source row 10) | Site\n", 1)[1].split("\n[", 1)[0]
    assert "the same slip, also seen in 3 more rows:" in block
    assert text.count("[inconsistent] Table S2 | Cl2 (source row 11) | Site") == 1
    assert "      [inconsistent] naming | anion site at (1/4, 1/4, 3/4)" in text
    summary = run("audit", "--summary").stdout.splitlines()
    assert summary[0].startswith("audit summary (distinct slips per verdict")
    assert "  Table S4               26 consistent within printed precision, 5 inconsistent (15 rows), 3 note (4 rows)" in summary
    assert summary[-1] == "  all                    45 consistent within printed precision, 24 inconsistent (43 rows), 5 note (6 rows)"
    payload = json.loads(run("audit", "--json").stdout)
    assert payload["summary"]["Table S4"] == {CONSISTENT: 26, INCONSISTENT: 5, NOTE: 3}
    assert payload["summary_rows"]["Table S4"] == {CONSISTENT: 26, INCONSISTENT: 15, NOTE: 4}
    listed = sorted(i for slip in payload["slips"] for i in slip["rows"])
    assert listed == list(range(len(payload["rows"]))) and len(payload["slips"]) == 74
    cpe_p = next(s for s in payload["slips"] if s["slip"].startswith("Table S4 | CPE-P"))
    assert len(cpe_p["rows"]) == 11 and {payload["rows"][i]["column"].split(" ")[0] for i in cpe_p["rows"]} == {"CPE-P"}
