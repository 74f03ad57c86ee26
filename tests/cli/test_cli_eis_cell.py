"""`argyrodb eis fit` without --circuit as a user runs it (issue 22, items 2-3): the circuit chosen, the resistances assigned, the
conductivity from the pellet's geometry - on the generated instrument-layout pellet (tests/data/eis_formats)."""

from __future__ import annotations

import json
import math

import pytest

from argyrodb_testing import DATA, run

PELLET = DATA / "eis_formats" / "pellet.z"
#: the generator's circuit (tests/data/eis_formats/make_files.py): R0 25 ohm, R1 180 ohm (arc at 64 kHz), spike
R0_OHM, R1_OHM = 25.0, 180.0


def test_cell_fit_reads_resistances_and_conductivity():
    result = run("eis", "fit", str(PELLET), "--thickness-mm", "1", "--diameter-mm", "10", "--json")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    payload = json.loads(result.stdout)
    assert payload["chosen"]["circuit"] == "R0-p(R1,CPE1)-CPE2" and payload["chosen"]["reliable"] is True
    # the 64 kHz arc's capacitance per cell constant (~1e-8 F/cm) is a grain boundary's, not a bulk's: R_bulk is the
    # high-frequency intercept, and the output says so. The file's values are rounded to ZPlot's digits: rtol 1e-3
    assert payload["bulk_method"] == "intercept"
    assert payload["bulk_resistance_ohm"]["value"] == pytest.approx(R0_OHM, rel=1e-3)
    assert payload["grain_boundary_resistance_ohm"]["value"] == pytest.approx(R1_OHM, rel=1e-3)
    assert payload["total_resistance_ohm"]["value"] == pytest.approx(R0_OHM + R1_OHM, rel=1e-3)
    assert payload["assignments"]["CPE2"]["label"] == "electrode"
    # sigma = t / (R A), t = 0.1 cm, A = pi (0.5 cm)^2, S/cm -> mS/cm
    area = math.pi * 0.5**2
    assert payload["sigma_bulk_mS_cm"]["value"] == pytest.approx(1e3 * 0.1 / (R0_OHM * area), rel=1e-3)
    assert payload["sigma_total_mS_cm"]["value"] == pytest.approx(1e3 * 0.1 / ((R0_OHM + R1_OHM) * area), rel=1e-3)
    assert payload["spectrum"]["reader"].startswith("impedance.preprocessing")


def test_cell_text_names_the_method_and_refuses_two_areas():
    text = run("eis", "fit", str(PELLET), "--thickness-mm", "1", "--area-cm2", "0.785398")
    assert text.returncode == 0
    assert "[intercept]" in text.stdout and "sigma_bulk      5.093" in text.stdout
    both = run("eis", "fit", str(PELLET), "--diameter-mm", "10", "--area-cm2", "0.785")
    assert both.returncode == 2 and both.stderr.strip() == "argyrodb: error: --area-cm2: give the area or the diameter, not both"
    negative = run("eis", "fit", str(PELLET), "--thickness-mm", "-1")
    assert negative.returncode == 2 and "--thickness-mm" in negative.stderr


def test_cell_options_belong_to_the_circuit_choice():
    for args, message in [
        (("--circuit", "fig-s9", "--thickness-mm", "1"), "--thickness-mm: the conductivity needs the bulk arc identified"),
        (("--initial", "1,2,3"), "--initial: starting values are for --circuit"),
        (("--weighting", "unit"), "--weighting: the circuit choice weights by |Z|"),
    ]:
        result = run("eis", "fit", str(PELLET), *args)
        assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, (args, result.stderr)
