"""Sharing legs: where a bike or car can be taken and left, how long the ride takes, and
what it costs, from the operators' GBFS systems.

WHY here, pure: a sharing leg is three decisions (which vehicle to walk to, where to leave
it, how it is priced) that a passenger must be able to trust as much as a transit leg, and
they depend only on the systems as last read, the places and the speeds. The planner uses
them in two ways: a ride all the way (walk → vehicle → walk), and the first mile to a stop
(walk → bike → walk → transit, "bike and ride"), which enters the transit search as one more
way to reach a stop.

Rules: a vehicle is taken at a station that is renting and has one of the wanted form
factor, or where it stands (free-floating, neither reserved nor disabled). It is left at a
station that is returning and has a free dock, or, in a system with free-floating vehicles,
where the rider stops. A ride takes its straight-line distance × the detour at the riding
speed; the price is the vehicle's pricing plan for those minutes and kilometres (GBFS's
rules, :func:`~central_hub.mobility.domain.gbfs.trip_cost`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from central_hub.domain.schedule import distance_m
from central_hub.mobility.domain.gbfs import PricingPlan, RentalUris, SharingSystem, trip_cost

#: the form factors each sharing mode rides
FORM_FACTORS = {"BIKE_SHARING": frozenset({"bicycle", "cargo_bicycle"}),
                "CAR_SHARING": frozenset({"car"})}


@dataclass(frozen=True, slots=True)
class Spot:
    """Where a vehicle is taken or left: a station, or a point in the street."""

    name: str
    lat: float
    lon: float
    station_id: str | None = None


@dataclass(frozen=True, slots=True)
class Pickup:
    """A vehicle to take: its system, where it is, its price and how to rent it."""

    system: str  # the operator's name as configured
    spot: Spot
    vehicle_type_id: str | None
    plan: PricingPlan | None
    rental_uris: RentalUris
    free_floating: bool


@dataclass(frozen=True, slots=True)
class SharingRide:
    """A ride on a shared vehicle: walk to it, ride, walk from it (seconds)."""

    mode: str  # BIKE_SHARING or CAR_SHARING
    pickup: Pickup
    dropoff: Spot
    walk_to_s: int
    ride_s: int
    walk_from_s: int
    ride_m: float

    @property
    def total_s(self) -> int:
        """From leaving the start to reaching the end."""
        return self.walk_to_s + self.ride_s + self.walk_from_s

    @property
    def price(self) -> Decimal | None:
        """The rental's price under the vehicle's plan (``None``: the operator says none)."""
        if self.pickup.plan is None:
            return None
        return trip_cost(self.pickup.plan, Decimal(self.ride_s) / 60,
                         Decimal(str(round(self.ride_m / 1000, 3))))

    @property
    def currency(self) -> str | None:
        """The price's currency."""
        return self.pickup.plan.currency if self.pickup.plan else None


@dataclass(frozen=True, slots=True)
class Speeds:
    """How fast a passenger moves (m/s over street metres) and how far streets wind."""

    walk: float
    bike: float
    car: float
    detour: float

    def seconds(self, metres: float, speed: float) -> int:
        """Seconds to cover ``metres`` in a straight line at ``speed`` (rounded up)."""
        return math.ceil(metres * self.detour / speed)

    def riding(self, mode: str) -> float:
        """The riding speed of a sharing mode."""
        return self.car if mode == "CAR_SHARING" else self.bike


def pickups(systems: Iterable[tuple[str, SharingSystem]], mode: str, lat: float, lon: float,
            max_walk_m: float) -> list[tuple[float, Pickup]]:
    """Vehicles of ``mode`` within ``max_walk_m`` of (lat, lon), nearest first, with their
    straight-line distance."""
    wanted = FORM_FACTORS[mode]
    out: list[tuple[float, Pickup]] = []
    for name, system in systems:
        for st in system.stations:
            if not (st.is_installed and st.is_renting and st.num_vehicles_available > 0):
                continue
            d = distance_m(lat, lon, st.lat, st.lon)
            if d > max_walk_m:
                continue
            if st.vehicle_types_available:
                types = [t for t, n in st.vehicle_types_available
                         if n > 0 and system.form_factor(t) in wanted]
                if not types:
                    continue
                type_id: str | None = types[0]
            elif system.default_form_factor in wanted:
                type_id = None  # the station says how many, not of which type
            else:
                continue
            kind = system.vehicle_type(type_id)
            plan = system.pricing_plan(kind.default_pricing_plan_id if kind else None) \
                or (system.pricing_plans[0] if system.pricing_plans else None)
            out.append((d, Pickup(name, Spot(st.name, st.lat, st.lon, st.station_id), type_id,
                                  plan, st.rental_uris, False)))
        for v in system.vehicles:
            if v.station_id is not None or v.lat is None or v.lon is None \
                    or not v.is_available or system.form_factor(v.vehicle_type_id) not in wanted:
                continue
            d = distance_m(lat, lon, v.lat, v.lon)
            if d <= max_walk_m:
                out.append((d, Pickup(name, Spot(system.name, v.lat, v.lon), v.vehicle_type_id,
                                      system.plan_for(v), v.rental_uris, True)))
    out.sort(key=lambda x: x[0])
    return out


def dropoffs(system: SharingSystem, pickup: Pickup, lat: float, lon: float,
             max_walk_m: float) -> list[tuple[float, Spot]]:
    """Where a vehicle of ``pickup`` may be left near (lat, lon): stations returning with a
    free dock, nearest first; or the point itself when the vehicle is free-floating."""
    if pickup.free_floating:
        return [(0.0, Spot("", lat, lon))]
    out = []
    for st in system.stations:
        if not (st.is_installed and st.is_returning) or st.num_docks_available == 0:
            continue
        d = distance_m(lat, lon, st.lat, st.lon)
        if d <= max_walk_m:
            out.append((d, Spot(st.name, st.lat, st.lon, st.station_id)))
    out.sort(key=lambda x: x[0])
    return out


def best_ride(systems: Sequence[tuple[str, SharingSystem]], mode: str,
              start: tuple[float, float], end: tuple[float, float], speeds: Speeds, *,
              max_walk_m: float, candidates: int = 3) -> SharingRide | None:
    """The quickest ride of ``mode`` from ``start`` to ``end``: among the ``candidates``
    nearest vehicles and, for each, the nearest places to leave it."""
    by_name = dict(systems)
    best: SharingRide | None = None
    speed = speeds.riding(mode)
    for walk_m, pick in pickups(systems, mode, *start, max_walk_m)[:candidates]:
        for left_m, spot in dropoffs(by_name[pick.system], pick, *end, max_walk_m)[:candidates]:
            drop = spot if spot.name or spot.station_id else Spot("", end[0], end[1])
            ride_m = distance_m(pick.spot.lat, pick.spot.lon, drop.lat, drop.lon) * speeds.detour
            ride = SharingRide(mode, pick, drop, speeds.seconds(walk_m, speeds.walk),
                               math.ceil(ride_m / speed), speeds.seconds(left_m, speeds.walk),
                               ride_m)
            if best is None or ride.total_s < best.total_s:
                best = ride
    return best
