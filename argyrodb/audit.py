"""Audit: recompute every derived number the source reports from the numbers it is derived from.

Verdicts respect the printed precision instead of a fixed tolerance: a printed number stands for the
interval of values that round to it (``"30"`` -> [29.5, 30.5], ``"1.73E-08"`` -> +-0.005e-8). A derived
value is *consistent within the printed precision* when the interval of the recomputed value (the
function evaluated over the corners of its inputs' intervals) overlaps the reported value's interval,
and *inconsistent* otherwise. Rows that are not numeric comparisons carry the verdict *inconsistent*
(a contradiction between two statements) or *note*.

One slip in the source often shows up in several rows: a Wyckoff letter misprinted for one position is
reported for each of the three species sharing it and again among the naming inconsistencies; a copied
capacitance fails the recomputation and also repeats another cycle's value. Every row therefore carries a
``slip`` key naming the printed cell or statement it traces back to - rows with equal keys are one slip -
and :func:`summary` counts distinct slips, not rows. :func:`run_audit` returns each slip's rows together,
its most severe row first.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from .core.chemistry import formal_charge, parse_formula
from .core.errors import InputError, ParameterError
from .core.readers import read_file
from .core.resources import literature_folder, structures_folder
from .physics.calculators import cpe_capacitance_F, milling_gforce
from .physics.structure import analysed
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
    slip: str = ""  # rows with the same key are one slip of the source (see the module docstring)

    def as_dict(self) -> dict:
        return asdict(self)


#: Most severe first: the verdict of a slip is that of its most severe row.
VERDICT_ORDER = (INCONSISTENT, NOTE, CONSISTENT)
#: The slip of every CPE-P below 0.5: the experimental section's statement that they were constrained to 0.5-1.
CPE_P_BOUND_SLIP = "Table S4 | CPE-P [every element] | below the stated bound 0.5 <= CPE-P <= 1"


def _cell(sample: str, cycle: str, name: str, element: str) -> str:
    """The slip key of one printed cell of Table S4."""
    return f"Table S4 | {sample} cycle {cycle} | {name} [element {element}]"


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
                "header and caption call it a diameter", slip="gforce_radius_vs_diameter: Table S1 header"))
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
        blamed = "C"
        if row.verdict == INCONSISTENT:
            row.reason, blamed = _explain_capacitance(r, table)
        row.slip = _cell(r["sample"], r["cycle"], blamed, r["element"])
        rows.append(row)
        _low, high = printed_interval(r["cpe_p"])
        if high < 0.5:
            rows.append(AuditRow("Table S4", where, f"CPE-P [element {r['element']}]", r["cpe_p"], "0.5 <= CPE-P <= 1",
                                 None, INCONSISTENT,
                                 "the experimental section says CPE-P values were constrained between 0.5 and 1",
                                 slip=CPE_P_BOUND_SLIP))
    # identical fitted values in two columns of one sample are suspicious (copied cells?)
    for column, name in (("cpe_t_printed", "CPE-T"), ("c_F_printed", "C")):
        seen: dict[tuple, str] = {}
        for r in table:
            key = (r["sample"], r["element"], r[column])
            if key in seen:
                rows.append(AuditRow("Table S4", f"{r['sample']} cycle {r['cycle']}", f"{name} [element {r['element']}]",
                                     r[column], f"same as cycle {seen[key]}", None, NOTE,
                                     f"identical to the value printed for cycle {seen[key]} of the same sample: a fit "
                                     "rarely returns the same value twice to three significant figures (copied cell?)",
                                     slip=_cell(r["sample"], r["cycle"], name, r["element"])))
            else:
                seen[key] = r["cycle"]
    return rows


def _consistent(r_text: str, q_text: str, a_text: str, c_text: str) -> bool:

    low, _, high = recomputed_interval(lambda R, q, a: cpe_capacitance_F(R, q, min(a, 1.0)), [r_text, q_text, a_text])
    c_low, c_high = printed_interval(c_text)
    return c_low <= high and low <= c_high


def _explain_capacitance(r: dict, table: list[dict]) -> tuple[str, str]:
    """Look for one slip that reconciles a printed capacitance: an exponent off by one in CPE-T or in
    C, or a C copied from another column. Returns the explanation and the printed cell it blames
    ('CPE-T' or 'C')."""

    R, q, a, c = r["r_ohm"], r["cpe_t_printed"], r["cpe_p"], r["c_F_printed"]
    for factor, text in ((10.0, "ten times larger"), (0.1, "ten times smaller")):
        if _consistent(R, f"{float(q) * factor:.2E}", a, c):
            neighbours = "/".join(t["cpe_t_printed"] for t in table
                                  if t["sample"] == r["sample"] and t["element"] == r["element"] and t is not r)
            return (f"does not follow from the printed inputs, but does if CPE-T were {float(q) * factor:.2E} "
                    f"({text}; neighbouring cycles print {neighbours}): "
                    "an exponent slip in CPE-T"), "CPE-T"
        if _consistent(R, q, a, f"{float(c) * factor:.2E}"):
            return f"does not follow from the printed inputs, but C = {float(c) * factor:.2E} does: an exponent slip in the printed C", "C"
    for other in table:
        if other is not r and other["element"] == r["element"] and other["c_F_printed"] == c and _consistent(
                other["r_ohm"], other["cpe_t_printed"], other["cpe_p"], c):
            return (f"does not follow from the printed inputs ({cpe_capacitance_F(float(R), float(q), float(a)):.3g} F); the same C "
                    f"is printed for {other['sample']} cycle {other['cycle']}, where it does follow: probably copied"), "C"
    computed = cpe_capacitance_F(float(R), float(q), min(float(a), 1.0))
    return f"printed C is {float(c) / computed:.3g} x the value the printed R, CPE-T and CPE-P give; no single slip explains it", "C"


# --------------------------------------------------------------------------- Table S2


#: The slip of the composition rows and the refined charge: one set of refined occupancies, seen per element and as a charge.
REFINED_COMPOSITION_SLIP = "Table S2 | all sites | refined composition differs from the nominal one"


def audit_structure(path: Path) -> list[AuditRow]:
    refinement = read_file(path)
    report = analysed(refinement)
    rows = []
    by_label = {s.label: s for s in refinement.sites}
    position_of = {row.label: pos.name for pos in report.positions for row in pos.rows}
    positions = {pos.name for pos in report.positions}

    def position(labels: str | None) -> str:
        """The position (e.g. 'S2/Cl1/I1 @ 4a') a problem's site or '/'-joined labels belong to ('-' for none)."""
        if labels is None:
            return "-"
        if labels in positions:
            return labels
        names = {position_of.get(label.strip(), labels) for label in labels.split("/")}
        return names.pop() if len(names) == 1 else labels

    for problem in report.problems:
        if problem.kind in ("vacancy", "lattice_estimated"):
            continue
        data = problem.data or {}
        row = problem.site or "-"
        if problem.kind == "wyckoff_mismatch":
            site = by_label.get(problem.site) if problem.site is not None else None
            row = f"{problem.site} (source row {site.source_row})" if site else row
            # one misprinted letter per position, whichever of the species sharing it the row is about
            rows.append(AuditRow("Table S2", row, "Site", str(data.get("reported")), str(data.get("actual")), None,
                                 INCONSISTENT, problem.message,
                                 slip=f"table_s2_wyckoff: {position(problem.site)} printed {data.get('reported')}"))
        elif problem.kind in ("constraint_violated", "occupancy_normalised"):
            reported = data.get("actual", data.get("occupancy_sum"))
            expected = data.get("expected", 1.0)
            # the same printed occupancies break the stated constraint and need normalising: one slip
            rows.append(AuditRow("Table S2", row, "Occupancy (sum over the site)", f"{reported:.4f}", f"{expected:g}",
                                 (reported - expected) / expected, INCONSISTENT, problem.message,
                                 slip=f"Table S2 | {position(problem.site)} | occupancy sum"))
        elif problem.kind == "composition_mismatch":
            rows.append(AuditRow("Table S2", f"{problem.site} (all sites)", "refined amount per formula unit",
                                 f"{data['refined']:.4f}", f"{data['nominal']:g} (nominal Li5.6PS4.6Cl0.8I0.6)",
                                 (data["refined"] - data["nominal"]) / data["nominal"] if data["nominal"] else None,
                                 INCONSISTENT, problem.message, slip=REFINED_COMPOSITION_SLIP))
        elif problem.kind == "charge_imbalance":
            refined = "charge_per_fu" in data  # the charge of the refined amounts follows from them: the same slip
            rows.append(AuditRow("Table S2", "all sites", "charge per formula unit",
                                 f"{data.get('charge_per_fu', data.get('nominal_charge_per_fu', 0)):+.4f}", "0", None,
                                 INCONSISTENT, problem.message, slip=REFINED_COMPOSITION_SLIP if refined else ""))
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
        # `check` names the audit check that finds the same slip (its rows' keys start with it)
        rows.append(AuditRow("naming", entry["quantity"], "; ".join(n["where"] for n in names),
                             " / ".join(n["text"] for n in names), "one name", None, INCONSISTENT,
                             "the same quantity is named differently in different places", slip=entry.get("check") or ""))
    return rows


def run_audit(db_dir: Path | None = None, structures_dir: Path | None = None) -> list[AuditRow]:
    """Every audit row, in the order Table S1, text, Table S2, Table S3, Table S4, formulas, naming
    (default folders: the packaged source data and structures), with the rows of one slip together (at
    the place of its first row, most severe first)."""
    db_dir = Path(db_dir) if db_dir is not None else literature_folder()
    structures_dir = Path(structures_dir) if structures_dir is not None else structures_folder()
    rows = [
        *audit_milling(db_dir),
        *audit_structure(structures_dir / "LMA-Cl0.8I0.6.yaml"),
        *audit_formulas(db_dir),
        *audit_eis(db_dir),
        *audit_printed_formulas(db_dir),
        *audit_naming(db_dir),
    ]
    _link_slips(rows)
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        first.setdefault(row.slip, index)
    order = sorted(range(len(rows)), key=lambda i: (first[rows[i].slip], VERDICT_ORDER.index(rows[i].verdict), i))
    return [rows[i] for i in order]


def _link_slips(rows: list[AuditRow]) -> None:
    """Complete the slip keys: a naming row whose check found exactly one slip joins it; a row without a key
    is a slip of its own (keyed by table, row and column)."""
    for row in rows:
        if row.table == "naming" and row.slip:
            found = {r.slip for r in rows if r is not row and (r.slip == row.slip or r.slip.startswith(row.slip + ":"))}
            if len(found) == 1:
                row.slip = found.pop()
    seen: set[str] = {row.slip for row in rows if row.slip}
    for row in rows:
        if not row.slip:
            key = base = f"{row.table} | {row.row} | {row.column}"
            n = 1
            while key in seen:
                n += 1
                key = f"{base} ({n})"
            row.slip = key
            seen.add(key)


def slips(rows: list[AuditRow]) -> list[list[AuditRow]]:
    """The rows grouped by slip (rows without a key are one slip each), in order of each slip's first row;
    within a slip the most severe row comes first and gives the slip its table and verdict."""
    groups: dict[str, list[AuditRow]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(row.slip or f"\0row {index}", []).append(row)
    return [sorted(group, key=lambda r: VERDICT_ORDER.index(r.verdict)) for group in groups.values()]


def summary(rows: list[AuditRow], by: str = "slip") -> dict:
    """Counts per table and verdict: of distinct slips (``by="slip"``: the rows one slip explains count once,
    under the table and verdict of its most severe row) or of rows (``by="row"``)."""
    if by not in ("slip", "row"):
        raise ParameterError("by", f"count by 'slip' or 'row', not {by!r}")
    heads = [group[0] for group in slips(rows)]
    counted = heads if by == "slip" else rows
    tables = list(dict.fromkeys([row.table for row in heads] + [row.table for row in counted]))
    out: dict[str, dict[str, int]] = {}
    for table in tables:
        verdicts = [row.verdict for row in counted if row.table == table]
        if verdicts:
            out[table] = {verdict: verdicts.count(verdict) for verdict in sorted(set(verdicts))}
    return out
