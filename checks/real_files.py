"""What the real-file checks (checks/eis_real.py, checks/xrd_real.py) share: the SHA-256 list of a files page
(lines ``<64 hex>  <relative path>``) and the check that a folder holds exactly those bytes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path


def expected_sums(files_md: Path) -> dict[str, str]:
    """Relative path -> SHA-256 from the page's ``<digest>  <path>`` lines."""
    sums = re.findall(r"^([0-9a-f]{64})  (.+)$", files_md.read_text(encoding="utf-8"), flags=re.M)
    return {path.strip(): digest for digest, path in sums}


def check_bytes(folder: Path, files_md: Path) -> list[str]:
    """One problem per listed file that is missing from ``folder`` or whose bytes differ."""
    problems = []
    for path, digest in expected_sums(files_md).items():
        file = folder / path
        if not file.is_file():
            problems.append(f"{file}: missing")
        elif hashlib.sha256(file.read_bytes()).hexdigest() != digest:
            problems.append(f"{file}: SHA-256 differs from {files_md.name}'s")
    return problems
