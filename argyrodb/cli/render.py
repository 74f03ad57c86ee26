"""What the CLI prints: text reports and JSON shapes of the library's results (the library returns objects)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.chemistry import format_formula

if TYPE_CHECKING:
    from ..api import AnalysedStructure

# --------------------------------------------------------------------------- reports

_REPORT_ORDER = ("name", "source", "nominal_formula", "formula_per_fu", "nominal_formula_per_fu", "z", "space_group_number",
                 "space_group_symbol", "a_angstrom", "a_sigma_angstrom", "a_source", "a_kind", "a_extrapolated",
                 "a_extrapolated_because", "volume_angstrom3", "density_g_cm3",
                 "nominal_density_g_cm3", "molar_mass_g_mol", "molar_volume_cm3_mol", "charge_per_fu",
                 "nominal_charge_per_fu", "spglib_types", "sites", "shortest_distances", "problems", "provenance",
                 "argyrodb_version")


def report_dict(structure: AnalysedStructure) -> dict:
    """The analysed structure and its densities as one JSON-ready mapping (keys in the README)."""
    merged = {**structure.as_dict(), **structure.density(allow_errors=True).as_dict()}
    return {key: merged[key] for key in _REPORT_ORDER}


_MARK = {"error": "ERROR  ", "warning": "WARNING", "info": "info   "}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report_text(structure: AnalysedStructure) -> str:
    """The human-readable report (the CLI's default output of ``build``)."""
    density = structure.density(allow_errors=True)
    nominal_density = "-" if density.nominal_density_g_cm3 is None else f"{density.nominal_density_g_cm3:.4f}"
    sigma = "" if structure.lattice.sigma_angstrom is None else f" +- {structure.lattice.sigma_angstrom:.4f}"
    lines = [
        f"== {structure.name}  ({structure.source})",
        f"   nominal formula   {structure.nominal_formula or '-'}",
        f"   refined per f.u.  {format_formula(structure.formula_per_fu)}   (Z = {structure.z:g})",
        f"   space group       {structure.space_group_symbol or '?'} ({structure.space_group_number or '?'}) by spglib",
        f"   a                 {structure.a_angstrom:.5f}{sigma} A  [{structure.lattice.source}]",
        f"   volume            {structure.volume_angstrom3:.2f} A^3",
        f"   density           {density.density_g_cm3:.4f} g/cm^3 refined composition, "
        f"{nominal_density} g/cm^3 nominal composition",
        f"   molar volume      {density.molar_volume_cm3_mol:.3f} cm^3/mol",
        f"   charge per f.u.   {structure.charge_per_fu:+.4f} e refined, {structure.nominal_charge_per_fu:+.4f} e nominal",
        "",
        "   site                      printed   actual  mult  occupancy sum  vacancy   B (A^2)",
    ]
    for s in structure.sites:
        printed = ",".join(sorted({w for w in s.wyckoff_reported if w})) or "-"
        lines.append(
            f"   {s.name:<25} {printed:>7}  {s.wyckoff:>7} {s.multiplicity:>5}  {s.occupancy_sum:>13.4f}  "
            f"{s.vacancy:>7.4f}   {_fmt(s.b_iso_angstrom2)}"
        )
    if structure.distances:
        shortest = sorted(structure.distances, key=lambda d: d["distance_angstrom"])[:3]
        lines.append("")
        lines.append("   shortest distances between fully occupied sites: " + "; ".join(
            f"{d['between'][0]} - {d['between'][1]} {d['distance_angstrom']:.3f} A" for d in shortest))
    lines.append("")
    counts = {sev: sum(p.severity == sev for p in structure.problems) for sev in ("error", "warning", "info")}
    lines.append(f"   problems: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)")
    for p in structure.problems:
        where = f"{p.site}: " if p.site else ""
        lines.append(f"   {_MARK.get(p.severity, p.severity)} [{p.kind}] {where}{p.message}")
    return "\n".join(lines)




def refinement_json(result) -> dict:
    """The JSON of ``argyrodb refine --json`` (keys in the README)."""
    parameters = {name: {"value": p.value, "esd": p.esd, "refined": p.refine} for name, p in result.parameters.items()}
    return {
        "mode": result.mode, "reliable": result.reliable, "reasons": list(result.reasons),
        "r_p": result.r_p, "r_wp": result.r_wp, "r_exp": result.r_exp, "gof": result.gof,
        "zero_shift_deg": result.parameters["zero_shift_deg"].value,
        "zero_shift_esd": result.parameters["zero_shift_deg"].esd,
        "n_points": result.n_points, "n_parameters": result.n_parameters,
        "phases": result.phases, "parameters": parameters,
        "correlations": [{"a": a, "b": b, "r": r} for a, b, r in result.correlations],
        "warnings": result.warnings, "seconds": result.seconds, "settings": result.settings,
    }


# --------------------------------------------------------------------------- densities


def density_dict(structure: AnalysedStructure, input_path: str) -> dict:
    """``argyrodb density FILE --json``: the refined composition's density (and the nominal one's when the
    file states it). Raises ValidationFailed for a structure with validation errors, as ``build`` does."""
    density = structure.density()
    result = {
        "name": structure.name, "input": input_path, "formula": format_formula(structure.formula_per_fu),
        "z": structure.z, "a_angstrom": structure.a_angstrom, **structure.lattice.json_fields(),
        "volume_angstrom3": structure.volume_angstrom3,
        "molar_mass_g_mol": structure.molar_mass_g_mol, "density_g_cm3": density.density_g_cm3,
        "molar_volume_cm3_mol": density.molar_volume_cm3_mol,
    }
    if structure.nominal_per_fu:
        result.update(nominal_formula=structure.nominal_formula,
                      nominal_molar_mass_g_mol=density.nominal_molar_mass_g_mol,
                      nominal_density_g_cm3=density.nominal_density_g_cm3,
                      nominal_molar_volume_cm3_mol=density.molar_volume_cm3_mol)
    return result


def formula_density_dict(text: str, formula: dict[str, float], lattice, density) -> dict:
    """``argyrodb density FORMULA --json``: a formula at ``lattice`` (given or predicted) with Z from ``density``."""
    return {
        "name": text, "input": text, "formula": format_formula(formula), "z": density.z,
        "a_angstrom": lattice.a_angstrom, **lattice.json_fields(), "volume_angstrom3": density.volume_angstrom3, "molar_mass_g_mol": density.molar_mass_g_mol,
        "density_g_cm3": density.density_g_cm3, "molar_volume_cm3_mol": density.molar_volume_cm3_mol,
    }


def density_text(result: dict) -> str:
    """The plain-text ``argyrodb density`` lines: led by the composition the density is of (the refined one
    for a file, named after it), then the nominal composition's when the file states one."""
    sigma = "" if result.get("a_sigma_angstrom") is None else f" +- {result['a_sigma_angstrom']:.4f}"
    if result["name"] != result["input"]:  # a file: the refined composition, then which structure and file
        head = f"{result['formula']} ({result['name']}, {result['input']})"
    else:
        head = result["formula"] if result["formula"] == result["input"] else f"{result['formula']} ({result['input']})"
    lines = [f"{head}: rho = {result['density_g_cm3']:.4f} g/cm^3, "
             f"V_m = {result['molar_volume_cm3_mol']:.3f} cm^3/mol, M = {result['molar_mass_g_mol']:.3f} g/mol "
             f"(Z = {result['z']:g}, a = {result['a_angstrom']:.5f}{sigma} A, {result['a_source']})"]
    if "nominal_formula" in result:
        lines.append(f"  nominal composition {result['nominal_formula']}: rho = {result['nominal_density_g_cm3']:.4f} g/cm^3, "
                     f"V_m = {result['nominal_molar_volume_cm3_mol']:.3f} cm^3/mol")
    return "\n".join(lines)


def value_text(entry: dict | None, unit: str, digits: int = 5) -> str:
    """A ``{value, stderr}`` entry as "v +- e unit" ("-" when absent)."""
    if not entry or entry.get("value") is None:
        return "-"
    error = entry.get("stderr")
    return f"{entry['value']:.{digits}g}" + ("" if error is None else f" +- {error:.2g}") + f" {unit}"
