"""Ordered approximants: file names stay inside the output folder."""

from __future__ import annotations

HEAVY = ("pymatgen", "numpy", "pandas", "scipy", "matplotlib", "gemmi", "spglib", "ase", "xraydb", "impedance")


def test_names_from_data_never_leave_the_output_folder(tmp_path):
    from argyrodb.screening.approximants import generate, write
    from argyrodb.screening.screener import Screener, ScreenSettings

    screener = Screener(ScreenSettings("x", formulas=["Li6PS5Cl"]))
    found = generate(screener, 0, n_structures=1, candidates=2)
    out = tmp_path / "a" / "b"
    paths = write(found, out, "../../../escape", ["cif"])
    assert all(p.resolve().parent == out.resolve() for p in paths)
    assert not list(tmp_path.glob("escape*"))
