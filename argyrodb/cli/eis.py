"""``argyrodb eis fit``: equivalent-circuit fitting of an impedance spectrum."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api, services
from ..core.errors import InputError
from ..core.files import check_output_paths
from .common import Group, emit_json


@click.group(cls=Group)
def eis() -> None:
    """Impedance spectra: equivalent-circuit fitting (impedance.py)."""


@eis.command("fit")
@click.argument("spectrum", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--circuit", default=None, help="impedance.py circuit string (default: the source's Fig. S9 circuit).")
@click.option("--initial", help="Comma-separated starting values (required for a custom circuit; "
                                 "one more start for the default).")
@click.option("--sweep", type=int, default=None, help="Read sweep K (1 = the first) of a BioLogic file that holds several.")
@click.option("--weighting", default="modulus", show_default=True,
              help="Residual weights: modulus (1/|Z|), unit (1: large |Z| dominates) or proportional (1/|Z'|, 1/|Z''|).")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), help="Nyquist plot with the fit (PNG).")
@click.option("--json", "as_json", is_flag=True)
def eis_fit(spectrum, circuit, initial, sweep, weighting, plot_out, as_json):
    """Fit SPECTRUM and report parameters, errors and capacitances.

    SPECTRUM is an instrument's file (BioLogic .mpt/.mpr, Gamry .DTA, ZPlot/ZView .z, Autolab, Parstat,
    VersaStudio .par, PowerSuite, CH Instruments, NEISYS) or a text table whose header names each column
    and its unit (frequency Hz/kHz/MHz; Z' and Z'' or -Z'', or |Z| and phase; Ohm/kOhm/MOhm/mOhm); a file
    whose columns cannot be identified is refused.

    The default circuit is fitted from starting values estimated from the spectrum and several other
    starts (the best by chi-square wins); the spectrum is checked by lin-KK. A poor or unconverged fit
    or a spectrum that fails the Kramers-Kronig check gives a one-line warning on stderr ("reliable":
    false and the "reasons" in the JSON); so do parameters whose standard error exceeds their value
    ("undetermined")."""
    check_output_paths(plot_out)
    data = api.read_spectrum(spectrum, sweep=sweep)
    guess = None
    if initial:
        try:
            guess = [float(v) for v in initial.split(",")]
        except ValueError:
            raise InputError("--initial", f"not a list of numbers: {initial!r}") from None
    result = api.fit_eis(data, circuit or services.FIG_S9_CIRCUIT, guess, weighting=weighting)
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
        services.plot_nyquist(data, result, plot_out)
