"""The locks in requirements/ agree with pyproject.toml (docs/installing.md).

Every install profile of `[tool.kassel.install-profiles]` has its lock; every requirement of
pyproject.toml (base dependencies, each extra of the profile, the build backend) is pinned there
with a version its specifier allows, and so are the packages its requested extras pull in
(`psycopg[binary]`, `uvicorn[standard]`); every pin carries a sha256 hash; the profiles agree on
versions. After a change of pyproject.toml, `./run lock` brings the locks back in line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROFILES: dict[str, list[str]] = PYPROJECT["tool"]["kassel"]["install-profiles"]
# The machines the locks are made for: Python 3.11 on Debian 12 (x86_64 and aarch64).
TARGETS = [
    {"python_version": "3.11", "python_full_version": "3.11.2", "sys_platform": "linux",
     "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython",
     "platform_python_implementation": "CPython", "platform_machine": machine}
    for machine in ("x86_64", "aarch64")
]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")


@dataclass(frozen=True)
class Pin:
    version: Version
    hashes: tuple[str, ...]
    line: int


def parse_lock(text: str) -> dict[NormalizedName, Pin]:
    """NAME==VERSION entries of a hashed requirements file (continuation lines joined)."""
    pins: dict[NormalizedName, Pin] = {}
    logical: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if logical and logical[-1][1].endswith("\\"):
            logical[-1] = (logical[-1][0], logical[-1][1][:-1] + " " + line.strip())
        elif line.strip():
            logical.append((number, line.strip()))
    for number, line in logical:
        if line.startswith("-"):  # options such as --only-binary :all:
            continue
        match = PIN.match(line)
        assert match, f"line {number}: not an exact NAME==VERSION pin: {line[:60]!r}"
        name = canonicalize_name(match["name"])
        assert name not in pins, f"line {number}: {name} is pinned twice"
        hashes = tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
        pins[name] = Pin(Version(match["version"]), hashes, number)
    return pins


def lock_path(profile: str) -> Path:
    return ROOT / "requirements" / f"{profile}.txt"


def load_lock(profile: str) -> dict[NormalizedName, Pin]:
    path = lock_path(profile)
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing: run ./run lock"
    return parse_lock(path.read_text())


def wanted(profile: str) -> list[tuple[str, Requirement]]:
    """(where, requirement) for what pyproject.toml asks of this profile's lock."""
    project = PYPROJECT["project"]
    reqs = [("dependencies", Requirement(r)) for r in project["dependencies"]]
    for extra in PROFILES[profile]:
        reqs += [(f"[{extra}]", Requirement(r)) for r in project["optional-dependencies"][extra]]
    reqs += [("build-system", Requirement(r)) for r in PYPROJECT["build-system"]["requires"]]
    return reqs


def applies(req: Requirement, extra: str = "") -> bool:
    return req.marker is None or any(req.marker.evaluate({**t, "extra": extra}) for t in TARGETS)


def mismatches(profile: str, pins: dict[NormalizedName, Pin]) -> list[str]:
    problems = []
    for where, req in wanted(profile):
        if not applies(req):
            continue
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req} ({where}) is not in the lock")
        elif not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{req} ({where}): the lock pins {pin.version}")
    return problems


def test_every_extra_is_in_the_dev_profile_and_every_profile_exists() -> None:
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    assert set(PROFILES["dev"]) == extras, "the dev profile (./run setup, CI) installs every extra"
    for profile, chosen in PROFILES.items():
        assert set(chosen) <= extras, f"profile {profile}: unknown extras {set(chosen) - extras}"
    locks = {p.stem for p in (ROOT / "requirements").glob("*.txt")}
    assert locks == set(PROFILES), "one requirements/<profile>.txt for each install profile"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_requirement_of_pyproject_is_pinned_within_its_specifier(profile: str) -> None:
    problems = mismatches(profile, load_lock(profile))
    assert not problems, f"requirements/{profile}.txt, run ./run lock:\n" + "\n".join(problems)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_pin_has_a_sha256_hash(profile: str) -> None:
    pins = load_lock(profile)
    assert pins
    unhashed = [name for name, pin in pins.items() if not pin.hashes]
    assert not unhashed, f"requirements/{profile}.txt: no --hash for {', '.join(unhashed)}"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_requested_extras_of_dependencies_are_pinned(profile: str) -> None:
    """`psycopg[binary]` needs psycopg-binary in the lock, `uvicorn[standard]` uvloop and more.

    Read from the installed package's metadata when it is the pinned version.
    """
    pins = load_lock(profile)
    missing = []
    for where, req in wanted(profile):
        pin = pins.get(canonicalize_name(req.name))
        if not req.extras or pin is None or not applies(req):
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        if Version(dist.version) != pin.version:
            continue
        for sub in map(Requirement, dist.requires or []):
            if sub.marker is None or "extra" not in str(sub.marker):
                continue
            if any(applies(sub, extra) for extra in req.extras) and \
                    canonicalize_name(sub.name) not in pins:
                missing.append(f"{sub.name} (for {req} in {where})")
    assert not missing, f"requirements/{profile}.txt, run ./run lock: lacks {', '.join(missing)}"


@pytest.mark.parametrize("profile", sorted(set(PROFILES) - {"dev"}))
def test_profiles_pin_the_versions_of_the_dev_profile(profile: str) -> None:
    dev, pins = load_lock("dev"), load_lock(profile)
    differ = {name: (str(pin.version), str(dev[name].version) if name in dev else None)
              for name, pin in pins.items() if name not in dev or dev[name].version != pin.version}
    assert not differ, f"requirements/{profile}.txt vs dev.txt, run ./run lock: {differ}"


def test_a_requirement_missing_from_the_lock_is_reported() -> None:
    pins = parse_lock(lock_path("dev").read_text())
    del pins[canonicalize_name("paho-mqtt")]
    pins[canonicalize_name("fastapi")] = Pin(Version("0.1"), ("0" * 64,), 0)
    problems = mismatches("dev", pins)
    assert any(p.startswith("paho-mqtt") and "not in the lock" in p for p in problems)
    assert any(p.startswith("fastapi") and "pins 0.1" in p for p in problems)


def test_the_parser_reads_hashes_markers_and_options() -> None:
    pins = parse_lock(
        "# comment\n--only-binary :all:\n\n"
        "PyYAML==6.0.4 \\\n    --hash=sha256:" + "a" * 64 + " \\\n    --hash=sha256:" + "b" * 64
        + "\n    # via kassel-edge (pyproject.toml)\n"
        "uvloop==0.23.0 ; sys_platform != 'win32' \\\n    --hash=sha256:" + "c" * 64 + "\n"
        "bare==1.0\n"
    )
    assert pins["pyyaml"].hashes == ("a" * 64, "b" * 64)
    assert pins["uvloop"].version == Version("0.23.0")
    assert pins["bare"].hashes == ()


def test_every_debian_package_names_its_tested_version_and_who_needs_it() -> None:
    lines = [line.split() for line in
             (ROOT / "scripts" / "system-packages.txt").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert all(len(cols) == 3 and cols[2] in {"demo", "test"} for cols in lines), lines
    demo = {cols[0] for cols in lines if cols[2] == "demo"}
    # the demo runs a private Mosquitto and nothing the tests need besides (no PostgreSQL,
    # no browser, no firewall)
    assert demo == {"python3", "python3-venv", "mosquitto"}
