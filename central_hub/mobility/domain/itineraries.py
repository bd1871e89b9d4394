"""Itineraries as a passenger reads them: legs with times, names, delays and crowding.

WHY here: the search (:mod:`raptor`) finds journeys as rides on runs and walks in seconds;
a passenger needs clock times, the stop's name, the line, whether real time is behind it,
how late it is and how full the vehicle is. Three more rules live here, once:

* a journey leaves as late as it can: the walk to the first stop ends when the vehicle
  leaves, not when the search started;
* a journey is *crowded* when one of its vehicles reports ``STANDING_ROOM_ONLY`` or worse
  (:data:`~central_hub.mobility.domain.realtime.CROWDED`);
* the options offered are the Pareto set over (arrival, transfers, crowded): an option stays
  unless another arrives no later, with no more transfers and no more crowding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from central_hub.domain.schedule import Schedule
from central_hub.mobility.domain.gbfs import RentalUris
from central_hub.mobility.domain.raptor import Journey, Walk, departure_s
from central_hub.mobility.domain.realtime import CROWDED
from central_hub.mobility.domain.sharing import SharingRide
from central_hub.mobility.domain.timetable import Network, mode_of


@dataclass(frozen=True, slots=True)
class Place:
    """Where a leg starts or ends: a stop, or the passenger's own coordinate."""

    name: str
    stop_id: str | None
    lat: float
    lon: float
    time_s: int


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg: a walk or a ride (``mode`` as in the API: WALK, BUS, TRAM, RAIL...)."""

    mode: str
    start: Place
    end: Place
    route_id: str | None = None
    route_name: str | None = None
    trip_id: str | None = None
    headsign: str | None = None
    realtime: bool = False
    delay_s: int = 0
    occupancy_status: str | None = None
    occupancy_percentage: int | None = None
    #: a sharing leg's operator, price (in ``currency``) and how to rent the vehicle
    operator: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    rental_uris: RentalUris | None = None

    @property
    def crowded(self) -> bool:
        """The vehicle reports standing room only or worse."""
        return self.occupancy_status in CROWDED


@dataclass(frozen=True, slots=True)
class Itinerary:
    """A way to make the trip."""

    legs: tuple[Leg, ...]

    @property
    def departure_s(self) -> int:
        """When the passenger sets off."""
        return self.legs[0].start.time_s

    @property
    def arrival_s(self) -> int:
        """When the passenger arrives."""
        return self.legs[-1].end.time_s

    @property
    def transfers(self) -> int:
        """Changes of vehicle: rides minus one."""
        return max(0, sum(1 for leg in self.legs if leg.mode != "WALK") - 1)

    @property
    def crowded(self) -> bool:
        """One of its vehicles is crowded."""
        return any(leg.crowded for leg in self.legs)

    @property
    def sharing(self) -> bool:
        """It rides a shared vehicle."""
        return any(leg.mode in ("BIKE_SHARING", "CAR_SHARING") for leg in self.legs)

    def trip_ids(self) -> tuple[str, ...]:
        """The trips it rides."""
        return tuple(leg.trip_id for leg in self.legs if leg.trip_id)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The origin or destination of a query: a stop, or a coordinate with a name."""

    name: str
    lat: float
    lon: float
    stop_id: str | None = None


def _stop_place(net: Network, schedule: Schedule, s: int, t: int) -> Place:
    stop_id = net.stop_ids[s]
    stop = schedule.stops[stop_id]
    return Place(stop.name, stop_id, stop.lat, stop.lon, t)


def _end_place(end: Endpoint, t: int) -> Place:
    return Place(end.name, end.stop_id, end.lat, end.lon, t)


def ride_legs(ride: SharingRide, start: Place, end: Place) -> list[Leg]:
    """The legs of a sharing ride from ``start`` (at its time) to ``end`` (its name and
    place; its time follows from the ride): walk to the vehicle, ride, walk on."""
    t = start.time_s + ride.walk_to_s
    pick = ride.pickup.spot
    at_pick = Place(pick.name or "Fahrzeug", None, pick.lat, pick.lon, t)
    t += ride.ride_s
    drop = ride.dropoff
    at_drop = Place(drop.name or end.name, None if drop.name else end.stop_id, drop.lat,
                    drop.lon, t)
    legs = []
    if ride.walk_to_s:
        legs.append(Leg("WALK", start, at_pick))
    legs.append(Leg(ride.mode, at_pick, at_drop, operator=ride.pickup.system, price=ride.price,
                    currency=ride.currency, rental_uris=ride.pickup.rental_uris))
    if ride.walk_from_s:
        legs.append(Leg("WALK", at_drop, Place(end.name, end.stop_id, end.lat, end.lon,
                                               t + ride.walk_from_s)))
    return legs


def ride_itinerary(ride: SharingRide, origin: Endpoint, destination: Endpoint,
                   depart_s: int) -> Itinerary:
    """A ride all the way, leaving at ``depart_s``."""
    return Itinerary(tuple(ride_legs(ride, _end_place(origin, depart_s),
                                     _end_place(destination, depart_s + ride.total_s))))


def itinerary(net: Network, schedule: Schedule, journey: Journey, *, origin: Endpoint,
              destination: Endpoint, occupancy: Mapping[str, str],
              percentage: Mapping[str, int],
              first_mile: Mapping[int, SharingRide] | None = None) -> Itinerary:
    """The passenger's view of a journey found on ``net`` (not a mirrored one); a first walk
    to a stop in ``first_mile`` was a sharing ride to it."""
    legs: list[Leg] = []
    t = departure_s(net, journey)  # leave as late as the first vehicle allows
    for leg in journey.legs:
        if isinstance(leg, Walk):
            if leg.from_stop is None and leg.to_stop is not None and first_mile \
                    and leg.to_stop in first_mile:
                stop = _stop_place(net, schedule, leg.to_stop, t + leg.seconds)
                legs += ride_legs(first_mile[leg.to_stop], _end_place(origin, t), stop)
                t += leg.seconds
                continue
            if leg.seconds == 0 and (leg.from_stop is None or leg.to_stop is None):
                continue  # the query's place is the stop itself
            start = _end_place(origin, t) if leg.from_stop is None \
                else _stop_place(net, schedule, leg.from_stop, t)
            t += leg.seconds
            end = _end_place(destination, t) if leg.to_stop is None \
                else _stop_place(net, schedule, leg.to_stop, t)
            if start.stop_id is not None and start.stop_id == end.stop_id:
                continue
            legs.append(Leg("WALK", start, end))
            continue
        run = net.runs[leg.run]
        trip = run.trip
        route = schedule.routes.get(trip.route_id)
        last_stop = schedule.stops.get(trip.stop_times[-1].stop_id)
        start = _stop_place(net, schedule, run.stops[leg.board], run.dep[leg.board])
        end = _stop_place(net, schedule, run.stops[leg.alight], run.arr[leg.alight])
        t = end.time_s
        legs.append(Leg(
            mode_of(route.route_type) if route else "BUS", start, end, trip.route_id,
            route.short_name if route else None, trip.trip_id,
            last_stop.name if last_stop else None, run.realtime, run.delay[leg.board],
            occupancy.get(trip.trip_id), percentage.get(trip.trip_id)))
    if not legs:  # origin and destination are the same stop
        place = _end_place(origin, journey.arrival_s)
        legs.append(Leg("WALK", place, _end_place(destination, journey.arrival_s)))
    return Itinerary(tuple(legs))


def pareto(options: Sequence[Itinerary], *, by_departure: bool = False) -> list[Itinerary]:
    """The options no other option beats on arrival, transfers and crowding (and, among
    equals, the one that leaves latest), sorted by arrival. Options that ride a shared
    vehicle are compared among themselves: a bike all the way does not hide the bus.
    ``by_departure`` (a range of departures was asked): leaving later is a fourth criterion,
    so a later option is kept even when an earlier one arrives sooner."""
    def key(it: Itinerary) -> tuple[int, ...]:
        base = (it.arrival_s, it.transfers, int(it.crowded))
        return (*base, -it.departure_s) if by_departure else base

    kept: list[Itinerary] = []
    for it in sorted(options, key=lambda i: (*key(i), -i.departure_s)):
        if any(k.sharing == it.sharing and all(a <= b for a, b in zip(key(k), key(it),
                                                                          strict=True))
               for k in kept):
            continue
        kept.append(it)
    return kept


def crowded_trips(options: Sequence[Itinerary]) -> frozenset[str]:
    """The trips of the options whose vehicle is crowded."""
    return frozenset(leg.trip_id for it in options for leg in it.legs
                     if leg.crowded and leg.trip_id)
