"""A small synthetic static GTFS feed of Kassel for the demo and the tests.

WHY synthetic: the real NVV feed is large and cannot be fetched here; the hub needs a feed
whose trips, stops and shapes are known exactly so that tests can place a bus "30 s after the
scheduled departure" and check the delay the TripUpdates feed reports. The feed is
deterministic: same arguments, same bytes. ``python -m simulations.gtfs_synth OUT.zip``
writes it (the demo's copy is ``firmware_configs/gtfs/kassel-demo.zip``).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CENTER = (51.3155, 9.4900)  # Königsplatz, roughly


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A straight-ish line through the centre at ``angle_deg`` with ``stops`` stops."""

    route_id: str
    short_name: str
    color: str
    angle_deg: float
    stops: int = 8
    length_m: float = 7_000.0


DEFAULT_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("1", "1", "E2001A", 20.0),
    RouteSpec("4", "4", "0072BC", 95.0),
    RouteSpec("7", "7", "00A651", 150.0),
)
STOP_GAP_S = 90  # running time between two stops
DWELL_S = 20


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    dlat = north_m / 111_320.0
    dlon = east_m / (111_320.0 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def _stops(spec: RouteSpec) -> list[tuple[str, str, float, float]]:
    out = []
    a = math.radians(spec.angle_deg)
    for i in range(spec.stops):
        d = -spec.length_m / 2 + spec.length_m * i / (spec.stops - 1)
        bend = 300.0 * math.sin(math.pi * i / (spec.stops - 1))  # lines are gently curved
        lat, lon = _offset(*CENTER, d * math.cos(a) - bend * math.sin(a),
                           d * math.sin(a) + bend * math.cos(a))
        out.append((f"S{spec.route_id}-{i + 1:02d}", f"Linie {spec.short_name} Halt {i + 1}",
                    lat, lon))
    return out


def _hms(s: int) -> str:
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def feed_files(routes: Sequence[RouteSpec] = DEFAULT_ROUTES, *, first_s: int = 5 * 3600,
               last_s: int = 24 * 3600, headway_s: int = 600, start_date: str = "20240101",
               end_date: str = "20351231") -> dict[str, str]:
    """The feed as ``{file name: CSV text}``; trips run both ways every ``headway_s``."""
    stops, route_rows, trips, stop_times, shapes = [], [], [], [], []
    for spec in routes:
        pts = _stops(spec)
        stops += [[sid, name, lat, lon] for sid, name, lat, lon in pts]
        route_rows.append([spec.route_id, "KVG", spec.short_name, f"Linie {spec.short_name}", 3,
                           spec.color])
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
            for start in range(first_s, last_s, headway_s):
                trip_id = f"{spec.route_id}-{direction}-{_hms(start).replace(':', '')[:4]}"
                trips.append([spec.route_id, "daily", trip_id, direction, shape_id])
                t = start
                for i, (sid, _, _, _) in enumerate(seq):
                    arr = t
                    dep = t if i in (0, len(seq) - 1) else t + DWELL_S
                    stop_times.append([trip_id, _hms(arr), _hms(dep), sid, i + 1])
                    t = dep + STOP_GAP_S
    return {
        "agency.txt": _csv(["agency_id", "agency_name", "agency_url", "agency_timezone"],
                           [["KVG", "Kasseler Verkehrs-Gesellschaft (synthetic)",
                             "https://example.invalid/", "Europe/Berlin"]]),
        "stops.txt": _csv(["stop_id", "stop_name", "stop_lat", "stop_lon"], stops),
        "routes.txt": _csv(["route_id", "agency_id", "route_short_name", "route_long_name",
                            "route_type", "route_color"], route_rows),
        "trips.txt": _csv(["route_id", "service_id", "trip_id", "direction_id", "shape_id"],
                          trips),
        "stop_times.txt": _csv(["trip_id", "arrival_time", "departure_time", "stop_id",
                                "stop_sequence"], stop_times),
        "shapes.txt": _csv(["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"],
                           shapes),
        "calendar.txt": _csv(["service_id", "monday", "tuesday", "wednesday", "thursday",
                              "friday", "saturday", "sunday", "start_date", "end_date"],
                             [["daily", 1, 1, 1, 1, 1, 1, 1, start_date, end_date]]),
    }


def write_feed(path: str | Path, routes: Sequence[RouteSpec] = DEFAULT_ROUTES,
               **kwargs: object) -> Path:
    """Write the feed as a GTFS zip (deterministic bytes) and return its path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = feed_files(routes, **kwargs)  # type: ignore[arg-type]
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
    p.add_argument("--headway-s", type=int, default=600)
    args = p.parse_args(argv)
    print(write_feed(args.out, headway_s=args.headway_s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
