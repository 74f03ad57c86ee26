"""``argyrodb db ...``: build, query, compare, SQL, export, serve, plot, import, migrate."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import api
from .common import Group, db_option, emit_json, print_frame


@click.group(cls=Group)
def db() -> None:
    """The SQLite database: build, query, compare, SQL, export, serve, plot."""


@db.command("build")
@db_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def db_build(db_path, quiet):
    """Build the database from the packaged literature data and structures (atomic: a failure keeps the old file)."""
    target = api.database_path(db_path)
    if db_path is None:
        target.parent.mkdir(parents=True, exist_ok=True)
    counts = api.build_database(target, show_progress=not quiet)
    click.echo(f"built {target}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@db.command("query")
@db_option
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
    filters = api.MeasurementFilter(
        contains=list(contains), excludes=list(excludes), primary_phase=primary_phase, process=process, anode=anode,
        role=role, dataset=dataset, sigma_min=sigma_min, sigma_max=sigma_max, ccd_min=ccd_min, ccd_max=ccd_max,
        i_fraction_min=i_fraction_min, i_fraction_max=i_fraction_max, charge_neutral=charge_neutral, text=text,
        include_duplicates=include_duplicates)
    frame = api.query_measurements(filters, sort=sort, limit=limit, db_path=db_path)
    if fmt == "table":
        frame = frame[["dataset", "dataset_row", "material_printed", "formula", "primary_phase", "process", "sigma_mS_cm",
                       "ccd_mA_cm2", "anode", "role", "ref_number", "charge_neutral"]]
    print_frame(frame, fmt)


@db.command("compare")
@db_option
@click.argument("formula_or_structure")
@click.option("--sigma", "sigma_mS_cm", type=float, help="Your conductivity in mS/cm (default: the database's value).")
@click.option("--ccd", "ccd_mA_cm2", type=float, help="Your CCD in mA/cm^2 (default: the database's value).")
@click.option("--nearest", "n_nearest", type=int, default=5, show_default=True)
@click.option("--dataset", type=click.Choice(["table_s3", "obelix"]), help="Rank within one dataset only.")
@click.option("--json", "as_json", is_flag=True)
def db_compare(db_path, formula_or_structure, sigma_mS_cm, ccd_mA_cm2, n_nearest, dataset, as_json):
    """Rank a material among the literature by sigma and CCD and list its nearest compositions."""
    result = api.compare(formula_or_structure, sigma_mS_cm, ccd_mA_cm2, n_nearest, dataset, db_path)
    if as_json:
        payload = dict(result)
        for key in ("nearest", "exact_matches"):
            payload[key] = json.loads(result[key].to_json(orient="records"))
        emit_json(payload)
        return
    click.echo(f"{result['name']} ({result['formula']}); values: {result['values_from'] or 'none'}")
    if result["sigma_rank"] is not None:
        click.echo(f"  sigma = {result['sigma_mS_cm']:g} mS/cm: rank {result['sigma_rank']} of {result['sigma_of']} "
                   f"measurements (1 = highest)")
    if result["ccd_rank"] is not None:
        click.echo(f"  CCD   = {result['ccd_mA_cm2']:g} mA/cm^2: rank {result['ccd_rank']} of {result['ccd_of']} "
                   f"measurements (1 = highest)")
    exact = result["exact_summary"]
    click.echo(f"  measurements of this composition: {exact['n']}" + (
        f" (sigma {exact['sigma_min']:g}-{exact['sigma_max']:g} mS/cm, median {exact['sigma_median']:g})"
        if exact["sigma_median"] is not None else ""))
    if len(result["exact_matches"]):
        print_frame(result["exact_matches"], "table")
    click.echo("  nearest other compositions (total-variation distance of element fractions; n, sigma min/median/max in mS/cm):")
    print_frame(result["nearest"], "table")


@db.command("sql")
@db_option
@click.argument("sql")
@click.option("--timeout", "timeout_s", type=float, default=10.0, show_default=True, help="Seconds before the query is interrupted.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def db_sql(db_path, sql, timeout_s, fmt):
    """Run read-only SQL (the connection refuses writes)."""
    print_frame(api.run_sql(sql, db_path, timeout_s), fmt)


@db.command("export")
@db_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out/export"), show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--optimade", is_flag=True, help="Also write the structures as OPTIMADE entries (structures.optimade.json).")
def db_export(db_path, out_dir, fmt, optimade):
    """Write the tables (and optionally OPTIMADE structures) to a folder."""
    written = api.export_tables(out_dir, fmt, db_path)
    if optimade:
        written.append(api.export_optimade(Path(out_dir) / "structures.optimade.json", db_path))
    for path in written:
        click.echo(f"wrote {path}")


@db.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8001, show_default=True)
@click.option("--writable", is_flag=True, help="Serve without Datasette's immutable mode.")
def db_serve(db_path, host, port, writable):
    """Browse with Datasette (read-only, localhost) - optional extra argyrodb[serve]."""
    api.serve_command(db_path, host, port, writable, "metadata.json")  # checks Datasette and the database first
    click.echo(f"serving {api.database_path(db_path)} on http://{host}:{port} ({'writable' if writable else 'read-only'})")
    raise SystemExit(api.serve(db_path, host, port, writable))


@db.command("plot")
@db_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("out/literature.png"), show_default=True)
def db_plot(db_path, out):
    """sigma vs CCD and sigma by primary phase for Table S3, the source's material highlighted."""
    frame = api.query_measurements(api.MeasurementFilter(dataset="table_s3"), db_path=db_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"wrote {api.plot_literature(frame, out)}")


@db.command("import-obelix")
@click.argument("csv_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Data file to write (the repository's db/obelix_argyrodites.csv).")
def db_import_obelix(csv_path, out):
    """Import the argyrodite rows of OBELiX's all.csv (CC BY 4.0) into a data file."""
    rows = api.import_obelix(csv_path)
    target = api.write_obelix_rows(rows, out)
    censored = sum(1 for r in rows if r["sigma_censored"])
    click.echo(f"wrote {target}: {len(rows)} argyrodite rows ({censored} censored conductivities), licence CC BY 4.0")


@db.command("migrate")
@db_option
def db_migrate(db_path):
    """Upgrade a database written by an older argyrodb to the current schema, in place."""
    path = api.database_path(db_path)
    before, after = api.migrate_file(path)
    click.echo(f"{path}: schema version {before} -> {after}" if before < after else f"{path}: already at version {after}")
