"""``argyrodb refine``: Rietveld or Pawley refinement of a measured powder pattern, or of a series of them in
order (``--series``: each from the previous fit; a table, a CSV and a plot of the series)."""

from __future__ import annotations

from .common import one_blas_thread

one_blas_thread()  # before numpy is imported (a command module is imported before numpy is)

import csv  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402

from .. import api, services  # noqa: E402
from ..core.files import atomic_write_text, check_output_paths  # noqa: E402
from .common import Command, emit_json, gather_option_values, wavelength_value  # noqa: E402
from .render import refinement_json  # noqa: E402

#: A number in a warning (members whose warnings differ only in their numbers share one line).
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
#: A token that reads as a formula (Li6PS5Cl0.5Br0.5, Li5PS4(BH4)2): element symbols, amounts and parentheses.
_FORMULA = re.compile(r"(?:[A-Z][a-z]?(?:\d+(?:\.\d*)?|\.\d+)?|\(|\)(?:\d+(?:\.\d*)?)?)+")


class RefineCommand(Command):
    """The command, its --nominal formulas gathered first (``--nominal F1 F2 F3`` as ``--nominal F1,F2,F3``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, gather_option_values(list(args), "--nominal", _FORMULA.fullmatch))


@click.command(cls=RefineCommand)
@click.argument("data", nargs=-1, required=True, metavar="DATA...", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--series", is_flag=True, help="Refine the DATA files in order, each from the previous reliable fit (its a "
              "and profile), each holding its own --nominal: a table (and --csv, --plot) of a, occupancies, size and "
              "wt % along the series; --db stores every member.")
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
@click.option("--nominal", "nominal", metavar="FORMULA...", multiple=True, help="The composition to hold, e.g. "
              "Li5.6PS4.6Cl0.8I0.6 (any element order). Default: the start file's nominal formula, else its own "
              "composition if charge-neutral. With --series: one formula per DATA file, in order (--nominal F1 F2 F3 "
              "or F1,F2,F3), or one for all.")
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
@click.option("--asymmetry", type=click.Choice(["axial", "fcj"]), default="axial", show_default=True,
              help="Axial-divergence model: one angle (axial_deg, Cheary & Coelho) or Finger-Cox-Jephcoat S/L and H/L "
              "(S_L, H_L; H/L tied to S/L unless --refine names it). --calibrate writes the model's values; an instrument "
              "file of either model is held under either.")
@click.option("--monochromator-2theta", "monochromator", type=float, help="Monochromator 2theta_M (deg) for the polarisation factor.")
@click.option("--radiation", type=click.Choice(["xray", "neutron"]), default="xray", show_default=True,
              help="X-ray or constant-wavelength neutron data (Sears scattering lengths, no polarisation; --wavelength "
              "in angstrom required).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Fig. S2-style plot (PNG).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the refined structure as a refinement YAML (and a CIF beside it).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help="Also store the refinement in this database.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="With --series: write the "
              "series table (one row per DATA file) as CSV.")
@click.option("--quiet", is_flag=True, help="With --series: no progress bar.")
def refine(data, series, start, phases, mode, wavelength, two_theta_range, refine, background_terms, nominal, tie_totals,
           free_totals, calibrate, instrument, asymmetry, monochromator, radiation, as_json, plot_path, out_path, db_path, csv_out, quiet):
    """Rietveld or Pawley refinement of a measured powder pattern (xy, xye, csv, xrdml).

    DATA is refined from the start structure: scale, Chebyshev background, zero shift, transparency, a, TCH
    profile, axial asymmetry, anion occupancies on 4a/4d, one B per non-Li site; second phases (--phase) with their
    weight fractions (Hill-Howard). The nominal, charge-neutral composition is held (each halide's total, the anion
    sites full, Li): only the halides' 4a/4d split is refined, unless --free-totals.

    With --series, DATA... is a series (a composition series with one --nominal per file, or a temperature or time
    series with one or none), refined in order: the first as above, each next one from the last reliable fit's
    lattice and profile parameters. A file that cannot be refined is a row with its error; the others go on."""
    formulas = [f.strip() for text in nominal for f in text.split(",") if f.strip()]
    if series and radiation != "xray":
        raise api.InputError("--radiation", "--series refines X-ray data: refine neutron patterns one at a time")
    if radiation == "neutron" and monochromator is not None:
        raise api.InputError("--monochromator-2theta", "neutrons are not polarised by a monochromator: no polarisation "
                                                       "factor to set")
    if series:
        _refine_series(list(data), start, tuple(phases), mode, wavelength, two_theta_range,
                       refine, background_terms, formulas, tie_totals, free_totals, calibrate, instrument, monochromator,
                       as_json, plot_path, out_path, db_path, csv_out, quiet, asymmetry)
        return
    if len(data) != 1:
        raise api.InputError("DATA", f"{len(data)} patterns: give one, or --series to refine several in order")
    if csv_out is not None:
        raise api.InputError("--csv", "writes the table of a series: give --series")
    if len(formulas) > 1:
        raise api.InputError("--nominal", f"{len(formulas)} formulas for one pattern (one per pattern with --series)")
    data, nominal = data[0], (formulas[0] if formulas else None)
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
        calibrate=calibrate, radiation=radiation, asymmetry=asymmetry)
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
        return ("neutrons, " if result.settings.get("radiation") == "neutron" else "") + _label(wavelength_value(wavelength))
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


# --------------------------------------------------------------------------- --series


def _refine_series(data: list[Path], start: Path, phases: tuple[str, ...], mode, wavelength,
                   two_theta_range, refine, background_terms, formulas: list[str], tie_totals, free_totals, calibrate,
                   instrument, monochromator, as_json, plot_path, out_path, db_path, csv_out, quiet, asymmetry) -> None:
    """``refine --series``: every option checked before the first pattern is refined (exit 2, nothing written)."""
    if len(data) < 2:
        raise api.InputError("--series", f"a series needs at least 2 patterns (DATA...), got {len(data)}")
    if out_path is not None:
        raise api.InputError("--out", "writes one refined structure: a series stores each member's with --db and "
                                      "tabulates them with --csv (refine one pattern alone for its --out)")
    if calibrate:
        raise api.InputError("--calibrate", "calibrates on one standard: calibrate first, then give the series "
                                            "--instrument INSTRUMENT.yaml")
    if csv_out is not None and csv_out.suffix.lower() != ".csv":
        raise api.InputError("--csv", f"{csv_out} must end in .csv")
    check_output_paths(plot_path, csv_out)
    refine_names = [r.strip() for r in refine.split(",") if r.strip()] if refine else None
    result = services.refine_series(
        data, start, formulas or None, phases, mode=mode,
        wavelength=None if wavelength is None else wavelength_value(wavelength), two_theta_range=two_theta_range,
        refine=refine_names, background_terms=background_terms, tie_totals=_ties(tie_totals),
        monochromator_two_theta_deg=monochromator, free_totals=free_totals, instrument=instrument, db_path=db_path,
        show_progress=not quiet, asymmetry=asymmetry)
    table = result.table()
    refined = result.refined_members
    if refined:
        if csv_out is not None:
            atomic_write_text(csv_out, _csv_text(table))
        if plot_path is not None:
            services.plot_refinement_series(
                table, result.variable, result.occupancy_columns, result.second_phases, plot_path,
                title=f"Sequential refinement of {len(table)} patterns from {Path(start).name}"
                      + (f", instrument {Path(instrument).name}" if instrument is not None else ""))
    payload = {"series": {"start": str(start), "patterns": len(table), "refined": len(refined),
                          "reliable": sum(1 for m in refined if m.reliable), "variable": result.variable,
                          "instrument": None if instrument is None else str(instrument), "seconds": result.seconds},
               "members": [_member_json(m) for m in result.members], "table": table}
    if as_json:
        emit_json(payload)
    else:
        _print_series(result, table, plot_path if refined else None, csv_out if refined else None)
    if not refined:
        raise api.InputError("--series", f"none of the {len(table)} patterns could be refined (the first: "
                                         f"{result.members[0].error})")


def _member_json(member) -> dict:
    """A member as ``refine --json`` gives one pattern, with its place in the series (or its error)."""
    head = {"member": member.index, "file": str(member.data_path), "nominal": member.nominal,
            "started_from": member.started_from, "wall_seconds": member.seconds, "error": member.error}
    if member.result is None:
        return head
    out = {**head, **refinement_json(member.result)}
    if member.stored is not None:
        out["stored"] = member.stored
    return out


def _csv_text(table: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(table[0]), lineterminator="\n")
    writer.writeheader()
    for row in table:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def _esd_text(value: float | None, esd: float | None, decimals: int = 4) -> str:
    """``value(esd)`` with the esd in the last digits (two when it starts with 1), e.g. 9.87543(19), 135.4(5)."""
    if value is None or not math.isfinite(value):
        return "-"
    if esd is None or not (math.isfinite(esd) and esd > 0):
        return f"{value:.{decimals}f}"
    places = -math.floor(math.log10(esd))
    if esd * 10**places < 2:  # a leading 1: two digits
        places += 1
    places = max(places, 0)
    return f"{value:.{places}f}({round(esd * 10**places):d})"


def _members_text(indices: list[int]) -> str:
    """1, 2, 3, 5 -> '1-3, 5'."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def _print_series(result, table: list[dict], plot_path, csv_out) -> None:
    start_name = next((m.result.phases[0]["name"] for m in result.refined_members), None)
    click.echo(f"sequential refinement of {len(table)} patterns from {result.start}"
               + (f" ({start_name})" if start_name else "") + f": each from the last reliable fit; "
               f"series variable: {result.variable['label']}")
    header = ["#", "file", "nominal", "from", "a (A)"]
    marked = set()
    for el, wyckoff in result.occupancy_columns:
        if any(f"{el} {wyckoff}" in (row["undetermined"] or "").split(", ") for row in table):
            marked.add((el, wyckoff))
        header.append(f"{el} {wyckoff}" + ("*" if (el, wyckoff) in marked else ""))
    header.append("size (nm)")
    header += [f"{name} (wt %)" for name in result.second_phases]
    header += ["GoF", "reliable"]
    rows = []
    for row in table:
        line = [str(row["member"]), Path(row["file"]).name, row["nominal"] or "-",
                "start" if row["started_from"] is None else str(row["started_from"]),
                _esd_text(row["a_angstrom"], row["a_esd_angstrom"], 5)]
        line += [_esd_text(row[f"{el}_{w}"], None if (el, w) in marked else row[f"{el}_{w}_esd"], 3)
                 for el, w in result.occupancy_columns]
        line.append(_esd_text(row["size_nm"], row["size_esd_nm"], 0))
        for name in result.second_phases:
            bound = row[f"{name}_wt_percent_upper_bound"]
            line.append(("not detected < " + (f"{bound:.2g}" if bound < 10 else f"{bound:.0f}")) if bound is not None
                        else _esd_text(row[f"{name}_wt_percent"], None, 2))
        line.append("-" if row["gof"] is None else f"{row['gof']:.3f}")
        line.append("refused" if row["error"] else "yes" if row["reliable"] else "no")
        rows.append(line)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) if i in (1, 2, 3) else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths))).rstrip())
    if marked:
        click.echo("* undetermined: S and Cl differ by one electron; X-rays do not tell their split (no esd shown)")
    kinds = {row["size_kind"] for row in table if row["size_kind"]}
    if kinds:
        click.echo("size: " + ", ".join(sorted(kinds)) + (" (no --instrument: the instrument's width is in it, a lower "
                                                          "bound)" if kinds == {"apparent"} else ""))
    refined = result.refined_members
    if refined:
        wall = [m.seconds for m in refined]
        click.echo(f"{len(refined)} of {len(table)} patterns refined in {sum(wall):.1f} s "
                   f"({sum(wall) / len(wall):.1f} s a pattern, {min(wall):.1f}-{max(wall):.1f} s)")
    # one line for a warning the members share; one that differs only in its numbers (the held totals) once, with
    # the first member's numbers (each member's in --json)
    warnings: dict[str, list[tuple[int, str]]] = {}
    for member in refined:
        for text in dict.fromkeys(member.result.warnings):
            warnings.setdefault(_NUMBER.sub("#", text), []).append((member.index, text))
    for found in warnings.values():
        indices = [i for i, _ in found]
        which = "all members" if len(indices) == len(table) else ("member " if len(indices) == 1 else "members ") + _members_text(indices)
        if len({text for _, text in found}) > 1:
            which += f"; the numbers of member {indices[0]}"
        click.echo(f"warning: ({which}) {found[0][1]}", err=True)
    for member in result.members:
        if member.error:
            click.echo(f"argyrodb: warning: member {member.index} ({member.data_path.name}) not refined: {member.error}",
                       err=True)
        elif not member.reliable:
            click.echo(f"argyrodb: warning: member {member.index} ({member.data_path.name}): unreliable refinement "
                       "(not started from): " + "; ".join(member.result.reasons), err=True)
    if csv_out is not None:
        click.echo(f"wrote {csv_out}")
    if plot_path is not None:
        click.echo(f"wrote {plot_path}")
    stored = [m.stored for m in result.members if m.stored is not None]
    if stored:
        ids = [s["refinement_id"] for s in stored]
        click.echo(f"stored as refinement{'s' if len(ids) > 1 else ''} {_members_text(ids)} in {stored[0]['database']}")

