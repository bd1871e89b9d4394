"""The stops of a route, read from a small CSV next to the bus configs.

Why a file of its own: the bus config names the route and its priority points
but not its stops, which change with timetable periods and are shared by every bus on the
route. ``firmware_configs/buses/routes/<route_id>.csv`` holds ``stop_id,name,lat,lon`` in
travel order (a GTFS ``stops.txt`` excerpt).
"""

from __future__ import annotations

import csv
from pathlib import Path

from bus_gateway.domain.stops import RouteStop
from bus_gateway.errors import SourceError


def default_stops_file(config_path: Path, route_id: str) -> Path:
    """``<config dir>/routes/<route_id>.csv``."""
    return config_path.parent / "routes" / f"{route_id}.csv"


def load_stops(path: Path) -> list[RouteStop]:
    """The stops in ``path``; :class:`SourceError` names the line that is wrong."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    stops = []
    for n, row in enumerate(rows, start=2):
        try:
            lat, lon = float(row["lat"]), float(row["lon"])
            stop = RouteStop(row["stop_id"].strip(), row.get("name", "").strip(), lat, lon)
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(f"{path}:{n}: need stop_id,name,lat,lon: {exc}") from exc
        if not stop.stop_id or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise SourceError(f"{path}:{n}: bad stop {row}")
        stops.append(stop)
    return stops
