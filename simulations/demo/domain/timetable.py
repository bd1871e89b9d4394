"""Which bus serves which trip of the static timetable, now and after each trip.

Why a dispatcher: a feed consumer checks that every vehicle is on exactly one trip and every
trip has at most one vehicle, and that a vehicle follows its trip's stops in order at about
the scheduled times. So the demo hands out trips the way a depot does: each bus takes a
distinct trip that is under way at the current local time, or one leaving a terminal within
:data:`HORIZON_S` (the bus lays over there until then); buses left over stand by at a
terminal of their line. When a trip ends the bus takes the next trip of its line leaving
from there at least :data:`TURN_S` later that nobody has taken — a vehicle block, built as
the day goes; a bus on standby takes a trip nobody has taken once one leaves its terminal
within :data:`HORIZON_S` (at night few buses are needed, in the daytime all of them).
Pure: trips and times in, assignments out; times are seconds after the local midnight of
the day the demo started (tomorrow's trips are that plus 86,400).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from simulations.demo.domain.city import LineStop

DAY_S = 86_400
#: shortest turn at a terminal: the driver walks to the other end, the doors open.
TURN_S = 90
#: a bus takes a trip that leaves at most this long from now (else it stands by).
HORIZON_S = 900


@dataclass(frozen=True, slots=True)
class ScheduledTrip:
    """One run of a trip on one day: its stops in travel order and scheduled times."""

    trip_id: str
    route_id: str
    direction: int
    stops: tuple[LineStop, ...]
    arrivals_s: tuple[int, ...]
    departures_s: tuple[int, ...]

    @property
    def start_s(self) -> int:
        """Scheduled departure from the first stop."""
        return self.departures_s[0]

    @property
    def end_s(self) -> int:
        """Scheduled arrival at the last stop."""
        return self.arrivals_s[-1]

    @property
    def key(self) -> tuple[str, int]:
        """The trip and its day (0 today, 1 tomorrow): what one bus may claim."""
        return self.trip_id, self.start_s // DAY_S

    def shifted(self, days: int) -> ScheduledTrip:
        """The same trip ``days`` later."""
        d = days * DAY_S
        return ScheduledTrip(self.trip_id, self.route_id, self.direction, self.stops,
                             tuple(t + d for t in self.arrivals_s),
                             tuple(t + d for t in self.departures_s))


@dataclass(frozen=True, slots=True)
class Assignment:
    """A bus's start: on ``trip`` (under way when ``running``, else waiting at its first
    stop), or without one (``trip`` None) on standby at ``terminal`` of line ``route_id``."""

    trip: ScheduledTrip | None
    running: bool
    route_id: str
    terminal: LineStop


@dataclass
class Dispatcher:
    """Hands out distinct trips: :meth:`initial` at the start, :meth:`next_trip` after each."""

    trips: Sequence[ScheduledTrip]
    turn_s: int = TURN_S
    claimed: set[tuple[str, int]] = field(default_factory=set)
    _from: dict[tuple[str, str], list[ScheduledTrip]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if any(len(t.stops) < 2 or len({len(t.stops), len(t.arrivals_s), len(t.departures_s)}) > 1
               for t in self.trips):
            raise ValueError("every trip needs at least two stops with times")
        for trip in (t.shifted(day) for t in self.trips for day in (0, 1)):
            self._from.setdefault((trip.route_id, trip.stops[0].stop_id), []).append(trip)
        for leaving in self._from.values():
            leaving.sort(key=lambda t: (t.start_s, t.trip_id))

    def _groups(self) -> list[list[ScheduledTrip]]:
        by_line: dict[tuple[str, int], list[ScheduledTrip]] = {}
        for trips in self._from.values():
            for t in trips:
                by_line.setdefault((t.route_id, t.direction), []).append(t)
        return [sorted(by_line[k], key=lambda t: t.start_s) for k in sorted(by_line)]

    def initial(self, n_buses: int, now_s: int) -> list[Assignment]:
        """A start for each of ``n_buses``: distinct trips under way at ``now_s`` (taken in
        turn from each line and direction, the most recently started first), then trips
        leaving within ``HORIZON_S``; the rest stand by, spread over the lines' terminals."""
        if n_buses < 0:
            raise ValueError("the number of buses must not be negative")
        groups = self._groups()
        if not groups:
            raise ValueError("the timetable has no trips")
        running = [[t for t in reversed(g) if t.start_s <= now_s < t.end_s] for g in groups]
        upcoming = [[t for t in g if now_s < t.start_s <= now_s + HORIZON_S] for g in groups]
        out: list[Assignment] = []
        for pools, under_way in ((running, True), (upcoming, False)):
            for trip in _round_robin(pools):
                if len(out) == n_buses:
                    return out
                if trip.key in self.claimed:
                    continue
                self.claimed.add(trip.key)
                out.append(Assignment(trip, under_way, trip.route_id, trip.stops[0]))
        for k in range(n_buses - len(out)):
            first = groups[k % len(groups)][0]
            out.append(Assignment(None, False, first.route_id, first.stops[0]))
        return out

    def next_trip(self, route_id: str, stop_id: str, earliest_s: float,
                  latest_s: float | None = None) -> ScheduledTrip | None:
        """The first unclaimed trip of line ``route_id`` leaving stop ``stop_id`` between
        ``earliest_s`` and ``latest_s`` (claimed now); ``None`` when there is none."""
        leaving = self._from.get((route_id, stop_id), [])
        i = bisect.bisect_left([t.start_s for t in leaving], earliest_s)
        for trip in leaving[i:]:
            if latest_s is not None and trip.start_s > latest_s:
                return None
            if trip.key not in self.claimed:
                self.claimed.add(trip.key)
                return trip
        return None

    def after(self, ended: ScheduledTrip, arrived_s: float) -> ScheduledTrip | None:
        """The trip a bus takes after ``ended`` (arrived at its last stop at ``arrived_s``):
        the first unclaimed one of the line leaving there ``turn_s`` or more later, if it
        leaves within ``HORIZON_S`` of that (else the bus stands by)."""
        earliest = arrived_s + self.turn_s
        return self.next_trip(ended.route_id, ended.stops[-1].stop_id, earliest,
                              earliest + HORIZON_S)


def _round_robin(pools: Sequence[Sequence[ScheduledTrip]]) -> Iterable[ScheduledTrip]:
    longest = max((len(p) for p in pools), default=0)
    for i in range(longest):
        for pool in pools:
            if i < len(pool):
                yield pool[i]


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a bus on time ``lag_s`` behind the schedule is: between stop ``leg - 1`` and
    ``leg`` (``fraction`` of the way), or standing at stop ``leg`` (``fraction`` 0)."""

    leg: int
    fraction: float
    standing: bool


def scheduled_progress(trip: ScheduledTrip, t_s: float) -> Progress:
    """Where the timetable puts a bus of ``trip`` at ``t_s``."""
    if t_s <= trip.departures_s[0]:
        return Progress(0, 0.0, True)
    for i in range(1, len(trip.stops)):
        dep, arr = trip.departures_s[i - 1], trip.arrivals_s[i]
        if t_s < arr:
            return Progress(i, (t_s - dep) / max(1, arr - dep), False)
        if t_s < trip.departures_s[i] or i == len(trip.stops) - 1:
            return Progress(i, 0.0, True)
    return Progress(len(trip.stops) - 1, 0.0, True)  # pragma: no cover - loop returns
