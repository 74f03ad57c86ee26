"""``argyrodb db ...``: build, query, compare, SQL, export, serve, plot, import, migrate."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.core import ParameterSource

from .. import api, services
from .common import Group, db_option, emit_json, format_option, print_frame

#: The `--dataset` choices: the datasets of measurements in the registry (argyrodb.store.datasets), read when this
#: command module loads (only for `argyrodb db ...`; the registry imports nothing heavy).
DATASETS = services.dataset_names("measurements")


@click.group(cls=Group)
def db() -> None:
    """The SQLite database: build, query, compare, SQL, export, serve, plot."""


@db.command("build")
@db_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def db_build(db_path, quiet):
    """Build the database from the packaged literature data and structures (atomic: a failure, Ctrl-C or SIGTERM
    keeps the old file and leaves no temporary file); user imports and refinements are replayed into it."""
    database = api.Database(db_path)
    counts = database.build(show_progress=not quiet)
    click.echo(f"built {database.path}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _notes(frame) -> None:
    for note in frame.attrs.get("notes", []):
        click.echo(f"note: {note}", err=True)


#: The `db query` options that apply to a screening run too (every other one filters literature rows).
SCREEN_QUERY_OPTIONS = {"db_path", "expression", "run", "columns", "sort", "limit", "offset", "count_only", "fmt"}


@db.command("query")
@db_option
@click.argument("expression", required=False)
@click.option("--screen", "run", type=int, help="Query the results of this screening run (see `db screens`) instead of the literature.")
@click.option("--contains", multiple=True, help="Element that must be present (repeatable).")
@click.option("--excludes", multiple=True, help="Element that must be absent (repeatable).")
@click.option("--primary-phase", help="e.g. Li6PS5I")
@click.option("--process", help="MM, HT or SS")
@click.option("--anode", help="e.g. Li, Li-In, In")
@click.option("--role", help="SE or Interlayer")
@click.option("--dataset", type=click.Choice(DATASETS), help="Only one dataset.")
@click.option("--structure-type", type=click.Choice(["argyrodite", "other", "any"]), default="any", show_default=True,
              help="argyrodite: leave out rows known to be another structure type (e.g. OBELiX's Li6SiO4Cl2, Pna2_1).")
@click.option("--sigma-min", type=float, help="mS/cm (a censored '>B' value matches when B proves it)")
@click.option("--sigma-max", type=float, help="mS/cm (a censored '<B' value matches when B proves it)")
@click.option("--ccd-min", type=float, help="mA/cm^2")
@click.option("--ccd-max", type=float, help="mA/cm^2")
@click.option("--i-fraction-min", type=float, help="I/(Cl+Br+I)")
@click.option("--i-fraction-max", type=float, help="I/(Cl+Br+I)")
@click.option("--neutral/--not-neutral", "charge_neutral", default=None, help="Charge-neutral formulas only, or only the others.")
@click.option("--text", help="Full-text search over formulas and references.")
@click.option("--include-duplicates", is_flag=True, help="Keep literature rows that repeat another one (duplicate_of).")
@click.option("--columns", help="Comma-separated columns to show, e.g. formula,sigma_mS_cm,temperature_K.")
@click.option("--sort", help="Column to sort by (prefix - for descending), e.g. -sigma_mS_cm.")
@click.option("--limit", type=int, help="At most this many rows.")
@click.option("--offset", type=int, default=0, help="Skip this many rows first.")
@click.option("--count", "count_only", is_flag=True, help="Print only the number of matching rows.")
@format_option
def db_query(db_path, expression, run, contains, excludes, primary_phase, process, anode, role, dataset,
             structure_type, sigma_min, sigma_max, ccd_min, ccd_max, i_fraction_min, i_fraction_max, charge_neutral, text,
             include_duplicates, columns, sort, limit, offset, count_only, fmt):
    """Literature measurements (or a screening run's results) matching EXPRESSION and every filter given.

    EXPRESSION is ASE-style: comma = AND, e.g. "I>0,sigma_mS_cm>=5", "2<sigma_mS_cm<10", "anode=Li";
    an element symbol means its amount per formula unit."""
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    if run is not None:
        ctx = click.get_current_context()
        given = ["/".join(param.opts + param.secondary_opts)
                 for param in ctx.command.params
                 if param.name not in SCREEN_QUERY_OPTIONS and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE]
        if given:
            raise api.ParameterError("run", f"{given[0]} filters literature rows; with --screen use the expression")
        if count_only:
            click.echo(services.query_screen(run, expression, db_path=db_path, count=True))
            return
        frame = services.query_screen(run, expression, columns=wanted or services.SCREEN_COLUMNS, sort=sort, limit=limit,
                                 offset=offset, db_path=db_path)
        print_frame(frame, fmt)
        return
    filters = api.MeasurementFilter(
        contains=list(contains), excludes=list(excludes), primary_phase=primary_phase, process=process, anode=anode,
        role=role, dataset=dataset, sigma_min=sigma_min, sigma_max=sigma_max, ccd_min=ccd_min, ccd_max=ccd_max,
        i_fraction_min=i_fraction_min, i_fraction_max=i_fraction_max, charge_neutral=charge_neutral, text=text,
        include_duplicates=include_duplicates, structure_type=None if structure_type == "any" else structure_type,
        expression=expression)
    if count_only:
        click.echo(services.count_measurements(filters, db_path=db_path))
        return
    if wanted is None and fmt == "table":
        wanted = ["dataset", "dataset_row", "material_printed", "formula", "structure_type", "process", "sigma_mS_cm",
                  "temperature_K", "ccd_mA_cm2", "anode", "role", "ref_number", "charge_neutral"]
    frame = services.query_measurements(filters, sort=sort, limit=limit, offset=offset, db_path=db_path,
                                   columns=wanted or services.MEASUREMENT_COLUMNS)
    print_frame(frame, fmt)
    _notes(frame)


@db.command("screens")
@db_option
@format_option
def db_screens(db_path, fmt):
    """The screening runs stored in the database (query one with `db query --screen RUN EXPR`)."""
    frame = services.list_screen_runs(db_path)
    if fmt == "table":
        frame = frame.drop(columns=["settings_json"])
    print_frame(frame, fmt)


@db.command("peaks")
@db_option
@click.option("--two-theta", "two_theta", nargs=2, type=float, required=True, metavar="MIN MAX",
              help="The 2theta window (degrees).")
@click.option("--min-intensity", type=float, default=0.0, show_default=True, help="Smallest relative intensity (0-100).")
@click.option("--run", type=int, help="Only this screening run (see `db screens`).")
@click.option("--limit", type=int, help="At most this many lines (by 2theta).")
@click.option("--count", is_flag=True, help="Print the number of lines only.")
@format_option
def db_peaks(db_path, two_theta, min_intensity, run, limit, count, fmt):
    """Screened compositions with a powder line in a 2theta window, e.g. --two-theta 29 29.6 --min-intensity 5
    (answered through the index on a: milliseconds over millions of lines)."""
    found = services.peaks_in_window(*two_theta, min_intensity, run=run, limit=limit, count=count, db_path=db_path)
    if count:
        click.echo(found)
        return
    print_frame(found, fmt)


@db.command("index-peaks")
@db_option
@click.option("--run", type=int, help="Only this screening run (default: every run).")
@click.option("--drop", is_flag=True, help="Remove the index instead (back to the compact form alone).")
def db_index_peaks(db_path, run, drop):
    """Build a 2theta index of screened lines (~40 bytes a line) so that `db peaks` windows answer from an index range."""
    result = services.index_peaks(run=run, drop=drop, db_path=db_path)
    runs = ", ".join(map(str, result["runs"])) or "none"
    if drop:
        click.echo(f"removed the 2theta index of run(s) {runs} in {result['seconds']:.1f} s")
    else:
        click.echo(f"indexed {result['peaks']} lines of run(s) {runs} by 2theta in {result['seconds']:.1f} s")


@db.command("add")
@db_option
@click.argument("csv_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Add conductivities outside 1e-12 to 1e3 mS/cm too (with a warning).")
def db_add(db_path, csv_path, force):
    """Add your own measurements from a CSV (formula,sigma_mS_cm[,temperature_K,ccd_mA_cm2,process,anode,doi,note,structure,...]).

    Every row is validated first (a bad row: nothing is written); the data is kept across `db build`.

    Limits: at most 100,000 data rows and 20 MB a file, 250,000 user rows a database (every `db build` replays
    them); a larger file is refused before anything is written - split it.

    Plausibility: sigma_mS_cm (or a bound) outside 1e-12 to 1e3 mS/cm is refused, naming file:line, unless
    --force: below 1e-12 mS/cm no pellet measurement resolves an ionic conductivity, above 1e3 mS/cm (1 S/cm) is
    beyond every known Li-ion conductor (Li10GeP2S12-type ~25 mS/cm), so it is a unit slip. A formula that is not
    charge-neutral is added with a warning naming its line and charge.

    Another writer holding the database: waits up to $ARGYRODB_BUSY_TIMEOUT_S (default 30) seconds, then exits 2."""
    result = api.Database(db_path).add(csv_path, force=force)
    for warning in result.get("warnings", []):
        click.echo(f"argyrodb: warning: {warning}", err=True)
    click.echo(f"added {result['file_name']} to {services.database_path(db_path)} as user import {result['import_id']}: "
               f"{result['measurements']} measurements, {result['structures']} structures (SHA-256 {result['sha256'][:16]}...)")


@db.command("remove")
@db_option
@click.argument("which")
def db_remove(db_path, which):
    """Remove a user import (its file name or import id) and everything stored from it.

    Another writer holding the database: waits up to $ARGYRODB_BUSY_TIMEOUT_S (default 30) seconds, then exits 2."""
    result = api.Database(db_path).remove(which)
    click.echo(f"removed user import {result['import_id']} ({result['file_name']}): {result['measurements']} measurements, "
               f"{result['structures']} structures, {result['materials']} materials no longer used")


@db.command("compare")
@db_option
@click.argument("formula_or_structure")
@click.option("--sigma", "sigma_mS_cm", type=float, help="Your conductivity in mS/cm (default: the database's value).")
@click.option("--ccd", "ccd_mA_cm2", type=float, help="Your CCD in mA/cm^2 (default: the database's value).")
@click.option("--nearest", "n_nearest", type=int, default=5, show_default=True)
@click.option("--dataset", type=click.Choice(DATASETS), help="Rank within one dataset only.")
@click.option("--structure-type", type=click.Choice(["argyrodite", "any"]), default="argyrodite", show_default=True,
              help="argyrodite: rank among argyrodite-type rows only (rows known to be other structures left out).")
@click.option("--json", "as_json", is_flag=True)
def db_compare(db_path, formula_or_structure, sigma_mS_cm, ccd_mA_cm2, n_nearest, dataset, structure_type, as_json):
    """Rank a material among the literature by sigma and CCD and list its nearest compositions."""
    result = services.compare(formula_or_structure, sigma_mS_cm, ccd_mA_cm2, n_nearest, dataset, db_path,
                         structure_type=None if structure_type == "any" else structure_type)
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
    for note in result.get("notes", []):
        click.echo(f"note: {note}", err=True)


@db.command("sql")
@db_option
@click.argument("sql")
@click.option("-p", "--param", "params", type=(str, str), multiple=True, metavar="NAME VALUE",
              help="Bind :NAME in the SQL to VALUE (repeatable; numbers are bound as numbers).")
@click.option("--limit", type=int, default=10_000, show_default=True, help="At most this many rows (0: no cap).")
@click.option("--timeout", "timeout_s", type=float, default=10.0, show_default=True, help="Seconds before the query is interrupted.")
@format_option
def db_sql(db_path, sql, params, limit, timeout_s, fmt):
    """Run read-only SQL (the connection refuses writes), e.g. `db sql "SELECT * FROM materials WHERE i > :i" -p i 0.5`."""
    bound = {}
    for name, value in params:
        try:
            number = float(value)
            bound[name] = int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
        except ValueError:
            bound[name] = value
    frame = services.run_sql(sql, db_path, timeout_s, params=bound, limit=None if limit == 0 else limit)
    print_frame(frame, fmt)
    if frame.attrs.get("truncated"):
        click.echo(f"note: stopped at {limit} rows (--limit N for more, --limit 0 for all)", err=True)


@db.command("export")
@db_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out/export"), show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--optimade", is_flag=True, help="Also write the structures as OPTIMADE entries (structures.optimade.json).")
def db_export(db_path, out_dir, fmt, optimade):
    """Write the tables (and optionally OPTIMADE structures) to a folder: all files or none."""
    written = services.export_tables(out_dir, fmt, db_path, optimade=optimade)
    for path in written:
        click.echo(f"wrote {path}")


@db.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8001, show_default=True)
@click.option("--writable", is_flag=True, help="Let connections write (default: read-only, PRAGMA query_only).")
def db_serve(db_path, host, port, writable):
    """Browse with Datasette (read-only, localhost) - optional extra argyrodb[serve]."""
    def announce(url):  # called once Datasette, the database and the port are checked
        click.echo(f"serving {services.database_path(db_path)} on {url} ({'writable' if writable else 'read-only'})")

    raise SystemExit(services.serve(db_path, host, port, writable, on_ready=announce))


@db.command("plot")
@db_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("out/literature.png"), show_default=True)
def db_plot(db_path, out):
    """sigma vs CCD and sigma by primary phase for Table S3, the source's material highlighted."""
    frame = services.query_measurements(api.MeasurementFilter(dataset="table_s3"), db_path=db_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"wrote {services.plot_literature(frame, out)}")


@db.command("import-obelix")
@click.argument("csv_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Data file to write (the repository's db/obelix_argyrodites.csv).")
def db_import_obelix(csv_path, out):
    """Import the argyrodite rows of OBELiX's all.csv (CC BY 4.0) into a data file."""
    rows = services.import_obelix(csv_path)
    target = services.write_obelix_rows(rows, out)
    censored = sum(1 for r in rows if r["sigma_censored"])
    click.echo(f"wrote {target}: {len(rows)} argyrodite rows ({censored} censored conductivities), licence CC BY 4.0")


@db.command("migrate")
@db_option
def db_migrate(db_path):
    """Upgrade a database written by an older argyrodb to the current schema, in place."""
    path = services.database_path(db_path)
    before, after = services.migrate_file(path)
    click.echo(f"{path}: schema version {before} -> {after}" if before < after else f"{path}: already at version {after}")
