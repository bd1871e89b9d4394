"""``kassel bus --config PATH [--broker URL]``: run the router of one bus.

Why a thin module: argument parsing and exit codes only; everything else is
:class:`bus_gateway.app.BusGateway`, built by :func:`bus_gateway.wiring.build_gateway`.
Importing this module imports nothing heavy, so ``kassel --help`` stays fast on a Pi.
"""

# ruff: noqa: PLC0415  (the gateway's stack is imported only when the command runs)
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from edge_agent.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from edge_agent.cli.common import add_device_arguments, load_device_config
from edge_agent.contract.configs import BusConfig
from edge_agent.errors import ConfigError, KasselError
from edge_agent.heap import freeze_start_up_heap


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bus`` command."""
    parser = sub.add_parser("bus", help="run the bus gateway (WLAN, occupancy, GPS, priority)")
    add_device_arguments(parser)
    parser.add_argument(
        "--stops", metavar="CSV", default=None,
        help="stops of the route (default: <config dir>/routes/<route_id>.csv if present)",
    )
    parser.add_argument(
        "--replay-speed", type=float, default=None, metavar="X",
        help="replay an NMEA file X times faster, in the recording's time",
    )
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log detail")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from bus_gateway.clock import Clock, ScaledClock, WallClock
    from bus_gateway.gps import first_fix_time, parse_gps_source
    from bus_gateway.stops_file import default_stops_file, load_stops
    from bus_gateway.wiring import build_gateway

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # pyroute2 dumps every netlink message at DEBUG, the neighbour table's passenger MACs and
    # addresses among them: personal data, never logged (docs/security.md, Web surfaces)
    logging.getLogger("pyroute2").setLevel(max(logging.INFO, logging.getLogger().level))
    try:
        config, broker = load_device_config(args, BusConfig)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    config_dir = Path(args.config).resolve().parent
    stops_path = Path(args.stops) if args.stops else default_stops_file(
        Path(args.config).resolve(), config.route.route_id
    )
    try:
        stops = load_stops(stops_path) if args.stops or stops_path.exists() else []
        clock: Clock = WallClock()
        kind, target, _ = parse_gps_source(config.gps.source)
        if args.replay_speed is not None:
            if kind != "file":
                print("--replay-speed needs gps.source nmea:FILE", file=sys.stderr)
                return EXIT_USAGE
            path = Path(target) if Path(target).is_absolute() else config_dir / target
            start = first_fix_time(path)
            if start is None:
                print(f"{path}: no valid fix to start the replay at", file=sys.stderr)
                return EXIT_USAGE
            clock = ScaledClock(start / 1000, args.replay_speed)
    except KasselError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE

    async def main() -> None:
        gateway = build_gateway(config, broker, config_dir=config_dir, stops=stops, clock=clock)
        # start-up objects are never freed: keep them out of the collector's full scans,
        # whose pause under a probe flood was the event loop's longest wait (edge_agent.heap)
        freeze_start_up_heap()
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, gateway.stop)
        await gateway.run()

    try:
        asyncio.run(main())
    except KasselError as exc:
        logging.getLogger("bus_gateway").error("%s", exc)
        return EXIT_FAILURE
    return EXIT_OK
