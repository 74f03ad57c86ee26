"""Command-line interface: a thin layer over the Python API.

Every command opens its input, makes API calls, and prints; argyrodb's own errors become a one-line
message on stderr and exit status 2. Heavy libraries are imported inside the commands so that
``argyrodb --help`` starts fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from . import __version__
from .errors import ArgyrodbError, InputError


def _finite(value):
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _emit_json(payload) -> None:
    click.echo(json.dumps(_finite(payload), indent=2, sort_keys=False, allow_nan=False))


def _check_a(a: float | None) -> float | None:
    from .lattice import check_lattice_parameter

    return check_lattice_parameter(a, "--a")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="argyrodb")
def cli() -> None:
    """argyrodb: refined structures, densities and CIFs for lithium argyrodites (F-43m)."""


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--a", "a_angstrom", type=float, help="Lattice parameter in angstrom (overrides the file).")
@click.option("--cif", "cif_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the CIF here (one input file).")
@click.option("--cif-dir", type=click.Path(file_okay=False, path_type=Path), help="Write NAME.cif for each input into this folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def build(files: tuple[Path, ...], a_angstrom: float | None, cif_out: Path | None, cif_dir: Path | None, as_json: bool) -> None:
    """Read refinement files or CIFs, validate them, report, and write symmetric CIFs.

    FILE is an argyrodb refinement file (.yaml, see structures/README.md) or a CIF with partial
    occupancies. Exit status 2 when a file cannot be read or has validation errors; no CIF is then
    written for it.
    """
    from .api import analyse, write_cif
    from .reporting import report_text

    from .api import safe_filename
    from .outputs import check_output_paths

    if cif_out is not None and len(files) > 1:
        raise InputError("--cif", "give --cif-dir (not --cif) when building several files")
    if cif_out is not None and cif_dir is not None:
        raise InputError("--cif", "give either --cif or --cif-dir, not both")
    if cif_out is not None:
        check_output_paths(cif_out)
    _check_a(a_angstrom)
    # Read and validate everything first, so a bad file leaves no output from the others half-done.
    analysed = [analyse(path, a_angstrom=a_angstrom) for path in files]
    payloads = []
    failed = None
    for refinement, report in analysed:
        if as_json:
            payloads.append(report.as_dict())
        else:
            click.echo(report_text(report))
            click.echo("")
        if report.errors and failed is None:
            failed = f"{report.source}: {report.errors[0].kind}: {report.errors[0].message}"
    if as_json:
        _emit_json(payloads[0] if len(payloads) == 1 else payloads)
    if failed:
        raise InputError(failed.split(": ", 1)[0], failed.split(": ", 1)[1] + " (no CIF written)")
    if cif_dir is not None:
        names = [safe_filename(refinement.name, ".cif") for refinement, _ in analysed]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InputError("--cif-dir", f"several inputs would write {duplicates[0]} (same structure name); no CIF written")
    for refinement, report in analysed:
        target = cif_out if cif_out is not None else (cif_dir / f"{refinement.name}.cif" if cif_dir else None)
        if target is not None:
            written = write_cif(refinement, report, target, base_dir=cif_dir)
            if not as_json:
                click.echo(f"wrote {written}")


@cli.command()
@click.argument("file_or_formula")
@click.option("--a", "a_angstrom", type=float, help="Lattice parameter in angstrom.")
@click.option("--z", type=float, default=4.0, show_default=True, help="Formula units per cell (formula input only).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def density(file_or_formula: str, a_angstrom: float | None, z: float, as_json: bool) -> None:
    """X-ray density and molar volume of a structure file or a formula (e.g. Li5.6PS4.6Cl0.8I0.6).

    For a formula without --a, a is estimated from the end members by the Vegard rule on halide
    fractions (documented in the README), and the output says so.
    """
    from .api import density_of

    _check_a(a_angstrom)
    result = density_of(file_or_formula, a_angstrom=a_angstrom, z=z)
    if as_json:
        _emit_json(result)
        return
    click.echo(f"{result['name']}: rho = {result['density_g_cm3']:.4f} g/cm^3, "
               f"V_m = {result['molar_volume_cm3_mol']:.3f} cm^3/mol, M = {result['molar_mass_g_mol']:.3f} g/mol "
               f"(Z = {result['z']:g}, a = {result['a_angstrom']:.5f} A, {result['a_source']})")
    if "nominal_density_g_cm3" in result:
        click.echo(f"  nominal composition {result['nominal_formula']}: rho = {result['nominal_density_g_cm3']:.4f} g/cm^3, "
                   f"V_m = {result['nominal_molar_volume_cm3_mol']:.3f} cm^3/mol")


def _wavelength_option(text: str):
    try:
        return float(text)
    except ValueError:
        return text


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--a", "a_angstrom", type=float, help="Lattice parameter in angstrom (default: the file's, else the Vegard estimate).")
@click.option("--wavelength", default="CuKa1", show_default=True, help="CuKa1, CuKa12 (K-alpha1+2 at 2:1), CuKa, MoKa1, MoKa12, ... or a value in angstrom (e.g. 1.542).")
@click.option("--two-theta", "two_theta", nargs=2, type=float, default=(10.0, 120.0), show_default=True, metavar="MIN MAX", help="2theta range in degrees.")
@click.option("--no-anomalous", is_flag=True, help="Switch off anomalous dispersion (f', f'').")
@click.option("--monochromator-2theta", "mono", type=float, help="Monochromator 2theta in degrees (graphite 002 with Cu: 26.57); default: unpolarised beam.")
@click.option("--size-nm", type=float, help="Crystallite size (nm) for Scherrer broadening of the profile.")
@click.option("--caglioti", nargs=3, type=float, metavar="U V W", help="Instrument Caglioti parameters in deg^2.")
@click.option("--json", "as_json", is_flag=True, help="Print the peak list as JSON.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the peak list as CSV.")
@click.option("--xy", "xy_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the profile as two columns.")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG plot with labelled reflection ticks.")
@click.option("--compare", "compare_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path), help="Overlay another structure (repeatable).")
@click.option("--measured", "measured_file", type=click.Path(dir_okay=False, path_type=Path), help="Measured two-column pattern: fit scale, report R_wp, overlay.")
def xrd(file, a_angstrom, wavelength, two_theta, no_anomalous, mono, size_nm, caglioti, as_json, csv_out, xy_out, plot_out, compare_files, measured_file):
    """Simulate the powder X-ray pattern of a refinement file or CIF.

    Per-site occupancies and B, Waasmaier-Kirfel form factors, anomalous dispersion (xraydb),
    Bragg-Brentano Lorentz-polarisation, K-alpha doublet, pseudo-Voigt profiles.
    """
    from .api import xrd_pattern
    from .outputs import atomic_write_text

    from .outputs import check_output_paths

    if size_nm is not None and not size_nm > 0:
        raise InputError("--size-nm", f"crystallite size must be positive, got {size_nm:g}")
    if caglioti:
        import math

        u, v, w = caglioti
        for theta in (math.radians(two_theta[0] / 2), math.radians(two_theta[1] / 2)):
            if not u * math.tan(theta) ** 2 + v * math.tan(theta) + w > 0:
                raise InputError("--caglioti", f"U, V, W = {u:g}, {v:g}, {w:g} give no positive FWHM^2 at 2theta = {2 * math.degrees(theta):g} deg")
    check_output_paths(csv_out, xy_out, plot_out)
    options = dict(
        wavelength=_wavelength_option(wavelength), two_theta_range=tuple(two_theta),
        anomalous_dispersion=not no_anomalous, monochromator_two_theta_deg=mono,
        size_nm=size_nm, caglioti_uvw=tuple(caglioti) if caglioti else None,
    )
    _check_a(a_angstrom)
    pattern = xrd_pattern(file, a_angstrom=a_angstrom, **options)
    others = [xrd_pattern(other, **options) for other in compare_files]
    measured = fit = None
    if measured_file is not None:
        from .measured import fit_scale, read_xy

        measured = read_xy(measured_file)
        fit = fit_scale(measured, pattern)
    if as_json:
        payload = pattern.to_json_dict()
        if fit is not None:
            payload["measured"] = {"file": str(measured_file), **fit.as_dict()}
        _emit_json(payload)
    else:
        click.echo(f"{pattern.name}: a = {pattern.a_angstrom:.5f} A, "
                   + ", ".join(f"{c.name} {c.wavelength_angstrom:.5f} A" for c in pattern.components)
                   + f", 2theta {pattern.two_theta_range[0]:g}-{pattern.two_theta_range[1]:g} deg, "
                   + f"anomalous {'off' if no_anomalous else 'on'}")
        click.echo(f"{'hkl':<16} {'2theta':>9} {'d (A)':>8} {'mult':>5} {'|F|^2':>10} {'I_rel':>7}  line")
        for row in pattern.peaks.itertuples():
            if row.intensity_rel < 1.0:
                continue
            label = "/".join("".join(str(v) for v in fam) for fam in row.hkl)
            click.echo(f"{label:<16} {row.two_theta_deg:9.4f} {row.d_angstrom:8.4f} {row.multiplicity:5d} "
                       f"{row.f_squared:10.1f} {row.intensity_rel:7.2f}  {row.component}")
        if fit is not None:
            click.echo(f"measured {measured_file}: scale {fit.scale:.4g}, background {fit.background:.4g}, "
                       f"R_wp = {100 * fit.r_wp:.2f} % over {fit.n_points} points")
    if csv_out:
        atomic_write_text(csv_out, pattern.peak_table_csv())
    if xy_out:
        atomic_write_text(xy_out, pattern.xy_text())
    if plot_out:
        from .plotting import plot_patterns

        plot_patterns([pattern, *others], plot_out, measured=measured, fit=fit)


# --------------------------------------------------------------------------- database


def _db_path_option(f):
    return click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="Database file (default db/argyrodb.sqlite).")(f)


def _print_frame(frame, fmt: str) -> None:
    if fmt == "json":
        click.echo(frame.to_json(orient="records", indent=1))
    elif fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200,
                               "display.max_colwidth", 40):
            click.echo(frame.to_string(index=False) if len(frame) else "(no rows)")


@cli.group()
def db() -> None:
    """The SQLite database: build, query, compare, SQL, export, serve, plot."""


@db.command("build")
@_db_path_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def db_build(db_path, quiet):
    """Build the database from db/ and structures/ (atomic: a failure keeps the old file)."""
    from .database import DEFAULT_DB_PATH, build_database

    counts = build_database(db_path, show_progress=not quiet)
    click.echo(f"built {db_path or DEFAULT_DB_PATH}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@db.command("query")
@_db_path_option
@click.option("--contains", multiple=True, help="Element that must be present (repeatable).")
@click.option("--excludes", multiple=True, help="Element that must be absent (repeatable).")
@click.option("--primary-phase", help="e.g. Li6PS5I")
@click.option("--process", help="MM, HT or SS")
@click.option("--anode", help="e.g. Li, Li-In, In")
@click.option("--role", help="SE or Interlayer")
@click.option("--dataset", type=click.Choice(["table_s3", "obelix"]), help="Only one dataset.")
@click.option("--sigma-min", type=float, help="mS/cm")
@click.option("--sigma-max", type=float, help="mS/cm")
@click.option("--ccd-min", type=float, help="mA/cm^2")
@click.option("--ccd-max", type=float, help="mA/cm^2")
@click.option("--i-fraction-min", type=float, help="I/(Cl+Br+I)")
@click.option("--i-fraction-max", type=float, help="I/(Cl+Br+I)")
@click.option("--neutral/--not-neutral", "charge_neutral", default=None, help="Charge-neutral formulas only, or only the others.")
@click.option("--text", help="Full-text search over formulas and references.")
@click.option("--include-duplicates", is_flag=True, help="Keep imported rows that duplicate a Table S3 row.")
@click.option("--sort", help="Column to sort by (prefix - for descending), e.g. -sigma_mS_cm.")
@click.option("--limit", type=int)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def db_query(db_path, contains, excludes, primary_phase, process, anode, role, dataset, sigma_min, sigma_max, ccd_min,
             ccd_max, i_fraction_min, i_fraction_max, charge_neutral, text, include_duplicates, sort, limit, fmt):
    """Literature measurements matching every filter given."""
    from .queries import MeasurementFilter, query_measurements

    filters = MeasurementFilter(
        contains=list(contains), excludes=list(excludes), primary_phase=primary_phase, process=process, anode=anode,
        role=role, dataset=dataset, sigma_min=sigma_min, sigma_max=sigma_max, ccd_min=ccd_min, ccd_max=ccd_max,
        i_fraction_min=i_fraction_min, i_fraction_max=i_fraction_max, charge_neutral=charge_neutral, text=text,
        include_duplicates=include_duplicates)
    frame = query_measurements(filters, sort=sort, limit=limit, db_path=db_path)
    if fmt == "table":
        frame = frame[["dataset", "dataset_row", "material_printed", "formula", "primary_phase", "process", "sigma_mS_cm",
                       "ccd_mA_cm2", "anode", "role", "ref_number", "charge_neutral"]]
    _print_frame(frame, fmt)


@db.command("compare")
@_db_path_option
@click.argument("formula_or_structure")
@click.option("--sigma", type=float, help="Your conductivity in mS/cm (default: the database's value).")
@click.option("--ccd", type=float, help="Your CCD in mA/cm^2 (default: the database's value).")
@click.option("--nearest", type=int, default=5, show_default=True)
@click.option("--dataset", type=click.Choice(["table_s3", "obelix"]), help="Rank within one dataset only.")
@click.option("--json", "as_json", is_flag=True)
def db_compare(db_path, formula_or_structure, sigma, ccd, nearest, dataset, as_json):
    """Rank a material among the literature by sigma and CCD and list its nearest compositions."""
    from .queries import compare

    if nearest < 1:
        raise InputError("--nearest", f"must be at least 1, got {nearest}")
    for name, value in (("--sigma", sigma), ("--ccd", ccd)):
        if value is not None and not value > 0:
            raise InputError(name, f"must be positive, got {value:g}")
    result = compare(formula_or_structure, sigma, ccd, nearest, dataset, db_path)
    if as_json:
        payload = dict(result)
        payload["nearest"] = json.loads(result["nearest"].to_json(orient="records"))
        _emit_json(payload)
        return
    click.echo(f"{result['name']} ({result['formula']}); values from {result['values_from']}")
    if result["sigma_rank"] is not None:
        click.echo(f"  sigma = {result['sigma_mS_cm']:g} mS/cm: rank {result['sigma_rank']} of {result['sigma_of']} measurements")
    if result["ccd_rank"] is not None:
        click.echo(f"  CCD   = {result['ccd_mA_cm2']:g} mA/cm^2: rank {result['ccd_rank']} of {result['ccd_of']} measurements")
    click.echo("  nearest literature compositions (total-variation distance of element fractions):")
    _print_frame(result["nearest"], "table")


@db.command("sql")
@_db_path_option
@click.argument("sql")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds before the query is interrupted.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def db_sql(db_path, sql, timeout, fmt):
    """Run read-only SQL (the connection refuses writes)."""
    from .queries import run_sql

    _print_frame(run_sql(sql, db_path, timeout), fmt)


@db.command("export")
@_db_path_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out/export"), show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--optimade", is_flag=True, help="Also write the structures as OPTIMADE entries (structures.optimade.json).")
def db_export(db_path, out_dir, fmt, optimade):
    """Write the tables (and optionally OPTIMADE structures) to a folder."""
    from .interchange import export_optimade, export_tables

    written = export_tables(out_dir, fmt, db_path)
    if optimade:
        written.append(export_optimade(Path(out_dir) / "structures.optimade.json", db_path))
    for path in written:
        click.echo(f"wrote {path}")


@db.command("serve")
@_db_path_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8001, show_default=True)
@click.option("--writable", is_flag=True, help="Serve without Datasette's immutable mode.")
def db_serve(db_path, host, port, writable):
    """Browse with Datasette (read-only, localhost) - optional extra argyrodb[serve]."""
    import subprocess

    from .serve import serve_command

    command = serve_command(db_path, host, port, writable)
    click.echo(f"serving {db_path or 'db/argyrodb.sqlite'} on http://{host}:{port} ({'writable' if writable else 'read-only'})")
    raise SystemExit(subprocess.call(command))


@db.command("plot")
@_db_path_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("out/literature.png"), show_default=True)
def db_plot(db_path, out):
    """sigma vs CCD and sigma by primary phase for Table S3, the source's material highlighted."""
    from .plotting import plot_literature
    from .queries import MeasurementFilter, query_measurements

    frame = query_measurements(MeasurementFilter(dataset="table_s3"), db_path=db_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"wrote {plot_literature(frame, out)}")


@db.command("import-obelix")
@click.argument("csv_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default db/obelix_argyrodites.csv")
def db_import_obelix(csv_path, out):
    """Import the argyrodite rows of OBELiX's all.csv (CC BY 4.0) into the project's data file."""
    from .literature import import_obelix, write_obelix_rows
    from .paths import DB_DIR

    rows = import_obelix(csv_path)
    target = write_obelix_rows(rows, out or DB_DIR / "obelix_argyrodites.csv")
    censored = sum(1 for r in rows if r["sigma_censored"])
    click.echo(f"wrote {target}: {len(rows)} argyrodite rows ({censored} censored conductivities), licence CC BY 4.0")


# --------------------------------------------------------------------------- calculators


@cli.group()
def calc() -> None:
    """The lab's calculations: G-force, conductivity, Arrhenius, elastic moduli, CPE capacitance, CCD steps."""


@calc.command("gforce")
@click.option("--rpm", type=float, help="Rotation speed of the main disk (1/min).")
@click.option("--radius", type=float, default=0.089, show_default=True, help="Effective rotation radius R (m).")
@click.option("--g", "g_m_s2", type=float, default=9.8, show_default=True, help="Gravitational acceleration (m/s^2) as in the source.")
@click.option("--table", "table", help="Speeds START:STOP:STEP, e.g. 550:800:50 (reproduces Table S1).")
@click.option("--json", "as_json", is_flag=True)
def calc_gforce(rpm, radius, g_m_s2, table, as_json):
    """GF = (2 pi rpm / 60)^2 R / g."""
    from .calculators import gforce_table

    if rpm is None and table is None:
        raise InputError("gforce", "give --rpm or --table")
    from .families import parse_range

    rows = gforce_table(parse_range(table, "table") if table else [rpm], radius, g_m_s2)
    if as_json:
        _emit_json(rows if table else rows[0])
        return
    for row in rows:
        click.echo(f"{row['rpm']:g} rpm, R = {row['radius_m']:g} m: GF = {row['gforce']:.2f} (printed to integers: {row['gforce']:.0f})")


@calc.command("conductivity")
@click.option("--resistance", type=float, required=True, help="Bulk resistance (ohm).")
@click.option("--thickness-um", type=float)
@click.option("--thickness-mm", type=float)
@click.option("--thickness-cm", type=float)
@click.option("--diameter-mm", type=float, help="Pellet/electrode diameter (mm).")
@click.option("--area-cm2", type=float, help="Electrode area (cm^2), instead of the diameter.")
@click.option("--json", "as_json", is_flag=True)
def calc_conductivity(resistance, thickness_um, thickness_mm, thickness_cm, diameter_mm, area_cm2, as_json):
    """sigma = t / (R_bulk A), in mS/cm."""
    from .calculators import ionic_conductivity_mS_cm

    given = [(v, u) for v, u in ((thickness_um, "um"), (thickness_mm, "mm"), (thickness_cm, "cm")) if v is not None]
    if len(given) != 1:
        raise InputError("conductivity", "give exactly one of --thickness-um, --thickness-mm, --thickness-cm")
    value, unit = given[0]
    thickness_cm = value * {"um": 1e-4, "mm": 0.1, "cm": 1.0}[unit]
    sigma = ionic_conductivity_mS_cm(resistance, thickness_cm, None if diameter_mm is None else diameter_mm / 10.0, area_cm2)
    payload = {"sigma_mS_cm": sigma, "sigma_S_cm": sigma / 1000.0, "resistance_ohm": resistance, "thickness_cm": thickness_cm,
               "area_cm2": area_cm2 if area_cm2 is not None else 3.141592653589793 * (diameter_mm / 10.0) ** 2 / 4}
    if as_json:
        _emit_json(payload)
    else:
        click.echo(f"sigma = {sigma:.4g} mS/cm (t = {thickness_cm:g} cm, A = {payload['area_cm2']:.4g} cm^2, R = {resistance:g} ohm)")


@calc.command("elastic")
@click.option("--vl", type=float, required=True, help="Longitudinal sound velocity (m/s).")
@click.option("--vs", type=float, required=True, help="Shear sound velocity (m/s).")
@click.option("--density", type=float, required=True, help="Density (g/cm^3).")
@click.option("--json", "as_json", is_flag=True)
def calc_elastic(vl, vs, density, as_json):
    """E, G, B (GPa) and Poisson's ratio from V_L, V_S and density."""
    from .calculators import elastic_moduli

    result = elastic_moduli(vl, vs, density)
    if as_json:
        _emit_json(result)
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
    from .calculators import cpe_capacitance_F

    c = cpe_capacitance_F(r_ohm, q, alpha)
    if as_json:
        _emit_json({"capacitance_F": c, "r_ohm": r_ohm, "q": q, "alpha": alpha})
    else:
        click.echo(f"C = {c:.4g} F")


@calc.command("arrhenius")
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def calc_arrhenius(data, as_json):
    """Activation energy from sigma(T) in DATA.csv (columns temperature_K or temperature_C, and
    sigma_S_cm or sigma_mS_cm)."""
    import csv

    from .calculators import arrhenius_fit

    import io

    from .outputs import read_text_file

    text = read_text_file(data)
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        t_col = next((f for f in fields if f.strip() in ("temperature_K", "T_K")), None)
        c_col = next((f for f in fields if f.strip() in ("temperature_C", "T_C")), None)
        s_col = next((f for f in fields if f.strip() in ("sigma_S_cm", "sigma_mS_cm")), None)
        if (t_col is None and c_col is None) or s_col is None:
            raise InputError(data, "need columns temperature_K (or temperature_C) and sigma_S_cm (or sigma_mS_cm)")
        temps, sigmas = [], []
        for number, row in enumerate(reader, start=2):
            try:
                temps.append(float(row[t_col]) if t_col else float(row[c_col]) + 273.15)
                sigmas.append(float(row[s_col]) / (1000.0 if s_col.strip() == "sigma_mS_cm" else 1.0))
            except (TypeError, ValueError):
                raise InputError(data, f"line {number}: not a number") from None
    result = arrhenius_fit(temps, sigmas)
    if as_json:
        _emit_json(result)
    else:
        click.echo(f"Ea = {result['ea_eV']:.4f} +- {result['ea_stderr_eV']:.4f} eV, A = {result['prefactor_S_K_cm']:.4g} S K/cm, "
                   f"R^2 = {result['r_squared']:.5f} ({result['n_points']} points)")


@calc.command("ccd")
@click.option("--step", type=float, default=0.1, show_default=True, help="Current-density step (mA/cm^2).")
@click.option("--diameter-mm", type=float, default=9.0, show_default=True, help="Electrode (Li foil) diameter (mm).")
@click.option("--max", "max_j", type=float, default=2.0, show_default=True, help="Highest current density (mA/cm^2).")
@click.option("--hours", type=float, default=1.0, show_default=True, help="Plating/stripping time per step (h).")
@click.option("--json", "as_json", is_flag=True)
def calc_ccd(step, diameter_mm, max_j, hours, as_json):
    """Currents of a critical-current-density step protocol (I = J x pi d^2 / 4)."""
    from .calculators import ccd_steps

    rows = ccd_steps(step, diameter_mm, max_j, hours)
    if as_json:
        _emit_json(rows)
        return
    click.echo(f"electrode area {rows[0]['area_cm2']:.4f} cm^2 (d = {diameter_mm:g} mm); {hours:g} h per step")
    for row in rows:
        click.echo(f"step {row['step']:3d}: J = {row['current_density_mA_cm2']:.3g} mA/cm^2, I = {row['current_mA']:.4f} mA")


# --------------------------------------------------------------------------- EIS and audit


@cli.group()
def eis() -> None:
    """Impedance spectra: equivalent-circuit fitting (impedance.py)."""


@eis.command("fit")
@click.argument("spectrum", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--circuit", default=None, help="impedance.py circuit string (default: the source's Fig. S9 circuit).")
@click.option("--initial", help="Comma-separated starting values (required for a custom circuit).")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), help="Nyquist plot with the fit (PNG).")
@click.option("--json", "as_json", is_flag=True)
def eis_fit(spectrum, circuit, initial, plot_out, as_json):
    """Fit SPECTRUM.csv (frequency Hz, Z' ohm, Z'' ohm) and report parameters, errors and capacitances."""
    from .eis import FIG_S9_CIRCUIT, fit, plot_nyquist, read_spectrum

    from .outputs import check_output_paths

    check_output_paths(plot_out)
    data = read_spectrum(spectrum)
    guess = None
    if initial:
        try:
            guess = [float(v) for v in initial.split(",")]
        except ValueError:
            raise InputError("--initial", f"not a list of numbers: {initial!r}") from None
    result = fit(data, circuit or FIG_S9_CIRCUIT, guess)
    if as_json:
        _emit_json(result.as_dict())
    else:
        click.echo(f"{data.name}: {result.circuit}, rms residual {result.residual_rms_ohm:.3g} ohm")
        for name, value, err, unit in zip(result.names, result.values, result.stderr, result.units):
            click.echo(f"  {name:<8} {value:12.5g} +- {err:.2g} {unit}")
        for name, c in result.capacitances.items():
            click.echo(f"  {name:<8} {c:12.4g} F")
    if plot_out:
        plot_nyquist(data, result, plot_out)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="All rows as JSON.")
@click.option("--summary", "summary_only", is_flag=True, help="Only the counts per table and verdict.")
@click.option("--all", "show_all", is_flag=True, help="Also list the rows that are consistent.")
def audit(as_json, summary_only, show_all):
    """Recompute every derived number of the source and report what does not add up."""
    from .audit import CONSISTENT, run_audit, summary

    rows = run_audit()
    if as_json:
        _emit_json({"summary": summary(rows), "rows": [r.as_dict() for r in rows]})
        return
    counts = summary(rows)
    if not summary_only:
        for row in rows:
            if row.verdict == CONSISTENT and not show_all:
                continue
            deviation = "" if row.relative_deviation is None else f" ({100 * row.relative_deviation:+.2f} %)"
            click.echo(f"[{row.verdict}] {row.table} | {row.row} | {row.column}\n    reported: {row.reported}\n"
                       f"    recomputed: {row.recomputed}{deviation}\n    {row.reason}")
        click.echo("")
    click.echo("audit summary (rows per verdict):")
    for table, verdicts in counts.items():
        click.echo(f"  {table:<22} " + ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())))


# --------------------------------------------------------------------------- screening


@cli.command()
@click.argument("family", required=False)
@click.option("--x", "x_range", help="START:STOP:STEP (or one value) for the variable x.")
@click.option("--y", "y_range", help="... for y.")
@click.option("--z", "z_range", help="... for z.")
@click.option("--w", "w_range", help="... for w.")
@click.option("--formulas", "formulas_file", type=click.Path(dir_okay=False, path_type=Path), help="One formula per line instead of a family.")
@click.option("--sites", "distribution", type=click.Choice(["template", "random"]), default="template", show_default=True,
              help="How S and halides share 4a and 4d (see argyrodb.screening).")
@click.option("--template", type=click.Path(dir_okay=False, path_type=Path), help="Refinement whose sites and ratios are the template (default: Table S2).")
@click.option("--wavelength", default="CuKa1", show_default=True)
@click.option("--two-theta", "two_theta", nargs=2, type=float, default=(10.0, 80.0), show_default=True)
@click.option("--no-anomalous", is_flag=True)
@click.option("--no-peaks", is_flag=True, help="Do not store the peak lists (results only).")
@_db_path_option
@click.option("--jobs", type=int, default=1, show_default=True, help="Worker processes.")
@click.option("--export", "export_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the run's results (.csv or .parquet).")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False, path_type=Path), help="Write the series plots into this folder.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def screen(family, x_range, y_range, z_range, w_range, formulas_file, distribution, template, wavelength, two_theta, no_anomalous,
           no_peaks, db_path, jobs, export_out, plots_dir, quiet):
    """Screen a composition family, e.g. "Li5.6PS4.6Cl1.4-xIx" --x 0:1.4:0.1: lattice parameter,
    density, XRD peaks and nearest literature entries, stored in the database (resumable)."""
    from .families import parse_range
    from .screening import DEFAULT_TEMPLATE, ScreenSettings, Screener, export_results, run_results, run_screen

    formulas = None
    from .outputs import read_text_file
    from .screening import check_export_path

    if export_out is not None:
        check_export_path(export_out)
    if formulas_file is not None:
        formulas = [line.split("#")[0].strip() for line in read_text_file(formulas_file).splitlines()]
        formulas = [f for f in formulas if f]
        if not formulas:
            raise InputError(formulas_file, "no formulas")
    if family is None and formulas is None:
        raise InputError("screen", "give a FAMILY expression or --formulas FILE")
    ranges = {name: parse_range(text, name) for name, text in (("x", x_range), ("y", y_range), ("z", z_range), ("w", w_range)) if text}
    settings = ScreenSettings(
        family=family or f"formulas from {formulas_file.name}", ranges=ranges, formulas=formulas, distribution=distribution,
        template=str(template or DEFAULT_TEMPLATE), wavelength=wavelength, two_theta_range=tuple(two_theta),
        anomalous_dispersion=not no_anomalous, store_peaks=not no_peaks)
    summary = run_screen(settings, db_path, jobs=jobs, show_progress=not quiet)
    click.echo(f"run {summary['run_id']} ({summary['key']}): {summary['n_points']} compositions, "
               f"{summary['already_stored']} already stored, {summary['computed']} computed "
               f"({summary['ok']} ok, {summary['skipped']} skipped)")
    results = run_results(summary["run_id"], db_path)
    skipped = results[results["status"] == "skipped"]
    for row in skipped.head(10).itertuples():
        click.echo(f"  skipped {row.formula}: {row.reason}")
    if len(skipped) > 10:
        click.echo(f"  ... and {len(skipped) - 10} more skipped")
    if export_out:
        click.echo(f"wrote {export_results(results, export_out)}")
    if plots_dir:
        from .plotting import plot_screen_series
        from .xrd import simulate
        from .paths import STRUCTURES_DIR

        variable = next((v for v in ("x", "y", "z", "w") if v in results.columns), None)
        if variable is None:
            raise InputError("--plots", "series plots need a family with a variable")
        references = [simulate(STRUCTURES_DIR / f"{n}.yaml", wavelength=wavelength, two_theta_range=tuple(two_theta))
                      for n in ("Li6PS5Cl", "Li6PS5I") if (STRUCTURES_DIR / f"{n}.yaml").exists()]
        for path in plot_screen_series(Screener(settings), results, plots_dir, variable, references):
            click.echo(f"wrote {path}")


@cli.command()
@click.argument("formula")
@click.option("-n", "n_structures", type=int, default=5, show_default=True, help="Approximants to keep (lowest Ewald energy).")
@click.option("--candidates", type=int, default=40, show_default=True, help="Random decorations to rank.")
@click.option("--supercell", type=int, default=1, show_default=True, help="n for an n x n x n conventional supercell.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--sites", "distribution", type=click.Choice(["template", "random"]), default="template", show_default=True)
@click.option("--template", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out/approximants"), show_default=True)
@click.option("--format", "formats", default="poscar,extxyz,cif", show_default=True, help="Comma-separated: poscar, extxyz, cif.")
def approximants(formula, n_structures, candidates, supercell, seed, distribution, template, out_dir, formats):
    """Ordered, charge-neutral supercells of a composition, ranked by Ewald energy, written through ASE."""
    from .approximants import check_formats, generate, write
    from .screening import DEFAULT_TEMPLATE, ScreenSettings, Screener

    format_list = [f.strip() for f in formats.split(",") if f.strip()]
    check_formats(format_list)
    settings = ScreenSettings(family=formula, formulas=[formula], distribution=distribution, template=str(template or DEFAULT_TEMPLATE))
    screener = Screener(settings)
    result = screener.evaluate(0)
    if result["status"] != "ok":
        raise InputError(formula, f"cannot build: {result['reason']}")
    found = generate(screener, 0, n_structures, candidates, supercell, seed)
    for approximant in found:
        click.echo(f"#{approximant.rank}: {approximant.formula} ({len(approximant.structure)} atoms), "
                   f"Ewald energy {approximant.ewald_energy_eV:.3f} eV")
    for path in write(found, out_dir, formula, format_list):
        click.echo(f"wrote {path}")


@db.command("migrate")
@_db_path_option
def db_migrate(db_path):
    """Upgrade a database written by an older argyrodb to the current schema, in place."""
    import sqlite3

    from .database import DEFAULT_DB_PATH, SCHEMA_VERSION, migrate

    path = Path(db_path) if db_path else DEFAULT_DB_PATH
    if not path.is_file():
        raise InputError(path, "no such database")
    conn = sqlite3.connect(path)
    try:
        before = migrate(conn, path)
    finally:
        conn.close()
    click.echo(f"{path}: schema version {before} -> {SCHEMA_VERSION}" if before < SCHEMA_VERSION else f"{path}: already at version {SCHEMA_VERSION}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning argyrodb errors into one line and exit status 2."""
    try:
        cli.main(args=argv, prog_name="argyrodb", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("argyrodb: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except ArgyrodbError as exc:
        click.echo(f"argyrodb: error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # never a traceback for a user, unless asked for
        if os.environ.get("ARGYRODB_DEBUG"):
            raise
        click.echo(f"argyrodb: internal error ({type(exc).__name__}: {' '.join(str(exc).split())}); "
                   "set ARGYRODB_DEBUG=1 for the traceback", err=True)
        sys.exit(3)
    sys.exit(0)


if __name__ == "__main__":
    main()
