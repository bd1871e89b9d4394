"""Journey planning and departures on the hub's timetable with the latest real time.

WHY a use case of its own: it holds the one thing that is expensive to make, the network of
the service days around today with real time applied (0.7 s for a Kassel-sized feed), and
rebuilds it in the background at most every ``realtime_refresh_s`` when real time changed,
so a query never waits for a rebuild; occupancy is read live at every query. The engine
sits behind :class:`Engine`, one method, so that a city that outgrows one machine can answer
the same API from a MOTIS server (``docs/mobility.md``). It checks what a query asks (a
place inside the network, a known stop, a time inside the feed's validity) before searching.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from central_hub.domain.schedule import Schedule, distance_m
from central_hub.mobility.domain import raptor, timetable
from central_hub.mobility.domain.departures import Departure, departures
from central_hub.mobility.domain.gbfs import SharingSystem
from central_hub.mobility.domain.itineraries import (
    Endpoint,
    Itinerary,
    crowded_trips,
    itinerary,
    pareto,
    ride_itinerary,
)
from central_hub.mobility.domain.realtime import Realtime
from central_hub.mobility.domain.sharing import (
    SharingRide,
    Speeds,
    Spot,
    best_ride,
    dropoffs,
    pickups,
)
from central_hub.mobility.errors import NotFoundError, QueryError
from central_hub.mobility.model import MAX_WINDOW_S, MODES, JourneyQuery
from central_hub.mobility.settings import MobilitySettings


class Engine(Protocol):
    """The journey planner behind the API (RAPTOR here; a MOTIS server for a bigger city)."""

    def plan(self, query: JourneyQuery) -> list[Itinerary]:
        """The options for a query, checked by the caller."""
        ...


@dataclass(slots=True)
class _Built:
    """A network as built, and what it was built from."""

    day: date
    realtime: Realtime
    net: timetable.Network
    mirror: timetable.Network | None = None
    built_at: float = 0.0


class Planner:
    """Plans on the static timetable with real time (see the module docstring)."""

    def __init__(self, schedule: Schedule, settings: MobilitySettings,
                 realtime: Callable[[], Realtime],
                 clock: Callable[[], float] = time.time,
                 sharing: Callable[[], Mapping[str, SharingSystem]] = dict) -> None:
        self.schedule = schedule
        self.settings = settings
        self.realtime = realtime
        self.sharing = sharing
        self._speeds = Speeds(settings.walk_speed_mps, settings.bike_speed_mps,
                              settings.car_speed_mps, settings.walk_detour)
        self._clock = clock
        self._tz = ZoneInfo(schedule.timezone)
        self._lock = threading.Lock()
        self._built: dict[date, _Built] = {}
        self._rules = timetable.WalkRules(settings.walk_detour, settings.transfer_walk_m,
                                          settings.access_walk_m)
        lats = [s.lat for s in schedule.stops.values()] or [0.0]
        lons = [s.lon for s in schedule.stops.values()] or [0.0]
        self._box = (min(lats), max(lats), min(lons), max(lons))
        starts = [entry[1] for entry in schedule.calendar.values()]
        ends = [entry[2] for entry in schedule.calendar.values()]
        extra = [d for (_, d), runs in schedule.exceptions.items() if runs]
        self.valid_from = min(starts + extra) if starts or extra else None
        self.valid_to = max(ends + extra) if ends or extra else None

    def now_ms(self) -> int:
        """The planner's clock, epoch ms."""
        return int(self._clock() * 1000)

    # --- the network ------------------------------------------------------------------

    def _day(self, time_s: int) -> date:
        return datetime.fromtimestamp(time_s, self._tz).date()

    def network(self, day: date, *, mirror: bool = False) -> timetable.Network:
        """The network around ``day``: built on first use, rebuilt by :meth:`refresh`."""
        with self._lock:
            built = self._built.get(day)
            if built is None:
                live = self.realtime()
                built = _Built(day, live, timetable.build(self.schedule, day, live, self._rules),
                               built_at=self._clock())
                self._built = {d: b for d, b in self._built.items() if abs((d - day).days) <= 1}
                self._built[day] = built
            if mirror and built.mirror is None:
                built.mirror = timetable.mirrored(built.net)
            return built.mirror if mirror and built.mirror is not None else built.net

    def refresh(self) -> bool:
        """Rebuild every network whose real time changed; ``True`` when one was rebuilt.
        Runs in the background (the service's refresh loop), never on a query."""
        live = self.realtime()
        rebuilt = False
        for day, built in list(self._built.items()):
            if built.realtime.changes == live.changes:
                continue
            net = timetable.build(self.schedule, day, live, self._rules)
            with self._lock:
                self._built[day] = _Built(day, live, net, built_at=self._clock())
            rebuilt = True
        return rebuilt

    # --- checks -----------------------------------------------------------------------

    def _stop(self, stop_id: str) -> str:
        if stop_id not in self.schedule.stops:
            raise QueryError(f"unknown stop {stop_id!r}")
        return stop_id

    def endpoint(self, text: str, what: str) -> Endpoint:
        """``stop:{id}`` or ``{lat},{lon}`` as an :class:`Endpoint`; :class:`QueryError`
        for an unknown stop or a coordinate outside the network area."""
        if text.startswith("stop:"):
            stop = self.schedule.stops[self._stop(text[5:])]
            return Endpoint(stop.name, stop.lat, stop.lon, stop.stop_id)
        try:
            lat_text, lon_text = text.split(",")
            lat, lon = float(lat_text), float(lon_text)
        except ValueError as exc:
            raise QueryError(f"{what} must be stop:{{stop_id}} or {{lat}},{{lon}}, not "
                             f"{text[:60]!r}") from exc
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise QueryError(f"{what} {lat},{lon} is not a coordinate")
        margin_lat = self.settings.access_walk_m / 111_320.0
        margin_lon = margin_lat * 2
        lo_lat, hi_lat, lo_lon, hi_lon = self._box
        if not (lo_lat - margin_lat <= lat <= hi_lat + margin_lat
                and lo_lon - margin_lon <= lon <= hi_lon + margin_lon):
            raise QueryError(f"{what} {lat},{lon} is outside the network area")
        return Endpoint("Start" if what == "from" else "Ziel", lat, lon)

    def _check_time(self, time_s: int) -> None:
        day = self._day(time_s)
        if self.valid_from is not None and self.valid_to is not None \
                and not self.valid_from <= day <= self.valid_to:
            raise QueryError(f"{day.isoformat()} is outside the timetable's validity "
                             f"({self.valid_from.isoformat()} to {self.valid_to.isoformat()})")

    # --- queries ----------------------------------------------------------------------

    def _access(self, net: timetable.Network, end: Endpoint,
                speed: float) -> list[tuple[int, int]]:
        """Stops reachable on foot from an endpoint, with seconds of walking."""
        if end.stop_id is not None:
            s = net.index[end.stop_id]
            return [(s, 0)] + [(o, raptor.walk_seconds(m, speed)) for o, m in net.footpaths[s]]
        out = []
        for s in range(len(net.stop_ids)):
            d = distance_m(end.lat, end.lon, net.lat[s], net.lon[s])
            if d <= self._rules.access_m:
                out.append((s, raptor.walk_seconds(d * self._rules.detour, speed)))
        return out

    def _first_mile(self, net: timetable.Network, origin: Endpoint, speed: float,
                    systems: Sequence[tuple[str, SharingSystem]]) -> dict[int, SharingRide]:
        """Bike and ride: for each stop within ``bike_ride_m`` of a bike near the origin,
        the quickest way there by bike (walk to it, ride, leave it, walk to the stop)."""
        speeds = Speeds(speed, self._speeds.bike, self._speeds.car, self._speeds.detour)
        near = pickups(systems, "BIKE_SHARING", origin.lat, origin.lon,
                       self._rules.access_m)[:3]
        by_name = dict(systems)
        out: dict[int, SharingRide] = {}
        for walk_m, pick in near:
            system = by_name[pick.system]
            for s in range(len(net.stop_ids)):
                if distance_m(pick.spot.lat, pick.spot.lon, net.lat[s], net.lon[s]) \
                        > self.settings.bike_ride_m:
                    continue
                spots = dropoffs(system, pick, net.lat[s], net.lon[s],
                                 self._rules.transfer_m)[:1]
                if not spots:
                    continue
                left_m, spot = spots[0]
                drop = spot if spot.station_id else Spot("", net.lat[s], net.lon[s])
                ride_m = distance_m(pick.spot.lat, pick.spot.lon, drop.lat, drop.lon) \
                    * speeds.detour
                ride = SharingRide("BIKE_SHARING", pick, drop, speeds.seconds(walk_m, speed),
                                   math.ceil(ride_m / speeds.bike),
                                   speeds.seconds(left_m, speed), ride_m)
                if s not in out or ride.total_s < out[s].total_s:
                    out[s] = ride
        return out

    def _search(self, query: JourneyQuery, origin: Endpoint, destination: Endpoint,
                avoid: frozenset[str],
                first_mile: Mapping[int, SharingRide] | None = None) -> list[raptor.Journey]:
        time_s = query.time_ms // 1000
        speed = query.walk_speed_mps or self.settings.walk_speed_mps
        transfers = self.settings.max_transfers if query.max_transfers is None \
            else min(query.max_transfers, 10)
        forward = self.network(self._day(time_s))
        net = self.network(self._day(time_s), mirror=True) if query.arrive_by else forward
        start, end = (destination, origin) if query.arrive_by else (origin, destination)
        ends = dict(self._access(net, end, speed))
        starts = self._access(net, start, speed)
        if first_mile is not None:  # by bike to a stop, then transit (depart-at queries)
            starts = [(s, ride.total_s) for s, ride in first_mile.items()]
        asked = raptor.Search(
            starts, ends, -time_s if query.arrive_by else time_s,
            max_rides=transfers + 1,
            walk_speed_mps=speed, change_s=self.settings.change_s,
            wheelchair=query.wheelchair, avoid=avoid)
        found = raptor.range_search(net, asked, query.window_s) if query.window_s \
            else raptor.search(net, asked)
        if query.arrive_by:
            found = [raptor.unmirror(net, j) for j in found]
        return found

    def plan(self, query: JourneyQuery) -> list[Itinerary]:
        """The options: the Pareto set over arrival, transfers and crowding, with a less
        crowded alternative when the best options are crowded."""
        unknown = query.modes - MODES
        if unknown:
            raise QueryError(f"unknown modes: {', '.join(sorted(unknown))}")
        sharing = query.modes & {"bike_sharing", "car_sharing"}
        if sharing and not self.settings.sharing_operators:
            raise QueryError(f"{', '.join(sorted(sharing))}: no sharing operator is "
                             "configured on this hub")
        if not 0 <= query.window_s <= MAX_WINDOW_S:
            raise QueryError(f"window must be 0 to {MAX_WINDOW_S} seconds, not "
                             f"{query.window_s}")
        if "transit" not in query.modes:
            raise QueryError("modes must include transit: walking alone needs a street "
                             "network, which this hub does not have")
        self._check_time(query.time_ms // 1000)
        origin = self.endpoint(query.origin, "from")
        destination = self.endpoint(query.destination, "to")
        live = self.realtime()
        forward = self.network(self._day(query.time_ms // 1000))

        def view(journeys: Sequence[raptor.Journey]) -> list[Itinerary]:
            return [itinerary(forward, self.schedule, j, origin=origin, destination=destination,
                              occupancy=live.occupancy,
                              percentage=live.occupancy_percentage) for j in journeys]

        options = view(self._search(query, origin, destination, frozenset()))
        crowded = crowded_trips(options)
        if crowded and options:
            best = min(it.arrival_s for it in options)
            calmer = view(self._search(query, origin, destination, crowded))
            options += [it for it in calmer
                        if it.arrival_s <= best + self.settings.crowding_slack_s]
        if sharing:
            options += self._sharing_options(query, origin, destination, forward, live)
        return pareto(options, by_departure=query.window_s > 0)

    def _sharing_options(self, query: JourneyQuery, origin: Endpoint, destination: Endpoint,
                         forward: timetable.Network, live: Realtime) -> list[Itinerary]:
        """Rides all the way by each sharing mode asked for, and bike and ride."""
        systems = sorted(self.sharing().items())
        speed = query.walk_speed_mps or self.settings.walk_speed_mps
        speeds = Speeds(speed, self._speeds.bike, self._speeds.car, self._speeds.detour)
        time_s = query.time_ms // 1000
        out = []
        for mode, wanted in (("BIKE_SHARING", "bike_sharing"), ("CAR_SHARING", "car_sharing")):
            if wanted not in query.modes:
                continue
            ride = best_ride(systems, mode, (origin.lat, origin.lon),
                             (destination.lat, destination.lon), speeds,
                             max_walk_m=self._rules.access_m)
            if ride is not None:
                out.append(ride_itinerary(ride, origin, destination,
                                          time_s - ride.total_s if query.arrive_by else time_s))
        if "bike_sharing" in query.modes and not query.arrive_by and not query.wheelchair:
            first_mile = self._first_mile(forward, origin, speed, systems)
            if first_mile:
                found = self._search(query, origin, destination, frozenset(), first_mile)
                out += [itinerary(forward, self.schedule, j, origin=origin,
                                  destination=destination, occupancy=live.occupancy,
                                  percentage=live.occupancy_percentage, first_mile=first_mile)
                        for j in found if j.rides > 0]
        return out

    def departures(self, stop_id: str, time_ms: int, limit: int) -> list[Departure]:
        """The next departures from a stop (expected times, real time applied)."""
        if stop_id not in self.schedule.stops:
            raise NotFoundError(f"unknown stop {stop_id!r}")
        self._check_time(time_ms // 1000)
        net = self.network(self._day(time_ms // 1000))
        return departures(net, net.index[stop_id], time_ms // 1000, limit)
