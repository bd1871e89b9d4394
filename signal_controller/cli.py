"""``kassel signal --config PATH [--broker URL]``: run one intersection's controller.

Why a module of its own: ``edge_agent.cli`` imports every package's ``cli`` to build the
parser, so this module imports nothing heavy at import time; the controller and the agent are
imported when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from edge_agent.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from edge_agent.cli.common import add_device_arguments, load_device_config
from edge_agent.contract.configs import IntersectionConfig
from edge_agent.errors import ConfigError, KasselError
from edge_agent.heap import freeze_start_up_heap


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``signal`` command."""
    parser = sub.add_parser("signal", help="run a traffic-signal controller (SPaT, MAP, priority)")
    add_device_arguments(parser)
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from signal_controller.domain.plan_check import check_intersection  # noqa: PLC0415 - lazy

    try:
        config, url = load_device_config(args, IntersectionConfig)
        problems = check_intersection(config)
        if problems:
            raise ConfigError(args.config, problems)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_serve(config, url))
    except KasselError as exc:
        print(f"kassel signal: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


async def _serve(config: IntersectionConfig, url: str) -> None:
    from signal_controller.wiring import build_controller  # noqa: PLC0415 - keep the parser light

    controller = build_controller(config, broker_url=url)
    controller.agent.install_signal_handlers()
    # Start-up objects (imports, config, models) are never freed: keep them out of the
    # collector's full scans, which otherwise pause the 10 Hz loop for tens of ms.
    freeze_start_up_heap()
    await controller.run()
