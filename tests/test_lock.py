"""The locked development environment (requirements/dev.lock) covers what pyproject.toml asks for, pins
every package to one version with hashes, and is what this test run has installed."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from argyrodb_testing import REPO

LOCK = REPO / "requirements" / "dev.lock"
#: the extras the developers' lock resolves (Makefile: make lock)
LOCKED_EXTRAS = ("test", "bench", "serve", "optimade", "dask")


def _pins() -> dict[str, list[tuple[Version, str, int]]]:
    """name -> [(version, marker text, number of hashes)] from the lock (uv's pip-compile format)."""
    pins: dict[str, list[tuple[Version, str, int]]] = {}
    current = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line)
        if match:
            name = canonicalize_name(match.group(1).split("[")[0])
            current = [Version(match.group(2)), (match.group(3) or "").strip(), 0]
            pins.setdefault(name, []).append(current)
        elif current is not None and line.strip().startswith("--hash=sha256:"):
            current[2] += 1
    return {name: [tuple(p) for p in entries] for name, entries in pins.items()}


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(text) for text in project["dependencies"]]
    for extra in LOCKED_EXTRAS:
        wanted += [Requirement(text) for text in project["optional-dependencies"][extra]]
    return wanted


def _pin_here(entries) -> Version | None:
    """The version the lock pins for this interpreter (entries may differ by python_full_version marker)."""
    from packaging.markers import Marker

    env = default_environment()
    for version, marker, _ in entries:
        if not marker or Marker(marker).evaluate(env):
            return version
    return None


def test_every_requirement_of_pyproject_is_pinned_in_range_with_hashes():
    pins = _pins()
    assert len(pins) > 50
    for name, entries in pins.items():
        for version, _marker, hashes in entries:
            assert hashes >= 1, f"{name}=={version} has no hash: run `make lock`"
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in {LOCK.name}: run `make lock`"
        version = _pin_here(pins[name])
        assert version is not None and requirement.specifier.contains(version, prereleases=True), \
            f"{LOCK.name} pins {name}=={version}, outside pyproject's {requirement}: run `make lock`"


@pytest.mark.skipif(os.environ.get("ARGYRODB_UNLOCKED") == "1", reason="make test-latest runs on unlocked versions")
def test_this_environment_is_the_lock():
    """make test installs the lock; a package at another version means a stale or hand-changed .venv."""
    mismatched = []
    for name, entries in _pins().items():
        wanted = _pin_here(entries)
        if wanted is None:
            continue
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            mismatched.append(f"{name} missing (lock {wanted})")
            continue
        if installed != wanted:
            mismatched.append(f"{name} {installed} (lock {wanted})")
    assert not mismatched, "not the locked environment (rm -rf .venv; make test): " + ", ".join(mismatched)
