"""Where the demo's intersections stand and which bus serves which trip.

Pure: it takes the lines of a static GTFS feed (stop sequences and trip start times) and
returns a plan; the runner turns it into configs and processes. Intersections are spread
over the lines between stops, so every line has priority points; buses are spread over the
lines and given the trip whose scheduled start is the latest one before now, so the hub's
TripUpdates have a real trip to compare them with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class LineStop:
    """A stop of a line in travel order."""

    stop_id: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class LineTrip:
    """A scheduled trip: its line, direction and departure at each stop (seconds after
    local midnight)."""

    trip_id: str
    route_id: str
    direction: int
    departures_s: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PlannedIntersection:
    """An intersection of the demo: on ``route_id`` between stop ``after_stop`` and the next."""

    device_id: str
    template: int
    route_id: str
    after_stop: int
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class PlannedBus:
    """A bus of the demo and the trip it serves."""

    device_id: str
    vehicle_id: str
    route_id: str
    direction: int
    trip_id: str
    stops: tuple[LineStop, ...]
    #: the bus starts between stop ``start_index - 1`` and ``start_index``.
    start_index: int
    start: Point
    intersections: tuple[PlannedIntersection, ...]


@dataclass(frozen=True, slots=True)
class CityPlan:
    """Everything the runner starts."""

    intersections: tuple[PlannedIntersection, ...]
    buses: tuple[PlannedBus, ...]


def plan_city(
    lines: Mapping[str, Sequence[LineStop]],
    trips: Sequence[LineTrip],
    *,
    n_intersections: int,
    n_buses: int,
    templates: int,
    now_local_s: int,
) -> CityPlan:
    """Spread ``n_intersections`` over the lines (direction 0 stop order) and ``n_buses``."""
    if n_intersections < 0 or n_buses < 0:
        raise ValueError("counts must not be negative")
    if not lines:
        raise ValueError("the feed has no lines")
    if templates < 1:
        raise ValueError("at least one intersection template is needed")
    route_ids = sorted(lines)
    per_route: dict[str, list[PlannedIntersection]] = {r: [] for r in route_ids}
    for k in range(n_intersections):
        route_id = route_ids[k % len(route_ids)]
        stops = lines[route_id]
        gaps = max(1, len(stops) - 1)
        nth = k // len(route_ids)
        # walk through the gaps in a stride so neighbours are not all on one segment
        after = (nth * 3 + 1) % gaps
        a, b = stops[after], stops[min(after + 1, len(stops) - 1)]
        share = 0.5 + 0.15 * ((nth // gaps) % 3 - 1)
        per_route[route_id].append(PlannedIntersection(
            device_id=f"ks-demo-{k + 1:02d}",
            template=k % templates,
            route_id=route_id,
            after_stop=after,
            lat=round(a.lat + (b.lat - a.lat) * share, 6),
            lon=round(a.lon + (b.lon - a.lon) * share, 6),
        ))
    buses: list[PlannedBus] = []
    for k in range(n_buses):
        route_id = route_ids[k % len(route_ids)]
        direction = (k // len(route_ids)) % 2
        forward = list(lines[route_id])
        stops = tuple(forward if direction == 0 else reversed(forward))
        nth = k // (2 * len(route_ids))
        start_index = 1 + (nth * 2) % max(1, len(stops) - 1)
        prev, nxt = stops[start_index - 1], stops[min(start_index, len(stops) - 1)]
        on_line = per_route[route_id]
        buses.append(PlannedBus(
            device_id=f"bus-demo-{k + 1:02d}",
            vehicle_id=f"demo{k + 1:02d}",
            route_id=route_id,
            direction=direction,
            trip_id=current_trip(trips, route_id, direction, start_index - 1, now_local_s),
            stops=stops,
            start_index=start_index,
            start=((prev.lat + nxt.lat) / 2, (prev.lon + nxt.lon) / 2),
            intersections=tuple(on_line),
        ))
    return CityPlan(
        intersections=tuple(p for r in route_ids for p in per_route[r]),
        buses=tuple(buses),
    )


def current_trip(trips: Sequence[LineTrip], route_id: str, direction: int, stop_index: int,
                 now_local_s: int) -> str:
    """The trip of the line and direction that left stop ``stop_index`` last before
    ``now_local_s``: a bus found just after that stop is most likely on it (the day's first
    trip when none has left yet)."""
    candidates = sorted(
        (t for t in trips if t.route_id == route_id and t.direction == direction
         and len(t.departures_s) > stop_index),
        key=lambda t: t.departures_s[stop_index],
    )
    if not candidates:
        raise ValueError(f"no trips for route {route_id} direction {direction}")
    left = [t for t in candidates if t.departures_s[stop_index] <= now_local_s]
    return (left[-1] if left else candidates[0]).trip_id
