"""`refine --radiation neutron` (issue 25 item 2): neutrons separate S (2.847 fm) from Cl (9.577 fm), so a neutron
refinement recovers the 4a/4d Cl split that an X-ray refinement of the same sample, at the same counts, leaves
undetermined (one electron between S and Cl).

The synthetic patterns are argyrodb's own forward model (Li6PS5Cl with Cl 0.4 on 4a and 0.6 on 4d, pseudo-Voigt
lines, flat background, Poisson noise, a fixed seed): what is tested is the information the two radiations carry
and that the radiation reaches the refinement's structure factors, not the profile model (xrayutilities, the
independent generator of tests/data/refine, has no neutron mode)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from argyrodb import api
from argyrodb_testing import run, structure

TRUE_CL_4A = 0.4


def li6ps5cl(cl_4a: float, cl_4d: float) -> str:
    """Li6PS5Cl.yaml with these Cl occupancies on 4a and 4d (S fills each site)."""
    text = structure("Li6PS5Cl").read_text(encoding="utf-8")
    for label, element, site, value in (("S2", "S", "4a", 1 - cl_4a), ("Cl1", "Cl", "4a", cl_4a),
                                        ("S3", "S", "4d", 1 - cl_4d), ("Cl2", "Cl", "4d", cl_4d)):
        text, n = re.subn(rf"(\[{label}, {element}, {site}, [-0-9.]+, [-0-9.]+, [-0-9.]+, )[0-9.]+",
                          rf"\g<1>{value:.3f}", text)
        assert n == 1
    return text


def synthetic(path: Path, truth, radiation: str, wavelength, caglioti, seed: int) -> Path:
    conditions = api.PatternConditions(wavelength=wavelength, radiation=radiation, two_theta_range=(10.0, 130.0),
                                       caglioti_uvw=caglioti)
    x = np.arange(10.0, 130.0001, 0.05)
    _, y = truth.pattern(conditions).profile(x)
    counts = np.random.default_rng(seed).poisson(2e4 * y / y.max() + 300.0)
    path.write_text("".join(f"{a:.3f} {c:d} {np.sqrt(max(c, 1)):.4f}\n" for a, c in zip(x, counts)), encoding="utf-8")
    return path


def cl_split(result) -> tuple[float, float, list[str]]:
    """Cl on 4a, its esd, and the 4a site's undetermined scatterers."""
    site = next(s for s in result.phases[0]["sites"] if s["wyckoff"] == "4a")
    return site["occupancies"]["Cl"], site["occupancy_esds"]["Cl"], site["undetermined"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("neutron_refine")
    (folder / "truth.yaml").write_text(li6ps5cl(TRUE_CL_4A, 1 - TRUE_CL_4A), encoding="utf-8")
    (folder / "start.yaml").write_text(li6ps5cl(0.5, 0.5), encoding="utf-8")  # halides even: no hint of the truth
    truth = api.analyse(folder / "truth.yaml")
    # a high-resolution neutron diffractometer's widths (FWHM ~0.25-0.5 deg) and a laboratory Cu K-alpha1 one's
    neutron = synthetic(folder / "neutron.xye", truth, "neutron", 1.594, (0.03, -0.06, 0.05), seed=25)
    xray = synthetic(folder / "xray.xye", truth, "xray", "CuKa1", (0.004, -0.002, 0.0025), seed=26)
    return folder, neutron, xray


def test_neutron_refinement_recovers_the_s_cl_split_xrays_cannot(files):
    folder, neutron, xray = files
    n_result, refined, _ = api.refine(neutron, folder / "start.yaml", radiation="neutron", wavelength=1.594)
    cl, esd, undetermined = cl_split(n_result)
    # measured: 0.399 +- 0.002 (truth 0.4), GoF 1.0
    assert n_result.reliable and n_result.gof < 1.2
    assert cl == pytest.approx(TRUE_CL_4A, abs=0.01) and esd < 0.005
    assert undetermined == [] and not any("one electron" in w for w in n_result.warnings)
    assert n_result.settings["radiation"] == "neutron"
    assert refined is not None and n_result.phases[0]["a_angstrom"] == pytest.approx(9.84988, abs=2e-4)

    x_result, _, _ = api.refine(xray, folder / "start.yaml", wavelength="CuKa1")
    _, x_esd, x_undetermined = cl_split(x_result)
    # measured: 0.31 +- 0.05 - the same counts carry ~25x less information on the split, and the refinement says so
    assert x_undetermined == ["Cl", "S"] and any("one electron" in w for w in x_result.warnings)
    assert x_esd > 10 * esd
    assert x_result.settings["radiation"] == "xray"


def test_refine_refuses_neutrons_without_a_wavelength(files, tmp_path):
    folder, neutron, _ = files
    for args, message in [([], "--wavelength: neutron data need the wavelength in angstrom"),
                          (["--wavelength", "CuKa12"], "--wavelength: CuKa12 is an X-ray emission line"),
                          (["--wavelength", "1.594", "--monochromator-2theta", "26.57"],
                           "--monochromator-2theta: neutrons are not polarised")]:
        out = tmp_path / "refined.yaml"
        result = run("refine", str(neutron), "--start", str(folder / "start.yaml"), "--radiation", "neutron", *args,
                     "--out", str(out))
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert not out.exists()
