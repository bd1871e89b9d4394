"""Which package may import which (docs/architecture.md), checked on the source.

Every module of every top-level package is parsed (not imported) and each of its imports,
relative ones resolved, is held against two rules:

* the package layers: ``edge_agent`` imports none of the others; ``bus_gateway``,
  ``signal_controller`` and ``central_hub`` only ``edge_agent``; ``simulations`` any product
  package; ``testbed`` (shared by the tests and ``bench/``) any of them; no package imports
  ``tests`` or ``bench``;
* pure code (every ``domain`` package and ``edge_agent.contract``) imports from the project
  only pure code, the exception modules (``errors``) and ``edge_agent`` itself (its
  version): never an adapter. Ruff already refuses I/O libraries there; this rule refuses the
  project's own adapters, which ruff cannot tell from pure modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: package -> the other top-level packages it may import
ALLOWED: dict[str, frozenset[str]] = {
    "edge_agent": frozenset(),
    "bus_gateway": frozenset({"edge_agent"}),
    "signal_controller": frozenset({"edge_agent"}),
    "central_hub": frozenset({"edge_agent"}),
    "simulations": frozenset({"edge_agent", "bus_gateway", "signal_controller",
                              "central_hub"}),
    "testbed": frozenset({"edge_agent", "bus_gateway", "signal_controller", "central_hub",
                          "simulations"}),
}
#: top-level names of the repository that are not in ALLOWED: nothing above may import them
OUTSIDE = frozenset({"tests", "bench"})
PROJECT = frozenset(ALLOWED) | OUTSIDE


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        yield _module_name(path), path


def _imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """``(line, imported module)`` for every import of the project, relative ones resolved;
    ``from a import b`` yields ``a.b`` (``b`` may be a module or a name in ``a``)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                drop = node.level - 1 if is_package else node.level
                base = base[:len(base) - drop] if drop else base
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                yield node.lineno, f"{prefix}.{alias.name}"


def _is_pure(module: str) -> bool:
    parts = module.split(".")
    return "domain" in parts or parts[:2] == ["edge_agent", "contract"]


def _pure_may_import(target: str) -> bool:
    parts = target.split(".")
    return (_is_pure(target) or "errors" in parts
            or parts == ["edge_agent", "__version__"])


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_packages_below_it(package: str) -> None:
    allowed = ALLOWED[package] | {package}
    wrong = []
    modules = 0
    for module, path in _modules(package):
        modules += 1
        for line, target in _imports(module, path):
            top = target.split(".")[0]
            if top in PROJECT and top not in allowed:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert modules > 0, f"no modules found in {package}/"
    assert wrong == [], f"{package} may import only {sorted(allowed)}:\n" + "\n".join(wrong)


def test_pure_code_imports_no_adapter() -> None:
    wrong = []
    pure_modules = 0
    for package in ALLOWED:
        for module, path in _modules(package):
            if not _is_pure(module):
                continue
            pure_modules += 1
            for line, target in _imports(module, path):
                if target.split(".")[0] in PROJECT and not _pure_may_import(target):
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert pure_modules > 50  # every domain package and the contract were found
    assert wrong == [], "pure code imports an adapter:\n" + "\n".join(wrong)


def test_relative_imports_are_resolved_and_an_adapter_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("from ..app import BusGateway\nfrom . import stops\nimport asyncio\n")
    targets = [t for _, t in _imports("bus_gateway.domain.x", source)]
    assert targets == ["bus_gateway.app.BusGateway", "bus_gateway.domain.stops", "asyncio"]
    assert not _pure_may_import("bus_gateway.app.BusGateway")
    assert _pure_may_import("bus_gateway.domain.stops")
    assert _pure_may_import("edge_agent.contract.payloads.Spat")
    assert _pure_may_import("central_hub.kita.errors.DecisionError")


#: the files of every hub service (docs/architecture.md, "Hub services: one shape")
SERVICE_SHAPE = ("domain/__init__.py", "model.py", "service.py", "tables.py", "store.py",
                 "bodies.py", "api.py", "cli.py", "settings.py", "errors.py", "mount.py")
#: what the rest of the hub may import of a service
SERVICE_ENTRIES = frozenset({"mount", "settings"})


def _service_names() -> list[str]:
    from central_hub.app import SERVICES  # noqa: PLC0415 - imported by the test, not at collection

    return [service.name for service in SERVICES]


def test_every_hub_service_has_the_one_shape() -> None:
    names = _service_names()
    assert names, "the hub mounts no service"
    for name in names:
        package = ROOT / "central_hub" / name
        missing = [f for f in SERVICE_SHAPE if not (package / f).is_file()]
        assert missing == [], f"central_hub/{name} lacks {missing}"


def test_the_hub_reaches_a_service_only_through_its_mount_and_settings() -> None:
    services = set(_service_names())
    wrong = []
    for module, path in _modules("central_hub"):
        own = module.split(".")[1] if module.count(".") >= 1 else ""
        for line, target in _imports(module, path):
            parts = target.split(".")
            if (len(parts) >= 3 and parts[0] == "central_hub" and parts[1] in services
                    and parts[1] != own and parts[2] not in SERVICE_ENTRIES):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == [], "the hub imports a service's inside:\n" + "\n".join(wrong)
