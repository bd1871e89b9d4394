"""``kassel demo [--buses N] [--intersections M] [--http-port P] [--duration S]
[--time HH:MM]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from pathlib import Path

from edge_agent.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from edge_agent.cli.common import int_between, port, seconds
from edge_agent.errors import BrokerError, ConfigError, KasselError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser("demo", help="run the whole city on this machine and print the URL",
                       description="A private Mosquitto, the hub on SQLite, signal controllers "
                       "and buses (the real code; the street simulated). Ctrl-C stops it.")
    p.add_argument("--buses", type=int_between(0, 500), default=20, metavar="N",
                   help="simulated buses (0-500)")
    p.add_argument("--intersections", type=int_between(0, 500), default=10, metavar="M",
                   help="simulated signal controllers (0-500)")
    p.add_argument("--http-host", default="127.0.0.1", metavar="HOST",
                   help="address the dashboard and API listen on")
    p.add_argument("--http-port", type=port, default=8000, metavar="P",
                   help="port of the dashboard and API")
    p.add_argument("--duration", type=seconds, default=None, metavar="S",
                   help="stop after S seconds (none: run until Ctrl-C)")
    p.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                   help="where the broker, hub database and agent state live (none: a private "
                   "temporary folder, removed on exit)")
    p.add_argument("--seed", type=int_between(0, 2**31 - 1), default=1, metavar="N",
                   help="seed of the simulated street (same seed, same day)")
    p.add_argument("--no-incidents", action="store_true",
                   help="no planned incidents (by default: a detector fault, a bus losing its "
                   "mobile link and a flashing controller from 60 s on, again every 20 min)")
    p.add_argument("--time", type=time_of_day, default=None, metavar="HH:MM",
                   help="run the timetable and passenger demand of this local time of day "
                   "from now on (for example 08:00 to show the morning peak at night; "
                   "default: the time in Kassel now)")
    p.add_argument("--log-level", default="WARNING",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log detail")
    p.set_defaults(handler=_run)


def time_of_day(text: str) -> int:
    """An argparse type: ``HH:MM`` (24-hour clock) as seconds after midnight."""
    m = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", text)
    if m and int(m[1]) < 24 and int(m[2]) < 60:
        return int(m[1]) * 3600 + int(m[2]) * 60
    raise argparse.ArgumentTypeError(f"must be a time of day HH:MM (00:00-23:59), got {text!r}")


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from simulations.demo.runner import DemoError, DemoOptions, run_demo  # noqa: PLC0415

    opts = DemoOptions(buses=args.buses, intersections=args.intersections,
                       http_host=args.http_host, http_port=args.http_port,
                       duration_s=args.duration, workdir=args.workdir, seed=args.seed,
                       incidents=not args.no_incidents, time_of_day_s=args.time)

    def progress(line: str) -> None:
        print(f"[kassel demo] {line}", flush=True)

    try:
        asyncio.run(run_demo(opts, progress))
    except (DemoError, BrokerError, ConfigError) as exc:
        print(f"kassel demo: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, DemoError | ConfigError) else EXIT_FAILURE
    except KasselError as exc:
        print(f"kassel demo: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK
