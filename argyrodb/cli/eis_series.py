"""``argyrodb eis arrhenius``: the activation energy of a temperature series of impedance spectra (issue 22, item 4)."""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

import click

from .. import api, services
from ..core.errors import InputError
from ..core.files import atomic_write_text, check_output_paths
from .common import Command, emit_json, gather_option_values
from .render import value_text

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_NUMBERS = re.compile(rf"{_NUMBER.pattern}(?:\s*,\s*{_NUMBER.pattern})*,?")


class ArrheniusCommand(Command):
    """The command, its temperatures gathered first (``--temperature-c 140 150`` as ``--temperature-c 140,150``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, gather_option_values(list(args), "--temperature-c", _NUMBERS.fullmatch))


def _temperatures_c(values: tuple[str, ...]) -> list[float]:
    out = []
    for value in values:
        for text in re.split(r"[\s,]+", value.strip()):
            if not text:
                continue
            try:
                number = float(text)
            except ValueError:
                raise InputError("--temperature-c", f"not a number: {text!r} (give one temperature in °C per FILE: "
                                                    "--temperature-c 140 150 160 or 140,150,160)") from None
            if not (math.isfinite(number) and number > -273.15):
                raise InputError("--temperature-c", f"{text} °C is not a temperature (below absolute zero)")
            out.append(number)
    return out


def _pm(value: float, error: float | None) -> str:
    """"value +- error", the error to 2 significant figures and the value to its decimal place."""
    if error is None or not (math.isfinite(error) and error > 0):
        return f"{value:.4g}"
    digits = max(0, 1 - math.floor(math.log10(error)))
    return f"{value:.{digits}f} +- {error:.{digits}f}"


_KIND_LABELS = {"bulk": "bulk", "total": "total", "grain_boundary": "grain boundary (apparent: t/(R_gb A))"}


@click.command("arrhenius", cls=ArrheniusCommand)
@click.argument("spectra", nargs=-1, required=True, metavar="FILE...", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--temperature-c", "temperature_c", multiple=True, metavar="T...",
              help="The temperature of each FILE in °C, in the same order: --temperature-c 140 150 160 (or 140,150,160). Default: the 'Temperature' line of each file's header.")
@click.option("--thickness-mm", type=click.FloatRange(min=0, min_open=True), help="Pellet thickness in mm (default: each file's, if it states one).")
@click.option("--diameter-mm", type=click.FloatRange(min=0, min_open=True), help="Pellet (electrode) diameter in mm.")
@click.option("--area-cm2", type=click.FloatRange(min=0, min_open=True), help="Electrode area in cm^2 (instead of --diameter-mm).")
@click.option("--exclude-unreliable", is_flag=True, help="Leave the unreliable fits out of the Arrhenius lines (default: keep them, flagged, weighted by their errors).")
@click.option("--own-circuits", is_flag=True, help="Keep each spectrum's own BIC choice of circuit (default: a spectrum whose choice differs from the series' is refitted with the series' circuit).")
@click.option("--formula", help="The material's formula, for the --csv rows.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the conductivities as a CSV that `argyrodb db add` accepts (needs --formula).")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), help="Arrhenius plot: log10(sigma T) against 1000/T with the fitted lines (PNG).")
@click.option("--json", "as_json", is_flag=True, help="Every spectrum's fit and each line (Ea, esd, sigma(25 °C), covariance) as JSON.")
def arrhenius(spectra, temperature_c, thickness_mm, diameter_mm, area_cm2, exclude_unreliable, own_circuits, formula,
              csv_out, plot_out, as_json):
    """The activation energy of a temperature series: each FILE (one spectrum a temperature) fitted as `eis fit`
    without --circuit fits it, then ln(sigma T) = ln A - Ea / (k_B T) fitted to the bulk and the total conductivities, weighted by their
    standard errors: Ea in eV with its esd, and sigma(25 °C) from the line with its esd (an extrapolation when 25 °C
    lies outside the series). Unreliable fits are kept and flagged (or left out with --exclude-unreliable).

    The temperatures are --temperature-c, one per FILE, or each file's header line that states one with its unit
    ("Temperature [°C]: 25"); a file name such as "...-140deg" is not read as one. The geometry (--thickness-mm with
    --diameter-mm or --area-cm2) applies to every FILE; without it each file's own is used."""
    if area_cm2 is not None and diameter_mm is not None:
        raise InputError("--area-cm2", "give the area or the diameter, not both")
    if (thickness_mm is None) != (area_cm2 is None and diameter_mm is None):
        raise InputError("--thickness-mm" if thickness_mm is None else "--diameter-mm",
                         "the conductivity needs the thickness and the diameter (or --area-cm2) together")
    if csv_out is not None and not (formula or "").strip():
        raise InputError("--formula", "the --csv rows for `argyrodb db add` need the material's formula")
    temperatures = _temperatures_c(temperature_c)
    if temperature_c and len(temperatures) != len(spectra):
        raise InputError("--temperature-c", f"{len(temperatures)} temperatures for {len(spectra)} FILE arguments: give "
                                            "one per FILE, in the same order")
    if len(spectra) < 3:
        raise InputError(spectra[0], f"{len(spectra)} FILE arguments: an activation energy with an error needs spectra "
                                     "at 3 temperatures at least")
    check_output_paths(csv_out, plot_out)
    data = [api.read_spectrum(path) for path in spectra]
    temperatures_K = [t + 273.15 for t in temperatures] if temperatures else None  # None: each file's header
    if temperatures_K is None:
        for path, spectrum in zip(spectra, data):
            if services.stated_temperature(spectrum) is None:
                raise InputError(path, "no temperature stated in its header (a line such as 'Temperature [°C]: 25'; "
                                       "the file name is not read as one): give --temperature-c, one per FILE")
    result = services.fit_series(data, temperatures_K, thickness_cm=None if thickness_mm is None else thickness_mm / 10,
                                 area_cm2=area_cm2, diameter_cm=None if diameter_mm is None else diameter_mm / 10,
                                 exclude_unreliable=exclude_unreliable, same_circuit=not own_circuits)
    payload = result.as_dict()
    if as_json:
        emit_json(payload)
    else:
        for point in payload["points"]:
            flag = "" if point["reliable"] else ("  [unreliable, left out]" if point["excluded"] else "  [unreliable]")
            click.echo(f"{point['name']}: {point['temperature_C']:.2f} °C ({point['temperature_source']}), {point['circuit']}, "
                       f"sigma_bulk {value_text(point['sigma_mS_cm']['bulk'], 'mS/cm', 4)}, "
                       f"sigma_total {value_text(point['sigma_mS_cm']['total'], 'mS/cm', 4)}{flag}")
            for note in point["notes"]:
                click.echo(f"  note: {note}")
        click.echo(f"Arrhenius: {payload['form']}")
        for kind, line in payload["arrhenius"].items():
            low, high = line["temperature_range_K"]
            at25 = line["sigma_25C_mS_cm"]
            click.echo(f"  {_KIND_LABELS[kind]}: Ea = {_pm(line['ea_eV'], line['ea_stderr_eV'])} eV ({line['n_points']} points, "
                       f"{low:.2f}-{high:.2f} K, {'weighted' if line['weighted'] else 'unweighted'}; from the scatter alone "
                       f"+- {line['ea_stderr_scatter_eV']:.2g}; unweighted {_pm(line['unweighted']['ea_eV'], line['unweighted']['ea_stderr_eV'])} eV)")
            click.echo(f"      sigma(25 °C) = {at25['value']:.4g} +- {at25['stderr']:.2g} mS/cm ({at25['how']})")
        for note in payload["notes"]:
            click.echo(f"note: {note}")
    for point in payload["points"]:
        if not point["reliable"]:
            click.echo(f"argyrodb: warning: {point['name']}: unreliable fit ({'left out' if point['excluded'] else 'kept'}): "
                       f"{'; '.join(point['reasons'])}", err=True)
    if csv_out is not None:
        rows = result.rows_for_db(formula)
        columns = [c for c in rows[0] if c in ("formula", "sigma_mS_cm") or any(r[c] for r in rows)]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(csv_out, buffer.getvalue())
        if not as_json:
            click.echo(f"wrote {csv_out}: {len(rows)} rows for `argyrodb db add`")
    if plot_out is not None:
        services.plot_arrhenius(result, plot_out, title=formula or None)
        if not as_json:
            click.echo(f"wrote {plot_out}")
