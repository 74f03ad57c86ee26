"""Which installed packages differ from requirements/dev.lock (make test-latest prints this before its run).

Usage: python checks/lock_drift.py [LOCK]  (run with the interpreter of the venv to compare)"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name


def locked_versions(lock: Path) -> dict[str, str]:
    """name -> version the lock pins for this interpreter (markers evaluated)."""
    pins: dict[str, str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line)
        if match and (not match.group(3) or Marker(match.group(3)).evaluate()):
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def main(lock: Path) -> int:
    pins = locked_versions(lock)
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    changed = sorted((name, pins[name], version) for name, version in installed.items() if name in pins and pins[name] != version)
    added = sorted(name for name in installed if name not in pins and name not in ("argyrodb", "pip"))
    for name, locked, version in changed:
        print(f"drift: {name} {version} (lock {locked})")
    for name in added:
        print(f"drift: {name} {installed[name]} (not in the lock)")
    print(f"{len(changed)} packages at other versions than {lock.name}, {len(added)} not in it")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "requirements" / "dev.lock"))
