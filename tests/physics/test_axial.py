"""The axial-divergence asymmetry of the profile (argyrodb.physics.rietveld.line_profiles, AxialAberration) against
computations that share none of its code or closed forms:

* the Finger-Cox-Jephcoat geometry itself, integrated by brute force: rays from every sample height z (|z| <= S)
  through every receiving-slit height h (|h| <= H) at L = 1; for each pair the detector angle 2phi at which the
  ray leaves the sample at the line's 2theta is found by Newton's method on the vectors' angle, and weighted by the
  slit element's solid angle (L^2 dh / r^3) and the Jacobian |d 2theta' / d 2phi| taken by finite differences;
* the aberration function as Finger, Cox & Jephcoat (J. Appl. Cryst. 27 (1994) 892, eqs. 4, 5, 7) write it and
  GSAS-II codes it (fsource/powsubs/psvfcjo.for, PSVFCJO by B. H. Toby, S/L and H/L separate), integrated over
  2phi between 2phi_min and 2theta;

plus the known limits: S = H = 0 is the symmetric profile, the shift changes sign at 90 deg, and the one-parameter
axial model is the small-angle form of FCJ with S = H. Then the refinement's side: ``RefinementSettings.asymmetry``,
the S_L and H_L parameters (H/L tied to S/L unless refined by name) and a refinement of the synthetic Si standard.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from argyrodb.core.errors import ParameterError
from argyrodb.physics.instrument import Instrument
from argyrodb.physics.parameters import KIND_SPECS, ParameterKind
from argyrodb.physics.pattern_data import read_powder_data
from argyrodb.physics.rietveld import (
    AXIAL_LEVELS,
    WINDOW_FWHM,
    AxialAberration,
    RefinementSettings,
    Refiner,
    _window_area,
    impurity_phase,
    line_profiles,
    pseudo_voigt,
)
from argyrodb.pipeline.refine import impurity_structure
from argyrodb_testing import DATA

SI = DATA / "refine" / "si_standard"
SI_A = 5.43123  # NIST SRM 640d, the synthetic pattern's truth

FWHM = 0.05  # deg: a lab diffractometer's line
ANGLES = (15.0, 30.0, 60.0, 120.0)
HEIGHTS = ((0.02, 0.02), (0.01, 0.04), (0.035, 0.01))  # (S/L, H/L): tied, H > S, S > H
STEP = FWHM / 25.0


def _model(two_theta: float, s_l: float, h_l: float, eta: float, aberration=None) -> tuple[np.ndarray, np.ndarray]:
    """The model's profile of one line on a fine grid (zero outside its window)."""
    aberration = AxialAberration.fcj(s_l, h_l) if aberration is None else aberration
    reach = 60 * FWHM + 2.0
    x = np.arange(two_theta - reach, two_theta + reach, STEP)
    profiles = line_profiles(x, np.array([two_theta]), np.array([FWHM]), np.array([eta]), aberration)
    y = np.zeros_like(x)
    np.add.at(y, profiles.points, profiles.values)
    return x, y


def _heights(half: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre heights over [-half, half] (uniform illumination), or the single height 0 when half = 0."""
    if half == 0:
        return np.zeros(1), np.ones(1)
    t, w = np.polynomial.legendre.leggauss(n)
    return half * t, half * w


def _ray_angle(phi: np.ndarray, z: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Scattering angle (rad) of the ray from the sample point (0, 0, z) to the slit point (cos phi, sin phi, h) at
    detector angle phi, the incident beam along x (L = 1)."""
    d = np.stack([np.cos(phi), np.sin(phi), h - z])
    return np.arccos(d[0] / np.linalg.norm(d, axis=0))


def _geometric(two_theta: float, s_l: float, h_l: float, n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Observed positions 2phi (deg) and weights of a sharp line at ``two_theta`` over the sample and slit heights."""
    z, wz = _heights(s_l, n)
    h, wh = _heights(h_l, n)
    z, h = (a.ravel() for a in np.meshgrid(z, h, indexing="ij"))
    weight = np.outer(wz, wh).ravel()
    target = math.radians(two_theta)
    phi = np.full(z.shape, target)
    for _ in range(40):  # Newton's method on the angle of the vectors
        slope = (_ray_angle(phi + 1e-7, z, h) - _ray_angle(phi - 1e-7, z, h)) / 2e-7
        phi -= (_ray_angle(phi, z, h) - target) / slope
    assert np.abs(_ray_angle(phi, z, h) - target).max() < 1e-13
    slope = (_ray_angle(phi + 1e-6, z, h) - _ray_angle(phi - 1e-6, z, h)) / 2e-6
    r = np.sqrt(1.0 + (h - z) ** 2)
    # the slit element dh x d(2phi) at distance r, its normal radial: solid angle dh d(2phi) / r^3; a ring uniform in
    # azimuth puts the same power on every solid angle at its 2theta; its delta function in 2theta' is
    # 1 / |d 2theta' / d 2phi| in 2phi
    return np.degrees(phi), weight / r**3 / np.abs(slope)


def _geometric_profile(x: np.ndarray, two_theta: float, s_l: float, h_l: float, eta: float) -> np.ndarray:
    positions, weights = _geometric(two_theta, s_l, h_l)
    profile = np.zeros_like(x)
    for chunk in range(0, positions.size, 512):
        p, w = positions[chunk:chunk + 512], weights[chunk:chunk + 512]
        profile += (w[:, None] * pseudo_voigt(x[None, :] - p[:, None], np.full((1, 1), FWHM), np.full((1, 1), eta))).sum(0)
    return profile / weights.sum()


@pytest.mark.parametrize("s_l, h_l", HEIGHTS)
@pytest.mark.parametrize("two_theta", ANGLES)
def test_fcj_profile_is_the_geometry_integrated(two_theta, s_l, h_l):
    """Centroid, area and shape of the model's profile against the brute-force geometry.

    * centroid (eta = 0, a Gaussian: the window cuts nothing of it, and a symmetric line adds nothing to the mean):
      within 2e-4 of the shift. The brute force is converged far below that (96 x 96 Gauss-Legendre heights of a
      smooth function of h - z; Newton to 1e-13 rad; the Jacobian by differences, 1e-9); the model's bins keep each
      bin's mean shift exact for a parabolic shift, which FCJ's is only nearly: measured <= 1e-4 of the shift
      (3e-6 deg at 15 deg), the same against GSAS-II's eq. 7 below.
    * area: 1 within 1e-6 (the model is normalised by its own density's mass; the grid sum of a smooth line).
    * shape (eta = 0.4): the model is the exact convolution divided by the symmetric line's area within the window
      (WINDOW_FWHM), so it is compared with the brute force divided by the same area, inside the window: within
      2e-4 of the peak - the model's bins (as many as each line needs for ~1e-4 of the peak; r = shift / FWHM
      <= 10 here), the brute force's discrete heights (96^2 positions, 1-8 per 0.01 deg of shift) and the grid;
      measured <= 1.1e-4."""
    positions, weights = _geometric(two_theta, s_l, h_l)
    brute_shift = float(np.sum(weights * (positions - two_theta)) / weights.sum())
    x, y = _model(two_theta, s_l, h_l, eta=0.0)
    model_shift = float(np.sum((x - two_theta) * y) / y.sum())
    assert abs(model_shift - brute_shift) <= 2e-4 * abs(brute_shift) + 1e-7, (model_shift, brute_shift)
    assert y.sum() * STEP == pytest.approx(1.0, abs=1e-6)
    # the sign: toward lower angle below 90 deg, higher above (FCJ's 2phi_min beyond 2theta)
    assert np.sign(brute_shift) == (-1 if two_theta < 90 else 1)

    x, y = _model(two_theta, s_l, h_l, eta=0.4)
    inside = y > 0
    brute = _geometric_profile(x[inside], two_theta, s_l, h_l, eta=0.4)
    area = _window_area(np.array([WINDOW_FWHM * FWHM]), np.array([FWHM]), np.array([0.4]))[0]
    assert np.abs(y[inside] - brute / area).max() <= 2e-4 * brute.max()


def _gsas_fcj_shift(two_theta: float, s_l: float, h_l: float, n: int = 200) -> float:
    """Mean shift (deg) of FCJ's aberration function D(2phi) = G(2phi) on [2phi_min, 2theta], eq. 7 as GSAS-II's
    PSVFCJO codes it: F = |cos 2theta| / sqrt(cos^2 2phi - cos^2 2theta); G = 2 min(A, B) F / cos 2phi between the
    inflection 2phi_infl (eq. 5) and 2theta, (-1 + (A + B) F) / cos 2phi between 2phi_min (eq. 4) and 2phi_infl."""
    a, b = s_l, h_l
    cos_tt = math.cos(math.radians(two_theta))
    e_min = math.degrees(math.acos(math.sqrt(1.0 + (a + b) ** 2) * cos_tt))
    e_infl = math.degrees(math.acos(math.sqrt(1.0 + (a - b) ** 2) * cos_tt))

    def g(delta: np.ndarray) -> np.ndarray:
        cos_d = np.cos(np.radians(delta))
        f = abs(cos_tt) / np.sqrt(cos_d**2 - cos_tt**2)
        outer = np.abs(delta - e_min) > abs(e_infl - e_min)
        return np.where(outer, 2.0 * min(a, b) * f, -1.0 + (a + b) * f) / cos_d

    # 2phi = 2theta - (2theta - e) v^2 over each piece: the 1 / sqrt singularity at 2theta becomes smooth in v
    t, w = np.polynomial.legendre.leggauss(n)
    total = moment = 0.0
    span = two_theta - e_min
    v_infl = 0.0 if a == b else math.sqrt((two_theta - e_infl) / span)  # S = H: no flat part
    for lo, hi in ((0.0, v_infl), (v_infl, 1.0)):
        if hi <= lo:
            continue
        v = lo + (hi - lo) * (t + 1) / 2
        dv = (hi - lo) / 2 * w
        delta = two_theta - span * v**2
        density = g(delta) * 2 * abs(span) * v * dv
        total += density.sum()
        moment += (density * (delta - two_theta)).sum()
    return moment / total


@pytest.mark.parametrize("s_l, h_l", HEIGHTS)
@pytest.mark.parametrize("two_theta", ANGLES)
def test_fcj_mean_shift_is_gsas_iis(two_theta, s_l, h_l):
    """The model's centroid against FCJ's eq. 7 as GSAS-II codes it: within 2e-4 of the shift (both converged
    quadratures of the same integral; a Gaussian line, whose centroid is the aberration's)."""
    x, y = _model(two_theta, s_l, h_l, eta=0.0)
    model_shift = float(np.sum((x - two_theta) * y) / y.sum())
    expected = _gsas_fcj_shift(two_theta, s_l, h_l)
    assert abs(model_shift - expected) <= 2e-4 * abs(expected), (model_shift, expected)


@pytest.mark.parametrize("eta", [0.0, 0.6])
def test_no_heights_is_the_symmetric_line(eta):
    """S = H = 0: no axial divergence, the symmetric pseudo-Voigt (restored to unit area within its window)."""
    for two_theta in ANGLES:
        x, y = _model(two_theta, 0.0, 0.0, eta)
        _, symmetric = _model(two_theta, 0.0, 0.0, eta, aberration=0.0)
        area = _window_area(np.array([WINDOW_FWHM * FWHM]), np.array([FWHM]), np.array([eta]))[0]
        expected = pseudo_voigt(x - two_theta, np.full(x.shape, FWHM), np.full(x.shape, eta)) / area
        inside = np.abs(x - two_theta) <= WINDOW_FWHM * FWHM
        assert np.array_equal(y, symmetric)
        assert np.abs(y[inside] - expected[inside]).max() <= 1e-12 * expected.max()


def test_the_shift_changes_sign_at_90_degrees():
    """Below 90 deg the tail and the centroid go to lower angle, above to higher; at 90 deg there is no shift
    (cos 2phi = sqrt(1 + nu^2) cos 2theta = 0)."""
    aberration = AxialAberration.fcj(0.02, 0.03)
    nu = np.array([[0.0, 0.01, 0.03, 0.05]])
    for two_theta in (20.0, 70.0, 89.0, 91.0, 110.0, 160.0):
        shift = aberration.shift_deg(nu, np.array([two_theta]))[0]
        assert shift[0] == pytest.approx(0.0, abs=1e-12)
        assert np.all(np.sign(shift[1:]) == (1 if two_theta < 90 else -1))  # 2theta - 2phi
        assert np.all(np.diff(np.abs(shift)) > 0)
    assert np.abs(aberration.shift_deg(nu, np.array([90.0]))).max() < 1e-12
    low, high = _model(30.0, 0.02, 0.03, 0.0), _model(150.0, 0.02, 0.03, 0.0)
    assert np.sum((low[0] - 30.0) * low[1]) < 0 < np.sum((high[0] - 150.0) * high[1])


@pytest.mark.parametrize("two_theta", ANGLES)
def test_the_axial_model_is_fcjs_small_angle_form(two_theta):
    """With S = H the axial angles are a triangle over [0, (S + H)/L], which is the one-parameter model with
    A = (S + H)/L: its shift nu^2 / 2 cot 2theta is FCJ's to first order in nu^2 (and its density has no
    1 / ((1 + nu^2) sin 2phi)), so the centroids agree to O(nu^2) (here within 1.5 % at (S + H)/L = 0.04)."""
    s_l = 0.02
    x, fcj = _model(two_theta, s_l, s_l, eta=0.0)
    _, axial = _model(two_theta, s_l, s_l, eta=0.0, aberration=math.degrees(2 * s_l))
    fcj_shift = np.sum((x - two_theta) * fcj) / fcj.sum()
    axial_shift = np.sum((x - two_theta) * axial) / axial.sum()
    # the triangle's mean of nu^2 is A^2 / 6: the small-angle centroid is A^2 cot(2theta) / 12 (to lower angle)
    a = 2 * s_l
    assert axial_shift == pytest.approx(-math.degrees(a**2 / 12 / math.tan(math.radians(two_theta))), rel=1e-6)
    assert fcj_shift == pytest.approx(axial_shift, rel=0.015)


def test_the_quadrature_converges_and_is_smooth_in_the_parameters():
    """The bins scale with (S + H)/L and a line's count follows its largest shift / FWHM r through smooth blends
    (_bin_levels): the profile is a smooth function of S/L, no bin count jumps. For a low-angle line whose axial shift
    spans 13 FWHM: 12 fixed bins agree with 200 to 1e-3 of the peak and 24 to 1e-4 (the error falls as bins^-4,
    ~0.1 (r / bins^2)^2); the default (16 bins for r = 13) to 1e-3."""
    centre = np.array([15.0])
    x = np.arange(13.5, 15.5, 0.004)

    def pattern(s_l: float, bins: int | None = None) -> np.ndarray:
        profiles = line_profiles(x, centre, np.array([0.03]), np.array([0.5]), AxialAberration.fcj(s_l, s_l), bins=bins)
        return profiles.pattern(np.ones(1))

    converged = pattern(0.03, 200)
    assert AXIAL_LEVELS[-1] == 32
    assert np.abs(pattern(0.03, 12) - converged).max() <= 1e-3 * converged.max()
    assert np.abs(pattern(0.03, 24) - converged).max() <= 1e-4 * converged.max()
    assert np.abs(pattern(0.03) - converged).max() <= 1e-3 * converged.max()
    # over a fine scan of S/L (steps of 1e-5, the tail's end moving by 1/40 FWHM a step) the second differences
    # are those of a smooth function, 2e-3 of the first (halving with the step); a step in the model would make
    # them as large as the first. (The
    # window's edge, WINDOW_FWHM beyond the tail's end, moves with S/L too: the grid point it passes jumps from 0 to
    # the Lorentzian's tail there, ~2e-4 of the peak, as it always did for A, the widths and the positions; those
    # points are left out.)
    scan = np.array([pattern(s) for s in np.linspace(0.0298, 0.0302, 41)])
    inside = np.all(scan > 0, axis=0)
    second = np.abs(np.diff(scan[:, inside], 2, axis=0)).max()
    first = np.abs(np.diff(scan[:, inside], 1, axis=0)).max()
    assert second < 0.01 * first


def _si(settings: RefinementSettings, instrument: Instrument | None = None) -> Refiner:
    data = read_powder_data(SI.with_suffix(".xye"))
    phase = impurity_phase(*impurity_structure(str(SI.parent / "si_standard.start.cif")))
    if instrument is not None:
        settings = dataclasses.replace(settings, instrument=instrument)
    return Refiner(data.two_theta_deg, data.counts, data.sigma, [phase], settings)


def test_the_asymmetry_setting_chooses_the_parameters():
    axial = _si(RefinementSettings())
    assert "axial_deg" in axial.params and "S_L" not in axial.params and not axial.tied_h_l
    fcj = _si(RefinementSettings(asymmetry="fcj"))
    assert "axial_deg" not in fcj.params
    assert fcj.params["S_L"].refine and not fcj.params["H_L"].refine and fcj.tied_h_l  # H/L follows S/L
    for name in ("S_L", "H_L"):
        spec = KIND_SPECS[ParameterKind(name)]
        assert (fcj.params[name].lower, fcj.params[name].upper, fcj.params[name].step) == (spec.lower, spec.upper, spec.step)
        assert fcj.params[name].value == spec.start
    untied = _si(RefinementSettings(asymmetry="fcj", refine=("zero_shift_deg", "a:", "S_L", "H_L")))
    assert untied.params["H_L"].refine and not untied.tied_h_l
    # the profiles see H/L = S/L when tied, their own values when not
    values = {k: p.value for k, p in fcj.params.items()} | {"S_L": 0.03, "H_L": 0.01}
    assert fcj.aberration(values) == AxialAberration.fcj(0.03, 0.03)
    assert untied.aberration(values) == AxialAberration.fcj(0.03, 0.01)
    with pytest.raises(ParameterError) as caught:
        RefinementSettings(asymmetry="fundamental")
    assert caught.value.parameter == "asymmetry"


def test_an_instrument_of_the_axial_model_is_held_as_fcj():
    """A calibration holds A; with FCJ it is held as S/L = H/L = A/2 (rad): the same triangle of axial angles."""
    instrument = Instrument(values={"zero_shift_deg": 0.02, "U": 0.001, "V": -0.001, "W": 0.002, "X": 0.01, "Y": 0.01,
                                    "axial_deg": 2.0}, esds={}, wavelength="CuKa12")
    refiner = _si(RefinementSettings(asymmetry="fcj"), instrument)
    for name in ("S_L", "H_L"):
        assert refiner.params[name].value == pytest.approx(math.radians(2.0) / 2) and not refiner.params[name].refine
    assert any("S/L = H/L = A/2" in note for note in refiner.notes)


def test_fcj_refines_the_si_standard():
    """The synthetic Si standard (xrayutilities' full axial model, 2.5 deg Sollers) with FCJ: a within 2e-4 A of
    the truth with the zero refined (as with the axial model, +0.00009 A), H/L reported as S/L's (tied), the
    settings record says so."""
    result = _si(RefinementSettings(asymmetry="fcj")).run()
    assert result.gof < 1.2
    assert result.phases[0]["a_angstrom"] == pytest.approx(SI_A, abs=2e-4)
    s_l, h_l = result.parameters["S_L"], result.parameters["H_L"]
    assert 0.005 < s_l.value < 0.04 and s_l.esd
    assert (h_l.value, h_l.esd, h_l.refine, h_l.note) == (s_l.value, s_l.esd, False, "tied to S_L")
    assert result.settings["asymmetry"] == "fcj (S_L, H_L tied: H/L = S/L)"


def test_blending_bin_levels_keeps_derivatives():
    """Across a blend of two bin levels (r = 24-36 at 15 deg: 16 and 32 bins, S/L = 0.041-0.0495) the profile stays
    within 1e-3 of the converged one and its finite-difference derivative in S/L (step 1e-6, the solver's) agrees
    with a central difference (step 1e-4) to 2e-3 of the largest (6e-4 measured), at the window's fixed points."""
    centre = np.array([15.0])
    x = np.arange(12.5, 15.5, 0.004)

    def pattern(s_l: float, bins: int | None = None) -> np.ndarray:
        profiles = line_profiles(x, centre, np.array([0.03]), np.array([0.5]), AxialAberration.fcj(s_l, s_l), bins=bins)
        return profiles.pattern(np.ones(1))

    for s_l in (0.041, 0.044, 0.047, 0.0495):
        converged = pattern(s_l, 200)
        assert np.abs(pattern(s_l) - converged).max() <= 1e-3 * converged.max()
        around = [pattern(s_l + d) for d in (-1e-4, 0.0, 1e-6, 1e-4)]
        inside = np.all(np.array(around) > 0, axis=0)
        central = (around[3] - around[0])[inside] / 2e-4
        forward = (around[2] - around[1])[inside] / 1e-6
        assert np.abs(forward - central).max() <= 2e-3 * np.abs(central).max()
