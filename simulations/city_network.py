"""A Kassel-sized synthetic static GTFS feed: 36 lines, over 500 stops, a full service day.

WHY a second generator: the demo's feed (:mod:`simulations.gtfs_synth`) has three lines whose
stops are their own, enough to follow a bus but not to plan a journey on. A journey planner
must be checked, and measured, on a network of a real city's size and shape: lines that share
stops and cross each other, stops a short walk apart, running times that are not round
minutes, trips past midnight, headways that change over the day, and stops and vehicles that
are or are not step-free. Kassel's KVG runs about 35 bus and tram lines over about 600 stops.

The network is a grid of candidate stops around the city centre, 350 m apart; each line walks
across it from one edge to the other, mostly straight with a few jogs, so lines cross at
shared stops and run side by side a block apart. Everything comes from one seeded random
generator: same arguments, same bytes. ``python -m simulations.city_network OUT.zip``.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simulations.gtfs_synth import CENTER, csv_text, hms, offset, write_zip

GRID_M = 350.0  # between two neighbouring candidate stops
TRAM, BUS = 0, 3


@dataclass(frozen=True, slots=True)
class CityShape:
    """The size of the network: a ``size`` × ``size`` grid and ``lines`` lines on it."""

    size: int = 32
    lines: int = 36
    trams: int = 6
    seed: int = 7
    #: first and last departure from a line's first stop, seconds after midnight
    first_s: int = 4 * 3600 + 30 * 60
    last_s: int = 24 * 3600 + 30 * 60


#: Kassel's size (the default) and a London-sized network for the benchmarks (~20,000 stops)
KASSEL = CityShape()
LONDON = CityShape(size=170, lines=280, trams=40, seed=11)


def _path(rng: random.Random, size: int, horizontal: bool) -> list[tuple[int, int]]:
    """A line across the grid: edge to edge along one axis, jogging now and then."""
    lane = rng.randrange(1, size - 1)
    length = rng.randrange(max(8, size // 2), size + 1)
    start = rng.randrange(0, size - length + 1)
    cells: list[tuple[int, int]] = []
    for step in range(start, start + length):
        if rng.random() < 0.15:  # a jog to the neighbouring lane
            new_lane = min(size - 1, max(0, lane + rng.choice((-1, 1))))
            cells.append((step, new_lane) if horizontal else (new_lane, step))
            lane = new_lane
        cell = (step, lane) if horizontal else (lane, step)
        if not cells or cells[-1] != cell:
            cells.append(cell)
    return cells


def _headways(rng: random.Random) -> tuple[tuple[int, int], ...]:
    """The line's day: every ``base`` seconds from 6:00 to 20:00, less often around it."""
    base = rng.choice((300, 450, 600, 600, 900, 1200))
    return ((0, 1800), (5 * 3600, max(base, 900)), (6 * 3600, base),
            (20 * 3600, max(base * 2, 900)), (22 * 3600, 1800))


def _starts(first_s: int, last_s: int, periods: Sequence[tuple[int, int]]) -> list[int]:
    out, t = [], first_s
    while t < last_s:
        out.append(t)
        t += next(h for start, h in reversed(periods) if start <= t % 86_400)
    return out


def feed_files(shape: CityShape = KASSEL, *, start_date: str = "20240101",
               end_date: str = "20351231") -> dict[str, str]:
    """The feed as ``{file name: CSV text}``."""
    rng = random.Random(shape.seed)
    used: dict[tuple[int, int], str] = {}
    routes, trips, stop_times = [], [], []
    accessible_stop: dict[str, int] = {}
    for n in range(shape.lines):
        route_id = f"L{n + 1:03d}"
        is_tram = n < shape.trams
        cells = _path(rng, shape.size, horizontal=n % 2 == 0)
        stop_ids = []
        for cell in cells:
            sid = used.setdefault(cell, f"C{cell[0]:03d}-{cell[1]:03d}")
            accessible_stop.setdefault(sid, 1 if rng.random() < 0.85 else 2)
            stop_ids.append(sid)
        runs = [rng.randrange(55, 150) for _ in stop_ids[1:]]  # seconds between two stops
        dwells = [rng.choice((0, 15, 20, 30)) for _ in stop_ids]
        routes.append([route_id, "KVG", str(n + 1), f"Linie {n + 1}", TRAM if is_tram else BUS,
                       "E2001A" if is_tram else "0072BC"])
        offset_s = rng.randrange(0, 600)
        periods = _headways(rng)
        for direction in (0, 1):
            seq = list(range(len(stop_ids))) if direction == 0 \
                else list(reversed(range(len(stop_ids))))
            for k, start in enumerate(_starts(shape.first_s + offset_s, shape.last_s, periods)):
                trip_id = f"{route_id}-{direction}-{k:03d}"
                step_free = 1 if is_tram or rng.random() < 0.8 else 2
                trips.append([route_id, "daily", trip_id, direction, step_free])
                t = start
                for pos, i in enumerate(seq):
                    arr = t
                    dep = t if pos in (0, len(seq) - 1) else t + dwells[i]
                    stop_times.append([trip_id, hms(arr), hms(dep), stop_ids[i], pos + 1])
                    if pos + 1 < len(seq):
                        t = dep + runs[min(i, seq[pos + 1])]
    stops = []
    for (x, y), sid in sorted(used.items(), key=lambda kv: kv[1]):
        lat, lon = offset(*CENTER, (y - shape.size / 2) * GRID_M, (x - shape.size / 2) * GRID_M)
        stops.append([sid, f"Netz {x}/{y}", lat, lon, accessible_stop[sid]])
    return {
        "agency.txt": csv_text(["agency_id", "agency_name", "agency_url", "agency_timezone"],
                               [["KVG", "Kasseler Verkehrs-Gesellschaft (synthetic network)",
                                 "https://example.invalid/", "Europe/Berlin"]]),
        "stops.txt": csv_text(["stop_id", "stop_name", "stop_lat", "stop_lon",
                               "wheelchair_boarding"], stops),
        "routes.txt": csv_text(["route_id", "agency_id", "route_short_name", "route_long_name",
                                "route_type", "route_color"], routes),
        "trips.txt": csv_text(["route_id", "service_id", "trip_id", "direction_id",
                               "wheelchair_accessible"], trips),
        "stop_times.txt": csv_text(["trip_id", "arrival_time", "departure_time", "stop_id",
                                    "stop_sequence"], stop_times),
        "calendar.txt": csv_text(["service_id", "monday", "tuesday", "wednesday", "thursday",
                                  "friday", "saturday", "sunday", "start_date", "end_date"],
                                 [["daily", 1, 1, 1, 1, 1, 1, 1, start_date, end_date]]),
    }


def write_feed(path: str | Path, shape: CityShape = KASSEL) -> Path:
    """Write the network as a GTFS zip and return its path."""
    return write_zip(path, feed_files(shape))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m simulations.city_network OUT.zip [--london]``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("out", help="zip file to write")
    p.add_argument("--london", action="store_true", help="a London-sized network instead")
    args = p.parse_args(argv)
    print(write_feed(args.out, LONDON if args.london else KASSEL))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
