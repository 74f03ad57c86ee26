"""Shared test helpers (a uniquely named module: some installed packages ship a top-level `tests`)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: The repository checkout the tests belong to (tests never depend on the working directory).
REPO = Path(__file__).resolve().parent.parent
STRUCTURES = REPO / "structures"
LMA = STRUCTURES / "LMA-Cl0.8I0.6.yaml"
DATA = Path(__file__).resolve().parent / "data"


def structure(name: str) -> Path:
    """The repository's refinement file ``structures/<name>.yaml``."""
    return STRUCTURES / f"{name}.yaml"


MINIMAL_CIF = """data_test
_cell_length_a 9.8499(3)
_cell_length_b 9.8499(3)
_cell_length_c 9.8499(3)
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F -4 3 m'
_chemical_formula_sum 'Cl Li6 P S5'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
_atom_site_U_iso_or_equiv
Li1 Li1+ 0.3142 0.6858 0.0148 0.5 0.033
P1 P5+ 0 0 0.5 1 0.011
S1 S2- 0.12 -0.12 0.62 1 0.023
S2 S2- 0 0 0 0.5 0.027
Cl1 Cl1- 0 0 0 0.5 0.027
S3 S2- 0.75 0.75 0.75 0.5 0.043
Cl2 Cl1- 0.75 0.75 0.75 0.5 0.043
"""


def ordered_li6ps5cl():
    """Li6PS5Cl as an ordered, fully occupied F-43m pymatgen cell: majority anion on 4a/4d, all 24 Li on 24g.

    The kind of cell ASE and DFT codes write (no partial occupancies), built from the repository's refinement.
    """
    from argyrodb.api import analyse
    from argyrodb.core.symmetry import orbit

    cell = analyse(structure("Li6PS5Cl")).pymatgen.copy()
    cell.remove_species(["Li"])
    for i, site in enumerate(cell):
        if not site.is_ordered:
            cell.replace(i, max(site.species.items(), key=lambda t: t[1])[0].symbol)
    for xyz in orbit((0.025, 0.25, 0.75)):
        cell.append("Li", xyz)
    return cell


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run(*args: str, cwd: Path | None = None) -> CliResult:
    """``argyrodb ARGS`` in this process (click's CliRunner): exit status, stdout and stderr as a user sees them."""
    from click.testing import CliRunner

    from argyrodb.cli import cli

    with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
        result = CliRunner().invoke(cli, list(args), prog_name="argyrodb", catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


def run_process(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """``argyrodb ARGS`` as a separate process (for exit codes, signals and import cost)."""
    return subprocess.run([sys.executable, "-m", "argyrodb", *args], capture_output=True, text=True, cwd=cwd,
                          env=None if env is None else {**os.environ, **env})


def cell_impedance(f, r0=0.0, arcs=(), spike=None, warburg=None, inductance=0.0):
    """A cell's impedance in closed form (ohm): R0 + j omega L + sum R / (1 + R Q (j omega)^a) + 1 / (Q_s (j omega)^a_s)
    + A_w (1 - j) / sqrt(omega); each arc given as (R, C, a) with Q = C^a R^(a - 1), so that its Brug capacitance
    (Q R^(1-a))^(1/a) is C."""
    import numpy as np

    omega = 2 * np.pi * np.asarray(f, dtype=float)
    z = r0 + 1j * omega * inductance + 0j * omega
    for r, c, a in arcs:
        z = z + r / (1 + r * c ** a * r ** (a - 1) * (1j * omega) ** a)
    if spike is not None:
        z = z + 1 / (spike[0] * (1j * omega) ** spike[1])
    if warburg is not None:
        z = z + warburg * (1 - 1j) / np.sqrt(omega)
    return z


def noisy_spectrum(f, z, seed, noise=0.003, name="simulated"):
    """A Spectrum of ``z`` with seeded complex Gaussian noise of ``noise`` x |Z| on each part."""
    import numpy as np

    from argyrodb.physics.eis import Spectrum

    rng = np.random.default_rng(seed)
    return Spectrum(name, np.asarray(f, dtype=float),
                    z + noise * np.abs(z) * (rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size)))
