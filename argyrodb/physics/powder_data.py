"""The measured powder pattern every reader of :mod:`argyrodb.physics.pattern_data` returns (:class:`PowderData`), its
limits and whole-array checks, and the text of a file's wavelength; kept apart so that the instrument readers of
:mod:`argyrodb.physics.pattern_formats` and the entry point in :mod:`argyrodb.physics.pattern_data` share them
without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..core.errors import InputError, ParameterError
from .scattering import WavelengthComponent

#: Fewest points a pattern may have.
MIN_POINTS = 10
#: Most points a pattern may have (a 0.001 deg step over 0-180 deg is 180,000).
MAX_POINTS = 2_000_000
#: Largest file read (bytes).
MAX_BYTES = 200_000_000
#: What ``PowderData.kind`` may be.
KINDS = ("counts", "counts_per_second", "intensity")


@dataclass(frozen=True)
class PowderData:
    """A measured powder pattern. The arrays are read-only.

    ``kind`` says what ``counts`` holds: ``"counts"`` (detector counts, Poisson statistics apply),
    ``"counts_per_second"`` (intensities in cps; :meth:`counts_total` gives counts back when the counting
    time is known) or ``"intensity"`` (units not stated, or scaled: taken as counts for Poisson weights
    unless the file gives sigma). Only ``"intensity"`` with sigma may be negative (background-subtracted data).
    """

    two_theta_deg: np.ndarray  # strictly increasing, within (0, 180)
    counts: np.ndarray  # finite; >= 0 unless kind "intensity" with sigma
    sigma: np.ndarray | None  # > 0, from the file (xye, GSAS ESD/FXYE, attenuated counts) or None
    source: str  # the file path
    wavelength: str | None  # e.g. "Cu K-alpha1 1.540598 A, K-alpha2 1.544426 A, K-alpha2/K-alpha1 0.5"
    metadata: dict = field(default_factory=dict)
    kind: str = "intensity"

    def __post_init__(self):
        for name in ("two_theta_deg", "counts", "sigma"):
            value = getattr(self, name)
            if value is not None:
                array = np.array(value, dtype=float)
                array.setflags(write=False)
                object.__setattr__(self, name, array)
        if self.kind not in KINDS:
            raise ParameterError("kind", f"unknown kind {self.kind!r} (one of {', '.join(KINDS)})")
        _check_arrays(self.two_theta_deg, self.counts, self.sigma, self.source,
                      allow_negative=self.sigma is not None and self.kind == "intensity")

    @property
    def name(self) -> str:
        """The file's name without folder and extension."""
        return Path(self.source).stem

    @property
    def n_points(self) -> int:
        return int(self.two_theta_deg.size)

    @property
    def two_theta_range(self) -> tuple[float, float]:
        return float(self.two_theta_deg[0]), float(self.two_theta_deg[-1])

    @property
    def counting_time_s(self) -> float | np.ndarray | None:
        """Counting time per point (s) when the file gives it (XRDML, BRML, RAW, RAS, RASX), else None."""
        return self.metadata.get("counting_time_s")

    def counts_per_second(self) -> np.ndarray | None:
        """Counts divided by the counting time (or the counts themselves when already in cps); None when
        the time is unknown."""
        if self.kind == "counts_per_second":
            return self.counts
        time = self.counting_time_s
        return None if time is None else self.counts / np.asarray(time, dtype=float)

    def counts_total(self) -> np.ndarray | None:
        """Counts (Poisson statistics): the counts themselves, or counts/s times the counting time; None
        for cps data without a counting time."""
        if self.kind != "counts_per_second":
            return self.counts
        time = self.counting_time_s
        return None if time is None else self.counts * np.asarray(time, dtype=float)

    def wavelength_components(self) -> list[WavelengthComponent] | None:
        """The file's wavelengths as components for :mod:`argyrodb.physics.xrd` (``wavelength=`` of
        ``peak_arrays``): K-alpha1 (weight 1) and K-alpha2 (weight = the file's ratio), or K-alpha1 alone
        when the file has no K-alpha2 (or a ratio of 0), the incident beam has a monochromator, or the
        file says the radiation is K-alpha1 (``kalpha1_only``); one line ``"lambda"`` for a file that
        states a single wavelength (a synchrotron GSAS file); None when the file states no wavelength."""
        info = self.metadata.get("wavelength") or {}
        ka1 = info.get("kalpha1_angstrom")
        if ka1 is None:
            single = info.get("wavelength_angstrom")
            return None if single is None else [WavelengthComponent(single, 1.0, "lambda")]
        anode = info.get("anode") or ""
        components = [WavelengthComponent(ka1, 1.0, f"{anode}Ka1")]
        ka2, ratio = info.get("kalpha2_angstrom"), info.get("ratio_kalpha2_kalpha1")
        if ka2 and ratio and not info.get("incident_monochromator") and not info.get("kalpha1_only"):
            components.append(WavelengthComponent(ka2, ratio, f"{anode}Ka2"))
        return components

    def select(self, two_theta_range: tuple[float, float], min_points: int = MIN_POINTS) -> PowderData:
        """The points with lo <= 2theta <= hi (refused when fewer than ``min_points`` remain)."""
        lo, hi = (float(v) for v in two_theta_range)
        if not lo < hi:
            raise ParameterError("two_theta_range", f"minimum {lo:g} must be below maximum {hi:g}")
        keep = (self.two_theta_deg >= lo) & (self.two_theta_deg <= hi)
        if keep.sum() < min_points:
            raise ParameterError("two_theta_range", f"only {int(keep.sum())} of the {self.n_points} measured points lie in "
                                                    f"{lo:g}-{hi:g} deg (need at least {min_points})")
        time = self.counting_time_s
        metadata = dict(self.metadata)
        if isinstance(time, np.ndarray):
            metadata["counting_time_s"] = time[keep]
        return replace(self, two_theta_deg=self.two_theta_deg[keep], counts=self.counts[keep],
                       sigma=None if self.sigma is None else self.sigma[keep], metadata=metadata)


def _check_arrays(x: np.ndarray, y: np.ndarray, sigma: np.ndarray | None, source: str, allow_negative: bool = False) -> None:
    """Whole-array checks (the readers check line by line first, naming the line)."""
    if x.ndim != 1 or x.shape != y.shape or (sigma is not None and sigma.shape != x.shape):
        raise InputError(source, "2theta, counts and sigma must be 1-D arrays of one length")
    if x.size < MIN_POINTS:
        raise InputError(source, f"only {x.size} data points (need at least {MIN_POINTS})")
    if x.size > MAX_POINTS:
        raise InputError(source, f"{x.size} data points, more than {MAX_POINTS}")
    for label, values in (("2theta", x), ("counts", y), ("sigma", sigma)):
        if values is not None and not np.all(np.isfinite(values)):
            raise InputError(source, f"{label} values must be finite (point {int(np.argmin(np.isfinite(values))) + 1} is not)")
    steps = np.diff(x)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0)) + 1
        raise InputError(source, f"2theta values must increase strictly: point {i + 1} ({x[i]:g}) after {x[i - 1]:g}")
    if not (x[0] > 0 and x[-1] < 180):
        raise InputError(source, f"2theta values must lie between 0 and 180 degrees (file has {x[0]:g}-{x[-1]:g})")
    if not allow_negative and np.any(y < 0):
        i = int(np.argmax(y < 0))
        raise InputError(source, f"counts must not be negative (point {i + 1}: {y[i]:g})")
    if sigma is not None and np.any(sigma <= 0):
        i = int(np.argmax(sigma <= 0))
        raise InputError(source, f"sigma must be positive (point {i + 1}: {sigma[i]:g})")


def negative_note(two_theta: np.ndarray, intensity: np.ndarray) -> str | None:
    """The note for a pattern with sigma whose intensities go below zero (None when none does)."""
    negative = intensity < 0
    if not np.any(negative):
        return None
    i = int(np.argmin(intensity))
    return (f"{int(negative.sum())} of {intensity.size} intensities are negative (lowest {intensity[i]:g} at "
            f"2theta {two_theta[i]:g}): background-subtracted data? read as intensities weighted by the file's sigma")


def wavelength_text(info: dict) -> str | None:
    """One line for ``PowderData.wavelength`` from a ``metadata["wavelength"]`` dict (None: no wavelength)."""
    ka1 = info.get("kalpha1_angstrom")
    if ka1 is None:
        single = info.get("wavelength_angstrom")
        return None if single is None else f"{single:.7g} A"
    words = [f"{info.get('anode', '')} K-alpha1 {ka1:.7g} A".strip()]
    if info.get("kalpha2_angstrom") is not None:
        words.append(f"K-alpha2 {info['kalpha2_angstrom']:.7g} A")
    if info.get("ratio_kalpha2_kalpha1") is not None:
        words.append(f"K-alpha2/K-alpha1 {info['ratio_kalpha2_kalpha1']:g}")
    if info.get("incident_monochromator"):
        words.append(f"incident monochromator {info['incident_monochromator']}")
    if info.get("kalpha1_only"):
        words.append(f"K-alpha1 only ({info['kalpha1_only']})")
    return ", ".join(words)
