"""Where the project's data folders live. Every path the code uses is resolved here."""

from __future__ import annotations

import os
from pathlib import Path

#: Root of the project checkout (argyrodb is installed editable from it). ``ARGYRODB_ROOT`` overrides.
PROJECT_ROOT = Path(os.environ.get("ARGYRODB_ROOT", Path(__file__).resolve().parent.parent))
STRUCTURES_DIR = PROJECT_ROOT / "structures"
CIFS_DIR = PROJECT_ROOT / "cifs"
DB_DIR = PROJECT_ROOT / "db"
PACKAGE_DATA_DIR = Path(__file__).resolve().parent / "data"


def structure_files() -> list[Path]:
    """Every refinement file shipped in ``structures/``, sorted by name."""
    return sorted(p for p in STRUCTURES_DIR.glob("*.yaml") if p.is_file())
