"""The `argyrodb` entry point, the command registry and the top-level help - without click.

`argyrodb`, `argyrodb --help` and `argyrodb --version` are answered here without importing click or any
command module (it lives outside the :mod:`argyrodb.cli` package, whose ``__init__`` imports click), so that
start-up stays within 2x a bare Python start (`make bench`); a test checks that the text equals click's.
Everything else goes to the click application, loaded by name."""

from __future__ import annotations

import importlib
import sys
import textwrap

TOP_HELP = "argyrodb: refined structures, densities, XRD, literature and screening for lithium argyrodites (F-43m)."

#: command -> (module, attribute, short help). The help is here so that listing commands imports nothing.
COMMANDS = {
    "build": ("argyrodb.cli.structures", "build", "Read refinement files or CIFs, validate them, report, and write symmetric CIFs."),
    "density": ("argyrodb.cli.structures", "density", "X-ray density and molar volume of a structure file or a formula (e.g. Li5.6PS4.6Cl0.8I0.6)."),
    "xrd": ("argyrodb.cli.structures", "xrd", "Simulate the powder X-ray or neutron pattern of a refinement file or CIF."),
    "db": ("argyrodb.cli.database", "db", "The SQLite database: build, query, compare, SQL, export, serve, plot."),
    "calc": ("argyrodb.cli.calc", "calc", "The lab's calculations: G-force, conductivity, Arrhenius, elastic moduli, CPE capacitance, CCD steps."),
    "eis": ("argyrodb.cli.eis", "eis", "Impedance spectra: equivalent-circuit fitting (impedance.py)."),
    "audit": ("argyrodb.cli.audit", "audit", "Recompute every derived number of the source and report what does not add up."),
    "refine": ("argyrodb.cli.refine", "refine", "Rietveld or Pawley refinement of a measured powder pattern (xy, xye, csv, xrdml)."),
    "identify": ("argyrodb.cli.identify", "identify", "Which argyrodite is a measured powder pattern? Ranks the database's structures and screened compositions; names impurities."),
    "screen": ("argyrodb.cli.screening", "screen", "Screen a composition family: lattice parameter, density, XRD peaks, nearest literature; stored, resumable."),
    "approximants": ("argyrodb.cli.screening", "approximants", "Ordered, charge-neutral supercells of a composition, ranked by Ewald energy, written through ASE."),
}


def help_text(width: int = 80) -> str:
    """`argyrodb --help` as click formats it (usage, description, options, commands)."""
    description = textwrap.fill(TOP_HELP, width=width - 2, initial_indent="  ", subsequent_indent="  ")
    options = [("--version", "Show the version and exit."), ("-h, --help", "Show this message and exit.")]
    lines = ["Usage: argyrodb [OPTIONS] COMMAND [ARGS]...", "", description, "", "Options:"]
    lines += _definitions(options, width)
    lines += ["", "Commands:"]
    lines += _definitions([(name, spec[2]) for name, spec in COMMANDS.items()], width)
    return "\n".join(lines) + "\n"


def _definitions(rows: list[tuple[str, str]], width: int) -> list[str]:
    """click's definition list: 2-space indent, first column padded to its widest entry + 2, text wrapped."""
    first = max(len(term) for term, _ in rows)
    out = []
    for term, text in rows:
        indent = 2 + first + 2
        wrapped = textwrap.wrap(text, width=max(width - indent, 10)) or [""]
        out.append(f"  {term:<{first}}  {wrapped[0]}")
        out += [" " * indent + line for line in wrapped[1:]]
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point (``argyrodb``)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args in ([], ["--help"], ["-h"]):
        sys.stdout.write(help_text())
        sys.exit(0)
    if args == ["--version"]:
        sys.stdout.write(f"argyrodb, version {importlib.import_module('argyrodb').__version__}\n")
        sys.exit(0)
    importlib.import_module("argyrodb.cli").main(args)
