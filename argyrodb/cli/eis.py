"""``argyrodb eis fit``: a cell's circuit chosen and read, or a given circuit fitted, from an instrument's file."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api, services
from ..core.errors import InputError
from ..core.files import check_output_paths
from .common import Group, emit_json
from .eis_series import arrhenius
from .render import value_text


@click.group(cls=Group)
def eis() -> None:
    """Impedance spectra: equivalent-circuit fitting (impedance.py)."""


#: --circuit's name for the source's own circuit (Fig. S9: bulk, three R||CPE and a Warburg)
FIG_S9_NAME = "fig-s9"


@eis.command("fit")
@click.argument("spectrum", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--circuit", default=None,
              help="Fit this impedance.py circuit (or fig-s9, the source's Fig. S9 circuit) instead of choosing one.")
@click.option("--initial", help="Comma-separated starting values for --circuit: one more start for a series of R, L, W, CPE and "
                                 "p(R,CPE) (fig-s9 among them), required for any other circuit.")
@click.option("--thickness-mm", type=click.FloatRange(min=0, min_open=True), help="Pellet thickness in mm (default: the file's, if it states one).")
@click.option("--diameter-mm", type=click.FloatRange(min=0, min_open=True), help="Pellet (electrode) diameter in mm.")
@click.option("--area-cm2", type=click.FloatRange(min=0, min_open=True), help="Electrode area in cm^2 (instead of --diameter-mm).")
@click.option("--sweep", type=int, default=None, help="Read sweep K (1 = the first) of a BioLogic file that holds several.")
@click.option("--weighting", default="modulus", show_default=True,
              help="Residual weights of a --circuit fit: modulus (1/|Z|), unit (1: large |Z| dominates) or proportional (1/|Z'|, 1/|Z''|).")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Nyquist (arcs labelled by assignment, zoomed when a spike dwarfs them) and Bode plots with the fit (PNG).")
@click.option("--json", "as_json", is_flag=True)
def eis_fit(spectrum, circuit, initial, thickness_mm, diameter_mm, area_cm2, sweep, weighting, plot_out, as_json):
    """Fit SPECTRUM: without --circuit, a solid-electrolyte cell's circuit is chosen and read; with it, that circuit.

    SPECTRUM is an instrument's file (BioLogic .mpt/.mpr, Gamry .DTA, ZPlot/ZView .z, Autolab, Parstat,
    VersaStudio .par, PowerSuite, CH Instruments, NEISYS) or a text table whose header names each column
    and its unit (frequency Hz/kHz/MHz; Z' and Z'' or -Z'', or |Z| and phase; Ohm/kOhm/MOhm/mOhm); a file
    whose columns cannot be identified is refused.

    Without --circuit: the circuit chosen by BIC among candidates cut by the data, each arc assigned (bulk, grain
    boundary, interface, electrode) by its capacitance per cell constant (Irvine, Sinclair and West 1990), the bulk,
    grain-boundary and total resistances and, with the pellet's geometry (--thickness-mm and --diameter-mm or
    --area-cm2, or the file's), the conductivities sigma = t / (R A) in mS/cm, each with its standard error. When
    the bulk arc relaxes above the highest frequency, R_bulk is the high-frequency intercept and the output says so.

    With --circuit: that circuit from several starts (the best by chi-square), parameters with standard errors and
    capacitances. Either way the spectrum is checked by lin-KK, and an unreliable fit (failed lin-KK, a poor or
    unconverged fit) gives a one-line warning on stderr ("reliable": false and the "reasons" in the JSON)."""
    check_output_paths(plot_out)
    if area_cm2 is not None and diameter_mm is not None:
        raise InputError("--area-cm2", "give the area or the diameter, not both")
    data = api.read_spectrum(spectrum, sweep=sweep)
    if circuit is None:
        if initial:
            raise InputError("--initial", "starting values are for --circuit (without it the circuit is chosen)")
        if weighting != "modulus":
            raise InputError("--weighting", "the circuit choice weights by |Z| (its AIC/BIC assume it); give --circuit to weigh otherwise")
        _fit_cell(data, thickness_mm, diameter_mm, area_cm2, plot_out, as_json)
        return
    if thickness_mm is not None or diameter_mm is not None or area_cm2 is not None:
        raise InputError("--thickness-mm" if thickness_mm is not None else "--diameter-mm" if diameter_mm is not None else "--area-cm2",
                         "the conductivity needs the bulk arc identified: leave out --circuit (the circuit is then chosen)")
    circuit = services.FIG_S9_CIRCUIT if circuit.strip().lower() == FIG_S9_NAME else circuit
    guess = None
    if initial:
        try:
            guess = [float(v) for v in initial.split(",")]
        except ValueError:
            raise InputError("--initial", f"not a list of numbers: {initial!r}") from None
    result = api.fit_eis(data, circuit, guess, weighting=weighting)
    if as_json:
        emit_json({**result.as_dict(), "spectrum": data.info()})
    else:
        f = data.frequency_hz
        click.echo(f"{data.name}: {f.size} points, {f.min():.4g} to {f.max():.4g} Hz, {data.instrument} ({data.reader})")
        for note in data.notes:
            click.echo(f"  read: {note}")
        starts = f"{result.n_starts} starts" if result.n_starts > 1 else "1 start"
        click.echo(f"{data.name}: {result.circuit}, {starts}, chi-square {result.chi_square:.3g}, "
                   f"rms residual {result.residual_rms_ohm:.3g} ohm ({result.residual_rms_percent:.2g} % of |Z|)")
        undetermined = set(result.undetermined)
        for name, value, err, unit in zip(result.names, result.values, result.stderr, result.units):
            mark = "  (undetermined)" if name in undetermined else ""
            click.echo(f"  {name:<8} {value:12.5g} +- {err:.2g} {unit}{mark}")
        for name, c in result.capacitances.items():
            click.echo(f"  {name:<8} {c:12.4g} F")
        kk = result.kramers_kronig
        verdict = "consistent" if kk.valid else "NOT Kramers-Kronig consistent"
        click.echo(f"  lin-KK: {kk.n_rc} RC elements, mu {kk.mu:.2f}, residual rms {kk.residual_rms_percent:.2g} % "
                   f"(max {kk.residual_max_percent:.2g} %): {verdict}")
    problems = result.reasons + ([f"undetermined (standard error > value): {', '.join(result.undetermined)}"]
                                 if result.undetermined else [])
    if problems:
        label = "unreliable fit: " if not result.reliable else ""
        click.echo(f"argyrodb: warning: {data.name}: {label}{'; '.join(problems)}", err=True)
    if plot_out:
        services.plot_fit(data, result, plot_out)


def _fit_cell(data, thickness_mm, diameter_mm, area_cm2, plot_out, as_json) -> None:
    """``eis fit`` without --circuit: the cell's circuit chosen and read (:func:`argyrodb.physics.eis_models.fit_cell`)."""
    cell = services.fit_cell(data, thickness_cm=None if thickness_mm is None else thickness_mm / 10,
                             area_cm2=area_cm2, diameter_cm=None if diameter_mm is None else diameter_mm / 10)
    payload = cell.as_dict()
    chosen = payload["chosen"]
    if as_json:
        emit_json({**payload, "spectrum": data.info()})
    else:
        f = data.frequency_hz
        click.echo(f"{data.name}: {f.size} points, {f.min():.4g} to {f.max():.4g} Hz, {data.instrument} ({data.reader})")
        for note in data.notes:
            click.echo(f"  read: {note}")
        click.echo(f"  chosen circuit  {chosen['circuit']} (BIC {chosen['bic']:.1f}; {len(payload['candidates'])} candidates)")
        click.echo(f"  R_bulk          {value_text(payload['bulk_resistance_ohm'], 'ohm')}  [{payload['bulk_method']}]")
        click.echo(f"  R_gb            {value_text(payload['grain_boundary_resistance_ohm'], 'ohm')}")
        click.echo(f"  R_total         {value_text(payload['total_resistance_ohm'], 'ohm')}")
        click.echo(f"  sigma_bulk      {value_text(payload['sigma_bulk_mS_cm'], 'mS/cm', 4)}")
        click.echo(f"  sigma_total     {value_text(payload['sigma_total_mS_cm'], 'mS/cm', 4)}")
        for element, assignment in payload["assignments"].items():
            click.echo(f"  {element:<8} {assignment.get('label', '?')}"
                       + (f", C = {assignment['capacitance_F']:.3g} F" if assignment.get("capacitance_F") is not None else "")
                       + (f" (ambiguous: {assignment['ambiguous']})" if assignment.get("ambiguous") else ""))
        for note in payload["method"]:
            click.echo(f"  note: {note}")
    if not chosen["reliable"]:
        click.echo(f"argyrodb: warning: {data.name}: unreliable fit: {'; '.join(chosen['reasons'])}", err=True)
    if plot_out:
        services.plot_cell(data, cell, plot_out)



@eis.command("drt")
@click.argument("spectrum", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sweep", type=int, default=None, help="Read sweep K (1 = the first) of a BioLogic file that holds several.")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), help="gamma(tau) with its peaks (PNG).")
@click.option("--json", "as_json", is_flag=True)
def eis_drt(spectrum, sweep, plot_out, as_json):
    """The distribution of relaxation times of SPECTRUM: Tikhonov-regularised non-negative least squares
    (Saccoccio et al. 2014; lambda by modified generalised cross-validation, Maradesa et al. 2023). Each peak with
    its tau, apex frequency and resistance (area); their number is how many arcs the spectrum proposes. A spectrum
    ending in a blocking-electrode spike has no finite DRT: said, and its peak count is not to be trusted."""
    check_output_paths(plot_out)
    data = api.read_spectrum(spectrum, sweep=sweep)
    result = services.fit_drt(data)
    payload = result.as_dict()
    if as_json:
        emit_json({**payload, "spectrum": data.info()})
    else:
        f = data.frequency_hz
        click.echo(f"{data.name}: {f.size} points, {f.min():.4g} to {f.max():.4g} Hz, {data.instrument} ({data.reader})")
        click.echo(f"  R_inf {payload['r_inf_ohm']:.4g} ohm, R_pol {payload['polarization_resistance_ohm']:.4g} ohm, "
                   f"lambda {payload['lambda']:.3g} ({payload['lambda_method']}), residual rms {payload['residual_rms_percent']:.2g} % "
                   f"of |Z|, {payload['n_arcs']} arc(s) proposed")
        click.echo(f"  {'tau (s)':>11} {'f (Hz)':>11} {'R (ohm)':>11}")
        for peak in payload["peaks"]:
            edge = "  (at the grid's end: a tail, not an arc)" if peak["at_edge"] else ""
            click.echo(f"  {peak['tau_s']:11.4g} {peak['frequency_hz']:11.4g} {peak['resistance_ohm']:11.4g}{edge}")
        for note in payload["notes"]:
            click.echo(f"  note: {note}")
    if not result.reliable:
        click.echo(f"argyrodb: warning: {data.name}: unreliable DRT: {'; '.join(result.reasons)}", err=True)
    if plot_out:
        services.plot_drt(result, plot_out)


eis.add_command(arrhenius)
