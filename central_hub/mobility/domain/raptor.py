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
from bisect import bisect_left, bisect_right
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


def _origins(net: Network, q: Search) -> dict[int, int]:
    """The stops a search may start at, with the shortest walk to each."""
    out: dict[int, int] = {}
    for s, w in q.origins:
        if (not q.wheelchair or net.step_free[s]) and w < out.get(s, INF):
            out[s] = w
    return out


def _walk_all_the_way(dests: Mapping[int, int], access_walk: Mapping[int, int],
                      depart: int) -> Journey | None:
    """Walking from the origin to the destination without riding, if both are in reach."""
    near = [d for d in dests if d in access_walk]
    if not near:
        return None
    d = min(near, key=lambda d: access_walk[d] + dests[d])
    return Journey((Walk(None, d, access_walk[d]), Walk(d, None, dests[d])),
                   depart + access_walk[d] + dests[d], 0)


@dataclass(slots=True)
class _Round:
    """What one round found: stops reached by a ride (with the ride), stops reached on foot
    after it (stop walked from, time), the stops to scan from in the next round."""

    veh_from: dict[int, tuple[int, int, int, int, _Ready]]
    foot: dict[int, tuple[int, int]]
    marked: set[int]


def _round(net: Network, q: Search, k: int, marked: set[int], target: int, *,
           ready_prev: Sequence[int], how_prev: Sequence[_Ready | None],
           veh: list[int], ready: list[int], how: list[_Ready | None]) -> _Round:
    """Round ``k``: scan every pattern through a marked stop once, boarding where the
    previous round's ``ready_prev`` allows, improving ``veh`` (arrivals by vehicle), then
    walk on from every improved stop, improving ``ready`` (when one can board again)."""
    patterns = net.patterns
    step_free = net.step_free
    wheelchair = q.wheelchair
    avoid = q.avoid
    queue: dict[int, int] = {}
    for s in marked:
        for p, pos in net.stop_patterns[s]:
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
                if a < veh[s] and a < target:
                    veh[s] = a
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
        a = veh[s]
        r = a + q.change_s
        if r < ready[s]:
            ready[s] = r
            how[s] = (k, _CHANGE, s)
            next_marked.add(s)
        for o, metres in net.footpaths[s]:
            if wheelchair and not step_free[o]:
                continue
            w = a + walk_seconds(metres, q.walk_speed_mps)
            if w < ready[o] and w < target:
                ready[o] = w
                how[o] = (k, _FOOT, s)
                foot[o] = (s, w)
                next_marked.add(o)
    return _Round(veh_from, foot, next_marked)


def _reached(dests: Mapping[int, int], found: _Round, veh: Sequence[int],
             target: int) -> tuple[int, int]:
    """The destination stop a round reached earliest (by ride or walk, plus the walk from
    it), and that time, when it beats ``target``; else ``(-1, target)``."""
    best_d, best_t = -1, target
    for d, e in dests.items():
        arrival = INF
        if d in found.veh_from:
            arrival = veh[d]
        if d in found.foot:
            arrival = min(arrival, found.foot[d][1])
        if arrival + e < best_t:
            best_d, best_t = d, arrival + e
    return best_d, best_t


def search(net: Network, q: Search) -> list[Journey]:
    """The Pareto set over (arrival, rides): for each number of rides that arrives earlier
    than with fewer, one journey (earliest arrival, ties to fewer rides)."""
    n = len(net.stop_ids)
    dests = q.destinations
    access_walk = _origins(net, q)
    best_veh = [INF] * n
    best_ready = [INF] * n
    ready_how: list[_Ready | None] = [None] * n
    for s, w in access_walk.items():
        best_ready[s] = q.time_s + w
        ready_how[s] = (0, _ACCESS, -1)
    journeys: list[Journey] = []
    walking = _walk_all_the_way(dests, access_walk, q.time_s)
    target = INF
    if walking is not None:
        journeys.append(walking)
        target = walking.arrival_s
    marked = set(access_walk)
    rounds_from: list[Mapping[int, tuple[int, int, int, int, _Ready]]] = [{}]
    rounds_foot: list[Mapping[int, tuple[int, int]]] = [{}]
    for k in range(1, q.max_rides + 1):
        found = _round(net, q, k, marked, target, ready_prev=best_ready[:],
                       how_prev=ready_how[:], veh=best_veh, ready=best_ready, how=ready_how)
        rounds_from.append(found.veh_from)
        rounds_foot.append(found.foot)
        best_d, best_t = _reached(dests, found, best_veh, target)
        if best_d >= 0:
            target = best_t
            journeys.append(_journey(net, k, dest=best_d, egress=dests[best_d], arrival=best_t,
                                     rounds_from=rounds_from, rounds_foot=rounds_foot,
                                     access_walk=access_walk, speed=q.walk_speed_mps))
        marked = found.marked
        if not marked:
            break
    return journeys


def departure_s(net: Network, journey: Journey) -> int:
    """When a journey leaves its origin: as late as its first vehicle allows."""
    walked = 0
    for leg in journey.legs:
        if isinstance(leg, Ride):
            return net.runs[leg.run].dep[leg.board] - walked
        walked += leg.seconds
    return journey.arrival_s - walked


def range_search(net: Network, q: Search, window_s: int) -> list[Journey]:
    """rRAPTOR: every journey leaving in ``[time_s, time_s + window_s]`` that no other
    beats on departure (later), arrival (earlier) and rides (fewer), latest first.

    One RAPTOR per time a vehicle leaves an origin stop in the window, latest first, and the
    labels are kept from one to the next (Delling, Pajor, Werneck 2012, section 4): what
    can be reached leaving later can be reached leaving earlier too, so a later departure's
    arrivals bound the earlier searches, which only scan what they improve. Labels are kept
    per round (at most ``k`` rides), because leaving earlier with fewer rides is an option
    of its own even when a later departure with more rides arrives sooner."""
    n = len(net.stop_ids)
    dests = q.destinations
    access_walk = _origins(net, q)
    times: set[int] = set()
    for s, w in access_walk.items():
        for p, pos in net.stop_patterns[s]:
            deps = net.patterns[p].deps[pos]
            lo = bisect_left(deps, q.time_s + w)
            hi = bisect_right(deps, q.time_s + window_s + w)
            times.update(d - w for d in deps[lo:hi])
    rounds = q.max_rides + 1
    veh = [[INF] * n for _ in range(rounds)]
    ready = [[INF] * n for _ in range(rounds)]
    how: list[list[_Ready | None]] = [[None] * n for _ in range(rounds)]
    target = [INF] * rounds
    rounds_from: list[dict[int, tuple[int, int, int, int, _Ready]]] = [
        {} for _ in range(rounds)]
    rounds_foot: list[dict[int, tuple[int, int]]] = [{} for _ in range(rounds)]
    journeys: list[Journey] = []
    walking = _walk_all_the_way(dests, access_walk, q.time_s)
    if walking is not None:
        journeys.append(walking)
    for depart in sorted(times, reverse=True):
        touched = set(access_walk)
        for s, w in access_walk.items():
            if depart + w < ready[0][s]:
                ready[0][s] = depart + w
                how[0][s] = (0, _ACCESS, -1)
        if walking is not None:
            target[0] = min(target[0], depart + walking.arrival_s - q.time_s)
        marked = set(access_walk)
        for k in range(1, rounds):
            vk, rk, hk, rp, hp = veh[k], ready[k], how[k], ready[k - 1], how[k - 1]
            for s in touched:  # at most k rides includes at most k - 1
                if rp[s] < rk[s]:
                    rk[s] = rp[s]
                    hk[s] = hp[s]
                vk[s] = min(vk[s], veh[k - 1][s])
            target[k] = min(target[k], target[k - 1])
            found = _round(net, q, k, marked, target[k], ready_prev=rp, how_prev=hp,
                           veh=vk, ready=rk, how=hk)
            rounds_from[k].update(found.veh_from)
            rounds_foot[k].update(found.foot)
            best_d, best_t = _reached(dests, found, vk, target[k])
            if best_d >= 0:
                target[k] = best_t
                journeys.append(_journey(net, k, dest=best_d, egress=dests[best_d],
                                         arrival=best_t, rounds_from=rounds_from,
                                         rounds_foot=rounds_foot, access_walk=access_walk,
                                         speed=q.walk_speed_mps))
            touched |= found.veh_from.keys() | found.marked
            marked = found.marked  # no early stop: what was touched is carried to every round
    return _profile(net, journeys)


def _profile(net: Network, journeys: Sequence[Journey]) -> list[Journey]:
    """The journeys no other beats on departure, arrival and rides, latest first."""
    keyed = sorted(((-departure_s(net, j), j.arrival_s, j.rides, j) for j in journeys),
                   key=lambda e: e[:3])
    kept: list[tuple[int, int, int, Journey]] = []
    for entry in keyed:
        if not any(all(a <= b for a, b in zip(k[:3], entry[:3], strict=True)) for k in kept):
            kept.append(entry)
    return [entry[3] for entry in kept]


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
