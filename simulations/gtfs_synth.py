"""A small synthetic static GTFS feed of Kassel for the demo and the tests.

WHY synthetic: the real NVV feed is large and cannot be fetched here; the hub needs a feed
whose trips, stops and shapes are known exactly so that tests can place a bus "30 s after the
scheduled departure" and check the delay the TripUpdates feed reports. The feed is
deterministic: same arguments, same bytes. ``python -m simulations.gtfs_synth OUT.zip``
writes it (the demo's copy is ``firmware_configs/gtfs/kassel-demo.zip``).

The three lines run through real Kassel stops at about their real positions (Bahnhof
Wilhelmshöhe, Königsplatz, Hauptbahnhof, Holländischer Platz, ...), so that a feed consumer
sees place names it knows and the demo's passenger demand can tell the main stations from the
quiet ends; the routing itself is simplified (straight lines between stops, 90 s between two
stops, 20 s dwell). Trips run both ways every ``headway_s``, or by the day's timetable
periods of :data:`KASSEL_DAY` (every 5 minutes in the daytime, every 30 at night).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CENTER = (51.3155, 9.4900)  # Königsplatz, roughly


#: a named stop: (name, lat, lon)
NamedStop = tuple[str, float, float]


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A line: its ``named`` stops in direction 0, or (without names) a straight-ish line
    through the centre at ``angle_deg`` with ``stops`` numbered stops."""

    route_id: str
    short_name: str
    color: str
    angle_deg: float = 0.0
    stops: int = 8
    length_m: float = 7_000.0
    named: tuple[NamedStop, ...] = ()
    long_name: str = ""


#: real Kassel stops at about their real positions; 500-930 m apart, so that the 90 s between
#: two stops are a city bus's or tram's pace.
DEFAULT_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("1", "1", "E2001A", long_name="Bahnhof Wilhelmshöhe – Holländischer Platz", named=(
        ("Bahnhof Wilhelmshöhe", 51.3130, 9.4468), ("Kunoldstraße", 51.3143, 9.4600),
        ("Kirchweg", 51.3148, 9.4690), ("Annastraße", 51.3153, 9.4785),
        ("Scheidemannplatz", 51.3141, 9.4889), ("Königsplatz", 51.3156, 9.4960),
        ("Am Stern", 51.3176, 9.5025), ("Holländischer Platz", 51.3224, 9.5063))),
    RouteSpec("4", "4", "0072BC", long_name="Auestadion – Holländische Straße", named=(
        ("Auestadion", 51.2985, 9.4950), ("Weinberg", 51.3052, 9.4942),
        ("Rathaus", 51.3126, 9.4928), ("Friedrichsplatz", 51.3137, 9.4983),
        ("Königsplatz", 51.3160, 9.4966), ("Altmarkt", 51.3196, 9.5005),
        ("Holländischer Platz", 51.3228, 9.5068), ("Holländische Straße", 51.3292, 9.5094))),
    RouteSpec("7", "7", "00A651", long_name="Kirchditmold – Leipziger Platz", named=(
        ("Kirchditmold", 51.3237, 9.4598), ("Rolandstraße", 51.3205, 9.4660),
        ("Bebelplatz", 51.3173, 9.4733), ("Friedrich-Ebert-Straße", 51.3172, 9.4810),
        ("Hauptbahnhof", 51.3186, 9.4893), ("Königsplatz", 51.3162, 9.4970),
        ("Unterneustadt", 51.3150, 9.5080), ("Leipziger Platz", 51.3135, 9.5175))),
)
STOP_GAP_S = 90  # running time between two stops
DWELL_S = 20

#: the day's timetable periods ``(from second after midnight, headway s)``: a bus every 30
#: minutes at night, every 5 from 6:30 to 19:00.
KASSEL_DAY: tuple[tuple[int, int], ...] = (
    (0, 1800), (5 * 3600, 900), (6 * 3600, 600), (6 * 3600 + 1800, 300),
    (19 * 3600, 600), (20 * 3600, 900), (23 * 3600, 1800),
)


def shifted_day(periods: Sequence[tuple[int, int]], shift_s: int) -> tuple[tuple[int, int], ...]:
    """The day's timetable periods seen from a clock ``shift_s`` seconds behind the day's own
    time: the period that starts at ``t`` starts at ``t - shift_s`` (modulo a day), and the
    clock's midnight gets the headway the day has at ``shift_s``. ``kassel demo --time`` runs
    the morning peak's timetable at night this way, while the feed's times stay those of the
    clock the hub reads."""
    day = 24 * 3600
    ordered = sorted(periods)
    if not ordered:
        raise ValueError("no timetable periods")
    shift = shift_s % day
    at_midnight = next((h for start, h in reversed(ordered) if start <= shift), ordered[-1][1])
    moved = {(start - shift) % day: h for start, h in ordered}
    moved.setdefault(0, at_midnight)
    return tuple(sorted(moved.items()))


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point ``north_m`` north and ``east_m`` east of (lat, lon), rounded to 6 digits."""
    dlat = north_m / 111_320.0
    dlon = east_m / (111_320.0 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def _stops(spec: RouteSpec) -> list[tuple[str, str, float, float]]:
    if spec.named:
        return [(f"S{spec.route_id}-{i + 1:02d}", name, lat, lon)
                for i, (name, lat, lon) in enumerate(spec.named)]
    out = []
    a = math.radians(spec.angle_deg)
    for i in range(spec.stops):
        d = -spec.length_m / 2 + spec.length_m * i / (spec.stops - 1)
        bend = 300.0 * math.sin(math.pi * i / (spec.stops - 1))  # lines are gently curved
        lat, lon = offset(*CENTER, d * math.cos(a) - bend * math.sin(a),
                          d * math.sin(a) + bend * math.cos(a))
        out.append((f"S{spec.route_id}-{i + 1:02d}", f"Linie {spec.short_name} Halt {i + 1}",
                    lat, lon))
    return out


def hms(s: int) -> str:
    """GTFS time text (hours may pass 24)."""
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GTFS file's CSV text."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def departures(first_s: int, last_s: int,
               headway_s: int | Sequence[tuple[int, int]]) -> list[int]:
    """Trip start times from ``first_s`` (inclusive) to ``last_s`` (exclusive): every
    ``headway_s``, or by periods ``(from_s, headway_s)`` (each start uses the headway of the
    period it falls in)."""
    periods = [(0, headway_s)] if isinstance(headway_s, int) else sorted(headway_s)
    if not periods or any(h <= 0 for _, h in periods):
        raise ValueError("headways must be positive")
    out, t = [], first_s
    while t < last_s:
        out.append(t)
        t += next((h for start, h in reversed(periods) if start <= t), periods[0][1])
    return out


def feed_files(routes: Sequence[RouteSpec] = DEFAULT_ROUTES, *, first_s: int = 5 * 3600,
               last_s: int = 24 * 3600, headway_s: int | Sequence[tuple[int, int]] = 600,
               start_date: str = "20240101", end_date: str = "20351231") -> dict[str, str]:
    """The feed as ``{file name: CSV text}``; trips run both ways every ``headway_s`` (or by
    the periods given, see :func:`departures`)."""
    stops, route_rows, trips, stop_times, shapes = [], [], [], [], []
    starts = departures(first_s, last_s, headway_s)
    for spec in routes:
        pts = _stops(spec)
        stops += [[sid, name, lat, lon] for sid, name, lat, lon in pts]
        route_rows.append([spec.route_id, "KVG", spec.short_name,
                           spec.long_name or f"Linie {spec.short_name}", 3, spec.color])
        for direction in (0, 1):
            seq = pts if direction == 0 else list(reversed(pts))
            shape_id = f"shp-{spec.route_id}-{direction}"
            n = 0
            for i, (_, _, lat, lon) in enumerate(seq):
                shapes.append([shape_id, lat, lon, n])
                n += 1
                if i + 1 < len(seq):  # four intermediate points per segment
                    lat2, lon2 = seq[i + 1][2], seq[i + 1][3]
                    for k in range(1, 5):
                        f = k / 5
                        shapes.append([shape_id, round(lat + (lat2 - lat) * f, 6),
                                       round(lon + (lon2 - lon) * f, 6), n])
                        n += 1
            for start in starts:
                trip_id = f"{spec.route_id}-{direction}-{hms(start).replace(':', '')[:4]}"
                trips.append([spec.route_id, "daily", trip_id, direction, shape_id])
                t = start
                for i, (sid, _, _, _) in enumerate(seq):
                    arr = t
                    dep = t if i in (0, len(seq) - 1) else t + DWELL_S
                    stop_times.append([trip_id, hms(arr), hms(dep), sid, i + 1])
                    t = dep + STOP_GAP_S
    return {
        "agency.txt": csv_text(["agency_id", "agency_name", "agency_url", "agency_timezone"],
                           [["KVG", "Kasseler Verkehrs-Gesellschaft (synthetic)",
                             "https://example.invalid/", "Europe/Berlin"]]),
        "stops.txt": csv_text(["stop_id", "stop_name", "stop_lat", "stop_lon"], stops),
        "routes.txt": csv_text(["route_id", "agency_id", "route_short_name", "route_long_name",
                            "route_type", "route_color"], route_rows),
        "trips.txt": csv_text(["route_id", "service_id", "trip_id", "direction_id", "shape_id"],
                          trips),
        "stop_times.txt": csv_text(["trip_id", "arrival_time", "departure_time", "stop_id",
                                "stop_sequence"], stop_times),
        "shapes.txt": csv_text(["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"],
                           shapes),
        "calendar.txt": csv_text(["service_id", "monday", "tuesday", "wednesday", "thursday",
                              "friday", "saturday", "sunday", "start_date", "end_date"],
                             [["daily", 1, 1, 1, 1, 1, 1, 1, start_date, end_date]]),
    }


def write_feed(path: str | Path, routes: Sequence[RouteSpec] = DEFAULT_ROUTES,
               **kwargs: object) -> Path:
    """Write the feed as a GTFS zip (deterministic bytes) and return its path."""
    return write_zip(path, feed_files(routes, **kwargs))  # type: ignore[arg-type]


def write_zip(path: str | Path, files: Mapping[str, str]) -> Path:
    """Write a feed's files as a GTFS zip with deterministic bytes; return its path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m simulations.gtfs_synth OUT.zip``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("out", help="zip file to write")
    p.add_argument("--headway-s", type=int, default=600,
                   help="seconds between two trips of a line and direction")
    p.add_argument("--day", action="store_true",
                   help="the day's timetable (KASSEL_DAY, 00:00-24:00) instead of --headway-s")
    args = p.parse_args(argv)
    if args.day:
        print(write_feed(args.out, first_s=0, last_s=24 * 3600, headway_s=KASSEL_DAY))
    else:
        print(write_feed(args.out, headway_s=args.headway_s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
