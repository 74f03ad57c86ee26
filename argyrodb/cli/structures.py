"""``argyrodb build``, ``density`` and ``xrd``: structures in, reports, CIFs, densities and patterns out."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api, services
from ..core.chemistry import parse_formula
from ..core.errors import InputError, ValidationFailed
from ..core.files import atomic_write_text, check_output_paths, safe_filename
from . import render
from .common import Command, emit_json, wavelength_value

#: The text table of `argyrodb xrd` lists lines at least this strong (percent of the strongest); files list all.
XRD_TABLE_MIN_INTENSITY_REL = 1.0


@click.command(cls=Command)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--a", "a_angstrom", type=float, help="Lattice parameter in angstrom (overrides the file).")
@click.option("--cif", "cif_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the CIF here (one input file).")
@click.option("--cif-dir", type=click.Path(file_okay=False, path_type=Path), help="Write NAME.cif for each input into this folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--block", help="Only this data block of a CIF with several (default: every block).")
@click.option("--force", is_flag=True, help="Proceed with a structure that fails the argyrodite framework check (a warning).")
def build(files: tuple[Path, ...], a_angstrom: float | None, cif_out: Path | None, cif_dir: Path | None, as_json: bool,
          block: str | None, force: bool) -> None:
    """Read refinement files or CIFs, validate them, report, and write symmetric CIFs.

    FILE is an argyrodb refinement file (.yaml, see structures/README.md) or a CIF with partial
    occupancies, in any setting (P1 listings, other origins and Hall/symop-only files are brought to the
    standard F-43m setting); every data block of a CIF is built. Exit status 2 when a file cannot be read,
    is not an argyrodite, or has validation errors; no CIF is then written.
    """
    if a_angstrom is not None and len(files) > 1:
        raise InputError("--a", "one lattice parameter for several files: build them one at a time")
    if cif_out is not None and len(files) > 1:
        raise InputError("--cif", "give --cif-dir (not --cif) when building several files")
    if cif_out is not None and cif_dir is not None:
        raise InputError("--cif", "give either --cif or --cif-dir, not both")
    if cif_out is not None:
        check_output_paths(cif_out)
    # Read and analyse everything first, so a bad file leaves no output from the others half-done.
    analysed = [structure for path in files for structure in services.analyse_blocks(path, a_angstrom, block=block, force=force)]
    failed = next((s for s in analysed if s.errors), None)
    if as_json:
        payloads = [render.report_dict(s) for s in analysed]
        emit_json(payloads[0] if len(payloads) == 1 else payloads)
    else:
        for structure in analysed:
            click.echo(render.report_text(structure))
            click.echo("")
    if failed is not None:
        raise ValidationFailed(failed.source, f"{failed.errors[0].kind}: {failed.errors[0].message} (no CIF written)")
    if cif_dir is not None:
        names = [safe_filename(s.name, ".cif") for s in analysed]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InputError("--cif-dir", f"several inputs would write {duplicates[0]} (same structure name); no CIF written")
    if cif_dir is not None:
        cif_dir.mkdir(parents=True, exist_ok=True)
    for structure in analysed:
        if cif_out is not None:
            written = cif_out
        elif cif_dir is not None:
            written = cif_dir / safe_filename(structure.name, ".cif")
        else:
            continue
        structure.cif(written)
        if not as_json:
            click.echo(f"wrote {written}")


@click.command(cls=Command)
@click.argument("file_or_formula")
@click.option("--a", "a_angstrom", type=float, help="Lattice parameter in angstrom.")
@click.option("--z", type=float, default=4.0, show_default=True, help="Formula units per cell (formula input only).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--block", help="The data block of a CIF with several.")
@click.option("--force", is_flag=True, help="Proceed with a structure that fails the argyrodite framework check.")
def density(file_or_formula: str, a_angstrom: float | None, z: float, as_json: bool, block: str | None, force: bool) -> None:
    """X-ray density and molar volume of a structure file or a formula (e.g. Li5.6PS4.6Cl0.8I0.6).

    For a formula without --a, a comes from the lattice model (Vegard fit over halide fractions to
    published lattice parameters, with its uncertainty), and the output says so.
    """
    path = Path(file_or_formula)
    if path.suffix.lower() in (".yaml", ".yml", ".cif") or path.exists():
        result = render.density_dict(api.analyse(path, a_angstrom, block=block, force=force), str(path))
    else:
        formula = parse_formula(file_or_formula, source=file_or_formula)
        lattice = services.given_lattice(a_angstrom) if a_angstrom is not None else api.predict_lattice(formula, file_or_formula)
        result = render.formula_density_dict(file_or_formula, formula, lattice, api.density_of_formula(formula, lattice.a_angstrom, z))
    if as_json:
        emit_json(result)
        return
    click.echo(render.density_text(result))


@click.command(cls=Command)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--a", "a_angstrom", type=float, help="Lattice parameter in angstrom (default: the file's, else the lattice model's).")
@click.option("--wavelength", help="CuKa1 (default for X-rays), CuKa12 (K-alpha1+2 at 2:1), CuKa, MoKa1, MoKa12, ... or a value in angstrom (e.g. 1.542); neutrons: the value in angstrom, required (e.g. 1.594).")
@click.option("--radiation", type=click.Choice(["xray", "neutron"]), default="xray", show_default=True, help="X-rays or constant-wavelength neutrons (Sears 1992 scattering lengths, no polarisation factor).")
@click.option("--scattering-length", "scattering_lengths_fm", multiple=True, metavar="EL=FM", help="Neutrons: this b (fm) for an element instead of Sears' natural-abundance b_c (e.g. Li=-2.22 for a 7Li-enriched sample; repeatable).")
@click.option("--two-theta", "two_theta_range", nargs=2, type=float, default=(10.0, 120.0), show_default=True, metavar="MIN MAX", help="2theta range in degrees.")
@click.option("--no-anomalous", is_flag=True, help="Switch off anomalous dispersion (f', f'').")
@click.option("--monochromator-2theta", "monochromator_two_theta_deg", type=float, help="Monochromator 2theta in degrees (graphite 002 with Cu: 26.57); default: unpolarised beam.")
@click.option("--size-nm", "size_nm", type=float, help="Crystallite size (nm) for Scherrer broadening of the profile.")
@click.option("--caglioti", "caglioti_uvw", nargs=3, type=float, metavar="U V W", help="Instrument Caglioti parameters in deg^2.")
@click.option("--json", "as_json", is_flag=True, help="Print the peak list as JSON.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the peak list as CSV.")
@click.option("--xy", "xy_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the profile as two columns.")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG plot with labelled reflection ticks.")
@click.option("--compare", "compare_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path), help="Overlay another structure (repeatable).")
@click.option("--measured", "measured_file", type=click.Path(dir_okay=False, path_type=Path), help="Measured pattern (.xy/.xye/.csv, .xrdml, .brml, .raw, .ras/.rasx, GSAS .gsa/.fxye): fit scale, report R_wp, overlay.")
@click.option("--block", help="The data block of a CIF with several.")
@click.option("--force", is_flag=True, help="Proceed with a structure that fails the argyrodite framework check.")
def xrd(file, a_angstrom, wavelength, radiation, scattering_lengths_fm, two_theta_range, no_anomalous,
        monochromator_two_theta_deg, size_nm, caglioti_uvw, as_json, csv_out, xy_out, plot_out, compare_files,
        measured_file, block, force):
    """Simulate the powder X-ray or neutron pattern of a refinement file or CIF.

    Per-site occupancies and B, Waasmaier-Kirfel form factors, anomalous dispersion (xraydb),
    Bragg-Brentano Lorentz-polarisation, K-alpha doublet, pseudo-Voigt profiles. Neutrons: Sears' bound
    coherent scattering lengths, the constant-wavelength Lorentz factor, no polarisation; --wavelength in
    angstrom is required.
    """
    if compare_files and plot_out is None:
        raise InputError("--compare", "overlays are drawn on the plot: give --plot OUT.png as well")
    if wavelength is None and radiation == "neutron":
        raise InputError("--wavelength", "a neutron pattern needs the wavelength in angstrom (e.g. --wavelength 1.594)")
    check_output_paths(csv_out, xy_out, plot_out)
    conditions = api.PatternConditions(
        wavelength=wavelength_value(wavelength or "CuKa1"), two_theta_range=tuple(two_theta_range),
        anomalous_dispersion=not no_anomalous, monochromator_two_theta_deg=monochromator_two_theta_deg,
        size_nm=size_nm, caglioti_uvw=tuple(caglioti_uvw) if caglioti_uvw else None, radiation=radiation,
        scattering_lengths_fm=_scattering_lengths(scattering_lengths_fm),
    )
    pattern = api.analyse(file, a_angstrom, block=block, force=force).pattern(conditions)
    others = [api.analyse(other).pattern(conditions) for other in compare_files]
    measured = fit = None
    if measured_file is not None:
        measured = services.read_xy(measured_file)
        for note in measured.notes:
            click.echo(f"warning: {measured_file}: {note}", err=True)
        fit = services.fit_scale(measured, pattern)
    if as_json:
        payload = pattern.to_json_dict()
        if fit is not None:
            payload["measured"] = {"file": str(measured_file), **fit.as_dict(), "notes": list(measured.notes)}
        emit_json(payload)
    else:
        click.echo(f"{pattern.name}: {pattern.a_text(5, 'A')}, "
                   + ", ".join(f"{c.name} {c.wavelength_angstrom:.5f} A" for c in pattern.components)
                   + f", 2theta {pattern.two_theta_range[0]:g}-{pattern.two_theta_range[1]:g} deg, "
                   + (f"neutrons (b in fm: {pattern.conventions['scattering_lengths_fm']})" if radiation == "neutron"
                      else f"anomalous {'off' if no_anomalous else 'on'}"))
        click.echo(f"{'hkl':<16} {'2theta':>9} {'d (A)':>8} {'mult':>5} {'|F|^2':>10} {'I_rel':>7}  line")
        every = pattern.lines(min_intensity_rel=0.0)
        shown = [row for row in every if row["intensity_rel"] >= XRD_TABLE_MIN_INTENSITY_REL]
        for row in shown:
            click.echo(f"{row['hkl']:<16} {row['two_theta_deg']:9.4f} {row['d_angstrom']:8.4f} {row['multiplicity']:5d} "
                       f"{row['f_squared']:10.1f} {row['intensity_rel']:7.2f}  {row['component']}")
        note = _xrd_table_note(shown, every, pattern.two_theta_range)
        if note:
            click.echo(note)
        if fit is not None:
            click.echo(f"measured {measured_file}: scale {fit.scale:.4g}, background {fit.background:.4g}, "
                       f"R_wp = {100 * fit.r_wp:.2f} % over {fit.n_points} points")
    if csv_out:
        atomic_write_text(csv_out, pattern.peak_table_csv())
    if xy_out:
        atomic_write_text(xy_out, pattern.xy_text())
    if plot_out:
        services.plot_patterns([pattern, *others], plot_out, measured=measured, fit=fit)


def _scattering_lengths(items: tuple[str, ...]) -> dict[str, float] | None:
    """``--scattering-length Li=-2.22 ...`` as {"Li": -2.22}; a malformed item is an error naming the option."""
    if not items:
        return None
    out: dict[str, float] = {}
    for item in items:
        element, _, value = item.partition("=")
        try:
            out[element.strip()] = float(value)
        except ValueError:
            raise InputError("--scattering-length", f"{item!r} is not ELEMENT=FM (e.g. Li=-2.22)") from None
    return out


def _xrd_table_note(shown: list[dict], every: list[dict], two_theta_range: tuple[float, float]) -> str:
    """The line under the text table of `argyrodb xrd` saying what it leaves out: how many lines, and where the
    table stops when the weak lines it hides run on to higher 2theta (short wavelengths: Mo K-alpha at
    10-120 deg has ~190 lines, most of them above ~55 deg and below 1 %)."""
    if not every:
        return f"(no reflections between 2theta {two_theta_range[0]:g} and {two_theta_range[1]:g} deg)"
    hidden = len(every) - len(shown)
    if not hidden:
        return ""
    text = (f"({len(shown)} of {len(every)} lines shown: {hidden} weaker than {XRD_TABLE_MIN_INTENSITY_REL:g} % of the "
            "strongest are not")
    last = shown[-1]["two_theta_deg"] if shown else two_theta_range[0]
    beyond = sum(1 for row in every if row["two_theta_deg"] > last)
    if beyond:
        text += (f"; the table stops at 2theta = {last:.2f} deg but the pattern has {beyond} more line{'s' if beyond > 1 else ''} up to "
                 f"{every[-1]['two_theta_deg']:.2f} deg")
    return text + "; --csv or --json lists every line)"
