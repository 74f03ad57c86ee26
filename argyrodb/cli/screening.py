"""``argyrodb screen`` and ``argyrodb approximants``."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from .. import api, services
from ..core.errors import InputError
from ..core.files import read_text_file
from ..core.grids import parse_range
from .common import Command, db_option


@click.command(cls=Command)
@click.argument("family", required=False)
@click.option("--x", "x", help="START:STOP:STEP (or one value) for the variable x.")
@click.option("--y", "y", help="... for y.")
@click.option("--z", "z", help="... for z.")
@click.option("--w", "w", help="... for w.")
@click.option("--formulas", "formulas_file", type=click.Path(dir_okay=False, path_type=Path), help="One formula per line instead of a family.")
@click.option("--sites", "distribution", type=click.Choice(["template", "random"]), default="template", show_default=True,
              help="How S and halides share 4a and 4d (see argyrodb.screening.site_model).")
@click.option("--template", type=click.Path(dir_okay=False, path_type=Path), help="Refinement whose sites and ratios are the template (default: Table S2).")
@click.option("--wavelength", default="CuKa1", show_default=True)
@click.option("--two-theta", "two_theta_range", nargs=2, type=float, default=(10.0, 80.0), show_default=True)
@click.option("--no-anomalous", is_flag=True)
@click.option("--no-peaks", is_flag=True, help="Do not store the peak lists (results only).")
@click.option("--bvse", is_flag=True,
              help="Also the BVSE Li percolation energies of each composition (bvse_e_1d_eV, bvse_e_2d_eV, bvse_e_3d_eV; ~50 ms each), "
                   "to sort by: db query --screen RUN --sort bvse_e_3d_eV.")
@db_option
@click.option("--jobs", type=int, default=1, show_default=True, help="Worker processes (with --dask local: Dask workers).")
@click.option("--dask", "dask", metavar="ADDRESS",
              help="Compute the chunks on a Dask cluster: its scheduler (tcp://HOST:8786), or 'local' for a LocalCluster "
                   "of --jobs workers on this machine (needs argyrodb[dask]).")
@click.option("--export", "export_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the run's results (.csv or .parquet).")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False, path_type=Path), help="Write the series plots into this folder.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def screen(family, x, y, z, w, formulas_file, distribution, template, wavelength, two_theta_range, no_anomalous,
           no_peaks, bvse, db_path, jobs, dask, export_out, plots_dir, quiet):
    """Screen a composition family: lattice parameter, density, XRD peaks, nearest literature; stored, resumable.

    For example "Li5.6PS4.6Cl1.4-xIx" --x 0:1.4:0.1; results go into the database, and the same command
    resumes an interrupted run."""
    if export_out is not None:
        services.check_export_path(export_out)
    formulas = None
    if formulas_file is not None:
        formulas = [line.split("#")[0].strip() for line in read_text_file(formulas_file).splitlines()]
        formulas = [f for f in formulas if f]
        if not formulas:
            raise InputError(formulas_file, "no formulas")
    if not (family or "").strip() and formulas is None:
        raise InputError("FAMILY", "give a family expression (e.g. \"Li5.6PS4.6Cl1.4-xIx\") or --formulas FILE")
    ranges = {name: parse_range(text, name) for name, text in (("x", x), ("y", y), ("z", z), ("w", w)) if text}
    settings = api.ScreenSettings(
        family=family or f"formulas from {formulas_file.name}", ranges=ranges, formulas=formulas, distribution=distribution,
        template=str(template or services.default_template()), wavelength=wavelength, two_theta_range=tuple(two_theta_range),
        anomalous_dispersion=not no_anomalous, store_peaks=not no_peaks, bvse=bvse)
    summary = services.run_screen(settings, db_path, jobs=jobs, show_progress=not quiet, dask=dask)
    click.echo(f"run {summary['run_id']} ({summary['key']}): {summary['n_points']} compositions, "
               f"{summary['already_stored']} already stored, {summary['computed']} computed "
               f"({summary['ok']} ok, {summary['skipped']} skipped)")
    n_skipped = services.query_screen(summary["run_id"], "status=skipped", db_path=db_path, count=True)
    if n_skipped:
        for row in services.query_screen(summary["run_id"], "status=skipped", columns=("formula", "reason"), limit=10,
                                    db_path=db_path).itertuples():
            click.echo(f"  skipped {row.formula}: {row.reason}")
    if n_skipped > 10:
        click.echo(f"  ... and {n_skipped - 10} more skipped")
    if bvse:
        lowest = services.query_screen(summary["run_id"], "status=ok", columns=("formula", "bvse_e_3d_eV"), sort="bvse_e_3d_eV",
                                       limit=3, db_path=db_path)
        if len(lowest):
            click.echo("lowest BVSE 3D percolation energy: " + ", ".join(
                f"{row.formula} {row.bvse_e_3d_eV:.3f} eV" if row.bvse_e_3d_eV == row.bvse_e_3d_eV else f"{row.formula} (none below 5 eV)"
                for row in lowest.itertuples()))
    n_extrapolated = services.query_screen(summary["run_id"], "extrapolated=1", db_path=db_path, count=True)
    if n_extrapolated:
        n_ok = services.query_screen(summary["run_id"], "status=ok", db_path=db_path, count=True)
        reasons = services.query_screen(summary["run_id"], "extrapolated=1", columns=("a_note",), db_path=db_path)["a_note"]
        reason = reasons.iloc[0].removeprefix("extrapolated: ") if reasons.nunique() == 1 else "see a_note of each row"
        click.echo(f"  a extrapolated for {n_extrapolated} of {n_ok} compositions (outside the lattice model's calibration: "
                   f"{reason}; db query --screen {summary['run_id']} \"extrapolated=1\")")
    if not (export_out or plots_dir):
        return
    results = services.run_results(summary["run_id"], db_path)
    if export_out:
        click.echo(f"wrote {services.export_results(results, export_out)}")
    if plots_dir:
        variable = next((v for v in ("x", "y", "z", "w") if v in results.columns), None)
        if variable is None:
            raise InputError("--plots", "series plots need a family with a variable")
        conditions = api.PatternConditions(wavelength=wavelength, two_theta_range=tuple(two_theta_range))
        references = [api.analyse(services.structure_file(n)).pattern(conditions)
                      for n in ("Li6PS5Cl", "Li6PS5I") if services.structure_file(n).exists()]
        for path in services.plot_screen_series(services.Screener(settings), results, plots_dir, variable, references):
            click.echo(f"wrote {path}")


@click.command(cls=Command)
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
    format_list = [f.strip() for f in formats.split(",") if f.strip()]
    services.check_formats(format_list)
    settings = api.ScreenSettings(family=formula, formulas=[formula], distribution=distribution,
                                  template=str(template or services.default_template()))
    screener = services.Screener(settings)
    result = screener.evaluate(0)
    if result["status"] != "ok":
        raise InputError(formula, f"cannot build: {result['reason']}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", services.CompositionWarning)  # said below, in one line of its own
        found = services.generate_approximants(screener, 0, n_structures, candidates, supercell, seed)
    if found:
        click.echo(found[0].composition_note())
        click.echo(f"cell{found[0].a_note().removeprefix(';')}")
    for approximant in found:
        click.echo(f"#{approximant.rank}: {approximant.formula} ({len(approximant.structure)} atoms), "
                   f"Ewald energy {approximant.ewald_energy_eV:.3f} eV")
    for path in services.write_approximants(found, out_dir, formula, format_list):
        click.echo(f"wrote {path}")
