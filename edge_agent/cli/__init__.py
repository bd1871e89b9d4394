"""The ``kassel`` command line (docs/interfaces.md: Command line).

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
from typing import Any, NoReturn

#: modules whose ``register(subparsers)`` adds subcommands, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "simulations.demo.cli",
    "simulations.cli",
    "central_hub.cli",
    "central_hub.kita.cli",
    "central_hub.learning.cli",
    "central_hub.opendata.cli",
    "central_hub.mobility.cli",
    "bus_gateway.cli",
    "signal_controller.cli",
    "edge_agent.cli.config",
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends ``(default: X)`` where there is a default worth saying (not None or False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class KasselParser(argparse.ArgumentParser):
    """argparse with the project's manners: every option's help shows its default, and a bad
    value is one line on stderr (naming the option and what is allowed) with exit code 2,
    not the usage block. Subcommands inherit the class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and exit 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every package's subcommands."""
    parser = KasselParser(
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
