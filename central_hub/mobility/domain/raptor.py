"""RAPTOR: the earliest arrival with each number of rides, on a :class:`Network`.

WHY RAPTOR: it answers "how soon can I be there with one ride, with two, with three" in
rounds, one ride more per round, scanning each line once per round; the answer is the Pareto
set over arrival time and transfers that a passenger chooses from, without a graph of every
departure (Delling, Pajor, Werneck: *Round-Based Public Transit Routing*, 2012). Why it is
written here rather than taken from nigiri is in ``docs/mobility.md``.

The rules a journey keeps, which the test's independent oracle keeps too:

* riding on in the same vehicle needs no time; boarding another vehicle at the stop where the
  last one was left needs :attr:`Search.change_s` (2 minutes by default);
* between two stops a passenger walks the footpath's street metres at the walking speed, and
  may board at once on arrival (one walk between two rides);
* a call that real time skipped, or that is not step-free in a wheelchair search, is neither
  boarded nor left; a wheelchair search rides only step-free vehicles.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from central_hub.mobility.domain.timetable import Network

INF = 1 << 62


@dataclass(frozen=True, slots=True)
class Search:
    """One search: where from (stop, seconds of walking to it), where to, when."""

    origins: Sequence[tuple[int, int]]
    #: destination stop -> seconds of walking from it to the destination
    destinations: Mapping[int, int]
    time_s: int
    max_rides: int = 5
    walk_speed_mps: float = 1.25
    change_s: int = 120
    wheelchair: bool = False
    #: trip ids not to board (the less crowded alternative avoids these)
    avoid: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Ride:
    """A ride on run ``run`` (an index into :attr:`Network.runs`) from call ``board`` to
    call ``alight`` (indices into the run's calls)."""

    run: int
    board: int
    alight: int


@dataclass(frozen=True, slots=True)
class Walk:
    """A walk between two stops (``None`` for the origin or destination place)."""

    from_stop: int | None
    to_stop: int | None
    seconds: int


@dataclass(frozen=True, slots=True)
class Journey:
    """A journey as found: its legs in order, when it reaches the destination."""

    legs: tuple[Ride | Walk, ...]
    arrival_s: int
    rides: int = field(default=0)


#: how a stop became ready to board: (round, kind, stop walked from or -1)
_Ready = tuple[int, int, int]
_ACCESS, _CHANGE, _FOOT = 0, 1, 2


def walk_seconds(street_m: float, speed_mps: float) -> int:
    """Seconds to walk ``street_m`` (rounded up: never promise a connection too tight)."""
    return math.ceil(street_m / speed_mps)


def search(net: Network, q: Search) -> list[Journey]:
    """The Pareto set over (arrival, rides): for each number of rides that arrives earlier
    than with fewer, one journey (earliest arrival, ties to fewer rides)."""
    n = len(net.stop_ids)
    patterns = net.patterns
    stop_patterns = net.stop_patterns
    footpaths = net.footpaths
    step_free = net.step_free
    speed = q.walk_speed_mps
    change = q.change_s
    avoid = q.avoid
    wheelchair = q.wheelchair
    dests = q.destinations

    best_veh = [INF] * n
    best_ready = [INF] * n
    ready_how: list[_Ready | None] = [None] * n
    access_walk: dict[int, int] = {}
    for s, w in q.origins:
        if wheelchair and not step_free[s]:
            continue
        t = q.time_s + w
        if t < best_ready[s]:
            best_ready[s] = t
            ready_how[s] = (0, _ACCESS, -1)
            access_walk[s] = w
    target = INF
    journeys: list[Journey] = []
    for d, e in dests.items():
        if d in access_walk and best_ready[d] + e < target:
            target = best_ready[d] + e
    if target < INF:  # walking all the way
        d = min((d for d in dests if d in access_walk), key=lambda d: best_ready[d] + dests[d])
        journeys.append(Journey((Walk(None, d, access_walk[d]), Walk(d, None, dests[d])),
                                target, 0))
    marked = set(access_walk)
    rounds_from: list[dict[int, tuple[int, int, int, int, _Ready]]] = [{}]
    rounds_foot: list[dict[int, tuple[int, int]]] = [{}]
    for k in range(1, q.max_rides + 1):
        ready_prev = best_ready[:]
        how_prev = ready_how[:]
        queue: dict[int, int] = {}
        for s in marked:
            for p, pos in stop_patterns[s]:
                if pos < queue.get(p, INF):
                    queue[p] = pos
        veh_from: dict[int, tuple[int, int, int, int, _Ready]] = {}
        improved: list[int] = []
        for p, pos in queue.items():
            pat = patterns[p]
            stops = pat.stops
            deps = pat.deps
            arrs = pat.arrs
            runs = pat.runs
            n_runs = len(runs)
            t = -1
            board = -1
            board_how: _Ready | None = None
            for i in range(pos, len(stops)):
                s = stops[i]
                usable = not wheelchair or step_free[s]
                if t >= 0 and usable:
                    a = arrs[t][i]
                    if a < best_veh[s] and a < target:
                        best_veh[s] = a
                        assert board_how is not None
                        veh_from[s] = (p, t, board, i, board_how)
                        improved.append(s)
                r = ready_prev[s]
                if r < INF and usable and (t < 0 or r <= deps[i][t]):
                    c = bisect_left(deps[i], r)
                    while c < n_runs and ((avoid and runs[c].trip.trip_id in avoid)
                                          or (wheelchair and not runs[c].accessible)):
                        c += 1
                    if c < n_runs and (t < 0 or c < t):
                        t = c
                        board = i
                        board_how = how_prev[s]
        foot: dict[int, tuple[int, int]] = {}
        next_marked: set[int] = set()
        for s in set(improved):
            a = best_veh[s]
            r = a + change
            if r < best_ready[s]:
                best_ready[s] = r
                ready_how[s] = (k, _CHANGE, s)
                next_marked.add(s)
            for o, metres in footpaths[s]:
                if wheelchair and not step_free[o]:
                    continue
                w = a + walk_seconds(metres, speed)
                if w < best_ready[o] and w < target:
                    best_ready[o] = w
                    ready_how[o] = (k, _FOOT, s)
                    foot[o] = (s, w)
                    next_marked.add(o)
        rounds_from.append(veh_from)
        rounds_foot.append(foot)
        best_d, best_t = -1, target
        for d, e in dests.items():
            arrival = INF
            if d in veh_from:
                arrival = best_veh[d]
            if d in foot:
                arrival = min(arrival, foot[d][1])
            if arrival + e < best_t:
                best_d, best_t = d, arrival + e
        if best_d >= 0:
            target = best_t
            journeys.append(_journey(net, k, dest=best_d, egress=dests[best_d], arrival=best_t,
                                     rounds_from=rounds_from, rounds_foot=rounds_foot,
                                     access_walk=access_walk, speed=speed))
        marked = next_marked
        if not marked:
            break
    return journeys


def _journey(net: Network, k: int, *, dest: int, egress: int, arrival: int,
             rounds_from: Sequence[Mapping[int, tuple[int, int, int, int, _Ready]]],
             rounds_foot: Sequence[Mapping[int, tuple[int, int]]],
             access_walk: Mapping[int, int], speed: float) -> Journey:
    """Follow the labels back from ``dest`` reached in round ``k``."""
    legs: list[Ride | Walk] = [Walk(dest, None, egress)]
    veh = rounds_from[k]
    foot = rounds_foot[k]

    def ride_arrival(entry: tuple[int, int, int, int, _Ready]) -> int:
        p, t, _board, alight, _how = entry
        return net.patterns[p].arrs[t][alight]

    s = dest
    # the destination stop was reached by a ride, or by a walk after one; a ride wins a tie
    if s not in veh or (s in foot and foot[s][1] < ride_arrival(veh[s])):
        origin, reached = foot[s]
        legs.append(Walk(origin, s, reached - ride_arrival(veh[origin])))
        s = origin
    rides = 0
    round_ = k
    while True:
        p, t, board, alight, how = rounds_from[round_][s]
        run = net.patterns[p].runs[t]
        legs.append(Ride(run.index, board, alight))
        rides += 1
        s = net.patterns[p].stops[board]
        round_, kind, via = how
        if kind == _ACCESS:
            legs.append(Walk(None, s, access_walk[s]))
            break
        if kind == _FOOT:
            metres = next(m for o, m in net.footpaths[via] if o == s)
            legs.append(Walk(via, s, walk_seconds(metres, speed)))
            s = via
    legs.reverse()
    return Journey(tuple(legs), arrival, rides)


def unmirror(net: Network, journey: Journey) -> Journey:
    """A journey found on :func:`~central_hub.mobility.domain.timetable.mirrored` ``net``
    as it runs forwards: legs reversed, boarding and alighting swapped; its time is the
    departure (the mirrored search's arrival, negated)."""
    legs: list[Ride | Walk] = []
    for leg in reversed(journey.legs):
        if isinstance(leg, Ride):
            last = len(net.runs[leg.run].stops) - 1
            legs.append(Ride(leg.run, last - leg.alight, last - leg.board))
        else:
            legs.append(Walk(leg.to_stop, leg.from_stop, leg.seconds))
    return Journey(tuple(legs), -journey.arrival_s, journey.rides)
