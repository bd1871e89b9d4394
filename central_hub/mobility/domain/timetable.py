"""The timetable the planner searches: every trip of a few service days, with real time
applied, grouped into RAPTOR's routes.

WHY its own structure: the static :class:`~central_hub.domain.schedule.Schedule` is the feed
as written (seconds after a service day's reference, per trip); the planner needs absolute
times (a trip that left yesterday evening still runs after midnight), real time applied
(a delayed trip may overtake the one before it; a cancelled trip is gone; a skipped call
cannot be used), and its trips grouped so that one binary search finds the first trip a
passenger can catch at a stop. A *pattern* is a set of trips that call at the same stops and
never overtake one another: for such a set the trips sorted by departure at one stop are
sorted at every stop, which is the property RAPTOR's route scan relies on. Trips of one
line whose real times cross are split into several patterns, so the search stays exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from central_hub.domain.schedule import Schedule, Trip, distance_m, reference_ms
from central_hub.mobility.domain.realtime import Realtime, apply

#: the leg modes of GTFS route types (extended types by their hundreds)
MODES = {0: "TRAM", 1: "SUBWAY", 2: "RAIL", 3: "BUS", 4: "FERRY", 5: "CABLE_CAR", 11: "BUS",
         900: "TRAM", 700: "BUS", 100: "RAIL", 400: "SUBWAY"}


def mode_of(route_type: int) -> str:
    """The leg mode of a GTFS route type (``BUS`` when it is not one we name)."""
    return MODES.get(route_type) or MODES.get(route_type // 100 * 100, "BUS")


@dataclass(frozen=True, slots=True)
class TripRun:
    """One trip on one service day as it will run: its usable calls and their times (epoch s)."""

    index: int  # in :attr:`Network.runs`
    trip: Trip
    service_date: date
    stops: tuple[int, ...]  # stop indices of the calls that can be used, in order
    sequences: tuple[int, ...]  # their GTFS stop_sequence
    arr: tuple[int, ...]
    dep: tuple[int, ...]
    delay: tuple[int, ...]  # real minus scheduled departure per call
    realtime: bool  # real time changed this run
    accessible: bool  # the vehicle is step-free (``wheelchair_accessible`` = 1)


@dataclass(slots=True)
class Pattern:
    """Runs with the same calls that never overtake one another, in departure order."""

    stops: tuple[int, ...]
    runs: list[TripRun] = field(default_factory=list)
    #: ``deps[i]`` is the departure of every run at call ``i`` (sorted, for a binary search)
    deps: list[list[int]] = field(default_factory=list)
    #: ``arrs[r]`` is run ``r``'s arrivals at each call
    arrs: list[tuple[int, ...]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WalkRules:
    """How far and how fast a passenger walks (documented in ``docs/mobility.md``)."""

    #: street distance per straight-line metre: streets do not run as the crow flies
    detour: float = 1.3
    #: the longest walk between two stops for a transfer, straight-line metres
    transfer_m: float = 400.0
    #: the longest walk to or from a coordinate, straight-line metres
    access_m: float = 1000.0


@dataclass(slots=True)
class Network:
    """Stops, patterns and footpaths of a few service days, searched by :mod:`raptor`."""

    stop_ids: list[str]
    index: dict[str, int]
    lat: list[float]
    lon: list[float]
    step_free: list[bool]  # ``wheelchair_boarding`` = 1
    runs: list[TripRun]
    patterns: list[Pattern]
    #: per stop: (pattern, call position) of every pattern calling there
    stop_patterns: list[list[tuple[int, int]]]
    #: per stop: (other stop, street metres) within :attr:`WalkRules.transfer_m`
    footpaths: list[list[tuple[int, float]]]
    days: tuple[date, ...]
    #: the first and last instant the network's trips cover (epoch s)
    first_s: int
    last_s: int


def service_days(around: date) -> tuple[date, ...]:
    """The service days whose trips may run on ``around``: the day before (trips past
    midnight), the day itself and the next (a search late in the evening)."""
    return (around - timedelta(days=1), around, around + timedelta(days=1))


def _undated_day(schedule: Schedule, trip: Trip, timestamp: int, day: date) -> date:
    """The service day a change without a start date means: the day whose run of the trip
    starts nearest the time the feed said it (GTFS-Realtime: the run now under way or next);
    ``day`` itself when the feed gave no time."""
    if not timestamp:
        return day
    first = trip.stop_times[0].departure_s
    return min((day + timedelta(days=k) for k in (-1, 0, 1)),
               key=lambda d: abs(reference_ms(d, schedule.timezone) // 1000 + first - timestamp))


def _runs_of_day(schedule: Schedule, day: date, index: dict[str, int], realtime: Realtime,
                 runs: list[TripRun]) -> None:
    ref = reference_ms(day, schedule.timezone) // 1000
    for trip in schedule.trips.values():
        if len(trip.stop_times) < 2 or ((schedule.calendar or schedule.exceptions) \
                and not schedule.runs_on(trip.service_id, day)):
            continue
        change = realtime.change_for(trip.trip_id, day)
        if change is not None and change.start_date is None \
                and _undated_day(schedule, trip, change.timestamp, day) != day:
            change = None
        if change is not None and change.canceled:
            continue
        calls = trip.stop_times
        arr = [ref + c.arrival_s for c in calls]
        dep = [ref + c.departure_s for c in calls]
        stop_ids = [c.stop_id for c in calls]
        sequences = [c.stop_sequence for c in calls]
        r_arr, r_dep, skipped = apply(change, stop_ids, sequences, arr, dep)
        keep = [i for i in range(len(calls)) if not skipped[i] and stop_ids[i] in index]
        if len(keep) < 2:
            continue
        runs.append(TripRun(
            len(runs), trip, day, tuple(index[stop_ids[i]] for i in keep),
            tuple(sequences[i] for i in keep), tuple(r_arr[i] for i in keep),
            tuple(r_dep[i] for i in keep), tuple(r_dep[i] - dep[i] for i in keep),
            change is not None, trip.wheelchair == 1))


def _patterns(runs: Sequence[TripRun]) -> list[Pattern]:
    """Group runs by their calls, then split each group into chains that never overtake."""
    groups: dict[tuple[int, ...], list[TripRun]] = {}
    for run in runs:
        groups.setdefault(run.stops, []).append(run)
    patterns: list[Pattern] = []
    for stops, members in groups.items():
        members.sort(key=lambda r: (r.dep[0], r.arr[-1]))
        chains: list[Pattern] = []
        for run in members:
            for chain in chains:
                last = chain.runs[-1]
                if all(a >= b for a, b in zip(run.dep, last.dep, strict=True)) \
                        and all(a >= b for a, b in zip(run.arr, last.arr, strict=True)):
                    chain.runs.append(run)
                    break
            else:
                chains.append(Pattern(stops, [run]))
        patterns.extend(chains)
    for p in patterns:
        p.deps = [[r.dep[i] for r in p.runs] for i in range(len(p.stops))]
        p.arrs = [r.arr for r in p.runs]
    return patterns


def _footpaths(lat: Sequence[float], lon: Sequence[float],
               rules: WalkRules) -> list[list[tuple[int, float]]]:
    """Stop pairs within walking distance, found through a grid of cells as wide as the
    longest walk (only the neighbouring cells are compared)."""
    cell_deg_lat = rules.transfer_m / 111_320.0
    mid = math.radians(sum(lat) / len(lat)) if lat else 0.0
    cell_deg_lon = rules.transfer_m / (111_320.0 * max(0.1, math.cos(mid)))
    grid: dict[tuple[int, int], list[int]] = {}
    for s in range(len(lat)):
        grid.setdefault((int(lat[s] // cell_deg_lat), int(lon[s] // cell_deg_lon)), []).append(s)
    out: list[list[tuple[int, float]]] = [[] for _ in lat]
    for (cy, cx), members in grid.items():
        near = [o for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                for o in grid.get((cy + dy, cx + dx), ())]
        for s in members:
            for o in near:
                if o == s:
                    continue
                d = distance_m(lat[s], lon[s], lat[o], lon[o])
                if d <= rules.transfer_m:
                    out[s].append((o, d * rules.detour))
    return out


def build(schedule: Schedule, day: date, realtime: Realtime,
          rules: WalkRules = WalkRules()) -> Network:
    """The network of the service days around ``day`` with ``realtime`` applied."""
    stop_ids = sorted(schedule.stops)
    index = {s: i for i, s in enumerate(stop_ids)}
    stops = [schedule.stops[s] for s in stop_ids]
    lat = [s.lat for s in stops]
    lon = [s.lon for s in stops]
    days = service_days(day)
    runs: list[TripRun] = []
    for d in days:
        _runs_of_day(schedule, d, index, realtime, runs)
    patterns = _patterns(runs)
    stop_patterns: list[list[tuple[int, int]]] = [[] for _ in stop_ids]
    for p_idx, p in enumerate(patterns):
        for pos, s in enumerate(p.stops):
            stop_patterns[s].append((p_idx, pos))
    first = min((r.dep[0] for r in runs), default=0)
    last = max((r.arr[-1] for r in runs), default=0)
    return Network(stop_ids, index, lat, lon, [s.wheelchair == 1 for s in stops], runs,
                   patterns, stop_patterns, _footpaths(lat, lon, rules), days, first, last)


def mirrored(net: Network) -> Network:
    """The network with time running backwards: every run reversed, its times negated.

    An earliest-arrival search on it is a latest-departure search on ``net`` (arrive by):
    boarding and alighting swap, and so do the change time and walks, which are symmetric.
    A mirrored run keeps its index, so a journey found on it maps back to ``net``'s runs.
    """
    runs = [TripRun(r.index, r.trip, r.service_date, r.stops[::-1], r.sequences[::-1],
                    tuple(-t for t in r.dep[::-1]), tuple(-t for t in r.arr[::-1]),
                    r.delay[::-1], r.realtime, r.accessible) for r in net.runs]
    patterns = _patterns(runs)
    stop_patterns: list[list[tuple[int, int]]] = [[] for _ in net.stop_ids]
    for p_idx, p in enumerate(patterns):
        for pos, s in enumerate(p.stops):
            stop_patterns[s].append((p_idx, pos))
    return Network(net.stop_ids, net.index, net.lat, net.lon, net.step_free, runs, patterns,
                   stop_patterns, net.footpaths, net.days, -net.last_s, -net.first_s)
