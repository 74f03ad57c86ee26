"""Data the library needs at run time, found with :mod:`importlib.resources`.

The wheel carries three data folders inside the package:

* ``argyrodb/data/`` - small tables of the library itself (oxidation states, wavelengths);
* ``argyrodb/data/structures/`` - the refinement files and the lattice-parameter table, built from the
  repository's top-level ``structures/`` folder (the one human-edited copy; ``pyproject.toml`` maps it);
* ``argyrodb/data/literature/`` - the source data of the database, built from the top-level ``db/``.

In a source checkout that is imported without being installed (or installed in editable mode), the
mapped folders do not exist inside the package; then the top-level folders of the checkout are used.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path

#: Folder name inside ``argyrodb/data`` -> folder name at the repository root.
_MAPPED = {"structures": "structures", "literature": "db"}


def _package_data() -> Path:
    return Path(str(resources.files("argyrodb") / "data"))


@cache
def data_folder(name: str = "") -> Path:
    """The folder ``argyrodb/data/<name>`` (``name`` empty: ``argyrodb/data`` itself)."""
    packaged = _package_data() / name if name else _package_data()
    if packaged.is_dir():
        return packaged
    if name in _MAPPED:
        checkout = _package_data().parent.parent / _MAPPED[name]
        if checkout.is_dir() and (checkout.parent / "pyproject.toml").is_file():
            return checkout
    raise FileNotFoundError(f"argyrodb data folder {name!r} is missing from this installation")


def data_file(name: str) -> Path:
    """A file of ``argyrodb/data`` (e.g. ``wavelengths.yaml``)."""
    return data_folder() / name


def structures_folder() -> Path:
    """The packaged refinement files (``structures/`` of the repository)."""
    return data_folder("structures")


def literature_folder() -> Path:
    """The packaged source data of the database (``db/`` of the repository)."""
    return data_folder("literature")


def structure_files() -> list[Path]:
    """Every packaged refinement file, sorted by name."""
    return sorted(p for p in structures_folder().glob("*.yaml") if p.is_file())


def structure_file(name: str) -> Path:
    """The packaged refinement file ``<name>.yaml`` (e.g. ``Li6PS5Cl``)."""
    return structures_folder() / f"{name}.yaml"


def default_database_path() -> Path:
    """Where the database lives unless a path is given: ``$ARGYRODB_DB``, else
    ``$XDG_DATA_HOME/argyrodb/argyrodb.sqlite`` (``~/.local/share/argyrodb/argyrodb.sqlite``)."""
    explicit = os.environ.get("ARGYRODB_DB")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "argyrodb" / "argyrodb.sqlite"


def phase_files() -> dict[str, Path]:
    """The bundled reference structures of common second phases (``argyrodb/data/phases/*.cif``) by name."""
    try:
        folder = data_folder("phases")
    except FileNotFoundError:
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.cif"))}


def phase_names() -> list[str]:
    return list(phase_files())


def bundled_phase_file(name: str) -> Path | None:
    """The bundled CIF of phase ``name`` (case-insensitive: ``licl`` finds ``LiCl``), or None."""
    for stem, path in phase_files().items():
        if stem.lower() == str(name).lower():
            return path
    return None
