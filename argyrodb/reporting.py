"""Human-readable text of a validation report (the CLI's default output)."""

from __future__ import annotations

from .chemistry import format_formula
from .validate import Report

_MARK = {"error": "ERROR  ", "warning": "WARNING", "info": "info   "}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report_text(report: Report) -> str:
    lines = [
        f"== {report.name}  ({report.source})",
        f"   nominal formula   {report.nominal_formula}",
        f"   refined per f.u.  {format_formula(report.formula_per_fu)}   (Z = {report.z:g})",
        f"   space group       {report.space_group_symbol or '?'} ({report.space_group_number or '?'}) by spglib",
        f"   a                 {report.a_angstrom:.5f} A  [{report.a_source}]",
        f"   volume            {report.a_angstrom ** 3:.2f} A^3",
        f"   density           {report.density_g_cm3:.4f} g/cm^3 refined composition, "
        f"{report.nominal_density_g_cm3:.4f} g/cm^3 nominal composition",
        f"   molar volume      {report.molar_volume_cm3_mol:.3f} cm^3/mol",
        f"   charge per f.u.   {report.charge_per_fu:+.4f} e refined, {report.nominal_charge_per_fu:+.4f} e nominal",
        "",
        "   site                      printed   actual  mult  occupancy sum  vacancy   B (A^2)",
    ]
    for s in report.sites:
        printed = ",".join(sorted({w for w in s.wyckoff_reported if w})) or "-"
        lines.append(
            f"   {s.name:<25} {printed:>7}  {s.wyckoff:>7} {s.multiplicity:>5}  {s.occupancy_sum:>13.4f}  "
            f"{s.vacancy:>7.4f}   {_fmt(s.b_iso_angstrom2)}"
        )
    if report.distances:
        shortest = sorted(report.distances, key=lambda d: d["distance_angstrom"])[:3]
        lines.append("")
        lines.append("   shortest distances between fully occupied sites: " + "; ".join(
            f"{d['between'][0]} - {d['between'][1]} {d['distance_angstrom']:.3f} A" for d in shortest))
    lines.append("")
    counts = {sev: sum(p.severity == sev for p in report.problems) for sev in ("error", "warning", "info")}
    lines.append(f"   problems: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)")
    for p in report.problems:
        where = f"{p.site}: " if p.site else ""
        lines.append(f"   {_MARK.get(p.severity, p.severity)} [{p.kind}] {where}{p.message}")
    return "\n".join(lines)
