"""Comparing a simulated pattern with a measured two-column pattern (2theta in degrees, intensity).

The simulated profile y_calc is interpolated onto the measured 2theta points and fitted as
y ~ scale * y_calc + background (constant) by weighted linear least squares with Poisson weights
w = 1 / max(y, 1). The agreement is reported as the weighted-profile R factor

    R_wp = sqrt( sum w (y - scale y_calc - background)^2 / sum w y^2 ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.files import read_text_file

MAX_POINTS = 2_000_000


@dataclass
class MeasuredPattern:
    name: str
    two_theta_deg: np.ndarray
    intensity: np.ndarray


def read_xy(path: str | Path) -> MeasuredPattern:
    """Read a two-column pattern (whitespace or comma separated; '#', '!' and ';' start comments)."""
    path = Path(path)
    xs, ys = [], []
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        text = line.split("#")[0].split("!")[0].strip()
        if not text or text.startswith(";"):
            continue
        parts = text.replace(",", " ").split()
        try:
            x, y = float(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            if not xs:  # a header line before the data
                continue
            raise InputError(path, f"line {number}: expected two numbers, got {line.strip()!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise InputError(path, f"line {number}: non-finite value")
        xs.append(x)
        ys.append(y)
        if len(xs) > MAX_POINTS:
            raise InputError(path, f"more than {MAX_POINTS} points")
    if len(xs) < 10:
        raise InputError(path, f"only {len(xs)} data points (need at least 10)")
    x, y = np.array(xs), np.array(ys)
    if np.any(np.diff(x) <= 0):
        raise InputError(path, "2theta values must increase strictly")
    if not (0 < x[0] and x[-1] < 180):
        raise InputError(path, "2theta values must lie between 0 and 180 degrees")
    return MeasuredPattern(path.stem, x, y)


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
