"""``kassel config validate`` and ``kassel config schema``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_agent.cli import EXIT_OK, EXIT_USAGE
from edge_agent.contract.configs import config_schemas, load_config
from edge_agent.errors import ConfigError

#: semantic checks beyond the models, per config kind: ``module:function`` taking the config
#: and returning ``[(field, problem), ...]``. They live with the domain that knows the rules.
SEMANTIC_CHECKS: dict[str, str] = {
    "intersection": "signal_controller.domain.plan_check:check_intersection",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``config`` command group."""
    parser = sub.add_parser("config", help="validate config files, print their JSON Schema")
    cmds = parser.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    validate = cmds.add_parser("validate", help="check config files (exit 2 if any is invalid)")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    validate.set_defaults(handler=_validate)
    schema = cmds.add_parser("schema", help="print the JSON Schema of every config kind")
    schema.add_argument("kind", nargs="?", choices=["bus", "intersection", "hub"],
                        help="only this kind (none: all three)")
    schema.set_defaults(handler=_schema)


def _semantic_check(kind: str) -> Callable[[Any], list[tuple[str, str]]] | None:
    target = SEMANTIC_CHECKS.get(kind)
    if target is None:
        return None
    module, func = target.split(":")
    check: Callable[[Any], list[tuple[str, str]]] = getattr(importlib.import_module(module), func)
    return check


def validate_file(path: Path) -> None:
    """Validate one file with its model and its kind's semantic check; raise ConfigError."""
    config = load_config(path)
    check = _semantic_check(config.kind)
    problems = check(config) if check else []
    if problems:
        raise ConfigError(str(path), problems)


def _expand(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.suffix in {".yaml", ".yml"}))
        else:
            files.append(p)
    return files


def _validate(args: argparse.Namespace) -> int:
    files = _expand(args.paths)
    if not files:
        print("kassel config validate: no YAML files found", file=sys.stderr)
        return EXIT_USAGE
    failed = 0
    for path in files:
        try:
            validate_file(path)
        except ConfigError as exc:
            failed += 1
            print(exc, file=sys.stderr)
        else:
            print(f"{path}: ok")
    return EXIT_USAGE if failed else EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    schemas = config_schemas()
    out = schemas[args.kind] if args.kind else schemas
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return EXIT_OK
