"""A diffractometer's calibration: the instrument part of the line positions and widths, refined on a standard.

``argyrodb refine STANDARD --start Si.cif --calibrate --out instrument.yaml`` refines a standard (NIST SRM 640d Si,
LaB6 SRM 660, ... : strain-free, 1-10 um crystallites, so its lines are the instrument's) with its lattice parameter
held at the certificate's, and writes this file; ``--instrument instrument.yaml`` then holds these values for a
sample and refines only what the sample adds:

* line position: the zero shift dz is the instrument's (held); the sample's displacement D cos(theta) and
  transparency -T sin(2 theta) are refined (they are the specimen's, not the instrument's);
* line width (Thompson-Cox-Hastings, J. Appl. Cryst. 20 (1987) 79): Gamma_G^2 = (U_i + U_s) tan^2 theta + V_i tan
  theta + W_i and Gamma_L = (X_i + X_s) tan theta + (Y_i + Y_s) / cos theta, the instrument's U_i..Y_i held and the
  sample's increments U_s, X_s (microstrain) and Y_s (crystallite size) refined >= 0. Adding the Gaussian variances
  and the Lorentzian widths is exact for the Voigt components (a Gaussian convolved with a Gaussian adds variances,
  a Lorentzian with a Lorentzian adds widths), so the sample's size D = K lambda / Y_s (Scherrer, K = 0.9) and its
  Gaussian microstrain e = sqrt(U_s) pi / 720 (Stokes-Wilson apparent strain, FWHM(2theta, rad) = 4 e tan theta)
  are instrument-corrected;
* asymmetry: the axial divergence is the instrument's (held): ``axial_deg`` (A) with ``asymmetry: axial``, or S/L
  and H/L with ``asymmetry: fcj`` (Finger, Cox & Jephcoat, J. Appl. Cryst. 27 (1994) 892). A sample refined with
  the other model holds the same triangle of axial angles: A = (S + H)/L in degrees, S/L = H/L = A/2 (rad) the other
  way (a note says so; an fcj file with S/L != H/L is held as their sum's triangle, which drops the trapezoid).

The file is YAML, ``format: argyrodb-instrument/1``: ``asymmetry`` (axial when absent), ``values`` (zero_shift_deg,
U, V, W, X, Y and axial_deg or S_L, H_L), their ``esds``, the wavelength and monochromator it was measured with, the
standard (file, SHA-256, phase, a held) and the calibration's GoF and 2theta range. A sample refined with another
wavelength is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InputError
from ..core.files import read_text_file

INSTRUMENT_FORMAT = "argyrodb-instrument/1"
#: What a calibration holds for samples besides its asymmetry (ASYMMETRY_VALUES).
PROFILE_VALUES = ("zero_shift_deg", "U", "V", "W", "X", "Y")
#: The asymmetry model's values, by model (rietveld.ASYMMETRIES).
ASYMMETRY_VALUES = {"axial": ("axial_deg",), "fcj": ("S_L", "H_L")}
#: What an axial calibration holds (the file's values without an asymmetry key).
INSTRUMENT_VALUES = PROFILE_VALUES + ASYMMETRY_VALUES["axial"]


@dataclass(frozen=True)
class Instrument:
    """A calibration (see the module docstring): ``values`` by name (INSTRUMENT_VALUES), their ``esds`` (None when
    held in the calibration), the ``wavelength`` text and monochromator 2theta_M it holds for, and the record of the
    standard it came from."""

    values: dict[str, float]
    esds: dict[str, float | None]
    wavelength: str
    monochromator_two_theta_deg: float | None = None
    standard: dict = field(default_factory=dict)
    source: str = ""
    asymmetry: str = "axial"

    def __post_init__(self) -> None:
        where = self.source or "instrument"
        if not isinstance(self.asymmetry, str) or self.asymmetry not in ASYMMETRY_VALUES:  # a YAML list is unhashable
            raise InputError(where, f"asymmetry must be {' or '.join(ASYMMETRY_VALUES)}, got {self.asymmetry!r}")
        missing = [k for k in self.value_names if k not in self.values]
        if missing:
            raise InputError(where, f"no value for {', '.join(missing)}" + (f" (asymmetry: {self.asymmetry})"))
        for key in self.value_names:
            value = self.values[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise InputError(where, f"{key} must be a finite number, got {value!r}")
        for key in ("U", "X", "Y", *ASYMMETRY_VALUES[self.asymmetry]):
            if self.values[key] < 0:
                raise InputError(where, f"{key} must be 0 or more, got {self.values[key]!r}")

    @property
    def value_names(self) -> tuple[str, ...]:
        """The values this calibration holds: the profile's and its asymmetry model's."""
        return PROFILE_VALUES + ASYMMETRY_VALUES[self.asymmetry]

    def axial_deg(self) -> float:
        """The axial divergence A (deg) of the one-parameter model: the file's, or (S + H)/L of an fcj file."""
        if self.asymmetry == "axial":
            return float(self.values["axial_deg"])
        return math.degrees(float(self.values["S_L"]) + float(self.values["H_L"]))

    def s_h_over_l(self) -> tuple[float, float]:
        """(S/L, H/L) of the FCJ model: the file's, or A/2 (rad) each for an axial file (the same triangle)."""
        if self.asymmetry == "fcj":
            return float(self.values["S_L"]), float(self.values["H_L"])
        half = math.radians(float(self.values["axial_deg"])) / 2.0
        return half, half

    def as_dict(self) -> dict:
        return {"format": INSTRUMENT_FORMAT, "asymmetry": self.asymmetry,
                "values": {k: float(self.values[k]) for k in self.value_names},
                "esds": {k: _number_or_none(self.esds.get(k)) for k in self.value_names},
                "wavelength": self.wavelength, "monochromator_two_theta_deg": self.monochromator_two_theta_deg,
                "standard": self.standard}

    def yaml_text(self) -> str:
        import yaml

        return ("# argyrodb instrument calibration (argyrodb/physics/instrument.py): held for samples with --instrument\n"
                + yaml.safe_dump(self.as_dict(), sort_keys=False, width=110))

    @classmethod
    def read(cls, path: str | Path) -> Instrument:
        """Read an instrument file; every problem is an InputError naming the file."""
        import yaml

        path = Path(path)
        text = read_text_file(path)
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise InputError(where, f"not YAML: {getattr(exc, 'problem', exc)}") from None
        if not isinstance(doc, dict) or doc.get("format") != INSTRUMENT_FORMAT:
            raise InputError(path, f"not an instrument file (format: {INSTRUMENT_FORMAT} expected)")
        values, esds = doc.get("values"), doc.get("esds") or {}
        if not isinstance(values, dict) or not isinstance(esds, dict):
            raise InputError(path, "values and esds must be mappings")
        wavelength = doc.get("wavelength")
        if not isinstance(wavelength, str) or not wavelength:
            raise InputError(path, "no wavelength: a calibration holds for the wavelength it was measured with")
        mono = doc.get("monochromator_two_theta_deg")
        if mono is not None and not isinstance(mono, (int, float)):
            raise InputError(path, f"monochromator_two_theta_deg must be a number or null, got {mono!r}")
        return cls(values=dict(values), esds=dict(esds), wavelength=wavelength, monochromator_two_theta_deg=mono,
                   standard=doc.get("standard") or {}, source=str(path), asymmetry=doc.get("asymmetry", "axial"))


def _number_or_none(value: float | None) -> float | None:
    return None if value is None else float(value)
