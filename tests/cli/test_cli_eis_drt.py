"""`argyrodb eis drt` as a user runs it (issue 22, item 6): a text table with a header, two RC arcs in, two peaks out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from argyrodb_testing import run


def test_drt_finds_two_arcs_in_a_table(tmp_path):
    f = np.logspace(6, -2, 81)
    omega = 2 * np.pi * f
    z = 10 + 100 / (1 + 1j * omega * 1e-6) + 300 / (1 + 1j * omega * 1e-3)  # tau 1 us and 1 ms: 3 decades apart
    path = tmp_path / "two_rc.csv"
    path.write_text("frequency_Hz,z_real_ohm,z_imag_ohm\n" + "\n".join(f"{a:.10g},{b.real:.10g},{b.imag:.10g}" for a, b in zip(f, z)))
    png = tmp_path / "drt.png"
    result = run("eis", "drt", str(path), "--json", "--plot", str(png))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["n_arcs"] == 2 and not payload["capacitive_tail"] and payload["reliable"] is True
    arcs = sorted((p for p in payload["peaks"] if not p["at_edge"]), key=lambda p: p["tau_s"])
    # the areas are the resistances (5 %: the regularisation rounds the peaks; test_drt measures 0.2 %), the peak
    # positions the time constants (10 %: half of the 26 % grid step)
    assert [p["resistance_ohm"] for p in arcs] == pytest.approx([100.0, 300.0], rel=0.05)
    assert [p["tau_s"] for p in arcs] == pytest.approx([1e-6, 1e-3], rel=0.10)
    assert payload["r_inf_ohm"] == pytest.approx(10.0, rel=0.02)
    assert png.read_bytes()[:4] == b"\x89PNG"
    text = run("eis", "drt", str(path))
    assert "2 arc(s) proposed" in text.stdout and text.returncode == 0


def test_drt_of_random_numbers_is_unreliable(tmp_path):
    """Nonsense in: random Z' and Z'' (not an impedance spectrum) leave a 77 % residual; the DRT says it is
    unreliable (JSON and one line on stderr) instead of proposing arcs without a word."""
    rng = np.random.default_rng(1)
    f = np.logspace(6, -1, 50)
    path = tmp_path / "noise.csv"
    path.write_text("frequency_Hz,z_real_ohm,z_imag_ohm\n" + "\n".join(
        f"{a:.6g},{rng.uniform(1, 1000):.4f},{-rng.uniform(1, 1000):.4f}" for a in f))
    result = run("eis", "drt", str(path), "--json")
    payload = json.loads(result.stdout)
    assert payload["reliable"] is False and payload["residual_rms_percent"] > 10
    assert result.stderr.startswith("argyrodb: warning: noise: unreliable DRT: residual rms") and result.stderr.count("\n") == 1
