"""Write ``empyrean_layout.xrdml``: an XRDML 1.5 scan in the layout PANalytical Data Collector writes for an Empyrean
(the elements argyrodb's reader uses: ``usedWavelength``, ``incidentBeamPath`` with ``radius`` and the tube's
``anodeMaterial``, one ``scan`` of ``scanAxis="2Theta"`` with ``startPosition``/``endPosition``,
``commonCountingTime`` and ``intensities`` in counts), holding numbers made here: one Gaussian line on a flat
background with seeded Poisson noise, 196 points 30.05-41.75 deg at 0.44 s a step. Written by this script, not
copied from anyone's file (a real Empyrean export was used before; real files are checked outside the repository,
``make check-xrd-real``).

    .venv/bin/python tests/data/patterns/make_files.py          # rewrite
    .venv/bin/python tests/data/patterns/make_files.py --check  # exit 1 if the stored file differs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
NAME = "empyrean_layout.xrdml"
START_DEG, END_DEG, N_POINTS, COUNTING_TIME_S = 30.05, 41.75, 196, 0.44
SEED = 640


def counts() -> np.ndarray:
    """Whole counts: 8 on a flat background and a line of 14 at 35.9 deg (FWHM 0.3 deg), Poisson-drawn."""
    x = np.linspace(START_DEG, END_DEG, N_POINTS)
    expected = 8.0 + 14.0 * np.exp(-0.5 * ((x - 35.9) / (0.3 / 2.3548)) ** 2)
    return np.random.default_rng(SEED).poisson(expected)


def xrdml_text() -> str:
    values = " ".join(str(int(c)) for c in counts())
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/1.5" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" status="Completed">
  <comment>
    <entry>Written by argyrodb's tests/data/patterns/make_files.py in the layout of an Empyrean export</entry>
  </comment>
  <sample type="To be analyzed">
    <id>synthetic</id>
  </sample>
  <xrdMeasurement measurementType="Scan" status="Completed" sampleMode="Reflection">
    <usedWavelength intended="K-Alpha 1">
      <kAlpha1 unit="Angstrom">1.5405980</kAlpha1>
      <kAlpha2 unit="Angstrom">1.5444260</kAlpha2>
      <kBeta unit="Angstrom">1.3922500</kBeta>
      <ratioKAlpha2KAlpha1>0.5000</ratioKAlpha2KAlpha1>
    </usedWavelength>
    <incidentBeamPath>
      <radius unit="mm">240.00</radius>
      <xRayTube name="Cu LFF">
        <tension unit="kV">45</tension>
        <current unit="mA">40</current>
        <anodeMaterial>Cu</anodeMaterial>
      </xRayTube>
    </incidentBeamPath>
    <diffractedBeamPath>
      <radius unit="mm">240.00</radius>
    </diffractedBeamPath>
    <scan appendNumber="0" mode="Continuous" scanAxis="2Theta" status="Completed">
      <dataPoints>
        <positions axis="2Theta" unit="deg">
          <startPosition>{START_DEG:.4f}</startPosition>
          <endPosition>{END_DEG:.4f}</endPosition>
        </positions>
        <positions axis="Omega" unit="deg">
          <commonPosition>4.0000</commonPosition>
        </positions>
        <commonCountingTime unit="seconds">{COUNTING_TIME_S:.3f}</commonCountingTime>
        <intensities unit="counts">{values}</intensities>
      </dataPoints>
    </scan>
  </xrdMeasurement>
</xrdMeasurements>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    path = HERE / NAME
    if args.check:
        same = path.read_text(encoding="utf-8") == xrdml_text()
        print(f"{NAME}: {'same' if same else 'DIFFERS'}")
        return 0 if same else 1
    path.write_text(xrdml_text(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
