"""Equivalent-circuit fitting of impedance spectra with impedance.py (ECSHackWeek/impedance.py).

Default circuit: the source's Fig. S9 model, R_bulk in series with three R||CPE elements (grain
boundary I-1, cathode-SE interface I-2, Li-SE interface I-3) and a Warburg element:
``R0-p(R1,CPE1)-p(R2,CPE2)-p(R3,CPE3)-W1``. CPE impedance Z = 1 / (Q (j omega)^alpha); impedance.py's
Warburg ``W`` is semi-infinite, Z = A_w (1 - j) / sqrt(omega).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError, ParameterError
from ..core.files import pyplot, read_text_file, save_figure
from .calculators import cpe_capacitance_F

FIG_S9_CIRCUIT = "R0-p(R1,CPE1)-p(R2,CPE2)-p(R3,CPE3)-W1"
#: Starting values for the Fig. S9 circuit: Table S4's LMA-Cl0.8I0.6 cycle-1 column, Warburg 10 ohm s^-1/2.
FIG_S9_INITIAL = [73.26, 26.31, 6.34e-7, 0.751, 27.89, 5.48e-5, 0.521, 19.65, 3.57e-2, 0.486, 10.0]


@dataclass
class Spectrum:
    name: str
    frequency_hz: np.ndarray
    z: np.ndarray  # complex impedance, ohm (Z' + j Z'')


def read_spectrum(path: str | Path) -> Spectrum:
    """Three columns: frequency (Hz), Z' (ohm), Z'' (ohm); a header line is optional. A Z'' column that
    is mostly positive is taken as -Z'' (the Nyquist-plot convention) and negated."""
    path = Path(path)
    rows = []
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        text = line.split("#")[0].strip()
        if not text:
            continue
        parts = text.replace(",", " ").replace(";", " ").split()
        try:
            values = [float(p) for p in parts[:3]]
        except ValueError:
            if not rows:
                continue
            raise InputError(path, f"line {number}: expected three numbers") from None
        if len(values) < 3 or not all(math.isfinite(v) for v in values):
            raise InputError(path, f"line {number}: expected three finite numbers (frequency, Z', Z'')")
        rows.append(values)
    if len(rows) < 8:
        raise InputError(path, f"only {len(rows)} data points (need at least 8)")
    data = np.array(rows)
    if np.any(data[:, 0] <= 0):
        raise InputError(path, "frequencies must be positive")
    imag = data[:, 2]
    if np.mean(imag > 0) > 0.5:
        imag = -imag
    return Spectrum(path.stem, data[:, 0], data[:, 1] + 1j * imag)


@dataclass
class FitResult:
    circuit: str
    names: list[str]
    units: list[str]
    values: np.ndarray
    stderr: np.ndarray
    capacitances: dict[str, float]
    residual_rms_ohm: float

    def as_dict(self) -> dict:
        return {
            "circuit": self.circuit,
            "parameters": [
                {"name": n, "value": float(v), "stderr": None if not math.isfinite(e) else float(e), "unit": u}
                for n, v, e, u in zip(self.names, self.values, self.stderr, self.units)
            ],
            "capacitances_F": self.capacitances,
            "residual_rms_ohm": self.residual_rms_ohm,
        }


def _circuit(circuit: str, initial: list[float]):
    from impedance.models.circuits import CustomCircuit

    try:
        return CustomCircuit(circuit, initial_guess=list(initial))
    except (ValueError, AssertionError, KeyError) as exc:
        raise ParameterError("circuit", f"cannot build circuit {circuit!r}: {exc}") from None


def simulate(frequency_hz: np.ndarray, parameters: list[float], circuit: str = FIG_S9_CIRCUIT) -> np.ndarray:
    import warnings

    model = _circuit(circuit, parameters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.predict(np.asarray(frequency_hz, dtype=float), use_initial=True)


def fit(spectrum: Spectrum, circuit: str = FIG_S9_CIRCUIT, initial: list[float] | None = None) -> FitResult:
    """Fit ``circuit`` to the spectrum (complex non-linear least squares, impedance.py); report each
    parameter with its standard error and the equivalent capacitance of every p(R, CPE) pair."""
    import re
    import warnings

    if initial is None:
        if circuit != FIG_S9_CIRCUIT:
            raise ParameterError("initial", "give starting values for a custom circuit")
        initial = FIG_S9_INITIAL
    model = _circuit(circuit, initial)
    bounds_low, bounds_high = [], []
    names, units = model.get_param_names()
    for name in names:
        if name.endswith("_1") and name.startswith("CPE"):
            bounds_low.append(0.3)
            bounds_high.append(1.0)
        else:
            bounds_low.append(0.0)
            bounds_high.append(np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.fit(spectrum.frequency_hz, spectrum.z, bounds=(bounds_low, bounds_high), maxfev=20000)
        except (RuntimeError, ValueError) as exc:
            raise InputError(spectrum.name, f"fit did not converge: {exc}") from None
    values = np.asarray(model.parameters_, dtype=float)
    stderr = np.asarray(model.conf_, dtype=float) if model.conf_ is not None else np.full_like(values, np.nan)
    lookup = dict(zip(names, values))
    capacitances = {}
    for r_name, cpe in re.findall(r"p\((R\d+),(CPE\d+)\)", circuit):
        capacitances[f"C_{r_name}"] = cpe_capacitance_F(lookup[r_name], lookup[f"{cpe}_0"], lookup[f"{cpe}_1"])
    predicted = model.predict(spectrum.frequency_hz)
    rms = float(np.sqrt(np.mean(np.abs(predicted - spectrum.z) ** 2)))
    return FitResult(circuit, list(names), list(units), values, stderr, capacitances, rms)


def plot_nyquist(spectrum: Spectrum, result: FitResult, out: str | Path) -> Path:
    plt = pyplot()
    f_fine = np.logspace(np.log10(spectrum.frequency_hz.max()), np.log10(spectrum.frequency_hz.min()), 400)
    z_fit = simulate(f_fine, list(result.values), result.circuit)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    ax.plot(spectrum.z.real, -spectrum.z.imag, "o", ms=3.5, color="#1f4e79", label=f"measured {spectrum.name}")
    ax.plot(z_fit.real, -z_fit.imag, "-", color="#c0392b", label=f"fit {result.circuit}")
    ax.set_xlabel("Z' (Ω)")
    ax.set_ylabel("-Z'' (Ω)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=8)
    text = "\n".join(f"{k} = {v:.3g} F" for k, v in result.capacitances.items())
    ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out)
