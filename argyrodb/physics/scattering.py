"""X-ray scattering factors and wavelengths.

* Normal scattering f0(s), s = sin(theta)/lambda in 1/A: Waasmaier & Kirfel five-Gaussian fits,
  f0(s) = c + sum_i a_i exp(-b_i s^2) (D. Waasmaier and A. Kirfel, Acta Cryst. A51 (1995) 416-431,
  doi:10.1107/S0108767394013292), coefficients read from xraydb's tables (neutral atoms), bundled in ``data/scattering_tables.json``.
* Anomalous dispersion f'(E), f''(E): Chantler's tables (C. T. Chantler, J. Phys. Chem. Ref. Data 24
  (1995) 71, doi:10.1063/1.555974) through xraydb, at E = hc/lambda.
* ``form_factors="pymatgen"`` reproduces pymatgen's XRDCalculator convention instead:
  f(s) = Z - 41.78214 s^2 sum_i a_i exp(-b_i s^2) with its ATOMIC_SCATTERING_PARAMS (used only for the
  cross-check against pymatgen).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from .. import __version__
from ..core.chemistry import is_element
from ..core.errors import InputError, ParameterError
from ..core.resources import data_file

#: h c in eV angstrom (CODATA 2018).
HC_EV_ANGSTROM = 12398.419843320026


@dataclass(frozen=True)
class WavelengthComponent:
    wavelength_angstrom: float
    weight: float
    name: str


@lru_cache(maxsize=1)
def named_wavelengths() -> dict[str, tuple[tuple[float, float], ...]]:
    import yaml

    with open(data_file("wavelengths.yaml"), encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return {name: tuple((float(w), float(r)) for w, r in comps) for name, comps in data.items()}


def resolve_wavelength(spec: str | float) -> list[WavelengthComponent]:
    """'CuKa1', 'CuKa12' (K-alpha1 + K-alpha2 at 2:1), 'MoKa', ... or a number in angstrom."""
    if isinstance(spec, (int, float)):
        value = float(spec)
    else:
        text = str(spec).strip()
        table = named_wavelengths()
        lookup = {k.lower(): k for k in table}
        if text.lower() in lookup:
            name = lookup[text.lower()]
            comps = table[name]
            suffixes = ["1", "2"] if len(comps) == 2 else [""]
            return [
                WavelengthComponent(w, r, name if len(comps) == 1 else name[:-2] + s)
                for (w, r), s in zip(comps, suffixes)
            ]
        try:
            value = float(text)
        except ValueError:
            raise ParameterError("wavelength", f"unknown wavelength {text!r} (a number in angstrom or one of {', '.join(table)})") from None
    if not (0.1 <= value <= 5.0) or not np.isfinite(value):
        raise ParameterError("wavelength", f"wavelength {value:g} A outside 0.1-5 A")
    return [WavelengthComponent(value, 1.0, f"{value:g} A")]


#: The bundled copy of the tables this module reads from xraydb (``data/scattering_tables.json``): importing
#: xraydb costs ~2 s (it imports scipy.interpolate), which a screening run or a CLI call should not pay for the
#: coefficients of a few elements. :func:`scattering_tables` rebuilds it from xraydb; a test keeps it equal.
SCATTERING_TABLES = "scattering_tables.json"


def scattering_tables() -> dict:
    """The tables of ``data/scattering_tables.json`` rebuilt from xraydb: Waasmaier-Kirfel (c, a[5], b[5]) of
    every neutral atom in xraydb, and Chantler's (f', f'') of those atoms at every wavelength of
    ``wavelengths.yaml`` (keyed by the wavelength's repr)."""
    import json

    import xraydb

    coefficients: dict[str, list] = {}
    for row in xraydb.get_xraydb().get_cache("Waasmaier"):
        # neutral atoms only (ions are "Cl1-", valence-electron fits "Cval", "Siva")
        if is_element(row.ion) and row.ion not in coefficients:
            coefficients[row.ion] = [float(row.offset), json.loads(row.scale), json.loads(row.exponents)]
    wavelengths = sorted({w for comps in named_wavelengths().values() for w, _ in comps})
    dispersion = {}
    for wavelength in wavelengths:
        energy_ev = HC_EV_ANGSTROM / wavelength
        values = {}
        for el in coefficients:
            try:
                values[el] = [float(xraydb.f1_chantler(el, energy_ev)), float(xraydb.f2_chantler(el, energy_ev))]
            except (IndexError, ValueError):  # Chantler's tables end at U (Z = 92)
                continue
        dispersion[repr(wavelength)] = values
    return {"about": "Copied from xraydb (Waasmaier-Kirfel f0 coefficients of neutral atoms; Chantler f', f'' at the "
                     "wavelengths of wavelengths.yaml) so that argyrodb need not import xraydb for them. Regenerate: "
                     "python -c 'import argyrodb.physics.scattering as s; s.write_scattering_tables()'",
            "xraydb_version": xraydb.__version__, "written_by_argyrodb": __version__,
            "waasmaier_kirfel": coefficients, "chantler_f1_f2": dispersion}


def write_scattering_tables() -> None:
    """Rewrite the bundled ``data/scattering_tables.json`` from xraydb."""
    import json

    with open(data_file(SCATTERING_TABLES), "w", encoding="utf-8") as fh:
        json.dump(scattering_tables(), fh, indent=0, sort_keys=True)
        fh.write("\n")


@lru_cache(maxsize=1)
def _bundled_tables() -> dict:
    import json

    with open(data_file(SCATTERING_TABLES), encoding="utf-8") as fh:
        return json.load(fh)


@cache
def waasmaier_kirfel(element: str) -> tuple[float, np.ndarray, np.ndarray]:
    """(c, a[5], b[5]) of the Waasmaier-Kirfel fit for a neutral atom (xraydb's table, bundled)."""
    row = _bundled_tables()["waasmaier_kirfel"].get(element)
    if row is None:
        raise InputError("form factors", f"no Waasmaier-Kirfel coefficients for {element!r}")
    return float(row[0]), np.array(row[1], dtype=float), np.array(row[2], dtype=float)


def f0(element: str, s: np.ndarray) -> np.ndarray:
    """Normal atomic scattering factor (electrons) at s = sin(theta)/lambda (1/A)."""
    c, a, b = waasmaier_kirfel(element)
    s2 = np.asarray(s, dtype=float) ** 2
    return c + np.sum(a[:, None] * np.exp(-b[:, None] * s2.reshape(1, -1)), axis=0).reshape(s2.shape)


@cache
def _pymatgen_params(element: str) -> tuple[int, np.ndarray]:
    from pymatgen.analysis.diffraction.xrd import ATOMIC_SCATTERING_PARAMS
    from pymatgen.core.periodic_table import Element

    return Element(element).Z, np.array(ATOMIC_SCATTERING_PARAMS[element], dtype=float)


def f0_pymatgen(element: str, s: np.ndarray) -> np.ndarray:
    """pymatgen XRDCalculator's form factor: Z - 41.78214 s^2 sum a exp(-b s^2)."""
    z, coeffs = _pymatgen_params(element)
    s2 = np.asarray(s, dtype=float) ** 2
    total = np.sum(coeffs[:, 0][:, None] * np.exp(-coeffs[:, 1][:, None] * s2.reshape(1, -1)), axis=0)
    return (z - 41.78214 * s2.reshape(-1) * total).reshape(s2.shape)


@cache
def anomalous(element: str, wavelength_angstrom: float) -> tuple[float, float]:
    """(f', f'') in electrons at the photon energy of ``wavelength_angstrom`` (Chantler via xraydb; the bundled
    copy for the named lines of ``wavelengths.yaml``, xraydb itself for any other wavelength)."""
    bundled = _bundled_tables()["chantler_f1_f2"].get(repr(float(wavelength_angstrom)), {}).get(element)
    if bundled is not None:
        return float(bundled[0]), float(bundled[1])
    import xraydb

    energy_ev = HC_EV_ANGSTROM / wavelength_angstrom
    return float(xraydb.f1_chantler(element, energy_ev)), float(xraydb.f2_chantler(element, energy_ev))
