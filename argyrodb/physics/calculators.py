"""The lab's hand calculations as tested functions (numpy only: importing this module is cheap).

Every function states its equation, units and reference, and refuses non-physical input with an
:class:`ParameterError` naming the Python parameter.
"""

from __future__ import annotations

import math

from ..core.errors import InputError, ParameterError
from ..core.files import read_text_file

#: Standard acceleration of gravity (CGPM 1901), m/s^2. The source uses g = 9.8 m/s^2.
STANDARD_GRAVITY_M_S2 = 9.80665
SOURCE_GRAVITY_M_S2 = 9.8
#: Inputs beyond these magnitudes (in the units each function states) are refused: no laboratory
#: quantity here is that small or large, and they would overflow the formulas.
MIN_MAGNITUDE = 1e-30
MAX_MAGNITUDE = 1e12
#: Boltzmann constant in eV/K (CODATA 2018, exact).
BOLTZMANN_EV_K = 8.617333262e-5


def _positive(value: float, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, f"not a number: {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ParameterError(name, f"must be a positive finite number, got {value!r}")
    if not (MIN_MAGNITUDE <= number <= MAX_MAGNITUDE):
        raise ParameterError(name, f"{value!r} is outside {MIN_MAGNITUDE:g}-{MAX_MAGNITUDE:g}: not a laboratory quantity")
    return number


def milling_gforce(rpm: float, radius_m: float, g_m_s2: float = SOURCE_GRAVITY_M_S2) -> float:
    """Centrifugal acceleration of a planetary mill's main disk in units of g:

        GF = (2 pi rpm / 60)^2 R / g

    rpm: rotation speed (1/min); radius_m: effective rotation radius R (m); g in m/s^2 (the source's
    experimental section uses 9.8). Reference: the source's experimental section (Table S1).
    """
    omega = 2 * math.pi * _positive(rpm, "rpm") / 60.0
    return omega**2 * _positive(radius_m, "radius_m") / _positive(g_m_s2, "g_m_s2")


def gforce_table(rpms, radius_m: float, g_m_s2: float = SOURCE_GRAVITY_M_S2) -> list[dict]:
    """G-force for each speed (reproduces Table S1 with R = 0.089 m, g = 9.8 m/s^2)."""
    return [{"rpm": float(r), "radius_m": float(radius_m), "gforce": milling_gforce(r, radius_m, g_m_s2)} for r in rpms]


LENGTH_TO_CM = {"um": 1e-4, "mm": 0.1, "cm": 1.0, "m": 100.0}


def to_cm(value: float, unit: str) -> float:
    """A length in ``unit`` (um, mm, cm or m) in centimetres."""
    if unit not in LENGTH_TO_CM:
        raise ParameterError("unit", f"unknown length unit {unit!r} ({', '.join(LENGTH_TO_CM)})")
    return value * LENGTH_TO_CM[unit]


def disc_area_cm2(diameter_cm: float) -> float:
    """A = pi d^2 / 4."""
    return math.pi * _positive(diameter_cm, "diameter_cm") ** 2 / 4


def ionic_conductivity_mS_cm(resistance_ohm: float, thickness_cm: float, diameter_cm: float | None = None,
                             area_cm2: float | None = None) -> float:
    """sigma = t / (R A) in mS/cm, with t the pellet thickness (cm), R the bulk resistance (ohm) and A the
    electrode area (cm^2, or pi d^2 / 4 from the diameter). Reference: the source's experimental section."""
    r = _positive(resistance_ohm, "resistance_ohm")
    t = _positive(thickness_cm, "thickness_cm")
    if area_cm2 is None:
        if diameter_cm is None:
            raise ParameterError("diameter_cm", "give the pellet diameter or the electrode area")
        area_cm2 = disc_area_cm2(diameter_cm)
    return 1000.0 * t / (r * _positive(area_cm2, "area_cm2"))


def arrhenius_fit(temperature_K, sigma_S_cm) -> dict:
    """Activation energy from sigma T = A exp(-Ea / (k_B T)): linear least squares of ln(sigma T)
    against 1/T; Ea = -slope k_B with the slope's standard error (needs >= 3 points)."""
    import numpy as np

    t = np.asarray(temperature_K, dtype=float)
    s = np.asarray(sigma_S_cm, dtype=float)
    if t.shape != s.shape or t.size < 3:
        raise ParameterError("temperature_K", f"need at least 3 (T, sigma) pairs, got {t.size}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(s))) or np.any(t <= 0) or np.any(s <= 0):
        raise ParameterError("temperature_K", "temperatures (K) and conductivities must be positive and finite")
    if np.ptp(t) == 0:
        raise ParameterError("temperature_K", "all temperatures are equal")
    x = 1.0 / t
    y = np.log(s * t)
    design = np.column_stack([x, np.ones_like(x)])
    (slope, intercept), _residuals, *_ = np.linalg.lstsq(design, y, rcond=None)
    fitted = design @ np.array([slope, intercept])
    dof = max(t.size - 2, 1)
    s2 = float(np.sum((y - fitted) ** 2)) / dof
    covariance = s2 * np.linalg.inv(design.T @ design)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "ea_eV": float(-slope * BOLTZMANN_EV_K),
        "ea_stderr_eV": float(math.sqrt(covariance[0, 0]) * BOLTZMANN_EV_K),
        "prefactor_S_K_cm": float(math.exp(intercept)),
        "ln_prefactor_stderr": float(math.sqrt(covariance[1, 1])),
        "r_squared": 1.0 - float(np.sum((y - fitted) ** 2)) / ss_tot if ss_tot > 0 else 1.0,
        "n_points": int(t.size),
    }


def elastic_moduli(vl_m_s: float, vs_m_s: float, density_g_cm3: float) -> dict:
    """Isotropic elastic constants from longitudinal and shear sound velocities and density:

        G = rho V_S^2
        nu = (V_L^2 - 2 V_S^2) / (2 (V_L^2 - V_S^2))
        E = rho V_S^2 (3 V_L^2 - 4 V_S^2) / (V_L^2 - V_S^2) = 2 G (1 + nu)
        B = rho (V_L^2 - 4/3 V_S^2) = E / (3 (1 - 2 nu))

    V in m/s, rho in g/cm^3 (x 1000 -> kg/m^3); moduli in GPa. Reference: L. D. Landau and
    E. M. Lifshitz, Theory of Elasticity, 3rd ed. (1986), section 22; ASTM E494.
    """
    vl = _positive(vl_m_s, "vl_m_s")
    vs = _positive(vs_m_s, "vs_m_s")
    rho = 1000.0 * _positive(density_g_cm3, "density_g_cm3")
    if vl**2 <= 4.0 / 3.0 * vs**2:
        raise ParameterError("vl_m_s", f"V_L = {vl:g} m/s must exceed (4/3)^0.5 V_S = {math.sqrt(4 / 3) * vs:g} m/s for a positive bulk modulus")
    g = rho * vs**2
    nu = (vl**2 - 2 * vs**2) / (2 * (vl**2 - vs**2))
    e = rho * vs**2 * (3 * vl**2 - 4 * vs**2) / (vl**2 - vs**2)
    b = rho * (vl**2 - 4.0 / 3.0 * vs**2)
    return {"E_GPa": e / 1e9, "G_GPa": g / 1e9, "B_GPa": b / 1e9, "poisson_ratio": nu, "pugh_ratio_B_over_G": b / g}


def cpe_capacitance_F(r_ohm: float, q: float, alpha: float) -> float:
    """Equivalent capacitance of a resistor R in parallel with a constant-phase element
    Z_CPE = 1 / (Q (j omega)^alpha):

        C = (Q R^(1 - alpha))^(1 / alpha)

    R in ohm, Q (CPE-T) in F s^(alpha-1), 0 < alpha (CPE-P) <= 1; C in F. Reference: C. H. Hsu and
    F. Mansfeld, Corrosion 57 (2001) 747, doi:10.5006/1.3280607.
    """
    r = _positive(r_ohm, "r_ohm")
    qv = _positive(q, "q")
    a = _positive(alpha, "alpha")
    if a > 1:
        raise ParameterError("alpha", f"CPE exponent must be in (0, 1], got {alpha!r}")
    log_c = (math.log(qv) + (1.0 - a) * math.log(r)) / a
    if not (-700.0 < log_c < 700.0):
        raise ParameterError("q", f"capacitance e^{log_c:.0f} F is not physical: check R, CPE-T and CPE-P")
    return math.exp(log_c)


def ccd_steps(step_mA_cm2: float, diameter_mm: float, max_mA_cm2: float, step_hours: float = 1.0) -> list[dict]:
    """Current of each step of a critical-current-density test: J_k = k x step, I_k = J_k x pi d^2 / 4
    (mA, with d the electrode diameter), each step held ``step_hours`` (plating + stripping)."""
    step = _positive(step_mA_cm2, "step_mA_cm2")
    area = disc_area_cm2(_positive(diameter_mm, "diameter_mm") / 10.0)
    top = _positive(max_mA_cm2, "max_mA_cm2")
    n = math.floor(top / step + 1e-9)
    if n < 1:
        raise ParameterError("max_mA_cm2", f"the highest current density {top:g} is below one step of {step:g} mA/cm^2")
    if n > 10_000:
        raise ParameterError("max_mA_cm2", f"{n} steps is too many")
    return [{"step": k, "current_density_mA_cm2": round(k * step, 10), "current_mA": k * step * area,
             "area_cm2": area, "duration_h": _positive(step_hours, "step_hours")} for k in range(1, n + 1)]


def read_arrhenius_csv(path) -> tuple[list[float], list[float]]:
    """(temperatures in K, conductivities in S/cm) from a CSV with a temperature column
    (``temperature_K``/``T_K`` or ``temperature_C``/``T_C``) and a conductivity column (``sigma_S_cm``
    or ``sigma_mS_cm``)."""
    import csv
    import io

    text = read_text_file(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = reader.fieldnames or []
    t_col = next((f for f in fields if f.strip() in ("temperature_K", "T_K")), None)
    c_col = next((f for f in fields if f.strip() in ("temperature_C", "T_C")), None)
    s_col = next((f for f in fields if f.strip() in ("sigma_S_cm", "sigma_mS_cm")), None)
    if (t_col is None and c_col is None) or s_col is None:
        raise InputError(path, "need columns temperature_K (or temperature_C) and sigma_S_cm (or sigma_mS_cm)")
    temperatures, sigmas = [], []
    for number, row in enumerate(reader, start=2):
        try:
            temperatures.append(float(row[t_col]) if t_col else float(row[c_col]) + 273.15)
            sigmas.append(float(row[s_col]) / (1000.0 if s_col.strip() == "sigma_mS_cm" else 1.0))
        except (TypeError, ValueError):
            raise InputError(path, f"line {number}: not a number") from None
    return temperatures, sigmas
