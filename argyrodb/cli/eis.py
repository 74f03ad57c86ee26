"""``argyrodb eis fit``: equivalent-circuit fitting of an impedance spectrum."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api
from ..core.errors import InputError
from ..core.files import check_output_paths
from .common import Group, emit_json


@click.group(cls=Group)
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
    check_output_paths(plot_out)
    data = api.read_spectrum(spectrum)
    guess = None
    if initial:
        try:
            guess = [float(v) for v in initial.split(",")]
        except ValueError:
            raise InputError("--initial", f"not a list of numbers: {initial!r}") from None
    result = api.fit_eis(data, circuit or api.FIG_S9_CIRCUIT, guess)
    if as_json:
        emit_json(result.as_dict())
    else:
        click.echo(f"{data.name}: {result.circuit}, rms residual {result.residual_rms_ohm:.3g} ohm")
        for name, value, err, unit in zip(result.names, result.values, result.stderr, result.units):
            click.echo(f"  {name:<8} {value:12.5g} +- {err:.2g} {unit}")
        for name, c in result.capacitances.items():
            click.echo(f"  {name:<8} {c:12.4g} F")
    if plot_out:
        api.plot_nyquist(data, result, plot_out)
