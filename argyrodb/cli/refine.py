"""``argyrodb refine``: Rietveld or Pawley refinement of a measured powder pattern."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api, services
from ..core.files import atomic_write_text, check_output_paths
from .common import Group, emit_json, wavelength_value
from .render import refinement_json


@click.command(cls=Group.command_class)
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--start", "start", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Start structure: refinement YAML or CIF of the argyrodite.")
@click.option("--phase", "phases", multiple=True,
              help="Second phase: a bundled one (LiCl, LiBr, LiI, Li2S, Li3PS4) or a CIF file (repeatable).")
@click.option("--mode", type=click.Choice(["rietveld", "pawley"]), default="rietveld", show_default=True)
@click.option("--wavelength", help="CuKa12 (K-alpha1 + K-alpha2), CuKa1, MoKa12, or angstrom (default: the file's, as an "
              "XRDML states it, else CuKa12).")
@click.option("--two-theta", "two_theta_range", type=(float, float), metavar="MIN MAX", help="Refine only this 2theta range (deg).")
@click.option("--refine", "refine", help="Comma-separated parameters to refine (default: all but the displacement), "
              "e.g. zero_shift_deg,a:,occ:,B:,U:,V,W,X,Y:,axial_deg,displacement_deg.")
@click.option("--background-terms", type=int, default=12, show_default=True, help="Chebyshev background terms.")
@click.option("--nominal", "nominal", metavar="FORMULA", help="The composition to hold, e.g. Li5.6PS4.6Cl0.8I0.6 (any "
              "element order). Default: the start file's nominal formula, else its own composition if charge-neutral.")
@click.option("--tie-totals", "tie_totals", help="Only these halides' totals per formula unit are held at the nominal "
              "(only their 4a/4d split is refined), e.g. Cl or Br,I; the others are free. Default: every halide's, with the "
              "anion sites full and Li at the nominal.")
@click.option("--free-totals", "free_totals", is_flag=True, help="Refine every anion-site occupancy freely (the totals "
              "and the start file's site sums are not held); the refined composition is compared with the nominal.")
@click.option("--calibrate", is_flag=True, help="DATA is a standard (NIST Si, LaB6) and --start its CIF: refine the "
              "instrument (zero, displacement, transparency, U V W X Y, axial divergence) with a held at the CIF's; "
              "--out writes the instrument file.")
@click.option("--instrument", "instrument", type=click.Path(dir_okay=False, path_type=Path),
              help="An instrument file from --calibrate: its zero shift, widths and axial divergence are held, and sizes "
              "and strains are the sample's (instrument-corrected).")
@click.option("--monochromator-2theta", "monochromator", type=float, help="Monochromator 2theta_M (deg) for the polarisation factor.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Fig. S2-style plot (PNG).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the refined structure as a refinement YAML (and a CIF beside it).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help="Also store the refinement in this database.")
def refine(data, start, phases, mode, wavelength, two_theta_range, refine, background_terms, nominal, tie_totals,
           free_totals, calibrate, instrument, monochromator, as_json, plot_path, out_path, db_path):
    """Rietveld or Pawley refinement of a measured powder pattern (xy, xye, csv, xrdml).

    DATA is refined from the start structure: scale, Chebyshev background, zero shift, transparency, a, TCH
    profile, axial asymmetry, anion occupancies on 4a/4d, one B per non-Li site; second phases (--phase) with their
    weight fractions (Hill-Howard). The nominal, charge-neutral composition is held (each halide's total, the anion
    sites full, Li): only the halides' 4a/4d split is refined, unless --free-totals."""
    outputs = [p for p in (plot_path, out_path) if p is not None]
    if calibrate and db_path is not None:
        raise api.InputError("--db", "a calibration is kept as its instrument file (--out), not in the database")
    if calibrate and out_path is None:
        raise api.InputError("--calibrate", "give --out INSTRUMENT.yaml: the calibration is written there")
    if out_path is not None:
        if out_path.suffix.lower() not in (".yaml", ".yml"):
            raise api.InputError("--out", f"{out_path} must end in .yaml" + ("" if calibrate else " (the CIF is written beside it)"))
        if mode == "pawley" and not calibrate:
            raise api.InputError("--out", "a Pawley fit refines no structure: --out needs --mode rietveld")
        if not calibrate:
            outputs.append(out_path.with_suffix(".cif"))
    check_output_paths(*outputs)
    refine_names = [r.strip() for r in refine.split(",") if r.strip()] if refine else None
    result, refined, _ = api.refine(
        data, start, tuple(phases), mode=mode, wavelength=None if wavelength is None else wavelength_value(wavelength),
        two_theta_range=two_theta_range,
        refine=refine_names, background_terms=background_terms, tie_totals=_ties(tie_totals),
        monochromator_two_theta_deg=monochromator, nominal=nominal, free_totals=free_totals, instrument=instrument,
        calibrate=calibrate)
    structure = api.analyse(refined) if refined is not None else None
    if calibrate:
        if not result.reliable:
            raise api.InputError(data, "the calibration is unreliable, no instrument file written: " + "; ".join(result.reasons))
        atomic_write_text(out_path, result.calibration.yaml_text())
        out_path = None  # written: not a refined structure
    elif out_path is not None and refined is None and result.phases[0].get("detected") is not False:
        raise api.InputError("--out", f"{result.phases[0]['name']} is not an argyrodite: there is no refinement file to "
                                      "write (--out writes a refined argyrodite; --calibrate an instrument)")
    if out_path is not None and refined is None:
        raise api.InputError(data, "the main phase is not detected: there is no refined structure to write (--out); "
                                   + "; ".join(result.reasons))
    if out_path is not None:
        atomic_write_text(out_path, services.refinement_yaml(refined))
        structure.cif(out_path.with_suffix(".cif"))
    if plot_path is not None:
        _plot(result, plot_path, data, wavelength)
    stored = None
    if db_path is not None:
        stored = api.Database(db_path).store_refinement(result, refined, structure, data)
    payload = refinement_json(result)
    if calibrate:
        payload["calibration"] = result.calibration.as_dict()
        payload["calibration"]["written"] = str(outputs[-1] if outputs else "")
    if stored is not None:
        payload["stored"] = stored
    if as_json:
        emit_json(payload)
        return
    _print_text(payload, out_path, plot_path, stored)


def _plot(result, path: Path, data: Path, wavelength) -> None:
    phases = [{"name": p["name"], "tick_positions_deg": result.tick_positions[p["name"]], "hkl_labels": None}
              for p in result.phases]
    path.parent.mkdir(parents=True, exist_ok=True)
    services.plot_refinement(result.two_theta_deg, result.observed, result.calculated, result.background, phases,
                        {"r_wp": result.r_wp, "r_p": result.r_p, "r_exp": result.r_exp, "gof": result.gof},
                        f"{result.mode.capitalize()} refinement of {data.name}", path,
                        wavelength_label=_wavelength_label(result, wavelength))


def _wavelength_label(result, wavelength) -> str:
    """The plot title's radiation: the one given, else what the refinement used (a file's, or Cu K-alpha1/2)."""
    used = result.settings.get("wavelength", "CuKa12")
    if wavelength:
        return _label(wavelength_value(wavelength))
    return _label(used) if used == "CuKa12" else used


def _label(spec) -> str:
    """How plots name a wavelength specification (e.g. 'Cu K\u03b1\u2081,\u2082, \u03bb = 1.5406, 1.5444 \u00c5')."""
    return services.describe_wavelength(services.resolve_wavelength(spec))


def _print_text(payload: dict, out_path, plot_path, stored) -> None:
    click.echo(f"{payload['mode']} refinement: R_p {100 * payload['r_p']:.2f} %, R_wp {100 * payload['r_wp']:.2f} %, "
               f"R_exp {100 * payload['r_exp']:.2f} %, GoF {payload['gof']:.3f} ({payload['n_points']} points, "
               f"{payload['n_parameters']} parameters, {payload['seconds']:.1f} s)")
    for phase in payload["phases"]:
        if phase.get("detected") is False:
            bound = phase.get("weight_fraction_upper_bound")
            click.echo(f"  {phase['name']}: not detected" + (f" (at most {100 * bound:.2g} wt %)" if bound is not None else ""))
            continue
        wf = phase["weight_fraction"]
        a = phase["a_angstrom"]
        click.echo(f"  {phase['name']}: " + (f"a = {a:.5f}" + (f" +- {phase['a_esd']:.5f}" if phase["a_esd"] else "") + " A"
                                             if a else "a fixed")
                   + (f", {100 * wf:.2f} wt %" if wf is not None else "")
                   + (f", {phase.get('size_kind', 'apparent')} size {phase['size_nm']:.0f}"
                      + (f" +- {phase['size_esd_nm']:.0f}" if phase.get("size_esd_nm") else "") + " nm"
                      if phase["size_nm"] else "")
                   + (f", microstrain {phase['microstrain']:.2e}" if phase.get("microstrain") is not None else ""))
        for site in phase["sites"]:
            if site["wyckoff"] in ("4a", "4c", "4d"):
                esd = site.get("occupancy_esds", {})
                occ = ", ".join(f"{el} {v:.4f}" + (f" +- {esd[el]:.4f}" if el in esd else "")
                                + (" (undetermined)" if el in site.get("undetermined", ()) else "")
                                for el, v in site["occupancies"].items())
                click.echo(f"    {site['label']} @ {site['wyckoff']}: {occ}; B {site['b_iso']:.3f} A^2")
        if phase.get("composition_per_fu"):
            held = (phase.get("held") or {}).get("totals_per_fu", {})
            esds = phase.get("composition_esd_per_fu", {})
            parts = [f"{el} {v:.4g}" + (" (held)" if el in held else f" +- {esds[el]:.2g}" if esds.get(el) else "")
                     for el, v in phase["composition_per_fu"].items()]
            charge = phase.get("charge_per_fu")
            click.echo("    per formula unit: " + ", ".join(parts)
                       + (f"; charge {charge:+.3f} e" if charge is not None else ""))
    absent = tuple(f"{sep}{ph['name']}" for ph in payload["phases"] if ph.get("detected") is False for sep in (":", "@"))
    for name, p in payload["parameters"].items():
        if p["refined"] and not name.startswith(("a:", "occ:")) and not name.endswith(absent):
            click.echo(f"  {name:<28} {p['value']:.6g}" + (f" +- {p['esd']:.2g}" if p["esd"] else ""))
    for c in payload["correlations"]:
        click.echo(f"  correlation {c['a']} / {c['b']}: {c['r']:+.3f}")
    for w in payload["warnings"]:
        click.echo(f"warning: {w}", err=True)
    if not payload["reliable"]:
        click.echo("argyrodb: warning: unreliable refinement: " + "; ".join(payload["reasons"]), err=True)
    if payload.get("calibration"):
        click.echo(f"wrote the instrument file {payload['calibration']['written']}")
    elif out_path is not None:
        click.echo(f"wrote {out_path} and {out_path.with_suffix('.cif')}")
    if plot_path is not None:
        click.echo(f"wrote {plot_path}")
    if stored is not None:
        click.echo(f"stored as refinement {stored['refinement_id']} (structure {stored['structure_id']}) in {stored['database']}")


def _ties(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    if text.strip().lower() == "none":
        return ()
    return tuple(el.strip() for el in text.split(",") if el.strip())
