"""The browser libraries committed in ``central_hub/static/vendor/`` are exactly what
``package-lock.json`` locks.

``./run setup`` installs the lock with ``npm ci`` (which checks each tarball against the lock's
sha512 integrity hash), so the chain is: lock -> verified tarball -> ``node_modules`` -> these
copies, compared by sha256 file by file. ``./run vendor`` refreshes the copies.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
VENDOR = ROOT / "central_hub/static/vendor"
MODULES = ROOT / "node_modules"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lock() -> dict[str, dict[str, str]]:
    lock = json.loads((ROOT / "package-lock.json").read_text("utf-8"))
    packages: dict[str, dict[str, str]] = lock["packages"]
    return packages


def _vendored() -> list[Path]:
    return sorted(p for p in VENDOR.rglob("*") if p.is_file())


def test_every_vendored_package_is_a_locked_dependency_with_its_licence() -> None:
    lock = _lock()
    declared = json.loads((ROOT / "package.json").read_text("utf-8"))["dependencies"]
    packages = sorted(p.name for p in VENDOR.iterdir() if p.is_dir())
    assert packages == sorted(declared)
    for name in packages:
        entry = lock[f"node_modules/{name}"]
        assert entry["integrity"].startswith("sha512-")
        meta = json.loads((VENDOR / name / "package.json").read_text("utf-8"))
        assert meta["version"] == entry["version"] == declared[name]
        assert (VENDOR / name / "LICENSE").stat().st_size > 100


def test_vendored_files_match_what_npm_installed_from_the_lock() -> None:
    if not (MODULES / ".package-lock.json").exists():
        pytest.fail("node_modules is missing: ./run setup installs it from package-lock.json")
    installed = json.loads((MODULES / ".package-lock.json").read_text("utf-8"))["packages"]
    for key, entry in _lock().items():
        if key.startswith("node_modules/"):
            # npm records the integrity of the tarball it verified and unpacked
            assert installed[key]["integrity"] == entry["integrity"], key
    files = _vendored()
    # what dashboard.html loads (a clone without them would serve a page without a map)
    assert {"leaflet/dist/leaflet.js", "leaflet/dist/leaflet.css"} <= {
        str(p.relative_to(VENDOR)) for p in files}
    for path in files:
        rel = path.relative_to(VENDOR)
        assert _sha256(path) == _sha256(MODULES / rel), f"{rel} differs: run ./run vendor"
