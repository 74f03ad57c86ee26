"""X-ray scattering factors and wavelengths.

* Normal scattering f0(s), s = sin(theta)/lambda in 1/A: Waasmaier & Kirfel five-Gaussian fits,
  f0(s) = c + sum_i a_i exp(-b_i s^2) (D. Waasmaier and A. Kirfel, Acta Cryst. A51 (1995) 416-431,
  doi:10.1107/S0108767394013292), coefficients read from xraydb's tables (neutral atoms), bundled in ``data/scattering_tables.json``.
* Anomalous dispersion f'(E), f''(E): Chantler's tables (C. T. Chantler, J. Phys. Chem. Ref. Data 24
  (1995) 71, doi:10.1063/1.555974) through xraydb, at E = hc/lambda.
* ``form_factors="pymatgen"`` reproduces pymatgen's XRDCalculator convention instead:
  f(s) = Z - 41.78214 s^2 sum_i a_i exp(-b_i s^2) with its ATOMIC_SCATTERING_PARAMS (used only for the
  cross-check against pymatgen).
* Neutrons (``radiation="neutron"``): the bound coherent scattering length b_c (fm) of each element in natural
  abundance, independent of s (the nucleus is a point scatterer for thermal neutrons), from V. F. Sears, "Neutron
  scattering lengths and cross sections", Neutron News 3(3) (1992) 26-37, doi:10.1080/10448639208218770 (the
  table of International Tables for Crystallography Vol. C, section 4.4.4), bundled in
  ``data/neutron_scattering_lengths.json`` (:func:`coherent_scattering_length_fm`). Li -1.90, P 5.13, S 2.847,
  Cl 9.577, Br 6.795, I 5.28 fm. periodictable's table has moved on from Sears for a few elements (natural Li
  -1.93 fm, Gehlhaar et al. 2025); tests/physics/test_neutron_tables.py lists every difference.
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


def _write_bundled(name: str, payload: dict) -> None:
    """Rewrite a bundled JSON table (``data/NAME``) as the regenerating functions do: sorted keys, one line a key."""
    import json

    with open(data_file(name), "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=0, sort_keys=True)
        fh.write("\n")


@cache
def _read_bundled(name: str) -> dict:
    import json

    with open(data_file(name), encoding="utf-8") as fh:
        return json.load(fh)


def write_scattering_tables() -> None:
    """Rewrite the bundled ``data/scattering_tables.json`` from xraydb."""
    _write_bundled(SCATTERING_TABLES, scattering_tables())


def _bundled_tables() -> dict:
    return _read_bundled(SCATTERING_TABLES)


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


# --------------------------------------------------------------------------- neutrons

#: The kinds of radiation a powder pattern is simulated or refined for.
RADIATIONS = ("xray", "neutron")
#: The bundled neutron table (``data/neutron_scattering_lengths.json``): Sears (1992) b_c of the natural elements.
NEUTRON_TABLE = "neutron_scattering_lengths.json"
SEARS_1992 = ("V. F. Sears, Neutron News 3(3) (1992) 26-37, doi:10.1080/10448639208218770 (International Tables for "
              "Crystallography Vol. C, section 4.4.4)")
#: |b''| (fm) from which an element absorbs enough that a pattern computed without absorption (and with the real
#: b_c only) needs saying so: B (0.21), Cd, Sm, Eu, Gd, Dy are above it; In (0.054) is not.
NEUTRON_ABSORBER_FM = 0.1
#: Dans_Diffraction's copy of Sears' table, which :func:`neutron_table` transcribes.
_DANS_SEARS_FILE = "neutron_isotope_scattering_lengths_sears.dat"


def check_radiation(radiation: str, wavelength=None, option: str = "radiation") -> bool:
    """True for neutrons, False for X-rays; refuses another radiation and, for neutrons, a wavelength that is a
    named X-ray line (CuKa1, CuKa12, ...) or none: a neutron pattern needs its monochromator's wavelength in Å.
    ``wavelength`` None is not checked (the caller checks it where a default could stand in)."""
    if radiation not in RADIATIONS:
        raise ParameterError(option, f"{radiation!r} is not {' or '.join(RADIATIONS)}")
    neutron = radiation == "neutron"
    if neutron and wavelength is not None:
        names = [wavelength] if isinstance(wavelength, str) else [getattr(c, "name", None) for c in wavelength] \
            if isinstance(wavelength, (list, tuple)) else []
        for name in names:
            if isinstance(name, str) and name.strip().lower() in {k.lower() for k in named_wavelengths()}:
                raise ParameterError("wavelength", f"{name.strip()} is an X-ray emission line: a neutron pattern needs the "
                                                   "wavelength in angstrom (e.g. --wavelength 1.594)")
        if isinstance(wavelength, (list, tuple)) and len(wavelength) != 1:
            raise ParameterError("wavelength", f"{len(wavelength)} wavelength components: constant-wavelength neutrons "
                                               "have one")
    return neutron


def neutron_table() -> dict:
    """The table of ``data/neutron_scattering_lengths.json`` rebuilt from its source: the natural elements' rows
    of Dans_Diffraction's transcription of Sears (1992) (``neutron_isotope_scattering_lengths_sears.dat``), b_c
    real part and |imaginary part| in fm (that file's signs of b'' are mixed; only the size is used, to flag
    absorbers). Needs Dans_Diffraction (the test extra)."""
    import importlib.metadata
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("Dans_Diffraction")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("Dans_Diffraction", "not installed: the neutron table is transcribed from its copy of Sears' table")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / _DANS_SEARS_FILE
    lengths: dict[str, list[float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, real, imag = (part.strip() for part in line.split(","))
        if is_element(name):  # natural elements only ("7-Li" is an isotope)
            lengths[name] = [float(real), abs(float(imag))]
    return {"about": "Bound coherent neutron scattering lengths b_c (fm) of the elements in natural abundance: "
                     "[real part, |imaginary part|]. Regenerate: python -c 'import argyrodb.physics.scattering as s; "
                     "s.write_neutron_table()'",
            "source": SEARS_1992,
            "transcribed_from": f"Dans_Diffraction {importlib.metadata.version('Dans_Diffraction')} data/{_DANS_SEARS_FILE}",
            "units": "fm", "b_c_fm": lengths}


def write_neutron_table() -> None:
    """Rewrite the bundled ``data/neutron_scattering_lengths.json`` (:func:`neutron_table`)."""
    _write_bundled(NEUTRON_TABLE, neutron_table())


def _bundled_neutron_table() -> dict:
    return _read_bundled(NEUTRON_TABLE)


@cache
def coherent_scattering_length_fm(element: str) -> float:
    """Bound coherent neutron scattering length b_c (fm, real part) of an element in natural abundance (Sears 1992)."""
    row = _bundled_neutron_table()["b_c_fm"].get(element)
    if row is None:
        raise InputError("scattering lengths", f"no neutron scattering length for {element!r} in Sears (1992)")
    return float(row[0])


def neutron_absorbers(elements) -> list[str]:
    """The elements whose |b''| >= :data:`NEUTRON_ABSORBER_FM`: their absorption (and imaginary b) is not modelled."""
    table = _bundled_neutron_table()["b_c_fm"]
    return [el for el in elements if el in table and table[el][1] >= NEUTRON_ABSORBER_FM]
