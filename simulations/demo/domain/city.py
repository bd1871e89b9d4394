"""Where the demo's intersections stand, what they are called, and which line each bus serves.

Pure: it takes the lines of the static GTFS feed (stop sequences in direction 0) and returns a
plan; the runner turns it into configs and processes. The intersections are real Kassel
junctions (:data:`KASSEL_JUNCTIONS`) placed on the line segment they lie on, between two
stops, so every bus of the line passes them and asks them for priority; each is copied from
the shipped intersection config that fits it (a crossroads, the T-junction with tram tracks,
a pedestrian crossing). Names are distinct: beyond the named junctions the extra signals are
numbered and named after the stops they stand between.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LineStop:
    """A stop of a line in travel order."""

    stop_id: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Junction:
    """A real junction on line ``route_id``, ``share`` of the way from stop ``after_stop`` to
    the next, built like the shipped config ``template``."""

    name: str
    route_id: str
    after_stop: int
    share: float
    template: str


CROSSROADS, TRAM_T, CROSSING = "ks-0042", "ks-0107", "ks-0210"

#: the best-known signalised junctions along the demo's lines, most important first.
KASSEL_JUNCTIONS: tuple[Junction, ...] = (
    Junction("Königsplatz", "1", 5, 0.15, CROSSROADS),
    Junction("Holländischer Platz", "1", 6, 0.9, CROSSROADS),
    Junction("Scheidemannplatz", "1", 4, 0.15, CROSSROADS),
    Junction("Rathaus / Obere Königsstraße", "4", 2, 0.2, CROSSROADS),
    Junction("Friedrichsplatz", "4", 3, 0.2, CROSSROADS),
    Junction("Am Stern", "1", 6, 0.15, TRAM_T),
    Junction("Bebelplatz", "7", 2, 0.15, CROSSROADS),
    Junction("Kirchweg / Friedrich-Ebert-Straße", "7", 1, 0.45, CROSSROADS),
    Junction("Wilhelmshöher Allee / Kunoldstraße", "1", 0, 0.9, TRAM_T),
    Junction("Auestadion / Frankfurter Straße", "4", 0, 0.15, CROSSROADS),
    Junction("Friedrich-Ebert-Straße / Annastraße", "7", 3, 0.05, CROSSING),
    Junction("Altmarkt", "4", 5, 0.2, CROSSROADS),
    Junction("Hauptbahnhof / Kurfürstenstraße", "7", 4, 0.3, CROSSROADS),
    Junction("Wilhelmshöher Allee / Kirchweg", "1", 2, 0.1, TRAM_T),
    Junction("Leipziger Platz", "7", 6, 0.85, CROSSROADS),
    Junction("Weinberg / Frankfurter Straße", "4", 1, 0.5, CROSSROADS),
)


@dataclass(frozen=True, slots=True)
class PlannedIntersection:
    """An intersection of the demo: on ``route_id`` between stop ``after_stop`` and the next."""

    device_id: str
    name: str
    template: int
    route_id: str
    after_stop: int
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class PlannedBus:
    """A bus of the demo: the line it serves and the intersections it asks for priority."""

    device_id: str
    vehicle_id: str
    route_id: str
    intersections: tuple[PlannedIntersection, ...]


def plan_intersections(lines: Mapping[str, Sequence[LineStop]], n: int,
                       templates: Sequence[str]) -> tuple[PlannedIntersection, ...]:
    """``n`` intersections: the named junctions on the feed's lines first, then numbered
    ones spread over the lines' segments. ``templates`` are the shipped configs' ids in the
    order the runner holds them (a junction built like a missing one takes the first)."""
    if n < 0:
        raise ValueError("the number of intersections must not be negative")
    if not lines:
        raise ValueError("the feed has no lines")
    if not templates:
        raise ValueError("at least one intersection template is needed")
    named = [j for j in KASSEL_JUNCTIONS
             if j.route_id in lines and j.after_stop + 1 < len(lines[j.route_id])]
    route_ids = sorted(lines)
    out: list[PlannedIntersection] = []
    for k in range(n):
        if k < len(named):
            j = named[k]
            route_id, after, share, name = j.route_id, j.after_stop, j.share, j.name
            template = templates.index(j.template) if j.template in templates else 0
        else:
            extra = k - len(named)
            route_id = route_ids[extra % len(route_ids)]
            stops = lines[route_id]
            gaps = max(1, len(stops) - 1)
            nth = extra // len(route_ids)
            after = (nth * 3 + 1) % gaps  # a stride, so neighbours are not all on one segment
            share = 0.5 + 0.1 * ((nth // gaps) % 5 - 2)
            b = stops[min(after + 1, len(stops) - 1)]
            name = f"Signal {k + 1} ({stops[after].name} – {b.name})"
            template = k % len(templates)
        stops = lines[route_id]
        a, b = stops[after], stops[min(after + 1, len(stops) - 1)]
        out.append(PlannedIntersection(
            device_id=f"ks-demo-{k + 1:02d}", name=name, template=template,
            route_id=route_id, after_stop=after,
            lat=round(a.lat + (b.lat - a.lat) * share, 6),
            lon=round(a.lon + (b.lon - a.lon) * share, 6),
        ))
    return tuple(out)


def plan_buses(routes: Sequence[str],
               intersections: Sequence[PlannedIntersection]) -> tuple[PlannedBus, ...]:
    """One bus per entry of ``routes`` (the line of its first trip), with every
    intersection of that line as a priority point."""
    return tuple(
        PlannedBus(device_id=f"bus-demo-{k + 1:02d}", vehicle_id=f"demo{k + 1:02d}",
                   route_id=route_id,
                   intersections=tuple(p for p in intersections if p.route_id == route_id))
        for k, route_id in enumerate(routes)
    )
