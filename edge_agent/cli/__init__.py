"""The ``kassel`` command line (CONTRACT §7).

Each package contributes its subcommands through a ``cli`` module with a
``register(subparsers)`` function; this module only assembles them, so a Pi that runs a
controller never imports the hub's web stack. Exit codes: 0 success, 2 bad usage or invalid
input (the message on stderr names the file and field), 1 a runtime failure.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: modules whose ``register(subparsers)`` adds subcommands, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "simulations.demo.cli",
    "simulations.cli",
    "central_hub.cli",
    "central_hub.kita.cli",
    "bus_gateway.cli",
    "signal_controller.cli",
    "edge_agent.cli.config",
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every package's subcommands."""
    parser = argparse.ArgumentParser(
        prog="kassel", description="Kassel edge platform: buses, talking traffic lights, hub."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue  # that package is not installed on this device
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kassel`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
