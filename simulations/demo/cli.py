"""``kassel demo [--buses N] [--intersections M] [--http-port P] [--duration S]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from edge_agent.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from edge_agent.errors import BrokerError, ConfigError, KasselError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser("demo", help="run the whole city on this machine and print the URL")
    p.add_argument("--buses", type=_count, default=20, metavar="N")
    p.add_argument("--intersections", type=_count, default=10, metavar="M")
    p.add_argument("--http-host", default="127.0.0.1", metavar="HOST")
    p.add_argument("--http-port", type=int, default=8000, metavar="P")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after S seconds (default: run until Ctrl-C)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where the broker, hub database and agent state live (default: temp)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log-level", default="WARNING",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(handler=_run)


def _count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 500:
        raise argparse.ArgumentTypeError("must be between 0 and 500")
    return value


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from simulations.demo.runner import DemoError, DemoOptions, run_demo  # noqa: PLC0415

    opts = DemoOptions(buses=args.buses, intersections=args.intersections,
                       http_host=args.http_host, http_port=args.http_port,
                       duration_s=args.duration, workdir=args.workdir, seed=args.seed)

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
