"""``kassel mobility plan`` and ``kassel mobility departures``: the journey planner on a GTFS
zip, without a hub.

WHY a command: a transport planner checking a new timetable before it goes live, or a
developer checking the planner against another, asks the same questions the passenger app
asks, on the feed file itself; the answers come from the same planner and rules as the
hub's API (without real time: a file has none). ``--json`` prints the API's bodies.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from central_hub.gtfs_static import load_schedule
from central_hub.mobility.bodies import DepartureOut, ItineraryOut
from central_hub.mobility.domain.realtime import Realtime
from central_hub.mobility.errors import MobilityServiceError
from central_hub.mobility.model import MAX_WINDOW_S, JourneyQuery
from central_hub.mobility.planner import Planner
from central_hub.mobility.settings import MobilitySettings
from edge_agent.cli import EXIT_OK, EXIT_USAGE
from edge_agent.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``mobility`` command group."""
    parser = sub.add_parser("mobility", help="plan journeys and read departures on a GTFS zip")
    cmds = parser.add_subparsers(dest="mobility_command", required=True, metavar="ACTION")
    plan = cmds.add_parser(
        "plan", help="the options from one place to another",
        description="Plan on a static GTFS zip with the hub's planner and rules "
        "(docs/mobility.md). Places: stop:{stop_id} or {lat},{lon}.")
    plan.add_argument("gtfs", help="the static GTFS zip")
    plan.add_argument("--from", dest="origin", required=True, help="stop:{id} or {lat},{lon}")
    plan.add_argument("--to", dest="destination", required=True, help="stop:{id} or {lat},{lon}")
    plan.add_argument("--at", help="local time YYYY-MM-DDTHH:MM (default: now)")
    plan.add_argument("--arrive-by", action="store_true", help="arrive by --at")
    plan.add_argument("--max-transfers", type=int, choices=range(11), metavar="0-10",
                      help="at most this many changes (default: the hub's setting, 4)")
    plan.add_argument("--wheelchair", action="store_true", help="step-free only")
    plan.add_argument("--window", type=int, default=0, choices=range(MAX_WINDOW_S // 60 + 1),
                      metavar=f"0-{MAX_WINDOW_S // 60}",
                      help="minutes: every option leaving up to this long after --at "
                           "(arriving up to this long before it), not only the first")
    plan.add_argument("--json", action="store_true", help="as the API's JSON")
    plan.set_defaults(handler=_plan)
    board = cmds.add_parser("departures", help="the next departures from a stop",
                            description="The next departures from a stop, by the timetable.")
    board.add_argument("gtfs", help="the static GTFS zip")
    board.add_argument("stop_id", help="the stop's GTFS stop_id")
    board.add_argument("--at", help="local time YYYY-MM-DDTHH:MM (default: now)")
    board.add_argument("--limit", type=int, default=10, choices=range(1, 101), metavar="1-100",
                       help="how many departures")
    board.add_argument("--json", action="store_true", help="as the API's JSON")
    board.set_defaults(handler=_departures)


def _planner(path: str) -> Planner:
    return Planner(load_schedule(path), MobilitySettings(), Realtime)


def _time_ms(planner: Planner, text: str | None) -> int:
    if text is None:
        return int(time.time() * 1000)
    try:
        local = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(planner.schedule.timezone))
    except ValueError as exc:
        raise MobilityServiceError(f"--at {text!r} is not YYYY-MM-DDTHH:MM") from exc
    return int(local.timestamp() * 1000)


def _clock(ms: int, tz: str) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%H:%M:%S")


def _plan(args: argparse.Namespace) -> int:
    try:
        planner = _planner(args.gtfs)
        options = planner.plan(JourneyQuery(
            args.origin, args.destination, _time_ms(planner, args.at), args.arrive_by,
            args.max_transfers, args.wheelchair, window_s=args.window * 60))
    except (ConfigError, MobilityServiceError) as exc:
        print(f"kassel mobility plan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    bodies = [ItineraryOut.of(it) for it in options]
    if args.json:
        json.dump({"itineraries": [b.model_dump(by_alias=True) for b in bodies]}, sys.stdout,
                  ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    tz = planner.schedule.timezone
    if not bodies:
        print("no connection")
    for n, it in enumerate(bodies, 1):
        print(f"option {n}: {_clock(it.departure, tz)} → {_clock(it.arrival, tz)}, "
              f"{it.duration_s // 60} min, {it.transfers} transfer(s)"
              f"{', crowded' if it.crowded else ''}")
        for leg in it.legs:
            line = f" {leg.route_name or leg.route_id}" if leg.route_id else ""
            print(f"  {_clock(leg.from_.time, tz)} {leg.from_.name} → "
                  f"{_clock(leg.to.time, tz)} {leg.to.name}  {leg.mode}{line}")
    return EXIT_OK


def _departures(args: argparse.Namespace) -> int:
    try:
        planner = _planner(args.gtfs)
        found = planner.departures(args.stop_id, _time_ms(planner, args.at), args.limit)
    except (ConfigError, MobilityServiceError) as exc:
        print(f"kassel mobility departures: {exc}", file=sys.stderr)
        return EXIT_USAGE
    stops = planner.schedule.stops
    rows = []
    for dep in found:
        last = stops.get(dep.run.trip.stop_times[-1].stop_id)
        rows.append(DepartureOut.of(dep, last.name if last else None, None))
    if args.json:
        json.dump([r.model_dump() for r in rows], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    tz = planner.schedule.timezone
    for r in rows:
        print(f"{_clock(r.expected, tz)}  {r.route_id:<6} {r.headsign or ''}")
    return EXIT_OK
