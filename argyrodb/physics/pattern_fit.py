"""Comparing a simulated pattern with a measured two-column pattern (2theta in degrees, intensity).

The simulated profile y_calc is interpolated onto the measured 2theta points and fitted as
y ~ scale * y_calc + background (constant) by weighted linear least squares with Poisson weights
w = 1 / max(y, 1). The agreement is reported as the weighted-profile R factor

    R_wp = sqrt( sum w (y - scale y_calc - background)^2 / sum w y^2 ).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .pattern_data import FORMATS, read_powder_data

MAX_POINTS = 2_000_000


@dataclass
class MeasuredPattern:
    name: str
    two_theta_deg: np.ndarray
    intensity: np.ndarray
    notes: tuple[str, ...] = ()  # the reader's notes (several scans, attenuation, negative intensities...)


def read_xy(path: str | Path) -> MeasuredPattern:
    """Read a measured pattern (any format of :data:`argyrodb.physics.pattern_data.FORMATS` by extension; any other
    name is read as two columns) through :func:`argyrodb.physics.pattern_data.read_powder_data`, the one reader of
    powder data."""
    path = Path(path)
    fmt = None if path.suffix.lower() in FORMATS else "xy"
    data = read_powder_data(path, fmt=fmt)
    return MeasuredPattern(path.stem, np.asarray(data.two_theta_deg, float), np.asarray(data.counts, float),
                           tuple(data.metadata.get("notes", ())))


@dataclass
class FitResult:
    scale: float
    background: float
    r_wp: float
    n_points: int
    y_calc: np.ndarray

    def as_dict(self) -> dict:
        return {"scale": self.scale, "background": self.background, "r_wp": self.r_wp, "n_points": self.n_points}


def fit_scale(measured: MeasuredPattern, pattern) -> FitResult:
    """Fit scale and constant background of ``pattern``'s profile to ``measured`` (see module doc)."""
    lo, hi = pattern.two_theta_range
    inside = (measured.two_theta_deg >= lo) & (measured.two_theta_deg <= hi)
    if inside.sum() < 10:
        raise InputError(measured.name, f"fewer than 10 measured points inside the simulated range {lo:g}-{hi:g} deg")
    x = measured.two_theta_deg[inside]
    y = measured.intensity[inside]
    _, y_model = pattern.profile(two_theta=x)
    w = 1.0 / np.maximum(y, 1.0)
    design = np.column_stack([y_model, np.ones_like(y_model)])
    sw = np.sqrt(w)
    (scale, background), *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
    y_calc = scale * y_model + background
    denominator = float(np.sum(w * y**2))
    if denominator <= 0:
        raise InputError(measured.name, "all measured intensities are zero in the simulated range: R_wp is undefined")
    r_wp = float(np.sqrt(np.sum(w * (y - y_calc) ** 2) / denominator))
    return FitResult(float(scale), float(background), r_wp, int(inside.sum()), y_calc)
