"""A bus on the street: where it is each second, who gets on and off, when its trip ends.

Why a model of its own: the gateway's :class:`~bus_gateway.gps.SimulatedGps` drives a route's
stops round and round at a constant speed, which a feed consumer sees as buses driving off
their line the wrong way with absurd delays. Here a bus runs its trip by the timetable: it
leaves a stop at the scheduled departure or, when late, as soon as its doors close; a
segment takes the scheduled running time give or take 10 % plus an occasional hold-up
(traffic, a red light); the dwell grows with the people getting on and off
(:mod:`.demand`); a bus that is early waits at the stop. Delays therefore stay small and
move a little from stop to stop, as in a real city. At the end of a trip the bus takes the
next one from the :class:`~.timetable.Dispatcher` and lays over until it leaves.

Pure: :meth:`BusRun.advance` takes the time (seconds after local midnight) and returns what
happened — door counts (with the riders' phones joining and leaving the WLAN) and trip
changes — and :meth:`BusRun.fix` says where the bus is. The runner turns that into GPS fixes,
door-counter lines and WLAN stations for the real gateway.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from simulations.demo.domain import demand
from simulations.demo.domain.city import LineStop
from simulations.demo.domain.timetable import (
    HORIZON_S,
    Assignment,
    Dispatcher,
    ScheduledTrip,
    scheduled_progress,
)

EARTH_M = 6_371_000.0
#: share of riders whose phone joins the bus WLAN.
WLAN_SHARE = 0.35
#: people gather and board during the last minute before a trip leaves its first stop.
BOARDING_LEAD_S = 60.0
#: a bus on standby asks for a trip this often.
STANDBY_POLL_S = 30.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance (exact enough within a city)."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return EARTH_M * math.hypot(x, math.radians(lat2 - lat1))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial course from 1 to 2, 0-360 degrees from north."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return math.degrees(math.atan2(x, math.radians(lat2 - lat1))) % 360.0


@dataclass(frozen=True, slots=True)
class Fix:
    """Where the bus is and how it moves."""

    lat: float
    lon: float
    speed_mps: float
    course_deg: float


@dataclass(frozen=True, slots=True)
class DoorCount:
    """Doors opened at stop ``stop_index`` of the current trip; phones (MAC addresses) that
    joined and left the WLAN with the riders."""

    stop_index: int
    alight: int
    board: int
    joined: tuple[str, ...] = ()
    left: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TripStarted:
    """The bus now serves ``trip`` (``None``: out of service for the rest of the day)."""

    trip: ScheduledTrip | None


Event = DoorCount | TripStarted


@dataclass
class BusRun:
    """One bus: its trip, its phase (standing at stop ``leg`` or driving to it) and riders;
    without a trip it stands by at ``terminal`` of line ``route_id``."""

    trip: ScheduledTrip | None
    dispatcher: Dispatcher
    rng: random.Random
    route_id: str
    terminal: LineStop
    capacity: int = 90
    doors: int = 2
    leg: int = 0
    driving: bool = False
    since_s: float = 0.0
    until_s: float = 0.0
    #: the first stop's riders have boarded (the trip may leave once its time has come).
    boarded: bool = False
    #: one entry per rider: the MAC of their phone on the WLAN, or ``None``.
    riders: list[str | None] = field(default_factory=list)
    course: float = 0.0
    #: how far the city's time of day runs ahead of the timetable's clock (``kassel demo
    #: --time``): demand follows the day's hour the demo shows, the timetable was shifted.
    day_shift_s: float = 0.0
    _events: list[Event] = field(default_factory=list)

    @classmethod
    def start(cls, start: Assignment, dispatcher: Dispatcher, rng: random.Random,
              now_s: float, *, delay_s: float, capacity: int = 90,
              day_shift_s: float = 0.0) -> BusRun:
        """A bus found on its trip at ``now_s``, ``delay_s`` behind the timetable (when the
        trip is under way; else it waits at the first stop, or stands by). The riders it
        already carries are counted through the doors at the stops it served (the door
        counters started counting when the trip did)."""
        trip = start.trip
        bus = cls(trip, dispatcher, rng, start.route_id, start.terminal, capacity=capacity,
                  day_shift_s=day_shift_s)
        bus._events.append(TripStarted(trip))
        if trip is None:
            bus.since_s, bus.until_s = now_s, now_s
            return bus
        p = scheduled_progress(trip, now_s - delay_s) if start.running else None
        if p is not None and p.standing and p.leg == len(trip.stops) - 1:
            bus._end_trip(now_s)  # the trip is over: the bus turns for its next one
            return bus
        if p is None or (p.standing and p.leg == 0):
            bus.leg, bus.since_s = 0, now_s
            bus.until_s = max(now_s + 1.0, trip.start_s - BOARDING_LEAD_S)
            return bus
        served = p.leg if p.standing else p.leg - 1
        names = [s.name for s in trip.stops]
        for i in range(served + 1):
            bus._doors(i, names, trip.departures_s[i] + delay_s)
        bus.boarded = True
        bus.leg = p.leg
        if p.standing:
            bus.since_s = now_s
            bus.until_s = max(now_s + 1.0, trip.departures_s[p.leg] + delay_s)
        else:
            run = trip.arrivals_s[p.leg] - trip.departures_s[p.leg - 1]
            bus.driving = True
            bus.since_s = now_s - p.fraction * run
            bus.until_s = bus.since_s + run
        bus.course = bearing_deg(*bus._stop(p.leg - 1 if p.leg else 0), *bus._stop(p.leg))
        return bus

    # --- what the runner asks -----------------------------------------------------------

    @property
    def passengers(self) -> int:
        """Riders on board now."""
        return len(self.riders)

    @property
    def phones(self) -> list[str]:
        """MACs of the riders' phones on the WLAN."""
        return [m for m in self.riders if m is not None]

    def delay_s(self) -> float | None:
        """How far behind the timetable the bus runs now (negative: early), if on a trip."""
        if self.trip is None:
            return None
        if self.driving:
            return self.since_s - self.trip.departures_s[self.leg - 1]
        if self.leg == 0:
            return max(0.0, self.until_s - self.trip.start_s) if self.boarded else 0.0
        return self.until_s - self.trip.departures_s[self.leg]

    def fix(self, now_s: float) -> Fix:
        """Position, speed and course at ``now_s`` (standing at a stop, or on the straight
        line between two stops at the segment's constant speed)."""
        if self.trip is None:
            return Fix(self.terminal.lat, self.terminal.lon, 0.0, self.course)
        lat, lon = self._stop(self.leg)
        if not self.driving:
            return Fix(lat, lon, 0.0, self.course)
        lat0, lon0 = self._stop(self.leg - 1)
        run = max(1.0, self.until_s - self.since_s)
        f = min(1.0, max(0.0, (now_s - self.since_s) / run))
        speed = distance_m(lat0, lon0, lat, lon) / run
        return Fix(lat0 + (lat - lat0) * f, lon0 + (lon - lon0) * f, speed, self.course)

    def advance(self, now_s: float) -> list[Event]:
        """Move on to ``now_s``; what happened since the last call, in order."""
        if self.trip is None and now_s >= self.until_s:
            self._stand_by(now_s)
        while self.trip is not None and now_s >= self.until_s:
            self._next_phase()
        out, self._events = self._events, []
        return out

    # --- the phases ---------------------------------------------------------------------

    def _stop(self, i: int) -> tuple[float, float]:
        assert self.trip is not None
        s = self.trip.stops[i]
        return s.lat, s.lon

    def _next_phase(self) -> None:
        trip = self.trip
        assert trip is not None
        t = self.until_s
        last = len(trip.stops) - 1
        names = [s.name for s in trip.stops]
        if self.driving:  # arrived at stop ``leg``
            self.driving = False
            d = self._doors(self.leg, names, t)
            self.since_s = t
            if self.leg == last:
                self._end_trip(t)
                return
            # an early bus waits for its departure time; a late one leaves when boarded
            self.until_s = max(t + demand.dwell_s(d, self.doors), trip.departures_s[self.leg])
            return
        if self.leg == 0 and not self.boarded:  # the first stop's riders get on
            self.boarded = True
            d = self._doors(0, names, t)
            self.until_s = max(t + demand.dwell_s(d, self.doors), trip.start_s)
            return
        # leave stop ``leg`` for the next one
        delay = t - trip.departures_s[self.leg]
        scheduled = trip.arrivals_s[self.leg + 1] - trip.departures_s[self.leg]
        factor = self.rng.uniform(0.9, 1.1) * (0.92 if delay > 90 else 1.0)
        hold_up = self.rng.uniform(10.0, 40.0) if self.rng.random() < 0.15 else 0.0
        self.course = bearing_deg(*self._stop(self.leg), *self._stop(self.leg + 1))
        self.leg += 1
        self.driving = True
        self.since_s = t
        self.until_s = t + scheduled * factor + hold_up

    def _end_trip(self, t: float) -> None:
        assert self.trip is not None
        self.terminal = self.trip.stops[-1]
        self._take(self.dispatcher.after(self.trip, math.ceil(t)), t)

    def _stand_by(self, t: float) -> None:
        """Without a trip: take one leaving this terminal soon, else ask again later."""
        nxt = self.dispatcher.next_trip(self.route_id, self.terminal.stop_id,
                                        t + BOARDING_LEAD_S, t + HORIZON_S)
        if nxt is None:
            self.until_s = t + STANDBY_POLL_S
            return
        self._take(nxt, t)

    def _take(self, nxt: ScheduledTrip | None, t: float) -> None:
        if nxt is not None or self.trip is not None:
            self._events.append(TripStarted(nxt))
        self.trip = nxt
        self.leg, self.boarded, self.driving = 0, False, False
        self.since_s = t
        self.until_s = t + STANDBY_POLL_S
        if nxt is not None:
            self.until_s = max(t + 1.0, nxt.start_s - BOARDING_LEAD_S)

    def _doors(self, index: int, names: list[str], t: float) -> demand.StopDemand:
        d = demand.at_stop(self.rng, names, index, on_board=len(self.riders),
                           capacity=self.capacity, t_s=t + self.day_shift_s)
        left: list[str] = []
        if d.alight:
            leaving = set(self.rng.sample(range(len(self.riders)), d.alight))
            left = [m for i, m in enumerate(self.riders) if i in leaving and m is not None]
            self.riders = [m for i, m in enumerate(self.riders) if i not in leaving]
        joined = []
        for _ in range(d.board):
            mac = self._mac() if self.rng.random() < WLAN_SHARE else None
            self.riders.append(mac)
            if mac is not None:
                joined.append(mac)
        if d.alight or d.board:
            self._events.append(DoorCount(index, d.alight, d.board, tuple(joined), tuple(left)))
        return d

    def _mac(self) -> str:
        # locally administered, unicast: what a phone with MAC randomisation shows a WLAN
        octets = [0x02 | (self.rng.randrange(256) & 0xFC)] + [self.rng.randrange(256)
                                                               for _ in range(5)]
        return ":".join(f"{b:02x}" for b in octets)
