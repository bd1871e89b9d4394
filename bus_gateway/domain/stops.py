"""Stop detection: which stop the vehicle is at, approaching, or travelling towards.

Why a state machine rather than "nearest stop": a bus passes stops without halting, dwells a
few metres from the pole, waits at red lights next to a stop, and its GPS jitters while
standing. The tracker follows the route's stop order, needs the bus to be slow *and* within
the stop's radius to call it ``STOPPED_AT``, and only moves on to the next stop after it has
left the radius, so a fix that jitters at the edge cannot flap between states.

GTFS-Realtime semantics: ``STOPPED_AT`` standing at ``stop_id``;
``INCOMING_AT`` about to arrive at ``stop_id``; ``IN_TRANSIT_TO`` between stops, where the
contract wants ``stop_id`` null — the next stop is still offered as ``next_stop_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bus_gateway.domain.geo import distance_m

StopStatus = Literal["INCOMING_AT", "STOPPED_AT", "IN_TRANSIT_TO"]


@dataclass(frozen=True, slots=True)
class RouteStop:
    """A stop of the route, in travel order."""

    stop_id: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class StopState:
    """What the tracker decided for one fix."""

    status: StopStatus
    stop_id: str | None
    next_stop_id: str | None
    #: grows by one every time the vehicle leaves a stop it stood at (occupancy uses it to
    #: tell passengers, who ride across stops, from people at the roadside).
    departures: int
    #: ``True`` exactly on the fix at which the vehicle left a stop it had stood at.
    departed: bool = False

    @property
    def dwelling(self) -> bool:
        """Standing at a stop (priority requests are cancelled while dwelling)."""
        return self.status == "STOPPED_AT"


@dataclass(frozen=True, slots=True)
class StopRules:
    """Thresholds of the tracker (defaults suit city buses with consumer GPS)."""

    stop_radius_m: float = 30.0
    incoming_m: float = 120.0
    stopped_below_mps: float = 1.0
    moving_above_mps: float = 2.0


class StopTracker:
    """Follows the vehicle along the ordered stops of its route."""

    def __init__(self, stops: Sequence[RouteStop], rules: StopRules = StopRules()) -> None:
        self.stops = list(stops)
        self.rules = rules
        self._next: int | None = None  # index of the stop we travel towards
        self._at: int | None = None  # index of the stop we stand at
        self._inside: int | None = None  # index of the stop whose radius we are in
        self._left: int | None = None  # the stop we just left, until we are out of its radius
        self.departures = 0

    def reset(self) -> None:
        """Forget the progress (a new trip starts)."""
        self._next = self._at = self._inside = self._left = None

    def update(self, lat: float, lon: float, speed_mps: float) -> StopState:
        """Advance with one fix and return the stop state."""
        if not self.stops:
            return StopState("IN_TRANSIT_TO", None, None, self.departures)
        r = self.rules
        n = len(self.stops)
        dist = [distance_m(lat, lon, s.lat, s.lon) for s in self.stops]
        departed = False
        if self._at is not None and (
            dist[self._at] > r.stop_radius_m or speed_mps >= r.moving_above_mps
        ):
            departed = True
            self.departures += 1
            self._left, self._inside = self._at, None
            self._next = (self._at + 1) % n
            self._at = None
        if self._left is not None and dist[self._left] > r.stop_radius_m:
            self._left = None  # out of the radius of the stop we left: it may come again
        if self._at is None:
            inside = [i for i in range(n) if dist[i] <= r.stop_radius_m and i != self._left]
            if inside:
                # the stop we travel to wins; any other means we lost track (resynchronise)
                i = self._next if self._next in inside else min(inside, key=dist.__getitem__)
                self._inside = self._next = i
                if speed_mps <= r.stopped_below_mps and not departed:
                    self._at = i
            elif self._inside is not None:  # left a radius without standing: stop passed
                self._next = (self._inside + 1) % n
                self._inside = None
        if self._next is None:
            self._next = min(range(n), key=dist.__getitem__)
        if self._at is not None:
            stop = self.stops[self._at]
            nxt = self.stops[(self._at + 1) % n].stop_id
            return StopState("STOPPED_AT", stop.stop_id, nxt, self.departures, departed)
        stop = self.stops[self._next]
        if dist[self._next] <= r.incoming_m:
            return StopState("INCOMING_AT", stop.stop_id, stop.stop_id, self.departures, departed)
        return StopState("IN_TRANSIT_TO", None, stop.stop_id, self.departures, departed)
