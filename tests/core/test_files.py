"""Reading and writing files: atomic outputs, ordinary permissions."""

from __future__ import annotations

import os

import pytest

HEAVY = ("pymatgen", "numpy", "pandas", "scipy", "matplotlib", "gemmi", "spglib", "ase", "xraydb", "impedance")


def test_interrupted_writes_leave_nothing(tmp_path, monkeypatch):
    from argyrodb.core import files as outputs
    from argyrodb.core.files import save_figure as _save

    target = tmp_path / "peaks.csv"
    target.write_text("old content\n")

    def fail(_fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.os, "fsync", fail)
    with pytest.raises(KeyboardInterrupt):
        outputs.atomic_write_text(target, "new content that must not appear half-written\n" * 1000)
    assert target.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["peaks.csv"]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        _save(fig, tmp_path / "plot.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["peaks.csv"]


def test_outputs_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        from argyrodb.core.files import atomic_write_text

        path = atomic_write_text(tmp_path / "a.csv", "x\n")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
