"""``argyrodb identify``: which argyrodite is a measured powder pattern? Every structure and stored screened composition
of the database (and a family grid screened on the fly) ranked by a Rietveld-lite fit, impurities named from the
bundled phases, the best optionally handed to ``refine``."""

from __future__ import annotations

from .common import one_blas_thread

one_blas_thread()  # before numpy is imported (a command module is imported before numpy is)

from pathlib import Path  # noqa: E402

import click  # noqa: E402

from .. import api, services  # noqa: E402
from ..core.files import check_output_paths  # noqa: E402
from ..core.grids import parse_range  # noqa: E402
from .common import Command, emit_json, wavelength_value  # noqa: E402
from .refine import _print_text as print_refinement  # noqa: E402  (refine's own text: --refine prints what refine does)
from .render import refinement_json  # noqa: E402

#: The candidate keys the text table shows.
_VARIABLES = ("x", "y", "z", "w")


@click.command(cls=Command)
@click.argument("pattern", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--family", help="Also screen this family on the fly (not stored), e.g. \"Li6PS5Cl1-xBrx\"; each composition with every halide share on 4a (0-1 in steps of 0.1).")
@click.option("--x", "x", help="The family's x grid, START:STOP:STEP (e.g. 0:1:0.05).")
@click.option("--y", "y", help="The family's y grid.")
@click.option("--z", "z", help="The family's z grid.")
@click.option("--w", "w", help="The family's w grid.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help="The database whose structures and screening runs are candidates (default: ARGYRODB_DB, else the user's).")
@click.option("--wavelength", help="CuKa12 (K-alpha1 + K-alpha2), CuKa1, MoKa12, or angstrom (default: the file's, else CuKa12).")
@click.option("--top", type=click.IntRange(1, 1000), default=10, show_default=True, help="Candidates fully fitted and listed first.")
@click.option("--no-impurities", "no_impurities", is_flag=True, help="Do not look for the bundled impurity phases.")
@click.option("--refine", "refine", is_flag=True, help="Refine the best candidate with the impurities found, as argyrodb refine does (its output).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="The pattern with the best candidate's fit and the impurities' ticks (PNG).")
def identify(pattern, family, x, y, z, w, db_path, wavelength, top, no_impurities, refine, as_json, plot_path):
    """Which argyrodite is a measured powder pattern? Ranks the database's structures and screened compositions; names impurities.

    PATTERN: xy, xye, csv, xrdml, brml, raw, ras or gsas. Every structure and stored screened composition of the
    database, and with --family a grid screened on the fly (each halide's 4a share tried), is fitted to the pattern:
    each candidate's a free within +-1 % of its own, with the zero shift, broadening, scale and background; the score is
    the weighted R of the background-free pattern (lower is better). The bundled impurity phases (LiCl, LiBr, LiI,
    Li2S, beta-Li3PS4) are screened beside the best, and those found at 3 sigma and 0.5 wt % are refined with it
    (refine's detection): each named with its weight fraction, the others with an upper bound."""
    ranges = {name: parse_range(text, name) for name, text in (("x", x), ("y", y), ("z", z), ("w", w)) if text}
    if ranges and not family:
        raise api.InputError("--" + next(iter(ranges)), "gives the grid of a --family: give the family too")
    if refine and no_impurities:
        raise api.InputError("--refine", "refines with the impurities found: not with --no-impurities")
    if plot_path is not None and plot_path.suffix.lower() != ".png":
        raise api.InputError("--plot", f"{plot_path} must end in .png")
    check_output_paths(plot_path)
    result = api.identify(pattern, db=db_path, family=family, ranges=ranges, wavelength=None if wavelength is None
                          else wavelength_value(wavelength), top=top, find_impurities=not no_impurities, refine=refine)
    if plot_path is not None:
        _plot(result, plot_path, pattern)
    payload = {k: v for k, v in result.items() if k not in ("fit", "start", "refinement_result", "ticks")}
    refinement = result.get("refinement_result") if refine else None
    if refinement is not None:
        payload["refinement"] = refinement_json(refinement)
    if as_json:
        emit_json(payload)
        return
    _print_text(payload, top)
    if refinement is not None:
        click.echo(f"\nargyrodb refine {Path(pattern).name} --start <best> "
                   + " ".join(f"--phase {p}" for p in result.get("refinement_phases", [])) + ":")
        print_refinement(payload["refinement"], None, None, None)
    if plot_path is not None:
        click.echo(f"wrote {plot_path}")


def _print_text(payload: dict, top: int) -> None:
    lo, hi = payload["two_theta_range_scored_deg"]
    lebail = payload["lebail"]
    click.echo(f"{payload['n_candidates']} candidates scored on {Path(payload['pattern']).name}, 2theta {lo:g}-{hi:g} deg "
               f"({payload['wavelength']}); Le Bail a = {lebail['a_angstrom']:.5f} A, zero {lebail['zero_shift_deg']:+.4f} "
               f"deg, score {lebail['score']:.4f} (R_exp {lebail['r_exp']:.4f})")
    click.echo(f"{'rank':>4}  {'formula':<30} {'variables':<22} {'a (A)':>9} {'a model':>9} {'score':>8}  fit    source")
    for rank, c in enumerate(payload["candidates"][:max(top, 1)], start=1):
        variables = " ".join(f"{k}={c[k]:g}" for k in _VARIABLES if c.get(k) is not None)
        shares = c.get("halide_share_4a")
        if shares:
            variables += " 4a:" + ",".join(f"{el}{v:g}" for el, v in shares.items())
        click.echo(f"{rank:>4}  {c['formula']:<30} {variables:<22} {c['a_angstrom']:>9.5f} {c['a_model_angstrom']:>9.5f} "
                   f"{c['score']:>8.4f}  {c['stage']:<6} {c['source']}" + (f"  ({c['warning']})" if c.get("warning") else ""))
    if payload["impurities"]:
        click.echo("impurities (each bundled phase screened; those at 3 sigma and 0.5 wt % refined with the best candidate):")
    for imp in payload["impurities"]:
        sig = imp["significance"]
        sig_text = f"{sig:.1f} sigma" if sig is not None else "significance unknown"
        how = "refinement" if imp.get("method") == "refinement" else "screen"
        if imp["detected"]:
            click.echo(f"  {imp['name']}: detected, {100 * imp['weight_fraction']:.2f} wt % ({sig_text}; {how})")
        else:
            bound = imp.get("weight_fraction_upper_bound")
            click.echo(f"  {imp['name']}: not detected" + (f" (at most {100 * bound:.2g} wt %" if bound is not None else " (")
                       + f"; {sig_text}; {how})")
    for note in payload["notes"]:
        click.echo(f"note: {note}", err=True)
    if not payload.get("reliable", True):
        click.echo(f"not reliable: {'; '.join(payload['reasons'])}", err=True)


def _plot(result: dict, path: Path, pattern: Path) -> None:
    fit = result.get("fit")
    if fit is None:
        raise api.InputError("--plot", "no candidate was fitted: nothing to plot")
    best = result["best"]
    phases = [{"name": best["formula"], "tick_positions_deg": fit["ticks"], "hkl_labels": None}]
    refinement = result.get("refinement_result")
    for imp in result["impurities"]:
        if imp["detected"] and refinement is not None and imp["name"] in refinement.tick_positions:
            phases.append({"name": f"{imp['name']} {100 * imp['weight_fraction']:.1f} wt %",
                           "tick_positions_deg": refinement.tick_positions[imp["name"]], "hkl_labels": None})
    path.parent.mkdir(parents=True, exist_ok=True)
    services.plot_refinement(fit["two_theta_deg"], fit["observed"], fit["calculated"], fit["background"], phases,
                             {},  # the score is identify's (the background-free weighted R), not a refinement's R_wp
                             f"identify: {best['formula']}, score {fit['score']:.4f} "
                             f"(R_exp {fit['r_exp']:.4f})", path,
                             wavelength_label=result["wavelength"])
