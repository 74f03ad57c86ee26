"""``argyrodb calc ...``: the lab's hand calculations (cheap to import: no numpy, no pymatgen at start)."""

from __future__ import annotations

from pathlib import Path

import click

from ..core.errors import InputError, ParameterError
from ..core.grids import parse_range
from ..physics import calculators
from .common import Group, emit_json


@click.group(cls=Group)
def calc() -> None:
    """The lab's calculations: G-force, conductivity, Arrhenius, elastic moduli, CPE capacitance, CCD steps."""


@calc.command("gforce")
@click.option("--rpm", type=float, help="Rotation speed of the main disk (1/min).")
@click.option("--radius", "radius_m", type=float, default=0.089, show_default=True, help="Effective rotation radius R (m).")
@click.option("--g", "g_m_s2", type=float, default=9.8, show_default=True, help="Gravitational acceleration (m/s^2) as in the source.")
@click.option("--table", "table", help="Speeds START:STOP:STEP, e.g. 550:800:50 (reproduces Table S1).")
@click.option("--json", "as_json", is_flag=True)
def calc_gforce(rpm, radius_m, g_m_s2, table, as_json):
    """GF = (2 pi rpm / 60)^2 R / g."""
    if rpm is None and table is None:
        raise InputError("gforce", "give --rpm or --table")
    rows = calculators.gforce_table(parse_range(table, "table") if table else [rpm], radius_m, g_m_s2)
    if as_json:
        emit_json(rows if table else rows[0])
        return
    for row in rows:
        click.echo(f"{row['rpm']:g} rpm, R = {row['radius_m']:g} m: GF = {row['gforce']:.2f} (printed to integers: {row['gforce']:.0f})")


@calc.command("conductivity")
@click.option("--resistance", "resistance_ohm", type=float, required=True, help="Bulk resistance (ohm).")
@click.option("--thickness-um", type=float)
@click.option("--thickness-mm", type=float)
@click.option("--thickness-cm", type=float)
@click.option("--diameter-mm", type=float, help="Pellet/electrode diameter (mm).")
@click.option("--area-cm2", type=float, help="Electrode area (cm^2), instead of the diameter.")
@click.option("--json", "as_json", is_flag=True)
def calc_conductivity(resistance_ohm, thickness_um, thickness_mm, thickness_cm, diameter_mm, area_cm2, as_json):
    """sigma = t / (R_bulk A), in mS/cm."""
    given = [(v, u) for v, u in ((thickness_um, "um"), (thickness_mm, "mm"), (thickness_cm, "cm")) if v is not None]
    if len(given) != 1:
        raise InputError("conductivity", "give exactly one of --thickness-um, --thickness-mm, --thickness-cm")
    for flag, value in ((f"--thickness-{given[0][1]}", given[0][0]), ("--diameter-mm", diameter_mm), ("--area-cm2", area_cm2)):
        if value is not None and not value > 0:
            raise InputError(flag, f"must be positive, got {value:g}")
    if diameter_mm is None and area_cm2 is None:
        raise InputError("conductivity", "give --diameter-mm or --area-cm2")
    t_cm = calculators.to_cm(*given[0])
    d_cm = None if diameter_mm is None else calculators.to_cm(diameter_mm, "mm")
    # the library speaks centimetres: name the flag the user gave
    flags = {"thickness_cm": f"--thickness-{given[0][1]}", "diameter_cm": "--diameter-mm", "area_cm2": "--area-cm2"}
    try:
        sigma = calculators.ionic_conductivity_mS_cm(resistance_ohm, t_cm, d_cm, area_cm2)
        area = area_cm2 if area_cm2 is not None else calculators.disc_area_cm2(d_cm)
    except ParameterError as exc:
        raise InputError(flags.get(exc.parameter, exc.parameter), exc.problem) from None
    payload = {"sigma_mS_cm": sigma, "sigma_S_cm": sigma / 1000.0, "resistance_ohm": resistance_ohm, "thickness_cm": t_cm,
               "area_cm2": area}
    if as_json:
        emit_json(payload)
    else:
        click.echo(f"sigma = {sigma:.4g} mS/cm (t = {t_cm:g} cm, A = {area:.4g} cm^2, R = {resistance_ohm:g} ohm)")


@calc.command("elastic")
@click.option("--vl", "vl_m_s", type=float, required=True, help="Longitudinal sound velocity (m/s).")
@click.option("--vs", "vs_m_s", type=float, required=True, help="Shear sound velocity (m/s).")
@click.option("--density", "density_g_cm3", type=float, required=True, help="Density (g/cm^3).")
@click.option("--json", "as_json", is_flag=True)
def calc_elastic(vl_m_s, vs_m_s, density_g_cm3, as_json):
    """E, G, B (GPa) and Poisson's ratio from V_L, V_S and density."""
    result = calculators.elastic_moduli(vl_m_s, vs_m_s, density_g_cm3)
    if as_json:
        emit_json(result)
    else:
        click.echo(f"E = {result['E_GPa']:.3f} GPa, G = {result['G_GPa']:.3f} GPa, B = {result['B_GPa']:.3f} GPa, "
                   f"nu = {result['poisson_ratio']:.4f}, B/G = {result['pugh_ratio_B_over_G']:.3f}")


@calc.command("cpe")
@click.option("--r", "r_ohm", type=float, required=True, help="Parallel resistance (ohm).")
@click.option("--q", type=float, required=True, help="CPE-T, F s^(alpha-1).")
@click.option("--alpha", type=float, required=True, help="CPE-P, 0 < alpha <= 1.")
@click.option("--json", "as_json", is_flag=True)
def calc_cpe(r_ohm, q, alpha, as_json):
    """Equivalent capacitance C = (Q R^(1-alpha))^(1/alpha) of R || CPE."""
    c = calculators.cpe_capacitance_F(r_ohm, q, alpha)
    if as_json:
        emit_json({"capacitance_F": c, "r_ohm": r_ohm, "q": q, "alpha": alpha})
    else:
        click.echo(f"C = {c:.4g} F")


@calc.command("arrhenius")
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def calc_arrhenius(data, as_json):
    """Activation energy from sigma(T) in DATA.csv (columns temperature_K or temperature_C, and
    sigma_S_cm or sigma_mS_cm)."""
    temperatures, sigmas = calculators.read_arrhenius_csv(data)
    try:
        result = calculators.arrhenius_fit(temperatures, sigmas)
    except ParameterError as exc:  # the data came from the file: name it
        raise InputError(data, exc.problem) from None
    if as_json:
        emit_json(result)
    else:
        click.echo(f"Ea = {result['ea_eV']:.4f} +- {result['ea_stderr_eV']:.4f} eV, A = {result['prefactor_S_K_cm']:.4g} S K/cm, "
                   f"R^2 = {result['r_squared']:.5f} ({result['n_points']} points)")


@calc.command("ccd")
@click.option("--step", "step_mA_cm2", type=float, default=0.1, show_default=True, help="Current-density step (mA/cm^2).")
@click.option("--diameter-mm", type=float, default=9.0, show_default=True, help="Electrode (Li foil) diameter (mm).")
@click.option("--max", "max_mA_cm2", type=float, default=2.0, show_default=True, help="Highest current density (mA/cm^2).")
@click.option("--hours", "step_hours", type=float, default=1.0, show_default=True, help="Plating/stripping time per step (h).")
@click.option("--json", "as_json", is_flag=True)
def calc_ccd(step_mA_cm2, diameter_mm, max_mA_cm2, step_hours, as_json):
    """Currents of a critical-current-density step protocol (I = J x pi d^2 / 4)."""
    rows = calculators.ccd_steps(step_mA_cm2, diameter_mm, max_mA_cm2, step_hours)
    if as_json:
        emit_json(rows)
        return
    click.echo(f"electrode area {rows[0]['area_cm2']:.4f} cm^2 (d = {diameter_mm:g} mm); {step_hours:g} h per step")
    for row in rows:
        click.echo(f"step {row['step']:3d}: J = {row['current_density_mA_cm2']:.3g} mA/cm^2, I = {row['current_mA']:.4f} mA")
