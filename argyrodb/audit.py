"""Audit: recompute every derived number the source reports from the numbers it is derived from.

Verdicts respect the printed precision instead of a fixed tolerance: a printed number stands for the
interval of values that round to it (``"30"`` -> [29.5, 30.5], ``"1.73E-08"`` -> +-0.005e-8). A derived
value is *consistent within the printed precision* when the interval of the recomputed value (the
function evaluated over the corners of its inputs' intervals) overlaps the reported value's interval,
and *inconsistent* otherwise. Rows that are not numeric comparisons carry the verdict *inconsistent*
(a contradiction between two statements) or *note*.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from .core.chemistry import formal_charge, parse_formula
from .core.errors import InputError
from .core.readers import read_file
from .core.resources import literature_folder, structures_folder
from .physics.calculators import cpe_capacitance_F, milling_gforce
from .physics.lattice import analysed
from .store.literature import read_csv_rows

CONSISTENT = "consistent within printed precision"
INCONSISTENT = "inconsistent"
NOTE = "note"


@dataclass
class AuditRow:
    table: str
    row: str
    column: str
    reported: str
    recomputed: str
    relative_deviation: float | None
    verdict: str
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def printed_interval(text: str) -> tuple[float, float]:
    """The interval of values that round to the printed ``text`` (half a unit in the last digit)."""
    cleaned = str(text).strip()
    match = re.fullmatch(r"([-+]?\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?", cleaned)
    if not match or cleaned in ("", ".", "-", "+"):
        raise InputError("audit", f"not a printed number: {text!r}")
    decimals = len(match.group(2) or "")
    exponent = int(match.group(3) or 0)
    value = float(cleaned)
    half = 0.5 * 10.0 ** (exponent - decimals)
    return value - half, value + half


def recomputed_interval(function, texts: list[str], exact: list[float] | None = None) -> tuple[float, float, float]:
    """(low, central, high) of ``function`` over the corners of the printed inputs' intervals."""
    intervals = [printed_interval(t) for t in texts]
    central_args = [float(t) for t in texts]
    extra = list(exact or [])
    values = [function(*corner, *extra) for corner in itertools.product(*intervals)]
    return min(values), function(*central_args, *extra), max(values)


def _compare(table, row, column, reported_text, function, inputs, reason_ok, exact=None) -> AuditRow:
    low, central, high = recomputed_interval(function, inputs, exact)
    r_low, r_high = printed_interval(reported_text)
    reported = float(reported_text)
    deviation = (reported - central) / central if central else None
    consistent = r_low <= high and low <= r_high
    return AuditRow(
        table, row, column, reported_text, f"{central:.4g} [{low:.4g}, {high:.4g}]", deviation,
        CONSISTENT if consistent else INCONSISTENT,
        reason_ok if consistent else f"printed {reported_text} is outside the range the printed inputs allow",
    )


# --------------------------------------------------------------------------- Table S1 and the text


def audit_milling(db_dir: Path) -> list[AuditRow]:

    rows = []
    g_text = "9.8"
    for r in read_csv_rows(db_dir / "milling_table_s1.csv"):
        rows.append(_compare(
            "Table S1", r["row"], "G-force milling energy (GF)", r["gforce_printed"],
            lambda rpm, radius, g: milling_gforce(rpm, radius, g), [r["rpm"], r["effective_diameter_printed_m"], g_text],
            f"GF = (2 pi rpm/60)^2 R / g with R = {r['effective_diameter_printed_m']} m as a radius, g = 9.8 m/s^2",
        ))
        as_diameter = milling_gforce(float(r["rpm"]), float(r["effective_diameter_printed_m"]) / 2, 9.8)
        if r["row"] == "1":
            rows.append(AuditRow(
                "Table S1", "header", "Effective diameter of main disk (m)", f"diameter {r['effective_diameter_printed_m']} m",
                f"GF {as_diameter:.1f} if 0.089 m were a diameter (R = 0.0445 m)",
                None, INCONSISTENT,
                "the printed G-forces follow from 0.089 m as a radius (the experimental section's R); the Table S1 "
                "header and caption call it a diameter"))
    for text, rpm, where in (("30", "550", "LMA"), ("49", "700", "HMA")):
        rows.append(_compare("Experimental section", f"milling ({where})", "centrifugal acceleration (GF)", text,
                             lambda rpm_, radius, g: milling_gforce(rpm_, radius, g), [rpm, "0.089", g_text],
                             "'approximately 30 GF and 49 GF' from the printed formula"))
    return rows


# --------------------------------------------------------------------------- Table S4


def audit_eis(db_dir: Path) -> list[AuditRow]:

    rows = []
    table = [r for r in read_csv_rows(db_dir / "eis_table_s4.csv") if r["element"] != "bulk"]
    for r in table:
        where = f"{r['sample']} cycle {r['cycle']}"
        label = r["r_label_printed"].replace("R_", "C_")
        row = _compare("Table S4", where, f"{label} (F) [element {r['element']}]", r["c_F_printed"],
                       lambda R, q, a: cpe_capacitance_F(R, q, min(a, 1.0)),
                       [r["r_ohm"], r["cpe_t_printed"], r["cpe_p"]],
                       "C = (Q R^(1-alpha))^(1/alpha) from the printed R, CPE-T, CPE-P")
        if row.verdict == INCONSISTENT:
            row.reason = _explain_capacitance(r, table)
        rows.append(row)
        low, high = printed_interval(r["cpe_p"])
        if high < 0.5:
            rows.append(AuditRow("Table S4", where, f"CPE-P [element {r['element']}]", r["cpe_p"], "0.5 <= CPE-P <= 1",
                                 None, INCONSISTENT,
                                 "the experimental section says CPE-P values were constrained between 0.5 and 1"))
    # identical fitted values in two columns of one sample are suspicious (copied cells?)
    for column, name in (("cpe_t_printed", "CPE-T"), ("c_F_printed", "C")):
        seen: dict[tuple, str] = {}
        for r in table:
            key = (r["sample"], r["element"], r[column])
            if key in seen:
                rows.append(AuditRow("Table S4", f"{r['sample']} cycle {r['cycle']}", f"{name} [element {r['element']}]",
                                     r[column], f"same as cycle {seen[key]}", None, NOTE,
                                     f"identical to the value printed for cycle {seen[key]} of the same sample: a fit "
                                     "rarely returns the same value twice to three significant figures (copied cell?)"))
            else:
                seen[key] = r["cycle"]
    return rows


def _consistent(r_text: str, q_text: str, a_text: str, c_text: str) -> bool:

    low, _, high = recomputed_interval(lambda R, q, a: cpe_capacitance_F(R, q, min(a, 1.0)), [r_text, q_text, a_text])
    c_low, c_high = printed_interval(c_text)
    return c_low <= high and low <= c_high


def _explain_capacitance(r: dict, table: list[dict]) -> str:
    """Look for one slip that reconciles a printed capacitance: an exponent off by one in CPE-T or in
    C, or a C copied from another column."""

    R, q, a, c = r["r_ohm"], r["cpe_t_printed"], r["cpe_p"], r["c_F_printed"]
    for factor, text in ((10.0, "ten times larger"), (0.1, "ten times smaller")):
        if _consistent(R, f"{float(q) * factor:.2E}", a, c):
            return (f"does not follow from the printed inputs, but does if CPE-T were {float(q) * factor:.2E} "
                    f"({text}; neighbouring cycles print {'/'.join(t['cpe_t_printed'] for t in table if t['sample'] == r['sample'] and t['element'] == r['element'] and t is not r)}): "
                    "an exponent slip in CPE-T")
        if _consistent(R, q, a, f"{float(c) * factor:.2E}"):
            return f"does not follow from the printed inputs, but C = {float(c) * factor:.2E} does: an exponent slip in the printed C"
    for other in table:
        if other is not r and other["element"] == r["element"] and other["c_F_printed"] == c and _consistent(
                other["r_ohm"], other["cpe_t_printed"], other["cpe_p"], c):
            return (f"does not follow from the printed inputs ({cpe_capacitance_F(float(R), float(q), float(a)):.3g} F); the same C "
                    f"is printed for {other['sample']} cycle {other['cycle']}, where it does follow: probably copied")
    computed = cpe_capacitance_F(float(R), float(q), min(float(a), 1.0))
    return f"printed C is {float(c) / computed:.3g} x the value the printed R, CPE-T and CPE-P give; no single slip explains it"


# --------------------------------------------------------------------------- Table S2


def audit_structure(path: Path) -> list[AuditRow]:
    refinement = read_file(path)
    report = analysed(refinement)
    rows = []
    by_label = {s.label: s for s in refinement.sites}
    for problem in report.problems:
        if problem.kind in ("vacancy", "lattice_estimated"):
            continue
        data = problem.data or {}
        row = problem.site or "-"
        if problem.kind == "wyckoff_mismatch":
            site = by_label.get(problem.site)
            row = f"{problem.site} (source row {site.source_row})" if site else row
            rows.append(AuditRow("Table S2", row, "Site", str(data.get("reported")), str(data.get("actual")), None,
                                 INCONSISTENT, problem.message))
        elif problem.kind in ("constraint_violated", "occupancy_normalised"):
            reported = data.get("actual", data.get("occupancy_sum"))
            expected = data.get("expected", 1.0)
            rows.append(AuditRow("Table S2", row, "Occupancy (sum over the site)", f"{reported:.4f}", f"{expected:g}",
                                 (reported - expected) / expected, INCONSISTENT, problem.message))
        elif problem.kind == "composition_mismatch":
            rows.append(AuditRow("Table S2", f"{problem.site} (all sites)", "refined amount per formula unit",
                                 f"{data['refined']:.4f}", f"{data['nominal']:g} (nominal Li5.6PS4.6Cl0.8I0.6)",
                                 (data["refined"] - data["nominal"]) / data["nominal"] if data["nominal"] else None,
                                 INCONSISTENT, problem.message))
        elif problem.kind == "charge_imbalance":
            rows.append(AuditRow("Table S2", "all sites", "charge per formula unit",
                                 f"{data.get('charge_per_fu', data.get('nominal_charge_per_fu', 0)):+.4f}", "0", None,
                                 INCONSISTENT, problem.message))
        else:
            rows.append(AuditRow("Table S2", row, problem.kind, "", "", None,
                                 INCONSISTENT if problem.severity != "info" else NOTE, problem.message))
    return rows


# --------------------------------------------------------------------------- Table S3


def audit_formulas(db_dir: Path) -> list[AuditRow]:

    rows = []
    for r in read_csv_rows(db_dir / "table_s3.csv"):
        printed = r["material_printed"]
        try:
            formula = parse_formula(printed, source="Table S3")
        except InputError:
            formula = None
        normalised = parse_formula(r["formula_normalised"], source="table_s3.csv")
        charge_n, _ = formal_charge(normalised)
        if formula is None:
            rows.append(AuditRow("Table S3", r["row"], "Material", printed, r["formula_normalised"], None, INCONSISTENT,
                                 f"not a formula as printed; normalised to {r['formula_normalised']} (charge {charge_n:+.3g}): "
                                 f"{r['correction_note']}"))
            continue
        charge, unknown = formal_charge(formula)
        if abs(charge) <= 0.01 and not unknown:
            rows.append(AuditRow("Table S3", r["row"], "Material (charge balance)", printed, "0", None, CONSISTENT,
                                 "neutral with Li+, P5+, Sn4+, S2-, O2-, halide-"))
        else:
            extra = f"; normalised to {r['formula_normalised']} (charge {charge_n:+.3g}): {r['correction_note']}" if r["correction_note"] else ""
            rows.append(AuditRow("Table S3", r["row"], "Material (charge balance)", printed, f"{charge:+.3f} e per formula unit",
                                 None, INCONSISTENT, f"not charge-neutral as printed{extra}"))
    return rows


# --------------------------------------------------------------------------- printed formulas


def _scaling_exponents(expression: str) -> tuple[float, float]:
    """Exponents (a, b) with f(k rho, m v) = k^a m^b f(rho, v): the expression's dimensions in density
    and velocity (a dimensionless ratio is (0, 0), a modulus (1, 2))."""
    base = dict(rho=1900.0, vl=4000.0, vs=2200.0)
    f0 = _evaluate(expression, **base)
    f_rho = _evaluate(expression, rho=base["rho"] * 10, vl=base["vl"], vs=base["vs"])
    f_v = _evaluate(expression, rho=base["rho"], vl=base["vl"] * 10, vs=base["vs"] * 10)
    return round(math.log10(f_rho / f0), 6), round(math.log10(f_v / f0), 6)


def _evaluate(expression: str, **variables: float) -> float:
    import ast

    allowed = set(variables)
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise InputError("printed_formulas.yaml", f"cannot parse {expression!r}") from None
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    if not names <= allowed or any(isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)) for node in ast.walk(tree)):
        raise InputError("printed_formulas.yaml", f"unknown names {sorted(names - allowed)} in {expression!r}")
    return float(eval(expression, {"__builtins__": {}}, variables))  # names checked above


def audit_printed_formulas(db_dir: Path) -> list[AuditRow]:
    import yaml

    with open(db_dir / "printed_formulas.yaml", encoding="utf-8") as fh:
        entries = yaml.safe_load(fh)
    rows = []
    point = dict(rho=1900.0, vl=4000.0, vs=2200.0)
    for entry in entries:
        printed_value = _evaluate(entry["expression"], **point)
        textbook_value = _evaluate(entry["textbook"], **point)
        dims_printed = _scaling_exponents(entry["expression"])
        dims_textbook = _scaling_exponents(entry["textbook"])
        deviation = (printed_value - textbook_value) / textbook_value
        if dims_printed == dims_textbook and abs(deviation) < 1e-12:
            verdict, reason = CONSISTENT, "equals the textbook relation"
        else:
            verdict = INCONSISTENT
            reason = (f"dimensions (density^{dims_printed[0]:g} velocity^{dims_printed[1]:g}) differ from the textbook "
                      f"{entry['quantity']} (density^{dims_textbook[0]:g} velocity^{dims_textbook[1]:g}); textbook: {entry['textbook']}")
        rows.append(AuditRow("Experimental section", entry["where"], entry["quantity"], entry["printed"],
                             f"{textbook_value:.4g} (textbook) vs {printed_value:.4g} (printed) at rho=1900 kg/m3, "
                             f"V_L=4000, V_S=2200 m/s", deviation, verdict, reason))
    return rows


def audit_naming(db_dir: Path) -> list[AuditRow]:
    import yaml

    with open(db_dir / "naming.yaml", encoding="utf-8") as fh:
        entries = yaml.safe_load(fh)
    rows = []
    for entry in entries:
        names = entry["names"]
        rows.append(AuditRow("naming", entry["quantity"], "; ".join(n["where"] for n in names),
                             " / ".join(n["text"] for n in names), "one name", None, INCONSISTENT,
                             "the same quantity is named differently in different places"))
    return rows


def run_audit(db_dir: Path | None = None, structures_dir: Path | None = None) -> list[AuditRow]:
    """Every audit row, in the order Table S1, text, Table S2, Table S3, Table S4, formulas, naming
    (default folders: the packaged source data and structures)."""
    db_dir = Path(db_dir) if db_dir is not None else literature_folder()
    structures_dir = Path(structures_dir) if structures_dir is not None else structures_folder()
    return [
        *audit_milling(db_dir),
        *audit_structure(structures_dir / "LMA-Cl0.8I0.6.yaml"),
        *audit_formulas(db_dir),
        *audit_eis(db_dir),
        *audit_printed_formulas(db_dir),
        *audit_naming(db_dir),
    ]


def summary(rows: list[AuditRow]) -> dict:
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        out.setdefault(row.table, {}).setdefault(row.verdict, 0)
        out[row.table][row.verdict] += 1
    return out
